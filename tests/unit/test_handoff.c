/* SPDX-License-Identifier: Apache-2.0 */
/* The hand-off as the agent sees it: the environment (LISTEN_*, stale values
 * dropped, COCOINIT_INITDATA_*), listeners moved to fds 3.. in order with
 * nothing else open, and real exec / supervise runs of a shell-script agent
 * (signal forwarding, LISTEN_PID of the child, an orphan reaped). Every fd
 * shuffle runs in a forked child so the test runner's own fds are safe. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

extern char **environ;

#include "cocoinit/handoff.h"
#include "cocoinit/vsock.h"
#include "tree.h"
#include "cocoinit/util.h"

static const char *env_get(char **envp, const char *key)
{
	size_t kl = strlen(key);

	for (; *envp; envp++)
		if (strncmp(*envp, key, kl) == 0 && (*envp)[kl] == '=')
			return *envp + kl + 1;
	return NULL;
}

static size_t env_count(char **envp, const char *key)
{
	size_t kl = strlen(key), c = 0;

	for (; *envp; envp++)
		if (strncmp(*envp, key, kl) == 0 && (*envp)[kl] == '=')
			c++;
	return c;
}

static void test_env_listeners_and_initdata(void **state)
{
	struct vsock_listener ls[2] = { { .fd = 7, .port = 1027, .name = "passfd" }, { .fd = 9, .port = 1025, .name = "log" } };
	struct handoff_env e = { .device = "/dev/vdc", .dir = "/run/ci", .format = "kata-raw", .method = "sysfs",
				 .digest = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
				 .extensions = "coco:gpu" };
	char *envp[64];
	char store[4096];
	int n;

	setenv("LISTEN_FDS", "9", 1);
	setenv("LISTEN_PIDFDID", "1234", 1);
	setenv("LISTEN_FDNAMES", "stale", 1);
	setenv("COCOINIT_INITDATA_DEVICE", "/dev/stale", 1);
	setenv("COCOINIT_INITDATA_STALE", "sha256:00", 1);
	setenv("KEEP_ME", "yes", 1);
	setenv("COCOINIT_EXTENSIONS", "stale", 1);
	n = handoff_build_env(envp, 64, store, sizeof(store), &e, ls, 2, 1);
	assert_true(n > 0);
	assert_null(envp[n]);
	assert_string_equal(env_get(envp, "LISTEN_FDS"), "2");
	assert_string_equal(env_get(envp, "LISTEN_PID"), "1");
	assert_string_equal(env_get(envp, "LISTEN_FDNAMES"), "passfd:log");
	assert_null(env_get(envp, "LISTEN_PIDFDID"));
	assert_int_equal(env_count(envp, "LISTEN_FDS"), 1);
	assert_int_equal(env_count(envp, "LISTEN_FDNAMES"), 1);
	assert_string_equal(env_get(envp, "COCOINIT_INITDATA_DEVICE"), "/dev/vdc");
	assert_int_equal(env_count(envp, "COCOINIT_INITDATA_DEVICE"), 1);
	assert_string_equal(env_get(envp, "COCOINIT_INITDATA_DIR"), "/run/ci");
	assert_string_equal(env_get(envp, "COCOINIT_INITDATA_FORMAT"), "kata-raw");
	assert_string_equal(env_get(envp, "COCOINIT_INITDATA_METHOD"), "sysfs");
	assert_string_equal(env_get(envp, "COCOINIT_INITDATA_DIGEST"),
			    "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	assert_null(env_get(envp, "COCOINIT_INITDATA_STALE"));
	assert_string_equal(env_get(envp, "KEEP_ME"), "yes");
	assert_string_equal(env_get(envp, "COCOINIT_EXTENSIONS"), "coco:gpu");
	assert_int_equal(env_count(envp, "COCOINIT_EXTENSIONS"), 1);
	unsetenv("COCOINIT_EXTENSIONS");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_PIDFDID");
	unsetenv("LISTEN_FDNAMES");
	unsetenv("COCOINIT_INITDATA_DEVICE");
	unsetenv("COCOINIT_INITDATA_STALE");
	unsetenv("KEEP_ME");
}

static void test_env_nothing_found_no_listeners(void **state)
{
	struct handoff_env e = { 0 };
	char *envp[64];
	char store[4096];
	int n;

	setenv("LISTEN_PID", "77", 1);
	setenv("COCOINIT_EXTENSIONS", "stale", 1);
	n = handoff_build_env(envp, 64, store, sizeof(store), &e, NULL, 0, 1);
	assert_true(n >= 0);
	for (int i = 0; i < n; i++) {
		assert_false(strncmp(envp[i], "LISTEN_", 7) == 0);
		assert_false(strncmp(envp[i], "COCOINIT_INITDATA_", 18) == 0);
		assert_false(strncmp(envp[i], "COCOINIT_EXTENSIONS=", 20) == 0);
	}
	unsetenv("LISTEN_PID");
	unsetenv("COCOINIT_EXTENSIONS");
}

static void test_env_pid_placeholder(void **state)
{
	struct vsock_listener ls[1] = { { .fd = 3, .port = 1027, .name = "passfd" } };
	char *envp[64];
	char store[4096];

	assert_true(handoff_build_env(envp, 64, store, sizeof(store), NULL, ls, 1, 0) > 0);
	handoff_env_set_pid(envp, 4194304);
	assert_string_equal(env_get(envp, "LISTEN_PID"), "4194304");
	/* Written again (shorter): no stale digits left behind. */
	handoff_env_set_pid(envp, 42);
	assert_string_equal(env_get(envp, "LISTEN_PID"), "42");
	/* The largest pid a long holds still fits its slot and spills into nothing. */
	handoff_env_set_pid(envp, 9223372036854775807L);
	assert_string_equal(env_get(envp, "LISTEN_PID"), "9223372036854775807");
	assert_string_equal(env_get(envp, "LISTEN_FDNAMES"), "passfd");
}

