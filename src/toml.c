/* SPDX-License-Identifier: Apache-2.0 */
/* The bounded TOML reader: one pass over the bytes, no recursion (values
 * nest on a fixed stack of TOML_NEST_MAX frames), every allocation from a
 * chunked arena whose total is bounded by the document's length. Floats,
 * dates, times and arrays of tables are refused as unsupported; it must never
 * accept a document that TOML 1.0 (and Python's tomllib) refuses. */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>

#include "cocoinit/state.h"
#include "cocoinit/toml.h"
#include "cocoinit/util.h"

#define TOML_CHUNK (64u * 1024)

/* Table flags: HEADER is a table a [header] defined; FROZEN an inline table
 * (nothing may be added to it, or below it, from outside). */
#define TF_HEADER 1u
#define TF_FROZEN 2u

struct tnode {
	struct toml_node n;
	struct tnode *hnext; /* hash chain: (parent, key) */
	struct tnode *last;  /* TOML_TABLE: last member, for appending in order */
	struct tnode *parent;
	uint32_t section; /* created or extended by a dotted key in this section (0: never) */
	uint16_t depth;
	uint8_t flags;
};

struct chunk {
	struct chunk *next;
	size_t size, used;
	max_align_t data[];
};

struct arena {
	struct chunk *head;
	size_t total; /* bytes malloc'ed for chunks, headers included */
};

struct frame {
	char kind;           /* '[' or '{' */
	struct tnode *table; /* '{': the inline table */
};

struct parser {
	const char *s;
	size_t len, pos;
	unsigned line;
	struct arena *arena;
	struct tnode *root;
	struct tnode **buckets;
	size_t nbuckets, count;
	uint64_t seed;
	uint32_t section;
	char *err;
	size_t errsz;
	struct frame stack[TOML_NEST_MAX];
	unsigned depth;
};

/* ---- arena ---- */

static void *arena_alloc(struct arena *a, size_t size)
{
	struct chunk *c = a->head;

	size = (size + 7) & ~(size_t)7;
	if (!c || c->size - c->used < size) {
		size_t csize = size > TOML_CHUNK ? size : TOML_CHUNK;
		c = malloc(sizeof(*c) + csize);
		if (!c)
			return NULL;
		c->size = csize;
		c->used = 0;
		c->next = a->head;
		a->head = c;
		a->total += sizeof(*c) + csize;
	}
	void *p = (char *)c->data + c->used;
	c->used += size;
	return p;
}

static void arena_free(struct arena *a)
{
	struct chunk *c = a->head;

	while (c) {
		struct chunk *next = c->next;
		free(c);
		c = next;
	}
	free(a);
}

/* ---- errors ---- */

