/* SPDX-License-Identifier: Apache-2.0 */
/* listenfds: taking a passed listener by name with real sockets placed at
 * fds 3.. and real LISTEN_* variables, and the passfd acceptor with real
 * connections from forked children (AF_UNIX, keyed by the child's pid). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <linux/vm_sockets.h>

#include <cmocka.h>

#include "cocoinit/listenfds.h"
#include "cocoinit/vsock.h"

#define PLACE_MAX 4
#define HIGH_FD 200

static unsigned addr_counter;

/* A listening AF_UNIX socket on a fresh abstract address. */
static int unix_listener(int type, struct sockaddr_un *ret_addr, socklen_t *ret_len)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int n = snprintf(sa.sun_path + 1, sizeof(sa.sun_path) - 1, "cocoinit-test-%d-%u",
			 (int)getpid(), addr_counter++);
	socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
	int fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, len), 0);
	assert_int_equal(listen(fd, 128), 0);
	if (ret_addr) {
		*ret_addr = sa;
		*ret_len = len;
	}
	return fd;
}

/* Moves fds[] to 3, 4, ... with FD_CLOEXEC cleared, as the hand-off does. */
static void place(int *fds, size_t n)
{
	int high[PLACE_MAX];

	assert_true(n <= PLACE_MAX);
	for (size_t i = 0; i < n; i++) {
		high[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, HIGH_FD);
		assert_true(high[i] >= HIGH_FD);
		close(fds[i]);
	}
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(dup2(high[i], LISTENFDS_START + (int)i), LISTENFDS_START + (int)i);
		close(high[i]);
	}
}

static void set_env(long pid, const char *fds, const char *names)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%ld", pid);
	assert_int_equal(setenv("LISTEN_PID", buf, 1), 0);
	assert_int_equal(setenv("LISTEN_FDS", fds, 1), 0);
	if (names)
		assert_int_equal(setenv("LISTEN_FDNAMES", names, 1), 0);
	else
		unsetenv("LISTEN_FDNAMES");
}

static int teardown(void **state)
{
	for (int fd = LISTENFDS_START; fd < LISTENFDS_START + PLACE_MAX; fd++)
		close(fd);
	listenfds_forget();
	return 0;
}

static void test_take_by_name(void **state)
{
	struct sockaddr_un want, got;
	socklen_t want_len, got_len = sizeof(got);
	int fds[2];

	fds[0] = unix_listener(SOCK_STREAM, NULL, NULL);
	fds[1] = unix_listener(SOCK_STREAM, &want, &want_len);
	place(fds, 2);
	set_env(getpid(), "2", "passfd:other");

	assert_int_equal(listenfds_take("other", AF_UNIX, 0), 4);
	/* fd 4 is the second listener, not just any socket */
	assert_int_equal(getsockname(4, (struct sockaddr *)&got, &got_len), 0);
	assert_int_equal(got_len, want_len);
	assert_memory_equal(&got, &want, want_len);
	assert_true(fcntl(4, F_GETFD) & FD_CLOEXEC);
	assert_false(fcntl(3, F_GETFD) & FD_CLOEXEC);

	assert_int_equal(listenfds_take("passfd", AF_UNIX, 0), 3);
	assert_int_equal(listenfds_take("passfd", AF_UNIX, 0), 3);
	assert_int_equal(listenfds_take("missing", AF_UNIX, 0), -ENOENT);
	assert_int_equal(listenfds_take("pass", AF_UNIX, 0), -ENOENT);
	assert_int_equal(listenfds_take("passfd:other", AF_UNIX, 0), -ENOENT);
}

static void test_take_unset(void **state)
{
	int fd = unix_listener(SOCK_STREAM, NULL, NULL);

	place(&fd, 1);
	listenfds_forget();
	assert_int_equal(listenfds_take("passfd", AF_UNIX, 0), -ENOENT);
	set_env(getpid(), "0", "");
	assert_int_equal(listenfds_take("passfd", AF_UNIX, 0), -ENOENT);
	/* fds but no names: nothing can be found by name */
	set_env(getpid(), "1", NULL);
	assert_int_equal(listenfds_take("passfd", AF_UNIX, 0), -ENOENT);
	set_env(getpid(), "1", "passfd");
	assert_int_equal(listenfds_take("passfd", AF_UNIX, 0), 3);
	listenfds_forget();
	assert_null(getenv("LISTEN_FDS"));
	assert_null(getenv("LISTEN_PID"));
	assert_null(getenv("LISTEN_FDNAMES"));
	assert_int_equal(listenfds_take("passfd", AF_UNIX, 0), -ENOENT);
}

