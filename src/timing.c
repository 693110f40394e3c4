/* SPDX-License-Identifier: Apache-2.0 */
/* CLOCK_BOOTTIME in microseconds: it keeps counting across suspend and
 * starts at kernel boot, so "boot=" in the timing line is time since power-on.
 * The sub-step table is fixed-size and static: recording never allocates
 * and never fails the boot. */
#include <string.h>
#include <time.h>

#include "cocoinit/timing.h"

static struct timing_step timing_table[TIMING_STEPS_MAX];
static size_t timing_n;
static unsigned timing_dropped;

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

void timing_add(const char *name, uint64_t us)
{
	size_t i;

	for (i = 0; i < timing_n; i++)
		if (strcmp(timing_table[i].name, name) == 0)
			break;
	if (i == timing_n) {
		if (timing_n == TIMING_STEPS_MAX) {
			timing_dropped++;
			return;
		}
		timing_table[timing_n++] = (struct timing_step){ .name = name };
	}
	timing_table[i].us += us;
}

uint64_t timing_step(const char *name, uint64_t start_us)
{
	uint64_t now = timing_now_us();

	timing_add(name, now > start_us ? now - start_us : 0);
	return now;
}

size_t timing_steps(const struct timing_step **ret, unsigned *ret_dropped)
{
	*ret = timing_table;
	if (ret_dropped)
		*ret_dropped = timing_dropped;
	return timing_n;
}

void timing_steps_reset(void)
{
	timing_n = 0;
	timing_dropped = 0;
}
