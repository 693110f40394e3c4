/* SPDX-License-Identifier: Apache-2.0 */
/* Loading kernel modules with finit_module(), dependencies first, from
 * lib/modules/<release>/modules.dep. No libkmod (none is static in Debian). */
#pragma once

#include <stddef.h>

/* Loads each named module (with '-' and '_' equivalent) and its hard
 * dependencies in order, each once, from rootfd/lib/modules/<release>
 * (release NULL: uname()'s). modules.dep is read once, at most 16 MiB.
 * Already loaded (EEXIST) is fine; a name listed in modules.builtin is
 * skipped. Returns 0 or -errno with the failing module and reason in err:
 * -ENOENT "module X not found in lib/modules/<rel>/modules.dep", -ENOTSUP for
 * a compressed (.ko.xz/.ko.zst/.ko.gz) module, -ELOOP for a dependency loop,
 * or finit_module's error "module X (<path>): finit_module: <strerror>". */
int modules_load(int rootfd, const char *release, const char (*names)[64], size_t n, char *err,
		 size_t errsz);

/* Writes 1 to rootfd/proc/sys/kernel/modules_disabled: after it, the kernel
 * loads no module until the next boot (cocoinit.modules_lockdown). 0 or -errno. */
int modules_lockdown(int rootfd);
