/* SPDX-License-Identifier: Apache-2.0 */
/* AF_VSOCK stream listeners bound early on VMADDR_CID_ANY, so host
 * connections queue in the backlog while the agent starts. */
#pragma once

#include <stddef.h>

#include "cocoinit/cmdline.h"

#define VSOCK_BACKLOG 128
/* The LISTEN_FDNAMES name of the cocoinit.passfd listener. */
#define VSOCK_PASSFD_NAME "passfd"

struct vsock_listener {
	int fd;
	unsigned port;
	char name[CONFIG_LISTENER_NAME_MAX];
};

/* Builds the ordered list (passfd first, then cocoinit.vsock_listen) and
 * checks it: port 0 or VMADDR_PORT_ANY, a duplicate port or name, a name
 * with ':' or a non-printable byte are -EINVAL with err naming the key
 * ("cocoinit.vsock_listen: duplicate port 1027"); more than max entries is
 * -ENOBUFS. Every fd in out is -1. */
int vsock_plan(const struct config *cfg, struct vsock_listener *out, size_t max, size_t *ret_n,
	       char *err, size_t errsz);

/* Creates the listening sockets (SOCK_CLOEXEC). On a kernel without vsock
 * returns -EAFNOSUPPORT and names the modules to load in err; other errors
 * name the port. On failure every fd is closed again and set to -1. */
int vsock_listen_all(struct vsock_listener *ls, size_t n, char *err, size_t errsz);

/* Closes the fds that are >= 0 and sets them to -1. */
void vsock_close_all(struct vsock_listener *ls, size_t n);

/* Logs "listen: vsock port=P name=N fd=F" for each listener (name escaped),
 * F being the fd the agent will receive (3 + index), not the one it has now:
 * called as soon as they listen, while kmsg is still open. */
void vsock_log_listeners(const struct vsock_listener *ls, size_t n);
