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
#include <linux/dm-ioctl.h>
#include <sys/ioctl.h>

#include "cocoinit/sys.h"
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
	refused("root_hash=g58004b1ef02c8771a669769d9bc6d4b74f118489e193cd64b68c78dafb34a65,"
		"salt=-,data_blocks=1,data_block_size=4096,hash_block_size=4096",
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

/* What the wrapped ioctls saw: each call's request and a copy of its buffer. */
#define CALLS_MAX 8
static struct {
	unsigned long cmd;
	union {
		struct dm_ioctl io;
		uint8_t bytes[sizeof(struct dm_ioctl) + sizeof(struct dm_target_spec) + VERITY_TABLE_MAX];
	} buf;
} calls[CALLS_MAX];
static size_t n_calls;
static unsigned long fail_cmd; /* this request fails with fail_errno */
static int fail_errno;
static struct {
	char path[128];
	unsigned mode;
	unsigned long long dev;
} nodes[4];
static size_t n_nodes;
static int mknod_errno;
static char *root;
static int rootfd = -1;

int __wrap_sys_ioctl(int fd, unsigned long request, void *arg);
int __wrap_sys_mknodat(int dirfd, const char *path, unsigned int mode, unsigned long long dev);

int __wrap_sys_ioctl(int fd, unsigned long request, void *arg)
{
	struct dm_ioctl *io = arg;
	char link[64], target[512];
	ssize_t n;

	/* always on the control node, opened read-write */
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, target, sizeof(target) - 1);
	assert_true(n > 0);
	target[n] = '\0';
	assert_non_null(strstr(target, "/dev/mapper/control"));
	assert_int_equal(fcntl(fd, F_GETFL) & O_ACCMODE, O_RDWR);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	assert_true(n_calls < CALLS_MAX);
	assert_true(io->data_size >= sizeof(*io) && io->data_size <= sizeof(calls[0].buf));
	calls[n_calls].cmd = request;
	memcpy(calls[n_calls].buf.bytes, arg, io->data_size);
	n_calls++;
	if (request == fail_cmd)
		return -fail_errno;
	if (request == DM_DEV_CREATE || request == DM_DEV_SUSPEND)
		io->dev = makedev(253, 3); /* the kernel's reply */
	return 0;
}

