/* SPDX-License-Identifier: Apache-2.0 */
/* The initdata document: validation as the agent does it (errors naming
 * the key), the digest over the exact bytes (values from Python's hashlib),
 * the three files written byte-exact with mode 0400, and [data] keys that
 * look like paths never becoming one. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "cocoinit/initdata.h"
#include "cocoinit/initdata_doc.h"
#include "cocoinit/util.h"
#include "fixture.h"

/* %s: the algorithm. Two keys that look like paths. */
static const char DOC_FMT[] = "version = \"0.1.0\"\nalgorithm = \"%s\"\n\n[data]\n"
			      "\"aa.toml\" = '''\n[token_configs]\nurl = \"http://kbs\"\n'''\n"
			      "\"cdh.toml\" = \"socket = \\\"unix:///run/cdh.sock\\\"\\n\\u00e9\\t\"\n"
			      "\"policy.rego\" = \"\"\"\npackage agent_policy\ndefault X := true\n\"\"\"\n"
			      "\"../../x\" = \"no\"\n\"/etc/passwd\" = \"root::0:0::/:/bin/sh\"\n";
static const char AA[] = "[token_configs]\nurl = \"http://kbs\"\n";
static const char CDH[] = "socket = \"unix:///run/cdh.sock\"\n\xc3\xa9\t";
static const char POLICY[] = "package agent_policy\ndefault X := true\n";

/* hashlib.new(alg, DOC_FMT % alg).hexdigest() */
static const struct {
	const char *alg, *hex;
} digests[] = {
	{ "sha256", "df549824ae4614d14385bb25cf1b71a2168808527ee756dfc1f7a6b4c6dffd91" },
	{ "sha384", "7490b2a60ab0184f3b341a9e38b06e7ac852ae5bbbace4976a862564742fa92a7fed33e1df5f043f1e7a52d002cdd636" },
	{ "sha512", "de92dcad7a9b611a472684ac839094fcf470b7167650c1e2bf463e6c67f4ec97713681c8067105562d025f7157c01556a35"
		    "fa07519f854e67f6a31e958fcd505" },
};

static int dfd = -1;

static int setup(void **state)
{
	fixture_dir_create("initdata-doc");
	assert_int_equal(mkdir(fixture_path("a"), 0755), 0);
	assert_int_equal(mkdir(fixture_path("a/b"), 0755), 0);
	return 0;
}

static int teardown(void **state)
{
	return fixture_dir_remove();
}

/* A fresh, empty initdata directory two levels down, for each test. */
static int per_test(void **state)
{
	fixture_run("rm -rf '%s' && mkdir -m 0700 '%s'", fixture_path("a/b/dir"), fixture_path("a/b/dir"));
	dfd = open(fixture_path("a/b/dir"), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(dfd >= 0);
	return 0;
}

static int per_test_end(void **state)
{
	close(dfd);
	return 0;
}

static void put(const char *name, const void *data, size_t len)
{
	int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0400);

	assert_true(fd >= 0);
	assert_int_equal(util_write_all(fd, data, len), 0);
	close(fd);
}

/* Parses text; on failure checks the error text (want) and the return. */
static void refused(const char *text, size_t len, int want_r, const char *want)
{
	struct initdata_doc doc;
	char err[512] = "";
	int r = initdata_doc_parse(text, len, &doc, err, sizeof(err));

	if (r != want_r || strcmp(err, want) != 0)
		fail_msg("parse of %.60s: r=%d err=\"%s\", want r=%d \"%s\"", text, r, err, want_r, want);
}

/* Only the start of a TOML fault's text is ours: "toml: line N: ". */
static void refused_toml(const char *text, size_t len, const char *prefix)
{
	struct initdata_doc doc;
	char err[512] = "";
	int r = initdata_doc_parse(text, len, &doc, err, sizeof(err));

	if (r >= 0 || strncmp(err, prefix, strlen(prefix)) != 0 || strlen(err) <= strlen(prefix))
		fail_msg("parse of %.60s: r=%d err=\"%s\", want an error beginning \"%s\"", text, r, err, prefix);
}

