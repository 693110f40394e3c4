/* SPDX-License-Identifier: Apache-2.0 */
/* The agent's side of the hand-off: take a listener passed by cocoinit
 * (systemd socket activation: LISTEN_FDS/LISTEN_PID/LISTEN_FDNAMES), and a
 * passfd acceptor that maps each connection's peer port to its stream. */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* Returns the fd named `name`, after checking LISTEN_PID == getpid(), the
 * counts and that it is a listening stream socket of `family` (AF_VSOCK,
 * AF_UNIX, ...) bound to `port` (ignored when 0 or for AF_UNIX).
 * -ENOENT when absent, -EBADF/-EINVAL when the checks fail. */
int listenfds_take(const char *name, int family, unsigned port);

#define LISTENFDS_PASSFD_MAX 64

struct listenfds_acceptor {
	int listen_fd;
	size_t n;
	struct {
		uint32_t peer_port; /* vsock peer port (for AF_UNIX: a counter) */
		int fd;
	} streams[LISTENFDS_PASSFD_MAX];
};

void listenfds_acceptor_init(struct listenfds_acceptor *a, int listen_fd);

/* Accepts every connection that is queued now (non-blocking). Returns how
 * many were added, or -errno. */
int listenfds_acceptor_poll(struct listenfds_acceptor *a);

/* Waits until the stream whose peer port is `port` has been accepted, or
 * until deadline_ms from now. Returns the stream fd (now owned by the caller)
 * or -ETIMEDOUT. */
int listenfds_acceptor_take(struct listenfds_acceptor *a, uint32_t port, int timeout_ms);

void listenfds_acceptor_close(struct listenfds_acceptor *a);
