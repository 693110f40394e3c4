/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target: uevent_parse() on arbitrary bytes, as a hostile sender
 * with the right credentials could send. Every pointer it hands back must be
 * a terminated string inside the input. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cocoinit/uevent.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void inside(const char *p, const char *buf, size_t len)
{
	if (!p)
		return;
	if (p < buf || p >= buf + len || !memchr(p, '\0', (size_t)(buf + len - p)))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct uevent ev;
	/* A copy of exactly size bytes, so ASAN sees any read past the end. */
	char *buf = malloc(size ? size : 1);

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	if (uevent_parse(buf, size, &ev) == 0) {
		if (!ev.action || !ev.devpath || !ev.subsystem)
			abort();
		inside(ev.action, buf, size);
		inside(ev.devpath, buf, size);
		inside(ev.subsystem, buf, size);
		inside(ev.devname, buf, size);
		inside(ev.devtype, buf, size);
		(void)uevent_is_new_disk(&ev);
	}
	free(buf);
	return 0;
}
