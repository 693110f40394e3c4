/* SPDX-License-Identifier: Apache-2.0 */
/* The kernel command line -> struct config (CONTRACT section 3). Tokens are
 * split exactly as the kernel's next_arg() splits them, so a value means here
 * what it means to the kernel. Nothing is allocated and every field is
 * bounded; the host controls this text, so every value is checked. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cocoinit/cmdline.h"
#include "cocoinit/log.h"
#include "cocoinit/util.h"

/* /proc/cmdline is COMMAND_LINE_SIZE (2048 on x86, 4096 on arm64) plus what
 * bootconfig may append: generous, but bounded. */
#define CMDLINE_READ_MAX 32768

#define PORT_MAX_VALID 4294967294u /* VMADDR_PORT_ANY (0xFFFFFFFF) is not a port */
#define TIMEOUT_MS_MAX ((uint64_t)CONFIG_TIMEOUT_MS_MAX) /* far from deadline overflow */
#define MAX_BYTES_MAX ((uint64_t)CONFIG_MAX_BYTES_LIMIT)
#define DEFAULT_MAX_BYTES CONFIG_DEFAULT_MAX_BYTES
#define REQUIRED_TIMEOUT_MS 5000
/* Unknown keys are named in one warning line, this long at most. */
#define UNKNOWN_SHOWN_MAX 160

/* Shown values are cut (visibly, "...") so that an error stays one short line. */
#define SHOWN_MAX 256

struct arg {
	const char *key;
	size_t keylen;
	const char *val; /* never NULL: a key without '=' has an empty value */
	size_t vallen;
	bool has_val;
};

/* The kernel's isspace(): its ctype table also counts 0xa0 (Latin-1 NBSP). */
static bool cmdline_isspace(unsigned char c)
{
	return c == ' ' || (c >= '\t' && c <= '\r') || c == 0xa0;
}

/* One token, as lib/cmdline.c next_arg(): a '"' toggles quoting wherever it
 * appears; the first '=' (not at the token's first byte) splits key from
 * value; a leading quote of the token or of the value is dropped together
 * with the token's last byte when that is a quote. Returns bytes consumed. */
static size_t cmdline_next_arg(const char *s, size_t len, struct arg *a)
{
	size_t start = 0, i, eq = 0;
	bool in_quote = false, quoted = false;

	if (len > 0 && s[0] == '"') {
		start = 1;
		in_quote = quoted = true;
	}
	for (i = start; i < len; i++) {
		if (cmdline_isspace((unsigned char)s[i]) && !in_quote)
			break;
		if (eq == 0 && s[i] == '=' && i > start)
			eq = i;
		if (s[i] == '"')
			in_quote = !in_quote;
	}

	size_t end = i;
	bool trailing_quote = end > start && s[end - 1] == '"';

	a->key = s + start;
	if (eq == 0) {
		a->keylen = end - start;
		if (quoted && trailing_quote)
			a->keylen--;
		a->val = s + end;
		a->vallen = 0;
		a->has_val = false;
	} else {
		size_t v0 = eq + 1, v1 = end;

		a->keylen = eq - start;
		if ((v0 < end && s[v0] == '"') || quoted) {
			if (v0 < end && s[v0] == '"')
				v0++;
			if (trailing_quote && v1 > v0)
				v1--;
		}
		a->val = s + v0;
		a->vallen = v1 > v0 ? v1 - v0 : 0;
		a->has_val = true;
	}
	return end < len ? end + 1 : end;
}

/* Kernel parameter names treat '-' and '_' alike (parameqn()). */
static bool cmdline_key_is(const struct arg *a, const char *name)
{
	size_t n = strlen(name);

	if (a->keylen != n)
		return false;
	for (size_t i = 0; i < n; i++) {
		char x = a->key[i] == '-' ? '_' : a->key[i];
		char y = name[i] == '-' ? '_' : name[i];
		if (x != y)
			return false;
	}
	return true;
}

/* Writes `<key>: "<value>" <detail>` to err and returns -EINVAL. */
__attribute__((format(printf, 6, 7))) static int cmdline_fail(char *err, size_t errsz, const char *key,
							     const char *val, size_t vallen, const char *fmt, ...)
{
	char shown[SHOWN_MAX + 1];
	char detail[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	log_escape(shown, sizeof(shown), val, vallen);
	if (err && errsz > 0)
		snprintf(err, errsz, "%s: \"%s\" %s", key, shown, detail);
	return -EINVAL;
}

/* Decimal, digits only, no sign or spaces: 0, -EINVAL or -ERANGE. */
static int cmdline_parse_num(const char *v, size_t n, uint64_t max, uint64_t *ret)
{
	uint64_t x = 0;
	bool range = false;

	if (n == 0)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -EINVAL;
		unsigned d = (unsigned)(v[i] - '0');
		if (x > (UINT64_MAX - d) / 10)
			range = true;
		else
			x = x * 10 + d;
	}
	if (range || x > max)
		return -ERANGE;
	*ret = x;
	return 0;
}

