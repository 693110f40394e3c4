/* SPDX-License-Identifier: Apache-2.0 */
/* Kata guest extension images: the name rule, the serial a disk reports,
 * and (from a disk found by serial) the integrity table and the read-only
 * mount at run/kata-extensions/<name>. Fails closed; leaves nothing behind
 * on failure. Finding the disk is discover.c's. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/fs.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "cocoinit/extension.h"
#include "cocoinit/log.h"
#include "cocoinit/mounts.h"
#include "cocoinit/probe.h"
#include "cocoinit/serial.h"
#include "cocoinit/sys.h"
#include "cocoinit/timing.h"
#include "cocoinit/uevent.h"
#include "cocoinit/util.h"
#include "cocoinit/verity.h"

#define EXTENSION_STAGING_DIR "run/cocoinit/extensions"
#define EXTENSION_DM_PREFIX "extension-"

bool extension_name_ok(const char *name, size_t len)
{
	if (!name || len == 0 || len > EXTENSION_NAME_MAX)
		return false;
	if ((len == 1 && name[0] == '.') || (len == 2 && name[0] == '.' && name[1] == '.'))
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
		      c == '.' || c == '-'))
			return false;
	}
	return true;
}

size_t extension_serial(const char *name, char out[21])
{
	size_t plen = strlen(EXTENSION_SERIAL_PREFIX), nlen = strlen(name), n;

	_Static_assert(SERIAL_VIRTIO_MAX == 20, "out holds SERIAL_VIRTIO_MAX + 1 bytes");
	memcpy(out, EXTENSION_SERIAL_PREFIX, plen);
	n = nlen < SERIAL_VIRTIO_MAX - plen ? nlen : SERIAL_VIRTIO_MAX - plen;
	memcpy(out + plen, name, n);
	out[plen + n] = '\0';
	return plen + n;
}


/* One block device as sysfs shows it. */
struct ext_dev {
	char name[UEVENT_DEVNAME_MAX];
	dev_t dev;
	uint64_t bytes;
};

struct ext_layout {
	struct ext_dev disk;
	struct ext_dev part[2]; /* partitions 1 and 2; name[0] == 0 when absent */
	uint64_t seen;          /* bit n-1: partition n is in sysfs */
};

/* A sysfs attribute as a terminated string without its newline. */
static int read_attr(int dirfd, const char *path, char *buf, size_t size)
{
	ssize_t n = util_read_attr_at(dirfd, path, buf, size - 1);

	if (n < 0)
		return (int)n;
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		n--;
	buf[n] = '\0';
	return 0;
}

/* dev and size (512-byte sectors) of the block device directory dirfd/path. */
static int read_blockdev(int dirfd, const char *path, struct ext_dev *ret)
{
	char attr[2 * UEVENT_DEVNAME_MAX + 32], buf[32];
	uint64_t sectors;
	int r;

	snprintf(attr, sizeof(attr), "%s%sdev", path, *path ? "/" : "");
	if ((r = read_attr(dirfd, attr, buf, sizeof(buf))) < 0)
		return r;
	if (util_parse_devnum(buf, &ret->dev) < 0)
		return -EBADMSG;
	snprintf(attr, sizeof(attr), "%s%ssize", path, *path ? "/" : "");
	if ((r = read_attr(dirfd, attr, buf, sizeof(buf))) < 0)
		return r;
	if (util_parse_u64(buf, &sectors) < 0 || sectors > UINT64_MAX / 512)
		return -EBADMSG;
	ret->bytes = sectors * 512;
	return 0;
}

/* Kernel block device names are [A-Za-z0-9_.:!-]; anything else from sysfs
 * is left alone rather than printed or used as a path. */
static bool blockdev_name_ok(const char *name)
{
	if (!uevent_devname_ok(name))
		return false;
	for (const char *c = name; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
		      strchr("_.:!-", *c)))
			return false;
	return true;
}

