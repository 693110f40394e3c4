/* SPDX-License-Identifier: Apache-2.0 */
/* consume_open and consume_initdata on real images: the node must be the
 * device sysfs names; sys_mount/sys_umount are wrapped (-Wl,--wrap) to
 * record what would be mounted, and in the real-device tests passed through
 * (a real tmpfs; a real ext4 marked as needing journal recovery, mounted
 * read-only without a byte of the image changing). */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cmocka.h>

#include "cocoinit/consume.h"
#include "cocoinit/initdata.h"
#include "cocoinit/sys.h"
#include "cocoinit/util.h"
#include "fixture.h"
#include "tree.h"

#ifndef TMPFS_MAGIC
#define TMPFS_MAGIC 0x01021994
#endif
#ifndef EXT4_SUPER_MAGIC
#define EXT4_SUPER_MAGIC 0xEF53
#endif

int __real_sys_mount(const char *source, const char *target, const char *fstype, unsigned long flags,
		     const void *data);
int __real_sys_umount(const char *target);
int __wrap_sys_mount(const char *source, const char *target, const char *fstype, unsigned long flags,
		     const void *data);
int __wrap_sys_umount(const char *target);

struct fake_mount {
	char source[256], target[256], fstype[32], data[64];
	unsigned long flags;
	bool data_null;
};

static struct {
	bool real;
	int result;      /* of every mount */
	int fail_fstype; /* fail only mounts that are not tmpfs with result */
	int nmount, numount;
	struct fake_mount m[4];
	char umount_target[4][256];
} fake;

int __wrap_sys_mount(const char *source, const char *target, const char *fstype, unsigned long flags,
		     const void *data)
{
	struct fake_mount *m = &fake.m[fake.nmount < 4 ? fake.nmount : 3];

	fake.nmount++;
	util_strlcpy(m->source, source ? source : "(null)", sizeof(m->source));
	util_strlcpy(m->target, target, sizeof(m->target));
	util_strlcpy(m->fstype, fstype ? fstype : "(null)", sizeof(m->fstype));
	m->flags = flags;
	m->data_null = data == NULL;
	util_strlcpy(m->data, data ? data : "", sizeof(m->data));
	if (fake.real)
		return __real_sys_mount(source, target, fstype, flags, data);
	if (fake.fail_fstype && strcmp(m->fstype, "tmpfs") != 0)
		return fake.fail_fstype;
	return fake.result;
}

int __wrap_sys_umount(const char *target)
{
	util_strlcpy(fake.umount_target[fake.numount < 4 ? fake.numount : 3], target, sizeof(fake.umount_target[0]));
	fake.numount++;
	if (fake.real)
		return __real_sys_umount(target);
	return 0;
}

static const char TOML[] = "version = \"0.1.0\"\nalgorithm = \"sha256\"\n[data]\n";

/* A raw-format image of TOML, its gzip CRC spoilt when corrupt. */
static void write_raw(const char *path, bool corrupt)
{
	size_t n;
	uint8_t *z = fixture_gzip(TOML, sizeof(TOML) - 1, &n);

	if (corrupt)
		z[n - 8] ^= 0x55;
	fixture_write_raw(path, n, z, n, 4096);
	free(z);
}

static int setup(void **state)
{
	fixture_dir_create("consume");
	fixture_run("mkdir -p '%s' && printf 'version = \"0.1.0\"\\n' > '%s'", fixture_path("src"),
		    fixture_path("src/initdata.toml"));
	write_raw(fixture_path("raw.img"), false);
	write_raw(fixture_path("badcrc.img"), true);
	fixture_need_tool("mkfs.ext4", "e2fsprogs");
	fixture_need_tool("debugfs", "e2fsprogs");
	fixture_run("mkfs.ext4 -q -F -d '%s' '%s' 8M >/dev/null", fixture_path("src"), fixture_path("ext4.img"));
	fixture_run("truncate -s 1M '%s' && mkswap '%s' >/dev/null 2>&1", fixture_path("swap.img"),
		    fixture_path("swap.img"));
	fixture_run("truncate -s 1M '%s'", fixture_path("zero.img"));
	return 0;
}

static int teardown(void **state)
{
	return fixture_dir_remove();
}

