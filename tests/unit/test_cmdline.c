/* SPDX-License-Identifier: Apache-2.0 */
/* The kernel command line: every key's default, a good value and a bad one
 * with the exact error a user sees, the kernel's quoting, later-key-wins,
 * warnings for unknown keys (read back from the log) and cmdline_read. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cocoinit/cmdline.h"
#include "cocoinit/log.h"
#include "tree.h"

static struct config cfg;
static char err[1024];

static int parse(const char *s)
{
	memset(err, 'X', sizeof(err));
	err[sizeof(err) - 1] = '\0';
	return cmdline_parse(s, strlen(s), &cfg, err, sizeof(err));
}

#define GOOD(line)                                                                \
	do {                                                                      \
		int r_ = parse(line);                                             \
		if (r_ != 0)                                                      \
			print_error("parse(%s) = %d: %s\n", line, r_, err);       \
		assert_int_equal(r_, 0);                                          \
	} while (0)

#define BAD(line, msg)                                \
	do {                                          \
		assert_int_equal(parse(line), -EINVAL); \
		assert_string_equal(err, msg);        \
	} while (0)

/* line parses, and then the number field (a cfg member) is want. */
#define GOOD_IS(line, field, want)                                                               \
	do {                                                                                     \
		GOOD(line);                                                                      \
		if ((long long)(field) != (long long)(want))                                     \
			fail_msg("parse(%s): %s is %lld, want %lld", line, #field, (long long)(field), \
				 (long long)(want));                                             \
	} while (0)