/* The partitions of disk in sysfs: the directories below it that have a
 * `partition` attribute. A partition still being added (no dev or size
 * yet) is left out; the next look finds it. */
static int scan_partitions(int rootfd, const char *disk, struct ext_layout *l)
{
	char path[sizeof("sys/class/block/") + UEVENT_DEVNAME_MAX], buf[16];
	char attr[sizeof(((struct dirent *)0)->d_name) + 16];
	_cleanup_close_ int dfd = -1;
	struct dirent *de;
	DIR *d;
	int fd;

	memset(l->part, 0, sizeof(l->part));
	l->seen = 0;
	snprintf(path, sizeof(path), "sys/class/block/%s", disk);
	dfd = openat(rootfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	fd = dup(dfd);
	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -ENOMEM;
	}
	while ((de = readdir(d))) {
		struct ext_dev part;
		uint64_t no;

		if (de->d_type != DT_DIR || !blockdev_name_ok(de->d_name) ||
		    strlen(de->d_name) >= sizeof(part.name))
			continue;
		snprintf(attr, sizeof(attr), "%s/partition", de->d_name);
		if (read_attr(dfd, attr, buf, sizeof(buf)) < 0)
			continue; /* not a partition (queue, holders, ...) */
		if (util_parse_u64(buf, &no) < 0 || no == 0)
			continue;
		if (read_blockdev(dfd, de->d_name, &part) < 0)
			continue;
		util_strlcpy(part.name, de->d_name, sizeof(part.name));
		if (no <= 64)
			l->seen |= UINT64_C(1) << (no - 1);
		if (no <= 2)
			l->part[no - 1] = part;
	}
	closedir(d);
	return 0;
}

/* Opens dev/<d->name> read-only after checking it is the block device sysfs
 * names (not a stale or planted node), and makes the device read-only. */
static int open_checked(int rootfd, const struct ext_dev *d, char *err, size_t errsz)
{
	int fd = util_open_blockdev(rootfd, d->name, d->dev, NULL), one = 1, r;

	if (fd == -ENOTBLK || fd == -EXDEV) {
		util_seterr(err, errsz, "/dev/%s is not the block device %u:%u sysfs names", d->name, major(d->dev),
			    minor(d->dev));
		return -ENODEV;
	}
	if (fd < 0) {
		util_seterr(err, errsz, "cannot open /dev/%s: %s", d->name, strerror(-fd));
		return fd;
	}
	r = sys_ioctl(fd, BLKROSET, &one);
	if (r < 0) {
		util_seterr(err, errsz, "cannot make /dev/%s read-only: %s", d->name, strerror(-r));
		close(fd);
		return r;
	}
	return fd;
}

/* Looks at sysfs until it shows every partition the table lists (want), or
 * the deadline passes. The kernel adds the partitions after the disk, one
 * by one; each addition is a uevent. uevent_fd -1: one look. */
static int wait_partitions(int rootfd, const char *disk, uint64_t want, uint64_t deadline_us, int uevent_fd,
			   struct ext_layout *l)
{
	char buf[UEVENT_BUFFER_SIZE];

	for (;;) {
		struct uevent ev;
		struct pollfd pfd = { .fd = uevent_fd, .events = POLLIN };
		int r = scan_partitions(rootfd, disk, l);

		if (r < 0)
			return r;
		if ((l->seen & want) == want)
			return 0;
		if (uevent_fd < 0)
			return -ETIMEDOUT;
		/* drain what is queued, then wait for more */
		while ((r = uevent_receive(uevent_fd, buf, sizeof(buf), &ev)) != -EAGAIN)
			if (r < 0 && r != -EBADMSG)
				return r;
		r = scan_partitions(rootfd, disk, l);
		if (r < 0)
			return r;
		if ((l->seen & want) == want)
			return 0;
		if (timing_now_us() >= deadline_us)
			return -ETIMEDOUT;
		r = poll(&pfd, 1, timing_poll_ms(deadline_us));
		if (r < 0 && errno != EINTR)
			return -errno;
	}
}

