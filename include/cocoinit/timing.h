/* SPDX-License-Identifier: Apache-2.0 */
/* Monotonic time in microseconds from CLOCK_BOOTTIME, and deadlines on it. */
#pragma once

#include <stdint.h>

uint64_t timing_now_us(void);
/* Milliseconds left until deadline_us (0 when passed), for poll(). */
int timing_poll_ms(uint64_t deadline_us);
