/* SPDX-License-Identifier: Apache-2.0 */
/* The TOML reader: every string form and escape decoded byte for byte, the
 * error text with its line, TOML's table and key rules, the depth and arena
 * bounds on hostile documents, and `cocoinit initdata show --toml`. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cocoinit/toml.h"
#include "fixture.h"

static struct toml_doc doc;
static char err[TOML_ERR_MAX];

static int parse(const char *text)
{
	memset(&doc, 0, sizeof(doc));
	err[0] = '\0';
	return toml_parse(text, strlen(text), &doc, err, sizeof(err));
}

static int parse_n(const char *text, size_t len)
{
	memset(&doc, 0, sizeof(doc));
	err[0] = '\0';
	return toml_parse(text, len, &doc, err, sizeof(err));
}

static int teardown(void **state)
{
	toml_free(&doc);
	return 0;
}

/* Parses text, which must fail with code and exactly the message want. */
static void assert_refused(const char *text, int code, const char *want)
{
	int r = parse(text);

	if (r != code || strcmp(err, want) != 0)
		fail_msg("%s\n  got %d \"%s\"\n  want %d \"%s\"", text, r, err, code, want);
	assert_null(doc.root);
}

/* The string at dotted path a (then b, when not NULL) of the document. */
static const struct toml_node *get(const char *a, const char *b)
{
	const struct toml_node *n = toml_get(doc.root, a, strlen(a));

	if (n && b)
		n = toml_get(n, b, strlen(b));
	return n;
}

static void assert_str(const struct toml_node *n, const char *want, size_t len)
{
	assert_non_null(n);
	assert_int_equal(n->type, TOML_STRING);
	assert_int_equal(n->str_len, len);
	assert_memory_equal(n->str, want, len);
	assert_int_equal(n->str[len], '\0');
}

static void test_string_forms(void **state)
{
	assert_int_equal(parse("basic = \"a\\b\\t\\n\\f\\r\\\"\\\\z\"\n"
			       "uni = \"\\u00e9\\u20AC\\U0001F600\\U0010FFFF\"\n"
			       "nul = \"x\\u0000y\"\n"
			       "lit = 'C:\\Users\\n \"q\"'\n"
			       "mlb = \"\"\"\nline1\n  line2 \\\n     \t\n   joined\\t\"\"\"\n"
			       "mll = '''\n\\n is 'raw'\n'''\n"
			       "q5 = \"\"\"\"\"x\"\"\"\"\"\n"
			       "l5 = '''''x'''''\n"
			       "utf8 = \"é日😀\"\n"),
			 0);
	assert_str(get("basic", NULL), "a\b\t\n\f\r\"\\z", 9);
	assert_str(get("uni", NULL), "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf", 13);
	assert_str(get("nul", NULL), "x\0y", 3);
	assert_str(get("lit", NULL), "C:\\Users\\n \"q\"", 14);
	/* The newline after the opening delimiter is trimmed; a line-ending backslash eats blanks and newlines. */
	assert_str(get("mlb", NULL), "line1\n  line2 joined\t", 21);
	assert_str(get("mll", NULL), "\\n is 'raw'\n", 12);
	/* Up to two quotes right before the closing three belong to the string. */
	assert_str(get("q5", NULL), "\"\"x\"\"", 5);
	assert_str(get("l5", NULL), "''x''", 5);
	assert_str(get("utf8", NULL), "é日😀", strlen("é日😀"));
	assert_int_equal(get("mll", NULL)->line, 10);
}

static void test_keys(void **state)
{
	assert_int_equal(parse("bare-key_1 = 'a'\n"
			       "\"quoted \\u0000 key\" = 'b'\n"
			       "'lit.key' = 'c'\n"
			       "site . \"google.com\" .\tx = 'd'\n"
			       "\"\" = 'e'\n"
			       "1234 = 'f'\n"),
			 0);
	assert_str(get("bare-key_1", NULL), "a", 1);
	const struct toml_node *n = toml_get(doc.root, "quoted \0 key", 12);
	assert_non_null(n);
	assert_int_equal(n->key_len, 12);
	assert_str(n, "b", 1);
	assert_str(get("lit.key", NULL), "c", 1);
	n = get("site", "google.com");
	assert_non_null(n);
	assert_int_equal(n->type, TOML_TABLE);
	assert_str(toml_get(n, "x", 1), "d", 1);
	assert_str(get("", NULL), "e", 1);
	assert_str(get("1234", NULL), "f", 1);
}