static const char *partition_list(uint64_t mask, char *buf, size_t size)
{
	size_t o = 0;

	buf[0] = '\0';
	for (unsigned i = 0; i < 64 && o < size; i++)
		if (mask & (UINT64_C(1) << i))
			o += (size_t)snprintf(buf + o, size - o, "%s%u", o ? "," : "", i + 1);
	return buf[0] ? buf : "none";
}

/* Mounts src read-only at run/kata-extensions/<name> by way of a staging
 * directory, so the final directory appears with the mount already on it. */
static int mount_erofs(int rootfd, const char *name, const char *src, char *err, size_t errsz)
{
	char staging[sizeof(EXTENSION_STAGING_DIR) + EXTENSION_NAME_MAX + 2];
	char final[sizeof(EXTENSION_MOUNT_DIR) + EXTENSION_NAME_MAX + 2];
	char staging_abs[sizeof(staging) + 1], final_abs[sizeof(final) + 1];
	int r;

	snprintf(staging, sizeof(staging), EXTENSION_STAGING_DIR "/%s", name);
	snprintf(final, sizeof(final), EXTENSION_MOUNT_DIR "/%s", name);
	snprintf(staging_abs, sizeof(staging_abs), "/%s", staging);
	snprintf(final_abs, sizeof(final_abs), "/%s", final);

	if (faccessat(rootfd, final, F_OK, AT_SYMLINK_NOFOLLOW) == 0) {
		util_seterr(err, errsz, "%s already exists", final_abs);
		return -EEXIST;
	}
	r = mounts_mkdir_p(rootfd, EXTENSION_STAGING_DIR, 0755);
	if (r == 0 && mkdirat(rootfd, staging, 0755) < 0 && errno != EEXIST)
		r = -errno;
	if (r < 0) {
		util_seterr(err, errsz, "cannot create %s: %s", staging_abs, strerror(-r));
		return r;
	}
	r = sys_mount(src, staging_abs, "erofs", MS_RDONLY | MS_NOSUID | MS_NODEV, NULL);
	if (r < 0) {
		util_seterr(err, errsz, "cannot mount %s (erofs) at %s: %s", src, staging_abs, strerror(-r));
		goto out;
	}
	r = mounts_mkdir_p(rootfd, EXTENSION_MOUNT_DIR, 0755);
	if (r == 0 && mkdirat(rootfd, final, 0755) < 0)
		r = -errno;
	if (r < 0) {
		util_seterr(err, errsz, "cannot create %s: %s", final_abs, strerror(-r));
		(void)sys_umount(staging_abs);
		goto out;
	}
	r = sys_mount(staging_abs, final_abs, NULL, MS_MOVE, NULL);
	if (r < 0) {
		util_seterr(err, errsz, "cannot move the mount of %s to %s: %s", src, final_abs, strerror(-r));
		(void)unlinkat(rootfd, final, AT_REMOVEDIR);
		(void)sys_umount(staging_abs);
	}
out:
	(void)unlinkat(rootfd, staging, AT_REMOVEDIR);
	return r;
}

