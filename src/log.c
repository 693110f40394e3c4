/* SPDX-License-Identifier: Apache-2.0 */
/* Log lines: "cocoinit: <text>", one write() per line so that kmsg records
 * stay whole. Must not allocate: it runs on every error path, also after fork. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cocoinit/log.h"

/* /dev/kmsg refuses (EINVAL) a write longer than 992 bytes on kernels
 * before 6.2 (LOG_LINE_MAX, 1024 - PREFIX_MAX; 1024 since), the "<N>" prefix
 * and the newline included: a longer line would vanish whole, so it is cut
 * to fit, visibly. */
#define LOG_LINE_MAX 992

static int log_level = LOG_LVL_INFO;
static int log_fd = -1;
static enum log_sink log_sink = LOG_SINK_PLAIN;
static int log_console_fd = -1;
static int log_console_loglevel = -1; /* -1: not asked yet */
static int (*log_console_loglevel_get)(void);
/* Lines written to the kmsg fd in the kernel's current rate-limit window. */
static unsigned log_kmsg_lines;
static bool log_kmsg_unlimited;
static uint64_t log_kmsg_window_start_ms;

/* The kernel keeps the rate limit per open file and starts a new window
 * LOG_KMSG_WINDOW_MS after the first line of the last one; a second of
 * margin keeps the count on the safe side of the kernel's jiffies. */
#define LOG_KMSG_WINDOW_MS (5000 + 1000)

static uint64_t log_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void log_set_level(int level)
{
	log_level = level;
}

int log_get_level(void)
{
	return log_level;
}

void log_set_fd(int fd, enum log_sink sink)
{
	if (log_fd >= 0 && log_fd != fd)
		close(log_fd);
	if (log_fd != fd)
		log_kmsg_lines = 0; /* a new open file has a fresh burst */
	log_fd = fd;
	log_sink = sink;
}

unsigned log_kmsg_count(void)
{
	return log_kmsg_lines;
}

void log_set_kmsg_unlimited(bool unlimited)
{
	log_kmsg_unlimited = unlimited;
}

/* May this line go to kmsg without risking the rate limit? Lines of the
 * boot's end (LOG_TAIL) may use the reserve; all others stop short of it. */
static bool log_kmsg_take(bool tail)
{
	unsigned limit = tail ? LOG_KMSG_BURST : LOG_KMSG_BURST - LOG_KMSG_TAIL_RESERVE;
	uint64_t now = log_now_ms();

	if (log_kmsg_lines > 0 && now - log_kmsg_window_start_ms > LOG_KMSG_WINDOW_MS)
		log_kmsg_lines = 0;
	if (log_kmsg_lines >= limit && !log_kmsg_unlimited)
		return false;
	if (log_kmsg_lines++ == 0)
		log_kmsg_window_start_ms = now;
	return true;
}

static int log_console_level(void)
{
	if (log_console_loglevel < 0)
		/* 0 when unknown: the kernel prints nothing from kmsg. */
		log_console_loglevel = log_console_loglevel_get ? log_console_loglevel_get() : 0;
	return log_console_loglevel;
}

void log_set_console_fd(int fd, int (*get_loglevel)(void))
{
	log_console_loglevel = -1;
	log_console_loglevel_get = get_loglevel;
	if (log_console_fd >= 0 && log_console_fd != fd)
		close(log_console_fd);
	log_console_fd = fd;
}

static void log_write_line(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t w = write(fd, buf, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		buf += w;
		len -= (size_t)w;
	}
}

void log_vmsg(int level, const char *fmt, va_list ap)
{
	char line[LOG_LINE_MAX];
	int saved = errno;
	bool tail = (level & LOG_TAIL) != 0;
	bool must_show = (level & LOG_CONSOLE) != 0;
	int pre, n;

	level &= LOG_LVL_MASK;
	if (level > log_level)
		return;

	pre = snprintf(line, sizeof(line), "<%d>cocoinit: ", level);
	n = vsnprintf(line + pre, sizeof(line) - (size_t)pre, fmt, ap);
	if (n < 0)
		n = 0;
	/* The text and its newline fill the line at most. */
	if ((size_t)n > sizeof(line) - (size_t)pre - 1) {
		n = (int)(sizeof(line) - (size_t)pre - 1);
		memcpy(line + pre + n - 3, "...", 3);
	}
	line[pre + n] = '\n';

	/* The "<N>" prefix is for kmsg only; plain sinks start at "cocoinit:". */
	const char *plain = strchr(line, '>') + 1;
	size_t plain_len = (size_t)(line + pre + n + 1 - plain);

	if (log_fd < 0) {
		log_write_line(STDERR_FILENO, plain, plain_len);
	} else if (log_sink != LOG_SINK_KMSG) {
		log_write_line(log_fd, plain, plain_len);
		if (log_console_fd >= 0 && level <= LOG_LVL_WARN)
			log_write_line(log_console_fd, plain, plain_len);
	} else if (log_kmsg_take(tail)) {
		log_write_line(log_fd, line, (size_t)pre + (size_t)n + 1);
		/* The kernel prints it only below console_loglevel (4 with `quiet`):
		 * a warning or worse must show all the same. */
		if (log_console_fd >= 0 && (level <= LOG_LVL_WARN || must_show) && level >= log_console_level())
			log_write_line(log_console_fd, plain, plain_len);
	} else if (level <= LOG_LVL_WARN || must_show || (log_console_fd >= 0 && level < log_console_level())) {
		/* The rate limit would drop it: straight to the console, where the
		 * kernel would have printed it (and a warning or worse always; to
		 * stderr, the console PID 1 inherited, when /dev/console is not open). */
		log_write_line(log_console_fd >= 0 ? log_console_fd : STDERR_FILENO, plain, plain_len);
	}
	errno = saved;
}

void log_msg(int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(level, fmt, ap);
	va_end(ap);
}

char *log_escape(char *out, size_t outsz, const void *in, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = in;
	size_t o = 0;

	if (outsz == 0)
		return out;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = p[i];
		size_t need = (c >= 0x20 && c < 0x7f && c != '\\') ? 1 : 4;

		if (o + need + 1 > outsz) {
			/* Truncate visibly, never silently. */
			if (outsz >= 4) {
				if (o > outsz - 4)
					o = outsz - 4;
				memcpy(out + o, "...", 3);
				o += 3;
			}
			break;
		}
		if (need == 1) {
			out[o++] = (char)c;
		} else {
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	out[o] = '\0';
	return out;
}
