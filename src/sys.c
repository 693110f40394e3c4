/* SPDX-License-Identifier: Apache-2.0 */
/* Thin wrappers over the syscalls that tests must replace (-Wl,--wrap).
 * Each returns 0 or -errno and does nothing else. */
#include <errno.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include "cocoinit/sys.h"

int sys_mount(const char *source, const char *target, const char *fstype, unsigned long flags,
	      const void *data)
{
	return mount(source, target, fstype, flags, data) < 0 ? -errno : 0;
}

int sys_umount(const char *target)
{
	return umount(target) < 0 ? -errno : 0;
}

int sys_reboot(int cmd)
{
	return reboot(cmd) < 0 ? -errno : 0;
}

int sys_execve(const char *path, char *const argv[], char *const envp[])
{
	execve(path, argv, envp);
	return -errno;
}

int sys_finit_module(int fd, const char *params, int flags)
{
	return syscall(SYS_finit_module, fd, params, flags) < 0 ? -errno : 0;
}

int sys_ioctl(int fd, unsigned long request, void *arg)
{
	return ioctl(fd, request, arg) < 0 ? -errno : 0;
}

int sys_mknodat(int dirfd, const char *path, unsigned int mode, unsigned long long dev)
{
	return mknodat(dirfd, path, (mode_t)mode, (dev_t)dev) < 0 ? -errno : 0;
}

int sys_sysinfo(struct sysinfo *info)
{
	return sysinfo(info) < 0 ? -errno : 0;
}
