/* SPDX-License-Identifier: Apache-2.0 */
/* cocoinit: as PID 1, the boot sequence of CONTRACT sections 1-2, top to
 * bottom, and the error policy (cocoinit.on_error). The modules it calls
 * return errors; only this file decides what is fatal. PID 1 never returns.
 * Not PID 1: the command line tool. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <sys/reboot.h>
#include <sys/utsname.h>
#include <termios.h>
#include <unistd.h>

#include "cocoinit/cli.h"
#include "cocoinit/cmdline.h"
#include "cocoinit/consume.h"
#include "cocoinit/digest.h"
#include "cocoinit/discover.h"
#include "cocoinit/extension.h"
#include "cocoinit/handoff.h"
#include "cocoinit/initdata.h"
#include "cocoinit/initdata_doc.h"
#include "cocoinit/log.h"
#include "cocoinit/modules.h"
#include "cocoinit/mounts.h"
#include "cocoinit/rehearsal.h"
#include "cocoinit/state.h"
#include "cocoinit/sys.h"
#include "cocoinit/tee.h"
#include "cocoinit/timing.h"
#include "cocoinit/util.h"
#include "cocoinit/vsock.h"

#define ERR_MAX 512

/* Static, not on the stack: PID 1's state lives as long as the machine. */
static struct config cfg;
static struct state st;
static struct vsock_listener listeners[CONFIG_MAX_LISTENERS + 1];
static size_t n_listeners;
static struct handoff_limits limits;
static bool limits_planned, limits_applied;
/* Extensions: the disks found with initdata's scan (t[0] is initdata when
 * it was looked for), the uevent socket kept open for their partitions. */
static struct discover_set disks;
static size_t disks_first_ext;
static int ext_uevent_fd = -1;
static char ext_names[EXTENSION_MAX * (EXTENSION_NAME_MAX + 1) + 1];
/* Discovery's options, its uevent socket bound before the modules load:
 * the disks they probe are announced, and their serials read (dseen) while
 * the kernel probes the next ones. */
static struct discover_opts dopts = { .uevent_fd = -1 };
static struct discover_seen dseen;
/* The disk whose serial matched while the modules loaded, held open with
 * its first 4 KiB asked for, so that the consumer's first read finds them. */
static int readahead_fd = -1;
static char readahead_name[DISCOVER_NAME_MAX];
/* initdata.toml's bytes as consume wrote them, for the document step. */
static uint8_t *initdata_toml;
static size_t initdata_toml_size;

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
	/* A failed hand-off left the listeners inheritable at fds 3..: the shell gets none. */
	(void)handoff_arrange_fds(NULL, 0);
	n_listeners = 0;
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

	/* Not PID 1 (COCOINIT_PID1=1 on a host or in a container): never power
	 * off or reboot what runs us, never exec a shell in its place. */
	if (getpid() != 1) {
		log_msg(LOG_LVL_CRIT | LOG_TAIL, "on_error: exit status=1 (not PID 1)");
		exit(1);
	}
	/* "continue" had nothing left to hand off to: power off. */
	if (policy == ON_ERROR_CONTINUE)
		policy = ON_ERROR_POWEROFF;
	if (policy == ON_ERROR_SHELL && access("/bin/sh", X_OK) < 0) {
		log_msg(LOG_LVL_CRIT | LOG_TAIL, "on_error: shell: no /bin/sh, powering off");
		policy = ON_ERROR_POWEROFF;
	}
	log_msg(LOG_LVL_CRIT | LOG_TAIL, "on_error: %s", cmdline_on_error_name(policy));
	boot_drain_console();
	sync();
	if (policy == ON_ERROR_SHELL) {
		boot_exec_shell();
		policy = ON_ERROR_POWEROFF;
	}
	r = sys_reboot(policy == ON_ERROR_REBOOT ? RB_AUTOBOOT : RB_POWER_OFF);
	log_msg(LOG_LVL_CRIT | LOG_TAIL, "fatal: reboot: %s; halting", strerror(-r));
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
		log_msg(LOG_LVL_CRIT | LOG_TAIL, "on_error: continue");
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

