/* SPDX-License-Identifier: Apache-2.0 */
/* /run/cocoinit/state.json (version 1): what cocoinit found and did. Strings
 * are JSON-escaped because serials and paths are host input. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "cocoinit/cmdline.h"
#include "cocoinit/extension.h"
#include "cocoinit/vsock.h"

#define STATE_MAX_ERRORS 8
#define STATE_ERROR_MAX 256

/* One extension mounted (or refused, with on_error=continue: not listed). */
struct state_extension {
	char name[EXTENSION_NAME_MAX + 1];
	char device[80];  /* the disk, "/dev/vdd" */
	char source[96];  /* what is mounted, "/dev/mapper/extension-coco" */
	char root_hash[2 * VERITY_DIGEST_MAX + 1]; /* lowercase hex; "" when unmeasured */
	bool verified;
	const char *method; /* how the disk was found: "sysfs", "uevent" */
	uint64_t elapsed_us;
};

struct state {
	/* initdata */
	int found;
	char device[80];
	char method[16];
	char format[32];
	char dir[CONFIG_PATH_MAX];
	char serial[SERIAL_MAX + 1];
	size_t serial_len;
	unsigned examined;
	char digest[7 + 129]; /* "<algorithm>:<hex>" once validated and bound, else empty */
	char bound[8];        /* "snp", "tdx", "none" or "off", with digest */
	struct state_extension extensions[EXTENSION_MAX];
	size_t n_extensions;
	uint64_t t_extensions;
	/* timings in microseconds */
	uint64_t t_mounts, t_modules, t_listen, t_discover, t_consume, t_total, t_boot;
	uint64_t t_version;    /* hashing the running binary for the version line */
	uint64_t agent_nofile; /* RLIMIT_NOFILE the agent gets; 0: cocoinit.agent_nofile as given */
	char errors[STATE_MAX_ERRORS][STATE_ERROR_MAX];
	size_t n_errors;
};

/* Appends s (len bytes) to out as a JSON string with quotes. Returns the
 * number of bytes written or -ENOSPC. */
int state_json_string(char *out, size_t outsz, const char *s, size_t len);

/* The same for text known to be valid UTF-8 (a TOML string, checked by the
 * parser): bytes from 0x80 up are copied, so the JSON holds the same
 * characters; control characters are still escaped. */
int state_json_utf8(char *out, size_t outsz, const char *s, size_t len);

void state_add_error(struct state *st, const char *msg);

/* Writes rootfd/run/cocoinit/state.json atomically, mode 0644. */
int state_write(int rootfd, const struct state *st, const struct config *cfg,
		const struct vsock_listener *ls, size_t n);