static void test_env_bad_name_and_no_space(void **state)
{
	struct vsock_listener bad[1] = { { .fd = 3, .port = 1, .name = "a:b" } };
	struct vsock_listener ok[1] = { { .fd = 3, .port = 1, .name = "ok" } };
	char *envp[64];
	char store[4096];
	char tiny[16];

	assert_int_equal(handoff_build_env(envp, 64, store, sizeof(store), NULL, bad, 1, 1), -EINVAL);
	assert_int_equal(handoff_build_env(envp, 64, tiny, sizeof(tiny), NULL, ok, 1, 1), -ENOSPC);
	assert_int_equal(handoff_build_env(envp, 1, store, sizeof(store), NULL, ok, 1, 1), -ENOSPC);
}

static ino_t fd_ino(int fd)
{
	struct stat s;

	return fstat(fd, &s) < 0 ? 0 : s.st_ino;
}

/* Which fds above 2 are open: a bitmask of fds 3..63, -1 if one is >= 64. */
static long open_fds_above_2(void)
{
	long mask = 0;

	for (int fd = 3; fd < 1024; fd++) {
		if (fcntl(fd, F_GETFD) < 0)
			continue;
		if (fd >= 63)
			return -1;
		mask |= 1L << fd;
	}
	return mask;
}

static int new_socket_at(int target)
{
	int fds[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) < 0)
		return -1;
	close(fds[1]);
	if (fds[0] == target)
		return target;
	if (dup3(fds[0], target, O_CLOEXEC) < 0)
		return -1;
	close(fds[0]);
	return target;
}

/* Child: listeners at 5, 3, 9 (3 and 5 swapped relative to their targets),
 * strays at 4 (no CLOEXEC), 7 and 12; after arranging, 3/4/5 must be the
 * listeners in order with CLOEXEC clear, and nothing else above 2. */
static int arrange_child(void)
{
	struct vsock_listener ls[3] = { { .fd = -1, .name = "a" }, { .fd = -1, .name = "b" }, { .fd = -1, .name = "c" } };
	ino_t ino[3];
	int devnull;

	for (int fd = 3; fd < 1024; fd++)
		close(fd);
	if (new_socket_at(5) != 5 || new_socket_at(3) != 3 || new_socket_at(9) != 9)
		return 10;
	devnull = open("/dev/null", O_RDONLY);
	if (devnull != 4)
		return 11;
	if (dup3(4, 7, O_CLOEXEC) < 0 || dup2(4, 12) < 0)
		return 12;
	ls[0].fd = 5;
	ls[1].fd = 3;
	ls[2].fd = 9;
	for (int i = 0; i < 3; i++)
		ino[i] = fd_ino(ls[i].fd);
	if (handoff_arrange_fds(ls, 3) < 0)
		return 13;
	for (int i = 0; i < 3; i++) {
		if (ls[i].fd != 3 + i)
			return 20 + i;
		if (fd_ino(3 + i) != ino[i])
			return 30 + i;
		if (fcntl(3 + i, F_GETFD) & FD_CLOEXEC)
			return 40 + i;
	}
	if (open_fds_above_2() != ((1L << 3) | (1L << 4) | (1L << 5)))
		return 50;
	return 0;
}

