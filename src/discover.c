/* SPDX-License-Identifier: Apache-2.0 */
/* Finding the initdata disk by serial below a root directory fd: the hint,
 * the by-id link, a scan of sys/class/block, then uevents, then (only when
 * asked) the content scan. It reads serials, never device contents, and it
 * never picks one of two matching disks. Policy (what is fatal) is the caller's. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "config.h"

#include "cocoinit/discover.h"
#include "cocoinit/log.h"
#include "cocoinit/scan.h"
#include "cocoinit/timing.h"
#include "cocoinit/udev.h"
#include "cocoinit/uevent.h"
#include "cocoinit/util.h"

#define DISCOVER_SYSFS_DIR "sys/class/block"
#define DISCOVER_BYID_DIR "dev/disk/by-id"

const char *discover_method_name(enum discover_method m)
{
	switch (m) {
	case DISCOVER_HINT:
		return "hint";
	case DISCOVER_BYID:
		return "by-id";
	case DISCOVER_SYSFS:
		return "sysfs";
	case DISCOVER_UEVENT:
		return "uevent";
	case DISCOVER_MAGIC:
		return "magic";
	}
	return "unknown";
}

/* A name that can stand for one entry of sys/class/block and of dev/. */
static int discover_name_valid(const char *name)
{
	size_t n = strnlen(name, DISCOVER_NAME_MAX);

	return n > 0 && n < DISCOVER_NAME_MAX && !strchr(name, '/') && strcmp(name, ".") != 0 &&
	       strcmp(name, "..") != 0;
}

/* A device name for a log line: names below --root are anyone's bytes. */
static const char *discover_esc_name(char *out, size_t size, const char *name)
{
	return log_escape(out, size, name, strnlen(name, DISCOVER_NAME_MAX + 8));
}

static void discover_found(struct discover_result *result, const char *name, enum discover_method m,
			   enum serial_kind kind)
{
	util_strlcpy(result->name, name, sizeof(result->name));
	snprintf(result->devnode, sizeof(result->devnode), "/dev/%s", name);
	result->method = m;
	result->kind = kind;
}

static int discover_name_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* Fills result->matches with up to DISCOVER_AMBIGUOUS_MAX names, sorted so
 * that the report does not depend on readdir order. */
static void discover_ambiguous(struct discover_result *result, char (*names)[DISCOVER_NAME_MAX],
			       size_t n, enum discover_method m)
{
	if (n > DISCOVER_AMBIGUOUS_MAX)
		n = DISCOVER_AMBIGUOUS_MAX;
	for (size_t i = 0; i < n; i++)
		util_strlcpy(result->matches[i], names[i], DISCOVER_NAME_MAX);
	qsort(result->matches, n, DISCOVER_NAME_MAX, discover_name_cmp);
	result->n_matches = (unsigned)n;
	result->method = m;
}

