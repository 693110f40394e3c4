/* SPDX-License-Identifier: Apache-2.0 */
/* Reading a disk's serial from sysfs (virtio-blk, NVMe, SCSI VPD page 0x80)
 * and reproducing udev's /dev/disk/by-id name for a virtio serial. Pure
 * parsers are separate from the file reads so they can be fuzzed. */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* virtio-blk serials are at most 20 bytes (VIRTIO_BLK_ID_BYTES). */
#define SERIAL_VIRTIO_MAX 20
/* Largest serial any source can produce (VPD length is 16 bits, but we bound it). */
#define SERIAL_MAX 255
/* Longest by-id name: "virtio-" + the encoded serial. */
#define SERIAL_BYID_MAX (7 + SERIAL_MAX * 4 + 1)

enum serial_kind { SERIAL_KIND_VIRTIO, SERIAL_KIND_NVME, SERIAL_KIND_SCSI };

/* Parsers: each takes the raw bytes read from the attribute file and writes
 * the serial (no terminator required by callers: ret_len says how long; out
 * is NUL-terminated anyway) into out[SERIAL_MAX + 1].
 * Return 0, -ENODATA (empty serial) or -EBADMSG (malformed). */
int serial_parse_virtio(const uint8_t *raw, size_t n, char *out, size_t *ret_len);
int serial_parse_nvme(const uint8_t *raw, size_t n, char *out, size_t *ret_len);
int serial_parse_vpd_pg80(const uint8_t *raw, size_t n, char *out, size_t *ret_len);

/* Reads the serial of the block device `disk` ("vdb", "nvme0n1", "sda")
 * below sysfd, an fd of sys/class/block. Tries `serial` (virtio-blk), then
 * `device/vpd_pg80` (SCSI), then `device/serial` (NVMe).
 * Returns 0 and fills out/ret_len/ret_kind, or -errno (-ENOENT when the disk
 * has no serial attribute at all, -ENODATA when it is empty). */
int serial_read(int sysfd, const char *disk, char *out, size_t *ret_len, enum serial_kind *ret_kind);

/* udev's by-id name for a virtio disk with this serial ("virtio-<enc>").
 * Returns the length written to out (NUL-terminated, outsz >= SERIAL_BYID_MAX
 * is always enough), -ENOENT when udev would make no link (empty or
 * all-whitespace serial), -EINVAL when the name would contain a ".." path
 * component. */
int serial_encode_byid(const char *serial, size_t len, char *out, size_t outsz);

/* Compares a configured serial with one read from a device. A configured
 * serial longer than 20 bytes is compared on its first 20 bytes for virtio. */
int serial_matches(const char *want, size_t want_len, const char *got, size_t got_len, enum serial_kind kind);
