/* SPDX-License-Identifier: Apache-2.0 */
/* Loads kernel modules with finit_module() as modprobe does: hard
 * dependencies from modules.dep first, soft dependencies (modules.softdep,
 * best effort) before and after, a name that is no module looked up in
 * modules.alias with every module it names tried. Each file is read once and
 * bounded. No libkmod (Debian has no static one), no compressed modules. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>

#include "cocoinit/log.h"
#include "cocoinit/modules.h"
#include "cocoinit/sys.h"
#include "cocoinit/util.h"

#define MODULES_DEP_MAX (16u * 1024 * 1024)
#define MODULES_BUILTIN_MAX (4u * 1024 * 1024)
#define MODULES_ALIAS_MAX (16u * 1024 * 1024)
#define MODULES_SOFTDEP_MAX (1u * 1024 * 1024)
#define MODULES_ALIAS_TARGETS_MAX 32 /* modules one alias names */
#define MODULES_ENTRIES_MAX 200000
#define MODULES_DEPS_MAX 256  /* dependencies of one module */
#define MODULES_DEPTH_MAX 64  /* dependency chain */
#define MODULES_RELEASE_MAX 65 /* struct utsname.release */

enum { ENTRY_NEW, ENTRY_VISITING, ENTRY_LOADED, ENTRY_FAILED };

struct modules_entry {
	char *path;       /* "kernel/drivers/block/virtio_blk.ko", terminated */
	char *deps;       /* NUL-separated dependency paths, ndeps of them */
	unsigned ndeps;
	const char *name; /* the basename without ".ko...": points into path */
	size_t namelen;
	int state;
	int error; /* ENTRY_FAILED: what loading it returned */
};

struct modules_ctx {
	int rootfd;
	int libfd; /* lib/modules/<release> */
	char dir[16 + MODULES_RELEASE_MAX]; /* "lib/modules/<release>", for messages */
	char *buf;
	struct modules_entry *e;
	size_t n;
	char *softdep, *alias; /* NULL until read; "" when the file is absent */
	size_t softdep_len, alias_len;
	char *err;
	size_t errsz;
	bool not_found; /* the last name looked up is nowhere: no module, built-in or alias */
};

static void modules_ctx_free(struct modules_ctx *c)
{
	free(c->buf);
	free(c->e);
	free(c->softdep);
	free(c->alias);
	closep(&c->libfd);
}

