/* SPDX-License-Identifier: Apache-2.0 */
/* Early mounts, shares and the console, against a temporary root: sys_mount()
 * is replaced (-Wl,--wrap=sys_mount) and records each call, so the tests
 * assert the exact type, flags and data of every CONTRACT section 2 row and
 * that mounts already listed in the fake proc/self/mountinfo are skipped. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "cocoinit/log.h"
#include "cocoinit/mounts.h"
#include "tree.h"

struct mount_call {
	char source[256], target[256], type[32];
	unsigned long flags;
	bool has_data;
	char data[256];
};

static struct mount_call calls[16];
static size_t n_calls;
static const char *fail_type; /* sys_mount of this type fails with fail_errno */
static int fail_errno;
static char *root;            /* the current tree */
static const char *proc_mountinfo; /* written when proc is "mounted" */

int __wrap_sys_mount(const char *source, const char *target, const char *fstype, unsigned long flags,
		     const void *data);

int __wrap_sys_mount(const char *source, const char *target, const char *fstype, unsigned long flags,
		     const void *data)
{
	struct mount_call *c;

	assert_true(n_calls < 16);
	c = &calls[n_calls++];
	snprintf(c->source, sizeof(c->source), "%s", source);
	snprintf(c->target, sizeof(c->target), "%s", target);
	snprintf(c->type, sizeof(c->type), "%s", fstype);
	c->flags = flags;
	c->has_data = data != NULL;
	snprintf(c->data, sizeof(c->data), "%s", data ? (const char *)data : "");
	if (fail_type && strcmp(fstype, fail_type) == 0)
		return -fail_errno;
	if (proc_mountinfo && strcmp(fstype, "proc") == 0) {
		char path[4096];
		FILE *f;

		snprintf(path, sizeof(path), "%s/proc/self", root);
		mkdir(path, 0755);
		snprintf(path, sizeof(path), "%s/proc/self/mountinfo", root);
		f = fopen(path, "w");
		assert_non_null(f);
		fputs(proc_mountinfo, f);
		fclose(f);
	}
	return 0;
}

static int setup(void **state)
{
	(void)state;
	n_calls = 0;
	fail_type = NULL;
	fail_errno = 0;
	proc_mountinfo = NULL;
	memset(calls, 0, sizeof(calls));
	root = NULL;
	return 0;
}

static int teardown(void **state)
{
	tree_clear(&root);
	return 0;
}

static int make_root(const char *manifest)
{
	int fd;

	root = tree_from_manifest(manifest);
	assert_non_null(root);
	fd = tree_open(root);
	assert_true(fd >= 0);
	return fd;
}

static void assert_call(size_t i, const char *type, const char *target, unsigned long flags, const char *data)
{
	assert_true(i < n_calls);
	assert_string_equal(calls[i].type, type);
	assert_string_equal(calls[i].source, type);
	assert_string_equal(calls[i].target, target);
	assert_int_equal(calls[i].flags, flags);
	if (data) {
		assert_true(calls[i].has_data);
		assert_string_equal(calls[i].data, data);
	} else {
		assert_false(calls[i].has_data);
	}
}

static bool is_dir(int rootfd, const char *path)
{
	struct stat st;
	return fstatat(rootfd, path, &st, 0) == 0 && S_ISDIR(st.st_mode);
}

#define NSN (MS_NOSUID | MS_NODEV | MS_NOEXEC)

static void test_early_all(void **state)
{
	char err[256] = "";
	int fd = make_root("dir etc\n");

	(void)state;
	assert_int_equal(mounts_early(fd, err, sizeof(err)), 0);
	assert_string_equal(err, "");
	assert_int_equal(n_calls, 7);
	assert_call(0, "proc", "/proc", NSN, NULL);
	assert_call(1, "sysfs", "/sys", NSN, NULL);
	assert_call(2, "devtmpfs", "/dev", MS_NOSUID, "mode=0755");
	assert_call(3, "devpts", "/dev/pts", MS_NOSUID | MS_NOEXEC, "gid=5,mode=620,ptmxmode=666");
	assert_call(4, "tmpfs", "/dev/shm", MS_NOSUID | MS_NODEV, NULL);
	assert_call(5, "tmpfs", "/run", MS_NOSUID | MS_NODEV, "mode=0755");
	assert_call(6, "cgroup2", "/sys/fs/cgroup", NSN, NULL);
	/* The mount points were made. */
	assert_true(is_dir(fd, "proc"));
	assert_true(is_dir(fd, "dev/pts"));
	assert_true(is_dir(fd, "dev/shm"));
	assert_true(is_dir(fd, "run"));
	assert_true(is_dir(fd, "sys/fs/cgroup"));
	close(fd);
}

