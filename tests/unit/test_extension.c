/* SPDX-License-Identifier: Apache-2.0 */
/* Extension images: the name rule, the serial, and extension_mount on
 * images mkextension builds, attached to real loop devices (one per disk and
 * one per partition) and described by a fake sysfs tree whose dev/ holds real
 * block nodes: real libblkid, real BLKROSET, the integrity table's decisions.
 * Mounts and device-mapper ioctls are wrapped and checked; the directory
 * must exist only after a mount succeeded, and nothing may be left on failure. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/dm-ioctl.h>
#include <linux/fs.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "cocoinit/extension.h"
#include "cocoinit/sys.h"
#include "cocoinit/timing.h"
#include "cocoinit/uevent.h"
#include "cocoinit/util.h"
#include "fixture.h"
#include "tree.h"

static bool name_ok(const char *s)
{
	return extension_name_ok(s, strlen(s));
}

static void test_name(void **state)
{
	char long_name[EXTENSION_NAME_MAX + 2];

	(void)state;
	assert_true(name_ok("coco"));
	assert_true(name_ok("gpu-nvidia_535.x"));
	assert_true(name_ok("..."));
	assert_true(name_ok(".hidden"));
	assert_true(name_ok("A"));
	assert_false(name_ok(""));
	assert_false(name_ok("."));
	assert_false(name_ok(".."));
	assert_false(name_ok("a/b"));
	assert_false(name_ok("../x"));
	assert_false(name_ok("a b"));
	assert_false(name_ok("a=b"));
	assert_false(name_ok("a,b"));
	assert_false(name_ok("caf\xc3\xa9"));
	assert_false(extension_name_ok("a\0b", 3));
	assert_false(extension_name_ok(NULL, 0));
	memset(long_name, 'x', sizeof(long_name));
	assert_true(extension_name_ok(long_name, EXTENSION_NAME_MAX));
	assert_false(extension_name_ok(long_name, EXTENSION_NAME_MAX + 1));
	/* the length is what counts */
	assert_true(extension_name_ok("ab/c", 2));
}

static void test_serial(void **state)
{
	char out[21];

	(void)state;
	memset(out, 0x7f, sizeof(out));
	assert_int_equal(extension_serial("coco", out), 14);
	assert_string_equal(out, "extension-coco");
	assert_int_equal(extension_serial("0123456789", out), 20);
	assert_string_equal(out, "extension-0123456789");
	/* a longer name arrives cut to the 20 bytes the device reports */
	assert_int_equal(extension_serial("gpu-nvidia-535-server", out), 20);
	assert_string_equal(out, "extension-gpu-nvidia");
	memset(out, 0x7f, sizeof(out));
	assert_int_equal(extension_serial("x", out), 11);
	assert_string_equal(out, "extension-x");
	assert_int_equal(out[12], 0x7f);
}

/* --- the wrapped syscalls --------------------------------------------- */

#define MOUNTS_MAX 8
static struct {
	char source[128], target[128], fstype[16];
	unsigned long flags;
	bool data;
	bool final_existed; /* run/kata-extensions/<name> at the time of the call */
} mounts[MOUNTS_MAX];
static size_t n_mounts;
static char umounts[MOUNTS_MAX][128];
static size_t n_umounts;
static int mount_fail_at = -1, mount_fail_errno, umount_errno;
static unsigned long dm_cmds[16];
static size_t n_dm;
static unsigned long dm_fail_cmd;
static char dm_params[VERITY_TABLE_MAX];
static dev_t ro_set[8]; /* devices BLKROSET made read-only */
static size_t n_ro;
static char *root;
static int rootfd = -1;

int __wrap_sys_mount(const char *source, const char *target, const char *fstype, unsigned long flags,
		     const void *data);
int __wrap_sys_umount(const char *target);
int __wrap_sys_ioctl(int fd, unsigned long request, void *arg);
int __wrap_sys_mknodat(int dirfd, const char *path, unsigned int mode, unsigned long long dev);

