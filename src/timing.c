/* SPDX-License-Identifier: Apache-2.0 */
/* CLOCK_BOOTTIME in microseconds: it keeps counting across suspend and
 * starts at kernel boot, so "boot=" in the timing line is time since power-on. */
#include <time.h>

#include "cocoinit/timing.h"

uint64_t timing_now_us(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_BOOTTIME, &ts) < 0)
		clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

int timing_poll_ms(uint64_t deadline_us)
{
	uint64_t now = timing_now_us();

	if (now >= deadline_us)
		return 0;
	/* Round up so that poll() does not wake just before the deadline. */
	uint64_t ms = (deadline_us - now + 999) / 1000;
	return ms > 0x7fffffff ? 0x7fffffff : (int)ms;
}
