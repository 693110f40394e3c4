/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target: the initdata document's rules over the TOML reader.
 * Accepted: a known algorithm, its digest length, [data] a table, every
 * file node a string named as its slot. Refused: an error text that is
 * terminated, printable and names a key or a TOML line. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cocoinit/initdata_doc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct initdata_doc doc;
	char err[512];
	int r;

	memset(err, 'Z', sizeof(err));
	r = initdata_doc_parse((const char *)data, size, &doc, err, sizeof(err));
	if (r == 0) {
		if (doc.digest_len != digest_len(doc.alg) || !doc.data || doc.data->type != TOML_TABLE)
			abort();
		for (size_t i = 0; i < INITDATA_DOC_NFILES; i++) {
			const struct toml_node *n = doc.files[i];

			if (n && (n->type != TOML_STRING || n->key_len != strlen(initdata_doc_files[i]) ||
				  memcmp(n->key, initdata_doc_files[i], n->key_len) != 0))
				abort();
		}
		initdata_doc_free(&doc);
		return 0;
	}
	if (!memchr(err, '\0', sizeof(err)) || err[0] == '\0')
		abort();
	for (const char *p = err; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
			abort(); /* host bytes reach the console escaped */
	if (strncmp(err, "toml: ", 6) != 0 && strncmp(err, "version: ", 9) != 0 &&
	    strncmp(err, "algorithm: ", 11) != 0 && strncmp(err, "data", 4) != 0)
		abort();
	return 0;
}