/* The first line: which binary booted, by the SHA-256 of /proc/self/exe. */
static void boot_version(void)
{
	uint8_t d[DIGEST_MAX];
	char hex[DIGEST_HEX_SIZE];
	uint64_t t = timing_now_us();
	int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	int r = fd < 0 ? -errno : digest_fd(DIGEST_SHA256, fd, d);

	if (fd >= 0)
		close(fd);
	st.t_version = timing_now_us() - t;
	if (r < 0) {
		log_msg(LOG_LVL_INFO | LOG_CONSOLE, "version %s sha256=unknown (%s)", COCOINIT_VERSION, strerror(-r));
		return;
	}
	/* On the console even under `quiet`: a console log must say which binary booted. */
	log_msg(LOG_LVL_INFO | LOG_CONSOLE, "version %s sha256=%s", COCOINIT_VERSION,
		digest_hex(hex, d, digest_len(DIGEST_SHA256)));
}

/* oom_score_adj and RLIMIT_NOFILE for the agent (CONTRACT section 4). */
static void boot_agent_limits(int rootfd)
{
	bool clamped = false;
	int r = handoff_limits_plan(rootfd, &cfg, &limits, &clamped);

	if (r < 0) {
		boot_fail("agent limits: reading /proc/sys/fs/nr_open: %s", strerror(-r));
		return;
	}
	if (clamped)
		log_warn("cocoinit.agent_nofile=%llu is above fs.nr_open; the agent gets %llu",
			 (unsigned long long)cfg.agent_nofile, (unsigned long long)limits.nofile);
	st.agent_nofile = limits.nofile;
	limits_planned = true;
	/* exec: the agent is this process, so they are applied now, off the
	 * path from the disk to the agent; supervise applies them to the child. */
	if (cfg.agent_mode == AGENT_EXEC) {
		r = handoff_limits_apply(&limits);
		if (r < 0) {
			boot_fail("handoff: setting oom_score_adj=%s and RLIMIT_NOFILE=%llu: %s", limits.oom_score_adj,
				  (unsigned long long)limits.nofile, strerror(-r));
			return;
		}
		limits_applied = true;
	}
}

/* cocoinit.modules, plus what the extensions the command line names need
 * (dm_mod, dm_verity for a measured one, erofs); modules_load() loads a name
 * given twice once. */
static size_t boot_module_list(char (*out)[64], size_t max)
{
	static const char *const ext_mods[] = { "dm_mod", "dm_verity", "erofs" };
	bool measured = false;
	size_t n = 0;

	for (size_t i = 0; i < cfg.n_modules && n < max; i++)
		util_strlcpy(out[n++], cfg.modules[i], 64);
	for (size_t i = 0; i < cfg.n_extensions; i++)
		measured |= cfg.extensions[i].measured;
	for (size_t m = 0; cfg.n_extensions > 0 && m < ARRAY_SIZE(ext_mods) && n < max; m++)
		if (measured || m == 2)
			util_strlcpy(out[n++], ext_mods[m], 64);
	return n;
}

/* Opens the matching disk once, checked as consume opens it (the device
 * sysfs names), with its first 4 KiB asked for: consume takes this fd when
 * discovery settles on the same disk. */
static void boot_read_ahead(int rootfd)
{
	char err[ERR_MAX];

	if (readahead_fd >= 0 || !dopts.serial)
		return;
	for (size_t i = 0; i < dseen.n; i++) {
		if (!serial_matches(dopts.serial, dopts.serial_len, dseen.e[i].serial, dseen.e[i].len,
				    dseen.e[i].kind))
			continue;
		readahead_fd = consume_open(rootfd, dseen.e[i].name, err, sizeof(err));
		if (readahead_fd < 0)
			return; /* consume opens it again and says why */
		util_strlcpy(readahead_name, dseen.e[i].name, sizeof(readahead_name));
		(void)posix_fadvise(readahead_fd, 0, 4096, POSIX_FADV_WILLNEED);
		return;
	}
}

/* 0, or the error that makes reading ahead pointless (the scan reads all). */
static int boot_prefetch(int rootfd)
{
	uint64_t t = timing_now_us();
	int r = discover_prefetch(rootfd, dopts.uevent_fd, &dseen);

	if (r > 0 && cfg.initdata != INITDATA_OFF)
		boot_read_ahead(rootfd);
	else if (r < 0 && r != -ENOBUFS)
		log_debug("initdata: reading serials ahead: %s", strerror(-r));
	timing_step("modules.prefetch", t);
	return r < 0 && r != -ENOBUFS ? r : 0;
}

