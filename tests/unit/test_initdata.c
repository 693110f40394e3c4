/* SPDX-License-Identifier: Apache-2.0 */
/* Kata's raw initdata format: header bounds, bounded gunzip, and extraction
 * of real image files (and a loop device) into a temporary directory. The
 * images are written here with zlib, laid out as the Kata Go runtime does. */
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
#include "cocoinit/util.h"
#include "fixture.h"

static const char TOML[] = "version = \"0.1.0\"\nalgorithm = \"sha384\"\n[data]\n"
			   "\"aa.toml\" = '''\n[token_configs]\n'''\n";

static void put_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* Writes "initdata", L, payload, zero padding to 512 (as the Go runtime does). */
static void write_image(const char *path, uint64_t L, const uint8_t *payload, size_t n)
{
	fixture_write_raw(path, L, payload, n, 512);
}

static int setup(void **state)
{
	fixture_dir_create("initdata");
	assert_int_equal(mkdir(fixture_path("out"), 0700), 0);
	return 0;
}

static int teardown(void **state)
{
	return fixture_dir_remove();
}

/* Names in dir other than . and .. (to catch left-over temporary files). */
static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

/* Extracts image into a clean out/ and returns the result, err filled. */
static int extract(const char *image, uint64_t max, size_t *ret_size, char *err, size_t errsz)
{
	int devfd, dirfd, r;

	fixture_run("rm -rf '%s' && mkdir -m 0700 '%s'", fixture_path("out"), fixture_path("out"));
	devfd = open(image, O_RDONLY | O_CLOEXEC);
	assert_true(devfd >= 0);
	dirfd = open(fixture_path("out"), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(dirfd >= 0);
	err[0] = '\0';
	r = initdata_extract_fd(devfd, dirfd, max, ret_size, NULL, err, errsz);
	close(devfd);
	close(dirfd);
	return r;
}

static void assert_toml_is(const void *want, size_t n)
{
	char p[300];
	struct stat st;
	uint8_t *buf = malloc(n + 1);
	ssize_t got;

	assert_non_null(buf);
	snprintf(p, sizeof(p), "%s/initdata.toml", fixture_path("out"));
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0400);
	assert_true(S_ISREG(st.st_mode));
	got = util_read_file_at(AT_FDCWD, p, buf, n + 1, false);
	assert_int_equal(got, (ssize_t)n);
	assert_memory_equal(buf, want, n);
	free(buf);
	assert_int_equal(count_entries(fixture_path("out")), 1);
}

/* --- header --- */

static void test_header(void **state)
{
	uint8_t h[16];
	uint64_t len = 0;

	memcpy(h, "initdata", 8);
	put_le64(h + 8, 100);
	assert_int_equal(initdata_parse_header(h, 16, 4096, 1 << 20, &len), 0);
	assert_int_equal(len, 100);

	/* exactly filling the device and exactly at the bound are fine */
	len = 0;
	assert_int_equal(initdata_parse_header(h, 16, 116, 100, &len), 0);
	assert_int_equal(len, 100);

	len = 7;
	assert_int_equal(initdata_parse_header(h, 16, 115, 1 << 20, &len), -ERANGE);
	assert_int_equal(len, 7); /* untouched on error */
	assert_int_equal(initdata_parse_header(h, 16, 4096, 99, &len), -ERANGE);
	assert_int_equal(initdata_parse_header(h, 16, 8, 1 << 20, &len), -ERANGE);
	assert_int_equal(initdata_parse_header(h, 15, 4096, 1 << 20, &len), -EBADMSG);

	put_le64(h + 8, 0);
	assert_int_equal(initdata_parse_header(h, 16, 4096, 1 << 20, &len), -EINVAL);
	put_le64(h + 8, UINT64_MAX);
	assert_int_equal(initdata_parse_header(h, 16, UINT64_MAX, UINT64_MAX, &len), -ERANGE);
	put_le64(h + 8, UINT64_MAX - 16);
	assert_int_equal(initdata_parse_header(h, 16, UINT64_MAX, UINT64_MAX, &len), 0);

	memcpy(h, "initdatA", 8);
	put_le64(h + 8, 100);
	assert_int_equal(initdata_parse_header(h, 16, 4096, 1 << 20, &len), -EBADMSG);
	assert_int_equal(initdata_parse_header(NULL, 16, 4096, 1 << 20, &len), -EBADMSG);
}

/* --- gunzip --- */

static void test_gunzip_roundtrip(void **state)
{
	size_t n, outlen = 0;
	uint8_t *z = fixture_gzip(TOML, sizeof(TOML) - 1, &n), *out = NULL;

	assert_int_equal(initdata_gunzip(z, n, 4096, &out, &outlen), 0);
	assert_int_equal(outlen, sizeof(TOML) - 1);
	assert_memory_equal(out, TOML, outlen);
	free(out);

	/* the cap is inclusive */
	out = NULL;
	assert_int_equal(initdata_gunzip(z, n, sizeof(TOML) - 1, &out, &outlen), 0);
	assert_int_equal(outlen, sizeof(TOML) - 1);
	free(out);
	out = NULL;
	assert_int_equal(initdata_gunzip(z, n, sizeof(TOML) - 2, &out, &outlen), -EFBIG);
	assert_null(out);
	assert_int_equal(initdata_gunzip(z, n, 0, &out, &outlen), -EFBIG);
	free(z);
}

