/* SPDX-License-Identifier: Apache-2.0 */
/* Module loading against a fake lib/modules/<release> tree and against this
 * machine's real modules.dep: sys_finit_module() is replaced
 * (-Wl,--wrap=sys_finit_module) and records which file each call got, so the
 * tests assert the load order, that shared dependencies load once, that
 * EEXIST is fine, and the error a user sees. */
#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cmocka.h>

#include "cocoinit/log.h"
#include "cocoinit/modules.h"
#include "cocoinit/util.h"
#include "tree.h"

#define REL "6.0-test"

static char loaded[64][64]; /* basenames without ".ko", in load order */
static size_t n_loaded;
static const char *fail_name; /* finit_module of this file fails with fail_errno */
static const char *fail_name2; /* and of this one */
static int fail_errno;
static char *root;

int __wrap_sys_finit_module(int fd, const char *params, int flags);

int __wrap_sys_finit_module(int fd, const char *params, int flags)
{
	char link[64], path[4096];
	ssize_t n;
	const char *base;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, path, sizeof(path) - 1);
	assert_true(n > 0);
	path[n] = '\0';
	assert_string_equal(params, "");
	assert_int_equal(flags, 0);
	/* The fd is the module file, opened read-only. */
	assert_int_equal(fcntl(fd, F_GETFL) & O_ACCMODE, O_RDONLY);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	base = strrchr(path, '/') + 1;
	assert_true(n_loaded < 64);
	snprintf(loaded[n_loaded], sizeof(loaded[0]), "%.*s", (int)(strlen(base) - 3), base);
	n_loaded++;
	if ((fail_name && strcmp(loaded[n_loaded - 1], fail_name) == 0) ||
	    (fail_name2 && strcmp(loaded[n_loaded - 1], fail_name2) == 0))
		return -fail_errno;
	return 0;
}

