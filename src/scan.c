/* SPDX-License-Identifier: Apache-2.0 */
/* The legacy content scan, only when cocoinit.initdata_scan=magic: reads 8
 * bytes of every dev/vd* and dev/sd* whole disk, as the Kata agent does
 * today. It reads nothing more, and an unreadable disk is skipped. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>

#include "cocoinit/initdata.h"
#include "cocoinit/log.h"
#include "cocoinit/scan.h"
#include "cocoinit/util.h"

#define SCAN_NAME_MAX 64
#define SCAN_DISKS_MAX 4096

static void closedirp(DIR **d)
{
	if (*d)
		closedir(*d);
}

bool scan_is_disk_name(const char *name)
{
	size_t n = strlen(name);

	if (n < 3 || n >= SCAN_NAME_MAX || (strncmp(name, "vd", 2) != 0 && strncmp(name, "sd", 2) != 0))
		return false;
	for (size_t i = 2; i < n; i++)
		if (name[i] < 'a' || name[i] > 'z')
			return false;
	return true;
}

/* The kernel's order: vdz before vdaa. */
static int cmp_disk(const void *a, const void *b)
{
	const char *x = a, *y = b;
	size_t lx = strlen(x), ly = strlen(y);

	if (lx != ly)
		return lx < ly ? -1 : 1;
	return strcmp(x, y);
}

/* 1 when devfd/name starts with the magic, 0 when not, -errno when unreadable. */
static int scan_one(int devfd, const char *name)
{
	_cleanup_close_ int fd = -1;
	char magic[8];
	struct stat st;
	ssize_t n;

	/* O_NONBLOCK: an empty removable drive must not stall the scan. */
	fd = openat(devfd, name, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISBLK(st.st_mode) && !S_ISREG(st.st_mode))
		return -ENOTBLK;
	do
		n = pread(fd, magic, sizeof(magic), 0);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return n == (ssize_t)sizeof(magic) && memcmp(magic, INITDATA_MAGIC, sizeof(magic)) == 0;
}

int scan_magic(int rootfd, char (*matches)[64], size_t max, size_t *ret_n, unsigned *ret_examined)
{
	static bool warned;
	_cleanup_(closedirp) DIR *d = NULL;
	_cleanup_free_ char(*names)[SCAN_NAME_MAX] = NULL;
	size_t nnames = 0, cap = 0, nmatch = 0;
	unsigned examined = 0;
	struct dirent *de;
	int devfd, r;

	if (!warned) {
		log_warn("initdata: legacy content scan of vd*/sd* asked for (cocoinit.initdata_scan=magic)");
		warned = true;
	}

	devfd = openat(rootfd, "dev", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (devfd < 0)
		return -errno;
	d = fdopendir(devfd);
	if (!d) {
		r = -errno;
		close(devfd);
		return r;
	}

	for (;;) {
		errno = 0;
		de = readdir(d);
		if (!de) {
			if (errno != 0)
				return -errno;
			break;
		}
		/* Anything but a directory is tried, so the debug log says why a
		 * vd or sd name was skipped (a link, a fifo): scan_one() decides. */
		if (de->d_type == DT_DIR)
			continue;
		if (!scan_is_disk_name(de->d_name))
			continue;
		if (nnames == SCAN_DISKS_MAX) {
			log_warn("initdata: more than %d vd*/sd* disks, the rest are not scanned", SCAN_DISKS_MAX);
			break;
		}
		if (nnames == cap) {
			size_t ncap = cap ? cap * 2 : 32;
			void *p = realloc(names, ncap * sizeof(*names));
			if (!p)
				return -ENOMEM;
			names = p;
			cap = ncap;
		}
		util_strlcpy(names[nnames++], de->d_name, SCAN_NAME_MAX);
	}
	if (nnames > 0)
		qsort(names, nnames, sizeof(*names), cmp_disk);

	for (size_t i = 0; i < nnames; i++) {
		r = scan_one(dirfd(d), names[i]);
		if (r < 0) {
			log_debug("initdata: magic scan skips /dev/%s: %s", names[i], strerror(-r));
			continue;
		}
		examined++;
		if (r == 0)
			continue;
		if (nmatch < max)
			util_strlcpy(matches[nmatch], names[i], 64);
		nmatch++;
	}

	if (ret_n)
		*ret_n = nmatch;
	if (ret_examined)
		*ret_examined = examined;
	return 0;
}
