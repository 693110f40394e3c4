/* SPDX-License-Identifier: Apache-2.0 */
/* Kernel uevents: the parser on good and hostile messages, the sender rules,
 * and the real netlink socket: a real kernel event (replayed by writing "add"
 * to a block device's uevent file) is received, a userspace forgery dropped. */
#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <poll.h>
#include <stdbool.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "cocoinit/log.h"
#include "cocoinit/timing.h"
#include "cocoinit/uevent.h"
#include "cocoinit/util.h"
#include "fixture.h"

/* Messages are written with \0 separators; M() keeps the final one. */
#define M(s) s, sizeof(s) - 1

static const char GOOD[] = "add@/devices/pci0000:00/0000:00:05.0/virtio2/block/vdb\0"
			   "ACTION=add\0DEVPATH=/devices/pci0000:00/0000:00:05.0/virtio2/block/vdb\0"
			   "SUBSYSTEM=block\0MAJOR=254\0MINOR=16\0DEVNAME=vdb\0DEVTYPE=disk\0"
			   "DISKSEQ=3\0SEQNUM=1234\0";

static void test_parse_good(void **state)
{
	struct uevent ev;

	assert_int_equal(uevent_parse(GOOD, sizeof(GOOD) - 1, &ev), 0);
	assert_string_equal(ev.action, "add");
	assert_string_equal(ev.devpath, "/devices/pci0000:00/0000:00:05.0/virtio2/block/vdb");
	assert_string_equal(ev.subsystem, "block");
	assert_string_equal(ev.devname, "vdb");
	assert_string_equal(ev.devtype, "disk");
	assert_true(ev.devname >= GOOD && ev.devname < GOOD + sizeof(GOOD));
	assert_true(uevent_is_new_disk(&ev));

	/* keys in any order; DEVNAME/DEVTYPE optional */
	assert_int_equal(uevent_parse(M("change@/devices/virtual/block/loop0\0SEQNUM=9\0SUBSYSTEM=block\0"
					"DEVPATH=/devices/virtual/block/loop0\0ACTION=change\0DEVTYPE=disk\0"
					"DEVNAME=loop0\0"),
				      &ev),
			 0);
	assert_string_equal(ev.action, "change");
	assert_true(uevent_is_new_disk(&ev));

	assert_int_equal(uevent_parse(M("add@/devices/x/block/vdb/vdb1\0ACTION=add\0DEVPATH=/devices/x/block/vdb/vdb1\0"
					"SUBSYSTEM=block\0DEVNAME=vdb1\0DEVTYPE=partition\0"),
				      &ev),
			 0);
	assert_false(uevent_is_new_disk(&ev));

	assert_int_equal(uevent_parse(M("remove@/devices/x/block/vdb\0ACTION=remove\0DEVPATH=/devices/x/block/vdb\0"
					"SUBSYSTEM=block\0DEVNAME=vdb\0DEVTYPE=disk\0"),
				      &ev),
			 0);
	assert_false(uevent_is_new_disk(&ev));

	assert_int_equal(uevent_parse(M("add@/devices/virtual/net/lo\0ACTION=add\0DEVPATH=/devices/virtual/net/lo\0"
					"SUBSYSTEM=net\0INTERFACE=lo\0"),
				      &ev),
			 0);
	assert_null(ev.devname);
	assert_false(uevent_is_new_disk(&ev));
}

static void expect_bad(const char *buf, size_t len)
{
	struct uevent ev = { .action = "untouched" };

	assert_int_equal(uevent_parse(buf, len, &ev), -EBADMSG);
	assert_string_equal(ev.action, "untouched");
}

