/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target: the TOML reader. No crash, leak or hang; parsing twice
 * gives the same tree; every key and string is valid UTF-8, NUL-terminated
 * at its length, and free of control characters other than tab and newline
 * unless the input has a backslash; the arena stays inside its bound; an
 * error names a line. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cocoinit/toml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool utf8_ok(const unsigned char *s, size_t n, bool escapes)
{
	for (size_t i = 0; i < n;) {
		unsigned char c = s[i];
		size_t len = c < 0x80 ? 1 : c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 :
			     c >= 0xf0 && c <= 0xf4 ? 4 : 0;
		uint32_t cp;

		if (!len || i + len > n)
			return false;
		if (c < 0x80 && !escapes && ((c < 0x20 && c != '\t' && c != '\n') || c == 0x7f))
			return false;
		cp = len == 1 ? c : (uint32_t)(c & (0x7f >> len));
		for (size_t k = 1; k < len; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += len;
	}
	return true;
}

static void check_node(const struct toml_node *n, bool escapes)
{
	if (!n->key || n->key[n->key_len] != '\0' || !utf8_ok((const unsigned char *)n->key, n->key_len, escapes))
		abort();
	if (n->type == TOML_STRING &&
	    (!n->str || n->str[n->str_len] != '\0' || !utf8_ok((const unsigned char *)n->str, n->str_len, escapes)))
		abort();
	if (n->type != TOML_TABLE && n->child)
		abort();
}

static bool same_node(const struct toml_node *a, const struct toml_node *b)
{
	if (a->type != b->type || a->key_len != b->key_len || memcmp(a->key, b->key, a->key_len) || a->line != b->line)
		return false;
	if (a->type == TOML_STRING && (a->str_len != b->str_len || memcmp(a->str, b->str, a->str_len)))
		return false;
	return true;
}

/* Walks both trees together, without recursion: they nest at most TOML_NEST_MAX deep. */
static void compare_trees(const struct toml_node *a, const struct toml_node *b, bool escapes)
{
	const struct toml_node *sa[TOML_NEST_MAX + 2], *sb[TOML_NEST_MAX + 2];
	unsigned depth = 0;

	a = a->child;
	b = b->child;
	for (;;) {
		if (!a || !b) {
			if (a || b)
				abort();
			if (depth == 0)
				return;
			depth--;
			a = sa[depth]->next;
			b = sb[depth]->next;
			continue;
		}
		check_node(a, escapes);
		if (!same_node(a, b))
			abort();
		if (a->type == TOML_TABLE) {
			if (depth > TOML_NEST_MAX)
				abort();
			sa[depth] = a;
			sb[depth] = b;
			depth++;
			a = a->child;
			b = b->child;
		} else {
			a = a->next;
			b = b->next;
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct toml_doc d1 = { 0 }, d2 = { 0 };
	char err1[TOML_ERR_MAX] = "", err2[TOML_ERR_MAX] = "";
	bool escapes = memchr(data, '\\', size) != NULL;
	/* A copy of exactly size bytes: any read past the end is caught. */
	char *text = malloc(size ? size : 1);
	int r1, r2;

	if (!text)
		return 0;
	memcpy(text, data, size);
	r1 = toml_parse(text, size, &d1, err1, sizeof(err1));
	r2 = toml_parse(text, size, &d2, err2, sizeof(err2));
	if (r1 != r2)
		abort();
	if (r1 < 0) {
		if ((r1 != -EINVAL && r1 != -ENOTSUP) || strncmp(err1, "line ", 5) || strcmp(err1, err2) || d1.root)
			abort();
	} else {
		if (d1.arena_bytes > TOML_ARENA_BOUND(size) || d1.root->type != TOML_TABLE)
			abort();
		compare_trees(d1.root, d2.root, escapes);
		FILE *f = fopen("/dev/null", "w");
		if (f) {
			if (toml_write_json(d1.root, f) < 0)
				abort();
			fclose(f);
		}
		toml_free(&d1);
		toml_free(&d2);
	}
	free(text);
	return 0;
}
