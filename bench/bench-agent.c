/* SPDX-License-Identifier: Apache-2.0 */
/* The agent of bench/boot. Its first act is a /dev/kmsg line, so the kernel's
 * lines ("Run /init as init process", the last virtio disk probed) and its
 * own share one clock: the differences are the init's hand-off times,
 * whichever init ran (cocoinit, the busybox script or the floor). With
 * bench.mode=discover on the kernel command line it then times each discovery
 * method against the real disks, reads PID 1's peak memory and reports
 * "BENCH ..." lines on /dev/ttyS1 (stdout without one); then it powers off. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "cocoinit/discover.h"
#include "cocoinit/log.h"
#include "cocoinit/serial.h"
#include "cocoinit/util.h"
#include "methods.h"

#define START_LINE "bench-agent: start"
#define SERIAL "initdata"

static int out_fd = STDOUT_FILENO;

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	char line[4096];
	va_list ap;
	int n;

	memcpy(line, "BENCH ", 6);
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

/* Printable ASCII only: kmsg text is copied into the report. */
static void sanitize(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
			*s = '?';
}

/* The kernel's line for a virtio disk it probed: "virtio_blk virtioN: [vdX] ..." */
static int is_probe_line(const char *text)
{
	return strncmp(text, "virtio_blk virtio", 17) == 0 && strstr(text, ": [vd") != NULL;
}

/* Walks the kernel log once: the timestamps of the init's start, of the last
 * disk probed before our own start line and of that line, and cocoinit's
 * timing lines for the record. */
static void report_kmsg(void)
{
	_cleanup_close_ int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	int64_t init_us = -1, agent_us = -1, mod_start = -1, mod_done = -1, probe_us = -1;
	unsigned probes = 0;
	char rec[8192];

	if (fd < 0) {
		say("error kmsg %s", strerror(errno));
		return;
	}
	for (;;) {
		ssize_t n = read(fd, rec, sizeof(rec) - 1);

		if (n < 0 && (errno == EPIPE || errno == EINVAL))
			continue; /* overwritten or oversized record */
		if (n <= 0)
			break;
		rec[n] = '\0';
		char *nl = strchr(rec, '\n');
		if (nl)
			*nl = '\0';
		/* "prio,seq,ts_us,flags[,...];text" */
		char *semi = strchr(rec, ';');
		unsigned long long prio, seq, ts;
		if (!semi || sscanf(rec, "%llu,%llu,%llu", &prio, &seq, &ts) != 3)
			continue;
		const char *text = semi + 1;
		/* "Run /init as init process", or the rdinit= program's name */
		if (init_us < 0 && strncmp(text, "Run /", 5) == 0 && strstr(text, " as init process"))
			init_us = (int64_t)ts;
		else if (agent_us < 0 && strcmp(text, START_LINE) == 0)
			agent_us = (int64_t)ts;
		else if (agent_us < 0 && is_probe_line(text)) {
			probe_us = (int64_t)ts;
			probes++;
		}
		else if (strcmp(text, "busybox-init: modules start") == 0)
			mod_start = (int64_t)ts;
		else if (strcmp(text, "busybox-init: modules done") == 0)
			mod_done = (int64_t)ts;
		else if (strncmp(text, "cocoinit: timing:", 17) == 0 || strncmp(text, "cocoinit: initdata:", 19) == 0) {
			sanitize(semi + 1);
			say("kmsg %s", text);
		}
		/* Every cocoinit line with its time after the last probe: the timeline. */
		if (strncmp(text, "cocoinit: ", 10) == 0 && agent_us < 0) {
			sanitize(semi + 1);
			say("line after_probe_us=%" PRId64 " %s", probe_us >= 0 ? (int64_t)ts - probe_us : -1, text);
		}
	}
	say("handoff init_us=%" PRId64 " agent_us=%" PRId64 " handoff_us=%" PRId64, init_us, agent_us,
	    init_us >= 0 && agent_us >= 0 ? agent_us - init_us : -1);
	say("probe probes=%u last_probe_us=%" PRId64 " after_probe_us=%" PRId64, probes, probe_us,
	    probe_us >= 0 && agent_us >= probe_us ? agent_us - probe_us : -1);
	/* Only the busybox script marks its module loading; cocoinit's timing line says it. */
	if (mod_start >= 0 && mod_done >= mod_start)
		say("modules modules_us=%" PRId64, mod_done - mod_start);
}