static int perr(struct parser *p, int code, unsigned line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int perr(struct parser *p, int code, unsigned line, const char *fmt, ...)
{
	char what[TOML_ERR_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	util_seterr(p->err, p->errsz, "line %u: %s", line, what);
	return code;
}

#define EINVALID(p, ...) perr(p, -EINVAL, (p)->line, __VA_ARGS__)
#define EUNSUPP(p, what) perr(p, -ENOTSUP, (p)->line, "%s are not supported", what)

/* ---- bytes ---- */

static int peek(const struct parser *p, size_t off)
{
	return p->pos + off < p->len ? (unsigned char)p->s[p->pos + off] : -1;
}

static bool is_bare(int c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

static void skip_ws(struct parser *p)
{
	while (p->pos < p->len && (p->s[p->pos] == ' ' || p->s[p->pos] == '\t'))
		p->pos++;
}

/* Length of the UTF-8 sequence at s[0..n) (1-4), or 0 when it is not valid
 * UTF-8: overlong forms, surrogates and code points above U+10FFFF included. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		return n >= 2 && (s[1] & 0xc0) == 0x80 ? 2 : 0;
	if (c >= 0xe0 && c <= 0xef) {
		if (n < 3 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80)
			return 0;
		if ((c == 0xe0 && s[1] < 0xa0) || (c == 0xed && s[1] >= 0xa0))
			return 0;
		return 3;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		if (n < 4 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 || (s[3] & 0xc0) != 0x80)
			return 0;
		if ((c == 0xf0 && s[1] < 0x90) || (c == 0xf4 && s[1] >= 0x90))
			return 0;
		return 4;
	}
	return 0;
}

/* One character of a comment or string body (not a newline): a tab, a
 * printable ASCII byte or a valid UTF-8 sequence. Its length, or an error. */
static int text_char(struct parser *p, const char *where)
{
	unsigned char c = (unsigned char)p->s[p->pos];

	if (c == '\t' || (c >= 0x20 && c < 0x7f))
		return 1;
	if (c < 0x80) {
		if (c == '\r')
			return EINVALID(p, "carriage return without a line feed in %s", where);
		return EINVALID(p, "control character 0x%02x in %s", c, where);
	}
	size_t n = utf8_len((const unsigned char *)p->s + p->pos, p->len - p->pos);
	if (!n)
		return EINVALID(p, "invalid UTF-8 in %s", where);
	return (int)n;
}

/* A newline at pos: "\n" or "\r\n". Its length or 0. */
static size_t newline_len(const struct parser *p)
{
	if (peek(p, 0) == '\n')
		return 1;
	if (peek(p, 0) == '\r' && peek(p, 1) == '\n')
		return 2;
	return 0;
}

static int skip_comment(struct parser *p)
{
	p->pos++; /* '#' */
	while (p->pos < p->len && !newline_len(p)) {
		int n = text_char(p, "a comment");
		if (n < 0)
			return n;
		p->pos += (size_t)n;
	}
	return 0;
}

/* After a key/value or a header: optional blanks and comment, then a newline or the end. */
static int end_of_line(struct parser *p)
{
	skip_ws(p);
	if (peek(p, 0) == '#') {
		int r = skip_comment(p);
		if (r < 0)
			return r;
	}
	if (p->pos >= p->len)
		return 0;
	size_t n = newline_len(p);
	if (!n)
		return EINVALID(p, "expected the end of the line, found %s",
				p->s[p->pos] == '\r' ? "a lone carriage return" : "more");
	p->pos += n;
	p->line++;
	return 0;
}

/* Blanks, comments and newlines (inside arrays). */
static int skip_ws_nl(struct parser *p)
{
	for (;;) {
		skip_ws(p);
		int c = peek(p, 0);
		if (c == '#') {
			int r = skip_comment(p);
			if (r < 0)
				return r;
			continue;
		}
		size_t n = newline_len(p);
		if (!n)
			return 0;
		p->pos += n;
		p->line++;
	}
}

/* ---- strings ---- */

static size_t utf8_put(char *out, uint32_t cp)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | (cp >> 18));
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* One escape at pos (the backslash). Writes the decoded bytes to out (when
 * not NULL) and returns their count; a line-ending backslash (multi-line
 * only) consumes the following blanks and newlines and yields nothing. */
static int string_escape(struct parser *p, bool multiline, char *out)
{
	int c = peek(p, 1);
	char simple = 0;

	switch (c) {
	case 'b': simple = '\b'; break;
	case 't': simple = '\t'; break;
	case 'n': simple = '\n'; break;
	case 'f': simple = '\f'; break;
	case 'r': simple = '\r'; break;
	case '"': simple = '"'; break;
	case '\\': simple = '\\'; break;
	case 'u':
	case 'U': {
		unsigned digits = c == 'u' ? 4 : 8;
		uint32_t cp = 0;
		for (unsigned i = 0; i < digits; i++) {
			int h = util_hexval(peek(p, 2 + i));
			if (h < 0)
				return EINVALID(p, "\\%c needs %u hex digits", c, digits);
			cp = cp << 4 | (uint32_t)h;
		}
		if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return EINVALID(p, "\\%c%0*X is not a Unicode scalar value", c, (int)digits, cp);
		p->pos += 2 + digits;
		char tmp[4];
		size_t n = utf8_put(out ? out : tmp, cp);
		return (int)n;
	}
	default:
		break;
	}
	if (simple) {
		p->pos += 2;
		if (out)
			out[0] = simple;
		return 1;
	}
	if (multiline && (c == ' ' || c == '\t' || c == '\n' || c == '\r')) {
		p->pos++;
		skip_ws(p);
		if (!newline_len(p))
			return EINVALID(p, "a line-ending backslash must be followed by a newline");
		while (p->pos < p->len) {
			size_t n = newline_len(p);
			if (n) {
				p->pos += n;
				p->line++;
			} else if (p->s[p->pos] == ' ' || p->s[p->pos] == '\t') {
				p->pos++;
			} else {
				break;
			}
		}
		return 0;
	}
	if (c < 0)
		return EINVALID(p, "unterminated string");
	if (c >= 0x20 && c < 0x7f)
		return EINVALID(p, "invalid escape \\%c", c);
	return EINVALID(p, "invalid escape after a backslash");
}

/* The body of a string after its opening delimiter, up to and including
 * the closing one. Writes the decoded bytes to out when not NULL; their
 * count to ret_len. */
static int string_body(struct parser *p, char q, bool ml, unsigned start_line, char *out, size_t *ret_len)
{
	bool literal = q == '\'';
	size_t o = 0;

	for (;;) {
		if (p->pos >= p->len)
			return perr(p, -EINVAL, start_line, "unterminated string");
		char c = p->s[p->pos];
		if (c == q) {
			if (!ml) {
				p->pos++;
				break;
			}
			if (peek(p, 1) == q && peek(p, 2) == q) {
				/* Up to two more quotes before the closing three belong to the string. */
				size_t extra = 0;
				while (extra < 2 && peek(p, 3 + extra) == q)
					extra++;
				for (size_t i = 0; i < extra; i++) {
					if (out)
						out[o] = q;
					o++;
				}
				p->pos += 3 + extra;
				break;
			}
			if (out)
				out[o] = c;
			o++;
			p->pos++;
			continue;
		}
		if (ml) {
			size_t n = newline_len(p);
			if (n) {
				if (out)
					out[o] = '\n';
				o++;
				p->pos += n;
				p->line++;
				continue;
			}
		} else if (c == '\n') {
			return perr(p, -EINVAL, start_line,
				    "unterminated string (a newline inside a single-line string)");
		}
		if (c == '\\' && !literal) {
			int n = string_escape(p, ml, out ? out + o : NULL);
			if (n < 0)
				return n;
			o += (size_t)n;
			continue;
		}
		int n = text_char(p, "a string");
		if (n < 0)
			return n;
		if (out)
			memcpy(out + o, p->s + p->pos, (size_t)n);
		o += (size_t)n;
		p->pos += (size_t)n;
	}
	*ret_len = o;
	return 0;
}

/* A string of any form at pos (its opening quote). When keep is true the
 * decoded value goes into the arena (ret_s, ret_len): one pass validates
 * and measures, a second decodes into exactly that many bytes (never more
 * than the source text). Multi-line forms are refused when !allow_ml (keys). */
static int parse_string(struct parser *p, bool keep, bool allow_ml, const char **ret_s, size_t *ret_len)
{
	char q = p->s[p->pos];
	bool ml = peek(p, 1) == q && peek(p, 2) == q;
	unsigned start_line = p->line;
	size_t len, start;
	char *out;
	int r;

	if (ml && !allow_ml)
		return EINVALID(p, "a multi-line string can't be a key");
	p->pos += ml ? 3 : 1;
	if (ml) {
		/* A newline right after the opening delimiter is trimmed. */
		size_t n = newline_len(p);
		if (n) {
			p->pos += n;
			p->line++;
		}
	}
	start = p->pos;
	unsigned body_line = p->line;
	r = string_body(p, q, ml, start_line, NULL, &len);
	if (r < 0 || !keep)
		return r;
	out = arena_alloc(p->arena, len + 1);
	if (!out)
		return -ENOMEM;
	size_t end = p->pos;
	unsigned end_line = p->line;
	p->pos = start;
	p->line = body_line;
	r = string_body(p, q, ml, start_line, out, &len);
	if (r < 0 || p->pos != end || p->line != end_line)
		return r < 0 ? r : -EIO;
	out[len] = '\0';
	*ret_s = out;
	*ret_len = len;
	return 0;
}

/* ---- the table tree ---- */

/* FNV-1a from a per-process secret basis (the kernel's AT_RANDOM bytes), so
 * a document can't be built to put every key in one chain. */
static size_t hash_key(const struct parser *p, const struct tnode *parent, const char *key, size_t len)
{
	uint64_t h = p->seed ^ (uint64_t)(uintptr_t)parent;

	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)key[i]) * 1099511628211ull;
	return (size_t)(h ^ (h >> 29));
}

