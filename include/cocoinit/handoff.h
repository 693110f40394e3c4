/* SPDX-License-Identifier: Apache-2.0 */
/* Hand-off to the agent: fds 3.. with LISTEN_FDS/LISTEN_PID/LISTEN_FDNAMES,
 * the COCOINIT_INITDATA_* environment, an empty signal mask; execve in place
 * (PID 1 kept) or fork and supervise. */
#pragma once

#include <stddef.h>

#include "cocoinit/cmdline.h"
#include "cocoinit/vsock.h"

struct handoff_env {
	const char *device; /* NULL when not found */
	const char *dir;
	const char *format;
	const char *method;
};

/* Builds envp (caller's storage, bounded) from the inherited environment
 * plus ours. listen_pid 0 means "set in the child after fork". */
int handoff_build_env(char **envp, size_t max, char *store, size_t storesz,
		      const struct handoff_env *e, const struct vsock_listener *ls, size_t n, long listen_pid);

/* Moves the listener fds to 3.. and closes every other fd above 2. */
int handoff_arrange_fds(struct vsock_listener *ls, size_t n);

/* execve()s the agent. Returns only on failure (-errno). */
int handoff_exec(const struct config *cfg, const struct handoff_env *e, struct vsock_listener *ls, size_t n);

/* Forks the agent and supervises it; returns the agent's wait status once it
 * has exited (every other child is reaped too). */
int handoff_supervise(const struct config *cfg, const struct handoff_env *e, struct vsock_listener *ls,
		      size_t n, int *ret_status);
