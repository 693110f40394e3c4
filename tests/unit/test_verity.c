/* SPDX-License-Identifier: Apache-2.0 */
/* dm-verity without veritysetup: the params parser and each refusal's text,
 * the table against one written out by hand, the hash tree's size against
 * what `veritysetup format --no-superblock` writes, and the device-mapper
 * ioctl sequence through a wrapped sys_ioctl (exact structs, removal on
 * failure, nothing left behind). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cmocka.h>

#include "cocoinit/util.h"
#include "cocoinit/verity.h"
#include "tree.h"

#define ROOT "5f8004b1ef02c8771a669769d9bc6d4b74f118489e193cd64b68c78dafb34a65"
#define SALT "2f19c7c00309d085eb1e3c68897879420f0aa33941cf580d819306f26aab9bd7"
#define GOOD "root_hash=" ROOT ",salt=" SALT ",data_blocks=1000,data_block_size=4096,hash_block_size=4096"

static int parse(const char *s, struct verity_params *p, char *err, size_t errsz)
{
	return verity_params_parse(s, strlen(s), p, err, errsz);
}

/* Parses s, expecting a refusal whose text is want. */
static void refused(const char *s, const char *want)
{
	struct verity_params p;
	char err[256] = "";

	memset(&p, 0x5a, sizeof(p));
	if (parse(s, &p, err, sizeof(err)) != -EINVAL)
		fail_msg("accepted: %s", s);
	assert_string_equal(err, want);
	/* ret is written only on success */
	for (size_t i = 0; i < sizeof(p); i++)
		assert_int_equal(((uint8_t *)&p)[i], 0x5a);
}

static void test_parse_good(void **state)
{
	struct verity_params p;
	char err[128] = "";

	(void)state;
	assert_int_equal(parse(GOOD, &p, err, sizeof(err)), 0);
	assert_int_equal(p.root_hash_len, 32);
	assert_int_equal(p.root_hash[0], 0x5f);
	assert_int_equal(p.root_hash[31], 0x65);
	assert_int_equal(p.salt_len, 32);
	assert_int_equal(p.salt[0], 0x2f);
	assert_int_equal(p.salt[31], 0xd7);
	assert_int_equal(p.data_blocks, 1000);
	assert_int_equal(p.data_block_size, 4096);
	assert_int_equal(p.hash_block_size, 4096);

	/* any order, unknown keys ignored, upper-case hex, no salt */
	assert_int_equal(parse("hash_block_size=512,future=1,data_block_size=1024,salt=-,data_blocks=7,"
			       "root_hash=" "5F8004B1EF02C8771A669769D9BC6D4B74F118489E193CD64B68C78DAFB34A65",
			       &p, err, sizeof(err)),
			 0);
	assert_int_equal(p.root_hash[0], 0x5f);
	assert_int_equal(p.salt_len, 0);
	assert_int_equal(p.data_blocks, 7);
	assert_int_equal(p.data_block_size, 1024);
	assert_int_equal(p.hash_block_size, 512);
	/* an empty salt is no salt, as "-" is */
	assert_int_equal(parse("root_hash=" ROOT ",salt=,data_blocks=1,data_block_size=512,hash_block_size=512", &p,
			       err, sizeof(err)),
			 0);
	assert_int_equal(p.salt_len, 0);
	/* leading zeros are still a number */
	assert_int_equal(parse("root_hash=" ROOT ",salt=00,data_blocks=0001,data_block_size=04096,hash_block_size=4096",
			       &p, err, sizeof(err)),
			 0);
	assert_int_equal(p.salt_len, 1);
	assert_int_equal(p.salt[0], 0);
	assert_int_equal(p.data_block_size, 4096);
	/* the salt's longest: 256 bytes */
	char s[1024];
	snprintf(s, sizeof(s), "root_hash=" ROOT ",salt=%0512d,data_blocks=1,data_block_size=4096,hash_block_size=4096",
		 0);
	assert_int_equal(parse(s, &p, err, sizeof(err)), 0);
	assert_int_equal(p.salt_len, 256);
	/* the length is what counts, not a NUL */
	assert_int_equal(verity_params_parse(GOOD ",data_blocks=2", strlen(GOOD), &p, err, sizeof(err)), 0);
	assert_int_equal(p.data_blocks, 1000);
}

