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
};

struct discover_result {
	char name[DISCOVER_NAME_MAX];       /* "vdb" */
	char devnode[DISCOVER_NAME_MAX + 8]; /* "/dev/vdb" */
	enum discover_method method;
	enum serial_kind kind;
	unsigned examined;                  /* disks whose serial was read */
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

/* Writes "/dev/vdb,/dev/vdd" for result->matches (names escaped as in
 * log_escape()) to buf, size DISCOVER_MATCHES_SIZE or less. 0, or -ENOBUFS
 * when not every name fit (buf holds the whole entries that did). */
int discover_format_matches(const struct discover_result *result, char *buf, size_t size);

/* Creates dev/disk/by-id/virtio-<enc(serial)> -> ../../<name> when absent. */
int discover_make_byid(int rootfd, const char *serial, size_t len, const char *name);
