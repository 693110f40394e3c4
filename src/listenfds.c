/* SPDX-License-Identifier: Apache-2.0 */
/* For the agent: take a listener that cocoinit passed with systemd's
 * socket-activation variables, checked before use, and accept Kata's passfd
 * streams keyed by peer port. Uses libc and listenfds.h only (no cocoinit
 * logging), so it can be copied into or linked by an agent as it is. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* accept4, struct ucred */
#endif
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <linux/vm_sockets.h>

#include "cocoinit/listenfds.h"

/* A whole-string decimal number, no sign, no spaces, at most max. */
static int listenfds_parse(const char *s, unsigned long max, unsigned long *ret)
{
	unsigned long v = 0;

	if (!s || !*s)
		return -EINVAL;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return -EINVAL;
		if (v > (max - (unsigned long)(*p - '0')) / 10)
			return -EINVAL;
		v = v * 10 + (unsigned long)(*p - '0');
	}
	*ret = v;
	return 0;
}

/* Index of `name` among the n ':'-separated names, -ENOENT or -EINVAL. */
static int listenfds_find_name(const char *names, unsigned long n, const char *name)
{
	size_t want = strlen(name);
	unsigned long count = 0;
	int found = -ENOENT;
	const char *p = names;

	for (;;) {
		const char *end = strchr(p, ':');
		size_t len = end ? (size_t)(end - p) : strlen(p);

		if (found < 0 && len == want && memcmp(p, name, len) == 0)
			found = (int)count;
		count++;
		if (count > n)
			return -EINVAL;
		if (!end)
			break;
		p = end + 1;
	}
	/* A count that differs means the names don't describe these fds. */
	if (count != n)
		return -EINVAL;
	return found;
}

static int listenfds_sockopt(int fd, int opt, int *ret)
{
	int v = 0;
	socklen_t len = sizeof(v);

	if (getsockopt(fd, SOL_SOCKET, opt, &v, &len) < 0)
		return -errno;
	*ret = v;
	return 0;
}

/* The port of a vsock, IPv4 or IPv6 address; false for other families. */
static bool listenfds_addr_port(const struct sockaddr_storage *ss, unsigned *ret)
{
	switch (ss->ss_family) {
	case AF_VSOCK:
		*ret = ((const struct sockaddr_vm *)ss)->svm_port;
		return true;
	case AF_INET:
		*ret = ntohs(((const struct sockaddr_in *)ss)->sin_port);
		return true;
	case AF_INET6:
		*ret = ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
		return true;
	default:
		return false;
	}
}

static int listenfds_bound_port(int fd, int family, unsigned *ret)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	memset(&ss, 0, sizeof(ss));
	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return -errno;
	if (ss.ss_family != family)
		return -EAFNOSUPPORT;
	return listenfds_addr_port(&ss, ret) ? 0 : -EOPNOTSUPP;
}

static int listenfds_check(int fd, int family, unsigned port)
{
	struct stat st;
	int v = 0, r;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISSOCK(st.st_mode))
		return -ENOTSOCK;
	r = listenfds_sockopt(fd, SO_DOMAIN, &v);
	if (r < 0)
		return r;
	if (v != family)
		return -EAFNOSUPPORT;
	r = listenfds_sockopt(fd, SO_TYPE, &v);
	if (r < 0)
		return r;
	if (v != SOCK_STREAM)
		return -EPROTOTYPE;
	r = listenfds_sockopt(fd, SO_ACCEPTCONN, &v);
	if (r < 0)
		return r;
	if (v != 1)
		return -EINVAL;
	if (port != 0 && family != AF_UNIX) {
		unsigned bound = 0;

		r = listenfds_bound_port(fd, family, &bound);
		if (r < 0)
			return r;
		if (bound != port)
			return -EADDRNOTAVAIL;
	}
	return 0;
}

int listenfds_take(const char *name, int family, unsigned port)
{
	const char *e_pid = getenv("LISTEN_PID");
	const char *e_fds = getenv("LISTEN_FDS");
	const char *e_names = getenv("LISTEN_FDNAMES");
	unsigned long pid, n;
	int idx, fd, flags, r;

	if (!e_pid || !e_fds)
		return -ENOENT;
	if (listenfds_parse(e_pid, (unsigned long)INT32_MAX, &pid) < 0)
		return -EINVAL;
	if (pid == 0)
		return -EINVAL;
	if (pid != (unsigned long)getpid())
		return -ESRCH;
	if (listenfds_parse(e_fds, LISTENFDS_MAX, &n) < 0)
		return -EINVAL;
	if (n == 0)
		return -ENOENT;
	/* Without names no fd can be found by name. */
	if (!e_names)
		return -ENOENT;
	idx = listenfds_find_name(e_names, n, name);
	if (idx < 0)
		return idx;

	fd = LISTENFDS_START + idx;
	r = listenfds_check(fd, family, port);
	if (r < 0)
		return r;
	flags = fcntl(fd, F_GETFD);
	if (flags < 0 || fcntl(fd, F_SETFD, flags | FD_CLOEXEC) < 0)
		return -errno;
	return fd;
}