static struct tnode *tree_find(struct parser *p, struct tnode *parent, const char *key, size_t len)
{
	if (!p->nbuckets)
		return NULL;
	for (struct tnode *t = p->buckets[hash_key(p, parent, key, len) & (p->nbuckets - 1)]; t; t = t->hnext)
		if (t->parent == parent && t->n.key_len == len && memcmp(t->n.key, key, len) == 0)
			return t;
	return NULL;
}

static int tree_grow(struct parser *p)
{
	size_t n = p->nbuckets ? p->nbuckets * 2 : 64;
	struct tnode **b = calloc(n, sizeof(*b));

	if (!b)
		return -ENOMEM;
	for (size_t i = 0; i < p->nbuckets; i++) {
		struct tnode *t = p->buckets[i];
		while (t) {
			struct tnode *next = t->hnext;
			size_t h = hash_key(p, t->parent, t->n.key, t->n.key_len) & (n - 1);
			t->hnext = b[h];
			b[h] = t;
			t = next;
		}
	}
	free(p->buckets);
	p->buckets = b;
	p->nbuckets = n;
	return 0;
}

/* A new member of parent (parent NULL: an anonymous inline table inside an
 * array). key points into the arena already. */
static struct tnode *tree_add(struct parser *p, struct tnode *parent, const char *key, size_t len,
			      enum toml_type type, unsigned line)
{
	struct tnode *t;

