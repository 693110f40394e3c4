/* SPDX-License-Identifier: Apache-2.0 */
/* The built cocoinit binary in tool mode, run as a user would: its stdout,
 * its stderr and its exit codes (CONTRACT section 6), against --root trees. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "fixture.h"
#include "tree.h"

extern char **environ;

struct run {
	int status; /* exit code, or -1 when killed */
	char out[16384];
	char err[16384];
};

static void drain(int fd, char *buf, size_t size, size_t *len)
{
	ssize_t n = read(fd, buf + *len, size - 1 - *len);

	if (n > 0)
		*len += (size_t)n;
	buf[*len] = '\0';
}

/* Runs COCOINIT_BIN with argv (NULL-terminated, without argv[0]). */
static void run_bin(struct run *r, const char *const *args)
{
	const char *argv[32] = { COCOINIT_BIN };
	int outp[2], errp[2], status;
	size_t olen = 0, elen = 0, n = 1;
	posix_spawn_file_actions_t fa;
	pid_t pid;

	for (; args[n - 1]; n++)
		argv[n] = args[n - 1];
	argv[n] = NULL;
	assert_int_equal(pipe2(outp, O_CLOEXEC), 0);
	assert_int_equal(pipe2(errp, O_CLOEXEC), 0);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, outp[1], 1);
	posix_spawn_file_actions_adddup2(&fa, errp[1], 2);
	assert_int_equal(posix_spawn(&pid, COCOINIT_BIN, &fa, NULL, (char **)argv, environ), 0);
	posix_spawn_file_actions_destroy(&fa);
	close(outp[1]);
	close(errp[1]);

	struct pollfd p[2] = { { .fd = outp[0], .events = POLLIN }, { .fd = errp[0], .events = POLLIN } };
	while (p[0].fd >= 0 || p[1].fd >= 0) {
		assert_true(poll(p, 2, -1) > 0);
		for (int i = 0; i < 2; i++) {
			if (p[i].fd < 0 || !p[i].revents)
				continue;
			size_t before = i ? elen : olen;
			if (i)
				drain(p[i].fd, r->err, sizeof(r->err), &elen);
			else
				drain(p[i].fd, r->out, sizeof(r->out), &olen);
			if ((i ? elen : olen) == before) {
				close(p[i].fd);
				p[i].fd = -1;
			}
		}
	}
	r->out[olen] = '\0';
	r->err[elen] = '\0';
	assert_int_equal(waitpid(pid, &status, 0), pid);
	r->status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}
#define RUN(r, ...) run_bin(r, (const char *const[]){ __VA_ARGS__, NULL })

/* Checks how a run ended: its exit code and, unless out is NULL, all of its
 * stdout. A failure shows everything the run printed. */
static void assert_exit(const struct run *r, int status, const char *out)
{
	if (r->status != status || (out && strcmp(r->out, out) != 0))
		fail_msg("exit %d, stdout \"%s\", stderr \"%s\"; want exit %d, stdout \"%s\"", r->status, r->out,
			 r->err, status, out ? out : "(any)");
}

static void assert_contains(const char *hay, const char *needle)
{
	if (!strstr(hay, needle))
		fail_msg("\"%s\" not in:\n%s", needle, hay);
}

/* The raw text of a top-level JSON field's value ("\"/dev/vdb\"", "24",
 * "null", "[...]"), enough to check what locate --json says. */
static const char *json_field(const char *json, const char *key, char *out, size_t outsz)
{
	char pat[64];
	const char *p, *e;

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	p = strstr(json, pat);
	if (!p)
		return NULL;
	p += strlen(pat);
	if (*p == '"') {
		for (e = p + 1; *e && *e != '"'; e++)
			if (*e == '\\')
				e++;
		e++;
	} else if (*p == '[') {
		e = strchr(p, ']') + 1;
	} else {
		e = p + strcspn(p, ",}");
	}
	snprintf(out, outsz, "%.*s", (int)(e - p), p);
	return out;
}

static void assert_field(const char *json, const char *key, const char *want)
{
	char v[1024];

	if (!json_field(json, key, v, sizeof(v)))
		fail_msg("no \"%s\" in %s", key, json);
	assert_string_equal(v, want);
}

