/* SPDX-License-Identifier: Apache-2.0 */
/* Shared test support for real images and real fds (see fixture.h). Test
 * code only: it runs shell commands it is given as they are, and fails the
 * running test at the first thing that goes wrong. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#include <cmocka.h>

#include "cocoinit/initdata.h"
#include "cocoinit/util.h"
#include "fixture.h"

static char fixture_dir[64];

void fixture_dir_create(const char *tag)
{
	const char *path = getenv("PATH");
	char newpath[4096];

	snprintf(newpath, sizeof(newpath), "%s:/usr/sbin:/sbin", path ? path : "/usr/bin:/bin");
	setenv("PATH", newpath, 1);
	snprintf(fixture_dir, sizeof(fixture_dir), "/tmp/cocoinit-%s-XXXXXX", tag);
	if (!mkdtemp(fixture_dir))
		fail_msg("mkdtemp %s failed", fixture_dir);
}

int fixture_dir_remove(void)
{
	char cmd[128];

	if (!fixture_dir[0])
		return 0;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fixture_dir);
	return system(cmd) == 0 ? 0 : -1;
}

char *fixture_path(const char *name)
{
	static char p[8][256];
	static unsigned i;
	char *out = p[i++ % 8];

	snprintf(out, sizeof(p[0]), "%s/%s", fixture_dir, name);
	return out;
}

void fixture_run(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;
	int r;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	r = system(cmd);
	if (r != 0)
		fail_msg("command failed (%d): %s", r, cmd);
}

int fixture_capture(char *out, size_t outsz, const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;
	FILE *p;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	p = popen(cmd, "r");
	if (!p)
		fail_msg("popen failed: %s", cmd);
	if (!fgets(out, (int)outsz, p))
		out[0] = '\0';
	out[strcspn(out, "\n")] = '\0';
	return pclose(p);
}

void fixture_need_tool(const char *tool, const char *pkg)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null 2>&1", tool);
	if (system(cmd) != 0)
		fail_msg("%s is missing: install %s (scripts/deps does)", tool, pkg);
}

void fixture_loop_attach(const char *image, char *dev, size_t devsz)
{
	int r = fixture_capture(dev, devsz, "losetup --find --show --read-only '%s'", image);

	if (r != 0 || strncmp(dev, "/dev/loop", 9) != 0)
		fail_msg("losetup failed (%d): this test needs root and loop devices", r);
}

void fixture_loop_detach(const char *dev)
{
	fixture_run("losetup -d %s", dev);
}

uint8_t *fixture_gzip(const void *in, size_t len, size_t *ret_len)
{
	z_stream zs = { 0 };
	size_t cap = compressBound(len) + 64;
	uint8_t *out = malloc(cap);

	assert_non_null(out);
	assert_int_equal(deflateInit2(&zs, 9, Z_DEFLATED, 16 + MAX_WBITS, 9, Z_DEFAULT_STRATEGY), Z_OK);
	zs.next_in = (Bytef *)(uintptr_t)in;
	zs.avail_in = (uInt)len;
	zs.next_out = out;
	zs.avail_out = (uInt)cap;
	assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
	*ret_len = zs.total_out;
	deflateEnd(&zs);
	return out;
}

void fixture_write_raw(const char *path, uint64_t L, const void *payload, size_t n, size_t align)
{
	uint8_t hdr[INITDATA_HEADER_SIZE], zero[512] = { 0 };
	size_t total = sizeof(hdr) + n, pad = (align - total % align) % align;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	assert_true(fd >= 0);
	memcpy(hdr, INITDATA_MAGIC, 8);
	for (int i = 0; i < 8; i++)
		hdr[8 + i] = (uint8_t)(L >> (8 * i));
	assert_int_equal(util_write_all(fd, hdr, sizeof(hdr)), 0);
	assert_int_equal(util_write_all(fd, payload, n), 0);
	while (pad > 0) {
		size_t k = pad < sizeof(zero) ? pad : sizeof(zero);

		assert_int_equal(util_write_all(fd, zero, k), 0);
		pad -= k;
	}
	close(fd);
}

void fixture_assert_cloexec(int fd)
{
	int flags = fcntl(fd, F_GETFD);

	if (flags < 0 || !(flags & FD_CLOEXEC))
		fail_msg("fd %d: FD_CLOEXEC is not set (F_GETFD gave %d)", fd, flags);
}

void fixture_assert_sockopt(int fd, int level, int name, int want)
{
	int v = 0;
	socklen_t len = sizeof(v);

	assert_int_equal(getsockopt(fd, level, name, &v, &len), 0);
	if (v != want)
		fail_msg("fd %d: socket option %d/%d is %d, want %d", fd, level, name, v, want);
}