/* What the rehearsal's child reports through its pipe. */
struct boot_rehearsal_job {
	int r;
	uint64_t us; /* its own time, fork to answer */
	char err[ERR_MAX];
	/* The TEE's launch value, read ahead: it does not depend on the disk,
	 * and a report from the TEE's firmware is a round trip worth taking
	 * while the modules load. tee_r is 0 when it was read. */
	int tee_r;
	struct tee_launch launch;
};
static pid_t rehearsal_pid = -1;
static int rehearsal_fd = -1;
/* The launch value the rehearsal's child read (tee_early_ok), for the bind. */
static struct tee_launch tee_early;
static bool tee_early_ok;

/* In the child: a mount namespace of its own with a tmpfs on run/cocoinit,
 * so that nothing it mounts or writes is seen outside it, and it ends with
 * the child. */
static _Noreturn void boot_rehearsal_child(int wfd)
{
	static struct boot_rehearsal_job job;
	uint64_t t = timing_now_us();
	_cleanup_close_ int root = -1;

	/* Nothing it does may reach kmsg: the rate limit's budget is PID 1's. */
	log_set_level(-1);
	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
		job.r = -errno;
		snprintf(job.err, sizeof(job.err), "a mount namespace of its own: %s", strerror(errno));
	} else if (mkdir("/run/cocoinit", 0755) < 0 && errno != EEXIST) {
		job.r = -errno;
		snprintf(job.err, sizeof(job.err), "mkdir /run/cocoinit: %s", strerror(errno));
	} else if ((job.r = sys_mount("tmpfs", "/run/cocoinit", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
				      "mode=0700")) < 0) {
		snprintf(job.err, sizeof(job.err), "a tmpfs on /run/cocoinit: %s", strerror(-job.r));
	} else if ((root = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		/* "/" of this namespace: PID 1's rootfd would walk PID 1's mounts */
		job.r = -errno;
		snprintf(job.err, sizeof(job.err), "open /: %s", strerror(errno));
	} else {
		job.r = rehearsal_run(root, "/run/cocoinit/rehearsal", &cfg, &rehearsal_builtin, job.err,
				      sizeof(job.err));
	}
	job.tee_r = -ENODEV;
	if (cfg.bind != BIND_OFF && root >= 0) {
		char terr[ERR_MAX];
		job.tee_r = tee_read_launch(root, &job.launch, terr, sizeof(terr));
	}
	job.us = timing_now_us() - t;
	_exit(util_write_all(wfd, &job, sizeof(job)) < 0 ? 1 : 0);
}

/* The rehearsal (rehearsal.h) in a child, while the modules load: only when
 * there is a disk to consume and a wait to fill. */
static void boot_rehearsal_start(void)
{
	int p[2];

	if (!cfg.rehearse || cfg.initdata == INITDATA_OFF)
		return;
	if (pipe2(p, O_CLOEXEC) < 0)
		return;
	rehearsal_pid = fork();
	if (rehearsal_pid == 0) {
		close(p[0]);
		boot_rehearsal_child(p[1]);
	}
	close(p[1]);
	if (rehearsal_pid < 0) {
		close(p[0]);
		return;
	}
	rehearsal_fd = p[0];
}

/* Its answer (waiting for it when it has not come yet). A result that
 * differs from the built-in one is fatal: the boot's own inflate, TOML
 * reader or digests are broken. A step that could not run is not. */
