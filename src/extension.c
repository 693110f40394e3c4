/* SPDX-License-Identifier: Apache-2.0 */
/* Kata guest extension images: the name rule, the serial a disk reports,
 * and (from a disk found by serial) the integrity table and the read-only
 * mount at run/kata-extensions/<name>. Fails closed; leaves nothing behind
 * on failure. Finding the disk is discover.c's. */
#include <errno.h>
#include <string.h>

#include "cocoinit/extension.h"
#include "cocoinit/serial.h"
#include "cocoinit/util.h"

bool extension_name_ok(const char *name, size_t len)
{
	if (!name || len == 0 || len > EXTENSION_NAME_MAX)
		return false;
	if ((len == 1 && name[0] == '.') || (len == 2 && name[0] == '.' && name[1] == '.'))
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
		      c == '.' || c == '-'))
			return false;
	}
	return true;
}

size_t extension_serial(const char *name, char out[21])
{
	size_t plen = strlen(EXTENSION_SERIAL_PREFIX), nlen = strlen(name), n;

	_Static_assert(SERIAL_VIRTIO_MAX == 20, "out holds SERIAL_VIRTIO_MAX + 1 bytes");
	memcpy(out, EXTENSION_SERIAL_PREFIX, plen);
	n = nlen < SERIAL_VIRTIO_MAX - plen ? nlen : SERIAL_VIRTIO_MAX - plen;
	memcpy(out + plen, name, n);
	out[plen + n] = '\0';
	return plen + n;
}

/* Not built yet: the integrity table and mounts follow in the next change. */
int extension_mount(int rootfd, const struct extension_spec *spec, const char *disk, uint64_t deadline_us,
		    int uevent_fd, struct extension_result *ret, char *err, size_t errsz)
{
	util_seterr(err, errsz, "extension %s: mounting extensions is not implemented yet", spec->name);
	return -ENOSYS;
}

int extension_umount(int rootfd, const char *name, char *err, size_t errsz)
{
	util_seterr(err, errsz, "extension %s: unmounting extensions is not implemented yet", name);
	return -ENOSYS;
}