/* line parses, and then the string field (a cfg member) is want. */
#define GOOD_STR(line, field, want)                                                             \
	do {                                                                                    \
		GOOD(line);                                                                     \
		if (strcmp(field, want) != 0)                                                   \
			fail_msg("parse(%s): %s is \"%s\", want \"%s\"", line, #field, field, want); \
	} while (0)

/* The log goes to a temporary file the test reads back. */
static int log_file = -1;

static void log_capture(void)
{
	char path[] = "/tmp/cocoinit-log-XXXXXX";
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	unlink(path);
	log_file = fd;
	log_set_fd(dup(fd), LOG_SINK_PLAIN);
}

static char *log_read(void)
{
	static char buf[4096];
	ssize_t n = pread(log_file, buf, sizeof(buf) - 1, 0);

	assert_true(n >= 0);
	buf[n] = '\0';
	return buf;
}

static void log_release(void)
{
	log_set_fd(-1, LOG_SINK_PLAIN);
	close(log_file);
	log_file = -1;
}

static void test_defaults(void **state)
{
	struct config d;

	(void)state;
	cmdline_defaults(&d);
	GOOD("");
	/* An empty command line gives the defaults of CONTRACT section 3. */
	assert_int_equal(cfg.initdata, INITDATA_AUTO);
	assert_false(cfg.initdata_set);
	assert_string_equal(cfg.serial, "initdata");
	assert_int_equal(cfg.serial_len, 8);
	assert_false(cfg.serial_set);
	assert_string_equal(cfg.hint, "");
	assert_int_equal(cfg.timeout_ms, 0);
	assert_false(cfg.scan_magic);
	assert_string_equal(cfg.initdata_dir, "/run/confidential-containers/initdata");
	assert_int_equal(cfg.max_bytes, 1048576);
	assert_int_equal(cfg.bind, BIND_AUTO);
	assert_int_equal(cfg.n_modules, 0);
	assert_int_equal(cfg.n_listeners, 0);
	assert_false(cfg.passfd);
	assert_int_equal(cfg.passfd_port, 1027);
	assert_string_equal(cfg.agent, "/usr/bin/kata-agent");
	assert_int_equal(cfg.agent_mode, AGENT_EXEC);
	assert_int_equal(cfg.on_error, ON_ERROR_POWEROFF);
	assert_int_equal(cfg.n_mounts, 0);
	assert_int_equal(cfg.log_level, LOG_LVL_INFO);
	/* cmdline_defaults() is the same as parsing nothing. */
	assert_memory_equal(&d, &cfg, sizeof(d));
	/* What Kata passes today changes nothing of ours. */
	GOOD("console=hvc0 quiet agent.log_vport=1025 panic=1 init=/init\n");
	assert_memory_equal(&d, &cfg, sizeof(d));
}

static void test_initdata(void **state)
{
	(void)state;
	GOOD_IS("cocoinit.initdata=off", cfg.initdata, INITDATA_OFF);
	assert_true(cfg.initdata_set);
	GOOD_IS("cocoinit.initdata=required", cfg.initdata, INITDATA_REQUIRED);
	GOOD_IS("cocoinit.initdata=auto", cfg.initdata, INITDATA_AUTO);
	BAD("cocoinit.initdata=sometimes", "cocoinit.initdata: \"sometimes\" is not one of auto, required, off");
	BAD("cocoinit.initdata", "cocoinit.initdata: \"\" is not one of auto, required, off");
	BAD("cocoinit.initdata=Required", "cocoinit.initdata: \"Required\" is not one of auto, required, off");
}

static void test_serial(void **state)
{
	char line[600];

	(void)state;
	GOOD_STR("cocoinit.initdata_serial=image-0123456789abcdef", cfg.serial, "image-0123456789abcdef");
	assert_int_equal(cfg.serial_len, 22);
	assert_true(cfg.serial_set);
	/* Any byte but NUL, raw: the kernel passes them through. */
	GOOD_IS("cocoinit.initdata_serial=\"a\x01\xff$b\"", cfg.serial_len, 5);
	assert_memory_equal(cfg.serial, "a\x01\xff$b", 6);
	/* 255 bytes fit, 256 do not. */
	snprintf(line, sizeof(line), "cocoinit.initdata_serial=%0255d", 7);
	GOOD_IS(line, cfg.serial_len, 255);
	snprintf(line, sizeof(line), "cocoinit.initdata_serial=%0256d", 7);
	assert_int_equal(parse(line), -EINVAL);
	assert_non_null(strstr(err, "\" is too long (at most 255 bytes)"));
	assert_int_equal(strncmp(err, "cocoinit.initdata_serial: \"0000", 31), 0);
	BAD("cocoinit.initdata_serial=", "cocoinit.initdata_serial: \"\" is empty");
	BAD("cocoinit.initdata_serial=\"\"", "cocoinit.initdata_serial: \"\" is empty");
}

static void test_hint(void **state)
{
	(void)state;
	GOOD_STR("cocoinit.initdata_hint=vdb", cfg.hint, "vdb");
	GOOD_STR("cocoinit.initdata_hint=0000:00:05.0", cfg.hint, "0000:00:05.0");
	GOOD_STR("cocoinit.initdata_hint=nvme0n1 cocoinit.initdata_hint=", cfg.hint, "");
	BAD("cocoinit.initdata_hint=../vda", "cocoinit.initdata_hint: \"../vda\" is not a block device name or PCI address");
	BAD("cocoinit.initdata_hint=vd/b", "cocoinit.initdata_hint: \"vd/b\" is not a block device name or PCI address");
	BAD("cocoinit.initdata_hint=\"vd\x7f\"",
	    "cocoinit.initdata_hint: \"vd\\x7f\" is not a block device name or PCI address");
	BAD("cocoinit.initdata_hint=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	    "cocoinit.initdata_hint: \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\" is too long (at most 63 bytes)");
}

static void test_timeout(void **state)
{
	(void)state;
	GOOD_IS("cocoinit.initdata_timeout_ms=10000", cfg.timeout_ms, 10000);
	assert_true(cfg.timeout_set);
	GOOD_IS("cocoinit.initdata_timeout_ms=0", cfg.timeout_ms, 0);
	GOOD_IS("cocoinit.initdata_timeout_ms=86400000", cfg.timeout_ms, 86400000);
	BAD("cocoinit.initdata_timeout_ms=abc", "cocoinit.initdata_timeout_ms: \"abc\" is not a number");
	BAD("cocoinit.initdata_timeout_ms=-1", "cocoinit.initdata_timeout_ms: \"-1\" is not a number");
	BAD("cocoinit.initdata_timeout_ms=+5", "cocoinit.initdata_timeout_ms: \"+5\" is not a number");
	BAD("cocoinit.initdata_timeout_ms=5s", "cocoinit.initdata_timeout_ms: \"5s\" is not a number");
	BAD("cocoinit.initdata_timeout_ms=", "cocoinit.initdata_timeout_ms: \"\" is not a number");
	BAD("cocoinit.initdata_timeout_ms=86400001",
	    "cocoinit.initdata_timeout_ms: \"86400001\" is out of range (0..86400000)");
	BAD("cocoinit.initdata_timeout_ms=99999999999999999999999",
	    "cocoinit.initdata_timeout_ms: \"99999999999999999999999\" is out of range (0..86400000)");
}

static void test_scan(void **state)
{
	(void)state;
	GOOD("cocoinit.initdata_scan=magic");
	assert_true(cfg.scan_magic);
	GOOD("cocoinit.initdata_scan=magic cocoinit.initdata_scan=off");
	assert_false(cfg.scan_magic);
	BAD("cocoinit.initdata_scan=yes", "cocoinit.initdata_scan: \"yes\" is not one of off, magic");
}

static void test_dir(void **state)
{
	(void)state;
	GOOD_STR("cocoinit.initdata_dir=/run/initdata", cfg.initdata_dir, "/run/initdata");
	GOOD_STR("cocoinit.initdata_dir=/run/..x/a..", cfg.initdata_dir, "/run/..x/a..");
	BAD("cocoinit.initdata_dir=run/x",
	    "cocoinit.initdata_dir: \"run/x\" is not an absolute path below / without \"..\"");
	BAD("cocoinit.initdata_dir=/run/../etc",
	    "cocoinit.initdata_dir: \"/run/../etc\" is not an absolute path below / without \"..\"");
	BAD("cocoinit.initdata_dir=/run/..",
	    "cocoinit.initdata_dir: \"/run/..\" is not an absolute path below / without \"..\"");
	BAD("cocoinit.initdata_dir=/", "cocoinit.initdata_dir: \"/\" is not an absolute path below / without \"..\"");
}

static void test_max_bytes(void **state)
{
	(void)state;
	GOOD_IS("cocoinit.initdata_max_bytes=262144", cfg.max_bytes, 262144);
	GOOD_IS("cocoinit.initdata_max_bytes=67108864", cfg.max_bytes, 67108864);
	BAD("cocoinit.initdata_max_bytes=0", "cocoinit.initdata_max_bytes: \"0\" is out of range (1..67108864)");
	BAD("cocoinit.initdata_max_bytes=67108865",
	    "cocoinit.initdata_max_bytes: \"67108865\" is out of range (1..67108864)");
	BAD("cocoinit.initdata_max_bytes=1k", "cocoinit.initdata_max_bytes: \"1k\" is not a number");
}

static void test_bind(void **state)
{
	(void)state;
	GOOD_IS("cocoinit.initdata_bind=required", cfg.bind, BIND_REQUIRED);
	GOOD_IS("cocoinit.initdata_bind=off", cfg.bind, BIND_OFF);
	GOOD_IS("cocoinit.initdata_bind=off cocoinit.initdata-bind=auto", cfg.bind, BIND_AUTO);
	BAD("cocoinit.initdata_bind=yes", "cocoinit.initdata_bind: \"yes\" is not one of auto, required, off");
	BAD("cocoinit.initdata_bind", "cocoinit.initdata_bind: \"\" is not one of auto, required, off");
	assert_string_equal(cmdline_bind_mode_name(BIND_REQUIRED), "required");
}

static void test_modules(void **state)
{
	char line[512];
	size_t o;

	(void)state;
	GOOD_IS("cocoinit.modules=virtio_blk,vsock-loopback,,nvme,", cfg.n_modules, 3);
	assert_string_equal(cfg.modules[0], "virtio_blk");
	assert_string_equal(cfg.modules[1], "vsock-loopback");
	assert_string_equal(cfg.modules[2], "nvme");
	/* A later occurrence replaces the list; an empty one clears it. */
	GOOD_IS("cocoinit.modules=a,b cocoinit.modules=c", cfg.n_modules, 1);
	assert_string_equal(cfg.modules[0], "c");
	GOOD_IS("cocoinit.modules=a cocoinit.modules=", cfg.n_modules, 0);
	BAD("cocoinit.modules=virtio_blk,a/b",
	    "cocoinit.modules: \"virtio_blk,a/b\" has a module name \"a/b\" with bytes outside [A-Za-z0-9_-]");
	BAD("cocoinit.modules=\"a b\"",
	    "cocoinit.modules: \"a b\" has a module name \"a b\" with bytes outside [A-Za-z0-9_-]");
	o = (size_t)snprintf(line, sizeof(line), "cocoinit.modules=");
	for (int i = 0; i < 33; i++)
		o += (size_t)snprintf(line + o, sizeof(line) - o, "%sm%d", i ? "," : "", i);
	assert_int_equal(parse(line), -EINVAL);
	assert_non_null(strstr(err, "\" names more than 32 modules"));
	/* 32 are fine. */
	*strrchr(line, ',') = '\0';
	GOOD_IS(line, cfg.n_modules, 32);
	assert_string_equal(cfg.modules[31], "m31");
	snprintf(line, sizeof(line), "cocoinit.modules=%064d", 0);
	assert_int_equal(parse(line), -EINVAL);
	assert_non_null(strstr(err, "\" has a module name longer than 63 bytes"));
}

static void test_vsock_listen(void **state)
{
	char line[1024];
	size_t o;

	(void)state;
	GOOD_IS("cocoinit.vsock_listen=1030:debug,4294967294:x.y-z", cfg.n_listeners, 2);
	assert_int_equal(cfg.listeners[0].port, 1030);
	assert_string_equal(cfg.listeners[0].name, "debug");
	assert_int_equal(cfg.listeners[1].port, 4294967294u);
	assert_string_equal(cfg.listeners[1].name, "x.y-z");
	GOOD_IS("cocoinit.vsock_listen=1:a cocoinit.vsock_listen=2:b", cfg.n_listeners, 1);
	assert_int_equal(cfg.listeners[0].port, 2);
	BAD("cocoinit.vsock_listen=1027", "cocoinit.vsock_listen: \"1027\" is not PORT:NAME[,PORT:NAME...]");
	BAD("cocoinit.vsock_listen=1:a,", "cocoinit.vsock_listen: \"1:a,\" is not PORT:NAME[,PORT:NAME...]");
	BAD("cocoinit.vsock_listen=abc:x", "cocoinit.vsock_listen: \"abc:x\" has a port \"abc\" that is not a number");
	BAD("cocoinit.vsock_listen=:x", "cocoinit.vsock_listen: \":x\" has a port \"\" that is not a number");
	BAD("cocoinit.vsock_listen=0:x", "cocoinit.vsock_listen: \"0:x\" has a port 0 out of range (1..4294967294)");
	BAD("cocoinit.vsock_listen=4294967295:x",
	    "cocoinit.vsock_listen: \"4294967295:x\" has a port 4294967295 out of range (1..4294967294)");
	BAD("cocoinit.vsock_listen=4294967296:x",
	    "cocoinit.vsock_listen: \"4294967296:x\" has a port 4294967296 out of range (1..4294967294)");
	BAD("cocoinit.vsock_listen=1:",
	    "cocoinit.vsock_listen: \"1:\" has a name \"\" that is not 1..63 printable bytes without space or ':'");
	BAD("cocoinit.vsock_listen=1:a:b",
	    "cocoinit.vsock_listen: \"1:a:b\" has a name \"a:b\" that is not 1..63 printable bytes without space or ':'");
	BAD("cocoinit.vsock_listen=\"1:a b\"",
	    "cocoinit.vsock_listen: \"1:a b\" has a name \"a b\" that is not 1..63 printable bytes without space or ':'");
	BAD("cocoinit.vsock_listen=\"1:\xc3\xa9\"",
	    "cocoinit.vsock_listen: \"1:\\xc3\\xa9\" has a name \"\\xc3\\xa9\" that is not 1..63 printable bytes without space or ':'");
	BAD("cocoinit.vsock_listen=1:a,1:b", "cocoinit.vsock_listen: \"1:a,1:b\" has a duplicate port 1");
	BAD("cocoinit.vsock_listen=1:a,2:a", "cocoinit.vsock_listen: \"1:a,2:a\" has a duplicate name \"a\"");
	snprintf(line, sizeof(line), "cocoinit.vsock_listen=1:%063d", 0);
	GOOD(line);
	assert_int_equal(strlen(cfg.listeners[0].name), 63);
	snprintf(line, sizeof(line), "cocoinit.vsock_listen=1:%064d", 0);
	assert_int_equal(parse(line), -EINVAL);
	assert_non_null(strstr(err, "that is not 1..63 printable bytes"));
	o = (size_t)snprintf(line, sizeof(line), "cocoinit.vsock_listen=");
	for (int i = 1; i <= 17; i++)
		o += (size_t)snprintf(line + o, sizeof(line) - o, "%s%d:n%d", i > 1 ? "," : "", i, i);
	assert_int_equal(parse(line), -EINVAL);
	assert_non_null(strstr(err, "\" has more than 16 listeners"));
	*strrchr(line, ',') = '\0';
	GOOD_IS(line, cfg.n_listeners, 16);
}

static void test_passfd(void **state)
{
	(void)state;
	GOOD("cocoinit.passfd=1");
	assert_true(cfg.passfd);
	assert_int_equal(cfg.passfd_port, 1027);
	GOOD("cocoinit.passfd=1 cocoinit.passfd=0");
	assert_false(cfg.passfd);
	/* A bare boolean key is "on", as for the kernel's bool parameters. */
	GOOD("cocoinit.passfd");
	assert_true(cfg.passfd);
	BAD("cocoinit.passfd=2", "cocoinit.passfd: \"2\" is not one of 0, 1");
	BAD("cocoinit.passfd=yes", "cocoinit.passfd: \"yes\" is not one of 0, 1");
}

static void test_passfd_port(void **state)
{
	(void)state;
	GOOD_IS("agent.passfd_listener_port=2048 cocoinit.passfd=1", cfg.passfd_port, 2048);
	GOOD_IS("agent.passfd_listener_port=4294967294", cfg.passfd_port, 4294967294u);
	BAD("cocoinit.passfd=1 agent.passfd_listener_port=x", "agent.passfd_listener_port: \"x\" is not a number");
	BAD("agent.passfd_listener_port=0 cocoinit.passfd=1",
	    "agent.passfd_listener_port: \"0\" is out of range (1..4294967294)");
	BAD("cocoinit.passfd agent.passfd_listener_port=4294967295",
	    "agent.passfd_listener_port: \"4294967295\" is out of range (1..4294967294)");
	BAD("cocoinit.passfd=1 agent.passfd_listener_port=18446744073709551616",
	    "agent.passfd_listener_port: \"18446744073709551616\" is out of range (1..4294967294)");
	/* A later valid value overrides the malformed one. */
	GOOD_IS("cocoinit.passfd=1 agent.passfd_listener_port=x agent.passfd_listener_port=1030", cfg.passfd_port,
		1030);
}

/* Kata's key is cocoinit's only for the passfd listener: malformed while that
 * listener is off, it is a warning, never a reason to power the VM off. */
static void test_passfd_port_unused(void **state)
{
	(void)state;
	log_capture();
	GOOD_IS("agent.passfd_listener_port=0x403", cfg.passfd_port, 1027);
	assert_string_equal(log_read(), "cocoinit: warning: agent.passfd_listener_port: \"0x403\" is not a number; "
					 "ignored (cocoinit.passfd is off)\n");
	log_release();
	log_capture();
	GOOD("cocoinit.passfd=1 cocoinit.passfd=0 agent.passfd_listener_port=0");
	assert_non_null(strstr(log_read(), "\"0\" is out of range (1..4294967294); ignored"));
	log_release();
}

/* The kernel's printk.devkmsg=on lifts kmsg's rate limit, and with it cocoinit's line budget. */
static void test_printk_devkmsg(void **state)
{
	(void)state;
	GOOD_IS("quiet", cfg.kmsg_unlimited, false);
	GOOD_IS("printk.devkmsg=on", cfg.kmsg_unlimited, true);
	GOOD_IS("printk.devkmsg=on printk.devkmsg=ratelimit", cfg.kmsg_unlimited, false);
	GOOD_IS("printk.devkmsg=off", cfg.kmsg_unlimited, false);
}

static void test_agent_limits(void **state)
{
	(void)state;
	GOOD_IS("quiet", cfg.agent_oom_score_adj, -997);
	assert_int_equal(cfg.agent_nofile, 1048576);
	assert_false(cfg.modules_lockdown);
	GOOD_IS("cocoinit.agent_oom_score_adj=-1000", cfg.agent_oom_score_adj, -1000);
	GOOD_IS("cocoinit.agent_oom_score_adj=1000", cfg.agent_oom_score_adj, 1000);
	GOOD_IS("cocoinit.agent_oom_score_adj=0", cfg.agent_oom_score_adj, 0);
	GOOD_IS("cocoinit.agent_oom_score_adj=-0", cfg.agent_oom_score_adj, 0);
	BAD("cocoinit.agent_oom_score_adj=-1001", "cocoinit.agent_oom_score_adj: \"-1001\" is out of range (-1000..1000)");
	BAD("cocoinit.agent_oom_score_adj=1001", "cocoinit.agent_oom_score_adj: \"1001\" is out of range (-1000..1000)");
	BAD("cocoinit.agent_oom_score_adj=-", "cocoinit.agent_oom_score_adj: \"-\" is not a number");
	BAD("cocoinit.agent_oom_score_adj=+5", "cocoinit.agent_oom_score_adj: \"+5\" is not a number");
	BAD("cocoinit.agent_oom_score_adj=--5", "cocoinit.agent_oom_score_adj: \"--5\" is not a number");
	GOOD_IS("cocoinit.agent_nofile=1024", cfg.agent_nofile, 1024);
	BAD("cocoinit.agent_nofile=0", "cocoinit.agent_nofile: \"0\" is out of range (1..1073741816)");
	BAD("cocoinit.agent_nofile=-1", "cocoinit.agent_nofile: \"-1\" is not a number");
	GOOD("cocoinit.modules_lockdown=1");
	assert_true(cfg.modules_lockdown);
	GOOD("cocoinit.modules_lockdown");
	assert_true(cfg.modules_lockdown);
	BAD("cocoinit.modules_lockdown=yes", "cocoinit.modules_lockdown: \"yes\" is not one of 0, 1");
}

static void test_agent(void **state)
{
	(void)state;
	GOOD_STR("cocoinit.agent=/sbin/agent", cfg.agent, "/sbin/agent");
	BAD("cocoinit.agent=kata-agent", "cocoinit.agent: \"kata-agent\" is not an absolute path below / without \"..\"");
	BAD("cocoinit.agent=/usr/../bin/sh",
	    "cocoinit.agent: \"/usr/../bin/sh\" is not an absolute path below / without \"..\"");
}

static void test_agent_mode(void **state)
{
	(void)state;
	GOOD_IS("cocoinit.agent_mode=supervise", cfg.agent_mode, AGENT_SUPERVISE);
	GOOD_IS("cocoinit.agent_mode=exec", cfg.agent_mode, AGENT_EXEC);
	BAD("cocoinit.agent_mode=fork", "cocoinit.agent_mode: \"fork\" is not one of exec, supervise");
}

static void test_on_error(void **state)
{
	(void)state;
	GOOD_IS("cocoinit.on_error=reboot", cfg.on_error, ON_ERROR_REBOOT);
	GOOD_IS("cocoinit.on_error=shell", cfg.on_error, ON_ERROR_SHELL);
	GOOD_IS("cocoinit.on_error=continue", cfg.on_error, ON_ERROR_CONTINUE);
	GOOD_IS("cocoinit.on_error=poweroff", cfg.on_error, ON_ERROR_POWEROFF);
	BAD("cocoinit.on_error=explode",
	    "cocoinit.on_error: \"explode\" is not one of poweroff, reboot, shell, continue");
	assert_string_equal(cmdline_on_error_name(ON_ERROR_SHELL), "shell");
	assert_string_equal(cmdline_on_error_name(ON_ERROR_CONTINUE), "continue");
	assert_string_equal(cmdline_initdata_mode_name(INITDATA_REQUIRED), "required");
	assert_string_equal(cmdline_initdata_mode_name(INITDATA_OFF), "off");
}

static void test_mount(void **state)
{
	char line[256];

	(void)state;
	GOOD_IS("cocoinit.mount=virtiofs:kataShared:/run/kata-containers/shared/containers", cfg.n_mounts, 1);
	assert_string_equal(cfg.mounts[0].type, "virtiofs");
	assert_string_equal(cfg.mounts[0].source, "kataShared");
	assert_string_equal(cfg.mounts[0].target, "/run/kata-containers/shared/containers");
	assert_string_equal(cfg.mounts[0].options, "");
	/* Repeatable: each occurrence adds one; OPTIONS is the rest, ':' and all. */
	GOOD_IS("cocoinit.mount=9p:share:/mnt/share:trans=virtio,version=9p2000.L cocoinit.mount=tmpfs:none:/x:a:b",
		cfg.n_mounts, 2);
	assert_string_equal(cfg.mounts[0].type, "9p");
	assert_string_equal(cfg.mounts[0].options, "trans=virtio,version=9p2000.L");
	assert_string_equal(cfg.mounts[1].target, "/x");
	assert_string_equal(cfg.mounts[1].options, "a:b");
	BAD("cocoinit.mount=virtiofs:tag", "cocoinit.mount: \"virtiofs:tag\" is not TYPE:SOURCE:TARGET[:OPTIONS]");
	BAD("cocoinit.mount=virtiofs::/x", "cocoinit.mount: \"virtiofs::/x\" is not TYPE:SOURCE:TARGET[:OPTIONS]");
	BAD("cocoinit.mount=virtiofs:tag:rel",
	    "cocoinit.mount: \"virtiofs:tag:rel\" has a TARGET that is not an absolute path below / without \"..\"");
	BAD("cocoinit.mount=virtiofs:tag:/a/../etc",
	    "cocoinit.mount: \"virtiofs:tag:/a/../etc\" has a TARGET that is not an absolute path below / without \"..\"");
	BAD("cocoinit.mount=Ext4:/dev/vda:/x", "cocoinit.mount: \"Ext4:/dev/vda:/x\" has a TYPE with bytes outside [a-z0-9_.-]");
	snprintf(line, sizeof(line), "cocoinit.mount=%033d:s:/x", 0);
	assert_int_equal(parse(line), -EINVAL);
	assert_non_null(strstr(err, "\" has a TYPE longer than 31 bytes"));
	{
		char many[1024];
		size_t o = 0;
		for (int i = 0; i < 9; i++)
			o += (size_t)snprintf(many + o, sizeof(many) - o, "cocoinit.mount=tmpfs:t:/m%d ", i);
		assert_int_equal(parse(many), -EINVAL);
		assert_string_equal(err, "cocoinit.mount: \"tmpfs:t:/m8\" is more than 8 mounts");
	}
}

static void test_log(void **state)
{
	(void)state;
	GOOD_IS("cocoinit.log=debug", cfg.log_level, LOG_LVL_DEBUG);
	GOOD_IS("cocoinit.log=error", cfg.log_level, LOG_LVL_ERR);
	GOOD_IS("cocoinit.log=warn", cfg.log_level, LOG_LVL_WARN);
	GOOD_IS("cocoinit.log=info", cfg.log_level, LOG_LVL_INFO);
	BAD("cocoinit.log=verbose", "cocoinit.log: \"verbose\" is not one of error, warn, info, debug");
}

static void test_quoting(void **state)
{
	(void)state;
	/* key="a b": the value's quotes go, the space stays. */
	GOOD_STR("quiet cocoinit.initdata_serial=\"a b\" cocoinit.log=debug", cfg.serial, "a b");
	assert_int_equal(cfg.log_level, LOG_LVL_DEBUG);
	/* "key=a b": a quote at the token's start, removed with the last byte. */
	GOOD_STR("\"cocoinit.initdata_serial=c d\" cocoinit.log=warn", cfg.serial, "c d");
	assert_int_equal(cfg.log_level, LOG_LVL_WARN);
	/* Quotes in the middle only protect spaces; the kernel keeps them. */
	GOOD_STR("cocoinit.initdata_serial=a\"b c\"d", cfg.serial, "a\"b c\"d");
	/* A quote that is never closed runs to the end of the line. */
	GOOD_STR("cocoinit.log=debug cocoinit.initdata_serial=\"x cocoinit.log=error", cfg.serial, "x cocoinit.log=error");
	assert_int_equal(cfg.log_level, LOG_LVL_DEBUG);
	/* Any whitespace separates, also tabs and the trailing newline. */
	GOOD_IS("cocoinit.initdata_timeout_ms=7\tcocoinit.log=error\n", cfg.timeout_ms, 7);
	assert_int_equal(cfg.log_level, LOG_LVL_ERR);
	/* The value is everything after the first '=' of the token. */
	GOOD_STR("cocoinit.initdata_serial=a=b", cfg.serial, "a=b");
	/* The kernel's parameter names treat '-' and '_' alike. */
	GOOD_IS("cocoinit.initdata-timeout-ms=9", cfg.timeout_ms, 9);
	/* After a bare "--" comes init's argv, not parameters. */
	GOOD_IS("cocoinit.log=warn -- cocoinit.log=debug", cfg.log_level, LOG_LVL_WARN);
	/* Escaped in errors: a byte that is not printable shows as \xNN. */
	BAD("cocoinit.log=\"a\x01\\\"", "cocoinit.log: \"a\\x01\\x5c\" is not one of error, warn, info, debug");
}

static void test_nul_ends(void **state)
{
	static const char text[] = "cocoinit.log=debug\0cocoinit.log=error";

	(void)state;
	assert_int_equal(cmdline_parse(text, sizeof(text) - 1, &cfg, err, sizeof(err)), 0);
	assert_int_equal(cfg.log_level, LOG_LVL_DEBUG);
	/* len bounds the text: no terminator needed. */
	assert_int_equal(cmdline_parse("cocoinit.log=errorXYZ", 18, &cfg, err, sizeof(err)), 0);
	assert_int_equal(cfg.log_level, LOG_LVL_ERR);
}

static void test_later_wins(void **state)
{
	(void)state;
	GOOD_IS("cocoinit.initdata_timeout_ms=1 cocoinit.initdata_timeout_ms=2", cfg.timeout_ms, 2);
	GOOD_STR("cocoinit.initdata_serial=one cocoinit.initdata_serial=two", cfg.serial, "two");
	assert_int_equal(cfg.serial_len, 3);
	GOOD_STR("cocoinit.agent=/a cocoinit.agent=/b cocoinit.on_error=reboot cocoinit.on_error=continue", cfg.agent, "/b");
	assert_int_equal(cfg.on_error, ON_ERROR_CONTINUE);
	/* A bad value is an error even when a good one follows. */
	BAD("cocoinit.initdata_timeout_ms=x cocoinit.initdata_timeout_ms=2",
	    "cocoinit.initdata_timeout_ms: \"x\" is not a number");
}

static void test_error_keeps_cfg(void **state)
{
	(void)state;
	GOOD("cocoinit.log=debug cocoinit.agent=/sbin/first");
	BAD("cocoinit.agent=/sbin/second cocoinit.passfd=7", "cocoinit.passfd: \"7\" is not one of 0, 1");
	/* cfg is written only on success... */
	assert_string_equal(cfg.agent, "/sbin/first");
	assert_int_equal(cfg.log_level, LOG_LVL_DEBUG);
	assert_int_equal(cfg.on_error, ON_ERROR_POWEROFF);
	/* ...but the policy and log level of the line, wherever they stand, say
	 * how the failure itself is handled: a shell to fix the typo. */
	BAD("cocoinit.passfd=7 cocoinit.on_error=shell cocoinit.log=error", "cocoinit.passfd: \"7\" is not one of 0, 1");
	assert_int_equal(cfg.on_error, ON_ERROR_SHELL);
	assert_int_equal(cfg.log_level, LOG_LVL_ERR);
	assert_string_equal(cfg.agent, "/sbin/first");
	/* a malformed policy is not one: the last valid one stands */
	BAD("cocoinit.on_error=reboot cocoinit.on_error=explode",
	    "cocoinit.on_error: \"explode\" is not one of poweroff, reboot, shell, continue");
	assert_int_equal(cfg.on_error, ON_ERROR_REBOOT);
	/* A long bad value is cut visibly, and err stays within its size. */
	{
		char line[2100], small[40];
		memset(line, 'z', sizeof(line) - 1);
		line[sizeof(line) - 1] = '\0';
		memcpy(line, "cocoinit.log=", 13);
		assert_int_equal(parse(line), -EINVAL);
		assert_non_null(strstr(err, "zzz...\" is not one of"));
		assert_int_equal(cmdline_parse(line, strlen(line), &cfg, small, sizeof(small)), -EINVAL);
		assert_int_equal(strlen(small), sizeof(small) - 1);
	}
}

static void test_derived(void **state)
{
	(void)state;
	/* A serial given means the user wants that disk: wait for it. */
	GOOD_IS("cocoinit.initdata_serial=initdata", cfg.initdata, INITDATA_REQUIRED);
	assert_int_equal(cfg.timeout_ms, 5000);
	GOOD_IS("cocoinit.initdata_serial=x cocoinit.initdata=auto", cfg.initdata, INITDATA_AUTO);
	assert_int_equal(cfg.timeout_ms, 0);
	GOOD_IS("cocoinit.initdata=required", cfg.initdata, INITDATA_REQUIRED);
	assert_int_equal(cfg.timeout_ms, 5000);
	assert_string_equal(cfg.serial, "initdata");
	GOOD_IS("cocoinit.initdata_serial=x cocoinit.initdata_timeout_ms=100", cfg.initdata, INITDATA_REQUIRED);
	assert_int_equal(cfg.timeout_ms, 100);
	GOOD_IS("cocoinit.initdata=off cocoinit.initdata_serial=x", cfg.initdata, INITDATA_OFF);
	assert_int_equal(cfg.timeout_ms, 0);
	GOOD_IS("cocoinit.initdata_timeout_ms=300", cfg.initdata, INITDATA_AUTO);
	assert_int_equal(cfg.timeout_ms, 300);
}

static void test_unknown_warned(void **state)
{
	(void)state;
	log_capture();
	GOOD("cocoinit.bogus=1 agent.log_vport=1025 quiet cocoinit.initdta_serial=\"x\x1b[2J\" other.key=2");
	const char *log = log_read();
	assert_string_equal(log, "cocoinit: warning: unknown kernel command line keys ignored: cocoinit.bogus "
				 "cocoinit.initdta_serial\n");
	/* ...and ignored: the serial stays the default. */
	assert_string_equal(cfg.serial, "initdata");
	assert_false(cfg.serial_set);
	log_release();
	log_capture();
	GOOD("\"cocoinit.\x1b[2J\"");
	assert_string_equal(log_read(), "cocoinit: warning: unknown kernel command line key ignored: cocoinit.\\x1b[2J\n");
	log_release();

	/* A flood of unknown keys is one line, however many there are: kmsg's
	 * rate limit must not drop what comes after it. */
	log_capture();
	{
		char line[8192];
		size_t off = 0;

		for (int i = 1; i <= 200; i++)
			off += (size_t)snprintf(line + off, sizeof(line) - off, "cocoinit.u%d ", i);
		GOOD(line);
	}
	log = log_read();
	assert_int_equal(strncmp(log, "cocoinit: warning: unknown kernel command line keys ignored: cocoinit.u1 "
				      "cocoinit.u2 ",
				 80),
			 0);
	assert_non_null(strstr(log, " more\n"));
	assert_int_equal(strchr(log, '\n') - log + 1, strlen(log)); /* one line */
	assert_true(strlen(log) < 300);
	{
		/* Shown plus counted is every key. */
		unsigned shown = 0, more = 0;
		const char *p = strstr(log, "ignored: ") + 9;

		for (; *p && strncmp(p, " and ", 5) != 0; p++)
			shown += *p == ' ';
		shown++;
		assert_int_equal(sscanf(p, " and %u more", &more), 1);
		assert_int_equal(shown + more, 200);
	}
	log_release();

	/* The keys are still named when a malformed value ends the line. */
	log_capture();
	assert_int_equal(parse("cocoinit.u1 cocoinit.u2 cocoinit.initdata_timeout_ms=abc"), -EINVAL);
	assert_string_equal(log_read(), "cocoinit: warning: unknown kernel command line keys ignored: cocoinit.u1 "
					 "cocoinit.u2\n");
	log_release();
}

static void test_read(void **state)
{
	char *root;
	int fd;

	(void)state;
	root = tree_from_manifest("file proc/cmdline BOOT_IMAGE=/vmlinuz cocoinit.initdata_serial=\"my disk\" cocoinit.passfd=1\\n\n");
	assert_non_null(root);
	fd = tree_open(root);
	assert_true(fd >= 0);
	assert_int_equal(cmdline_read(fd, &cfg, err, sizeof(err)), 0);
	assert_string_equal(cfg.serial, "my disk");
	assert_true(cfg.passfd);
	assert_int_equal(cfg.initdata, INITDATA_REQUIRED);
	close(fd);
	tree_remove(root);

	root = tree_from_manifest("file proc/cmdline cocoinit.log=loud\n");
	fd = tree_open(root);
	assert_int_equal(cmdline_read(fd, &cfg, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "cocoinit.log: \"loud\" is not one of error, warn, info, debug");
	close(fd);
	tree_remove(root);

	root = tree_from_manifest("dir proc\n");
	fd = tree_open(root);
	assert_int_equal(cmdline_read(fd, &cfg, err, sizeof(err)), -ENOENT);
	assert_string_equal(err, "reading /proc/cmdline: No such file or directory");

	/* Bounded: a file longer than any kernel's command line is refused. */
	{
		int f = openat(fd, "proc/cmdline", O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
		static char big[40000];
		memset(big, ' ', sizeof(big));
		assert_true(f >= 0);
		assert_int_equal(write(f, big, sizeof(big)), (ssize_t)sizeof(big));
		close(f);
		assert_int_equal(cmdline_read(fd, &cfg, err, sizeof(err)), -E2BIG);
		assert_string_equal(err, "/proc/cmdline is longer than 32768 bytes");
	}
	close(fd);
	tree_remove(root);
}

#define P_HASH "4392a4a3d9b7e2ea3c4ac2d0b3f1de5e23e1b3fb7dc0c2a2cdf84a18f02a9a1b"
#define P_SALT "7d0d9b4e3b1c2a0f"
#define PARAMS "root_hash=" P_HASH ",salt=" P_SALT ",data_blocks=256,data_block_size=4096,hash_block_size=4096"

static void test_extensions(void **state)
{
	(void)state;
	/* none by default; the timeout defaults to 5 s */
	GOOD_IS("quiet", cfg.n_extensions, 0);
	assert_int_equal(cfg.extension_timeout_ms, 5000);
	GOOD_IS("cocoinit.extension_timeout_ms=250", cfg.extension_timeout_ms, 250);
	BAD("cocoinit.extension_timeout_ms=-1", "cocoinit.extension_timeout_ms: \"-1\" is not a number");

	/* measured, unmeasured (bare key, and an empty value as Kata's script reads it), in order */
	GOOD_IS("kata.extension.coco.verity_params=" PARAMS " kata.extension.gpu.verity_params "
		"kata.extension.x_1-2.z.verity-params=",
		cfg.n_extensions, 3);
	assert_string_equal(cfg.extensions[0].name, "coco");
	assert_true(cfg.extensions[0].measured);
	assert_int_equal(cfg.extensions[0].params.data_blocks, 256);
	assert_int_equal(cfg.extensions[0].params.root_hash_len, 32);
	assert_int_equal(cfg.extensions[0].params.root_hash[0], 0x43);
	assert_string_equal(cfg.extensions[1].name, "gpu");
	assert_false(cfg.extensions[1].measured);
	assert_string_equal(cfg.extensions[2].name, "x_1-2.z");
	assert_false(cfg.extensions[2].measured);

	/* a later key for the same name replaces it where it stood */
	GOOD_IS("kata.extension.a.verity_params kata.extension.b.verity_params kata.extension.a.verity_params=" PARAMS,
		cfg.n_extensions, 2);
	assert_string_equal(cfg.extensions[0].name, "a");
	assert_true(cfg.extensions[0].measured);
	GOOD_IS("kata.extension.a.verity_params=" PARAMS " kata.extension.a.verity_params", cfg.n_extensions, 1);
	assert_false(cfg.extensions[0].measured);

	/* other kata.extension keys are not ours */
	GOOD_IS("kata.extension.a.other=1 kata.extension..verity_params_x", cfg.n_extensions, 0);

	/* names: the rule, . and .., too long */
	BAD("kata.extension.a/b.verity_params",
	    "kata.extension.a/b.verity_params: \"\" names an extension outside [A-Za-z0-9_.-]{1,64} (or . or ..)");
	assert_int_equal(parse("kata.extension...verity_params"), -EINVAL);
	/* an empty name is a malformed extension key, not someone else's key */
	BAD("kata.extension..verity_params=x",
	    "kata.extension..verity_params: \"x\" names an extension outside [A-Za-z0-9_.-]{1,64} (or . or ..)");
	assert_int_equal(parse("kata.extension....verity_params"), -EINVAL);
	assert_int_equal(parse("kata.extension.a\"b\".verity_params"), -EINVAL);
	{
		char line[256];
		snprintf(line, sizeof(line), "kata.extension.%065d.verity_params", 0);
		assert_int_equal(parse(line), -EINVAL);
		snprintf(line, sizeof(line), "kata.extension.%064d.verity_params", 0);
		GOOD_IS(line, cfg.n_extensions, 1);
	}
	/* malformed params are an error: they are used */
	assert_int_equal(parse("kata.extension.a.verity_params=root_hash=zz"), -EINVAL);
	assert_non_null(strstr(err, "kata.extension.a.verity_params: \"root_hash=zz\" is not verity params: "));
	assert_int_equal(parse("kata.extension.a.verity_params=" PARAMS ",data_blocks=1"), -EINVAL);
	assert_int_equal(parse("kata.extension.a.verity_params=" PARAMS ",data_block_size=3"), -EINVAL);
	/* a long value is cut before the reason, so the reason stays on the line */
	{
		char line[2100];
		int o = snprintf(line, sizeof(line), "kata.extension.a.verity_params=root_hash=");
		memset(line + o, 'z', 1900);
		line[o + 1900] = '\0';
		assert_int_equal(parse(line), -EINVAL);
		assert_non_null(strstr(err, "\" ... (1910 bytes) is not verity params: root_hash: "));
		assert_true(strlen(err) < 256);
	}

	/* two names the device cuts to the same 20-byte serial */
	BAD("kata.extension.longname-1x.verity_params kata.extension.longname-1y.verity_params",
	    "kata.extension.longname-1y.verity_params: \"\" names an extension whose disk serial "
	    "(extension-longname-1, 20 bytes) is also extension longname-1x's");
	GOOD_IS("kata.extension.longname-1.verity_params kata.extension.longname-2.verity_params", cfg.n_extensions, 2);

	/* at most EXTENSION_MAX */
	{
		char line[2048] = "";
		size_t o = 0;
		for (int i = 0; i < EXTENSION_MAX + 1; i++)
			o += (size_t)snprintf(line + o, sizeof(line) - o, "kata.extension.e%d.verity_params ", i);
		assert_int_equal(parse(line), -EINVAL);
		assert_non_null(strstr(err, "is more than 16 extensions"));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_initdata),
		cmocka_unit_test(test_serial),
		cmocka_unit_test(test_hint),
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_scan),
		cmocka_unit_test(test_dir),
		cmocka_unit_test(test_max_bytes),
		cmocka_unit_test(test_bind),
		cmocka_unit_test(test_modules),
		cmocka_unit_test(test_vsock_listen),
		cmocka_unit_test(test_passfd),
		cmocka_unit_test(test_passfd_port),
		cmocka_unit_test(test_passfd_port_unused),
		cmocka_unit_test(test_printk_devkmsg),
		cmocka_unit_test(test_agent_limits),
		cmocka_unit_test(test_agent),
		cmocka_unit_test(test_agent_mode),
		cmocka_unit_test(test_on_error),
		cmocka_unit_test(test_mount),
		cmocka_unit_test(test_log),
		cmocka_unit_test(test_quoting),
		cmocka_unit_test(test_nul_ends),
		cmocka_unit_test(test_later_wins),
		cmocka_unit_test(test_error_keeps_cfg),
		cmocka_unit_test(test_derived),
		cmocka_unit_test(test_unknown_warned),
		cmocka_unit_test(test_read),
		cmocka_unit_test(test_extensions),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
