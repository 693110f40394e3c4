/* SPDX-License-Identifier: Apache-2.0 */
/* The rehearsal: the hand-off path run once on a document built into the
 * binary (src/gen-rehearsal.py), while the modules load and before any disk
 * is there to consume. Its first use is time: the code the boot runs after
 * the initdata disk appears has run once already (under QEMU's TCG, the
 * emulator translates code the first time it runs; on hardware its pages
 * are faulted in). Its results are checked against what Python's hashlib
 * and tomllib gave at build time, so it is also a known-answer check of
 * inflate, the TOML reader and SHA-256/384/512. docs/performance.md. */
#pragma once

#include <stddef.h>

#include "cocoinit/cmdline.h"

/* What is rehearsed and what it must give: a Kata raw image, the size of
 * the document in it, and the hex digests of that document. */
struct rehearsal_input {
	const unsigned char *image;
	size_t image_size;
	size_t doc_size;
	const char *sha256, *sha384, *sha512;
};

/* The built-in one (src/gen-rehearsal.py; its document's algorithm is sha384). */
extern const struct rehearsal_input rehearsal_builtin;

/* Runs the rehearsal of in in the calling process: the image, from a memfd,
 * through consume_initdata() (probe, a tmpfs mounted at <dir>/initdata,
 * extract), the document (parse, digests, the three files), a by-id link
 * below dir, and state.json rendered from its results and written below
 * state_rootfd (run/cocoinit/state.json: the caller points it somewhere
 * private). Mounts, so the caller runs it in a mount namespace of its own.
 * Returns 0; -EBADMSG when a result differs from in's (err says which); or
 * another -errno when a step could not run (err says which). */
int rehearsal_run(int state_rootfd, const char *dir, const struct config *cfg, const struct rehearsal_input *in,
		  char *err, size_t errsz);
