/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The tests of whole-policy checks and edits (test_policy_lint.c,
 * test_policy_weaker.c, test_policy_edit.c): parsing, a one-line policy from
 * rule lists, a clock, a policy of many rules, and a full one.
 */
#ifndef EF_TEST_POLICY_EDIT_FIXTURE_H
#define EF_TEST_POLICY_EDIT_FIXTURE_H

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

static inline struct ef_policy *parse_as(const char *text, const char *file)
{
	char err[EF_ERR_LEN];
	struct ef_policy *p;

	if (ef_policy_parse(text, strlen(text), file, &p, err, sizeof(err)))
		fail_msg("%s\n%s", err, text);
	return p;
}

static inline struct ef_policy *parse_ok(const char *text)
{
	return parse_as(text, "l.json");
}

/* A one-line enforce policy from rule lists ("" for none). */
static inline struct ef_policy *pol(const char *name, const char *allow, const char *deny,
				    const char *extra)
{
	char text[8192];

	snprintf(text, sizeof(text), "{\"name\": \"%s\", \"allow\": [%s], \"deny\": [%s]%s%s}",
		 name, allow, deny, extra && *extra ? ", " : "", extra ? extra : "");
	return parse_as(text, "w.json");
}

static inline double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Many rules of each list: the contradiction check must not be O(n^2). */
static inline struct ef_policy *big_policy(size_t n, bool with_shadows)
{
	struct ef_policy *p = calloc(1, sizeof(*p));
	char text[128], err[EF_ERR_LEN];
	size_t i, k = 0;

	assert_non_null(p);
	p->rules = calloc(2 * n, sizeof(*p->rules));
	assert_non_null(p->rules);
	for (i = 0; i < n; i++) {
		switch (i % 4) {
		case 0:
			snprintf(text, sizeof(text), "h%zu.s%zu.example.com:443", i, i % 97);
			break;
		case 1:
			snprintf(text, sizeof(text), "*.w%zu.example.org:443,8443", i);
			break;
		case 2:
			snprintf(text, sizeof(text), "10.%zu.%zu.0/24:80", (i / 4) >> 8,
				 (i / 4) & 255);
			break;
		default:
			snprintf(text, sizeof(text), "[2001:db8:%zx:%zx::]/64:443/any", i >> 16,
				 i & 0xffff);
		}
		if (ef_rule_parse(text, false, &p->rules[k], err, sizeof(err)))
			fail_msg("%s: %s", text, err);
		p->rules[k].line = (int)k + 1;
		p->rules[k].col = 1;
		k++;
	}
	for (i = 0; i < n; i++) {
		if (i % 2)
			snprintf(text, sizeof(text), "d%zu.s%zu.example.com:*", i, i % 97);
		else if (with_shadows && i % 1000 == 0)
			snprintf(text, sizeof(text), "*.s%zu.example.com:*", i % 97);
		else
			snprintf(text, sizeof(text), "172.%zu.%zu.%zu:22", 16 + (i >> 16) % 16,
				 (i >> 8) & 255, i & 255);
		if (ef_rule_parse(text, true, &p->rules[k], err, sizeof(err)))
			continue; /* a repeat of the wildcard: fine */
		p->rules[k].line = (int)k + 1;
		p->rules[k].col = 1;
		k++;
	}
	p->n_rules = k;
	p->loopback = EF_LOOPBACK_OWN;
	p->file = strdup("big.json");
	strcpy(p->name, "big");
	return p;
}

static const char full_policy[] =
	"{\n"
	"  \"name\": \"claude-code\",\n"
	"  \"description\": \"coding agent\",\n"
	"  \"allow\": [\n"
	"    \"api.anthropic.com:443\",\n"
	"    \"*.githubusercontent.com:443\",\n"
	"    \"140.82.112.0/20:22,443\",\n"
	"    \"[2606:50c0::]/32:443\",\n"
	"    \"time.google.com:123/udp\",\n"
	"    \"169.254.169.254:80\"\n"
	"  ],\n"
	"  \"deny\": [\"169.254.0.0/16:22\", \"*.evil.githubusercontent.com:*/any\", \"10.0.0.0/8:*\"],\n"
	"  \"loopback\": false,\n"
	"  \"dns\": { \"upstream\": [\"1.1.1.1\", \"[2606:4700::1111]:53\"] },\n"
	"  \"probe\": { \"action\": \"freeze\", \"denied_dests\": 20, \"window_s\": 60 },\n"
	"  \"sockets\": { \"raw\": true, \"icmp\": true, \"families\": [\"vsock\", \"can\", 42] }\n"
	"}\n";

#endif /* EF_TEST_POLICY_EDIT_FIXTURE_H */
