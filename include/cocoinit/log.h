/* SPDX-License-Identifier: Apache-2.0 */
/* Logging: one write per line to /dev/kmsg (PID 1) or stderr (tool mode),
 * prefixed "cocoinit: ". Every string that came from the host goes through
 * log_escape() before it is printed. */
#pragma once

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

/* syslog/kmsg levels */
#define LOG_LVL_CRIT 2
#define LOG_LVL_ERR 3
#define LOG_LVL_WARN 4
#define LOG_LVL_INFO 6
#define LOG_LVL_DEBUG 7
#define LOG_LVL_MASK 7
/* OR'd into a level: a line of the boot's end (timing:, handoff:, fatal:,
 * on_error:) that may use the part of the kmsg budget kept in reserve. */
#define LOG_TAIL 0x100
/* OR'd into a level: a line that must reach the console even when the
 * kernel would not print it at this level (the version line under `quiet`). */
#define LOG_CONSOLE 0x200

/* The kernel's rate limit on writes to /dev/kmsg (printk.devkmsg=ratelimit,
 * the default): a burst of 10 lines per 5 s per open file; it drops the
 * rest without an error. Lines that are not LOG_TAIL stop
 * LOG_KMSG_TAIL_RESERVE short of it. A line that does not fit goes to the
 * console directly when the kernel would have printed it (docs/design.md). */
#define LOG_KMSG_BURST 10
#define LOG_KMSG_TAIL_RESERVE 4

/* Where lines go. LOG_SINK_KMSG writes "<N>cocoinit: ..." to the fd;
 * LOG_SINK_PLAIN writes "cocoinit: ..." (stderr, /dev/console). */
enum log_sink { LOG_SINK_PLAIN, LOG_SINK_KMSG };

void log_set_level(int level);
int log_get_level(void);
/* Takes ownership of fd (closed on the next log_set_fd). -1 means stderr. */
void log_set_fd(int fd, enum log_sink sink);
/* A second fd (the console) that receives the lines the kernel would not
 * print itself from kmsg but that must show: at level <= LOG_LVL_WARN or
 * with LOG_CONSOLE, those at or above its console_loglevel (first field of
 * /proc/sys/kernel/printk; 4 with `quiet`), and any line the kmsg budget
 * keeps from kmsg that the kernel would have printed. Without this a warning
 * would show twice, or not at all under `quiet`. get_loglevel is asked
 * once, at the first line that needs it (the version line, in a boot). */
void log_set_console_fd(int fd, int (*get_loglevel)(void));
/* Lines written to the kmsg fd in the current rate-limit window. */
unsigned log_kmsg_count(void);
/* With printk.devkmsg=on the kernel drops no line: every line goes to kmsg. */
void log_set_kmsg_unlimited(bool unlimited);

void log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log_vmsg(int level, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

#define log_fatal(...) log_msg(LOG_LVL_CRIT | LOG_TAIL, "fatal: " __VA_ARGS__)
#define log_error(...) log_msg(LOG_LVL_ERR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LVL_WARN, "warning: " __VA_ARGS__)
#define log_info(...) log_msg(LOG_LVL_INFO, __VA_ARGS__)
/* The arguments (escaped names, serials) are not even computed below debug. */
#define log_debug(...)                                   \
	do {                                             \
		if (log_get_level() >= LOG_LVL_DEBUG)    \
			log_msg(LOG_LVL_DEBUG, __VA_ARGS__); \
	} while (0)

/* Escapes len bytes of in: printable ASCII except '\\' is kept, every other
 * byte becomes \xNN. Always NUL-terminates out (truncating with "..." when
 * out is too small). Returns out. */
char *log_escape(char *out, size_t outsz, const void *in, size_t len);

/* Size of a buffer that holds log_escape() of n bytes without truncation. */
#define LOG_ESCAPED_SIZE(n) ((n) * 4 + 1)
