/* SPDX-License-Identifier: Apache-2.0 */
/* Kata guest extension images (CONTRACT section 2a): from a disk already
 * found by its serial to a read-only EROFS mount at
 * run/kata-extensions/<name>, through dm-verity when measured. Decides with
 * Kata's integrity table, failing closed. Finding the disk is discover.c's. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "cocoinit/verity.h"

#define EXTENSION_NAME_MAX 64 /* bytes of <name>; longer is a command-line error */
#define EXTENSION_MAX 16      /* extensions on one command line */
#define EXTENSION_SERIAL_PREFIX "extension-"
#define EXTENSION_MOUNT_DIR "run/kata-extensions"

struct extension_spec {
	char name[EXTENSION_NAME_MAX + 1];
	bool measured; /* verity_params=<params> given; false for the bare key */
	struct verity_params params;
};

/* Whether name is a valid extension name: [A-Za-z0-9_.-]+, not "." or "..",
 * at most EXTENSION_NAME_MAX bytes. */
bool extension_name_ok(const char *name, size_t len);

/* The serial the device reports for an extension: "extension-<name>" cut to
 * 20 bytes (SERIAL_VIRTIO_MAX). Returns its length; out holds 21 bytes. */
size_t extension_serial(const char *name, char out[21]);

/* What the integrity table decided. */
enum extension_mode { EXTENSION_VERITY, EXTENSION_RAW };

struct extension_result {
	char device[96];   /* "/dev/mapper/extension-coco" or "/dev/vdb1" */
	enum extension_mode mode;
	uint64_t elapsed_us;
};

/* Mounts one extension whose disk `disk` ("vdb", below sys/class/block) was
 * found by serial: waits (until deadline_us, CLOCK_BOOTTIME; uevent_fd may be
 * -1) for its partitions, found through sysfs (<disk>/<part>/partition = 1, 2)
 * and their dev numbers; applies the integrity table; creates the dm-verity
 * target or checks the data is EROFS; mounts ro,nosuid,nodev at
 * run/kata-extensions/<name>, creating that directory only after the mount
 * succeeded. 0 or -errno with the reason in err ("extension coco (/dev/vdb):
 * has a dm-verity hash partition but the command line gives no verity params:
 * refusing (params stripped?)", ...). Nothing is left mounted or created on
 * failure. Events queued on uevent_fd are consumed: a caller that looks for
 * more disks afterwards scans sysfs before waiting (as discover.c does).
 * disk and its partitions must be kernel names ([A-Za-z0-9_.:!-]). */
int extension_mount(int rootfd, const struct extension_spec *spec, const char *disk, uint64_t deadline_us,
		    int uevent_fd, struct extension_result *ret, char *err, size_t errsz);

/* What kata-extension-umount.sh does: unmounts run/kata-extensions/<name>
 * (not mounted is fine), removes the directory, then the dm-verity target
 * extension-<name> when dev/mapper has it. 0, or -errno of the unmount or
 * the rmdir that failed; failing to remove the dm-verity target is a
 * warning, as `veritysetup close || true` is in the script. */
int extension_umount(int rootfd, const char *name, char *err, size_t errsz);
