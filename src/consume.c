/* SPDX-License-Identifier: Apache-2.0 */
/* Consuming the found initdata disk: probe it, then either extract Kata's raw
 * format onto a fresh tmpfs at the initdata directory or mount the filesystem
 * there read-only. It never mounts a type outside probe_type_supported(). */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "cocoinit/consume.h"
#include "cocoinit/initdata.h"
#include "cocoinit/log.h"
#include "cocoinit/probe.h"
#include "cocoinit/sys.h"
#include "cocoinit/util.h"

#define CONSUME_PATH_MAX 4096

/* mkdir -p: parents 0755 (like /run's children), the last one 0700. */
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

static int consume_raw(int devfd, const char *dir, const char *dir_esc, uint64_t max_bytes, size_t *ret_size,
		       char *err, size_t errsz)
{
	_cleanup_close_ int dirfd = -1;
	int r;

	r = sys_mount("tmpfs", dir, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0700");
	if (r < 0) {
		util_seterr(err, errsz, "cannot mount a tmpfs at %s: %s", dir_esc, strerror(-r));
		return r;
	}
	dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (dirfd < 0) {
		r = -errno;
		util_seterr(err, errsz, "cannot open %s: %s", dir_esc, strerror(-r));
	} else {
		r = initdata_extract_fd(devfd, dirfd, max_bytes, ret_size, err, errsz);
	}
	if (r < 0)
		/* Leave nothing half-made for the agent to trust. */
		(void)sys_umount(dir);
	return r;
}

int consume_initdata(const char *devnode, const char *dir, uint64_t max_bytes, struct consume_result *ret,
		     char *err, size_t errsz)
{
	char dev_esc[LOG_ESCAPED_SIZE(64)], dir_esc[LOG_ESCAPED_SIZE(128)];
	char type[PROBE_TYPE_MAX], type_esc[LOG_ESCAPED_SIZE(PROBE_TYPE_MAX)];
	_cleanup_close_ int fd = -1;
	size_t toml_size = 0;
	int r;

	if (err && errsz)
		err[0] = '\0';
	if (!devnode || !dir || !ret)
		return -EINVAL;
	log_escape(dev_esc, sizeof(dev_esc), devnode, strlen(devnode));
	log_escape(dir_esc, sizeof(dir_esc), dir, strlen(dir));

	fd = open(devnode, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		r = -errno;
		util_seterr(err, errsz, "cannot open %s: %s", dev_esc, strerror(-r));
		return r;
	}
	r = probe_fd(fd, type, sizeof(type));
	if (r == -ENOENT) {
		util_seterr(err, errsz, "unrecognised initdata format on %s", dev_esc);
		return -EPROTONOSUPPORT;
	}
	if (r == -ENOTUNIQ) {
		util_seterr(err, errsz, "ambivalent initdata format on %s: more than one signature", dev_esc);
		return -EPROTONOSUPPORT;
	}
	if (r < 0) {
		util_seterr(err, errsz, "cannot probe %s: %s", dev_esc, strerror(-r));
		return r;
	}
	log_escape(type_esc, sizeof(type_esc), type, strlen(type));

	int raw = strcmp(type, "kata-raw") == 0;
	if (!raw && !probe_type_supported(type)) {
		util_seterr(err, errsz, "unsupported initdata format %s", type_esc);
		return -EPROTONOSUPPORT;
	}

	r = mkdir_p(dir, 0700);
	if (r < 0) {
		util_seterr(err, errsz, "cannot create %s: %s", dir_esc, strerror(-r));
		return r;
	}
	if (raw) {
		r = consume_raw(fd, dir, dir_esc, max_bytes, &toml_size, err, errsz);
		if (r < 0)
			return r;
	} else {
		r = sys_mount(devnode, dir, type, MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
		if (r < 0) {
			util_seterr(err, errsz, "cannot mount %s (%s) at %s: %s", dev_esc, type_esc, dir_esc,
			       strerror(-r));
			return r;
		}
	}

	memset(ret, 0, sizeof(*ret));
	util_strlcpy(ret->format, type, sizeof(ret->format));
	ret->toml_size = toml_size;
	return 0;
}
