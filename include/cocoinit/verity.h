/* SPDX-License-Identifier: Apache-2.0 */
/* dm-verity without veritysetup: Kata's verity_params string, the table
 * `veritysetup open --no-superblock` loads, and one read-only target made
 * with the device-mapper ioctls (linux/dm-ioctl.h). No libdevmapper, no
 * libcryptsetup. Every parameter is host input and checked before any ioctl. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define VERITY_DIGEST_MAX 64 /* bytes of the longest root hash */
#define VERITY_SALT_MAX 256  /* bytes (dm-verity's own limit) */
/* "0 <sectors> verity 1 <maj:min> <maj:min> <dbs> <hbs> <blocks> 0 sha256 <root hex> <salt hex>" */
#define VERITY_TABLE_MAX 1024

struct verity_params {
	uint8_t root_hash[VERITY_DIGEST_MAX];
	size_t root_hash_len;
	uint8_t salt[VERITY_SALT_MAX];
	size_t salt_len; /* 0: "-" */
	uint64_t data_blocks;
	uint32_t data_block_size; /* power of two, 512..4096 */
	uint32_t hash_block_size; /* power of two, 512..4096 */
};

/* Parses `root_hash=<hex>,salt=<hex>,data_blocks=<n>,data_block_size=<n>,
 * hash_block_size=<n>` (len bytes): all five required, unknown keys ignored,
 * a duplicate key an error. The hash algorithm is sha256 (what Kata's image
 * builder uses): root_hash must be 64 hex digits. 0 or -EINVAL with
 * "<key>: <why>" in err. ret is written only on success. */
int verity_params_parse(const char *s, size_t len, struct verity_params *ret, char *err, size_t errsz);

/* The table line for data and hash devices, as veritysetup builds it.
 * Returns its length or -EINVAL (data_blocks*data_block_size overflows or
 * is not a whole number of sectors). */
int verity_table(const struct verity_params *p, dev_t data, dev_t hash, char *out, size_t outsz);

/* Checks p against the devices' sizes in bytes: data_blocks fit in the
 * data device, the hash device holds the whole hash tree. 0 or -EINVAL. */
int verity_check_sizes(const struct verity_params *p, uint64_t data_bytes, uint64_t hash_bytes, char *err,
		       size_t errsz);

/* Creates the read-only dm-verity device `name` (DEV_CREATE, TABLE_LOAD with
 * DM_READONLY_FLAG, DEV_SUSPEND to resume) through rootfd/dev/mapper/control
 * and makes the node rootfd/dev/mapper/<name>. On success writes its dev_t.
 * On failure nothing is left behind (the device is removed). 0 or -errno. */
int verity_create(int rootfd, const char *name, const struct verity_params *p, dev_t data, dev_t hash,
		  dev_t *ret_dev, char *err, size_t errsz);

/* Removes the device and its node; -ENXIO when there is none. */
int verity_remove(int rootfd, const char *name);
