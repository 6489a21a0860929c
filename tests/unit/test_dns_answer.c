// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * daemon/dns/dnsmsg.c, upstream answers: addresses and their TTLs, CNAME chains in
 * and out of order, loops and chains too long, records never trusted (other
 * owners, classes and sections), answers to another query, TC, more addresses
 * than are kept, malformed and random records, and a compressed answer built
 * by ldns.
 */
#include "dns_fixture.h"

/* ---- answers ---- */

static const char *addr_str(const struct ef_dns_addr *a, char *buf)
{
	return inet_ntop(a->family == 4 ? AF_INET : AF_INET6, a->addr, buf, INET6_ADDRSTRLEN);
}

static void assert_addr(const struct ef_dns_addr *a, const char *want, uint32_t ttl)
{
	char buf[INET6_ADDRSTRLEN];

	assert_string_equal(addr_str(a, buf), want);
	assert_int_equal(a->family, strchr(want, ':') ? 6 : 4);
	assert_int_equal(a->ttl, ttl);
}

static void test_answer_simple(void **state)
{
	struct ef_dns_query q = make_q("www.example.com", EF_DNS_TYPE_A);
	struct msg *m = msg_new();
	struct ef_dns_answer a;

	ans_start(m, "www.example.com", EF_DNS_TYPE_A, 3, 0);
	rr_a(m, "www.example.com", 300, "192.0.2.1");
	rr_a(m, "www.example.com", 200, "192.0.2.2");
	rr_aaaa(m, "www.example.com", 100, "2001:db8::1");
	assert_int_equal(ef_dns_answer_parse(m->b, m->n, &q, 0x1234, &a), 0);
	assert_int_equal(a.id, 0x1234);
	assert_int_equal(a.rcode, 0);
	assert_false(a.tc);
	assert_false(a.truncated_list);
	assert_int_equal(a.n_cnames, 0);
	assert_int_equal(a.n_addrs, 3);
	assert_addr(&a.addrs[0], "192.0.2.1", 300);
	assert_addr(&a.addrs[1], "192.0.2.2", 200);
	assert_addr(&a.addrs[2], "2001:db8::1", 100);

	/* 0x20 case randomisation upstream: the question still matches */
	ans_start(m, "WWW.example.COM", EF_DNS_TYPE_A, 1, 0);
	rr_a(m, "wWw.ExAmPlE.cOm", 60, "192.0.2.9");
	assert_int_equal(ef_dns_answer_parse(m->b, m->n, &q, 0x1234, &a), 0);
	assert_int_equal(a.n_addrs, 1);

	/* bytes after the last record are ignored, as stubs do */
	put32(m, 0xdeadbeef);
	assert_int_equal(ef_dns_answer_parse(m->b, m->n, &q, 0x1234, &a), 0);
	assert_int_equal(a.n_addrs, 1);
	free(m);
}

/* A record of an answer: type, owner, TTL, and an address or a CNAME's target. */
struct rec {
	uint16_t type;
	const char *owner;
	uint32_t ttl;
	const char *data;
};

#define A(o, t, d) { EF_DNS_TYPE_A, o, t, d }
#define AAAA(o, t, d) { EF_DNS_TYPE_AAAA, o, t, d }
#define CNAME(o, t, d) { EF_DNS_TYPE_CNAME, o, t, d }

/*
 * Answers to one query, in the answer section in the order given: the chain
 * of CNAMEs followed from the question and the addresses on it, each with the
 * least TTL of the chain up to it.
 */