static void test_tables_and_values(void **state)
{
	assert_int_equal(parse("# initdata\n"
			       "version = \"0.1.0\"\n"
			       "n = [1, 0x1F, 0o7, 0b1, -9_223, true, [false, {x.y = \"z\"}], ]\n"
			       "[data]\n"
			       "\"aa.toml\" = '''\n[token_configs]\n'''\n"
			       "inl = { c = \"d\", e.f = 'g' }\n"
			       "[a.b.c]\n"
			       "[a]\n"
			       "d = true\n"),
			 0);
	assert_str(get("version", NULL), "0.1.0", 5);
	assert_int_equal(get("n", NULL)->type, TOML_ARRAY);
	assert_str(get("data", "aa.toml"), "[token_configs]\n", 16);
	const struct toml_node *inl = get("data", "inl");
	assert_int_equal(inl->type, TOML_TABLE);
	assert_str(toml_get(inl, "c", 1), "d", 1);
	assert_str(toml_get(toml_get(inl, "e", 1), "f", 1), "g", 1);
	assert_int_equal(get("a", "d")->type, TOML_BOOLEAN);
	assert_int_equal(get("a", "b")->type, TOML_TABLE);
	/* Document order: the members of the root as they first appeared. */
	const char *order[] = { "version", "n", "data", "a" };
	const struct toml_node *m = doc.root->child;
	for (size_t i = 0; i < 4; i++, m = m->next)
		assert_string_equal(m->key, order[i]);
	assert_null(m);
}

static void test_integers(void **state)
{
	static const char *ok[] = { "0", "+0", "-0", "42", "+99", "-17", "1_000", "0xDEAD_beef", "0o755", "0b1010",
				    "9223372036854775807", "-9223372036854775808", "0x7FFFFFFFFFFFFFFF" };
	static const struct {
		const char *v, *msg;
	} bad[] = {
		{ "01", "invalid integer: leading zero" },
		{ "1__0", "invalid integer: '_' must be between digits" },
		{ "1_", "invalid integer: '_' must be between digits" },
		{ "_1", "invalid value" },
		{ "+0x1", "invalid integer: no sign before 0x" },
		{ "0x", "invalid integer" },
		{ "0o8", "invalid integer" },
		{ "0X1", "invalid integer: leading zero" },
		{ "9223372036854775808", "integer out of range" },
		{ "-9223372036854775809", "integer out of range" },
		{ "0x8000000000000000", "integer out of range" },
		{ "tru", "invalid value" },
		{ "true1", "invalid value" },
	};
	char text[128], want[128];

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		snprintf(text, sizeof(text), "x = 1\nv = %s\n", ok[i]);
		if (parse(text) != 0)
			fail_msg("%s refused: %s", ok[i], err);
		assert_int_equal(get("v", NULL)->type, TOML_INTEGER);
		toml_free(&doc);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), "x = 1\nv = %s\n", bad[i].v);
		snprintf(want, sizeof(want), "line 2: %s", bad[i].msg);
		assert_refused(text, -EINVAL, want);
	}
}

static void test_unsupported(void **state)
{
	assert_refused("a = 1\nf = 3.14\n", -ENOTSUP, "line 2: floats are not supported");
	assert_refused("f = 1e6\n", -ENOTSUP, "line 1: floats are not supported");
	assert_refused("f = -inf\n", -ENOTSUP, "line 1: floats are not supported");
	assert_refused("f = [nan]\n", -ENOTSUP, "line 1: floats are not supported");
	assert_refused("\nd = 1979-05-27T07:32:00Z\n", -ENOTSUP, "line 2: dates and times are not supported");
	assert_refused("t = 07:32:00\n", -ENOTSUP, "line 1: dates and times are not supported");
	assert_refused("a = 1\n[[products]]\nname = 'x'\n", -ENOTSUP,
		       "line 2: arrays of tables ([[...]]) are not supported");
}