static const char manifest[] =
	"file lib/modules/" REL "/modules.dep "
	"kernel/a.ko: kernel/b.ko kernel/c.ko\\n"
	"kernel/b.ko: kernel/c.ko\\n"
	"kernel/c.ko:\\n"
	"\\n"
	"kernel/drivers/nvme/host/nvme-core.ko:\\n"
	"kernel/drivers/nvme/host/nvme.ko: kernel/drivers/nvme/host/nvme-core.ko kernel/lib/crc-t10dif.ko\\n"
	"kernel/lib/crc-t10dif.ko:\\n"
	"kernel/x.ko.xz:\\n"
	"kernel/y.ko: kernel/x.ko.xz\\n"
	"kernel/loop1.ko: kernel/loop2.ko\\n"
	"kernel/loop2.ko: kernel/loop1.ko\\n"
	"kernel/missingdep.ko: kernel/ghost.ko\\n"
	"kernel/nofile.ko:\\n"
	"/opt/extra/ext.ko: kernel/c.ko\\n"
	"kernel/fs/erofs/erofs.ko: kernel/lib/libcrc32c.ko\\n"
	"kernel/lib/libcrc32c.ko:\\n"
	"kernel/arch/x86/crypto/crc32c-intel.ko:\\n"
	"kernel/crypto/crc32c_generic.ko:\\n"
	"kernel/fs/myfs.ko: kernel/fs/jbd.ko\\n"
	"kernel/fs/jbd.ko:\\n"
	"kernel/fs/helper.ko:\\n"
	"kernel/cyc1.ko:\\n"
	"kernel/cyc2.ko:\\n"
	"kernel/last.ko:\n"
	"file lib/modules/" REL "/modules.builtin kernel/drivers/block/virtio_blk.ko\\nkernel/fs/ext4/ext4.ko\\n\n"
	"file lib/modules/" REL "/modules.softdep # Soft dependencies extracted from modules themselves.\\n"
	"softdep libcrc32c pre: crc32c\\n"
	"softdep myfs pre: crypto-crc32c ghost-alias post: helper\\n"
	"softdep jbd pre: crypto-crc32c\\n"
	"softdep cyc1 pre: cyc2\\n"
	"softdep cyc2 pre: cyc1\\n\n"
	"file lib/modules/" REL "/modules.alias # Aliases extracted from modules themselves.\\n"
	"alias crypto-crc32c-intel crc32c_intel\\n"
	"alias crypto-crc32c crc32c_intel\\n"
	"alias crc32c crc32c_intel\\n"
	"alias cpu:type:x86,ven*fam*mod*:feature:*0094* crc32c_intel\\n"
	"alias crypto-crc32c crc32c_generic\\n"
	"alias crc32c crc32c_generic\\n"
	"alias fs-my* myfs\\n"
	"alias nothing-here notinthetree\\n\n"
	"file lib/modules/" REL "/kernel/fs/erofs/erofs.ko x\n"
	"file lib/modules/" REL "/kernel/lib/libcrc32c.ko x\n"
	"file lib/modules/" REL "/kernel/arch/x86/crypto/crc32c-intel.ko x\n"
	"file lib/modules/" REL "/kernel/crypto/crc32c_generic.ko x\n"
	"file lib/modules/" REL "/kernel/fs/myfs.ko x\n"
	"file lib/modules/" REL "/kernel/fs/jbd.ko x\n"
	"file lib/modules/" REL "/kernel/fs/helper.ko x\n"
	"file lib/modules/" REL "/kernel/cyc1.ko x\n"
	"file lib/modules/" REL "/kernel/cyc2.ko x\n"
	"file lib/modules/" REL "/kernel/a.ko a\n"
	"file lib/modules/" REL "/kernel/b.ko b\n"
	"file lib/modules/" REL "/kernel/c.ko c\n"
	"file lib/modules/" REL "/kernel/drivers/nvme/host/nvme-core.ko x\n"
	"file lib/modules/" REL "/kernel/drivers/nvme/host/nvme.ko x\n"
	"file lib/modules/" REL "/kernel/lib/crc-t10dif.ko x\n"
	"file lib/modules/" REL "/kernel/x.ko.xz x\n"
	"file lib/modules/" REL "/kernel/y.ko x\n"
	"file lib/modules/" REL "/kernel/loop1.ko x\n"
	"file lib/modules/" REL "/kernel/loop2.ko x\n"
	"file lib/modules/" REL "/kernel/missingdep.ko x\n"
	"file lib/modules/" REL "/kernel/last.ko x\n"
	"file opt/extra/ext.ko x\n";

static int setup(void **state)
{
	(void)state;
	n_loaded = 0;
	fail_name = fail_name2 = NULL;
	fail_errno = 0;
	root = tree_from_manifest(manifest);
	assert_non_null(root);
	return 0;
}

static int teardown(void **state)
{
	tree_clear(&root);
	return 0;
}

static int load(const char *const *names, size_t n, char *err, size_t errsz)
{
	char list[16][64];
	int fd = tree_open(root), r;

	assert_true(fd >= 0);
	assert_true(n <= 16);
	memset(list, 0, sizeof(list));
	for (size_t i = 0; i < n; i++)
		snprintf(list[i], sizeof(list[i]), "%s", names[i]);
	err[0] = '\0';
	r = modules_load(fd, REL, (const char(*)[64])list, n, err, errsz);
	close(fd);
	return r;
}

static void assert_loaded(const char *const *want, size_t n)
{
	for (size_t i = 0; i < n && i < n_loaded; i++)
		assert_string_equal(loaded[i], want[i]);
	assert_int_equal(n_loaded, n);
}

static void test_deps_first(void **state)
{
	char err[256];
	static const char *const names[] = { "a" };
	static const char *const want[] = { "c", "b", "a" };

	(void)state;
	assert_int_equal(load(names, 1, err, sizeof(err)), 0);
	assert_string_equal(err, "");
	assert_loaded(want, 3);
}

