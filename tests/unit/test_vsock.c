/* SPDX-License-Identifier: Apache-2.0 */
/* vsock: the listener plan (order, duplicates, bad names and ports) and
 * real AF_VSOCK listeners on this kernel; a kernel without vsock is played
 * by a seccomp filter in a child. Connections through CID 1 need
 * vsock_loopback: where the host lacks it, that test checks that it is
 * really absent and names the boot scenario that makes the round trip in
 * the guest (vsock_passfd). Nothing here is skipped: a skip would pass. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <linux/vm_sockets.h>

#include <cmocka.h>

#include "cocoinit/cmdline.h"
#include "cocoinit/listenfds.h"
#include "cocoinit/log.h"
#include "cocoinit/vsock.h"
#include "fixture.h"

#define MAXL (CONFIG_MAX_LISTENERS + 1)

static void cfg_init(struct config *cfg, bool passfd, uint32_t passfd_port)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->passfd = passfd;
	cfg->passfd_port = passfd_port;
}

static void cfg_add(struct config *cfg, uint32_t port, const char *name)
{
	assert_true(cfg->n_listeners < CONFIG_MAX_LISTENERS);
	cfg->listeners[cfg->n_listeners].port = port;
	snprintf(cfg->listeners[cfg->n_listeners].name, CONFIG_LISTENER_NAME_MAX, "%s", name);
	cfg->n_listeners++;
}

static int plan(const struct config *cfg, struct vsock_listener *ls, size_t *n, char *err)
{
	err[0] = '\0';
	return vsock_plan(cfg, ls, MAXL, n, err, 256);
}

static void test_plan_order(void **state)
{
	struct config cfg;
	struct vsock_listener ls[MAXL];
	char err[256];
	size_t n = 99;

	cfg_init(&cfg, true, 1027);
	cfg_add(&cfg, 2000, "logs");
	cfg_add(&cfg, 1500, "debug-console");
	assert_int_equal(plan(&cfg, ls, &n, err), 0);
	assert_int_equal(n, 3);
	assert_string_equal(ls[0].name, "passfd");
	assert_int_equal(ls[0].port, 1027);
	assert_string_equal(ls[1].name, "logs");
	assert_int_equal(ls[1].port, 2000);
	assert_string_equal(ls[2].name, "debug-console");
	assert_int_equal(ls[2].port, 1500);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(ls[i].fd, -1);

	/* without cocoinit.passfd only the listed ones, in their order */
	cfg.passfd = false;
	assert_int_equal(plan(&cfg, ls, &n, err), 0);
	assert_int_equal(n, 2);
	assert_string_equal(ls[0].name, "logs");
	assert_string_equal(ls[1].name, "debug-console");

	/* passfd follows agent.passfd_listener_port */
	cfg_init(&cfg, true, 4242);
	assert_int_equal(plan(&cfg, ls, &n, err), 0);
	assert_int_equal(n, 1);
	assert_int_equal(ls[0].port, 4242);
	assert_string_equal(ls[0].name, VSOCK_PASSFD_NAME);

	cfg_init(&cfg, false, 1027);
	n = 99;
	assert_int_equal(plan(&cfg, ls, &n, err), 0);
	assert_int_equal(n, 0);

	/* the largest command line the parser can produce fits */
	cfg_init(&cfg, true, 1027);
	for (unsigned i = 0; i < CONFIG_MAX_LISTENERS; i++) {
		char name[16];
		snprintf(name, sizeof(name), "l%u", i);
		cfg_add(&cfg, 3000 + i, name);
	}
	assert_int_equal(plan(&cfg, ls, &n, err), 0);
	assert_int_equal(n, CONFIG_MAX_LISTENERS + 1);
	assert_int_equal(vsock_plan(&cfg, ls, CONFIG_MAX_LISTENERS, &n, err, sizeof(err)), -ENOBUFS);
	assert_non_null(strstr(err, "too many listeners"));
}