static void test_parse_bad(void **state)
{
	expect_bad(NULL, 0);
	expect_bad("", 0);
	expect_bad(M("\0"));
	/* udevd's rebroadcast framing */
	expect_bad(M("libudev\0\xfe\xed\xca\xfe" "ACTION=add\0DEVPATH=/x\0SUBSYSTEM=block\0"));
	/* no header, header without '@', empty action, devpath not absolute */
	expect_bad(M("ACTION=add\0DEVPATH=/x\0SUBSYSTEM=block\0"));
	expect_bad(M("add/x\0ACTION=add\0DEVPATH=/x\0SUBSYSTEM=block\0"));
	expect_bad(M("@/x\0ACTION=\0DEVPATH=/x\0SUBSYSTEM=block\0"));
	expect_bad(M("add@x\0ACTION=add\0DEVPATH=x\0SUBSYSTEM=block\0"));
	/* required keys missing or empty */
	expect_bad(M("add@/x\0DEVPATH=/x\0SUBSYSTEM=block\0"));
	expect_bad(M("add@/x\0ACTION=add\0SUBSYSTEM=block\0"));
	expect_bad(M("add@/x\0ACTION=add\0DEVPATH=/x\0"));
	expect_bad(M("add@/x\0ACTION=add\0DEVPATH=/x\0SUBSYSTEM=\0"));
	/* header and keys disagree */
	expect_bad(M("add@/x\0ACTION=change\0DEVPATH=/x\0SUBSYSTEM=block\0"));
	expect_bad(M("add@/x\0ACTION=add\0DEVPATH=/y\0SUBSYSTEM=block\0"));
	expect_bad(M("add@/x\0ACTION=addd\0DEVPATH=/x\0SUBSYSTEM=block\0"));
	/* a key given twice */
	expect_bad(M("add@/x\0ACTION=add\0DEVPATH=/x\0SUBSYSTEM=block\0DEVNAME=vdb\0DEVNAME=vda\0"));
	expect_bad(M("add@/x\0ACTION=add\0DEVPATH=/x\0SUBSYSTEM=net\0SUBSYSTEM=block\0"));
	/* the last string runs off the end of the buffer */
	static const char cut[] = "add@/x\0ACTION=add\0DEVPATH=/x\0SUBSYSTEM=block";
	expect_bad(cut, sizeof(cut) - 1);
	/* every prefix of a good message that ends mid-string is refused */
	for (size_t n = 1; n < sizeof(GOOD) - 1; n++)
		if (GOOD[n - 1] != '\0')
			expect_bad(GOOD, n);
}

static void test_parse_lookalike_keys(void **state)
{
	struct uevent ev;

	/* DEVNAMEX= and XDEVNAME= are other keys, not DEVNAME */
	assert_int_equal(uevent_parse(M("add@/x\0ACTION=add\0DEVPATH=/x\0SUBSYSTEM=block\0DEVNAMEX=evil\0"
					"XDEVNAME=evil\0DEVTYPE=disk\0"),
				      &ev),
			 0);
	assert_null(ev.devname);
	/* the other keys still count: only the lookalikes are passed over */
	assert_string_equal(ev.devtype, "disk");
	assert_true(uevent_is_new_disk(&ev));
	/* and the real key next to a lookalike is the one taken */
	assert_int_equal(uevent_parse(M("add@/x\0ACTION=add\0DEVPATH=/x\0SUBSYSTEM=block\0DEVNAMEX=evil\0"
					"DEVNAME=vdb\0DEVTYPE=disk\0"),
				      &ev),
			 0);
	assert_string_equal(ev.devname, "vdb");
}

static void test_check_sender(void **state)
{
	struct ucred root = { .pid = 0, .uid = 0, .gid = 0 }, user = { .pid = 0, .uid = 1000, .gid = 0 };

	assert_int_equal(uevent_check_sender(0, &root, 200, 0), 0);
	assert_int_equal(uevent_check_sender(0, &root, 32, 0), 0);
	assert_int_equal(uevent_check_sender(0, &root, 31, 0), -EBADMSG);
	assert_int_equal(uevent_check_sender(0, &root, 200, 1), -EBADMSG);
	assert_int_equal(uevent_check_sender(0, NULL, 200, 0), -EBADMSG);
	assert_int_equal(uevent_check_sender(0, &user, 200, 0), -EBADMSG);
	assert_int_equal(uevent_check_sender(4242, &root, 200, 0), -EBADMSG);
}