int __wrap_sys_mknodat(int dirfd, const char *path, unsigned int mode, unsigned long long dev)
{
	int fd;

	assert_int_equal(dirfd, rootfd);
	if (mknod_errno)
		return -mknod_errno;
	/* a regular file stands in for the node */
	fd = openat(dirfd, path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	close(fd);
	assert_true(n_nodes < ARRAY_SIZE(nodes));
	snprintf(nodes[n_nodes].path, sizeof(nodes[0].path), "%s", path);
	nodes[n_nodes].mode = mode;
	nodes[n_nodes].dev = dev;
	n_nodes++;
	return 0;
}

static int dm_setup(void **state)
{
	(void)state;
	n_calls = n_nodes = 0;
	fail_cmd = 0;
	fail_errno = mknod_errno = 0;
	memset(calls, 0, sizeof(calls));
	root = tree_from_manifest("dir dev\n");
	if (!root)
		return -1;
	rootfd = tree_open(root);
	return rootfd < 0 ? -1 : 0;
}

static int dm_teardown(void **state)
{
	(void)state;
	close(rootfd);
	rootfd = -1;
	tree_clear(&root);
	return 0;
}

static bool exists(const char *path)
{
	struct stat st;

	return fstatat(rootfd, path, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

/* The checks every device-mapper request must pass in the kernel. */
static void assert_header(size_t i, unsigned long cmd, const char *name)
{
	const struct dm_ioctl *io = &calls[i].buf.io;

	assert_int_equal(calls[i].cmd, cmd);
	assert_int_equal(io->version[0], 4);
	assert_int_equal(io->version[1], 0);
	assert_int_equal(io->version[2], 0);
	assert_string_equal(io->name, name);
	assert_string_equal(io->uuid, "");
	assert_int_equal(io->data_start, sizeof(struct dm_ioctl));
	if (cmd != DM_TABLE_LOAD) {
		assert_int_equal(io->data_size, sizeof(struct dm_ioctl));
		assert_int_equal(io->flags, 0);
		assert_int_equal(io->target_count, 0);
	}
}

static void good_params(struct verity_params *p)
{
	char err[128];

	assert_int_equal(parse(GOOD, p, err, sizeof(err)), 0);
}

static void test_create(void **state)
{
	struct verity_params p;
	char err[256] = "";
	dev_t dev = 0;

	(void)state;
	good_params(&p);
	assert_int_equal(verity_create(rootfd, "extension-coco", &p, makedev(254, 1), makedev(254, 2), &dev, err,
				       sizeof(err)),
			 0);
	assert_string_equal(err, "");
	assert_int_equal(major(dev), 253);
	assert_int_equal(minor(dev), 3);
	/* no control node yet (dm_mod loaded after devtmpfs): made as misc 10:236 */
	assert_int_equal(n_nodes, 2);
	assert_string_equal(nodes[0].path, "dev/mapper/control");
	assert_int_equal(nodes[0].mode, S_IFCHR | 0600);
	assert_int_equal(nodes[0].dev, makedev(10, 236));
	assert_string_equal(nodes[1].path, "dev/mapper/extension-coco");
	assert_int_equal(nodes[1].mode, S_IFBLK | 0600);
	assert_int_equal(nodes[1].dev, makedev(253, 3));

	/* create, load read-only, resume; nothing else */
	assert_int_equal(n_calls, 3);
	assert_header(0, DM_DEV_CREATE, "extension-coco");
	assert_header(1, DM_TABLE_LOAD, "extension-coco");
	assert_header(2, DM_DEV_SUSPEND, "extension-coco");

	const struct dm_ioctl *io = &calls[1].buf.io;
	const struct dm_target_spec *spec = (const void *)(calls[1].buf.bytes + io->data_start);
	const char *params = (const char *)(spec + 1);
	static const char want[] = "1 254:1 254:2 4096 4096 1000 0 sha256 " ROOT " " SALT;
	assert_int_equal(io->flags, DM_READONLY_FLAG);
	assert_int_equal(io->target_count, 1);
	assert_int_equal(spec->sector_start, 0);
	assert_int_equal(spec->length, 8000);
	assert_int_equal(spec->status, 0);
	assert_string_equal(spec->target_type, "verity");
	assert_string_equal(params, want);
	/* the kernel's bounds: the params end, NUL included, inside data_size */
	assert_true(io->data_size >= io->data_start + sizeof(*spec) + sizeof(want));
	assert_int_equal(io->data_size % 8, 0);
	assert_int_equal(spec->next, io->data_size - io->data_start);
	/* the same table as verity_table() gives */
	char table[VERITY_TABLE_MAX], joined[VERITY_TABLE_MAX];
	assert_true(verity_table(&p, makedev(254, 1), makedev(254, 2), table, sizeof(table)) > 0);
	snprintf(joined, sizeof(joined), "%llu %llu %s %s", (unsigned long long)spec->sector_start,
		 (unsigned long long)spec->length, spec->target_type, params);
	assert_string_equal(joined, table);
	assert_true(exists("dev/mapper/extension-coco"));
}

/* Fails request cmd; the device must be removed again and no node left. */
static void create_fails_at(unsigned long cmd, int e, const char *want_err, bool removed)
{
	struct verity_params p;
	char err[256] = "";
	dev_t dev = 12345;

	good_params(&p);
	fail_cmd = cmd;
	fail_errno = e;
	assert_int_equal(verity_create(rootfd, "extension-coco", &p, makedev(254, 1), makedev(254, 2), &dev, err,
				       sizeof(err)),
			 -e);
	assert_string_equal(err, want_err);
	assert_int_equal(dev, 12345);
	if (removed) {
		assert_header(n_calls - 1, DM_DEV_REMOVE, "extension-coco");
	} else {
		for (size_t i = 0; i < n_calls; i++)
			assert_int_not_equal(calls[i].cmd, DM_DEV_REMOVE);
	}
	assert_false(exists("dev/mapper/extension-coco"));
}

static void test_create_fails(void **state)
{
	(void)state;
	/* a device of that name exists: not ours to remove */
	create_fails_at(DM_DEV_CREATE, EBUSY, "dm-verity extension-coco: DM_DEV_CREATE: Device or resource busy",
			false);
	assert_int_equal(n_calls, 1);
}

static void test_load_fails(void **state)
{
	(void)state;
	create_fails_at(DM_TABLE_LOAD, EINVAL,
			"dm-verity extension-coco: DM_TABLE_LOAD: Invalid argument (the kernel log says why)", true);
	assert_int_equal(n_calls, 3);
}

static void test_resume_fails(void **state)
{
	(void)state;
	create_fails_at(DM_DEV_SUSPEND, EIO, "dm-verity extension-coco: DM_DEV_SUSPEND: Input/output error", true);
	assert_int_equal(n_calls, 4);
}

static void test_node_fails(void **state)
{
	struct verity_params p;
	char err[256] = "";
	dev_t dev = 0;

	(void)state;
	good_params(&p);
	/* control exists; a directory where the node belongs */
	assert_int_equal(tree_apply(root, "file dev/mapper/control\ndir dev/mapper/extension-coco/x\n"), 0);
	assert_int_equal(verity_create(rootfd, "extension-coco", &p, makedev(254, 1), makedev(254, 2), &dev, err,
				       sizeof(err)),
			 -EISDIR);
	assert_string_equal(err, "dm-verity extension-coco: cannot make /dev/mapper/extension-coco: Is a directory");
	assert_int_equal(n_calls, 4);
	assert_header(3, DM_DEV_REMOVE, "extension-coco");
}

static void test_stale_node_replaced(void **state)
{
	struct verity_params p;
	char err[256] = "";
	dev_t dev = 0;

	(void)state;
	good_params(&p);
	assert_int_equal(tree_apply(root, "file dev/mapper/control\nfile dev/mapper/extension-coco stale\n"), 0);
	assert_int_equal(verity_create(rootfd, "extension-coco", &p, makedev(254, 1), makedev(254, 2), &dev, err,
				       sizeof(err)),
			 0);
	assert_int_equal(n_nodes, 1);
	assert_string_equal(nodes[0].path, "dev/mapper/extension-coco");
	struct stat st;
	assert_int_equal(fstatat(rootfd, "dev/mapper/extension-coco", &st, 0), 0);
	assert_int_equal(st.st_size, 0); /* the new one */
}

static void test_no_control(void **state)
{
	struct verity_params p;
	char err[256] = "";
	dev_t dev = 0;

	(void)state;
	good_params(&p);
	mknod_errno = EPERM;
	assert_int_equal(verity_create(rootfd, "extension-coco", &p, makedev(254, 1), makedev(254, 2), &dev, err,
				       sizeof(err)),
			 -EPERM);
	assert_string_equal(err, "device-mapper: cannot open /dev/mapper/control: Operation not permitted (is dm_mod "
				 "loaded?)");
	assert_int_equal(n_calls, 0);
}

static void test_refused_before_ioctl(void **state)
{
	struct verity_params p;
	char err[256] = "";
	dev_t dev = 0;

	(void)state;
	good_params(&p);
	assert_int_equal(verity_create(rootfd, "../x", &p, 1, 2, &dev, err, sizeof(err)), -EINVAL);
	assert_int_equal(verity_create(rootfd, "", &p, 1, 2, &dev, err, sizeof(err)), -EINVAL);
	assert_int_equal(verity_create(rootfd, "..", &p, 1, 2, &dev, err, sizeof(err)), -EINVAL);
	char long_name[200];
	memset(long_name, 'a', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	assert_int_equal(verity_create(rootfd, long_name, &p, 1, 2, &dev, err, sizeof(err)), -EINVAL);
	p.data_blocks = 0;
	assert_int_equal(verity_create(rootfd, "extension-coco", &p, 1, 2, &dev, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "dm-verity extension-coco: invalid verity params");
	assert_int_equal(n_calls, 0);
	assert_int_equal(n_nodes, 0);
}

static void test_remove(void **state)
{
	(void)state;
	assert_int_equal(tree_apply(root, "file dev/mapper/control\nfile dev/mapper/extension-coco\n"), 0);
	/* busy (still mounted): the device and its node stay */
	fail_cmd = DM_DEV_REMOVE;
	fail_errno = EBUSY;
	assert_int_equal(verity_remove(rootfd, "extension-coco"), -EBUSY);
	assert_true(exists("dev/mapper/extension-coco"));
	fail_cmd = 0;
	assert_int_equal(verity_remove(rootfd, "extension-coco"), 0);
	assert_int_equal(n_calls, 2);
	assert_header(1, DM_DEV_REMOVE, "extension-coco");
	assert_false(exists("dev/mapper/extension-coco"));
	/* gone already: -ENXIO, and a stale node goes too */
	assert_int_equal(tree_apply(root, "file dev/mapper/extension-coco\n"), 0);
	fail_cmd = DM_DEV_REMOVE;
	fail_errno = ENXIO;
	assert_int_equal(verity_remove(rootfd, "extension-coco"), -ENXIO);
	assert_false(exists("dev/mapper/extension-coco"));
	assert_int_equal(verity_remove(rootfd, "a/b"), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_good),
		cmocka_unit_test(test_parse_refusals),
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_sizes_text),
		cmocka_unit_test(test_sizes_vs_veritysetup),
		cmocka_unit_test_setup_teardown(test_create, dm_setup, dm_teardown),
		cmocka_unit_test_setup_teardown(test_create_fails, dm_setup, dm_teardown),
		cmocka_unit_test_setup_teardown(test_load_fails, dm_setup, dm_teardown),
		cmocka_unit_test_setup_teardown(test_resume_fails, dm_setup, dm_teardown),
		cmocka_unit_test_setup_teardown(test_node_fails, dm_setup, dm_teardown),
		cmocka_unit_test_setup_teardown(test_stale_node_replaced, dm_setup, dm_teardown),
		cmocka_unit_test_setup_teardown(test_no_control, dm_setup, dm_teardown),
		cmocka_unit_test_setup_teardown(test_refused_before_ioctl, dm_setup, dm_teardown),
		cmocka_unit_test_setup_teardown(test_remove, dm_setup, dm_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
