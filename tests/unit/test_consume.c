/* SPDX-License-Identifier: Apache-2.0 */
/* consume_initdata on real images: sys_mount/sys_umount are wrapped
 * (-Wl,--wrap) to record what would be mounted, and in two tests passed
 * through to the real syscalls (a real tmpfs, a real read-only ext4 mount). */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cmocka.h>

#include "cocoinit/consume.h"
#include "cocoinit/initdata.h"
#include "cocoinit/sys.h"
#include "cocoinit/util.h"
#include "fixture.h"

#ifndef TMPFS_MAGIC
#define TMPFS_MAGIC 0x01021994
#endif
#ifndef EXT4_SUPER_MAGIC
#define EXT4_SUPER_MAGIC 0xEF53
#endif

int __real_sys_mount(const char *source, const char *target, const char *fstype, unsigned long flags,
		     const void *data);
int __real_sys_umount(const char *target);
int __wrap_sys_mount(const char *source, const char *target, const char *fstype, unsigned long flags,
		     const void *data);
int __wrap_sys_umount(const char *target);

static struct {
	bool real;
	int result;
	int nmount, numount;
	char source[256], target[256], fstype[32], data[64], umount_target[256];
	unsigned long flags;
	bool data_null;
} fake;

int __wrap_sys_mount(const char *source, const char *target, const char *fstype, unsigned long flags,
		     const void *data)
{
	fake.nmount++;
	util_strlcpy(fake.source, source ? source : "(null)", sizeof(fake.source));
	util_strlcpy(fake.target, target, sizeof(fake.target));
	util_strlcpy(fake.fstype, fstype ? fstype : "(null)", sizeof(fake.fstype));
	fake.flags = flags;
	fake.data_null = data == NULL;
	util_strlcpy(fake.data, data ? data : "", sizeof(fake.data));
	if (fake.real)
		return __real_sys_mount(source, target, fstype, flags, data);
	return fake.result;
}

int __wrap_sys_umount(const char *target)
{
	fake.numount++;
	util_strlcpy(fake.umount_target, target, sizeof(fake.umount_target));
	if (fake.real)
		return __real_sys_umount(target);
	return 0;
}

static const char TOML[] = "version = \"0.1.0\"\nalgorithm = \"sha256\"\n[data]\n";

/* A raw-format image of TOML, its gzip CRC spoilt when corrupt. */
static void write_raw(const char *path, bool corrupt)
{
	size_t n;
	uint8_t *z = fixture_gzip(TOML, sizeof(TOML) - 1, &n);

	if (corrupt)
		z[n - 8] ^= 0x55;
	fixture_write_raw(path, n, z, n, 4096);
	free(z);
}

static int setup(void **state)
{
	fixture_dir_create("consume");
	fixture_run("mkdir -p '%s' && printf 'version = \"0.1.0\"\\n' > '%s'", fixture_path("src"),
		    fixture_path("src/initdata.toml"));
	write_raw(fixture_path("raw.img"), false);
	write_raw(fixture_path("badcrc.img"), true);
	fixture_need_tool("mkfs.ext4", "e2fsprogs");
	fixture_run("mkfs.ext4 -q -F -d '%s' '%s' 8M >/dev/null", fixture_path("src"), fixture_path("ext4.img"));
	fixture_run("truncate -s 1M '%s' && mkswap '%s' >/dev/null 2>&1", fixture_path("swap.img"),
		    fixture_path("swap.img"));
	fixture_run("truncate -s 1M '%s'", fixture_path("zero.img"));
	return 0;
}

static int teardown(void **state)
{
	return fixture_dir_remove();
}

static int reset(void **state)
{
	memset(&fake, 0, sizeof(fake));
	fixture_run("rm -rf '%s'", fixture_path("run"));
	return 0;
}