__attribute__((format(printf, 2, 3))) static void modules_err(struct modules_ctx *c, const char *fmt, ...)
{
	va_list ap;

	if (!c->err || c->errsz == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(c->err, c->errsz, fmt, ap);
	va_end(ap);
}

/* Module names treat '-' and '_' alike (the file nvme-core.ko is nvme_core). */
static bool modules_name_eq(const char *a, size_t alen, const char *b, size_t blen)
{
	if (alen != blen)
		return false;
	for (size_t i = 0; i < alen; i++) {
		char x = a[i] == '-' ? '_' : a[i];
		char y = b[i] == '-' ? '_' : b[i];
		if (x != y)
			return false;
	}
	return true;
}

static const char *const modules_suffixes[] = { ".ko", ".ko.xz", ".ko.zst", ".ko.gz" };

static bool modules_ends_with(const char *s, size_t n, const char *suffix)
{
	size_t k = strlen(suffix);
	return n >= k && memcmp(s + n - k, suffix, k) == 0;
}

/* The module name of a path: its basename without ".ko" (or ".ko.xz", ...). */
static void modules_path_name(const char *path, const char **ret_name, size_t *ret_len)
{
	const char *base = strrchr(path, '/');
	size_t n;

	base = base ? base + 1 : path;
	n = strlen(base);
	for (size_t i = 0; i < ARRAY_SIZE(modules_suffixes); i++)
		if (modules_ends_with(base, n, modules_suffixes[i])) {
			n -= strlen(modules_suffixes[i]);
			break;
		}
	*ret_name = base;
	*ret_len = n;
}

static ssize_t modules_find(const struct modules_ctx *c, const char *name, size_t len)
{
	for (size_t i = 0; i < c->n; i++)
		if (modules_name_eq(c->e[i].name, c->e[i].namelen, name, len))
			return (ssize_t)i;
	return -1;
}

/* Reads a whole file below dirfd into a malloc'd, NUL-terminated buffer. */
static int modules_slurp(int dirfd, const char *path, size_t max, char **ret, size_t *ret_len)
{
	_cleanup_close_ int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	struct stat st;
	char *buf;
	ssize_t got;
	size_t cap;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	if ((uint64_t)st.st_size > max)
		return -EFBIG;
	cap = (size_t)st.st_size + 1; /* +1 notices a file that grew */
	buf = malloc(cap + 1);
	if (!buf)
		return -ENOMEM;
	got = util_pread_all(fd, buf, cap, -1);
	if (got < 0 || (size_t)got > (size_t)st.st_size) {
		free(buf);
		return got < 0 ? (int)got : -EFBIG;
	}
	buf[got] = '\0';
	*ret = buf;
	*ret_len = (size_t)got;
	return 0;
}

/* Splits modules.dep ("path: dep dep\n" per line) in place into entries. */
static int modules_index(struct modules_ctx *c, size_t len)
{
	size_t lines = 1;

	for (size_t i = 0; i < len; i++)
		lines += c->buf[i] == '\n';
	if (lines > MODULES_ENTRIES_MAX)
		lines = MODULES_ENTRIES_MAX;
	c->e = calloc(lines, sizeof(*c->e));
	if (!c->e)
		return -ENOMEM;

	char *p = c->buf, *end = c->buf + len;
	while (p < end) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		char *eol = nl ? nl : end;
		char *colon = memchr(p, ':', (size_t)(eol - p));

		*eol = '\0';
		if (colon && colon > p && *p != '#') {
			struct modules_entry *e;

			if (c->n >= MODULES_ENTRIES_MAX) {
				modules_err(c, "%s/modules.dep has more than %d entries", c->dir, MODULES_ENTRIES_MAX);
				return -E2BIG;
			}
			e = &c->e[c->n++];
			*colon = '\0';
			e->path = p;
			modules_path_name(p, &e->name, &e->namelen);
			/* Dependencies become NUL-separated words, in their order. */
			char *o = colon + 1, *q = colon + 1;
			e->deps = o;
			while (q < eol) {
				while (q < eol && (*q == ' ' || *q == '\t' || *q == '\r'))
					q++;
				if (q >= eol)
					break;
				while (q < eol && *q != ' ' && *q != '\t' && *q != '\r')
					*o++ = *q++;
				*o++ = '\0';
				e->ndeps++;
			}
		}
		p = eol + 1;
	}
	return 0;
}

static int modules_insmod(struct modules_ctx *c, const struct modules_entry *e)
{
	char shown[LOG_ESCAPED_SIZE(128)];

	log_escape(shown, sizeof(shown), e->path, strnlen(e->path, 128));
	if (!modules_ends_with(e->path, strlen(e->path), ".ko")) {
		modules_err(c, "module %.*s: %s is compressed or not a .ko file; only uncompressed .ko modules are supported",
			    (int)e->namelen, e->name, shown);
		return -ENOTSUP;
	}

	/* depmod writes paths relative to the release directory, or absolute
	 * ones for modules outside it. */
	_cleanup_close_ int fd = e->path[0] == '/' ? openat(c->rootfd, e->path + 1, O_RDONLY | O_CLOEXEC | O_NOCTTY)
						   : openat(c->libfd, e->path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		int r = -errno;
		modules_err(c, "module %.*s: open %s/%s: %s", (int)e->namelen, e->name, c->dir, shown, strerror(-r));
		return r;
	}
	int r = sys_finit_module(fd, "", 0);
	if (r == -EEXIST) {
		log_debug("module %.*s already loaded", (int)e->namelen, e->name);
		return 0;
	}
	if (r < 0) {
		modules_err(c, "module %.*s (%s): finit_module: %s", (int)e->namelen, e->name, shown, strerror(-r));
		return r;
	}
	log_debug("module %.*s loaded", (int)e->namelen, e->name);
	return 0;
}