static void report_status(const char *path, const char *tag)
{
	char buf[4096];
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0 || (n = read(fd, buf, sizeof(buf) - 1)) <= 0)
		return;
	buf[n] = '\0';
	for (char *save = NULL, *l = strtok_r(buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		unsigned long kib;

		if (sscanf(l, "VmHWM: %lu kB", &kib) == 1)
			say("mem %s VmHWM_kib=%lu", tag, kib);
		else if (sscanf(l, "VmPeak: %lu kB", &kib) == 1)
			say("mem %s VmPeak_kib=%lu", tag, kib);
		else if (sscanf(l, "VmRSS: %lu kB", &kib) == 1)
			say("mem %s VmRSS_kib=%lu", tag, kib);
		else if (strncmp(l, "Name:", 5) == 0) {
			sanitize(l);
			say("mem %s %s", tag, l);
		}
	}
}

/* ---- the methods ----------------------------------------------------- */

/* What `cocoinit locate --method` calls each one, NULL when it has no such method. */
static const char *const locate_names[BENCH_METHODS] = { "hint", "by-id", "sysfs", NULL, "magic", NULL, NULL };

/* `cocoinit locate --method M --json`, the tool as shipped: its own
 * elapsed_us, the wall time of the whole process and its peak RSS. */
static int run_locate(const char *bin, const char *method, const char *hint, long *ret_elapsed_us,
		      uint64_t *ret_wall_ns, long *ret_maxrss_kib)
{
	int pfd[2];
	char out[1024];
	size_t got = 0;
	struct rusage ru;
	int status;
	uint64_t t0 = bench_now_ns();

	if (pipe2(pfd, O_CLOEXEC) < 0)
		return -errno;
	pid_t pid = fork();
	if (pid < 0) {
		close(pfd[0]);
		close(pfd[1]);
		return -errno;
	}
	if (pid == 0) {
		dup2(pfd[1], STDOUT_FILENO);
		execl(bin, bin, "locate", "--serial", SERIAL, "--method", method, "--hint", hint, "--json",
		      (char *)NULL);
		_exit(127);
	}
	close(pfd[1]);
	for (;;) {
		ssize_t n = read(pfd[0], out + got, sizeof(out) - 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
		if (got == sizeof(out) - 1)
			break;
	}
	close(pfd[0]);
	out[got] = '\0';
	if (wait4(pid, &status, 0, &ru) < 0)
		return -errno;
	*ret_wall_ns = bench_now_ns() - t0;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return -ENOENT;
	const char *e = strstr(out, "\"elapsed_us\":");
	if (!e || !strstr(out, "\"device\":\"/dev/"))
		return -EBADMSG;
	*ret_elapsed_us = strtol(e + 13, NULL, 10);
	*ret_maxrss_kib = ru.ru_maxrss;
	return 0;
}

static void discover_bench(unsigned runs)
{
	const char *dev = getenv("COCOINIT_INITDATA_DEVICE");
	const char *bin = access("/bin/cocoinit", X_OK) == 0 ? "/bin/cocoinit" : "/init";
	char target[DISCOVER_NAME_MAX];
	_cleanup_close_ int rootfd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (!dev || strncmp(dev, "/dev/", 5) != 0) {
		say("error no COCOINIT_INITDATA_DEVICE: cocoinit did not find the disk");
		return;
	}
	util_strlcpy(target, dev + 5, sizeof(target));
	say("target %s", target);
	log_set_level(LOG_LVL_ERR);

	/* Interleaved, so that drift in the emulator hits every method alike. */
	for (unsigned r = 0; r < runs; r++) {
		for (int m = 0; m < BENCH_METHODS; m++) {
			char found[DISCOVER_NAME_MAX] = "";
			uint64_t t0 = bench_now_ns();
			int ret = bench_run_method((enum bench_method)m, rootfd, SERIAL, target, found, sizeof(found));
			uint64_t dt = bench_now_ns() - t0;

			if (ret < 0 || strcmp(found, target) != 0)
				say("error method=%s run=%u ret=%d found=%s", bench_method_names[m], r, ret, found);
			else
				say("sample method=%s run=%u ns=%" PRIu64, bench_method_names[m], r, dt);
		}
		for (int m = 0; m < BENCH_METHODS; m++) {
			long elapsed = 0, rss = 0;
			uint64_t wall = 0;

			if (!locate_names[m])
				continue;
			int ret = run_locate(bin, locate_names[m], target, &elapsed, &wall, &rss);
			if (ret < 0)
				say("error locate method=%s run=%u ret=%d", locate_names[m], r, ret);
			else
				say("locate method=%s run=%u elapsed_us=%ld wall_ns=%" PRIu64 " maxrss_kib=%ld",
				    locate_names[m], r, elapsed, wall, rss);
		}
	}
}

/* cocoinit's "timing_us" object from its state file, for the per-step breakdown. */
static void report_state_timing(void)
{
	char buf[16384];
	_cleanup_close_ int fd = open("/run/cocoinit/state.json", O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0 || (n = read(fd, buf, sizeof(buf) - 1)) <= 0)
		return;
	buf[n] = '\0';
	char *t = strstr(buf, "\"timing_us\":{");
	char *end = t ? strchr(t, '}') : NULL;
	if (!end)
		return;
	end[1] = '\0';
	sanitize(t);
	say("state %s", t);
}

/* Under the floor init nothing is mounted: what the report needs comes after
 * the start line, so it costs the measured time nothing. */
static void mount_if_missing(const char *probe, const char *src, const char *target, const char *type)
{
	struct stat st;

	if (stat(probe, &st) == 0)
		return;
	if (mount(src, target, type, MS_NOSUID, NULL) < 0)
		say("error mount %s: %s", target, strerror(errno));
}

static unsigned cmdline_uint(const char *cmdline, const char *key, unsigned def)
{
	const char *p = strstr(cmdline, key);

	if (!p)
		return def;
	unsigned long v = strtoul(p + strlen(key), NULL, 10);
	return v > 0 && v < 10000 ? (unsigned)v : def;
}

int main(void)
{
	char cmdline[4096] = "";
	int kfd, tty;

	/* First act: the hand-off time is measured up to this line. */
	kfd = open("/dev/kmsg", O_WRONLY | O_CLOEXEC);
	if (kfd >= 0) {
		/* The newline ends the record: an open one is invisible to readers. */
		if (write(kfd, START_LINE "\n", strlen(START_LINE) + 1) < 0)
			kfd = -1;
		close(kfd);
	}

	mount_if_missing("/dev/ttyS1", "devtmpfs", "/dev", "devtmpfs");
	mount_if_missing("/proc/self", "proc", "/proc", "proc");
	tty = open("/dev/ttyS1", O_WRONLY | O_NOCTTY | O_CLOEXEC);
	if (tty >= 0) {
		struct termios t;

		/* Raw output: no "\n" -> "\r\n" in the report file. */
		if (tcgetattr(tty, &t) == 0) {
			t.c_oflag &= ~(tcflag_t)OPOST;
			tcsetattr(tty, TCSANOW, &t);
		}
		out_fd = tty;
	}
	int cfd = open("/proc/cmdline", O_RDONLY | O_CLOEXEC);
	if (cfd >= 0) {
		ssize_t n = read(cfd, cmdline, sizeof(cmdline) - 1);
		cmdline[n > 0 ? n : 0] = '\0';
		close(cfd);
	}

	say("start pid=%d", (int)getpid());
	report_kmsg();
	report_state_timing();
	if (strstr(cmdline, "bench.mode=discover")) {
		/* In supervise mode PID 1 is still cocoinit: its peak is final. */
		report_status("/proc/1/status", "pid1");
		discover_bench(cmdline_uint(cmdline, "bench.runs=", 10));
	}
	say("done");
	sync();
	reboot(RB_POWER_OFF);
	return 0;
}
