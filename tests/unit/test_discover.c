/* SPDX-License-Identifier: Apache-2.0 */
/* Discovery against trees laid out like the kernel's sysfs: each method
 * finds the disk, lies and races are survived, two matches are never a
 * pick, and the log says what happened. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"

#include "cocoinit/discover.h"
#include "cocoinit/log.h"
#include "cocoinit/timing.h"
#include "cocoinit/udev.h"
#include "cocoinit/uevent.h"
#include "cocoinit/util.h"
#include "tree.h"

static int logfd = -1;
static char logbuf[65536];

static int group_setup(void **state)
{
	logfd = memfd_create("log", MFD_CLOEXEC);
	if (logfd < 0)
		return -1;
	log_set_fd(dup(logfd), LOG_SINK_PLAIN);
	log_set_level(LOG_LVL_DEBUG);
	return 0;
}

static void log_reset(void)
{
	assert_int_equal(ftruncate(logfd, 0), 0);
	lseek(logfd, 0, SEEK_SET);
}

/* What was logged since log_reset(). */
static const char *log_text(void)
{
	ssize_t n = pread(logfd, logbuf, sizeof(logbuf) - 1, 0);

	logbuf[n > 0 ? n : 0] = '\0';
	return logbuf;
}

static void assert_logged(const char *needle)
{
	const char *t = log_text();

	if (!strstr(t, needle))
		fail_msg("log lacks \"%s\"; it holds:\n%s", needle, t);
}

struct fixture {
	char *root;
	int rootfd;
};

/* A fixture for a tree just made (root NULL: making it failed), with an
 * empty log. */
static struct fixture fx_open(char *root)
{
	struct fixture f = { .root = root, .rootfd = -1 };

	assert_non_null(f.root);
	f.rootfd = tree_open(f.root);
	assert_true(f.rootfd >= 0);
	log_reset();
	return f;
}

static struct fixture fx_manifest(const char *manifest)
{
	return fx_open(tree_from_manifest(manifest));
}

static struct fixture fx_file(const char *name)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/trees/%s", FIXTURES, name);
	return fx_open(tree_from_file(path));
}

static void fx_done(struct fixture *f)
{
	close(f->rootfd);
	tree_remove(f->root);
}

static struct discover_opts opts_for(const char *serial, size_t len, unsigned methods, const char *hint)
{
	struct discover_opts o = {
		.serial = serial,
		.serial_len = len,
		.hint = hint,
		.methods = methods,
		.uevent_fd = -1,
	};
	return o;
}
#define OPTS(lit, methods, hint) opts_for(lit, sizeof(lit) - 1, methods, hint)

#define ANY_METHOD (-1)

/* Runs discovery, which must find devnode by method (or ANY_METHOD); res
 * holds the rest of the result for the test's own checks. */
static void assert_found(const struct fixture *f, const struct discover_opts *o, struct discover_result *res,
			 const char *devnode, int method)
{
	int r = discover_run(f->rootfd, o, res);

	const char *hint = o->hint ? o->hint : "(none)";

	if (r != 0)
		fail_msg("hint %s: discover_run gave %d, want %s; the log holds:\n%s", hint, r, devnode, log_text());
	if (strcmp(res->devnode, devnode) != 0 || (method != ANY_METHOD && (int)res->method != method))
		fail_msg("hint %s: found %s by %s, want %s by %s", hint, res->devnode, discover_method_name(res->method),
			 devnode, method == ANY_METHOD ? "any method" : discover_method_name((enum discover_method)method));
}

static void test_hint_by_name(void **state)
{
	struct fixture f = fx_file("basic.tree");
	struct discover_opts o = OPTS("initdata", DISCOVER_AUTO, "vdb");
	struct discover_result res;

	assert_found(&f, &o, &res, "/dev/vdb", DISCOVER_HINT);
	assert_string_equal(res.name, "vdb");
	assert_int_equal(res.kind, SERIAL_KIND_VIRTIO);
	/* O(1): only the hinted disk was read */
	assert_int_equal(res.examined, 1);
	fx_done(&f);
}

static void test_hint_by_pci(void **state)
{
	struct fixture f = fx_file("basic.tree");
	struct discover_opts o = OPTS("initdata", DISCOVER_HINT, "0000:00:05.0");
	struct discover_result res;

	assert_found(&f, &o, &res, "/dev/vdb", DISCOVER_HINT);
	assert_int_equal(res.examined, 1);
	fx_done(&f);
}

static void test_hint_pci_is_whole_component(void **state)
{
	/* 0000:00:05.0 must not match 0000:00:05.1 */
	struct fixture f = fx_manifest("disk vdb serial=initdata pci=0000:00:05.1\n");
	struct discover_opts o = OPTS("initdata", DISCOVER_HINT, "0000:00:05.0");
	struct discover_result res;

	assert_int_equal(discover_run(f.rootfd, &o, &res), -ENOENT);
	assert_logged("warning: initdata: hint 0000:00:05.0: no such PCI device");
	assert_int_equal(res.examined, 0);
	fx_done(&f);
}

static void test_hint_pci_each_kind(void **state)
{
	/* NVMe namespace and virtio-scsi LUN, each at its own place below the device */
	struct fixture f = fx_file("mixed.tree");
	struct discover_opts o = OPTS("initdata", DISCOVER_HINT, "0000:00:08.0");
	struct discover_result res;

	assert_found(&f, &o, &res, "/dev/nvme0n1", ANY_METHOD);
	assert_int_equal(res.kind, SERIAL_KIND_NVME);
	assert_int_equal(res.examined, 1);
	o = OPTS("scsi-serial", DISCOVER_HINT, "0000:00:09.0");
	assert_found(&f, &o, &res, "/dev/sda", ANY_METHOD);
	assert_int_equal(res.kind, SERIAL_KIND_SCSI);
	assert_int_equal(res.examined, 1);
	/* the NVMe device's disk is not below the SCSI controller */
	o = OPTS("initdata", DISCOVER_HINT, "0000:00:09.0");
	assert_int_equal(discover_run(f.rootfd, &o, &res), -ENOENT);
	assert_logged("hint 0000:00:09.0: no disk of that PCI device has the serial");
	fx_done(&f);
}

static void test_hint_pci_spelling(void **state)
{
	struct fixture f = fx_manifest("disk vdb serial=initdata pci=0000:0a:1f.7\n"
				       "dir sys/devices/pci0000:00/0000:00:03.0\n"
				       "link sys/bus/pci/devices/0000:00:03.0 ../../../devices/pci0000:00/0000:00:03.0\n");
	static const char *const bad[][2] = {
		{ "0000:00:20.0", "hint 0000:00:20.0: not a PCI address (slot above 1f or function above 7)" },
		{ "0000:00:05.8", "hint 0000:00:05.8: not a PCI address" },
		/* not PCI-shaped: taken for a disk name, and there is none */
		{ "0000:00:5.0", "hint 0000:00:5.0: no such disk" },
		{ "0000:00:05.0/..", "hint 0000:00:05.0/..: not a block device name or PCI address" },
		{ "0000:00:03.0", "hint 0000:00:03.0: no disk below that PCI device" },
	};
	struct discover_result res;

	/* sysfs spells addresses in lowercase; a hint may not */
	struct discover_opts o = OPTS("initdata", DISCOVER_HINT, "0000:0A:1F.7");
	assert_found(&f, &o, &res, "/dev/vdb", DISCOVER_HINT);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		o = OPTS("initdata", DISCOVER_HINT, bad[i][0]);
		log_reset();
		assert_int_equal(discover_run(f.rootfd, &o, &res), -ENOENT);
		/* no serial was read (the disk-name case tried one, which is missing) */
		assert_int_equal(res.examined, i == 2 ? 1 : 0);
		assert_logged(bad[i][1]);
	}
	fx_done(&f);
}

