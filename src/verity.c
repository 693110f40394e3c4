/* SPDX-License-Identifier: Apache-2.0 */
/* dm-verity through the device-mapper ioctls: Kata's verity_params string,
 * the table `veritysetup open --no-superblock` loads, the hash tree's size,
 * and one read-only target. Every parameter is host input, checked before
 * any ioctl; no libdevmapper or libcryptsetup (Debian ships neither static). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/dm-ioctl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "cocoinit/digest.h"
#include "cocoinit/sys.h"
#include "cocoinit/util.h"
#include "cocoinit/verity.h"

#define VERITY_DIGEST_SHA256 32
#define VERITY_NUM_MAX 32 /* digits of one number, leading zeros included */

enum { KEY_ROOT, KEY_SALT, KEY_BLOCKS, KEY_DBS, KEY_HBS, KEY_N };
static const char *const verity_keys[KEY_N] = { "root_hash", "salt", "data_blocks", "data_block_size",
						"hash_block_size" };

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes exactly len hex digits (len even) into out. 0 or -EINVAL. */
static int hex_decode(const char *s, size_t len, uint8_t *out)
{
	for (size_t i = 0; i < len; i += 2) {
		int hi = hexval(s[i]), lo = hexval(s[i + 1]);
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

int verity_table(const struct verity_params *p, dev_t data, dev_t hash, char *out, size_t outsz)
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
	n = snprintf(out, outsz, "0 %" PRIu64 " verity 1 %u:%u %u:%u %" PRIu32 " %" PRIu32 " %" PRIu64 " 0 sha256 %s %s",
		     p->data_blocks * (p->data_block_size / 512), major(data), minor(data), major(hash), minor(hash),
		     p->data_block_size, p->hash_block_size, p->data_blocks, root, salt);
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
		uint64_t s = shift >= 64 ? 1 : (data_blocks >> shift) + ((data_blocks & ((UINT64_C(1) << shift) - 1)) != 0);
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
		util_seterr(err, errsz, "data_blocks: the hash tree of %" PRIu64 " blocks is too large", p->data_blocks);
		return -EINVAL;
	}
	if (blocks * p->hash_block_size > hash_bytes) {
		util_seterr(err, errsz,
			    "the hash tree needs %" PRIu64 " bytes but the hash partition has %" PRIu64, blocks * p->hash_block_size,
			    hash_bytes);
		return -EINVAL;
	}
	return 0;
}
