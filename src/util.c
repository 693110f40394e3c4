/* SPDX-License-Identifier: Apache-2.0 */
/* Bounded file reads relative to a directory fd, full writes, strict number
 * parsing. Nothing here allocates. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
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