static const struct chain_case {
	const char *what;
	const char *qname;
	uint16_t qtype;
	struct rec rr[6];      /* up to the first without an owner */
	const char *cnames[4]; /* the chain in order, up to the first NULL */
	struct {
		const char *addr;
		uint32_t ttl;
	} addrs[5]; /* up to the first NULL */
} chain_cases[] = {
	{ "a CNAME chain in order", "www.example.com", EF_DNS_TYPE_A,
	  { CNAME("www.example.com", 3600, "Edge.CDN.example.net"),
	    CNAME("edge.cdn.example.net", 120, "e1.cdn.example.net"),
	    A("e1.cdn.example.net", 60, "198.51.100.7"),
	    AAAA("e1.cdn.example.net", 600, "2001:db8::7") },
	  { "edge.cdn.example.net", "e1.cdn.example.net" },
	  { { "198.51.100.7", 60 }, { "2001:db8::7", 120 } } },
	{ "a CNAME chain out of order, an A beside a CNAME on the chain taken",
	  "www.example.com", EF_DNS_TYPE_A,
	  { A("c3.example.net", 500, "203.0.113.3"),
	    CNAME("c2.example.net", 400, "c3.example.net"),
	    A("c2.example.net", 500, "203.0.113.2"),
	    CNAME("c1.example.net", 30, "c2.example.net"),
	    CNAME("www.example.com", 3000, "c1.example.net") },
	  { "c1.example.net", "c2.example.net", "c3.example.net" },
	  { { "203.0.113.3", 30 }, { "203.0.113.2", 30 } } },
	{ "a CNAME loop", "a.example", EF_DNS_TYPE_A,
	  { CNAME("a.example", 60, "b.example"), CNAME("b.example", 60, "A.EXAMPLE"),
	    A("b.example", 60, "192.0.2.2"), A("a.example", 60, "192.0.2.1") },
	  { "b.example" },
	  { { "192.0.2.2", 60 }, { "192.0.2.1", 60 } } },
	{ "a CNAME to itself", "a.example", EF_DNS_TYPE_A,
	  { CNAME("a.example", 60, "a.example") },
	  { NULL },
	  { { NULL } } },
	{ "two CNAMEs for one owner: the first wins, the other branch is never trusted",
	  "a.example", EF_DNS_TYPE_A,
	  { CNAME("a.example", 60, "good.example"), CNAME("a.example", 60, "evil.example"),
	    A("evil.example", 60, "192.0.2.66"), A("good.example", 60, "192.0.2.10") },
	  { "good.example" },
	  { { "192.0.2.10", 60 } } },
	{ "the least TTL on the chain", "t.example", EF_DNS_TYPE_AAAA,
	  { CNAME("t.example", 100, "u.example"), CNAME("u.example", 50, "v.example"),
	    AAAA("t.example", 1000, "2001:db8::1"), AAAA("u.example", 1000, "2001:db8::2"),
	    AAAA("v.example", 10, "2001:db8::3"), AAAA("v.example", 0x80000000u, "2001:db8::4") },
	  { "u.example", "v.example" },
	  { { "2001:db8::1", 1000 }, { "2001:db8::2", 100 }, { "2001:db8::3", 10 },
	    { "2001:db8::4", 0 } } },
	{ "a CNAME whose TTL has the top bit set makes everything after it 0", "t.example",
	  EF_DNS_TYPE_AAAA,
	  { CNAME("t.example", 0xffffffffu, "u.example"), AAAA("u.example", 1000, "2001:db8::2") },
	  { "u.example" },
	  { { "2001:db8::2", 0 } } },
};

#undef A
#undef AAAA
#undef CNAME

static void test_answer_chains(void **state)
{
	struct msg *m = msg_new();
	struct ef_dns_answer a;

	for (size_t i = 0; i < sizeof(chain_cases) / sizeof(chain_cases[0]); i++) {
		const struct chain_case *c = &chain_cases[i];
		struct ef_dns_query q = make_q(c->qname, c->qtype);
		size_t n_rr = 0, n_cnames = 0, n_addrs = 0;
		char buf[INET6_ADDRSTRLEN];

		while (n_rr < 6 && c->rr[n_rr].owner)
			n_rr++;
		while (n_cnames < 4 && c->cnames[n_cnames])
			n_cnames++;
		while (n_addrs < 5 && c->addrs[n_addrs].addr)
			n_addrs++;
		ans_start(m, c->qname, c->qtype, (uint16_t)n_rr, 0);
		for (size_t k = 0; k < n_rr; k++) {
			const struct rec *r = &c->rr[k];

			if (r->type == EF_DNS_TYPE_A)
				rr_a(m, r->owner, r->ttl, r->data);
			else if (r->type == EF_DNS_TYPE_AAAA)
				rr_aaaa(m, r->owner, r->ttl, r->data);
			else
				rr_cname(m, r->owner, r->ttl, r->data);
		}
		row_int(c->what, ef_dns_answer_parse(m->b, m->n, &q, 0x1234, &a), 0);
		row_int(c->what, a.n_cnames, n_cnames);
		for (size_t k = 0; k < n_cnames; k++)
			row_str(c->what, a.cnames[k], c->cnames[k]);
		row_int(c->what, a.n_addrs, n_addrs);
		for (size_t k = 0; k < n_addrs; k++) {
			/* assert_addr(), naming the row */
			row_str(c->what, addr_str(&a.addrs[k], buf), c->addrs[k].addr);
			row_int(c->what, a.addrs[k].family, strchr(c->addrs[k].addr, ':') ? 6 : 4);
			row_int(c->what, a.addrs[k].ttl, c->addrs[k].ttl);
		}
		row_int(c->what, a.truncated_list, false);
	}
	free(m);
}