static void test_early_skips_mounted(void **state)
{
	char err[256] = "";
	/* /sys is there but as the wrong type: mounted again. */
	int fd = make_root("file proc/self/mountinfo "
			   "22 1 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:5 - proc proc rw\\n"
			   "23 1 0:5 / /dev rw,nosuid shared:2 - devtmpfs devtmpfs rw,mode=755\\n"
			   "24 1 0:22 / /sys rw - tmpfs tmpfs rw\\n"
			   "25 1 0:23 / /run rw,nosuid,nodev shared:9 master:1 - tmpfs tmpfs rw,mode=755\\n"
			   "26 23 0:24 / /dev/pts rw - devpts devpts rw\n");

	(void)state;
	assert_int_equal(mounts_early(fd, err, sizeof(err)), 0);
	assert_int_equal(n_calls, 3);
	assert_call(0, "sysfs", "/sys", NSN, NULL);
	assert_call(1, "tmpfs", "/dev/shm", MS_NOSUID | MS_NODEV, NULL);
	assert_call(2, "cgroup2", "/sys/fs/cgroup", NSN, NULL);
	close(fd);
}

static void test_early_checks_after_proc(void **state)
{
	char err[256] = "";
	int fd = make_root("dir x\n");

	(void)state;
	/* No /proc yet: only once it is mounted can the others be checked. */
	proc_mountinfo = "1 0 0:1 / / rw - rootfs rootfs rw\n"
			 "20 1 0:20 / /proc rw - proc proc rw\n"
			 "21 1 0:21 / /sys rw - sysfs sysfs rw\n"
			 "27 21 0:27 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n";
	assert_int_equal(mounts_early(fd, err, sizeof(err)), 0);
	assert_int_equal(n_calls, 5);
	assert_call(0, "proc", "/proc", NSN, NULL);
	assert_call(1, "devtmpfs", "/dev", MS_NOSUID, "mode=0755");
	assert_call(2, "devpts", "/dev/pts", MS_NOSUID | MS_NOEXEC, "gid=5,mode=620,ptmxmode=666");
	assert_call(3, "tmpfs", "/dev/shm", MS_NOSUID | MS_NODEV, NULL);
	assert_call(4, "tmpfs", "/run", MS_NOSUID | MS_NODEV, "mode=0755");
	close(fd);
}

static void test_early_no_cgroup2(void **state)
{
	char err[256] = "", logpath[] = "/tmp/cocoinit-mlog-XXXXXX", buf[1024];
	int fd = make_root("dir x\n");
	int lf = mkstemp(logpath);
	ssize_t n;

	(void)state;
	assert_true(lf >= 0);
	unlink(logpath);
	log_set_fd(dup(lf), LOG_SINK_PLAIN);
	fail_type = "cgroup2";
	fail_errno = ENODEV;
	assert_int_equal(mounts_early(fd, err, sizeof(err)), 0);
	assert_int_equal(n_calls, 7);
	assert_string_equal(err, "");
	n = pread(lf, buf, sizeof(buf) - 1, 0);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_string_equal(buf, "cocoinit: warning: mount: /sys/fs/cgroup (cgroup2) skipped: No such device\n");
	log_set_fd(-1, LOG_SINK_PLAIN);
	close(lf);
	close(fd);
}

