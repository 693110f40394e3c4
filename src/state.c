/* SPDX-License-Identifier: Apache-2.0 */
/* /run/cocoinit/state.json: what cocoinit found and did, for the agent and
 * for people debugging a guest. Every string is JSON-escaped (host bytes are
 * read as Latin-1, so the output is always valid JSON); the file is written
 * to a temporary name and renamed so a reader never sees half of it. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysinfo.h>

#include "cocoinit/state.h"
#include "cocoinit/sys.h"
#include "cocoinit/timing.h"
#include "cocoinit/util.h"

#define STATE_DIR "run/cocoinit"
#define STATE_FILE "state.json"
#define STATE_TMP "state.json.tmp"
/* Bounded: errors, listeners and shares are bounded by their arrays, the
 * mount table is cut at STATE_MOUNTS_MAX entries. */
#define STATE_BUF_SIZE (128 * 1024)
#define STATE_MOUNTS_MAX 64
#define STATE_MOUNTS_READ (32 * 1024)

/* In UTF-8 text, the characters a terminal or a JSON-in-JS reader would act
 * on: C1 controls (U+0080-U+009F), line and paragraph separators and the
 * bidi embeddings and isolates (U+2028-U+202E, U+2066-U+2069). Returns the
 * code point and its length in bytes, or 0. */
static unsigned state_utf8_control(const unsigned char *p, size_t left, size_t *ret_n)
{
	if (left >= 2 && p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) {
		*ret_n = 2;
		return p[1];
	}
	if (left >= 3 && p[0] == 0xe2 && ((p[1] == 0x80 && p[2] >= 0xa8 && p[2] <= 0xae) ||
					  (p[1] == 0x81 && p[2] >= 0xa6 && p[2] <= 0xa9))) {
		*ret_n = 3;
		return 0x2000u | (unsigned)(p[1] & 0x0f) << 6 | (p[2] & 0x3f);
	}
	return 0;
}

static int state_json_escape(char *out, size_t outsz, const char *s, size_t len, bool utf8)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	if (outsz < 3)
		return -ENOSPC;
	out[o++] = '"';
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		size_t n = 0;
		unsigned cp = utf8 && c >= 0x80 ? state_utf8_control((const unsigned char *)s + i, len - i, &n) : 0;

		if (cp) {
			if (o + 6 + 2 > outsz)
				return -ENOSPC;
			snprintf(out + o, 7, "\\u%04x", cp);
			o += 6;
			i += n - 1;
		} else if (c == '"' || c == '\\' || (utf8 && (c == '\n' || c == '\t' || c == '\r'))) {
			/* Short forms for text (a TOML value's lines stay readable); JSON and TOML both read them. */
			if (o + 2 + 2 > outsz)
				return -ENOSPC;
			out[o++] = '\\';
			out[o++] = c == '\n' ? 'n' : c == '\t' ? 't' : c == '\r' ? 'r' : (char)c;
		} else if (c < 0x20 || c == 0x7f || (c >= 0x80 && !utf8)) {
			/* Latin-1 reading of the byte: U+0000..U+00FF, never invalid UTF-8. */
			if (o + 6 + 2 > outsz)
				return -ENOSPC;
			memcpy(out + o, "\\u00", 4);
			out[o + 4] = hex[c >> 4];
			out[o + 5] = hex[c & 15];
			o += 6;
		} else {
			if (o + 1 + 2 > outsz)
				return -ENOSPC;
			out[o++] = (char)c;
		}
	}
	out[o++] = '"';
	out[o] = '\0';
	return (int)o;
}

int state_json_string(char *out, size_t outsz, const char *s, size_t len)
{
	return state_json_escape(out, outsz, s, len, false);
}

int state_json_utf8(char *out, size_t outsz, const char *s, size_t len)
{
	return state_json_escape(out, outsz, s, len, true);
}

void state_add_error(struct state *st, const char *msg)
{
	if (st->n_errors >= STATE_MAX_ERRORS) {
		/* Keep the first errors: they are the causes, later ones follow from them. */
		return;
	}
	util_strlcpy(st->errors[st->n_errors++], msg, STATE_ERROR_MAX);
}

struct jbuf {
	char *p;
	size_t size, len;
	int err;
};

static void jb_raw(struct jbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void jb_raw(struct jbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->err)
		return;
	va_start(ap, fmt);
	n = vsnprintf(b->p + b->len, b->size - b->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= b->size - b->len) {
		b->err = -ENOSPC;
		return;
	}
	b->len += (size_t)n;
}

/* Fixed text and numbers without a format string: the mount table and the
 * steps are rendered in a loop, and vsnprintf() is slow under emulation. */
