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
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