/* --- the real socket --- */

static const char *target_disk(void)
{
	static char name[64];
	static const char *const prefer[] = { "loop0", "vda", "loop1" };
	char p[128];

	for (size_t i = 0; i < ARRAY_SIZE(prefer); i++) {
		snprintf(p, sizeof(p), "/sys/class/block/%s/uevent", prefer[i]);
		if (access(p, W_OK) == 0) {
			util_strlcpy(name, prefer[i], sizeof(name));
			return name;
		}
	}
	fail_msg("no block device in /sys/class/block to replay a uevent for");
	return NULL;
}

static void trigger(const char *disk)
{
	char p[128];
	int fd;

	snprintf(p, sizeof(p), "/sys/class/block/%s/uevent", disk);
	fd = open(p, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		fail_msg("cannot open %s: %s (this test needs root)", p, strerror(errno));
	assert_int_equal(util_write_all(fd, "add", 3), 0);
	close(fd);
}

static void test_open_flags(void **state)
{
	int fd = uevent_open();
	struct sockaddr_nl sa;
	socklen_t sl = sizeof(sa);

	assert_true(fd >= 0);
	fixture_assert_cloexec(fd);
	assert_true(fcntl(fd, F_GETFL) & O_NONBLOCK);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
	assert_int_equal(sa.nl_groups, 1);
	fixture_assert_sockopt(fd, SOL_SOCKET, SO_PASSCRED, 1);
	close(fd);
}

static void test_real_event(void **state)
{
	const char *disk = target_disk();
	char buf[UEVENT_BUFFER_SIZE], suffix[80];
	int fd = uevent_open(), seen = 0;

	assert_true(fd >= 0);
	trigger(disk);
	snprintf(suffix, sizeof(suffix), "/%s", disk);
	/* Other events may interleave; the 20 s bound only stops a hang. */
	uint64_t deadline = timing_now_us() + 20 * 1000000ull;
	while (!seen) {
		struct uevent ev;
		int r = uevent_receive(fd, buf, sizeof(buf), &ev);
		if (r == -EAGAIN) {
			struct pollfd pfd = { .fd = fd, .events = POLLIN };
			int t = timing_poll_ms(deadline);
			if (t == 0)
				fail_msg("no uevent for %s after writing add to its uevent file", disk);
			poll(&pfd, 1, t);
			continue;
		}
		if (r == -EBADMSG)
			continue;
		assert_int_equal(r, 0);
		if (!ev.devname || strcmp(ev.devname, disk) != 0)
			continue;
		seen = 1;
		assert_string_equal(ev.action, "add");
		assert_string_equal(ev.subsystem, "block");
		assert_string_equal(ev.devtype, "disk");
		size_t dl = strlen(ev.devpath);
		assert_true(dl > strlen(suffix));
		assert_string_equal(ev.devpath + dl - strlen(suffix), suffix);
		assert_true(uevent_is_new_disk(&ev));
	}
	close(fd);
}

struct waitctx {
	const char *want;
	int calls;
	int eagain_first;
	char last[64];
};

static int check_cb(const char *devname, void *ctx)
{
	struct waitctx *w = ctx;

	if (strcmp(devname, w->want) != 0)
		return 0;
	w->calls++;
	util_strlcpy(w->last, devname, sizeof(w->last));
	if (w->eagain_first && w->calls == 1)
		return -EAGAIN; /* "serial attribute not there yet" */
	return 7;
}

static void test_wait_disk(void **state)
{
	struct waitctx w = { .want = target_disk() };
	int fd = uevent_open();

	assert_true(fd >= 0);
	trigger(w.want);
	assert_int_equal(uevent_wait_disk(fd, timing_now_us() + 20 * 1000000ull, check_cb, &w), 7);
	assert_int_equal(w.calls, 1);
	assert_string_equal(w.last, w.want);

	/* -EAGAIN: the same disk is checked once more, without a new event */
	w.calls = 0;
	w.eagain_first = 1;
	trigger(w.want);
	assert_int_equal(uevent_wait_disk(fd, timing_now_us() + 20 * 1000000ull, check_cb, &w), 7);
	assert_int_equal(w.calls, 2);
	close(fd);
}

/* Two real block devices whose uevent files take writes. */
static void two_disks(const char **a, const char **b)
{
	static const char *const names[] = { "loop0", "loop1", "loop2", "vda", "zram0" };
	const char *found[2] = { NULL, NULL };
	size_t n = 0;
	char p[128];

	for (size_t i = 0; i < ARRAY_SIZE(names) && n < 2; i++) {
		snprintf(p, sizeof(p), "/sys/class/block/%s/uevent", names[i]);
		if (access(p, W_OK) == 0)
			found[n++] = names[i];
	}
	if (n < 2)
		fail_msg("fewer than two block devices to replay uevents for");
	*a = found[0];
	*b = found[1];
}

/* Counts every name it is asked about, and passes on them all. */
struct seenctx {
	char names[8][64];
	size_t n;
	unsigned calls;
	const char *refire; /* a disk to announce again on each call (flood) */
	unsigned cap;
};

static int seen_cb(const char *devname, void *ctx)
{
	struct seenctx *s = ctx;
	size_t i;

	s->calls++;
	for (i = 0; i < s->n; i++)
		if (strcmp(s->names[i], devname) == 0)
			break;
	if (i == s->n && s->n < ARRAY_SIZE(s->names))
		util_strlcpy(s->names[s->n++], devname, sizeof(s->names[0]));
	if (s->refire) {
		if (s->calls > s->cap)
			return -ELOOP; /* the wait never ended: the test fails on this value */
		trigger(s->refire);
	}
	return 0;
}

static bool seen(const struct seenctx *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->names[i], name) == 0)
			return true;
	return false;
}

