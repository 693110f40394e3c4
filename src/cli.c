/* SPDX-License-Identifier: Apache-2.0 */
/* placeholder */
#include "cocoinit/cli.h"
int cli_main(int argc, char **argv)
{
	(void)argc; (void)argv;
	return CLI_EXIT_USAGE;
}