/* Whether lib/modules/<release>/modules.builtin names the module: a
 * built-in driver asked for by name is there already. */
static bool modules_is_builtin(struct modules_ctx *c, const char *name, size_t len)
{
	_cleanup_free_ char *buf = NULL;
	size_t n;

	if (modules_slurp(c->libfd, "modules.builtin", MODULES_BUILTIN_MAX, &buf, &n) < 0)
		return false;
	for (char *p = buf; p < buf + n;) {
		char *nl = memchr(p, '\n', (size_t)(buf + n - p));
		const char *mn;
		size_t ml;

		if (nl)
			*nl = '\0';
		modules_path_name(p, &mn, &ml);
		if (modules_name_eq(mn, ml, name, len))
			return true;
		if (!nl)
			break;
		p = nl + 1;
	}
	return false;
}

static int modules_load_name(struct modules_ctx *c, const char *name, size_t len, unsigned depth);

/* Reads modules.softdep or modules.alias once; an absent file is empty. */
static int modules_aux(struct modules_ctx *c, const char *file, size_t max, char **buf, size_t *len)
{
	int r;

	if (*buf)
		return 0;
	r = modules_slurp(c->libfd, file, max, buf, len);
	if (r == -ENOENT) {
		*buf = strdup("");
		*len = 0;
		return *buf ? 0 : -ENOMEM;
	}
	if (r == -EFBIG)
		modules_err(c, "%s/%s is larger than %zu bytes", c->dir, file, max);
	else if (r < 0)
		modules_err(c, "%s/%s: %s", c->dir, file, strerror(-r));
	return r;
}

/* The next whitespace-separated word of [*p, end): its start and length. */
static bool modules_word(const char **p, const char *end, const char **ret, size_t *ret_len)
{
	const char *q = *p;

	while (q < end && (*q == ' ' || *q == '\t' || *q == '\r'))
		q++;
	if (q >= end)
		return false;
	*ret = q;
	while (q < end && *q != ' ' && *q != '\t' && *q != '\r')
		q++;
	*ret_len = (size_t)(q - *ret);
	*p = q;
	return true;
}

/* Loads one soft dependency: best effort, as modprobe does; one that fails
 * to load is a warning, one that is nowhere a debug line. */
static void modules_load_soft(struct modules_ctx *c, const struct modules_entry *e, const char *name, size_t len,
			      unsigned depth)
{
	char why[256] = "", *saved_err = c->err;
	size_t saved_sz = c->errsz;
	int r;

	c->err = why;
	c->errsz = sizeof(why);
	c->not_found = false;
	r = modules_load_name(c, name, len, depth);
	c->err = saved_err;
	c->errsz = saved_sz;
	/* Like modprobe, say nothing of one this kernel does not have. */
	if (r < 0 && c->not_found)
		log_debug("module %.*s: soft dependency %.*s: %s", (int)e->namelen, e->name,
			  (int)(len > 64 ? 64 : len), name, why);
	else if (r < 0)
		log_warn("module %.*s: soft dependency %.*s not loaded: %s", (int)e->namelen, e->name,
			 (int)(len > 64 ? 64 : len), name, why);
	c->not_found = false; /* said; not the concern of the module that asked */
}

/* The soft dependencies modules.softdep gives e ("softdep <mod> pre: a b
 * post: c"), pre or post ones, each loaded best effort. */
