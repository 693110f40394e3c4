/* SPDX-License-Identifier: Apache-2.0 */
/* AF_VSOCK stream listeners bound early on VMADDR_CID_ANY, so host
 * connections queue in the backlog while the agent starts. */
#pragma once

#include <stddef.h>

#include "cocoinit/cmdline.h"

#define VSOCK_BACKLOG 128

struct vsock_listener {
	int fd;
	unsigned port;
	char name[CONFIG_LISTENER_NAME_MAX];
};

/* Builds the ordered list (passfd first, then cocoinit.vsock_listen) and
 * checks it: duplicate ports or names are -EINVAL with the reason in err. */
int vsock_plan(const struct config *cfg, struct vsock_listener *out, size_t max, size_t *ret_n,
	       char *err, size_t errsz);

/* Creates the listening sockets (SOCK_CLOEXEC). On a kernel without vsock
 * returns -EAFNOSUPPORT and names the modules to load in err. */
int vsock_listen_all(struct vsock_listener *ls, size_t n, char *err, size_t errsz);