static void file_is(const char *name, const char *want, size_t len)
{
	char buf[512];
	struct stat st;
	ssize_t n;

	assert_int_equal(fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0400);
	n = util_read_file_at(dfd, name, buf, sizeof(buf), false);
	assert_int_equal(n, (ssize_t)len);
	assert_memory_equal(buf, want, len);
}

static int count_entries(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

static void test_three_algorithms(void **state)
{
	for (size_t i = 0; i < 3; i++) {
		struct initdata_doc doc;
		char text[1024], err[256] = "", dstr[INITDATA_DOC_DIGEST_STR_SIZE], want[INITDATA_DOC_DIGEST_STR_SIZE];
		int len = snprintf(text, sizeof(text), DOC_FMT, digests[i].alg);

		assert_int_equal(initdata_doc_parse(text, (size_t)len, &doc, err, sizeof(err)), 0);
		assert_string_equal(err, "");
		snprintf(want, sizeof(want), "%s:%s", digests[i].alg, digests[i].hex);
		assert_string_equal(initdata_doc_digest_str(&doc, dstr, sizeof(dstr)), want);
		assert_int_equal(doc.digest_len, strlen(digests[i].hex) / 2);
		assert_int_equal(doc.ignored, 2);
		assert_non_null(doc.files[0]);
		assert_int_equal(doc.files[1]->str_len, sizeof(CDH) - 1);
		assert_memory_equal(doc.files[1]->str, CDH, sizeof(CDH) - 1);
		initdata_doc_free(&doc);
	}
}

/* Through the file: the same digest, the files byte-exact and 0400, and
 * the path-like keys nowhere. */
static void test_load_and_write(void **state)
{
	struct initdata_doc doc;
	char text[1024], err[256] = "", dstr[INITDATA_DOC_DIGEST_STR_SIZE];
	int len = snprintf(text, sizeof(text), DOC_FMT, "sha384");

	put(INITDATA_FILE, text, (size_t)len);
	assert_int_equal(initdata_doc_load(dfd, 4096, &doc, err, sizeof(err)), 0);
	assert_string_equal(initdata_doc_digest_str(&doc, dstr, sizeof(dstr)), "sha384:7490b2a60ab0184f3b341a9e38b06e7ac852ae5b"
									  "bbace4976a862564742fa92a7fed33e1df5f043f1e7a52d002cdd636");
	umask(077);
	assert_int_equal(initdata_doc_write_files(dfd, &doc, err, sizeof(err)), 0);
	umask(022);
	initdata_doc_free(&doc);
	file_is("aa.toml", AA, sizeof(AA) - 1);
	file_is("cdh.toml", CDH, sizeof(CDH) - 1);
	file_is("policy.rego", POLICY, sizeof(POLICY) - 1);
	/* initdata.toml and the three: no temporary names left, nothing else. */
	assert_int_equal(count_entries(fixture_path("a/b/dir")), 4);
	assert_int_equal(count_entries(fixture_path("a/b")), 1);
	assert_int_equal(count_entries(fixture_path("a")), 1);
	assert_int_equal(access(fixture_path("x"), F_OK), -1);
	assert_int_equal(access(fixture_path("a/x"), F_OK), -1);
}

/* A document without policy.rego writes no policy.rego; an aa.toml that is
 * there already (a symlink, even) is replaced, its target untouched. */
static void test_absent_and_replaced(void **state)
{
	static const char doc_text[] = "version = \"0.1.0\"\nalgorithm = \"sha256\"\n[data]\n\"aa.toml\" = \"new\\u0000x\"\n";
	struct initdata_doc doc;
	char err[256] = "", buf[16];

	put("target", "old", 3);
	assert_int_equal(symlinkat("target", dfd, "aa.toml"), 0);
	assert_int_equal(initdata_doc_parse(doc_text, sizeof(doc_text) - 1, &doc, err, sizeof(err)), 0);
	assert_null(doc.files[1]);
	assert_null(doc.files[2]);
	assert_int_equal(doc.ignored, 0);
	assert_int_equal(initdata_doc_write_files(dfd, &doc, err, sizeof(err)), 0);
	initdata_doc_free(&doc);
	file_is("aa.toml", "new\0x", 5); /* a \u0000 is a byte of the value */
	assert_int_equal(util_read_file_at(dfd, "target", buf, sizeof(buf), false), 3);
	assert_memory_equal(buf, "old", 3);
	assert_int_equal(faccessat(dfd, "cdh.toml", F_OK, AT_SYMLINK_NOFOLLOW), -1);
	assert_int_equal(faccessat(dfd, "policy.rego", F_OK, AT_SYMLINK_NOFOLLOW), -1);
}

#define REFUSED(text, r, want) refused(text, sizeof(text) - 1, r, want)

static void test_validation(void **state)
{
	REFUSED("version = \"0.2.0\"\nalgorithm = \"sha256\"\n[data]\n", -EINVAL,
		"version: line 1: \"0.2.0\" is not \"0.1.0\"");
	REFUSED("algorithm = \"sha256\"\n[data]\n", -EINVAL, "version: missing");
	REFUSED("version = 1\nalgorithm = \"sha256\"\n[data]\n", -EINVAL, "version: line 1: an integer, not a string");
	REFUSED("version = \"0.1.0 \"\nalgorithm = \"sha256\"\n[data]\n", -EINVAL,
		"version: line 1: \"0.1.0 \" is not \"0.1.0\"");
	REFUSED("version = \"0.1.0\\u0000\"\nalgorithm = \"sha256\"\n[data]\n", -EINVAL,
		"version: line 1: \"0.1.0\\x00\" is not \"0.1.0\"");
	REFUSED("version = \"0.1.0\"\nalgorithm = \"md5\"\n[data]\n", -EINVAL,
		"algorithm: line 2: \"md5\" is not one of sha256, sha384, sha512");
	REFUSED("version = \"0.1.0\"\nalgorithm = \"SHA256\"\n[data]\n", -EINVAL,
		"algorithm: line 2: \"SHA256\" is not one of sha256, sha384, sha512");
	REFUSED("version = \"0.1.0\"\n[data]\n", -EINVAL, "algorithm: missing");
	REFUSED("version = \"0.1.0\"\nalgorithm = true\n", -EINVAL, "algorithm: line 2: a boolean, not a string");
	REFUSED("version = \"0.1.0\"\nalgorithm = \"sha256\"\n", -EINVAL, "data: missing");
	REFUSED("version = \"0.1.0\"\nalgorithm = \"sha256\"\ndata = \"x\"\n", -EINVAL,
		"data: line 3: a string, not a table");
	REFUSED("version = \"0.1.0\"\nalgorithm = \"sha256\"\n[data]\n\"aa.toml\" = \"\"\nx = 1\n", -EINVAL,
		"data.\"x\": line 5: an integer, not a string");
	REFUSED("version = \"0.1.0\"\nalgorithm = \"sha256\"\n[data]\n\"cdh.toml\" = [\"a\"]\n", -EINVAL,
		"data.\"cdh.toml\": line 4: an array, not a string");
	REFUSED("version = \"0.1.0\"\nalgorithm = \"sha256\"\n[data.sub]\n", -EINVAL,
		"data.\"sub\": line 3: a table, not a string");
	/* A long hostile value is shown escaped and cut. */
	REFUSED("version = \"0.1.0\"\nalgorithm = \"\\u001b[2J0123456789012345678901234567890123456789012345678901234\"\n"
		"[data]\n",
		-EINVAL, "algorithm: line 2: \"\\x1b[2J01234567890123456789012345678901234567890123...\" is not one of "
			 "sha256, sha384, sha512");
	/* Unknown top-level keys are ignored, as the agent does; an empty [data] is fine. */
	{
		static const char ok[] = "version = \"0.1.0\"\nalgorithm = \"sha512\"\nother = 3\n[data]\n";
		struct initdata_doc doc;
		char err[64];

		assert_int_equal(initdata_doc_parse(ok, sizeof(ok) - 1, &doc, err, sizeof(err)), 0);
		assert_null(doc.files[0]);
		initdata_doc_free(&doc);
	}
}

/* Every TOML fault comes out as "toml: line N: ...". */
static void test_toml_faults(void **state)
{
	static const char garbage[] = "\x7f" "ELF\x02\x01\x01\0\0\0\xff\xfe";
	size_t n = 200000;
	char *deep = malloc(n + 1);

	refused_toml("version = \"0.1.0\"\nalgorithm = \"sha256\"\n[data]\n\"a\" = \"1\"\n\"a\" = \"2\"\n",
		     sizeof("version = \"0.1.0\"\nalgorithm = \"sha256\"\n[data]\n\"a\" = \"1\"\n\"a\" = \"2\"\n") - 1,
		     "toml: line 5: ");
	refused_toml(garbage, sizeof(garbage) - 1, "toml: line 1: ");
	refused_toml("version = \"0.1.0\"\nalgorithm = \"sha256\"\n[data]\n\"a\" = \"\xc3\x28\"\n",
		     sizeof("version = \"0.1.0\"\nalgorithm = \"sha256\"\n[data]\n\"a\" = \"\xc3\x28\"\n") - 1,
		     "toml: line 4: ");
	refused_toml("version = \"0.1.0\"\nversion = \"0.1.0\"\n", 36, "toml: line 2: ");
	assert_non_null(deep);
	memset(deep, '[', n);
	deep[n] = '\0';
	refused_toml(deep, n, "toml: line 1: ");
	free(deep);
}

static void test_load_refusals(void **state)
{
	struct initdata_doc doc;
	char err[256] = "", text[1024];
	int len = snprintf(text, sizeof(text), DOC_FMT, "sha256");

	assert_int_equal(initdata_doc_load(dfd, 4096, &doc, err, sizeof(err)), -ENOENT);
	assert_string_equal(err, "cannot open initdata.toml: No such file or directory");
	put("real.toml", text, (size_t)len);
	assert_int_equal(symlinkat("real.toml", dfd, INITDATA_FILE), 0);
	assert_int_equal(initdata_doc_load(dfd, 4096, &doc, err, sizeof(err)), -ELOOP);
	assert_int_equal(unlinkat(dfd, INITDATA_FILE, 0), 0);
	assert_int_equal(mkfifoat(dfd, INITDATA_FILE, 0600), 0);
	assert_int_equal(initdata_doc_load(dfd, 4096, &doc, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "initdata.toml is not a regular file");
	assert_int_equal(unlinkat(dfd, INITDATA_FILE, 0), 0);
	put(INITDATA_FILE, text, (size_t)len);
	assert_int_equal(initdata_doc_load(dfd, (size_t)len - 1, &doc, err, sizeof(err)), -EFBIG);
	snprintf(text, sizeof(text), "initdata.toml is %d bytes, more than %d", len, len - 1);
	assert_string_equal(err, text);
	assert_int_equal(initdata_doc_load(dfd, (size_t)len, &doc, err, sizeof(err)), 0);
	initdata_doc_free(&doc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_three_algorithms, per_test, per_test_end),
		cmocka_unit_test_setup_teardown(test_load_and_write, per_test, per_test_end),
		cmocka_unit_test_setup_teardown(test_absent_and_replaced, per_test, per_test_end),
		cmocka_unit_test_setup_teardown(test_validation, per_test, per_test_end),
		cmocka_unit_test_setup_teardown(test_toml_faults, per_test, per_test_end),
		cmocka_unit_test_setup_teardown(test_load_refusals, per_test, per_test_end),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
