/* SPDX-License-Identifier: Apache-2.0 */
/* Hand-off to the agent (CONTRACT section 4): listeners at fds 3.., systemd's
 * LISTEN_* variables, the COCOINIT_INITDATA_* environment, signals reset;
 * then execve in place, or fork and supervise (forward signals, reap every
 * zombie). Everything the child needs is built before fork: after fork only
 * async-signal-safe calls, no allocation, no stdio, no logging. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cocoinit/handoff.h"
#include "cocoinit/log.h"
#include "cocoinit/sys.h"
#include "cocoinit/util.h"

extern char **environ;

/* The store holds LISTEN_FDNAMES at its longest (the parser's own bounds)
 * next to the other variables, so a line the parser accepts never fails here. */
_Static_assert(HANDOFF_STORE_SIZE >= CONFIG_LISTEN_FDNAMES_MAX + 8 * CONFIG_PATH_MAX + 512,
	       "the hand-off environment store is smaller than the command line allows");
_Static_assert(CONFIG_LISTEN_FDNAMES_MAX >= (CONFIG_MAX_LISTENERS + 1) * CONFIG_LISTENER_NAME_MAX,
	       "LISTEN_FDNAMES cannot hold passfd plus every cocoinit.vsock_listen name");
#define LISTEN_PID_KEY "LISTEN_PID="

/* Signals PID 1 passes on to a supervised agent. */
static const int handoff_forwarded[] = { SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2, SIGPWR };

static bool handoff_env_dropped(const char *kv)
{
	static const char *const drop[] = { "LISTEN_FDS=", "LISTEN_PID=", "LISTEN_FDNAMES=", "LISTEN_PIDFDID=",
					    "COCOINIT_INITDATA_", "COCOINIT_EXTENSIONS=" };

	for (size_t i = 0; i < ARRAY_SIZE(drop); i++)
		if (strncmp(kv, drop[i], strlen(drop[i])) == 0)
			return true;
	return false;
}

struct env_builder {
	char **envp;
	size_t max, n;
	char *store;
	size_t size, used;
};

/* Copies "key=value" into the store and appends it to envp. reserve > 0
 * keeps that many bytes after the value (for the LISTEN_PID slot). */
static char *env_add(struct env_builder *b, const char *key, const char *value, size_t reserve)
{
	size_t kl = strlen(key), vl = strlen(value), need = kl + 1 + vl + 1 + reserve;
	char *p;

	if (b->n + 1 >= b->max || need > b->size - b->used)
		return NULL;
	p = b->store + b->used;
	memcpy(p, key, kl);
	p[kl] = '=';
	memcpy(p + kl + 1, value, vl);
	memset(p + kl + 1 + vl, 0, 1 + reserve);
	b->used += need;
	b->envp[b->n++] = p;
	b->envp[b->n] = NULL;
	return p;
}

int handoff_build_env(char **envp, size_t max, char *store, size_t storesz, const struct handoff_env *e,
		      const struct vsock_listener *ls, size_t n, long listen_pid)
{
	struct env_builder b = { .envp = envp, .max = max, .store = store, .size = storesz };
	char num[32];

	if (max < 1)
		return -ENOSPC;
	envp[0] = NULL;
	for (char **p = environ; p && *p; p++) {
		if (!strchr(*p, '=') || handoff_env_dropped(*p))
			continue;
		if (b.n + 1 >= b.max)
			return -ENOSPC;
		envp[b.n++] = *p;
		envp[b.n] = NULL;
	}

	if (n > 0) {
		char *names;
		size_t off = 0;

		snprintf(num, sizeof(num), "%zu", n);
		if (!env_add(&b, "LISTEN_FDS", num, 0))
			return -ENOSPC;
		/* The slot always has room for any pid so the child can fill it in place. */
		if (listen_pid > 0)
			snprintf(num, sizeof(num), "%ld", listen_pid);
		else
			util_strlcpy(num, "0", sizeof(num));
		if (!env_add(&b, "LISTEN_PID", num, HANDOFF_PID_DIGITS))
			return -ENOSPC;
		names = env_add(&b, "LISTEN_FDNAMES", "", CONFIG_LISTEN_FDNAMES_MAX);
		if (!names)
			return -ENOSPC;
		names += strlen("LISTEN_FDNAMES=");
		for (size_t i = 0; i < n; i++) {
			size_t l = strnlen(ls[i].name, CONFIG_LISTENER_NAME_MAX);

			/* ':' separates names; an empty or unterminated one can't be passed. */
			if (l == 0 || l == CONFIG_LISTENER_NAME_MAX || memchr(ls[i].name, ':', l))
				return -EINVAL;
			if (off + l + 2 > CONFIG_LISTEN_FDNAMES_MAX)
				return -ENOSPC;
			if (i)
				names[off++] = ':';
			memcpy(names + off, ls[i].name, l);
			off += l;
		}
		names[off] = '\0';
	}

	if (e && e->device) {
		if (!env_add(&b, "COCOINIT_INITDATA_DEVICE", e->device, 0) ||
		    (e->dir && !env_add(&b, "COCOINIT_INITDATA_DIR", e->dir, 0)) ||
		    (e->format && !env_add(&b, "COCOINIT_INITDATA_FORMAT", e->format, 0)) ||
		    (e->method && !env_add(&b, "COCOINIT_INITDATA_METHOD", e->method, 0)) ||
		    (e->digest && !env_add(&b, "COCOINIT_INITDATA_DIGEST", e->digest, 0)))
			return -ENOSPC;
	}
	if (e && e->extensions && *e->extensions && !env_add(&b, "COCOINIT_EXTENSIONS", e->extensions, 0))
		return -ENOSPC;
	return (int)b.n;
}