static void test_error_lines(void **state)
{
	assert_refused("a = 1\nb = 2\n\nc = \"x\n", -EINVAL,
		       "line 4: unterminated string (a newline inside a single-line string)");
	assert_refused("a = 1\nb = \"\"\"\nx\n\n", -EINVAL, "line 2: unterminated string");
	assert_refused("a = '''x''\n", -EINVAL, "line 1: unterminated string");
	assert_refused("a = 1\nb = \"\\q\"\n", -EINVAL, "line 2: invalid escape \\q");
	assert_refused("b = \"\\ud800\"\n", -EINVAL, "line 1: \\uD800 is not a Unicode scalar value");
	assert_refused("b = \"\\U00110000\"\n", -EINVAL, "line 1: \\U00110000 is not a Unicode scalar value");
	assert_refused("b = \"\\u12\"\n", -EINVAL, "line 1: \\u needs 4 hex digits");
	assert_refused("b = \"\"\"x\\  y\"\"\"\n", -EINVAL, "line 1: a line-ending backslash must be followed by a newline");
	assert_refused("a = 1 b = 2\n", -EINVAL, "line 1: expected the end of the line, found more");
	assert_refused("a\n= 1\n", -EINVAL, "line 1: expected '=' after a key");
	assert_refused("a =\n", -EINVAL, "line 1: expected a value");
	assert_refused("x = 1\n\"\"\"k\"\"\" = 1\n", -EINVAL, "line 2: a multi-line string can't be a key");
	assert_refused("a = { b = 1, }\n", -EINVAL, "line 1: invalid character in a key");
	assert_refused("a = { b = 1\n}\n", -EINVAL, "line 1: expected ',' or '}' in an inline table");
	assert_refused("a = [1 2]\n", -EINVAL, "line 1: expected ',' or ']' in an array");
	assert_refused("[a\n", -EINVAL, "line 1: expected ']' at the end of a table header");
}

static void test_duplicates_and_tables(void **state)
{
	assert_refused("a = 1\na = 2\n", -EINVAL, "line 2: duplicate key");
	assert_refused("a = 1\n\"a\" = 'x'\n", -EINVAL, "line 2: duplicate key");
	assert_refused("\"\\u0061\" = 1\na = 2\n", -EINVAL, "line 2: duplicate key");
	assert_refused("[a]\n[a]\n", -EINVAL, "line 2: table defined twice");
	assert_refused("[a.b]\n[a]\n[a]\n", -EINVAL, "line 3: table defined twice");
	assert_refused("a.b = 1\n[a]\n", -EINVAL, "line 2: table defined twice");
	assert_refused("[a]\nb.c = 1\n[a.b]\n", -EINVAL, "line 3: table defined twice");
	assert_refused("[a.b.c]\nz = 9\n[a]\nb.c.t = 1\n", -EINVAL, "line 4: dotted key extends a table defined elsewhere");
	assert_refused("a = 1\n[a]\n", -EINVAL, "line 2: table header redefines a key that is not a table");
	assert_refused("a = 'x'\na.b = 1\n", -EINVAL, "line 2: dotted key extends a value that is not a table");
	assert_refused("a = {}\n[a]\n", -EINVAL, "line 2: table header extends an inline table");
	assert_refused("a = {}\n[a.b]\n", -EINVAL, "line 2: table header extends an inline table");
	assert_refused("a = { b = {} }\na.b.c = 1\n", -EINVAL, "line 2: dotted key extends an inline table");
	assert_refused("a = { b = {}, b.c = 1 }\n", -EINVAL, "line 1: dotted key extends an inline table");
	assert_refused("a = [{ b = 1, b = 2 }]\n", -EINVAL, "line 1: duplicate key");
	assert_refused("a = []\n[a]\n", -EINVAL, "line 2: table header redefines a key that is not a table");
	/* What TOML allows: sub-tables of dotted-key tables, implicit tables defined later. */
	assert_int_equal(parse("[fruit]\napple.color = 'red'\napple.taste.sweet = true\n[fruit.apple.texture]\n"
			       "smooth = true\n[x.y.z]\n[x]\n[x.y]\n"),
			 0);
	assert_int_equal(get("fruit", "apple")->type, TOML_TABLE);
}

static void test_bytes(void **state)
{
	assert_refused("a = 1 # \x7f\n", -EINVAL, "line 1: control character 0x7f in a comment");
	assert_refused("a = 'x\x01'\n", -EINVAL, "line 1: control character 0x01 in a string");
	assert_refused("a = 1\nb = \"\xc3\x28\"\n", -EINVAL, "line 2: invalid UTF-8 in a string");
	assert_refused("b = \"\xed\xa0\x80\"\n", -EINVAL, "line 1: invalid UTF-8 in a string");
	assert_refused("b = \"\xc0\xaf\"\n", -EINVAL, "line 1: invalid UTF-8 in a string");
	assert_refused("# \xf4\x90\x80\x80\n", -EINVAL, "line 1: invalid UTF-8 in a comment");
	assert_refused("a = 1\r", -EINVAL, "line 1: expected the end of the line, found a lone carriage return");
	assert_refused("a = '''x\ry'''", -EINVAL, "line 1: carriage return without a line feed in a string");
	assert_refused("k\xc3\xa9 = 1\n", -EINVAL, "line 1: expected '=' after a key");
	/* Python's tomllib refuses a byte order mark: so does cocoinit. */
	assert_refused("\xef\xbb\xbf" "a = 1\n", -EINVAL, "line 1: a byte order mark is not allowed");
	/* A NUL byte in the text is a control character, not the end. */
	assert_int_equal(parse_n("a = 1\n#\0\n", 9), -EINVAL);
	assert_string_equal(err, "line 2: control character 0x00 in a comment");
	/* CRLF is a newline, also inside multi-line strings, where it reads as LF. */
	assert_int_equal(parse("a = \"\"\"\r\nx\r\ny\"\"\"\r\n[t] # c\r\nb = 'z'\r\n"), 0);
	assert_str(get("a", NULL), "x\ny", 3);
	assert_str(get("t", "b"), "z", 1);
	assert_int_equal(get("t", "b")->line, 5);
}

