/* SPDX-License-Identifier: Apache-2.0 */
/* SHA-2 through libnettle and Kata's platform adjustment of a digest. The
 * hashing is nettle's; this file only names algorithms, streams a file and
 * formats. Nothing here allocates. */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <nettle/base64.h>
#include <nettle/sha2.h>

#include "cocoinit/digest.h"

static const char *const digest_names[] = {
	[DIGEST_SHA256] = "sha256",
	[DIGEST_SHA384] = "sha384",
	[DIGEST_SHA512] = "sha512",
};

int digest_alg_from_name(const char *name, size_t len, enum digest_alg *ret)
{
	for (size_t i = 0; i < sizeof(digest_names) / sizeof(digest_names[0]); i++)
		if (strlen(digest_names[i]) == len && memcmp(digest_names[i], name, len) == 0) {
			*ret = (enum digest_alg)i;
			return 0;
		}
	return -EINVAL;
}

const char *digest_alg_name(enum digest_alg alg)
{
	return digest_names[alg];
}

size_t digest_len(enum digest_alg alg)
{
	switch (alg) {
	case DIGEST_SHA256:
		return SHA256_DIGEST_SIZE;
	case DIGEST_SHA384:
		return SHA384_DIGEST_SIZE;
	case DIGEST_SHA512:
		return SHA512_DIGEST_SIZE;
	}
	return 0;
}

/* sha384 is sha512 with other initial values: one context type serves both. */
union digest_ctx {
	struct sha256_ctx s256;
	struct sha512_ctx s512;
};

static void digest_init(enum digest_alg alg, union digest_ctx *c)
{
	if (alg == DIGEST_SHA256)
		sha256_init(&c->s256);
	else if (alg == DIGEST_SHA384)
		sha384_init(&c->s512);
	else
		sha512_init(&c->s512);
}

static void digest_update(enum digest_alg alg, union digest_ctx *c, const void *data, size_t len)
{
	if (alg == DIGEST_SHA256)
		sha256_update(&c->s256, len, data);
	else
		sha512_update(&c->s512, len, data); /* sha384_update is this */
}

static void digest_final(enum digest_alg alg, union digest_ctx *c, uint8_t out[DIGEST_MAX])
{
	if (alg == DIGEST_SHA256)
		sha256_digest(&c->s256, SHA256_DIGEST_SIZE, out);
	else if (alg == DIGEST_SHA384)
		sha384_digest(&c->s512, SHA384_DIGEST_SIZE, out);
	else
		sha512_digest(&c->s512, SHA512_DIGEST_SIZE, out);
}

void digest_buf(enum digest_alg alg, const void *data, size_t len, uint8_t out[DIGEST_MAX])
{
	union digest_ctx c;

	digest_init(alg, &c);
	digest_update(alg, &c, data, len);
	digest_final(alg, &c, out);
}

int digest_fd(enum digest_alg alg, int fd, uint8_t out[DIGEST_MAX])
{
	union digest_ctx c;
	uint8_t buf[16384];

	digest_init(alg, &c);
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		digest_update(alg, &c, buf, (size_t)n);
	}
	digest_final(alg, &c, out);
	return 0;
}

void digest_adjust(const uint8_t *d, size_t dlen, uint8_t *out, size_t outlen)
{
	size_t n = dlen < outlen ? dlen : outlen;

	memcpy(out, d, n);
	memset(out + n, 0, outlen - n);
}

char *digest_hex(char *out, const uint8_t *d, size_t len)
{
	static const char hex[] = "0123456789abcdef";

	for (size_t i = 0; i < len; i++) {
		out[2 * i] = hex[d[i] >> 4];
		out[2 * i + 1] = hex[d[i] & 15];
	}
	out[2 * len] = '\0';
	return out;
}

char *digest_base64(char *out, const uint8_t *d, size_t len)
{
	base64_encode_raw(out, len, d);
	out[BASE64_ENCODE_RAW_LENGTH(len)] = '\0';
	return out;
}