static void jb_put(struct jbuf *b, const char *s, size_t n)
{
	if (b->err)
		return;
	if (n >= b->size - b->len) {
		b->err = -ENOSPC;
		return;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void jb_lit(struct jbuf *b, const char *s)
{
	jb_put(b, s, strlen(s));
}

static void jb_u64(struct jbuf *b, uint64_t v)
{
	char t[20];
	size_t i = sizeof(t);

	do
		t[--i] = (char)('0' + v % 10);
	while ((v /= 10) > 0);
	jb_put(b, t + i, sizeof(t) - i);
}

static void jb_str(struct jbuf *b, const char *s, size_t len)
{
	int n;

	if (b->err)
		return;
	n = state_json_string(b->p + b->len, b->size - b->len, s, len);
	if (n < 0) {
		b->err = n;
		return;
	}
	b->len += (size_t)n;
}

static void jb_cstr(struct jbuf *b, const char *s)
{
	if (s && *s)
		jb_str(b, s, strlen(s));
	else
		jb_raw(b, "null");
}

/* "0-3,5" -> 5 */
static unsigned state_count_cpus(int rootfd)
{
	char buf[256];
	ssize_t n = util_read_file_at(rootfd, "sys/devices/system/cpu/online", buf, sizeof(buf) - 1, true);
	unsigned count = 0;
	char *p, *end;

	if (n <= 0)
		return 0;
	buf[n] = '\0';
	for (p = buf; *p && *p != '\n';) {
		unsigned long a = strtoul(p, &end, 10), b2 = a;

		if (end == p)
			break;
		if (*end == '-') {
			p = end + 1;
			b2 = strtoul(p, &end, 10);
			if (end == p || b2 < a)
				break;
		}
		count += (unsigned)(b2 - a + 1);
		p = end;
		if (*p == ',')
			p++;
	}
	return count;
}

/* MemTotal of /proc/meminfo, from sysinfo(): the same count of pages,
 * without the kernel formatting fifty counters to give us one. */
static uint64_t state_mem_total_kib(void)
{
	struct sysinfo si;

	if (sys_sysinfo(&si) < 0)
		return 0;
	return (uint64_t)si.totalram * (si.mem_unit ? si.mem_unit : 1) / 1024;
}

/* The mount table as the kernel reports it: what the agent will find. */
static void state_mounts(struct jbuf *b, int rootfd)
{
	_cleanup_free_ char *buf = malloc(STATE_MOUNTS_READ);
	ssize_t n;
	unsigned count = 0;
	char *line, *save = NULL;

	jb_lit(b, "[");
	if (!buf)
		goto out;
	n = util_read_file_at(rootfd, "proc/self/mounts", buf, STATE_MOUNTS_READ - 1, true);
	if (n <= 0)
		goto out;
	buf[n] = '\0';
	for (line = strtok_r(buf, "\n", &save); line && count < STATE_MOUNTS_MAX;
	     line = strtok_r(NULL, "\n", &save)) {
		char *f[4], *s2 = NULL;
		int i;

		f[0] = strtok_r(line, " ", &s2);
		for (i = 1; i < 4 && f[i - 1]; i++)
			f[i] = strtok_r(NULL, " ", &s2);
		if (i < 4 || !f[3])
			continue;
		jb_lit(b, count ? ",{\"source\":" : "{\"source\":");
		jb_cstr(b, f[0]);
		jb_lit(b, ",\"target\":");
		jb_cstr(b, f[1]);
		jb_lit(b, ",\"type\":");
		jb_cstr(b, f[2]);
		jb_lit(b, ",\"options\":");
		jb_cstr(b, f[3]);
		jb_lit(b, "}");
		count++;
	}
out:
	jb_lit(b, "]");
}

/* The sub-steps join timing_us as "<step>.<part>" keys, after the main steps. */
static void state_steps(struct jbuf *b)
{
	const struct timing_step *steps;
	unsigned dropped;
	size_t n = timing_steps(&steps, &dropped);

	for (size_t i = 0; i < n; i++) {
		jb_lit(b, ",");
		jb_cstr(b, steps[i].name);
		jb_lit(b, ":");
		jb_u64(b, steps[i].us);
	}
	if (dropped) {
		jb_lit(b, ",\"steps_dropped\":");
		jb_u64(b, dropped);
	}
}

static const char *state_agent_mode_name(enum agent_mode m)
{
	return m == AGENT_SUPERVISE ? "supervise" : "exec";
}

static int state_render(int rootfd, struct jbuf *b, const struct state *st, const struct config *cfg,
			const struct vsock_listener *ls, size_t n)
{
	jb_raw(b, "{\"version\":1,\"initdata\":{\"mode\":\"%s\",\"found\":%s,\"serial\":",
	       cmdline_initdata_mode_name(cfg->initdata), st->found ? "true" : "false");
	jb_str(b, st->serial, st->serial_len);
	jb_raw(b, ",\"device\":");
	jb_cstr(b, st->found ? st->device : NULL);
	jb_raw(b, ",\"method\":");
	jb_cstr(b, st->found ? st->method : NULL);
	jb_raw(b, ",\"format\":");
	jb_cstr(b, st->found ? st->format : NULL);
	jb_raw(b, ",\"dir\":");
	jb_cstr(b, st->found && st->format[0] ? st->dir : NULL);
	jb_raw(b, ",\"examined\":%u,\"digest\":", st->examined);
	jb_cstr(b, st->digest);
	jb_raw(b, ",\"bound\":");
	jb_cstr(b, st->digest[0] ? st->bound : NULL);
	jb_raw(b, "},\"extensions\":[");
	for (size_t i = 0; i < st->n_extensions && i < EXTENSION_MAX; i++) {
		const struct state_extension *e = &st->extensions[i];
		jb_raw(b, "%s{\"name\":", i ? "," : "");
		jb_cstr(b, e->name);
		jb_raw(b, ",\"device\":");
		jb_cstr(b, e->device);
		jb_raw(b, ",\"source\":");
		jb_cstr(b, e->source);
		jb_raw(b, ",\"root_hash\":");
		jb_cstr(b, e->root_hash);
		jb_raw(b, ",\"method\":");
		jb_cstr(b, e->method);
		jb_raw(b, ",\"verified\":%s,\"elapsed_us\":%" PRIu64 "}", e->verified ? "true" : "false", e->elapsed_us);
	}
	jb_raw(b, "],\"listeners\":[");
	for (size_t i = 0; i < n; i++) {
		/* The fd the agent receives, not the one cocoinit created. */
		jb_raw(b, "%s{\"fd\":%zu,\"port\":%u,\"name\":", i ? "," : "", 3 + i, ls[i].port);
		jb_cstr(b, ls[i].name);
		jb_raw(b, "}");
	}
	jb_raw(b, "],\"agent\":{\"path\":");
	jb_cstr(b, cfg->agent);
	jb_raw(b, ",\"mode\":\"%s\",\"on_error\":\"%s\"", state_agent_mode_name(cfg->agent_mode),
	       cmdline_on_error_name(cfg->on_error));
	/* What the hand-off applies (the nofile limit after the fs.nr_open bound). */
	jb_raw(b, ",\"oom_score_adj\":%d,\"nofile\":%" PRIu64 ",\"modules_lockdown\":%s},\"mounts\":",
	       cfg->agent_oom_score_adj, st->agent_nofile ? st->agent_nofile : cfg->agent_nofile,
	       cfg->modules_lockdown ? "true" : "false");
	state_mounts(b, rootfd);
	jb_raw(b, ",\"resources\":{\"cpus_online\":%u,\"mem_total_kib\":%" PRIu64 "}", state_count_cpus(rootfd),
	       state_mem_total_kib());
	jb_raw(b,
	       ",\"timing_us\":{\"mounts\":%" PRIu64 ",\"modules\":%" PRIu64 ",\"listen\":%" PRIu64
	       ",\"discover\":%" PRIu64 ",\"consume\":%" PRIu64 ",\"extensions\":%" PRIu64 ",\"total\":%" PRIu64
	       ",\"boot\":%" PRIu64 ",\"version_digest\":%" PRIu64,
	       st->t_mounts, st->t_modules, st->t_listen, st->t_discover, st->t_consume, st->t_extensions, st->t_total,
	       st->t_boot, st->t_version);
	state_steps(b);
	jb_raw(b, "},\"errors\":[");
	for (size_t i = 0; i < st->n_errors && i < STATE_MAX_ERRORS; i++) {
		if (i)
			jb_raw(b, ",");
		jb_str(b, st->errors[i], strnlen(st->errors[i], STATE_ERROR_MAX));
	}
	jb_raw(b, "]}\n");
	return b->err;
}

int state_write(int rootfd, const struct state *st, const struct config *cfg, const struct vsock_listener *ls,
		size_t n)
{
	_cleanup_free_ char *buf = malloc(STATE_BUF_SIZE);
	_cleanup_close_ int dirfd = -1;
	_cleanup_close_ int fd = -1;
	struct jbuf b = { .p = buf, .size = STATE_BUF_SIZE };
	int r;

	if (!buf)
		return -ENOMEM;
	r = state_render(rootfd, &b, st, cfg, ls, n);
	if (r < 0)
		return r;

	if (mkdirat(rootfd, "run", 0755) < 0 && errno != EEXIST)
		return -errno;
	if (mkdirat(rootfd, STATE_DIR, 0755) < 0 && errno != EEXIST)
		return -errno;
	dirfd = openat(rootfd, STATE_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (dirfd < 0)
		return -errno;
	fd = openat(dirfd, STATE_TMP, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return -errno;
	/* The umask must not decide what the agent may read. */
	if (fchmod(fd, 0644) < 0)
		return -errno;
	r = util_write_all(fd, buf, b.len);
	if (r < 0)
		goto fail;
	if (close(fd) < 0) {
		fd = -1;
		r = -errno;
		goto fail;
	}
	fd = -1;
	if (renameat(dirfd, STATE_TMP, dirfd, STATE_FILE) < 0) {
		r = -errno;
		goto fail;
	}
	return 0;
fail:
	unlinkat(dirfd, STATE_TMP, 0);
	return r;
}