static void test_depth_bound(void **state)
{
	size_t n = 200000;
	char *text = malloc(n * 3 + 16);
	char want[128];

	assert_non_null(text);
	memcpy(text, "a = ", 4);
	memset(text + 4, '[', n);
	assert_int_equal(parse_n(text, n + 4), -ENOTSUP);
	snprintf(want, sizeof(want), "line 1: values nested deeper than %d are not supported", TOML_NEST_MAX);
	assert_string_equal(err, want);
	/* The same brackets as a table header. */
	assert_int_equal(parse_n(text + 4, n), -ENOTSUP);
	assert_string_equal(err, "line 1: arrays of tables ([[...]]) are not supported");

	size_t len = 4;
	for (size_t i = 0; i < n / 3; i++, len += 3)
		memcpy(text + len, "{a=", 3);
	assert_int_equal(parse_n(text, len), -ENOTSUP);
	snprintf(want, sizeof(want), "line 1: tables nested deeper than %d are not supported", TOML_NEST_MAX);
	assert_string_equal(err, want);

	len = 0;
	for (size_t i = 0; i < n; i++, len += 2)
		memcpy(text + len, "a.", 2);
	memcpy(text + len, "a = 1", 5);
	assert_int_equal(parse_n(text, len + 5), -ENOTSUP);
	snprintf(want, sizeof(want), "line 1: keys of more than %d parts are not supported", TOML_NEST_MAX);
	assert_string_equal(err, want);

	/* A dotted key below a header: the tree's depth is bounded too. */
	len = 0;
	text[len++] = '[';
	for (unsigned k = 0; k < 100; k++, len += 2)
		memcpy(text + len, "t.", 2);
	memcpy(text + len - 1, "]\n", 2);
	len++;
	for (unsigned k = 0; k < 100; k++, len += 2)
		memcpy(text + len, "u.", 2);
	memcpy(text + len - 1, "=1", 2);
	len++;
	assert_int_equal(parse_n(text, len), -ENOTSUP);
	assert_string_equal(err, "line 2: tables nested deeper than 128 are not supported");
	free(text);
}

/* Writes count lines of gen(i) into a document of at most size bytes. */
static size_t fill(char *text, size_t size, int (*gen)(char *out, size_t room, size_t i))
{
	size_t len = 0;

	for (size_t i = 0;; i++) {
		int k = gen(text + len, size - len, i);
		if (k < 0 || (size_t)k >= size - len)
			break;
		len += (size_t)k;
	}
	return len;
}

static int tiny_keys(char *out, size_t room, size_t i)
{
	return snprintf(out, room, "%zx=1\n", i);
}

/* Fresh one-letter dotted parts, 127 a line: one table per two bytes, the worst case. */
static int fresh_dotted(char *out, size_t room, size_t i)
{
	char line[512];
	int n = snprintf(line, sizeof(line), "%zx", i);

	for (int k = 0; k < 126; k++)
		n += snprintf(line + n, sizeof(line) - (size_t)n, ".a");
	n += snprintf(line + n, sizeof(line) - (size_t)n, "=''\n");
	return (size_t)n < room ? snprintf(out, room, "%s", line) : -1;
}

static void test_arena_bound(void **state)
{
	size_t size = 1024 * 1024, len;
	char *text = malloc(size);

	assert_non_null(text);
	len = fill(text, size, tiny_keys);
	assert_true(len > size - 16);
	assert_int_equal(parse_n(text, len), 0);
	print_message("tiny keys: %zu bytes of TOML, arena %zu bytes (%.1fx)\n", len, doc.arena_bytes,
		      (double)doc.arena_bytes / (double)len);
	assert_true(doc.arena_bytes <= TOML_ARENA_BOUND(len));
	toml_free(&doc);

	len = fill(text, size, fresh_dotted);
	assert_true(len > size - 300);
	assert_int_equal(parse_n(text, len), 0);
	print_message("fresh dotted parts: %zu bytes of TOML, arena %zu bytes (%.1fx)\n", len, doc.arena_bytes,
		      (double)doc.arena_bytes / (double)len);
	assert_true(doc.arena_bytes <= TOML_ARENA_BOUND(len));
	toml_free(&doc);
	free(text);
}