static int cmdline_number(const struct arg *a, const char *key, uint64_t min, uint64_t max, uint64_t *ret,
			  char *err, size_t errsz)
{
	uint64_t x;
	int r = cmdline_parse_num(a->val, a->vallen, max, &x);

	if (r == -EINVAL)
		return cmdline_fail(err, errsz, key, a->val, a->vallen, "is not a number");
	if (r < 0 || x < min)
		return cmdline_fail(err, errsz, key, a->val, a->vallen, "is out of range (%llu..%llu)",
				    (unsigned long long)min, (unsigned long long)max);
	*ret = x;
	return 0;
}

/* A decimal that may start with '-' (min < 0 <= max): the unsigned parser on the digits. */
static int cmdline_number_signed(const struct arg *a, const char *key, int64_t min, int64_t max, int64_t *ret,
				 char *err, size_t errsz)
{
	bool neg = a->vallen > 0 && a->val[0] == '-';
	uint64_t x = 0;
	int r = cmdline_parse_num(a->val + neg, a->vallen - neg, neg ? (uint64_t)-min : (uint64_t)max, &x);

	if (r == -EINVAL)
		return cmdline_fail(err, errsz, key, a->val, a->vallen, "is not a number");
	if (r < 0)
		return cmdline_fail(err, errsz, key, a->val, a->vallen, "is out of range (%lld..%lld)",
				    (long long)min, (long long)max);
	*ret = neg ? -(int64_t)x : (int64_t)x;
	return 0;
}

static int cmdline_port(const char *v, size_t n, uint32_t *ret)
{
	uint64_t x;
	int r = cmdline_parse_num(v, n, PORT_MAX_VALID, &x);

	if (r < 0)
		return r;
	if (x == 0)
		return -ERANGE;
	*ret = (uint32_t)x;
	return 0;
}

/* Matches the value against a list of words; returns the index or -EINVAL
 * with "is not one of a, b, c". */
static int cmdline_enum(const struct arg *a, const char *key, const char *const *words, size_t n, char *err,
			size_t errsz)
{
	char list[128] = "";
	size_t o = 0;

	for (size_t i = 0; i < n; i++)
		if (strlen(words[i]) == a->vallen && memcmp(words[i], a->val, a->vallen) == 0)
			return (int)i;
	for (size_t i = 0; i < n && o < sizeof(list); i++) {
		int w = snprintf(list + o, sizeof(list) - o, "%s%s", i ? ", " : "", words[i]);
		if (w < 0)
			break;
		o += (size_t)w;
	}
	return cmdline_fail(err, errsz, key, a->val, a->vallen, "is not one of %s", list);
}

/* A boolean key: bare means on, as for the kernel's own bool parameters;
 * else 0 or 1. */
static int cmdline_bool(const struct arg *a, const char *key, bool *out, char *err, size_t errsz)
{
	static const char *const words[] = { "0", "1" };
	int r;

	if (!a->has_val) {
		*out = true;
		return 0;
	}
	r = cmdline_enum(a, key, words, ARRAY_SIZE(words), err, errsz);
	if (r < 0)
		return r;
	*out = r == 1;
	return 0;
}

/* An absolute path without a ".." component; "/" alone only when allow_root. */
static bool cmdline_path_ok(const char *p, size_t n, bool allow_root)
{
	if (n == 0 || p[0] != '/')
		return false;
	if (!allow_root && n == 1)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '\0')
			return false;
		if (p[i] == '.' && i > 0 && p[i - 1] == '/' && i + 1 < n && p[i + 1] == '.' &&
		    (i + 2 == n || p[i + 2] == '/'))
			return false;
	}
	return true;
}

static int cmdline_copy_path(const struct arg *a, const char *key, char *out, size_t outsz, bool allow_root,
			     char *err, size_t errsz)
{
	if (!cmdline_path_ok(a->val, a->vallen, allow_root))
		return cmdline_fail(err, errsz, key, a->val, a->vallen,
				    allow_root ? "is not an absolute path without \"..\""
					       : "is not an absolute path below / without \"..\"");
	if (a->vallen >= outsz)
		return cmdline_fail(err, errsz, key, a->val, a->vallen, "is too long (at most %zu bytes)",
				    outsz - 1);
	memcpy(out, a->val, a->vallen);
	out[a->vallen] = '\0';
	return 0;
}

