/* SPDX-License-Identifier: Apache-2.0 */
/* Log lines as the console and kmsg receive them: the prefix, one write per
 * line, escaping, and a long line cut to what /dev/kmsg accepts instead of
 * refused whole. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cocoinit/log.h"

/* What kernels before 6.2 accept in one write to /dev/kmsg. */
#define KMSG_WRITE_MAX 992

/* Logs one line to a pipe with the given sink and returns what arrived. */
static size_t log_capture(enum log_sink sink, char *buf, size_t size, const char *text)
{
	int p[2];
	ssize_t n;

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	log_set_fd(p[1], sink);
	log_msg(LOG_LVL_ERR, "%s", text);
	log_set_fd(-1, LOG_SINK_PLAIN); /* closes p[1] */
	n = read(p[0], buf, size - 1);
	close(p[0]);
	assert_true(n > 0);
	buf[n] = '\0';
	return (size_t)n;
}

static void test_short_line(void **state)
{
	char buf[4096];

	assert_int_equal(log_capture(LOG_SINK_KMSG, buf, sizeof(buf), "initdata: not found serial=x"),
			 strlen("<3>cocoinit: initdata: not found serial=x\n"));
	assert_string_equal(buf, "<3>cocoinit: initdata: not found serial=x\n");
	log_capture(LOG_SINK_PLAIN, buf, sizeof(buf), "initdata: not found serial=x");
	assert_string_equal(buf, "cocoinit: initdata: not found serial=x\n");
}

static void test_long_line_fits_kmsg(void **state)
{
	char text[2048], buf[4096];
	size_t n;

	/* A 255-byte serial of unprintable bytes escapes to 1020 characters. */
	memset(text, 'a', sizeof(text) - 1);
	text[sizeof(text) - 1] = '\0';
	n = log_capture(LOG_SINK_KMSG, buf, sizeof(buf), text);
	assert_true(n <= KMSG_WRITE_MAX);
	assert_int_equal(strncmp(buf, "<3>cocoinit: aaaa", 17), 0);
	/* cut visibly, still one whole line */
	assert_string_equal(buf + n - 4, "...\n");
	assert_ptr_equal(strchr(buf, '\n'), buf + n - 1);

	n = log_capture(LOG_SINK_PLAIN, buf, sizeof(buf), text);
	assert_true(n < KMSG_WRITE_MAX);
	assert_int_equal(strncmp(buf, "cocoinit: aaaa", 14), 0);
	assert_string_equal(buf + n - 4, "...\n");
}

static void test_line_just_fits(void **state)
{
	const size_t pre = strlen("<3>cocoinit: ");
	char text[KMSG_WRITE_MAX], buf[4096];
	size_t len = KMSG_WRITE_MAX - pre - 1; /* the longest text kept whole */

	memset(text, 'b', len);
	text[len] = '\0';
	assert_int_equal(log_capture(LOG_SINK_KMSG, buf, sizeof(buf), text), KMSG_WRITE_MAX);
	assert_null(strstr(buf, "..."));
	assert_int_equal(buf[KMSG_WRITE_MAX - 1], '\n');
}

static int console_loglevel;
static int get_console_loglevel(void)
{
	return console_loglevel;
}

struct sinks {
	int kmsg[2], console[2];
};

static void sinks_open(struct sinks *s, int loglevel)
{
	assert_int_equal(pipe2(s->kmsg, O_CLOEXEC | O_NONBLOCK), 0);
	assert_int_equal(pipe2(s->console, O_CLOEXEC | O_NONBLOCK), 0);
	console_loglevel = loglevel;
	log_set_fd(s->kmsg[1], LOG_SINK_KMSG);
	log_set_console_fd(s->console[1], get_console_loglevel);
}