static void test_json(void **state)
{
	char buf[512] = "";
	FILE *f = fmemopen(buf, sizeof(buf), "w");

	assert_non_null(f);
	assert_int_equal(parse("v = \"0.1.0\"\nn = 1\narr = ['x']\n[data]\n\"k\\u0000\" = \"\\\"é\\n\"\n"
			       "inl = { a.b = 'c', d = [1] }\n"),
			 0);
	assert_int_equal(toml_write_json(doc.root, f), 0);
	fclose(f);
	/* Other values are left out; text stays UTF-8 (é as itself, not \u00c3\u00a9). */
	assert_string_equal(buf, "{\"v\":\"0.1.0\",\"data\":{\"k\\u0000\":\"\\\"é\\n\","
				 "\"inl\":{\"a\":{\"b\":\"c\"}}}}");
}

static void test_cli(void **state)
{
	char out[4096];

	fixture_dir_create("toml");
	FILE *f = fopen(fixture_path("ok.toml"), "w");
	assert_non_null(f);
	fputs("version = \"0.1.0\"\n[data]\n\"aa.toml\" = '''x'''\n", f);
	fclose(f);
	f = fopen(fixture_path("bad.toml"), "w");
	assert_non_null(f);
	fputs("version = \"0.1.0\"\n\n[data]\n\"aa.toml\" = 'x\n", f);
	fclose(f);
	f = fopen(fixture_path("float.toml"), "w");
	assert_non_null(f);
	fputs("version = 0.1\n", f);
	fclose(f);
	fixture_run("head -c 4194305 /dev/zero | tr '\\0' '#' >%s", fixture_path("big.toml"));

	assert_int_equal(fixture_capture(out, sizeof(out), "%s initdata show --toml %s", COCOINIT_BIN,
					 fixture_path("ok.toml")),
			 0);
	assert_string_equal(out, "{\"version\":\"0.1.0\",\"data\":{\"aa.toml\":\"x\"}}");
	int st = fixture_capture(out, sizeof(out), "%s initdata show --toml %s 2>&1", COCOINIT_BIN,
				 fixture_path("bad.toml"));
	assert_int_equal(WEXITSTATUS(st), 1);
	assert_string_equal(out, "cocoinit: initdata: toml: line 4: unterminated string (a newline inside a single-line string)");
	st = fixture_capture(out, sizeof(out), "%s initdata show --toml %s 2>&1", COCOINIT_BIN, fixture_path("float.toml"));
	assert_int_equal(WEXITSTATUS(st), 1);
	assert_string_equal(out, "cocoinit: initdata: toml: line 1: floats are not supported");
	st = fixture_capture(out, sizeof(out), "%s initdata show --toml %s 2>&1", COCOINIT_BIN, fixture_path("big.toml"));
	assert_int_equal(WEXITSTATUS(st), 1);
	assert_non_null(strstr(out, "is larger than 4194304 bytes"));
	/* Without --toml the initdata rules apply: this one has no algorithm. */
	st = fixture_capture(out, sizeof(out), "%s initdata show %s 2>&1", COCOINIT_BIN, fixture_path("ok.toml"));
	assert_int_equal(WEXITSTATUS(st), 1);
	assert_non_null(strstr(out, ": algorithm: missing"));
	st = fixture_capture(out, sizeof(out), "%s initdata show --toml 2>&1", COCOINIT_BIN);
	assert_int_equal(WEXITSTATUS(st), 2);
	fixture_dir_remove();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_string_forms, teardown),
		cmocka_unit_test_teardown(test_keys, teardown),
		cmocka_unit_test_teardown(test_tables_and_values, teardown),
		cmocka_unit_test_teardown(test_integers, teardown),
		cmocka_unit_test_teardown(test_unsupported, teardown),
		cmocka_unit_test_teardown(test_error_lines, teardown),
		cmocka_unit_test_teardown(test_duplicates_and_tables, teardown),
		cmocka_unit_test_teardown(test_bytes, teardown),
		cmocka_unit_test_teardown(test_depth_bound, teardown),
		cmocka_unit_test_teardown(test_arena_bound, teardown),
		cmocka_unit_test_teardown(test_json, teardown),
		cmocka_unit_test(test_cli),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
