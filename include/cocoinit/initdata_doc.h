/* SPDX-License-Identifier: Apache-2.0 */
/* The initdata document as the Kata agent reads it: version "0.1.0",
 * algorithm sha256/sha384/sha512, [data] a table of strings; the digest of
 * the exact bytes; aa.toml, cdh.toml and policy.rego written from [data].
 * No other [data] key ever becomes a file name. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "cocoinit/digest.h"
#include "cocoinit/toml.h"

#define INITDATA_DOC_VERSION "0.1.0"
#define INITDATA_DOC_NFILES 3
/* "sha512:" and 128 hex digits */
#define INITDATA_DOC_DIGEST_STR_SIZE (7 + DIGEST_HEX_SIZE)

/* The names written from [data], in this order: aa.toml, cdh.toml, policy.rego. */
extern const char *const initdata_doc_files[INITDATA_DOC_NFILES];

struct initdata_doc {
	enum digest_alg alg;
	uint8_t digest[DIGEST_MAX]; /* over the document's exact bytes */
	size_t digest_len;
	struct toml_doc toml;                                /* owned; initdata_doc_free() */
	const struct toml_node *data;                        /* the [data] table */
	const struct toml_node *files[INITDATA_DOC_NFILES]; /* their string nodes, NULL when absent */
	unsigned ignored;                                    /* other [data] keys */
};

/* Parses and validates len bytes of TOML and digests them. Returns 0, or
 * -EINVAL / -ENOTSUP / -ENOMEM with the reason in err: "toml: line N: ..."
 * for a TOML fault, else naming the key ("version: line 1: \"0.2.0\" is not
 * \"0.1.0\"", "data.\"x\": line 4: not a string", "algorithm: missing").
 * doc is written only on success. */
int initdata_doc_parse(const char *text, size_t len, struct initdata_doc *doc, char *err, size_t errsz);

/* Reads fd (a regular file of at most max bytes) from its start and parses
 * it; name is how err names the file. 0 or -errno, reason in err. */
int initdata_doc_read_fd(int fd, const char *name, size_t max, struct initdata_doc *doc, char *err, size_t errsz);

/* Reads dirfd/initdata.toml (a regular file of at most max bytes, never
 * through a link) and parses it. 0 or -errno, reason in err. */
int initdata_doc_load(int dirfd, size_t max, struct initdata_doc *doc, char *err, size_t errsz);

/* Writes aa.toml, cdh.toml and policy.rego present in [data] to dirfd
 * (mode 0400, each atomically). 0 or -errno, reason in err. */
int initdata_doc_write_files(int dirfd, const struct initdata_doc *doc, char *err, size_t errsz);

/* "<algorithm>:<lowercase hex>" into out (INITDATA_DOC_DIGEST_STR_SIZE). Returns out. */
char *initdata_doc_digest_str(const struct initdata_doc *doc, char *out, size_t outsz);

void initdata_doc_free(struct initdata_doc *doc);
