/* SPDX-License-Identifier: Apache-2.0 */
/* The built cocoinit binary running its boot sequence outside PID 1
 * (COCOINIT_PID1=1), as someone might on a host: a failure ends in exit
 * status 1, never a power-off, a reboot or a shell. Each run is confined to
 * a private user and mount namespace with its own /proc/cmdline, /run,
 * /dev/kmsg and /dev/console files, and cannot reboot the machine (no
 * CAP_SYS_BOOT over the pid namespace it runs in). */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "cocoinit/util.h"

static char workdir[] = "/tmp/test_hardening.XXXXXX";

static void put(const char *name, const char *text)
{
	char path[256];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", workdir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(util_write_all(fd, text, strlen(text)), 0);
	close(fd);
}

static char *get(const char *name)
{
	static char buf[3][16384];
	static int i;
	char path[256];
	ssize_t n;

	i = (i + 1) % 3;
	snprintf(path, sizeof(path), "%s/%s", workdir, name);
	n = util_read_file_at(AT_FDCWD, path, buf[i], sizeof(buf[i]) - 1, true);
	buf[i][n < 0 ? 0 : n] = '\0';
	return buf[i];
}

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	int r;

	if (fd < 0)
		return -1;
	r = util_write_all(fd, text, strlen(text));
	close(fd);
	return r;
}

static int bind(const char *name, const char *target)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", workdir, name);
	return mount(path, target, NULL, MS_BIND, NULL);
}

/* Whether any mount this process sees propagates to another namespace. */
static bool mounts_shared(void)
{
	char buf[65536];
	ssize_t n = util_read_file_at(AT_FDCWD, "/proc/self/mountinfo", buf, sizeof(buf) - 1, true);

	if (n < 0)
		return true;
	buf[n] = '\0';
	return strstr(buf, " shared:") != NULL;
}

/* Forks; the parent waits for the child and exits with its status (128 +
 * the signal when it was killed); the child returns. */
