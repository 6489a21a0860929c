// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * daemon/probe/probe_detect.c: the limits (defaults, a policy's own, new ones on a
 * detector with counts), the names of reasons and actions, and the memory
 * bound, timed over 100,000 destinations and 200,000 within one window.
 */
#include "probe_fixture.h"

static double since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

/* ---- limits and names ---- */

static void test_limits_names(void **state)
{
	struct ef_probe_cfg cfg = { 0 };
	struct ef_probe_fire out[EF_PR__MAX];
	struct ef_probe_limits l;
	struct ef_pdet *p;
	char a[32];
	int n;

	for (int pass = 0; pass < 2; pass++) {
		memset(&l, 0xa5, sizeof(l));
		ef_probe_limits_of(pass ? &cfg : NULL, &l);
		assert_int_equal(l.window_s, EF_PROBE_DEF_WINDOW_S);
		assert_int_equal(l.denied_dests, EF_PROBE_DEF_DENIED_DESTS);
		assert_int_equal(l.denied_names, EF_PROBE_DEF_DENIED_NAMES);
		assert_int_equal(l.ports_per_host, EF_PROBE_DEF_PORTS_PER_HOST);
		assert_int_equal(l.names_per_parent, EF_PROBE_DEF_NAMES_PER_PARENT);
		assert_int_equal(l.tunnel_names, EF_PROBE_DEF_TUNNEL_NAMES);
		assert_int_equal(l.dns_label_bytes, EF_PROBE_DEF_DNS_LABEL_BYTES);
		assert_int_equal(l.flood, EF_PROBE_DEF_FLOOD);
	}
	cfg = (struct ef_probe_cfg){ .action = EF_PROBE_KILL, .denied_dests = 3, .denied_names = 4,
				     .ports_per_host = 5, .names_per_parent = 6,
				     .tunnel_names = 7, .window_s = 8 };
	ef_probe_limits_of(&cfg, &l);
	assert_int_equal(l.window_s, 8);
	assert_int_equal(l.denied_dests, 3);
	assert_int_equal(l.denied_names, 4);
	assert_int_equal(l.ports_per_host, 5);
	assert_int_equal(l.names_per_parent, 6);
	assert_int_equal(l.tunnel_names, 7);
	/* some set, the rest defaults */
	cfg = (struct ef_probe_cfg){ .ports_per_host = 2 };
	ef_probe_limits_of(&cfg, &l);
	assert_int_equal(l.ports_per_host, 2);
	assert_int_equal(l.window_s, EF_PROBE_DEF_WINDOW_S);
	assert_int_equal(l.denied_dests, EF_PROBE_DEF_DENIED_DESTS);

	/* custom limits are what the detectors use: window 8 s, 3 hosts */
	cfg = (struct ef_probe_cfg){ .denied_dests = 3, .window_s = 8 };
	ef_probe_limits_of(&cfg, &l);
	p = det_new(&l);
	no_fire(out, deny_tcp(p, T0, "198.18.0.1", 443, out), "custom 1");
	no_fire(out, deny_tcp(p, T0 + 9 * SEC, "198.18.0.2", 443, out), "custom 2, first expired");
	no_fire(out, deny_tcp(p, T0 + 10 * SEC, "198.18.0.3", 443, out), "custom 3 (2 in window)");
	n = deny_tcp(p, T0 + 11 * SEC, "198.18.0.4", 443, out);
	assert_int_equal(only(out, n, EF_PR_DEST_SCAN, "custom limits")->threshold, 3);
	/* new limits keep the counts (same window: quiet for 8 s after the fire) */
	cfg = (struct ef_probe_cfg){ .window_s = 8 };
	ef_probe_limits_of(&cfg, &l);
	ef_pdet_set_limits(p, &l);
	for (unsigned i = 1; i < 6; i++)
		no_fire(out, deny_tcp(p, T0 + 30 * SEC, pub(a, 1, i), 443, out),
			"before new limits");
	l.denied_dests = 6;
	ef_pdet_set_limits(p, &l);
	n = deny_tcp(p, T0 + 31 * SEC, "198.18.1.6", 443, out);
	assert_int_equal(only(out, n, EF_PR_DEST_SCAN, "after new limits")->count, 6);
	ef_pdet_free(p);
	ef_pdet_free(NULL);

	/* reason names: distinct, known */
	for (int r = 0; r < EF_PR__MAX; r++) {
		const char *s = ef_probe_reason_name(r);

		assert_non_null(s);
		assert_true(s[0] != '\0');
		assert_string_not_equal(s, "unknown");
		for (int k = 0; k < r; k++)
			assert_string_not_equal(s, ef_probe_reason_name(k));
	}
	assert_string_equal(ef_probe_reason_name(EF_PR_DEST_SCAN), "dest_scan");
	assert_string_equal(ef_probe_reason_name(EF_PR_METADATA), "metadata");
	assert_string_equal(ef_probe_reason_name(-1), "unknown");
	assert_string_equal(ef_probe_reason_name(EF_PR__MAX), "unknown");
	assert_string_equal(ef_probe_action_name(EF_PROBE_ALERT), "alert");
	assert_string_equal(ef_probe_action_name(EF_PROBE_FREEZE), "freeze");
	assert_string_equal(ef_probe_action_name(EF_PROBE_KILL), "kill");
	assert_string_equal(ef_probe_action_name(99), "alert");
}