static void test_hint_pci_no_links_followed(void **state)
{
	/* A link below the PCI device into another place holding a disk: not
	 * followed, so vdc (elsewhere) is never looked at and vdb is found. */
	struct fixture f = fx_manifest("disk vdb serial=initdata pci=0000:00:05.0\n"
				       "disk vdc serial=initdata pci=0000:00:06.0\n"
				       "dir elsewhere/block/vdc\n"
				       "link sys/devices/pci0000:00/0000:00:05.0/virtio99 ../../../../elsewhere\n");
	struct discover_opts o = OPTS("initdata", DISCOVER_HINT, "0000:00:05.0");
	struct discover_result res;
	struct stat st;

	assert_int_equal(fstatat(f.rootfd, "sys/bus/pci/devices/0000:00:05.0/virtio99/block/vdc", &st, 0), 0);
	assert_found(&f, &o, &res, "/dev/vdb", ANY_METHOD);
	assert_int_equal(res.examined, 1);
	fx_done(&f);
}

/* The PCI address of one of this machine's virtio disks with a serial,
 * from its class link (".../0000:00:02.0/virtio1/block/vda"). */
static int real_virtio_disk(char *name, char *pci)
{
	char path[300], target[512];
	struct dirent *de;
	DIR *d = opendir("/sys/class/block");
	int found = 0;

	if (!d)
		return 0;
	while (!found && (de = readdir(d))) {
		if (strncmp(de->d_name, "vd", 2) != 0 || strlen(de->d_name) > 16)
			continue;
		snprintf(path, sizeof(path), "/sys/class/block/%s", de->d_name);
		ssize_t n = readlink(path, target, sizeof(target) - 1);
		if (n < 0)
			continue;
		target[n] = '\0';
		char *v = strstr(target, "/virtio");
		if (!v || v - target < 12)
			continue;
		*v = '\0';
		memcpy(pci, v - 12, 12);
		pci[12] = '\0';
		util_strlcpy(name, de->d_name, 17);
		found = 1;
	}
	closedir(d);
	return found;
}