static void fork_and_pass_status_on(void)
{
	pid_t pid = fork();
	int status;

	if (pid < 0)
		_exit(90);
	if (pid == 0)
		return;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			_exit(90);
	_exit(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
}

/* A chroot (a fresh debootstrap, say) refuses a user namespace. There root
 * confines the run with a pid namespace instead: reboot() from inside one
 * only ends that namespace's init (by a signal, which the test then sees).
 * The first child is that init; the run is its child, pid 2: not PID 1, so
 * the test still means what it says. */
static void confine_with_pid_namespace(void)
{
	if (geteuid() != 0 || unshare(CLONE_NEWNS | CLONE_NEWPID) < 0)
		_exit(90);
	fork_and_pass_status_on(); /* now pid 1 of the new namespace */
	fork_and_pass_status_on(); /* now pid 2 */
}

/* The child: a user namespace mapping only our uid (or, in a chroot, a pid
 * namespace), a private mount namespace, then the binary with the boot
 * sequence forced on. */
static _Noreturn void child(void)
{
	char map[64];
	uid_t uid = getuid();
	gid_t gid = getgid();
	int out = open(workdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (out < 0)
		_exit(90);
	if (unshare(CLONE_NEWUSER | CLONE_NEWNS) == 0) {
		snprintf(map, sizeof(map), "0 %u 1", (unsigned)uid);
		if (write_file("/proc/self/uid_map", map) < 0 || write_file("/proc/self/setgroups", "deny") < 0)
			_exit(91);
		snprintf(map, sizeof(map), "0 %u 1", (unsigned)gid);
		if (write_file("/proc/self/gid_map", map) < 0)
			_exit(92);
	} else if (errno == EPERM) {
		confine_with_pid_namespace();
	} else {
		_exit(90);
	}
	/* In a chroot "/" is no mount point (EINVAL): then no mount it sees may be shared. */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 && (errno != EINVAL || mounts_shared()))
		_exit(93);
	/* Nothing the boot writes reaches the machine's /run, kmsg or console. */
	if (mount("tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") < 0)
		_exit(94);
	if (bind("cmdline", "/proc/cmdline") < 0 || bind("kmsg", "/dev/kmsg") < 0 ||
	    bind("console", "/dev/console") < 0 || bind("printk", "/proc/sys/kernel/printk") < 0)
		_exit(95);
	int null = open("/dev/null", O_RDWR);
	if (null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 || dup2(null, 2) < 0)
		_exit(96);
	setenv("COCOINIT_PID1", "1", 1);
	execl(COCOINIT_BIN, "cocoinit", (char *)NULL);
	_exit(97);
}

/* Runs it with this kernel command line; its exit status, or -1 when it
 * was still running after 30 s (killed). */
static int run_boot(const char *cmdline)
{
	struct timespec tick = { 0, 20 * 1000 * 1000 };
	pid_t pid;
	int status;

	put("cmdline", cmdline);
	put("kmsg", "");
	put("console", "");
	/* console_loglevel 1 (`loglevel=1`): the kernel would print none of
	 * cocoinit's kmsg lines, so what must show is written to the console. */
	put("printk", "1\t4\t1\t7\n");
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		child();
	for (int i = 0; i < 1500; i++) {
		pid_t w = waitpid(pid, &status, WNOHANG);

		assert_true(w >= 0);
		if (w == pid) {
			if (WIFEXITED(status) && WEXITSTATUS(status) >= 90 && WEXITSTATUS(status) <= 97)
				fail_msg("setting up the namespace failed (%d): %s", WEXITSTATUS(status), strerror(errno));
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		}
		nanosleep(&tick, NULL);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	print_message("still running after 30 s; console:\n%s\n", get("console"));
	return -1;
}

static int oom_score_adj(void)
{
	char buf[32];
	ssize_t n = util_read_file_at(AT_FDCWD, "/proc/self/oom_score_adj", buf, sizeof(buf) - 1, true);

	assert_true(n > 0);
	buf[n] = '\0';
	return atoi(buf);
}

/* The default policy (poweroff) and reboot: exit 1, said on the console. */
static void test_poweroff_is_exit(void **state)
{
	static const char *const policies[] = { "", "cocoinit.on_error=reboot " };

	for (size_t i = 0; i < 2; i++) {
		char line[256];

		/* Limits an unprivileged process may set: the agent is not found. */
		snprintf(line, sizeof(line),
			 "%scocoinit.initdata=off cocoinit.agent=/nonexistent/agent cocoinit.agent_oom_score_adj=%d "
			 "cocoinit.agent_nofile=64\n",
			 policies[i], oom_score_adj());
		assert_int_equal(run_boot(line), 1);
		assert_non_null(strstr(get("console"), "cocoinit: fatal: handoff: exec /nonexistent/agent: "
						       "No such file or directory\n"));
		assert_non_null(strstr(get("console"), "cocoinit: on_error: exit status=1 (not PID 1)\n"));
		assert_null(strstr(get("console"), "on_error: poweroff"));
		assert_null(strstr(get("console"), "on_error: reboot"));
	}
}

/* on_error=shell outside PID 1 does not exec /bin/sh in cocoinit's place. */
static void test_shell_is_exit(void **state)
{
	assert_int_equal(run_boot("cocoinit.on_error=shell cocoinit.initdata_timeout_ms=abc\n"), 1);
	assert_non_null(strstr(get("console"), "cocoinit: fatal: cmdline: cocoinit.initdata_timeout_ms: \"abc\" "
					       "is not a number\n"));
	assert_non_null(strstr(get("console"), "cocoinit: on_error: exit status=1 (not PID 1)\n"));
	assert_null(strstr(get("console"), "on_error: shell"));
}

static int setup(void **state)
{
	return mkdtemp(workdir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[256];

	if (getenv("KEEP"))
		return 0;

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", workdir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_poweroff_is_exit),
		cmocka_unit_test(test_shell_is_exit),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
