/* SPDX-License-Identifier: Apache-2.0 */
/* Kata's raw initdata format: "initdata", u64 LE length L, then L bytes of
 * one gzip member holding the TOML. The header is checked against the device
 * size and the configured bound before anything is allocated, and the
 * decompressed size is capped: the host writes every byte of this disk. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <linux/fs.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "cocoinit/initdata.h"
#include "cocoinit/log.h"
#include "cocoinit/timing.h"
#include "cocoinit/util.h"

#define GUNZIP_MIN_CHUNK 16384

static uint64_t le64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

int initdata_parse_header(const uint8_t *hdr, size_t n, uint64_t device_size, uint64_t max_bytes,
			  uint64_t *ret_len)
{
	uint64_t len;

	if (!hdr || n < INITDATA_HEADER_SIZE || memcmp(hdr, INITDATA_MAGIC, 8) != 0)
		return -EBADMSG;
	len = le64(hdr + 8);
	if (len == 0)
		return -EINVAL;
	if (device_size < INITDATA_HEADER_SIZE || len > device_size - INITDATA_HEADER_SIZE)
		return -ERANGE;
	if (len > max_bytes)
		return -ERANGE;
	*ret_len = len;
	return 0;
}

static void inflate_endp(z_stream **zs)
{
	if (*zs)
		inflateEnd(*zs);
}

/* The worker behind initdata_gunzip(), with a reason for the log. */
static int gunzip(const uint8_t *in, size_t len, size_t cap, uint8_t **ret_out, size_t *ret_outlen, char *err,
		  size_t errsz)
{
	z_stream zs_storage = { 0 };
	_cleanup_(inflate_endp) z_stream *zs = NULL;
	_cleanup_free_ uint8_t *out = NULL;
	size_t size, used = 0, in_left = len;
	int zr;

	if (!in && len > 0)
		return -EINVAL;
	/* Start near the usual TOML/gzip ratio; grow by doubling, never past cap. */
	size = len > SIZE_MAX / 4 ? SIZE_MAX : len * 4;
	if (size < GUNZIP_MIN_CHUNK)
		size = GUNZIP_MIN_CHUNK;
	if (size > cap)
		size = cap;
	out = malloc(size > 0 ? size : 1);
	if (!out)
		return -ENOMEM;

	if (inflateInit2(&zs_storage, 16 + MAX_WBITS) != Z_OK)
		return -ENOMEM;
	zs = &zs_storage;
	zs->next_in = (Bytef *)(uintptr_t)in;

	for (;;) {
		if (zs->avail_in == 0 && in_left > 0) {
			zs->avail_in = in_left > UINT_MAX ? UINT_MAX : (uInt)in_left;
			in_left -= zs->avail_in;
		}
		if (used == size) {
			if (size == cap) {
				/* Full at the cap: one more byte of output means a bomb. */
				uint8_t probe;
				zs->next_out = &probe;
				zs->avail_out = 1;
				zr = inflate(zs, Z_NO_FLUSH);
				if (zs->avail_out == 0) {
					util_seterr(err, errsz, "initdata decompresses to more than %zu bytes", cap);
					return -EFBIG;
				}
				if (zr == Z_STREAM_END)
					break;
				if (zs->avail_in == 0 && in_left == 0)
					goto truncated;
				if (zr == Z_OK || (zr == Z_BUF_ERROR && zs->avail_in == 0))
					continue;
				goto zerror;
			}
			size_t nsize = size > (cap - size) ? cap : size * 2;
			uint8_t *n = realloc(out, nsize);
			if (!n)
				return -ENOMEM;
			out = n;
			size = nsize;
		}
		size_t chunk = size - used > UINT_MAX ? UINT_MAX : size - used;
		zs->next_out = out + used;
		zs->avail_out = (uInt)chunk;
		zr = inflate(zs, Z_NO_FLUSH);
		used += chunk - zs->avail_out;
		if (zr == Z_STREAM_END)
			break;
		if (zr == Z_OK)
			continue;
		if (zr == Z_BUF_ERROR) {
			/* No progress: out of input (truncated), out of room (grow),
			 * or neither, which zlib should never do: refuse to spin. */
			if (zs->avail_in == 0 && in_left == 0)
				goto truncated;
			if (zs->avail_in == 0 || zs->avail_out == 0)
				continue;
			goto zerror;
		}
		goto zerror;
	}

	if (zs->avail_in > 0 || in_left > 0) {
		util_seterr(err, errsz, "initdata has %zu bytes of junk after the gzip stream",
		       (size_t)zs->avail_in + in_left);
		return -EBADMSG;
	}
	*ret_out = out;
	*ret_outlen = used;
	out = NULL;
	return 0;

truncated:
	util_seterr(err, errsz, "initdata gzip stream is truncated");
	return -EBADMSG;
zerror:
	if (zr == Z_MEM_ERROR)
		return -ENOMEM;
	util_seterr(err, errsz, "initdata gzip stream is corrupt: %s", zs->msg ? zs->msg : "bad data");
	return -EBADMSG;
}

int initdata_gunzip(const uint8_t *in, size_t len, size_t cap, uint8_t **ret_out, size_t *ret_outlen)
{
	return gunzip(in, len, cap, ret_out, ret_outlen, NULL, 0);
}