static void test_wait_disk_timeout(void **state)
{
	struct seenctx s = { .n = 0 };
	const char *a, *b;
	int fd = uevent_open();

	assert_true(fd >= 0);
	two_disks(&a, &b);
	trigger(a);
	trigger(b);
	/* a deadline already passed: both queued events are looked at, then -ETIMEDOUT */
	assert_int_equal(uevent_wait_disk(fd, timing_now_us(), seen_cb, &s), -ETIMEDOUT);
	if (!seen(&s, a) || !seen(&s, b))
		fail_msg("queued events for %s and %s: %s%s looked at", a, b, seen(&s, a) ? a : "",
			 seen(&s, b) ? b : "");
	/* nothing queued any more: no call at all */
	s.calls = 0;
	assert_int_equal(uevent_wait_disk(fd, timing_now_us(), seen_cb, &s), -ETIMEDOUT);
	assert_int_equal(s.calls, 0);
	assert_int_equal(uevent_wait_disk(-1, timing_now_us(), seen_cb, &s), -EINVAL);
	close(fd);
}

/* A host that never stops sending events: every look makes the disk
 * announce itself again, so the queue is never empty. The wait still ends
 * at the deadline, after at most UEVENT_LATE_MAX late messages. */
static void test_wait_disk_flood_ends(void **state)
{
	struct seenctx s = { .refire = target_disk(), .cap = 20000 };
	int fd = uevent_open();

	assert_true(fd >= 0);
	trigger(s.refire);
	assert_int_equal(uevent_wait_disk(fd, timing_now_us() + 50 * 1000, seen_cb, &s), -ETIMEDOUT);
	assert_true(s.calls >= 1);
	assert_true(s.calls <= s.cap);
	close(fd);
}

/* A receive queue that overran: the wait says so instead of waiting on for
 * an `add` that was lost. */