static void test_shared_once(void **state)
{
	char err[256];
	static const char *const names[] = { "b", "a", "c", "b" };
	static const char *const want[] = { "c", "b", "a" };

	(void)state;
	assert_int_equal(load(names, 4, err, sizeof(err)), 0);
	assert_loaded(want, 3);
}

static void test_dash_underscore(void **state)
{
	char err[256];
	static const char *const names[] = { "nvme_core", "crc_t10dif" };
	static const char *const want[] = { "nvme-core", "crc-t10dif" };
	static const char *const names2[] = { "nvme" };
	/* modules.dep's last dependency loads first, as with modprobe. */
	static const char *const want2[] = { "crc-t10dif", "nvme-core", "nvme" };

	(void)state;
	assert_int_equal(load(names, 2, err, sizeof(err)), 0);
	assert_loaded(want, 2);
	n_loaded = 0;
	assert_int_equal(load(names2, 1, err, sizeof(err)), 0);
	assert_loaded(want2, 3);
}

static void test_eexist_fine(void **state)
{
	char err[256];
	static const char *const names[] = { "a" };
	static const char *const want[] = { "c", "b", "a" };

	(void)state;
	fail_name = "c";
	fail_errno = EEXIST;
	assert_int_equal(load(names, 1, err, sizeof(err)), 0);
	assert_string_equal(err, "");
	assert_loaded(want, 3);
}

static void test_finit_error(void **state)
{
	char err[256];
	static const char *const names[] = { "nvme", "a" };
	static const char *const want[] = { "crc-t10dif" };

	(void)state;
	fail_name = "crc-t10dif";
	fail_errno = ENOEXEC;
	assert_int_equal(load(names, 2, err, sizeof(err)), -ENOEXEC);
	assert_string_equal(err, "module crc-t10dif (kernel/lib/crc-t10dif.ko): finit_module: Exec format error");
	/* Nothing after the failure is loaded. */
	assert_loaded(want, 1);
}

static void test_not_found(void **state)
{
	char err[256];
	static const char *const names[] = { "a", "virtio_scsi" };
	static const char *const want[] = { "c", "b", "a" };

	(void)state;
	assert_int_equal(load(names, 2, err, sizeof(err)), -ENOENT);
	assert_string_equal(err, "module virtio_scsi not found in lib/modules/" REL "/modules.dep");
	assert_loaded(want, 3);
}

static void test_builtin(void **state)
{
	char err[256];
	static const char *const names[] = { "virtio-blk", "ext4", "c" };
	static const char *const want[] = { "c" };

	(void)state;
	/* Built into the kernel: nothing to load, and no error. */
	assert_int_equal(load(names, 3, err, sizeof(err)), 0);
	assert_loaded(want, 1);
}

static void test_broken_entries(void **state)
{
	char err[256];
	static const char *const y[] = { "y" };
	static const char *const loop[] = { "loop2" };
	static const char *const dep[] = { "missingdep" };
	static const char *const nofile[] = { "nofile" };
	static const char *const ext[] = { "ext", "last" };
	static const char *const want_ext[] = { "c", "ext", "last" };

	(void)state;
	assert_int_equal(load(y, 1, err, sizeof(err)), -ENOTSUP);
	assert_string_equal(err, "module x: kernel/x.ko.xz is compressed or not a .ko file; only uncompressed .ko "
				 "modules are supported");
	assert_int_equal(load(loop, 1, err, sizeof(err)), -ELOOP);
	assert_string_equal(err, "module loop2: dependency loop in lib/modules/" REL "/modules.dep");
	assert_int_equal(load(dep, 1, err, sizeof(err)), -ENOENT);
	assert_string_equal(err, "module missingdep needs ghost, which is not in lib/modules/" REL "/modules.dep");
	assert_int_equal(load(nofile, 1, err, sizeof(err)), -ENOENT);
	assert_string_equal(err, "module nofile: open lib/modules/" REL "/kernel/nofile.ko: No such file or directory");
	assert_int_equal(n_loaded, 0);
	/* An absolute path is below rootfd; the last line needs no newline. */
	assert_int_equal(load(ext, 2, err, sizeof(err)), 0);
	assert_loaded(want_ext, 3);
}

