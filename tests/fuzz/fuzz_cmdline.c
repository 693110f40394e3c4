/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target for cmdline_parse(): the host controls the kernel command
 * line. Checks that it returns 0 or -EINVAL, that err is terminated (empty on
 * success), that every field it filled is bounded, terminated and valid, and
 * that parsing is deterministic. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cocoinit/cmdline.h"
#include "cocoinit/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                \
	do {                    \
		if (!(x))       \
			abort(); \
	} while (0)

static void check_str(const char *s, size_t size)
{
	CHECK(memchr(s, '\0', size) != NULL);
}

static void check_abs(const char *s, size_t size)
{
	check_str(s, size);
	CHECK(s[0] == '/' && s[1] != '\0');
	CHECK(strstr(s, "/../") == NULL);
	size_t n = strlen(s);
	CHECK(!(n >= 3 && strcmp(s + n - 3, "/..") == 0));
}

static void check_config(const struct config *c)
{
	CHECK(c->initdata == INITDATA_AUTO || c->initdata == INITDATA_REQUIRED || c->initdata == INITDATA_OFF);
	CHECK(c->serial_len > 0 && c->serial_len <= SERIAL_MAX);
	CHECK(c->serial[c->serial_len] == '\0');
	CHECK(memchr(c->serial, '\0', c->serial_len) == NULL);
	check_str(c->hint, sizeof(c->hint));
	CHECK(strchr(c->hint, '/') == NULL);
	CHECK(c->timeout_ms <= CONFIG_TIMEOUT_MS_MAX);
	if (!c->timeout_set)
		CHECK(c->timeout_ms == (c->initdata == INITDATA_REQUIRED ? 5000u : 0u));
	check_abs(c->initdata_dir, sizeof(c->initdata_dir));
	CHECK(c->max_bytes >= 1 && c->max_bytes <= CONFIG_MAX_BYTES_LIMIT);
	CHECK(c->n_modules <= CONFIG_MAX_MODULES);
	for (size_t i = 0; i < c->n_modules; i++) {
		check_str(c->modules[i], sizeof(c->modules[i]));
		CHECK(c->modules[i][0] != '\0');
		CHECK(strspn(c->modules[i], "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") ==
		      strlen(c->modules[i]));
	}
	CHECK(c->n_listeners <= CONFIG_MAX_LISTENERS);
	for (size_t i = 0; i < c->n_listeners; i++) {
		const struct listener_spec *l = &c->listeners[i];
		CHECK(l->port != 0 && l->port != 0xFFFFFFFFu);
		check_str(l->name, sizeof(l->name));
		CHECK(l->name[0] != '\0' && strchr(l->name, ':') == NULL);
		for (const char *p = l->name; *p; p++)
			CHECK(*p > ' ' && *p < 0x7f);
		for (size_t j = 0; j < i; j++)
			CHECK(c->listeners[j].port != l->port && strcmp(c->listeners[j].name, l->name) != 0);
	}
	CHECK(c->passfd_port != 0 && c->passfd_port != 0xFFFFFFFFu);
	check_abs(c->agent, sizeof(c->agent));
	CHECK(c->agent_mode == AGENT_EXEC || c->agent_mode == AGENT_SUPERVISE);
	CHECK((unsigned)c->on_error <= ON_ERROR_CONTINUE);
	CHECK(c->n_mounts <= CONFIG_MAX_MOUNTS);
	for (size_t i = 0; i < c->n_mounts; i++) {
		const struct mount_spec *m = &c->mounts[i];
		check_str(m->type, sizeof(m->type));
		check_str(m->source, sizeof(m->source));
		check_str(m->options, sizeof(m->options));
		CHECK(m->type[0] != '\0' && m->source[0] != '\0');
		check_abs(m->target, sizeof(m->target));
	}
	CHECK(c->log_level == LOG_LVL_ERR || c->log_level == LOG_LVL_WARN || c->log_level == LOG_LVL_INFO ||
	      c->log_level == LOG_LVL_DEBUG);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct config cfg, again;
	static char err[256], err2[256];
	int r, r2;

	/* Warnings for unknown keys would flood the fuzzer's output. */
	log_set_level(LOG_LVL_ERR);
	memset(&cfg, 0xa5, sizeof(cfg));
	memset(err, 0xa5, sizeof(err));
	r = cmdline_parse((const char *)data, size, &cfg, err, sizeof(err));
	CHECK(r == 0 || r == -EINVAL);
	check_str(err, sizeof(err));
	if (r == 0) {
		CHECK(err[0] == '\0');
		check_config(&cfg);
	} else {
		CHECK(err[0] != '\0');
		/* Untouched on failure, but for the policy and the log level,
		 * which take only valid values. */
		struct config untouched;
		memset(&untouched, 0xa5, sizeof(untouched));
		untouched.on_error = cfg.on_error;
		untouched.log_level = cfg.log_level;
		CHECK(memcmp(&cfg, &untouched, sizeof(cfg)) == 0);
		CHECK(((const unsigned char *)&cfg.on_error)[0] == 0xa5 || (unsigned)cfg.on_error <= ON_ERROR_CONTINUE);
		CHECK(((const unsigned char *)&cfg.log_level)[0] == 0xa5 ||
		      (cfg.log_level >= LOG_LVL_ERR && cfg.log_level <= LOG_LVL_DEBUG));
	}

	memset(&again, 0, sizeof(again));
	r2 = cmdline_parse((const char *)data, size, &again, err2, sizeof(err2));
	CHECK(r2 == r);
	CHECK(strcmp(err, err2) == 0);
	if (r == 0)
		CHECK(memcmp(&cfg, &again, sizeof(cfg)) == 0);

	/* A tiny err buffer is still terminated and never overrun. */
	char tiny[4] = { 'x', 'x', 'x', 'x' };
	r2 = cmdline_parse((const char *)data, size, &again, tiny, 3);
	CHECK(r2 == r && tiny[3] == 'x' && memchr(tiny, '\0', 3) != NULL);
	return 0;
}
