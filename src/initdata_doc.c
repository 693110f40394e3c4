/* SPDX-License-Identifier: Apache-2.0 */
/* The initdata document, validated as the Kata agent does (kata-types'
 * initdata.rs): version, algorithm, [data] of strings; its digest over the
 * exact bytes; and the three files the agent's helpers read, written from
 * fixed names only: a [data] key is never used as a path. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cocoinit/initdata.h"
#include "cocoinit/initdata_doc.h"
#include "cocoinit/log.h"
#include "cocoinit/util.h"

/* How much of a bad value or key an error message shows. */
#define DOC_SHOW_MAX 48

const char *const initdata_doc_files[INITDATA_DOC_NFILES] = { "aa.toml", "cdh.toml", "policy.rego" };

static const char *doc_type_name(enum toml_type t)
{
	switch (t) {
	case TOML_TABLE:
		return "a table";
	case TOML_STRING:
		return "a string";
	case TOML_INTEGER:
		return "an integer";
	case TOML_BOOLEAN:
		return "a boolean";
	case TOML_ARRAY:
		return "an array";
	}
	return "?";
}

/* Escaped, cut to DOC_SHOW_MAX bytes: the value is host input. */
static char *doc_show(char *out, size_t outsz, const char *s, size_t len)
{
	if (len > DOC_SHOW_MAX) {
		log_escape(out, outsz - 3, s, DOC_SHOW_MAX);
		strcat(out, "...");
		return out;
	}
	return log_escape(out, outsz, s, len);
}

/* The top-level string key, or an error naming it. */
static int doc_string(const struct toml_node *root, const char *key, const struct toml_node **ret, char *err,
		      size_t errsz)
{
	const struct toml_node *n = toml_get(root, key, strlen(key));

	if (!n) {
		util_seterr(err, errsz, "%s: missing", key);
		return -EINVAL;
	}
	if (n->type != TOML_STRING) {
		util_seterr(err, errsz, "%s: line %u: %s, not a string", key, n->line, doc_type_name(n->type));
		return -EINVAL;
	}
	*ret = n;
	return 0;
}

static int doc_validate(const struct toml_node *root, struct initdata_doc *d, char *err, size_t errsz)
{
	char show[LOG_ESCAPED_SIZE(DOC_SHOW_MAX) + 4];
	const struct toml_node *version, *alg;
	int r;

	/* Other top-level keys are ignored, as the agent's deserializer does. */
	if ((r = doc_string(root, "version", &version, err, errsz)) < 0)
		return r;
	if (version->str_len != strlen(INITDATA_DOC_VERSION) ||
	    memcmp(version->str, INITDATA_DOC_VERSION, version->str_len) != 0) {
		util_seterr(err, errsz, "version: line %u: \"%s\" is not \"%s\"", version->line,
			    doc_show(show, sizeof(show), version->str, version->str_len), INITDATA_DOC_VERSION);
		return -EINVAL;
	}
	if ((r = doc_string(root, "algorithm", &alg, err, errsz)) < 0)
		return r;
	if (digest_alg_from_name(alg->str, alg->str_len, &d->alg) < 0) {
		util_seterr(err, errsz, "algorithm: line %u: \"%s\" is not one of sha256, sha384, sha512", alg->line,
			    doc_show(show, sizeof(show), alg->str, alg->str_len));
		return -EINVAL;
	}

	d->data = toml_get(root, "data", 4);
	if (!d->data) {
		util_seterr(err, errsz, "data: missing");
		return -EINVAL;
	}
	if (d->data->type != TOML_TABLE) {
		util_seterr(err, errsz, "data: line %u: %s, not a table", d->data->line, doc_type_name(d->data->type));
		return -EINVAL;
	}
	for (const struct toml_node *n = d->data->child; n; n = n->next) {
		bool known = false;

		if (n->type != TOML_STRING) {
			util_seterr(err, errsz, "data.\"%s\": line %u: %s, not a string",
				    doc_show(show, sizeof(show), n->key, n->key_len), n->line, doc_type_name(n->type));
			return -EINVAL;
		}
		for (size_t i = 0; i < INITDATA_DOC_NFILES; i++) {
			if (n->key_len == strlen(initdata_doc_files[i]) &&
			    memcmp(n->key, initdata_doc_files[i], n->key_len) == 0) {
				d->files[i] = n;
				known = true;
			}
		}
		if (!known)
			d->ignored++;
	}
	return 0;
}

int initdata_doc_parse(const char *text, size_t len, struct initdata_doc *doc, char *err, size_t errsz)
{
	struct initdata_doc d = { 0 };
	char terr[TOML_ERR_MAX] = "";
	int r;

	if (err && errsz)
		err[0] = '\0';
	r = toml_parse(text, len, &d.toml, terr, sizeof(terr));
	if (r < 0) {
		if (r == -ENOMEM && !terr[0])
			util_strlcpy(terr, "out of memory", sizeof(terr));
		util_seterr(err, errsz, "toml: %s", terr[0] ? terr : strerror(-r));
		return r;
	}
	r = doc_validate(d.toml.root, &d, err, errsz);
	if (r < 0) {
		toml_free(&d.toml);
		return r;
	}
	digest_buf(d.alg, text, len, d.digest);
	d.digest_len = digest_len(d.alg);
	*doc = d;
	return 0;
}

int initdata_doc_read_fd(int fd, const char *name, size_t max, struct initdata_doc *doc, char *err, size_t errsz)
{
	_cleanup_free_ char *text = NULL;
	size_t n = 0;
	int r = util_read_regular(fd, max, &text, &n);

	if (r == -EINVAL)
		util_seterr(err, errsz, "%s is not a regular file", name);
	else if (r == -EFBIG)
		util_seterr(err, errsz, "%s is %zu bytes, more than %zu", name, n, max);
	else if (r == -EIO)
		util_seterr(err, errsz, "%s changed while it was read", name);
	else if (r < 0)
		util_seterr(err, errsz, "cannot read %s: %s", name, strerror(-r));
	if (r < 0)
		return r;
	return initdata_doc_parse(text, n, doc, err, errsz);
}

int initdata_doc_load(int dirfd, size_t max, struct initdata_doc *doc, char *err, size_t errsz)
{
	_cleanup_close_ int fd = -1;
	int r;

	/* O_NONBLOCK: a FIFO put there must not hang PID 1 before the type check. */
	fd = openat(dirfd, INITDATA_FILE, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		r = -errno;
		util_seterr(err, errsz, "cannot open %s: %s", INITDATA_FILE, strerror(-r));
		return r;
	}
	return initdata_doc_read_fd(fd, INITDATA_FILE, max, doc, err, errsz);
}

int initdata_doc_write_files(int dirfd, const struct initdata_doc *doc, char *err, size_t errsz)
{
	for (size_t i = 0; i < INITDATA_DOC_NFILES; i++) {
		const struct toml_node *n = doc->files[i];
		int r;

		if (!n)
			continue;
		r = initdata_write_file(dirfd, initdata_doc_files[i], n->str, n->str_len);
		if (r < 0) {
			util_seterr(err, errsz, "cannot write %s: %s", initdata_doc_files[i], strerror(-r));
			return r;
		}
	}
	return 0;
}

char *initdata_doc_digest_str(const struct initdata_doc *doc, char *out, size_t outsz)
{
	char hex[DIGEST_HEX_SIZE];

	snprintf(out, outsz, "%s:%s", digest_alg_name(doc->alg), digest_hex(hex, doc->digest, doc->digest_len));
	return out;
}

void initdata_doc_free(struct initdata_doc *doc)
{
	if (doc)
		toml_free(&doc->toml);
}