static void test_parse_refusals(void **state)
{
	char s[2048];

	(void)state;
	refused("", "root_hash: missing");
	refused("root_hash=" ROOT ",salt=" SALT ",data_blocks=1000,data_block_size=4096", "hash_block_size: missing");
	refused("root_hash=" ROOT ",data_blocks=1000,data_block_size=4096,hash_block_size=4096", "salt: missing");
	refused(GOOD ",salt=-", "salt: given twice");
	refused(GOOD ",root_hash=" ROOT, "root_hash: given twice");
	refused("root_hash=5f80,salt=-,data_blocks=1,data_block_size=4096,hash_block_size=4096",
		"root_hash: not 64 hex digits");
	refused("root_hash=" ROOT "00,salt=-,data_blocks=1,data_block_size=4096,hash_block_size=4096",
		"root_hash: not 64 hex digits");
	refused("root_hash=g58004b1ef02c8771a669769d9bc6d4b74f118489e193cd64b68c78dafb34a65,salt=-,data_blocks=1,data_block_size=4096,hash_block_size=4096",
		"root_hash: not 64 hex digits");
	refused("root_hash=,salt=-,data_blocks=1,data_block_size=4096,hash_block_size=4096",
		"root_hash: not 64 hex digits");
	refused("root_hash=" ROOT ",salt=abc,data_blocks=1,data_block_size=4096,hash_block_size=4096",
		"salt: not an even number of hex digits");
	refused("root_hash=" ROOT ",salt=zz,data_blocks=1,data_block_size=4096,hash_block_size=4096",
		"salt: not an even number of hex digits");
	snprintf(s, sizeof(s), "root_hash=" ROOT ",salt=%0514d,data_blocks=1,data_block_size=4096,hash_block_size=4096",
		 0);
	refused(s, "salt: longer than 256 bytes");
	refused("root_hash=" ROOT ",salt=-,data_blocks=0,data_block_size=4096,hash_block_size=4096",
		"data_blocks: 0 (must be at least 1)");
	refused("root_hash=" ROOT ",salt=-,data_blocks=-1,data_block_size=4096,hash_block_size=4096",
		"data_blocks: not a decimal number");
	refused("root_hash=" ROOT ",salt=-,data_blocks= 1,data_block_size=4096,hash_block_size=4096",
		"data_blocks: not a decimal number");
	refused("root_hash=" ROOT ",salt=-,data_blocks=,data_block_size=4096,hash_block_size=4096",
		"data_blocks: not a decimal number");
	refused("root_hash=" ROOT ",salt=-,data_blocks=18446744073709551616,data_block_size=4096,hash_block_size=4096",
		"data_blocks: out of range");
	refused("root_hash=" ROOT ",salt=-,data_blocks=4503599627370496,data_block_size=4096,hash_block_size=4096",
		"data_blocks: 4503599627370496 blocks of 4096 bytes overflow 64 bits");
	refused("root_hash=" ROOT ",salt=-,data_blocks=1,data_block_size=3,hash_block_size=4096",
		"data_block_size: 3 is not a power of two in 512..4096");
	refused("root_hash=" ROOT ",salt=-,data_blocks=1,data_block_size=8192,hash_block_size=4096",
		"data_block_size: 8192 is not a power of two in 512..4096");
	refused("root_hash=" ROOT ",salt=-,data_blocks=1,data_block_size=4096,hash_block_size=256",
		"hash_block_size: 256 is not a power of two in 512..4096");
	refused("root_hash=" ROOT ",salt=-,data_blocks=1,data_block_size=4096,hash_block_size=3072",
		"hash_block_size: 3072 is not a power of two in 512..4096");
	refused("root_hash=" ROOT ",salt=-,data_blocks=1,data_block_size=4096x,hash_block_size=4096",
		"data_block_size: not a decimal number");
	refused(GOOD ",", "empty item");
	refused("," GOOD, "empty item");
	refused(GOOD ",verity", "item 6 bytes long without '='");
	/* a value as long as a whole command line, bounded */
	memset(s, '1', sizeof(s) - 1);
	s[sizeof(s) - 1] = '\0';
	memcpy(s, "data_blocks=", 12);
	refused(s, "data_blocks: not a decimal number");
	memcpy(s, "root_hash=1", 11);
	refused(s, "root_hash: not 64 hex digits");
	memcpy(s, "salt=111111", 11);
	refused(s, "salt: longer than 256 bytes");
	/* NULL err and a tiny err buffer are fine */
	struct verity_params p;
	char tiny[4];
	assert_int_equal(verity_params_parse("x", 1, &p, NULL, 0), -EINVAL);
	assert_int_equal(verity_params_parse("x", 1, &p, tiny, sizeof(tiny)), -EINVAL);
	assert_string_equal(tiny, "ite");
}

static void test_table(void **state)
{
	struct verity_params p;
	char out[VERITY_TABLE_MAX], err[128];

	(void)state;
	assert_int_equal(parse(GOOD, &p, err, sizeof(err)), 0);
	/* what `veritysetup open --no-superblock` loads (dmsetup table shows it so) */
	static const char want[] = "0 8000 verity 1 254:1 254:2 4096 4096 1000 0 sha256 " ROOT " " SALT;
	assert_int_equal(verity_table(&p, makedev(254, 1), makedev(254, 2), out, sizeof(out)), strlen(want));
	assert_string_equal(out, want);

	assert_int_equal(parse("root_hash=" ROOT ",salt=-,data_blocks=3,data_block_size=512,hash_block_size=1024", &p,
			       err, sizeof(err)),
			 0);
	static const char want3[] = "0 3 verity 1 259:1048575 8:17 512 1024 3 0 sha256 " ROOT " -";
	assert_int_equal(verity_table(&p, makedev(259, 1048575), makedev(8, 17), out, sizeof(out)), strlen(want3));
	assert_string_equal(out, want3);

	/* the longest table fits VERITY_TABLE_MAX */
	char s[1024];
	snprintf(s, sizeof(s),
		 "root_hash=" ROOT ",salt=%0512d,data_blocks=4503599627370495,data_block_size=4096,hash_block_size=4096", 0);
	assert_int_equal(parse(s, &p, err, sizeof(err)), 0);
	assert_true(verity_table(&p, makedev(4095, 1048575), makedev(4095, 1048575), out, sizeof(out)) > 0);
	/* a short buffer is refused, not overrun */
	assert_int_equal(verity_table(&p, makedev(1, 2), makedev(1, 3), out, 40), -ENOBUFS);
	/* params that did not come from the parser */
	p.data_blocks = 0;
	assert_int_equal(verity_table(&p, makedev(1, 2), makedev(1, 3), out, sizeof(out)), -EINVAL);
	p.data_blocks = UINT64_MAX / 512;
	assert_int_equal(verity_table(&p, makedev(1, 2), makedev(1, 3), out, sizeof(out)), -EINVAL);
}

