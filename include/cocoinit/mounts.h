/* SPDX-License-Identifier: Apache-2.0 */
/* Early mounts (CONTRACT section 2 table) and the cocoinit.mount= shares.
 * A mount that already exists with the right type is left alone. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "cocoinit/cmdline.h"

/* Whether target is a mount point of fstype per rootfd/proc/self/mountinfo
 * (or proc/mounts). 1 yes, 0 no, -errno. */
int mounts_is_mounted(int rootfd, const char *target, const char *fstype);

/* mkdir -p of path (leading '/' ignored) below rootfd, each missing
 * directory with mode. A non-directory in the way is -ENOTDIR. 0 or -errno. */
int mounts_mkdir_p(int rootfd, const char *path, mode_t mode);

/* Mounts the early filesystems. Targets are created below rootfd (mode
 * 0755) and checked in rootfd/proc/self/mountinfo; sys_mount() gets the
 * absolute target, so production passes rootfd = open("/"). Failures of
 * required ones are returned (-errno) with what failed in err ("mount devpts
 * on /dev/pts: No such device"); cgroup2 missing is only a warning. */
int mounts_early(int rootfd, char *err, size_t errsz);

/* Parses the OPTIONS part of cocoinit.mount into MS_* flags and the data
 * string, adding MS_NOSUID|MS_NODEV unless "suid"/"dev" are given. */
int mounts_parse_options(const char *options, unsigned long *ret_flags, char *data, size_t datasz);

/* Performs one cocoinit.mount= entry (creating the target directory). */
int mounts_share(const struct mount_spec *m, char *err, size_t errsz);
/* The same with the target directory created below rootfd (for tests). */
int mounts_share_at(int rootfd, const struct mount_spec *m, char *err, size_t errsz);

/* Fills each of fds 0-2 that is closed (the kernel found no console to
 * open) with a placeholder, "/" opened read-only, so that no later open()
 * lands there: the root fd would be clobbered by mounts_console(), a file
 * or a listener would become the agent's stdio. PID 1 calls it first.
 * Returns how many it filled (0-3). Async-signal-safe. */
int mounts_stdio_reserve(void);

/* Attaches fds 0-2 to /dev/console (O_RDWR|O_NOCTTY). When it can't be
 * opened the fds are left as they are, except placeholders of
 * mounts_stdio_reserve(), which become /dev/null, and -errno is returned. */
int mounts_console(void);
/* The same with rootfd/dev/console (for tests). */
int mounts_console_at(int rootfd);