static void test_early_failure(void **state)
{
	char err[256] = "";
	int fd = make_root("dir x\n");

	(void)state;
	fail_type = "devpts";
	fail_errno = ENODEV;
	assert_int_equal(mounts_early(fd, err, sizeof(err)), -ENODEV);
	assert_string_equal(err, "mount devpts on /dev/pts: No such device");
	/* It stops at the first required failure. */
	assert_int_equal(n_calls, 4);
	close(fd);

	/* A target that can't be made is an error too, naming the mount. */
	tree_clear(&root);
	n_calls = 0;
	fail_type = NULL;
	fd = make_root("file run not a directory\n");
	assert_int_equal(mounts_early(fd, err, sizeof(err)), -ENOTDIR);
	assert_string_equal(err, "mount tmpfs on /run: Not a directory");
	assert_int_equal(n_calls, 5);
	close(fd);
}

static void test_is_mounted(void **state)
{
	char manifest[8192];
	int fd;
	size_t o;

	(void)state;
	o = (size_t)snprintf(manifest, sizeof(manifest), "file proc/self/mountinfo "
			     "30 1 0:30 / /mnt/a\\\\040b rw - tmpfs tmpfs rw\\n"
			     "31 1 0:31 / /x rw - tmpfs tmpfs rw\\n"
			     "32 1 0:32 / /");
	/* A line longer than any buffer is skipped; the next still counts. */
	for (int i = 0; i < 5000; i++)
		manifest[o++] = 'l';
	o += (size_t)snprintf(manifest + o, sizeof(manifest) - o,
			      " rw - tmpfs tmpfs rw\\n"
			      "33 31 8:1 / /x rw shared:1 master:2 - ext4 /dev/vda rw\\n"
			      "34 1 0:34 / /last rw - erofs /dev/vdb ro\n");
	fd = make_root(manifest);
	assert_int_equal(mounts_is_mounted(fd, "/mnt/a b", "tmpfs"), 1);
	assert_int_equal(mounts_is_mounted(fd, "/mnt/a\\040b", "tmpfs"), 0);
	/* The mount on top decides. */
	assert_int_equal(mounts_is_mounted(fd, "/x", "ext4"), 1);
	assert_int_equal(mounts_is_mounted(fd, "/x", "tmpfs"), 0);
	/* The last line needs no newline. */
	assert_int_equal(mounts_is_mounted(fd, "/last", "erofs"), 1);
	assert_int_equal(mounts_is_mounted(fd, "/nope", "tmpfs"), 0);
	close(fd);
	tree_clear(&root);

	/* Without mountinfo, proc/mounts. */
	fd = make_root("file proc/mounts proc /proc proc rw 0 0\\nnone /run/a\\\\011b tmpfs rw 0 0\\n\n");
	assert_int_equal(mounts_is_mounted(fd, "/proc", "proc"), 1);
	assert_int_equal(mounts_is_mounted(fd, "/run/a\tb", "tmpfs"), 1);
	assert_int_equal(mounts_is_mounted(fd, "/proc", "sysfs"), 0);
	close(fd);
	tree_clear(&root);

	fd = make_root("dir proc\n");
	assert_int_equal(mounts_is_mounted(fd, "/proc", "proc"), -ENOENT);
	close(fd);
}