static int reset(void **state)
{
	memset(&fake, 0, sizeof(fake));
	fixture_run("rm -rf '%s' && mkdir -p '%s'", fixture_path("run"), fixture_path("run"));
	return 0;
}

/* consume_initdata on an image file (a stand-in for the checked device fd). */
static int consume_path_keep(const char *image, const char *dir, uint64_t max_bytes, bool keep,
			     struct consume_result *res, char *err, size_t errsz)
{
	struct consume_opts o = { .dir = dir, .fs_dir = fixture_path("run/fs"), .node_dir = fixture_path("run/node"),
				  .name = "vdx", .max_bytes = max_bytes, .keep_toml = keep };
	int fd = open(image, O_RDONLY | O_CLOEXEC);
	int r;

	assert_true(fd >= 0);
	r = consume_initdata(fd, &o, res, err, errsz);
	close(fd);
	return r;
}

static int consume_path(const char *image, const char *dir, uint64_t max_bytes, struct consume_result *res,
			char *err, size_t errsz)
{
	return consume_path_keep(image, dir, max_bytes, false, res, err, errsz);
}

/* keep_toml: the boot checks the document from the bytes consume wrote,
 * never reading initdata.toml back; both forms hand over exactly the file. */
static void test_keep_toml(void **state)
{
	struct consume_result res;
	char err[256] = "", dir[256];

	util_strlcpy(dir, fixture_path("run/raw"), sizeof(dir));
	assert_int_equal(consume_path_keep(fixture_path("raw.img"), dir, INITDATA_DEFAULT_MAX_BYTES, true, &res, err,
					   sizeof(err)),
			 0);
	assert_non_null(res.toml);
	assert_int_equal(res.toml_size, sizeof(TOML) - 1);
	assert_memory_equal(res.toml, TOML, sizeof(TOML) - 1);
	free(res.toml);

	util_strlcpy(dir, fixture_path("run/fsdir"), sizeof(dir));
	fixture_run("mkdir -p '%s' && printf 'version = \"0.1.0\"\\n# fs\\n' > '%s/initdata.toml'",
		    fixture_path("run/fs"), fixture_path("run/fs"));
	if (consume_path_keep(fixture_path("ext4.img"), dir, INITDATA_DEFAULT_MAX_BYTES, true, &res, err,
			      sizeof(err)) != 0)
		fail_msg("consume: %s", err);
	assert_non_null(res.toml);
	assert_int_equal(res.toml_size, 23);
	assert_memory_equal(res.toml, "version = \"0.1.0\"\n# fs\n", 23);
	free(res.toml);

	/* without it, nothing is handed over */
	util_strlcpy(dir, fixture_path("run/raw2"), sizeof(dir));
	assert_int_equal(consume_path(fixture_path("raw.img"), dir, INITDATA_DEFAULT_MAX_BYTES, &res, err, sizeof(err)),
			 0);
	assert_null(res.toml);
}