void handoff_env_set_pid(char **envp, long pid)
{
	static const char key[] = LISTEN_PID_KEY;
	char digits[HANDOFF_PID_DIGITS];
	size_t nd = 0;

	if (pid < 0)
		return;
	do {
		digits[nd++] = (char)('0' + pid % 10);
		pid /= 10;
	} while (pid > 0 && nd < sizeof(digits));

	for (; envp && *envp; envp++) {
		char *p = *envp;
		size_t i;

		for (i = 0; key[i] && p[i] == key[i]; i++)
			;
		if (key[i])
			continue;
		p += i;
		for (i = 0; i < nd; i++)
			p[i] = digits[nd - 1 - i];
		p[nd] = '\0';
		return;
	}
}

/* Closes every fd >= first. close_range() where the kernel has it, else a
 * walk of /proc/self/fd with raw getdents64 (no malloc: this runs after fork). */
static int handoff_close_from(int first)
{
#ifdef SYS_close_range
	if (syscall(SYS_close_range, (unsigned)first, ~0u, 0) == 0)
		return 0;
#endif
	int dfd = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	char buf[4096] __attribute__((aligned(8)));
	long nread;

	if (dfd < 0)
		return -errno;
	while ((nread = syscall(SYS_getdents64, dfd, buf, sizeof(buf))) > 0) {
		for (long off = 0; off < nread;) {
			struct {
				uint64_t ino;
				int64_t off;
				unsigned short reclen;
				unsigned char type;
				char name[];
			} *d = (void *)(buf + off);
			int fd = 0;
			bool num = d->name[0] != '\0';

			for (const char *c = d->name; *c; c++) {
				if (*c < '0' || *c > '9') {
					num = false;
					break;
				}
				fd = fd * 10 + (*c - '0');
			}
			if (num && fd >= first && fd != dfd)
				close(fd);
			off += d->reclen;
		}
	}
	close(dfd);
	return nread < 0 ? -errno : 0;
}

int handoff_limits_plan(int rootfd, const struct config *cfg, struct handoff_limits *ret, bool *ret_clamped)
{
	char buf[32];
	uint64_t nr_open;
	ssize_t n = util_read_file_at(rootfd, "proc/sys/fs/nr_open", buf, sizeof(buf) - 1, true);

	if (n < 0)
		return (int)n;
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		n--;
	buf[n] = '\0';
	if (util_parse_u64(buf, &nr_open) < 0 || nr_open == 0)
		return -EINVAL;
	snprintf(ret->oom_score_adj, sizeof(ret->oom_score_adj), "%d", cfg->agent_oom_score_adj);
	ret->nofile = cfg->agent_nofile < nr_open ? cfg->agent_nofile : nr_open;
	*ret_clamped = cfg->agent_nofile > nr_open;
	return 0;
}

int handoff_limits_apply(const struct handoff_limits *l)
{
	struct rlimit rl = { .rlim_cur = (rlim_t)l->nofile, .rlim_max = (rlim_t)l->nofile };
	size_t len = strnlen(l->oom_score_adj, sizeof(l->oom_score_adj));
	int fd, r = 0;

	fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, l->oom_score_adj, len) != (ssize_t)len)
		r = -errno;
	close(fd);
	if (r < 0)
		return r;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
		return -errno;
	return 0;
}

int handoff_arrange_fds(struct vsock_listener *ls, size_t n)
{
	int high[CONFIG_MAX_LISTENERS + 1];
	int base = 3 + (int)n;

	if (n > ARRAY_SIZE(high))
		return -E2BIG;
	/* Copy every listener above both its source and target numbers first, so
	 * moving one down can never overwrite another that is still unmoved. */
	for (size_t i = 0; i < n; i++)
		if (ls[i].fd >= base)
			base = ls[i].fd + 1;
	for (size_t i = 0; i < n; i++) {
		high[i] = fcntl(ls[i].fd, F_DUPFD_CLOEXEC, base);
		if (high[i] < 0)
			return -errno;
	}
	for (size_t i = 0; i < n; i++) {
		/* dup2() leaves FD_CLOEXEC clear on the new fd: these are the fds that survive. */
		if (dup2(high[i], 3 + (int)i) < 0)
			return -errno;
		ls[i].fd = 3 + (int)i;
	}
	return handoff_close_from(3 + (int)n);
}

