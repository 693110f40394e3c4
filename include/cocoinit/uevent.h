/* SPDX-License-Identifier: Apache-2.0 */
/* Kernel uevents from NETLINK_KOBJECT_UEVENT group 1: the socket, sender
 * checks (kernel only, uid 0, credentials present) and a by-key parser. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define UEVENT_BUFFER_SIZE 8192
/* Longest DEVNAME handed to a check callback (a name below sys/class/block). */
#define UEVENT_DEVNAME_MAX 64
/* How long uevent_wait_disk() waits before re-checking a disk whose check
 * returned -EAGAIN. */
#define UEVENT_RETRY_MS 50

struct ucred;

struct uevent {
	const char *action;    /* "add", "remove", "change", ... */
	const char *devpath;   /* "/devices/pci0000:00/.../block/vdb" */
	const char *subsystem; /* "block" */
	const char *devname;   /* "vdb" */
	const char *devtype;   /* "disk" or "partition" */
};

/* Parses a kernel uevent payload ("add@/devices/...\0KEY=VALUE\0..."). The
 * pointers in ret point into buf. Returns 0, or -EBADMSG for a message that
 * is not a kernel uevent or lacks ACTION/DEVPATH/SUBSYSTEM. */
int uevent_parse(const char *buf, size_t len, struct uevent *ret);

/* Opens and binds a SOCK_CLOEXEC|SOCK_NONBLOCK netlink socket to group 1 with
 * SO_PASSCRED. Returns the fd or -errno. */
int uevent_open(void);

/* The drop rules for a received message: 0 when it came from the kernel
 * (nl_pid 0), with credentials of uid 0, whole (not truncated) and at least
 * 32 bytes long; -EBADMSG otherwise. cred may be NULL (none were sent). */
int uevent_check_sender(uint32_t nl_pid, const struct ucred *cred, size_t len, int truncated);

/* Receives one message into buf (size >= UEVENT_BUFFER_SIZE recommended) and
 * parses it. Returns 0, -EAGAIN when nothing is queued, -EBADMSG for a
 * message that was dropped (truncated, short, wrong sender, no credentials). */
int uevent_receive(int fd, char *buf, size_t size, struct uevent *ret);

/* True when ev announces a new whole disk ("add"/"change", block, disk). */
int uevent_is_new_disk(const struct uevent *ev);

/* Messages still looked at once the deadline has passed (about what the
 * receive buffer holds): past it, a host sending events without pause must
 * not hold the wait open. */
#define UEVENT_LATE_MAX 1024

/* Waits on fd until deadline_us (CLOCK_BOOTTIME) for new whole disks; for
 * each calls check(devname, ctx). Returns the first nonzero value check
 * returns (>0 found, <0 error), or -ETIMEDOUT at the deadline. Uses poll(),
 * never sleeps in a loop. A check returning -EAGAIN ("not ready yet", e.g.
 * the serial attribute is not there) gets that devname re-checked once,
 * UEVENT_RETRY_MS later or at the deadline, whichever comes first; a second
 * -EAGAIN counts as "not this disk". Events already queued are looked at
 * even when the deadline has passed on entry, up to UEVENT_LATE_MAX of them.
 * -ENOBUFS: the receive queue overran and events were lost; the caller
 * looks at every disk again (a sysfs scan) and then waits again. */
int uevent_wait_disk(int fd, uint64_t deadline_us, int (*check)(const char *devname, void *ctx), void *ctx);

/* The one-more-look list shared by the kernel and udev waiters: a disk
 * whose check said -EAGAIN (its serial attribute not there yet) is checked
 * once more UEVENT_RETRY_MS later, or at the deadline, whichever is first. */
#define UEVENT_RETRY_MAX 8
struct uevent_retry {
	size_t n;
	unsigned queued; /* looks queued so far (tests assert the retry ran) */
	struct {
		char name[UEVENT_DEVNAME_MAX];
		uint64_t at_us;
	} e[UEVENT_RETRY_MAX];
};

/* uevent_wait_disk() with the caller's retry list, kept across calls (after
 * -ENOBUFS the caller rescans and waits again with the same list). */
int uevent_wait_disk_retry(int fd, uint64_t deadline_us, struct uevent_retry *retry,
			   int (*check)(const char *devname, void *ctx), void *ctx);

/* Called with the name each time a look is queued; NULL in production. A
 * test seam: it lets a test make the attribute appear between the looks. */
extern void (*uevent_retry_queued_hook)(const char *name);

/* Whether name can be used as one path component below sys/class/block. */
int uevent_devname_ok(const char *name);

/* Checks name; on -EAGAIN queues it for one more look and returns 0. */
int uevent_retry_check(struct uevent_retry *q, const char *name, int (*check)(const char *devname, void *ctx),
		       void *ctx);

/* Looks again at the queued names that are due (all of them when expired).
 * Returns the first result other than 0 and -EAGAIN, else 0. */
int uevent_retry_due(struct uevent_retry *q, int expired, int (*check)(const char *devname, void *ctx), void *ctx);

/* poll() timeout in ms: until the deadline or the next queued look. */
int uevent_retry_poll_ms(const struct uevent_retry *q, uint64_t deadline_us);

/* The tail of a wait loop, once the events queued on fd are handled: the
 * looks that are due, then -ETIMEDOUT past the deadline, else a poll() on
 * fd until it is readable, the next queued look or the deadline. Returns 0
 * to receive again, else what the wait returns (a check's result, -errno). */
int uevent_retry_wait(struct uevent_retry *q, int fd, uint64_t deadline_us,
		      int (*check)(const char *devname, void *ctx), void *ctx);