	if (p->count >= p->nbuckets && tree_grow(p) < 0)
		return NULL;
	t = arena_alloc(p->arena, sizeof(*t));
	if (!t)
		return NULL;
	memset(t, 0, sizeof(*t));
	t->n.type = type;
	t->n.key = key;
	t->n.key_len = len;
	t->n.line = line;
	t->parent = parent;
	if (parent) {
		t->depth = (uint16_t)(parent->depth + 1);
		if (parent->last)
			parent->last->n.next = &t->n;
		else
			parent->n.child = &t->n;
		parent->last = t;
		size_t h = hash_key(p, parent, key, len) & (p->nbuckets - 1);
		t->hnext = p->buckets[h];
		p->buckets[h] = t;
		p->count++;
	}
	return t;
}

/* A key: one or more bare or quoted parts joined by dots. The parts are
 * decoded into the arena; ret_parts[] holds at most TOML_KEY_PARTS_MAX. */
struct keypart {
	const char *s;
	size_t len;
};

static int parse_key(struct parser *p, struct keypart *parts, unsigned *ret_n)
{
	unsigned n = 0;

	for (;;) {
		int c = peek(p, 0);
		struct keypart k;

		if (n >= TOML_NEST_MAX)
			return EUNSUPP(p, "keys of more than " TOML_STR(TOML_NEST_MAX) " parts");
		if (c == '"' || c == '\'') {
			int r = parse_string(p, true, false, &k.s, &k.len);
			if (r < 0)
				return r;
		} else if (is_bare(c)) {
			size_t start = p->pos;
			while (is_bare(peek(p, 0)))
				p->pos++;
			char *s = arena_alloc(p->arena, p->pos - start + 1);
			if (!s)
				return -ENOMEM;
			memcpy(s, p->s + start, p->pos - start);
			s[p->pos - start] = '\0';
			k.s = s;
			k.len = p->pos - start;
		} else if (c < 0 || c == '\n' || c == '\r') {
			return EINVALID(p, "expected a key, found the end of the line");
		} else if (c == '=') {
			return EINVALID(p, "expected a key before '='");
		} else {
			return EINVALID(p, "invalid character in a key");
		}
		parts[n++] = k;
		skip_ws(p);
		if (peek(p, 0) != '.')
			break;
		p->pos++;
		skip_ws(p);
	}
	*ret_n = n;
	return 0;
}

