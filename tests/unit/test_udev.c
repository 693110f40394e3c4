/* SPDX-License-Identifier: Apache-2.0 */
/* The libudev backend (built only with libudev): udev's view of this
 * machine's real virtio disks agrees with serial_read(), the monitor can be
 * created and times out cleanly, and udev_available() looks for udevd. */
#include <errno.h>
#include <fcntl.h>
#include <libudev.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "cocoinit/serial.h"
#include "cocoinit/timing.h"
#include "cocoinit/udev.h"
#include "cocoinit/util.h"

static void test_serials_agree(void **state)
{
	struct udev *udev = udev_new();
	struct udev_enumerate *en;
	struct udev_list_entry *e;
	int sysfd, compared = 0, disks = 0;

	assert_non_null(udev);
	en = udev_enumerate_new(udev);
	assert_non_null(en);
	assert_int_equal(udev_enumerate_add_match_subsystem(en, "block"), 0);
	assert_int_equal(udev_enumerate_add_match_property(en, "DEVTYPE", "disk"), 0);
	assert_int_equal(udev_enumerate_scan_devices(en), 0);
	sysfd = open("/sys/class/block", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(sysfd >= 0);

	udev_list_entry_foreach(e, udev_enumerate_get_list_entry(en))
	{
		struct udev_device *d = udev_device_new_from_syspath(udev, udev_list_entry_get_name(e));
		const char *name = d ? udev_device_get_sysname(d) : NULL;
		char serial[SERIAL_MAX + 1];
		size_t len = 0;
		enum serial_kind kind;

		if (!name) {
			udev_device_unref(d);
			continue;
		}
		disks++;
		if (strncmp(name, "vd", 2) == 0) {
			const char *us = udev_device_get_sysattr_value(d, "serial");
			int r = serial_read(sysfd, name, serial, &len, &kind);
			if (us && *us) {
				if (r != 0)
					fail_msg("%s: udev reads serial \"%s\", serial_read gives %d", name, us, r);
				assert_int_equal(kind, SERIAL_KIND_VIRTIO);
				assert_int_equal(len, strlen(us));
				assert_memory_equal(serial, us, len);
				compared++;
			}
		}
		udev_device_unref(d);
	}
	close(sysfd);
	udev_enumerate_unref(en);
	udev_unref(udev);
	assert_true(disks > 0); /* libudev saw this machine's block devices */
	if (compared == 0)
		print_message("no virtio disk with a serial here: nothing to compare\n");
	else
		print_message("compared %d virtio serial(s) with udev's\n", compared);
}

static int never(const char *devname, void *ctx)
{
	int *calls = ctx;
	(*calls)++;
	return 0;
}

static void test_monitor(void **state)
{
	struct udev_waiter *w = NULL;
	int calls = 0;

	assert_int_equal(udev_waiter_open(&w), 0);
	assert_non_null(w);
	assert_int_equal(udev_waiter_wait(w, timing_now_us(), never, &calls), -ETIMEDOUT);
	assert_int_equal(udev_waiter_wait(NULL, timing_now_us(), never, &calls), -EINVAL);
	udev_waiter_free(w);
	udev_waiter_free(NULL);
	assert_int_equal(udev_wait_disk(timing_now_us(), never, &calls), -ETIMEDOUT);
}

static void test_available(void **state)
{
	char dir[] = "/tmp/cocoinit-udev-XXXXXX";
	int fd;

	assert_non_null(mkdtemp(dir));
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(udev_available(fd), 0);
	assert_int_equal(mkdirat(fd, "run", 0755), 0);
	assert_int_equal(mkdirat(fd, "run/udev", 0755), 0);
	assert_int_equal(mknodat(fd, "run/udev/control", S_IFIFO | 0600, 0), 0);
	assert_int_equal(udev_available(fd), 1);
	assert_int_equal(unlinkat(fd, "run/udev/control", 0), 0);
	assert_int_equal(unlinkat(fd, "run/udev", AT_REMOVEDIR), 0);
	assert_int_equal(unlinkat(fd, "run", AT_REMOVEDIR), 0);
	close(fd);
	assert_int_equal(rmdir(dir), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_serials_agree),
		cmocka_unit_test(test_monitor),
		cmocka_unit_test(test_available),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
