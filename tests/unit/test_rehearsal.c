/* SPDX-License-Identifier: Apache-2.0 */
/* The rehearsal (src/rehearsal.c) in a temporary tree: the built-in image
 * passes; the files, the by-id link and state.json it leaves are what the
 * boot would leave, with the digest coreutils' sha384sum gives for the
 * extracted document; and every way its results can differ from the
 * expected ones (a digest, a corrupted image, a document of another size)
 * is -EBADMSG with the reason named. The tmpfs consume mounts is recorded,
 * not made (-Wl,--wrap=sys_mount): the boot gives the rehearsal a mount
 * namespace of its own, which a chroot cannot always give a test; the boot
 * scenario rehearsal_leaves_nothing runs that part for real. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "cocoinit/cmdline.h"
#include "cocoinit/rehearsal.h"
#include "cocoinit/util.h"
#include "tree.h"

/* What rehearsal_run() returned and left behind. */
struct outcome {
	int r;
	char err[256];
	char state[8192];
	char digest_file[160]; /* sha384sum of <dir>/initdata/initdata.toml */
	char link[128];        /* <dir>/dev/disk/by-id/virtio-rehearsal */
	char aa_head[32];
	int files;             /* of aa.toml, cdh.toml, policy.rego, mode 0400 */
	int tmpfs_mounts;      /* tmpfs mounts asked for on <dir>/initdata */
};

static struct {
	char dir[256];
	int tmpfs_mounts, other_mounts;
} fake;

int __wrap_sys_mount(const char *source, const char *target, const char *fstype, unsigned long flags,
		     const void *data);
int __wrap_sys_mount(const char *source, const char *target, const char *fstype, unsigned long flags,
		     const void *data)
{
	char want[300];

	snprintf(want, sizeof(want), "%s/initdata", fake.dir);
	if (fstype && strcmp(fstype, "tmpfs") == 0 && strcmp(target, want) == 0 && (flags & MS_NOEXEC))
		fake.tmpfs_mounts++;
	else
		fake.other_mounts++;
	return 0;
}

int __wrap_sys_umount(const char *target);
int __wrap_sys_umount(const char *target)
{
	return 0;
}

static void read_small(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, size - 1);

	buf[n > 0 ? n : 0] = '\0';
	if (fd >= 0)
		close(fd);
}

/* Runs the rehearsal of in below a fresh temporary tree and collects what
 * it left behind. */
static void rehearse(const struct rehearsal_input *in, struct outcome *o)
{
	char *top = tree_new();
	char dir[256], path[512], cmd[600];
	struct config cfg;
	struct stat st;
	int rootfd;
	FILE *p;

	assert_non_null(top);
	memset(o, 0, sizeof(*o));
	memset(&fake, 0, sizeof(fake));
	snprintf(dir, sizeof(dir), "%s/r", top);
	util_strlcpy(fake.dir, dir, sizeof(fake.dir));
	snprintf(path, sizeof(path), "%s/run", top);
	assert_int_equal(mkdir(dir, 0755), 0);
	assert_int_equal(mkdir(path, 0755), 0);
	assert_int_equal(mkdir(strcat(path, "/cocoinit"), 0755), 0);
	rootfd = open(top, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(rootfd >= 0);
	cmdline_defaults(&cfg);
	o->r = rehearsal_run(rootfd, dir, &cfg, in, o->err, sizeof(o->err));
	close(rootfd);
	o->tmpfs_mounts = fake.tmpfs_mounts;
	assert_int_equal(fake.other_mounts, 0);
	snprintf(path, sizeof(path), "%s/run/cocoinit/state.json", top);
	read_small(path, o->state, sizeof(o->state));
	snprintf(cmd, sizeof(cmd), "sha384sum %s/initdata/initdata.toml 2>/dev/null", dir);
	p = popen(cmd, "r");
	if (p) {
		if (!fgets(o->digest_file, sizeof(o->digest_file), p))
			o->digest_file[0] = '\0';
		pclose(p);
	}
	snprintf(path, sizeof(path), "%s/dev/disk/by-id/virtio-rehearsal", dir);
	ssize_t n = readlink(path, o->link, sizeof(o->link) - 1);
	o->link[n > 0 ? n : 0] = '\0';
	snprintf(path, sizeof(path), "%s/initdata/aa.toml", dir);
	read_small(path, o->aa_head, sizeof(o->aa_head));
	for (const char *const *f = (const char *const[]){ "aa.toml", "cdh.toml", "policy.rego", NULL }; *f; f++) {
		snprintf(path, sizeof(path), "%s/initdata/%s", dir, *f);
		if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 07777) == 0400)
			o->files++;
	}
	tree_remove(top);
}