static void boot_rehearsal_end(void)
{
	static struct boot_rehearsal_job job;
	uint64_t t = timing_now_us();
	ssize_t got;

	if (rehearsal_fd < 0)
		return;
	do
		got = read(rehearsal_fd, &job, sizeof(job));
	while (got < 0 && errno == EINTR);
	close(rehearsal_fd);
	rehearsal_fd = -1;
	struct rusage ru = { 0 };
	while (wait4(rehearsal_pid, NULL, 0, &ru) < 0 && errno == EINTR)
		;
	rehearsal_pid = -1;
	timing_step("rehearsal.wait", t);
	/* What it cost: its CPU time (the kernel's, to the scheduler's
	 * nanosecond, not the tick), taken from the modules' child while both ran. */
	uint64_t cpu = (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000 + (uint64_t)ru.ru_utime.tv_usec +
		       (uint64_t)ru.ru_stime.tv_usec;
	timing_add("rehearsal.cpu", cpu);
	if (got != (ssize_t)sizeof(job)) {
		log_debug("rehearsal: ended without an answer");
		return;
	}
	job.err[sizeof(job.err) - 1] = '\0';
	timing_add("rehearsal", job.us);
	/* A device its module has not brought yet, or an error: asked again at the bind. */
	if (job.tee_r == 0) {
		tee_early = job.launch;
		tee_early_ok = true;
	}
	if (job.r == -EBADMSG)
		boot_fail("rehearsal: %s", job.err);
	else if (job.r < 0)
		log_debug("rehearsal: %s", job.err[0] ? job.err : strerror(-job.r));
}

/* What the modules child reports through its pipe. */
struct boot_modules_job {
	int r;
	char err[ERR_MAX];
};

/* Loads the modules in a child process while PID 1 reads the serial of each
 * disk they announce (the kernel probes the next disk while this one
 * answers). A process, not a thread: PID 1 stays single-threaded and the
 * binary without libpthread's weight. false when no child could be had
 * (nothing was loaded). */
static bool boot_modules_async(int rootfd, const char *release, const char (*mods)[64], size_t n,
			       struct boot_modules_job *job)
{
	int p[2];
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0)
		return false;
	pid = fork();
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		return false;
	}
	if (pid == 0) {
		/* The child of a single-threaded PID 1: it only loads and reports. */
		close(p[0]);
		job->err[0] = '\0';
		job->r = modules_load(rootfd, release, mods, n, job->err, sizeof(job->err));
		_exit(util_write_all(p[1], job, sizeof(*job)) < 0 ? 1 : 0);
	}
	close(p[1]);
	struct pollfd pf[3] = { { .fd = p[0], .events = POLLIN },
				{ .fd = dopts.uevent_fd, .events = POLLIN },
				{ .fd = rehearsal_fd, .events = POLLIN } };
	for (;;) {
		if (poll(pf, 3, -1) < 0 && errno != EINTR)
			break; /* not expected; the read below waits for the child */
		/* On an error the events stay queued: stop watching, not spin. */
		if (pf[1].revents && boot_prefetch(rootfd) < 0)
			pf[1].fd = -1;
		if (pf[2].revents) {
			boot_rehearsal_end();
			pf[2].fd = -1;
		}
		if (pf[0].revents)
			break;
	}
	uint64_t t = timing_now_us();
	ssize_t got;
	do
		got = read(p[0], job, sizeof(*job));
	while (got < 0 && errno == EINTR);
	if (got != (ssize_t)sizeof(*job)) {
		job->r = -EIO;
		snprintf(job->err, sizeof(job->err), "the module loader ended without an answer");
	}
	job->err[sizeof(job->err) - 1] = '\0';
	close(p[0]);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
	timing_step("modules.reap", t);
	/* The last disk's event may have come with the end. */
	if (pf[1].fd >= 0)
		(void)boot_prefetch(rootfd);
	return true;
}

