/* SPDX-License-Identifier: Apache-2.0 */
/* Kernel uevents on NETLINK_KOBJECT_UEVENT group 1: the socket, the sender
 * checks (kernel port 0, uid 0, credentials present, whole message) and a
 * by-key parser. An event only says "look at this disk": callers re-check it
 * in sysfs, since a privileged process can still forge one. */
#include <errno.h>
#include <linux/netlink.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>

#include "cocoinit/log.h"
#include "cocoinit/timing.h"
#include "cocoinit/uevent.h"
#include "cocoinit/util.h"

#define UEVENT_MIN_SIZE 32
#define UEVENT_RCVBUF (1024 * 1024)

/* Sets *slot to the value of KEY=... in s when s starts with key and '='.
 * A key given twice makes the message ambiguous: refuse it. */
static int take(const char *s, const char *key, const char **slot, int *dup)
{
	size_t k = strlen(key);

	if (strncmp(s, key, k) != 0 || s[k] != '=')
		return 0;
	if (*slot)
		*dup = 1;
	*slot = s + k + 1;
	return 1;
}

int uevent_parse(const char *buf, size_t len, struct uevent *ret)
{
	struct uevent ev = { 0 };
	const char *end, *at, *p;
	size_t hlen;
	int dup = 0;

	if (!buf || len == 0)
		return -EBADMSG;
	/* udevd's rebroadcast (group 2) is framed "libudev\0": not the kernel. */
	if (len >= 8 && memcmp(buf, "libudev", 8) == 0)
		return -EBADMSG;
	/* Every string, the last one included, must end inside the buffer. */
	if (buf[len - 1] != '\0')
		return -EBADMSG;
	end = buf + len;

	hlen = strlen(buf);
	at = memchr(buf, '@', hlen);
	if (!at || at == buf || at[1] != '/')
		return -EBADMSG;

	for (p = buf + hlen + 1; p < end; p += strlen(p) + 1) {
		if (!*p)
			continue;
		(void)(take(p, "ACTION", &ev.action, &dup) || take(p, "DEVPATH", &ev.devpath, &dup) ||
		       take(p, "SUBSYSTEM", &ev.subsystem, &dup) || take(p, "DEVNAME", &ev.devname, &dup) ||
		       take(p, "DEVTYPE", &ev.devtype, &dup));
	}
	if (dup || !ev.action || !ev.devpath || !ev.subsystem || !*ev.action || !*ev.subsystem)
		return -EBADMSG;
	/* The header is "<ACTION>@<DEVPATH>": the kernel writes both from one value. */
	if (strlen(ev.action) != (size_t)(at - buf) || memcmp(ev.action, buf, (size_t)(at - buf)) != 0 ||
	    strcmp(ev.devpath, at + 1) != 0)
		return -EBADMSG;
	*ret = ev;
	return 0;
}

int uevent_open(void)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK, .nl_pid = 0, .nl_groups = 1 };
	int one = 1, size = UEVENT_RCVBUF;
	int fd;

	fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_KOBJECT_UEVENT);
	if (fd < 0)
		return -errno;
	/* A burst of hot-plugged disks must not overrun the queue while the
	 * sysfs scan runs; FORCE needs CAP_NET_ADMIN, so fall back. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	if (setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

int uevent_check_sender(uint32_t nl_pid, const struct ucred *cred, size_t len, int truncated)
{
	if (truncated || len < UEVENT_MIN_SIZE)
		return -EBADMSG;
	if (!cred || cred->uid != 0)
		return -EBADMSG;
	if (nl_pid != 0) /* only the kernel sends from port 0 */
		return -EBADMSG;
	return 0;
}

int uevent_receive(int fd, char *buf, size_t size, struct uevent *ret)
{
	struct sockaddr_nl sa = { 0 };
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(struct ucred))];
	} control;
	struct iovec iov = { .iov_base = buf, .iov_len = size };
	struct msghdr msg = {
		.msg_name = &sa,
		.msg_namelen = sizeof(sa),
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = &control,
		.msg_controllen = sizeof(control),
	};
	const struct ucred *cred = NULL;
	ssize_t n;

	if (!buf || size == 0)
		return -EINVAL;
	do
		/* MSG_TRUNC: the real length comes back, so a cut message is seen. */
		n = recvmsg(fd, &msg, MSG_DONTWAIT | MSG_TRUNC | MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;

	for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS &&
		    c->cmsg_len >= CMSG_LEN(sizeof(struct ucred)))
			cred = (const struct ucred *)(const void *)CMSG_DATA(c);

	int truncated = (size_t)n > size || (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0;
	if (msg.msg_namelen < sizeof(sa) || sa.nl_family != AF_NETLINK ||
	    uevent_check_sender(sa.nl_pid, cred, (size_t)n, truncated) < 0) {
		log_debug("uevent: dropped a message (len=%zd pid=%u uid=%ld%s)", n, (unsigned)sa.nl_pid,
			  cred ? (long)cred->uid : -1L, truncated ? " truncated" : "");
		return -EBADMSG;
	}
	if (uevent_parse(buf, (size_t)n, ret) < 0) {
		log_debug("uevent: dropped a malformed message (len=%zd)", n);
		return -EBADMSG;
	}
	return 0;
}