void listenfds_forget(void)
{
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	unsetenv("LISTEN_PIDFDID");
}

void listenfds_acceptor_init(struct listenfds_acceptor *a, int listen_fd)
{
	memset(a, 0, sizeof(*a));
	a->listen_fd = listen_fd;
	for (size_t i = 0; i < LISTENFDS_PASSFD_MAX; i++)
		a->streams[i].fd = -1;
}

static int listenfds_peer_key(int fd, uint32_t *ret)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	struct ucred cred;
	socklen_t clen = sizeof(cred);
	unsigned port;

	memset(&ss, 0, sizeof(ss));
	if (getpeername(fd, (struct sockaddr *)&ss, &len) < 0)
		return -errno;
	if (listenfds_addr_port(&ss, &port)) {
		*ret = port;
		return 0;
	}
	if (ss.ss_family != AF_UNIX)
		return -EAFNOSUPPORT;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) < 0)
		return -errno;
	*ret = (uint32_t)cred.pid;
	return 0;
}

static void listenfds_acceptor_remove(struct listenfds_acceptor *a, size_t i)
{
	memmove(&a->streams[i], &a->streams[i + 1], (a->n - i - 1) * sizeof(a->streams[0]));
	a->n--;
	a->streams[a->n].fd = -1;
}

static void listenfds_acceptor_add(struct listenfds_acceptor *a, uint32_t key, int fd)
{
	for (size_t i = 0; i < a->n; i++) {
		if (a->streams[i].peer_port == key) {
			close(a->streams[i].fd);
			listenfds_acceptor_remove(a, i);
			break;
		}
	}
	if (a->n == LISTENFDS_PASSFD_MAX) {
		close(a->streams[0].fd);
		listenfds_acceptor_remove(a, 0);
	}
	a->streams[a->n].peer_port = key;
	a->streams[a->n].fd = fd;
	a->n++;
}

static int listenfds_set_nonblock(int fd)
{
	int flags = fcntl(fd, F_GETFL);

	if (flags < 0)
		return -errno;
	if (!(flags & O_NONBLOCK) && fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
		return -errno;
	return 0;
}

int listenfds_acceptor_poll(struct listenfds_acceptor *a)
{
	int added = 0;
	int r;

	r = listenfds_set_nonblock(a->listen_fd);
	if (r < 0)
		return r;
	for (;;) {
		uint32_t key = 0;
		int fd = accept4(a->listen_fd, NULL, NULL, SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return added;
			/* The peer gave up between connect and accept: not ours to fail on. */
			if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO)
				continue;
			return -errno;
		}
		/* A stream whose peer can't be named (already reset) can never
		 * be asked for. */
		if (listenfds_peer_key(fd, &key) < 0) {
			close(fd);
			continue;
		}
		listenfds_acceptor_add(a, key, fd);
		added++;
	}
}

static int64_t listenfds_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int listenfds_acceptor_take(struct listenfds_acceptor *a, uint32_t port, int timeout_ms)
{
	int64_t deadline = timeout_ms >= 0 ? listenfds_now_ms() + timeout_ms : 0;

	for (;;) {
		struct pollfd pfd = { .fd = a->listen_fd, .events = POLLIN };
		int wait_ms = -1;
		int r;

		r = listenfds_acceptor_poll(a);
		if (r < 0)
			return r;
		for (size_t i = 0; i < a->n; i++) {
			if (a->streams[i].peer_port == port) {
				int fd = a->streams[i].fd;

				listenfds_acceptor_remove(a, i);
				return fd;
			}
		}
		if (timeout_ms >= 0) {
			int64_t left = deadline - listenfds_now_ms();

			if (left <= 0)
				return -ETIMEDOUT;
			wait_ms = left > INT32_MAX ? INT32_MAX : (int)left;
		}
		r = poll(&pfd, 1, wait_ms);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0)
			return -ETIMEDOUT;
		/* Without POLLIN these would wake us at once, forever. */
		if (pfd.revents & POLLNVAL)
			return -EBADF;
		if (!(pfd.revents & POLLIN))
			return -EIO;
	}
}

void listenfds_acceptor_close(struct listenfds_acceptor *a)
{
	for (size_t i = 0; i < a->n; i++) {
		if (a->streams[i].fd >= 0)
			close(a->streams[i].fd);
		a->streams[i].fd = -1;
	}
	a->n = 0;
}
