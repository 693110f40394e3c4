/* SPDX-License-Identifier: Apache-2.0 */
/* Tool mode (not PID 1): locate, probe, extract, encode-serial. */
#pragma once

/* Exit codes of CONTRACT section 6. */
#define CLI_EXIT_OK 0
#define CLI_EXIT_NOTFOUND 1
#define CLI_EXIT_USAGE 2
#define CLI_EXIT_AMBIGUOUS 3
#define CLI_EXIT_ERROR 4

int cli_main(int argc, char **argv);

/* `cocoinit extension mount|umount NAME`, `extension list [--root DIR]
 * [--json]` (src/cli_extension.c): argv[0] is "extension". */
int cli_extension(int argc, char **argv);