static void test_hint_pci_real_sysfs(void **state)
{
	char name[17], pci[13], serial[SERIAL_MAX + 1];
	struct discover_result res;
	enum serial_kind kind;
	size_t len;
	int rootfd, sysfd;

	if (!real_virtio_disk(name, pci)) {
		skip();
		return;
	}
	sysfd = open("/sys/class/block", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(sysfd >= 0);
	if (serial_read(sysfd, name, serial, &len, &kind) < 0 || len == 0) {
		close(sysfd);
		skip();
		return;
	}
	close(sysfd);
	rootfd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(rootfd >= 0);
	struct discover_opts o = opts_for(serial, len, DISCOVER_HINT, pci);
	assert_int_equal(discover_run(rootfd, &o, &res), 0);
	assert_string_equal(res.name, name);
	assert_int_equal(res.method, DISCOVER_HINT);
	assert_int_equal(res.examined, 1);
	close(rootfd);
}

static void test_wrong_hint_falls_through(void **state)
{
	struct fixture f = fx_file("basic.tree");
	struct discover_opts o = OPTS("initdata", DISCOVER_AUTO, "vdc");
	struct discover_result res;

	assert_found(&f, &o, &res, "/dev/vdb", DISCOVER_BYID);
	assert_logged("cocoinit: warning: initdata: hint vdc: its serial is another one; looking further");
	fx_done(&f);
}

static void test_bad_hints_fall_through(void **state)
{
	static const char *const hints[][2] = {
		{ "vdq", "hint vdq: no such disk" },
		{ "0000:00:1f.0", "hint 0000:00:1f.0: no such PCI device" },
		{ "0000:00:06.0", "hint 0000:00:06.0: no disk of that PCI device has the serial" },
		{ "vdc1", "hint vdc1: a partition, not a whole disk" },
		{ "../vdb", "hint ../vdb: not a block device name" },
	};
	struct fixture f = fx_file("basic.tree");

	for (size_t i = 0; i < sizeof(hints) / sizeof(hints[0]); i++) {
		struct discover_opts o = OPTS("initdata", DISCOVER_HINT | DISCOVER_SYSFS, hints[i][0]);
		struct discover_result res;

		log_reset();
		assert_found(&f, &o, &res, "/dev/vdb", DISCOVER_SYSFS);
		assert_logged(hints[i][1]);
	}
	fx_done(&f);
}

static void test_by_id(void **state)
{
	struct fixture f = fx_file("basic.tree");
	struct discover_opts o = OPTS("initdata", DISCOVER_AUTO, NULL);
	struct discover_result res;

	assert_found(&f, &o, &res, "/dev/vdb", DISCOVER_BYID);
	assert_int_equal(res.examined, 1);
	/* the partition's link is not the disk's */
	o = OPTS("data-disk", DISCOVER_BYID, NULL);
	assert_found(&f, &o, &res, "/dev/vdc", ANY_METHOD);
	fx_done(&f);
}

static void test_sysfs(void **state)
{
	struct fixture f = fx_file("nobyid.tree");
	struct discover_opts o = OPTS("initdata", DISCOVER_AUTO, NULL);
	struct discover_result res;

	assert_found(&f, &o, &res, "/dev/vdc", DISCOVER_SYSFS);
	/* vda, vdb, vdc, loop0: every whole disk, not the partition */
	assert_int_equal(res.examined, 4);
	/* no link was made: the caller did not ask */
	struct stat st;
	assert_int_equal(fstatat(f.rootfd, "dev/disk/by-id/virtio-initdata", &st, AT_SYMLINK_NOFOLLOW), -1);
	fx_done(&f);
}

static void test_only_sysfs_method(void **state)
{
	struct fixture f = fx_file("basic.tree");
	struct discover_opts o = OPTS("initdata", DISCOVER_SYSFS, "vdb");
	struct discover_result res;

	assert_int_equal(discover_run(f.rootfd, &o, &res), 0);
	assert_int_equal(res.method, DISCOVER_SYSFS);
	assert_int_equal(res.examined, 3);
	fx_done(&f);
}

static void test_not_found(void **state)
{
	struct fixture f = fx_file("basic.tree");
	struct discover_opts o = OPTS("missing", DISCOVER_AUTO, NULL);
	struct discover_result res;

	memset(&res, 0x55, sizeof(res));
	assert_int_equal(discover_run(f.rootfd, &o, &res), -ENOENT);
	assert_int_equal(res.examined, 3);
	assert_int_equal(res.n_matches, 0);
	assert_true(res.elapsed_us < 60ull * 1000 * 1000);
	fx_done(&f);
}

static void test_no_sysfs_at_all(void **state)
{
	struct fixture f = fx_manifest("dir dev\n");
	struct discover_opts o = OPTS("initdata", DISCOVER_AUTO, "vdb");
	struct discover_result res;

	assert_int_equal(discover_run(f.rootfd, &o, &res), -ENOENT);
	assert_int_equal(res.examined, 0);
	fx_done(&f);
}

static void test_ambiguous(void **state)
{
	struct fixture f = fx_file("ambiguous.tree");
	struct discover_opts o = OPTS("initdata", DISCOVER_AUTO, NULL);
	struct discover_result res;

	assert_int_equal(discover_run(f.rootfd, &o, &res), -ENOTUNIQ);
	assert_int_equal(res.n_matches, 2);
	assert_string_equal(res.matches[0], "vdb");
	assert_string_equal(res.matches[1], "vdd");
	assert_int_equal(res.method, DISCOVER_SYSFS);
	assert_int_equal(res.examined, 3);
	fx_done(&f);
}

static void test_ambiguous_many(void **state)
{
	struct fixture f = fx_manifest("dir sys/class/block\n");
	struct discover_opts o = OPTS("initdata", DISCOVER_SYSFS, NULL);
	struct discover_result res;
	char name[16];

	for (int i = 0; i < 12; i++) {
		snprintf(name, sizeof(name), "vd%c", 'a' + i);
		assert_int_equal(tree_add_disk(f.root, name, "initdata", 8, NULL), 0);
	}
	assert_int_equal(discover_run(f.rootfd, &o, &res), -ENOTUNIQ);
	assert_int_equal(res.n_matches, DISCOVER_AMBIGUOUS_MAX);
	assert_logged("12 disks have the serial");
	fx_done(&f);
}

static void test_ambiguous_hint_pci(void **state)
{
	/* two LUNs of one virtio-scsi controller both answer */
	struct fixture f = fx_manifest("disk sda serial=initdata pci=0000:00:07.0\n"
				       "disk sdb serial=initdata pci=0000:00:07.0\n");
	struct discover_opts o = OPTS("initdata", DISCOVER_AUTO, "0000:00:07.0");
	struct discover_result res;

	assert_int_equal(discover_run(f.rootfd, &o, &res), -ENOTUNIQ);
	assert_int_equal(res.n_matches, 2);
	assert_string_equal(res.matches[0], "sda");
	assert_string_equal(res.matches[1], "sdb");
	fx_done(&f);
}

static void test_byid_misdirected(void **state)
{
	struct fixture f = fx_file("byid-bad.tree");
	/* virtio-a_b names vdb ("a b"); the disk asked for is vdc ("a\tb") */
	struct discover_opts o = OPTS("a\tb", DISCOVER_AUTO, NULL);
	struct discover_result res;

	assert_found(&f, &o, &res, "/dev/vdc", DISCOVER_SYSFS);
	assert_logged("warning: initdata: by-id: virtio-a_b points at vdb, whose serial differs; ignored");
	/* and the by-id step alone does not accept it */
	o.methods = DISCOVER_BYID;
	assert_int_equal(discover_run(f.rootfd, &o, &res), -ENOENT);
	fx_done(&f);
}

/* byid-bad.tree's dev/disk/by-id/virtio-<serial> is broken: a disk added
 * with that serial is found all the same, by sysfs, and the log says why
 * the link was passed over. */
static void assert_byid_link_skipped(const char *serial, const char *disk, const char *logged)
{
	struct fixture f = fx_file("byid-bad.tree");
	struct discover_opts o = opts_for(serial, strlen(serial), DISCOVER_AUTO, NULL);
	struct discover_result res;
	char devnode[32];

	assert_int_equal(tree_add_disk(f.root, disk, serial, strlen(serial), NULL), 0);
	snprintf(devnode, sizeof(devnode), "/dev/%s", disk);
	assert_found(&f, &o, &res, devnode, DISCOVER_SYSFS);
	assert_logged(logged);
	fx_done(&f);
}

static void test_byid_dangling(void **state)
{
	assert_byid_link_skipped("gone", "vdy", "cocoinit: initdata: by-id: virtio-gone skipped: No such file or directory");
}

static void test_byid_loop(void **state)
{
	assert_byid_link_skipped("loop", "vdx", "by-id: virtio-loop skipped: Too many levels of symbolic links");
}

static void test_byid_to_other_place(void **state)
{
	/* A link out of dev/ into a file whose name is not a disk. */
	struct fixture f = fx_manifest("disk vdb serial=initdata\n"
				       "file etc/passwd root\n"
				       "link dev/disk/by-id/virtio-initdata ../../../etc/passwd\n");
	struct discover_opts o = OPTS("initdata", DISCOVER_AUTO, NULL);
	struct discover_result res;

	assert_found(&f, &o, &res, "/dev/vdb", DISCOVER_SYSFS);
	assert_logged("points at passwd, whose serial can't be read");
	fx_done(&f);
}

static void test_serial_bytes(void **state)
{
	struct fixture f = fx_file("mixed.tree");
	struct discover_result res;
	struct discover_opts o = OPTS("\xffz", DISCOVER_AUTO, NULL);

	assert_found(&f, &o, &res, "/dev/vdb", ANY_METHOD);
	/* spaces are bytes of the serial, trailing ones too */
	o = OPTS("abc  def ", DISCOVER_AUTO, NULL);
	assert_found(&f, &o, &res, "/dev/vdc", ANY_METHOD);
	o = OPTS("abc def", DISCOVER_AUTO, NULL);
	assert_int_equal(discover_run(f.rootfd, &o, &res), -ENOENT);
	o = OPTS("abc  def", DISCOVER_AUTO, NULL);
	assert_int_equal(discover_run(f.rootfd, &o, &res), -ENOENT);
	fx_done(&f);
}

/* With create_byid: a first run finds devnode by sysfs and makes the link
 * dev/disk/by-id/<link> -> target; a second run finds it by that link. */
static void assert_byid_made(const struct fixture *f, struct discover_opts *o, struct discover_result *res,
			     const char *devnode, const char *link, const char *target)
{
	char path[128], got[64];
	ssize_t n;

	o->create_byid = true;
	assert_found(f, o, res, devnode, DISCOVER_SYSFS);
	snprintf(path, sizeof(path), "dev/disk/by-id/%s", link);
	n = readlinkat(f->rootfd, path, got, sizeof(got) - 1);
	if (n < 0)
		fail_msg("no link %s: %s", path, strerror(errno));
	got[n] = '\0';
	assert_string_equal(got, target);
	assert_found(f, o, res, devnode, DISCOVER_BYID);
}

static void test_utf8_serial_byid(void **state)
{
	struct fixture f = fx_manifest("disk vdb serial=\\xc3\\xa9t\\xc3\\xa9\n");
	struct discover_opts o = OPTS("\xc3\xa9t\xc3\xa9", DISCOVER_AUTO, NULL);
	struct discover_result res;

	assert_byid_made(&f, &o, &res, "/dev/vdb", "virtio-\xc3\xa9t\xc3\xa9", "../../vdb");
	fx_done(&f);
}

static void test_nvme_padding(void **state)
{
	struct fixture f = fx_file("mixed.tree");
	struct discover_opts o = OPTS("initdata", DISCOVER_AUTO, NULL);
	struct discover_result res;
	struct stat st;

	o.create_byid = true;
	assert_found(&f, &o, &res, "/dev/nvme0n1", ANY_METHOD);
	assert_int_equal(res.kind, SERIAL_KIND_NVME);
	/* "virtio-" names are for virtio disks only */
	assert_int_equal(fstatat(f.rootfd, "dev/disk/by-id/virtio-initdata", &st, AT_SYMLINK_NOFOLLOW), -1);
	/* a serial with the padding is another serial */
	o = OPTS("initdata            ", DISCOVER_AUTO, NULL);
	assert_int_equal(discover_run(f.rootfd, &o, &res), -ENOENT);
	fx_done(&f);
}

static void test_scsi(void **state)
{
	struct fixture f = fx_file("mixed.tree");
	struct discover_opts o = OPTS("scsi-serial", DISCOVER_AUTO, "sda");
	struct discover_result res;

	assert_found(&f, &o, &res, "/dev/sda", DISCOVER_HINT);
	assert_int_equal(res.kind, SERIAL_KIND_SCSI);
	fx_done(&f);
}

static void test_vpd_lengths(void **state)
{
	struct fixture f = fx_manifest(
		"disk sda\n"
		"file sys/class/block/sda/device/vpd_pg80 \\x00\\x80\\x00\\x40initdata\n"
		"disk sdb\n"
		"file sys/class/block/sdb/device/vpd_pg80 \\x00\\x80\\x00\\x00initdata\n"
		"disk sdc\n"
		"file sys/class/block/sdc/device/vpd_pg80 \\x00\\x80\\xff\\xffother\n"
		"disk sdd\n"
		"file sys/class/block/sdd/device/vpd_pg80 \\x00\\x80\\xff\n");
	struct discover_opts o = OPTS("initdata", DISCOVER_SYSFS, NULL);
	struct discover_result res;

	/* sda claims 64 bytes and has 8: the 8 are its serial; sdb says 0 */
	assert_found(&f, &o, &res, "/dev/sda", ANY_METHOD);
	assert_int_equal(res.examined, 4);
	assert_logged("sysfs: sdb skipped: No data available");
	assert_logged("sysfs: sdd skipped: Bad message");
	o = OPTS("other", DISCOVER_SYSFS, NULL);
	assert_found(&f, &o, &res, "/dev/sdc", ANY_METHOD);
	fx_done(&f);
}

static void test_vanishing_entries(void **state)
{
	/* vdb's device directory is gone after readdir saw its class link;
	 * vdc's serial is a dangling link; vdd answers. */
	struct fixture f = fx_manifest("link sys/class/block/vdb ../../devices/pci0000:00/0000:00:05.0/virtio9/block/vdb\n"
				       "disk vdc\n"
				       "link sys/class/block/vdc/serial nowhere\n"
				       "disk vdd serial=initdata\n");
	struct discover_opts o = OPTS("initdata", DISCOVER_AUTO, NULL);
	struct discover_result res;

	assert_found(&f, &o, &res, "/dev/vdd", ANY_METHOD);
	assert_logged("sysfs: vdb skipped: No such file or directory");
	assert_logged("sysfs: vdc skipped: Too many levels of symbolic links");
	fx_done(&f);
}

static void test_partitions_ignored(void **state)
{
	struct fixture f = fx_manifest("disk vdb serial=other\n"
				       "part vdb1 of=vdb\n"
				       "file sys/class/block/vdb1/serial initdata\n");
	struct discover_opts o = OPTS("initdata", DISCOVER_AUTO, "vdb1");
	struct discover_result res;
	enum serial_kind kind;

	assert_int_equal(discover_run(f.rootfd, &o, &res), -ENOENT);
	assert_int_equal(res.examined, 1);
	assert_int_equal(discover_check_disk(f.rootfd, "vdb1", &o, &kind), 0);
	o = OPTS("other", DISCOVER_SYSFS, NULL);
	assert_int_equal(discover_check_disk(f.rootfd, "vdb", &o, &kind), 1);
	assert_int_equal(kind, SERIAL_KIND_VIRTIO);
	fx_done(&f);
}

static void test_make_byid_then_found(void **state)
{
	struct fixture f = fx_file("nobyid.tree");
	struct discover_opts o = OPTS("initdata", DISCOVER_AUTO, NULL);
	struct discover_result res;

	assert_byid_made(&f, &o, &res, "/dev/vdc", "virtio-initdata", "../../vdc");
	assert_int_equal(res.examined, 1);
	fx_done(&f);
}

static void test_make_byid_keeps_existing(void **state)
{
	struct fixture f = fx_manifest("disk vdb serial=initdata\n"
				       "link dev/disk/by-id/virtio-initdata ../../vdq\n");
	char target[64];

	assert_int_equal(discover_make_byid(f.rootfd, "initdata", 8, "vdb"), 0);
	ssize_t n = readlinkat(f.rootfd, "dev/disk/by-id/virtio-initdata", target, sizeof(target) - 1);
	assert_int_equal(n, 9);
	assert_memory_equal(target, "../../vdq", 9);
	assert_int_equal(discover_make_byid(f.rootfd, "   ", 3, "vdb"), -ENOENT);
	assert_int_equal(discover_make_byid(f.rootfd, "a/../b", 6, "vdb"), -EINVAL);
	assert_int_equal(discover_make_byid(f.rootfd, "ok", 2, "../vdb"), -EINVAL);
	fx_done(&f);
}

static void test_make_byid_subdirectory(void **state)
{
	struct fixture f = fx_manifest("disk vdb serial=x/y\n");
	struct discover_opts o = OPTS("x/y", DISCOVER_AUTO, NULL);
	struct discover_result res;
	struct stat st;

	assert_byid_made(&f, &o, &res, "/dev/vdb", "virtio-x/y", "../../../vdb");
	/* virtio-x is a real directory, and the link in it resolves to the disk */
	assert_int_equal(fstatat(f.rootfd, "dev/disk/by-id/virtio-x", &st, AT_SYMLINK_NOFOLLOW), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(fstatat(f.rootfd, "dev/disk/by-id/virtio-x/y", &st, 0), 0);
	fx_done(&f);
}

static void test_make_byid_no_symlink_dirs(void **state)
{
	/* a planted link where a directory goes is not followed */
	struct fixture f = fx_manifest("disk vdb serial=initdata\n"
				       "dir elsewhere\n"
				       "link dev/disk ../elsewhere\n");

	assert_true(discover_make_byid(f.rootfd, "initdata", 8, "vdb") < 0);
	struct stat st;
	assert_int_equal(fstatat(f.rootfd, "elsewhere/by-id", &st, AT_SYMLINK_NOFOLLOW), -1);
	fx_done(&f);
}

static void test_truncation_20(void **state)
{
	/* runtime-rs style serial, cut to 20 bytes by the device */
	struct fixture f = fx_manifest("disk vdb serial=image-0123456789abcdef\n"
				       "disk vdc serial=image-0123456789abcd\n");
	struct discover_opts o = OPTS("image-0123456789abcdef", DISCOVER_AUTO, NULL);
	struct discover_result res;

	o.create_byid = true;
	/* vdb's 22-byte file reads as 20 bytes, as the kernel shows it: both match */
	assert_int_equal(discover_run(f.rootfd, &o, &res), -ENOTUNIQ);
	assert_logged("warning: initdata: serial=image-0123456789abcdef is longer than 20 bytes");
	fx_done(&f);

	f = fx_manifest("disk vdc serial=image-0123456789abcd\n");
	/* the link carries udev's name for what the device reports */
	assert_byid_made(&f, &o, &res, "/dev/vdc", "virtio-image-0123456789abcd", "../../vdc");
	/* a 19-byte prefix is not the serial */
	o = OPTS("image-0123456789abc", DISCOVER_AUTO, NULL);
	assert_int_equal(discover_run(f.rootfd, &o, &res), -ENOENT);
	fx_done(&f);
}

/* The kernel's virtio-blk names: vda..vdz, vdaa..vdzz, vdaaa... */
static void vd_name(unsigned idx, char *out)
{
	char tmp[8];
	int n = 0;

	do {
		tmp[n++] = (char)('a' + idx % 26);
		idx = idx / 26;
	} while (idx-- > 0);
	out[0] = 'v';
	out[1] = 'd';
	for (int i = 0; i < n; i++)
		out[2 + i] = tmp[n - 1 - i];
	out[2 + n] = '\0';
}

static void test_4096_disks(void **state)
{
	struct fixture f = fx_manifest("dir dev/disk/by-id\n");
	struct discover_opts o = OPTS("initdata", DISCOVER_AUTO, NULL);
	struct discover_result res;
	char name[16], serial[32];

	for (unsigned i = 0; i < 4096; i++) {
		vd_name(i, name);
		int n = snprintf(serial, sizeof(serial), i == 4000 ? "initdata" : "disk-%u", i);
		assert_int_equal(tree_add_disk(f.root, name, serial, (size_t)n, NULL), 0);
	}
	vd_name(4000, name);
	assert_int_equal(discover_run(f.rootfd, &o, &res), 0);
	assert_string_equal(res.name, name);
	assert_int_equal(res.method, DISCOVER_SYSFS);
	assert_int_equal(res.examined, 4096);
	/* one more with the serial makes it ambiguous, whatever readdir's order */
	assert_int_equal(tree_add_disk(f.root, "vdzzz", "initdata", 8, NULL), 0);
	assert_int_equal(discover_run(f.rootfd, &o, &res), -ENOTUNIQ);
	assert_int_equal(res.n_matches, 2);
	assert_string_equal(res.matches[0], name);
	assert_string_equal(res.matches[1], "vdzzz");
	fx_done(&f);
}

static void test_method_names(void **state)
{
	assert_string_equal(discover_method_name(DISCOVER_HINT), "hint");
	assert_string_equal(discover_method_name(DISCOVER_BYID), "by-id");
	assert_string_equal(discover_method_name(DISCOVER_SYSFS), "sysfs");
	assert_string_equal(discover_method_name(DISCOVER_UEVENT), "uevent");
	assert_string_equal(discover_method_name(DISCOVER_MAGIC), "magic");
}

static void test_bad_opts(void **state)
{
	struct fixture f = fx_file("basic.tree");
	struct discover_opts o = OPTS("", DISCOVER_AUTO, NULL);
	struct discover_result res;

	assert_int_equal(discover_run(f.rootfd, &o, &res), -EINVAL);
	assert_int_equal(res.examined, 0);
	fx_done(&f);
}

static void test_single_steps_start_clean(void **state)
{
	struct fixture f = fx_file("basic.tree");
	struct discover_opts o = OPTS("initdata", DISCOVER_SYSFS, "vdb");
	struct discover_result res;

	memset(&res, 0x55, sizeof(res));
	assert_int_equal(discover_by_sysfs(f.rootfd, &o, &res), 0);
	assert_int_equal(res.examined, 3);
	assert_int_equal(res.n_matches, 0);
	assert_int_equal(res.method, DISCOVER_SYSFS);
	memset(&res, 0x55, sizeof(res));
	assert_int_equal(discover_by_hint(f.rootfd, &o, &res), 0);
	assert_int_equal(res.examined, 1);
	memset(&res, 0x55, sizeof(res));
	assert_int_equal(discover_by_id(f.rootfd, &o, &res), 0);
	assert_int_equal(res.examined, 1);
	assert_int_equal(res.method, DISCOVER_BYID);
	/* no socket: nothing to wait on */
	memset(&res, 0x55, sizeof(res));
	assert_int_equal(discover_by_uevent(f.rootfd, &o, timing_now_us() + 1000, &res), -ENOENT);
	assert_int_equal(res.examined, 0);
	fx_done(&f);
}

static void test_magic_only_when_asked(void **state)
{
	/* basic.tree's vdb holds the magic; vdc1's serial does not matter */
	struct fixture f = fx_file("basic.tree");
	struct discover_opts o = OPTS("no-such-serial", DISCOVER_AUTO, NULL);
	struct discover_result res;

	assert_int_equal(discover_run(f.rootfd, &o, &res), -ENOENT);
	o.methods |= DISCOVER_MAGIC;
	assert_found(&f, &o, &res, "/dev/vdb", DISCOVER_MAGIC);
	fx_done(&f);
}

/* A real block device of this machine, to replay a kernel uevent for. */
static const char *real_disk(void)
{
	static const char *const names[] = { "loop0", "loop1", "vda", "sda", "nvme0n1", "zram0" };
	char path[64];

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "/sys/class/block/%s/uevent", names[i]);
		if (access(path, W_OK) == 0)
			return names[i];
	}
	return NULL;
}

