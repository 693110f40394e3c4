/* SPDX-License-Identifier: Apache-2.0 */
/* The agent of the boot tests: reports what it received from cocoinit as
 * "AGENT ..." lines (pid, environment, fds, signal mask, mounts, state.json,
 * the initdata files, a loopback connection to each vsock listener), then
 * powers off or exits. /etc/test-agent.conf (key=value lines) selects extra
 * behaviour: orphan=1 leaves a zombie orphan for PID 1 to reap, exit=N
 * exits with N instead of powering off. The report goes to /dev/ttyS1 when
 * the VM has a second serial port (no kernel messages there), else stdout. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/reboot.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include <linux/vm_sockets.h>

#include "cocoinit/listenfds.h"

extern char **environ;

static int out_fd = STDOUT_FILENO;

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	char line[8192];
	va_list ap;
	int n;

	memcpy(line, "AGENT ", 6);
	va_start(ap, fmt);
	n = vsnprintf(line + 6, sizeof(line) - 8, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(line) - 8)
		n = (int)sizeof(line) - 8;
	n += 6;
	line[n++] = '\n';
	/* One write per line keeps lines whole. */
	if (write(out_fd, line, (size_t)n) < 0)
		return;
}

/* Printable ASCII kept, everything else \xNN: the report is one line per item. */
static void escape(char *out, size_t outsz, const char *in, size_t len)
{
	size_t o = 0;

	for (size_t i = 0; i < len && o + 5 < outsz; i++) {
		unsigned char c = (unsigned char)in[i];

		if (c >= 0x20 && c < 0x7f && c != '\\')
			out[o++] = (char)c;
		else
			o += (size_t)snprintf(out + o, outsz - o, "\\x%02x", c);
	}
	out[o] = '\0';
}

static ssize_t slurp(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t got = 0;

	if (fd < 0)
		return -errno;
	while (got < size - 1) {
		ssize_t r = read(fd, buf + got, size - 1 - got);
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	buf[got] = '\0';
	return (ssize_t)got;
}

static char conf[1024];

static const char *conf_get(const char *key)
{
	static char val[128];
	size_t kl = strlen(key);

	for (const char *p = conf; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
		if (strncmp(p, key, kl) == 0 && p[kl] == '=') {
			size_t n = strcspn(p + kl + 1, "\n");
			if (n >= sizeof(val))
				n = sizeof(val) - 1;
			memcpy(val, p + kl + 1, n);
			val[n] = '\0';
			return val;
		}
	}
	return NULL;
}

static void report_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int self = d ? dirfd(d) : -1;

	while (d && (de = readdir(d))) {
		char path[64], target[256];
		int fd = atoi(de->d_name);
		ssize_t n;

		if (de->d_name[0] == '.' || fd == self || fd == out_fd)
			continue;
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		n = readlink(path, target, sizeof(target) - 1);
		target[n < 0 ? 0 : n] = '\0';
		say("fd %d %s cloexec=%d", fd, target, (fcntl(fd, F_GETFD) & FD_CLOEXEC) ? 1 : 0);
	}
	if (d)
		closedir(d);
}

static void report_status(void)
{
	char buf[4096];

	if (slurp("/proc/self/status", buf, sizeof(buf)) <= 0)
		return;
	for (char *l = strtok(buf, "\n"); l; l = strtok(NULL, "\n"))
		if (strncmp(l, "SigBlk:", 7) == 0 || strncmp(l, "SigIgn:", 7) == 0 || strncmp(l, "PPid:", 5) == 0)
			say("status %s", l);
}

static void report_file_lines(const char *tag, const char *path)
{
	static char buf[65536];
	char esc[4096];

	if (slurp(path, buf, sizeof(buf)) < 0) {
		say("%s missing %s", tag, path);
		return;
	}
	for (char *l = strtok(buf, "\n"); l; l = strtok(NULL, "\n")) {
		escape(esc, sizeof(esc), l, strlen(l));
		say("%s %s", tag, esc);
	}
}

static void report_serials(void)
{
	DIR *d = opendir("/sys/block");
	struct dirent *de;

	while (d && (de = readdir(d))) {
		char path[300], buf[64], esc[256];
		ssize_t n;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/sys/block/%s/serial", de->d_name);
		n = slurp(path, buf, sizeof(buf));
		if (n < 0)
			continue;
		escape(esc, sizeof(esc), buf, (size_t)n);
		say("serial /dev/%s %s", de->d_name, esc);
	}
	if (d)
		closedir(d);
}

/* Takes each passed listener the way an agent would and connects to it
 * through vsock_loopback (CID 1): a listener that is not listening fails. */