static void test_wait_disk_overrun(void **state)
{
	struct seenctx s = { .n = 0 };
	const char *disk = target_disk();
	int r = 0, one = 1;

	/* Other processes' events share the queue: a round may be drained
	 * before it overruns, so a few rounds, each on a fresh socket. */
	for (int round = 0; round < 5 && r != -ENOBUFS; round++) {
		int fd = uevent_open();
		assert_true(fd >= 0);
		/* the smallest queue the kernel allows (it doubles and floors the value) */
		assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &one, sizeof(one)), 0);
		for (int i = 0; i < 200; i++)
			trigger(disk);
		r = uevent_wait_disk(fd, timing_now_us() + 2 * 1000000ull, seen_cb, &s);
		if (r != -ENOBUFS)
			assert_int_equal(r, -ETIMEDOUT);
		close(fd);
	}
	assert_int_equal(r, -ENOBUFS);
}

static void test_userspace_forgery_dropped(void **state)
{
	static const char forged[] = "add@/devices/virtual/block/forged0\0ACTION=add\0"
				     "DEVPATH=/devices/virtual/block/forged0\0SUBSYSTEM=block\0"
				     "DEVNAME=forged0\0DEVTYPE=disk\0SEQNUM=1\0";
	char logpath[] = "/tmp/cocoinit-uevent-log-XXXXXX", logbuf[16384] = "", want[64];
	struct sockaddr_nl me, to = { .nl_family = AF_NETLINK, .nl_pid = 0, .nl_groups = 1 };
	struct sockaddr_nl bind_sa = { .nl_family = AF_NETLINK };
	socklen_t sl = sizeof(me);
	struct waitctx w = { .want = "forged0" };
	int fd = uevent_open(), tx, logfd;

	assert_true(fd >= 0);
	tx = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_KOBJECT_UEVENT);
	assert_true(tx >= 0);
	assert_int_equal(bind(tx, (struct sockaddr *)&bind_sa, sizeof(bind_sa)), 0);
	assert_int_equal(getsockname(tx, (struct sockaddr *)&me, &sl), 0);
	assert_true(me.nl_pid != 0);

	logfd = mkstemp(logpath);
	assert_true(logfd >= 0);
	log_set_fd(dup(logfd), LOG_SINK_PLAIN);
	log_set_level(LOG_LVL_DEBUG);

	/* as root the multicast send is allowed: the kernel queues it for us */
	if (sendto(tx, forged, sizeof(forged) - 1, 0, (struct sockaddr *)&to, sizeof(to)) < 0)
		fail_msg("sending to uevent group 1: %s (this test needs root)", strerror(errno));
	assert_int_equal(uevent_wait_disk(fd, timing_now_us(), check_cb, &w), -ETIMEDOUT);
	assert_int_equal(w.calls, 0);

	log_set_fd(-1, LOG_SINK_PLAIN);
	log_set_level(LOG_LVL_INFO);
	assert_true(util_read_file_at(AT_FDCWD, logpath, logbuf, sizeof(logbuf) - 1, false) > 0);
	snprintf(want, sizeof(want), "pid=%u ", (unsigned)me.nl_pid);
	if (!strstr(logbuf, "uevent: dropped a message") || !strstr(logbuf, want))
		fail_msg("the forged message was not seen and dropped; log:\n%s", logbuf);
	unlink(logpath);
	close(logfd);
	close(tx);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_good),
		cmocka_unit_test(test_parse_bad),
		cmocka_unit_test(test_parse_lookalike_keys),
		cmocka_unit_test(test_check_sender),
		cmocka_unit_test(test_open_flags),
		cmocka_unit_test(test_real_event),
		cmocka_unit_test(test_wait_disk),
		cmocka_unit_test(test_wait_disk_timeout),
		cmocka_unit_test(test_wait_disk_flood_ends),
		cmocka_unit_test(test_wait_disk_overrun),
		cmocka_unit_test(test_userspace_forgery_dropped),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
