/* SPDX-License-Identifier: Apache-2.0 */
/* Disk serials: parsing the sysfs attributes (virtio-blk `serial`, NVMe
 * `device/serial`, SCSI `device/vpd_pg80`) and udev's by-id name for a virtio
 * serial, step for step as systemd-udevd computes it (FACTS.md). Every byte
 * here is host input: reads are bounded and nothing is allocated. */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cocoinit/serial.h"
#include "cocoinit/util.h"

/* What a read of an attribute may bring in: a VPD header plus one byte more
 * than the longest serial we accept, so an over-long one is noticed. */
#define SERIAL_READ_MAX (4 + SERIAL_MAX + 1)

static int serial_store(const uint8_t *p, size_t n, char *out, size_t *ret_len)
{
	if (n == 0)
		return -ENODATA;
	if (n > SERIAL_MAX)
		return -EBADMSG;
	memcpy(out, p, n);
	out[n] = '\0';
	*ret_len = n;
	return 0;
}

int serial_parse_virtio(const uint8_t *raw, size_t n, char *out, size_t *ret_len)
{
	/* The kernel stops at the first NUL and never shows more than 20 bytes
	 * (VIRTIO_BLK_ID_BYTES); anything past that is not the device's serial. */
	if (n > SERIAL_VIRTIO_MAX)
		n = SERIAL_VIRTIO_MAX;
	const uint8_t *nul = memchr(raw, '\0', n);
	if (nul)
		n = (size_t)(nul - raw);
	return serial_store(raw, n, out, ret_len);
}

int serial_parse_nvme(const uint8_t *raw, size_t n, char *out, size_t *ret_len)
{
	/* "%.*s\n" of the 20-byte, space-padded SN field. */
	const uint8_t *nul = memchr(raw, '\0', n);
	if (nul)
		n = (size_t)(nul - raw);
	while (n > 0 && (raw[n - 1] == ' ' || raw[n - 1] == '\n'))
		n--;
	return serial_store(raw, n, out, ret_len);
}

int serial_parse_vpd_pg80(const uint8_t *raw, size_t n, char *out, size_t *ret_len)
{
	size_t len, start = 4;

	if (n < 4 || raw[1] != 0x80)
		return -EBADMSG;
	len = ((size_t)raw[2] << 8) | raw[3];
	/* A device that claims more than it sent gets what it sent; the kernel
	 * leaves the rest of its buffer zeroed, which the trim below removes. */
	if (len > n - 4)
		len = n - 4;
	/* Serials are padded with spaces (left or right) or NULs. */
	while (len > 0 && (raw[start + len - 1] == ' ' || raw[start + len - 1] == '\0'))
		len--;
	while (len > 0 && (raw[start] == ' ' || raw[start] == '\0')) {
		start++;
		len--;
	}
	return serial_store(raw + start, len, out, ret_len);
}

typedef int (*serial_parser)(const uint8_t *, size_t, char *, size_t *);

int serial_read(int sysfd, const char *disk, char *out, size_t *ret_len, enum serial_kind *ret_kind)
{
	static const struct {
		const char *attr;
		serial_parser parse;
		enum serial_kind kind;
	} sources[] = {
		{ "serial", serial_parse_virtio, SERIAL_KIND_VIRTIO },
		{ "device/vpd_pg80", serial_parse_vpd_pg80, SERIAL_KIND_SCSI },
		{ "device/serial", serial_parse_nvme, SERIAL_KIND_NVME },
	};
	uint8_t raw[SERIAL_READ_MAX];
	char path[SERIAL_MAX + 32];
	char buf[SERIAL_MAX + 1];
	size_t len;

	if (!disk || !*disk || strchr(disk, '/') || strlen(disk) > SERIAL_MAX)
		return -EINVAL;
	for (size_t i = 0; i < ARRAY_SIZE(sources); i++) {
		snprintf(path, sizeof(path), "%s/%s", disk, sources[i].attr);
		ssize_t n = util_read_attr_at(sysfd, path, raw, sizeof(raw));
		if (n == -ENOENT || n == -ENOTDIR)
			continue;
		if (n < 0)
			return (int)n;
		int r = sources[i].parse(raw, (size_t)n, buf, &len);
		if (r < 0)
			return r;
		memcpy(out, buf, len + 1);
		*ret_len = len;
		*ret_kind = sources[i].kind;
		return 0;
	}
	return -ENOENT;
}

/* systemd's utf8_encoded_valid_unichar(): the length of the valid UTF-8
 * sequence at s (stopping at a NUL), or 0. Only 2-4 byte forms can pass:
 * longer ones are above U+10FFFF or overlong. */