/* A sysfs block device name or a PCI address: the discovery code joins it to
 * "sys/class/block/" or "sys/bus/pci/devices/", so no '/' and no dot names. */
static int cmdline_set_hint(struct config *c, const struct arg *a, char *err, size_t errsz)
{
	static const char key[] = "cocoinit.initdata_hint";

	if (a->vallen == 0) {
		c->hint[0] = '\0';
		return 0;
	}
	if (a->vallen >= sizeof(c->hint))
		return cmdline_fail(err, errsz, key, a->val, a->vallen, "is too long (at most %zu bytes)",
				    sizeof(c->hint) - 1);
	for (size_t i = 0; i < a->vallen; i++) {
		char ch = a->val[i];
		bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
			  ch == ':' || ch == '.' || ch == '_' || ch == '-';
		if (!ok || a->val[0] == '.')
			return cmdline_fail(err, errsz, key, a->val, a->vallen,
					    "is not a block device name or PCI address");
	}
	memcpy(c->hint, a->val, a->vallen);
	c->hint[a->vallen] = '\0';
	return 0;
}

static int cmdline_set_serial(struct config *c, const struct arg *a, char *err, size_t errsz)
{
	static const char key[] = "cocoinit.initdata_serial";

	if (a->vallen == 0)
		return cmdline_fail(err, errsz, key, a->val, a->vallen, "is empty");
	if (a->vallen > SERIAL_MAX)
		return cmdline_fail(err, errsz, key, a->val, a->vallen, "is too long (at most %d bytes)",
				    SERIAL_MAX);
	memcpy(c->serial, a->val, a->vallen);
	c->serial[a->vallen] = '\0';
	c->serial_len = a->vallen;
	c->serial_set = true;
	return 0;
}

static bool cmdline_module_char(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_' ||
	       ch == '-';
}

/* Replaces the list: a later cocoinit.modules= wins like any other key.
 * Empty items ("a,,b", a trailing comma) are skipped. */
static int cmdline_set_modules(struct config *c, const struct arg *a, char *err, size_t errsz)
{
	static const char key[] = "cocoinit.modules";
	size_t n = 0, i = 0;

	while (i <= a->vallen) {
		size_t j = i;
		while (j < a->vallen && a->val[j] != ',')
			j++;
		size_t len = j - i;
		if (len > 0) {
			char shown[LOG_ESCAPED_SIZE(CONFIG_MODULE_NAME_MAX)];

			log_escape(shown, sizeof(shown), a->val + i, len);
			if (len >= CONFIG_MODULE_NAME_MAX)
				return cmdline_fail(err, errsz, key, a->val, a->vallen,
						    "has a module name longer than %d bytes", CONFIG_MODULE_NAME_MAX - 1);
			for (size_t k = i; k < j; k++)
				if (!cmdline_module_char(a->val[k]))
					return cmdline_fail(err, errsz, key, a->val, a->vallen,
							    "has a module name \"%s\" with bytes outside [A-Za-z0-9_-]",
							    shown);
			if (n >= CONFIG_MAX_MODULES)
				return cmdline_fail(err, errsz, key, a->val, a->vallen,
						    "names more than %d modules", CONFIG_MAX_MODULES);
			memcpy(c->modules[n], a->val + i, len);
			c->modules[n][len] = '\0';
			n++;
		}
		i = j + 1;
	}
	c->n_modules = n;
	return 0;
}

/* Printable ASCII without space and ':' (the LISTEN_FDNAMES separator). */
static bool cmdline_name_ok(const char *s, size_t n)
{
	if (n == 0 || n >= CONFIG_LISTENER_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] <= ' ' || s[i] >= 0x7f || s[i] == ':')
			return false;
	return true;
}

