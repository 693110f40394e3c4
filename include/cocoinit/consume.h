/* SPDX-License-Identifier: Apache-2.0 */
/* Consuming the found disk through one checked fd: the node is the block
 * device sysfs names, flagged read-only before anything reads it; the raw
 * format is extracted, or the filesystem mounted read-only and its
 * initdata.toml copied, onto a fresh tmpfs at the initdata directory. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Where a filesystem-form initdata disk is mounted (CONTRACT section 2). */
#define CONSUME_FS_DIR "/run/cocoinit/initdata-fs"
/* Where the private device node the mount names is made (root only): on
 * devtmpfs, since /run is nodev and a node there cannot be opened. */
#define CONSUME_NODE_DIR "/dev/cocoinit"

struct consume_result {
	char format[32]; /* "kata-raw" or the fs type */
	size_t toml_size;
	uint8_t *toml; /* with consume_opts.keep_toml: initdata.toml's bytes; the caller frees them */
};

struct consume_opts {
	const char *dir;      /* the initdata directory: a fresh tmpfs, mode 0700 */
	const char *fs_dir;   /* where a filesystem is mounted read-only */
	const char *node_dir; /* a root-only directory for the private node */
	const char *name;     /* the device's name ("vdb"), for the node and /proc/mounts */
	uint64_t max_bytes;   /* cocoinit.initdata_max_bytes; the TOML may be 4 times that */
	bool keep_toml;       /* hand the TOML's bytes back in the result, not only the file */
};

/* Opens rootfd/dev/<name> (no symlink) and checks that it is a block device
 * whose st_rdev is rootfd/sys/class/block/<name>/dev: the device whose
 * serial was checked, not whatever the path holds. Returns the fd
 * (O_RDONLY, O_CLOEXEC) or -errno with the reason in err: -ENOTBLK for a
 * node that is not a block device, -EXDEV for another device. */
int consume_open(int rootfd, const char *name, char *err, size_t errsz);

/* Consumes devfd (from consume_open(); tests may pass a regular file). A
 * block device is set read-only (BLKROSET) first, and a failure to do so is
 * an error. Returns 0 or -errno with the reason in err ("unsupported
 * initdata format X", "initdata length 123456789 is beyond the device",
 * "no initdata.toml on the ext4 filesystem", ...). */
int consume_initdata(int devfd, const struct consume_opts *o, struct consume_result *ret, char *err,
		     size_t errsz);
