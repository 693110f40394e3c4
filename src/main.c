/* SPDX-License-Identifier: Apache-2.0 */
/* cocoinit: as PID 1, the boot sequence of CONTRACT sections 1-2, top to
 * bottom, and the error policy (cocoinit.on_error). The modules it calls
 * return errors; only this file decides what is fatal. PID 1 never returns.
 * Not PID 1: the command line tool. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/reboot.h>
#include <sys/utsname.h>
#include <termios.h>
#include <unistd.h>

#include "cocoinit/cli.h"
#include "cocoinit/cmdline.h"
#include "cocoinit/consume.h"
#include "cocoinit/discover.h"
#include "cocoinit/handoff.h"
#include "cocoinit/log.h"
#include "cocoinit/modules.h"
#include "cocoinit/mounts.h"
#include "cocoinit/state.h"
#include "cocoinit/sys.h"
#include "cocoinit/timing.h"
#include "cocoinit/util.h"
#include "cocoinit/vsock.h"

#define ERR_MAX 512

/* Static, not on the stack: PID 1's state lives as long as the machine. */
static struct config cfg;
static struct state st;
static struct vsock_listener listeners[CONFIG_MAX_LISTENERS + 1];
static size_t n_listeners;

static void boot_drain_console(void)
{
	/* The fatal and on_error lines must be on the wire before power goes. */
	tcdrain(STDOUT_FILENO);
	tcdrain(STDERR_FILENO);
}