static int modules_softdeps(struct modules_ctx *c, const struct modules_entry *e, bool post, unsigned depth)
{
	const char *p, *end, *w;
	size_t wl;
	int r;

	r = modules_aux(c, "modules.softdep", MODULES_SOFTDEP_MAX, &c->softdep, &c->softdep_len);
	if (r < 0)
		return r;
	end = c->softdep + c->softdep_len;
	for (p = c->softdep; p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p)), *eol = nl ? nl : end, *q = p;
		int section = 0; /* 1: pre, 2: post */

		p = eol + 1;
		if (!modules_word(&q, eol, &w, &wl) || wl != 7 || memcmp(w, "softdep", 7) != 0)
			continue;
		if (!modules_word(&q, eol, &w, &wl) || !modules_name_eq(w, wl, e->name, e->namelen))
			continue;
		while (modules_word(&q, eol, &w, &wl)) {
			if (wl == 4 && memcmp(w, "pre:", 4) == 0)
				section = 1;
			else if (wl == 5 && memcmp(w, "post:", 5) == 0)
				section = 2;
			else if (section == (post ? 2 : 1))
				modules_load_soft(c, e, w, wl, depth + 1);
		}
	}
	return 0;
}

/* Depth first: pre soft dependencies, every hard dependency (with its own),
 * the module, then its post soft dependencies. The hard list is walked from
 * its end, as modprobe does: depmod writes the dependency that must load
 * first last. A module that failed is not tried again. */
static int modules_load_entry(struct modules_ctx *c, size_t idx, unsigned depth)
{
	struct modules_entry *e = &c->e[idx];
	const char *deps[MODULES_DEPS_MAX];
	unsigned nd = 0;
	int r;

	if (e->state == ENTRY_LOADED)
		return 0;
	if (e->state == ENTRY_FAILED) {
		modules_err(c, "module %.*s failed to load before", (int)e->namelen, e->name);
		return e->error;
	}
	if (e->state == ENTRY_VISITING) {
		modules_err(c, "module %.*s: dependency loop in %s/modules.dep", (int)e->namelen, e->name, c->dir);
		return -ELOOP;
	}
	if (depth > MODULES_DEPTH_MAX || e->ndeps > MODULES_DEPS_MAX) {
		modules_err(c, "module %.*s: too many dependencies in %s/modules.dep", (int)e->namelen, e->name,
			    c->dir);
		return -ELOOP;
	}
	e->state = ENTRY_VISITING;
	r = modules_softdeps(c, e, false, depth);
	if (r < 0)
		goto fail;
	for (const char *d = e->deps; nd < e->ndeps; d += strlen(d) + 1)
		deps[nd++] = d;
	while (nd > 0) {
		const char *name;
		size_t len;
		ssize_t j;

		modules_path_name(deps[--nd], &name, &len);
		j = modules_find(c, name, len);
		if (j < 0) {
			modules_err(c, "module %.*s needs %.*s, which is not in %s/modules.dep", (int)e->namelen,
				    e->name, (int)(len > 64 ? 64 : len), name, c->dir);
			r = -ENOENT;
			goto fail;
		}
		r = modules_load_entry(c, (size_t)j, depth + 1);
		if (r < 0)
			goto fail;
	}
	r = modules_insmod(c, e);
	if (r < 0)
		goto fail;
	e->state = ENTRY_LOADED;
	return modules_softdeps(c, e, true, depth);
fail:
	e->state = ENTRY_FAILED;
	e->error = r;
	return r;
}

/* Whether s matches the shell pattern p (`*`, `?`, `[a-z]`, `[!x]`, `\x`),
 * as fnmatch(3) with no flags would say for depmod's alias patterns; glibc's
 * fnmatch would bring its wide-character machinery into a static PID 1. */