static void test_take_wrong_pid(void **state)
{
	int fd = unix_listener(SOCK_STREAM, NULL, NULL);

	place(&fd, 1);
	set_env(getpid() + 1, "1", "passfd");
	assert_int_equal(listenfds_take("passfd", AF_UNIX, 0), -ESRCH);
	set_env(1, "1", "passfd");
	assert_int_equal(listenfds_take("passfd", AF_UNIX, 0), getpid() == 1 ? 3 : -ESRCH);

	assert_int_equal(setenv("LISTEN_PID", "12x", 1), 0);
	assert_int_equal(listenfds_take("passfd", AF_UNIX, 0), -EINVAL);
	assert_int_equal(setenv("LISTEN_PID", "", 1), 0);
	assert_int_equal(listenfds_take("passfd", AF_UNIX, 0), -EINVAL);
	assert_int_equal(setenv("LISTEN_PID", "-1", 1), 0);
	assert_int_equal(listenfds_take("passfd", AF_UNIX, 0), -EINVAL);
	assert_int_equal(setenv("LISTEN_PID", "99999999999999999999999", 1), 0);
	assert_int_equal(listenfds_take("passfd", AF_UNIX, 0), -EINVAL);
}

static void test_take_count_mismatch(void **state)
{
	int fds[2];

	fds[0] = unix_listener(SOCK_STREAM, NULL, NULL);
	fds[1] = unix_listener(SOCK_STREAM, NULL, NULL);
	place(fds, 2);

	set_env(getpid(), "2", "passfd");
	assert_int_equal(listenfds_take("passfd", AF_UNIX, 0), -EINVAL);
	set_env(getpid(), "1", "passfd:other");
	assert_int_equal(listenfds_take("passfd", AF_UNIX, 0), -EINVAL);
	set_env(getpid(), "2", "passfd:other:third");
	assert_int_equal(listenfds_take("other", AF_UNIX, 0), -EINVAL);
	set_env(getpid(), "100000", "passfd");
	assert_int_equal(listenfds_take("passfd", AF_UNIX, 0), -EINVAL);
	set_env(getpid(), " 2", "passfd:other");
	assert_int_equal(listenfds_take("passfd", AF_UNIX, 0), -EINVAL);
	set_env(getpid(), "2x", "passfd:other");
	assert_int_equal(listenfds_take("passfd", AF_UNIX, 0), -EINVAL);
	/* an empty name is still a name: ":other" describes two fds */
	set_env(getpid(), "2", ":other");
	assert_int_equal(listenfds_take("other", AF_UNIX, 0), 4);
}

static void test_take_not_a_socket(void **state)
{
	int p[2];

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	close(p[1]);
	place(&p[0], 1);
	set_env(getpid(), "2", "passfd:gone");
	assert_int_equal(listenfds_take("passfd", AF_UNIX, 0), -ENOTSOCK);
	close(4);
	assert_int_equal(listenfds_take("gone", AF_UNIX, 0), -EBADF);
}

static void test_take_not_listening(void **state)
{
	int sp[2], fds[2];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp), 0);
	close(sp[1]);
	fds[0] = sp[0];
	/* bound, but listen() was never called */
	fds[1] = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fds[1] >= 0);
	snprintf(sa.sun_path + 1, sizeof(sa.sun_path) - 1, "cocoinit-test-%d-bound", (int)getpid());
	assert_int_equal(bind(fds[1], (struct sockaddr *)&sa, sizeof(sa)), 0);
	place(fds, 2);
	set_env(getpid(), "2", "pair:bound");
	assert_int_equal(listenfds_take("pair", AF_UNIX, 0), -EINVAL);
	assert_int_equal(listenfds_take("bound", AF_UNIX, 0), -EINVAL);
}

static void test_take_wrong_type(void **state)
{
	int fd = unix_listener(SOCK_SEQPACKET, NULL, NULL);

	place(&fd, 1);
	set_env(getpid(), "1", "passfd");
	assert_int_equal(listenfds_take("passfd", AF_UNIX, 0), -EPROTOTYPE);
}