static void boot_modules(int rootfd)
{
	static char mods[CONFIG_MAX_MODULES + 3][64];
	static struct boot_modules_job job;
	struct utsname u;
	size_t n = boot_module_list(mods, ARRAY_SIZE(mods));
	int r;

	if (n == 0)
		return;
	if (uname(&u) < 0) {
		boot_fail("modules: uname: %s", strerror(errno));
		return;
	}
	job = (struct boot_modules_job){ .r = 0 };
	if (dopts.uevent_fd >= 0)
		boot_rehearsal_start();
	if (dopts.uevent_fd >= 0 && boot_modules_async(rootfd, u.release, (const char(*)[64])mods, n, &job)) {
		r = job.r;
		log_debug("modules: %zu disk serials read while they loaded", dseen.n);
	} else {
		r = modules_load(rootfd, u.release, (const char(*)[64])mods, n, job.err, sizeof(job.err));
		if (dopts.uevent_fd >= 0)
			(void)boot_prefetch(rootfd);
	}
	boot_rehearsal_end();
	if (r < 0)
		boot_fail("modules: %s", job.err[0] ? job.err : strerror(-r));
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

/* Before the modules load: discovery's options, and the socket it waits on
 * bound, so that no disk the modules probe goes unannounced. */
static void boot_discover_prepare(int rootfd)
{
	struct discover_opts opts = {
		.serial = cfg.serial,
		.serial_len = cfg.serial_len,
		.hint = cfg.hint[0] ? cfg.hint : NULL,
		.uevent_fd = -1,
		.create_byid = true,
		.seen = &dseen,
	};
	int r;

	dopts = opts;
	if (cfg.initdata == INITDATA_OFF && cfg.n_extensions == 0)
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
	uint64_t ts = timing_now_us();
	if (((opts.methods & DISCOVER_UEVENT) && opts.timeout_ms > 0 && cfg.initdata != INITDATA_OFF) ||
	    (cfg.n_extensions > 0 && cfg.extension_timeout_ms > 0)) {
		/* Bound before the modules load and the sysfs scan, so no disk slips by. */
		r = discover_waiter_open(rootfd, &opts);
		if (r < 0)
			log_warn("initdata: uevent socket: %s; not waiting for new disks", strerror(-r));
		timing_step("modules.uevent", ts);
		/* The disks already there, listed once now that any later one is
		 * announced: after the modules load the scan lists nothing. */
		if (r == 0 && opts.uevent_fd >= 0) {
			ts = timing_now_us();
			(void)discover_seen_scan(rootfd, &dseen);
			timing_step("modules.seen_scan", ts);
		}
	}
	dopts = opts;
}

static void boot_discover(int rootfd, struct discover_result *res)
{
	struct discover_opts opts = dopts;
	char esc[LOG_ESCAPED_SIZE(SERIAL_MAX)];
	char dev[LOG_ESCAPED_SIZE(sizeof(res->devnode))];
	char list[DISCOVER_MATCHES_SIZE];
	int r;

	memcpy(st.serial, cfg.serial, cfg.serial_len);
	st.serial_len = cfg.serial_len;
	log_escape(esc, sizeof(esc), cfg.serial, cfg.serial_len);

	if (cfg.initdata == INITDATA_OFF && cfg.n_extensions == 0)
		return;
	uint64_t ts = timing_now_us();
	if (cfg.n_extensions == 0) {
		/* A disk announced since the modules loaded (a driver probing in the
		 * background): in the set before the scan takes it as complete. */
		if (dseen.complete && opts.uevent_fd >= 0)
			(void)boot_prefetch(rootfd); /* it clears complete on any doubt */
		r = discover_run(rootfd, &opts, res);
		timing_step("discover.run", ts);
		discover_waiter_close(&opts);
	} else {
		/* One scan and one wait for initdata and every extension. */
		uint64_t now = timing_now_us();
		memset(&disks, 0, sizeof(disks));
		for (size_t i = 0; i < cfg.n_extensions; i++) {
			static char serials[EXTENSION_MAX][21];
			struct discover_target *t = &disks.t[disks.n++];
			t->serial_len = extension_serial(cfg.extensions[i].name, serials[i]);
			t->serial = serials[i];
			t->deadline_us = now + cfg.extension_timeout_ms * 1000;
		}
		disks.stray_prefix = EXTENSION_SERIAL_PREFIX;
		disks.uevent_fd = opts.uevent_fd;
		disks.udev_waiter = opts.udev_waiter;
		disks.seen = &dseen;
		r = discover_all(rootfd, cfg.initdata == INITDATA_OFF ? NULL : &opts, &disks, res);
		timing_step("discover.run", ts);
		disks_first_ext = cfg.initdata == INITDATA_OFF ? 0 : 1;
		/* the kernel socket stays open: extension partitions are waited for on it */
		ext_uevent_fd = opts.uevent_fd;
		opts.uevent_fd = -1;
		discover_waiter_close(&opts);
		if (cfg.initdata == INITDATA_OFF)
			return;
	}
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

static void boot_consume(int rootfd, const struct discover_result *res)
{
	struct consume_result cres = { 0 };
	struct consume_opts o = {
		.dir = cfg.initdata_dir,
		.fs_dir = CONSUME_FS_DIR,
		.node_dir = CONSUME_NODE_DIR,
		.name = res->name,
		.max_bytes = cfg.max_bytes,
		.keep_toml = true,
	};
	char err[ERR_MAX] = "";
	char esc[LOG_ESCAPED_SIZE(64)];
	char dev[LOG_ESCAPED_SIZE(sizeof(res->devnode))];
	int fd, r;

	if (!st.found)
		return;
	log_escape(dev, sizeof(dev), res->devnode, strnlen(res->devnode, sizeof(res->devnode)));
	/* The device whose serial was checked, by number, not whatever
	 * /dev/<name> holds: opened so when its serial matched, or now. */
	if (readahead_fd >= 0 && strcmp(readahead_name, res->name) == 0) {
		fd = readahead_fd;
		readahead_fd = -1;
	} else {
		fd = consume_open(rootfd, res->name, err, sizeof(err));
	}
	if (fd < 0) {
		boot_fail("initdata: %s: %s", dev, err[0] ? err : strerror(-fd));
		return;
	}
	r = consume_initdata(fd, &o, &cres, err, sizeof(err));
	close(fd);
	if (r < 0) {
		boot_fail("initdata: %s: %s", dev, err[0] ? err : strerror(-r));
		return;
	}
	util_strlcpy(st.format, cres.format, sizeof(st.format));
	util_strlcpy(st.dir, cfg.initdata_dir, sizeof(st.dir));
	initdata_toml = cres.toml;
	initdata_toml_size = cres.toml_size;
	/* debug: the found and digest lines say what a user needs, and kmsg's budget is small. */
	log_debug("initdata: %s is %s, at %s", dev,
		 log_escape(esc, sizeof(esc), cres.format, strlen(cres.format)),
		 log_escape(err, sizeof(err), cfg.initdata_dir, strlen(cfg.initdata_dir)));
}

/* The TEE's launch value against the digest (cocoinit.initdata_bind).
 * Returns the bound= word, or NULL after boot_fail(). */
static const char *boot_bind(int rootfd, const struct initdata_doc *doc, const char *digest)
{
	struct tee_launch l;
	char err[ERR_MAX] = "";
	int r;

	if (cfg.bind == BIND_OFF)
		return "off";
	if (tee_early_ok) {
		l = tee_early;
		r = tee_bind_launch(&l, doc->digest, doc->digest_len, err, sizeof(err));
	} else {
		r = tee_bind(rootfd, doc->digest, doc->digest_len, &l, err, sizeof(err));
	}
	/* No line of its own: the digest line's bound=none says it (kmsg's
	 * rate limit leaves room for few lines). */
	if (r == -ENODEV && cfg.bind == BIND_AUTO)
		return "none";
	if (r == -ENODEV) {
		boot_fail("initdata: cocoinit.initdata_bind=required and no TEE device "
			  "(dev/sev-guest, dev/tdx_guest, configfs-tsm)");
		return NULL;
	}
	if (r == -EPERM) {
		/* The values on a line of their own: state.json's errors are cut at 256 bytes. */
		log_error("initdata: %s", err);
		boot_fail("initdata: the document is not bound: the TEE's launch value differs from its digest %s",
			  digest);
		return NULL;
	}
	if (r < 0) {
		boot_fail("initdata: reading the TEE launch value: %s", err[0] ? err : strerror(-r));
		return NULL;
	}
	return tee_platform_name(l.platform);
}

/* A refused document and whatever was made from it: nothing is left for the
 * agent to act on (on_error=continue). */
static void boot_initdata_remove(int dirfd)
{
	(void)unlinkat(dirfd, INITDATA_FILE, 0);
	for (size_t i = 0; i < INITDATA_DOC_NFILES; i++)
		(void)unlinkat(dirfd, initdata_doc_files[i], 0);
}

/* The document consume put in <dir>/initdata.toml (its bytes kept, not read
 * back), whichever form it came in: validated,
 * digested and bound before aa.toml, cdh.toml and policy.rego are written.
 * A refused document is removed so nothing acts on it (on_error=continue). */
static void boot_initdata_doc(int rootfd)
{
	struct initdata_doc doc;
	char err[ERR_MAX] = "", digest[INITDATA_DOC_DIGEST_STR_SIZE];
	const char *bound;
	_cleanup_close_ int dirfd = -1;
	int r;

	if (!st.found || !st.format[0])
		return;
	if (!initdata_toml) {
		/* Never hand over a document nobody checked. */
		boot_fail("initdata: consume kept no bytes of %s to check", INITDATA_FILE);
		return;
	}
	dirfd = open(cfg.initdata_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (dirfd < 0) {
		boot_fail("initdata: cannot open the initdata directory: %s", strerror(errno));
		return;
	}
	/* Consume bounded it: 4 x cocoinit.initdata_max_bytes, whatever the form. */
	uint64_t tt = timing_now_us();
	r = initdata_doc_parse((const char *)initdata_toml, initdata_toml_size, &doc, err, sizeof(err));
	free(initdata_toml);
	initdata_toml = NULL;
	tt = timing_step("doc.load", tt);
	if (r < 0) {
		boot_fail("initdata: %s", err[0] ? err : strerror(-r));
		boot_initdata_remove(dirfd);
		return;
	}
	initdata_doc_digest_str(&doc, digest, sizeof(digest));
	bound = boot_bind(rootfd, &doc, digest);
	tt = timing_step("doc.bind", tt);
	if (!bound) {
		boot_initdata_remove(dirfd);
		initdata_doc_free(&doc);
		return;
	}
	r = initdata_doc_write_files(dirfd, &doc, err, sizeof(err));
	timing_step("doc.files", tt);
	if (doc.ignored)
		log_debug("initdata: %u [data] keys other than aa.toml, cdh.toml, policy.rego ignored", doc.ignored);
	initdata_doc_free(&doc);
	if (r < 0) {
		boot_fail("initdata: %s", err[0] ? err : strerror(-r));
		boot_initdata_remove(dirfd);
		return;
	}
	util_strlcpy(st.digest, digest, sizeof(st.digest));
	util_strlcpy(st.bound, bound, sizeof(st.bound));
	log_info("initdata: digest %s bound=%s", digest, bound);
}

static void boot_extension(int rootfd, const struct extension_spec *spec, const struct discover_target *t)
{
	char esc[LOG_ESCAPED_SIZE(SERIAL_MAX)], list[DISCOVER_MATCHES_SIZE];
	char err[ERR_MAX] = "", dev[DISCOVER_NAME_MAX + 8], short_hash[17];
	struct extension_result er = { 0 };
	struct state_extension *se;
	int r;

	log_escape(esc, sizeof(esc), t->serial, t->serial_len);
	if (t->status == -ENOTUNIQ) {
		(void)discover_format_matches(&t->result, list, sizeof(list));
		log_error("extension: ambiguous serial=%s devices=%s", esc, list);
		boot_fail("extension %s: %u disks have serial=%s; refusing to pick one", spec->name,
			  t->result.n_matches, esc);
		return;
	}
	if (t->status != 0) {
		boot_fail("extension %s: no disk with serial=%s within %llums", spec->name, esc,
			  (unsigned long long)cfg.extension_timeout_ms);
		return;
	}
	if (strlen(spec->name) + strlen(EXTENSION_SERIAL_PREFIX) > SERIAL_VIRTIO_MAX)
		log_warn("extension %s: its disk reports the serial cut to %d bytes (%s)", spec->name,
			 SERIAL_VIRTIO_MAX, esc);
	snprintf(dev, sizeof(dev), "/dev/%s", t->result.name);
	r = extension_mount(rootfd, spec, t->result.name, timing_now_us() + cfg.extension_timeout_ms * 1000,
			    ext_uevent_fd, &er, err, sizeof(err));
	if (r < 0) {
		/* extension_mount() names the extension and the disk itself */
		if (err[0])
			boot_fail("%s", err);
		else
			boot_fail("extension %s (%s): %s", spec->name, dev, strerror(-r));
		return;
	}
	se = &st.extensions[st.n_extensions++];
	util_strlcpy(se->name, spec->name, sizeof(se->name));
	util_strlcpy(se->device, dev, sizeof(se->device));
	util_strlcpy(se->source, er.device, sizeof(se->source));
	se->verified = er.mode == EXTENSION_VERITY;
	se->method = discover_method_name(t->result.method);
	if (se->verified)
		digest_hex(se->root_hash, spec->params.root_hash, spec->params.root_hash_len);
	se->elapsed_us = er.elapsed_us;
	util_strlcpy(short_hash, se->verified ? se->root_hash : "none", sizeof(short_hash));
	log_info("extension: %s mounted at /%s/%s from %s verity=%s in %lluus", spec->name, EXTENSION_MOUNT_DIR,
		 spec->name, dev, short_hash, (unsigned long long)er.elapsed_us);
	if (ext_names[0])
		strcat(ext_names, ":");
	strcat(ext_names, spec->name);
}

/* Every extension the command line names, in its order, before the hand-off. */
static void boot_extensions(int rootfd)
{
	char esc[LOG_ESCAPED_SIZE(SERIAL_MAX)], list[DISCOVER_MATCHES_SIZE] = "";

	if (cfg.n_extensions == 0)
		return;
	if (disks.n_strays > 0) {
		/* An extension disk the measured command line does not name:
		 * the host added it behind the command line's back. */
		for (unsigned i = 0; i < disks.n_strays && i < DISCOVER_STRAY_MAX; i++) {
			size_t o = strlen(list);
			snprintf(list + o, sizeof(list) - o, "%s/dev/%s", i ? "," : "", disks.strays[i]);
		}
		boot_fail("extension disk %s has serial=%s, which no kata.extension.<name>.verity_params names; refusing",
			  list, log_escape(esc, sizeof(esc), disks.stray_serial, disks.stray_serial_len));
	}
	for (size_t i = 0; i < cfg.n_extensions; i++)
		boot_extension(rootfd, &cfg.extensions[i], &disks.t[disks_first_ext + i]);
	if (ext_uevent_fd >= 0)
		close(ext_uevent_fd);
	ext_uevent_fd = -1;
}

static void boot_handoff(void)
{
	struct handoff_env env = { 0 };
	char esc[LOG_ESCAPED_SIZE(CONFIG_PATH_MAX)];
	int r, status;

	env.limits = limits_planned ? &limits : NULL;
	if (st.found && st.format[0]) {
		env.device = st.device;
		env.dir = st.dir;
		env.format = st.format;
		env.method = st.method;
		env.digest = st.digest[0] ? st.digest : NULL;
	}
	env.extensions = ext_names;
	log_escape(esc, sizeof(esc), cfg.agent, strlen(cfg.agent));

	if (cfg.agent_mode == AGENT_SUPERVISE) {
		log_msg(LOG_LVL_INFO | LOG_TAIL, "handoff: supervise %s listen_fds=%zu", esc, n_listeners);
		r = handoff_supervise(&cfg, &env, listeners, n_listeners, &status);
		if (r < 0)
			log_fatal("handoff: supervise %s: %s", esc, strerror(-r));
		/* The agent is gone either way: nothing left to run. */
		boot_halt();
	}
	log_msg(LOG_LVL_INFO | LOG_TAIL, "handoff: exec %s listen_fds=%zu", esc, n_listeners);
	/* Applied before the modules loaded (boot_agent_limits()), or here when
	 * that failed and on_error=continue; not inside handoff_exec(), so that
	 * a failure is named as such. */
	env.limits = NULL;
	if (limits_planned && !limits_applied && (r = handoff_limits_apply(&limits)) < 0) {
		log_fatal("handoff: setting oom_score_adj=%s and RLIMIT_NOFILE=%llu: %s", limits.oom_score_adj,
			  (unsigned long long)limits.nofile, strerror(-r));
		boot_halt();
	}
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
	boot_version();

	err[0] = '\0';
	t1 = timing_now_us();
	r = cmdline_read(rootfd, &cfg, err, sizeof(err));
	log_set_level(cfg.log_level);
	log_set_kmsg_unlimited(cfg.kmsg_unlimited);
	if (r < 0)
		boot_fail("cmdline: %s", err[0] ? err : strerror(-r));
	timing_step("cmdline", t1);

	/* What the agent will run with depends on nothing found later. */
	boot_agent_limits(rootfd);

	t = timing_now_us();
	boot_discover_prepare(rootfd);
	t1 = timing_now_us();
	boot_modules(rootfd);
	t1 = timing_step("modules.load", t1);
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
	boot_consume(rootfd, &res);
	boot_initdata_doc(rootfd);
	st.t_consume = timing_now_us() - t;
	if (readahead_fd >= 0)
		close(readahead_fd);
	readahead_fd = -1;

	t = timing_now_us();
	boot_extensions(rootfd);
	st.t_extensions = timing_now_us() - t;

	/* The last step before the hand-off: every module (extensions' too) is loaded by now. */
	if (cfg.modules_lockdown) {
		r = modules_lockdown(rootfd);
		if (r < 0)
			boot_fail("modules_lockdown: writing /proc/sys/kernel/modules_disabled: %s", strerror(-r));
	}

	st.t_boot = timing_now_us();
	st.t_total = st.t_boot - t0;
	log_msg(LOG_LVL_INFO | LOG_TAIL,
		"timing: mounts=%llu modules=%llu listen=%llu discover=%llu consume=%llu extensions=%llu total=%llu "
		"boot=%llu",
		(unsigned long long)st.t_mounts, (unsigned long long)st.t_modules, (unsigned long long)st.t_listen,
		(unsigned long long)st.t_discover, (unsigned long long)st.t_consume,
		(unsigned long long)st.t_extensions, (unsigned long long)st.t_total, (unsigned long long)st.t_boot);

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
