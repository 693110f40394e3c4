/* SPDX-License-Identifier: Apache-2.0 */
/* Test support shared by the programs that work on real images and real
 * fds: one temporary directory of images per program, shell commands (the
 * mkfs tools, losetup) whose failure fails the test, Kata raw-format images
 * written with zlib, and the fd flags every socket of cocoinit must carry.
 *
 * Every function here fails the running cmocka test (fail_msg or a cmocka
 * assertion) rather than return an error, so a test reads as its steps. */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* Creates /tmp/cocoinit-<tag>-XXXXXX, the directory fixture_path() names
 * into, and appends /usr/sbin:/sbin to PATH: the mkfs tools and losetup
 * live there, and a test runner's PATH may lack them. For group setups. */
void fixture_dir_create(const char *tag);

/* Removes the directory (rm -rf). 0, or -1 as a cmocka teardown fails. */
int fixture_dir_remove(void);

/* The path of name in the directory. The result is one of eight rotating
 * static buffers, so up to eight may be alive at once (one command line). */
char *fixture_path(const char *name);

/* Runs a shell command made with printf formatting; the test fails, naming
 * the command, when it does not exit 0. */
void fixture_run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Runs a shell command and keeps the first line of its stdout (without the
 * newline; "" when it printed nothing) in out[outsz]. Returns the status as
 * pclose() gives it (0: exit 0). */
int fixture_capture(char *out, size_t outsz, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Fails the test, naming the package that installs it, when tool is not
 * on PATH: a missing tool is a broken test machine, not a skip. */
void fixture_need_tool(const char *tool, const char *pkg);

/* Attaches image read-only to a free loop device and writes its path
 * ("/dev/loopN") into dev[devsz]; fails the test when that is not possible
 * (it needs root and loop devices). Detach with fixture_loop_detach(). */
void fixture_loop_attach(const char *image, char *dev, size_t devsz);

/* Detaches a loop device from fixture_loop_attach(); fails the test when
 * losetup -d does. */
void fixture_loop_detach(const char *dev);

/* One gzip member (RFC 1952, as the Kata runtime writes) of len bytes of
 * in; returns a malloc'd buffer of *ret_len bytes for the caller to free. */
uint8_t *fixture_gzip(const void *in, size_t len, size_t *ret_len);

/* Writes a Kata raw-format image to path: "initdata", the length field L
 * (u64 little-endian; any value, to test the bounds), n bytes of payload,
 * then zeros up to the next multiple of align (the Go runtime pads to 512). */
void fixture_write_raw(const char *path, uint64_t L, const void *payload, size_t n, size_t align);

/* Checks that fd is open with FD_CLOEXEC set. */
void fixture_assert_cloexec(int fd);

/* Checks that the int socket option level/name of fd reads as want. */
void fixture_assert_sockopt(int fd, int level, int name, int want);
