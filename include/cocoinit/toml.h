/* SPDX-License-Identifier: Apache-2.0 */
/* A bounded TOML reader for initdata documents (TOML 1.0): comments, bare,
 * quoted and dotted keys, [tables], the four string forms. Integers,
 * booleans, arrays and inline tables are validated and kept as opaque
 * values (inline tables as tables); floats, dates and times and arrays of
 * tables ([[x]]) are refused as unsupported. No recursion on input depth;
 * all memory comes from one arena sized from the document's length. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* Tables, arrays and inline tables nest at most this deep, and a key has at
 * most this many dotted parts: deeper is refused as unsupported. */
#define TOML_NEST_MAX 128
#define TOML_STR_(x) #x
#define TOML_STR(x) TOML_STR_(x)

/* The arena never exceeds this for a document of len bytes (the worst case
 * is fresh one-letter dotted key parts, one table node per two bytes). */
#define TOML_ARENA_BOUND(len) (56 * (size_t)(len) + 128 * 1024)

enum toml_type {
	TOML_TABLE,   /* a [table], a dotted-key table or an inline table */
	TOML_STRING,  /* any of the four string forms, decoded */
	TOML_INTEGER, /* validated, not kept */
	TOML_BOOLEAN, /* validated, not kept */
	TOML_ARRAY,   /* validated, not kept */
};

struct toml_node {
	enum toml_type type;
	const char *key; /* decoded key, NUL-terminated; may hold a NUL from \u0000: use key_len */
	size_t key_len;
	const char *str; /* TOML_STRING: decoded value, NUL-terminated; \u0000 may put a NUL inside: use str_len */
	size_t str_len;
	struct toml_node *child; /* TOML_TABLE: first member, in document order */
	struct toml_node *next;  /* next member of the same table */
	unsigned line;           /* line of the key (1-based) */
};

struct toml_doc {
	struct toml_node *root; /* the top-level table */
	void *arena;            /* owned; freed by toml_free() */
	size_t arena_bytes;     /* what the arena holds, for the bound above */
};

#define TOML_ERR_MAX 256

/* Parses len bytes of text. On success fills doc and returns 0. On any
 * fault returns -EINVAL (invalid TOML) or -ENOTSUP (valid TOML outside the
 * subset) and writes "line N: <what>" to err; -ENOMEM when the arena cannot
 * be allocated. doc is written only on success. */
int toml_parse(const char *text, size_t len, struct toml_doc *doc, char *err, size_t errsz);

void toml_free(struct toml_doc *doc);

/* The member of table named key (len bytes), or NULL. */
const struct toml_node *toml_get(const struct toml_node *table, const char *key, size_t key_len);

/* Writes table as one JSON object: keys in document order, tables as
 * objects, strings as strings (UTF-8 as is, escaped by state_json_utf8()), other values
 * left out. 0 or -errno. */
int toml_write_json(const struct toml_node *table, FILE *f);

/* One JSON string of len bytes of UTF-8 text (a decoded key or value). 0 or -errno. */
int toml_write_json_string(FILE *f, const char *s, size_t len);
