/* SPDX-License-Identifier: Apache-2.0 */
/* Small shared helpers: cleanup attributes, bounded reads relative to a dir fd. */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/types.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static inline void closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;
		close(*fd);
		errno = saved;
	}
}
static inline void freep(void *p)
{
	free(*(void **)p);
}
#define _cleanup_close_ _cleanup_(closep)
#define _cleanup_free_ _cleanup_(freep)

/* Reads at most size bytes of dirfd/path (O_RDONLY|O_CLOEXEC|O_NOFOLLOW
 * unless follow is true) into buf. Returns the number of bytes read or -errno. */
ssize_t util_read_file_at(int dirfd, const char *path, void *buf, size_t size, bool follow);

/* One read(2) of a sysfs attribute (never following a symlink): a text
 * attribute's show() output, or a binary attribute of at most a page,
 * arrives whole in the first read, so a second read would only cost a
 * syscall. Not for procfs or pipes. Bytes read or -errno. */
ssize_t util_read_attr_at(int dirfd, const char *path, void *buf, size_t size);

/* Reads up to size bytes of fd into buf, retrying on EINTR and short reads,
 * until size or end of file: with pread() from offset, or with read() from
 * the current position when offset is negative (pipes, the file's own
 * position). Returns the number of bytes read (less than size only at end
 * of file) or -errno. */
ssize_t util_pread_all(int fd, void *buf, size_t size, off_t offset);

/* Writes all of buf to fd, retrying on EINTR and short writes. 0 or -errno. */
int util_write_all(int fd, const void *buf, size_t len);

/* Parses a decimal unsigned integer of the whole string s (no sign, no
 * spaces, no overflow). 0 or -EINVAL / -ERANGE. */
int util_parse_u64(const char *s, uint64_t *ret);

/* Reads the whole of fd, a regular file of at most max bytes, from its start
 * into a new NUL-terminated buffer (the caller frees *ret_buf). 0, or
 * -EINVAL (not a regular file), -EFBIG (larger than max; *ret_len holds its
 * size), -EIO (it changed while it was read), -ENOMEM or read's -errno. */
int util_read_regular(int fd, size_t max, char **ret_buf, size_t *ret_len);

/* "MAJOR:MINOR" as sysfs prints a dev attribute (a trailing newline is
 * allowed) -> dev_t. 0 or -EINVAL. */
int util_parse_devnum(const char *s, dev_t *ret);

/* Opens rootfd/dev/<name> read-only (O_NOFOLLOW, O_CLOEXEC) and checks that
 * it is the block device want, the number sysfs gives: the device whose
 * serial was checked, not whatever the path holds. Returns the fd, or open's
 * -errno, -ENOTBLK (not a block device) or -EXDEV (another device; then
 * *ret_rdev says which). */
int util_open_blockdev(int rootfd, const char *name, dev_t want, dev_t *ret_rdev);

/* The value of one hexadecimal digit (either case), or -1. */
int util_hexval(int c);

/* Formats a reason into err[errsz] for the caller to log; err may be NULL. */
void util_seterr(char *err, size_t errsz, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* strlcpy semantics: returns strlen(src); out is always terminated. */
size_t util_strlcpy(char *out, const char *src, size_t size);
