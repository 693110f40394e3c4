/* SPDX-License-Identifier: Apache-2.0 */
/* Loading kernel modules with finit_module(), dependencies first, from
 * lib/modules/<release>/modules.dep. No libkmod (none is static in Debian). */
#pragma once

#include <stddef.h>

/* Loads each named module (with '-' and '_' equivalent) and its hard
 * dependencies in order. Already loaded (EEXIST) is fine. Returns 0 or
 * -errno with the failing module and reason in err. */
int modules_load(int rootfd, const char *release, const char (*names)[64], size_t n, char *err,
		 size_t errsz);