bool modules_glob(const char *p, const char *s)
{
	const char *star_p = NULL, *star_s = NULL;

	while (*s) {
		if (*p == '*') {
			star_p = ++p;
			star_s = s;
			continue;
		}
		if (*p == '[') {
			const char *q = p + 1;
			bool neg = *q == '!' || *q == '^', hit = false;

			if (neg)
				q++;
			/* a ']' right after '[' or '[!' is a member */
			do {
				char lo = *q, hi = lo;
				if (!lo)
					break;
				if (q[1] == '-' && q[2] && q[2] != ']') {
					hi = q[2];
					q += 2;
				}
				hit = hit || (*s >= lo && *s <= hi);
				q++;
			} while (*q && *q != ']');
			if (*q == ']' && hit != neg) {
				p = q + 1;
				s++;
				continue;
			}
			if (*q != ']' && *s == '[') { /* no closing ']': a literal '[' */
				p++;
				s++;
				continue;
			}
		} else if (*p == '?' || (*p == '\\' && p[1] && p[1] == *s) || (*p != '\\' && *p == *s)) {
			p += *p == '\\' ? 2 : 1;
			s++;
			continue;
		}
		if (!star_p)
			return false;
		p = star_p;
		s = ++star_s;
	}
	while (*p == '*')
		p++;
	return *p == '\0';
}

/* modprobe's alias match: '-' and '_' alike outside brackets. */
static void modules_alias_normalize(char *s)
{
	int bracket = 0;

	for (; *s; s++) {
		if (*s == '[')
			bracket = 1;
		else if (*s == ']')
			bracket = 0;
		else if (*s == '-' && !bracket)
			*s = '_';
	}
}

/* A name that is no module: every module modules.alias names for it is
 * tried; it is loaded when one of them loads. */
static int modules_load_alias(struct modules_ctx *c, const char *name, size_t len, unsigned depth, bool *ret_found)
{
	char want[65], pat[256], failed[384] = "", why[256], shown[LOG_ESCAPED_SIZE(64)];
	size_t targets[MODULES_ALIAS_TARGETS_MAX], nt = 0, flen = 0;
	const char *p, *end, *w;
	unsigned loaded = 0;
	int first_err = 0, r;
	size_t wl;

	*ret_found = false;
	if (len >= sizeof(want))
		return 0;
	memcpy(want, name, len);
	want[len] = '\0';
	modules_alias_normalize(want);
	r = modules_aux(c, "modules.alias", MODULES_ALIAS_MAX, &c->alias, &c->alias_len);
	if (r < 0)
		return r;
	end = c->alias + c->alias_len;
	for (p = c->alias; p < end && nt < MODULES_ALIAS_TARGETS_MAX;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p)), *eol = nl ? nl : end, *q = p;
		ssize_t j;

		p = eol + 1;
		if (!modules_word(&q, eol, &w, &wl) || wl != 5 || memcmp(w, "alias", 5) != 0)
			continue;
		if (!modules_word(&q, eol, &w, &wl) || wl >= sizeof(pat))
			continue;
		/* most of the file is device aliases ("pci:v...", "acpi*:..."):
		 * a different literal first character cannot match */
		if (!strchr("*?[", w[0]) && (w[0] == '-' ? '_' : w[0]) != want[0])
			continue;
		memcpy(pat, w, wl);
		pat[wl] = '\0';
		modules_alias_normalize(pat);
		if (!modules_glob(pat, want) || !modules_word(&q, eol, &w, &wl))
			continue;
		j = modules_find(c, w, wl);
		if (j < 0)
			continue; /* an alias of a module this tree does not have */
		bool dup = false;
		for (size_t k = 0; k < nt; k++)
			dup = dup || targets[k] == (size_t)j;
		if (!dup)
			targets[nt++] = (size_t)j;
	}
	if (nt == 0)
		return 0;
	*ret_found = true;
	for (size_t k = 0; k < nt; k++) {
		char *saved_err = c->err;
		size_t saved_sz = c->errsz;
		const struct modules_entry *t = &c->e[targets[k]];

		why[0] = '\0';
		c->err = why;
		c->errsz = sizeof(why);
		r = modules_load_entry(c, targets[k], depth + 1);
		c->err = saved_err;
		c->errsz = saved_sz;
		if (r == 0) {
			loaded++;
			continue;
		}
		if (!first_err)
			first_err = r;
		if (flen < sizeof(failed))
			flen += (size_t)snprintf(failed + flen, sizeof(failed) - flen, "%s%.*s (%s)",
						 flen ? ", " : "", (int)t->namelen, t->name, why);
	}
	if (loaded == 0) {
		modules_err(c, "module %s: no module for this alias loaded: %s",
			    log_escape(shown, sizeof(shown), name, len), failed);
		return first_err;
	}
	if (first_err)
		log_debug("module alias %s: %u of %zu modules loaded; failed: %s",
			  log_escape(shown, sizeof(shown), name, len), loaded, nt, failed);
	return 0;
}

