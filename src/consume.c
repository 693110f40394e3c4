/* SPDX-License-Identifier: Apache-2.0 */
/* Consuming the found initdata disk through the fd whose device number was
 * checked against sysfs: flag the block device read-only, probe it, then
 * extract Kata's raw format, or mount the filesystem read-only (ext4 with
 * `noload`: no journal replay) and copy its initdata.toml, bounded, onto a
 * fresh tmpfs. Never mounts a type outside probe_type_supported(), never writes to the disk. */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "cocoinit/consume.h"
#include "cocoinit/initdata.h"
#include "cocoinit/log.h"
#include "cocoinit/probe.h"
#include "cocoinit/sys.h"
#include "cocoinit/timing.h"
#include "cocoinit/util.h"

#define CONSUME_PATH_MAX 4096
#define CONSUME_NAME_MAX 64

/* mkdir -p: parents 0755 (like /run's children), the last one with mode. */
static int mkdir_p(const char *path, mode_t mode)
{
	char buf[CONSUME_PATH_MAX];
	size_t len = util_strlcpy(buf, path, sizeof(buf));

	if (len == 0)
		return -EINVAL;
	if (len >= sizeof(buf))
		return -ENAMETOOLONG;
	while (len > 1 && buf[len - 1] == '/')
		buf[--len] = '\0';
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, mode) < 0) {
		struct stat st;
		if (errno != EEXIST)
			return -errno;
		if (stat(buf, &st) < 0)
			return -errno;
		if (!S_ISDIR(st.st_mode))
			return -ENOTDIR;
	}
	return 0;
}

static bool consume_name_ok(const char *name)
{
	size_t n = name ? strnlen(name, CONSUME_NAME_MAX) : 0;

	return n > 0 && n < CONSUME_NAME_MAX && !strchr(name, '/') && strcmp(name, ".") != 0 &&
	       strcmp(name, "..") != 0;
}

int consume_open(int rootfd, const char *name, char *err, size_t errsz)
{
	char path[CONSUME_NAME_MAX + 32], buf[32];
	char esc[LOG_ESCAPED_SIZE(CONSUME_NAME_MAX)];
	dev_t want, rdev = 0;
	ssize_t n;
	int fd;

	if (err && errsz)
		err[0] = '\0';
	if (!consume_name_ok(name)) {
		util_seterr(err, errsz, "not a block device name");
		return -EINVAL;
	}
	log_escape(esc, sizeof(esc), name, strlen(name));
	snprintf(path, sizeof(path), "sys/class/block/%s/dev", name);
	n = util_read_attr_at(rootfd, path, buf, sizeof(buf) - 1);
	if (n < 0) {
		util_seterr(err, errsz, "cannot read /sys/class/block/%s/dev: %s", esc, strerror((int)-n));
		return (int)n;
	}
	buf[n] = '\0';
	if (util_parse_devnum(buf, &want) < 0) {
		util_seterr(err, errsz, "/sys/class/block/%s/dev is not MAJOR:MINOR", esc);
		return -EINVAL;
	}
	fd = util_open_blockdev(rootfd, name, want, &rdev);
	if (fd == -ENOTBLK)
		util_seterr(err, errsz, "/dev/%s is not a block device", esc);
	else if (fd == -EXDEV)
		util_seterr(err, errsz, "/dev/%s is device %u:%u, but the disk whose serial was checked is %u:%u", esc,
			    major(rdev), minor(rdev), major(want), minor(want));
	else if (fd < 0)
		util_seterr(err, errsz, "cannot open /dev/%s: %s", esc, strerror(-fd));
	return fd;
}

/* The source the mount names: a private node of the checked device number
 * in a directory only root reaches, so no path lookup can swap the device;
 * a regular file (tests) through its fd. */
