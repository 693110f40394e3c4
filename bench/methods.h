/* SPDX-License-Identifier: Apache-2.0 */
/* The discovery methods both benchmarks time, the same code on the host
 * trees (bench_discover) and in the guest (bench-agent): cocoinit's own
 * steps, a 4-thread serial reader, the Kata agent's content scan, and one
 * read of a serial (what a hint cannot go below). */
#pragma once

#include <stddef.h>
#include <stdint.h>

enum bench_method {
	BENCH_HINT,
	BENCH_BYID,
	BENCH_SYSFS,
	BENCH_SYSFS_CONCURRENT,
	BENCH_MAGIC_AGENT,
	BENCH_MAGIC_COCOINIT,
	BENCH_ONE_READ,
	BENCH_METHODS,
};

#define BENCH_THREADS 4

/* "hint", "by-id", "sysfs", "sysfs-concurrent", "magic", "magic-cocoinit",
 * "one-read": the floor of a hinted lookup, one open/read/close of the
 * hinted disk's sys/class/block/<hint>/serial and a compare. */
extern const char *const bench_method_names[BENCH_METHODS];

uint64_t bench_now_ns(void);

/* Finds the disk with this serial below rootfd by method m; hint names the
 * disk for BENCH_HINT. 0 with found[] set, or -errno. */
int bench_run_method(enum bench_method m, int rootfd, const char *serial, const char *hint, char *found,
		     size_t size);