static void test_plan_duplicates(void **state)
{
	struct config cfg;
	struct vsock_listener ls[MAXL];
	char err[256];
	size_t n = 99;

	cfg_init(&cfg, true, 1027);
	cfg_add(&cfg, 1027, "other");
	assert_int_equal(plan(&cfg, ls, &n, err), -EINVAL);
	assert_string_equal(err, "cocoinit.vsock_listen: duplicate port 1027");
	assert_int_equal(n, 99);

	cfg_init(&cfg, true, 1027);
	cfg_add(&cfg, 2000, "passfd");
	assert_int_equal(plan(&cfg, ls, &n, err), -EINVAL);
	assert_string_equal(err, "cocoinit.vsock_listen: duplicate name \"passfd\"");

	cfg_init(&cfg, false, 1027);
	cfg_add(&cfg, 2000, "a");
	cfg_add(&cfg, 2001, "b");
	cfg_add(&cfg, 2000, "c");
	assert_int_equal(plan(&cfg, ls, &n, err), -EINVAL);
	assert_string_equal(err, "cocoinit.vsock_listen: duplicate port 2000");

	cfg_init(&cfg, false, 1027);
	cfg_add(&cfg, 2000, "a");
	cfg_add(&cfg, 2001, "a");
	assert_int_equal(plan(&cfg, ls, &n, err), -EINVAL);
	assert_string_equal(err, "cocoinit.vsock_listen: duplicate name \"a\"");

	/* a hand-made "passfd" listener is fine when cocoinit.passfd is off */
	cfg_init(&cfg, false, 1027);
	cfg_add(&cfg, 1027, "passfd");
	assert_int_equal(plan(&cfg, ls, &n, err), 0);
	assert_int_equal(n, 1);
}

static void test_plan_bad_names(void **state)
{
	struct config cfg;
	struct vsock_listener ls[MAXL];
	char err[256];
	size_t n = 99;

	cfg_init(&cfg, false, 1027);
	cfg_add(&cfg, 2000, "a:b");
	assert_int_equal(plan(&cfg, ls, &n, err), -EINVAL);
	assert_non_null(strstr(err, "cocoinit.vsock_listen: invalid name \"a:b\""));

	cfg_init(&cfg, false, 1027);
	cfg_add(&cfg, 2000, "a\001b");
	assert_int_equal(plan(&cfg, ls, &n, err), -EINVAL);
	assert_non_null(strstr(err, "cocoinit.vsock_listen: invalid name \"a\\x01b\""));

	cfg_init(&cfg, false, 1027);
	cfg_add(&cfg, 2000, "caf\xc3\xa9");
	assert_int_equal(plan(&cfg, ls, &n, err), -EINVAL);
	assert_non_null(strstr(err, "invalid name \"caf\\xc3\\xa9\""));

	cfg_init(&cfg, false, 1027);
	cfg_add(&cfg, 2000, "");
	assert_int_equal(plan(&cfg, ls, &n, err), -EINVAL);
	assert_non_null(strstr(err, "cocoinit.vsock_listen: invalid name \"\""));

	/* not terminated inside the field: refused, not read past */
	cfg_init(&cfg, false, 1027);
	cfg_add(&cfg, 2000, "x");
	memset(cfg.listeners[0].name, 'x', CONFIG_LISTENER_NAME_MAX);
	assert_int_equal(plan(&cfg, ls, &n, err), -EINVAL);
	assert_non_null(strstr(err, "invalid name"));

	/* the longest name that fits is fine, with every printable byte but ':' */
	cfg_init(&cfg, false, 1027);
	cfg_add(&cfg, 2000, "x");
	memset(cfg.listeners[0].name, 'y', CONFIG_LISTENER_NAME_MAX - 1);
	cfg.listeners[0].name[CONFIG_LISTENER_NAME_MAX - 1] = '\0';
	cfg_add(&cfg, 2001, "a b~!#=@\\");
	assert_int_equal(plan(&cfg, ls, &n, err), 0);
	assert_int_equal(strlen(ls[0].name), CONFIG_LISTENER_NAME_MAX - 1);
	assert_string_equal(ls[1].name, "a b~!#=@\\");
	assert_int_equal(n, 2);
}

static void test_plan_bad_ports(void **state)
{
	struct config cfg;
	struct vsock_listener ls[MAXL];
	char err[256];
	size_t n = 99;

	cfg_init(&cfg, false, 1027);
	cfg_add(&cfg, 0, "zero");
	assert_int_equal(plan(&cfg, ls, &n, err), -EINVAL);
	assert_string_equal(err, "cocoinit.vsock_listen: port 0 is not valid");

	cfg_init(&cfg, false, 1027);
	cfg_add(&cfg, VMADDR_PORT_ANY, "any");
	assert_int_equal(plan(&cfg, ls, &n, err), -EINVAL);
	assert_string_equal(err, "cocoinit.vsock_listen: port 4294967295 is not valid");

	cfg_init(&cfg, true, 0);
	assert_int_equal(plan(&cfg, ls, &n, err), -EINVAL);
	assert_string_equal(err, "agent.passfd_listener_port: port 0 is not valid");
	assert_int_equal(n, 99);
}