int extension_mount(int rootfd, const struct extension_spec *spec, const char *disk, uint64_t deadline_us,
		    int uevent_fd, struct extension_result *ret, char *err, size_t errsz)
{
	char reason[256] = "", sub[256] = "", list[2][200];
	char sysdisk[sizeof("sys/class/block/") + UEVENT_DEVNAME_MAX];
	char dm_name[sizeof(EXTENSION_DM_PREFIX) + EXTENSION_NAME_MAX], src[96];
	_cleanup_close_ int diskfd = -1, datafd = -1, hashfd = -1;
	struct extension_result res = { .mode = EXTENSION_RAW };
	uint64_t start = timing_now_us(), table = 0;
	struct ext_layout l = { 0 };
	const struct ext_dev *data;
	bool verity_made = false;
	int r;

	if (!spec || !extension_name_ok(spec->name, strnlen(spec->name, sizeof(spec->name)))) {
		util_seterr(err, errsz, "extension: invalid name");
		return -EINVAL;
	}
	if (!disk || !blockdev_name_ok(disk) || strlen(disk) >= sizeof(l.disk.name)) {
		util_seterr(err, errsz, "extension %s: invalid disk name", spec->name);
		return -EINVAL;
	}
#define FAIL(code, ...)                                                                      \
	do {                                                                                 \
		r = (code);                                                                  \
		util_seterr(reason, sizeof(reason), __VA_ARGS__);                            \
		goto fail;                                                                   \
	} while (0)

	/* The whole disk: the node sysfs names, read-only from here on. */
	util_strlcpy(l.disk.name, disk, sizeof(l.disk.name));
	snprintf(sysdisk, sizeof(sysdisk), "sys/class/block/%s", disk);
	r = read_blockdev(rootfd, sysdisk, &l.disk);
	if (r < 0)
		FAIL(r, "cannot read %s/dev and size: %s", sysdisk, strerror(-r));
	diskfd = open_checked(rootfd, &l.disk, sub, sizeof(sub));
	if (diskfd < 0)
		FAIL(diskfd, "%s", sub);

	/* Which partitions the table lists; the kernel may not have added them yet. */
	r = probe_partitions(diskfd, &table);
	if (r == -ENOTUNIQ)
		FAIL(-EBADMSG, "two partition tables on the disk: refusing to pick");
	if (r < 0 && r != -ENOENT)
		FAIL(r, "cannot read the partition table: %s", strerror(-r));
	/* only 1 and 2 matter: a host listing more must not stretch the wait */
	r = wait_partitions(rootfd, disk, table & 3, deadline_us, uevent_fd, &l);
	if (r == -ETIMEDOUT)
		FAIL(r, "the kernel did not add partitions %s in time (sysfs shows %s)",
		     partition_list(table & 3, list[0], sizeof(list[0])),
		     partition_list(l.seen, list[1], sizeof(list[1])));
	if (r < 0)
		FAIL(r, "cannot look at the partitions in sysfs: %s", strerror(-r));

	/* Kata's integrity table, failing closed. */
	if (l.part[1].name[0] && !spec->measured)
		FAIL(-EPERM, "has a dm-verity hash partition but the command line gives no verity params: "
			     "refusing (params stripped?)");
	if (!l.part[1].name[0] && spec->measured)
		FAIL(-EPERM, "the command line gives verity params but the disk has no dm-verity hash partition: "
			     "refusing");
	if (l.part[0].name[0])
		data = &l.part[0];
	else if (l.seen == 0 && table == 0)
		data = &l.disk; /* no partition table at all: the filesystem is the disk */
	else
		FAIL(-ENOENT, "has a partition table but no partition 1");
	if (data != &l.disk) {
		datafd = open_checked(rootfd, data, sub, sizeof(sub));
		if (datafd < 0)
			FAIL(datafd, "%s", sub);
	}

	if (spec->measured) {
		dev_t dm;

		hashfd = open_checked(rootfd, &l.part[1], sub, sizeof(sub));
		if (hashfd < 0)
			FAIL(hashfd, "%s", sub);
		r = verity_check_sizes(&spec->params, data->bytes, l.part[1].bytes, sub, sizeof(sub));
		if (r < 0)
			FAIL(r, "verity params do not fit the disk: %s", sub);
		snprintf(dm_name, sizeof(dm_name), EXTENSION_DM_PREFIX "%s", spec->name);
		r = verity_create(rootfd, dm_name, &spec->params, data->dev, l.part[1].dev, &dm, sub,
				  sizeof(sub));
		if (r < 0)
			FAIL(r, "%s", sub);
		verity_made = true;
		res.mode = EXTENSION_VERITY;
		snprintf(src, sizeof(src), "/dev/mapper/%s", dm_name);
	} else {
		char type[PROBE_TYPE_MAX];

		r = probe_fd(data == &l.disk ? diskfd : datafd, type, sizeof(type));
		if (r == -ENOENT)
			FAIL(-EMEDIUMTYPE, "/dev/%s holds no filesystem libblkid knows: refusing", data->name);
		if (r == -ENOTUNIQ)
			FAIL(-EMEDIUMTYPE, "/dev/%s holds more than one signature: refusing", data->name);
		if (r < 0)
			FAIL(r, "cannot probe /dev/%s: %s", data->name, strerror(-r));
		if (strcmp(type, "erofs") != 0) {
			char esc[LOG_ESCAPED_SIZE(PROBE_TYPE_MAX)];
			FAIL(-EMEDIUMTYPE, "/dev/%s holds %s, not erofs: refusing", data->name,
			     log_escape(esc, sizeof(esc), type, strlen(type)));
		}
		snprintf(src, sizeof(src), "/dev/%s", data->name);
	}

	r = mount_erofs(rootfd, spec->name, src, reason, sizeof(reason));
	if (r < 0)
		goto fail;
#undef FAIL
	util_strlcpy(res.device, src, sizeof(res.device));
	res.elapsed_us = timing_now_us() - start;
	if (ret)
		*ret = res;
	return 0;

fail:
	if (verity_made) {
		int k = verity_remove(rootfd, dm_name);
		if (k < 0)
			log_warn("extension %s: cannot remove the dm-verity device %s: %s", spec->name, dm_name,
				 strerror(-k));
	}
	util_seterr(err, errsz, "extension %s (/dev/%s): %s", spec->name, disk, reason);
	return r;
}