static void test_raw_extracts_onto_tmpfs(void **state)
{
	struct consume_result res;
	char err[256] = "", dir[256], buf[300];
	struct stat st;

	util_strlcpy(dir, fixture_path("run/confidential-containers/initdata"), sizeof(dir));
	assert_int_equal(consume_path(fixture_path("raw.img"), dir, INITDATA_DEFAULT_MAX_BYTES, &res, err, sizeof(err)),
			 0);
	assert_string_equal(res.format, "kata-raw");
	assert_int_equal(res.toml_size, sizeof(TOML) - 1);

	assert_int_equal(fake.nmount, 1);
	assert_string_equal(fake.m[0].source, "tmpfs");
	assert_string_equal(fake.m[0].target, dir);
	assert_string_equal(fake.m[0].fstype, "tmpfs");
	assert_int_equal(fake.m[0].flags, MS_NOSUID | MS_NODEV | MS_NOEXEC);
	assert_string_equal(fake.m[0].data, "mode=0700");
	assert_int_equal(fake.numount, 0);

	/* the directory was made (with its parents) and holds the TOML */
	assert_int_equal(stat(dir, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	snprintf(buf, sizeof(buf), "%s/initdata.toml", dir);
	assert_int_equal(stat(buf, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0400);
	char got[256];
	assert_int_equal(util_read_file_at(AT_FDCWD, buf, got, sizeof(got), false), (ssize_t)sizeof(TOML) - 1);
	assert_memory_equal(got, TOML, sizeof(TOML) - 1);
}

/* The filesystem form: mounted read-only (ext4 with noload) at its own
 * directory, its initdata.toml copied onto the tmpfs at the initdata
 * directory, mode 0400: the same layout as the raw format. The fake mount
 * leaves run/fs a plain directory, which stands in for the filesystem. */
static void test_fs_mounts_readonly_and_copies(void **state)
{
	struct consume_result res;
	char err[256] = "", dir[256], path[300], got[256];
	struct stat st;

	util_strlcpy(dir, fixture_path("run/initdata"), sizeof(dir));
	fixture_run("mkdir -p '%s' && printf 'version = \"0.1.0\"\\n# fs\\n' > '%s/initdata.toml'",
		    fixture_path("run/fs"), fixture_path("run/fs"));
	if (consume_path(fixture_path("ext4.img"), dir, INITDATA_DEFAULT_MAX_BYTES, &res, err, sizeof(err)) != 0)
		fail_msg("consume: %s", err);
	assert_string_equal(res.format, "ext4");
	assert_int_equal(res.toml_size, 23);
	assert_int_equal(fake.nmount, 2);
	assert_string_equal(fake.m[0].target, dir);
	assert_string_equal(fake.m[0].fstype, "tmpfs");
	/* a regular file is mounted through its fd; a block device through a private node */
	assert_int_equal(strncmp(fake.m[1].source, "/proc/self/fd/", 14), 0);
	assert_string_equal(fake.m[1].target, fixture_path("run/fs"));
	assert_string_equal(fake.m[1].fstype, "ext4");
	assert_int_equal(fake.m[1].flags, MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC);
	assert_string_equal(fake.m[1].data, "noload");
	assert_int_equal(fake.numount, 0);
	snprintf(path, sizeof(path), "%s/initdata.toml", dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0400);
	assert_int_equal(util_read_file_at(AT_FDCWD, path, got, sizeof(got), false), 23);
	assert_memory_equal(got, "version = \"0.1.0\"\n# fs\n", 23);
}

/* What the filesystem holds is host input: a missing, oversized, linked or
 * special initdata.toml is an error, and nothing stays mounted. */
static void test_fs_toml_hostile(void **state)
{
	static const struct {
		const char *make, *err;
		int r;
	} cases[] = {
		{ "true", "no initdata.toml on the ext4 filesystem", -ENOENT },
		{ "head -c 4097 /dev/zero > initdata.toml", "initdata.toml is 4097 bytes, above 4 x "
							   "cocoinit.initdata_max_bytes (4096)", -EFBIG },
		{ "ln -s /etc/passwd initdata.toml", "cannot open initdata.toml on the ext4 filesystem: Too many "
						     "levels of symbolic links", -ELOOP },
		{ "mkfifo initdata.toml", "initdata.toml on the ext4 filesystem is not a regular file", -EINVAL },
		{ "mkdir initdata.toml", "initdata.toml on the ext4 filesystem is not a regular file", -EINVAL },
	};
	char err[256], dir[256], fs[256];
	struct consume_result res;

	/* fixture_path() reuses its buffers: keep copies. */
	util_strlcpy(dir, fixture_path("run/initdata"), sizeof(dir));
	util_strlcpy(fs, fixture_path("run/fs"), sizeof(fs));
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		reset(state);
		fixture_run("mkdir -p '%s' && cd '%s' && %s", fixture_path("run/fs"), fixture_path("run/fs"),
			    cases[i].make);
		err[0] = '\0';
		assert_int_equal(consume_path(fixture_path("ext4.img"), dir, 1024, &res, err, sizeof(err)), cases[i].r);
		assert_string_equal(err, cases[i].err);
		assert_int_equal(fake.nmount, 2);
		assert_int_equal(fake.numount, 2);
		assert_string_equal(fake.umount_target[0], fs);
		assert_string_equal(fake.umount_target[1], dir);
	}
	/* exactly 4 x max_bytes is allowed */
	reset(state);
	fixture_run("mkdir -p '%s' && head -c 4096 /dev/zero > '%s/initdata.toml'", fixture_path("run/fs"),
		    fixture_path("run/fs"));
	assert_int_equal(consume_path(fixture_path("ext4.img"), dir, 1024, &res, err, sizeof(err)), 0);
	assert_int_equal(res.toml_size, 4096);
}

static void test_unsupported(void **state)
{
	struct consume_result res = { .format = "unchanged" };
	char err[256] = "";

	assert_int_equal(consume_path(fixture_path("swap.img"), fixture_path("run/x"), 1 << 20, &res, err, sizeof(err)),
			 -EPROTONOSUPPORT);
	assert_string_equal(err, "unsupported initdata format swap");
	assert_int_equal(fake.nmount, 0);

	err[0] = '\0';
	assert_int_equal(consume_path(fixture_path("zero.img"), fixture_path("run/x"), 1 << 20, &res, err, sizeof(err)),
			 -EPROTONOSUPPORT);
	assert_non_null(strstr(err, "unrecognised initdata format"));
	assert_int_equal(fake.nmount, 0);
	assert_string_equal(res.format, "unchanged");
	/* nothing was made for an unusable disk */
	assert_int_equal(access(fixture_path("run/x"), F_OK), -1);
}

static void test_bad_raw_unmounts(void **state)
{
	struct consume_result res;
	char err[256] = "", dir[256];

	util_strlcpy(dir, fixture_path("run/initdata"), sizeof(dir));
	assert_int_equal(consume_path(fixture_path("badcrc.img"), dir, 1 << 20, &res, err, sizeof(err)), -EBADMSG);
	assert_non_null(strstr(err, "incorrect data check"));
	assert_int_equal(fake.nmount, 1);
	assert_int_equal(fake.numount, 1);
	assert_string_equal(fake.umount_target[0], dir);

	/* L beyond the bound: the contract's message */
	err[0] = '\0';
	assert_int_equal(consume_path(fixture_path("raw.img"), dir, 8, &res, err, sizeof(err)), -ERANGE);
	assert_non_null(strstr(err, "is above cocoinit.initdata_max_bytes=8"));
}

static void test_mount_fails(void **state)
{
	struct consume_result res;
	char err[256] = "";

	fake.fail_fstype = -EPERM;
	assert_int_equal(consume_path(fixture_path("ext4.img"), fixture_path("run/m"), 1 << 20, &res, err, sizeof(err)),
			 -EPERM);
	assert_non_null(strstr(err, "cannot mount the ext4 filesystem at "));
	assert_non_null(strstr(err, "/run/fs: Operation not permitted"));
	assert_int_equal(fake.numount, 1); /* the tmpfs, not left behind */

	err[0] = '\0';
	fake.result = -EPERM;
	assert_int_equal(consume_path(fixture_path("raw.img"), fixture_path("run/m"), 1 << 20, &res, err, sizeof(err)),
			 -EPERM);
	assert_non_null(strstr(err, "cannot mount a tmpfs"));
}

/* A tree with sys/class/block/<name>/dev and dev/<name> as the manifest
 * says; returns its rootfd. */
static int node_tree(char **root, const char *devnum, const char *node_cmd)
{
	char manifest[256];

	snprintf(manifest, sizeof(manifest), "file sys/class/block/vdb/dev %s\\n\ndir dev\n", devnum);
	*root = tree_from_manifest(manifest);
	assert_non_null(*root);
	if (node_cmd)
		fixture_run("cd '%s/dev' && %s", *root, node_cmd);
	return tree_open(*root);
}

/* The node must be the disk whose serial was checked, by device number. */
static void test_open_checks_rdev(void **state)
{
	char err[256], *root;
	int rootfd, fd;

	/* a regular file where the node should be */
	rootfd = node_tree(&root, "254:16", "printf 'initdata' > vdb");
	assert_int_equal(consume_open(rootfd, "vdb", err, sizeof(err)), -ENOTBLK);
	assert_string_equal(err, "/dev/vdb is not a block device");
	close(rootfd);
	tree_remove(root);

	/* a block node of another device */
	rootfd = node_tree(&root, "254:16", "mknod vdb b 7 200");
	assert_int_equal(consume_open(rootfd, "vdb", err, sizeof(err)), -EXDEV);
	assert_string_equal(err, "/dev/vdb is device 7:200, but the disk whose serial was checked is 254:16");
	close(rootfd);
	tree_remove(root);

	/* a symlink to another node: not followed */
	rootfd = node_tree(&root, "254:16", "mknod other b 254 16 && ln -s other vdb");
	assert_int_equal(consume_open(rootfd, "vdb", err, sizeof(err)), -ELOOP);
	close(rootfd);
	tree_remove(root);

	/* no node, a bad dev attribute, a bad name */
	rootfd = node_tree(&root, "254:16", NULL);
	assert_int_equal(consume_open(rootfd, "vdb", err, sizeof(err)), -ENOENT);
	assert_string_equal(err, "cannot open /dev/vdb: No such file or directory");
	assert_int_equal(consume_open(rootfd, "../vdb", err, sizeof(err)), -EINVAL);
	assert_int_equal(consume_open(rootfd, "vdc", err, sizeof(err)), -ENOENT);
	assert_string_equal(err, "cannot read /sys/class/block/vdc/dev: No such file or directory");
	close(rootfd);
	tree_remove(root);
	rootfd = node_tree(&root, "254", "mknod vdb b 254 16");
	assert_int_equal(consume_open(rootfd, "vdb", err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "/sys/class/block/vdb/dev is not MAJOR:MINOR");
	close(rootfd);
	tree_remove(root);

	/* the right node: a real loop device, so open() reaches a driver */
	char dev[64], devnum[32];
	struct stat st;

	fixture_loop_attach(fixture_path("raw.img"), dev, sizeof(dev));
	assert_int_equal(stat(dev, &st), 0);
	snprintf(devnum, sizeof(devnum), "%u:%u", major(st.st_rdev), minor(st.st_rdev));
	char cmd[64];
	snprintf(cmd, sizeof(cmd), "mknod vdb b %u %u", major(st.st_rdev), minor(st.st_rdev));
	rootfd = node_tree(&root, devnum, cmd);
	fd = consume_open(rootfd, "vdb", err, sizeof(err));
	struct stat fst;
	int fr = fd >= 0 ? fstat(fd, &fst) : -1;
	if (fd >= 0)
		close(fd);
	close(rootfd);
	tree_remove(root);
	fixture_loop_detach(dev);
	if (fd < 0)
		fail_msg("consume_open: %d %s", fd, err);
	assert_int_equal(fr, 0);
	assert_true(fst.st_rdev == st.st_rdev);
}

static void test_real_tmpfs(void **state)
{
	struct consume_result res;
	char err[256] = "", dir[256], buf[300];
	struct statfs sfs;
	struct stat st;
	int r;

	util_strlcpy(dir, fixture_path("run/real"), sizeof(dir));
	fake.real = true;
	r = consume_path(fixture_path("raw.img"), dir, INITDATA_DEFAULT_MAX_BYTES, &res, err, sizeof(err));
	if (r != 0)
		fail_msg("consume_initdata: %d %s (this test needs root)", r, err);
	assert_int_equal(statfs(dir, &sfs), 0);
	int is_tmpfs = sfs.f_type == TMPFS_MAGIC;
	int noexec = (sfs.f_flags & ST_NOEXEC) && (sfs.f_flags & ST_NOSUID) && (sfs.f_flags & ST_NODEV);
	assert_int_equal(stat(dir, &st), 0);
	snprintf(buf, sizeof(buf), "%s/initdata.toml", dir);
	char got[256];
	ssize_t n = util_read_file_at(AT_FDCWD, buf, got, sizeof(got), false);
	assert_int_equal(umount(dir), 0);
	assert_true(is_tmpfs);
	assert_true(noexec);
	assert_int_equal(st.st_mode & 07777, 0700);
	assert_int_equal(n, (ssize_t)sizeof(TOML) - 1);
	assert_memory_equal(got, TOML, sizeof(TOML) - 1);
}

/* A real, writable loop device holding an ext4 that says its journal needs
 * recovery: consumed through consume_open() and real mounts, the device is
 * flagged read-only, the filesystem mounted read-only without replaying
 * the journal, initdata.toml copied, and the image file is byte-identical
 * afterwards. Without BLKROSET and noload the kernel replays the journal
 * (or refuses the mount). */
static void test_real_ext4_needs_recovery(void **state)
{
	char dev[64] = "", err[256] = "", devnum[32], cmd[128], before[128], after[128], features[512];
	char dir[256], fs[256], node[256], path[300], got[64] = "";
	struct consume_opts o = { .dir = dir, .fs_dir = fs, .node_dir = node, .name = "vdb",
				  .max_bytes = INITDATA_DEFAULT_MAX_BYTES };
	struct consume_result res;
	struct statfs sfs;
	struct stat st;
	int r = -1, rootfd, fd, ro = -1, werr = 0, fsro = 0;
	ssize_t n = -1;
	char *root;

	util_strlcpy(dir, fixture_path("run/ext4"), sizeof(dir));
	util_strlcpy(fs, fixture_path("run/fs"), sizeof(fs));
	util_strlcpy(node, fixture_path("run/node"), sizeof(node));
	fixture_run("cp '%s' '%s'", fixture_path("ext4.img"), fixture_path("dirty.img"));
	fixture_run("debugfs -w -R 'feature needs_recovery' '%s' >/dev/null 2>&1", fixture_path("dirty.img"));
	assert_int_equal(fixture_capture(features, sizeof(features), "dumpe2fs -h '%s' 2>/dev/null | grep -i features",
					 fixture_path("dirty.img")),
			 0);
	assert_non_null(strstr(features, "needs_recovery"));
	assert_int_equal(fixture_capture(before, sizeof(before), "sha256sum < '%s'", fixture_path("dirty.img")), 0);

	if (fixture_capture(dev, sizeof(dev), "losetup --find --show '%s'", fixture_path("dirty.img")) != 0 ||
	    strncmp(dev, "/dev/loop", 9) != 0)
		fail_msg("losetup failed: this test needs root and loop devices");
	assert_int_equal(stat(dev, &st), 0);
	snprintf(devnum, sizeof(devnum), "%u:%u", major(st.st_rdev), minor(st.st_rdev));
	snprintf(cmd, sizeof(cmd), "mknod vdb b %u %u", major(st.st_rdev), minor(st.st_rdev));
	rootfd = node_tree(&root, devnum, cmd);

	fake.real = true;
	fd = consume_open(rootfd, "vdb", err, sizeof(err));
	if (fd >= 0) {
		r = consume_initdata(fd, &o, &res, err, sizeof(err));
		if (ioctl(fd, BLKROGET, &ro) < 0)
			ro = -1;
		close(fd);
	}
	if (r == 0) {
		snprintf(path, sizeof(path), "%s/initdata.toml", dir);
		n = util_read_file_at(AT_FDCWD, path, got, sizeof(got) - 1, false);
		snprintf(path, sizeof(path), "%s/new", fs);
		int w = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
		werr = w < 0 ? errno : 0;
		if (w >= 0)
			close(w);
		fsro = statfs(fs, &sfs) == 0 && (sfs.f_flags & ST_RDONLY) && (sfs.f_flags & ST_NOEXEC);
		umount(fs);
		umount(dir);
	}
	close(rootfd);
	tree_remove(root);
	fixture_loop_detach(dev);
	if (r != 0)
		fail_msg("consume (%s): %d %s", dev, r, err);
	assert_int_equal(fixture_capture(after, sizeof(after), "sha256sum < '%s'", fixture_path("dirty.img")), 0);
	assert_string_equal(res.format, "ext4");
	assert_int_equal(ro, 1);
	assert_int_equal(n, 18);
	assert_memory_equal(got, "version = \"0.1.0\"\n", 18);
	assert_int_equal(werr, EROFS);
	assert_true(fsro);
	/* the private node the mount named: the checked device, root only */
	snprintf(path, sizeof(path), "%s/vdb", node);
	struct stat nst;
	assert_int_equal(stat(path, &nst), 0);
	assert_true(S_ISBLK(nst.st_mode) && nst.st_rdev == st.st_rdev);
	assert_int_equal(nst.st_mode & 07777, 0400);
	assert_string_equal(before, after);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_raw_extracts_onto_tmpfs, reset),
		cmocka_unit_test_setup(test_keep_toml, reset),
		cmocka_unit_test_setup(test_fs_mounts_readonly_and_copies, reset),
		cmocka_unit_test_setup(test_fs_toml_hostile, reset),
		cmocka_unit_test_setup(test_unsupported, reset),
		cmocka_unit_test_setup(test_bad_raw_unmounts, reset),
		cmocka_unit_test_setup(test_mount_fails, reset),
		cmocka_unit_test_setup(test_open_checks_rdev, reset),
		cmocka_unit_test_setup(test_real_tmpfs, reset),
		cmocka_unit_test_setup(test_real_ext4_needs_recovery, reset),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
