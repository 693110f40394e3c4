/* SPDX-License-Identifier: Apache-2.0 */
/* Monotonic time in microseconds from CLOCK_BOOTTIME, and deadlines on it;
 * the named sub-steps of one boot ("discover.scan") that state.json's
 * timing_us reports next to the main steps. */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* Sub-steps kept; one more name is dropped (and counted in "steps_dropped"). */
#define TIMING_STEPS_MAX 32

struct timing_step {
	const char *name; /* a string literal: [a-z_.]+ */
	uint64_t us;
};

uint64_t timing_now_us(void);
/* Milliseconds left until deadline_us (0 when passed), for poll(). */
int timing_poll_ms(uint64_t deadline_us);

/* Adds the time from start_us to now to the sub-step `name` (a string
 * literal; a name met again adds up) and returns now, the next step's start. */
uint64_t timing_step(const char *name, uint64_t start_us);
/* Adds us to the sub-step `name` (a string literal): a time measured
 * elsewhere, another process's. */
void timing_add(const char *name, uint64_t us);
/* The sub-steps recorded so far, in the order first met; the number dropped. */
size_t timing_steps(const struct timing_step **ret, unsigned *ret_dropped);
void timing_steps_reset(void);
