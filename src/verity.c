/* SPDX-License-Identifier: Apache-2.0 */
/* dm-verity through the device-mapper ioctls: Kata's verity_params string,
 * the table `veritysetup open --no-superblock` loads, the hash tree's size,
 * and one read-only target. Every parameter is host input, checked before
 * any ioctl; no libdevmapper or libcryptsetup (Debian ships neither static). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/dm-ioctl.h>
#include <sys/ioctl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "cocoinit/digest.h"
#include "cocoinit/mounts.h"
#include "cocoinit/sys.h"
#include "cocoinit/util.h"
#include "cocoinit/verity.h"

#define VERITY_DIGEST_SHA256 32
#define VERITY_NUM_MAX 32 /* digits of one number, leading zeros included */

enum { KEY_ROOT, KEY_SALT, KEY_BLOCKS, KEY_DBS, KEY_HBS, KEY_N };
static const char *const verity_keys[KEY_N] = { "root_hash", "salt", "data_blocks", "data_block_size",
						"hash_block_size" };

/* Decodes exactly len hex digits (len even) into out. 0 or -EINVAL. */
static int hex_decode(const char *s, size_t len, uint8_t *out)
{
	for (size_t i = 0; i < len; i += 2) {
		int hi = util_hexval(s[i]), lo = util_hexval(s[i + 1]);
		if (hi < 0 || lo < 0)
			return -EINVAL;
		out[i / 2] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

static int parse_number(const char *key, const char *v, size_t len, uint64_t *ret, char *err, size_t errsz)
{
	char buf[VERITY_NUM_MAX + 1];
	int r;

	if (len == 0 || len > VERITY_NUM_MAX) {
		util_seterr(err, errsz, "%s: not a decimal number", key);
		return -EINVAL;
	}
	memcpy(buf, v, len);
	buf[len] = '\0';
	r = util_parse_u64(buf, ret);
	if (r < 0) {
		util_seterr(err, errsz, "%s: %s", key, r == -ERANGE ? "out of range" : "not a decimal number");
		return -EINVAL;
	}
	return 0;
}

static int parse_block_size(const char *key, const char *v, size_t len, uint32_t *ret, char *err, size_t errsz)
{
	uint64_t n;

	if (parse_number(key, v, len, &n, err, errsz) < 0)
		return -EINVAL;
	if (n < 512 || n > 4096 || (n & (n - 1)) != 0) {
		util_seterr(err, errsz, "%s: %" PRIu64 " is not a power of two in 512..4096", key, n);
		return -EINVAL;
	}
	*ret = (uint32_t)n;
	return 0;
}

int verity_params_parse(const char *s, size_t len, struct verity_params *ret, char *err, size_t errsz)
{
	struct verity_params p = { 0 };
	bool seen[KEY_N] = { false };
	uint64_t n;
	size_t i = 0;

	if (!s)
		len = 0;
	/* items end at ',' or the end; an empty string has none, a trailing ',' an empty one */
	for (bool more = len > 0; more;) {
		const char *item = s + i, *comma = memchr(item, ',', len - i), *eq, *v;
		size_t ilen = comma ? (size_t)(comma - item) : len - i, klen, vlen;
		int k;

		more = comma != NULL;
		i += ilen + (more ? 1 : 0);
		if (ilen == 0) {
			util_seterr(err, errsz, "empty item");
			return -EINVAL;
		}
		eq = memchr(item, '=', ilen);
		if (!eq) {
			util_seterr(err, errsz, "item %zu bytes long without '='", ilen);
			return -EINVAL;
		}
		klen = (size_t)(eq - item);
		v = eq + 1;
		vlen = ilen - klen - 1;
		for (k = 0; k < KEY_N; k++)
			if (strlen(verity_keys[k]) == klen && memcmp(verity_keys[k], item, klen) == 0)
				break;
		if (k == KEY_N)
			continue; /* unknown keys are ignored, as Kata does */
		if (seen[k]) {
			util_seterr(err, errsz, "%s: given twice", verity_keys[k]);
			return -EINVAL;
		}
		seen[k] = true;
		switch (k) {
		case KEY_ROOT:
			if (vlen != 2 * VERITY_DIGEST_SHA256 || hex_decode(v, vlen, p.root_hash) < 0) {
				util_seterr(err, errsz, "root_hash: not %d hex digits", 2 * VERITY_DIGEST_SHA256);
				return -EINVAL;
			}
			p.root_hash_len = VERITY_DIGEST_SHA256;
			break;
		case KEY_SALT:
			if (vlen == 0 || (vlen == 1 && v[0] == '-'))
				break;
			if (vlen > 2 * VERITY_SALT_MAX) {
				util_seterr(err, errsz, "salt: longer than %d bytes", VERITY_SALT_MAX);
				return -EINVAL;
			}
			if (vlen % 2 != 0 || hex_decode(v, vlen, p.salt) < 0) {
				util_seterr(err, errsz, "salt: not an even number of hex digits");
				return -EINVAL;
			}
			p.salt_len = vlen / 2;
			break;
		case KEY_BLOCKS:
			if (parse_number("data_blocks", v, vlen, &n, err, errsz) < 0)
				return -EINVAL;
			if (n == 0) {
				util_seterr(err, errsz, "data_blocks: 0 (must be at least 1)");
				return -EINVAL;
			}
			p.data_blocks = n;
			break;
		case KEY_DBS:
			if (parse_block_size("data_block_size", v, vlen, &p.data_block_size, err, errsz) < 0)
				return -EINVAL;
			break;
		case KEY_HBS:
			if (parse_block_size("hash_block_size", v, vlen, &p.hash_block_size, err, errsz) < 0)
				return -EINVAL;
			break;
		}
	}
	for (int k = 0; k < KEY_N; k++)
		if (!seen[k]) {
			util_seterr(err, errsz, "%s: missing", verity_keys[k]);
			return -EINVAL;
		}
	if (p.data_blocks > UINT64_MAX / p.data_block_size) {
		util_seterr(err, errsz, "data_blocks: %" PRIu64 " blocks of %" PRIu32 " bytes overflow 64 bits",
			    p.data_blocks, p.data_block_size);
		return -EINVAL;
	}
	*ret = p;
	return 0;
}

/* The verity target's parameters: the table line after "0 <sectors> verity ". */
static int verity_target_params(const struct verity_params *p, dev_t data, dev_t hash, char *out, size_t outsz)
{
	char root[2 * VERITY_DIGEST_MAX + 1], salt[2 * VERITY_SALT_MAX + 1];
	int n;

	if (p->data_block_size < 512 || p->data_block_size % 512 != 0 || p->data_blocks == 0 ||
	    p->data_blocks > UINT64_MAX / p->data_block_size || p->root_hash_len == 0 ||
	    p->root_hash_len > VERITY_DIGEST_MAX || p->salt_len > VERITY_SALT_MAX)
		return -EINVAL;
	digest_hex(root, p->root_hash, p->root_hash_len);
	if (p->salt_len > 0)
		digest_hex(salt, p->salt, p->salt_len);
	else
		strcpy(salt, "-");
	n = snprintf(out, outsz, "1 %u:%u %u:%u %" PRIu32 " %" PRIu32 " %" PRIu64 " 0 sha256 %s %s", major(data),
		     minor(data), major(hash), minor(hash), p->data_block_size, p->hash_block_size, p->data_blocks,
		     root, salt);
	if (n < 0 || (size_t)n >= outsz)
		return -ENOBUFS;
	return n;
}

static uint64_t verity_sectors(const struct verity_params *p)
{
	return p->data_blocks * (p->data_block_size / 512);
}

int verity_table(const struct verity_params *p, dev_t data, dev_t hash, char *out, size_t outsz)
{
	char params[VERITY_TABLE_MAX];
	int r, n;

	r = verity_target_params(p, data, hash, params, sizeof(params));
	if (r < 0)
		return r;
	n = snprintf(out, outsz, "0 %" PRIu64 " verity %s", verity_sectors(p), params);
	if (n < 0 || (size_t)n >= outsz)
		return -ENOBUFS;
	return n;
}

/* Blocks of the hash tree as veritysetup format lays it out with
 * --no-superblock and hash offset 0 (and as the kernel computes
 * hash_blocks): per level, hash_per_block = 2^floor(log2(hbs / digest size))
 * hashes a block; one level fewer than the blocks need for a single root.
 * -EINVAL when the sum overflows. */
static int hash_tree_blocks(uint64_t data_blocks, uint32_t hbs, size_t digest_size, uint64_t *ret)
{
	unsigned bits = 0, levels = 0;
	uint64_t total = 0;

	while ((hbs / digest_size) >> (bits + 1))
		bits++;
	if (bits == 0)
		return -EINVAL;
	while (bits * levels < 64 && (data_blocks - 1) >> (bits * levels))
		levels++;
	for (unsigned i = 0; i < levels; i++) {
		unsigned shift = (i + 1) * bits;
		/* blocks of level i: data_blocks / 2^shift rounded up */
		uint64_t s = 1;

		if (shift < 64)
			s = (data_blocks >> shift) + ((data_blocks & ((UINT64_C(1) << shift) - 1)) != 0);
		if (total + s < total)
			return -EINVAL;
		total += s;
	}
	*ret = total;
	return 0;
}

int verity_check_sizes(const struct verity_params *p, uint64_t data_bytes, uint64_t hash_bytes, char *err,
		       size_t errsz)
{
	uint64_t blocks;

	if (p->data_blocks == 0 || p->data_block_size == 0 || p->data_blocks > UINT64_MAX / p->data_block_size ||
	    p->root_hash_len == 0) {
		util_seterr(err, errsz, "invalid verity params");
		return -EINVAL;
	}
	if (p->data_blocks * p->data_block_size > data_bytes) {
		util_seterr(err, errsz,
			    "data_blocks: %" PRIu64 " blocks of %" PRIu32 " bytes do not fit in the %" PRIu64
			    "-byte data partition",
			    p->data_blocks, p->data_block_size, data_bytes);
		return -EINVAL;
	}
	if (hash_tree_blocks(p->data_blocks, p->hash_block_size, p->root_hash_len, &blocks) < 0 ||
	    blocks > UINT64_MAX / p->hash_block_size) {
		util_seterr(err, errsz, "data_blocks: the hash tree of %" PRIu64 " blocks is too large",
			    p->data_blocks);
		return -EINVAL;
	}
	if (blocks * p->hash_block_size > hash_bytes) {
		util_seterr(err, errsz,
			    "the hash tree needs %" PRIu64 " bytes but the hash partition has %" PRIu64,
			    blocks * p->hash_block_size, hash_bytes);
		return -EINVAL;
	}
	return 0;
}

#define DM_CONTROL "dev/mapper/control"
#define DM_CONTROL_MAJOR 10 /* misc */
#define DM_CONTROL_MINOR 236

/* One ioctl buffer: the header, then (for TABLE_LOAD) one target spec and
 * its parameters, each 8-byte aligned as the kernel expects. */
struct dm_buf {
	struct dm_ioctl io;
	struct dm_target_spec spec;
	char params[VERITY_TABLE_MAX];
} __attribute__((aligned(8)));

static const char *dm_cmd_name(unsigned long cmd)
{
	switch (cmd) {
	case DM_DEV_CREATE:
		return "DM_DEV_CREATE";
	case DM_TABLE_LOAD:
		return "DM_TABLE_LOAD";
	case DM_DEV_SUSPEND:
		return "DM_DEV_SUSPEND";
	case DM_DEV_REMOVE:
		return "DM_DEV_REMOVE";
	default:
		return "DM ioctl";
	}
}

static void dm_init(struct dm_buf *b, const char *name, size_t size)
{
	memset(b, 0, sizeof(*b));
	b->io.version[0] = DM_VERSION_MAJOR;
	b->io.version[1] = 0;
	b->io.version[2] = 0;
	b->io.data_size = (uint32_t)size;
	b->io.data_start = sizeof(struct dm_ioctl);
	util_strlcpy(b->io.name, name, sizeof(b->io.name));
}

/* A name device-mapper takes and dev/mapper/<name> can hold: one path
 * component, no leading dot. */
static bool dm_name_ok(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len >= DM_NAME_LEN || name[0] == '.' || strchr(name, '/'))
		return false;
	return true;
}

/* Opens dev/mapper/control read-write; makes the node (c 10:236) when
 * devtmpfs has not (dm_mod loaded before devtmpfs was mounted). */
static int dm_control_open(int rootfd)
{
	int fd = openat(rootfd, DM_CONTROL, O_RDWR | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW);
	int r;

	if (fd >= 0 || errno != ENOENT)
		return fd >= 0 ? fd : -errno;
	r = mounts_mkdir_p(rootfd, "dev/mapper", 0755);
	if (r < 0)
		return r;
	r = sys_mknodat(rootfd, DM_CONTROL, S_IFCHR | 0600, makedev(DM_CONTROL_MAJOR, DM_CONTROL_MINOR));
	if (r < 0 && r != -EEXIST)
		return r;
	fd = openat(rootfd, DM_CONTROL, O_RDWR | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW);
	return fd >= 0 ? fd : -errno;
}

static int dm_simple(int ctl, unsigned long cmd, const char *name, uint32_t flags, struct dm_ioctl *ret)
{
	struct dm_buf b;
	int r;

	dm_init(&b, name, sizeof(struct dm_ioctl));
	b.io.flags = flags;
	r = sys_ioctl(ctl, cmd, &b);
	if (r == 0 && ret)
		*ret = b.io;
	return r;
}

static int dm_table_load(int ctl, const char *name, uint64_t sectors, const char *params)
{
	struct dm_buf b;
	size_t plen = strlen(params), spec_size;

	if (plen >= sizeof(b.params))
		return -ENOBUFS;
	/* the spec and its NUL-terminated params, rounded up to 8 bytes */
	spec_size = (sizeof(struct dm_target_spec) + plen + 1 + 7) & ~(size_t)7;
	dm_init(&b, name, sizeof(struct dm_ioctl) + spec_size);
	b.io.target_count = 1;
	b.io.flags = DM_READONLY_FLAG;
	b.spec.sector_start = 0;
	b.spec.length = sectors;
	b.spec.next = (uint32_t)spec_size;
	util_strlcpy(b.spec.target_type, "verity", sizeof(b.spec.target_type));
	memcpy(b.params, params, plen + 1);
	return sys_ioctl(ctl, DM_TABLE_LOAD, &b);
}

/* dev/mapper/<name>, a block node 0600; a stale one (from a device of
 * that name removed earlier) is replaced. */
static int dm_make_node(int rootfd, const char *name, dev_t dev)
{
	char path[16 + DM_NAME_LEN];
	int r;

	snprintf(path, sizeof(path), "dev/mapper/%s", name);
	r = mounts_mkdir_p(rootfd, "dev/mapper", 0755);
	if (r < 0)
		return r;
	r = sys_mknodat(rootfd, path, S_IFBLK | 0600, dev);
	if (r == -EEXIST) {
		if (unlinkat(rootfd, path, 0) < 0)
			return -errno;
		r = sys_mknodat(rootfd, path, S_IFBLK | 0600, dev);
	}
	return r;
}

int verity_create(int rootfd, const char *name, const struct verity_params *p, dev_t data, dev_t hash,
		  dev_t *ret_dev, char *err, size_t errsz)
{
	char params[VERITY_TABLE_MAX];
	_cleanup_close_ int ctl = -1;
	struct dm_ioctl reply;
	unsigned long failed;
	dev_t dev;
	int r;

	if (!dm_name_ok(name)) {
		util_seterr(err, errsz, "device-mapper: invalid device name");
		return -EINVAL;
	}
	r = verity_target_params(p, data, hash, params, sizeof(params));
	if (r < 0) {
		util_seterr(err, errsz, "dm-verity %s: invalid verity params", name);
		return r;
	}
	ctl = dm_control_open(rootfd);
	if (ctl < 0) {
		util_seterr(err, errsz, "device-mapper: cannot open /" DM_CONTROL ": %s (is dm_mod loaded?)",
			    strerror(-ctl));
		return ctl;
	}
	r = dm_simple(ctl, DM_DEV_CREATE, name, 0, &reply);
	if (r < 0) {
		util_seterr(err, errsz, "dm-verity %s: DM_DEV_CREATE: %s", name, strerror(-r));
		return r;
	}
	dev = (dev_t)reply.dev;
	failed = DM_TABLE_LOAD;
	r = dm_table_load(ctl, name, verity_sectors(p), params);
	if (r == 0) {
		failed = DM_DEV_SUSPEND;
		r = dm_simple(ctl, DM_DEV_SUSPEND, name, 0, &reply); /* no DM_SUSPEND_FLAG: resume */
	}
	if (r == 0) {
		dev = (dev_t)reply.dev;
		failed = 0;
		r = dm_make_node(rootfd, name, dev);
	}
	if (r < 0) {
		if (failed)
			util_seterr(err, errsz, "dm-verity %s: %s: %s%s", name, dm_cmd_name(failed), strerror(-r),
				    failed == DM_TABLE_LOAD ? " (the kernel log says why)" : "");
		else
			util_seterr(err, errsz, "dm-verity %s: cannot make /dev/mapper/%s: %s", name, name,
				    strerror(-r));
		(void)dm_simple(ctl, DM_DEV_REMOVE, name, 0, NULL);
		return r;
	}
	*ret_dev = dev;
	return 0;
}

int verity_remove(int rootfd, const char *name)
{
	char path[16 + DM_NAME_LEN];
	_cleanup_close_ int ctl = -1;
	int r;

	if (!dm_name_ok(name))
		return -EINVAL;
	ctl = dm_control_open(rootfd);
	if (ctl < 0)
		return ctl;
	r = dm_simple(ctl, DM_DEV_REMOVE, name, 0, NULL);
	if (r < 0 && r != -ENXIO)
		return r; /* busy: the node stays with the device */
	snprintf(path, sizeof(path), "dev/mapper/%s", name);
	if (unlinkat(rootfd, path, 0) < 0 && errno != ENOENT && r == 0)
		return -errno;
	return r;
}
