/* SPDX-License-Identifier: Apache-2.0 */
/* placeholder: the boot sequence is being written */
#include <unistd.h>
#include "cocoinit/cli.h"
int main(int argc, char **argv)
{
	return cli_main(argc, argv);
}
