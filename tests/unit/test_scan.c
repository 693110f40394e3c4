/* SPDX-License-Identifier: Apache-2.0 */
/* The legacy magic scan over a temporary tree whose dev/ holds regular files
 * standing in for disks: which names are read, what matches, what is skipped
 * and what the log says. */
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

#include "cocoinit/log.h"
#include "cocoinit/scan.h"
#include "cocoinit/util.h"

static char tmpdir[64];
static int rootfd = -1;
static char logpath[128];

static void put(const char *name, const void *data, size_t n)
{
	char p[256];
	int fd;

	snprintf(p, sizeof(p), "%s/dev/%s", tmpdir, name);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(util_write_all(fd, data, n), 0);
	close(fd);
}

static int setup(void **state)
{
	char p[256];

	snprintf(tmpdir, sizeof(tmpdir), "/tmp/cocoinit-scan-XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
	snprintf(p, sizeof(p), "%s/dev", tmpdir);
	assert_int_equal(mkdir(p, 0755), 0);

	put("vda", "initdata\x10\0\0\0\0\0\0\0", 16);
	put("vdb", "\0\0\0\0\0\0\0\0\0\0", 10);
	put("vdb1", "initdata", 8);  /* a partition: not a whole disk */
	put("sda", "initdataXYZ", 11);
	put("sdb", "ini", 3);        /* shorter than the magic */
	put("vdaa", "initdata", 8);
	put("vdz", "initdata", 8);
	put("nvme0n1", "initdata", 8); /* not a vd or sd disk */
	put("sg0", "initdata", 8);
	put("vd", "initdata", 8);
	put("sdA", "initdata", 8);
	put("elsewhere", "initdata", 8);
	snprintf(p, sizeof(p), "%s/dev/vdc", tmpdir);
	assert_int_equal(symlink("elsewhere", p), 0); /* links are not followed */
	snprintf(p, sizeof(p), "%s/dev/sdc", tmpdir);
	assert_int_equal(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/dev/sdd", tmpdir);
	assert_int_equal(mkfifo(p, 0644), 0); /* opens (O_NONBLOCK) but is no disk */

	rootfd = open(tmpdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(rootfd >= 0);

	snprintf(logpath, sizeof(logpath), "%s/log", tmpdir);
	int fd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	log_set_fd(fd, LOG_SINK_PLAIN);
	log_set_level(LOG_LVL_DEBUG);
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	log_set_fd(-1, LOG_SINK_PLAIN);
	close(rootfd);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static int count(const char *hay, const char *needle)
{
	int n = 0;
	for (const char *p = hay; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

static void test_scan(void **state)
{
	char matches[8][64];
	size_t n = 99;
	unsigned examined = 99;
	char logbuf[8192] = "";

	memset(matches, 0, sizeof(matches));
	assert_int_equal(scan_magic(rootfd, matches, 8, &n, &examined), 0);
	/* vda, vdz, vdaa and sda start with the magic; kernel name order */
	assert_int_equal(n, 4);
	assert_string_equal(matches[0], "sda");
	assert_string_equal(matches[1], "vda");
	assert_string_equal(matches[2], "vdz");
	assert_string_equal(matches[3], "vdaa");
	/* read: sda sdb vda vdb vdz vdaa (sdd is a fifo, vdc a link, sdc a dir) */
	assert_int_equal(examined, 6);

	/* a second scan says the same and does not warn again */
	assert_int_equal(scan_magic(rootfd, matches, 8, &n, &examined), 0);
	assert_int_equal(n, 4);

	assert_true(util_read_file_at(AT_FDCWD, logpath, logbuf, sizeof(logbuf) - 1, false) > 0);
	assert_int_equal(count(logbuf, "legacy content scan"), 1);
	assert_int_equal(count(logbuf, "warning: "), 1);
	assert_int_equal(count(logbuf, "magic scan skips /dev/sdd: Block device required"), 2);
	assert_int_equal(count(logbuf, "magic scan skips /dev/vdc: Too many levels of symbolic links"), 2);
	assert_int_equal(count(logbuf, "/dev/vdb1"), 0);
	assert_int_equal(count(logbuf, "/dev/nvme0n1"), 0);
}

static void test_scan_max(void **state)
{
	char matches[2][64];
	size_t n = 0;
	unsigned examined = 0;

	memset(matches, 0, sizeof(matches));
	/* more matches than room: all counted, the first ones kept */
	assert_int_equal(scan_magic(rootfd, matches, 1, &n, &examined), 0);
	assert_int_equal(n, 4);
	assert_string_equal(matches[0], "sda");
	assert_string_equal(matches[1], "");
	assert_int_equal(scan_magic(rootfd, NULL, 0, &n, &examined), 0);
	assert_int_equal(n, 4);
}

static void test_scan_no_dev(void **state)
{
	char sub[256], matches[1][64];
	size_t n = 42;
	unsigned examined = 42;
	int fd;

	snprintf(sub, sizeof(sub), "%s/dev/sdc", tmpdir); /* an empty directory as root */
	fd = open(sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(scan_magic(fd, matches, 1, &n, &examined), -ENOENT);
	assert_int_equal(n, 42);
	assert_int_equal(examined, 42);

	/* an empty dev/ is no error: nothing matches */
	assert_int_equal(mkdirat(fd, "dev", 0755), 0);
	assert_int_equal(scan_magic(fd, matches, 1, &n, &examined), 0);
	assert_int_equal(n, 0);
	assert_int_equal(examined, 0);
	assert_int_equal(unlinkat(fd, "dev", AT_REMOVEDIR), 0);
	close(fd);
}

static void test_disk_names(void **state)
{
	assert_true(scan_is_disk_name("vda"));
	assert_true(scan_is_disk_name("vdab"));
	assert_true(scan_is_disk_name("sdc"));
	assert_false(scan_is_disk_name("vda1"));
	assert_false(scan_is_disk_name("sda2"));
	assert_false(scan_is_disk_name("vd"));
	assert_false(scan_is_disk_name("sdA"));
	assert_false(scan_is_disk_name("sg0"));
	assert_false(scan_is_disk_name("xvda"));
	assert_false(scan_is_disk_name("nvme0n1"));
	assert_false(scan_is_disk_name("vd-a"));
	assert_false(scan_is_disk_name(""));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_disk_names),
		cmocka_unit_test(test_scan),
		cmocka_unit_test(test_scan_max),
		cmocka_unit_test(test_scan_no_dev),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