static void report_listeners(void)
{
	const char *names = getenv("LISTEN_FDNAMES");
	char copy[512];

	if (!names)
		return;
	snprintf(copy, sizeof(copy), "%s", names);
	for (char *name = strtok(copy, ":"); name; name = strtok(NULL, ":")) {
		int fd = listenfds_take(name, AF_VSOCK, 0);
		struct sockaddr_vm sa = { .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_LOCAL };
		socklen_t sl = sizeof(sa);
		int c, a;

		if (fd < 0) {
			say("listener %s take-failed %s", name, strerror(-fd));
			continue;
		}
		if (getsockname(fd, (struct sockaddr *)&sa, &sl) < 0) {
			say("listener %s getsockname-failed %s", name, strerror(errno));
			continue;
		}
		sa.svm_cid = VMADDR_CID_LOCAL;
		c = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (c < 0 || connect(c, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			say("listener %s fd=%d port=%u connect-failed %s", name, fd, sa.svm_port, strerror(errno));
			continue;
		}
		a = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
		say("listener %s fd=%d port=%u %s", name, fd, sa.svm_port, a >= 0 ? "accepted" : strerror(errno));
		if (a >= 0)
			close(a);
		close(c);
	}
}

static void sleep_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* A child forks a grandchild and exits at once, so the grandchild is
 * reparented to PID 1; the grandchild exits once that has happened. Only
 * PID 1 can reap it: the report says whether /proc/<pid> went away. */
static void orphan(void)
{
	int pfd[2];
	pid_t child, g = 0;
	char buf[32];
	ssize_t n;
	int i;

	if (pipe2(pfd, O_CLOEXEC) < 0)
		return;
	child = fork();
	if (child == 0) {
		pid_t gc = fork();

		if (gc == 0) {
			pid_t parent = getppid();

			/* Wait until the child is gone and this process belongs to PID 1. */
			for (i = 0; i < 500 && getppid() == parent; i++)
				sleep_ms(10);
			_exit(0);
		}
		n = snprintf(buf, sizeof(buf), "%d", (int)gc);
		if (write(pfd[1], buf, (size_t)n) < 0)
			_exit(2);
		_exit(0);
	}
	close(pfd[1]);
	n = read(pfd[0], buf, sizeof(buf) - 1);
	if (n > 0) {
		buf[n] = '\0';
		g = atoi(buf);
	}
	/* EOF: the child and the grandchild have both exited. */
	while (read(pfd[0], buf, sizeof(buf)) > 0)
		;
	close(pfd[0]);
	waitpid(child, NULL, 0);
	if (g <= 0) {
		say("orphan failed");
		return;
	}
	for (i = 0; i < 500; i++) {
		char path[64];
		struct stat s;

		snprintf(path, sizeof(path), "/proc/%d", (int)g);
		if (stat(path, &s) < 0) {
			say("orphan reaped pid=%d", (int)g);
			return;
		}
		sleep_ms(10);
	}
	say("orphan zombie pid=%d", (int)g);
}

int main(int argc, char **argv)
{
	char esc[2048];
	const char *dir, *exit_code;
	int tty;

	tty = open("/dev/ttyS1", O_WRONLY | O_NOCTTY | O_CLOEXEC);
	if (tty >= 0) {
		struct termios t;

		/* Raw output: no "\n" -> "\r\n" surprises in the report file. */
		if (tcgetattr(tty, &t) == 0) {
			t.c_oflag &= ~(tcflag_t)OPOST;
			tcsetattr(tty, TCSANOW, &t);
		}
		out_fd = tty;
	}
	slurp("/etc/test-agent.conf", conf, sizeof(conf));

	say("start pid=%d argv0=%s", (int)getpid(), argv[0]);
	for (char **e = environ; *e; e++) {
		escape(esc, sizeof(esc), *e, strlen(*e));
		say("env %s", esc);
	}
	report_fds();
	report_status();
	for (int fd = 0; fd < 3; fd++) {
		struct stat s;

		if (fstat(fd, &s) == 0)
			say("stdio %d %s %u:%u", fd, S_ISCHR(s.st_mode) ? "chr" : "other", major(s.st_rdev),
			    minor(s.st_rdev));
		else
			say("stdio %d closed", fd);
	}
	report_file_lines("mount", "/proc/mounts");
	report_serials();
	report_file_lines("state", "/run/cocoinit/state.json");
	dir = getenv("COCOINIT_INITDATA_DIR");
	if (dir) {
		char path[512];

		snprintf(path, sizeof(path), "%s/initdata.toml", dir);
		report_file_lines("initdata", path);
	}
	report_listeners();
	if (conf_get("orphan"))
		orphan();
	exit_code = conf_get("exit");
	say("done");
	tcdrain(out_fd);
	if (exit_code)
		return atoi(exit_code);
	sync();
	reboot(RB_POWER_OFF);
	say("poweroff failed: %s", strerror(errno));
	for (;;)
		pause();
}
