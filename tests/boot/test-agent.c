/* SPDX-License-Identifier: Apache-2.0 */
/* The agent of the boot tests: reports what it received from cocoinit as
 * "AGENT ..." lines (pid, environment, fds, signal mask, mounts, state.json,
 * the initdata files, a loopback connection to each vsock listener), then
 * powers off or exits. /etc/test-agent.conf (key=value lines) selects extra
 * behaviour: orphan=1 leaves a zombie orphan for PID 1 to reap, exit=N
 * exits with N instead of powering off, file=PATH (repeatable) reports that
 * file's mode, size, SHA-256 and lines, dir=PATH (repeatable) lists that
 * directory, vsock_passfd_echo=NAME:PORT,...
 * runs a passfd stream round trip per listener. The report goes to /dev/ttyS1 when
 * the VM has a second serial port (no kernel messages there), else stdout. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/reboot.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include <linux/vm_sockets.h>

#include "cocoinit/listenfds.h"

extern char **environ;

static int out_fd = STDOUT_FILENO;

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	char line[8192];
	va_list ap;
	int n;

	memcpy(line, "AGENT ", 6);
	va_start(ap, fmt);
	n = vsnprintf(line + 6, sizeof(line) - 8, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(line) - 8)
		n = (int)sizeof(line) - 8;
	n += 6;
	line[n++] = '\n';
	/* One write per line keeps lines whole. */
	if (write(out_fd, line, (size_t)n) < 0)
		return;
}

/* Printable ASCII kept, everything else \xNN: the report is one line per item. */
static void escape(char *out, size_t outsz, const char *in, size_t len)
{
	size_t o = 0;

	for (size_t i = 0; i < len && o + 5 < outsz; i++) {
		unsigned char c = (unsigned char)in[i];

		if (c >= 0x20 && c < 0x7f && c != '\\')
			out[o++] = (char)c;
		else
			o += (size_t)snprintf(out + o, outsz - o, "\\x%02x", c);
	}
	out[o] = '\0';
}