static void test_answer_chain_too_long(void **state)
{
	struct ef_dns_query q = make_q("c0.example", EF_DNS_TYPE_A);
	struct msg *m = msg_new();
	struct ef_dns_answer a;
	char o[32], t[32];
	int i;

	ans_start(m, "c0.example", EF_DNS_TYPE_A, 12, 0);
	for (i = 0; i < 10; i++) {
		snprintf(o, sizeof(o), "c%d.example", i);
		snprintf(t, sizeof(t), "c%d.example", i + 1);
		rr_cname(m, o, 60, t);
	}
	rr_a(m, "c8.example", 60, "192.0.2.8");
	rr_a(m, "c10.example", 60, "192.0.2.10");
	assert_int_equal(ef_dns_answer_parse(m->b, m->n, &q, 0x1234, &a), 0);
	assert_int_equal(a.n_cnames, EF_DNS_MAX_CNAMES);
	assert_string_equal(a.cnames[0], "c1.example");
	assert_string_equal(a.cnames[7], "c8.example");
	assert_true(a.truncated_list);
	assert_int_equal(a.n_addrs, 1);
	assert_addr(&a.addrs[0], "192.0.2.8", 60);

	/* exactly EF_DNS_MAX_CNAMES is not truncated */
	ans_start(m, "c0.example", EF_DNS_TYPE_A, 9, 0);
	for (i = 0; i < 8; i++) {
		snprintf(o, sizeof(o), "c%d.example", i);
		snprintf(t, sizeof(t), "c%d.example", i + 1);
		rr_cname(m, o, 60, t);
	}
	rr_a(m, "c8.example", 60, "192.0.2.8");
	assert_int_equal(ef_dns_answer_parse(m->b, m->n, &q, 0x1234, &a), 0);
	assert_int_equal(a.n_cnames, 8);
	assert_false(a.truncated_list);
	assert_int_equal(a.n_addrs, 1);
	free(m);
}

static void test_answer_owner_mismatch(void **state)
{
	struct ef_dns_query q = make_q("www.example.com", EF_DNS_TYPE_A);
	struct msg *m = msg_new();
	struct ef_dns_answer a;
	uint8_t ip[4] = { 192, 0, 2, 99 };

	ans_start(m, "www.example.com", EF_DNS_TYPE_A, 6, 0);
	rr_a(m, "evil.example.org", 60, "192.0.2.66");
	rr_cname(m, "other.example.com", 60, "www.example.com");
	rr_a(m, "other.example.com", 60, "192.0.2.67");
	rr_a(m, "example.com", 60, "192.0.2.68");
	rr_raw(m, "www.example.com", EF_DNS_TYPE_A, 3 /* CH */, 60, ip, 4);
	rr_a(m, "www.example.com", 60, "192.0.2.1");
	/* and records in the other sections are never trusted */
	set16(m, 8, 1);
	rr_a(m, "www.example.com", 60, "192.0.2.70");
	set16(m, 10, 1);
	rr_a(m, "www.example.com", 60, "192.0.2.71");
	assert_int_equal(ef_dns_answer_parse(m->b, m->n, &q, 0x1234, &a), 0);
	assert_int_equal(a.n_cnames, 0);
	assert_int_equal(a.n_addrs, 1);
	assert_addr(&a.addrs[0], "192.0.2.1", 60);
	free(m);
}

static void test_answer_mismatch(void **state)
{
	struct ef_dns_query q = make_q("www.example.com", EF_DNS_TYPE_A);
	struct msg *m = msg_new();
	struct ef_dns_answer a;

	ans_start(m, "www.example.com", EF_DNS_TYPE_A, 1, 0);
	rr_a(m, "www.example.com", 60, "192.0.2.1");
	assert_int_equal(ef_dns_answer_parse(m->b, m->n, &q, 0x1234, &a), 0);
	assert_int_equal(ef_dns_answer_parse(m->b, m->n, &q, 0x1235, &a), -EPROTO);
	assert_int_equal(a.n_addrs, 0);
	m->b[2] &= 0x7f;
	assert_int_equal(ef_dns_answer_parse(m->b, m->n, &q, 0x1234, &a), -EPROTO);
	m->b[2] |= 0x80 | (2 << 3);
	assert_int_equal(ef_dns_answer_parse(m->b, m->n, &q, 0x1234, &a), -EPROTO);

	ans_start(m, "www.example.org", EF_DNS_TYPE_A, 1, 0);
	rr_a(m, "www.example.org", 60, "192.0.2.1");
	assert_int_equal(ef_dns_answer_parse(m->b, m->n, &q, 0x1234, &a), -EPROTO);
	ans_start(m, "www.example.co", EF_DNS_TYPE_A, 0, 0);
	assert_int_equal(ef_dns_answer_parse(m->b, m->n, &q, 0x1234, &a), -EPROTO);
	ans_start(m, "www.example.com", EF_DNS_TYPE_AAAA, 1, 0);
	rr_a(m, "www.example.com", 60, "192.0.2.1");
	assert_int_equal(ef_dns_answer_parse(m->b, m->n, &q, 0x1234, &a), -EPROTO);
	hdr(m, 0x1234, F_QR | F_RA, 1, 0, 0, 0);
	question(m, "www.example.com", EF_DNS_TYPE_A, 3);
	assert_int_equal(ef_dns_answer_parse(m->b, m->n, &q, 0x1234, &a), -EPROTO);
	/* an error with no question (a FORMERR, some SERVFAILs) */
	hdr(m, 0x1234, F_QR | F_RA | EF_DNS_RCODE_SERVFAIL, 0, 0, 0, 0);
	assert_int_equal(ef_dns_answer_parse(m->b, m->n, &q, 0x1234, &a), -EPROTO);
	hdr(m, 0x1234, F_QR | F_RA, 2, 0, 0, 0);
	question(m, "www.example.com", EF_DNS_TYPE_A, 1);
	question(m, "www.example.com", EF_DNS_TYPE_A, 1);
	assert_int_equal(ef_dns_answer_parse(m->b, m->n, &q, 0x1234, &a), -EPROTO);
	free(m);
}