static void boot_exec_shell(void)
{
	char *argv[] = { "/bin/sh", NULL };
	char *envp[] = { "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "TERM=linux", NULL };

	if (access("/bin/sh", X_OK) < 0)
		return;
	log_set_console_fd(-1, NULL);
	log_set_fd(-1, LOG_SINK_PLAIN);
	handoff_reset_signals();
	sys_execve("/bin/sh", argv, envp);
	log_error("on_error: exec /bin/sh failed: %s", strerror(errno));
}

/* Applies on_error for a failure that leaves nothing to continue with. */
static _Noreturn void boot_halt(void)
{
	enum on_error policy = cfg.on_error;
	sigset_t all;
	int r;

	/* "continue" had nothing left to hand off to: power off. */
	if (policy == ON_ERROR_CONTINUE)
		policy = ON_ERROR_POWEROFF;
	if (policy == ON_ERROR_SHELL && access("/bin/sh", X_OK) < 0) {
		log_msg(LOG_LVL_CRIT, "on_error: shell: no /bin/sh, powering off");
		policy = ON_ERROR_POWEROFF;
	}
	log_msg(LOG_LVL_CRIT, "on_error: %s", cmdline_on_error_name(policy));
	boot_drain_console();
	sync();
	if (policy == ON_ERROR_SHELL) {
		boot_exec_shell();
		policy = ON_ERROR_POWEROFF;
	}
	r = sys_reboot(policy == ON_ERROR_REBOOT ? RB_AUTOBOOT : RB_POWER_OFF);
	log_msg(LOG_LVL_CRIT, "fatal: reboot: %s; halting", strerror(-r));
	boot_drain_console();
	/* PID 1 must not exit (the kernel would panic): wait forever, every signal blocked. */
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	for (;;)
		pause();
}

/* A failed step: "fatal: ..." on the console, the error in state.json, then
 * the policy. Returns only for on_error=continue. */
static void boot_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void boot_fail(const char *fmt, ...)
{
	char msg[STATE_ERROR_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_fatal("%s", msg);
	state_add_error(&st, msg);
	if (cfg.on_error == ON_ERROR_CONTINUE) {
		log_msg(LOG_LVL_CRIT, "on_error: continue");
		return;
	}
	boot_halt();
}

/* Lines below the kernel's console_loglevel reach the console through kmsg;
 * asked only when a warning is first logged (0 when unreadable). */
static int boot_console_loglevel(void)
{
	char printk[64];
	ssize_t n = util_read_file_at(AT_FDCWD, "/proc/sys/kernel/printk", printk, sizeof(printk) - 1, true);

	if (n <= 0)
		return 0;
	printk[n] = '\0';
	return atoi(printk);
}

static void boot_log_setup(void)
{
	int kmsg = open("/dev/kmsg", O_WRONLY | O_CLOEXEC | O_NOCTTY);
	int console;

	if (kmsg < 0)
		return; /* stderr is the console already */
	log_set_fd(kmsg, LOG_SINK_KMSG);
	console = open("/dev/console", O_WRONLY | O_CLOEXEC | O_NOCTTY);
	if (console >= 0)
		log_set_console_fd(console, boot_console_loglevel);
}

static void boot_modules(int rootfd)
{
	char err[ERR_MAX] = "";
	struct utsname u;
	int r;

	if (cfg.n_modules == 0)
		return;
	if (uname(&u) < 0) {
		boot_fail("modules: uname: %s", strerror(errno));
		return;
	}
	r = modules_load(rootfd, u.release, (const char(*)[64])cfg.modules, cfg.n_modules, err, sizeof(err));
	if (r < 0)
		boot_fail("modules: %s", err[0] ? err : strerror(-r));
}

static void boot_shares(void)
{
	char err[ERR_MAX] = "";
	char esc[LOG_ESCAPED_SIZE(64)];

	for (size_t i = 0; i < cfg.n_mounts; i++) {
		int r = mounts_share(&cfg.mounts[i], err, sizeof(err));

		if (r < 0)
			boot_fail("mount %s: %s",
				  log_escape(esc, sizeof(esc), cfg.mounts[i].target, strlen(cfg.mounts[i].target)),
				  err[0] ? err : strerror(-r));
	}
}

static void boot_listen(void)
{
	char err[ERR_MAX] = "";
	int r;

	r = vsock_plan(&cfg, listeners, ARRAY_SIZE(listeners), &n_listeners, err, sizeof(err));
	if (r < 0) {
		n_listeners = 0;
		boot_fail("listen: %s", err[0] ? err : strerror(-r));
		return;
	}
	r = vsock_listen_all(listeners, n_listeners, err, sizeof(err));
	if (r < 0) {
		/* Continuing: vsock_listen_all() closed them all, the agent gets
		 * no half set of listeners. */
		n_listeners = 0;
		boot_fail("listen: %s", err[0] ? err : strerror(-r));
		return;
	}
	/* Now, not at the hand-off: the line marks when host connections start
	 * to queue, and it still reaches kmsg (the hand-off closes the log fds
	 * before it moves the listeners). */
	vsock_log_listeners(listeners, n_listeners);
}

static void boot_discover(int rootfd, struct discover_result *res)
{
	struct discover_opts opts = {
		.serial = cfg.serial,
		.serial_len = cfg.serial_len,
		.hint = cfg.hint[0] ? cfg.hint : NULL,
		.uevent_fd = -1,
		.create_byid = true,
	};
	char esc[LOG_ESCAPED_SIZE(SERIAL_MAX)];
	char dev[LOG_ESCAPED_SIZE(sizeof(res->devnode))];
	char list[DISCOVER_MATCHES_SIZE];
	int r;

	memcpy(st.serial, cfg.serial, cfg.serial_len);
	st.serial_len = cfg.serial_len;
	log_escape(esc, sizeof(esc), cfg.serial, cfg.serial_len);

	if (cfg.initdata == INITDATA_OFF)
		return;
	if (cfg.initdata == INITDATA_REQUIRED) {
		opts.methods = DISCOVER_AUTO;
		opts.timeout_ms = cfg.timeout_ms;
	} else {
		/* auto: one look, no waiting. */
		opts.methods = DISCOVER_AUTO & ~(unsigned)DISCOVER_UEVENT;
		opts.timeout_ms = 0;
	}
	if (cfg.scan_magic)
		opts.methods |= DISCOVER_MAGIC;
	uint64_t t = timing_now_us();
	if ((opts.methods & DISCOVER_UEVENT) && opts.timeout_ms > 0) {
		/* Bound before the sysfs scan, so no disk slips between scan and wait. */
		r = discover_waiter_open(rootfd, &opts);
		if (r < 0)
			log_warn("initdata: uevent socket: %s; not waiting for new disks", strerror(-r));
		t = timing_step("discover.waiter", t);
	}

	r = discover_run(rootfd, &opts, res);
	timing_step("discover.run", t);
	discover_waiter_close(&opts);
	st.examined = res->examined;

	if (r == 0) {
		st.found = 1;
		util_strlcpy(st.device, res->devnode, sizeof(st.device));
		util_strlcpy(st.method, discover_method_name(res->method), sizeof(st.method));
		log_info("initdata: found %s via %s serial=%s in %lluus",
			 log_escape(dev, sizeof(dev), res->devnode, strnlen(res->devnode, sizeof(res->devnode))),
			 st.method, esc, (unsigned long long)res->elapsed_us);
		return;
	}
	if (r == -ENOENT) {
		if (cfg.initdata == INITDATA_AUTO) {
			log_info("initdata: not found serial=%s", esc);
			return;
		}
		log_error("initdata: not found serial=%s", esc);
		boot_fail("initdata: no disk with serial=%s within %llums", esc, (unsigned long long)cfg.timeout_ms);
		return;
	}
	if (r == -ENOTUNIQ) {
		(void)discover_format_matches(res, list, sizeof(list));
		log_error("initdata: ambiguous serial=%s devices=%s", esc, list);
		boot_fail("initdata: %u disks have serial=%s; refusing to pick one", res->n_matches, esc);
		return;
	}
	boot_fail("initdata: discovery failed: %s", strerror(-r));
}

static void boot_consume(const struct discover_result *res)
{
	struct consume_result cres = { 0 };
	char err[ERR_MAX] = "";
	char esc[LOG_ESCAPED_SIZE(64)];
	char dev[LOG_ESCAPED_SIZE(sizeof(res->devnode))];
	int r;

	if (!st.found)
		return;
	log_escape(dev, sizeof(dev), res->devnode, strnlen(res->devnode, sizeof(res->devnode)));
	r = consume_initdata(res->devnode, cfg.initdata_dir, cfg.max_bytes, &cres, err, sizeof(err));
	if (r < 0) {
		boot_fail("initdata: %s: %s", dev, err[0] ? err : strerror(-r));
		return;
	}
	util_strlcpy(st.format, cres.format, sizeof(st.format));
	util_strlcpy(st.dir, cfg.initdata_dir, sizeof(st.dir));
	log_info("initdata: %s is %s, at %s", dev,
		 log_escape(esc, sizeof(esc), cres.format, strlen(cres.format)),
		 log_escape(err, sizeof(err), cfg.initdata_dir, strlen(cfg.initdata_dir)));
}

static void boot_handoff(void)
{
	struct handoff_env env = { 0 };
	char esc[LOG_ESCAPED_SIZE(CONFIG_PATH_MAX)];
	int r, status;

	if (st.found && st.format[0]) {
		env.device = st.device;
		env.dir = st.dir;
		env.format = st.format;
		env.method = st.method;
	}
	log_escape(esc, sizeof(esc), cfg.agent, strlen(cfg.agent));

	if (cfg.agent_mode == AGENT_SUPERVISE) {
		log_info("handoff: supervise %s listen_fds=%zu", esc, n_listeners);
		r = handoff_supervise(&cfg, &env, listeners, n_listeners, &status);
		if (r < 0)
			log_fatal("handoff: supervise %s: %s", esc, strerror(-r));
		/* The agent is gone either way: nothing left to run. */
		boot_halt();
	}
	log_info("handoff: exec %s listen_fds=%zu", esc, n_listeners);
	r = handoff_exec(&cfg, &env, listeners, n_listeners);
	/* The hand-off closed the log fds: reopen them so the failure reaches kmsg too. */
	boot_log_setup();
	log_fatal("handoff: exec %s: %s", esc, strerror(-r));
	boot_halt();
}

static _Noreturn void boot(void)
{
	struct discover_result res = { 0 };
	char err[ERR_MAX] = "";
	uint64_t t0, t, t1;
	sigset_t all;
	int rootfd, r;

	/* Nothing may kill or interrupt PID 1 behind the sequence's back. */
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	/* Before any open(): fds 0-2 are stdio, whatever the kernel left there. */
	(void)mounts_stdio_reserve();
	t0 = t = timing_now_us();
	cmdline_defaults(&cfg);

	rootfd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		boot_fail("open /: %s", strerror(errno));

	r = mounts_early(rootfd, err, sizeof(err));
	if (r < 0)
		boot_fail("mounts: %s", err[0] ? err : strerror(-r));
	t1 = timing_step("mounts.early", t);
	if (mounts_console() < 0)
		log_warn("console: /dev/console unavailable; keeping the inherited stdio");
	boot_log_setup();
	timing_step("mounts.console", t1);
	st.t_mounts = timing_now_us() - t;

	err[0] = '\0';
	t1 = timing_now_us();
	r = cmdline_read(rootfd, &cfg, err, sizeof(err));
	log_set_level(cfg.log_level);
	if (r < 0)
		boot_fail("cmdline: %s", err[0] ? err : strerror(-r));
	timing_step("cmdline", t1);

	t = timing_now_us();
	boot_modules(rootfd);
	t1 = timing_step("modules.load", t);
	boot_shares();
	timing_step("modules.shares", t1);
	st.t_modules = timing_now_us() - t;

	t = timing_now_us();
	boot_listen();
	st.t_listen = timing_now_us() - t;

	t = timing_now_us();
	boot_discover(rootfd, &res);
	st.t_discover = timing_now_us() - t;

	t = timing_now_us();
	boot_consume(&res);
	st.t_consume = timing_now_us() - t;

	st.t_boot = timing_now_us();
	st.t_total = st.t_boot - t0;
	log_info("timing: mounts=%llu modules=%llu listen=%llu discover=%llu consume=%llu total=%llu boot=%llu",
		 (unsigned long long)st.t_mounts, (unsigned long long)st.t_modules, (unsigned long long)st.t_listen,
		 (unsigned long long)st.t_discover, (unsigned long long)st.t_consume, (unsigned long long)st.t_total,
		 (unsigned long long)st.t_boot);

	r = state_write(rootfd, &st, &cfg, listeners, n_listeners);
	if (r < 0)
		log_warn("state: writing run/cocoinit/state.json: %s", strerror(-r));
	close(rootfd);

	boot_handoff();
	boot_halt();
}

int main(int argc, char **argv)
{
	/* COCOINIT_PID1=1 runs the boot sequence as another pid (containers, debugging). */
	const char *force = getenv("COCOINIT_PID1");

	if (getpid() != 1 && !(force && strcmp(force, "1") == 0))
		return cli_main(argc, argv);
	boot();
}
