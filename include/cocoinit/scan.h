/* SPDX-License-Identifier: Apache-2.0 */
/* The legacy content scan (opt-in, cocoinit.initdata_scan=magic): what the
 * Kata agent does today, reading 8 bytes of every dev/vd* and dev/sd* whole
 * disk. An unreadable disk is skipped with a debug line, never fatal. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* Fills matches[] with the names ("vdb") of disks that start with the magic
 * "initdata". *ret_n counts all matches (may exceed max); *ret_examined the
 * disks read. Returns 0 or -errno when rootfd/dev can't be listed. */
int scan_magic(int rootfd, char (*matches)[64], size_t max, size_t *ret_n, unsigned *ret_examined);

/* Whether a dev/ name is one the scan reads: vd or sd followed by lowercase
 * letters only (vda, sdab). Partitions (vda1) and other names are not. */
bool scan_is_disk_name(const char *name);