static void test_answer_tc(void **state)
{
	struct ef_dns_query q = make_q("big.example", EF_DNS_TYPE_A);
	struct msg *m = msg_new();
	struct ef_dns_answer a;
	size_t cut;

	/* TC with whole records */
	ans_start(m, "big.example", EF_DNS_TYPE_A, 1, F_TC);
	rr_a(m, "big.example", 60, "192.0.2.1");
	assert_int_equal(ef_dns_answer_parse(m->b, m->n, &q, 0x1234, &a), 0);
	assert_true(a.tc);
	assert_int_equal(a.n_addrs, 1);

	/* TC and cut inside the third record, whose count says ten */
	ans_start(m, "big.example", EF_DNS_TYPE_A, 10, F_TC);
	rr_a(m, "big.example", 60, "192.0.2.1");
	rr_a(m, "big.example", 60, "192.0.2.2");
	cut = m->n + 7;
	rr_a(m, "big.example", 60, "192.0.2.3");
	assert_int_equal(ef_dns_answer_parse(m->b, cut, &q, 0x1234, &a), 0);
	assert_true(a.tc);
	assert_int_equal(a.n_addrs, 2);
	assert_addr(&a.addrs[1], "192.0.2.2", 60);
	/* the same without TC is broken */
	m->b[2] &= (uint8_t)~0x02;
	assert_int_equal(ef_dns_answer_parse(m->b, cut, &q, 0x1234, &a), -EBADMSG);
	assert_false(a.tc);
	free(m);
}

static void test_answer_many_addrs(void **state)
{
	struct ef_dns_query q = make_q("many.example", EF_DNS_TYPE_A);
	struct msg *m = msg_new();
	struct ef_dns_answer a;
	char ip[32];
	int i;

	ans_start(m, "many.example", EF_DNS_TYPE_A, 100, 0);
	for (i = 0; i < 100; i++) {
		snprintf(ip, sizeof(ip), "10.0.%d.%d", i / 256, i % 256);
		rr_a(m, "many.example", (uint32_t)(1000 + i), ip);
	}
	assert_int_equal(ef_dns_answer_parse(m->b, m->n, &q, 0x1234, &a), 0);
	assert_int_equal(a.n_addrs, EF_DNS_MAX_ADDRS);
	assert_true(a.truncated_list);
	assert_addr(&a.addrs[63], "10.0.0.63", 1063);

	/* exactly 64 */
	ans_start(m, "many.example", EF_DNS_TYPE_A, 64, 0);
	for (i = 0; i < 64; i++) {
		snprintf(ip, sizeof(ip), "10.0.%d.%d", i / 256, i % 256);
		rr_a(m, "many.example", 60, ip);
	}
	assert_int_equal(ef_dns_answer_parse(m->b, m->n, &q, 0x1234, &a), 0);
	assert_int_equal(a.n_addrs, 64);
	assert_false(a.truncated_list);

	/* a count the message cannot hold allocates nothing large and fails */
	ans_start(m, "many.example", EF_DNS_TYPE_A, 65535, 0);
	rr_a(m, "many.example", 60, "10.0.0.1");
	assert_int_equal(ef_dns_answer_parse(m->b, m->n, &q, 0x1234, &a), -EBADMSG);
	m->b[2] |= 0x02;
	assert_int_equal(ef_dns_answer_parse(m->b, m->n, &q, 0x1234, &a), 0);
	assert_int_equal(a.n_addrs, 1);
	free(m);
}

