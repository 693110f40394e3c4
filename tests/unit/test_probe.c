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
#include "fixture.h"

static int setup(void **state)
{
	fixture_dir_create("probe");
	setenv("MTOOLS_SKIP_CHECK", "1", 1);
	fixture_run("mkdir -p '%s' && printf 'version = \"0.1.0\"\\n' > '%s'", fixture_path("src/dir"),
		    fixture_path("src/initdata.toml"));
	return 0;
}

static int teardown(void **state)
{
	return fixture_dir_remove();
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
	fixture_need_tool("mkfs.ext4", "e2fsprogs");
	fixture_run("mkfs.ext4 -q -F -d '%s' '%s' 8M >/dev/null", fixture_path("src"), fixture_path("ext4.img"));
	assert_probes_as(fixture_path("ext4.img"), "ext4");
}

static void test_vfat(void **state)
{
	fixture_need_tool("mkfs.vfat", "dosfstools");
	fixture_need_tool("mcopy", "mtools");
	fixture_run("truncate -s 4M '%s' && mkfs.vfat '%s' >/dev/null && mcopy -i '%s' '%s' ::/", fixture_path("vfat.img"),
	    fixture_path("vfat.img"), fixture_path("vfat.img"), fixture_path("src/initdata.toml"));
	assert_probes_as(fixture_path("vfat.img"), "vfat");
}

static void test_iso9660(void **state)
{
	fixture_need_tool("genisoimage", "genisoimage");
	fixture_run("genisoimage -quiet -V INITDATA -r -J -o '%s' '%s'", fixture_path("iso.img"), fixture_path("src"));
	assert_probes_as(fixture_path("iso.img"), "iso9660");
}

static void test_squashfs(void **state)
{
	fixture_need_tool("mksquashfs", "squashfs-tools");
	fixture_run("mksquashfs '%s' '%s' -noappend -quiet >/dev/null", fixture_path("src"), fixture_path("sq.img"));
	assert_probes_as(fixture_path("sq.img"), "squashfs");
}

static void test_erofs(void **state)
{
	fixture_need_tool("mkfs.erofs", "erofs-utils");
	fixture_run("mkfs.erofs '%s' '%s' >/dev/null 2>&1", fixture_path("erofs.img"), fixture_path("src"));
	assert_probes_as(fixture_path("erofs.img"), "erofs");
}

static void test_kata_raw(void **state)
{
	char type[PROBE_TYPE_MAX];
	int fd = open(fixture_path("raw.img"), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	assert_true(fd >= 0);
	/* The magic decides, whatever follows (even garbage). */
	assert_int_equal(util_write_all(fd, "initdata\x05\0\0\0\0\0\0\0xxxxx", 21), 0);
	assert_int_equal(ftruncate(fd, 512), 0);
	close(fd);
	assert_int_equal(probe_path(fixture_path("raw.img"), type, sizeof(type)), 0);
	assert_string_equal(type, "kata-raw");
	assert_false(probe_type_supported(type)); /* extracted, never mounted */

	/* too small an output buffer is an error, not a cut name */
	strcpy(type, "unchanged");
	assert_int_equal(probe_path(fixture_path("raw.img"), type, 8), -ENOBUFS);
}

static void test_loop_device(void **state)
{
	char dev[64] = "", type[PROBE_TYPE_MAX] = "";
	int r;

	fixture_need_tool("mkfs.ext4", "e2fsprogs");
	fixture_run("mkfs.ext4 -q -F -d '%s' '%s' 8M >/dev/null", fixture_path("src"), fixture_path("loop.img"));
	fixture_loop_attach(fixture_path("loop.img"), dev, sizeof(dev));
	r = probe_path(dev, type, sizeof(type));
	fixture_loop_detach(dev);
	assert_int_equal(r, 0);
	assert_string_equal(type, "ext4");
}

static void test_unknown(void **state)
{
	char type[PROBE_TYPE_MAX] = "unchanged";

	fixture_run("truncate -s 1M '%s'", fixture_path("zero.img"));
	assert_int_equal(probe_path(fixture_path("zero.img"), type, sizeof(type)), -ENOENT);
	assert_string_equal(type, "unchanged");

	fixture_run("head -c 65536 /dev/urandom > '%s'", fixture_path("random.img"));
	assert_int_equal(probe_path(fixture_path("random.img"), type, sizeof(type)), -ENOENT);

	/* shorter than the magic, and empty */
	fixture_run("printf init > '%s' && : > '%s'", fixture_path("short.img"), fixture_path("empty.img"));
	assert_int_equal(probe_path(fixture_path("short.img"), type, sizeof(type)), -ENOENT);
	assert_int_equal(probe_path(fixture_path("empty.img"), type, sizeof(type)), -ENOENT);
	assert_string_equal(type, "unchanged");
}

static void test_other_types(void **state)
{
	char type[PROBE_TYPE_MAX] = "";

	/* Named, but not a type cocoinit mounts. */
	fixture_need_tool("mkswap", "util-linux");
	fixture_run("truncate -s 1M '%s' && mkswap '%s' >/dev/null 2>&1", fixture_path("swap.img"),
		    fixture_path("swap.img"));
	assert_int_equal(probe_path(fixture_path("swap.img"), type, sizeof(type)), 0);
	assert_string_equal(type, "swap");
	assert_false(probe_type_supported(type));
}

static void test_ambivalent(void **state)
{
	char type[PROBE_TYPE_MAX] = "unchanged";

	/* A FAT boot sector in ext4's unused first KiB: two valid signatures. */
	fixture_need_tool("mkfs.ext4", "e2fsprogs");
	fixture_need_tool("mkfs.vfat", "dosfstools");
	fixture_run("cd '%s' && mkfs.ext4 -q -F amb.img 8M >/dev/null && truncate -s 8M fat.img && "
		    "mkfs.vfat fat.img >/dev/null && dd if=fat.img of=amb.img bs=512 count=1 conv=notrunc status=none",
		    fixture_path(""));
	assert_int_equal(probe_path(fixture_path("amb.img"), type, sizeof(type)), -ENOTUNIQ);
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