static int check_depth(struct parser *p, const struct tnode *parent)
{
	if (parent->depth + 1 >= TOML_NEST_MAX)
		return EUNSUPP(p, "tables nested deeper than " TOML_STR(TOML_NEST_MAX));
	return 0;
}

/* [a.b.c]: every part but the last may exist as a table or is created
 * implicitly; the last must not have been defined by a header, by dotted
 * keys, or be an inline table or a value. */
static int table_header(struct parser *p, struct tnode **ret)
{
	struct keypart parts[TOML_NEST_MAX];
	unsigned n, line = p->line;
	struct tnode *t = p->root;
	int r;

	p->pos++; /* '[' */
	if (peek(p, 0) == '[')
		return EUNSUPP(p, "arrays of tables ([[...]])");
	skip_ws(p);
	r = parse_key(p, parts, &n);
	if (r < 0)
		return r;
	if (peek(p, 0) != ']')
		return EINVALID(p, "expected ']' at the end of a table header");
	p->pos++;
	p->section++;
	for (unsigned i = 0; i < n; i++) {
		struct tnode *c = tree_find(p, t, parts[i].s, parts[i].len);
		if (!c) {
			if ((r = check_depth(p, t)) < 0)
				return r;
			c = tree_add(p, t, parts[i].s, parts[i].len, TOML_TABLE, line);
			if (!c)
				return -ENOMEM;
			if (i == n - 1)
				c->flags |= TF_HEADER;
		} else if (c->n.type != TOML_TABLE) {
			return perr(p, -EINVAL, line, "table header redefines a key that is not a table");
		} else if (c->flags & TF_FROZEN) {
			return perr(p, -EINVAL, line, "table header extends an inline table");
		} else if (i == n - 1) {
			if ((c->flags & TF_HEADER) || c->section)
				return perr(p, -EINVAL, line, "table defined twice");
			c->flags |= TF_HEADER;
		}
		t = c;
	}
	*ret = t;
	return end_of_line(p);
}

/* A key/value's key in table tbl: the dotted parts create or extend tables
 * (not ones a header or an earlier section's dotted keys defined, not inline
 * tables); the last part must be new. Returns the new node, type unset. */
static int kv_key(struct parser *p, struct tnode *tbl, bool inline_table, struct tnode **ret)
{
	struct keypart parts[TOML_NEST_MAX];
	unsigned n, line = p->line;
	int r;

	r = parse_key(p, parts, &n);
	if (r < 0)
		return r;
	for (unsigned i = 0; i + 1 < n; i++) {
		struct tnode *c = tree_find(p, tbl, parts[i].s, parts[i].len);
		if (!c) {
			if ((r = check_depth(p, tbl)) < 0)
				return r;
			c = tree_add(p, tbl, parts[i].s, parts[i].len, TOML_TABLE, line);
			if (!c)
				return -ENOMEM;
		} else if (c->n.type != TOML_TABLE) {
			return perr(p, -EINVAL, line, "dotted key extends a value that is not a table");
		} else if (c->flags & TF_FROZEN) {
			return perr(p, -EINVAL, line, "dotted key extends an inline table");
		} else if (!inline_table && ((c->flags & TF_HEADER) || (c->section && c->section != p->section))) {
			return perr(p, -EINVAL, line, "dotted key extends a table defined elsewhere");
		}
		if (!inline_table)
			c->section = p->section;
		tbl = c;
	}
	if (tbl->flags & TF_FROZEN && !inline_table)
		return perr(p, -EINVAL, line, "key added to an inline table");
	if (tree_find(p, tbl, parts[n - 1].s, parts[n - 1].len))
		return perr(p, -EINVAL, line, "duplicate key");
	if ((r = check_depth(p, tbl)) < 0)
		return r;
	struct tnode *t = tree_add(p, tbl, parts[n - 1].s, parts[n - 1].len, TOML_STRING, line);
	if (!t)
		return -ENOMEM;
	*ret = t;
	return 0;
}