static void test_bad_tree(void **state)
{
	char err[256], list[1][64] = { "a" };
	int fd = tree_open(root);

	(void)state;
	assert_int_equal(modules_load(fd, "none", (const char(*)[64])list, 1, err, sizeof(err)), -ENOENT);
	assert_string_equal(err, "lib/modules/none: No such file or directory");
	assert_int_equal(modules_load(fd, "..", (const char(*)[64])list, 1, err, sizeof(err)), -EINVAL);
	assert_int_equal(modules_load(fd, "a/b", (const char(*)[64])list, 1, err, sizeof(err)), -EINVAL);
	/* Nothing asked, nothing read. */
	assert_int_equal(modules_load(fd, "none", (const char(*)[64])list, 0, err, sizeof(err)), 0);

	assert_int_equal(mkdirat(fd, "lib/modules/empty", 0755), 0);
	assert_int_equal(modules_load(fd, "empty", (const char(*)[64])list, 1, err, sizeof(err)), -ENOENT);
	assert_string_equal(err, "lib/modules/empty/modules.dep: No such file or directory");

	/* Bounded: a modules.dep beyond 16 MiB is refused before it is read. */
	int f = openat(fd, "lib/modules/empty/modules.dep", O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	assert_true(f >= 0);
	assert_int_equal(ftruncate(f, 17 * 1024 * 1024), 0);
	close(f);
	assert_int_equal(modules_load(fd, "empty", (const char(*)[64])list, 1, err, sizeof(err)), -EFBIG);
	assert_string_equal(err, "lib/modules/empty/modules.dep is larger than 16777216 bytes");
	assert_int_equal(n_loaded, 0);
	close(fd);
}

/* What the core logged while f ran, at debug level. */
static char logged[4096];

static int saved_level;

static void log_capture_start(int *fd)
{
	*fd = memfd_create("log", MFD_CLOEXEC);
	assert_true(*fd >= 0);
	log_set_fd(*fd, LOG_SINK_PLAIN);
	saved_level = log_get_level();
	log_set_level(LOG_LVL_DEBUG);
}

static void log_capture_end(int fd)
{
	ssize_t n = pread(fd, logged, sizeof(logged) - 1, 0);

	assert_true(n >= 0);
	logged[n] = '\0';
	log_set_fd(2, LOG_SINK_PLAIN);
	log_set_level(saved_level);
	close(fd);
}

static void test_softdep_alias(void **state)
{
	char err[512];
	static const char *const names[] = { "erofs" };
	/* libcrc32c's pre softdep crc32c is an alias of both: the one that
	 * fails under TCG is tried, the generic one loads, then the chain */
	static const char *const want[] = { "crc32c-intel", "crc32c_generic", "libcrc32c", "erofs" };
	int fd;

	(void)state;
	fail_name = "crc32c-intel";
	fail_errno = ENODEV;
	log_capture_start(&fd);
	assert_int_equal(load(names, 1, err, sizeof(err)), 0);
	log_capture_end(fd);
	assert_string_equal(err, "");
	assert_loaded(want, 4);
	/* which one failed is said, and not as an error */
	assert_non_null(strstr(logged, "module alias crc32c: 1 of 2 modules loaded; failed: crc32c-intel (module "
					"crc32c-intel (kernel/arch/x86/crypto/crc32c-intel.ko): finit_module: No such "
					"device)"));
	assert_null(strstr(logged, "warning"));
}

static void test_alias_requested(void **state)
{
	char err[512];
	static const char *const crc[] = { "crc32c" };
	static const char *const want_crc[] = { "crc32c-intel", "crc32c_generic" };
	static const char *const fs[] = { "fs-myfs" };
	static const char *const want_fs[] = { "crc32c-intel", "crc32c_generic", "jbd", "myfs", "helper" };

	(void)state;
	/* every module the alias names is loaded */
	assert_int_equal(load(crc, 1, err, sizeof(err)), 0);
	assert_loaded(want_crc, 2);
	/* a wildcard alias, with myfs's soft dependencies (each call starts
	 * afresh: the kernel says EEXIST for what is loaded) */
	n_loaded = 0;
	assert_int_equal(load(fs, 1, err, sizeof(err)), 0);
	assert_string_equal(err, "");
	assert_loaded(want_fs, 5);
}

static void test_alias_none_loads(void **state)
{
	char err[512];
	static const char *const names[] = { "crc32c" };
	static const char *const erofs[] = { "erofs" };

	(void)state;
	fail_name = "crc32c-intel";
	fail_name2 = "crc32c_generic";
	fail_errno = ENODEV;
	assert_int_equal(load(names, 1, err, sizeof(err)), -ENODEV);
	assert_string_equal(err, "module crc32c: no module for this alias loaded: crc32c-intel (module crc32c-intel "
				 "(kernel/arch/x86/crypto/crc32c-intel.ko): finit_module: No such device), "
				 "crc32c_generic (module crc32c_generic (kernel/crypto/crc32c_generic.ko): "
				 "finit_module: No such device)");
	/* as a soft dependency it is only a warning: libcrc32c and erofs are
	 * still loaded (on a real kernel libcrc32c would then fail itself) */
	static const char *const want[] = { "crc32c-intel", "crc32c_generic", "libcrc32c", "erofs" };
	int fd;
	n_loaded = 0;
	log_capture_start(&fd);
	int r = load(erofs, 1, err, sizeof(err));
	log_capture_end(fd);
	assert_int_equal(r, 0);
	assert_string_equal(err, "");
	assert_loaded(want, 4);
	assert_non_null(strstr(logged, "warning: module libcrc32c: soft dependency crc32c not loaded: module crc32c: "
				       "no module for this alias loaded: "));
}

static void test_softdep_order(void **state)
{
	char err[512];
	static const char *const names[] = { "myfs" };
	/* pre softdeps, hard deps (with their own softdeps, loaded already),
	 * the module, post softdeps */
	static const char *const want[] = { "crc32c-intel", "crc32c_generic", "jbd", "myfs", "helper" };
	static const char *const cyc[] = { "cyc1" };
	static const char *const want_cyc[] = { "cyc2", "cyc1" };
	int fd;

	(void)state;
	log_capture_start(&fd);
	assert_int_equal(load(names, 1, err, sizeof(err)), 0);
	log_capture_end(fd);
	assert_string_equal(err, "");
	assert_loaded(want, 5);
	/* one that is nowhere is only a debug line, as modprobe says nothing */
	assert_non_null(strstr(logged, "cocoinit: module myfs: soft dependency ghost-alias: module ghost-alias not "
				       "found in lib/modules/" REL "/modules.dep"));
	assert_null(strstr(logged, "warning"));
	/* soft dependencies in a circle end, each module once */
	n_loaded = 0;
	assert_int_equal(load(cyc, 1, err, sizeof(err)), 0);
	assert_loaded(want_cyc, 2);
}

static void test_alias_bounded(void **state)
{
	char err[512];
	static const char *const names[] = { "crc32c" };
	static const char *const plain[] = { "a" };
	char path[512];

	(void)state;
	snprintf(path, sizeof(path), "%s/lib/modules/" REL "/modules.alias", root);
	assert_int_equal(truncate(path, 17 * 1024 * 1024), 0);
	assert_int_equal(load(names, 1, err, sizeof(err)), -EFBIG);
	assert_string_equal(err, "lib/modules/" REL "/modules.alias is larger than 16777216 bytes");
	assert_int_equal(n_loaded, 0);
	/* not read when no alias is needed */
	assert_int_equal(load(plain, 1, err, sizeof(err)), 0);
	/* without modules.softdep and modules.alias: no soft dependencies, no aliases */
	snprintf(path, sizeof(path), "%s/lib/modules/" REL "/modules.alias", root);
	assert_int_equal(unlink(path), 0);
	snprintf(path, sizeof(path), "%s/lib/modules/" REL "/modules.softdep", root);
	assert_int_equal(unlink(path), 0);
	n_loaded = 0;
	static const char *const erofs[] = { "erofs" };
	static const char *const want[] = { "libcrc32c", "erofs" };
	assert_int_equal(load(erofs, 1, err, sizeof(err)), 0);
	assert_loaded(want, 2);
	assert_int_equal(load(names, 1, err, sizeof(err)), -ENOENT);
	assert_string_equal(err, "module crc32c not found in lib/modules/" REL "/modules.dep");
}

static void glob_same(const char *p, const char *s)
{
	bool want = fnmatch(p, s, 0) == 0;

	if (modules_glob(p, s) != want)
		fail_msg("modules_glob(\"%s\", \"%s\") is %d, fnmatch says %d", p, s, !want, want);
}

/* The alias patterns match as fnmatch(3) says: hand-picked cases, then every
 * pattern of this machine's modules.alias against names made from them. */
static void test_glob(void **state)
{
	static const char *const cases[][2] = {
		{ "crc32c", "crc32c" }, { "crc32c", "crc32" }, { "crc32", "crc32c" }, { "fs-my*", "fs-myfs" },
		{ "*", "" }, { "*", "x" }, { "", "" }, { "", "x" }, { "a*b*c", "aXbYc" }, { "a*b*c", "aXbYcZ" },
		{ "a?c", "abc" }, { "a?c", "ac" }, { "[abc]x", "bx" }, { "[abc]x", "dx" }, { "[!abc]x", "dx" },
		{ "[!abc]x", "ax" }, { "[^a]", "b" }, { "[a-f]0", "e0" }, { "[a-f]0", "g0" }, { "[]a]", "]" },
		{ "[!]a]", "b" }, { "[a-]", "-" }, { "[abc", "[abc" }, { "[abc", "a" }, { "\\*", "*" },
		{ "\\*", "x" }, { "**a", "bba" }, { "*a*", "bab" }, { "*:v00001AF4d*sv*", "pci:v00001AF4d00001001sv00" },
		{ "pci:v00008086d*sv*sd*bc*sc*i*", "pci:v00008086d00001234sv0sd0bc01sc06i01" },
		{ "cpu:type:x86,ven*fam*mod*:feature:*0094*", "cpu:type:x86,ven0000fam0006mod003A:feature:,0094," },
		{ "acpi*:PNP0C0[9A]:*", "acpi:PNP0C0A:" }, { "acpi*:PNP0C0[9A]:*", "acpi:PNP0C0B:" },
	};
	char path[512], rel[256], line[4096];
	unsigned n = 0;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		glob_same(cases[i][0], cases[i][1]);

	/* and the real file, when this machine has one */
	struct utsname u;
	assert_int_equal(uname(&u), 0);
	snprintf(rel, sizeof(rel), "%s", u.release);
	snprintf(path, sizeof(path), "/lib/modules/%s/modules.alias", rel);
	FILE *f = fopen(path, "re");
	if (!f) {
		DIR *d = opendir("/lib/modules");
		struct dirent *de;
		while (!f && d && (de = readdir(d))) {
			snprintf(path, sizeof(path), "/lib/modules/%.200s/modules.alias", de->d_name);
			if (de->d_name[0] != '.')
				f = fopen(path, "re");
		}
		if (d)
			closedir(d);
	}
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char pat[1024], name[1024], other[1100];
		if (sscanf(line, "alias %1023s", pat) != 1)
			continue;
		/* a name it should match, one a character off, and every other pattern's */
		size_t o = 0;
		for (const char *c = pat; *c && o < sizeof(name) - 2; c++) {
			if (*c == '*')
				name[o++] = 'Z';
			else if (*c == '?')
				name[o++] = 'q';
			else if (*c == '[') {
				const char *e = strchr(c + 1, ']');
				name[o++] = c[1] == '!' ? '~' : c[1];
				c = e ? e : c;
			} else if (*c != '\\')
				name[o++] = *c;
		}
		name[o] = '\0';
		glob_same(pat, name);
		snprintf(other, sizeof(other), "%sX", name);
		glob_same(pat, other);
		if (o > 1) {
			name[o / 2] ^= 1;
			glob_same(pat, name);
		}
		n++;
	}
	fclose(f);
	print_message("%u patterns of %s compared with fnmatch\n", n, path);
}