static void assert_json_object(const char *s)
{
	size_t n = strlen(s);

	assert_true(n > 2);
	assert_int_equal(s[0], '{');
	assert_string_equal(s + n - 2, "}\n");
	/* one line, nothing but printable ASCII: valid whatever the serial */
	for (size_t i = 0; i < n - 1; i++)
		assert_true(s[i] >= 0x20 && s[i] < 0x7f);
}

static char *fixture(const char *name)
{
	char path[512];
	char *root;

	snprintf(path, sizeof(path), "%s/trees/%s", FIXTURES, name);
	root = tree_from_file(path);
	assert_non_null(root);
	return root;
}

#define EXT_PARAMS "root_hash=4392a4a3d9b7e2ea3c4ac2d0b3f1de5e23e1b3fb7dc0c2a2cdf84a18f02a9a1b,salt=00," \
		   "data_blocks=8,data_block_size=4096,hash_block_size=4096"

/* What a boot would do with each extension, read from a tree: the disks by
 * serial, their partitions, the integrity table. */
static void test_extension_list(void **state)
{
	char *root = tree_from_manifest("file proc/cmdline quiet kata.extension.coco.verity_params=" EXT_PARAMS
					" kata.extension.tools.verity_params kata.extension.strip.verity_params"
					" kata.extension.gone.verity_params=" EXT_PARAMS "\n"
					"disk vda\n"
					"disk vdb serial=extension-coco\n"
					"part vdb1 of=vdb\n"
					"part vdb2 of=vdb\n"
					"disk vdc serial=extension-tools\n"
					"part vdc1 of=vdc\n"
					"disk vdd serial=extension-strip\n"
					"part vdd1 of=vdd\n"
					"part vdd2 of=vdd\n");
	struct run r;

	assert_non_null(root);
	RUN(&r, "extension", "list", "--root", root);
	assert_exit(&r, 1, NULL);
	assert_contains(r.out, "coco serial=extension-coco device=/dev/vdb verity root_hash=4392a4a3d9b7e2ea");
	assert_contains(r.out, "tools serial=extension-tools device=/dev/vdc raw\n");
	assert_contains(r.out, "strip serial=extension-strip device=/dev/vdd refuse: hash partition present but no "
			       "verity params\n");
	assert_contains(r.out, "gone serial=extension-gone device=- missing");
	RUN(&r, "extension", "list", "--root", root, "--json");
	assert_exit(&r, 1, NULL);
	assert_json_object(r.out);
	assert_contains(r.out, "{\"name\":\"coco\",\"serial\":\"extension-coco\",\"measured\":true,\"root_hash\":"
			       "\"4392a4a3d9b7e2ea3c4ac2d0b3f1de5e23e1b3fb7dc0c2a2cdf84a18f02a9a1b\",\"device\":\"/dev/vdb\","
			       "\"action\":\"verity\",\"reason\":null,\"mount_point\":\"/run/kata-extensions/coco\"}");
	assert_contains(r.out, "\"strays\":[]");

	/* a stray disk; all named ones fine */
	assert_int_equal(tree_apply(root, "file proc/cmdline kata.extension.coco.verity_params=" EXT_PARAMS "\n"
					  "disk vde serial=extension-evil\n"),
			 0);
	RUN(&r, "extension", "list", "--root", root, "--json");
	assert_exit(&r, 1, NULL);
	assert_contains(r.out, "\"strays\":[\"/dev/vdc\",\"/dev/vdd\",\"/dev/vde\"]");
	assert_int_equal(tree_apply(root, "file proc/cmdline kata.extension.coco.verity_params=" EXT_PARAMS
					  " kata.extension.tools.verity_params kata.extension.strip.verity_params="
					  EXT_PARAMS " kata.extension.evil.verity_params\n"),
			 0);
	RUN(&r, "extension", "list", "--root", root);
	assert_exit(&r, 0, NULL);

	/* usage and names */
	RUN(&r, "extension", "list", "--bogus");
	assert_exit(&r, 2, "");
	RUN(&r, "extension", "mount", "../x");
	assert_exit(&r, 1, "");
	assert_contains(r.err, "is not an extension name");
	RUN(&r, "extension", "frob", "x");
	assert_exit(&r, 2, "");
	tree_remove(root);
}

static void test_locate_found(void **state)
{
	char *root = fixture("basic.tree");
	struct run r;

	RUN(&r, "locate", "--root", root);
	assert_exit(&r, 0, "/dev/vdb\n");
	assert_string_equal(r.err, "");
	/* options after or before, --serial given */
	RUN(&r, "locate", "--serial", "data-disk", "--root", root, "--method", "sysfs");
	assert_exit(&r, 0, "/dev/vdc\n");
	tree_remove(root);
}