static void test_raw_extracts_onto_tmpfs(void **state)
{
	struct consume_result res;
	char err[256] = "", *dir = fixture_path("run/confidential-containers/initdata"), buf[256];
	struct stat st;

	assert_int_equal(
		consume_initdata(fixture_path("raw.img"), dir, INITDATA_DEFAULT_MAX_BYTES, &res, err, sizeof(err)), 0);
	assert_string_equal(res.format, "kata-raw");
	assert_int_equal(res.toml_size, sizeof(TOML) - 1);

	assert_int_equal(fake.nmount, 1);
	assert_string_equal(fake.source, "tmpfs");
	assert_string_equal(fake.target, dir);
	assert_string_equal(fake.fstype, "tmpfs");
	assert_int_equal(fake.flags, MS_NOSUID | MS_NODEV | MS_NOEXEC);
	assert_string_equal(fake.data, "mode=0700");
	assert_int_equal(fake.numount, 0);

	/* the directory was made (with its parents) and holds the TOML */
	assert_int_equal(stat(dir, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	snprintf(buf, sizeof(buf), "%s/initdata.toml", dir);
	assert_int_equal(stat(buf, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0400);
	char got[256];
	assert_int_equal(util_read_file_at(AT_FDCWD, buf, got, sizeof(got), false), (ssize_t)sizeof(TOML) - 1);
	assert_memory_equal(got, TOML, sizeof(TOML) - 1);
}

static void test_fs_mounts_readonly(void **state)
{
	struct consume_result res;
	char err[256] = "", *dir = fixture_path("run/initdata");

	assert_int_equal(
		consume_initdata(fixture_path("ext4.img"), dir, INITDATA_DEFAULT_MAX_BYTES, &res, err, sizeof(err)), 0);
	assert_string_equal(res.format, "ext4");
	assert_int_equal(res.toml_size, 0);
	assert_int_equal(fake.nmount, 1);
	assert_string_equal(fake.source, fixture_path("ext4.img"));
	assert_string_equal(fake.target, dir);
	assert_string_equal(fake.fstype, "ext4");
	assert_int_equal(fake.flags, MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC);
	assert_true(fake.data_null);
}

static void test_unsupported(void **state)
{
	struct consume_result res = { .format = "unchanged" };
	char err[256] = "";

	assert_int_equal(consume_initdata(fixture_path("swap.img"), fixture_path("run/x"), 1 << 20, &res, err, sizeof(err)),
			 -EPROTONOSUPPORT);
	assert_string_equal(err, "unsupported initdata format swap");
	assert_int_equal(fake.nmount, 0);

	err[0] = '\0';
	assert_int_equal(consume_initdata(fixture_path("zero.img"), fixture_path("run/x"), 1 << 20, &res, err, sizeof(err)),
			 -EPROTONOSUPPORT);
	assert_non_null(strstr(err, "unrecognised initdata format"));
	assert_int_equal(fake.nmount, 0);
	assert_string_equal(res.format, "unchanged");
	/* nothing was made for an unusable disk */
	assert_int_equal(access(fixture_path("run/x"), F_OK), -1);
}

static void test_missing_device(void **state)
{
	struct consume_result res;
	char err[256] = "";

	assert_int_equal(consume_initdata(fixture_path("nope.img"), fixture_path("run/x"), 1 << 20, &res, err, sizeof(err)),
			 -ENOENT);
	assert_non_null(strstr(err, "cannot open"));
	assert_non_null(strstr(err, "nope.img"));
}

static void test_bad_raw_unmounts(void **state)
{
	struct consume_result res;
	char err[256] = "", *dir = fixture_path("run/initdata");

	assert_int_equal(consume_initdata(fixture_path("badcrc.img"), dir, 1 << 20, &res, err, sizeof(err)), -EBADMSG);
	assert_non_null(strstr(err, "incorrect data check"));
	assert_int_equal(fake.nmount, 1);
	assert_int_equal(fake.numount, 1);
	assert_string_equal(fake.umount_target, dir);

	/* L beyond the bound: the contract's message */
	err[0] = '\0';
	assert_int_equal(consume_initdata(fixture_path("raw.img"), dir, 8, &res, err, sizeof(err)), -ERANGE);
	assert_non_null(strstr(err, "is above cocoinit.initdata_max_bytes=8"));
}

static void test_mount_fails(void **state)
{
	struct consume_result res;
	char err[256] = "";

	fake.result = -EPERM;
	assert_int_equal(consume_initdata(fixture_path("ext4.img"), fixture_path("run/m"), 1 << 20, &res, err, sizeof(err)),
			 -EPERM);
	assert_non_null(strstr(err, "cannot mount"));
	assert_non_null(strstr(err, "(ext4)"));
	assert_non_null(strstr(err, "Operation not permitted"));

	err[0] = '\0';
	assert_int_equal(consume_initdata(fixture_path("raw.img"), fixture_path("run/m"), 1 << 20, &res, err, sizeof(err)),
			 -EPERM);
	assert_non_null(strstr(err, "cannot mount a tmpfs"));
}

static void test_real_tmpfs(void **state)
{
	struct consume_result res;
	char err[256] = "", *dir = fixture_path("run/real"), buf[300];
	struct statfs sfs;
	struct stat st;
	int r;

	fake.real = true;
	r = consume_initdata(fixture_path("raw.img"), dir, INITDATA_DEFAULT_MAX_BYTES, &res, err, sizeof(err));
	if (r != 0)
		fail_msg("consume_initdata: %d %s (this test needs root)", r, err);
	assert_int_equal(statfs(dir, &sfs), 0);
	int is_tmpfs = sfs.f_type == TMPFS_MAGIC;
	int noexec = (sfs.f_flags & ST_NOEXEC) && (sfs.f_flags & ST_NOSUID) && (sfs.f_flags & ST_NODEV);
	assert_int_equal(stat(dir, &st), 0);
	snprintf(buf, sizeof(buf), "%s/initdata.toml", dir);
	char got[256];
	ssize_t n = util_read_file_at(AT_FDCWD, buf, got, sizeof(got), false);
	assert_int_equal(umount(dir), 0);
	assert_true(is_tmpfs);
	assert_true(noexec);
	assert_int_equal(st.st_mode & 07777, 0700);
	assert_int_equal(n, (ssize_t)sizeof(TOML) - 1);
	assert_memory_equal(got, TOML, sizeof(TOML) - 1);
}

static void test_real_ext4_readonly(void **state)
{
	char dev[64] = "", err[256] = "", *dir = fixture_path("run/ext4"), buf[300];
	struct consume_result res;
	int r, fd, werr = 0;

	fixture_loop_attach(fixture_path("ext4.img"), dev, sizeof(dev));

	fake.real = true;
	r = consume_initdata(dev, dir, INITDATA_DEFAULT_MAX_BYTES, &res, err, sizeof(err));
	char got[64] = "";
	ssize_t n = -1;
	if (r == 0) {
		snprintf(buf, sizeof(buf), "%s/initdata.toml", dir);
		n = util_read_file_at(AT_FDCWD, buf, got, sizeof(got) - 1, false);
		snprintf(buf, sizeof(buf), "%s/new", dir);
		fd = open(buf, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
		werr = fd < 0 ? errno : 0;
		if (fd >= 0)
			close(fd);
		umount(dir);
	}
	fixture_loop_detach(dev);
	if (r != 0)
		fail_msg("consume_initdata(%s): %d %s", dev, r, err);
	assert_string_equal(res.format, "ext4");
	assert_int_equal(n, 18);
	assert_memory_equal(got, "version = \"0.1.0\"\n", 18);
	assert_int_equal(werr, EROFS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_raw_extracts_onto_tmpfs, reset),
		cmocka_unit_test_setup(test_fs_mounts_readonly, reset),
		cmocka_unit_test_setup(test_unsupported, reset),
		cmocka_unit_test_setup(test_missing_device, reset),
		cmocka_unit_test_setup(test_bad_raw_unmounts, reset),
		cmocka_unit_test_setup(test_mount_fails, reset),
		cmocka_unit_test_setup(test_real_tmpfs, reset),
		cmocka_unit_test_setup(test_real_ext4_readonly, reset),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
