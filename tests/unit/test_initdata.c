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
#include <zlib.h>

#include <cmocka.h>

#include "cocoinit/initdata.h"
#include "cocoinit/util.h"

static char tmpdir[64];

static const char TOML[] = "version = \"0.1.0\"\nalgorithm = \"sha384\"\n[data]\n"
			   "\"aa.toml\" = '''\n[token_configs]\n'''\n";

/* gzip of len bytes of in; returns a malloc'd buffer. */
static uint8_t *gz(const void *in, size_t len, size_t *ret_len)
{
	z_stream zs = { 0 };
	size_t cap = compressBound(len) + 64;
	uint8_t *out = malloc(cap);

	assert_non_null(out);
	assert_int_equal(deflateInit2(&zs, 9, Z_DEFLATED, 16 + MAX_WBITS, 9, Z_DEFAULT_STRATEGY), Z_OK);
	zs.next_in = (Bytef *)(uintptr_t)in;
	zs.avail_in = (uInt)len;
	zs.next_out = out;
	zs.avail_out = (uInt)cap;
	assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
	*ret_len = zs.total_out;
	deflateEnd(&zs);
	return out;
}

static void put_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* Writes "initdata", L, payload, zero padding to 512 (as the Go runtime does). */
static void write_image(const char *path, uint64_t L, const uint8_t *payload, size_t n)
{
	uint8_t hdr[16];
	size_t total = 16 + n, padded = (total + 511) / 512 * 512;
	uint8_t zero[512] = { 0 };
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	assert_true(fd >= 0);
	memcpy(hdr, "initdata", 8);
	put_le64(hdr + 8, L);
	assert_int_equal(util_write_all(fd, hdr, 16), 0);
	assert_int_equal(util_write_all(fd, payload, n), 0);
	assert_int_equal(util_write_all(fd, zero, padded - total), 0);
	close(fd);
}

/* Rotating buffers: a few results may be alive at once. */
static char *path_in(const char *name)
{
	static char p[4][256];
	static unsigned i;
	char *out = p[i++ % 4];
	snprintf(out, 256, "%s/%s", tmpdir, name);
	return out;
}

static int setup(void **state)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/cocoinit-initdata-XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
	assert_int_equal(mkdir(path_in("out"), 0700), 0);
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
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
	char cmd[600];
	int devfd, dirfd, r;

	snprintf(cmd, sizeof(cmd), "rm -rf '%s' && mkdir -m 0700 '%s'", path_in("out"), path_in("out"));
	assert_int_equal(system(cmd), 0);
	devfd = open(image, O_RDONLY | O_CLOEXEC);
	assert_true(devfd >= 0);
	dirfd = open(path_in("out"), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(dirfd >= 0);
	err[0] = '\0';
	r = initdata_extract_fd(devfd, dirfd, max, ret_size, err, errsz);
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
	snprintf(p, sizeof(p), "%s/initdata.toml", path_in("out"));
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0400);
	assert_true(S_ISREG(st.st_mode));
	got = util_read_file_at(AT_FDCWD, p, buf, n + 1, false);
	assert_int_equal(got, (ssize_t)n);
	assert_memory_equal(buf, want, n);
	free(buf);
	assert_int_equal(count_entries(path_in("out")), 1);
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
	uint8_t *z = gz(TOML, sizeof(TOML) - 1, &n), *out = NULL;

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
	uint8_t *z = gz("", 0, &n), *out = NULL;
	uint8_t *text = malloc(big);

	assert_int_equal(initdata_gunzip(z, n, 4096, &out, &outlen), 0);
	assert_int_equal(outlen, 0);
	free(out);
	free(z);

	/* Output far larger than the first buffer: growth must keep every byte. */
	assert_non_null(text);
	for (size_t i = 0; i < big; i++)
		text[i] = (uint8_t)("key = \"value\"\n"[i % 14] + (i / 4096) % 3);
	z = gz(text, big, &n);
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
	uint8_t *z = gz(TOML, sizeof(TOML) - 1, &n), *out = NULL;
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
	z = gz(zeros, big, &n);
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
	uint8_t *z = gz(TOML, sizeof(TOML) - 1, &n);

	write_image(path_in("ok.img"), n, z, n);
	assert_int_equal(extract(path_in("ok.img"), INITDATA_DEFAULT_MAX_BYTES, &size, err, sizeof(err)), 0);
	assert_int_equal(size, sizeof(TOML) - 1);
	assert_toml_is(TOML, sizeof(TOML) - 1);
	free(z);

	/* over an existing initdata.toml: replaced, still 0400 */
	static const char other[] = "version = \"0.2.0\"\n";
	int dirfd = open(path_in("out"), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int devfd;
	z = gz(other, sizeof(other) - 1, &n);
	write_image(path_in("other.img"), n, z, n);
	devfd = open(path_in("other.img"), O_RDONLY | O_CLOEXEC);
	assert_int_equal(initdata_extract_fd(devfd, dirfd, 1 << 20, &size, err, sizeof(err)), 0);
	close(devfd);
	close(dirfd);
	assert_toml_is(other, sizeof(other) - 1);
	free(z);
}

