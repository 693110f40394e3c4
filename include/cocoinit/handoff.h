/* SPDX-License-Identifier: Apache-2.0 */
/* Hand-off to the agent: fds 3.. with LISTEN_FDS/LISTEN_PID/LISTEN_FDNAMES,
 * the COCOINIT_INITDATA_* environment, an empty signal mask; execve in place
 * (PID 1 kept) or fork and supervise. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cocoinit/cmdline.h"
#include "cocoinit/vsock.h"

/* What the agent runs with, prepared before the hand-off so that applying it
 * after fork is async-signal-safe. */
struct handoff_limits {
	char oom_score_adj[8]; /* decimal text for /proc/self/oom_score_adj */
	uint64_t nofile;       /* RLIMIT_NOFILE, soft and hard */
};

struct handoff_env {
	const struct handoff_limits *limits; /* NULL: leave them as they are */
	const char *device; /* NULL when not found */
	const char *dir;
	const char *format;
	const char *method;
	const char *digest; /* "<algorithm>:<hex>"; NULL when the document was not accepted */
	const char *extensions; /* "coco:gpu", the extensions mounted; NULL or "" when none */
};

/* The environment handoff_exec()/handoff_supervise() build: entries and bytes. */
#define HANDOFF_ENV_MAX 256
#define HANDOFF_STORE_SIZE 8192

/* Longest pid the LISTEN_PID placeholder slot holds (digits). */
#define HANDOFF_PID_DIGITS 20

/* Builds a NULL-terminated envp (caller's storage, bounded) from the
 * inherited environment (stale LISTEN_* and COCOINIT_INITDATA_* dropped)
 * plus ours. listen_pid 0 means "set in the child after fork" (a placeholder
 * for handoff_env_set_pid()). Returns the number of entries, -ENOSPC when the
 * storage is too small, -EINVAL for a listener name unfit for LISTEN_FDNAMES. */
int handoff_build_env(char **envp, size_t max, char *store, size_t storesz,
		      const struct handoff_env *e, const struct vsock_listener *ls, size_t n, long listen_pid);

/* Writes pid into the LISTEN_PID placeholder that handoff_build_env(...,
 * listen_pid=0) left in envp. Async-signal-safe (no libc): for the child
 * after fork. Does nothing when envp has no LISTEN_PID. */
void handoff_env_set_pid(char **envp, long pid);

/* Prepares cfg's oom_score_adj and nofile. The nofile limit is bounded by
 * rootfd/proc/sys/fs/nr_open (the kernel refuses more); *ret_clamped is
 * true when it was lowered to that. 0 or -errno (nr_open unreadable). */
int handoff_limits_plan(int rootfd, const struct config *cfg, struct handoff_limits *ret, bool *ret_clamped);

/* Applies them to the calling process. Async-signal-safe. 0 or -errno. */
int handoff_limits_apply(const struct handoff_limits *l);

/* Moves the listener fds to 3.. and closes every other fd above 2. */
int handoff_arrange_fds(struct vsock_listener *ls, size_t n);

/* Empties the signal mask and resets every handler to the default.
 * Async-signal-safe. */
void handoff_reset_signals(void);

/* execve()s the agent. Returns only on failure (-errno). */
int handoff_exec(const struct config *cfg, const struct handoff_env *e, struct vsock_listener *ls, size_t n);

/* Forks the agent and supervises it; returns the agent's wait status once it
 * has exited (every other child is reaped too). */
int handoff_supervise(const struct config *cfg, const struct handoff_env *e, struct vsock_listener *ls,
		      size_t n, int *ret_status);