/* ---- memory ---- */

/* A refused TCP connect to the IPv6 address in a (filled in per call). */
static struct ef_probe_conn denied_v6(const uint8_t *a)
{
	return (struct ef_probe_conn){
		.family = EF_FAM_V6,
		.addr = a,
		.port = 443,
		.ipproto = IPPROTO_TCP,
		.connect = true,
		.verdict = EF_V_DENY,
		.reason = EF_R_NO_RULE,
	};
}

static void v6_of(uint32_t i, uint8_t a[16])
{
	/* 2001:db8::/32, public in the test world */
	memset(a, 0, 16);
	a[0] = 0x20;
	a[1] = 0x01;
	a[2] = 0x0d;
	a[3] = 0xb8;
	a[12] = (uint8_t)(i >> 24);
	a[13] = (uint8_t)(i >> 16);
	a[14] = (uint8_t)(i >> 8);
	a[15] = (uint8_t)i;
}

static void test_memory(void **state)
{
	struct ef_probe_fire out[EF_PR__MAX];
	struct ef_probe_limits l;
	struct timespec t0;
	const uint32_t total = 100000;
	uint8_t a[16];
	struct ef_probe_conn c = denied_v6(a);
	size_t most = 0;
	unsigned fires = 0;
	struct ef_pdet *p;
	double secs;
	int n;

	/* 100,000 over 1000 s (10 ms apart), window 60 s: about 6000 per window */
	ef_probe_limits_of(NULL, &l);
	l.window_s = 60;
	p = det_new(&l);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (uint32_t i = 0; i < total; i++) {
		v6_of(i, a);
		c.now_ns = T0 + (uint64_t)i * (SEC / 100);
		n = ef_pdet_conn(p, &c, out);
		if (n < 0 || n > EF_PR__MAX)
			fail_msg("conn %u: %d fires", i, n);
		fires += (unsigned)n;
		if (i % 1000 == 999)
			ef_pdet_expire(p, c.now_ns);
		if (ef_pdet_entries(p) > most)
			most = ef_pdet_entries(p);
	}
	secs = since(&t0);
	print_message("%u distinct destinations in %.3f s (%.0f ns each), %u fires, "
		      "at most %zu entries\n",
		      total, secs, secs * 1e9 / total, fires, most);
	/* two sets (dest_scan, port_scan) of ~6000 in the window each, plus slack
	 * for what is not pruned yet */
	assert_true(most < 4 * 6000 + 4096);
	/* one dest_scan per window and then some: at least every 61 s */
	assert_true(fires >= 1000 / 61);
	/* all gone once the window has passed */
	ef_pdet_expire(p, c.now_ns + 2 * (uint64_t)l.window_s * SEC);
	ef_pdet_expire(p, c.now_ns + 2 * (uint64_t)l.window_s * SEC);
	assert_int_equal(ef_pdet_entries(p), 0);
	ef_pdet_free(p);
}

/*
 * 200,000 distinct within one window: each set stays at SET_MAX, and a
 * decision costs about what it costs below the threshold (the run is
 * given SAT_BUDGET_S seconds, checked as it goes, so that a cost growing
 * with the set fails here rather than running for minutes).
 */
#define SAT_BUDGET_S 20.0

static void test_memory_saturated(void **state)
{
	struct ef_probe_fire out[EF_PR__MAX];
	struct ef_probe_limits l;
	struct timespec t0, tl;
	const uint32_t total = 200000;
	uint8_t a[16];
	struct ef_probe_conn c = denied_v6(a);
	size_t most = 0;
	struct ef_pdet *p;
	double secs;
	int n;

	ef_probe_limits_of(NULL, &l);
	l.window_s = 60;
	p = det_new(&l);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	tl = t0;
	for (uint32_t i = 0; i < total; i++) {
		v6_of(0x01000000u + i, a);
		c.now_ns = T0 + (uint64_t)i * 100000; /* 100 us apart: 20 s in all */
		n = ef_pdet_conn(p, &c, out);
		if (n < 0 || n > EF_PR__MAX)
			fail_msg("conn %u: %d fires", i, n);
		if (ef_pdet_entries(p) > most)
			most = ef_pdet_entries(p);
		if (most > 2 * SET_MAX) {
			ef_pdet_free(p);
			fail_msg("conn %u: %zu entries in two sets", i, most);
		}
		if (i % 1000 == 999) {
			double lap = since(&tl);

			clock_gettime(CLOCK_MONOTONIC, &tl);
			if (since(&t0) > SAT_BUDGET_S) {
				size_t held = ef_pdet_entries(p);

				ef_pdet_free(p);
				fail_msg("too slow: %u of %u decisions in %.1f s; the last 1000 "
					 "took %.0f ns each, with %zu entries",
					 i + 1, total, since(&t0), lap * 1e9 / 1000, held);
			}
		}
	}
	secs = since(&t0);
	print_message("%u distinct in one window in %.3f s (%.0f ns each), at most %zu entries\n",
		      total, secs, secs * 1e9 / total, most);
	assert_true(most <= 2 * SET_MAX);
	ef_pdet_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_limits_names),
		cmocka_unit_test(test_memory),
		cmocka_unit_test(test_memory_saturated),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