static void test_gunzip_empty_and_large(void **state)
{
	size_t n, outlen = 1, big = 3 * 1024 * 1024 + 17;
	uint8_t *z = fixture_gzip("", 0, &n), *out = NULL;
	uint8_t *text = malloc(big);

	assert_int_equal(initdata_gunzip(z, n, 4096, &out, &outlen), 0);
	assert_int_equal(outlen, 0);
	free(out);
	free(z);

	/* Output far larger than the first buffer: growth must keep every byte. */
	assert_non_null(text);
	for (size_t i = 0; i < big; i++)
		text[i] = (uint8_t)("key = \"value\"\n"[i % 14] + (i / 4096) % 3);
	z = fixture_gzip(text, big, &n);
	out = NULL;
	assert_int_equal(initdata_gunzip(z, n, big, &out, &outlen), 0);
	assert_int_equal(outlen, big);
	assert_memory_equal(out, text, big);
	free(out);
	out = NULL;
	assert_int_equal(initdata_gunzip(z, n, big - 1, &out, &outlen), -EFBIG);
	free(z);
	free(text);
}

static void test_gunzip_corrupt(void **state)
{
	size_t n, outlen;
	uint8_t *z = fixture_gzip(TOML, sizeof(TOML) - 1, &n), *out = NULL;
	uint8_t *junk = malloc(n * 2 + 8);

	/* truncated: every cut short of the whole member */
	for (size_t cut = 0; cut < n; cut++)
		assert_int_equal(initdata_gunzip(z, cut, 4096, &out, &outlen), -EBADMSG);

	/* trailing junk, and a second member, after the first */
	assert_non_null(junk);
	memcpy(junk, z, n);
	junk[n] = 0;
	assert_int_equal(initdata_gunzip(junk, n + 1, 4096, &out, &outlen), -EBADMSG);
	memcpy(junk + n, z, n);
	assert_int_equal(initdata_gunzip(junk, 2 * n, 4096, &out, &outlen), -EBADMSG);

	/* CRC32 (trailer bytes n-8..n-5) and ISIZE (n-4..n-1) are checked */
	memcpy(junk, z, n);
	junk[n - 8] ^= 1;
	assert_int_equal(initdata_gunzip(junk, n, 4096, &out, &outlen), -EBADMSG);
	memcpy(junk, z, n);
	junk[n - 2] ^= 1;
	assert_int_equal(initdata_gunzip(junk, n, 4096, &out, &outlen), -EBADMSG);

	/* not gzip at all (a zlib stream, plain text) */
	assert_int_equal(initdata_gunzip((const uint8_t *)TOML, sizeof(TOML) - 1, 4096, &out, &outlen), -EBADMSG);
	assert_null(out);
	free(junk);
	free(z);
}

static void test_gunzip_bomb(void **state)
{
	size_t big = 64 * 1024 * 1024, n, outlen;
	uint8_t *zeros = calloc(1, big), *out = NULL;
	uint8_t *z;

	assert_non_null(zeros);
	z = fixture_gzip(zeros, big, &n);
	free(zeros);
	assert_true(n < 128 * 1024); /* a real bomb: tiny in, 64 MiB out */
	assert_int_equal(initdata_gunzip(z, n, 4 * 4096, &out, &outlen), -EFBIG);
	assert_null(out);
	free(z);
}

/* --- extraction from image files --- */

