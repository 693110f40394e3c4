/* SPDX-License-Identifier: Apache-2.0 */
/* probe_fd against real images made here with the real tools (mkfs.ext4 -d,
 * mkfs.vfat + mcopy, genisoimage, mksquashfs, mkfs.erofs), a raw-format
 * image, a loop device, and contents libblkid can't or won't name. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "cocoinit/probe.h"
#include "cocoinit/util.h"

static char tmpdir[64];

static char *path_in(const char *name)
{
	static char p[4][256];
	static unsigned i;
	char *out = p[i++ % 4];
	snprintf(out, 256, "%s/%s", tmpdir, name);
	return out;
}

static void need_tool(const char *tool, const char *pkg)
{
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null 2>&1", tool);
	if (system(cmd) != 0)
		fail_msg("%s is missing: install %s (scripts/deps does)", tool, pkg);
}

static void run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void run(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;
	int r;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	r = system(cmd);
	if (r != 0)
		fail_msg("command failed (%d): %s", r, cmd);
}

static int setup(void **state)
{
	/* The mkfs tools live in sbin, which a test runner's PATH may lack. */
	const char *path = getenv("PATH");
	char newpath[4096];
	snprintf(newpath, sizeof(newpath), "%s:/usr/sbin:/sbin", path ? path : "/usr/bin:/bin");
	setenv("PATH", newpath, 1);
	setenv("MTOOLS_SKIP_CHECK", "1", 1);

	snprintf(tmpdir, sizeof(tmpdir), "/tmp/cocoinit-probe-XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
	run("mkdir -p '%s/src/dir' && printf 'version = \"0.1.0\"\\n' > '%s/src/initdata.toml'", tmpdir, tmpdir);
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static int probe_path(const char *path, char *out, size_t outsz)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int r;

	assert_true(fd >= 0);
	r = probe_fd(fd, out, outsz);
	close(fd);
	return r;
}

static void assert_probes_as(const char *image, const char *want)
{
	char type[PROBE_TYPE_MAX] = "";
	int r = probe_path(image, type, sizeof(type));

	if (r != 0 || strcmp(type, want) != 0)
		fail_msg("%s: probe_fd gave %d \"%s\", want \"%s\"", image, r, type, want);
	assert_true(probe_type_supported(type));
}

static void test_ext4(void **state)
{
	need_tool("mkfs.ext4", "e2fsprogs");
	run("mkfs.ext4 -q -F -d '%s' '%s' 8M >/dev/null", path_in("src"), path_in("ext4.img"));
	assert_probes_as(path_in("ext4.img"), "ext4");
}

static void test_vfat(void **state)
{
	need_tool("mkfs.vfat", "dosfstools");
	need_tool("mcopy", "mtools");
	run("truncate -s 4M '%s' && mkfs.vfat '%s' >/dev/null && mcopy -i '%s' '%s' ::/", path_in("vfat.img"),
	    path_in("vfat.img"), path_in("vfat.img"), path_in("src/initdata.toml"));
	assert_probes_as(path_in("vfat.img"), "vfat");
}

static void test_iso9660(void **state)
{
	need_tool("genisoimage", "genisoimage");
	run("genisoimage -quiet -V INITDATA -r -J -o '%s' '%s'", path_in("iso.img"), path_in("src"));
	assert_probes_as(path_in("iso.img"), "iso9660");
}

static void test_squashfs(void **state)
{
	need_tool("mksquashfs", "squashfs-tools");
	run("mksquashfs '%s' '%s' -noappend -quiet >/dev/null", path_in("src"), path_in("sq.img"));
	assert_probes_as(path_in("sq.img"), "squashfs");
}

static void test_erofs(void **state)
{
	need_tool("mkfs.erofs", "erofs-utils");
	run("mkfs.erofs '%s' '%s' >/dev/null 2>&1", path_in("erofs.img"), path_in("src"));
	assert_probes_as(path_in("erofs.img"), "erofs");
}

