/* SPDX-License-Identifier: Apache-2.0 */
/* The agent's side of the hand-off: take a listener passed by cocoinit
 * (systemd socket activation: LISTEN_FDS/LISTEN_PID/LISTEN_FDNAMES), and a
 * passfd acceptor that maps each connection's peer port to its stream.
 * Self-contained (libc and this header only) so an agent can copy it. */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* The first passed fd (SD_LISTEN_FDS_START) and a bound on LISTEN_FDS. */
#define LISTENFDS_START 3
#define LISTENFDS_MAX 256

/* Returns the fd named `name`, after checking LISTEN_PID == getpid(), the
 * counts and that it is a listening stream socket of `family` (AF_VSOCK,
 * AF_UNIX, ...) bound to `port` (ignored when 0 or for AF_UNIX). The fd gets
 * FD_CLOEXEC. Taking a name twice returns the same fd. Errors:
 *   -ENOENT        LISTEN_FDS/LISTEN_PID unset or 0, or no fd has that name
 *   -ESRCH         LISTEN_PID is another process's (the fds are not ours)
 *   -EINVAL        malformed LISTEN_* (not a number, more than
 *                  LISTENFDS_MAX, LISTEN_FDNAMES count differs), or the
 *                  socket is not listening
 *   -EBADF         the fd is not open
 *   -ENOTSOCK      the fd is not a socket
 *   -EPROTOTYPE    not SOCK_STREAM
 *   -EAFNOSUPPORT  not of `family`
 *   -EADDRNOTAVAIL bound to another port */
int listenfds_take(const char *name, int family, unsigned port);

/* Unsets LISTEN_PID, LISTEN_FDS, LISTEN_FDNAMES and LISTEN_PIDFDID, so the
 * processes the agent starts don't believe the fds are theirs. Call once
 * every listener has been taken. */
void listenfds_forget(void);

#define LISTENFDS_PASSFD_MAX 64

/* Streams accepted from one listener, keyed by the connecting peer:
 *   AF_VSOCK         the peer's port (sockaddr_vm.svm_port) - what Kata's
 *                    CreateContainer/ExecProcess name as stdin/stdout/stderr
 *   AF_INET/AF_INET6 the peer's port
 *   AF_UNIX          the peer's pid (SO_PEERCRED), so a test can predict it
 * Kept oldest first. When full, the oldest stream that nobody took is
 * closed to make room: a host that opens streams and never names them must
 * not lock out the ones that are asked for. A new stream whose key is
 * already held replaces (and closes) the older one: the peer reused its
 * port, so the old connection is dead on its side. */
struct listenfds_acceptor {
	int listen_fd;
	size_t n;
	struct {
		uint32_t peer_port; /* the key above */
		int fd;
	} streams[LISTENFDS_PASSFD_MAX];
};

/* The listen fd stays the caller's; the acceptor puts it in O_NONBLOCK mode
 * on first use, so that no accept() can block. */
void listenfds_acceptor_init(struct listenfds_acceptor *a, int listen_fd);

/* Accepts every connection that is queued now (accept4 SOCK_CLOEXEC, never
 * blocks). Returns how many were accepted, or -errno (streams accepted
 * before the error are kept). */
int listenfds_acceptor_poll(struct listenfds_acceptor *a);

/* Returns the stream whose key is `port` (the fd is now the caller's),
 * accepting with poll() on the listen fd until it arrives: a request that
 * names a stream before it has been accepted simply waits for it. Gives up
 * after timeout_ms (0: look once, < 0: no limit) with -ETIMEDOUT. */
int listenfds_acceptor_take(struct listenfds_acceptor *a, uint32_t port, int timeout_ms);

/* Closes every stream not taken. The listen fd is left open. */
void listenfds_acceptor_close(struct listenfds_acceptor *a);