static void test_extract_ok(void **state)
{
	char err[256];
	size_t n, size = 0;
	uint8_t *z = fixture_gzip(TOML, sizeof(TOML) - 1, &n);

	write_image(fixture_path("ok.img"), n, z, n);
	assert_int_equal(extract(fixture_path("ok.img"), INITDATA_DEFAULT_MAX_BYTES, &size, err, sizeof(err)), 0);
	assert_int_equal(size, sizeof(TOML) - 1);
	assert_toml_is(TOML, sizeof(TOML) - 1);
	free(z);

	/* over an existing initdata.toml: replaced, still 0400 */
	static const char other[] = "version = \"0.2.0\"\n";
	int dirfd = open(fixture_path("out"), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int devfd;
	z = fixture_gzip(other, sizeof(other) - 1, &n);
	write_image(fixture_path("other.img"), n, z, n);
	devfd = open(fixture_path("other.img"), O_RDONLY | O_CLOEXEC);
	assert_int_equal(initdata_extract_fd(devfd, dirfd, 1 << 20, &size, NULL, err, sizeof(err)), 0);
	close(devfd);
	close(dirfd);
	assert_toml_is(other, sizeof(other) - 1);
	free(z);
}

static void test_extract_loop_device(void **state)
{
	char err[256], dev[64] = "";
	size_t n, size = 0;
	uint8_t *z = fixture_gzip(TOML, sizeof(TOML) - 1, &n);
	int r;

	write_image(fixture_path("loop.img"), n, z, n);
	free(z);
	fixture_loop_attach(fixture_path("loop.img"), dev, sizeof(dev));

	/* BLKGETSIZE64 gives 512 bytes: the header and L must fit in it. */
	r = extract(dev, INITDATA_DEFAULT_MAX_BYTES, &size, err, sizeof(err));
	fixture_loop_detach(dev);
	if (r != 0)
		fail_msg("extract from %s: %d %s", dev, r, err);
	assert_int_equal(size, sizeof(TOML) - 1);
	assert_toml_is(TOML, sizeof(TOML) - 1);
}

static void expect_fail(const char *image, uint64_t max, int want, const char *msg)
{
	char err[256];
	size_t size = 12345;
	int r = extract(image, max, &size, err, sizeof(err));

	if (r != want || !strstr(err, msg))
		fail_msg("%s: got %d \"%s\", want %d \"%s\"", image, r, err, want, msg);
	assert_int_equal(size, 12345);
	assert_int_equal(count_entries(fixture_path("out")), 0);
}

static void test_extract_errors(void **state)
{
	size_t n;
	uint8_t *z = fixture_gzip(TOML, sizeof(TOML) - 1, &n);
	uint8_t *buf = malloc(n + 64);
	char msg[128];

	assert_non_null(buf);

	write_image(fixture_path("zero.img"), 0, z, n);
	expect_fail(fixture_path("zero.img"), 1 << 20, -EINVAL, "initdata length is 0");

	/* L = 100000 in a 512-byte image */
	write_image(fixture_path("beyond.img"), 100000, z, n);
	expect_fail(fixture_path("beyond.img"), 1 << 20, -ERANGE, "initdata length 100000 is beyond the device (512 bytes)");

	write_image(fixture_path("huge.img"), UINT64_MAX, z, n);
	expect_fail(fixture_path("huge.img"), UINT64_MAX, -ERANGE, "is beyond the device");

	write_image(fixture_path("max.img"), n, z, n);
	snprintf(msg, sizeof(msg), "initdata length %zu is above cocoinit.initdata_max_bytes=%zu", n, n - 1);
	expect_fail(fixture_path("max.img"), n - 1, -ERANGE, msg);

	/* L shorter than the gzip member: the stream ends early */
	write_image(fixture_path("trunc.img"), n - 10, z, n);
	expect_fail(fixture_path("trunc.img"), 1 << 20, -EBADMSG, "initdata gzip stream is truncated");

	memcpy(buf, z, n);
	buf[n - 8] ^= 0xff;
	write_image(fixture_path("crc.img"), n, buf, n);
	expect_fail(fixture_path("crc.img"), 1 << 20, -EBADMSG, "initdata gzip stream is corrupt: incorrect data check");

	/* L covers 5 bytes past the member (the Go runtime's padding is outside L) */
	memcpy(buf, z, n);
	memcpy(buf + n, "junk!", 5);
	write_image(fixture_path("junk.img"), n + 5, buf, n + 5);
	expect_fail(fixture_path("junk.img"), 1 << 20, -EBADMSG, "initdata has 5 bytes of junk after the gzip stream");

	/* padding zeros counted in L are junk too */
	write_image(fixture_path("pad.img"), n + 16, z, n);
	expect_fail(fixture_path("pad.img"), 1 << 20, -EBADMSG, "junk after the gzip stream");

	memcpy(buf, "notinit!", 8);
	int fd = open(fixture_path("nomagic.img"), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	assert_int_equal(util_write_all(fd, buf, 64), 0);
	close(fd);
	expect_fail(fixture_path("nomagic.img"), 1 << 20, -EBADMSG, "no initdata magic at offset 0");

	fd = open(fixture_path("short.img"), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	assert_int_equal(util_write_all(fd, "initdata", 8), 0);
	close(fd);
	expect_fail(fixture_path("short.img"), 1 << 20, -EBADMSG, "smaller than the 16-byte header");
	free(buf);
	free(z);
}

static void test_extract_bomb(void **state)
{
	size_t big = 16 * 1024 * 1024, n;
	uint8_t *zeros = calloc(1, big);
	uint8_t *z;

	assert_non_null(zeros);
	z = fixture_gzip(zeros, big, &n);
	free(zeros);
	write_image(fixture_path("bomb.img"), n, z, n);
	/* max_bytes 65536: the cap is 262144 decompressed bytes */
	expect_fail(fixture_path("bomb.img"), 65536, -EFBIG, "initdata decompresses to more than 262144 bytes");
	free(z);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_header),
		cmocka_unit_test(test_gunzip_roundtrip),
		cmocka_unit_test(test_gunzip_empty_and_large),
		cmocka_unit_test(test_gunzip_corrupt),
		cmocka_unit_test(test_gunzip_bomb),
		cmocka_unit_test(test_extract_ok),
		cmocka_unit_test(test_extract_loop_device),
		cmocka_unit_test(test_extract_errors),
		cmocka_unit_test(test_extract_bomb),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