int uevent_is_new_disk(const struct uevent *ev)
{
	if (!ev || !ev->action || !ev->subsystem || !ev->devtype)
		return 0;
	return (strcmp(ev->action, "add") == 0 || strcmp(ev->action, "change") == 0) &&
	       strcmp(ev->subsystem, "block") == 0 && strcmp(ev->devtype, "disk") == 0;
}

int uevent_devname_ok(const char *name)
{
	size_t n = name ? strnlen(name, UEVENT_DEVNAME_MAX) : 0;

	if (n == 0 || n >= UEVENT_DEVNAME_MAX || strchr(name, '/'))
		return 0;
	return strcmp(name, ".") != 0 && strcmp(name, "..") != 0;
}

void (*uevent_retry_queued_hook)(const char *name);

int uevent_retry_check(struct uevent_retry *q, const char *name, int (*check)(const char *devname, void *ctx),
		       void *ctx)
{
	int r = check(name, ctx);

	if (r != -EAGAIN)
		return r;
	/* Attributes can appear just after the event (old kernels): look
	 * once more shortly, without sleeping. A full list drops the look. */
	if (q->n < UEVENT_RETRY_MAX) {
		util_strlcpy(q->e[q->n].name, name, UEVENT_DEVNAME_MAX);
		q->e[q->n].at_us = timing_now_us() + UEVENT_RETRY_MS * 1000u;
		q->n++;
		q->queued++;
		if (uevent_retry_queued_hook)
			uevent_retry_queued_hook(name);
	}
	return 0;
}

int uevent_retry_due(struct uevent_retry *q, int expired, int (*check)(const char *devname, void *ctx), void *ctx)
{
	uint64_t now = timing_now_us();

	for (size_t i = 0; i < q->n;) {
		if (!expired && q->e[i].at_us > now) {
			i++;
			continue;
		}
		int r = check(q->e[i].name, ctx);
		q->e[i] = q->e[--q->n];
		if (r != 0 && r != -EAGAIN)
			return r;
	}
	return 0;
}

int uevent_retry_poll_ms(const struct uevent_retry *q, uint64_t deadline_us)
{
	int timeout = timing_poll_ms(deadline_us);

	for (size_t i = 0; i < q->n; i++) {
		int t = timing_poll_ms(q->e[i].at_us);
		if (t < timeout)
			timeout = t;
	}
	return timeout;
}

int uevent_retry_wait(struct uevent_retry *q, int fd, uint64_t deadline_us,
		      int (*check)(const char *devname, void *ctx), void *ctx)
{
	int expired = timing_now_us() >= deadline_us;
	int r = uevent_retry_due(q, expired, check, ctx);

	if (r != 0)
		return r;
	if (expired)
		return -ETIMEDOUT;

	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	if (poll(&pfd, 1, uevent_retry_poll_ms(q, deadline_us)) < 0 && errno != EINTR)
		return -errno;
	return 0;
}

int uevent_wait_disk_retry(int fd, uint64_t deadline_us, struct uevent_retry *retry,
			   int (*check)(const char *devname, void *ctx), void *ctx)
{
	char buf[UEVENT_BUFFER_SIZE];
	unsigned late = 0;
	int r;

	if (fd < 0 || !check || !retry)
		return -EINVAL;
	for (;;) {
		/* Everything queued first, so a disk that arrived before the
		 * deadline is seen even when the deadline has passed; but past
		 * it only so many more, or a host that keeps sending events
		 * would hold the wait open for ever. */
		for (;;) {
			struct uevent ev;
			if (timing_now_us() >= deadline_us && ++late > UEVENT_LATE_MAX)
				break;
			r = uevent_receive(fd, buf, sizeof(buf), &ev);
			if (r == -EAGAIN)
				break;
			if (r == -EBADMSG)
				continue;
			/* The queue overran: an `add` may be among the lost
			 * events. Only a new look at every disk can tell. */
			if (r == -ENOBUFS)
				return -ENOBUFS;
			if (r < 0)
				return r;
			if (!uevent_is_new_disk(&ev) || !uevent_devname_ok(ev.devname))
				continue;
			r = uevent_retry_check(retry, ev.devname, check, ctx);
			if (r != 0)
				return r;
		}

		r = uevent_retry_wait(retry, fd, deadline_us, check, ctx);
		if (r != 0)
			return r;
	}
}

int uevent_wait_disk(int fd, uint64_t deadline_us, int (*check)(const char *devname, void *ctx), void *ctx)
{
	struct uevent_retry retry = { 0 };

	return uevent_wait_disk_retry(fd, deadline_us, &retry, check, ctx);
}
