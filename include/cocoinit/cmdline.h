/* SPDX-License-Identifier: Apache-2.0 */
/* /proc/cmdline -> struct config, with the kernel's quoting rules; a later
 * key overrides an earlier one. No allocation: every field is bounded. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cocoinit/extension.h"
#include "cocoinit/serial.h"

#define CONFIG_PATH_MAX 256
#define CONFIG_MAX_LISTENERS 16
#define CONFIG_LISTENER_NAME_MAX 64
#define CONFIG_MAX_MODULES 32
#define CONFIG_MODULE_NAME_MAX 64
#define CONFIG_MAX_MOUNTS 8
#define CONFIG_DEFAULT_PASSFD_PORT 1027
#define CONFIG_DEFAULT_AGENT "/usr/bin/kata-agent"
#define CONFIG_DEFAULT_INITDATA_DIR "/run/confidential-containers/initdata"
#define CONFIG_DEFAULT_SERIAL "initdata"
#define CONFIG_DEFAULT_MAX_BYTES (1024 * 1024)
#define CONFIG_MAX_BYTES_LIMIT (64 * 1024 * 1024) /* cocoinit.initdata_max_bytes at most */
#define CONFIG_TIMEOUT_MS_MAX 86400000            /* cocoinit.initdata_timeout_ms at most: a day */
#define CONFIG_DEFAULT_OOM_SCORE_ADJ (-997)       /* what systemd gives services it must keep */
#define CONFIG_DEFAULT_NOFILE 1048576
#define CONFIG_NOFILE_MAX 1073741816 /* the kernel's highest fs.nr_open */
/* LISTEN_FDNAMES: every listener's name (passfd included) and a ':' or the NUL after it. */
#define CONFIG_LISTEN_FDNAMES_MAX ((CONFIG_MAX_LISTENERS + 1) * CONFIG_LISTENER_NAME_MAX)
#define CONFIG_DEFAULT_EXTENSION_TIMEOUT_MS 5000

enum initdata_mode { INITDATA_AUTO, INITDATA_REQUIRED, INITDATA_OFF };
enum bind_mode { BIND_AUTO, BIND_REQUIRED, BIND_OFF }; /* cocoinit.initdata_bind */
enum agent_mode { AGENT_EXEC, AGENT_SUPERVISE };
enum on_error { ON_ERROR_POWEROFF, ON_ERROR_REBOOT, ON_ERROR_SHELL, ON_ERROR_CONTINUE };

struct listener_spec {
	uint32_t port;
	char name[CONFIG_LISTENER_NAME_MAX];
};

struct mount_spec {
	char type[32];
	char source[CONFIG_PATH_MAX];
	char target[CONFIG_PATH_MAX];
	char options[CONFIG_PATH_MAX]; /* as given, may be empty */
};

struct config {
	enum initdata_mode initdata;
	bool initdata_set;
	char serial[SERIAL_MAX + 1];
	size_t serial_len;
	bool serial_set;
	char hint[64];
	uint64_t timeout_ms;
	bool timeout_set;
	bool scan_magic;
	char initdata_dir[CONFIG_PATH_MAX];
	uint64_t max_bytes;
	enum bind_mode bind;

	char modules[CONFIG_MAX_MODULES][CONFIG_MODULE_NAME_MAX];
	size_t n_modules;

	/* cocoinit.vsock_listen, in command-line order (passfd not included) */
	struct listener_spec listeners[CONFIG_MAX_LISTENERS];
	size_t n_listeners;
	bool passfd;
	uint32_t passfd_port; /* agent.passfd_listener_port */

	char agent[CONFIG_PATH_MAX];
	enum agent_mode agent_mode;
	enum on_error on_error;

	struct mount_spec mounts[CONFIG_MAX_MOUNTS];
	size_t n_mounts;

	int log_level; /* LOG_LVL_* */

	/* What the agent runs with (CONTRACT section 4). */
	int agent_oom_score_adj;
	uint64_t agent_nofile;
	bool modules_lockdown;
	/* Run the hand-off path once on a built-in document while the modules
	 * load (src/rehearsal.c); cocoinit.rehearse=0 turns it off. */
	bool rehearse;

	/* printk.devkmsg=on (the kernel's own key): kmsg is not rate-limited. */
	bool kmsg_unlimited;
	/* kata.extension.<name>.verity_params, in command-line order (a later
	 * key for the same name replaces the spec in place) */
	struct extension_spec extensions[EXTENSION_MAX];
	size_t n_extensions;
	uint64_t extension_timeout_ms; /* cocoinit.extension_timeout_ms */
};

/* Fills cfg with the defaults of CONTRACT section 3. */
void cmdline_defaults(struct config *cfg);

/* Parses a kernel command line, starting from cmdline_defaults(); cfg is
 * written only on success, except that on a malformed value the line's
 * last valid cocoinit.on_error and cocoinit.log are still stored in cfg, so
 * that the error is handled as the user asked. The text ends at len or the first NUL; a bare
 * "--" ends the parameters (the rest is init's argv), as for the kernel.
 * Key names treat '-' and '_' alike, as the kernel does. On a malformed
 * value returns -EINVAL and writes "<key>: \"<value>\" <why>" (value
 * escaped) to err, e.g. `cocoinit.initdata_timeout_ms: "abc" is not a number`
 * or `cocoinit.on_error: "x" is not one of poweroff, reboot, shell, continue`.
 * Unknown cocoinit.* keys are logged as warnings and ignored. After the
 * last key, derived defaults are applied (initdata=required when a serial
 * is given, timeout 5000 for required, 0 for auto). */
int cmdline_parse(const char *text, size_t len, struct config *cfg, char *err, size_t errsz);

/* Reads rootfd/proc/cmdline (at most 32768 bytes, else -E2BIG) and parses it. */
int cmdline_read(int rootfd, struct config *cfg, char *err, size_t errsz);

const char *cmdline_initdata_mode_name(enum initdata_mode m);
const char *cmdline_on_error_name(enum on_error e);
const char *cmdline_bind_mode_name(enum bind_mode m);
