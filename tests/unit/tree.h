/* SPDX-License-Identifier: Apache-2.0 */
/* Temporary root trees for tests, laid out like / (sys/, dev/, run/), built
 * from text manifests so a test says what the kernel would show, not how to
 * mkdir it. Paths in manifests are relative to the root and may not hold "..".
 *
 * Manifest lines ('#' starts a comment line; blank lines are skipped):
 *
 *   dir PATH                       mkdir -p PATH
 *   file PATH [CONTENT]            a regular file (parents created); CONTENT is
 *                                  the rest of the line after one space
 *   link PATH TARGET               a symlink PATH -> TARGET (TARGET verbatim)
 *   disk NAME [KEY=VALUE...]       a whole disk, as the kernel lays it out:
 *        serial=S     the serial, in the attribute NAME's kind uses: vd* ->
 *                     NAME/serial as is; nvme* -> device/serial "%-20s\n";
 *                     sd* -> device/vpd_pg80 (00 80 LL LL then S)
 *        pci=ADDR     its PCI device (default: 0000:BB:SS.F from a counter)
 *        content=C    what dev/NAME holds (default: empty)
 *   part NAME of=DISK [content=C]  a partition of DISK (which must exist):
 *                     NAME/partition holds its number
 *
 * A disk vdb with pci=0000:00:05.0 becomes
 *   sys/devices/pci0000:00/0000:00:05.0/virtio<N>/block/vdb/{serial,dev,size}
 *   sys/devices/.../block/vdb/device -> ../../../virtio<N>
 *   sys/class/block/vdb -> ../../devices/pci0000:00/0000:00:05.0/virtio<N>/block/vdb
 *   sys/bus/pci/devices/0000:00:05.0 -> ../../../devices/pci0000:00/0000:00:05.0
 *   dev/vdb  (a regular file standing in for the device node)
 * nvme0n1 lives at .../<pci>/nvme/nvme<N>/nvme0n1 (device -> ../../nvme<N>),
 * sdX at .../<pci>/virtio<N>/host<N>/target<N>:0:0/<N>:0:0:0/block/sdX.
 *
 * In CONTENT and VALUE: \xNN is any byte, \\ a backslash, \n \t \r \s
 * (space) and \0 what they say; VALUEs end at a space, CONTENT at the end
 * of the line. Errors print the offending line to stderr. */
#pragma once

#include <stddef.h>

/* Creates an empty temporary directory below $TMPDIR, else /dev/shm (tmpfs,
 * fast for big trees), else /tmp; returns its malloc'd path or NULL. */
char *tree_new(void);

/* Applies manifest text (many lines) below root. 0 or -errno. */
int tree_apply(const char *root, const char *manifest);

/* Applies the manifest file at path (e.g. FIXTURES "/trees/basic.tree"). */
int tree_apply_file(const char *root, const char *path);

/* tree_new() + tree_apply(); NULL on any failure (the tree is removed). */
char *tree_from_manifest(const char *manifest);

/* tree_new() + tree_apply_file(). */
char *tree_from_file(const char *path);

/* Adds one disk, as the `disk` line does, with a serial of any bytes
 * (serial NULL: no serial attribute). pci may be NULL. 0 or -errno. */
int tree_add_disk(const char *root, const char *name, const char *serial, size_t serial_len,
		  const char *pci);

/* Opens root as a directory fd (O_CLOEXEC), as a root fd for the core. */
int tree_open(const char *root);

/* Removes the tree (rm -rf) and frees root. Safe with NULL. */
void tree_remove(char *root);

/* tree_remove(*root), then *root = NULL: for a test's current tree, which
 * a teardown may find already gone. */
void tree_clear(char **root);

/* Decodes the escapes above from src (up to its NUL) into out; returns the
 * length or -EINVAL. out gets a terminating NUL as well. */
int tree_unescape(const char *src, char *out, size_t outsz);