static size_t serial_utf8_len(const unsigned char *s)
{
	size_t len;
	uint32_t c;

	if (s[0] < 0x80)
		return 1;
	else if ((s[0] & 0xe0) == 0xc0)
		len = 2, c = s[0] & 0x1f;
	else if ((s[0] & 0xf0) == 0xe0)
		len = 3, c = s[0] & 0x0f;
	else if ((s[0] & 0xf8) == 0xf0)
		len = 4, c = s[0] & 0x07;
	else
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0; /* also stops at the NUL of a cut-off sequence */
		c = (c << 6) | (s[i] & 0x3f);
	}
	size_t want = c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
	if (want != len)
		return 0; /* overlong */
	if (c >= 0x110000 || (c & 0xfffff800) == 0xd800 || (c >= 0xfdd0 && c <= 0xfdef) ||
	    (c & 0xfffe) == 0xfffe)
		return 0;
	return len;
}

static bool serial_isspace(unsigned char c)
{
	/* isspace() in the C locale, which udevd runs in. */
	return c == ' ' || (c >= '\t' && c <= '\r');
}

/* udev_replace_chars(): keeps [0-9A-Za-z], "#+-.:=@_", the allow set, a
 * backslash followed by 'x', and valid UTF-8; whitespace becomes a space
 * when a space is allowed; every other byte becomes '_'. In place, on a
 * NUL-terminated string. */
static void serial_replace_chars(char *str, const char *allow)
{
	unsigned char *s = (unsigned char *)str;
	size_t i = 0;

	while (s[i] != '\0') {
		unsigned char c = s[i];
		size_t len;

		if (isalnum(c) && c < 0x80) {
			i++;
			continue;
		}
		if (strchr("#+-.:=@_", c) || strchr(allow, c)) {
			i++;
			continue;
		}
		if (c == '\\' && s[i + 1] == 'x') {
			i += 2;
			continue;
		}
		len = serial_utf8_len(s + i);
		if (len > 1) {
			i += len;
			continue;
		}
		s[i++] = serial_isspace(c) && strchr(allow, ' ') ? ' ' : '_';
	}
}

/* udev_replace_whitespace(): leading and trailing whitespace dropped, each
 * inner run of whitespace becomes one '_'. In place. */
static void serial_replace_whitespace(char *s)
{
	size_t i = strspn(s, " \t\n\r"), j = 0;
	bool in_space = false;

	for (; s[i] != '\0'; i++) {
		if (serial_isspace((unsigned char)s[i])) {
			in_space = true;
			continue;
		}
		if (in_space) {
			s[j++] = '_';
			in_space = false;
		}
		s[j++] = s[i];
	}
	s[j] = '\0';
}

/* path_is_safe() then path_simplify(), as udev applies them to a devlink:
 * a ".." component is refused; empty and "." components are dropped. */
static int serial_simplify_path(char *s)
{
	size_t r = 0, w = 0;

	while (s[r] != '\0') {
		size_t start = r;
		while (s[r] != '\0' && s[r] != '/')
			r++;
		size_t n = r - start;
		if (n == 2 && s[start] == '.' && s[start + 1] == '.')
			return -EINVAL;
		if (n > 0 && !(n == 1 && s[start] == '.')) {
			if (w > 0)
				s[w++] = '/';
			memmove(s + w, s + start, n);
			w += n;
		}
		if (s[r] == '/')
			r++;
	}
	s[w] = '\0';
	return 0;
}

int serial_encode_byid(const char *serial, size_t len, char *out, size_t outsz)
{
	static const char prefix[] = "virtio-";
	char buf[sizeof(prefix) + SERIAL_MAX];
	char *val = buf + sizeof(prefix) - 1;
	int r;

	/* The attribute is a C string: it ends at the first NUL. */
	const char *nul = memchr(serial, '\0', len);
	if (nul)
		len = (size_t)(nul - serial);
	if (len > SERIAL_MAX)
		len = SERIAL_MAX;
	/* Trailing " \t\n\r" go (sysattr read, ATTRS match, $attr); nothing
	 * left means ATTRS{serial}=="?*" fails and there is no link. */
	while (len > 0 && strchr(" \t\n\r", serial[len - 1]))
		len--;
	if (len == 0)
		return -ENOENT;

	memcpy(buf, prefix, sizeof(prefix) - 1);
	memcpy(val, serial, len);
	val[len] = '\0';
	/* $attr{serial} substitution. */
	serial_replace_chars(val, "/ $%?,");
	/* $env{ID_SERIAL} substituted into SYMLINK, then the whole link. */
	serial_replace_whitespace(val);
	serial_replace_chars(buf, "/ ");
	r = serial_simplify_path(buf);
	if (r < 0)
		return r;

	size_t n = strlen(buf);
	if (n + 1 > outsz)
		return -ENOSPC;
	memcpy(out, buf, n + 1);
	return (int)n;
}

int serial_matches(const char *want, size_t want_len, const char *got, size_t got_len, enum serial_kind kind)
{
	if (kind == SERIAL_KIND_VIRTIO && want_len > SERIAL_VIRTIO_MAX)
		want_len = SERIAL_VIRTIO_MAX;
	return want_len == got_len && memcmp(want, got, got_len) == 0;
}