static void test_take_wrong_family_and_port(void **state)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sin);
	int fds[2];
	unsigned port;

	fds[0] = unix_listener(SOCK_STREAM, NULL, NULL);
	fds[1] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fds[1] >= 0);
	assert_int_equal(bind(fds[1], (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(fds[1], 4), 0);
	assert_int_equal(getsockname(fds[1], (struct sockaddr *)&sin, &len), 0);
	port = ntohs(sin.sin_port);
	place(fds, 2);
	set_env(getpid(), "2", "passfd:tcp");

	assert_int_equal(listenfds_take("passfd", AF_VSOCK, 1027), -EAFNOSUPPORT);
	assert_int_equal(listenfds_take("passfd", AF_INET, 0), -EAFNOSUPPORT);
	assert_int_equal(listenfds_take("tcp", AF_UNIX, 0), -EAFNOSUPPORT);
	assert_int_equal(listenfds_take("tcp", AF_INET, port == 65535 ? 1 : port + 1), -EADDRNOTAVAIL);
	assert_int_equal(listenfds_take("tcp", AF_INET, port), 4);
	assert_int_equal(listenfds_take("tcp", AF_INET, 0), 4);
}

/* Real AF_VSOCK, when the kernel has it: the port check reads svm_port. */
static void test_take_vsock(void **state)
{
	struct vsock_listener ls[1] = { { .fd = -1, .port = 0, .name = "passfd" } };
	char err[256];
	int r = -EADDRINUSE;

	for (unsigned tries = 0; tries < 50 && r == -EADDRINUSE; tries++) {
		ls[0].port = 20000 + ((unsigned)getpid() * 7 + tries * 101) % 40000;
		r = vsock_listen_all(ls, 1, err, sizeof(err));
	}
	if (r == -EAFNOSUPPORT)
		fail_msg("%s: this test machine needs the vsock module", err);
	assert_int_equal(r, 0);
	place(&ls[0].fd, 1);
	set_env(getpid(), "1", "passfd");
	assert_int_equal(listenfds_take("passfd", AF_VSOCK, ls[0].port + 1), -EADDRNOTAVAIL);
	assert_int_equal(listenfds_take("passfd", AF_UNIX, 0), -EAFNOSUPPORT);
	assert_int_equal(listenfds_take("passfd", AF_VSOCK, ls[0].port), 3);
	assert_int_equal(listenfds_take("passfd", AF_VSOCK, 0), 3);
}

/* ---- the acceptor ---- */

/* The parent's poll()/ppoll() shows in /proc/PID/syscall while it waits. */
static void child_wait_parent_polling(pid_t parent)
{
	char path[64], buf[64];

	snprintf(path, sizeof(path), "/proc/%d/syscall", (int)parent);
	for (int i = 0; i < 100000; i++) {
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		ssize_t n;
		long nr;

		if (fd < 0)
			return;
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n <= 0)
			return;
		buf[n] = '\0';
		nr = strtol(buf, NULL, 10);
#ifdef __NR_poll
		if (nr == __NR_poll)
			return;
#endif
		if (nr == __NR_ppoll)
			return;
		poll(NULL, 0, 1);
	}
}

enum child_mode {
	CHILD_PLAIN,       /* connect, say hello, wait for EOF */
	CHILD_AFTER_POLL,  /* the same, once the parent waits in poll() */
	CHILD_TWICE,       /* connect twice; report when the first is closed */
};

/* Connects to addr and writes "stream <i>\n"; one byte on ready once
 * connected; exits 0 when the parent closes the stream. */
static pid_t spawn(const struct sockaddr_un *addr, socklen_t len, int ready, unsigned i,
		   enum child_mode mode)
{
	pid_t parent = getpid();
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		char msg[32], c;
		int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		int n = snprintf(msg, sizeof(msg), "stream %u\n", i);

		/* a failed assertion in the parent must not leave children behind */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
			_exit(9);
		if (mode == CHILD_AFTER_POLL)
			child_wait_parent_polling(parent);
		if (s < 0 || connect(s, (const struct sockaddr *)addr, len) < 0)
			_exit(10);
		if (mode == CHILD_TWICE) {
			int s2 = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

			if (s2 < 0 || connect(s2, (const struct sockaddr *)addr, len) < 0)
				_exit(11);
			if (write(s2, "second\n", 7) != 7 || write(ready, "r", 1) != 1)
				_exit(12);
			/* the acceptor must close the older stream with the same key */
			if (read(s, &c, 1) != 0)
				_exit(13);
			if (write(s2, "first closed\n", 13) != 13)
				_exit(14);
			s = s2;
		} else if (write(s, msg, (size_t)n) != n || (ready >= 0 && write(ready, "r", 1) != 1)) {
			_exit(12);
		}
		while (read(s, &c, 1) > 0)
			;
		_exit(0);
	}
	return pid;
}