static void test_kata_raw(void **state)
{
	char type[PROBE_TYPE_MAX];
	int fd = open(path_in("raw.img"), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	assert_true(fd >= 0);
	/* The magic decides, whatever follows (even garbage). */
	assert_int_equal(util_write_all(fd, "initdata\x05\0\0\0\0\0\0\0xxxxx", 21), 0);
	assert_int_equal(ftruncate(fd, 512), 0);
	close(fd);
	assert_int_equal(probe_path(path_in("raw.img"), type, sizeof(type)), 0);
	assert_string_equal(type, "kata-raw");
	assert_false(probe_type_supported(type)); /* extracted, never mounted */

	/* too small an output buffer is an error, not a cut name */
	strcpy(type, "unchanged");
	assert_int_equal(probe_path(path_in("raw.img"), type, 8), -ENOBUFS);
}

static void test_loop_device(void **state)
{
	char cmd[512], dev[64] = "", type[PROBE_TYPE_MAX] = "";
	FILE *p;
	int r;

	need_tool("mkfs.ext4", "e2fsprogs");
	run("mkfs.ext4 -q -F -d '%s' '%s' 8M >/dev/null", path_in("src"), path_in("loop.img"));
	snprintf(cmd, sizeof(cmd), "losetup --find --show --read-only '%s'", path_in("loop.img"));
	p = popen(cmd, "r");
	assert_non_null(p);
	if (!fgets(dev, sizeof(dev), p))
		dev[0] = '\0';
	r = pclose(p);
	if (r != 0 || strncmp(dev, "/dev/loop", 9) != 0)
		fail_msg("losetup failed (%d): this test needs root and loop devices", r);
	dev[strcspn(dev, "\n")] = '\0';
	r = probe_path(dev, type, sizeof(type));
	snprintf(cmd, sizeof(cmd), "losetup -d %s", dev);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(r, 0);
	assert_string_equal(type, "ext4");
}

static void test_unknown(void **state)
{
	char type[PROBE_TYPE_MAX] = "unchanged";

	run("truncate -s 1M '%s'", path_in("zero.img"));
	assert_int_equal(probe_path(path_in("zero.img"), type, sizeof(type)), -ENOENT);
	assert_string_equal(type, "unchanged");

	run("head -c 65536 /dev/urandom > '%s'", path_in("random.img"));
	assert_int_equal(probe_path(path_in("random.img"), type, sizeof(type)), -ENOENT);

	/* shorter than the magic, and empty */
	run("printf init > '%s' && : > '%s'", path_in("short.img"), path_in("empty.img"));
	assert_int_equal(probe_path(path_in("short.img"), type, sizeof(type)), -ENOENT);
	assert_int_equal(probe_path(path_in("empty.img"), type, sizeof(type)), -ENOENT);
	assert_string_equal(type, "unchanged");
}

static void test_other_types(void **state)
{
	char type[PROBE_TYPE_MAX] = "";

	/* Named, but not a type cocoinit mounts. */
	need_tool("mkswap", "util-linux");
	run("truncate -s 1M '%s' && mkswap '%s' >/dev/null 2>&1", path_in("swap.img"), path_in("swap.img"));
	assert_int_equal(probe_path(path_in("swap.img"), type, sizeof(type)), 0);
	assert_string_equal(type, "swap");
	assert_false(probe_type_supported(type));
}

static void test_ambivalent(void **state)
{
	char type[PROBE_TYPE_MAX] = "unchanged";

	/* A FAT boot sector in ext4's unused first KiB: two valid signatures. */
	need_tool("mkfs.ext4", "e2fsprogs");
	need_tool("mkfs.vfat", "dosfstools");
	run("mkfs.ext4 -q -F '%s' 8M >/dev/null && truncate -s 8M '%s' && mkfs.vfat '%s' >/dev/null && "
	    "dd if='%s' of='%s' bs=512 count=1 conv=notrunc status=none",
	    path_in("amb.img"), path_in("fat.img"), path_in("fat.img"), path_in("fat.img"), path_in("amb.img"));
	assert_int_equal(probe_path(path_in("amb.img"), type, sizeof(type)), -ENOTUNIQ);
	assert_string_equal(type, "unchanged");
}

static void test_supported(void **state)
{
	assert_true(probe_type_supported("iso9660"));
	assert_true(probe_type_supported("vfat"));
	assert_true(probe_type_supported("ext4"));
	assert_true(probe_type_supported("erofs"));
	assert_true(probe_type_supported("squashfs"));
	assert_false(probe_type_supported("ext3"));
	assert_false(probe_type_supported("btrfs"));
	assert_false(probe_type_supported("Ext4"));
	assert_false(probe_type_supported("ext4 "));
	assert_false(probe_type_supported(""));
	assert_false(probe_type_supported(NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ext4),	    cmocka_unit_test(test_vfat),
		cmocka_unit_test(test_iso9660),	    cmocka_unit_test(test_squashfs),
		cmocka_unit_test(test_erofs),	    cmocka_unit_test(test_kata_raw),
		cmocka_unit_test(test_loop_device), cmocka_unit_test(test_unknown),
		cmocka_unit_test(test_other_types), cmocka_unit_test(test_ambivalent),
		cmocka_unit_test(test_supported),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
