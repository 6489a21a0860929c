// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * daemon/dns/dnsmsg.c, cost: prints what a query parse plus an answer parse costs,
 * a hostile self-pointer in either, and what 0x20 and the rebuilt query add to
 * a query.
 */
#include "dns_fixture.h"

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- cost ---- */

static void test_speed(void **state)
{
	struct msg *qm = msg_new(), *am = msg_new(), *bad = msg_new(), *bada = msg_new();
	struct ef_dns_answer a;
	struct ef_dns_query q;
	uint64_t t0, t_q, t_a, t_bad, t_bada;
	int i, rcode, iters = 200000;

	/* what a CI job's resolver sends, and a typical CDN answer */
	std_query(qm, 0x1234, "objects.githubusercontent.com", EF_DNS_TYPE_A, 1232);
	ans_start(am, "objects.githubusercontent.com", EF_DNS_TYPE_A, 5, 0);
	rr_cname(am, "objects.githubusercontent.com", 300, "objects.gh.example.net");
	rr_a(am, "objects.gh.example.net", 60, "185.199.108.133");
	rr_a(am, "objects.gh.example.net", 60, "185.199.109.133");
	rr_a(am, "objects.gh.example.net", 60, "185.199.110.133");
	rr_a(am, "objects.gh.example.net", 60, "185.199.111.133");
	set16(am, 10, 1);
	opt(am, 1232, 0);
	hdr(bad, 6, 0, 1, 0, 0, 0);
	put16(bad, 0xc00c);
	put32(bad, 0x00010001);
	/* an answer with the right id whose record owner is a pointer to itself */
	ans_start(bada, "objects.githubusercontent.com", EF_DNS_TYPE_A, 1, 0);
	set16(bada, bada->n, (uint16_t)(0xc000 | bada->n));
	bada->n += 2;
	put32(bada, 0x00010001);

	t0 = now_ns();
	for (i = 0; i < iters; i++)
		assert_int_equal(ef_dns_query_parse(qm->b, qm->n, &q, &rcode), 0);
	t_q = now_ns() - t0;
	t0 = now_ns();
	for (i = 0; i < iters; i++)
		assert_int_equal(ef_dns_answer_parse(am->b, am->n, &q, 0x1234, &a), 0);
	t_a = now_ns() - t0;
	assert_int_equal(a.n_addrs, 4);
	t0 = now_ns();
	for (i = 0; i < 200; i++)
		assert_int_equal(ef_dns_query_parse(bad->b, bad->n, &q, &rcode), -EPROTO);
	t_bad = now_ns() - t0;
	assert_int_equal(ef_dns_query_parse(qm->b, qm->n, &q, &rcode), 0);
	t0 = now_ns();
	for (i = 0; i < 200; i++)
		assert_int_equal(ef_dns_answer_parse(bada->b, bada->n, &q, 0x1234, &a), -EBADMSG);
	t_bada = now_ns() - t0;
	printf("  dns cost: query parse %.0f ns, answer parse (CNAME + 4 A + OPT) %.0f ns, "
	       "together %.2f us; hostile self-pointer: in a query %.2f us, in an answer %.1f us\n",
	       (double)t_q / iters, (double)t_a / iters, (double)(t_q + t_a) / iters / 1000,
	       (double)t_bad / 200 / 1000, (double)t_bada / 200 / 1000);
	/* what 0x20 and the rebuilt query add per query (the random bits come
	 * from one getrandom() of 32 bytes in egressd, timed apart) */
	{
		uint8_t name[255], out[600], bits[32];
		uint64_t t_b;
		ssize_t n = 0;

		memset(bits, 0xa5, sizeof(bits));
		t0 = now_ns();
		for (i = 0; i < iters; i++) {
			memcpy(name, q.qwire, q.qwire_len);
			ef_dns_name_case(name, q.qwire_len, bits, sizeof(bits));
			n = ef_dns_query_build(&q, name, q.qwire_len, 7, out, sizeof(out));
			memcpy(am->b + 12, name, q.qwire_len);
			assert_int_equal(ef_dns_answer_spelling(am->b, am->n, name, q.qwire_len,
								q.qwire), 0);
		}
		t_b = now_ns() - t0;
		assert_true(n > 0);
		t0 = now_ns();
		for (i = 0; i < iters / 10; i++)
			assert_int_equal(getrandom(bits, sizeof(bits), 0), (ssize_t)sizeof(bits));
		printf("  0x20: case + build + spelling check %.0f ns, getrandom(32) %.0f ns\n",
		       (double)t_b / iters, (double)(now_ns() - t0) / (iters / 10));
	}
	free(bada);
	free(qm);
	free(am);
	free(bad);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_speed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
