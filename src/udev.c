/* SPDX-License-Identifier: Apache-2.0 */
/* The libudev backend: waits for udevd's own events (after its rules ran, so
 * the by-id links exist) for new whole disks. Like uevent.c it only names a
 * disk to look at; the caller re-checks the serial in sysfs. */
#include <errno.h>
#include <fcntl.h>
#include <libudev.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cocoinit/log.h"
#include "cocoinit/udev.h"
#include "cocoinit/uevent.h"
#include "cocoinit/util.h"


struct udev_waiter {
	struct udev *udev;
	struct udev_monitor *mon;
};

int udev_available(int rootfd)
{
	struct stat st;

	return fstatat(rootfd, "run/udev/control", &st, AT_SYMLINK_NOFOLLOW) == 0;
}

void udev_waiter_free(struct udev_waiter *w)
{
	if (!w)
		return;
	if (w->mon)
		udev_monitor_unref(w->mon);
	if (w->udev)
		udev_unref(w->udev);
	free(w);
}

static void udev_waiter_freep(struct udev_waiter **w)
{
	udev_waiter_free(*w);
}

int udev_waiter_open(struct udev_waiter **ret)
{
	_cleanup_(udev_waiter_freep) struct udev_waiter *w = calloc(1, sizeof(*w));
	int r;

	if (!w)
		return -ENOMEM;
	w->udev = udev_new();
	if (!w->udev)
		return errno > 0 ? -errno : -ENOMEM;
	w->mon = udev_monitor_new_from_netlink(w->udev, "udev");
	if (!w->mon)
		return errno > 0 ? -errno : -ENOMEM;
	r = udev_monitor_filter_add_match_subsystem_devtype(w->mon, "block", "disk");
	if (r < 0)
		return r;
	r = udev_monitor_enable_receiving(w->mon);
	if (r < 0)
		return r;
	*ret = w;
	w = NULL;
	return 0;
}

static void udev_device_unrefp(struct udev_device **d)
{
	if (*d)
		udev_device_unref(*d);
}

int udev_waiter_wait(struct udev_waiter *w, uint64_t deadline_us, int (*check)(const char *devname, void *ctx),
		     void *ctx)
{
	struct uevent_retry retry = { 0 };
	int fd, r;

	if (!w || !check)
		return -EINVAL;
	fd = udev_monitor_get_fd(w->mon);
	if (fd < 0)
		return fd;
	for (;;) {
		struct udev_device *dev;
		/* The monitor socket is non-blocking: NULL means the queue is empty
		 * (or a message libudev refused, e.g. from a wrong sender). */
		while ((dev = udev_monitor_receive_device(w->mon))) {
			_cleanup_(udev_device_unrefp) struct udev_device *d = dev;
			const char *action = udev_device_get_action(d);
			const char *devtype = udev_device_get_devtype(d);
			const char *name = udev_device_get_sysname(d);

			if (!action || (strcmp(action, "add") != 0 && strcmp(action, "change") != 0))
				continue;
			if (!devtype || strcmp(devtype, "disk") != 0 || !uevent_devname_ok(name))
				continue;
			r = uevent_retry_check(&retry, name, check, ctx);
			if (r != 0)
				return r;
		}

		r = uevent_retry_wait(&retry, fd, deadline_us, check, ctx);
		if (r != 0)
			return r;
	}
}

int udev_wait_disk(uint64_t deadline_us, int (*check)(const char *devname, void *ctx), void *ctx)
{
	_cleanup_(udev_waiter_freep) struct udev_waiter *w = NULL;
	int r = udev_waiter_open(&w);

	if (r < 0)
		return r;
	return udev_waiter_wait(w, deadline_us, check, ctx);
}
