/* SPDX-License-Identifier: Apache-2.0 */
/* Kata's raw initdata format: "initdata", u64 LE length L, L bytes of gzip
 * holding the TOML. Every bound is checked before anything is allocated. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define INITDATA_MAGIC "initdata"
#define INITDATA_HEADER_SIZE 16
#define INITDATA_DEFAULT_MAX_BYTES (1024 * 1024)
#define INITDATA_FILE "initdata.toml"

/* Checks the 16-byte header against the device size and the bound.
 * Returns 0 with *ret_len, or -EBADMSG (no magic), -EINVAL (L == 0),
 * -ERANGE (L beyond the device or above max_bytes). */
int initdata_parse_header(const uint8_t *hdr, size_t n, uint64_t device_size, uint64_t max_bytes,
			  uint64_t *ret_len);

/* Decompresses one gzip member of exactly len bytes with output capped at
 * cap bytes. Returns 0 with a malloc'd *ret_out and *ret_outlen, -EFBIG past
 * the cap, -EBADMSG for a corrupt/truncated stream or trailing junk. */
int initdata_gunzip(const uint8_t *in, size_t len, size_t cap, uint8_t **ret_out, size_t *ret_outlen);

/* Writes dirfd/name (mode 0400) atomically: an exclusively created temporary
 * name, then rename. Never follows a link. 0 or -errno. */
int initdata_write_file(int dirfd, const char *name, const void *data, size_t len);

/* Writes dirfd/initdata.toml: mode 0400, through a fresh temporary name and
 * rename, so no reader sees half a file. 0 or -errno. */
int initdata_write_toml(int dirfd, const uint8_t *data, size_t len);

/* Reads the raw format from devfd and writes dirfd/initdata.toml (mode 0400,
 * via a temporary name and rename). Returns 0 or -errno; *ret_size gets the
 * TOML size and, unless ret_toml is NULL, *ret_toml its bytes (the caller
 * frees them), so that nobody reads back what was just written. A reason
 * for the log is written to err. */
int initdata_extract_fd(int devfd, int dirfd, uint64_t max_bytes, size_t *ret_size, uint8_t **ret_toml, char *err,
			size_t errsz);