static void test_answer_malformed(void **state)
{
	struct ef_dns_query q = make_q("a.example", EF_DNS_TYPE_A);
	struct msg *m = msg_new();
	struct ef_dns_answer a;
	uint8_t rd[8] = { 1, 2, 3, 4, 0xc0, 12, 0, 1 };
	size_t full, n;

	/*
	 * An A record whose RDLENGTH is 8: ldns_wire2pkt() reads 4 bytes and
	 * the next record from the middle of this one; here it is broken.
	 */
	ans_start(m, "a.example", EF_DNS_TYPE_A, 2, 0);
	rr_raw(m, "a.example", EF_DNS_TYPE_A, EF_DNS_CLASS_IN, 60, rd, 8);
	put16(m, 1);
	put32(m, 60);
	put16(m, 4);
	put32(m, 0x06060606);
	assert_int_equal(ef_dns_answer_parse(m->b, m->n, &q, 0x1234, &a), -EBADMSG);
	{
		ldns_pkt *p = NULL;

		assert_int_equal(ldns_wire2pkt(&p, m->b, m->n), LDNS_STATUS_OK);
		assert_int_equal(ldns_rr_list_rr_count(ldns_pkt_answer(p)), 2);
		ldns_pkt_free(p);
	}
	ans_start(m, "a.example", EF_DNS_TYPE_A, 1, 0);
	rr_raw(m, "a.example", EF_DNS_TYPE_AAAA, EF_DNS_CLASS_IN, 60, rd, 4);
	assert_int_equal(ef_dns_answer_parse(m->b, m->n, &q, 0x1234, &a), -EBADMSG);
	/* a CNAME target that does not fill its rdata, or runs past it */
	ans_start(m, "a.example", EF_DNS_TYPE_A, 1, 0);
	rr_raw(m, "a.example", EF_DNS_TYPE_CNAME, EF_DNS_CLASS_IN, 60, "\x01x\x00\x00", 4);
	assert_int_equal(ef_dns_answer_parse(m->b, m->n, &q, 0x1234, &a), -EBADMSG);
	ans_start(m, "a.example", EF_DNS_TYPE_A, 1, 0);
	rr_raw(m, "a.example", EF_DNS_TYPE_CNAME, EF_DNS_CLASS_IN, 60, "\x01x", 2);
	put8(m, 0);
	assert_int_equal(ef_dns_answer_parse(m->b, m->n, &q, 0x1234, &a), -EBADMSG);
	/* a compressed CNAME target pointing back at the question is fine */
	ans_start(m, "a.example", EF_DNS_TYPE_A, 2, 0);
	rr_raw(m, "b.example", EF_DNS_TYPE_A, EF_DNS_CLASS_IN, 60, rd, 4);
	rr_raw(m, "a.example", EF_DNS_TYPE_CNAME, EF_DNS_CLASS_IN, 60, "\x01" "b\xc0\x0e", 4);
	assert_int_equal(ef_dns_answer_parse(m->b, m->n, &q, 0x1234, &a), 0);
	assert_int_equal(a.n_cnames, 1);
	assert_string_equal(a.cnames[0], "b.example");
	assert_int_equal(a.n_addrs, 1);
	/* a compressed question */
	hdr(m, 0x1234, F_QR | F_RA, 1, 0, 0, 0);
	put16(m, 0xc011);
	put32(m, 0x00010001);
	put_name(m, "a.example");
	assert_int_equal(ef_dns_answer_parse(m->b, m->n, &q, 0x1234, &a), -EBADMSG);
	/* a compression loop in a record's owner */
	ans_start(m, "a.example", EF_DNS_TYPE_A, 1, 0);
	set16(m, m->n, (uint16_t)(0xc000 | m->n));
	m->n += 2;
	put16(m, 1);
	put16(m, 1);
	put32(m, 60);
	put16(m, 4);
	put32(m, 0x01020304);
	assert_int_equal(ef_dns_answer_parse(m->b, m->n, &q, 0x1234, &a), -EBADMSG);
	/* records of another class are not read, not even their rdata */
	ans_start(m, "a.example", EF_DNS_TYPE_A, 1, 0);
	rr_raw(m, "a.example", EF_DNS_TYPE_A, 3, 60, rd, 8);
	assert_int_equal(ef_dns_answer_parse(m->b, m->n, &q, 0x1234, &a), 0);
	assert_int_equal(a.n_addrs, 0);

	/* longer than any DNS message */
	ans_start(m, "a.example", EF_DNS_TYPE_A, 0, 0);
	assert_int_equal(ef_dns_answer_parse(m->b, EF_DNS_MSG_MAX + 1, &q, 0x1234, &a), -EBADMSG);

	/* cut at every offset of a real answer: never a crash, never a half answer */
	ans_start(m, "a.example", EF_DNS_TYPE_A, 3, 0);
	rr_cname(m, "a.example", 60, "b.example");
	rr_a(m, "b.example", 60, "192.0.2.1");
	rr_aaaa(m, "b.example", 60, "2001:db8::1");
	set16(m, 10, 1);
	opt(m, 1232, 0);
	full = m->n;
	assert_int_equal(ef_dns_answer_parse(m->b, full, &q, 0x1234, &a), 0);
	assert_int_equal(a.n_addrs, 2);
	for (n = 0; n < full; n++) {
		uint8_t *p = malloc(n ? n : 1);

		assert_non_null(p);
		memcpy(p, m->b, n);
		assert_int_equal(ef_dns_answer_parse(p, n, &q, 0x1234, &a), -EBADMSG);
		free(p);
	}
	free(m);
}