static void test_locate_json(void **state)
{
	char *root = fixture("basic.tree");
	struct run r;
	char v[64];

	RUN(&r, "locate", "--root", root, "--json");
	assert_exit(&r, 0, NULL);
	assert_json_object(r.out);
	assert_field(r.out, "device", "\"/dev/vdb\"");
	assert_field(r.out, "method", "\"by-id\"");
	assert_field(r.out, "serial", "\"initdata\"");
	assert_field(r.out, "examined", "1");
	assert_non_null(json_field(r.out, "elapsed_us", v, sizeof(v)));
	assert_true(strspn(v, "0123456789") == strlen(v) && *v);
	assert_null(json_field(r.out, "ambiguous", v, sizeof(v)));

	RUN(&r, "locate", "--root", root, "--json", "--method", "sysfs");
	assert_exit(&r, 0, NULL);
	assert_field(r.out, "method", "\"sysfs\"");
	assert_field(r.out, "examined", "3");
	tree_remove(root);
}

static void test_locate_hint(void **state)
{
	char *root = fixture("basic.tree");
	struct run r;

	RUN(&r, "locate", "--root", root, "--method", "hint", "--hint", "0000:00:05.0", "--json");
	assert_exit(&r, 0, NULL);
	assert_field(r.out, "device", "\"/dev/vdb\"");
	assert_field(r.out, "method", "\"hint\"");
	/* auto with a wrong hint: warned about, then by-id */
	RUN(&r, "locate", "--root", root, "--hint", "vda", "--json");
	assert_exit(&r, 0, NULL);
	assert_field(r.out, "method", "\"by-id\"");
	assert_contains(r.err, "cocoinit: warning: initdata: hint vda:");
	/* hint only, and it is wrong: not found */
	RUN(&r, "locate", "--root", root, "--method", "hint", "--hint", "vdc");
	assert_exit(&r, 1, "");
	tree_remove(root);
}

static void test_locate_magic(void **state)
{
	char *root = fixture("basic.tree");
	struct run r;

	/* by content, only when asked */
	RUN(&r, "locate", "--root", root, "--serial", "nope");
	assert_exit(&r, 1, NULL);
	RUN(&r, "locate", "--root", root, "--serial", "nope", "--method", "magic", "--json");
	assert_exit(&r, 0, NULL);
	assert_field(r.out, "device", "\"/dev/vdb\"");
	assert_field(r.out, "method", "\"magic\"");
	tree_remove(root);
}

static void test_locate_not_found(void **state)
{
	char *root = fixture("basic.tree");
	struct run r;

	RUN(&r, "locate", "--root", root, "--serial", "missing");
	assert_exit(&r, 1, "");
	assert_contains(r.err, "cocoinit: initdata: not found serial=missing\n");

	RUN(&r, "locate", "--root", root, "--serial", "missing", "--json");
	assert_exit(&r, 1, NULL);
	assert_json_object(r.out);
	assert_field(r.out, "device", "null");
	assert_field(r.out, "serial", "\"missing\"");
	assert_field(r.out, "examined", "3");

	/* waiting, with and without udevd below the root: the deadline passes
	 * quietly either way (udevd's monitor or the kernel's socket) */
	for (int udevd = 0; udevd < 2; udevd++) {
		if (udevd)
			assert_int_equal(tree_apply(root, "file run/udev/control\n"), 0);
		RUN(&r, "locate", "--root", root, "--serial", "missing", "--timeout-ms", "50", "--json");
		assert_exit(&r, 1, NULL);
		assert_field(r.out, "device", "null");
		assert_contains(r.err, "cocoinit: initdata: not found serial=missing\n");
	}
	tree_remove(root);
}

static void test_locate_ambiguous(void **state)
{
	char *root = fixture("ambiguous.tree");
	struct run r;

	RUN(&r, "locate", "--root", root);
	assert_exit(&r, 3, "");
	assert_contains(r.err, "cocoinit: initdata: ambiguous serial=initdata devices=/dev/vdb,/dev/vdd\n");

	RUN(&r, "locate", "--root", root, "--json");
	assert_exit(&r, 3, NULL);
	assert_json_object(r.out);
	assert_field(r.out, "device", "null");
	assert_field(r.out, "ambiguous", "[\"/dev/vdb\",\"/dev/vdd\"]");
	assert_field(r.out, "method", "\"sysfs\"");
	tree_remove(root);
}

