/* SPDX-License-Identifier: Apache-2.0 */
/* state.json: hostile strings come out as valid JSON (checked byte for byte
 * and by python3's json parser), the document has the version-1 shape with
 * the values cocoinit recorded (the boot's sub-steps in timing_us), and it is
 * written atomically with mode 0644 into a temporary root tree. sysinfo() is
 * replaced (-Wl,--wrap=sys_sysinfo). */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysinfo.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "cocoinit/state.h"
#include "cocoinit/timing.h"
#include "cocoinit/util.h"

/* What sysinfo() reports: 2017852 KiB in pages of 4096 bytes; -1 makes it fail. */
static int sysinfo_errno;

int __wrap_sys_sysinfo(struct sysinfo *si);
int __wrap_sys_sysinfo(struct sysinfo *si)
{
	if (sysinfo_errno)
		return -sysinfo_errno;
	memset(si, 0, sizeof(*si));
	si->totalram = 2017852 / 4;
	si->mem_unit = 4096;
	return 0;
}

static void test_escape_hostile(void **state)
{
	char out[256];
	const char in[] = "a\"b\\c\n\t\x01\x1f\x7f\x80\xff/z";
	int n = state_json_string(out, sizeof(out), in, sizeof(in) - 1);

	assert_string_equal(out, "\"a\\\"b\\\\c\\u000a\\u0009\\u0001\\u001f\\u007f\\u0080\\u00ff/z\"");
	assert_int_equal(n, (int)strlen(out));
}

/* TOML strings are UTF-8: their characters go through as they are. */
static void test_escape_utf8(void **state)
{
	char out[64];
	const char in[] = "\xc3\xa9t\xc3\xa9 \xe2\x82\xac\n\x7f\"";
	int n = state_json_utf8(out, sizeof(out), in, sizeof(in) - 1);

	assert_string_equal(out, "\"\xc3\xa9t\xc3\xa9 \xe2\x82\xac\\n\\u007f\\\"\"");
	assert_int_equal(n, (int)strlen(out));
	/* Characters a terminal acts on stay escaped: C1 CSI, RLO, LRI, LS. */
	n = state_json_utf8(out, sizeof(out), "a\xc2\x9b" "b\xe2\x80\xae" "c\xe2\x81\xa6\xe2\x80\xa8\xe2\x80\xa7\xc2\xa0", 19);
	assert_string_equal(out, "\"a\\u009bb\\u202ec\\u2066\\u2028\xe2\x80\xa7\xc2\xa0\"");
	assert_int_equal(n, (int)strlen(out));
	/* Cut sequences are copied as they are (the parser let no such text through). */
	state_json_utf8(out, sizeof(out), "\xc2", 1);
	assert_string_equal(out, "\"\xc2\"");
	/* The byte reading keeps them apart from the Latin-1 bytes they look like. */
	state_json_string(out, sizeof(out), "\xc3\xa9", 2);
	assert_string_equal(out, "\"\\u00c3\\u00a9\"");
}

static void test_escape_nul_and_empty(void **state)
{
	char out[64];

	/* A NUL inside a serial is data, not the end of it. */
	assert_int_equal(state_json_string(out, sizeof(out), "a\0b", 3), 10);
	assert_string_equal(out, "\"a\\u0000b\"");
	assert_int_equal(state_json_string(out, sizeof(out), "", 0), 2);
	assert_string_equal(out, "\"\"");
}

static void test_escape_no_space(void **state)
{
	char out[8];

	assert_int_equal(state_json_string(out, sizeof(out), "abcdef", 6), -ENOSPC);
	/* One escaped byte needs six: never half of an escape. */
	assert_int_equal(state_json_string(out, sizeof(out), "\x01", 1), -ENOSPC);
	assert_int_equal(state_json_string(out, sizeof(out), "abcde", 5), 7);
	assert_int_equal(state_json_string(out, 2, "", 0), -ENOSPC);
}

static void test_escape_every_byte(void **state)
{
	char in[256];
	char out[256 * 6 + 3];
	int n;

	for (int i = 0; i < 256; i++)
		in[i] = (char)i;
	n = state_json_string(out, sizeof(out), in, sizeof(in));
	assert_true(n > 0);
	/* Only printable ASCII leaves the function unescaped. */
	for (int i = 1; i < n - 1; i++)
		assert_true(out[i] >= 0x20 && out[i] < 0x7f);
}

static char root[] = "/tmp/test_state.XXXXXX";