static ssize_t slurp(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t got = 0;

	if (fd < 0)
		return -errno;
	while (got < size - 1) {
		ssize_t r = read(fd, buf + got, size - 1 - got);
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	buf[got] = '\0';
	return (ssize_t)got;
}

/* SHA-256 (FIPS 180-4), so the host can compare a file byte for byte
 * through a one-line digest instead of a dump. */
struct sha256 {
	uint32_t h[8];
	uint8_t buf[64];
	uint64_t len;
	size_t used;
};

static const uint32_t sha256_k[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
	0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
	0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
	0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
	0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static uint32_t ror32(uint32_t x, unsigned n)
{
	return (x >> n) | (x << (32 - n));
}

static void sha256_block(struct sha256 *c, const uint8_t *p)
{
	uint32_t w[64], v[8], t1, t2;

	for (int i = 0; i < 16; i++)
		w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 | (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
	for (int i = 16; i < 64; i++)
		w[i] = w[i - 16] + (ror32(w[i - 15], 7) ^ ror32(w[i - 15], 18) ^ (w[i - 15] >> 3)) + w[i - 7] +
		       (ror32(w[i - 2], 17) ^ ror32(w[i - 2], 19) ^ (w[i - 2] >> 10));
	memcpy(v, c->h, sizeof(v));
	for (int i = 0; i < 64; i++) {
		t1 = v[7] + (ror32(v[4], 6) ^ ror32(v[4], 11) ^ ror32(v[4], 25)) + ((v[4] & v[5]) ^ (~v[4] & v[6])) +
		     sha256_k[i] + w[i];
		t2 = (ror32(v[0], 2) ^ ror32(v[0], 13) ^ ror32(v[0], 22)) + ((v[0] & v[1]) ^ (v[0] & v[2]) ^ (v[1] & v[2]));
		memmove(v + 1, v, 7 * sizeof(v[0]));
		v[4] += t1;
		v[0] = t1 + t2;
	}
	for (int i = 0; i < 8; i++)
		c->h[i] += v[i];
}

static void sha256_init(struct sha256 *c)
{
	static const uint32_t h0[8] = { 0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
					0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19 };

	memset(c, 0, sizeof(*c));
	memcpy(c->h, h0, sizeof(h0));
}

static void sha256_update(struct sha256 *c, const uint8_t *p, size_t n)
{
	c->len += n;
	while (n > 0) {
		size_t k = 64 - c->used < n ? 64 - c->used : n;

		memcpy(c->buf + c->used, p, k);
		c->used += k;
		p += k;
		n -= k;
		if (c->used == 64) {
			sha256_block(c, c->buf);
			c->used = 0;
		}
	}
}

static void sha256_hex(struct sha256 *c, char out[65])
{
	uint64_t bits = c->len * 8;
	uint8_t pad[72] = { 0x80 };
	size_t padlen = (c->used < 56 ? 56 : 120) - c->used;

	for (int i = 0; i < 8; i++)
		pad[padlen + (size_t)i] = (uint8_t)(bits >> (56 - 8 * i));
	sha256_update(c, pad, padlen + 8);
	for (int i = 0; i < 8; i++)
		snprintf(out + 8 * i, 9, "%08x", c->h[i]);
}

/* "file PATH mode=0400 uid=0 size=N sha256=HEX", then each line as
 * "filedata PATH LINE": what a reader of that file would get. */
static void report_file(const char *path)
{
	static uint8_t buf[65536];
	uint8_t more[4096];
	char hex[65], esc[4096];
	struct sha256 c;
	struct stat s;
	size_t got = 0, total;
	ssize_t r = 0;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		say("file %s missing %s", path, strerror(errno));
		return;
	}
	if (fstat(fd, &s) < 0) {
		say("file %s fstat-failed %s", path, strerror(errno));
		close(fd);
		return;
	}
	sha256_init(&c);
	/* The first 64 KiB are kept for the lines; the digest covers all. */
	while (got < sizeof(buf) - 1 && (r = read(fd, buf + got, sizeof(buf) - 1 - got)) > 0)
		got += (size_t)r;
	sha256_update(&c, buf, got);
	total = got;
	while (r > 0 && (r = read(fd, more, sizeof(more))) > 0) {
		sha256_update(&c, more, (size_t)r);
		total += (size_t)r;
	}
	close(fd);
	sha256_hex(&c, hex);
	say("file %s mode=%04o uid=%u size=%zu sha256=%s%s", path, (unsigned)(s.st_mode & 07777), (unsigned)s.st_uid,
	    total, hex, r < 0 ? " read-failed" : "");
	buf[got] = '\0';
	for (char *l = (char *)buf, *e; got > 0 && *l; l = e + 1) {
		e = strchr(l, '\n');
		if (!e)
			e = l + strlen(l);
		escape(esc, sizeof(esc), l, (size_t)(e - l));
		say("filedata %s %s", path, esc);
		if (!*e)
			break;
	}
}

/* "read PATH ok size=N" or "read PATH errno=EIO": reads the whole file,
 * so a block that fails verification shows as the errno a reader gets. */
static void report_read(const char *path)
{
	static char buf[65536];
	size_t total = 0;
	ssize_t r;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		say("read %s open errno=%s", path, errno == ENOENT ? "ENOENT" : strerror(errno));
		return;
	}
	while ((r = read(fd, buf, sizeof(buf))) > 0)
		total += (size_t)r;
	if (r < 0)
		say("read %s errno=%s", path, errno == EIO ? "EIO" : strerror(errno));
	else
		say("read %s ok size=%zu", path, total);
	close(fd);
}

/* "runout LINE" for each line the command prints (stdout and stderr), then
 * "run CMDLINE exit=N": for the tool mode run from inside the guest. */
static void report_run(char *cmdline)
{
	char shown[512], buf[8192], esc[1024];
	char *argv[16];
	size_t argc = 0, got = 0;
	int p[2], status = 0;
	pid_t pid;
	ssize_t r;

	snprintf(shown, sizeof(shown), "%s", cmdline);
	for (char *save = NULL, *a = strtok_r(cmdline, " ", &save); a && argc < 15; a = strtok_r(NULL, " ", &save))
		argv[argc++] = a;
	argv[argc] = NULL;
	if (argc == 0 || pipe2(p, O_CLOEXEC) < 0 || (pid = fork()) < 0) {
		say("run %s start-failed", shown);
		return;
	}
	if (pid == 0) {
		dup2(p[1], 1);
		dup2(p[1], 2);
		execv(argv[0], argv);
		_exit(127);
	}
	close(p[1]);
	while (got < sizeof(buf) - 1 && (r = read(p[0], buf + got, sizeof(buf) - 1 - got)) > 0)
		got += (size_t)r;
	close(p[0]);
	waitpid(pid, &status, 0);
	buf[got] = '\0';
	for (char *l = buf, *e; *l; l = e + 1) {
		e = strchr(l, '\n');
		if (!e)
			e = l + strlen(l);
		escape(esc, sizeof(esc), l, (size_t)(e - l));
		say("runout %s", esc);
		if (!*e)
			break;
	}
	say("run %s exit=%d", shown, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

/* "dir PATH mode=0700 uid=0", then "dirent PATH NAME" for each entry:
 * whatever a half-finished extraction left behind shows up here. */
static void report_dir(const char *path)
{
	char esc[1024];
	struct dirent *de;
	struct stat s;
	DIR *d;

	if (stat(path, &s) < 0) {
		say("dir %s missing %s", path, strerror(errno));
		return;
	}
	say("dir %s mode=%04o uid=%u", path, (unsigned)(s.st_mode & 07777), (unsigned)s.st_uid);
	d = opendir(path);
	while (d && (de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		escape(esc, sizeof(esc), de->d_name, strlen(de->d_name));
		say("dirent %s %s", path, esc);
	}
	if (d)
		closedir(d);
}

static char conf[4096];

static const char *conf_get(const char *key)
{
	static char val[128];
	size_t kl = strlen(key);

	for (const char *p = conf; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
		if (strncmp(p, key, kl) == 0 && p[kl] == '=') {
			size_t n = strcspn(p + kl + 1, "\n");
			if (n >= sizeof(val))
				n = sizeof(val) - 1;
			memcpy(val, p + kl + 1, n);
			val[n] = '\0';
			return val;
		}
	}
	return NULL;
}

static void report_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int self = d ? dirfd(d) : -1;

	while (d && (de = readdir(d))) {
		char path[64], target[256];
		int fd = atoi(de->d_name);
		ssize_t n;

		if (de->d_name[0] == '.' || fd == self || fd == out_fd)
			continue;
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		n = readlink(path, target, sizeof(target) - 1);
		target[n < 0 ? 0 : n] = '\0';
		say("fd %d %s cloexec=%d", fd, target, (fcntl(fd, F_GETFD) & FD_CLOEXEC) ? 1 : 0);
	}
	if (d)
		closedir(d);
}

static void report_status(void)
{
	char buf[4096];

	if (slurp("/proc/self/status", buf, sizeof(buf)) <= 0)
		return;
	for (char *l = strtok(buf, "\n"); l; l = strtok(NULL, "\n"))
		if (strncmp(l, "SigBlk:", 7) == 0 || strncmp(l, "SigIgn:", 7) == 0 || strncmp(l, "PPid:", 5) == 0)
			say("status %s", l);
}

static void report_file_lines(const char *tag, const char *path)
{
	static char buf[65536];
	char esc[4096];

	if (slurp(path, buf, sizeof(buf)) < 0) {
		say("%s missing %s", tag, path);
		return;
	}
	for (char *l = strtok(buf, "\n"); l; l = strtok(NULL, "\n")) {
		escape(esc, sizeof(esc), l, strlen(l));
		say("%s %s", tag, esc);
	}
}

/* The raw serial attributes, as cocoinit would read them: virtio-blk
 * `serial` ("serial"), NVMe `device/serial` ("nvme-serial", padding kept),
 * SCSI `device/vpd_pg80` ("scsi-serial", the page's payload). */
static void report_serials(void)
{
	DIR *d = opendir("/sys/block");
	struct dirent *de;

	while (d && (de = readdir(d))) {
		char path[300], buf[256], esc[1024];
		ssize_t n;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/sys/block/%s/serial", de->d_name);
		n = slurp(path, buf, sizeof(buf));
		if (n >= 0) {
			escape(esc, sizeof(esc), buf, (size_t)n);
			say("serial /dev/%s %s", de->d_name, esc);
		}
		snprintf(path, sizeof(path), "/sys/block/%s/device/serial", de->d_name);
		n = slurp(path, buf, sizeof(buf));
		if (n >= 0) {
			if (n > 0 && buf[n - 1] == '\n')
				n--;
			escape(esc, sizeof(esc), buf, (size_t)n);
			say("nvme-serial /dev/%s %s", de->d_name, esc);
		}
		snprintf(path, sizeof(path), "/sys/block/%s/device/vpd_pg80", de->d_name);
		n = slurp(path, buf, sizeof(buf));
		if (n >= 4) {
			size_t len = (size_t)((unsigned char)buf[2] << 8 | (unsigned char)buf[3]);

			if (len > (size_t)n - 4)
				len = (size_t)n - 4;
			escape(esc, sizeof(esc), buf + 4, len);
			say("scsi-serial /dev/%s %s", de->d_name, esc);
		}
	}
	if (d)
		closedir(d);
}

/* Takes each passed listener the way an agent would and connects to it
 * through vsock_loopback (CID 1): a listener that is not listening fails. */
static void report_listeners(void)
{
	const char *names = getenv("LISTEN_FDNAMES");
	char copy[2048]; /* 17 names of 63 bytes */

	if (!names)
		return;
	snprintf(copy, sizeof(copy), "%s", names);
	for (char *name = strtok(copy, ":"); name; name = strtok(NULL, ":")) {
		int fd = listenfds_take(name, AF_VSOCK, 0);
		struct sockaddr_vm sa = { .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_LOCAL };
		socklen_t sl = sizeof(sa);
		int c, a;

		if (fd < 0) {
			say("listener %s take-failed %s", name, strerror(-fd));
			continue;
		}
		if (getsockname(fd, (struct sockaddr *)&sa, &sl) < 0) {
			say("listener %s getsockname-failed %s", name, strerror(errno));
			continue;
		}
		sa.svm_cid = VMADDR_CID_LOCAL;
		c = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (c < 0 || connect(c, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			say("listener %s fd=%d port=%u connect-failed %s", name, fd, sa.svm_port, strerror(errno));
			continue;
		}
		a = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
		say("listener %s fd=%d port=%u %s", name, fd, sa.svm_port, a >= 0 ? "accepted" : strerror(errno));
		if (a >= 0)
			close(a);
		close(c);
	}
}

/* vsock_passfd_echo=NAME:PORT[,NAME:PORT...]: Kata's passfd streams end to
 * end. Each listener is taken by name as an agent would; a child connects
 * through CID 1 and says so over a pipe before the agent has ever called
 * accept (connect() returning 0 means the backlog held it); only then does
 * the agent take the stream by the child's local port with the acceptor
 * and echo a payload. A name that was not passed reports instead whether
 * anything listens on its port. Lines: "vsock-echo NAME ...". */
#define ECHO_TIMEOUT_MS 10000

static int echo_wait(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int r;

	do
		r = poll(&p, 1, ECHO_TIMEOUT_MS);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	return r == 0 ? -ETIMEDOUT : 0;
}

/* Exactly n bytes, or an error (-EPIPE at EOF). */
static int echo_read_all(int fd, char *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r;
		int w = echo_wait(fd);

		if (w < 0)
			return w;
		r = read(fd, buf + got, n - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -EPIPE;
		got += (size_t)r;
	}
	return 0;
}

static int echo_connect(unsigned port, unsigned *ret_local)
{
	struct sockaddr_vm sa = { .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_LOCAL, .svm_port = port };
	socklen_t sl = sizeof(sa);
	int s = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (s < 0)
		return -errno;
	if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0 || getsockname(s, (struct sockaddr *)&sa, &sl) < 0) {
		int r = -errno;

		close(s);
		return r;
	}
	*ret_local = sa.svm_port;
	return s;
}

static int echo_payload(char *buf, size_t size, const char *name, unsigned local)
{
	return snprintf(buf, size, "payload for %s from port %u", name, local);
}

static _Noreturn void echo_child(const char *name, unsigned port, int report)
{
	char msg[64], payload[128], back[128];
	unsigned local = 0;
	int s = echo_connect(port, &local);
	int n, r;

	n = snprintf(msg, sizeof(msg), "%d %u", s < 0 ? -s : 0, local);
	if (write(report, msg, (size_t)n) != n)
		_exit(2);
	close(report);
	if (s < 0)
		_exit(1);
	n = echo_payload(payload, sizeof(payload), name, local);
	if (write(s, payload, (size_t)n) != n) {
		say("vsock-echo %s child local_port=%u write-failed %s", name, local, strerror(errno));
		_exit(1);
	}
	r = echo_read_all(s, back, (size_t)n);
	if (r < 0)
		say("vsock-echo %s child local_port=%u echo-failed %s", name, local, strerror(-r));
	else if (memcmp(back, payload, (size_t)n) != 0)
		say("vsock-echo %s child local_port=%u echo-differs", name, local);
	else
		say("vsock-echo %s child local_port=%u echo-ok", name, local);
	_exit(r < 0);
}

static void echo_unbound(const char *name, unsigned port)
{
	unsigned local = 0;
	int s = echo_connect(port, &local);

	if (s >= 0) {
		say("vsock-echo %s port=%u unbound connected local_port=%u", name, port, local);
		close(s);
	} else {
		say("vsock-echo %s port=%u unbound connect-failed %s", name, port, strerror(-s));
	}
}

static void echo_stream(const char *name, int s, unsigned local)
{
	struct sockaddr_vm peer = { 0 };
	socklen_t pl = sizeof(peer);
	char want[128], got[128];
	int n, r;

	if (getpeername(s, (struct sockaddr *)&peer, &pl) < 0) {
		say("vsock-echo %s stream getpeername-failed %s", name, strerror(errno));
		return;
	}
	say("vsock-echo %s stream peer_port=%u peer_cid=%u", name, peer.svm_port, peer.svm_cid);
	n = echo_payload(want, sizeof(want), name, local);
	r = echo_read_all(s, got, (size_t)n);
	if (r < 0) {
		say("vsock-echo %s read-failed %s", name, strerror(-r));
		return;
	}
	if (memcmp(got, want, (size_t)n) != 0) {
		say("vsock-echo %s payload-differs", name);
		return;
	}
	if (write(s, got, (size_t)n) != n) {
		say("vsock-echo %s write-failed %s", name, strerror(errno));
		return;
	}
	say("vsock-echo %s echoed %d bytes", name, n);
}

static void echo_one(const char *name, unsigned port)
{
	struct listenfds_acceptor a;
	char msg[64];
	unsigned local = 0;
	int fd, p[2], err = -1, status = 0, flags, s, r;
	ssize_t n;
	pid_t pid;

	fd = listenfds_take(name, AF_VSOCK, port);
	if (fd < 0) {
		say("vsock-echo %s take-failed %s", name, strerror(-fd));
		echo_unbound(name, port);
		return;
	}
	if (pipe2(p, O_CLOEXEC) < 0 || (pid = fork()) < 0) {
		say("vsock-echo %s fork-failed %s", name, strerror(errno));
		return;
	}
	if (pid == 0) {
		close(p[0]);
		echo_child(name, port, p[1]);
	}
	close(p[1]);
	/* No accept on fd until the child has connected. */
	r = echo_wait(p[0]);
	n = r < 0 ? -1 : read(p[0], msg, sizeof(msg) - 1);
	close(p[0]);
	if (n > 0) {
		msg[n] = '\0';
		if (sscanf(msg, "%d %u", &err, &local) != 2)
			err = -1;
	}
	if (err != 0) {
		say("vsock-echo %s fd=%d port=%u child-connect-failed %s", name, fd, port,
		    err > 0 ? strerror(err) : "no-word-from-child");
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return;
	}
	say("vsock-echo %s fd=%d port=%u child-connected local_port=%u before-accept", name, fd, port, local);

	flags = fcntl(fd, F_GETFL);
	listenfds_acceptor_init(&a, fd);
	s = listenfds_acceptor_take(&a, local, ECHO_TIMEOUT_MS);
	if (s < 0) {
		say("vsock-echo %s acceptor-take port=%u failed %s", name, local, strerror(-s));
	} else {
		echo_stream(name, s, local);
		close(s);
	}
	listenfds_acceptor_close(&a);
	/* The acceptor made the listener non-blocking; the report after this one
	 * accepts in blocking mode. */
	if (flags >= 0)
		fcntl(fd, F_SETFL, flags);
	waitpid(pid, &status, 0);
	say("vsock-echo %s child exit=%d", name, WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
}

static void vsock_passfd_echo(const char *spec)
{
	char copy[256], *save = NULL;

	snprintf(copy, sizeof(copy), "%s", spec);
	for (char *e = strtok_r(copy, ",", &save); e; e = strtok_r(NULL, ",", &save)) {
		char *colon = strchr(e, ':');

		if (!colon) {
			say("vsock-echo bad-conf %s", e);
			continue;
		}
		*colon = '\0';
		echo_one(e, (unsigned)strtoul(colon + 1, NULL, 10));
	}
}

static void sleep_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* A child forks a grandchild and exits at once, so the grandchild is
 * reparented to PID 1; the grandchild exits once that has happened. Only
 * PID 1 can reap it: the report says whether /proc/<pid> went away. */
static void orphan(void)
{
	int pfd[2];
	pid_t child, g = 0;
	char buf[32];
	ssize_t n;
	int i;

	if (pipe2(pfd, O_CLOEXEC) < 0)
		return;
	child = fork();
	if (child == 0) {
		pid_t gc = fork();

		if (gc == 0) {
			pid_t parent = getppid();

			/* Wait until the child is gone and this process belongs to PID 1. */
			for (i = 0; i < 500 && getppid() == parent; i++)
				sleep_ms(10);
			_exit(0);
		}
		n = snprintf(buf, sizeof(buf), "%d", (int)gc);
		if (write(pfd[1], buf, (size_t)n) < 0)
			_exit(2);
		_exit(0);
	}
	close(pfd[1]);
	n = read(pfd[0], buf, sizeof(buf) - 1);
	if (n > 0) {
		buf[n] = '\0';
		g = atoi(buf);
	}
	/* EOF: the child and the grandchild have both exited. */
	while (read(pfd[0], buf, sizeof(buf)) > 0)
		;
	close(pfd[0]);
	waitpid(child, NULL, 0);
	if (g <= 0) {
		say("orphan failed");
		return;
	}
	for (i = 0; i < 500; i++) {
		char path[64];
		struct stat s;

		snprintf(path, sizeof(path), "/proc/%d", (int)g);
		if (stat(path, &s) < 0) {
			say("orphan reaped pid=%d", (int)g);
			return;
		}
		sleep_ms(10);
	}
	say("orphan zombie pid=%d", (int)g);
}

int main(int argc, char **argv)
{
	char esc[2048];
	const char *dir, *exit_code;
	int tty;

	tty = open("/dev/ttyS1", O_WRONLY | O_NOCTTY | O_CLOEXEC);
	if (tty >= 0) {
		struct termios t;

		/* Raw output: no "\n" -> "\r\n" surprises in the report file. */
		if (tcgetattr(tty, &t) == 0) {
			t.c_oflag &= ~(tcflag_t)OPOST;
			tcsetattr(tty, TCSANOW, &t);
		}
		out_fd = tty;
	}
	slurp("/etc/test-agent.conf", conf, sizeof(conf));

	say("start pid=%d argv0=%s", (int)getpid(), argv[0]);
	for (char **e = environ; *e; e++) {
		escape(esc, sizeof(esc), *e, strlen(*e));
		say("env %s", esc);
	}
	report_fds();
	report_status();
	/* What the hand-off set for the agent, in its own view. */
	report_file_lines("self oom_score_adj", "/proc/self/oom_score_adj");
	report_file_lines("self limits", "/proc/self/limits");
	report_file_lines("modules_disabled", "/proc/sys/kernel/modules_disabled");
	for (int fd = 0; fd < 3; fd++) {
		struct stat s;

		if (fstat(fd, &s) == 0)
			say("stdio %d %s %u:%u", fd, S_ISCHR(s.st_mode) ? "chr" : "other", major(s.st_rdev),
			    minor(s.st_rdev));
		else
			say("stdio %d closed", fd);
	}
	report_file_lines("mount", "/proc/mounts");
	report_serials();
	report_file_lines("state", "/run/cocoinit/state.json");
	dir = getenv("COCOINIT_INITDATA_DIR");
	if (dir) {
		char path[512];

		snprintf(path, sizeof(path), "%s/initdata.toml", dir);
		report_file_lines("initdata", path);
		report_dir(dir);
		if (access(path, F_OK) == 0)
			report_file(path);
	}
	for (const char *p = conf; *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : p + strlen(p)) {
		char path[512];
		size_t n;
		bool rd = strncmp(p, "read=", 5) == 0, run = strncmp(p, "run=", 4) == 0;

		bool is_dir = strncmp(p, "dir=", 4) == 0;
		size_t k = is_dir ? 4 : 5;

		if (run) {
			n = strcspn(p + 4, "\n");
			if (n < sizeof(path)) {
				memcpy(path, p + 4, n);
				path[n] = '\0';
				report_run(path);
			}
			continue;
		}
		if (strncmp(p, "file=", 5) != 0 && !rd && !is_dir)
			continue;
		n = strcspn(p + k, "\n");
		if (n >= sizeof(path))
			continue;
		memcpy(path, p + k, n);
		path[n] = '\0';
		if (is_dir)
			report_dir(path);
		else if (rd)
			report_read(path);
		else
			report_file(path);
	}
	/* Before report_listeners(): its accepts must not come first. */
	if (conf_get("vsock_passfd_echo"))
		vsock_passfd_echo(conf_get("vsock_passfd_echo"));
	report_listeners();
	if (conf_get("orphan"))
		orphan();
	exit_code = conf_get("exit");
	say("done");
	tcdrain(out_fd);
	if (exit_code)
		return atoi(exit_code);
	sync();
	reboot(RB_POWER_OFF);
	say("poweroff failed: %s", strerror(errno));
	for (;;)
		pause();
}