static int replay_add(const char *disk)
{
	char path[64];

	snprintf(path, sizeof(path), "/sys/class/block/%s/uevent", disk);
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int r = util_write_all(fd, "add", 3);
	close(fd);
	return r;
}

/* A tree in which the real disk that will announce itself has our serial,
 * and a bound uevent socket: the event comes from the real kernel, the
 * serial from the tree. Skips the test when either can't be had here. */
static bool uevent_setup(const char **ret_disk, int *ret_fd, struct fixture *ret_f, struct discover_opts *ret_o)
{
	const char *disk = real_disk();
	char manifest[128];
	int fd;

	if (!disk) {
		skip();
		return false;
	}
	fd = uevent_open();
	if (fd < 0) {
		skip();
		return false;
	}
	snprintf(manifest, sizeof(manifest), "disk %s serial=initdata\n", disk);
	*ret_f = fx_manifest(manifest);
	*ret_o = OPTS("initdata", DISCOVER_UEVENT, NULL);
	ret_o->uevent_fd = fd;
	ret_o->timeout_ms = 20000;
	*ret_disk = disk;
	*ret_fd = fd;
	return true;
}

static void test_uevent_real_kernel_event(void **state)
{
	const char *disk;
	struct discover_result res;
	struct discover_opts o;
	struct fixture f;
	int fd;

	if (!uevent_setup(&disk, &fd, &f, &o))
		return;
	assert_int_equal(replay_add(disk), 0);
	assert_int_equal(discover_run(f.rootfd, &o, &res), 0);
	assert_string_equal(res.name, disk);
	assert_int_equal(res.method, DISCOVER_UEVENT);
	assert_true(res.examined >= 1);

	/* a disk whose serial differs is looked at and passed over until the deadline */
	o = OPTS("another", DISCOVER_UEVENT, NULL);
	o.uevent_fd = fd;
	o.timeout_ms = 300;
	assert_int_equal(replay_add(disk), 0);
	assert_int_equal(discover_run(f.rootfd, &o, &res), -ENOENT);
	assert_true(res.examined >= 1);
	close(fd);
	fx_done(&f);
}