/* ---- scalars ---- */

static bool is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static bool is_token(int c)
{
	return is_bare(c) || c == '+' || c == '.' || c == ':';
}

/* digits of base with single underscores between them; accumulates the
 * magnitude, which must fit limit. */
static int int_digits(struct parser *p, const char *s, size_t len, unsigned base, uint64_t limit)
{
	uint64_t v = 0;
	bool prev_digit = false;

	if (len == 0)
		return EINVALID(p, "invalid integer");
	for (size_t i = 0; i < len; i++) {
		int d = s[i] == '_' ? -1 : util_hexval(s[i]);
		if (s[i] == '_') {
			if (!prev_digit || i + 1 == len)
				return EINVALID(p, "invalid integer: '_' must be between digits");
			prev_digit = false;
			continue;
		}
		if (d < 0 || (unsigned)d >= base)
			return EINVALID(p, "invalid integer");
		if (v > (limit - (uint64_t)d) / base)
			return EINVALID(p, "integer out of range");
		v = v * base + (uint64_t)d;
		prev_digit = true;
	}
	return 0;
}

/* A bare value: boolean or integer; floats, dates and times are recognised
 * only to be refused as unsupported. */
static int parse_bare_value(struct parser *p, enum toml_type *ret)
{
	size_t start = p->pos, len;
	const char *s = p->s + start;

	while (is_token(peek(p, 0)))
		p->pos++;
	len = p->pos - start;
	if (len == 0)
		return EINVALID(p, "expected a value");
	if ((len == 4 && memcmp(s, "true", 4) == 0) || (len == 5 && memcmp(s, "false", 5) == 0)) {
		*ret = TOML_BOOLEAN;
		return 0;
	}
	if ((len >= 5 && is_digit(s[0]) && is_digit(s[1]) && is_digit(s[2]) && is_digit(s[3]) && s[4] == '-') ||
	    (len >= 3 && is_digit(s[0]) && is_digit(s[1]) && s[2] == ':'))
		return EUNSUPP(p, "dates and times");
	size_t i = (s[0] == '+' || s[0] == '-') ? 1 : 0;
	if ((len - i == 3 && (memcmp(s + i, "inf", 3) == 0 || memcmp(s + i, "nan", 3) == 0)))
		return EUNSUPP(p, "floats");
	if (len - i >= 2 && s[i] == '0' && (s[i + 1] == 'x' || s[i + 1] == 'o' || s[i + 1] == 'b')) {
		if (i)
			return EINVALID(p, "invalid integer: no sign before 0%c", s[i + 1]);
		unsigned base = s[1] == 'x' ? 16 : s[1] == 'o' ? 8 : 2;
		int r = int_digits(p, s + 2, len - 2, base, INT64_MAX);
		if (r < 0)
			return r;
		*ret = TOML_INTEGER;
		return 0;
	}
	if (i < len && is_digit(s[i]) && (memchr(s, '.', len) || memchr(s, 'e', len) || memchr(s, 'E', len)))
		return EUNSUPP(p, "floats");
	if (i == len || !is_digit(s[i]))
		return EINVALID(p, "invalid value");
	if (s[i] == '0' && len - i > 1)
		return EINVALID(p, "invalid integer: leading zero");
	int r = int_digits(p, s + i, len - i, 10, s[0] == '-' ? (uint64_t)INT64_MAX + 1 : INT64_MAX);
	if (r < 0)
		return r;
	*ret = TOML_INTEGER;
	return 0;
}

/* ---- values, with arrays and inline tables on an explicit stack ---- */

