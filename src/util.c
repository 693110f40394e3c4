/* SPDX-License-Identifier: Apache-2.0 */
/* Bounded file reads relative to a directory fd, full writes, strict number
 * parsing. Nothing here allocates. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "cocoinit/util.h"

ssize_t util_pread_all(int fd, void *buf, size_t size, off_t offset)
{
	size_t got = 0;

	while (got < size) {
		ssize_t r = offset < 0 ? read(fd, (char *)buf + got, size - got)
				       : pread(fd, (char *)buf + got, size - got, offset + (off_t)got);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

ssize_t util_read_file_at(int dirfd, const char *path, void *buf, size_t size, bool follow)
{
	int flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | (follow ? 0 : O_NOFOLLOW);
	_cleanup_close_ int fd = openat(dirfd, path, flags);

	if (fd < 0)
		return -errno;
	return util_pread_all(fd, buf, size, -1);
}

ssize_t util_read_attr_at(int dirfd, const char *path, void *buf, size_t size)
{
	_cleanup_close_ int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW);
	ssize_t r;

	if (fd < 0)
		return -errno;
	do
		r = read(fd, buf, size);
	while (r < 0 && errno == EINTR);
	return r < 0 ? -errno : r;
}

int util_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t w = write(fd, p, len);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (w == 0)
			return -EIO;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

int util_parse_u64(const char *s, uint64_t *ret)
{
	uint64_t v = 0;

	if (!s || !*s)
		return -EINVAL;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -EINVAL;
		unsigned d = (unsigned)(*s - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
	}
	*ret = v;
	return 0;
}

size_t util_strlcpy(char *out, const char *src, size_t size)
{
	size_t len = strlen(src);

	if (size > 0) {
		size_t n = len < size - 1 ? len : size - 1;
		memcpy(out, src, n);
		out[n] = '\0';
	}
	return len;
}

void util_seterr(char *err, size_t errsz, const char *fmt, ...)
{
	va_list ap;

	if (!err || errsz == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errsz, fmt, ap);
	va_end(ap);
}

int util_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int util_read_regular(int fd, size_t max, char **ret_buf, size_t *ret_len)
{
	_cleanup_free_ char *buf = NULL;
	struct stat st;
	ssize_t n;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	if ((uint64_t)st.st_size > max) {
		*ret_len = (size_t)st.st_size;
		return -EFBIG;
	}
	/* One byte more than the size: a file that grew is refused, not cut. */
	buf = malloc((size_t)st.st_size + 1);
	if (!buf)
		return -ENOMEM;
	n = util_pread_all(fd, buf, (size_t)st.st_size + 1, 0);
	if (n < 0)
		return (int)n;
	if ((size_t)n != (size_t)st.st_size)
		return -EIO;
	buf[n] = '\0';
	*ret_len = (size_t)n;
	*ret_buf = buf;
	buf = NULL;
	return 0;
}

int util_parse_devnum(const char *s, dev_t *ret)
{
	char buf[32], *colon;
	uint64_t maj, min;
	size_t n = util_strlcpy(buf, s, sizeof(buf));

	if (n >= sizeof(buf))
		return -EINVAL;
	while (n > 0 && buf[n - 1] == '\n')
		buf[--n] = '\0';
	colon = strchr(buf, ':');
	if (!colon)
		return -EINVAL;
	*colon = '\0';
	/* The kernel's dev_t: 12 bits of major, 20 of minor. */
	if (util_parse_u64(buf, &maj) < 0 || util_parse_u64(colon + 1, &min) < 0 || maj > 0xfff || min > 0xfffff)
		return -EINVAL;
	*ret = makedev((unsigned)maj, (unsigned)min);
	return 0;
}

int util_open_blockdev(int rootfd, const char *name, dev_t want, dev_t *ret_rdev)
{
	char path[280];
	struct stat st;
	int fd;

	if ((size_t)snprintf(path, sizeof(path), "dev/%s", name) >= sizeof(path))
		return -ENAMETOOLONG;
	fd = openat(rootfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		int r = -errno;
		close(fd);
		return r;
	}
	if (!S_ISBLK(st.st_mode)) {
		close(fd);
		return -ENOTBLK;
	}
	if (st.st_rdev != want) {
		close(fd);
		if (ret_rdev)
			*ret_rdev = st.st_rdev;
		return -EXDEV;
	}
	return fd;
}
