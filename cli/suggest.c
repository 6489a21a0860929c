// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* egressctl policy suggest: placeholder until the suggest work lands. */
#include <stdio.h>

#include "egressctl.h"

int cmd_policy_suggest(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "egressctl policy suggest: not in this version yet\n");
	return 2;
}
