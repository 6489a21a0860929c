// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * mountinfo's escapes (cli/mountinfo.c), as the guard's read-only mounts
 * and a root job's copy-on-write layer read mount points: \040 a space,
 * \011 a tab, \012 a newline, \134 a backslash; anything else as it is.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../cli/mountinfo.h"

static void test_unescape(void **state)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
		{ "/home/a\\040b", "/home/a b" },
		{ "/x\\011y\\012z", "/x\ty\nz" },
		{ "/back\\134slash", "/back\\slash" },
		{ "/plain", "/plain" },
		{ "", "" },
		/* not an escape: kept as it is */
		{ "/a\\04", "/a\\04" },
		{ "/a\\400b", "/a\\400b" },
		{ "/a\\08", "/a\\08" },
		{ "/end\\", "/end\\" },
		{ "\\040\\040", "  " },
	};
	char buf[64];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		strcpy(buf, cases[i].in);
		ef_mountinfo_unescape(buf);
		assert_string_equal(buf, cases[i].want);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unescape),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