static int discover_open_sysfs(int rootfd)
{
	int fd = openat(rootfd, DISCOVER_SYSFS_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

/* A listing of the open sys/class/block from its start, on an fd of its
 * own (sysfd stays open for the lookups); NULL with errno set. */
static DIR *discover_list_sysfs(int sysfd)
{
	int dfd = fcntl(sysfd, F_DUPFD_CLOEXEC, 3);
	DIR *d;

	if (dfd < 0)
		return NULL;
	d = fdopendir(dfd);
	if (!d) {
		int e = errno;
		close(dfd);
		errno = e;
		return NULL;
	}
	/* readdir() of a directory fd starts where the last one stopped. */
	rewinddir(d);
	return d;
}

static int discover_is_partition(int sysfd, const char *name)
{
	char path[DISCOVER_NAME_MAX + 16];
	struct stat st;

	snprintf(path, sizeof(path), "%s/partition", name);
	return fstatat(sysfd, path, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

int discover_seen_find(const struct discover_seen *seen, const char *name)
{
	for (size_t i = 0; seen && i < seen->n && i < DISCOVER_SEEN_MAX; i++)
		if (strcmp(seen->e[i].name, name) == 0)
			return (int)i;
	return -1;
}

/* serial_read(), or the answer read ahead for name. */
static int discover_serial(int sysfd, const struct discover_seen *seen, const char *name, char *got, size_t *len,
			   enum serial_kind *kind)
{
	int i = discover_seen_find(seen, name);

	if (i < 0)
		return serial_read(sysfd, name, got, len, kind);
	memcpy(got, seen->e[i].serial, seen->e[i].len);
	got[seen->e[i].len] = '\0';
	*len = seen->e[i].len;
	*kind = seen->e[i].kind;
	return 0;
}

/* discover_check_disk() against an open sys/class/block. */
static int discover_check_at(int sysfd, const char *name, const struct discover_opts *opts,
			     struct discover_result *result, enum serial_kind *ret_kind)
{
	char got[SERIAL_MAX + 1];
	char esc[LOG_ESCAPED_SIZE(SERIAL_MAX)];
	char ename[LOG_ESCAPED_SIZE(DISCOVER_NAME_MAX)];
	enum serial_kind kind;
	size_t len;
	int r;

	if (!discover_name_valid(name))
		return -EINVAL;
	r = discover_serial(sysfd, opts->seen, name, got, &len, &kind);
	/* Partitions have no serial attribute of their own: ask sysfs whether
	 * this is one only when it matters, not once per disk in the scan. */
	if ((r == -ENOENT || (r == 0 && serial_matches(opts->serial, opts->serial_len, got, len, kind))) &&
	    discover_is_partition(sysfd, name))
		return 0;
	if (result)
		result->examined++;
	if (r < 0)
		return r;
	if (!serial_matches(opts->serial, opts->serial_len, got, len, kind)) {
		log_debug("initdata: %s has serial=%s", discover_esc_name(ename, sizeof(ename), name),
			  log_escape(esc, sizeof(esc), got, len));
		return 0;
	}
	*ret_kind = kind;
	return 1;
}

int discover_check_disk(int rootfd, const char *name, const struct discover_opts *opts,
			enum serial_kind *ret_kind)
{
	_cleanup_close_ int sysfd = discover_open_sysfs(rootfd);

	if (sysfd < 0)
		return sysfd;
	return discover_check_at(sysfd, name, opts, NULL, ret_kind);
}

/* Parses a PCI hint "dddd:bb:ss.f" (hex; slot at most 1f, function at most
 * 7) into the lowercase name sys/bus/pci/devices uses. 1 when s has that
 * form, -EINVAL when it has the shape but not the ranges, 0 otherwise. */
static int discover_parse_pci(const char *s, char out[static 13])
{
	static const char form[] = "xxxx:xx:xx.x";

	if (strnlen(s, sizeof(form)) != sizeof(form) - 1)
		return 0;
	for (size_t i = 0; form[i]; i++) {
		if (form[i] == 'x' ? !isxdigit((unsigned char)s[i]) : s[i] != form[i])
			return 0;
		out[i] = (char)tolower((unsigned char)s[i]);
	}
	out[sizeof(form) - 1] = '\0';
	if (strtoul(out + 8, NULL, 16) > 0x1f || out[11] > '7')
		return -EINVAL;
	return 1;
}

static void discover_warn_hint(const char *hint, const char *why)
{
	char esc[LOG_ESCAPED_SIZE(DISCOVER_NAME_MAX)];

	log_warn("initdata: hint %s: %s; looking further",
		 log_escape(esc, sizeof(esc), hint, strnlen(hint, DISCOVER_NAME_MAX)), why);
}

/* The disks looked at by one step, and those whose serial matched. */
struct discover_tally {
	char names[DISCOVER_AMBIGUOUS_MAX][DISCOVER_NAME_MAX];
	size_t n;         /* matches, even beyond the names kept */
	size_t looked;    /* entries considered */
	enum serial_kind kind;
};

static void discover_tally_check(int sysfd, const char *name, const struct discover_opts *opts,
				 enum discover_method m, struct discover_result *result, struct discover_tally *t)
{
	char ename[LOG_ESCAPED_SIZE(DISCOVER_NAME_MAX)];
	enum serial_kind k;
	int r;

	t->looked++;
	r = discover_check_at(sysfd, name, opts, result, &k);
	if (r < 0) {
		/* Disks come and go, loop0 and sr0 have no serial. */
		log_debug("initdata: %s: %s skipped: %s", discover_method_name(m),
			  discover_esc_name(ename, sizeof(ename), name), strerror(-r));
		return;
	}
	if (r == 1) {
		if (t->n < DISCOVER_AMBIGUOUS_MAX)
			util_strlcpy(t->names[t->n], name, DISCOVER_NAME_MAX);
		t->n++;
		t->kind = k;
	}
}

/* 0 with one match, -ENOTUNIQ with several, -ENOENT with none. */
static int discover_tally_end(struct discover_tally *t, enum discover_method m, struct discover_result *result)
{
	if (t->n == 1) {
		discover_found(result, t->names[0], m, t->kind);
		return 0;
	}
	if (t->n > 1) {
		if (t->n > DISCOVER_AMBIGUOUS_MAX)
			log_warn("initdata: %zu disks have the serial; naming %d", t->n, DISCOVER_AMBIGUOUS_MAX);
		discover_ambiguous(result, t->names, t->n, m);
		return -ENOTUNIQ;
	}
	return -ENOENT;
}

/* Whether name is pat, where '#' in pat stands for one or more digits and
 * a pat of "*" for any name. */
static int discover_name_is(const char *name, const char *pat)
{
	if (strcmp(pat, "*") == 0)
		return name[0] != '.';
	while (*pat) {
		if (*pat == '#') {
			if (!isdigit((unsigned char)*name))
				return 0;
			while (isdigit((unsigned char)*name))
				name++;
			pat++;
		} else if (*pat++ != *name++) {
			return 0;
		}
	}
	return *name == '\0';
}

/* Entries a walk below one PCI device reads at most: a virtio-scsi
 * controller's LUNs are the host's to multiply, the walk must end. */
#define DISCOVER_PCI_WALK_MAX 16384

struct discover_walk {
	int sysfd;
	const struct discover_opts *opts;
	struct discover_result *result;
	struct discover_tally tally;
	size_t entries;
};

/* Follows path (a NULL-terminated list of components, see
 * discover_name_is()) below the directory at; each name matching the last
 * component is a disk to check. A component without '#' or '*' (never the
 * last) is opened directly; no symlink below the PCI device is followed. */
static void discover_walk(struct discover_walk *w, int at, const char *const *path)
{
	_cleanup_close_ int fd = -1;
	struct dirent *de;
	DIR *d;

	if (path[1] && !strpbrk(path[0], "#*")) {
		fd = openat(at, path[0], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd >= 0)
			discover_walk(w, fd, path + 1);
		return;
	}
	fd = openat(at, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return;
	d = fdopendir(fd);
	if (!d)
		return;
	fd = -1;
	while ((de = readdir(d))) {
		if (++w->entries > DISCOVER_PCI_WALK_MAX) {
			log_warn("initdata: hint: more than %d entries below the PCI device; stopped looking",
				 DISCOVER_PCI_WALK_MAX);
			break;
		}
		if (!discover_name_is(de->d_name, path[0]) || (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN))
			continue;
		if (!path[1]) {
			discover_tally_check(w->sysfd, de->d_name, w->opts, DISCOVER_HINT, w->result, &w->tally);
			continue;
		}
		int sub = openat(at, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub < 0)
			continue;
		discover_walk(w, sub, path + 1);
		close(sub);
		if (w->entries > DISCOVER_PCI_WALK_MAX)
			break;
	}
	closedir(d);
}

/* The hint names a PCI device: only the disks below it are checked, found
 * where the kernel puts them (see tests/unit/tree.h): virtio-blk, NVMe
 * namespaces (nvmeXnY; the multipath head of CONFIG_NVME_MULTIPATH lives
 * elsewhere and is not found this way) and virtio-scsi LUNs. */
static int discover_hint_pci(int rootfd, int sysfd, const char *pci, const struct discover_opts *opts,
			     struct discover_result *result)
{
	static const char *const layouts[][7] = {
		{ "virtio#", "block", "*", NULL },
		{ "nvme", "nvme#", "nvme#n#", NULL },
		{ "virtio#", "host#", "target#:#:#", "#:#:#:#", "block", "*", NULL },
	};
	struct discover_walk w = { .sysfd = sysfd, .opts = opts, .result = result };
	char path[64], why[96];
	_cleanup_close_ int fd = -1;
	int r;

	snprintf(path, sizeof(path), "sys/bus/pci/devices/%s", pci);
	fd = openat(rootfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		snprintf(why, sizeof(why), "can't open the PCI device (%s)", strerror(e));
		discover_warn_hint(opts->hint, e == ENOENT ? "no such PCI device" : why);
		return -ENOENT;
	}
	for (size_t i = 0; i < ARRAY_SIZE(layouts) && w.entries <= DISCOVER_PCI_WALK_MAX; i++)
		discover_walk(&w, fd, layouts[i]);
	r = discover_tally_end(&w.tally, DISCOVER_HINT, result);
	if (r == -ENOENT)
		discover_warn_hint(opts->hint, w.tally.looked ? "no disk of that PCI device has the serial"
						       : "no disk below that PCI device");
	return r;
}

static int discover_step_hint(int rootfd, const struct discover_opts *opts, struct discover_result *result)
{
	_cleanup_close_ int sysfd = -1;
	enum serial_kind kind;
	char why[96], pci[13];
	int r;

	if (!opts->hint || !*opts->hint)
		return -ENOENT;
	sysfd = discover_open_sysfs(rootfd);
	if (sysfd < 0)
		return sysfd;
	r = discover_parse_pci(opts->hint, pci);
	if (r == 1)
		return discover_hint_pci(rootfd, sysfd, pci, opts, result);
	if (r < 0) {
		discover_warn_hint(opts->hint, "not a PCI address (slot above 1f or function above 7)");
		return -ENOENT;
	}
	if (!discover_name_valid(opts->hint)) {
		discover_warn_hint(opts->hint, "not a block device name or PCI address");
		return -ENOENT;
	}
	r = discover_check_at(sysfd, opts->hint, opts, result, &kind);
	if (r == 1) {
		discover_found(result, opts->hint, DISCOVER_HINT, kind);
		return 0;
	}
	if (r == 0) {
		discover_warn_hint(opts->hint, discover_is_partition(sysfd, opts->hint)
						       ? "a partition, not a whole disk"
						       : "its serial is another one");
	} else {
		snprintf(why, sizeof(why), "serial unreadable (%s)", strerror(-r));
		discover_warn_hint(opts->hint, r == -ENOENT ? "no such disk or no serial" : why);
	}
	return -ENOENT;
}

/* The sysfs name of the disk a by-id link points at: for a device node its
 * sys/dev/block/MAJ:MIN entry, else (a file standing in under --root) the
 * last component of the link target. */
static int discover_link_name(int rootfd, int byidfd, const char *link, char *out)
{
	char target[4096];
	struct stat st;
	ssize_t n;

	n = readlinkat(byidfd, link, target, sizeof(target) - 1);
	if (n < 0)
		return -errno;
	target[n] = '\0';
	if (fstatat(byidfd, link, &st, 0) < 0)
		return -errno; /* dangling (ENOENT) or looping (ELOOP) */
	if (S_ISBLK(st.st_mode)) {
		char dev[48];
		snprintf(dev, sizeof(dev), "sys/dev/block/%u:%u", major(st.st_rdev), minor(st.st_rdev));
		n = readlinkat(rootfd, dev, target, sizeof(target) - 1);
		if (n >= 0)
			target[n] = '\0';
	} else if (!S_ISREG(st.st_mode)) {
		return -ENOTBLK;
	}
	const char *base = strrchr(target, '/');
	base = base ? base + 1 : target;
	if (!discover_name_valid(base))
		return -EINVAL;
	util_strlcpy(out, base, DISCOVER_NAME_MAX);
	return 0;
}

static int discover_step_id(int rootfd, const struct discover_opts *opts, struct discover_result *result)
{
	char link[SERIAL_BYID_MAX];
	char esc[LOG_ESCAPED_SIZE(SERIAL_BYID_MAX)];
	char name[DISCOVER_NAME_MAX];
	char ename[LOG_ESCAPED_SIZE(DISCOVER_NAME_MAX)];
	_cleanup_close_ int byidfd = -1, sysfd = -1;
	size_t len = opts->serial_len;
	enum serial_kind kind;
	int r;

	/* No udev, no links: the common case in a Kata guest, answered first. */
	byidfd = openat(rootfd, DISCOVER_BYID_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (byidfd < 0) {
		log_debug("initdata: by-id: %s: %s", DISCOVER_BYID_DIR, strerror(errno));
		return -ENOENT;
	}
	/* udev names the link after what the device reports: 20 bytes at most. */
	if (len > SERIAL_VIRTIO_MAX)
		len = SERIAL_VIRTIO_MAX;
	r = serial_encode_byid(opts->serial, len, link, sizeof(link));
	if (r < 0) {
		log_debug("initdata: by-id: serial has no udev link (%s)", strerror(-r));
		return -ENOENT;
	}
	log_escape(esc, sizeof(esc), link, (size_t)r);
	r = discover_link_name(rootfd, byidfd, link, name);
	if (r < 0) {
		log_debug("initdata: by-id: %s skipped: %s", esc, strerror(-r));
		return -ENOENT;
	}
	sysfd = discover_open_sysfs(rootfd);
	if (sysfd < 0)
		return sysfd;
	/* Distinct serials share a by-id name, and anything root can write:
	 * the target counts only when its own serial is the one asked for. */
	r = discover_check_at(sysfd, name, opts, result, &kind);
	if (r == 1) {
		discover_found(result, name, DISCOVER_BYID, kind);
		return 0;
	}
	discover_esc_name(ename, sizeof(ename), name);
	if (r == 0)
		log_warn("initdata: by-id: %s points at %s, whose serial differs; ignored", esc, ename);
	else
		log_warn("initdata: by-id: %s points at %s, whose serial can't be read (%s); ignored", esc,
			 ename, strerror(-r));
	return -ENOENT;
}

static int discover_step_sysfs(int rootfd, const struct discover_opts *opts, struct discover_result *result)
{
	_cleanup_close_ int sysfd = discover_open_sysfs(rootfd);
	struct discover_tally t = { .n = 0 };
	struct dirent *de;
	DIR *d;

	if (sysfd < 0)
		return sysfd;
	if (opts->seen && opts->seen->complete) {
		/* Every disk is in seen, its serial with it: nothing to list. */
		for (size_t i = 0; i < opts->seen->n && i < DISCOVER_SEEN_MAX; i++)
			discover_tally_check(sysfd, opts->seen->e[i].name, opts, DISCOVER_SYSFS, result, &t);
		return discover_tally_end(&t, DISCOVER_SYSFS, result);
	}
	d = discover_list_sysfs(sysfd);
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		if (de->d_name[0] != '.')
			discover_tally_check(sysfd, de->d_name, opts, DISCOVER_SYSFS, result, &t);
	}
	closedir(d);
	return discover_tally_end(&t, DISCOVER_SYSFS, result);
}

/* --- several targets, one scan, one wait --- */

static bool discover_set_is_stray(const struct discover_set *set, const char *got, size_t len)
{
	size_t pl = set->stray_prefix ? strlen(set->stray_prefix) : 0;

	return pl > 0 && len >= pl && memcmp(got, set->stray_prefix, pl) == 0;
}

static void discover_set_stray(struct discover_set *set, const char *name, const char *got, size_t len)
{
	if (set->n_strays == 0) {
		memcpy(set->stray_serial, got, len);
		set->stray_serial[len] = '\0';
		set->stray_serial_len = len;
	}
	if (set->n_strays < DISCOVER_STRAY_MAX)
		util_strlcpy(set->strays[set->n_strays], name, DISCOVER_NAME_MAX);
	set->n_strays++;
}

/* A disk matched target t: its first disk, or one more (ambiguous). */
static void discover_set_match(struct discover_target *t, const char *name, enum discover_method m,
			       enum serial_kind kind)
{
	struct discover_result *res = &t->result;

	/* The same disk again (a `change` event, a rescan): not a second one. */
	for (unsigned i = 0; (t->status == 0 || t->status == -ENOTUNIQ) && i < res->n_matches &&
			     i < DISCOVER_AMBIGUOUS_MAX; i++)
		if (strcmp(res->matches[i], name) == 0)
			return;
	if (t->status != 0 && t->status != -ENOTUNIQ) {
		discover_found(res, name, m, kind);
		util_strlcpy(res->matches[0], name, DISCOVER_NAME_MAX);
		res->n_matches = 1;
		t->status = 0;
		return;
	}
	if (res->n_matches < DISCOVER_AMBIGUOUS_MAX)
		util_strlcpy(res->matches[res->n_matches], name, DISCOVER_NAME_MAX);
	res->n_matches++;
	t->status = -ENOTUNIQ;
	res->method = m;
}

/* Reads one disk's serial (once) and matches it against every target.
 * Returns 1 when it matched a target or was a stray, 0 when it is someone
 * else's disk or a partition, -EAGAIN when it has no serial attribute (yet),
 * other -errno when the serial can't be read. */
static int discover_set_check(int sysfd, struct discover_set *set, const char *name, enum discover_method m)
{
	char got[SERIAL_MAX + 1];
	char esc[LOG_ESCAPED_SIZE(SERIAL_MAX)];
	char ename[LOG_ESCAPED_SIZE(DISCOVER_NAME_MAX)];
	enum serial_kind kind;
	bool any = false;
	size_t len;
	int r;

	if (!discover_name_valid(name) || strcmp(name, set->skip) == 0)
		return 0;
	r = discover_serial(sysfd, set->seen, name, got, &len, &kind);
	if (r == -ENOENT) {
		if (discover_is_partition(sysfd, name))
			return 0;
		set->examined++;
		return -EAGAIN;
	}
	set->examined++;
	if (r < 0)
		return r;
	for (size_t i = 0; i < set->n; i++)
		if (!set->t[i].done && serial_matches(set->t[i].serial, set->t[i].serial_len, got, len, kind))
			any = true;
	bool stray = !any && discover_set_is_stray(set, got, len);
	/* Partitions carry no serial of their own; ask only when it matters. */
	if ((any || stray) && discover_is_partition(sysfd, name))
		return 0;
	if (stray) {
		discover_set_stray(set, name, got, len);
		return 1;
	}
	if (!any) {
		log_debug("discover: %s has serial=%s", discover_esc_name(ename, sizeof(ename), name),
			  log_escape(esc, sizeof(esc), got, len));
		return 0;
	}
	for (size_t i = 0; i < set->n; i++)
		if (!set->t[i].done && serial_matches(set->t[i].serial, set->t[i].serial_len, got, len, kind))
			discover_set_match(&set->t[i], name, m, kind);
	return 1;
}

static int discover_set_scan_at(int sysfd, struct discover_set *set, enum discover_method m)
{
	char ename[LOG_ESCAPED_SIZE(DISCOVER_NAME_MAX)];
	struct dirent *de;
	DIR *d = discover_list_sysfs(sysfd);

	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		int r = discover_set_check(sysfd, set, de->d_name, m);
		if (r < 0 && r != -EAGAIN)
			log_debug("discover: %s skipped: %s", discover_esc_name(ename, sizeof(ename), de->d_name),
				  strerror(-r));
	}
	closedir(d);
	return 0;
}

static void discover_set_sort(struct discover_set *set)
{
	for (size_t i = 0; i < set->n; i++) {
		struct discover_result *res = &set->t[i].result;
		if (set->t[i].status == -ENOTUNIQ)
			qsort(res->matches, res->n_matches < DISCOVER_AMBIGUOUS_MAX ? res->n_matches
										: DISCOVER_AMBIGUOUS_MAX,
			      DISCOVER_NAME_MAX, discover_name_cmp);
	}
	qsort(set->strays, set->n_strays < DISCOVER_STRAY_MAX ? set->n_strays : DISCOVER_STRAY_MAX,
	      DISCOVER_NAME_MAX, discover_name_cmp);
}

int discover_set_scan(int rootfd, struct discover_set *set)
{
	_cleanup_close_ int sysfd = discover_open_sysfs(rootfd);
	int r;

	if (sysfd < 0)
		return sysfd;
	r = discover_set_scan_at(sysfd, set, DISCOVER_SYSFS);
	discover_set_sort(set);
	return r;
}

/* Whether the wait is over: a target ambiguous or a stray (the boot is
 * refused anyway), or no missing target whose deadline is still ahead. */
static bool discover_set_over(const struct discover_set *set, uint64_t now)
{
	if (set->n_strays > 0)
		return true;
	for (size_t i = 0; i < set->n; i++)
		if (!set->t[i].done && set->t[i].status == -ENOTUNIQ)
			return true;
	for (size_t i = 0; i < set->n; i++)
		if (!set->t[i].done && set->t[i].status != 0 && set->t[i].deadline_us > now)
			return false;
	return true;
}

static uint64_t discover_set_deadline(const struct discover_set *set)
{
	uint64_t d = 0;

	for (size_t i = 0; i < set->n; i++)
		if (!set->t[i].done && set->t[i].status != 0 && set->t[i].deadline_us > d)
			d = set->t[i].deadline_us;
	return d;
}

struct discover_set_ctx {
	struct discover_set *set;
	int sysfd;
};

static int discover_set_uevent_check(const char *devname, void *userdata)
{
	struct discover_set_ctx *ctx = userdata;
	char ename[LOG_ESCAPED_SIZE(DISCOVER_NAME_MAX)];
	int r = discover_set_check(ctx->sysfd, ctx->set, devname, DISCOVER_UEVENT);

	/* Before about 4.20 `serial` could appear just after the add event:
	 * the waiter looks once more UEVENT_RETRY_MS later (a second -EAGAIN
	 * drops the disk). */
	if (r == -EAGAIN)
		return -EAGAIN;
	if (r < 0) {
		log_debug("discover: uevent: %s skipped: %s", discover_esc_name(ename, sizeof(ename), devname),
			  strerror(-r));
		return 0;
	}
	return r == 1 && discover_set_over(ctx->set, timing_now_us()) ? 1 : 0;
}

int discover_set_wait(int rootfd, struct discover_set *set)
{
	struct uevent_retry retry = { 0 };
	struct discover_set_ctx ctx = { .set = set };
	_cleanup_close_ int sysfd = -1;
	int r = 0;

	if (set->uevent_fd < 0 && !set->udev_waiter)
		return 0;
	if (discover_set_over(set, timing_now_us()))
		return 0;
	sysfd = discover_open_sysfs(rootfd);
	if (sysfd < 0)
		return sysfd;
	ctx.sysfd = sysfd;
	for (;;) {
		uint64_t deadline = discover_set_deadline(set);
#if HAVE_LIBUDEV
		if (set->udev_waiter)
			r = udev_waiter_wait(set->udev_waiter, deadline, discover_set_uevent_check, &ctx);
		else
#endif
			r = uevent_wait_disk_retry(set->uevent_fd, deadline, &retry, discover_set_uevent_check, &ctx);
		if (r != -ENOBUFS)
			break;
		/* Events were lost, an `add` perhaps among them: look at every
		 * disk again; past the deadline only once, then stop. */
		log_warn("uevent: receive queue overrun, events lost; looking at every disk again");
		set->rescans++;
		r = discover_set_scan_at(sysfd, set, DISCOVER_SYSFS);
		if (r < 0 || discover_set_over(set, timing_now_us()))
			break;
	}
	discover_set_sort(set);
	set->retries = retry.queued;
	if (r > 0 || r == -ETIMEDOUT || r == -ENOBUFS)
		return 0;
	return r;
}

/* The single-target uevent step, on the set's engine. */
static int discover_step_uevent(int rootfd, const struct discover_opts *opts, uint64_t deadline_us,
				struct discover_result *result)
{
	static struct discover_set set; /* 17 results: not on PID 1's stack */
	int r;

	if (opts->uevent_fd < 0 && !opts->udev_waiter)
		return -ENOENT;
	memset(&set, 0, sizeof(set));
	set.n = 1;
	set.t[0].serial = opts->serial;
	set.t[0].serial_len = opts->serial_len;
	set.t[0].deadline_us = deadline_us;
	set.t[0].status = -ENOENT;
	set.uevent_fd = opts->uevent_fd;
	set.udev_waiter = opts->udev_waiter;
	r = discover_set_wait(rootfd, &set);
	result->examined += set.examined;
	result->retries = set.retries;
	if (r < 0)
		return r;
	if (set.t[0].status == 0) {
		const struct discover_result *t = &set.t[0].result;
		discover_found(result, t->name, t->method, t->kind);
		return 0;
	}
	if (set.t[0].status == -ENOTUNIQ) {
		discover_ambiguous(result, set.t[0].result.matches, set.t[0].result.n_matches, DISCOVER_UEVENT);
		return -ENOTUNIQ;
	}
	return -ENOENT;
}

int discover_waiter_open(int rootfd, struct discover_opts *opts)
{
	int fd;

#if HAVE_LIBUDEV
	/* udevd's events come after its rules ran: the by-id link exists. */
	if (udev_available(rootfd)) {
		struct udev_waiter *w;
		int r = udev_waiter_open(&w);
		if (r == 0) {
			opts->udev_waiter = w;
			opts->uevent_fd = -1;
			return 0;
		}
		log_warn("initdata: udev monitor: %s; waiting for kernel uevents instead", strerror(-r));
	}
#else
	(void)rootfd;
#endif
	fd = uevent_open();
	if (fd < 0)
		return fd;
	opts->uevent_fd = fd;
	opts->udev_waiter = NULL;
	return 0;
}

void discover_waiter_close(struct discover_opts *opts)
{
	if (opts->uevent_fd >= 0)
		close(opts->uevent_fd);
	opts->uevent_fd = -1;
#if HAVE_LIBUDEV
	udev_waiter_free(opts->udev_waiter);
#endif
	opts->udev_waiter = NULL;
}

static int discover_step_magic(int rootfd, const struct discover_opts *opts, struct discover_result *result)
{
	char names[DISCOVER_AMBIGUOUS_MAX][DISCOVER_NAME_MAX];
	unsigned examined = 0;
	size_t n = 0;
	int r;

	r = scan_magic(rootfd, names, DISCOVER_AMBIGUOUS_MAX, &n, &examined);
	result->examined += examined;
	if (r < 0)
		return r;
	if (n == 0)
		return -ENOENT;
	if (n > 1) {
		discover_ambiguous(result, names, n, DISCOVER_MAGIC);
		return -ENOTUNIQ;
	}
	if (!discover_name_valid(names[0]))
		return -EINVAL;
	/* The kind is unknown: the serial was never read. */
	discover_found(result, names[0], DISCOVER_MAGIC, SERIAL_KIND_VIRTIO);
	return 0;
}

/* Reads name's serial into a new entry of seen: 0, -ENOSPC when seen is
 * full, or serial_read()'s error (nothing added). */
static int discover_seen_add(int sysfd, struct discover_seen *seen, const char *name)
{
	size_t k = seen->n;
	int r;

	if (k >= DISCOVER_SEEN_MAX)
		return -ENOSPC;
	r = serial_read(sysfd, name, seen->e[k].serial, &seen->e[k].len, &seen->e[k].kind);
	if (r < 0)
		return r;
	util_strlcpy(seen->e[k].name, name, DISCOVER_NAME_MAX);
	seen->n++;
	return 0;
}

int discover_prefetch(int rootfd, int fd, struct discover_seen *seen)
{
	_cleanup_close_ int sysfd = -1;
	char buf[UEVENT_BUFFER_SIZE];
	struct uevent ev;
	int n = 0, r;

	if (!seen)
		return -EINVAL;
	if (fd < 0) {
		seen->complete = false;
		return -EINVAL;
	}
	sysfd = discover_open_sysfs(rootfd);
	if (sysfd < 0) {
		seen->complete = false;
		return sysfd;
	}
	/* Bounded: a host that sends events without pause must not keep PID 1
	 * here; what is left stays queued for the next call or the wait. */
	for (unsigned msgs = 0; msgs < UEVENT_LATE_MAX; msgs++) {
		r = uevent_receive(fd, buf, sizeof(buf), &ev);
		if (r == -EAGAIN)
			return n; /* all read */
		if (r == -EBADMSG)
			continue;
		if (r < 0) {
			seen->complete = false; /* -ENOBUFS: events were lost */
			return r;
		}
		if (!uevent_devname_ok(ev.devname) || !discover_name_valid(ev.devname))
			continue;
		int i = discover_seen_find(seen, ev.devname);
		if (ev.action && strcmp(ev.action, "remove") == 0 && i >= 0) {
			/* The name may come back as another disk: read it again then. */
			seen->e[i] = seen->e[--seen->n];
			continue;
		}
		if (i >= 0 || !uevent_is_new_disk(&ev))
			continue;
		/* No room, not there yet (kernels before 4.20) or unreadable: the scan asks again. */
		if (discover_seen_add(sysfd, seen, ev.devname) < 0) {
			seen->complete = false;
			continue;
		}
		n++;
	}
	/* The bound reached: what is still queued is not in the set. */
	seen->complete = false;
	return n;
}

static bool discover_has_device(int sysfd, const char *name)
{
	char path[NAME_MAX + 16];
	struct stat st;

	snprintf(path, sizeof(path), "%s/device", name);
	return fstatat(sysfd, path, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

int discover_seen_scan(int rootfd, struct discover_seen *seen)
{
	_cleanup_close_ int sysfd = discover_open_sysfs(rootfd);
	bool complete = true;
	struct dirent *de;
	DIR *d;

	if (!seen)
		return -EINVAL;
	seen->complete = false;
	if (sysfd < 0)
		return sysfd;
	d = discover_list_sysfs(sysfd);
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.' || !discover_name_valid(de->d_name) || discover_seen_find(seen, de->d_name) >= 0)
			continue;
		int r = discover_seen_add(sysfd, seen, de->d_name);
		if (r == -ENOSPC) {
			complete = false;
			break;
		}
		/* A partition, or a disk with no device behind it (loop, ram, dm):
		 * no serial of its own, never a match. A device's disk without one
		 * may be an older kernel's, whose attribute comes later. */
		if (r == -ENOENT && (discover_is_partition(sysfd, de->d_name) || !discover_has_device(sysfd, de->d_name)))
			continue;
		if (r < 0)
			complete = false;
	}
	closedir(d);
	seen->complete = complete;
	return 0;
}

/* Opens (creating when missing) the directory `name` below dirfd, never
 * following a symlink: a link planted in dev/ must not redirect us. */
static int discover_mkdir_open(int dirfd, const char *name)
{
	if (mkdirat(dirfd, name, 0755) < 0 && errno != EEXIST)
		return -errno;
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

int discover_make_byid(int rootfd, const char *serial, size_t len, const char *name)
{
	char link[SERIAL_BYID_MAX];
	char target[SERIAL_BYID_MAX * 2 + DISCOVER_NAME_MAX];
	_cleanup_close_ int dirfd = -1;
	struct stat st;
	char *comp, *slash;
	size_t t = 0;
	int r;

	if (!discover_name_valid(name))
		return -EINVAL;
	r = serial_encode_byid(serial, len, link, sizeof(link));
	if (r < 0)
		return r;

	/* dev/disk/by-id, then one directory per '/' in the encoded serial
	 * (udev does the same), with the target climbing back out of each. */
	dirfd = fcntl(rootfd, F_DUPFD_CLOEXEC, 3);
	if (dirfd < 0)
		return -errno;
	memcpy(target, "../../", 6);
	t = 6;
	char dirs[] = DISCOVER_BYID_DIR "/";
	comp = dirs;
	for (int pass = 0; pass < 2; pass++) {
		while ((slash = strchr(comp, '/'))) {
			*slash = '\0';
			int fd = discover_mkdir_open(dirfd, comp);
			if (fd < 0)
				return fd;
			close(dirfd);
			dirfd = fd;
			if (pass == 1) {
				memcpy(target + t, "../", 3);
				t += 3;
			}
			comp = slash + 1;
		}
		if (pass == 0)
			comp = link;
	}
	snprintf(target + t, sizeof(target) - t, "%s", name);
	if (fstatat(dirfd, comp, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return 0; /* udev (or an earlier boot stage) made it */
	if (symlinkat(target, dirfd, comp) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* How libudev (and udev_available()) tell that udevd runs. */
static int discover_udev_runs(int rootfd)
{
	struct stat st;

	return fstatat(rootfd, "run/udev/control", &st, AT_SYMLINK_NOFOLLOW) == 0;
}

int discover_format_matches(const struct discover_result *result, char *buf, size_t size)
{
	char esc[LOG_ESCAPED_SIZE(DISCOVER_NAME_MAX)];
	size_t o = 0;

	if (size == 0)
		return -ENOBUFS;
	buf[0] = '\0';
	for (unsigned i = 0; i < result->n_matches && i < DISCOVER_AMBIGUOUS_MAX; i++) {
		log_escape(esc, sizeof(esc), result->matches[i], strnlen(result->matches[i], DISCOVER_NAME_MAX));
		int w = snprintf(buf + o, size - o, "%s/dev/%s", i ? "," : "", esc);
		if (w < 0 || (size_t)w >= size - o) {
			buf[o] = '\0';
			return -ENOBUFS;
		}
		o += (size_t)w;
	}
	return 0;
}

/* The single steps start from a clean result, as discover_run() does. */
static uint64_t discover_begin(struct discover_result *result)
{
	memset(result, 0, sizeof(*result));
	return timing_now_us();
}

static int discover_end(struct discover_result *result, uint64_t start, int r)
{
	result->elapsed_us = timing_now_us() - start;
	return r;
}

int discover_by_hint(int rootfd, const struct discover_opts *opts, struct discover_result *result)
{
	uint64_t start = discover_begin(result);

	return discover_end(result, start, discover_step_hint(rootfd, opts, result));
}

int discover_by_id(int rootfd, const struct discover_opts *opts, struct discover_result *result)
{
	uint64_t start = discover_begin(result);

	return discover_end(result, start, discover_step_id(rootfd, opts, result));
}

int discover_by_sysfs(int rootfd, const struct discover_opts *opts, struct discover_result *result)
{
	uint64_t start = discover_begin(result);

	return discover_end(result, start, discover_step_sysfs(rootfd, opts, result));
}

int discover_by_uevent(int rootfd, const struct discover_opts *opts, uint64_t deadline_us,
		       struct discover_result *result)
{
	uint64_t start = discover_begin(result);

	return discover_end(result, start, discover_step_uevent(rootfd, opts, deadline_us, result));
}

int discover_by_magic(int rootfd, const struct discover_opts *opts, struct discover_result *result)
{
	uint64_t start = discover_begin(result);

	return discover_end(result, start, discover_step_magic(rootfd, opts, result));
}

/* After a find: the by-id link later stages look for. When udevd runs the
 * link is its to make (it may not have got to this disk yet); making it too
 * would race with udev's own. */
static void discover_link(int rootfd, const struct discover_opts *opts, int r, const struct discover_result *result)
{
	if (r == 0 && opts->create_byid && result->kind == SERIAL_KIND_VIRTIO &&
	    result->method != DISCOVER_BYID && result->method != DISCOVER_MAGIC && !discover_udev_runs(rootfd)) {
		size_t len = opts->serial_len > SERIAL_VIRTIO_MAX ? SERIAL_VIRTIO_MAX : opts->serial_len;
		int k = discover_make_byid(rootfd, opts->serial, len, result->name);
		char edev[LOG_ESCAPED_SIZE(DISCOVER_NAME_MAX + 8)];
		if (k < 0 && k != -ENOENT)
			log_warn("initdata: can't create the by-id link for %s: %s",
				 discover_esc_name(edev, sizeof(edev), result->devnode), strerror(-k));
	}
}

int discover_run(int rootfd, const struct discover_opts *opts, struct discover_result *result)
{
	uint64_t start = timing_now_us();
	char esc[LOG_ESCAPED_SIZE(SERIAL_MAX)];
	int r = -ENOENT;

	memset(result, 0, sizeof(*result));
	if (!opts->serial || opts->serial_len == 0 || opts->serial_len > SERIAL_MAX) {
		r = -EINVAL;
		goto out;
	}
	if (opts->serial_len > SERIAL_VIRTIO_MAX)
		log_warn("initdata: serial=%s is longer than %d bytes; virtio disks are matched on the first %d",
			 log_escape(esc, sizeof(esc), opts->serial, opts->serial_len), SERIAL_VIRTIO_MAX,
			 SERIAL_VIRTIO_MAX);

	uint64_t tt = timing_now_us();
	if ((opts->methods & DISCOVER_HINT) && opts->hint && *opts->hint) {
		r = discover_step_hint(rootfd, opts, result);
		tt = timing_step("discover.hint", tt);
		if (r == 0 || r == -ENOTUNIQ)
			goto out;
	}
	if (opts->methods & DISCOVER_BYID) {
		r = discover_step_id(rootfd, opts, result);
		tt = timing_step("discover.byid", tt);
		if (r == 0)
			goto out;
	}
	if (opts->methods & DISCOVER_SYSFS) {
		r = discover_step_sysfs(rootfd, opts, result);
		tt = timing_step("discover.scan", tt);
		if (r != -ENOENT)
			goto out;
	}
	if ((opts->methods & DISCOVER_UEVENT) && opts->timeout_ms > 0 && (opts->uevent_fd >= 0 || opts->udev_waiter)) {
		r = discover_step_uevent(rootfd, opts, start + opts->timeout_ms * 1000, result);
		tt = timing_step("discover.wait", tt);
		if (r != -ENOENT)
			goto out;
	}
	if (opts->methods & DISCOVER_MAGIC)
		r = discover_step_magic(rootfd, opts, result);
	else
		r = -ENOENT;
out:
	tt = timing_now_us();
	discover_link(rootfd, opts, r, result);
	timing_step("discover.link", tt);
	result->elapsed_us = timing_now_us() - start;
	return r;
}


int discover_all(int rootfd, const struct discover_opts *opts, struct discover_set *set,
		 struct discover_result *result)
{
	uint64_t start = timing_now_us();
	char esc[LOG_ESCAPED_SIZE(SERIAL_MAX)];
	struct discover_target *it = NULL;
	int r = -ENOENT, k;

	memset(result, 0, sizeof(*result));
	if (opts) {
		if (!opts->serial || opts->serial_len == 0 || opts->serial_len > SERIAL_MAX)
			return -EINVAL;
		if (opts->serial_len > SERIAL_VIRTIO_MAX)
			log_warn("initdata: serial=%s is longer than %d bytes; virtio disks are matched on the first %d",
				 log_escape(esc, sizeof(esc), opts->serial, opts->serial_len), SERIAL_VIRTIO_MAX,
				 SERIAL_VIRTIO_MAX);
		if (set->n >= DISCOVER_TARGET_MAX)
			return -E2BIG;
		if (!set->seen)
			set->seen = opts->seen;
		/* initdata is one more target of the scan, the first */
		memmove(&set->t[1], &set->t[0], set->n * sizeof(set->t[0]));
		set->n++;
		it = &set->t[0];
		memset(it, 0, sizeof(*it));
		it->serial = opts->serial;
		it->serial_len = opts->serial_len;
		it->deadline_us = (opts->methods & DISCOVER_UEVENT) ? start + opts->timeout_ms * 1000 : 0;
		it->status = -ENOENT;
		/* the fast paths first: taken without a scan for initdata's sake,
		 * and its disk is not read again by the scan */
		if ((opts->methods & DISCOVER_HINT) && opts->hint && *opts->hint) {
			r = discover_step_hint(rootfd, opts, result);
			if (r == -ENOTUNIQ)
				goto out;
		}
		if (r != 0 && (opts->methods & DISCOVER_BYID))
			r = discover_step_id(rootfd, opts, result);
		if (r == 0) {
			it->done = true;
			it->status = 0;
			util_strlcpy(set->skip, result->name, sizeof(set->skip));
		}
		if (!(opts->methods & DISCOVER_SYSFS))
			it->done = true;
	}
	for (size_t i = 0; i < set->n; i++)
		if (!set->t[i].done)
			set->t[i].status = -ENOENT;
	k = discover_set_scan(rootfd, set);
	if (k < 0)
		log_warn("discover: %s: %s", DISCOVER_SYSFS_DIR, strerror(-k));
	k = discover_set_wait(rootfd, set);
	if (k < 0)
		log_warn("discover: waiting for disks: %s", strerror(-k));
	if (!it)
		goto out;
	result->examined += set->examined;
	if (!it->done) {
		r = it->status;
		if (r == 0)
			discover_found(result, it->result.name, it->result.method, it->result.kind);
		else if (r == -ENOTUNIQ)
			discover_ambiguous(result, it->result.matches, it->result.n_matches, it->result.method);
	}
	if (r == -ENOENT && (opts->methods & DISCOVER_MAGIC))
		r = discover_step_magic(rootfd, opts, result);
out:
	if (it)
		it->status = r;
	if (opts)
		discover_link(rootfd, opts, r, result);
	result->elapsed_us = timing_now_us() - start;
	return r;
}