static int device_size(int fd, uint64_t *ret)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (S_ISBLK(st.st_mode)) {
		uint64_t sz;
		if (ioctl(fd, BLKGETSIZE64, &sz) < 0)
			return -errno;
		*ret = sz;
		return 0;
	}
	if (S_ISREG(st.st_mode)) {
		*ret = (uint64_t)st.st_size;
		return 0;
	}
	return -ENOTBLK;
}

/* Reads exactly n bytes at off; an early end of file is -ENODATA. */
static int pread_all(int fd, void *buf, size_t n, off_t off)
{
	ssize_t got = util_pread_all(fd, buf, n, off);

	if (got < 0)
		return (int)got;
	return (size_t)got < n ? -ENODATA : 0;
}

int initdata_write_file(int dirfd, const char *name, const void *data, size_t len)
{
	char tmp[64];
	_cleanup_close_ int fd = -1;
	int r;

	/* A fresh name each try, created exclusively: never write through a
	 * link or into a file someone else holds open. */
	for (unsigned i = 0; i < 16 && fd < 0; i++) {
		snprintf(tmp, sizeof(tmp), ".%.24s.%ld.%llx", name, (long)getpid(),
			 (unsigned long long)(timing_now_us() + i));
		fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0400);
		if (fd < 0 && errno != EEXIST)
			return -errno;
	}
	if (fd < 0)
		return -EEXIST;

	r = util_write_all(fd, data, len);
	if (r == 0 && fchmod(fd, 0400) < 0) /* umask must not widen or narrow it */
		r = -errno;
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (r == 0 && renameat(dirfd, tmp, dirfd, name) < 0)
		r = -errno;
	if (r < 0) {
		unlinkat(dirfd, tmp, 0);
		return r;
	}
	(void)fsync(dirfd);
	return 0;
}

int initdata_write_toml(int dirfd, const uint8_t *data, size_t len)
{
	return initdata_write_file(dirfd, INITDATA_FILE, data, len);
}

int initdata_extract_fd(int devfd, int dirfd, uint64_t max_bytes, size_t *ret_size, uint8_t **ret_toml, char *err,
			size_t errsz)
{
	uint8_t hdr[INITDATA_HEADER_SIZE];
	_cleanup_free_ uint8_t *gz = NULL;
	_cleanup_free_ uint8_t *toml = NULL;
	uint64_t devsize = 0, len = 0;
	size_t toml_len = 0, cap;
	int r;

	r = device_size(devfd, &devsize);
	if (r < 0) {
		util_seterr(err, errsz, "cannot get the initdata device size: %s", strerror(-r));
		return r;
	}
	r = pread_all(devfd, hdr, sizeof(hdr), 0);
	if (r == -ENODATA) {
		util_seterr(err, errsz, "initdata device is smaller than the %d-byte header", INITDATA_HEADER_SIZE);
		return -EBADMSG;
	}
	if (r < 0) {
		util_seterr(err, errsz, "cannot read the initdata header: %s", strerror(-r));
		return r;
	}
	r = initdata_parse_header(hdr, sizeof(hdr), devsize, max_bytes, &len);
	if (r == -EBADMSG) {
		util_seterr(err, errsz, "no initdata magic at offset 0");
		return r;
	}
	if (r == -EINVAL) {
		util_seterr(err, errsz, "initdata length is 0");
		return r;
	}
	if (r == -ERANGE) {
		uint64_t l = le64(hdr + 8);
		if (devsize < INITDATA_HEADER_SIZE || l > devsize - INITDATA_HEADER_SIZE)
			util_seterr(err, errsz, "initdata length %llu is beyond the device (%llu bytes)",
			       (unsigned long long)l, (unsigned long long)devsize);
		else
			util_seterr(err, errsz, "initdata length %llu is above cocoinit.initdata_max_bytes=%llu",
			       (unsigned long long)l, (unsigned long long)max_bytes);
		return r;
	}
	if (r < 0)
		return r;
	if (len > SIZE_MAX || (off_t)len < 0)
		return -ERANGE;

	gz = malloc((size_t)len);
	if (!gz) {
		util_seterr(err, errsz, "cannot allocate %llu bytes for initdata", (unsigned long long)len);
		return -ENOMEM;
	}
	r = pread_all(devfd, gz, (size_t)len, INITDATA_HEADER_SIZE);
	if (r == -ENODATA) {
		/* The size said it fits; the device shrank under us. */
		util_seterr(err, errsz, "initdata device ended before %llu bytes of data", (unsigned long long)len);
		return -EBADMSG;
	}
	if (r < 0) {
		util_seterr(err, errsz, "cannot read initdata: %s", strerror(-r));
		return r;
	}

	cap = max_bytes > SIZE_MAX / 4 ? SIZE_MAX : (size_t)max_bytes * 4;
	r = gunzip(gz, (size_t)len, cap, &toml, &toml_len, err, errsz);
	if (r < 0) {
		if (r == -ENOMEM)
			util_seterr(err, errsz, "out of memory decompressing initdata");
		return r;
	}

	r = initdata_write_toml(dirfd, toml, toml_len);
	if (r < 0) {
		util_seterr(err, errsz, "cannot write %s: %s", INITDATA_FILE, strerror(-r));
		return r;
	}
	if (ret_size)
		*ret_size = toml_len;
	if (ret_toml) {
		*ret_toml = toml;
		toml = NULL;
	}
	return 0;
}