static ssize_t loaded_index(const char *base, size_t len)
{
	for (size_t i = 0; i < n_loaded; i++)
		if (strlen(loaded[i]) == len && memcmp(loaded[i], base, len) == 0)
			return (ssize_t)i;
	return -1;
}

/* Every loaded module comes after each hard dependency modules.dep lists. */
static void assert_dependency_order(const char *path)
{
	FILE *f = fopen(path, "re");
	char line[8192];
	unsigned checked = 0;

	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		char *colon = strchr(line, ':'), *tok, *save;
		if (!colon)
			continue;
		*colon = '\0';
		const char *b = strrchr(line, '/') ? strrchr(line, '/') + 1 : line;
		ssize_t me = loaded_index(b, strlen(b) - 3);
		if (me < 0)
			continue;
		for (tok = strtok_r(colon + 1, " \n", &save); tok; tok = strtok_r(NULL, " \n", &save)) {
			const char *db = strrchr(tok, '/') ? strrchr(tok, '/') + 1 : tok;
			ssize_t dep = loaded_index(db, strlen(db) - 3);
			if (dep < 0 || dep >= me)
				fail_msg("%s loaded at %zd, its dependency %s at %zd", b, me, db, dep);
			checked++;
		}
	}
	fclose(f);
	assert_true(checked >= 8);
}