/* The hash tree veritysetup writes for blocks of dbs bytes, in bytes. */
static uint64_t veritysetup_hash_bytes(uint64_t blocks, unsigned dbs, unsigned hbs)
{
	char dir[] = "/tmp/verity-XXXXXX", cmd[512];
	struct stat st;

	assert_non_null(mkdtemp(dir));
	snprintf(cmd, sizeof(cmd),
		 "truncate -s %" PRIu64 " %s/d && veritysetup format --no-superblock --data-block-size=%u "
		 "--hash-block-size=%u --data-blocks=%" PRIu64 " %s/d %s/h >/dev/null",
		 blocks * dbs, dir, dbs, hbs, blocks, dir, dir);
	assert_int_equal(system(cmd), 0);
	snprintf(cmd, sizeof(cmd), "%s/h", dir);
	assert_int_equal(stat(cmd, &st), 0);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
	return (uint64_t)st.st_size;
}

static void test_sizes_vs_veritysetup(void **state)
{
	static const struct {
		uint64_t blocks;
		unsigned dbs, hbs;
	} cases[] = {
		{ 1, 4096, 4096 },    { 2, 4096, 4096 },   { 128, 4096, 4096 }, { 129, 4096, 4096 },
		{ 1000, 4096, 4096 }, { 16385, 4096, 4096 }, { 17, 512, 512 },  { 257, 512, 512 },
		{ 4097, 512, 512 },   { 300, 4096, 512 },  { 300, 512, 1024 }, { 70000, 1024, 2048 },
	};
	char err[256];

	(void)state;
	if (system("veritysetup --version >/dev/null 2>&1") != 0)
		fail_msg("veritysetup (cryptsetup-bin) is needed: scripts/deps installs it");
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct verity_params p = { .root_hash_len = 32, .data_blocks = cases[i].blocks,
					   .data_block_size = cases[i].dbs, .hash_block_size = cases[i].hbs };
		uint64_t data = cases[i].blocks * cases[i].dbs;
		uint64_t hash = veritysetup_hash_bytes(cases[i].blocks, cases[i].dbs, cases[i].hbs);

		print_message("%" PRIu64 " blocks of %u, hash blocks of %u: %" PRIu64 " hash bytes\n", cases[i].blocks,
			      cases[i].dbs, cases[i].hbs, hash);
		assert_int_equal(verity_check_sizes(&p, data, hash, err, sizeof(err)), 0);
		/* one block less of hash tree is too little */
		if (hash > 0) {
			assert_int_equal(verity_check_sizes(&p, data, hash - cases[i].hbs, err, sizeof(err)), -EINVAL);
			assert_non_null(strstr(err, "the hash tree needs"));
		}
		/* one byte less of data is too little */
		assert_int_equal(verity_check_sizes(&p, data - 1, hash, err, sizeof(err)), -EINVAL);
		assert_non_null(strstr(err, "do not fit in the"));
	}
}

static void test_sizes_text(void **state)
{
	struct verity_params p;
	char err[256];

	(void)state;
	assert_int_equal(parse(GOOD, &p, err, sizeof(err)), 0);
	assert_int_equal(verity_check_sizes(&p, 4096000, 36864, err, sizeof(err)), 0);
	assert_int_equal(verity_check_sizes(&p, 4095999, 1 << 20, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "data_blocks: 1000 blocks of 4096 bytes do not fit in the 4095999-byte data partition");
	assert_int_equal(verity_check_sizes(&p, 4096000, 32768, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "the hash tree needs 36864 bytes but the hash partition has 32768");
	/* the biggest data the parser lets through still gets a size, no overflow */
	p.data_blocks = UINT64_MAX / 4096;
	assert_int_equal(verity_check_sizes(&p, UINT64_MAX, UINT64_MAX, err, sizeof(err)), 0);
	assert_int_equal(verity_check_sizes(&p, UINT64_MAX, 4096, err, sizeof(err)), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_good),
		cmocka_unit_test(test_parse_refusals),
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_sizes_text),
		cmocka_unit_test(test_sizes_vs_veritysetup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
