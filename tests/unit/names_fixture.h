/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * policy/'s parser and compiler as test_names.c and test_names_addr.c call
 * them: policy_fixture.h's parse_ok, and the compiler under policy id 1.
 */
#ifndef EF_TEST_NAMES_FIXTURE_H
#define EF_TEST_NAMES_FIXTURE_H

#include "policy_fixture.h"

static inline struct ef_compiled *compile_ok(const struct ef_policy *p)
{
	char err[EF_ERR_LEN];
	struct ef_compiled *c;

	if (ef_policy_compile(p, 1, &c, err, sizeof(err)))
		fail_msg("%s", err);
	return c;
}

#endif /* EF_TEST_NAMES_FIXTURE_H */