/* The Debian kernel of this machine (the running one's modules, else the
 * one installed for the boot tests) in *rel; skips when there is none. */
static void real_release(char *rel, size_t size)
{
	char path[512];
	struct utsname u;
	struct stat st;

	rel[0] = '\0';
	assert_int_equal(uname(&u), 0);
	snprintf(path, sizeof(path), "/lib/modules/%s/modules.dep", u.release);
	if (stat(path, &st) == 0) {
		snprintf(rel, size, "%s", u.release);
	} else {
		DIR *d = opendir("/lib/modules");
		struct dirent *de;
		while (d && (de = readdir(d))) {
			snprintf(path, sizeof(path), "/lib/modules/%s/modules.dep", de->d_name);
			if (de->d_name[0] != '.' && strlen(de->d_name) < 64 && stat(path, &st) == 0) {
				snprintf(rel, size, "%s", de->d_name);
				break;
			}
		}
		if (d)
			closedir(d);
	}
	if (!rel[0]) {
		print_message("skipped: no /lib/modules/*/modules.dep on this machine\n");
		skip();
	}
}

static void load_real(const char *rel, const char *const *names, size_t n)
{
	char err[512], list[8][64];
	int fd, r;

	assert_true(n <= 8);
	for (size_t i = 0; i < n; i++)
		snprintf(list[i], sizeof(list[i]), "%s", names[i]);
	fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(fd >= 0);
	r = modules_load(fd, rel, (const char(*)[64])list, n, err, sizeof(err));
	if (r < 0)
		print_error("modules_load(%s): %s\n", rel, err);
	assert_int_equal(r, 0);
	close(fd);
}

