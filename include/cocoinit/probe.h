/* SPDX-License-Identifier: Apache-2.0 */
/* What is on the initdata disk: Kata's raw format (magic "initdata" at 0)
 * or a filesystem, as libblkid says. Reads only what libblkid needs. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define PROBE_TYPE_MAX 32

/* Writes "kata-raw" or a filesystem type ("iso9660", "vfat", ...) to out.
 * Returns 0, -ENOENT when nothing is recognised, -ENOTUNIQ when libblkid
 * finds more than one signature (ambivalent), -ENOBUFS when out is too
 * small, or -errno. */
int probe_fd(int fd, char *out, size_t outsz);

/* Whether type is one cocoinit mounts: iso9660, vfat, ext4, erofs, squashfs. */
int probe_type_supported(const char *type);

/* The partition table libblkid finds on a whole disk: sets bit n-1 of
 * *ret_mask for each partition number n in 1..64 it lists. 0, -ENOENT when
 * there is no partition table, -ENOTUNIQ when two tables claim the disk, or
 * -errno. The kernel reads the same table; this says which partitions to
 * wait for. */
int probe_partitions(int fd, uint64_t *ret_mask);
