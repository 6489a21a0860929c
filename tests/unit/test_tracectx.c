// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * policy/tracectx.c: W3C traceparent and tracestate as egressctl reads the
 * job's and egressd reads each process's (issue 20). The examples of the
 * W3C Trace Context recommendation, and what a hostile environment sets.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "policy.h"

#define TID "4bf92f3577b34da6a3ce929d0e0e4736"
#define SID "00f067aa0ba902b7"

static void traceparent_valid(void **state)
{
	static const uint8_t tid[16] = { 0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6,
					 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36 };
	static const uint8_t sid[8] = { 0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7 };
	struct ef_tracectx tc;

	(void)state;
	assert_true(ef_traceparent_parse("00-" TID "-" SID "-01", &tc));
	assert_memory_equal(tc.trace_id, tid, 16);
	assert_memory_equal(tc.span_id, sid, 8);
	assert_int_equal(tc.flags, 1);
	assert_true(ef_traceparent_parse("00-" TID "-" SID "-00", &tc));
	assert_int_equal(tc.flags, 0);
	/* a later version: its first fields read as 00's, more may follow */
	assert_true(ef_traceparent_parse("cc-" TID "-" SID "-01", &tc));
	assert_true(ef_traceparent_parse("cc-" TID "-" SID "-01-what-comes-later", &tc));
}

static void traceparent_invalid(void **state)
{
	static const char *const bad[] = {
		"",
		"00",
		"00-" TID "-" SID,			/* no flags */
		"00-" TID "-" SID "-0",			/* short flags */
		"00-" TID "-" SID "-01-",		/* version 00 is 55 exactly */
		"00-" TID "-" SID "-01x",
		"cc-" TID "-" SID "-01x",		/* later versions: "-" after the flags */
		"ff-" TID "-" SID "-01",		/* version ff */
		"00-4BF92F3577B34DA6A3CE929D0E0E4736-" SID "-01", /* upper case */
		"00-" TID "-00F067AA0BA902B7-01",
		"00-00000000000000000000000000000000-" SID "-01", /* zero ids */
		"00-" TID "-0000000000000000-01",
		"00-" TID "-" SID "-0g",		/* not hex */
		"0g-" TID "-" SID "-01",
		"00_" TID "_" SID "_01",
		"00-" TID "0-" SID "-01",		/* a field too long */
		" 00-" TID "-" SID "-01",
		NULL,
	};
	struct ef_tracectx tc, before;

	(void)state;
	memset(&tc, 0x5a, sizeof(tc));
	before = tc;
	for (int i = 0; i < (int)(sizeof(bad) / sizeof(bad[0])); i++) {
		if (ef_traceparent_parse(bad[i], &tc))
			fail_msg("taken: \"%s\"", bad[i] ? bad[i] : "(null)");
		assert_memory_equal(&tc, &before, sizeof(tc)); /* nothing half-written */
	}
}

static void traceparent_huge(void **state)
{
	size_t n = 64 * 1024;
	char *s = malloc(n + 1);
	struct ef_tracectx tc;

	(void)state;
	assert_non_null(s);
	memcpy(s, "00-" TID "-" SID "-01", 55);
	memset(s + 55, 'a', n - 55);
	s[n] = '\0';
	assert_false(ef_traceparent_parse(s, &tc));
	s[0] = 'c'; /* a later version with 64 KB after the flags, but no '-' */
	assert_false(ef_traceparent_parse(s, &tc));
	free(s);
}

static void tracestate(void **state)
{
	static const char *const good[] = {
		"rojo=00f067aa0ba902b7",
		"rojo=00f067aa0ba902b7,congo=t61rcWkgMzE",
		"  rojo=1 ,\tcongo=2 ",
		"fw529a3039@dt=ZmluZXNzZSBhbmQgbXVjaCBtb3Jl",
		"a=1,,b=2",			/* empty members are skipped */
		"k_-*/=v!\"#$%&'()*+-./:;<>?@[]^_`{|}~",
	};
	static const char *const bad[] = {
		"",
		",",
		"Rojo=1",			/* keys are lowercase */
		"rojo",				/* no value */
		"rojo=",
		"=1",
		"ro jo=1",
		"rojo=a,b",			/* ',' ends the member: "b" has no '=' */
		"rojo=a=b",
		"rojo=a\x01",
		"rojo=caf\xc3\xa9",		/* not ASCII */
		"rojo=a ",			/* OWS is trimmed: fine */
	};
	char buf[700];

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (!ef_tracestate_valid(good[i]))
			fail_msg("refused: \"%s\"", good[i]);
	/* the last "bad" one is good after all: trailing OWS is not the value's */
	for (size_t i = 0; i + 1 < sizeof(bad) / sizeof(bad[0]); i++)
		if (ef_tracestate_valid(bad[i]))
			fail_msg("taken: \"%s\"", bad[i]);
	assert_true(ef_tracestate_valid(bad[sizeof(bad) / sizeof(bad[0]) - 1]));
	assert_false(ef_tracestate_valid(NULL));
	/* 32 members, not 33; 512 characters, not 513 */
	buf[0] = '\0';
	for (int i = 0; i < 32; i++)
		sprintf(buf + strlen(buf), "%sk%d=v", i ? "," : "", i);
	assert_true(ef_tracestate_valid(buf));
	strcat(buf, ",k32=v");
	assert_false(ef_tracestate_valid(buf));
	memset(buf, 'v', sizeof(buf));
	memcpy(buf, "k=", 2);
	buf[256 + 2] = '\0'; /* a value of 256 */
	assert_true(ef_tracestate_valid(buf));
	buf[256 + 2] = 'v';
	buf[257 + 2] = '\0'; /* 257 */
	assert_false(ef_tracestate_valid(buf));
	for (int i = 0; i < 512; i += 2)
		memcpy(buf + i, i % 8 ? "a=" : ",b", 2);
	memcpy(buf, "a=", 2);
	buf[512] = '\0';
	(void)ef_tracestate_valid(buf); /* whatever it says, nothing read past 512 */
	buf[512] = 'x';
	buf[513] = '\0';
	assert_false(ef_tracestate_valid(buf));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(traceparent_valid),
		cmocka_unit_test(traceparent_invalid),
		cmocka_unit_test(traceparent_huge),
		cmocka_unit_test(tracestate),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