static void test_answer_ldns_built(void **state)
{
	struct ef_dns_query q = make_q("www.example.com", EF_DNS_TYPE_A);
	static const char *const rrs[] = {
		"www.example.com. 300 IN CNAME www.example.com.cdn.example.net.",
		"www.example.com.cdn.example.net. 20 IN CNAME e7.example.net.",
		"e7.example.net. 40 IN A 192.0.2.7",
		"e7.example.net. 40 IN A 192.0.2.8",
		"e7.example.net. 40 IN TXT \"not an address\"",
	};
	struct ef_dns_answer a;
	ldns_pkt *p = NULL;
	ldns_rr *rr = NULL;
	uint8_t *w = NULL;
	size_t i, n;

	assert_int_equal(ldns_pkt_query_new_frm_str(&p, "WWW.example.com.", LDNS_RR_TYPE_A,
						     LDNS_RR_CLASS_IN, LDNS_RD),
			 LDNS_STATUS_OK);
	ldns_pkt_set_id(p, 0x1234);
	ldns_pkt_set_qr(p, true);
	ldns_pkt_set_ra(p, true);
	ldns_pkt_set_rcode(p, LDNS_RCODE_NXDOMAIN);
	for (i = 0; i < sizeof(rrs) / sizeof(rrs[0]); i++) {
		assert_int_equal(ldns_rr_new_frm_str(&rr, rrs[i], 0, NULL, NULL), LDNS_STATUS_OK);
		assert_true(ldns_pkt_push_rr(p, LDNS_SECTION_ANSWER, rr));
	}
	assert_int_equal(ldns_rr_new_frm_str(&rr, "example.net. 60 IN SOA ns. h. 1 2 3 4 5", 0,
					     NULL, NULL),
			 LDNS_STATUS_OK);
	assert_true(ldns_pkt_push_rr(p, LDNS_SECTION_AUTHORITY, rr));
	ldns_pkt_set_edns_udp_size(p, 1232);
	ldns_pkt_set_edns_extended_rcode(p, 1); /* 1 << 4 | 3: an rcode of 19 */
	assert_int_equal(ldns_pkt2wire(&w, p, &n), LDNS_STATUS_OK);
	assert_true(n < 250); /* compressed: 314 bytes without */
	assert_int_equal(ef_dns_answer_parse(w, n, &q, 0x1234, &a), 0);
	assert_int_equal(a.rcode, 19);
	assert_int_equal(a.n_cnames, 2);
	assert_string_equal(a.cnames[0], "www.example.com.cdn.example.net");
	assert_string_equal(a.cnames[1], "e7.example.net");
	assert_int_equal(a.n_addrs, 2);
	assert_addr(&a.addrs[0], "192.0.2.7", 20);
	assert_addr(&a.addrs[1], "192.0.2.8", 20);
	free(w);
	ldns_pkt_free(p);
}

static void test_answer_garbage(void **state)
{
	struct ef_dns_query q = make_q("a.example", EF_DNS_TYPE_A);
	uint8_t *p = malloc(EF_DNS_MSG_MAX);
	struct ef_dns_answer a;
	size_t i, j;
	int ret;

	assert_non_null(p);
	for (i = 0; i < EF_DNS_MSG_MAX; i++)
		p[i] = (uint8_t)rnd();
	ret = ef_dns_answer_parse(p, EF_DNS_MSG_MAX, &q, ldns_read_uint16(p), &a);
	assert_true(ret == -EPROTO || ret == -EBADMSG);

	/* a valid header and question, then random records */
	for (i = 0; i < 20000; i++) {
		static const uint8_t head[] = "\x12\x34\x81\x80\0\1\0\0\0\0\0\0"
					      "\1a\7example\0\0\1\0\1";
		size_t hl = sizeof(head) - 1, n = hl + rnd() % 200;

		memcpy(p, head, hl);
		for (j = hl; j < n; j++)
			p[j] = (uint8_t)(rnd() % 4 ? rnd() % 20 : rnd());
		p[7] = (uint8_t)(rnd() % 16);
		p[2] |= (uint8_t)(rnd() & 2);
		ret = ef_dns_answer_parse(p, n, &q, 0x1234, &a);
		assert_true(ret == 0 || ret == -EBADMSG);
		assert_true(a.n_addrs <= EF_DNS_MAX_ADDRS);
		assert_true(a.n_cnames <= EF_DNS_MAX_CNAMES);
		for (j = 0; ret == 0 && j < a.n_cnames; j++)
			assert_true(strlen(a.cnames[j]) <= EF_DNS_NAME_LEN_MAX);
	}
	free(p);
}

/* ---- answers kept in a job's cache: aged in place (dns_cache.c) ---- */

/* A 192.0.2.1, TTL ttl, its owner a pointer to the question (0xc00c); the
 * address's first byte (0xc0) reads like a pointer, but is rdata. */
static void rr_a_at_question(struct msg *m, uint32_t ttl)
{
	put16(m, 0xc00c);
	put16(m, EF_DNS_TYPE_A);
	put16(m, EF_DNS_CLASS_IN);
	put32(m, ttl);
	put16(m, 4);
	put32(m, 0xc0000201);
}

static uint32_t ttl_at(const struct msg *m, size_t rr_end_off, size_t rdlen)
{
	/* the TTL of the record whose rdata ends at rr_end_off */
	return ldns_read_uint32(m->b + rr_end_off - rdlen - 6);
}

