/* SPDX-License-Identifier: Apache-2.0 */
/* Finding the initdata disk by serial, relative to a root directory fd:
 * hint -> by-id -> sysfs -> uevent -> magic (CONTRACT section 2). It never
 * reads device contents unless the magic method is asked for. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cocoinit/serial.h"

enum discover_method {
	DISCOVER_HINT = 1u << 0,
	DISCOVER_BYID = 1u << 1,
	DISCOVER_SYSFS = 1u << 2,
	DISCOVER_UEVENT = 1u << 3,
	DISCOVER_MAGIC = 1u << 4,
};
#define DISCOVER_AUTO (DISCOVER_HINT | DISCOVER_BYID | DISCOVER_SYSFS | DISCOVER_UEVENT)

/* "hint", "by-id", "sysfs", "uevent", "magic" */
const char *discover_method_name(enum discover_method m);

#define DISCOVER_NAME_MAX 64      /* a block device name below /sys/class/block */
#define DISCOVER_AMBIGUOUS_MAX 8  /* devices named in an "ambiguous" report */
/* A buffer for discover_format_matches(): every name escaped, "/dev/" and ",". */
#define DISCOVER_MATCHES_SIZE (DISCOVER_AMBIGUOUS_MAX * (DISCOVER_NAME_MAX * 4 + 6) + 1)

struct udev_waiter;

/* Serials read ahead, while the modules still probe the other disks
 * (discover_prefetch()): a later scan takes a disk's answer from here
 * instead of asking the device again. Whole disks only, at most
 * DISCOVER_SEEN_MAX (further ones are read by the scan as usual). */
#define DISCOVER_SEEN_MAX 64
struct discover_seen {
	size_t n;
	/* Every disk there is has an entry: discover_seen_scan() listed the
	 * disks after the uevent socket was bound, and discover_prefetch() read
	 * every disk announced since. The sysfs step then takes the disks from
	 * here and lists nothing. Any doubt (an event lost, a serial not read,
	 * no room) clears it, and the step lists sys/class/block as always. */
	bool complete;
	struct {
		char name[DISCOVER_NAME_MAX];
		char serial[SERIAL_MAX + 1];
		size_t len;
		enum serial_kind kind;
	} e[DISCOVER_SEEN_MAX];
};

struct discover_opts {
	const char *serial; /* bytes, not necessarily terminated */
	size_t serial_len;
	const char *hint;   /* NULL, "vdb", "nvme0n1", "sda" or "0000:00:05.0" */
	unsigned methods;   /* DISCOVER_* bitmask */
	uint64_t timeout_ms; /* for DISCOVER_UEVENT; 0 = do not wait */
	int uevent_fd;      /* a bound uevent socket (uevent_open()), or -1 */
	/* udevd's events (udev_waiter_open(), libudev builds only), or NULL;
	 * when set, DISCOVER_UEVENT waits on it instead of uevent_fd. */
	struct udev_waiter *udev_waiter;
	/* Make dev/disk/by-id/virtio-<enc> when missing, unless udevd runs
	 * (run/udev/control exists): then the link is udev's to make. */
	bool create_byid;
	/* Serials read ahead (discover_prefetch()), or NULL. */
	const struct discover_seen *seen;
};

struct discover_result {
	char name[DISCOVER_NAME_MAX];       /* "vdb" */
	char devnode[DISCOVER_NAME_MAX + 8]; /* "/dev/vdb" */
	enum discover_method method;
	enum serial_kind kind;
	unsigned examined;                  /* disks whose serial was read */
	unsigned retries;                   /* uevent: second looks queued */
	uint64_t elapsed_us;
	/* On -ENOTUNIQ: the matching devices. */
	unsigned n_matches;
	char matches[DISCOVER_AMBIGUOUS_MAX][DISCOVER_NAME_MAX];
};

/* Runs the methods in opts->methods in CONTRACT order. Returns 0 (found),
 * -ENOENT (not found), -ENOTUNIQ (ambiguous; result->matches filled) or
 * another -errno. result is always initialised (examined, elapsed_us). */
int discover_run(int rootfd, const struct discover_opts *opts, struct discover_result *result);

/* Single steps, each returning as discover_run does. */
int discover_by_hint(int rootfd, const struct discover_opts *opts, struct discover_result *result);
int discover_by_id(int rootfd, const struct discover_opts *opts, struct discover_result *result);
int discover_by_sysfs(int rootfd, const struct discover_opts *opts, struct discover_result *result);
int discover_by_uevent(int rootfd, const struct discover_opts *opts, uint64_t deadline_us,
		       struct discover_result *result);
int discover_by_magic(int rootfd, const struct discover_opts *opts, struct discover_result *result);

/* Checks one whole disk below sys/class/block: 1 when its serial matches,
 * 0 when not, -errno when it can't be read (partitions give 0). */
int discover_check_disk(int rootfd, const char *name, const struct discover_opts *opts,
			enum serial_kind *ret_kind);

