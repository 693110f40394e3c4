/* SPDX-License-Identifier: Apache-2.0 */
/* The syscalls a fake tree can't stand in for. Tests replace them with
 * -Wl,--wrap=sys_<name>; nothing else in the core calls these directly. */
#pragma once

#include <stddef.h>

struct sysinfo;

int sys_mount(const char *source, const char *target, const char *fstype, unsigned long flags,
	      const void *data);
int sys_umount(const char *target);
int sys_reboot(int cmd);
int sys_execve(const char *path, char *const argv[], char *const envp[]);
int sys_finit_module(int fd, const char *params, int flags);
/* ioctl(2) with one pointer argument (device-mapper, BLKROSET). */
int sys_ioctl(int fd, unsigned long request, void *arg);
int sys_mknodat(int dirfd, const char *path, unsigned int mode, unsigned long long dev);
int sys_sysinfo(struct sysinfo *info);
