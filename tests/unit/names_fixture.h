/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * policy/'s parser and compiler as test_names.c and test_names_addr.c call them
 * (errors name c.json).
 */
#ifndef EF_TEST_NAMES_FIXTURE_H
#define EF_TEST_NAMES_FIXTURE_H

#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "policy.h"
#include "ef_verdict.h"

/* ---- helpers ---- */

static inline struct ef_policy *parse_ok(const char *text)
{
	char err[EF_ERR_LEN];
	struct ef_policy *p;

	if (ef_policy_parse(text, strlen(text), "c.json", &p, err, sizeof(err)))
		fail_msg("%s", err);
	return p;
}

static inline struct ef_compiled *compile_ok(const struct ef_policy *p)
{
	char err[EF_ERR_LEN];
	struct ef_compiled *c;

	if (ef_policy_compile(p, 1, &c, err, sizeof(err)))
		fail_msg("%s", err);
	return c;
}

#endif /* EF_TEST_NAMES_FIXTURE_H */