static void test_answer_age(void **state)
{
	struct ef_dns_query q = make_q("www.example.com", EF_DNS_TYPE_A);
	struct ef_dns_answer a;
	struct msg *m = msg_new();
	size_t end_a, end_aaaa, end_ns, end_opt;
	uint32_t least;

	/* answer, authority (an SOA-ish record) and additional: all age; the
	 * OPT record's TTL field is flags, never touched */
	hdr(m, 0x1234, F_QR | F_RD | F_RA, 1, 2, 1, 1);
	question(m, "www.example.com", EF_DNS_TYPE_A, EF_DNS_CLASS_IN);
	rr_a(m, "www.example.com", 300, "192.0.2.1");
	end_a = m->n;
	rr_aaaa(m, "www.example.com", 100, "2001:db8::1");
	end_aaaa = m->n;
	rr_raw(m, "example.com", 6, EF_DNS_CLASS_IN, 0x80000001u, "\0\0\0\0", 4);
	end_ns = m->n;
	opt(m, 1232, 0x00008000);
	end_opt = m->n;
	/* the top-bit TTL reads as 0 (RFC 2181) and is written back as 0 */
	assert_int_equal(ef_dns_answer_age(m->b, m->n, 0, &least), 0);
	assert_int_equal(least, 0);
	assert_int_equal(ttl_at(m, end_ns, 4), 0);
	m->b[end_ns - 4 - 6] = 0; /* TTL written back as 0: make it 200 */
	m->b[end_ns - 4 - 3] = 200;
	assert_int_equal(ef_dns_answer_age(m->b, m->n, 0, &least), 0);
	assert_int_equal(least, 100);
	assert_int_equal(ef_dns_answer_age(m->b, m->n, 30, &least), 0);
	assert_int_equal(least, 70);
	assert_int_equal(ttl_at(m, end_a, 4), 270);
	assert_int_equal(ttl_at(m, end_aaaa, 16), 70);
	assert_int_equal(ttl_at(m, end_ns, 4), 170);
	assert_int_equal(ldns_read_uint32(m->b + end_opt - 6), 0x00008000);
	/* what the job is given still parses, with the TTLs it now carries */
	assert_int_equal(ef_dns_answer_parse(m->b, m->n, &q, 0x1234, &a), 0);
	assert_int_equal(a.n_addrs, 2);
	assert_addr(&a.addrs[0], "192.0.2.1", 270);
	assert_addr(&a.addrs[1], "2001:db8::1", 70);
	/* past a TTL: 0, never a wrap */
	assert_int_equal(ef_dns_answer_age(m->b, m->n, 1000, &least), 0);
	assert_int_equal(least, 0);
	assert_int_equal(ttl_at(m, end_a, 4), 0);

	/* no record but OPT: no TTL to keep it by */
	hdr(m, 0x1234, F_QR | F_RD | F_RA | 3, 1, 0, 0, 1);
	question(m, "www.example.com", EF_DNS_TYPE_A, EF_DNS_CLASS_IN);
	opt(m, 1232, 0);
	assert_int_equal(ef_dns_answer_age(m->b, m->n, 5, &least), 0);
	assert_int_equal(least, UINT32_MAX);

	/* a negative answer lives min(SOA TTL, MINIMUM) (RFC 2308) */
	hdr(m, 0x1234, F_QR | F_RD | F_RA | 3, 1, 0, 1, 0);
	question(m, "www.example.com", EF_DNS_TYPE_A, EF_DNS_CLASS_IN);
	rr_raw(m, "example.com", 6, EF_DNS_CLASS_IN, 600,
	       "\0\0" "\0\0\0\1" "\0\0\0\2" "\0\0\0\3" "\0\0\0\4" "\0\0\0\36", 22);
	assert_int_equal(ef_dns_answer_age(m->b, m->n, 0, &least), 0);
	assert_int_equal(least, 30);
	assert_int_equal(ef_dns_answer_age(m->b, m->n, 10, &least), 0);
	assert_int_equal(least, 20);
	assert_int_equal(ttl_at(m, m->n, 22), 20);

	/* a compressed owner (a pointer to the question) */
	ans_start(m, "www.example.com", EF_DNS_TYPE_A, 1, 0);
	rr_a_at_question(m, 60);
	assert_int_equal(ef_dns_answer_age(m->b, m->n, 10, &least), 0);
	assert_int_equal(least, 50);

	/* not kept: bytes after the last record, a record cut short, a count
	 * past the records, a label type of 0x40/0x80, a header cut short */
	put8(m, 0);
	assert_int_equal(ef_dns_answer_age(m->b, m->n, 0, &least), -EBADMSG);
	m->n -= 2;
	assert_int_equal(ef_dns_answer_age(m->b, m->n, 0, &least), -EBADMSG);
	m->n += 1;
	set16(m, 6, 2);
	assert_int_equal(ef_dns_answer_age(m->b, m->n, 0, &least), -EBADMSG);
	set16(m, 6, 1);
	m->b[m->n - 16] = 0x40;
	assert_int_equal(ef_dns_answer_age(m->b, m->n, 0, &least), -EBADMSG);
	assert_int_equal(ef_dns_answer_age(m->b, 11, 0, &least), -EBADMSG);
	free(m);
}