static int push(struct parser *p, char kind, struct tnode *table)
{
	if (p->depth >= TOML_NEST_MAX)
		return EUNSUPP(p, "values nested deeper than " TOML_STR(TOML_NEST_MAX));
	p->stack[p->depth++] = (struct frame){ .kind = kind, .table = table };
	return 0;
}

/* One value at pos for dst (the key's node), or for an array element when
 * dst is NULL (validated, not kept). */
static int parse_value(struct parser *p, struct tnode *dst)
{
	int r;

	p->depth = 0;
	for (;;) {
		/* A value is expected at pos, for dst. */
		int c = peek(p, 0);
		if (c == '"' || c == '\'') {
			const char *s;
			size_t len;
			r = parse_string(p, dst != NULL, true, &s, &len);
			if (r < 0)
				return r;
			if (dst) {
				dst->n.type = TOML_STRING;
				dst->n.str = s;
				dst->n.str_len = len;
			}
		} else if (c == '[') {
			if (dst)
				dst->n.type = TOML_ARRAY;
			if ((r = push(p, '[', NULL)) < 0)
				return r;
			p->pos++;
			if ((r = skip_ws_nl(p)) < 0)
				return r;
			if (peek(p, 0) != ']') {
				dst = NULL;
				continue;
			}
			p->pos++;
			p->depth--;
		} else if (c == '{') {
			struct tnode *t = dst;
			if (!t) {
				t = tree_add(p, NULL, "", 0, TOML_TABLE, p->line);
				if (!t)
					return -ENOMEM;
				t->depth = (uint16_t)p->depth;
			}
			t->n.type = TOML_TABLE;
			if ((r = push(p, '{', t)) < 0)
				return r;
			p->pos++;
			skip_ws(p);
			if (peek(p, 0) != '}') {
				if ((r = kv_key(p, t, true, &dst)) < 0)
					return r;
				skip_ws(p);
				if (peek(p, 0) != '=')
					return EINVALID(p, "expected '=' after a key");
				p->pos++;
				skip_ws(p);
				continue;
			}
			p->pos++;
			p->depth--;
			t->flags |= TF_FROZEN;
		} else if (c < 0 || c == '\n' || c == '\r' || c == '#') {
			return EINVALID(p, "expected a value");
		} else {
			enum toml_type type = TOML_INTEGER;
			if ((r = parse_bare_value(p, &type)) < 0)
				return r;
			if (dst)
				dst->n.type = type;
		}
		/* After a value: close containers, or find the next element. */
		for (;;) {
			if (p->depth == 0)
				return 0;
			struct frame *f = &p->stack[p->depth - 1];
			if (f->kind == '[') {
				if ((r = skip_ws_nl(p)) < 0)
					return r;
				if (peek(p, 0) == ']') {
					p->pos++;
					p->depth--;
					continue;
				}
				if (peek(p, 0) != ',')
					return EINVALID(p, "expected ',' or ']' in an array");
				p->pos++;
				if ((r = skip_ws_nl(p)) < 0)
					return r;
				if (peek(p, 0) == ']') {
					p->pos++;
					p->depth--;
					continue;
				}
				dst = NULL;
				break;
			}
			skip_ws(p);
			if (peek(p, 0) == '}') {
				p->pos++;
				p->depth--;
				f->table->flags |= TF_FROZEN;
				continue;
			}
			if (peek(p, 0) != ',')
				return EINVALID(p, "expected ',' or '}' in an inline table");
			p->pos++;
			skip_ws(p);
			if ((r = kv_key(p, f->table, true, &dst)) < 0)
				return r;
			skip_ws(p);
			if (peek(p, 0) != '=')
				return EINVALID(p, "expected '=' after a key");
			p->pos++;
			skip_ws(p);
			break;
		}
	}
}

/* ---- the document ---- */