/* ---- real sockets ---- */

/* The test machine must have AF_VSOCK (module vsock): a kernel without it
 * is played by the seccomp test, not by skipping these. */
static void need_vsock(void)
{
	int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		fail_msg("socket(AF_VSOCK): %s: this test machine needs the vsock module", strerror(errno));
	close(fd);
}

/* Binds ls[0..n) on ports that are free now, starting from a per-process spot. */
static int listen_free(struct vsock_listener *ls, size_t n, char *err)
{
	int r = -EADDRINUSE;

	for (unsigned t = 0; t < 50 && r == -EADDRINUSE; t++) {
		unsigned base = 20000 + ((unsigned)getpid() * 13 + t * 211) % 40000;
		for (size_t i = 0; i < n; i++)
			ls[i].port = base + (unsigned)i;
		r = vsock_listen_all(ls, n, err, 256);
	}
	return r;
}

static void check_listening(int fd, unsigned port)
{
	struct sockaddr_vm sa;
	socklen_t len = sizeof(sa);

	assert_true(fd >= 0);
	fixture_assert_cloexec(fd);
	fixture_assert_sockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, 1);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	assert_int_equal(sa.svm_family, AF_VSOCK);
	assert_int_equal(sa.svm_port, port);
	assert_int_equal(sa.svm_cid, VMADDR_CID_ANY);
}

static void test_listen_real(void **state)
{
	struct vsock_listener ls[2] = { { .name = "passfd" }, { .name = "other" } };
	char err[256] = "";

	need_vsock();
	assert_int_equal(listen_free(ls, 2, err), 0);
	check_listening(ls[0].fd, ls[0].port);
	check_listening(ls[1].fd, ls[1].port);
	vsock_close_all(ls, 2);
	assert_int_equal(ls[0].fd, -1);
	assert_int_equal(ls[1].fd, -1);
}

/* The second port is taken: the error names it, and the first is closed
 * again (its port can be bound anew). */
static void test_listen_addrinuse(void **state)
{
	struct vsock_listener busy[1] = { { .name = "busy" } };
	struct vsock_listener ls[2] = { { .name = "passfd" }, { .name = "other" } };
	char err[256] = "", want[128];

	need_vsock();
	assert_int_equal(listen_free(busy, 1, err), 0);
	ls[0].port = busy[0].port == 65535 ? 1 : busy[0].port + 1;
	ls[1].port = busy[0].port;
	/* ls[0].port may be taken by someone else: then try the next pair. */
	for (unsigned t = 0;; t++) {
		assert_int_equal(vsock_listen_all(ls, 2, err, sizeof(err)), -EADDRINUSE);
		snprintf(want, sizeof(want), "vsock port %u (other): bind: %s", busy[0].port, strerror(EADDRINUSE));
		if (strcmp(err, want) == 0)
			break;
		assert_true(t < 50);
		ls[0].port = ls[0].port == 65535 ? 1 : ls[0].port + 1;
	}
	assert_int_equal(ls[0].fd, -1);
	assert_int_equal(ls[1].fd, -1);
	ls[1].port = ls[0].port;
	assert_int_equal(vsock_listen_all(&ls[1], 1, err, sizeof(err)), 0);
	check_listening(ls[1].fd, ls[0].port);
	vsock_close_all(&ls[1], 1);
	vsock_close_all(busy, 1);
}

/* A kernel without AF_VSOCK, played by seccomp in a child: the error says
 * which modules to load. */
