/* SPDX-License-Identifier: Apache-2.0 */
/* Loading kernel modules with finit_module() as modprobe does, from
 * lib/modules/<release>/modules.dep, modules.softdep and modules.alias.
 * No libkmod (none is static in Debian). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* Loads each named module (with '-' and '_' equivalent) and its hard
 * dependencies in order, each once, from rootfd/lib/modules/<release>
 * (release NULL: uname()'s). modules.dep is read once, at most 16 MiB.
 * Already loaded (EEXIST) is fine; a name listed in modules.builtin is
 * skipped. A name that is no module is looked up in modules.alias (shell
 * patterns, '-' and '_' alike): every module it names is tried and it is
 * loaded when one of them loads (the others are named in a debug line).
 * modules.softdep's pre modules load before a module (and its hard
 * dependencies), its post modules after; like modprobe, a soft dependency
 * that fails to load is a warning, one the tree does not have a debug line. modules.alias is read at most 16 MiB,
 * modules.softdep 1 MiB; either may be absent.
 * Returns 0 or -errno with the failing module and reason in err:
 * -ENOENT "module X not found in lib/modules/<rel>/modules.dep", "module X:
 * no module for this alias loaded: a (why), b (why)", -ENOTSUP for
 * a compressed (.ko.xz/.ko.zst/.ko.gz) module, -ELOOP for a dependency loop,
 * or finit_module's error "module X (<path>): finit_module: <strerror>". */
int modules_load(int rootfd, const char *release, const char (*names)[64], size_t n, char *err,
		 size_t errsz);

/* Whether s matches the modules.alias pattern p: `*`, `?`, `[a-z]`,
 * `[!x]`, `\x`, as fnmatch(3) with no flags (which a static binary would
 * pay for with glibc's wide-character code). */
bool modules_glob(const char *p, const char *s);