/* Opens what DISCOVER_UEVENT waits on, into opts: udevd's monitor when
 * built with libudev and udevd runs below rootfd (run/udev/control), else
 * the kernel uevent socket. Call it before discover_run(), so that a disk
 * added during the scan is still announced. 0 or -errno (nothing opened). */
int discover_waiter_open(int rootfd, struct discover_opts *opts);
/* Closes what discover_waiter_open() opened; opts can be reused after. */
void discover_waiter_close(struct discover_opts *opts);

/* Several disks found at once (initdata and every extension), each serial
 * read once: one sysfs scan matches every disk against every target, one
 * wait on uevents serves every target still missing, each with its own
 * deadline. A disk whose serial starts with stray_prefix and that no target
 * names is recorded as a stray (the caller refuses the boot). */
#define DISCOVER_TARGET_MAX 17
#define DISCOVER_STRAY_MAX 8

struct discover_target {
	const char *serial; /* bytes, compared as serial_matches() does */
	size_t serial_len;
	uint64_t deadline_us; /* CLOCK_BOOTTIME; waited for only while ahead */
	bool done;            /* found by the caller already (hint, by-id): not matched */
	/* -ENOENT before the first scan; then 0 found, -ENOENT missing,
	 * -ENOTUNIQ two or more disks. */
	int status;
	struct discover_result result; /* name, devnode, method, kind, matches */
};

struct discover_set {
	struct discover_target t[DISCOVER_TARGET_MAX];
	size_t n;
	const char *stray_prefix; /* "extension-", or NULL */
	/* A disk whose serial was read already (the hint's or by-id's): skipped. */
	char skip[DISCOVER_NAME_MAX];
	int uevent_fd;                   /* -1: no wait */
	struct udev_waiter *udev_waiter; /* or NULL */
	const struct discover_seen *seen; /* serials read ahead, or NULL */
	/* Out */
	unsigned examined;
	unsigned n_strays; /* may exceed DISCOVER_STRAY_MAX; names kept up to it */
	char strays[DISCOVER_STRAY_MAX][DISCOVER_NAME_MAX];
	char stray_serial[SERIAL_MAX + 1]; /* the first stray's serial */
	size_t stray_serial_len;
	unsigned rescans; /* sysfs rescans after a lost uevent */
	unsigned retries; /* second looks queued (a serial not there yet) */
};

/* One scan of sys/class/block against every target not done. 0, or -errno
 * when sys/class/block can't be read. Targets' status: 0, -ENOENT, -ENOTUNIQ. */
int discover_set_scan(int rootfd, struct discover_set *set);

/* Waits on set->uevent_fd / udev_waiter for the targets still missing,
 * until each one's deadline; a late disk whose serial a found target has
 * makes that target ambiguous, a late stray is recorded; either ends the
 * wait. After a lost uevent (queue overrun) every disk is looked at again.
 * 0, or -errno of the wait. */
int discover_set_wait(int rootfd, struct discover_set *set);

/* initdata (opts, or NULL when off) and the targets already in set, found
 * together: initdata's hint and by-id first (their hit is not read again),
 * then one scan and one wait for all. Inserts initdata as set->t[0] (set->n
 * grows by one). Returns initdata's result as discover_run() does (-ENOENT
 * when opts is NULL); the other targets' in set. */
int discover_all(int rootfd, const struct discover_opts *opts, struct discover_set *set,
		 struct discover_result *result);

/* Writes "/dev/vdb,/dev/vdd" for result->matches (names escaped as in
 * log_escape()) to buf, size DISCOVER_MATCHES_SIZE or less. 0, or -ENOBUFS
 * when not every name fit (buf holds the whole entries that did). */
int discover_format_matches(const struct discover_result *result, char *buf, size_t size);

/* Reads, without waiting, the serial of each new whole disk the uevents
 * queued on fd announce, into seen (a disk already there is not read
 * again; a `remove` drops its entry). Meant to run while the modules load:
 * the kernel probes the next disk while this one answers. The events are
 * consumed: call it before the scan that will take the answers. Returns the
 * number of serials read, or -errno (sys/class/block can't be opened, the
 * socket failed; -ENOBUFS: events were lost, the scan reads those disks).
 * At most UEVENT_LATE_MAX messages are taken per call. */
int discover_prefetch(int rootfd, int fd, struct discover_seen *seen);
/* Lists rootfd/sys/class/block once and reads the serial of every disk not
 * in seen yet; seen->complete is set unless a serial could not be read or
 * there was no room. Called with the uevent socket already bound, so that a
 * disk added after the listing is announced on it. 0 or -errno. */
int discover_seen_scan(int rootfd, struct discover_seen *seen);
/* The entry of seen for name, or -1. */
int discover_seen_find(const struct discover_seen *seen, const char *name);

/* Creates dev/disk/by-id/virtio-<enc(serial)> -> ../../<name> when absent. */
int discover_make_byid(int rootfd, const char *serial, size_t len, const char *name);
