/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target: the raw format's header check and the bounded gunzip
 * with a small bound (max_bytes 4096, so a 16 KiB output cap). The input is
 * the disk: header and payload, or a bare gzip stream. Nothing may be
 * returned, or allocated, beyond the cap. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cocoinit/initdata.h"

#define FUZZ_MAX_BYTES 4096
#define FUZZ_CAP (4 * FUZZ_MAX_BYTES)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void gunzip_checked(const uint8_t *in, size_t len)
{
	uint8_t *out = NULL;
	size_t outlen = 0;
	int r = initdata_gunzip(in, len, FUZZ_CAP, &out, &outlen);

	if (r == 0) {
		if (!out || outlen > FUZZ_CAP)
			abort();
		if (outlen > 0)
			(void)*(volatile uint8_t *)&out[outlen - 1];
		free(out);
	} else if (out) {
		abort(); /* ret_* written on failure */
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t len = 0;
	uint8_t *copy = malloc(size ? size : 1);

	if (!copy)
		return 0;
	memcpy(copy, data, size);
	if (initdata_parse_header(copy, size, size, FUZZ_MAX_BYTES, &len) == 0) {
		if (len == 0 || len > FUZZ_MAX_BYTES || len > size - INITDATA_HEADER_SIZE)
			abort();
		gunzip_checked(copy + INITDATA_HEADER_SIZE, (size_t)len);
	}
	gunzip_checked(copy, size);
	free(copy);
	return 0;
}