/* Replaces the list: "PORT:NAME[,PORT:NAME...]", empty clears it. */
static int cmdline_set_listen(struct config *c, const struct arg *a, char *err, size_t errsz)
{
	static const char key[] = "cocoinit.vsock_listen";
	struct listener_spec ls[CONFIG_MAX_LISTENERS];
	size_t n = 0, i = 0;

	memset(ls, 0, sizeof(ls)); /* no stack bytes behind the names */

	if (a->vallen == 0) {
		c->n_listeners = 0;
		return 0;
	}
	while (i <= a->vallen) {
		size_t j = i, colon = 0;
		bool has_colon = false;
		char shown[LOG_ESCAPED_SIZE(CONFIG_LISTENER_NAME_MAX)];

		while (j < a->vallen && a->val[j] != ',') {
			if (!has_colon && a->val[j] == ':') {
				colon = j;
				has_colon = true;
			}
			j++;
		}
		if (!has_colon)
			return cmdline_fail(err, errsz, key, a->val, a->vallen, "is not PORT:NAME[,PORT:NAME...]");
		if (n >= CONFIG_MAX_LISTENERS)
			return cmdline_fail(err, errsz, key, a->val, a->vallen, "has more than %d listeners",
					    CONFIG_MAX_LISTENERS);

		uint32_t port;
		const char *name = a->val + colon + 1;
		size_t namelen = j - colon - 1;

		log_escape(shown, sizeof(shown), a->val + i, colon - i > CONFIG_LISTENER_NAME_MAX ?
				CONFIG_LISTENER_NAME_MAX : colon - i);
		int r = cmdline_port(a->val + i, colon - i, &port);
		if (r == -EINVAL)
			return cmdline_fail(err, errsz, key, a->val, a->vallen, "has a port \"%s\" that is not a number",
					    shown);
		if (r < 0)
			return cmdline_fail(err, errsz, key, a->val, a->vallen,
					    "has a port %s out of range (1..%u)", shown, PORT_MAX_VALID);

		log_escape(shown, sizeof(shown), name, namelen > CONFIG_LISTENER_NAME_MAX ? CONFIG_LISTENER_NAME_MAX
											  : namelen);
		if (!cmdline_name_ok(name, namelen))
			return cmdline_fail(err, errsz, key, a->val, a->vallen,
					    "has a name \"%s\" that is not 1..%d printable bytes without space or ':'",
					    shown, CONFIG_LISTENER_NAME_MAX - 1);
		for (size_t k = 0; k < n; k++) {
			if (ls[k].port == port)
				return cmdline_fail(err, errsz, key, a->val, a->vallen, "has a duplicate port %u",
						    port);
			if (strlen(ls[k].name) == namelen && memcmp(ls[k].name, name, namelen) == 0)
				return cmdline_fail(err, errsz, key, a->val, a->vallen,
						    "has a duplicate name \"%s\"", shown);
		}
		ls[n].port = port;
		memcpy(ls[n].name, name, namelen);
		ls[n].name[namelen] = '\0';
		n++;
		i = j + 1;
	}
	memcpy(c->listeners, ls, n * sizeof(ls[0]));
	c->n_listeners = n;
	return 0;
}

