/* SPDX-License-Identifier: Apache-2.0 */
/* The hand-off path rehearsed on a built-in document (rehearsal.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cocoinit/consume.h"
#include "cocoinit/digest.h"
#include "cocoinit/discover.h"
#include "cocoinit/handoff.h"
#include "cocoinit/initdata_doc.h"
#include "cocoinit/rehearsal.h"
#include "cocoinit/state.h"
#include "cocoinit/uevent.h"
#include "cocoinit/util.h"
#include "rehearsal_data.h"

const struct rehearsal_input rehearsal_builtin = {
	.image = rehearsal_image,
	.image_size = sizeof(rehearsal_image),
	.doc_size = REHEARSAL_DOC_SIZE,
	.sha256 = REHEARSAL_SHA256,
	.sha384 = REHEARSAL_SHA384,
	.sha512 = REHEARSAL_SHA512,
};

/* One digest of the document's bytes against hashlib's. */
static int rehearsal_digest(enum digest_alg alg, const uint8_t *doc, size_t len, const char *want, char *err,
			    size_t errsz)
{
	uint8_t d[DIGEST_MAX];
	char hex[DIGEST_HEX_SIZE];

	digest_buf(alg, doc, len, d);
	digest_hex(hex, d, digest_len(alg));
	if (strcmp(hex, want) == 0)
		return 0;
	util_seterr(err, errsz, "%s of the built-in document is %s, not %s", digest_alg_name(alg), hex, want);
	return -EBADMSG;
}

/* The files the document step wrote, as many as the document names. */
static int rehearsal_files(int dirfd, char *err, size_t errsz)
{
	struct stat st;

	for (size_t i = 0; i < INITDATA_DOC_NFILES; i++) {
		if (fstatat(dirfd, initdata_doc_files[i], &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode) ||
		    st.st_size == 0) {
			util_seterr(err, errsz, "the document step wrote no %s", initdata_doc_files[i]);
			return -EBADMSG;
		}
	}
	return 0;
}

