/* SPDX-License-Identifier: Apache-2.0 */
/* Consuming the found disk: probe it, then extract the raw format onto a
 * fresh tmpfs or mount the filesystem read-only at the initdata directory. */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct consume_result {
	char format[32]; /* "kata-raw" or the fs type */
	size_t toml_size;
};

/* Returns 0 or -errno with the reason in err ("unsupported initdata format X",
 * "initdata length 123456789 is beyond the device", ...). */
int consume_initdata(const char *devnode, const char *dir, uint64_t max_bytes, struct consume_result *ret,
		     char *err, size_t errsz);