static void wait_ready(int ready, unsigned n)
{
	char c;

	for (unsigned i = 0; i < n; i++)
		assert_int_equal(read(ready, &c, 1), 1);
}

static void reap(pid_t pid)
{
	int status;

	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static void read_line(int fd, char *buf, size_t size)
{
	size_t o = 0;

	while (o + 1 < size) {
		ssize_t n = read(fd, buf + o, 1);

		assert_int_equal(n, 1);
		if (buf[o++] == '\n')
			break;
	}
	buf[o] = '\0';
}

static void test_acceptor_takes_by_peer(void **state)
{
	struct listenfds_acceptor *a = malloc(sizeof(*a));
	struct sockaddr_un addr;
	socklen_t len;
	int l = unix_listener(SOCK_STREAM, &addr, &len);
	int ready[2];
	pid_t pids[3];
	char line[32];

	assert_non_null(a);
	assert_int_equal(pipe2(ready, O_CLOEXEC), 0);
	/* all three are connected, and queued in the backlog, before any accept */
	for (unsigned i = 0; i < 3; i++)
		pids[i] = spawn(&addr, len, ready[1], i, CHILD_PLAIN);
	wait_ready(ready[0], 3);

	listenfds_acceptor_init(a, l);
	assert_int_equal(listenfds_acceptor_poll(a), 3);
	assert_int_equal(a->n, 3);
	assert_true(fcntl(l, F_GETFL) & O_NONBLOCK);
	assert_int_equal(listenfds_acceptor_poll(a), 0);

	for (int i = 2; i >= 0; i--) {
		int s = listenfds_acceptor_take(a, (uint32_t)pids[i], 0);
		char want[32];

		assert_true(s >= 0);
		assert_true(fcntl(s, F_GETFD) & FD_CLOEXEC);
		read_line(s, line, sizeof(line));
		snprintf(want, sizeof(want), "stream %d\n", i);
		assert_string_equal(line, want);
		close(s);
		reap(pids[i]);
	}
	assert_int_equal(a->n, 0);
	/* taken means gone */
	assert_int_equal(listenfds_acceptor_take(a, (uint32_t)pids[0], 0), -ETIMEDOUT);
	listenfds_acceptor_close(a);
	assert_true(fcntl(l, F_GETFD) >= 0);
	close(l);
	close(ready[0]);
	close(ready[1]);
	free(a);
}

/* The request names a stream that has not connected yet: take waits in
 * poll() for it, and leaves the other streams it accepts meanwhile. */
static void test_acceptor_take_waits(void **state)
{
	struct listenfds_acceptor *a = malloc(sizeof(*a));
	struct sockaddr_un addr;
	socklen_t len;
	int l = unix_listener(SOCK_STREAM, &addr, &len);
	pid_t early, late;
	int ready[2], s;
	char line[32];

	assert_non_null(a);
	assert_int_equal(pipe2(ready, O_CLOEXEC), 0);
	early = spawn(&addr, len, ready[1], 0, CHILD_PLAIN);
	wait_ready(ready[0], 1);
	late = spawn(&addr, len, -1, 1, CHILD_AFTER_POLL);

	listenfds_acceptor_init(a, l);
	s = listenfds_acceptor_take(a, (uint32_t)late, 60000);
	assert_true(s >= 0);
	read_line(s, line, sizeof(line));
	assert_string_equal(line, "stream 1\n");
	close(s);
	reap(late);

	assert_int_equal(a->n, 1);
	assert_int_equal(a->streams[0].peer_port, (uint32_t)early);
	s = listenfds_acceptor_take(a, (uint32_t)early, 0);
	assert_true(s >= 0);
	read_line(s, line, sizeof(line));
	assert_string_equal(line, "stream 0\n");
	close(s);
	reap(early);

	listenfds_acceptor_close(a);
	close(l);
	close(ready[0]);
	close(ready[1]);
	free(a);
}

static void test_acceptor_timeout(void **state)
{
	struct listenfds_acceptor a;
	int l = unix_listener(SOCK_STREAM, NULL, NULL);

	listenfds_acceptor_init(&a, l);
	assert_int_equal(listenfds_acceptor_take(&a, 12345, 0), -ETIMEDOUT);
	assert_int_equal(listenfds_acceptor_take(&a, 12345, 20), -ETIMEDOUT);
	assert_int_equal(a.n, 0);
	listenfds_acceptor_close(&a);
	close(l);

	/* a listen fd that is not open is an error, not a wait */
	listenfds_acceptor_init(&a, l);
	assert_int_equal(listenfds_acceptor_take(&a, 1, 1000), -EBADF);
}

/* One stream more than fits: the oldest, never taken, is closed. */
static void test_acceptor_full_drops_oldest(void **state)
{
	struct listenfds_acceptor *a = malloc(sizeof(*a));
	struct sockaddr_un addr;
	socklen_t len;
	int l = unix_listener(SOCK_STREAM, &addr, &len);
	int ready[2], s;
	pid_t pids[LISTENFDS_PASSFD_MAX + 1];
	char line[32], want[32];

	assert_non_null(a);
	assert_int_equal(pipe2(ready, O_CLOEXEC), 0);
	for (unsigned i = 0; i <= LISTENFDS_PASSFD_MAX; i++) {
		/* one at a time, so the backlog order is known */
		pids[i] = spawn(&addr, len, ready[1], i, CHILD_PLAIN);
		wait_ready(ready[0], 1);
	}
	listenfds_acceptor_init(a, l);
	assert_int_equal(listenfds_acceptor_poll(a), LISTENFDS_PASSFD_MAX + 1);
	assert_int_equal(a->n, LISTENFDS_PASSFD_MAX);
	assert_int_equal(listenfds_acceptor_take(a, (uint32_t)pids[0], 0), -ETIMEDOUT);
	/* child 0 saw its stream closed */
	reap(pids[0]);

	s = listenfds_acceptor_take(a, (uint32_t)pids[LISTENFDS_PASSFD_MAX], 0);
	assert_true(s >= 0);
	read_line(s, line, sizeof(line));
	snprintf(want, sizeof(want), "stream %d\n", LISTENFDS_PASSFD_MAX);
	assert_string_equal(line, want);
	close(s);
	s = listenfds_acceptor_take(a, (uint32_t)pids[1], 0);
	assert_true(s >= 0);
	read_line(s, line, sizeof(line));
	assert_string_equal(line, "stream 1\n");
	close(s);

	assert_int_equal(a->n, LISTENFDS_PASSFD_MAX - 2);
	listenfds_acceptor_close(a);
	assert_int_equal(a->n, 0);
	for (unsigned i = 1; i <= LISTENFDS_PASSFD_MAX; i++)
		reap(pids[i]);
	close(l);
	close(ready[0]);
	close(ready[1]);
	free(a);
}

/* A second stream with the same key replaces the first, which is closed. */
static void test_acceptor_same_key_replaces(void **state)
{
	struct listenfds_acceptor a;
	struct sockaddr_un addr;
	socklen_t len;
	int l = unix_listener(SOCK_STREAM, &addr, &len);
	int ready[2], s;
	pid_t pid;
	char line[32];

	assert_int_equal(pipe2(ready, O_CLOEXEC), 0);
	pid = spawn(&addr, len, ready[1], 0, CHILD_TWICE);
	wait_ready(ready[0], 1);
	listenfds_acceptor_init(&a, l);
	assert_int_equal(listenfds_acceptor_poll(&a), 2);
	assert_int_equal(a.n, 1);
	s = listenfds_acceptor_take(&a, (uint32_t)pid, 0);
	assert_true(s >= 0);
	read_line(s, line, sizeof(line));
	assert_string_equal(line, "second\n");
	read_line(s, line, sizeof(line));
	assert_string_equal(line, "first closed\n");
	close(s);
	reap(pid);
	listenfds_acceptor_close(&a);
	close(l);
	close(ready[0]);
	close(ready[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_take_by_name, teardown),
		cmocka_unit_test_teardown(test_take_unset, teardown),
		cmocka_unit_test_teardown(test_take_wrong_pid, teardown),
		cmocka_unit_test_teardown(test_take_count_mismatch, teardown),
		cmocka_unit_test_teardown(test_take_not_a_socket, teardown),
		cmocka_unit_test_teardown(test_take_not_listening, teardown),
		cmocka_unit_test_teardown(test_take_wrong_type, teardown),
		cmocka_unit_test_teardown(test_take_wrong_family_and_port, teardown),
		cmocka_unit_test_teardown(test_take_vsock, teardown),
		cmocka_unit_test(test_acceptor_takes_by_peer),
		cmocka_unit_test(test_acceptor_take_waits),
		cmocka_unit_test(test_acceptor_timeout),
		cmocka_unit_test(test_acceptor_full_drops_oldest),
		cmocka_unit_test(test_acceptor_same_key_replaces),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