static void test_locate_json_escapes_serial(void **state)
{
	char *root = tree_from_manifest("disk vdb serial=a\"b\\\\\\x01\\xff\n");
	struct run r;

	assert_non_null(root);
	RUN(&r, "locate", "--root", root, "--serial", "a\"b\\\x01\xff", "--json");
	assert_exit(&r, 0, NULL);
	assert_json_object(r.out);
	assert_field(r.out, "serial", "\"a\\\"b\\\\\\u0001\\u00ff\"");
	assert_field(r.out, "device", "\"/dev/vdb\"");
	/* the log escapes host bytes too */
	RUN(&r, "locate", "--root", root, "--serial", "x\x01y");
	assert_exit(&r, 1, NULL);
	assert_contains(r.err, "not found serial=x\\x01y\n");
	tree_remove(root);
}

static void test_locate_mixed_kinds(void **state)
{
	char *root = fixture("mixed.tree");
	struct run r;

	RUN(&r, "locate", "--root", root);
	assert_exit(&r, 0, "/dev/nvme0n1\n");
	RUN(&r, "locate", "--root", root, "--serial", "scsi-serial");
	assert_exit(&r, 0, "/dev/sda\n");
	RUN(&r, "locate", "--root", root, "--serial", "\xffz");
	assert_exit(&r, 0, "/dev/vdb\n");
	tree_remove(root);
}

static void test_locate_usage(void **state)
{
	static const char *const bad[][6] = {
		{ "locate", "--method", "bogus" },
		{ "locate", "--method", "hint" },
		{ "locate", "--timeout-ms", "abc" },
		{ "locate", "--timeout-ms", "-1" },
		{ "locate", "--bogus" },
		{ "locate", "--serial" },
		{ "locate", "--serial", "" },
		{ "locate", "extra" },
		{ "frobnicate" },
		{ "probe" },
		{ "extract", "/dev/null" },
		{ "extract", "/dev/null", "/tmp", "--max-bytes", "0" },
		{ "encode-serial" },
		{ "encode-serial", "a", "b" },
	};
	struct run r;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		run_bin(&r, bad[i]);
		if (r.status != 2)
			fail_msg("%s %s: exit %d, stderr %s", bad[i][0], bad[i][1] ? bad[i][1] : "", r.status, r.err);
		assert_string_equal(r.out, "");
		assert_contains(r.err, "cocoinit: ");
	}
	RUN(&r, "locate", "--bogus");
	assert_contains(r.err, "cocoinit: locate: unknown option --bogus");
	RUN(&r, "locate", "--serial");
	assert_contains(r.err, "missing argument for --serial");
	/* no arguments at all: usage on stderr */
	run_bin(&r, (const char *const[]){ NULL });
	assert_exit(&r, 2, NULL);
	assert_contains(r.err, "usage: cocoinit locate");
}

static void test_locate_errors(void **state)
{
	struct run r;
	char *root = fixture("basic.tree");

	/* waiting on uevents for a disk that never comes ends at the deadline */
	RUN(&r, "locate", "--root", root, "--serial", "never", "--timeout-ms", "200");
	if (!strstr(r.err, "can't listen for uevents")) {
		assert_exit(&r, 1, NULL);
		assert_contains(r.err, "not found serial=never");
	} else {
		assert_exit(&r, 4, NULL);
	}
	tree_remove(root);

	RUN(&r, "locate", "--root", "/nonexistent/cocoinit-root");
	assert_exit(&r, 4, NULL);
	assert_contains(r.err, "cocoinit: locate: can't open root /nonexistent/cocoinit-root: No such file");
}

static void test_encode_serial(void **state)
{
	static const char *const vec[][2] = {
		{ "abc  def ", "virtio-abc_def\n" },
		{ " x", "virtio-x\n" },
		{ "a$b,c", "virtio-a_b_c\n" },
		{ "a\tb", "virtio-a_b\n" },
		{ "\xc3\xa9", "virtio-\xc3\xa9\n" },
		{ "\xff", "virtio-_\n" },
		{ "a\\b", "virtio-a_b\n" },
		{ "a\\xb", "virtio-a\\xb\n" },
		{ "x/y", "virtio-x/y\n" },
		{ "initdata", "virtio-initdata\n" },
	};
	struct run r;

	for (size_t i = 0; i < sizeof(vec) / sizeof(vec[0]); i++) {
		RUN(&r, "encode-serial", vec[i][0]);
		assert_exit(&r, 0, vec[i][1]);
	}
	RUN(&r, "encode-serial", " \t ");
	assert_exit(&r, 1, "");
	assert_contains(r.err, "udev makes no by-id link");
	RUN(&r, "encode-serial", "a/../b");
	assert_exit(&r, 1, NULL);
	assert_contains(r.err, "udev refuses the link");
}