static int run_in_child(int (*fn)(void))
{
	pid_t pid = fork();
	int status;

	if (pid == 0)
		_exit(fn());
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

static void test_arrange_fds_swapped(void **state)
{
	assert_int_equal(run_in_child(arrange_child), 0);
}

static int arrange_none_child(void)
{
	for (int fd = 3; fd < 1024; fd++)
		close(fd);
	if (open("/dev/null", O_RDONLY) != 3 || dup2(3, 8) < 0)
		return 10;
	if (handoff_arrange_fds(NULL, 0) < 0)
		return 11;
	return open_fds_above_2() == 0 ? 0 : 12;
}

static void test_arrange_fds_none(void **state)
{
	assert_int_equal(run_in_child(arrange_none_child), 0);
}

/* The agent scripts write their report here. */
static char workdir[] = "/tmp/test_handoff.XXXXXX";
static char agent_path[128], report_path[128];

static void write_agent(const char *body)
{
	FILE *f = fopen(agent_path, "w");

	assert_non_null(f);
	fprintf(f, "#!/bin/sh\nout=%s; export out\n%s\n", report_path, body);
	fclose(f);
	assert_int_equal(chmod(agent_path, 0755), 0);
	unlink(report_path);
}

static char *read_report(void)
{
	static char buf[8192];
	ssize_t n = util_read_file_at(AT_FDCWD, report_path, buf, sizeof(buf) - 1, true);

	assert_true(n > 0);
	buf[n] = '\0';
	return buf;
}

static struct config agent_cfg;

static char self_exe[256];

/* exec mode: this test program is the agent (TEST_HANDOFF_AGENT=<report
 * path>), so the report shows exactly what execve() passed: no shell in
 * between resetting masks or holding fds of its own. */
static int agent_report(const char *path)
{
	FILE *f = fopen(path, "w");
	char buf[4096], target[128];
	ssize_t n;

	if (!f)
		return 1;
	fprintf(f, "pid=%ld\n", (long)getpid());
	for (char **e = environ; *e; e++)
		if (strncmp(*e, "LISTEN_", 7) == 0 || strncmp(*e, "COCOINIT_", 9) == 0)
			fprintf(f, "%s\n", *e);
	fprintf(f, "fds=");
	for (int fd = 0; fd < 1024; fd++)
		if (fd != fileno(f) && fcntl(fd, F_GETFD) >= 0)
			fprintf(f, "%d,", fd);
	fprintf(f, "\n");
	n = readlink("/proc/self/fd/3", target, sizeof(target) - 1);
	target[n < 0 ? 0 : n] = '\0';
	fprintf(f, "fd3=%s cloexec=%d\n", target, fcntl(3, F_GETFD) & FD_CLOEXEC);
	n = util_read_file_at(AT_FDCWD, "/proc/self/status", buf, sizeof(buf) - 1, true);
	buf[n < 0 ? 0 : n] = '\0';
	for (char *l = strtok(buf, "\n"); l; l = strtok(NULL, "\n"))
		if (strncmp(l, "SigBlk:", 7) == 0 || strncmp(l, "SigIgn:", 7) == 0)
			fprintf(f, "%s\n", l);
	n = util_read_file_at(AT_FDCWD, "/proc/self/oom_score_adj", buf, sizeof(buf) - 1, true);
	buf[n < 0 ? 0 : n] = '\0';
	fprintf(f, "oom_score_adj=%s", buf);
	struct rlimit rl;
	getrlimit(RLIMIT_NOFILE, &rl);
	fprintf(f, "nofile=%llu/%llu\n", (unsigned long long)rl.rlim_cur, (unsigned long long)rl.rlim_max);
	return fclose(f) == 0 ? 0 : 1;
}

static int exec_child(void)
{
	struct vsock_listener ls[1] = { { .fd = -1, .port = 1027, .name = "passfd" } };
	/* Values an unprivileged run may set too: a higher score, a lower limit. */
	static const struct handoff_limits limits = { .oom_score_adj = "517", .nofile = 777 };
	struct handoff_env e = { .device = "/dev/vdz", .dir = "/x", .format = "vfat", .method = "by-id",
				 .limits = &limits };
	struct config c = agent_cfg;
	sigset_t all;

	util_strlcpy(c.agent, self_exe, sizeof(c.agent));
	setenv("TEST_HANDOFF_AGENT", report_path, 1);
	ls[0].fd = new_socket_at(6);
	if (ls[0].fd < 0 || open("/dev/null", O_RDONLY) < 0)
		return 10;
	/* What PID 1 has at hand-off: every signal blocked, one ignored. */
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	signal(SIGUSR1, SIG_IGN);
	handoff_exec(&c, &e, ls, 1);
	return 11;
}

static void test_exec_agent(void **state)
{
	char expect[64];
	char *r;
	const char *p;

	unlink(report_path);
	assert_int_equal(run_in_child(exec_child), 0);
	r = read_report();
	assert_non_null(strstr(r, "LISTEN_FDS=1\n"));
	assert_non_null(strstr(r, "LISTEN_FDNAMES=passfd\n"));
	/* exec keeps the pid: LISTEN_PID is the pid the agent runs as. */
	p = strstr(r, "pid=");
	assert_non_null(p);
	snprintf(expect, sizeof(expect), "LISTEN_PID=%ld\n", strtol(p + 4, NULL, 10));
	assert_non_null(strstr(r, expect));
	assert_non_null(strstr(r, "COCOINIT_INITDATA_DEVICE=/dev/vdz\n"));
	assert_non_null(strstr(r, "COCOINIT_INITDATA_DIR=/x\n"));
	assert_non_null(strstr(r, "COCOINIT_INITDATA_FORMAT=vfat\n"));
	assert_non_null(strstr(r, "COCOINIT_INITDATA_METHOD=by-id\n"));
	assert_non_null(strstr(r, "\nfds=0,1,2,3,\n"));
	assert_non_null(strstr(r, "\nfd3=socket:["));
	assert_non_null(strstr(r, "cloexec=0\n"));
	assert_non_null(strstr(r, "SigBlk:\t0000000000000000\n"));
	assert_non_null(strstr(r, "SigIgn:\t0000000000000000\n"));
	/* The agent runs with the hand-off's oom_score_adj and RLIMIT_NOFILE. */
	assert_non_null(strstr(r, "\noom_score_adj=517\n"));
	assert_non_null(strstr(r, "\nnofile=777/777\n"));
}

/* The longest configuration the parser accepts (passfd plus the most
 * listeners, every name as long as allowed) fits the hand-off's real
 * environment storage: no -ENOSPC at the point of no return. */
static void test_env_fdnames_at_parser_bounds(void **state)
{
	static char store[HANDOFF_STORE_SIZE];
	char *envp[HANDOFF_ENV_MAX];
	char line[4096], name[CONFIG_LISTENER_NAME_MAX], err[512] = "";
	struct vsock_listener ls[CONFIG_MAX_LISTENERS + 1];
	struct handoff_env e = { .device = "/dev/vdc", .dir = "/run/confidential-containers/initdata",
				 .format = "kata-raw", .method = "sysfs" };
	struct config c;
	size_t off, n = 0;
	const char *names;

	off = (size_t)snprintf(line, sizeof(line), "cocoinit.passfd=1 cocoinit.vsock_listen=");
	for (int i = 0; i < CONFIG_MAX_LISTENERS; i++) {
		memset(name, 'a' + i, CONFIG_LISTENER_NAME_MAX - 1);
		name[CONFIG_LISTENER_NAME_MAX - 1] = '\0';
		off += (size_t)snprintf(line + off, sizeof(line) - off, "%s%d:%s", i ? "," : "", 2000 + i, name);
	}
	assert_true(off < sizeof(line));
	assert_int_equal(cmdline_parse(line, off, &c, err, sizeof(err)), 0);
	assert_int_equal(vsock_plan(&c, ls, ARRAY_SIZE(ls), &n, err, sizeof(err)), 0);
	assert_int_equal(n, CONFIG_MAX_LISTENERS + 1);
	assert_true(handoff_build_env(envp, ARRAY_SIZE(envp), store, sizeof(store), &e, ls, n, 1) > 0);
	names = env_get(envp, "LISTEN_FDNAMES");
	assert_non_null(names);
	assert_int_equal(strlen(names), 6 + CONFIG_MAX_LISTENERS * CONFIG_LISTENER_NAME_MAX);
	assert_int_equal(strncmp(names, "passfd:aaa", 10), 0);
	assert_string_equal(env_get(envp, "LISTEN_FDS"), "17");
}

/* nofile is bounded by fs.nr_open, which the kernel enforces. */
static void test_limits_plan(void **state)
{
	struct handoff_limits l;
	struct config c;
	bool clamped = true;
	char *root = tree_from_manifest("file proc/sys/fs/nr_open 1048576\\n\n");
	int fd;

	assert_non_null(root);
	fd = tree_open(root);
	cmdline_defaults(&c);
	assert_int_equal(handoff_limits_plan(fd, &c, &l, &clamped), 0);
	assert_string_equal(l.oom_score_adj, "-997");
	assert_int_equal(l.nofile, 1048576);
	assert_false(clamped);
	c.agent_nofile = 2000000;
	c.agent_oom_score_adj = 1000;
	assert_int_equal(handoff_limits_plan(fd, &c, &l, &clamped), 0);
	assert_int_equal(l.nofile, 1048576);
	assert_true(clamped);
	assert_string_equal(l.oom_score_adj, "1000");
	close(fd);
	tree_remove(root);
}

static int supervise_status;

static int supervise_child(void)
{
	struct vsock_listener ls[1] = { { .fd = -1, .port = 1027, .name = "passfd" } };
	static const struct handoff_limits limits = { .oom_score_adj = "518", .nofile = 778 };
	struct handoff_env e = { .limits = &limits };
	int status = 0;

	/* Stands in for PID 1: orphans of the agent are reparented to us. */
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
		return 10;
	ls[0].fd = new_socket_at(8);
	if (ls[0].fd < 0)
		return 11;
	if (handoff_supervise(&agent_cfg, &e, ls, 1, &status) < 0)
		return 12;
	/* Every child was reaped: nothing left to wait for. */
	if (waitpid(-1, NULL, WNOHANG) != -1 || errno != ECHILD)
		return 13;
	if (!WIFEXITED(status))
		return 14;
	return WEXITSTATUS(status);
}

static void test_supervise_agent(void **state)
{
	char expect[64];
	char *r;
	const char *p;

	/* The agent leaves an orphan that exits, asks its supervisor to send it
	 * SIGTERM (by signalling the supervisor, which forwards), and exits 3. */
	write_agent("{ echo \"pid=$$\"; env | grep -E '^LISTEN_' | sort; readlink /proc/$$/fd/3;\n"
		    "  echo \"oom=$(cat /proc/$$/oom_score_adj) nofile=$(ulimit -n)\"; } > $out\n"
		    "sh -c 'sh -c \"echo \\$\\$ > $out.orphan\" & ' ; i=0\n"
		    "while [ ! -s $out.orphan ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done\n"
		    "o=$(cat $out.orphan); i=0\n"
		    "while [ -e /proc/$o ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done\n"
		    "if [ -e /proc/$o ]; then echo \"orphan $o left\" >> $out; else echo \"orphan reaped\" >> $out; fi\n"
		    "trap 'echo got TERM >> $out; exit 3' TERM\n"
		    "kill -TERM $PPID\n"
		    "i=0; while [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done\n"
		    "echo no TERM >> $out; exit 9");
	supervise_status = run_in_child(supervise_child);
	r = read_report();
	assert_int_equal(supervise_status, 3);
	assert_non_null(strstr(r, "got TERM\n"));
	assert_non_null(strstr(r, "orphan reaped\n"));
	/* Set in the child: the agent's, not the supervisor's. */
	assert_non_null(strstr(r, "\noom=518 nofile=778\n"));
	assert_non_null(strstr(r, "LISTEN_FDS=1\n"));
	assert_non_null(strstr(r, "socket:["));
	p = strstr(r, "pid=");
	assert_non_null(p);
	/* Set in the child after fork: the agent's own pid, not the supervisor's. */
	snprintf(expect, sizeof(expect), "LISTEN_PID=%ld\n", strtol(p + 4, NULL, 10));
	assert_non_null(strstr(r, expect));
}

static int setup(void **state)
{
	if (!mkdtemp(workdir))
		return -1;
	snprintf(agent_path, sizeof(agent_path), "%s/agent", workdir);
	snprintf(report_path, sizeof(report_path), "%s/report", workdir);
	cmdline_defaults(&agent_cfg);
	util_strlcpy(agent_cfg.agent, agent_path, sizeof(agent_cfg.agent));
	return 0;
}

static int teardown(void **state)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", workdir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const char *agent = getenv("TEST_HANDOFF_AGENT");
	ssize_t n;

	if (agent)
		return agent_report(agent);
	n = readlink("/proc/self/exe", self_exe, sizeof(self_exe) - 1);
	if (n <= 0)
		return 1;
	self_exe[n] = '\0';

	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_env_listeners_and_initdata),
		cmocka_unit_test(test_env_nothing_found_no_listeners),
		cmocka_unit_test(test_env_pid_placeholder),
		cmocka_unit_test(test_env_bad_name_and_no_space),
		cmocka_unit_test(test_env_fdnames_at_parser_bounds),
		cmocka_unit_test(test_limits_plan),
		cmocka_unit_test(test_arrange_fds_swapped),
		cmocka_unit_test(test_arrange_fds_none),
		cmocka_unit_test(test_exec_agent),
		cmocka_unit_test(test_supervise_agent),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