/* Appends "TYPE:SOURCE:TARGET[:OPTIONS]"; OPTIONS is the rest, ':' and all. */
static int cmdline_add_mount(struct config *c, const struct arg *a, char *err, size_t errsz)
{
	static const char key[] = "cocoinit.mount";
	const char *v = a->val, *end = a->val + a->vallen;
	const char *f[4];
	size_t fl[4], nf = 0;

	while (nf < 4) {
		const char *p = v;
		if (nf < 3)
			while (p < end && *p != ':')
				p++;
		else
			p = end;
		f[nf] = v;
		fl[nf] = (size_t)(p - v);
		nf++;
		if (p >= end)
			break;
		v = p + 1;
	}
	if (nf < 3 || fl[0] == 0 || fl[1] == 0)
		return cmdline_fail(err, errsz, key, a->val, a->vallen, "is not TYPE:SOURCE:TARGET[:OPTIONS]");
	if (c->n_mounts >= CONFIG_MAX_MOUNTS)
		return cmdline_fail(err, errsz, key, a->val, a->vallen, "is more than %d mounts", CONFIG_MAX_MOUNTS);

	struct mount_spec *m = &c->mounts[c->n_mounts];

	for (size_t i = 0; i < fl[0]; i++) {
		char ch = f[0][i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_' || ch == '.' || ch == '-'))
			return cmdline_fail(err, errsz, key, a->val, a->vallen,
					    "has a TYPE with bytes outside [a-z0-9_.-]");
	}
	if (fl[0] >= sizeof(m->type))
		return cmdline_fail(err, errsz, key, a->val, a->vallen, "has a TYPE longer than %zu bytes",
				    sizeof(m->type) - 1);
	if (fl[1] >= sizeof(m->source))
		return cmdline_fail(err, errsz, key, a->val, a->vallen, "has a SOURCE longer than %zu bytes",
				    sizeof(m->source) - 1);
	if (!cmdline_path_ok(f[2], fl[2], false))
		return cmdline_fail(err, errsz, key, a->val, a->vallen,
				    "has a TARGET that is not an absolute path below / without \"..\"");
	if (fl[2] >= sizeof(m->target))
		return cmdline_fail(err, errsz, key, a->val, a->vallen, "has a TARGET longer than %zu bytes",
				    sizeof(m->target) - 1);
	if (nf == 4 && fl[3] >= sizeof(m->options))
		return cmdline_fail(err, errsz, key, a->val, a->vallen, "has OPTIONS longer than %zu bytes",
				    sizeof(m->options) - 1);

	memset(m, 0, sizeof(*m));
	memcpy(m->type, f[0], fl[0]);
	memcpy(m->source, f[1], fl[1]);
	memcpy(m->target, f[2], fl[2]);
	if (nf == 4)
		memcpy(m->options, f[3], fl[3]);
	c->n_mounts++;
	return 0;
}

/* kata.extension.<name>.verity_params[=<params>] (Kata's own key): the
 * name between the prefix and the suffix, the params parsed now (they are
 * used: malformed is an error). A bare key or an empty value is an
 * unmeasured extension, as Kata's mount script reads it. Returns 1 when
 * the key is not this one. */
static int cmdline_set_extension(struct config *c, const struct arg *a, char *err, size_t errsz)
{
	static const char prefix[] = "kata.extension.", suffix[] = ".verity_params";
	const size_t pl = sizeof(prefix) - 1, sl = sizeof(suffix) - 1;
	struct extension_spec spec;
	char key[LOG_ESCAPED_SIZE(EXTENSION_NAME_MAX + 32)];
	char why[256] = "";
	struct arg tail;

	if (a->keylen < pl + sl || memcmp(a->key, prefix, pl) != 0)
		return 1;
	tail = *a;
	tail.key = a->key + a->keylen - sl;
	tail.keylen = sl;
	if (!cmdline_key_is(&tail, suffix))
		return 1;
	const char *name = a->key + pl;
	size_t namelen = a->keylen - pl - sl;
	log_escape(key, sizeof(key), a->key, a->keylen > EXTENSION_NAME_MAX + 32 ? EXTENSION_NAME_MAX + 32 : a->keylen);
	if (!extension_name_ok(name, namelen))
		return cmdline_fail(err, errsz, key, a->val, a->vallen,
				    "names an extension outside [A-Za-z0-9_.-]{1,%d} (or . or ..)", EXTENSION_NAME_MAX);
	memset(&spec, 0, sizeof(spec));
	memcpy(spec.name, name, namelen);
	if (a->vallen > 0) {
		/* The reason must survive a one-line error: a long value is cut first. */
		if (verity_params_parse(a->val, a->vallen, &spec.params, why, sizeof(why)) < 0)
			return a->vallen > 64 ? cmdline_fail(err, errsz, key, a->val, 64,
							     "... (%zu bytes) is not verity params: %s", a->vallen, why)
					      : cmdline_fail(err, errsz, key, a->val, a->vallen, "is not verity params: %s",
							     why);
		spec.measured = true;
	}

	size_t i;
	char ser[21], other[21];
	size_t sn = extension_serial(spec.name, ser);
	for (i = 0; i < c->n_extensions; i++) {
		if (strcmp(c->extensions[i].name, spec.name) == 0)
			break;
		/* Two names the device cuts to one serial can't be told apart. */
		size_t on = extension_serial(c->extensions[i].name, other);
		if (on == sn && memcmp(ser, other, sn) == 0)
			return cmdline_fail(err, errsz, key, a->val, a->vallen,
					    "names an extension whose disk serial (%s, 20 bytes) is also extension %s's",
					    ser, c->extensions[i].name);
	}
	if (i == c->n_extensions) {
		if (c->n_extensions >= EXTENSION_MAX)
			return cmdline_fail(err, errsz, key, a->val, a->vallen, "is more than %d extensions",
					    EXTENSION_MAX);
		c->n_extensions++;
	}
	c->extensions[i] = spec;
	return 0;
}

static const char *const initdata_words[] = { "auto", "required", "off" };
static const char *const bind_words[] = { "auto", "required", "off" };
static const char *const on_error_words[] = { "poweroff", "reboot", "shell", "continue" };
static const char *const agent_mode_words[] = { "exec", "supervise" };
static const char *const scan_words[] = { "off", "magic" };
static const char *const log_words[] = { "error", "warn", "info", "debug" };
static const int log_levels[] = { LOG_LVL_ERR, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

/* What one pass over the line remembers besides the config. */
struct parse_ctx {
	unsigned unknown, unknown_named;
	char unknown_shown[UNKNOWN_SHOWN_MAX + 1];
	/* A malformed agent.passfd_listener_port: fatal only if the passfd listener is wanted. */
	char port_err[SHOWN_MAX + 128];
};

/* Names an unknown key in the one warning line; once one does not fit, the rest are only counted. */
static void cmdline_note_unknown(struct parse_ctx *p, const struct arg *a)
{
	char shown[LOG_ESCAPED_SIZE(64)];
	size_t used = strlen(p->unknown_shown), len;

	p->unknown++;
	log_escape(shown, sizeof(shown), a->key, a->keylen < 64 ? a->keylen : 64);
	len = strlen(shown);
	if (p->unknown_named + 1 != p->unknown || used + 1 + len > UNKNOWN_SHOWN_MAX)
		return;
	if (used)
		p->unknown_shown[used++] = ' ';
	memcpy(p->unknown_shown + used, shown, len + 1);
	p->unknown_named++;
}

/* One line for all unknown keys, however many: kmsg lets a boot write few lines. */
static void cmdline_warn_unknown(const struct parse_ctx *p)
{
	if (p->unknown == 0)
		return;
	if (p->unknown_named < p->unknown)
		log_warn("unknown kernel command line keys ignored: %s and %u more", p->unknown_shown,
			 p->unknown - p->unknown_named);
	else
		log_warn("unknown kernel command line key%s ignored: %s", p->unknown > 1 ? "s" : "",
			 p->unknown_shown);
}

static int cmdline_apply(struct config *c, const struct arg *a, struct parse_ctx *p, char *err, size_t errsz)
{
	uint64_t x;
	int64_t sx = 0;
	int r;

#define ENUM(words) cmdline_enum(a, key, words, ARRAY_SIZE(words), err, errsz)
	if (cmdline_key_is(a, "cocoinit.initdata")) {
		const char *key = "cocoinit.initdata";
		if ((r = ENUM(initdata_words)) < 0)
			return r;
		c->initdata = (enum initdata_mode)r;
		c->initdata_set = true;
	} else if (cmdline_key_is(a, "cocoinit.initdata_serial")) {
		return cmdline_set_serial(c, a, err, errsz);
	} else if (cmdline_key_is(a, "cocoinit.initdata_hint")) {
		return cmdline_set_hint(c, a, err, errsz);
	} else if (cmdline_key_is(a, "cocoinit.initdata_timeout_ms")) {
		if ((r = cmdline_number(a, "cocoinit.initdata_timeout_ms", 0, TIMEOUT_MS_MAX, &x, err, errsz)) < 0)
			return r;
		c->timeout_ms = x;
		c->timeout_set = true;
	} else if (cmdline_key_is(a, "cocoinit.initdata_scan")) {
		const char *key = "cocoinit.initdata_scan";
		if ((r = ENUM(scan_words)) < 0)
			return r;
		c->scan_magic = r == 1;
	} else if (cmdline_key_is(a, "cocoinit.initdata_dir")) {
		return cmdline_copy_path(a, "cocoinit.initdata_dir", c->initdata_dir, sizeof(c->initdata_dir), false,
					 err, errsz);
	} else if (cmdline_key_is(a, "cocoinit.initdata_max_bytes")) {
		if ((r = cmdline_number(a, "cocoinit.initdata_max_bytes", 1, MAX_BYTES_MAX, &x, err, errsz)) < 0)
			return r;
		c->max_bytes = x;
	} else if (cmdline_key_is(a, "cocoinit.initdata_bind")) {
		const char *key = "cocoinit.initdata_bind";
		if ((r = ENUM(bind_words)) < 0)
			return r;
		c->bind = (enum bind_mode)r;
	} else if (cmdline_key_is(a, "cocoinit.modules")) {
		return cmdline_set_modules(c, a, err, errsz);
	} else if (cmdline_key_is(a, "cocoinit.vsock_listen")) {
		return cmdline_set_listen(c, a, err, errsz);
	} else if (cmdline_key_is(a, "cocoinit.passfd")) {
		return cmdline_bool(a, "cocoinit.passfd", &c->passfd, err, errsz);
	} else if (cmdline_key_is(a, "printk.devkmsg")) {
		/* The kernel's own key: "on" lifts its rate limit on /dev/kmsg, so no line budget is needed. */
		c->kmsg_unlimited = a->vallen == 2 && memcmp(a->val, "on", 2) == 0;
	} else if (cmdline_key_is(a, "agent.passfd_listener_port")) {
		uint32_t port;
		/* Kata's key, read only for the passfd listener: judged once the whole line is known. */
		r = cmdline_port(a->val, a->vallen, &port);
		p->port_err[0] = '\0';
		if (r == -EINVAL)
			cmdline_fail(p->port_err, sizeof(p->port_err), "agent.passfd_listener_port", a->val,
				     a->vallen, "is not a number");
		else if (r < 0)
			cmdline_fail(p->port_err, sizeof(p->port_err), "agent.passfd_listener_port", a->val,
				     a->vallen, "is out of range (1..%u)", PORT_MAX_VALID);
		else
			c->passfd_port = port;
	} else if (cmdline_key_is(a, "cocoinit.agent")) {
		return cmdline_copy_path(a, "cocoinit.agent", c->agent, sizeof(c->agent), false, err, errsz);
	} else if (cmdline_key_is(a, "cocoinit.agent_mode")) {
		const char *key = "cocoinit.agent_mode";
		if ((r = ENUM(agent_mode_words)) < 0)
			return r;
		c->agent_mode = (enum agent_mode)r;
	} else if (cmdline_key_is(a, "cocoinit.on_error")) {
		const char *key = "cocoinit.on_error";
		if ((r = ENUM(on_error_words)) < 0)
			return r;
		c->on_error = (enum on_error)r;
	} else if (cmdline_key_is(a, "cocoinit.mount")) {
		return cmdline_add_mount(c, a, err, errsz);
	} else if (cmdline_key_is(a, "cocoinit.log")) {
		const char *key = "cocoinit.log";
		if ((r = ENUM(log_words)) < 0)
			return r;
		c->log_level = log_levels[r];
	} else if (cmdline_key_is(a, "cocoinit.agent_oom_score_adj")) {
		if ((r = cmdline_number_signed(a, "cocoinit.agent_oom_score_adj", -1000, 1000, &sx, err, errsz)) < 0)
			return r;
		c->agent_oom_score_adj = (int)sx;
	} else if (cmdline_key_is(a, "cocoinit.agent_nofile")) {
		if ((r = cmdline_number(a, "cocoinit.agent_nofile", 1, CONFIG_NOFILE_MAX, &x, err, errsz)) < 0)
			return r;
		c->agent_nofile = x;
	} else if (cmdline_key_is(a, "cocoinit.modules_lockdown")) {
		return cmdline_bool(a, "cocoinit.modules_lockdown", &c->modules_lockdown, err, errsz);
	} else if (cmdline_key_is(a, "cocoinit.rehearse")) {
		return cmdline_bool(a, "cocoinit.rehearse", &c->rehearse, err, errsz);
	} else if (cmdline_key_is(a, "cocoinit.extension_timeout_ms")) {
		if ((r = cmdline_number(a, "cocoinit.extension_timeout_ms", 0, TIMEOUT_MS_MAX, &x, err, errsz)) < 0)
			return r;
		c->extension_timeout_ms = x;
	} else if ((r = cmdline_set_extension(c, a, err, errsz)) <= 0) {
		return r;
	} else if (a->keylen >= 9 && memcmp(a->key, "cocoinit.", 9) == 0) {
		cmdline_note_unknown(p, a);
	}
#undef ENUM
	return 0;
}

void cmdline_defaults(struct config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->initdata = INITDATA_AUTO;
	util_strlcpy(cfg->serial, CONFIG_DEFAULT_SERIAL, sizeof(cfg->serial));
	cfg->serial_len = strlen(CONFIG_DEFAULT_SERIAL);
	cfg->timeout_ms = 0;
	util_strlcpy(cfg->initdata_dir, CONFIG_DEFAULT_INITDATA_DIR, sizeof(cfg->initdata_dir));
	cfg->max_bytes = DEFAULT_MAX_BYTES;
	cfg->passfd_port = CONFIG_DEFAULT_PASSFD_PORT;
	util_strlcpy(cfg->agent, CONFIG_DEFAULT_AGENT, sizeof(cfg->agent));
	cfg->agent_mode = AGENT_EXEC;
	cfg->on_error = ON_ERROR_POWEROFF;
	cfg->log_level = LOG_LVL_INFO;
	cfg->agent_oom_score_adj = CONFIG_DEFAULT_OOM_SCORE_ADJ;
	cfg->agent_nofile = CONFIG_DEFAULT_NOFILE;
	cfg->rehearse = true;
	cfg->extension_timeout_ms = CONFIG_DEFAULT_EXTENSION_TIMEOUT_MS;
}

/* The next parameter of text[*pos..len) into a; false at the end or at a
 * bare "--" (everything after it is init's argv, not parameters). */
static bool cmdline_next(const char *text, size_t len, size_t *pos, struct arg *a)
{
	size_t i = *pos;

	while (i < len && cmdline_isspace((unsigned char)text[i]))
		i++;
	if (i >= len)
		return false;
	i += cmdline_next_arg(text + i, len - i, a);
	*pos = i;
	return !(!a->has_val && a->keylen == 2 && memcmp(a->key, "--", 2) == 0);
}

/* After a malformed value: the valid cocoinit.on_error and cocoinit.log of
 * the whole line still count, so the failure is handled the way the user
 * asked (a shell to debug a typo, not a power-off). */
static void cmdline_policy_pass(const char *text, size_t len, struct config *cfg)
{
	size_t i = 0;
	struct arg a;

	while (cmdline_next(text, len, &i, &a)) {
		int r;

		if (cmdline_key_is(&a, "cocoinit.on_error") &&
		    (r = cmdline_enum(&a, "", on_error_words, ARRAY_SIZE(on_error_words), NULL, 0)) >= 0)
			cfg->on_error = (enum on_error)r;
		else if (cmdline_key_is(&a, "cocoinit.log") &&
			 (r = cmdline_enum(&a, "", log_words, ARRAY_SIZE(log_words), NULL, 0)) >= 0)
			cfg->log_level = log_levels[r];
	}
}

int cmdline_parse(const char *text, size_t len, struct config *cfg, char *err, size_t errsz)
{
	struct config c;
	size_t i = 0;
	struct parse_ctx p = { 0 };

	if (err && errsz > 0)
		err[0] = '\0';
	cmdline_defaults(&c);
	if (!text)
		len = 0;
	/* The kernel's string ends at the first NUL. */
	if (len > 0) {
		const char *nul = memchr(text, '\0', len);
		if (nul)
			len = (size_t)(nul - text);
	}

	struct arg a;
	while (cmdline_next(text, len, &i, &a)) {
		int r = cmdline_apply(&c, &a, &p, err, errsz);
		if (r < 0) {
			cmdline_warn_unknown(&p);
			cmdline_policy_pass(text, len, cfg);
			return r;
		}
	}
	cmdline_warn_unknown(&p);
	if (p.port_err[0]) {
		if (c.passfd) {
			if (err && errsz > 0)
				util_strlcpy(err, p.port_err, errsz);
			cmdline_policy_pass(text, len, cfg);
			return -EINVAL;
		}
		/* Not used in this boot: a malformed unused key must not power the VM off. */
		log_warn("%s; ignored (cocoinit.passfd is off)", p.port_err);
	}

	if (!c.initdata_set)
		c.initdata = c.serial_set ? INITDATA_REQUIRED : INITDATA_AUTO;
	if (!c.timeout_set)
		c.timeout_ms = c.initdata == INITDATA_REQUIRED ? REQUIRED_TIMEOUT_MS : 0;
	*cfg = c;
	return 0;
}

int cmdline_read(int rootfd, struct config *cfg, char *err, size_t errsz)
{
	char buf[CMDLINE_READ_MAX + 1];
	ssize_t n = util_read_file_at(rootfd, "proc/cmdline", buf, sizeof(buf), false);

	if (n < 0) {
		if (err && errsz > 0)
			snprintf(err, errsz, "reading /proc/cmdline: %s", strerror((int)-n));
		return (int)n;
	}
	if ((size_t)n > CMDLINE_READ_MAX) {
		if (err && errsz > 0)
			snprintf(err, errsz, "/proc/cmdline is longer than %d bytes", CMDLINE_READ_MAX);
		return -E2BIG;
	}
	return cmdline_parse(buf, (size_t)n, cfg, err, errsz);
}

const char *cmdline_initdata_mode_name(enum initdata_mode m)
{
	return (unsigned)m < ARRAY_SIZE(initdata_words) ? initdata_words[m] : "?";
}

const char *cmdline_on_error_name(enum on_error e)
{
	return (unsigned)e < ARRAY_SIZE(on_error_words) ? on_error_words[e] : "?";
}

const char *cmdline_bind_mode_name(enum bind_mode m)
{
	return (unsigned)m < ARRAY_SIZE(bind_words) ? bind_words[m] : "?";
}
