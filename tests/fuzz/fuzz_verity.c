/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target: Kata's verity_params over arbitrary command-line bytes,
 * then the table and the size check for what it accepts. Beyond "no crash",
 * it checks what verity_create relies on: accepted params are in range, the
 * table fits VERITY_TABLE_MAX and reads back as the params, and a refusal
 * always says why. */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>

#include "cocoinit/verity.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool pow2_in_range(uint32_t n)
{
	return n >= 512 && n <= 4096 && (n & (n - 1)) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct verity_params p;
	char err[256], table[VERITY_TABLE_MAX], want[64];
	int r, n;

	memset(&p, 0xa5, sizeof(p));
	err[0] = '\0';
	r = verity_params_parse((const char *)data, size, &p, err, sizeof(err));
	if (r != 0) {
		if (r != -EINVAL || err[0] == '\0' || !memchr(err, '\0', sizeof(err)))
			abort();
		return 0;
	}
	if (p.root_hash_len != 32 || p.salt_len > VERITY_SALT_MAX || p.data_blocks == 0 ||
	    !pow2_in_range(p.data_block_size) || !pow2_in_range(p.hash_block_size) ||
	    p.data_blocks > UINT64_MAX / p.data_block_size)
		abort();
	n = verity_table(&p, makedev(4095, 1048575), makedev(259, 0), table, sizeof(table));
	if (n <= 0 || (size_t)n >= sizeof(table) || strlen(table) != (size_t)n)
		abort();
	snprintf(want, sizeof(want), "0 %" PRIu64 " verity 1 4095:1048575 259:0 ",
		 p.data_blocks * (p.data_block_size / 512));
	if (strncmp(table, want, strlen(want)) != 0)
		abort();
	/* the data blocks always fit in exactly their own size */
	r = verity_check_sizes(&p, p.data_blocks * p.data_block_size, UINT64_MAX, err, sizeof(err));
	if (r != 0 && r != -EINVAL)
		abort();
	if (r == 0 &&
	    verity_check_sizes(&p, p.data_blocks * p.data_block_size - 1, UINT64_MAX, err, sizeof(err)) == 0)
		abort();
	return 0;
}