static void test_builtin_passes(void **state)
{
	struct outcome o;
	char want[200];

	rehearse(&rehearsal_builtin, &o);
	assert_int_equal(o.r, 0);
	assert_string_equal(o.err, "");
	/* the digest state.json carries is coreutils' of the document extracted */
	assert_int_equal(strlen(o.digest_file) > 96, 1);
	o.digest_file[96] = '\0';
	assert_string_equal(o.digest_file, rehearsal_builtin.sha384);
	snprintf(want, sizeof(want), "\"digest\":\"sha384:%s\"", o.digest_file);
	assert_non_null(strstr(o.state, want));
	assert_non_null(strstr(o.state, "\"format\":\"kata-raw\""));
	assert_int_equal(o.files, 3);
	/* consume asked for its tmpfs on <dir>/initdata, once */
	assert_int_equal(o.tmpfs_mounts, 1);
	assert_string_equal(o.aa_head, "[token_configs]\n[token_configs.");
	/* the link discovery makes: below dir, to ../../vda */
	assert_non_null(strstr(o.link, "vda"));
}

static void expect_badmsg(const struct rehearsal_input *in, const char *reason)
{
	struct outcome o;

	rehearse(in, &o);
	assert_int_equal(o.r, -EBADMSG);
	if (!strstr(o.err, reason))
		fail_msg("reason \"%s\" not in \"%s\"", reason, o.err);
	/* nothing is left for anyone to act on */
	assert_string_equal(o.state, "");
}

static void test_wrong_digests(void **state)
{
	struct rehearsal_input in = rehearsal_builtin;
	char bad[129];

	/* the document's own algorithm (sha384) */
	util_strlcpy(bad, in.sha384, sizeof(bad));
	bad[0] = bad[0] == '0' ? '1' : '0';
	in.sha384 = bad;
	expect_badmsg(&in, "the document's digest is sha384:");
	/* and the other two */
	in = rehearsal_builtin;
	util_strlcpy(bad, in.sha256, sizeof(bad));
	bad[63] = bad[63] == 'a' ? 'b' : 'a';
	in.sha256 = bad;
	expect_badmsg(&in, "sha256 of the built-in document is ");
	in = rehearsal_builtin;
	util_strlcpy(bad, in.sha512, sizeof(bad));
	bad[10] = bad[10] == 'f' ? 'e' : 'f';
	in.sha512 = bad;
	expect_badmsg(&in, "sha512 of the built-in document is ");
}

static void test_corrupt_image(void **state)
{
	struct rehearsal_input in = rehearsal_builtin;
	unsigned char *img = malloc(in.image_size);

	assert_non_null(img);
	/* a byte inside the deflate data: inflate refuses it */
	memcpy(img, in.image, in.image_size);
	img[16 + 40] ^= 0x55;
	in.image = img;
	expect_badmsg(&in, "initdata gzip stream is corrupt");
	/* no magic: not a format the probe knows */
	memcpy(img, in.image, in.image_size);
	img[0] = 'X';
	expect_badmsg(&in, "unrecognised initdata format");
	free(img);
}

static void test_doc_size_differs(void **state)
{
	struct rehearsal_input in = rehearsal_builtin;

	in.doc_size++;
	expect_badmsg(&in, "the image gave kata-raw of ");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_builtin_passes),
		cmocka_unit_test(test_wrong_digests),
		cmocka_unit_test(test_corrupt_image),
		cmocka_unit_test(test_doc_size_differs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
