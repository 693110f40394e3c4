/* SPDX-License-Identifier: Apache-2.0 */
/* SHA-2 through libnettle (no hand-written hash), and the adjustment of a
 * digest to a TEE's launch-value length that Kata's runtime applies
 * (truncate when longer, zero-pad when shorter). No allocation. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum digest_alg { DIGEST_SHA256, DIGEST_SHA384, DIGEST_SHA512 };

#define DIGEST_MAX 64 /* bytes of the longest digest (sha512) */
#define DIGEST_HEX_SIZE (DIGEST_MAX * 2 + 1)

/* "sha256", "sha384", "sha512" (exactly, len bytes) -> alg. 0 or -EINVAL. */
int digest_alg_from_name(const char *name, size_t len, enum digest_alg *ret);
const char *digest_alg_name(enum digest_alg alg);
size_t digest_len(enum digest_alg alg);

/* out receives digest_len(alg) bytes. */
void digest_buf(enum digest_alg alg, const void *data, size_t len, uint8_t out[DIGEST_MAX]);

/* Hashes fd from its current position to end of file. 0 or -errno. */
int digest_fd(enum digest_alg alg, int fd, uint8_t out[DIGEST_MAX]);

/* Kata's platform adjustment: out[0..outlen) = d truncated, or d followed by zeros. */
void digest_adjust(const uint8_t *d, size_t dlen, uint8_t *out, size_t outlen);

/* Padded base64 (RFC 4648) of len bytes into out (4 * ((len + 2) / 3) + 1 bytes). Returns out. */
#define BASE64_SIZE(len) (4 * (((len) + 2) / 3) + 1)
char *digest_base64(char *out, const uint8_t *d, size_t len);

/* Lowercase hex of len bytes into out (2*len+1 bytes). Returns out. */
char *digest_hex(char *out, const uint8_t *d, size_t len);