int rehearsal_run(int state_rootfd, const char *dir, const struct config *cfg, const struct rehearsal_input *in,
		  char *err, size_t errsz)
{
	char idir[CONFIG_PATH_MAX], fsdir[CONFIG_PATH_MAX], nodedir[CONFIG_PATH_MAX];
	char digest[INITDATA_DOC_DIGEST_STR_SIZE];
	struct consume_result cres = { 0 };
	struct initdata_doc doc;
	_cleanup_free_ uint8_t *toml = NULL;
	_cleanup_close_ int mfd = -1, dirfd = -1, idirfd = -1;
	struct state st = { 0 };
	int r;

	if (err && errsz)
		err[0] = '\0';
	if ((size_t)snprintf(idir, sizeof(idir), "%s/initdata", dir) >= sizeof(idir) ||
	    (size_t)snprintf(fsdir, sizeof(fsdir), "%s/fs", dir) >= sizeof(fsdir) ||
	    (size_t)snprintf(nodedir, sizeof(nodedir), "%s/node", dir) >= sizeof(nodedir))
		return -ENAMETOOLONG;
	mfd = memfd_create("cocoinit-rehearsal", MFD_CLOEXEC);
	if (mfd < 0) {
		util_seterr(err, errsz, "memfd_create: %s", strerror(errno));
		return -errno;
	}
	r = util_write_all(mfd, in->image, in->image_size);
	if (r < 0) {
		util_seterr(err, errsz, "writing the built-in image: %s", strerror(-r));
		return r;
	}

	/* consume: probe, a tmpfs, extract; the bytes kept, as the boot keeps them */
	struct consume_opts o = {
		.dir = idir,
		.fs_dir = fsdir,
		.node_dir = nodedir,
		.name = "rehearsal",
		.max_bytes = cfg->max_bytes,
		.keep_toml = true,
	};
	r = consume_initdata(mfd, &o, &cres, err, errsz);
	if (r < 0)
		return r == -EPROTONOSUPPORT ? -EBADMSG : r;
	toml = cres.toml;
	if (strcmp(cres.format, "kata-raw") != 0 || cres.toml_size != in->doc_size || !toml) {
		util_seterr(err, errsz, "the image gave %s of %zu bytes, not kata-raw of %zu", cres.format,
			    cres.toml_size, in->doc_size);
		return -EBADMSG;
	}

	/* the document: parsed and digested with its own algorithm (sha384),
	 * the other two digests beside it */
	r = initdata_doc_parse((const char *)toml, cres.toml_size, &doc, err, errsz);
	if (r < 0)
		return r == -ENOMEM ? r : -EBADMSG;
	/* the document's own digest, as the bind would take it; then the other
	 * two algorithms, digested here */
	const char *wants[] = { [DIGEST_SHA256] = in->sha256, [DIGEST_SHA384] = in->sha384,
				[DIGEST_SHA512] = in->sha512 };
	initdata_doc_digest_str(&doc, digest, sizeof(digest));
	if (strcmp(digest + strlen(digest_alg_name(doc.alg)) + 1, wants[doc.alg]) != 0) {
		util_seterr(err, errsz, "the document's digest is %s, not %s:%s", digest, digest_alg_name(doc.alg),
			    wants[doc.alg]);
		r = -EBADMSG;
		goto out;
	}
	for (enum digest_alg a = DIGEST_SHA256; a <= DIGEST_SHA512 && r == 0; a++)
		if (a != doc.alg)
			r = rehearsal_digest(a, toml, cres.toml_size, wants[a], err, errsz);
	if (r < 0)
		goto out;
	idirfd = open(idir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (idirfd < 0) {
		r = -errno;
		util_seterr(err, errsz, "opening %s: %s", idir, strerror(-r));
		goto out;
	}
	r = initdata_doc_write_files(idirfd, &doc, err, errsz);
	if (r == 0)
		r = rehearsal_files(idirfd, err, errsz);
	if (r < 0)
		goto out;

	/* the by-id link discovery makes, below dir */
	dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (dirfd < 0) {
		r = -errno;
		util_seterr(err, errsz, "opening %s: %s", dir, strerror(-r));
		goto out;
	}
	r = discover_make_byid(dirfd, "rehearsal", 9, "vda");
	if (r < 0) {
		util_seterr(err, errsz, "the by-id link: %s", strerror(-r));
		goto out;
	}

	/* discovery's uevent socket, opened and closed as the boot closes it
	 * once the disk is found */
	int ufd = uevent_open();
	if (ufd >= 0)
		close(ufd);

	/* the agent's environment from these results, as the hand-off builds it */
	{
		static char store[HANDOFF_STORE_SIZE];
		char *envp[HANDOFF_ENV_MAX];
		struct handoff_env e = { .device = "/dev/rehearsal", .dir = idir, .format = cres.format,
					 .method = "sysfs", .digest = digest, .extensions = "" };
		(void)handoff_build_env(envp, HANDOFF_ENV_MAX, store, sizeof(store), &e, NULL, 0, 1);
	}

	/* state.json from these results */
	st.found = 1;
	util_strlcpy(st.device, "/dev/rehearsal", sizeof(st.device));
	util_strlcpy(st.method, "sysfs", sizeof(st.method));
	util_strlcpy(st.format, cres.format, sizeof(st.format));
	util_strlcpy(st.dir, idir, sizeof(st.dir));
	memcpy(st.serial, "rehearsal", 9);
	st.serial_len = 9;
	util_strlcpy(st.digest, digest, sizeof(st.digest));
	util_strlcpy(st.bound, "none", sizeof(st.bound));
	r = state_write(state_rootfd, &st, cfg, NULL, 0);
	if (r < 0)
		util_seterr(err, errsz, "state.json: %s", strerror(-r));
out:
	initdata_doc_free(&doc);
	return r;
}