/* A module name, a built-in one, or an alias. */
static int modules_load_name(struct modules_ctx *c, const char *name, size_t len, unsigned depth)
{
	char shown[LOG_ESCAPED_SIZE(64)];
	ssize_t j = modules_find(c, name, len);
	bool found;
	int r;

	if (j >= 0)
		return modules_load_entry(c, (size_t)j, depth);
	log_escape(shown, sizeof(shown), name, len > 64 ? 64 : len);
	if (depth > MODULES_DEPTH_MAX) {
		modules_err(c, "module %s: soft dependencies nested too deep", shown);
		return -ELOOP;
	}
	if (modules_is_builtin(c, name, len)) {
		log_debug("module %s is built into the kernel", shown);
		return 0;
	}
	r = modules_load_alias(c, name, len, depth, &found);
	if (r < 0 || found)
		return r;
	modules_err(c, "module %s not found in %s/modules.dep", shown, c->dir);
	c->not_found = true;
	return -ENOENT;
}

static bool modules_release_ok(const char *r)
{
	size_t n = strnlen(r, MODULES_RELEASE_MAX);

	if (n == 0 || n >= MODULES_RELEASE_MAX || strcmp(r, ".") == 0 || strcmp(r, "..") == 0)
		return false;
	return strchr(r, '/') == NULL;
}

int modules_load(int rootfd, const char *release, const char (*names)[64], size_t n, char *err, size_t errsz)
{
	struct modules_ctx c = { .rootfd = rootfd, .libfd = -1, .err = err, .errsz = errsz };
	struct utsname u;
	size_t len;
	int r;

	if (n == 0)
		return 0;
	if (!release) {
		if (uname(&u) < 0)
			return -errno;
		release = u.release;
	}
	if (!modules_release_ok(release)) {
		modules_err(&c, "kernel release is not a directory name");
		return -EINVAL;
	}
	snprintf(c.dir, sizeof(c.dir), "lib/modules/%s", release);

	c.libfd = openat(rootfd, c.dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (c.libfd < 0) {
		r = -errno;
		modules_err(&c, "%s: %s", c.dir, strerror(-r));
		return r;
	}
	r = modules_slurp(c.libfd, "modules.dep", MODULES_DEP_MAX, &c.buf, &len);
	if (r < 0) {
		if (r == -EFBIG)
			modules_err(&c, "%s/modules.dep is larger than %u bytes", c.dir, MODULES_DEP_MAX);
		else
			modules_err(&c, "%s/modules.dep: %s", c.dir, strerror(-r));
		goto out;
	}
	r = modules_index(&c, len);
	if (r < 0) {
		if (r == -ENOMEM)
			modules_err(&c, "%s/modules.dep: %s", c.dir, strerror(-r));
		goto out;
	}

	for (size_t i = 0; i < n; i++) {
		r = modules_load_name(&c, names[i], strnlen(names[i], 64), 0);
		if (r < 0)
			goto out;
	}
	r = 0;
out:
	modules_ctx_free(&c);
	return r;
}
