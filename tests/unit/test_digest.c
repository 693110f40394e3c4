/* SPDX-License-Identifier: Apache-2.0 */
/* SHA-2 through libnettle against FIPS 180 known answers ("abc", the empty
 * message, a million 'a' streamed from a file), algorithm names, hex, and
 * Kata's adjustment of a digest to a TEE's 32- or 48-byte launch value. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cocoinit/digest.h"

struct kat {
	enum digest_alg alg;
	const char *abc, *empty, *million_a;
};

/* FIPS 180-2 appendix examples and the NIST "one million a" messages. */
static const struct kat kats[] = {
	{ DIGEST_SHA256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
	  "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	  "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0" },
	{ DIGEST_SHA384,
	  "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7",
	  "38b060a751ac96384cd9327eb1b1e36a21fdb71114be07434c0cc7bf63f6e1da274edebfe76f65fbd51ad2f14898b95b",
	  "9d0e1809716474cb086e834e310a4a1ced149e9c00f248527972cec5704c2a5b07b8b3dc38ecc4ebae97ddd87f3d8985" },
	{ DIGEST_SHA512,
	  "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d"
	  "4423643ce80e2a9ac94fa54ca49f",
	  "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b9"
	  "31bd47417a81a538327af927da3e",
	  "e718483d0ce769644e2e42c7bc15b4638e1f98b13b2044285632a803afa973ebde0ff244877ea60a4cb0432ce577c31beb00"
	  "9c5c2c49aa2e4eadb217ad8cc09b" },
};

static void hex_of(enum digest_alg alg, const void *data, size_t len, char out[DIGEST_HEX_SIZE])
{
	uint8_t d[DIGEST_MAX];

	digest_buf(alg, data, len, d);
	digest_hex(out, d, digest_len(alg));
}

static void test_known_answers(void **state)
{
	char hex[DIGEST_HEX_SIZE];

	for (size_t i = 0; i < sizeof(kats) / sizeof(kats[0]); i++) {
		assert_int_equal(strlen(kats[i].abc), 2 * digest_len(kats[i].alg));
		hex_of(kats[i].alg, "abc", 3, hex);
		assert_string_equal(hex, kats[i].abc);
		hex_of(kats[i].alg, "", 0, hex);
		assert_string_equal(hex, kats[i].empty);
	}
	assert_int_equal(digest_len(DIGEST_SHA256), 32);
	assert_int_equal(digest_len(DIGEST_SHA384), 48);
	assert_int_equal(digest_len(DIGEST_SHA512), 64);
}

/* digest_fd streams in chunks: a million bytes crosses many of them. */
static void test_fd_million_a(void **state)
{
	char path[] = "/tmp/cocoinit-digest-XXXXXX";
	size_t n = 1000000;
	char *buf = malloc(n);
	int fd = mkstemp(path);

	assert_non_null(buf);
	assert_true(fd >= 0);
	unlink(path);
	memset(buf, 'a', n);
	assert_int_equal(write(fd, buf, n), (ssize_t)n);
	for (size_t i = 0; i < sizeof(kats) / sizeof(kats[0]); i++) {
		uint8_t d[DIGEST_MAX];
		char hex[DIGEST_HEX_SIZE];

		assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
		assert_int_equal(digest_fd(kats[i].alg, fd, d), 0);
		assert_string_equal(digest_hex(hex, d, digest_len(kats[i].alg)), kats[i].million_a);
		hex_of(kats[i].alg, buf, n, hex);
		assert_string_equal(hex, kats[i].million_a);
	}
	assert_int_equal(digest_fd(DIGEST_SHA256, -1, (uint8_t[DIGEST_MAX]){ 0 }), -EBADF);
	close(fd);
	free(buf);
}

static void test_names(void **state)
{
	enum digest_alg a = DIGEST_SHA512;

	assert_int_equal(digest_alg_from_name("sha256", 6, &a), 0);
	assert_int_equal(a, DIGEST_SHA256);
	assert_int_equal(digest_alg_from_name("sha384", 6, &a), 0);
	assert_int_equal(a, DIGEST_SHA384);
	assert_int_equal(digest_alg_from_name("sha512", 6, &a), 0);
	assert_int_equal(a, DIGEST_SHA512);
	assert_string_equal(digest_alg_name(DIGEST_SHA384), "sha384");
	/* Exactly the agent's names: no case folding, no prefixes, no NUL tricks. */
	a = DIGEST_SHA256;
	assert_int_equal(digest_alg_from_name("SHA384", 6, &a), -EINVAL);
	assert_int_equal(digest_alg_from_name("sha38", 5, &a), -EINVAL);
	assert_int_equal(digest_alg_from_name("sha3844", 7, &a), -EINVAL);
	assert_int_equal(digest_alg_from_name("sha384\0", 7, &a), -EINVAL);
	assert_int_equal(digest_alg_from_name("sha1", 4, &a), -EINVAL);
	assert_int_equal(digest_alg_from_name("", 0, &a), -EINVAL);
	assert_int_equal(a, DIGEST_SHA256);
}

/* The launch values: SNP HOST_DATA 32 bytes, TDX MRCONFIGID 48. */
static void test_adjust(void **state)
{
	uint8_t d[DIGEST_MAX], out[64];
	char hex[DIGEST_HEX_SIZE], want[DIGEST_HEX_SIZE];

	/* sha256 -> TDX: the 32 bytes, then 16 zero bytes. */
	digest_buf(DIGEST_SHA256, "abc", 3, d);
	memset(out, 0xaa, sizeof(out));
	digest_adjust(d, 32, out, 48);
	snprintf(want, sizeof(want), "%s%032d", kats[0].abc, 0);
	assert_string_equal(digest_hex(hex, out, 48), want);
	assert_int_equal(out[48], 0xaa); /* nothing past the length */
	/* sha256 -> SNP: unchanged. */
	digest_adjust(d, 32, out, 32);
	assert_string_equal(digest_hex(hex, out, 32), kats[0].abc);
	/* sha384 -> SNP: the first 32 bytes. */
	digest_buf(DIGEST_SHA384, "abc", 3, d);
	digest_adjust(d, 48, out, 32);
	assert_string_equal(digest_hex(hex, out, 32), "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed");
	/* sha384 -> TDX: unchanged. */
	digest_adjust(d, 48, out, 48);
	assert_string_equal(digest_hex(hex, out, 48), kats[1].abc);
	/* sha512 -> TDX: the first 48 bytes. */
	digest_buf(DIGEST_SHA512, "abc", 3, d);
	digest_adjust(d, 64, out, 48);
	memcpy(want, kats[2].abc, 96);
	want[96] = '\0';
	assert_string_equal(digest_hex(hex, out, 48), want);
}

/* RFC 4648 section 10, and a 32-byte SNP HOST_DATA as QEMU's host-data= takes it. */
static void test_base64(void **state)
{
	static const char *const v[][2] = { { "", "" },	       { "f", "Zg==" },	      { "fo", "Zm8=" },
					    { "foo", "Zm9v" }, { "foob", "Zm9vYg==" }, { "fooba", "Zm9vYmE=" },
					    { "foobar", "Zm9vYmFy" } };
	uint8_t d[DIGEST_MAX];
	char out[128];

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		assert_string_equal(digest_base64(out, (const uint8_t *)v[i][0], strlen(v[i][0])), v[i][1]);
	digest_buf(DIGEST_SHA256, "abc", 3, d);
	assert_string_equal(digest_base64(out, d, 32), "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_known_answers),
		cmocka_unit_test(test_fd_million_a),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_adjust),
		cmocka_unit_test(test_base64),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
