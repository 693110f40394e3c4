/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target: the serial parsers and udev's by-id encoding over
 * arbitrary host bytes. Beyond "no crash", it checks what callers rely on:
 * bounded, terminated output and a name with no byte udev would replace. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cocoinit/serial.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_parsed(int r, const char *out, size_t len, size_t limit)
{
	if (r == 0) {
		if (len == 0 || len > limit || out[len] != '\0')
			abort();
	} else if (r != -ENODATA && r != -EBADMSG) {
		abort();
	}
}

/* Whether the bytes at s start a sequence udev keeps whole (2-4 bytes). */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	size_t len = s[0] >= 0xf5 ? 0 : s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc2 ? 2 : 0;

	if (len == 0 || len > n)
		return 0;
	for (size_t i = 1; i < len; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return len;
}

static void check_name(const char *name, int r)
{
	const unsigned char *s = (const unsigned char *)name;
	size_t n = strlen(name);

	if ((size_t)r != n || n < 7 || n >= SERIAL_BYID_MAX || memcmp(name, "virtio-", 7) != 0)
		abort();
	for (size_t i = 7; i < n; i++) {
		unsigned char c = s[i];
		if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    strchr("#+-.:=@_/", c))
			continue;
		if (c == '\\' && s[i + 1] == 'x') {
			i++;
			continue;
		}
		size_t l = c >= 0x80 ? utf8_len(s + i, n - i) : 0;
		if (l == 0)
			abort(); /* whitespace, $%?, control bytes, broken UTF-8 */
		i += l - 1;
	}
	/* no "..", "." or empty component: the link stays in dev/disk/by-id */
	for (const char *c = name; c; c = strchr(c, '/') ? strchr(c, '/') + 1 : NULL) {
		size_t l = strcspn(c, "/");
		if (l == 0 || (l == 1 && c[0] == '.') || (l == 2 && c[0] == '.' && c[1] == '.'))
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char out[SERIAL_MAX + 1], name[SERIAL_BYID_MAX];
	size_t len = 0;
	int r;

	memset(out, 0x7f, sizeof(out));
	r = serial_parse_virtio(data, size, out, &len);
	check_parsed(r, out, len, SERIAL_VIRTIO_MAX);
	if (r == 0 && memchr(out, '\0', len))
		abort();
	r = serial_parse_nvme(data, size, out, &len);
	check_parsed(r, out, len, SERIAL_MAX);
	if (r == 0 && (out[len - 1] == ' ' || out[len - 1] == '\n'))
		abort();
	r = serial_parse_vpd_pg80(data, size, out, &len);
	check_parsed(r, out, len, SERIAL_MAX);
	if (r == 0 && len > size - 4)
		abort();

	memset(name, 0x7f, sizeof(name));
	r = serial_encode_byid((const char *)data, size, name, sizeof(name));
	if (r >= 0)
		check_name(name, r);
	else if (r != -ENOENT && r != -EINVAL)
		abort();
	/* a too-small buffer is refused, never overrun */
	r = serial_encode_byid((const char *)data, size, name, 8);
	if (r >= 0 && (r > 7 || name[r] != '\0'))
		abort();
	/* the virtio match is on the first 20 bytes */
	if (size > 0 && serial_matches((const char *)data, size, (const char *)data,
				       size > SERIAL_VIRTIO_MAX ? SERIAL_VIRTIO_MAX : size,
				       SERIAL_KIND_VIRTIO) != 1)
		abort();
	return 0;
}