int extension_umount(int rootfd, const char *name, char *err, size_t errsz)
{
	char dir[sizeof(EXTENSION_MOUNT_DIR) + EXTENSION_NAME_MAX + 2], dir_abs[sizeof(dir) + 1];
	char dm_name[sizeof(EXTENSION_DM_PREFIX) + EXTENSION_NAME_MAX], node[sizeof(dm_name) + 16];
	int r;

	if (!name || !extension_name_ok(name, strlen(name))) {
		util_seterr(err, errsz, "extension: invalid name");
		return -EINVAL;
	}
	snprintf(dir, sizeof(dir), EXTENSION_MOUNT_DIR "/%s", name);
	snprintf(dir_abs, sizeof(dir_abs), "/%s", dir);
	/* Not mounted (EINVAL) or not there (ENOENT) is fine, as for Kata's script. */
	r = sys_umount(dir_abs);
	if (r < 0 && r != -EINVAL && r != -ENOENT) {
		util_seterr(err, errsz, "extension %s: cannot unmount %s: %s", name, dir_abs, strerror(-r));
		return r;
	}
	if (unlinkat(rootfd, dir, AT_REMOVEDIR) < 0 && errno != ENOENT) {
		r = -errno;
		util_seterr(err, errsz, "extension %s: cannot remove %s: %s", name, dir_abs, strerror(-r));
		return r;
	}
	/* The dm-verity device, when there is one; like `veritysetup close ||
	 * true` in Kata's script, failing to close it is not the umount's failure. */
	snprintf(dm_name, sizeof(dm_name), EXTENSION_DM_PREFIX "%s", name);
	snprintf(node, sizeof(node), "dev/mapper/%s", dm_name);
	if (faccessat(rootfd, node, F_OK, AT_SYMLINK_NOFOLLOW) == 0) {
		r = verity_remove(rootfd, dm_name);
		if (r < 0 && r != -ENXIO)
			log_warn("extension %s: cannot remove the dm-verity device %s: %s", name, dm_name,
				 strerror(-r));
	}
	return 0;
}
