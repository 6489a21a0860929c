/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * policy/'s parser as test_policy.c, test_policy_compile.c and the names
 * tests (names_fixture.h) call it (its errors name c.json).
 */
#ifndef EF_TEST_POLICY_FIXTURE_H
#define EF_TEST_POLICY_FIXTURE_H

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "policy.h"
#include "ef_verdict.h"

static inline struct ef_policy *parse_ok(const char *text)
{
	char err[EF_ERR_LEN];
	struct ef_policy *p;

	if (ef_policy_parse(text, strlen(text), "c.json", &p, err, sizeof(err)))
		fail_msg("%s", err);
	return p;
}

#endif /* EF_TEST_POLICY_FIXTURE_H */