static void test_answer_age_garbage(void **state)
{
	uint8_t *p = malloc(600), *copy = malloc(600);
	uint32_t least;

	assert_non_null(p);
	assert_non_null(copy);
	for (int i = 0; i < 50000; i++) {
		size_t n = 12 + rnd() % 500;
		int ret;

		for (size_t j = 0; j < n; j++)
			p[j] = (uint8_t)(rnd() % 3 ? rnd() % 8 : rnd());
		p[4] = 0;
		p[5] = (uint8_t)(rnd() % 3);
		p[6] = p[8] = p[10] = 0;
		memcpy(copy, p, n);
		ret = ef_dns_answer_age(p, n, rnd() % 100, &least);
		assert_true(ret == 0 || ret == -EBADMSG);
		/* only TTL fields change: the header never does */
		assert_memory_equal(p, copy, 12);
	}
	free(p);
	free(copy);
}

/* What the cache keeps: no name a resolver reads runs through a TTL. */
static void test_answer_keepable(void **state)
{
	struct msg *m = msg_new();
	size_t rr;

	/* an owner pointing at the question; an A record whose address
	 * (192.0.2.1) reads like a pointer: it is not a name */
	ans_start(m, "www.example.com", EF_DNS_TYPE_A, 1, 0);
	rr_a_at_question(m, 60);
	assert_int_equal(ef_dns_answer_keepable(m->b, m->n), 0);

	/* the fuzzer's find: an owner pointing into its own TTL, which aging
	 * would rename */
	ans_start(m, "www.example.com", EF_DNS_TYPE_A, 1, 0);
	rr = m->n;
	put16(m, (uint16_t)(0xc000 | (rr + 7)));
	put16(m, 0);
	put16(m, 44);
	put32(m, 0x01010100);
	put16(m, 4);
	put32(m, 0xc6120101);
	assert_int_equal(ef_dns_answer_keepable(m->b, m->n), -EBADMSG);

	/* a CNAME target, an MX exchange, an SOA's second name into a TTL */
	ans_start(m, "www.example.com", EF_DNS_TYPE_A, 1, 0);
	rr = m->n;
	put16(m, 0xc00c);
	put16(m, EF_DNS_TYPE_CNAME);
	put16(m, EF_DNS_CLASS_IN);
	put32(m, 0x00000100);
	put16(m, 2);
	put16(m, (uint16_t)(0xc000 | (rr + 8)));
	assert_int_equal(ef_dns_answer_keepable(m->b, m->n), -EBADMSG);
	ans_start(m, "www.example.com", 15, 1, 0);
	rr = m->n;
	put16(m, 0xc00c);
	put16(m, 15);
	put16(m, EF_DNS_CLASS_IN);
	put32(m, 0x00000100);
	put16(m, 4);
	put16(m, 10);
	put16(m, (uint16_t)(0xc000 | (rr + 6)));
	assert_int_equal(ef_dns_answer_keepable(m->b, m->n), -EBADMSG);
	m->n -= 2;
	put16(m, 0xc00c); /* the exchange is the question's name: fine */
	assert_int_equal(ef_dns_answer_keepable(m->b, m->n), 0);
	hdr(m, 0x1234, F_QR | F_RD | F_RA | 3, 1, 0, 1, 0);
	question(m, "www.example.com", EF_DNS_TYPE_A, EF_DNS_CLASS_IN);
	rr = m->n;
	put16(m, 0xc010); /* example.com */
	put16(m, 6);
	put16(m, EF_DNS_CLASS_IN);
	put32(m, 0x00000100);
	put16(m, 1 + 2 + 20);
	put8(m, 0);				  /* MNAME: the root */
	put16(m, (uint16_t)(0xc000 | (rr + 6))); /* RNAME: into the TTL */
	for (int i = 0; i < 5; i++)
		put32(m, 60);
	assert_int_equal(ef_dns_answer_keepable(m->b, m->n), -EBADMSG);
	m->b[rr + 13] = 0xc0; /* RNAME (after MNAME at rdata + 0): the question's name */
	m->b[rr + 14] = 0x0c;
	assert_int_equal(ef_dns_answer_keepable(m->b, m->n), 0);

	/* framing as ef_dns_answer_age: trailing bytes, a cut record */
	put8(m, 0);
	assert_int_equal(ef_dns_answer_keepable(m->b, m->n), -EBADMSG);
	m->n -= 3;
	assert_int_equal(ef_dns_answer_keepable(m->b, m->n), -EBADMSG);
	assert_int_equal(ef_dns_answer_keepable(m->b, 5), -EBADMSG);
	free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_answer_simple),
		cmocka_unit_test(test_answer_chains),
		cmocka_unit_test(test_answer_chain_too_long),
		cmocka_unit_test(test_answer_owner_mismatch),
		cmocka_unit_test(test_answer_mismatch),
		cmocka_unit_test(test_answer_tc),
		cmocka_unit_test(test_answer_many_addrs),
		cmocka_unit_test(test_answer_malformed),
		cmocka_unit_test(test_answer_ldns_built),
		cmocka_unit_test(test_answer_garbage),
		cmocka_unit_test(test_answer_age),
		cmocka_unit_test(test_answer_age_garbage),
		cmocka_unit_test(test_answer_keepable),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
