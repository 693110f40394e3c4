/* SPDX-License-Identifier: Apache-2.0 */
/* Extension images: the name rule, the serial a disk reports for a name. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "cocoinit/extension.h"

static bool name_ok(const char *s)
{
	return extension_name_ok(s, strlen(s));
}

static void test_name(void **state)
{
	char long_name[EXTENSION_NAME_MAX + 2];

	(void)state;
	assert_true(name_ok("coco"));
	assert_true(name_ok("gpu-nvidia_535.x"));
	assert_true(name_ok("..."));
	assert_true(name_ok(".hidden"));
	assert_true(name_ok("A"));
	assert_false(name_ok(""));
	assert_false(name_ok("."));
	assert_false(name_ok(".."));
	assert_false(name_ok("a/b"));
	assert_false(name_ok("../x"));
	assert_false(name_ok("a b"));
	assert_false(name_ok("a=b"));
	assert_false(name_ok("a,b"));
	assert_false(name_ok("caf\xc3\xa9"));
	assert_false(extension_name_ok("a\0b", 3));
	assert_false(extension_name_ok(NULL, 0));
	memset(long_name, 'x', sizeof(long_name));
	assert_true(extension_name_ok(long_name, EXTENSION_NAME_MAX));
	assert_false(extension_name_ok(long_name, EXTENSION_NAME_MAX + 1));
	/* the length is what counts */
	assert_true(extension_name_ok("ab/c", 2));
}

static void test_serial(void **state)
{
	char out[21];

	(void)state;
	memset(out, 0x7f, sizeof(out));
	assert_int_equal(extension_serial("coco", out), 14);
	assert_string_equal(out, "extension-coco");
	assert_int_equal(extension_serial("0123456789", out), 20);
	assert_string_equal(out, "extension-0123456789");
	/* a longer name arrives cut to the 20 bytes the device reports */
	assert_int_equal(extension_serial("gpu-nvidia-535-server", out), 20);
	assert_string_equal(out, "extension-gpu-nvidia");
	memset(out, 0x7f, sizeof(out));
	assert_int_equal(extension_serial("x", out), 11);
	assert_string_equal(out, "extension-x");
	assert_int_equal(out[12], 0x7f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_name),
		cmocka_unit_test(test_serial),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
