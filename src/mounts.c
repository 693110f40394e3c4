/* SPDX-License-Identifier: Apache-2.0 */
/* Early mounts (CONTRACT section 2 table), the cocoinit.mount= shares and
 * the console on fds 0-2. Every mount goes through sys_mount() so tests can
 * replace it; directories and mountinfo are reached through rootfd. This file
 * decides no policy: it returns what failed and main.c decides. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cocoinit/log.h"
#include "cocoinit/mounts.h"
#include "cocoinit/sys.h"
#include "cocoinit/util.h"

#define MOUNTS_LINE_MAX 4096
/* mountinfo is the kernel's, but a runaway file must not keep PID 1 busy. */
#define MOUNTS_READ_MAX (16u * 1024 * 1024)
#define MOUNTS_DATA_MAX 512

struct early_mount {
	const char *target;
	const char *type;
	unsigned long flags;
	const char *data;
	bool optional; /* the kernel may lack it: a warning, not an error */
};

/* Order matters: /proc first (the later checks read its mountinfo), /dev
 * before what lives below it, /sys before /sys/fs/cgroup. */
static const struct early_mount early_mounts[] = {
	{ "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, false },
	{ "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, false },
	{ "/dev", "devtmpfs", MS_NOSUID, "mode=0755", false },
	{ "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "gid=5,mode=620,ptmxmode=666", false },
	{ "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, NULL, false },
	{ "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755", false },
	{ "/sys/fs/cgroup", "cgroup2", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, true },
};

/* Undoes the kernel's octal escapes (\040 space, \011 tab, \012, \134) in
 * place; mangle() in fs/proc_namespace.c writes only these. */
static void mounts_unescape(char *s)
{
	char *o = s;

	for (char *p = s; *p; p++) {
		if (p[0] == '\\' && p[1] >= '0' && p[1] <= '3' && p[2] >= '0' && p[2] <= '7' && p[3] >= '0' &&
		    p[3] <= '7') {
			*o++ = (char)((p[1] - '0') * 64 + (p[2] - '0') * 8 + (p[3] - '0'));
			p += 3;
		} else {
			*o++ = *p;
		}
	}
	*o = '\0';
}

/* Splits line at spaces into at most max fields; returns the count. */
static size_t mounts_split(char *line, char **f, size_t max)
{
	size_t n = 0;
	char *p = line;

	while (*p && n < max) {
		while (*p == ' ')
			p++;
		if (!*p)
			break;
		f[n++] = p;
		while (*p && *p != ' ')
			p++;
		if (*p)
			*p++ = '\0';
	}
	return n;
}

/* One line of mountinfo ("36 35 98:0 / /mnt rw,... shared:1 - ext4 /dev/x rw")
 * or of proc/mounts ("src /mnt ext4 rw 0 0"). Fills the mount point and type. */
static bool mounts_parse_line(char *line, bool mountinfo, char **ret_target, char **ret_type)
{
	char *f[32];
	size_t n = mounts_split(line, f, ARRAY_SIZE(f));

	if (!mountinfo) {
		if (n < 3)
			return false;
		*ret_target = f[1];
		*ret_type = f[2];
		return true;
	}
	if (n < 7)
		return false;
	/* Optional fields end at a lone "-"; the type follows it. */
	for (size_t i = 6; i + 1 < n; i++) {
		if (strcmp(f[i], "-") == 0) {
			*ret_target = f[4];
			*ret_type = f[i + 1];
			return true;
		}
	}
	return false;
}

/* Calls visit(target, type, ctx) for each mount, in mountinfo order. */
typedef void (*mounts_visitor)(const char *target, const char *type, void *ctx);

static int mounts_scan(int rootfd, const char *path, bool mountinfo, mounts_visitor visit, void *ctx)
{
	_cleanup_close_ int fd = openat(rootfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	char buf[MOUNTS_LINE_MAX + 1];
	size_t have = 0, total = 0;
	bool skipping = false, eof = false;

	if (fd < 0)
		return -errno;
	while (!eof) {
		ssize_t r = read(fd, buf + have, MOUNTS_LINE_MAX - have);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0) {
			eof = true;
			if (have == 0)
				break;
			buf[have++] = '\n'; /* a last line without newline; room kept by the +1 */
		}
		have += (size_t)r;
		total += (size_t)r;
		if (total > MOUNTS_READ_MAX)
			return -EFBIG;

		char *start = buf, *nl;
		while ((nl = memchr(start, '\n', have - (size_t)(start - buf)))) {
			*nl = '\0';
			if (!skipping) {
				char *t, *ty;
				if (mounts_parse_line(start, mountinfo, &t, &ty)) {
					mounts_unescape(t);
					visit(t, ty, ctx);
				}
			}
			skipping = false;
			start = nl + 1;
		}
		have -= (size_t)(start - buf);
		memmove(buf, start, have);
		if (have == MOUNTS_LINE_MAX) {
			/* Longer than any mount point of ours: drop the rest of it. */
			skipping = true;
			have = 0;
		}
	}
	return 0;
}

/* mountinfo, else proc/mounts (kernels without the former). */
static int mounts_scan_proc(int rootfd, mounts_visitor visit, void *ctx)
{
	int r = mounts_scan(rootfd, "proc/self/mountinfo", true, visit, ctx);

	if (r == -ENOENT)
		r = mounts_scan(rootfd, "proc/mounts", false, visit, ctx);
	return r;
}

struct mounts_query {
	const char *target, *fstype;
	int found;
};

static void mounts_query_visit(const char *target, const char *type, void *ctx)
{
	struct mounts_query *q = ctx;

	/* The last line for target decides: later mounts cover earlier ones. */
	if (strcmp(target, q->target) == 0)
		q->found = strcmp(type, q->fstype) == 0;
}

int mounts_is_mounted(int rootfd, const char *target, const char *fstype)
{
	struct mounts_query q = { .target = target, .fstype = fstype };
	int r = mounts_scan_proc(rootfd, mounts_query_visit, &q);

	return r < 0 ? r : q.found;
}

int mounts_mkdir_p(int rootfd, const char *path, mode_t mode)
{
	char buf[CONFIG_PATH_MAX];
	size_t len;

	while (*path == '/')
		path++;
	len = strlen(path);
	if (len >= sizeof(buf))
		return -ENAMETOOLONG;
	if (len == 0)
		return 0;
	memcpy(buf, path, len + 1);
	for (size_t i = 1; i <= len; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		if (buf[i - 1] == '/')
			continue;
		char saved = buf[i];
		buf[i] = '\0';
		if (mkdirat(rootfd, buf, mode) < 0) {
			struct stat st;
			if (errno != EEXIST)
				return -errno;
			/* A file where a directory belongs: say so now, not as a mount error. */
			if (fstatat(rootfd, buf, &st, 0) < 0)
				return -errno;
			if (!S_ISDIR(st.st_mode))
				return -ENOTDIR;
		}
		buf[i] = saved;
	}
	return 0;
}

/* Which early mounts are there, all in one read of mountinfo: reading it
 * costs milliseconds in a TCG guest, once per mount would be most of the
 * mounts step. */
static void mounts_early_visit(const char *target, const char *type, void *ctx)
{
	bool *present = ctx;

	for (size_t i = 0; i < ARRAY_SIZE(early_mounts); i++)
		if (strcmp(target, early_mounts[i].target) == 0)
			present[i] = strcmp(type, early_mounts[i].type) == 0;
}

int mounts_early(int rootfd, char *err, size_t errsz)
{
	bool present[ARRAY_SIZE(early_mounts)] = { false };
	bool scanned = false;

	/* Before /proc is mounted there is no mountinfo: nothing is. */
	scanned = mounts_scan_proc(rootfd, mounts_early_visit, present) == 0;
	for (size_t i = 0; i < ARRAY_SIZE(early_mounts); i++) {
		const struct early_mount *m = &early_mounts[i];
		int r;

		if (!scanned && i > 0) {
			/* /proc is up now: one look at what an earlier stage mounted. */
			scanned = mounts_scan_proc(rootfd, mounts_early_visit, present) == 0;
		}
		if (present[i]) {
			log_debug("mount: %s already mounted (%s)", m->target, m->type);
			continue;
		}
		r = mounts_mkdir_p(rootfd, m->target, 0755);
		if (r == 0)
			r = sys_mount(m->type, m->target, m->type, m->flags, m->data);
		else
			log_debug("mount: mkdir %s: %s", m->target, strerror(-r));
		if (r < 0 && m->optional) {
			log_warn("mount: %s (%s) skipped: %s", m->target, m->type, strerror(-r));
			continue;
		}
		if (r < 0) {
			if (err && errsz > 0)
				snprintf(err, errsz, "mount %s on %s: %s", m->type, m->target, strerror(-r));
			return r;
		}
	}
	return 0;
}

static const struct mount_option {
	const char *word;
	unsigned long set, clear;
} mount_options[] = {
	{ "ro", MS_RDONLY, 0 },
	{ "rw", 0, MS_RDONLY },
	{ "nosuid", MS_NOSUID, 0 },
	{ "suid", 0, MS_NOSUID },
	{ "nodev", MS_NODEV, 0 },
	{ "dev", 0, MS_NODEV },
	{ "noexec", MS_NOEXEC, 0 },
	{ "exec", 0, MS_NOEXEC },
	{ "sync", MS_SYNCHRONOUS, 0 },
	{ "async", 0, MS_SYNCHRONOUS },
	{ "dirsync", MS_DIRSYNC, 0 },
	{ "noatime", MS_NOATIME, 0 },
	{ "atime", 0, MS_NOATIME },
	{ "nodiratime", MS_NODIRATIME, 0 },
	{ "diratime", 0, MS_NODIRATIME },
	{ "relatime", MS_RELATIME, 0 },
	{ "norelatime", 0, MS_RELATIME },
	{ "strictatime", MS_STRICTATIME, 0 },
	{ "nostrictatime", 0, MS_STRICTATIME },
	{ "lazytime", MS_LAZYTIME, 0 },
	{ "nolazytime", 0, MS_LAZYTIME },
	{ "silent", MS_SILENT, 0 },
	{ "loud", 0, MS_SILENT },
	{ "defaults", 0, 0 },
};

int mounts_parse_options(const char *options, unsigned long *ret_flags, char *data, size_t datasz)
{
	unsigned long flags = 0;
	bool suid = false, dev = false;
	size_t o = 0;
	const char *p = options ? options : "";

	if (!data || datasz == 0)
		return -EINVAL;
	while (*p) {
		const char *e = strchr(p, ',');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		bool known = false;

		for (size_t i = 0; len > 0 && i < ARRAY_SIZE(mount_options); i++) {
			const struct mount_option *mo = &mount_options[i];
			if (strlen(mo->word) != len || memcmp(mo->word, p, len) != 0)
				continue;
			flags = (flags & ~mo->clear) | mo->set;
			suid |= mo->clear == MS_NOSUID;
			dev |= mo->clear == MS_NODEV;
			known = true;
			break;
		}
		/* Anything else is the filesystem's own (trans=virtio, cache=auto). */
		if (!known && len > 0) {
			if (o + (o ? 1 : 0) + len + 1 > datasz)
				return -E2BIG;
			if (o)
				data[o++] = ',';
			memcpy(data + o, p, len);
			o += len;
		}
		p += len;
		if (*p == ',')
			p++;
	}
	data[o] = '\0';
	if (!suid)
		flags |= MS_NOSUID;
	if (!dev)
		flags |= MS_NODEV;
	*ret_flags = flags;
	return 0;
}

int mounts_share_at(int rootfd, const struct mount_spec *m, char *err, size_t errsz)
{
	char data[MOUNTS_DATA_MAX];
	char type[LOG_ESCAPED_SIZE(32)], source[LOG_ESCAPED_SIZE(64)], target[LOG_ESCAPED_SIZE(128)];
	unsigned long flags;
	int r;

	/* Host input, though cmdline.c checked it: escaped wherever printed. */
	log_escape(type, sizeof(type), m->type, strnlen(m->type, sizeof(m->type)));
	log_escape(source, sizeof(source), m->source, strnlen(m->source, 64));
	log_escape(target, sizeof(target), m->target, strnlen(m->target, 128));

	if (m->target[0] != '/') {
		if (err && errsz > 0)
			snprintf(err, errsz, "mount %s %s on %s: target is not an absolute path", type, source, target);
		return -EINVAL;
	}
	r = mounts_parse_options(m->options, &flags, data, sizeof(data));
	if (r < 0) {
		if (err && errsz > 0)
			snprintf(err, errsz, "mount %s %s on %s: options are longer than %d bytes", type, source,
				 target, MOUNTS_DATA_MAX - 1);
		return r;
	}
	r = mounts_mkdir_p(rootfd, m->target, 0755);
	if (r < 0) {
		if (err && errsz > 0)
			snprintf(err, errsz, "mount %s %s on %s: mkdir: %s", type, source, target, strerror(-r));
		return r;
	}
	r = sys_mount(m->source, m->target, m->type, flags, data[0] ? data : NULL);
	if (r < 0) {
		if (err && errsz > 0)
			snprintf(err, errsz, "mount %s %s on %s: %s", type, source, target, strerror(-r));
		return r;
	}
	log_debug("mount: %s %s on %s", type, source, target);
	return 0;
}

int mounts_share(const struct mount_spec *m, char *err, size_t errsz)
{
	_cleanup_close_ int rootfd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (rootfd < 0) {
		int r = -errno;
		if (err && errsz > 0)
			snprintf(err, errsz, "open /: %s", strerror(-r));
		return r;
	}
	return mounts_share_at(rootfd, m, err, errsz);
}

int mounts_stdio_reserve(void)
{
	int n = 0;

	/* In order: open() takes the lowest free fd, so each lands on i. */
	for (int i = 0; i <= 2; i++) {
		if (fcntl(i, F_GETFD) >= 0 || errno != EBADF)
			continue;
		/* No O_CLOEXEC: these are stdio, as the console would be. */
		int fd = open("/", O_RDONLY | O_DIRECTORY);
		if (fd < 0)
			break;
		if (fd != i) {
			/* Not the lowest free fd after all: don't leak it. */
			close(fd);
			break;
		}
		n++;
	}
	return n;
}

/* With no console, the placeholders of mounts_stdio_reserve() (directories,
 * which no real stdio is) become /dev/null for the agent. */
static void mounts_null_placeholders(int rootfd)
{
	_cleanup_close_ int null = -1;
	struct stat st;

	for (int i = 0; i <= 2; i++) {
		if (fstat(i, &st) < 0 || !S_ISDIR(st.st_mode))
			continue;
		if (null < 0)
			null = openat(rootfd, "dev/null", O_RDWR | O_NOCTTY | O_CLOEXEC);
		if (null < 0)
			return;
		(void)dup2(null, i);
	}
}

int mounts_console_at(int rootfd)
{
	int fd = openat(rootfd, "dev/console", O_RDWR | O_NOCTTY | O_CLOEXEC);

	if (fd < 0) {
		int r = -errno;
		mounts_null_placeholders(rootfd);
		return r;
	}
	for (int i = 0; i <= 2; i++) {
		/* dup2 clears FD_CLOEXEC on the copy; the original needs it cleared by hand. */
		int r = i == fd ? fcntl(fd, F_SETFD, 0) : dup2(fd, i);
		if (r < 0) {
			r = -errno;
			if (fd > 2)
				close(fd);
			return r;
		}
	}
	if (fd > 2)
		close(fd);
	return 0;
}

int mounts_console(void)
{
	_cleanup_close_ int rootfd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (rootfd < 0)
		return -errno;
	return mounts_console_at(rootfd);
}