/* Closes the write ends (through the log) and reads what each sink got. */
static void sinks_read(struct sinks *s, char *kmsg, char *console, size_t size)
{
	ssize_t n;

	log_set_fd(-1, LOG_SINK_PLAIN);
	log_set_console_fd(-1, NULL);
	n = read(s->kmsg[0], kmsg, size - 1);
	kmsg[n < 0 ? 0 : n] = '\0';
	n = read(s->console[0], console, size - 1);
	console[n < 0 ? 0 : n] = '\0';
	close(s->kmsg[0]);
	close(s->console[0]);
}

static size_t count_lines(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/* Twelve warnings, then the fatal and on_error lines: the kernel's burst of
 * ten never sees more than ten lines, and the fatal pair is in it (the
 * kernel prints it at console_loglevel 7) rather than dropped. The warnings
 * past their share go to the console directly. */
static void test_budget_keeps_fatal(void **state)
{
	static char kmsg[16384], console[16384];
	struct sinks s;

	sinks_open(&s, 7);
	for (int i = 0; i < 12; i++)
		log_warn("unknown thing %d", i);
	log_fatal("cmdline: broken");
	log_msg(LOG_LVL_CRIT | LOG_TAIL, "on_error: poweroff");
	sinks_read(&s, kmsg, console, sizeof(kmsg));
	assert_true(count_lines(kmsg) <= LOG_KMSG_BURST);
	assert_int_equal(count_lines(kmsg), LOG_KMSG_BURST - LOG_KMSG_TAIL_RESERVE + 2);
	assert_non_null(strstr(kmsg, "<2>cocoinit: fatal: cmdline: broken\n<2>cocoinit: on_error: poweroff\n"));
	/* Not in kmsg, so printed directly; the kernel prints the rest itself. */
	assert_string_equal(console, "cocoinit: warning: unknown thing 6\ncocoinit: warning: unknown thing 7\n"
				     "cocoinit: warning: unknown thing 8\ncocoinit: warning: unknown thing 9\n"
				     "cocoinit: warning: unknown thing 10\ncocoinit: warning: unknown thing 11\n");
}

/* printk.devkmsg=on: the kernel drops nothing, so every line goes to kmsg
 * and the kernel prints them itself; nothing is written to the console twice. */
static void test_budget_lifted_by_devkmsg_on(void **state)
{
	static char kmsg[16384], console[16384];
	struct sinks s;

	sinks_open(&s, 7);
	log_set_kmsg_unlimited(true);
	for (int i = 0; i < 12; i++)
		log_info("extension: e%d mounted", i);
	log_msg(LOG_LVL_INFO | LOG_TAIL, "handoff: exec /a listen_fds=0");
	sinks_read(&s, kmsg, console, sizeof(kmsg));
	log_set_kmsg_unlimited(false);
	assert_int_equal(count_lines(kmsg), 13);
	assert_non_null(strstr(kmsg, "<6>cocoinit: extension: e11 mounted\n"
				      "<6>cocoinit: handoff: exec /a listen_fds=0\n"));
	assert_string_equal(console, "");
}

/* With loglevel=1 the kernel prints nothing of ours: fatal goes to the
 * console directly as well, once. */
static void test_fatal_below_loglevel(void **state)
{
	static char kmsg[4096], console[4096];
	struct sinks s;

	sinks_open(&s, 1);
	log_info("initdata: found");
	log_fatal("initdata: gone");
	log_msg(LOG_LVL_CRIT | LOG_TAIL, "on_error: poweroff");
	sinks_read(&s, kmsg, console, sizeof(kmsg));
	assert_string_equal(kmsg, "<6>cocoinit: initdata: found\n<2>cocoinit: fatal: initdata: gone\n"
				  "<2>cocoinit: on_error: poweroff\n");
	assert_string_equal(console, "cocoinit: fatal: initdata: gone\ncocoinit: on_error: poweroff\n");
}

/* A boot with many listeners: the listen lines past their share go to the
 * console (the kernel would have printed them), and timing:/handoff: still
 * fit in kmsg. Under `quiet` (console_loglevel 4) info lines past the share
 * are not printed at all, as the kernel would not have. */
static void test_budget_listeners(void **state)
{
	static char kmsg[16384], console[16384];
	struct sinks s;

	for (int loglevel = 7; loglevel >= 4; loglevel -= 3) {
		sinks_open(&s, loglevel);
		log_info("version 0.2.0 sha256=x");
		for (int i = 0; i < 7; i++)
			log_info("listen: vsock port=%d name=l%d fd=%d", 1027 + i, i, 3 + i);
		log_info("initdata: not found serial=initdata");
		log_msg(LOG_LVL_INFO | LOG_TAIL, "timing: total=1");
		log_msg(LOG_LVL_INFO | LOG_TAIL, "handoff: exec /usr/bin/kata-agent listen_fds=7");
		sinks_read(&s, kmsg, console, sizeof(kmsg));
		assert_true(count_lines(kmsg) <= LOG_KMSG_BURST);
		assert_non_null(strstr(kmsg, "<6>cocoinit: timing: total=1\n<6>cocoinit: handoff: exec "));
		assert_non_null(strstr(kmsg, "name=l4 fd=7\n"));
		assert_null(strstr(kmsg, "name=l5"));
		if (loglevel == 7)
			assert_string_equal(console, "cocoinit: listen: vsock port=1032 name=l5 fd=8\n"
						     "cocoinit: listen: vsock port=1033 name=l6 fd=9\n"
						     "cocoinit: initdata: not found serial=initdata\n");
		else
			assert_string_equal(console, "");
	}
}

/* The version line shows under `quiet` too, once; other info lines do not. */
static void test_must_show(void **state)
{
	static char kmsg[4096], console[4096];
	struct sinks s;

	for (int loglevel = 4; loglevel <= 7; loglevel += 3) {
		sinks_open(&s, loglevel);
		log_msg(LOG_LVL_INFO | LOG_CONSOLE, "version 0.2.0 sha256=ab");
		log_info("initdata: found");
		sinks_read(&s, kmsg, console, sizeof(kmsg));
		assert_string_equal(kmsg, "<6>cocoinit: version 0.2.0 sha256=ab\n<6>cocoinit: initdata: found\n");
		assert_string_equal(console, loglevel == 4 ? "cocoinit: version 0.2.0 sha256=ab\n" : "");
	}
}

/* The kernel's limit is per open file: a new kmsg fd starts a new count. */
static void test_budget_per_fd(void **state)
{
	static char kmsg[4096], console[4096];
	struct sinks s;

	sinks_open(&s, 7);
	for (int i = 0; i < LOG_KMSG_BURST; i++)
		log_msg(LOG_LVL_INFO | LOG_TAIL, "line %d", i);
	assert_int_equal(log_kmsg_count(), LOG_KMSG_BURST);
	sinks_read(&s, kmsg, console, sizeof(kmsg));
	assert_int_equal(count_lines(kmsg), LOG_KMSG_BURST);
	sinks_open(&s, 7);
	assert_int_equal(log_kmsg_count(), 0);
	log_fatal("exec failed");
	sinks_read(&s, kmsg, console, sizeof(kmsg));
	assert_string_equal(kmsg, "<2>cocoinit: fatal: exec failed\n");
	assert_string_equal(console, "");
}

static void test_escape(void **state)
{
	char out[LOG_ESCAPED_SIZE(6)], small[8];

	assert_string_equal(log_escape(out, sizeof(out), "a\\\x1b\n\xff" "b", 6), "a\\x5c\\x1b\\x0a\\xffb");
	assert_string_equal(log_escape(small, sizeof(small), "abcdefghij", 10), "abcd...");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_short_line),
		cmocka_unit_test(test_long_line_fits_kmsg),
		cmocka_unit_test(test_line_just_fits),
		cmocka_unit_test(test_escape),
		cmocka_unit_test(test_budget_keeps_fatal),
		cmocka_unit_test(test_budget_lifted_by_devkmsg_on),
		cmocka_unit_test(test_fatal_below_loglevel),
		cmocka_unit_test(test_budget_listeners),
		cmocka_unit_test(test_budget_per_fd),
		cmocka_unit_test(test_must_show),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