static void test_extract_loop_device(void **state)
{
	char err[256], cmd[512], dev[64] = "";
	size_t n, size = 0;
	uint8_t *z = gz(TOML, sizeof(TOML) - 1, &n);
	FILE *p;
	int r;

	write_image(path_in("loop.img"), n, z, n);
	free(z);
	snprintf(cmd, sizeof(cmd), "losetup --find --show --read-only '%s'", path_in("loop.img"));
	p = popen(cmd, "r");
	assert_non_null(p);
	if (!fgets(dev, sizeof(dev), p))
		dev[0] = '\0';
	r = pclose(p);
	if (r != 0 || strncmp(dev, "/dev/loop", 9) != 0)
		fail_msg("losetup failed (%d): this test needs root and loop devices", r);
	dev[strcspn(dev, "\n")] = '\0';

	/* BLKGETSIZE64 gives 512 bytes: the header and L must fit in it. */
	r = extract(dev, INITDATA_DEFAULT_MAX_BYTES, &size, err, sizeof(err));
	snprintf(cmd, sizeof(cmd), "losetup -d %s", dev);
	assert_int_equal(system(cmd), 0);
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
	assert_int_equal(count_entries(path_in("out")), 0);
}

static void test_extract_errors(void **state)
{
	size_t n;
	uint8_t *z = gz(TOML, sizeof(TOML) - 1, &n);
	uint8_t *buf = malloc(n + 64);
	char msg[128];

	assert_non_null(buf);

	write_image(path_in("zero.img"), 0, z, n);
	expect_fail(path_in("zero.img"), 1 << 20, -EINVAL, "initdata length is 0");

	/* L = 100000 in a 512-byte image */
	write_image(path_in("beyond.img"), 100000, z, n);
	expect_fail(path_in("beyond.img"), 1 << 20, -ERANGE, "initdata length 100000 is beyond the device (512 bytes)");

	write_image(path_in("huge.img"), UINT64_MAX, z, n);
	expect_fail(path_in("huge.img"), UINT64_MAX, -ERANGE, "is beyond the device");

	write_image(path_in("max.img"), n, z, n);
	snprintf(msg, sizeof(msg), "initdata length %zu is above cocoinit.initdata_max_bytes=%zu", n, n - 1);
	expect_fail(path_in("max.img"), n - 1, -ERANGE, msg);

	/* L shorter than the gzip member: the stream ends early */
	write_image(path_in("trunc.img"), n - 10, z, n);
	expect_fail(path_in("trunc.img"), 1 << 20, -EBADMSG, "initdata gzip stream is truncated");

	memcpy(buf, z, n);
	buf[n - 8] ^= 0xff;
	write_image(path_in("crc.img"), n, buf, n);
	expect_fail(path_in("crc.img"), 1 << 20, -EBADMSG, "initdata gzip stream is corrupt: incorrect data check");

	/* L covers 5 bytes past the member (the Go runtime's padding is outside L) */
	memcpy(buf, z, n);
	memcpy(buf + n, "junk!", 5);
	write_image(path_in("junk.img"), n + 5, buf, n + 5);
	expect_fail(path_in("junk.img"), 1 << 20, -EBADMSG, "initdata has 5 bytes of junk after the gzip stream");

	/* padding zeros counted in L are junk too */
	write_image(path_in("pad.img"), n + 16, z, n);
	expect_fail(path_in("pad.img"), 1 << 20, -EBADMSG, "junk after the gzip stream");

	memcpy(buf, "notinit!", 8);
	int fd = open(path_in("nomagic.img"), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	assert_int_equal(util_write_all(fd, buf, 64), 0);
	close(fd);
	expect_fail(path_in("nomagic.img"), 1 << 20, -EBADMSG, "no initdata magic at offset 0");

	fd = open(path_in("short.img"), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	assert_int_equal(util_write_all(fd, "initdata", 8), 0);
	close(fd);
	expect_fail(path_in("short.img"), 1 << 20, -EBADMSG, "smaller than the 16-byte header");
	free(buf);
	free(z);
}

static void test_extract_bomb(void **state)
{
	size_t big = 16 * 1024 * 1024, n;
	uint8_t *zeros = calloc(1, big);
	uint8_t *z;

	assert_non_null(zeros);
	z = gz(zeros, big, &n);
	free(zeros);
	write_image(path_in("bomb.img"), n, z, n);
	/* max_bytes 65536: the cap is 262144 decompressed bytes */
	expect_fail(path_in("bomb.img"), 65536, -EFBIG, "initdata decompresses to more than 262144 bytes");
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