static int consume_mount_source(int devfd, const struct consume_opts *o, char *out, size_t outsz)
{
	struct stat st;
	int r;

	if (fstat(devfd, &st) < 0)
		return -errno;
	if (!S_ISBLK(st.st_mode)) {
		snprintf(out, outsz, "/proc/self/fd/%d", devfd);
		return 0;
	}
	if (!o->node_dir || !consume_name_ok(o->name))
		return -EINVAL;
	if ((size_t)snprintf(out, outsz, "%s/%s", o->node_dir, o->name) >= outsz)
		return -ENAMETOOLONG;
	r = mkdir_p(o->node_dir, 0700);
	if (r < 0)
		return r;
	if (unlink(out) < 0 && errno != ENOENT)
		return -errno;
	if (mknod(out, S_IFBLK | 0400, st.st_rdev) < 0)
		return -errno;
	return 0;
}

/* Copies fs_dir/initdata.toml, a regular file of at most cap bytes, to
 * dirfd; its bytes go to *ret_toml unless that is NULL. */
static int consume_copy_toml(const char *fs_dir, int dirfd, size_t cap, size_t *ret_size, uint8_t **ret_toml,
			     const char *type_esc, char *err, size_t errsz)
{
	_cleanup_close_ int fsfd = -1, fd = -1;
	_cleanup_free_ char *buf = NULL;
	size_t got = 0;
	int r;

	fsfd = open(fs_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (fsfd < 0)
		return -errno;
	/* A symlink on the disk could point anywhere in the guest: refuse it. */
	fd = openat(fsfd, INITDATA_FILE, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		r = -errno;
		if (r == -ENOENT)
			util_seterr(err, errsz, "no %s on the %s filesystem", INITDATA_FILE, type_esc);
		else
			util_seterr(err, errsz, "cannot open %s on the %s filesystem: %s", INITDATA_FILE, type_esc,
				    strerror(-r));
		return r;
	}
	r = util_read_regular(fd, cap, &buf, &got);
	if (r == -EINVAL)
		util_seterr(err, errsz, "%s on the %s filesystem is not a regular file", INITDATA_FILE, type_esc);
	else if (r == -EFBIG)
		util_seterr(err, errsz, "%s is %zu bytes, above 4 x cocoinit.initdata_max_bytes (%zu)", INITDATA_FILE,
			    got, cap);
	else if (r == -EIO)
		util_seterr(err, errsz, "%s changed size while it was read", INITDATA_FILE);
	else if (r < 0 && r != -ENOMEM)
		util_seterr(err, errsz, "cannot read %s: %s", INITDATA_FILE, strerror(-r));
	if (r < 0)
		return r;
	r = initdata_write_toml(dirfd, (const uint8_t *)buf, got);
	if (r < 0) {
		util_seterr(err, errsz, "cannot write %s: %s", INITDATA_FILE, strerror(-r));
		return r;
	}
	*ret_size = got;
	if (ret_toml) {
		*ret_toml = (uint8_t *)buf;
		buf = NULL;
	}
	return 0;
}

static int consume_fs(int devfd, const struct consume_opts *o, const char *type, int dirfd, size_t *ret_size,
		      uint8_t **ret_toml, char *err, size_t errsz)
{
	char src[CONSUME_PATH_MAX], type_esc[LOG_ESCAPED_SIZE(PROBE_TYPE_MAX)];
	char fs_esc[LOG_ESCAPED_SIZE(128)];
	size_t cap = o->max_bytes > SIZE_MAX / 4 ? SIZE_MAX : (size_t)o->max_bytes * 4;
	int r;

	log_escape(type_esc, sizeof(type_esc), type, strlen(type));
	log_escape(fs_esc, sizeof(fs_esc), o->fs_dir, strlen(o->fs_dir));
	r = consume_mount_source(devfd, o, src, sizeof(src));
	if (r < 0) {
		util_seterr(err, errsz, "cannot make a device node in %s: %s", CONSUME_NODE_DIR, strerror(-r));
		return r;
	}
	r = mkdir_p(o->fs_dir, 0700);
	if (r < 0) {
		util_seterr(err, errsz, "cannot create %s: %s", fs_esc, strerror(-r));
		return r;
	}
	/* noload: a read-only ext4 mount would still replay a journal marked as
	 * needing recovery, writing to the host's disk (BLKROSET refuses that too). */
	r = sys_mount(src, o->fs_dir, type, MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
		      strcmp(type, "ext4") == 0 ? "noload" : NULL);
	if (r < 0) {
		util_seterr(err, errsz, "cannot mount the %s filesystem at %s: %s", type_esc, fs_esc, strerror(-r));
		return r;
	}
	r = consume_copy_toml(o->fs_dir, dirfd, cap, ret_size, ret_toml, type_esc, err, errsz);
	if (r < 0)
		(void)sys_umount(o->fs_dir);
	return r;
}

int consume_initdata(int devfd, const struct consume_opts *o, struct consume_result *ret, char *err,
		     size_t errsz)
{
	char dir_esc[LOG_ESCAPED_SIZE(128)];
	char type[PROBE_TYPE_MAX], type_esc[LOG_ESCAPED_SIZE(PROBE_TYPE_MAX)];
	_cleanup_close_ int dirfd = -1;
	size_t toml_size = 0;
	uint8_t *toml = NULL;
	struct stat st;
	int r, one = 1;

	if (err && errsz)
		err[0] = '\0';
	if (devfd < 0 || !o || !o->dir || !o->fs_dir || !ret)
		return -EINVAL;
	log_escape(dir_esc, sizeof(dir_esc), o->dir, strlen(o->dir));

	if (fstat(devfd, &st) < 0)
		return -errno;
	/* Before the first read: nothing below may write to the host's disk. */
	if (S_ISBLK(st.st_mode) && ioctl(devfd, BLKROSET, &one) < 0) {
		r = -errno;
		util_seterr(err, errsz, "cannot set the device read-only (BLKROSET): %s", strerror(-r));
		return r;
	}
	uint64_t tt = timing_now_us();
	r = probe_fd(devfd, type, sizeof(type));
	tt = timing_step("consume.probe", tt);
	if (r == -ENOENT) {
		util_seterr(err, errsz, "unrecognised initdata format");
		return -EPROTONOSUPPORT;
	}
	if (r == -ENOTUNIQ) {
		util_seterr(err, errsz, "ambivalent initdata format: more than one signature");
		return -EPROTONOSUPPORT;
	}
	if (r < 0) {
		util_seterr(err, errsz, "cannot probe: %s", strerror(-r));
		return r;
	}
	log_escape(type_esc, sizeof(type_esc), type, strlen(type));

	int raw = strcmp(type, "kata-raw") == 0;
	if (!raw && !probe_type_supported(type)) {
		util_seterr(err, errsz, "unsupported initdata format %s", type_esc);
		return -EPROTONOSUPPORT;
	}

	r = mkdir_p(o->dir, 0700);
	if (r < 0) {
		util_seterr(err, errsz, "cannot create %s: %s", dir_esc, strerror(-r));
		return r;
	}
	/* Both forms give one layout: initdata.toml on a tmpfs of our own. */
	r = sys_mount("tmpfs", o->dir, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0700");
	if (r < 0) {
		util_seterr(err, errsz, "cannot mount a tmpfs at %s: %s", dir_esc, strerror(-r));
		return r;
	}
	dirfd = open(o->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	tt = timing_step("consume.tmpfs", tt);
	if (dirfd < 0) {
		r = -errno;
		util_seterr(err, errsz, "cannot open %s: %s", dir_esc, strerror(-r));
	} else if (raw) {
		r = initdata_extract_fd(devfd, dirfd, o->max_bytes, &toml_size, o->keep_toml ? &toml : NULL, err, errsz);
	} else {
		r = consume_fs(devfd, o, type, dirfd, &toml_size, o->keep_toml ? &toml : NULL, err, errsz);
	}
	timing_step("consume.extract", tt);
	if (r < 0) {
		/* Leave nothing half-made for the agent to trust. */
		(void)sys_umount(o->dir);
		return r;
	}

	memset(ret, 0, sizeof(*ret));
	util_strlcpy(ret->format, type, sizeof(ret->format));
	ret->toml_size = toml_size;
	ret->toml = toml;
	return 0;
}