/* The modules loaded are want, in any order: the order inside a
 * modules.dep line differs between builds of one kernel series. */
static void assert_loaded_set(const char *const *want, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (loaded_index(want[i], strlen(want[i])) < 0)
			fail_msg("%s was not loaded", want[i]);
	assert_int_equal(n_loaded, n);
}

/* The chains the boot tests load, in an order valid for any build. */
static void test_real_modules_dep(void **state)
{
	static const char *const names[] = { "virtio_pci", "virtio_blk", "vsock_loopback" };
	static const char *const want[] = { "virtio_ring", "virtio", "virtio_pci_modern_dev", "virtio_pci_legacy_dev",
					    "virtio_pci", "virtio_blk", "vsock", "vmw_vsock_virtio_transport_common",
					    "vsock_loopback" };
	char rel[256], path[512];

	(void)state;
	real_release(rel, sizeof(rel));
	load_real(rel, names, ARRAY_SIZE(names));
	assert_loaded_set(want, ARRAY_SIZE(want));
	snprintf(path, sizeof(path), "/lib/modules/%s/modules.dep", rel);
	assert_dependency_order(path);
}

/* Every loaded module comes after the modules its pre soft dependencies
 * loaded (modules.softdep through modules.alias). */
static void assert_softdep_order(const char *rel)
{
	static const struct {
		const char *module, *before;
	} pre[] = { { "libcrc32c", "crc32c_generic" }, { "ext4", "crc32c_generic" }, { "jbd2", "crc32c_generic" } };

	for (size_t i = 0; i < ARRAY_SIZE(pre); i++) {
		ssize_t me = loaded_index(pre[i].module, strlen(pre[i].module));
		ssize_t dep = loaded_index(pre[i].before, strlen(pre[i].before));
		if (me < 0)
			continue;
		if (dep < 0 || dep > me)
			fail_msg("%s loaded at %zd, its soft dependency %s at %zd (%s)", pre[i].module, me, pre[i].before,
				 dep, rel);
	}
}

