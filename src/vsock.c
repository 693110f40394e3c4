/* SPDX-License-Identifier: Apache-2.0 */
/* The AF_VSOCK listeners cocoinit binds before discovery, so that host
 * connections (Kata's passfd stdio streams) wait in the backlog instead of
 * being refused while the agent starts. Never accepts: the agent does. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/vm_sockets.h>

#include "cocoinit/log.h"
#include "cocoinit/util.h"
#include "cocoinit/vsock.h"

#define VSOCK_KEY_LISTEN "cocoinit.vsock_listen"
#define VSOCK_KEY_PASSFD_PORT "agent.passfd_listener_port"

/* The rule of systemd's fdname_is_valid(): printable ASCII, no ':' (the
 * LISTEN_FDNAMES separator). The cmdline parser checks too; this is the last
 * line before the names reach the agent's environment. */
static bool vsock_name_is_valid(const char *name, size_t *ret_len)
{
	size_t len = strnlen(name, CONFIG_LISTENER_NAME_MAX);

	if (len == 0 || len == CONFIG_LISTENER_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];
		if (c < 0x20 || c > 0x7e || c == ':')
			return false;
	}
	*ret_len = len;
	return true;
}

static int vsock_plan_add(struct vsock_listener *out, size_t max, size_t n, const char *key,
			  uint32_t port, const char *name, char *err, size_t errsz)
{
	char esc[LOG_ESCAPED_SIZE(CONFIG_LISTENER_NAME_MAX)];
	size_t len;

	if (!vsock_name_is_valid(name, &len)) {
		log_escape(esc, sizeof(esc), name, strnlen(name, CONFIG_LISTENER_NAME_MAX));
		snprintf(err, errsz,
			 "%s: invalid name \"%s\" (1-%d printable ASCII characters, no ':')", key, esc,
			 CONFIG_LISTENER_NAME_MAX - 1);
		return -EINVAL;
	}
	if (port == 0 || port == VMADDR_PORT_ANY) {
		snprintf(err, errsz, "%s: port %u is not valid", key, (unsigned)port);
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		if (out[i].port == port) {
			snprintf(err, errsz, "%s: duplicate port %u", key, (unsigned)port);
			return -EINVAL;
		}
		if (strcmp(out[i].name, name) == 0) {
			log_escape(esc, sizeof(esc), name, len);
			snprintf(err, errsz, "%s: duplicate name \"%s\"", key, esc);
			return -EINVAL;
		}
	}
	if (n >= max) {
		snprintf(err, errsz, "%s: too many listeners (at most %zu)", key, max);
		return -ENOBUFS;
	}
	out[n].fd = -1;
	out[n].port = port;
	memcpy(out[n].name, name, len + 1);
	return 0;
}

int vsock_plan(const struct config *cfg, struct vsock_listener *out, size_t max, size_t *ret_n,
	       char *err, size_t errsz)
{
	size_t n = 0;
	int r;

	if (cfg->passfd) {
		r = vsock_plan_add(out, max, n, VSOCK_KEY_PASSFD_PORT, cfg->passfd_port,
				   VSOCK_PASSFD_NAME, err, errsz);
		if (r < 0)
			return r;
		n++;
	}
	if (cfg->n_listeners > CONFIG_MAX_LISTENERS) {
		snprintf(err, errsz, "%s: too many listeners (at most %d)", VSOCK_KEY_LISTEN,
			 CONFIG_MAX_LISTENERS);
		return -EINVAL;
	}
	for (size_t i = 0; i < cfg->n_listeners; i++) {
		r = vsock_plan_add(out, max, n, VSOCK_KEY_LISTEN, cfg->listeners[i].port,
				   cfg->listeners[i].name, err, errsz);
		if (r < 0)
			return r;
		n++;
	}
	*ret_n = n;
	return 0;
}

static int vsock_listen_one(struct vsock_listener *l, char *err, size_t errsz)
{
	struct sockaddr_vm addr = {
		.svm_family = AF_VSOCK,
		.svm_cid = VMADDR_CID_ANY,
		.svm_port = l->port,
	};
	_cleanup_close_ int fd = -1;
	int r;

	fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		r = -errno;
		if (r == -EAFNOSUPPORT)
			snprintf(err, errsz,
				 "AF_VSOCK not supported by this kernel: load vsock and a transport "
				 "(cocoinit.modules=vsock,vmw_vsock_virtio_transport or vsock_loopback)");
		else
			snprintf(err, errsz, "vsock port %u (%s): socket: %s", l->port, l->name,
				 strerror(-r));
		return r;
	}
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		r = -errno;
		snprintf(err, errsz, "vsock port %u (%s): bind: %s", l->port, l->name, strerror(-r));
		return r;
	}
	if (listen(fd, VSOCK_BACKLOG) < 0) {
		r = -errno;
		snprintf(err, errsz, "vsock port %u (%s): listen: %s", l->port, l->name, strerror(-r));
		return r;
	}
	l->fd = fd;
	fd = -1;
	return 0;
}

int vsock_listen_all(struct vsock_listener *ls, size_t n, char *err, size_t errsz)
{
	for (size_t i = 0; i < n; i++)
		ls[i].fd = -1;
	for (size_t i = 0; i < n; i++) {
		int r = vsock_listen_one(&ls[i], err, errsz);
		if (r < 0) {
			/* All or nothing: a half set would hand the agent fewer
			 * fds than LISTEN_FDNAMES promises. */
			vsock_close_all(ls, i);
			return r;
		}
	}
	return 0;
}

void vsock_close_all(struct vsock_listener *ls, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (ls[i].fd >= 0)
			close(ls[i].fd);
		ls[i].fd = -1;
	}
}

void vsock_log_listeners(const struct vsock_listener *ls, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char esc[LOG_ESCAPED_SIZE(CONFIG_LISTENER_NAME_MAX)];

		log_escape(esc, sizeof(esc), ls[i].name, strnlen(ls[i].name, sizeof(ls[i].name)));
		/* The hand-off puts listener i at fd 3 + i (LISTEN_FDS order). */
		log_info("listen: vsock port=%u name=%s fd=%zu", ls[i].port, esc, 3 + i);
	}
}