static bool exists(const char *path)
{
	struct stat st;

	return fstatat(rootfd, path, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

int __wrap_sys_mount(const char *source, const char *target, const char *fstype, unsigned long flags,
		     const void *data)
{
	size_t i = n_mounts++;

	assert_true(i < MOUNTS_MAX);
	snprintf(mounts[i].source, sizeof(mounts[i].source), "%s", source ? source : "");
	snprintf(mounts[i].target, sizeof(mounts[i].target), "%s", target);
	snprintf(mounts[i].fstype, sizeof(mounts[i].fstype), "%s", fstype ? fstype : "");
	mounts[i].flags = flags;
	mounts[i].data = data != NULL;
	mounts[i].final_existed = exists("run/kata-extensions/coco");
	/* the target is a directory below the root */
	struct stat st;
	assert_int_equal(target[0], '/');
	assert_int_equal(fstatat(rootfd, target + 1, &st, 0), 0);
	assert_true(S_ISDIR(st.st_mode));
	if ((int)i == mount_fail_at)
		return -mount_fail_errno;
	return 0;
}

int __wrap_sys_umount(const char *target)
{
	assert_true(n_umounts < MOUNTS_MAX);
	snprintf(umounts[n_umounts++], sizeof(umounts[0]), "%s", target);
	return umount_errno ? -umount_errno : 0;
}

int __wrap_sys_ioctl(int fd, unsigned long request, void *arg)
{
	if (request == BLKROSET) {
		struct stat st;
		assert_int_equal(fstat(fd, &st), 0);
		assert_true(S_ISBLK(st.st_mode));
		assert_int_equal(*(int *)arg, 1);
		assert_true(n_ro < ARRAY_SIZE(ro_set));
		ro_set[n_ro++] = st.st_rdev;
		/* the real one: the loop device becomes read-only */
		return ioctl(fd, request, arg) < 0 ? -errno : 0;
	}
	struct dm_ioctl *io = arg;
	assert_true(n_dm < ARRAY_SIZE(dm_cmds));
	dm_cmds[n_dm++] = request;
	if (request == DM_TABLE_LOAD) {
		const struct dm_target_spec *spec = (const void *)((char *)arg + io->data_start);
		snprintf(dm_params, sizeof(dm_params), "%s", (const char *)(spec + 1));
		assert_int_equal(io->flags, DM_READONLY_FLAG);
	}
	if (request == dm_fail_cmd)
		return -EINVAL;
	if (request == DM_DEV_CREATE || request == DM_DEV_SUSPEND)
		io->dev = makedev(253, 7);
	return 0;
}

int __wrap_sys_mknodat(int dirfd, const char *path, unsigned int mode, unsigned long long dev)
{
	/* a regular file stands in for dev/mapper nodes */
	int fd = openat(dirfd, path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

/* --- images on loop devices ------------------------------------------- */

struct image {
	char loop[3][64]; /* whole disk, p1, p2 ("" when absent) */
	dev_t dev[3];
	uint64_t bytes[3];
	char params[512];
};
static struct image measured, unmeasured, notable, ext4disk, other, three;

static dev_t dev_of(const char *node)
{
	struct stat st;

	assert_int_equal(stat(node, &st), 0);
	assert_true(S_ISBLK(st.st_mode));
	return st.st_rdev;
}

/* Attaches offset..offset+size of img (writable: BLKROSET must be what
 * makes it read-only). */
static void attach(struct image *im, int i, const char *img, uint64_t offset, uint64_t size)
{
	char out[48];

	assert_int_equal(fixture_capture(out, sizeof(out), "losetup -f --show -o %" PRIu64 " --sizelimit %" PRIu64 " %s",
					 offset, size, img),
			 0);
	assert_true(strncmp(out, "/dev/loop", 9) == 0);
	snprintf(im->loop[i], sizeof(im->loop[i]), "%s", out);
	im->dev[i] = dev_of(out);
	im->bytes[i] = size;
}

static void build(struct image *im, const char *opts, const char *name)
{
	char out[128];
	const char *img = fixture_path(name);
	struct stat st;

	memset(im, 0, sizeof(*im));
	fixture_capture(im->params, sizeof(im->params), "%s/../../initramfs/mkextension %s %s %s", FIXTURES, opts,
			fixture_path("src"), img);
	assert_int_equal(stat(img, &st), 0);
	attach(im, 0, img, 0, (uint64_t)st.st_size);
	for (int p = 1; p <= 2; p++) {
		unsigned long long start, size;
		/* sfdisk -d: "<img>1 : start=        2048, size=          24, type=83" */
		if (fixture_capture(out, sizeof(out),
				    "sfdisk -d %s 2>/dev/null | sed -n 's/^.*%d : start= *\\([0-9]*\\), size= *\\([0-9]*\\).*/\\1 \\2/p'",
				    img, p) != 0 || sscanf(out, "%llu %llu", &start, &size) != 2)
			continue;
		attach(im, p, img, start * 512, size * 512);
	}
}

static int group_setup(void **state)
{
	(void)state;
	/* real block nodes in the trees: not below a nodev /dev/shm */
	setenv("TMPDIR", "/tmp", 1);
	fixture_dir_create("extension");
	fixture_need_tool("mkfs.erofs", "erofs-utils");
	fixture_need_tool("veritysetup", "cryptsetup-bin");
	fixture_need_tool("sfdisk", "fdisk");
	fixture_need_tool("losetup", "mount");
	fixture_run("mkdir -p %s/etc/kata-extensions && echo 'schema_version = 1' > "
		    "%s/etc/kata-extensions/components.toml && echo hi > %s/hello",
		    fixture_path("src"), fixture_path("src"), fixture_path("src"));
	build(&measured, "", "measured.img");
	assert_true(strncmp(measured.params, "root_hash=", 10) == 0);
	assert_true(measured.loop[1][0] && measured.loop[2][0]);
	build(&unmeasured, "--unmeasured", "unmeasured.img");
	assert_string_equal(unmeasured.params, "");
	assert_true(unmeasured.loop[1][0] && !unmeasured.loop[2][0]);
	build(&notable, "--no-table", "notable.img");
	assert_true(!notable.loop[1][0]);
	fixture_run("truncate -s 4M %s && mkfs.ext4 -q %s", fixture_path("ext4.img"), fixture_path("ext4.img"));
	memset(&ext4disk, 0, sizeof(ext4disk));
	attach(&ext4disk, 0, fixture_path("ext4.img"), 0, 4 << 20);
	build(&other, "", "other.img");
	/* the measured image with a third partition the kernel may never add */
	fixture_run("cp %s %s && truncate -s +2M %s && echo ',1M,83' | sfdisk --quiet --append %s >/dev/null",
		    fixture_path("measured.img"), fixture_path("three.img"), fixture_path("three.img"),
		    fixture_path("three.img"));
	memset(&three, 0, sizeof(three));
	struct stat st;
	assert_int_equal(stat(fixture_path("three.img"), &st), 0);
	attach(&three, 0, fixture_path("three.img"), 0, (uint64_t)st.st_size);
	return 0;
}

static int group_teardown(void **state)
{
	struct image *all[] = { &measured, &unmeasured, &notable, &ext4disk, &other, &three };

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(all); i++)
		for (int p = 0; p < 3; p++)
			if (all[i]->loop[p][0])
				fixture_loop_detach(all[i]->loop[p]);
	return fixture_dir_remove();
}

static int setup(void **state)
{
	(void)state;
	n_mounts = n_umounts = n_dm = n_ro = 0;
	mount_fail_at = -1;
	mount_fail_errno = umount_errno = 0;
	dm_fail_cmd = 0;
	dm_params[0] = '\0';
	root = tree_from_manifest("dir run\n");
	if (!root)
		return -1;
	rootfd = tree_open(root);
	return rootfd < 0 ? -1 : 0;
}

static int teardown(void **state)
{
	struct image *all[] = { &measured, &unmeasured, &notable, &ext4disk, &other, &three };

	(void)state;
	close(rootfd);
	rootfd = -1;
	tree_clear(&root);
	/* writable again for the next test */
	for (size_t i = 0; i < ARRAY_SIZE(all); i++)
		for (int p = 0; p < 3; p++)
			if (all[i]->loop[p][0]) {
				int fd = open(all[i]->loop[p], O_RDONLY | O_CLOEXEC), zero = 0;
				if (fd >= 0) {
					ioctl(fd, BLKROSET, &zero);
					close(fd);
				}
			}
	return 0;
}

static void write_at(const char *rel, const char *content)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(content, f);
	assert_int_equal(fclose(f), 0);
}

/* Sysfs's dev and size for name, and dev/<name> a real node for dev. */
static void blockdev(const char *name, dev_t dev, uint64_t bytes)
{
	char rel[128], val[64];

	snprintf(rel, sizeof(rel), "sys/class/block/%s/dev", name);
	snprintf(val, sizeof(val), "%u:%u\n", major(dev), minor(dev));
	write_at(rel, val);
	snprintf(rel, sizeof(rel), "sys/class/block/%s/size", name);
	snprintf(val, sizeof(val), "%" PRIu64 "\n", bytes / 512);
	write_at(rel, val);
	snprintf(rel, sizeof(rel), "dev/%s", name);
	(void)unlinkat(rootfd, rel, 0);
	assert_int_equal(mknodat(rootfd, rel, S_IFBLK | 0600, dev), 0);
}

static void add_part(const struct image *im, int p)
{
	char line[128], name[16];

	snprintf(name, sizeof(name), "vdb%d", p);
	snprintf(line, sizeof(line), "part %s of=vdb\n", name);
	assert_int_equal(tree_apply(root, line), 0);
	blockdev(name, im->dev[p], im->bytes[p]);
}

/* Disk vdb as the kernel shows im: the disk and the partitions it has. */
static void add_disk(const struct image *im)
{
	assert_int_equal(tree_apply(root, "disk vdb serial=extension-coco\n"), 0);
	blockdev("vdb", im->dev[0], im->bytes[0]);
	for (int p = 1; p <= 2; p++)
		if (im->loop[p][0])
			add_part(im, p);
}

static void spec_for(struct extension_spec *spec, const struct image *im, bool measure)
{
	char err[128];

	memset(spec, 0, sizeof(*spec));
	snprintf(spec->name, sizeof(spec->name), "coco");
	spec->measured = measure;
	if (measure)
		assert_int_equal(verity_params_parse(im->params, strlen(im->params), &spec->params, err, sizeof(err)), 0);
}

static int mount_it(const struct extension_spec *spec, struct extension_result *res, char *err, size_t errsz)
{
	return extension_mount(rootfd, spec, "vdb", timing_now_us(), -1, res, err, errsz);
}

static bool was_ro(dev_t dev)
{
	for (size_t i = 0; i < n_ro; i++)
		if (ro_set[i] == dev)
			return true;
	return false;
}

static int getro(const char *node)
{
	int fd = open(node, O_RDONLY | O_CLOEXEC), ro = -1;

	assert_true(fd >= 0);
	assert_int_equal(ioctl(fd, BLKROGET, &ro), 0);
	close(fd);
	return ro;
}

/* Nothing left: no mount, no directories, no device-mapper device. */
static void assert_nothing_left(void)
{
	assert_false(exists("run/kata-extensions/coco"));
	assert_false(exists("run/cocoinit/extensions/coco"));
	assert_false(exists("dev/mapper/extension-coco"));
	/* every mount made was unmounted again */
	size_t made = 0;
	for (size_t i = 0; i < n_mounts; i++)
		if ((int)i != mount_fail_at && !(mounts[i].flags & MS_MOVE))
			made++;
	assert_int_equal(n_umounts, made);
}

static void assert_mounted(const char *source)
{
	assert_int_equal(n_mounts, 2);
	assert_string_equal(mounts[0].source, source);
	assert_string_equal(mounts[0].target, "/run/cocoinit/extensions/coco");
	assert_string_equal(mounts[0].fstype, "erofs");
	/* read-only, nosuid, nodev; exec allowed */
	assert_int_equal(mounts[0].flags, MS_RDONLY | MS_NOSUID | MS_NODEV);
	assert_false(mounts[0].data);
	assert_false(mounts[0].final_existed);
	assert_string_equal(mounts[1].source, "/run/cocoinit/extensions/coco");
	assert_string_equal(mounts[1].target, "/run/kata-extensions/coco");
	assert_int_equal(mounts[1].flags, MS_MOVE);
	assert_true(exists("run/kata-extensions/coco"));
	assert_false(exists("run/cocoinit/extensions/coco"));
	assert_int_equal(n_umounts, 0);
}

/* --- the images mkextension builds ---------------------------------- */

static void test_mkextension(void **state)
{
	struct verity_params p;
	char err[256], out[128];

	(void)state;
	/* what the kernel command line will carry */
	assert_int_equal(verity_params_parse(measured.params, strlen(measured.params), &p, err, sizeof(err)), 0);
	assert_int_equal(p.data_block_size, 4096);
	assert_int_equal(p.hash_block_size, 4096);
	assert_int_equal(p.salt_len, 32);
	/* data blocks are all of p1, which starts at 1 MiB of an msdos label */
	assert_int_equal(p.data_blocks * 4096, measured.bytes[1]);
	assert_int_equal(fixture_capture(out, sizeof(out), "sfdisk -d %s | sed -n 's/^label: //p'",
					 fixture_path("measured.img")),
			 0);
	assert_string_equal(out, "dos");
	assert_int_equal(fixture_capture(out, sizeof(out), "sfdisk -d %s | sed -n 's/.*1 : start= *\\([0-9]*\\),.*/\\1/p'",
					 fixture_path("measured.img")),
			 0);
	assert_string_equal(out, "2048");
	/* veritysetup agrees: p2 is p1's hash tree under these params */
	char root_hex[65], salt_hex[65];
	for (int i = 0; i < 32; i++) {
		snprintf(root_hex + 2 * i, 3, "%02x", p.root_hash[i]);
		snprintf(salt_hex + 2 * i, 3, "%02x", p.salt[i]);
	}
	fixture_run("veritysetup verify --no-superblock --data-blocks=%" PRIu64 " --salt=%s %s %s %s", p.data_blocks,
		    salt_hex, measured.loop[1], measured.loop[2], root_hex);
	/* and a different root hash does not verify */
	root_hex[0] = root_hex[0] == '0' ? '1' : '0';
	assert_int_not_equal(fixture_capture(out, sizeof(out),
					     "veritysetup verify --no-superblock --data-blocks=%" PRIu64
					     " --salt=%s %s %s %s 2>/dev/null",
					     p.data_blocks, salt_hex, measured.loop[1], measured.loop[2], root_hex),
			     0);
	/* p1 is EROFS; the unmeasured image has no p2, the bare one no label */
	assert_int_equal(fixture_capture(out, sizeof(out), "blkid -p -o value -s TYPE %s", measured.loop[1]), 0);
	assert_string_equal(out, "erofs");
	assert_int_equal(fixture_capture(out, sizeof(out), "blkid -p -o value -s TYPE %s", notable.loop[0]), 0);
	assert_string_equal(out, "erofs");
}

/* --- the integrity table ---------------------------------------------- */

static void test_measured(void **state)
{
	struct extension_spec spec;
	struct extension_result res;
	char err[512] = "", want[VERITY_TABLE_MAX];

	(void)state;
	add_disk(&measured);
	spec_for(&spec, &measured, true);
	assert_int_equal(mount_it(&spec, &res, err, sizeof(err)), 0);
	assert_string_equal(err, "");
	assert_int_equal(res.mode, EXTENSION_VERITY);
	assert_string_equal(res.device, "/dev/mapper/extension-coco");
	/* dm-verity over the two partitions sysfs named, by major:minor */
	assert_int_equal(n_dm, 3);
	assert_int_equal(dm_cmds[0], DM_DEV_CREATE);
	assert_int_equal(dm_cmds[1], DM_TABLE_LOAD);
	assert_int_equal(dm_cmds[2], DM_DEV_SUSPEND);
	snprintf(want, sizeof(want), "1 %u:%u %u:%u 4096 4096 %" PRIu64 " 0 sha256 ", major(measured.dev[1]),
		 minor(measured.dev[1]), major(measured.dev[2]), minor(measured.dev[2]), measured.bytes[1] / 4096);
	assert_true(strncmp(dm_params, want, strlen(want)) == 0);
	assert_mounted("/dev/mapper/extension-coco");
	/* every device it read is read-only now */
	assert_true(was_ro(measured.dev[0]) && was_ro(measured.dev[1]) && was_ro(measured.dev[2]));
	assert_int_equal(getro(measured.loop[1]), 1);
	assert_int_equal(getro(measured.loop[2]), 1);

	/* and extension_umount undoes it: unmount, directory, dm device */
	n_dm = 0;
	assert_int_equal(extension_umount(rootfd, "coco", err, sizeof(err)), 0);
	assert_int_equal(n_umounts, 1);
	assert_string_equal(umounts[0], "/run/kata-extensions/coco");
	assert_false(exists("run/kata-extensions/coco"));
	assert_int_equal(n_dm, 1);
	assert_int_equal(dm_cmds[0], DM_DEV_REMOVE);
	assert_false(exists("dev/mapper/extension-coco"));
	/* again: nothing mounted, nothing there, still fine (Kata's script) */
	umount_errno = EINVAL;
	assert_int_equal(extension_umount(rootfd, "coco", err, sizeof(err)), 0);
	assert_int_equal(n_dm, 1);
}

static void test_hash_without_params(void **state)
{
	struct extension_spec spec;
	struct extension_result res;
	char err[512] = "";

	(void)state;
	add_disk(&measured);
	spec_for(&spec, &measured, false);
	assert_int_equal(mount_it(&spec, &res, err, sizeof(err)), -EPERM);
	assert_string_equal(err, "extension coco (/dev/vdb): has a dm-verity hash partition but the command line "
				 "gives no verity params: refusing (params stripped?)");
	assert_int_equal(n_mounts, 0);
	assert_int_equal(n_dm, 0);
	assert_nothing_left();
}

static void test_params_without_hash(void **state)
{
	struct extension_spec spec;
	struct extension_result res;
	char err[512] = "";

	(void)state;
	add_disk(&unmeasured);
	spec_for(&spec, &measured, true);
	assert_int_equal(mount_it(&spec, &res, err, sizeof(err)), -EPERM);
	assert_string_equal(err, "extension coco (/dev/vdb): the command line gives verity params but the disk has "
				 "no dm-verity hash partition: refusing");
	assert_int_equal(n_mounts, 0);
	assert_int_equal(n_dm, 0);
	assert_nothing_left();
	/* a bare EROFS disk with params is refused the same way */
	tree_clear(&root);
	close(rootfd);
	root = tree_from_manifest("dir run\n");
	rootfd = tree_open(root);
	add_disk(&notable);
	assert_int_equal(mount_it(&spec, &res, err, sizeof(err)), -EPERM);
	assert_int_equal(n_mounts, 0);
}

static void test_unmeasured(void **state)
{
	struct extension_spec spec;
	struct extension_result res;
	char err[512] = "";

	(void)state;
	add_disk(&unmeasured);
	spec_for(&spec, &unmeasured, false);
	assert_int_equal(mount_it(&spec, &res, err, sizeof(err)), 0);
	assert_int_equal(res.mode, EXTENSION_RAW);
	assert_string_equal(res.device, "/dev/vdb1");
	assert_int_equal(n_dm, 0);
	assert_mounted("/dev/vdb1");
	assert_int_equal(getro(unmeasured.loop[1]), 1);
}

static void test_no_table(void **state)
{
	struct extension_spec spec;
	struct extension_result res;
	char err[512] = "";

	(void)state;
	add_disk(&notable);
	spec_for(&spec, &notable, false);
	assert_int_equal(mount_it(&spec, &res, err, sizeof(err)), 0);
	assert_string_equal(res.device, "/dev/vdb");
	assert_mounted("/dev/vdb");
	assert_int_equal(getro(notable.loop[0]), 1);
}

static void test_not_erofs(void **state)
{
	struct extension_spec spec;
	struct extension_result res;
	char err[512] = "";

	(void)state;
	add_disk(&ext4disk);
	spec_for(&spec, &ext4disk, false);
	assert_int_equal(mount_it(&spec, &res, err, sizeof(err)), -EMEDIUMTYPE);
	assert_string_equal(err, "extension coco (/dev/vdb): /dev/vdb holds ext4, not erofs: refusing");
	assert_int_equal(n_mounts, 0);
	assert_nothing_left();
}

/* --- what is checked before anything is made ------------------------- */

static void test_sizes(void **state)
{
	struct extension_spec spec;
	struct extension_result res;
	char err[512] = "";

	(void)state;
	add_disk(&measured);
	spec_for(&spec, &measured, true);
	spec.params.data_blocks = measured.bytes[1] / 4096 + 1;
	assert_int_equal(mount_it(&spec, &res, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "extension coco (/dev/vdb): verity params do not fit the disk: data_blocks: "));
	assert_int_equal(n_dm, 0);
	assert_nothing_left();
}

static void test_wrong_node(void **state)
{
	struct extension_spec spec;
	struct extension_result res;
	char err[512] = "", want[256];

	(void)state;
	add_disk(&measured);
	/* dev/vdb1 is another device than sysfs says */
	assert_int_equal(unlinkat(rootfd, "dev/vdb1", 0), 0);
	assert_int_equal(mknodat(rootfd, "dev/vdb1", S_IFBLK | 0600, other.dev[1]), 0);
	spec_for(&spec, &measured, true);
	assert_int_equal(mount_it(&spec, &res, err, sizeof(err)), -ENODEV);
	snprintf(want, sizeof(want), "extension coco (/dev/vdb): /dev/vdb1 is not the block device %u:%u sysfs names",
		 major(measured.dev[1]), minor(measured.dev[1]));
	assert_string_equal(err, want);
	assert_int_equal(n_dm, 0);
	assert_nothing_left();
	/* a regular file is not a block device either */
	assert_int_equal(unlinkat(rootfd, "dev/vdb1", 0), 0);
	assert_int_equal(tree_apply(root, "file dev/vdb1 planted\n"), 0);
	assert_int_equal(mount_it(&spec, &res, err, sizeof(err)), -ENODEV);
	assert_int_equal(n_mounts, 0);
}

static void test_partition_missing(void **state)
{
	struct extension_spec spec;
	struct extension_result res;
	char err[512] = "";

	(void)state;
	/* the table lists 1 and 2; the kernel has added only 1 so far */
	assert_int_equal(tree_apply(root, "disk vdb serial=extension-coco\n"), 0);
	blockdev("vdb", measured.dev[0], measured.bytes[0]);
	add_part(&measured, 1);
	spec_for(&spec, &measured, true);
	assert_int_equal(mount_it(&spec, &res, err, sizeof(err)), -ETIMEDOUT);
	assert_string_equal(err, "extension coco (/dev/vdb): the kernel did not add partitions 1,2 in time (sysfs "
				 "shows 1)");
	assert_int_equal(n_dm, 0);
	assert_nothing_left();
}

static void test_partition_3_not_waited_for(void **state)
{
	struct extension_spec spec;
	struct extension_result res;
	char err[512] = "";

	(void)state;
	/* the table lists 1, 2 and 3; sysfs shows 1 and 2: enough, no wait */
	assert_int_equal(tree_apply(root, "disk vdb serial=extension-coco\n"), 0);
	blockdev("vdb", three.dev[0], three.bytes[0]);
	add_part(&measured, 1);
	add_part(&measured, 2);
	spec_for(&spec, &measured, true);
	assert_int_equal(mount_it(&spec, &res, err, sizeof(err)), 0);
	assert_int_equal(res.mode, EXTENSION_VERITY);
	assert_mounted("/dev/mapper/extension-coco");
}

static pid_t main_tid;
static bool added_while_waiting;

/* Whether thread tid is asleep (in extension_mount's poll). */
static bool asleep(pid_t tid)
{
	char path[64], buf[512], *close_paren;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", (int)tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	close_paren = strrchr(buf, ')');
	return close_paren && close_paren[1] == ' ' && close_paren[2] == 'S';
}

/* Once extension_mount has made the disk read-only and sleeps waiting for
 * partition 2, adds vdb2 to the tree and makes the kernel send a real uevent. */
static void *add_p2_later(void *arg)
{
	char path[128];
	int fd;

	(void)arg;
	for (int i = 0; i < 20000 && !(__atomic_load_n(&n_ro, __ATOMIC_SEQ_CST) >= 1 && asleep(main_tid)); i++) {
		struct timespec ts = { 0, 1000000 };
		nanosleep(&ts, NULL);
	}
	added_while_waiting = __atomic_load_n(&n_ro, __ATOMIC_SEQ_CST) >= 1 && asleep(main_tid);
	add_part(&measured, 2);
	snprintf(path, sizeof(path), "/sys/class/block/%.40s/uevent", measured.loop[2] + 5);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		(void)!write(fd, "change", 6);
		close(fd);
	}
	return NULL;
}

static void test_partition_wait(void **state)
{
	struct extension_spec spec;
	struct extension_result res;
	char err[512] = "";
	pthread_t t;
	int ufd;

	(void)state;
	assert_int_equal(tree_apply(root, "disk vdb serial=extension-coco\n"), 0);
	blockdev("vdb", measured.dev[0], measured.bytes[0]);
	add_part(&measured, 1);
	spec_for(&spec, &measured, true);
	ufd = uevent_open();
	assert_true(ufd >= 0);
	main_tid = gettid();
	added_while_waiting = false;
	assert_int_equal(pthread_create(&t, NULL, add_p2_later, NULL), 0);
	int r = extension_mount(rootfd, &spec, "vdb", timing_now_us() + 30000000, ufd, &res, err, sizeof(err));
	assert_int_equal(pthread_join(t, NULL), 0);
	close(ufd);
	if (r != 0)
		fail_msg("%s", err);
	/* it was waiting (not done before p2 came) and the uevent woke it */
	assert_true(added_while_waiting);
	assert_int_equal(res.mode, EXTENSION_VERITY);
	assert_mounted("/dev/mapper/extension-coco");
}

/* --- failures after something was made ------------------------------- */

static void test_verity_fails(void **state)
{
	struct extension_spec spec;
	struct extension_result res;
	char err[512] = "";

	(void)state;
	add_disk(&measured);
	spec_for(&spec, &measured, true);
	dm_fail_cmd = DM_TABLE_LOAD;
	assert_int_equal(mount_it(&spec, &res, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "extension coco (/dev/vdb): dm-verity extension-coco: DM_TABLE_LOAD: Invalid argument "
				 "(the kernel log says why)");
	assert_int_equal(dm_cmds[n_dm - 1], DM_DEV_REMOVE);
	assert_int_equal(n_mounts, 0);
	assert_nothing_left();
}

static void test_mount_fails(void **state)
{
	struct extension_spec spec;
	struct extension_result res;
	char err[512] = "";

	(void)state;
	add_disk(&measured);
	spec_for(&spec, &measured, true);
	mount_fail_at = 0;
	mount_fail_errno = EINVAL;
	assert_int_equal(mount_it(&spec, &res, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "extension coco (/dev/vdb): cannot mount /dev/mapper/extension-coco (erofs) at "
				 "/run/cocoinit/extensions/coco: Invalid argument");
	/* the dm-verity device went again */
	assert_int_equal(n_dm, 4);
	assert_int_equal(dm_cmds[3], DM_DEV_REMOVE);
	assert_nothing_left();
}

static void test_move_fails(void **state)
{
	struct extension_spec spec;
	struct extension_result res;
	char err[512] = "";

	(void)state;
	add_disk(&measured);
	spec_for(&spec, &measured, true);
	mount_fail_at = 1;
	mount_fail_errno = EINVAL;
	assert_int_equal(mount_it(&spec, &res, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "extension coco (/dev/vdb): cannot move the mount of /dev/mapper/extension-coco to "
				 "/run/kata-extensions/coco: Invalid argument");
	assert_int_equal(n_umounts, 1);
	assert_string_equal(umounts[0], "/run/cocoinit/extensions/coco");
	assert_int_equal(dm_cmds[n_dm - 1], DM_DEV_REMOVE);
	assert_nothing_left();
}

static void test_already_there(void **state)
{
	struct extension_spec spec;
	struct extension_result res;
	char err[512] = "";

	(void)state;
	add_disk(&unmeasured);
	spec_for(&spec, &unmeasured, false);
	assert_int_equal(tree_apply(root, "dir run/kata-extensions/coco\n"), 0);
	assert_int_equal(mount_it(&spec, &res, err, sizeof(err)), -EEXIST);
	assert_string_equal(err, "extension coco (/dev/vdb): /run/kata-extensions/coco already exists");
	assert_int_equal(n_mounts, 0);
}

static void test_umount_busy(void **state)
{
	char err[256] = "";

	(void)state;
	assert_int_equal(tree_apply(root, "dir run/kata-extensions/coco\nfile dev/mapper/extension-coco\n"), 0);
	umount_errno = EBUSY;
	assert_int_equal(extension_umount(rootfd, "coco", err, sizeof(err)), -EBUSY);
	assert_string_equal(err, "extension coco: cannot unmount /run/kata-extensions/coco: Device or resource busy");
	assert_true(exists("run/kata-extensions/coco"));
	assert_int_equal(n_dm, 0);
	/* a failed dm-verity close does not fail the umount, as in Kata's script */
	umount_errno = 0;
	dm_fail_cmd = DM_DEV_REMOVE;
	assert_int_equal(extension_umount(rootfd, "coco", err, sizeof(err)), 0);
	assert_false(exists("run/kata-extensions/coco"));
	assert_int_equal(extension_umount(rootfd, "../x", err, sizeof(err)), -EINVAL);
}

static void test_bad_arguments(void **state)
{
	struct extension_spec spec;
	struct extension_result res;
	char err[256] = "";

	(void)state;
	spec_for(&spec, &measured, false);
	assert_int_equal(extension_mount(rootfd, &spec, "../vdb", 0, -1, &res, err, sizeof(err)), -EINVAL);
	/* not a kernel name: never printed, never a path */
	assert_int_equal(extension_mount(rootfd, &spec, "vd\x1b[2J", 0, -1, &res, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "extension coco: invalid disk name");
	snprintf(spec.name, sizeof(spec.name), "..");
	assert_int_equal(extension_mount(rootfd, &spec, "vdb", 0, -1, &res, err, sizeof(err)), -EINVAL);
	/* no such disk */
	snprintf(spec.name, sizeof(spec.name), "coco");
	assert_int_equal(extension_mount(rootfd, &spec, "vdz", 0, -1, &res, err, sizeof(err)), -ENOENT);
	assert_string_equal(err, "extension coco (/dev/vdz): cannot read sys/class/block/vdz/dev and size: No such file "
				 "or directory");
	assert_int_equal(n_mounts, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_name),
		cmocka_unit_test(test_serial),
		cmocka_unit_test_setup_teardown(test_mkextension, setup, teardown),
		cmocka_unit_test_setup_teardown(test_measured, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hash_without_params, setup, teardown),
		cmocka_unit_test_setup_teardown(test_params_without_hash, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unmeasured, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_table, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_erofs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sizes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_node, setup, teardown),
		cmocka_unit_test_setup_teardown(test_partition_missing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_partition_wait, setup, teardown),
		cmocka_unit_test_setup_teardown(test_partition_3_not_waited_for, setup, teardown),
		cmocka_unit_test_setup_teardown(test_verity_fails, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mount_fails, setup, teardown),
		cmocka_unit_test_setup_teardown(test_move_fails, setup, teardown),
		cmocka_unit_test_setup_teardown(test_already_there, setup, teardown),
		cmocka_unit_test_setup_teardown(test_umount_busy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_arguments, setup, teardown),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
