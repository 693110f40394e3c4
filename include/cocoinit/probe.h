/* SPDX-License-Identifier: Apache-2.0 */
/* What is on the initdata disk: Kata's raw format (magic "initdata" at 0)
 * or a filesystem, as libblkid says. Reads only what libblkid needs. */
#pragma once

#include <stddef.h>

#define PROBE_TYPE_MAX 32

/* Writes "kata-raw" or a filesystem type ("iso9660", "vfat", ...) to out.
 * Returns 0, -ENOENT when nothing is recognised, -ENOTUNIQ when libblkid
 * finds more than one signature (ambivalent), -ENOBUFS when out is too
 * small, or -errno. */
int probe_fd(int fd, char *out, size_t outsz);

/* Whether type is one cocoinit mounts: iso9660, vfat, ext4, erofs, squashfs. */
int probe_type_supported(const char *type);