void handoff_reset_signals(void)
{
	struct sigaction sa;
	sigset_t empty;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	/* execve() resets every handler; only an ignored signal survives it.
	 * Started by the kernel (no parent), every disposition is default and
	 * cocoinit sets none: only the mask is left to empty. Anywhere else
	 * (COCOINIT_PID1, a forked child) each signal is reset, 62 calls. */
	for (int sig = 1; getppid() != 0 && sig < NSIG; sig++) {
		if (sig == SIGKILL || sig == SIGSTOP)
			continue;
		/* glibc refuses its internal signals with EINVAL: nothing to reset there. */
		sigaction(sig, &sa, NULL);
	}
	sigemptyset(&empty);
	sigprocmask(SIG_SETMASK, &empty, NULL);
}

static void handoff_block_all(void)
{
	sigset_t all;

	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
}

int handoff_exec(const struct config *cfg, const struct handoff_env *e, struct vsock_listener *ls, size_t n)
{
	static char store[HANDOFF_STORE_SIZE];
	char *envp[HANDOFF_ENV_MAX];
	char *argv[] = { (char *)cfg->agent, NULL };
	int r;

	/* 1 as PID 1; the real pid when the boot sequence runs as another (COCOINIT_PID1). */
	r = handoff_build_env(envp, ARRAY_SIZE(envp), store, sizeof(store), e, ls, n, (long)getpid());
	if (r < 0)
		return r;
	if (e && e->limits && (r = handoff_limits_apply(e->limits)) < 0)
		return r;
	/* The log fds would be closed below: from here on, lines go to stderr (the console). */
	log_set_console_fd(-1, NULL);
	log_set_fd(-1, LOG_SINK_PLAIN);
	r = handoff_arrange_fds(ls, n);
	if (r < 0)
		return r;
	handoff_reset_signals();
	r = sys_execve(cfg->agent, argv, envp);
	handoff_block_all();
	return r;
}

static void handoff_child_fail(const char *msg, size_t len)
{
	ssize_t w = write(STDERR_FILENO, msg, len);

	(void)w;
	_exit(127);
}

#define CHILD_FAIL(s) handoff_child_fail(s, sizeof(s) - 1)

int handoff_supervise(const struct config *cfg, const struct handoff_env *e, struct vsock_listener *ls, size_t n,
		      int *ret_status)
{
	static char store[HANDOFF_STORE_SIZE];
	char *envp[HANDOFF_ENV_MAX];
	char *argv[] = { (char *)cfg->agent, NULL };
	char esc[LOG_ESCAPED_SIZE(64)];
	_cleanup_close_ int sfd = -1;
	sigset_t mask;
	pid_t pid;
	int status = 0, r;

	r = handoff_build_env(envp, ARRAY_SIZE(envp), store, sizeof(store), e, ls, n, 0);
	if (r < 0)
		return r;

	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	for (size_t i = 0; i < ARRAY_SIZE(handoff_forwarded); i++)
		sigaddset(&mask, handoff_forwarded[i]);
	handoff_block_all();
	/* Before fork: a signal that arrives while the child starts stays pending and is read here. */
	sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	if (sfd < 0)
		return -errno;

	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		handoff_env_set_pid(envp, (long)getpid());
		if (setsid() < 0)
			CHILD_FAIL("cocoinit: fatal: agent: setsid failed\n");
		if (e && e->limits && handoff_limits_apply(e->limits) < 0)
			CHILD_FAIL("cocoinit: fatal: agent: setting oom_score_adj or RLIMIT_NOFILE failed\n");
		if (handoff_arrange_fds(ls, n) < 0)
			CHILD_FAIL("cocoinit: fatal: agent: arranging the listener fds failed\n");
		handoff_reset_signals();
		sys_execve(cfg->agent, argv, envp);
		CHILD_FAIL("cocoinit: fatal: agent: execve failed\n");
	}

	/* The agent owns the listeners now. */
	for (size_t i = 0; i < n; i++) {
		if (ls[i].fd >= 0)
			close(ls[i].fd);
		ls[i].fd = -1;
	}
	log_info("agent: started %s pid=%d", log_escape(esc, sizeof(esc), cfg->agent, strlen(cfg->agent)), (int)pid);

	for (;;) {
		struct signalfd_siginfo si;
		ssize_t got = read(sfd, &si, sizeof(si));
		bool done = false;

		if (got < 0 && errno == EINTR)
			continue;
		if (got != (ssize_t)sizeof(si))
			return got < 0 ? -errno : -EIO;
		if (si.ssi_signo != SIGCHLD) {
			log_debug("supervise: forwarding signal %u to pid=%d", si.ssi_signo, (int)pid);
			kill(pid, (int)si.ssi_signo);
			continue;
		}
		/* SIGCHLDs coalesce: reap everything that has exited, orphans included. */
		for (;;) {
			int st;
			pid_t w = waitpid(-1, &st, WNOHANG);

			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0)
				break;
			if (w == pid) {
				status = st;
				done = true;
			} else {
				log_debug("supervise: reaped pid=%d", (int)w);
			}
		}
		if (done)
			break;
	}

	if (WIFEXITED(status))
		log_msg(LOG_LVL_WARN, "agent: exited status=%d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		log_msg(LOG_LVL_WARN, "agent: killed by signal %d", WTERMSIG(status));
	*ret_status = status;
	return 0;
}