static void test_listen_no_vsock(void **state)
{
	int p[2];
	pid_t pid;
	char buf[512] = "";
	ssize_t n;
	int status;

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct sock_filter f[] = {
			BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
			BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_socket, 0, 3),
			BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0])),
			BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AF_VSOCK, 0, 1),
			BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EAFNOSUPPORT),
			BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		};
		struct sock_fprog prog = { .len = sizeof(f) / sizeof(f[0]), .filter = f };
		struct vsock_listener ls[1] = { { .port = 1027, .name = "passfd" } };
		char err[256] = "";
		int r;

		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
		    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0)
			_exit(2);
		r = vsock_listen_all(ls, 1, err, sizeof(err));
		if (write(p[1], err, strlen(err)) < 0)
			_exit(3);
		_exit(r == -EAFNOSUPPORT && ls[0].fd == -1 ? 0 : 1);
	}
	close(p[1]);
	n = read(p[0], buf, sizeof(buf) - 1);
	assert_true(n > 0);
	buf[n] = '\0';
	close(p[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_string_equal(buf, "AF_VSOCK not supported by this kernel: load vsock and a transport "
				 "(cocoinit.modules=vsock,vmw_vsock_virtio_transport or vsock_loopback)");
}

/* Logged before the hand-off moves them: the line shows the fd the agent
 * will get (3, 4, ...), not the one cocoinit holds now. */
static void test_log_listeners(void **state)
{
	struct vsock_listener ls[2] = { { .fd = 9, .port = 1027, .name = "passfd" },
					{ .fd = 7, .port = 2000, .name = "we\\ird" } };
	int p[2];
	char buf[512] = "";
	ssize_t n;

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	log_set_level(LOG_LVL_INFO);
	log_set_fd(p[1], LOG_SINK_PLAIN);
	vsock_log_listeners(ls, 2);
	log_set_fd(-1, LOG_SINK_PLAIN);
	n = read(p[0], buf, sizeof(buf) - 1);
	assert_true(n > 0);
	buf[n] = '\0';
	close(p[0]);
	assert_string_equal(buf, "cocoinit: listen: vsock port=1027 name=passfd fd=3\n"
				 "cocoinit: listen: vsock port=2000 name=we\\x5cird fd=4\n");
}

/* Through CID 1 (vsock_loopback): a child connects before anyone accepts,
 * the acceptor maps the child's local port to its stream, and a payload
 * goes both ways. */
static void test_loopback_peer_port(void **state)
{
	struct vsock_listener ls[1] = { { .name = "passfd" } };
	struct listenfds_acceptor a;
	char err[256] = "", buf[16];
	int info[2], status, s;
	long got = 0;
	pid_t pid;

	need_vsock();
	assert_int_equal(listen_free(ls, 1, err), 0);
	assert_int_equal(pipe2(info, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct sockaddr_vm sa = { .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_LOCAL,
					  .svm_port = ls[0].port };
		struct sockaddr_vm me;
		socklen_t len = sizeof(me);
		long report;
		int c = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
		char echo[6];

		if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
			_exit(1);
		if (c < 0 || connect(c, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
		    getsockname(c, (struct sockaddr *)&me, &len) < 0) {
			report = -errno;
			(void)!write(info[1], &report, sizeof(report));
			_exit(0);
		}
		report = (long)me.svm_port;
		if (write(info[1], &report, sizeof(report)) != sizeof(report) ||
		    write(c, "hello", 5) != 5 || read(c, echo, 5) != 5 || memcmp(echo, "hello", 5) != 0)
			_exit(1);
		_exit(0);
	}
	close(info[1]);
	assert_int_equal(read(info[0], &got, sizeof(got)), sizeof(got));
	close(info[0]);
	if (got < 0) {
		assert_int_equal(waitpid(pid, &status, 0), pid);
		vsock_close_all(ls, 1);
		/* Only a host without the loopback transport may fail here. */
		if (access("/sys/module/vsock_loopback", F_OK) == 0)
			fail_msg("connect to CID 1: %s, with vsock_loopback loaded", strerror((int)-got));
		print_message("connect to CID 1: %s: this host has no vsock_loopback, so the round trip is "
			      "not made here; boot scenario vsock_passfd makes it in the guest\n",
			      strerror((int)-got));
		return;
	}
	listenfds_acceptor_init(&a, ls[0].fd);
	s = listenfds_acceptor_take(&a, (uint32_t)got, 60000);
	assert_true(s >= 0);
	assert_int_equal(read(s, buf, 5), 5);
	assert_memory_equal(buf, "hello", 5);
	assert_int_equal(write(s, buf, 5), 5);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	close(s);
	listenfds_acceptor_close(&a);
	vsock_close_all(ls, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plan_order),
		cmocka_unit_test(test_plan_duplicates),
		cmocka_unit_test(test_plan_bad_names),
		cmocka_unit_test(test_plan_bad_ports),
		cmocka_unit_test(test_listen_real),
		cmocka_unit_test(test_listen_addrinuse),
		cmocka_unit_test(test_listen_no_vsock),
		cmocka_unit_test(test_log_listeners),
		cmocka_unit_test(test_loopback_peer_port),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