static void put(const char *rel, const char *text)
{
	char path[512], cmd[600];
	FILE *f;

	snprintf(cmd, sizeof(cmd), "mkdir -p \"$(dirname '%s/%s')\"", root, rel);
	assert_int_equal(system(cmd), 0);
	snprintf(path, sizeof(path), "%s/%s", root, rel);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* Runs python3 on the state file with an assertion script; 0 when it holds. */
static int python_check(const char *path, const char *checks, bool quiet)
{
	char prog[4096];
	pid_t pid;
	int status;

	snprintf(prog, sizeof(prog),
		 "import json,sys\n"
		 "raw=open(sys.argv[1],'rb').read()\n"
		 "d=json.loads(raw.decode('ascii'))\n"
		 "%s\n",
		 checks);
	pid = fork();
	if (pid == 0) {
		if (quiet)
			freopen("/dev/null", "w", stderr);
		execlp("python3", "python3", "-c", prog, path, (char *)NULL);
		_exit(127);
	}
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_not_equal(WEXITSTATUS(status), 127);
	return WEXITSTATUS(status);
}

static void test_write_shape(void **state)
{
	static struct state st;
	static struct config cfg;
	struct vsock_listener ls[2] = { { .fd = 17, .port = 1027, .name = "passfd" }, { .fd = 4, .port = 1025, .name = "lo\"g" } };
	char path[512];
	struct stat s;
	int rootfd;

	put("sys/devices/system/cpu/online", "0-2,5\n");
	put("proc/self/mounts", "proc /proc proc rw,nosuid,nodev,noexec,relatime 0 0\n"
				"tmpfs /run tmpfs rw,nosuid,nodev,mode=755 0 0\n"
				"bad\\x01src /mnt/\xff 9p rw 0 0\n");
	rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(rootfd >= 0);

	cmdline_defaults(&cfg);
	cfg.initdata = INITDATA_REQUIRED;
	st.found = 1;
	util_strlcpy(st.device, "/dev/vdc", sizeof(st.device));
	util_strlcpy(st.method, "sysfs", sizeof(st.method));
	util_strlcpy(st.format, "kata-raw", sizeof(st.format));
	util_strlcpy(st.dir, "/run/confidential-containers/initdata", sizeof(st.dir));
	memcpy(st.serial, "in\"it\x01\xe9", 7);
	st.serial_len = 7;
	st.examined = 6;
	util_strlcpy(st.digest, "sha384:00ff", sizeof(st.digest));
	util_strlcpy(st.bound, "snp", sizeof(st.bound));
	st.t_mounts = 11;
	st.t_discover = 812;
	st.t_boot = 3000000;
	st.t_extensions = 3120;
	st.n_extensions = 2;
	util_strlcpy(st.extensions[0].name, "coco", sizeof(st.extensions[0].name));
	util_strlcpy(st.extensions[0].device, "/dev/vdd", sizeof(st.extensions[0].device));
	util_strlcpy(st.extensions[0].source, "/dev/mapper/extension-coco", sizeof(st.extensions[0].source));
	util_strlcpy(st.extensions[0].root_hash, "4392a4a3", sizeof(st.extensions[0].root_hash));
	st.extensions[0].verified = true;
	st.extensions[0].method = "uevent";
	st.extensions[0].elapsed_us = 3100;
	util_strlcpy(st.extensions[1].name, "raw.x", sizeof(st.extensions[1].name));
	util_strlcpy(st.extensions[1].device, "/dev/vde", sizeof(st.extensions[1].device));
	util_strlcpy(st.extensions[1].source, "/dev/vde1", sizeof(st.extensions[1].source));
	st.extensions[1].elapsed_us = 20;
	state_add_error(&st, "first \"error\"\n");
	for (int i = 0; i < STATE_MAX_ERRORS + 3; i++)
		state_add_error(&st, "more");
	umask(077);
	assert_int_equal(state_write(rootfd, &st, &cfg, ls, 2), 0);
	umask(022);

	snprintf(path, sizeof(path), "%s/run/cocoinit/state.json", root);
	assert_int_equal(stat(path, &s), 0);
	assert_int_equal(s.st_mode & 07777, 0644);
	snprintf(path, sizeof(path), "%s/run/cocoinit/state.json.tmp", root);
	assert_int_equal(access(path, F_OK), -1);
	snprintf(path, sizeof(path), "%s/run/cocoinit/state.json", root);

	assert_int_equal(python_check(path,
				      "assert d['version']==1\n"
				      "i=d['initdata']\n"
				      "assert i['found'] is True and i['device']=='/dev/vdc' and i['method']=='sysfs'\n"
				      "assert i['format']=='kata-raw' and i['mode']=='required' and i['examined']==6\n"
				      "assert i['serial']=='in\"it\\x01\\xe9', repr(i['serial'])\n"
				      "assert i['dir']=='/run/confidential-containers/initdata'\n"
				      "assert i['digest']=='sha384:00ff' and i['bound']=='snp'\n"
				      "assert d['listeners']==[{'fd':3,'port':1027,'name':'passfd'},{'fd':4,'port':1025,'name':'lo\"g'}]\n"
				      "m=d['mounts']\n"
				      "assert m[1]=={'source':'tmpfs','target':'/run','type':'tmpfs','options':'rw,nosuid,nodev,mode=755'}, m\n"
				      "assert m[2]['target']=='/mnt/\\xff', m\n"
				      "assert d['resources']=={'cpus_online':4,'mem_total_kib':2017852}\n"
				      "t=d['timing_us']\n"
				      "assert t['mounts']==11 and t['discover']==812 and t['boot']==3000000\n"
				      "assert set(t)=={'mounts','modules','listen','discover','consume','extensions','total','boot',"
				      "'version_digest'}\n"
				      "assert t['extensions']==3120\n"
				      "e=d['extensions']\n"
				      "assert e[0]=={'name':'coco','device':'/dev/vdd','source':'/dev/mapper/extension-coco',"
				      "'root_hash':'4392a4a3','method':'uevent','verified':True,'elapsed_us':3100}, e\n"
				      "assert e[1]=={'name':'raw.x','device':'/dev/vde','source':'/dev/vde1',"
				      "'root_hash':None,'method':None,'verified':False,'elapsed_us':20}, e\n"
				      "assert d['errors'][0]=='first \"error\"\\n' and len(d['errors'])==8\n"
				      "assert d['agent']['mode']=='exec' and d['agent']['on_error']=='poweroff'\n"
				      "assert d['agent']['oom_score_adj']==-997 and d['agent']['nofile']==1048576\n"
				      "assert d['agent']['modules_lockdown'] is False\n", false),
			 0);
	/* A check that does not hold is reported: the oracle can fail. */
	assert_int_not_equal(python_check(path, "assert d['version']==2", true), 0);
	close(rootfd);
}

static void test_write_not_found(void **state)
{
	static struct state st;
	static struct config cfg;
	char path[512];
	int rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	assert_true(rootfd >= 0);
	cmdline_defaults(&cfg);
	memcpy(st.serial, "initdata", 8);
	st.serial_len = 8;
	state_add_error(&st, "initdata: no disk with serial=initdata within 2000ms");
	assert_int_equal(state_write(rootfd, &st, &cfg, NULL, 0), 0);
	snprintf(path, sizeof(path), "%s/run/cocoinit/state.json", root);
	assert_int_equal(python_check(path,
				      "i=d['initdata']\n"
				      "assert i['found'] is False and i['device'] is None and i['format'] is None\n"
				      "assert i['digest'] is None and i['bound'] is None\n"
				      "assert d['listeners']==[] and d['extensions']==[]\n"
				      "assert d['errors']==['initdata: no disk with serial=initdata within 2000ms']\n", false),
			 0);
	close(rootfd);
}

/* The boot's named sub-steps join timing_us after the main steps, adding up
 * when a name comes again; a failing sysinfo() leaves the memory at 0. */
static void test_write_steps(void **state)
{
	static struct state st;
	static struct config cfg;
	char path[512];
	int rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	assert_true(rootfd >= 0);
	cmdline_defaults(&cfg);
	timing_steps_reset();
	uint64_t now = timing_now_us();
	timing_step("discover.scan", now - 700);
	timing_step("consume.probe", now - 40);
	timing_step("discover.scan", now - 5);
	sysinfo_errno = EPERM;
	assert_int_equal(state_write(rootfd, &st, &cfg, NULL, 0), 0);
	sysinfo_errno = 0;
	timing_steps_reset();
	snprintf(path, sizeof(path), "%s/run/cocoinit/state.json", root);
	assert_int_equal(python_check(path,
				      "t=d['timing_us']\n"
				      "assert list(t)[:9]==['mounts','modules','listen','discover','consume','extensions','total','boot',"
				      "'version_digest'], t\n"
				      "assert list(t)[9:]==['discover.scan','consume.probe'], t\n"
				      "assert t['discover.scan']>=705 and t['consume.probe']>=40, t\n"
				      "assert d['resources']['mem_total_kib']==0\n", false),
			 0);
	close(rootfd);
}

/* Past TIMING_STEPS_MAX names, one more is counted, not kept. */
static void test_steps_bounded(void **state)
{
	static const char *const names[] = { "a0", "a1", "a2", "a3", "a4", "a5", "a6", "a7", "a8", "a9", "b0",
					     "b1", "b2", "b3", "b4", "b5", "b6", "b7", "b8", "b9", "c0", "c1",
					     "c2", "c3", "c4", "c5", "c6", "c7", "c8", "c9", "d0", "d1", "d2" };
	const struct timing_step *steps;
	unsigned dropped;

	_Static_assert(sizeof(names) / sizeof(names[0]) == TIMING_STEPS_MAX + 1, "one name too many");
	timing_steps_reset();
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		timing_step(names[i], timing_now_us());
	timing_step("a0", timing_now_us());
	assert_int_equal(timing_steps(&steps, &dropped), TIMING_STEPS_MAX);
	assert_int_equal(dropped, 1);
	assert_string_equal(steps[TIMING_STEPS_MAX - 1].name, "d1");
	timing_steps_reset();
	assert_int_equal(timing_steps(&steps, &dropped), 0);
	assert_int_equal(dropped, 0);
}

static int setup(void **state)
{
	return mkdtemp(root) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escape_hostile),
		cmocka_unit_test(test_escape_utf8),
		cmocka_unit_test(test_escape_nul_and_empty),
		cmocka_unit_test(test_escape_no_space),
		cmocka_unit_test(test_escape_every_byte),
		cmocka_unit_test(test_write_shape),
		cmocka_unit_test(test_write_not_found),
		cmocka_unit_test(test_write_steps),
		cmocka_unit_test(test_steps_bounded),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