static int parse_document(struct parser *p)
{
	struct tnode *tbl = p->root;
	int r;

	if (p->len >= 3 && memcmp(p->s, "\xef\xbb\xbf", 3) == 0)
		return EINVALID(p, "a byte order mark is not allowed");
	p->section = 1;
	while (p->pos < p->len) {
		skip_ws(p);
		int c = peek(p, 0);
		if (c < 0)
			break;
		if (c == '#' || c == '\n' || c == '\r') {
			r = end_of_line(p);
		} else if (c == '[') {
			r = table_header(p, &tbl);
		} else {
			struct tnode *dst;
			if ((r = kv_key(p, tbl, false, &dst)) < 0)
				return r;
			skip_ws(p);
			if (peek(p, 0) != '=')
				return EINVALID(p, "expected '=' after a key");
			p->pos++;
			skip_ws(p);
			if ((r = parse_value(p, dst)) < 0)
				return r;
			r = end_of_line(p);
		}
		if (r < 0)
			return r;
	}
	return 0;
}

int toml_parse(const char *text, size_t len, struct toml_doc *doc, char *err, size_t errsz)
{
	struct parser *p;
	int r;

	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	*p = (struct parser){ .s = text, .len = len, .line = 1, .err = err, .errsz = errsz };
	p->seed = 1469598103934665603ull;
	const unsigned char *rnd = (const unsigned char *)getauxval(AT_RANDOM);
	if (rnd) {
		uint64_t x;
		memcpy(&x, rnd + 8, sizeof(x));
		p->seed ^= x;
	}
	p->arena = calloc(1, sizeof(*p->arena));
	if (!p->arena) {
		free(p);
		return -ENOMEM;
	}
	p->root = tree_add(p, NULL, "", 0, TOML_TABLE, 1);
	r = p->root ? parse_document(p) : -ENOMEM;
	if (r == -ENOMEM)
		util_seterr(err, errsz, "line %u: out of memory", p->line);
	free(p->buckets);
	if (r < 0) {
		arena_free(p->arena);
	} else {
		doc->root = &p->root->n;
		doc->arena = p->arena;
		doc->arena_bytes = p->arena->total;
	}
	free(p);
	return r;
}

void toml_free(struct toml_doc *doc)
{
	if (doc->arena)
		arena_free(doc->arena);
	doc->arena = NULL;
	doc->root = NULL;
}

const struct toml_node *toml_get(const struct toml_node *table, const char *key, size_t key_len)
{
	if (!table || table->type != TOML_TABLE)
		return NULL;
	for (const struct toml_node *n = table->child; n; n = n->next)
		if (n->key_len == key_len && memcmp(n->key, key, key_len) == 0)
			return n;
	return NULL;
}

/* ---- JSON ---- */

int toml_write_json_string(FILE *f, const char *s, size_t len)
{
	size_t size = len * 6 + 3;
	_cleanup_free_ char *buf = malloc(size);

	if (!buf)
		return -ENOMEM;
	int n = state_json_utf8(buf, size, s, len);
	if (n < 0)
		return n;
	return fwrite(buf, 1, (size_t)n, f) == (size_t)n ? 0 : -EIO;
}

int toml_write_json(const struct toml_node *table, FILE *f)
{
	/* Tables nest at most TOML_NEST_MAX deep: the walk keeps one cursor per level. */
	const struct toml_node *stack[TOML_NEST_MAX + 1];
	unsigned depth = 0;
	const struct toml_node *n = table->child;
	bool first = true;
	int r;

	fputc('{', f);
	for (;;) {
		if (!n) {
			fputc('}', f);
			if (depth == 0)
				break;
			n = stack[--depth]->next;
			first = false;
			continue;
		}
		if (n->type != TOML_TABLE && n->type != TOML_STRING) {
			n = n->next;
			continue;
		}
		if (!first)
			fputc(',', f);
		first = false;
		if ((r = toml_write_json_string(f, n->key, n->key_len)) < 0)
			return r;
		fputc(':', f);
		if (n->type == TOML_STRING) {
			if ((r = toml_write_json_string(f, n->str, n->str_len)) < 0)
				return r;
			n = n->next;
			continue;
		}
		if (depth >= TOML_NEST_MAX)
			return -E2BIG;
		fputc('{', f);
		stack[depth++] = n;
		n = n->child;
		first = true;
	}
	return ferror(f) ? -EIO : 0;
}
