/* SPDX-License-Identifier: Apache-2.0 */
/* Optional libudev backend (built when meson finds libudev; HAVE_LIBUDEV in
 * config.h): when udevd runs, wait for its "udev" events instead of the
 * kernel's, so the /dev/disk/by-id links exist when a disk is reported. */
#pragma once

#include <stdint.h>

struct udev_waiter;

/* 1 when udevd runs under rootfd (run/udev/control exists), else 0. */
int udev_available(int rootfd);

/* Creates a monitor on udevd's events, filtered to block/disk, receiving from
 * now on: open it before scanning sysfs so that no disk slips between the two.
 * Returns 0 with *ret or -errno. */
int udev_waiter_open(struct udev_waiter **ret);
void udev_waiter_free(struct udev_waiter *w);

/* As uevent_wait_disk(): for each disk udevd announces ("add"/"change"),
 * calls check(devname, ctx); returns the first nonzero result, or -ETIMEDOUT
 * at deadline_us (CLOCK_BOOTTIME). -EAGAIN from check gets one re-check
 * UEVENT_RETRY_MS later. poll(), never a sleep loop. */
int udev_waiter_wait(struct udev_waiter *w, uint64_t deadline_us, int (*check)(const char *devname, void *ctx),
		     void *ctx);

/* udev_waiter_open() + udev_waiter_wait() + udev_waiter_free(). */
int udev_wait_disk(uint64_t deadline_us, int (*check)(const char *devname, void *ctx), void *ctx);