static void test_parse_options(void **state)
{
	char data[64];
	unsigned long f;

	(void)state;
	assert_int_equal(mounts_parse_options("", &f, data, sizeof(data)), 0);
	assert_int_equal(f, MS_NOSUID | MS_NODEV);
	assert_string_equal(data, "");
	assert_int_equal(mounts_parse_options(NULL, &f, data, sizeof(data)), 0);
	assert_int_equal(f, MS_NOSUID | MS_NODEV);

	assert_int_equal(mounts_parse_options("trans=virtio,version=9p2000.L", &f, data, sizeof(data)), 0);
	assert_int_equal(f, MS_NOSUID | MS_NODEV);
	assert_string_equal(data, "trans=virtio,version=9p2000.L");

	assert_int_equal(mounts_parse_options("ro,noatime,cache=auto,,noexec,nodiratime,relatime", &f, data,
					      sizeof(data)), 0);
	assert_int_equal(f, MS_RDONLY | MS_NOATIME | MS_NOEXEC | MS_NODIRATIME | MS_RELATIME | MS_NOSUID | MS_NODEV);
	assert_string_equal(data, "cache=auto");

	/* suid/dev say the user wants them: nothing added. */
	assert_int_equal(mounts_parse_options("suid,dev,exec", &f, data, sizeof(data)), 0);
	assert_int_equal(f, 0);
	assert_int_equal(mounts_parse_options("dev", &f, data, sizeof(data)), 0);
	assert_int_equal(f, MS_NOSUID);
	assert_int_equal(mounts_parse_options("nosuid,suid", &f, data, sizeof(data)), 0);
	assert_int_equal(f, MS_NODEV);
	/* Later words win. */
	assert_int_equal(mounts_parse_options("ro,rw,sync,async,dirsync,lazytime", &f, data, sizeof(data)), 0);
	assert_int_equal(f, MS_DIRSYNC | MS_LAZYTIME | MS_NOSUID | MS_NODEV);
	assert_int_equal(mounts_parse_options("rw,ro,strictatime,defaults", &f, data, sizeof(data)), 0);
	assert_int_equal(f, MS_RDONLY | MS_STRICTATIME | MS_NOSUID | MS_NODEV);

	/* The data string is bounded. */
	f = 12345;
	assert_int_equal(mounts_parse_options("a=0123456789,b=0123456789,c=0123456789", &f, data, 20), -E2BIG);
	assert_int_equal(f, 12345);
	assert_int_equal(mounts_parse_options("a=0123456,b=0", &f, data, 14), 0);
	assert_string_equal(data, "a=0123456,b=0");
	assert_int_equal(mounts_parse_options("a=0123456,b=01", &f, data, 14), -E2BIG);
}