/* A disk whose serial attribute shows up only after its add event (as on
 * kernels before about 4.20): the first look finds no `serial`, the
 * second, UEVENT_RETRY_MS later, finds it. The attribute is made when the
 * second look is queued (the waiter's hook), so the test does not race. */
static char late_serial_path[512];
static unsigned late_hook_calls;

static void late_serial_hook(const char *name)
{
	late_hook_calls++;
	int sfd = open(late_serial_path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	assert_true(sfd >= 0);
	assert_int_equal(util_write_all(sfd, "initdata", 8), 0);
	close(sfd);
}

static void test_uevent_serial_after_event(void **state)
{
	const char *disk;
	struct discover_result res;
	struct discover_opts o;
	struct fixture f;
	int fd;

	if (!uevent_setup(&disk, &fd, &f, &o))
		return;
	snprintf(late_serial_path, sizeof(late_serial_path), "%s/sys/class/block/%s/serial", f.root, disk);
	assert_int_equal(unlink(late_serial_path), 0);
	late_hook_calls = 0;
	uevent_retry_queued_hook = late_serial_hook;
	assert_int_equal(replay_add(disk), 0);
	int r = discover_run(f.rootfd, &o, &res);
	uevent_retry_queued_hook = NULL;
	assert_int_equal(r, 0);
	assert_string_equal(res.name, disk);
	assert_int_equal(res.method, DISCOVER_UEVENT);
	/* the second look ran and is what found it */
	assert_int_equal(late_hook_calls, 1);
	assert_int_equal(res.retries, 1);
	close(fd);
	fx_done(&f);
}

/* The receive queue overran while the disk's `add` was in it: discovery
 * looks at every disk again instead of waiting for an event that is gone. */
static void test_uevent_overrun_rescans(void **state)
{
	struct fixture f = fx_manifest("disk vda\ndisk vdz serial=initdata\n");
	struct discover_opts o = OPTS("initdata", DISCOVER_UEVENT, NULL);
	const char *disk = real_disk();
	struct discover_result res;
	int one = 1;

	if (!disk) {
		fx_done(&f);
		skip();
		return;
	}
	/* a few rounds: other processes' events share the queue (see test_uevent.c) */
	int r = -ENOENT;
	for (int round = 0; round < 5 && r != 0; round++) {
		o.uevent_fd = uevent_open();
		assert_true(o.uevent_fd >= 0);
		assert_int_equal(setsockopt(o.uevent_fd, SOL_SOCKET, SO_RCVBUF, &one, sizeof(one)), 0);
		for (int i = 0; i < 200; i++)
			assert_int_equal(replay_add(disk), 0);
		r = discover_by_uevent(f.rootfd, &o, timing_now_us() + 2000 * 1000, &res);
		close(o.uevent_fd);
	}
	assert_int_equal(r, 0);
	assert_string_equal(res.devnode, "/dev/vdz");
	assert_int_equal(res.method, DISCOVER_SYSFS);
	assert_logged("uevent: receive queue overrun, events lost; looking at every disk again");
	fx_done(&f);
}

/* --- several disks in one scan (initdata and extensions) --- */

static void set_add(struct discover_set *set, const char *serial, uint64_t deadline_us)
{
	struct discover_target *t = &set->t[set->n++];

	memset(t, 0, sizeof(*t));
	t->serial = serial;
	t->serial_len = strlen(serial);
	t->deadline_us = deadline_us;
	t->status = -ENOENT;
}

static void test_all_one_scan(void **state)
{
	/* initdata (no by-id link), two extensions, one with a name the device cuts */
	struct fixture f = fx_manifest("disk vda\n"
				       "disk vdb serial=initdata\n"
				       "disk vdc serial=extension-coco\n"
				       "part vdc1 of=vdc\n"
				       "part vdc2 of=vdc\n"
				       "disk vdd serial=data\n"
				       "disk vde serial=extension-averylongn\n");
	static struct discover_set set;
	struct discover_opts o = OPTS("initdata", DISCOVER_AUTO, NULL);
	struct discover_result res;

	memset(&set, 0, sizeof(set));
	set_add(&set, "extension-coco", 0);
	set_add(&set, "extension-averylongname", 0);
	set.stray_prefix = "extension-";
	set.uevent_fd = -1;
	assert_int_equal(discover_all(f.rootfd, &o, &set, &res), 0);
	assert_string_equal(res.devnode, "/dev/vdb");
	assert_int_equal(res.method, DISCOVER_SYSFS);
	assert_int_equal(set.n, 3);
	assert_int_equal(set.t[1].status, 0);
	assert_string_equal(set.t[1].result.name, "vdc");
	assert_int_equal(set.t[2].status, 0);
	assert_string_equal(set.t[2].result.name, "vde");
	assert_int_equal(set.n_strays, 0);
	/* every whole disk read once: vda..vde, not the partitions, nothing twice */
	assert_int_equal(set.examined, 5);
	assert_int_equal(res.examined, 5);
	fx_done(&f);
}

static void test_all_byid_not_read_again(void **state)
{
	struct fixture f = fx_file("basic.tree");
	static struct discover_set set;
	struct discover_opts o = OPTS("initdata", DISCOVER_AUTO, NULL);
	struct discover_result res;

	assert_int_equal(tree_apply(f.root, "disk vdd serial=extension-coco\n"), 0);
	memset(&set, 0, sizeof(set));
	set_add(&set, "extension-coco", 0);
	set.uevent_fd = -1;
	assert_int_equal(discover_all(f.rootfd, &o, &set, &res), 0);
	assert_int_equal(res.method, DISCOVER_BYID);
	assert_string_equal(set.t[1].result.name, "vdd");
	/* by-id read vdb; the scan read vda, vdc, vdd (not vdb again) */
	assert_int_equal(res.examined, 1 + 3);
	fx_done(&f);
}

static void test_all_refusals(void **state)
{
	struct fixture f = fx_manifest("disk vda serial=initdata\n"
				       "disk vdb serial=extension-coco\n"
				       "disk vdc serial=extension-coco\n"
				       "disk vdd serial=extension-other\n"
				       "disk vde serial=extension-third\n");
	static struct discover_set set;
	struct discover_result res;

	memset(&set, 0, sizeof(set));
	set_add(&set, "extension-coco", 0);
	set_add(&set, "extension-missing", 0);
	set.stray_prefix = "extension-";
	set.uevent_fd = -1;
	/* initdata off: only the extensions */
	assert_int_equal(discover_all(f.rootfd, NULL, &set, &res), -ENOENT);
	assert_int_equal(set.n, 2);
	assert_int_equal(set.t[0].status, -ENOTUNIQ);
	assert_int_equal(set.t[0].result.n_matches, 2);
	assert_string_equal(set.t[0].result.matches[0], "vdb");
	assert_string_equal(set.t[0].result.matches[1], "vdc");
	assert_int_equal(set.t[1].status, -ENOENT);
	/* two extension disks no target names */
	assert_int_equal(set.n_strays, 2);
	assert_string_equal(set.strays[0], "vdd");
	assert_string_equal(set.strays[1], "vde");
	assert_memory_equal(set.stray_serial, "extension-", 10);
	fx_done(&f);
}

/* An extension disk that arrives after the scan is found by its uevent;
 * the wait ends as soon as every target is found. */
static void test_all_late_extension(void **state)
{
	const char *disk = real_disk();
	static struct discover_set set;
	struct fixture f;
	char manifest[160];

	if (!disk) {
		skip();
		return;
	}
	f = fx_manifest("disk vdb serial=initdata\n");
	memset(&set, 0, sizeof(set));
	set_add(&set, "initdata", 0);
	set_add(&set, "extension-coco", timing_now_us() + 20 * 1000 * 1000);
	set.stray_prefix = "extension-";
	set.uevent_fd = uevent_open();
	assert_true(set.uevent_fd >= 0);
	assert_int_equal(discover_set_scan(f.rootfd, &set), 0);
	assert_int_equal(set.t[0].status, 0);
	assert_int_equal(set.t[1].status, -ENOENT);
	/* the disk appears in the tree and announces itself: the real kernel's event */
	snprintf(manifest, sizeof(manifest), "disk %s serial=extension-coco\n", disk);
	assert_int_equal(tree_apply(f.root, manifest), 0);
	assert_int_equal(replay_add(disk), 0);
	assert_int_equal(discover_set_wait(f.rootfd, &set), 0);
	assert_int_equal(set.t[1].status, 0);
	assert_string_equal(set.t[1].result.name, disk);
	assert_int_equal(set.t[1].result.method, DISCOVER_UEVENT);
	/* the same disk announced again (a `change`, a rescan) is not a second disk */
	set.t[1].deadline_us = timing_now_us() + 300 * 1000;
	set.t[0].status = -ENOENT;
	set.t[0].deadline_us = timing_now_us() + 300 * 1000;
	set.t[0].serial = "never";
	set.t[0].serial_len = 5;
	assert_int_equal(replay_add(disk), 0);
	assert_int_equal(discover_set_wait(f.rootfd, &set), 0);
	assert_int_equal(discover_set_scan(f.rootfd, &set), 0);
	assert_int_equal(set.t[1].status, 0);
	assert_int_equal(set.t[1].result.n_matches, 1);
	fx_done(&f);
	close(set.uevent_fd);
}

static void test_format_matches(void **state)
{
	struct discover_result res = { .n_matches = 2 };
	char buf[DISCOVER_MATCHES_SIZE];

	util_strlcpy(res.matches[0], "vdb", DISCOVER_NAME_MAX);
	/* names under --root are anyone's bytes: escaped as log lines are */
	util_strlcpy(res.matches[1], "v\x01" "d\xff", DISCOVER_NAME_MAX);
	assert_int_equal(discover_format_matches(&res, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/dev/vdb,/dev/v\\x01d\\xff");
	/* a short buffer keeps whole entries only */
	assert_int_equal(discover_format_matches(&res, buf, 12), -ENOBUFS);
	assert_string_equal(buf, "/dev/vdb");
	res.n_matches = 0;
	assert_int_equal(discover_format_matches(&res, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "");
	/* the largest report fits the advertised size */
	res.n_matches = DISCOVER_AMBIGUOUS_MAX;
	for (int i = 0; i < DISCOVER_AMBIGUOUS_MAX; i++)
		memset(res.matches[i], 0xff, DISCOVER_NAME_MAX - 1), res.matches[i][DISCOVER_NAME_MAX - 1] = '\0';
	assert_int_equal(discover_format_matches(&res, buf, sizeof(buf)), 0);
	assert_int_equal(strlen(buf), DISCOVER_AMBIGUOUS_MAX * (5 + (DISCOVER_NAME_MAX - 1) * 4) + DISCOVER_AMBIGUOUS_MAX - 1);
}

static void test_no_byid_when_udev_runs(void **state)
{
	/* udevd makes the links itself: cocoinit leaves them to it */
	struct fixture f = fx_file("nobyid.tree");
	struct discover_opts o = OPTS("initdata", DISCOVER_AUTO, NULL);
	struct discover_result res;
	struct stat st;

	assert_int_equal(tree_apply(f.root, "file run/udev/control\n"), 0);
	o.create_byid = true;
	assert_found(&f, &o, &res, "/dev/vdc", DISCOVER_SYSFS);
	assert_int_equal(fstatat(f.rootfd, "dev/disk/by-id/virtio-initdata", &st, AT_SYMLINK_NOFOLLOW), -1);
	fx_done(&f);
}

static void test_waiter_choice(void **state)
{
	struct fixture f = fx_file("basic.tree");
	struct discover_opts o = OPTS("initdata", DISCOVER_UEVENT, NULL);

	/* no udevd below this root: the kernel's socket */
	o.udev_waiter = (struct udev_waiter *)&o; /* overwritten, never used */
	if (discover_waiter_open(f.rootfd, &o) < 0) {
		fx_done(&f);
		skip();
		return;
	}
	assert_true(o.uevent_fd >= 0);
	assert_null(o.udev_waiter);
	discover_waiter_close(&o);
	assert_int_equal(o.uevent_fd, -1);
	assert_null(o.udev_waiter);

	/* udevd runs: its monitor when built with libudev, else still the kernel's */
	assert_int_equal(tree_apply(f.root, "file run/udev/control\n"), 0);
	assert_int_equal(discover_waiter_open(f.rootfd, &o), 0);
#if HAVE_LIBUDEV
	assert_int_equal(o.uevent_fd, -1);
	assert_non_null(o.udev_waiter);
#else
	assert_true(o.uevent_fd >= 0);
	assert_null(o.udev_waiter);
#endif
	discover_waiter_close(&o);
	discover_waiter_close(&o); /* twice is harmless */
	fx_done(&f);
}

#if HAVE_LIBUDEV
static void test_udev_waiter_real(void **state)
{
	/* With udevd's monitor chosen (the tree says udevd runs), a kernel
	 * uevent reaches discovery only through the real udevd: found when
	 * this machine runs one, the deadline passes when it does not. */
	const char *disk = real_disk();
	char manifest[128];
	struct discover_result res;
	int realfd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int udevd;

	assert_true(realfd >= 0);
	udevd = udev_available(realfd);
	close(realfd);
	if (!disk) {
		skip();
		return;
	}
	snprintf(manifest, sizeof(manifest), "disk %s serial=initdata\nfile run/udev/control\n", disk);
	struct fixture f = fx_manifest(manifest);
	struct discover_opts o = OPTS("initdata", DISCOVER_UEVENT, NULL);
	o.timeout_ms = udevd ? 20000 : 500;
	o.create_byid = true;
	assert_int_equal(discover_waiter_open(f.rootfd, &o), 0);
	assert_non_null(o.udev_waiter);
	assert_int_equal(replay_add(disk), 0);
	if (udevd) {
		assert_int_equal(discover_run(f.rootfd, &o, &res), 0);
		assert_string_equal(res.name, disk);
		assert_int_equal(res.method, DISCOVER_UEVENT);
	} else {
		assert_int_equal(discover_run(f.rootfd, &o, &res), -ENOENT);
		assert_int_equal(res.examined, 0);
	}
	/* no link of cocoinit's own: udevd's is the one */
	struct stat st;
	assert_int_equal(fstatat(f.rootfd, "dev/disk/by-id/virtio-initdata", &st, AT_SYMLINK_NOFOLLOW), -1);
	discover_waiter_close(&o);
	fx_done(&f);
}
#endif

/* --- serials read ahead (discover_prefetch(), opts.seen) --- */

static void seen_put(struct discover_seen *seen, const char *name, const char *serial)
{
	size_t k = seen->n++;

	util_strlcpy(seen->e[k].name, name, DISCOVER_NAME_MAX);
	util_strlcpy(seen->e[k].serial, serial, sizeof(seen->e[k].serial));
	seen->e[k].len = strlen(serial);
	seen->e[k].kind = SERIAL_KIND_VIRTIO;
}

/* The scan takes a disk's serial from what was read ahead: vdc's serial
 * attribute is gone from the tree, yet vdc is found, read once, no more. */
static void test_seen_answers_scan(void **state)
{
	struct fixture f = fx_manifest("disk vdb serial=vol-a\n"
				       "disk vdc serial=initdata\n"
				       "disk vdd serial=vol-d\n");
	static struct discover_seen seen;
	struct discover_opts o = OPTS("initdata", DISCOVER_SYSFS, NULL);
	struct discover_result res;

	memset(&seen, 0, sizeof(seen));
	seen_put(&seen, "vdc", "initdata");
	assert_int_equal(unlinkat(f.rootfd, "sys/class/block/vdc/serial", 0), 0);
	/* without the answers read ahead: nothing to match */
	assert_int_equal(discover_run(f.rootfd, &o, &res), -ENOENT);
	o.seen = &seen;
	assert_found(&f, &o, &res, "/dev/vdc", DISCOVER_SYSFS);
	assert_int_equal(res.examined, 3);
	assert_int_equal(discover_seen_find(&seen, "vdc"), 0);
	assert_int_equal(discover_seen_find(&seen, "vdb"), -1);
	assert_int_equal(discover_seen_find(NULL, "vdc"), -1);
	fx_done(&f);
}

/* Two disks with the serial, one answered ahead, one read by the scan:
 * still ambiguous, never a pick. */
static void test_seen_ambiguous(void **state)
{
	struct fixture f = fx_manifest("disk vdb serial=initdata\n"
				       "disk vdc serial=vol-c\n"
				       "disk vdd serial=initdata\n");
	static struct discover_seen seen;
	struct discover_opts o = OPTS("initdata", DISCOVER_SYSFS, NULL);
	struct discover_result res;

	memset(&seen, 0, sizeof(seen));
	seen_put(&seen, "vdb", "initdata");
	seen_put(&seen, "vdc", "vol-c");
	o.seen = &seen;
	assert_int_equal(discover_run(f.rootfd, &o, &res), -ENOTUNIQ);
	assert_int_equal(res.n_matches, 2);
	assert_string_equal(res.matches[0], "vdb");
	assert_string_equal(res.matches[1], "vdd");
	fx_done(&f);
}

/* The disks there before the modules load, listed once (discover_seen_scan):
 * partitions and device-less disks (loop) are not entries; a complete set
 * answers the sysfs step alone, so a disk that is not in it is not seen,
 * and the step lists sys/class/block again once the set is in doubt. */
static void test_seen_scan_complete(void **state)
{
	struct fixture f = fx_manifest("disk vdb serial=vol-b\n"
				       "part vdb1 of=vdb\n"
				       "dir sys/devices/virtual/block/loop0\n"
				       "link sys/class/block/loop0 ../../devices/virtual/block/loop0\n"
				       "disk vdc serial=initdata\n");
	static struct discover_seen seen;
	struct discover_opts o = OPTS("initdata", DISCOVER_SYSFS, NULL);
	struct discover_result res;

	memset(&seen, 0, sizeof(seen));
	assert_int_equal(discover_seen_scan(f.rootfd, &seen), 0);
	assert_true(seen.complete);
	assert_int_equal(seen.n, 2);
	assert_true(discover_seen_find(&seen, "vdb") >= 0);
	assert_true(discover_seen_find(&seen, "vdc") >= 0);
	o.seen = &seen;
	assert_found(&f, &o, &res, "/dev/vdc", DISCOVER_SYSFS);
	assert_int_equal(res.examined, 2);

	/* a disk the set does not hold: a complete set is trusted, nothing is listed */
	assert_int_equal(tree_apply(f.root, "disk vdd serial=initdata\n"), 0);
	assert_found(&f, &o, &res, "/dev/vdc", DISCOVER_SYSFS);
	/* in doubt, the step lists the disks and sees both */
	seen.complete = false;
	assert_int_equal(discover_run(f.rootfd, &o, &res), -ENOTUNIQ);
	assert_int_equal(res.n_matches, 2);
	/* scanned again: vdd joins the set, which is ambiguous by itself */
	assert_int_equal(discover_seen_scan(f.rootfd, &seen), 0);
	assert_true(seen.complete);
	assert_int_equal(discover_run(f.rootfd, &o, &res), -ENOTUNIQ);
	fx_done(&f);
}

/* A device's disk without a serial (an older kernel adds the attribute after
 * the disk) leaves the set incomplete: the scan reads it later. */
static void test_seen_scan_doubt(void **state)
{
	struct fixture f = fx_manifest("disk vdb\n"
				       "disk vdc serial=initdata\n");
	static struct discover_seen seen;

	memset(&seen, 0, sizeof(seen));
	assert_int_equal(discover_seen_scan(f.rootfd, &seen), 0);
	assert_false(seen.complete);
	assert_int_equal(seen.n, 1);
	assert_int_equal(discover_seen_scan(-1, &seen), -EBADF);
	assert_false(seen.complete);
	assert_int_equal(discover_seen_scan(f.rootfd, NULL), -EINVAL);
	/* no room for every disk: not complete either */
	memset(&seen, 0, sizeof(seen));
	seen.n = DISCOVER_SEEN_MAX;
	assert_int_equal(discover_seen_scan(f.rootfd, &seen), 0);
	assert_false(seen.complete);
	fx_done(&f);
}

/* The scan of several targets (initdata and extensions) takes the answers
 * too: the extension disk whose serial file is gone is found from them. */
static void test_seen_answers_set_scan(void **state)
{
	struct fixture f = fx_manifest("disk vdb serial=initdata\n"
				       "disk vdc serial=extension-coco\n"
				       "disk vdd serial=data\n");
	static struct discover_set set;
	static struct discover_seen seen;
	struct discover_opts o = OPTS("initdata", DISCOVER_AUTO, NULL);
	struct discover_result res;

	memset(&seen, 0, sizeof(seen));
	seen_put(&seen, "vdc", "extension-coco");
	seen_put(&seen, "vdb", "initdata");
	assert_int_equal(unlinkat(f.rootfd, "sys/class/block/vdc/serial", 0), 0);
	assert_int_equal(unlinkat(f.rootfd, "sys/class/block/vdb/serial", 0), 0);
	memset(&set, 0, sizeof(set));
	set_add(&set, "extension-coco", 0);
	set.stray_prefix = "extension-";
	set.uevent_fd = -1;
	o.seen = &seen;
	assert_int_equal(discover_all(f.rootfd, &o, &set, &res), 0);
	assert_string_equal(res.devnode, "/dev/vdb");
	assert_int_equal(set.t[1].status, 0);
	assert_string_equal(set.t[1].result.name, "vdc");
	assert_int_equal(set.examined, 3);
	fx_done(&f);
}

static void wait_readable(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	assert_int_equal(poll(&p, 1, 20000), 1);
}

/* A real kernel `add` event queued on the socket: discover_prefetch() reads
 * that disk's serial (from the tree) without waiting, once, and the scan
 * that follows finds the disk from the answer. */
static void test_prefetch_real_kernel_event(void **state)
{
	static struct discover_seen seen;
	struct discover_result res;
	struct discover_opts o;
	struct fixture f;
	const char *disk;
	int fd, r;

	if (!uevent_setup(&disk, &fd, &f, &o))
		return;
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(discover_prefetch(f.rootfd, -1, &seen), -EINVAL);
	/* nothing queued (other processes' events aside): it returns at once */
	while (discover_prefetch(f.rootfd, fd, &seen) > 0)
		;
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(replay_add(disk), 0);
	wait_readable(fd);
	r = discover_prefetch(f.rootfd, fd, &seen);
	assert_true(r >= 1);
	int i = discover_seen_find(&seen, disk);
	assert_true(i >= 0);
	assert_int_equal(seen.e[i].len, 8);
	assert_memory_equal(seen.e[i].serial, "initdata", 8);
	/* the same disk announced again: not read twice */
	size_t n = seen.n;
	assert_int_equal(replay_add(disk), 0);
	wait_readable(fd);
	(void)discover_prefetch(f.rootfd, fd, &seen);
	assert_int_equal(seen.n, n);
	/* the serial gone from the tree: the scan answers from what was read */
	char path[128];
	snprintf(path, sizeof(path), "sys/class/block/%s/serial", disk);
	assert_int_equal(unlinkat(f.rootfd, path, 0), 0);
	o.methods = DISCOVER_SYSFS;
	o.seen = &seen;
	assert_int_equal(discover_run(f.rootfd, &o, &res), 0);
	assert_string_equal(res.name, disk);
	assert_int_equal(res.method, DISCOVER_SYSFS);
	close(fd);
	fx_done(&f);
}

/* The sysfs root missing: an error, nothing read, nothing waited for. */
static void test_prefetch_no_sysfs(void **state)
{
	struct fixture f = fx_manifest("dir dev\n");
	static struct discover_seen seen;
	int fd = uevent_open();

	if (fd < 0) {
		skip();
		return;
	}
	memset(&seen, 0, sizeof(seen));
	seen.complete = true;
	assert_int_equal(discover_prefetch(f.rootfd, fd, &seen), -ENOENT);
	assert_int_equal(seen.n, 0);
	/* what it could not read leaves the set in doubt */
	assert_false(seen.complete);
	seen.complete = true;
	assert_int_equal(discover_prefetch(f.rootfd, -1, &seen), -EINVAL);
	assert_false(seen.complete);
	close(fd);
	fx_done(&f);
}

/* Events lost from the queue (-ENOBUFS) take the set's completeness: the
 * disks announced in them were never read. */
static void test_prefetch_overrun_doubt(void **state)
{
	struct fixture f = fx_manifest("disk vdz serial=initdata\n");
	static struct discover_seen seen;
	const char *disk = real_disk();
	int one = 1, r = 0;

	if (!disk) {
		fx_done(&f);
		skip();
		return;
	}
	for (int round = 0; round < 5 && r != -ENOBUFS; round++) {
		int fd = uevent_open();
		assert_true(fd >= 0);
		assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &one, sizeof(one)), 0);
		for (int i = 0; i < 200; i++)
			assert_int_equal(replay_add(disk), 0);
		memset(&seen, 0, sizeof(seen));
		seen.complete = true;
		while ((r = discover_prefetch(f.rootfd, fd, &seen)) > 0)
			;
		close(fd);
	}
	assert_int_equal(r, -ENOBUFS);
	assert_false(seen.complete);
	fx_done(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hint_by_name),
		cmocka_unit_test(test_hint_by_pci),
		cmocka_unit_test(test_hint_pci_is_whole_component),
		cmocka_unit_test(test_hint_pci_each_kind),
		cmocka_unit_test(test_hint_pci_spelling),
		cmocka_unit_test(test_hint_pci_no_links_followed),
		cmocka_unit_test(test_hint_pci_real_sysfs),
		cmocka_unit_test(test_wrong_hint_falls_through),
		cmocka_unit_test(test_bad_hints_fall_through),
		cmocka_unit_test(test_by_id),
		cmocka_unit_test(test_sysfs),
		cmocka_unit_test(test_only_sysfs_method),
		cmocka_unit_test(test_not_found),
		cmocka_unit_test(test_no_sysfs_at_all),
		cmocka_unit_test(test_ambiguous),
		cmocka_unit_test(test_ambiguous_many),
		cmocka_unit_test(test_ambiguous_hint_pci),
		cmocka_unit_test(test_byid_misdirected),
		cmocka_unit_test(test_byid_dangling),
		cmocka_unit_test(test_byid_loop),
		cmocka_unit_test(test_byid_to_other_place),
		cmocka_unit_test(test_serial_bytes),
		cmocka_unit_test(test_utf8_serial_byid),
		cmocka_unit_test(test_nvme_padding),
		cmocka_unit_test(test_scsi),
		cmocka_unit_test(test_vpd_lengths),
		cmocka_unit_test(test_vanishing_entries),
		cmocka_unit_test(test_partitions_ignored),
		cmocka_unit_test(test_make_byid_then_found),
		cmocka_unit_test(test_make_byid_keeps_existing),
		cmocka_unit_test(test_make_byid_subdirectory),
		cmocka_unit_test(test_make_byid_no_symlink_dirs),
		cmocka_unit_test(test_truncation_20),
		cmocka_unit_test(test_4096_disks),
		cmocka_unit_test(test_method_names),
		cmocka_unit_test(test_bad_opts),
		cmocka_unit_test(test_single_steps_start_clean),
		cmocka_unit_test(test_magic_only_when_asked),
		cmocka_unit_test(test_uevent_real_kernel_event),
		cmocka_unit_test(test_uevent_serial_after_event),
		cmocka_unit_test(test_uevent_overrun_rescans),
		cmocka_unit_test(test_all_one_scan),
		cmocka_unit_test(test_all_byid_not_read_again),
		cmocka_unit_test(test_seen_answers_scan),
		cmocka_unit_test(test_seen_ambiguous),
		cmocka_unit_test(test_seen_scan_complete),
		cmocka_unit_test(test_seen_scan_doubt),
		cmocka_unit_test(test_seen_answers_set_scan),
		cmocka_unit_test(test_prefetch_real_kernel_event),
		cmocka_unit_test(test_prefetch_no_sysfs),
		cmocka_unit_test(test_prefetch_overrun_doubt),
		cmocka_unit_test(test_all_refusals),
		cmocka_unit_test(test_all_late_extension),
		cmocka_unit_test(test_format_matches),
		cmocka_unit_test(test_no_byid_when_udev_runs),
		cmocka_unit_test(test_waiter_choice),
#if HAVE_LIBUDEV
		cmocka_unit_test(test_udev_waiter_real),
#endif
	};

	return cmocka_run_group_tests(tests, group_setup, NULL);
}