/* What cocoinit.modules=dm_verity,erofs and ext4 need on Debian's kernel,
 * with crc32c-intel failing as it does under TCG. */
static void test_real_softdeps(void **state)
{
	static const char *const names[] = { "dm_verity", "erofs", "ext4" };
	char rel[256], path[512];

	(void)state;
	real_release(rel, sizeof(rel));
	fail_name = "crc32c-intel";
	fail_errno = ENODEV;
	load_real(rel, names, ARRAY_SIZE(names));
	for (size_t i = 0; i < n_loaded; i++)
		print_message("%s%s", i ? " " : "", loaded[i]);
	print_message("\n");
	static const char *const must[] = { "dm-mod", "dm-bufio", "reed_solomon", "dm-verity", "crc32c_generic",
					    "libcrc32c", "erofs", "jbd2", "mbcache", "crc16", "ext4" };
	for (size_t i = 0; i < ARRAY_SIZE(must); i++)
		if (loaded_index(must[i], strlen(must[i])) < 0)
			fail_msg("%s was not loaded", must[i]);
	snprintf(path, sizeof(path), "/lib/modules/%s/modules.dep", rel);
	assert_dependency_order(path);
	assert_softdep_order(rel);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_deps_first, setup, teardown),
		cmocka_unit_test_setup_teardown(test_shared_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dash_underscore, setup, teardown),
		cmocka_unit_test_setup_teardown(test_eexist_fine, setup, teardown),
		cmocka_unit_test_setup_teardown(test_finit_error, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_found, setup, teardown),
		cmocka_unit_test_setup_teardown(test_builtin, setup, teardown),
		cmocka_unit_test_setup_teardown(test_broken_entries, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_tree, setup, teardown),
		cmocka_unit_test_setup_teardown(test_softdep_alias, setup, teardown),
		cmocka_unit_test_setup_teardown(test_alias_requested, setup, teardown),
		cmocka_unit_test_setup_teardown(test_alias_none_loads, setup, teardown),
		cmocka_unit_test_setup_teardown(test_softdep_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_alias_bounded, setup, teardown),
		cmocka_unit_test(test_glob),
		cmocka_unit_test_setup_teardown(test_real_modules_dep, setup, teardown),
		cmocka_unit_test_setup_teardown(test_real_softdeps, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
