/* SPDX-License-Identifier: Apache-2.0 */
/* The rehearsal (src/rehearsal.c), run for real in a child with a mount
 * namespace and a tmpfs of its own: the built-in image passes; the files,
 * the by-id link and state.json it leaves are what the boot would leave,
 * with the digest coreutils' sha384sum gives for the extracted document; and
 * every way its results can differ from the expected ones (a digest, a
 * corrupted image, a document of another size) is -EBADMSG with the reason
 * named. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "cocoinit/cmdline.h"
#include "cocoinit/rehearsal.h"
#include "cocoinit/util.h"

/* What a child saw: rehearsal_run()'s result and reason, and what it left. */
struct outcome {
	int r;
	char err[256];
	char state[8192];
	char digest_file[160]; /* sha384sum of <dir>/initdata/initdata.toml */
	char link[128];        /* <dir>/dev/disk/by-id/virtio-rehearsal */
	char aa_head[32];
	int files;             /* of aa.toml, cdh.toml, policy.rego, mode 0400 */
};

static void read_small(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, size - 1);

	buf[n > 0 ? n : 0] = '\0';
	if (fd >= 0)
		close(fd);
}

/* Runs the rehearsal of in in a child, in a private mount namespace on a
 * tmpfs, and collects what it left behind. */
static void rehearse(const struct rehearsal_input *in, struct outcome *o)
{
	struct outcome *shared = mmap(NULL, sizeof(*o), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	int status;
	pid_t pid;

	assert_true(shared != MAP_FAILED);
	memset(shared, 0, sizeof(*shared));
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char top[] = "/tmp/cocoinit-rehearsal-XXXXXX", dir[128], path[256], cmd[512];
		struct config cfg;
		struct stat st;
		int rootfd;
		FILE *p;

		if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
		    !mkdtemp(top) || mount("tmpfs", top, "tmpfs", 0, "mode=0755") < 0)
			_exit(90);
		snprintf(dir, sizeof(dir), "%s/r", top);
		snprintf(path, sizeof(path), "%s/run", top);
		if (mkdir(dir, 0755) < 0 || mkdir(path, 0755) < 0 || mkdir(strcat(path, "/cocoinit"), 0755) < 0)
			_exit(91);
		rootfd = open(top, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		cmdline_defaults(&cfg);
		shared->r = rehearsal_run(rootfd, dir, &cfg, in, shared->err, sizeof(shared->err));
		snprintf(path, sizeof(path), "%s/run/cocoinit/state.json", top);
		read_small(path, shared->state, sizeof(shared->state));
		snprintf(cmd, sizeof(cmd), "sha384sum %s/initdata/initdata.toml 2>/dev/null", dir);
		p = popen(cmd, "r");
		if (p) {
			if (!fgets(shared->digest_file, sizeof(shared->digest_file), p))
				shared->digest_file[0] = '\0';
			pclose(p);
		}
		snprintf(path, sizeof(path), "%s/dev/disk/by-id/virtio-rehearsal", dir);
		ssize_t n = readlink(path, shared->link, sizeof(shared->link) - 1);
		shared->link[n > 0 ? n : 0] = '\0';
		snprintf(path, sizeof(path), "%s/initdata/aa.toml", dir);
		read_small(path, shared->aa_head, sizeof(shared->aa_head));
		for (const char *const *f = (const char *const[]){ "aa.toml", "cdh.toml", "policy.rego", NULL }; *f; f++) {
			snprintf(path, sizeof(path), "%s/initdata/%s", dir, *f);
			if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 07777) == 0400)
				shared->files++;
		}
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	*o = *shared;
	munmap(shared, sizeof(*shared));
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