static void test_share(void **state)
{
	char err[256] = "";
	int fd = make_root("dir run\n");
	struct mount_spec m = { .type = "virtiofs", .source = "kataShared",
				.target = "/run/kata-containers/shared/containers" };
	struct mount_spec p9 = { .type = "9p", .source = "share", .target = "/mnt/share",
				 .options = "trans=virtio,version=9p2000.L,ro" };

	(void)state;
	assert_int_equal(mounts_share_at(fd, &m, err, sizeof(err)), 0);
	assert_true(is_dir(fd, "run/kata-containers/shared/containers"));
	assert_int_equal(n_calls, 1);
	assert_string_equal(calls[0].source, "kataShared");
	assert_string_equal(calls[0].target, "/run/kata-containers/shared/containers");
	assert_string_equal(calls[0].type, "virtiofs");
	assert_int_equal(calls[0].flags, MS_NOSUID | MS_NODEV);
	assert_false(calls[0].has_data);

	assert_int_equal(mounts_share_at(fd, &p9, err, sizeof(err)), 0);
	assert_true(is_dir(fd, "mnt/share"));
	assert_int_equal(n_calls, 2);
	assert_string_equal(calls[1].type, "9p");
	assert_int_equal(calls[1].flags, MS_RDONLY | MS_NOSUID | MS_NODEV);
	assert_string_equal(calls[1].data, "trans=virtio,version=9p2000.L");

	fail_type = "virtiofs";
	fail_errno = ENODEV;
	assert_int_equal(mounts_share_at(fd, &m, err, sizeof(err)), -ENODEV);
	assert_string_equal(err, "mount virtiofs kataShared on /run/kata-containers/shared/containers: No such device");

	struct mount_spec bad = { .type = "tmpfs", .source = "t\x01", .target = "/run/x" };
	fail_type = "tmpfs";
	assert_int_equal(mounts_share_at(fd, &bad, err, sizeof(err)), -ENODEV);
	assert_string_equal(err, "mount tmpfs t\\x01 on /run/x: No such device");
	struct mount_spec rel = { .type = "tmpfs", .source = "t", .target = "run/x" };
	assert_int_equal(mounts_share_at(fd, &rel, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "mount tmpfs t on run/x: target is not an absolute path");
	close(fd);
}

/* In a child, so the test's own stdio stays as it is. */
static void test_console(void **state)
{
	int fd = make_root("file dev/console \n");
	struct stat cst;
	pid_t pid;
	int status;
	char buf[64];

	(void)state;
	assert_int_equal(fstatat(fd, "dev/console", &cst, 0), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct stat st;
		int ok = 1;

		close(0); /* the open then lands on fd 0 itself */
		if (mounts_console_at(fd) != 0)
			_exit(10);
		for (int i = 0; i <= 2; i++) {
			if (fstat(i, &st) < 0 || st.st_ino != cst.st_ino || st.st_dev != cst.st_dev)
				ok = 0;
			if (fcntl(i, F_GETFD) != 0) /* must survive the exec into the agent */
				ok = 0;
			if ((fcntl(i, F_GETFL) & O_ACCMODE) != O_RDWR)
				ok = 0;
		}
		if (write(1, "out,", 4) != 4 || write(2, "err", 3) != 3)
			ok = 0;
		_exit(ok ? 0 : 11);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	int cfd = openat(fd, "dev/console", O_RDONLY | O_CLOEXEC);
	ssize_t n = pread(cfd, buf, sizeof(buf) - 1, 0);
	close(cfd);
	assert_true(n >= 0);
	buf[n] = '\0';
	assert_string_equal(buf, "out,err");
	close(fd);
	tree_clear(&root);

	/* No console: the fds stay as they are. */
	fd = make_root("dir dev\n");
	struct stat before, after;
	assert_int_equal(fstat(1, &before), 0);
	assert_int_equal(mounts_console_at(fd), -ENOENT);
	assert_int_equal(fstat(1, &after), 0);
	assert_int_equal(before.st_ino, after.st_ino);
	close(fd);
}

/* PID 1 as the kernel starts it when it found no console: fds 0-2 closed.
 * Returns 0 when the boot's root fd survives the console set-up and fds 0-2
 * end up on want (dev/console or dev/null of the tree), else a step number. */
static int stdio_closed_child(bool reserve, const struct stat *want, int want_console)
{
	struct stat st;

	close(0);
	close(1);
	close(2);
	if (reserve && mounts_stdio_reserve() != 3)
		return 20;
	int rootfd = tree_open(root); /* as main.c opens "/" */
	if (rootfd < 0)
		return 21;
	if (mounts_console_at(rootfd) != (want_console ? 0 : -ENOENT))
		return 22;
	/* The root fd is still the root, not the console. */
	if (fstat(rootfd, &st) < 0 || !S_ISDIR(st.st_mode))
		return 23;
	for (int i = 0; i <= 2; i++)
		if (fstat(i, &st) < 0 || st.st_ino != want->st_ino || st.st_dev != want->st_dev)
			return 24 + i;
	return 0;
}

static void test_console_stdio_closed(void **state)
{
	struct stat cst;
	int fd, status;
	pid_t pid;

	(void)state;
	fd = make_root("file dev/console \nfile dev/null \n");
	assert_int_equal(fstatat(fd, "dev/console", &cst, 0), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(stdio_closed_child(true, &cst, 1));
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);

	/* No console either: the agent gets /dev/null, not directories. */
	assert_int_equal(unlinkat(fd, "dev/console", 0), 0);
	assert_int_equal(fstatat(fd, "dev/null", &cst, 0), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(stdio_closed_child(true, &cst, 0));
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);

	/* Open fds are never touched. */
	struct stat before, after;
	assert_int_equal(fstat(1, &before), 0);
	assert_int_equal(mounts_stdio_reserve(), 0);
	assert_int_equal(fstat(1, &after), 0);
	assert_int_equal(before.st_ino, after.st_ino);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_early_all, setup, teardown),
		cmocka_unit_test_setup_teardown(test_early_skips_mounted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_early_checks_after_proc, setup, teardown),
		cmocka_unit_test_setup_teardown(test_early_no_cgroup2, setup, teardown),
		cmocka_unit_test_setup_teardown(test_early_failure, setup, teardown),
		cmocka_unit_test_setup_teardown(test_is_mounted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_parse_options, setup, teardown),
		cmocka_unit_test_setup_teardown(test_share, setup, teardown),
		cmocka_unit_test_setup_teardown(test_console, setup, teardown),
		cmocka_unit_test_setup_teardown(test_console_stdio_closed, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