static void test_version_help(void **state)
{
	struct run r;

	RUN(&r, "--version");
	assert_exit(&r, 0, "cocoinit " COCOINIT_VERSION "\n");
	RUN(&r, "--help");
	assert_exit(&r, 0, NULL);
	assert_contains(r.out, "usage: cocoinit locate");
	assert_contains(r.out, "encode-serial SERIAL");
	RUN(&r, "locate", "--help");
	assert_exit(&r, 0, NULL);
	assert_contains(r.out, "--timeout-ms");
}

/* A Kata raw-format image: magic, u64 LE length, gzip(toml), zero padded. */
static char *write_raw_image(const char *dir, const char *toml)
{
	size_t len;
	uint8_t *gz = fixture_gzip(toml, strlen(toml), &len);
	char *path;

	assert_true(asprintf(&path, "%s/disk.img", dir) > 0);
	fixture_write_raw(path, len, gz, len, 1024);
	free(gz);
	return path;
}

static void test_probe_extract(void **state)
{
	static const char toml[] = "version = \"0.1.0\"\nalgorithm = \"sha256\"\n";
	char *dir = tree_new();
	char *img, *outdir, *file, buf[256];
	struct run r;

	assert_non_null(dir);
	img = write_raw_image(dir, toml);
	RUN(&r, "probe", img);
	assert_exit(&r, 0, "kata-raw\n");

	assert_true(asprintf(&outdir, "%s/out", dir) > 0);
	assert_int_equal(mkdir(outdir, 0700), 0);
	RUN(&r, "extract", img, outdir);
	assert_exit(&r, 0, NULL);
	assert_true(asprintf(&file, "%s/initdata.toml", outdir) > 0);
	int fd = open(file, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	ssize_t n = read(fd, buf, sizeof(buf));
	close(fd);
	assert_int_equal(n, sizeof(toml) - 1);
	assert_memory_equal(buf, toml, sizeof(toml) - 1);

	/* a bound below the compressed length is an error */
	RUN(&r, "extract", img, outdir, "--max-bytes", "8");
	assert_exit(&r, 4, NULL);
	assert_contains(r.err, "cocoinit: extract: ");

	/* nothing recognisable (1 MiB of zeros), and no such file */
	assert_int_equal(truncate(img, 1 << 20), 0);
	int zfd = open(img, O_WRONLY | O_CLOEXEC);
	assert_true(zfd >= 0);
	char zeros[1024] = { 0 };
	assert_int_equal(write(zfd, zeros, sizeof(zeros)), sizeof(zeros));
	close(zfd);
	RUN(&r, "probe", img);
	assert_exit(&r, 1, NULL);
	assert_contains(r.err, "nothing recognised");
	/* empty and too small to hold anything: unknown, not an I/O error */
	static const char *const tiny[] = { "", "ini" };
	for (size_t i = 0; i < sizeof(tiny) / sizeof(tiny[0]); i++) {
		int tfd = open(img, O_WRONLY | O_TRUNC | O_CLOEXEC);
		assert_true(tfd >= 0);
		assert_int_equal(write(tfd, tiny[i], strlen(tiny[i])), (ssize_t)strlen(tiny[i]));
		close(tfd);
		RUN(&r, "probe", img);
		assert_exit(&r, 1, "");
		assert_contains(r.err, "nothing recognised");
	}
	RUN(&r, "probe", "/dev/null");
	assert_exit(&r, 1, NULL);
	assert_contains(r.err, "cocoinit: probe: /dev/null: nothing recognised");
	/* two signatures (a FAT boot sector in ext4's unused first KiB): not one
	 * type, so unknown, said plainly */
	fixture_need_tool("mkfs.ext4", "e2fsprogs");
	fixture_need_tool("mkfs.vfat", "dosfstools");
	fixture_run("mkfs.ext4 -q -F '%s' 8M >/dev/null && truncate -s 8M '%s.fat' && mkfs.vfat '%s.fat' >/dev/null && "
		    "dd if='%s.fat' of='%s' bs=512 count=1 conv=notrunc status=none && rm -f '%s.fat'",
		    img, img, img, img, img, img);
	RUN(&r, "probe", img);
	assert_exit(&r, 1, "");
	assert_contains(r.err, "more than one signature (ambivalent)");
	RUN(&r, "probe", "/nonexistent/disk");
	assert_exit(&r, 4, NULL);
	assert_contains(r.err, "cocoinit: probe: can't open /nonexistent/disk");
	RUN(&r, "extract", "/nonexistent/disk", outdir);
	assert_exit(&r, 4, NULL);
	free(file);
	free(outdir);
	free(img);
	tree_remove(dir);
}

/* A device name is printed as bytes on stdout (it is the answer) but
 * escaped in every log line, as serials are: under --root, and in a guest
 * whose tree is not the kernel's, a name is anyone's bytes. */
static void test_locate_escapes_device_names(void **state)
{
	char *root = tree_new();
	char link[4096];
	struct run r;

	assert_non_null(root);
	assert_int_equal(tree_add_disk(root, "vd\x1b" "b", "initdata", 8, NULL), 0);
	assert_int_equal(tree_add_disk(root, "vd\x1b" "q", "other", 5, NULL), 0);
	assert_int_equal(tree_apply(root, "dir dev/disk/by-id\n"), 0);
	snprintf(link, sizeof(link), "%s/dev/disk/by-id/virtio-initdata", root);
	assert_int_equal(symlink("../../vd\x1b" "q", link), 0);

	RUN(&r, "locate", "--root", root, "--verbose");
	assert_exit(&r, 0, "/dev/vd\x1b" "b\n");
	assert_contains(r.err, "cocoinit: warning: initdata: by-id: virtio-initdata points at vd\\x1bq, "
			       "whose serial differs");
	assert_contains(r.err, "cocoinit: initdata: found /dev/vd\\x1bb via sysfs serial=initdata in ");
	assert_null(strchr(r.err, '\x1b'));
	tree_remove(root);
}

/* The largest answer there can be: a 255-byte serial and eight ambiguous
 * disks whose 63-byte names are all escapes still make one JSON object. */
static void test_locate_json_largest(void **state)
{
	char *root = tree_new();
	char serial[256], name[64];
	struct run r;
	size_t count = 0;

	assert_non_null(root);
	memset(serial, 0x01, 255);
	serial[255] = '\0';
	for (int i = 0; i < 8; i++) {
		memset(name, 0x7f, 63);
		memcpy(name, "sd", 2);
		name[62] = (char)('a' + i);
		name[63] = '\0';
		assert_int_equal(tree_add_disk(root, name, serial, 255, NULL), 0);
	}
	RUN(&r, "locate", "--root", root, "--serial", serial, "--method", "sysfs", "--json");
	assert_exit(&r, 3, NULL);
	assert_json_object(r.out);
	assert_field(r.out, "device", "null");
	for (const char *p = r.out; (p = strstr(p, "\"/dev/sd\\u007f")); p++)
		count++;
	assert_int_equal(count, 8);
	tree_remove(root);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_extension_list),
		cmocka_unit_test(test_locate_found),
		cmocka_unit_test(test_locate_json),
		cmocka_unit_test(test_locate_hint),
		cmocka_unit_test(test_locate_magic),
		cmocka_unit_test(test_locate_not_found),
		cmocka_unit_test(test_locate_ambiguous),
		cmocka_unit_test(test_locate_json_escapes_serial),
		cmocka_unit_test(test_locate_json_largest),
		cmocka_unit_test(test_locate_escapes_device_names),
		cmocka_unit_test(test_locate_mixed_kinds),
		cmocka_unit_test(test_locate_usage),
		cmocka_unit_test(test_locate_errors),
		cmocka_unit_test(test_encode_serial),
		cmocka_unit_test(test_version_help),
		cmocka_unit_test(test_probe_extract),
	};

	signal(SIGPIPE, SIG_IGN);
	/* The mkfs tools live in sbin, which a test runner's PATH may lack. */
	char path[4096];
	const char *old = getenv("PATH");
	snprintf(path, sizeof(path), "%s:/usr/sbin:/sbin", old ? old : "/usr/bin:/bin");
	setenv("PATH", path, 1);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
