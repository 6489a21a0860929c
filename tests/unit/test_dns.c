// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * daemon/dnsmsg.c: queries from jobs, our own error replies (read back with
 * ldns), upstream answers and their CNAME chains, and hostile bytes of every
 * kind, which must end in the documented error codes. Well-formed messages
 * are built by hand (for exact control) or by ldns (for real compression).
 * Also prints what a query parse plus an answer parse costs.
 */
/* before ldns: without it ldns/common.h makes bool a signed char, and the
 * structs of dnsmsg.h would differ between this file and its callers */
#include <stdbool.h>
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <sys/random.h>

#include <cmocka.h>
#include <ldns/ldns.h>

#include "dns/dnsmsg.h"

/* ---- message builder ---- */

#define F_QR 0x8000
#define F_AA 0x0400
#define F_TC 0x0200
#define F_RD 0x0100
#define F_RA 0x0080
#define F_CD 0x0010
#define OPCODE(o) ((o) << 11)

struct msg {
	uint8_t b[EF_DNS_MSG_MAX + 16];
	size_t n;
};

static struct msg *msg_new(void)
{
	struct msg *m = calloc(1, sizeof(*m));

	assert_non_null(m);
	return m;
}

static void put(struct msg *m, const void *p, size_t n)
{
	assert_true(m->n + n <= sizeof(m->b));
	memcpy(m->b + m->n, p, n);
	m->n += n;
}

static void put8(struct msg *m, uint8_t v)
{
	put(m, &v, 1);
}

static void put16(struct msg *m, uint16_t v)
{
	uint8_t b[2] = { (uint8_t)(v >> 8), (uint8_t)v };

	put(m, b, 2);
}

static void put32(struct msg *m, uint32_t v)
{
	put16(m, (uint16_t)(v >> 16));
	put16(m, (uint16_t)v);
}

/* dotted name, no escapes; "" is the root */
static void put_name(struct msg *m, const char *name)
{
	const char *s = name;

	while (*s) {
		const char *dot = strchr(s, '.');
		size_t l = dot ? (size_t)(dot - s) : strlen(s);

		assert_true(l > 0 && l < 64);
		put8(m, (uint8_t)l);
		put(m, s, l);
		s += l;
		if (*s == '.')
			s++;
	}
	put8(m, 0);
}

static void hdr(struct msg *m, uint16_t id, uint16_t flags, uint16_t qd, uint16_t an, uint16_t ns,
		uint16_t ar)
{
	m->n = 0;
	put16(m, id);
	put16(m, flags);
	put16(m, qd);
	put16(m, an);
	put16(m, ns);
	put16(m, ar);
}

static void set16(struct msg *m, size_t off, uint16_t v)
{
	m->b[off] = (uint8_t)(v >> 8);
	m->b[off + 1] = (uint8_t)v;
}

static void question(struct msg *m, const char *name, uint16_t type, uint16_t cls)
{
	put_name(m, name);
	put16(m, type);
	put16(m, cls);
}

static void opt(struct msg *m, uint16_t size, uint32_t ttl)
{
	put8(m, 0);
	put16(m, EF_DNS_TYPE_OPT);
	put16(m, size);
	put32(m, ttl);
	put16(m, 0);
}

static void rr_raw(struct msg *m, const char *owner, uint16_t type, uint16_t cls, uint32_t ttl,
		   const void *rdata, uint16_t rdlen)
{
	put_name(m, owner);
	put16(m, type);
	put16(m, cls);
	put32(m, ttl);
	put16(m, rdlen);
	put(m, rdata, rdlen);
}

static void rr_a(struct msg *m, const char *owner, uint32_t ttl, const char *addr)
{
	uint8_t a[4];

	assert_int_equal(inet_pton(AF_INET, addr, a), 1);
	rr_raw(m, owner, EF_DNS_TYPE_A, EF_DNS_CLASS_IN, ttl, a, 4);
}

static void rr_aaaa(struct msg *m, const char *owner, uint32_t ttl, const char *addr)
{
	uint8_t a[16];

	assert_int_equal(inet_pton(AF_INET6, addr, a), 1);
	rr_raw(m, owner, EF_DNS_TYPE_AAAA, EF_DNS_CLASS_IN, ttl, a, 16);
}

static void rr_cname(struct msg *m, const char *owner, uint32_t ttl, const char *target)
{
	struct msg *t = msg_new();

	put_name(t, target);
	rr_raw(m, owner, EF_DNS_TYPE_CNAME, EF_DNS_CLASS_IN, ttl, t->b, (uint16_t)t->n);
	free(t);
}

/* a standard query as a stub sends it */
static void std_query(struct msg *m, uint16_t id, const char *name, uint16_t type, int edns)
{
	hdr(m, id, F_RD, 1, 0, 0, edns >= 0 ? 1 : 0);
	question(m, name, type, EF_DNS_CLASS_IN);
	if (edns >= 0)
		opt(m, (uint16_t)edns, 0);
}

static struct ef_dns_query make_q(const char *name, uint16_t type)
{
	struct msg *m = msg_new();
	struct ef_dns_query q;
	int rcode;

	std_query(m, 0x1234, name, type, 1232);
	assert_int_equal(ef_dns_query_parse(m->b, m->n, &q, &rcode), 0);
	free(m);
	return q;
}

/* the answer header and question for make_q(name, type) */
static void ans_start(struct msg *m, const char *name, uint16_t type, uint16_t an, uint16_t flags)
{
	hdr(m, 0x1234, F_QR | F_RD | F_RA | flags, 1, an, 0, 0);
	question(m, name, type, EF_DNS_CLASS_IN);
}

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

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* xorshift, so the random packets are the same every run */
static uint64_t rnd_state = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return (uint32_t)(rnd_state >> 16);
}

/* ---- queries ---- */

static void test_query_a(void **state)
{
	struct msg *m = msg_new();
	struct ef_dns_query q;
	int rcode = -1;

	std_query(m, 0xbeef, "www.example.com", EF_DNS_TYPE_A, -1);
	assert_int_equal(ef_dns_query_parse(m->b, m->n, &q, &rcode), 0);
	assert_int_equal(rcode, EF_DNS_RCODE_NOERROR);
	assert_int_equal(q.id, 0xbeef);
	assert_string_equal(q.name, "www.example.com");
	assert_int_equal(q.qtype, EF_DNS_TYPE_A);
	assert_int_equal(q.qclass, EF_DNS_CLASS_IN);
	assert_int_equal(q.opcode, 0);
	assert_true(q.rd);
	assert_false(q.cd);
	assert_true(q.has_question);
	assert_false(q.has_edns);
	assert_int_equal(q.udp_size, 512);
	free(m);
}

static void test_query_aaaa_edns(void **state)
{
	static const struct {
		int size, want;
	} cases[] = { { 4096, 4096 }, { 1232, 1232 }, { 512, 512 }, { 100, 512 }, { 0, 512 },
		      { 65535, 65535 } };
	struct msg *m = msg_new();
	struct ef_dns_query q;
	size_t i;
	int rcode;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		std_query(m, 7, "example.org", EF_DNS_TYPE_AAAA, cases[i].size);
		assert_int_equal(ef_dns_query_parse(m->b, m->n, &q, &rcode), 0);
		assert_int_equal(q.qtype, EF_DNS_TYPE_AAAA);
		assert_true(q.has_edns);
		assert_int_equal(q.udp_size, cases[i].want);
	}
	/* version, DO bit and options do not matter here: the query goes upstream as it is */
	hdr(m, 7, F_RD, 1, 0, 0, 1);
	question(m, "example.org", EF_DNS_TYPE_HTTPS, EF_DNS_CLASS_IN);
	put8(m, 0);
	put16(m, EF_DNS_TYPE_OPT);
	put16(m, 1400);
	put32(m, 0x00018000);
	put16(m, 8);
	put16(m, 10); /* cookie */
	put16(m, 4);
	put32(m, 0xdeadbeef);
	assert_int_equal(ef_dns_query_parse(m->b, m->n, &q, &rcode), 0);
	assert_int_equal(q.udp_size, 1400);
	assert_int_equal(q.qtype, EF_DNS_TYPE_HTTPS);
	free(m);
}

static void test_query_case_dot_root(void **state)
{
	struct msg *m = msg_new();
	struct ef_dns_query q;
	ldns_pkt *p = NULL;
	uint8_t *w = NULL;
	size_t n;
	int rcode;

	std_query(m, 1, "WwW.ExAmPlE.CoM", EF_DNS_TYPE_A, -1);
	assert_int_equal(ef_dns_query_parse(m->b, m->n, &q, &rcode), 0);
	assert_string_equal(q.name, "www.example.com");

	std_query(m, 1, "", EF_DNS_TYPE_A, -1);
	assert_int_equal(ef_dns_query_parse(m->b, m->n, &q, &rcode), 0);
	assert_string_equal(q.name, "");
	assert_true(q.has_question);

	/* an absolute name, as ldns (and every resolver) writes it */
	assert_int_equal(ldns_pkt_query_new_frm_str(&p, "Example.COM.", LDNS_RR_TYPE_AAAA,
						     LDNS_RR_CLASS_IN, LDNS_RD | LDNS_CD),
			 LDNS_STATUS_OK);
	ldns_pkt_set_id(p, 4242);
	assert_int_equal(ldns_pkt2wire(&w, p, &n), LDNS_STATUS_OK);
	assert_int_equal(ef_dns_query_parse(w, n, &q, &rcode), 0);
	assert_string_equal(q.name, "example.com");
	assert_int_equal(q.id, 4242);
	assert_true(q.rd);
	assert_true(q.cd);
	free(w);
	ldns_pkt_free(p);
	free(m);
}

static void check_name_against_ldns(const uint8_t *wire, size_t wlen)
{
	struct msg *m = msg_new();
	struct ef_dns_query q;
	struct ef_dns_answer a;
	ldns_rdf *d;
	char *want;
	size_t i, l;
	uint8_t out[512];
	ssize_t rn;
	int rcode;

	hdr(m, 9, 0, 1, 0, 0, 0);
	put(m, wire, wlen);
	put16(m, EF_DNS_TYPE_A);
	put16(m, EF_DNS_CLASS_IN);
	assert_int_equal(ef_dns_query_parse(m->b, m->n, &q, &rcode), 0);

	/* ldns's presentation, minus the trailing dot, lowercased */
	d = ldns_rdf_new_frm_data(LDNS_RDF_TYPE_DNAME, wlen, wire);
	assert_non_null(d);
	want = ldns_rdf2str(d);
	assert_non_null(want);
	l = strlen(want);
	if (l && want[l - 1] == '.')
		want[--l] = '\0';
	for (i = 0; i < l; i++)
		if (want[i] >= 'A' && want[i] <= 'Z')
			want[i] = (char)(want[i] + 32);
	assert_string_equal(q.name, want);

	/* and back: the reply's question is the same wire name, as the job spelt it */
	rn = ef_dns_reply_error(&q, true, EF_DNS_RCODE_NXDOMAIN, out, sizeof(out));
	assert_true(rn > 0);
	assert_memory_equal(out + 12, wire, wlen);
	assert_int_equal(q.qwire_len, wlen);
	assert_memory_equal(q.qwire, wire, wlen);
	assert_int_equal(ef_dns_answer_parse(out, (size_t)rn, &q, q.id, &a), 0);
	assert_int_equal(a.rcode, EF_DNS_RCODE_NXDOMAIN);
	free(want);
	ldns_rdf_deep_free(d);
	free(m);
}

static void test_name_escaping_matches_ldns(void **state)
{
	uint8_t w[16];
	unsigned int c;

	/* every byte value, first and last in a label, lower and upper case alike */
	for (c = 0; c < 256; c++) {
		uint8_t x[] = { 3, 'a', (uint8_t)c, 'Z', 2, (uint8_t)c, 'q', 3, 'c', 'o', 'm', 0 };
		uint8_t y[] = { 1, (uint8_t)c, 0 };

		check_name_against_ldns(x, sizeof(x));
		check_name_against_ldns(y, sizeof(y));
	}
	memcpy(w, "\x05" "a.b\\c" "\x03" "(;)" "\x00", 11);
	check_name_against_ldns(w, 11);
}

static void test_name_dot_in_label(void **state)
{
	static const uint8_t one[] = { 3, 'a', '.', 'b', 0 };
	static const uint8_t two[] = { 1, 'a', 1, 'b', 0 };
	static const uint8_t tricky[] = { 9, 'e', 'v', 'i', 'l', '.', 'c', 'o', 'm', '\\', 7, 'e',
					  'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0 };
	struct msg *m = msg_new();
	struct ef_dns_query q1, q2;
	int rcode;

	hdr(m, 1, 0, 1, 0, 0, 0);
	put(m, one, sizeof(one));
	put32(m, 0x00010001);
	assert_int_equal(ef_dns_query_parse(m->b, m->n, &q1, &rcode), 0);
	hdr(m, 1, 0, 1, 0, 0, 0);
	put(m, two, sizeof(two));
	put32(m, 0x00010001);
	assert_int_equal(ef_dns_query_parse(m->b, m->n, &q2, &rcode), 0);
	assert_string_equal(q1.name, "a\\.b");
	assert_string_equal(q2.name, "a.b");
	assert_string_not_equal(q1.name, q2.name);

	hdr(m, 1, 0, 1, 0, 0, 0);
	put(m, tricky, sizeof(tricky));
	put32(m, 0x00010001);
	assert_int_equal(ef_dns_query_parse(m->b, m->n, &q1, &rcode), 0);
	assert_string_equal(q1.name, "evil\\.com\\\\.example.com");
	free(m);
}

static void test_name_length(void **state)
{
	struct msg *m = msg_new();
	struct ef_dns_query q;
	uint8_t w[300];
	size_t i, n = 0;
	int rcode;

	/* 255 wire bytes: 63+63+63+61 characters and 3 dots, 253 in all */
	for (i = 0; i < 4; i++) {
		size_t l = i < 3 ? 63 : 61;

		w[n++] = (uint8_t)l;
		memset(w + n, 'a' + (int)i, l);
		n += l;
	}
	w[n++] = 0;
	assert_int_equal(n, 255);
	hdr(m, 1, 0, 1, 0, 0, 0);
	put(m, w, n);
	put32(m, 0x00010001);
	assert_int_equal(ef_dns_query_parse(m->b, m->n, &q, &rcode), 0);
	assert_int_equal(strlen(q.name), 253);

	/* one byte more on the wire (the last label 62 long): ldns refuses it */
	w[n - 1 - 62] = 62;
	w[n - 1] = 'd';
	w[n++] = 0;
	hdr(m, 1, 0, 1, 0, 0, 0);
	put(m, w, n);
	put32(m, 0x00010001);
	assert_int_equal(ef_dns_query_parse(m->b, m->n, &q, &rcode), -EPROTO);
	assert_int_equal(rcode, EF_DNS_RCODE_FORMERR);
	assert_false(q.has_question);

	/* a short wire name whose escapes pass 253 characters: refused, no question to echo */
	n = 0;
	for (i = 0; i < 2; i++) {
		w[n++] = 63;
		memset(w + n, 0xff, 63); /* "\255" each */
		n += 63;
	}
	w[n++] = 0;
	hdr(m, 1, 0, 1, 0, 0, 0);
	put(m, w, n);
	put32(m, 0x00010001);
	assert_int_equal(ef_dns_query_parse(m->b, m->n, &q, &rcode), -EPROTO);
	assert_int_equal(rcode, EF_DNS_RCODE_FORMERR);
	assert_false(q.has_question);
	assert_string_equal(q.name, "");
	free(m);
}

static void expect_query(struct msg *m, int ret, int rcode, bool has_question)
{
	struct ef_dns_query q;
	int rc = -1;

	assert_int_equal(ef_dns_query_parse(m->b, m->n, &q, &rc), ret);
	if (ret == -EPROTO) {
		assert_int_equal(rc, rcode);
		assert_int_equal(q.has_question, has_question);
		assert_int_equal(q.id, ldns_read_uint16(m->b));
		if (!has_question)
			assert_string_equal(q.name, "");
	}
}

static void test_query_errors(void **state)
{
	struct msg *m = msg_new();
	size_t n;

	for (n = 0; n < 12; n++) {
		m->n = n;
		memset(m->b, 0, n);
		expect_query(m, -EBADMSG, 0, false);
	}
	/* a response is never answered: two proxies could answer each other forever */
	std_query(m, 1, "example.com", EF_DNS_TYPE_A, -1);
	m->b[2] |= 0x80;
	expect_query(m, -EBADMSG, 0, false);

	/* UPDATE, NOTIFY, STATUS, IQUERY: NOTIMP, question echoed when there is one */
	hdr(m, 2, OPCODE(5), 1, 0, 1, 0);
	question(m, "example.com", 6, EF_DNS_CLASS_IN);
	rr_a(m, "x.example.com", 0, "1.2.3.4");
	expect_query(m, -EPROTO, EF_DNS_RCODE_NOTIMP, true);
	hdr(m, 2, OPCODE(2), 0, 0, 0, 0);
	expect_query(m, -EPROTO, EF_DNS_RCODE_NOTIMP, false);
	hdr(m, 2, OPCODE(1), 2, 0, 0, 0);
	question(m, "a", 1, 1);
	question(m, "b", 1, 1);
	expect_query(m, -EPROTO, EF_DNS_RCODE_NOTIMP, false);

	hdr(m, 3, F_RD, 0, 0, 0, 0);
	expect_query(m, -EPROTO, EF_DNS_RCODE_FORMERR, false);
	hdr(m, 3, F_RD, 2, 0, 0, 0);
	question(m, "a.example", 1, 1);
	question(m, "b.example", 1, 1);
	expect_query(m, -EPROTO, EF_DNS_RCODE_FORMERR, false);

	/* a question that parsed is echoed when the fault is elsewhere */
	hdr(m, 3, F_RD, 1, 1, 0, 0);
	question(m, "a.example", 1, 1);
	rr_a(m, "a.example", 0, "1.2.3.4");
	expect_query(m, -EPROTO, EF_DNS_RCODE_FORMERR, true);
	hdr(m, 3, F_RD, 1, 0, 1, 0);
	question(m, "a.example", 1, 1);
	rr_a(m, "a.example", 0, "1.2.3.4");
	expect_query(m, -EPROTO, EF_DNS_RCODE_FORMERR, true);
	hdr(m, 3, F_RD, 1, 0, 0, 2);
	question(m, "a.example", 1, 1);
	opt(m, 1232, 0);
	opt(m, 1232, 0);
	expect_query(m, -EPROTO, EF_DNS_RCODE_FORMERR, true);
	hdr(m, 3, F_RD, 1, 0, 0, 1);
	question(m, "a.example", 1, 1);
	rr_a(m, "a.example", 0, "1.2.3.4");
	expect_query(m, -EPROTO, EF_DNS_RCODE_FORMERR, true);
	hdr(m, 3, F_RD, 1, 0, 0, 1); /* OPT not owned by the root */
	question(m, "a.example", 1, 1);
	put_name(m, "a.example");
	put16(m, EF_DNS_TYPE_OPT);
	put16(m, 1232);
	put32(m, 0);
	put16(m, 0);
	expect_query(m, -EPROTO, EF_DNS_RCODE_FORMERR, true);
	std_query(m, 3, "a.example", 1, 1232); /* OPT rdata past the end */
	set16(m, m->n - 2, 1);
	expect_query(m, -EPROTO, EF_DNS_RCODE_FORMERR, true);
	std_query(m, 3, "a.example", 1, 1232); /* an option longer than the rdata */
	set16(m, m->n - 2, 6);
	put16(m, 10);
	put16(m, 3);
	put16(m, 0);
	expect_query(m, -EPROTO, EF_DNS_RCODE_FORMERR, true);
	set16(m, m->n - 4, 2); /* now it fits exactly */
	expect_query(m, 0, 0, false);
	std_query(m, 3, "a.example", 1, 1232); /* an option header cut short */
	set16(m, m->n - 2, 2);
	put16(m, 10);
	expect_query(m, -EPROTO, EF_DNS_RCODE_FORMERR, true);
	std_query(m, 3, "a.example", 1, -1);
	put8(m, 0);
	expect_query(m, -EPROTO, EF_DNS_RCODE_FORMERR, true);
	std_query(m, 3, "a.example", 1, 1232);
	put16(m, 0xdead);
	expect_query(m, -EPROTO, EF_DNS_RCODE_FORMERR, true);
	std_query(m, 3, "a.example", 1, -1); /* arcount says 1, nothing there */
	set16(m, 10, 1);
	expect_query(m, -EPROTO, EF_DNS_RCODE_FORMERR, true);

	/* longer than any DNS message */
	std_query(m, 4, "a.example", 1, -1);
	m->n = EF_DNS_MSG_MAX + 1;
	expect_query(m, -EBADMSG, 0, false);
	/* longer than 512 bytes is the client's business (here EDNS padding, RFC 7830) */
	std_query(m, 4, "a.example", 1, 1232);
	set16(m, m->n - 2, 604);
	put16(m, 12);
	put16(m, 600);
	memset(m->b + m->n, 0, 600);
	m->n += 600;
	assert_true(m->n > 512);
	expect_query(m, 0, 0, false);
	free(m);
}

static void test_query_truncated(void **state)
{
	struct msg *m = msg_new();
	struct ef_dns_query q;
	size_t full, n;
	int rcode;

	std_query(m, 5, "a.long-ish.example.com", EF_DNS_TYPE_AAAA, 1232);
	full = m->n;
	for (n = 0; n < full; n++) {
		/* a fresh copy of exactly n bytes, so ASan sees any read past the end */
		uint8_t *p = malloc(n ? n : 1);

		assert_non_null(p);
		memcpy(p, m->b, n);
		if (n < 12) {
			assert_int_equal(ef_dns_query_parse(p, n, &q, &rcode), -EBADMSG);
		} else {
			assert_int_equal(ef_dns_query_parse(p, n, &q, &rcode), -EPROTO);
			assert_int_equal(rcode, EF_DNS_RCODE_FORMERR);
		}
		free(p);
	}
	free(m);
}

static void test_query_compression(void **state)
{
	struct msg *m = msg_new();

	/* a pointer to itself: ldns gives up after 65535 hops */
	hdr(m, 6, 0, 1, 0, 0, 0);
	put16(m, 0xc00c);
	put32(m, 0x00010001);
	expect_query(m, -EPROTO, EF_DNS_RCODE_FORMERR, false);
	/* a label, then a pointer back to it: the name outgrows 255 bytes */
	hdr(m, 6, 0, 1, 0, 0, 0);
	put8(m, 1);
	put8(m, 'a');
	put16(m, 0xc00c);
	put32(m, 0x00010001);
	expect_query(m, -EPROTO, EF_DNS_RCODE_FORMERR, false);
	/* two pointers at each other */
	hdr(m, 6, 0, 1, 0, 0, 0);
	put16(m, 0xc00e);
	put16(m, 0xc00c);
	put32(m, 0x00010001);
	expect_query(m, -EPROTO, EF_DNS_RCODE_FORMERR, false);
	/* out of bounds, to offset 0, and a 0x40 label type */
	hdr(m, 6, 0, 1, 0, 0, 0);
	put16(m, 0xc0ff);
	put32(m, 0x00010001);
	expect_query(m, -EPROTO, EF_DNS_RCODE_FORMERR, false);
	hdr(m, 6, 0, 1, 0, 0, 0);
	put16(m, 0xffff);
	put32(m, 0x00010001);
	expect_query(m, -EPROTO, EF_DNS_RCODE_FORMERR, false);
	hdr(m, 6, 0, 1, 0, 0, 0);
	put16(m, 0xc000);
	put32(m, 0x00010001);
	expect_query(m, -EPROTO, EF_DNS_RCODE_FORMERR, false);
	hdr(m, 6, 0, 1, 0, 0, 0);
	put8(m, 0x41);
	put8(m, 'a');
	put8(m, 0);
	put32(m, 0x00010001);
	expect_query(m, -EPROTO, EF_DNS_RCODE_FORMERR, false);
	/* a pointer cut in half at the end */
	hdr(m, 6, 0, 1, 0, 0, 0);
	put8(m, 0xc0);
	expect_query(m, -EPROTO, EF_DNS_RCODE_FORMERR, false);
	/*
	 * A question is the first name, so any pointer in it is refused before
	 * ldns follows it: forward to a name after the question, into the header
	 * (where ldns would read QDCOUNT's 0 as the root, or the id's low byte as
	 * a label length), after a label.
	 */
	hdr(m, 6, 0, 1, 0, 0, 0);
	put16(m, 0xc012);
	put32(m, 0x00010001);
	put_name(m, "x");
	expect_query(m, -EPROTO, EF_DNS_RCODE_FORMERR, false);
	hdr(m, 6, 0, 1, 0, 0, 0);
	put16(m, 0xc004);
	put32(m, 0x00010001);
	expect_query(m, -EPROTO, EF_DNS_RCODE_FORMERR, false);
	hdr(m, 6, 0, 1, 0, 0, 0);
	put16(m, 0xc001);
	put32(m, 0x00010001);
	expect_query(m, -EPROTO, EF_DNS_RCODE_FORMERR, false);
	hdr(m, 6, 0, 1, 0, 0, 0);
	put8(m, 3);
	put(m, "www", 3);
	put16(m, 0xc012);
	put32(m, 0x00010001);
	put_name(m, "example");
	expect_query(m, -EPROTO, EF_DNS_RCODE_FORMERR, false);
	/* the OPT's owner, a pointer to a 0 byte, then to itself */
	hdr(m, 6, 0, 1, 0, 0, 1);
	question(m, "a.example", 1, 1);
	put16(m, 0xc000 | 22);
	put16(m, EF_DNS_TYPE_OPT);
	put16(m, 1232);
	put32(m, 0);
	put16(m, 0);
	expect_query(m, -EPROTO, EF_DNS_RCODE_FORMERR, true);
	set16(m, 27, (uint16_t)(0xc000 | 27));
	expect_query(m, -EPROTO, EF_DNS_RCODE_FORMERR, true);
	free(m);
}

static void check_query_invariants(const uint8_t *p, size_t n)
{
	struct ef_dns_query q;
	struct ef_dns_answer a;
	uint8_t out[512];
	int rcode, ret = ef_dns_query_parse(p, n, &q, &rcode);
	ssize_t rn;
	size_t i;

	assert_true(ret == 0 || ret == -EBADMSG || ret == -EPROTO);
	if (ret == -EBADMSG)
		return;
	if (ret == 0)
		assert_int_equal(rcode, 0);
	else
		assert_true(rcode == EF_DNS_RCODE_FORMERR || rcode == EF_DNS_RCODE_NOTIMP);
	assert_true(strlen(q.name) <= EF_DNS_NAME_LEN_MAX);
	for (i = 0; q.name[i]; i++)
		assert_false(q.name[i] >= 'A' && q.name[i] <= 'Z');
	rn = ef_dns_reply_error(&q, q.has_question, ret ? rcode : EF_DNS_RCODE_REFUSED, out,
				sizeof(out));
	assert_true(rn >= 12);
	assert_int_equal(ef_dns_answer_parse(out, (size_t)rn, &q, q.id, &a),
			 q.has_question && !q.opcode ? 0 : -EPROTO);
}

static void test_query_garbage(void **state)
{
	uint8_t *p = malloc(EF_DNS_MSG_MAX);
	size_t i, j;

	assert_non_null(p);
	for (i = 0; i < EF_DNS_MSG_MAX; i++)
		p[i] = (uint8_t)rnd();
	p[2] &= 0x7f;
	check_query_invariants(p, EF_DNS_MSG_MAX);
	p[2] |= 0x80;
	check_query_invariants(p, EF_DNS_MSG_MAX);
	memset(p, 0xff, EF_DNS_MSG_MAX);
	p[2] = 0;
	check_query_invariants(p, EF_DNS_MSG_MAX);
	memset(p, 0xc0, EF_DNS_MSG_MAX);
	p[2] = 0;
	check_query_invariants(p, EF_DNS_MSG_MAX);

	/* short random queries, with plausible headers so the parser gets past them */
	for (i = 0; i < 20000; i++) {
		size_t n = rnd() % 64;

		for (j = 0; j < n; j++)
			p[j] = (uint8_t)rnd();
		if (n > 12) {
			p[2] &= 0x07;
			p[4] = 0;
			p[5] = 1;
			p[6] = p[7] = p[8] = p[9] = p[10] = 0;
			p[11] &= 1;
		}
		check_query_invariants(p, n);
	}
	free(p);
}

/* ---- our own replies, read back by ldns ---- */

static void check_reply(const struct ef_dns_query *q, bool has_question, int rcode)
{
	uint8_t out[512];
	ldns_pkt *p = NULL;
	ssize_t n = ef_dns_reply_error(q, has_question, rcode, out, sizeof(out));
	ldns_rr *qrr;
	char *s;
	size_t i;

	assert_true(n > 0);
	assert_int_equal(ldns_wire2pkt(&p, out, (size_t)n), LDNS_STATUS_OK);
	assert_int_equal(ldns_pkt_id(p), q->id);
	assert_true(ldns_pkt_qr(p));
	assert_true(ldns_pkt_ra(p));
	assert_false(ldns_pkt_aa(p));
	assert_false(ldns_pkt_tc(p));
	assert_false(ldns_pkt_ad(p));
	assert_int_equal(ldns_pkt_rd(p), q->rd);
	assert_int_equal(ldns_pkt_cd(p), q->cd);
	assert_int_equal(ldns_pkt_get_opcode(p), q->opcode);
	assert_int_equal(ldns_pkt_get_rcode(p), rcode);
	assert_int_equal(ldns_pkt_ancount(p), 0);
	assert_int_equal(ldns_pkt_nscount(p), 0);
	assert_int_equal(ldns_pkt_arcount(p), 0); /* the OPT is not counted by ldns */
	assert_int_equal(ldns_pkt_edns(p), q->has_edns);
	if (q->has_edns) {
		assert_int_equal(ldns_pkt_edns_udp_size(p), EF_DNS_EDNS_SIZE);
		assert_int_equal(ldns_pkt_edns_version(p), 0);
		assert_int_equal(ldns_pkt_edns_extended_rcode(p), 0);
	}
	assert_int_equal(ldns_pkt_qdcount(p), has_question ? 1 : 0);
	if (has_question) {
		qrr = ldns_rr_list_rr(ldns_pkt_question(p), 0);
		assert_int_equal(ldns_rr_get_type(qrr), q->qtype);
		assert_int_equal(ldns_rr_get_class(qrr), q->qclass);
		s = ldns_rdf2str(ldns_rr_owner(qrr));
		assert_non_null(s);
		if (q->name[0]) {
			assert_int_equal(strlen(s), strlen(q->name) + 1);
			assert_memory_equal(s, q->name, strlen(q->name));
		} else {
			assert_string_equal(s, ".");
		}
		free(s);
	}
	/* the exact size, and -ENOSPC for anything less */
	for (i = 0; i < (size_t)n; i++)
		assert_int_equal(ef_dns_reply_error(q, has_question, rcode, out, i), -ENOSPC);
	ldns_pkt_free(p);
}

static void test_reply_error(void **state)
{
	static const int rcodes[] = { EF_DNS_RCODE_NXDOMAIN, EF_DNS_RCODE_SERVFAIL,
				      EF_DNS_RCODE_FORMERR,  EF_DNS_RCODE_NOTIMP,
				      EF_DNS_RCODE_REFUSED,  EF_DNS_RCODE_NOERROR };
	struct ef_dns_query q = make_q("allowed-looking.example.com", EF_DNS_TYPE_AAAA);
	uint8_t out[512];
	size_t i;

	for (i = 0; i < sizeof(rcodes) / sizeof(rcodes[0]); i++) {
		q.has_edns = true;
		q.rd = true;
		q.cd = false;
		check_reply(&q, true, rcodes[i]);
		check_reply(&q, false, rcodes[i]);
		q.has_edns = false;
		q.rd = false;
		q.cd = true;
		check_reply(&q, true, rcodes[i]);
		check_reply(&q, false, rcodes[i]);
	}
	q.opcode = 5;
	check_reply(&q, true, EF_DNS_RCODE_NOTIMP);
	q.opcode = 0;
	strcpy(q.name, "");
	check_reply(&q, true, EF_DNS_RCODE_REFUSED);
	strcpy(q.name, "odd\\.label\\032x\\\\.example");
	check_reply(&q, true, EF_DNS_RCODE_NXDOMAIN);

	/* a resolver's NXDOMAIN to a stub (dnsmasq's, unbound's), byte for byte, but the SOA */
	q = make_q("nope.example.com", EF_DNS_TYPE_A);
	{
		static const uint8_t want[] = {
			0x12, 0x34, 0x81, 0x83, 0, 1, 0, 0, 0, 0, 0, 1, /* QR RD, RA NXDOMAIN */
			4, 'n', 'o', 'p', 'e', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o',
			'm', 0, 0, 1, 0, 1,			/* question */
			0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0, /* OPT, 1232 */
		};

		assert_int_equal(ef_dns_reply_error(&q, true, EF_DNS_RCODE_NXDOMAIN, out,
						    sizeof(out)),
				 sizeof(want));
		assert_memory_equal(out, want, sizeof(want));
	}

	assert_int_equal(ef_dns_reply_error(&q, true, 16, out, sizeof(out)), -EINVAL);
	assert_int_equal(ef_dns_reply_error(&q, true, -1, out, sizeof(out)), -EINVAL);
	strcpy(q.name, "bad\\999escape");
	assert_int_equal(ef_dns_reply_error(&q, true, 3, out, sizeof(out)), -EINVAL);
	assert_true(ef_dns_reply_error(&q, false, 1, out, sizeof(out)) > 0);
}

/* ---- what goes upstream ---- */

/* A query carrying everything a job could hide in one: EDNS options of every
 * kind, DO, AD and Z bits, a mixed-case name. */
static void hostile_query(struct msg *m, bool edns)
{
	hdr(m, 0xbeef, F_RD | F_CD | 0x0020 /* AD */ | 0x0040 /* Z */, 1, 0, 0, edns ? 1 : 0);
	question(m, "SeCrEt-DaTa.ExAmPlE.CoM", EF_DNS_TYPE_A, EF_DNS_CLASS_IN);
	if (!edns)
		return;
	put8(m, 0);
	put16(m, EF_DNS_TYPE_OPT);
	put16(m, 4096);
	put32(m, 0x00008000 | 0x1234); /* DO, and Z bits */
	put16(m, 4 + 8 + 4 + 7 + 4 + 5);
	put16(m, 8); /* client subnet */
	put16(m, 8);
	put32(m, 0x00011800);
	put32(m, 0x0a0b0c00);
	put16(m, 10); /* cookie */
	put16(m, 7);
	put(m, "leaked!", 7);
	put16(m, 65001); /* unknown */
	put16(m, 5);
	put(m, "tok3n", 5);
}

static void test_query_build(void **state)
{
	static const uint8_t lower[] = "\x0bsecret-data\x07" "example\x03" "com";
	struct msg *m = msg_new();
	struct ef_dns_query q;
	uint8_t out[600], name[255], bits[32];
	ldns_pkt *p = NULL;
	ssize_t n;
	int rcode;

	for (int edns = 0; edns < 2; edns++) {
		hostile_query(m, edns);
		assert_int_equal(ef_dns_query_parse(m->b, m->n, &q, &rcode), 0);
		assert_string_equal(q.name, "secret-data.example.com");
		assert_int_equal(q.qwire_len, sizeof(lower));
		assert_memory_equal(q.qwire, m->b + 12, sizeof(lower));
		assert_int_equal(q.dnssec_ok, edns);
		memcpy(name, q.qwire, q.qwire_len);
		ef_dns_name_case(name, q.qwire_len, NULL, 0);
		assert_memory_equal(name, lower, sizeof(lower));
		n = ef_dns_query_build(&q, name, q.qwire_len, 0x4242, out, sizeof(out));
		assert_int_equal(n, 12 + sizeof(lower) + 4 + (edns ? 11 : 0));
		/* header: the id given, RD and CD only */
		assert_int_equal(out[0], 0x42);
		assert_int_equal(out[1], 0x42);
		assert_int_equal(out[2], 0x01);
		assert_int_equal(out[3], 0x10);
		assert_int_equal(ldns_wire2pkt(&p, out, (size_t)n), LDNS_STATUS_OK);
		assert_int_equal(ldns_pkt_qdcount(p), 1);
		assert_int_equal(ldns_pkt_ancount(p), 0);
		assert_int_equal(ldns_pkt_nscount(p), 0);
		assert_false(ldns_pkt_ad(p));
		assert_int_equal(ldns_pkt_edns(p), edns);
		if (edns) {
			/* our OPT: 1232, DO kept, no options, no Z bits */
			assert_int_equal(ldns_pkt_edns_udp_size(p), EF_DNS_EDNS_SIZE);
			assert_true(ldns_pkt_edns_do(p));
			assert_int_equal(ldns_pkt_edns_z(p), 0x8000);
			assert_null(ldns_pkt_edns_data(p));
			assert_memory_equal(out + n - 11,
					    "\x00\x00\x29\x04\xd0\x00\x00\x80\x00\x00\x00", 11);
		}
		ldns_pkt_free(p);
		p = NULL;
		/* it parses as a query, and is what the proxy parsed */
		{
			struct ef_dns_query q2;

			assert_int_equal(ef_dns_query_parse(out, (size_t)n, &q2, &rcode), 0);
			assert_string_equal(q2.name, q.name);
			assert_int_equal(q2.qtype, q.qtype);
			assert_int_equal(q2.has_edns, edns);
		}
		/* -ENOSPC below the exact size */
		for (ssize_t i = 0; i < n; i++)
			assert_int_equal(ef_dns_query_build(&q, name, q.qwire_len, 1, out, (size_t)i),
					 -ENOSPC);
	}

	/* RD goes up set whatever the job said: not a bit of its choosing */
	q.rd = false;
	q.cd = false;
	assert_true(ef_dns_query_build(&q, name, q.qwire_len, 1, out, sizeof(out)) > 0);
	assert_int_equal(out[2], 0x01);
	assert_int_equal(out[3], 0x00);

	/* not one well-formed uncompressed name: refused */
	{
		static const struct {
			const char *w;
			size_t n;
		} bad[] = {
			{ "", 0 },
			{ "\x03" "abc", 4 },		/* no root */
			{ "\x03" "abc\x00\x00", 6 },	/* bytes after the root */
			{ "\x05" "abc\x00", 5 },	/* label past the end */
			{ "\xc0\x0c", 2 },		/* a pointer */
			{ "\x40" "abc\x00", 5 },	/* label type 0x40 */
		};

		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
			assert_int_equal(ef_dns_query_build(&q, (const uint8_t *)bad[i].w, bad[i].n,
							    1, out, sizeof(out)),
					 -EINVAL);
		memset(name, 1, sizeof(name));
		assert_int_equal(ef_dns_query_build(&q, name, sizeof(name), 1, out, sizeof(out)),
				 -EINVAL);
		assert_int_equal(ef_dns_query_build(&q, (const uint8_t *)"", 1, 1, out, sizeof(out)),
				 12 + 1 + 4 + 11); /* the root is a name */
	}

	/* 0x20: one bit per letter, digits, dashes and escapes untouched */
	{
		uint8_t w[] = "\x05" "a1-Zb\x03" "x\xc3y\x00";
		static const uint8_t up[] = "\x05" "A1-ZB\x03" "X\xc3Y\x00";
		static const uint8_t mix[] = "\x05" "A1-Zb\x03" "X\xc3y\x00";

		memset(bits, 0xff, sizeof(bits));
		ef_dns_name_case(w, sizeof(w) - 1, bits, sizeof(bits));
		assert_memory_equal(w, up, sizeof(up) - 1);
		bits[0] = 0x0b; /* letters 0, 1, 3: a Z x */
		ef_dns_name_case(w, sizeof(w) - 1, bits, 1);
		assert_memory_equal(w, mix, sizeof(mix) - 1);
		/* a malformed name is walked only as far as it goes */
		{
			uint8_t cut[] = "\x3f" "ab";

			ef_dns_name_case(cut, 3, bits, sizeof(bits));
			assert_memory_equal(cut, "\x3f" "AB", 3);
		}
		ef_dns_name_case(w, 0, bits, sizeof(bits));
	}
	/* random bits make different spellings of one name */
	{
		static const char *const longname = "abcdefghijklmnopqrstuvwxyz.example.com";
		uint8_t a[64], b[64];

		hdr(m, 1, F_RD, 1, 0, 0, 0);
		question(m, longname, EF_DNS_TYPE_A, EF_DNS_CLASS_IN);
		assert_int_equal(ef_dns_query_parse(m->b, m->n, &q, &rcode), 0);
		for (size_t i = 0; i < sizeof(bits); i++)
			bits[i] = (uint8_t)rnd();
		memcpy(a, q.qwire, q.qwire_len);
		ef_dns_name_case(a, q.qwire_len, bits, sizeof(bits));
		for (size_t i = 0; i < sizeof(bits); i++)
			bits[i] = (uint8_t)rnd();
		memcpy(b, q.qwire, q.qwire_len);
		ef_dns_name_case(b, q.qwire_len, bits, sizeof(bits));
		assert_memory_not_equal(a, b, q.qwire_len);
		assert_int_equal(strncasecmp((char *)a, (char *)b, q.qwire_len), 0);
	}
	free(m);
}

static void test_type_forwardable(void **state)
{
	static const uint16_t yes[] = { 1, 2, 5, 6, 12, 15, 16, 28, 33, 35, 43, 48, 52, 64, 65,
					255, 256, 257 };
	static const uint16_t no[] = { 0, 41, 249, 250, 251, 252, 253, 254, 258, 1000, 32768,
				       65280, 65534, 65535 };
	unsigned n = 0;

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		if (!ef_dns_type_forwardable(yes[i]))
			fail_msg("type %u not forwarded", yes[i]);
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		if (ef_dns_type_forwardable(no[i]))
			fail_msg("type %u forwarded", no[i]);
	for (unsigned t = 0; t < 65536; t++)
		n += ef_dns_type_forwardable((uint16_t)t);
	/* some 70 registered types: about 6 bits a query, not 16 */
	assert_in_range(n, 50, 100);
}

static void test_answer_spelling(void **state)
{
	struct msg *m = msg_new(), *job = msg_new();
	struct ef_dns_query q;
	struct ef_dns_answer a;
	uint8_t sent[64];
	int rcode;

	/* the job spells it its way; the proxy sends another spelling */
	hdr(job, 0x1234, F_RD, 1, 0, 0, 0);
	question(job, "Ok.TeSt", EF_DNS_TYPE_A, EF_DNS_CLASS_IN);
	assert_int_equal(ef_dns_query_parse(job->b, job->n, &q, &rcode), 0);
	memcpy(sent, "\x02oK\x04tEsT\x00", 9);

	/* dnsmasq's way: the question as sent, the answer's owner a pointer to it */
	hdr(m, 0x1234, F_QR | F_RD | F_RA, 1, 1, 0, 0);
	question(m, "oK.tEsT", EF_DNS_TYPE_A, EF_DNS_CLASS_IN);
	put16(m, 0xc00c);
	put16(m, EF_DNS_TYPE_A);
	put16(m, EF_DNS_CLASS_IN);
	put32(m, 300);
	put16(m, 4);
	put32(m, 0xc6120101);
	assert_int_equal(ef_dns_answer_parse(m->b, m->n, &q, 0x1234, &a), 0);
	assert_int_equal(ef_dns_answer_spelling(m->b, m->n, sent, 9, q.qwire), 0);
	assert_memory_equal(m->b + 12, "\x02Ok\x04TeSt\x00", 9);
	assert_int_equal(ef_dns_answer_parse(m->b, m->n, &q, 0x1234, &a), 0);
	assert_int_equal(a.n_addrs, 1);

	/* an answer spelt otherwise (a spoofer's guess, or a lowercasing upstream) */
	hdr(m, 0x1234, F_QR | F_RD | F_RA, 1, 0, 0, 0);
	question(m, "ok.test", EF_DNS_TYPE_A, EF_DNS_CLASS_IN);
	assert_int_equal(ef_dns_answer_parse(m->b, m->n, &q, 0x1234, &a), 0);
	assert_int_equal(ef_dns_answer_spelling(m->b, m->n, sent, 9, q.qwire), -EPROTO);
	assert_memory_equal(m->b + 12, "\x02ok\x04test\x00", 9); /* untouched */
	/* too short to hold the question */
	assert_int_equal(ef_dns_answer_spelling(m->b, 12, sent, 9, q.qwire), -EBADMSG);
	assert_int_equal(ef_dns_answer_spelling(m->b, 20, sent, 9, q.qwire), -EBADMSG);
	assert_int_equal(ef_dns_answer_spelling(m->b, 5, sent, 9, q.qwire), -EBADMSG);
	free(m);
	free(job);
}

/* ---- answers ---- */

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

static void test_answer_cname_in_order(void **state)
{
	struct ef_dns_query q = make_q("www.example.com", EF_DNS_TYPE_A);
	struct msg *m = msg_new();
	struct ef_dns_answer a;

	ans_start(m, "www.example.com", EF_DNS_TYPE_A, 4, 0);
	rr_cname(m, "www.example.com", 3600, "Edge.CDN.example.net");
	rr_cname(m, "edge.cdn.example.net", 120, "e1.cdn.example.net");
	rr_a(m, "e1.cdn.example.net", 60, "198.51.100.7");
	rr_aaaa(m, "e1.cdn.example.net", 600, "2001:db8::7");
	assert_int_equal(ef_dns_answer_parse(m->b, m->n, &q, 0x1234, &a), 0);
	assert_int_equal(a.n_cnames, 2);
	assert_string_equal(a.cnames[0], "edge.cdn.example.net");
	assert_string_equal(a.cnames[1], "e1.cdn.example.net");
	assert_int_equal(a.n_addrs, 2);
	assert_addr(&a.addrs[0], "198.51.100.7", 60);
	assert_addr(&a.addrs[1], "2001:db8::7", 120);
	assert_false(a.truncated_list);
	free(m);
}

static void test_answer_cname_out_of_order(void **state)
{
	struct ef_dns_query q = make_q("www.example.com", EF_DNS_TYPE_A);
	struct msg *m = msg_new();
	struct ef_dns_answer a;

	ans_start(m, "www.example.com", EF_DNS_TYPE_A, 5, 0);
	rr_a(m, "c3.example.net", 500, "203.0.113.3");
	rr_cname(m, "c2.example.net", 400, "c3.example.net");
	rr_a(m, "c2.example.net", 500, "203.0.113.2"); /* beside a CNAME: on the chain, taken */
	rr_cname(m, "c1.example.net", 30, "c2.example.net");
	rr_cname(m, "www.example.com", 3000, "c1.example.net");
	assert_int_equal(ef_dns_answer_parse(m->b, m->n, &q, 0x1234, &a), 0);
	assert_int_equal(a.n_cnames, 3);
	assert_string_equal(a.cnames[0], "c1.example.net");
	assert_string_equal(a.cnames[1], "c2.example.net");
	assert_string_equal(a.cnames[2], "c3.example.net");
	assert_int_equal(a.n_addrs, 2);
	assert_addr(&a.addrs[0], "203.0.113.3", 30);
	assert_addr(&a.addrs[1], "203.0.113.2", 30);
	free(m);
}

static void test_answer_cname_loop(void **state)
{
	struct ef_dns_query q = make_q("a.example", EF_DNS_TYPE_A);
	struct msg *m = msg_new();
	struct ef_dns_answer a;

	ans_start(m, "a.example", EF_DNS_TYPE_A, 4, 0);
	rr_cname(m, "a.example", 60, "b.example");
	rr_cname(m, "b.example", 60, "A.EXAMPLE");
	rr_a(m, "b.example", 60, "192.0.2.2");
	rr_a(m, "a.example", 60, "192.0.2.1");
	assert_int_equal(ef_dns_answer_parse(m->b, m->n, &q, 0x1234, &a), 0);
	assert_int_equal(a.n_cnames, 1);
	assert_string_equal(a.cnames[0], "b.example");
	assert_int_equal(a.n_addrs, 2);
	assert_addr(&a.addrs[0], "192.0.2.2", 60);
	assert_addr(&a.addrs[1], "192.0.2.1", 60);
	assert_false(a.truncated_list);

	/* a CNAME to itself */
	ans_start(m, "a.example", EF_DNS_TYPE_A, 1, 0);
	rr_cname(m, "a.example", 60, "a.example");
	assert_int_equal(ef_dns_answer_parse(m->b, m->n, &q, 0x1234, &a), 0);
	assert_int_equal(a.n_cnames, 0);
	assert_int_equal(a.n_addrs, 0);

	/* two CNAMEs for one owner: the first wins, the other branch is never trusted */
	ans_start(m, "a.example", EF_DNS_TYPE_A, 4, 0);
	rr_cname(m, "a.example", 60, "good.example");
	rr_cname(m, "a.example", 60, "evil.example");
	rr_a(m, "evil.example", 60, "192.0.2.66");
	rr_a(m, "good.example", 60, "192.0.2.10");
	assert_int_equal(ef_dns_answer_parse(m->b, m->n, &q, 0x1234, &a), 0);
	assert_int_equal(a.n_cnames, 1);
	assert_string_equal(a.cnames[0], "good.example");
	assert_int_equal(a.n_addrs, 1);
	assert_addr(&a.addrs[0], "192.0.2.10", 60);
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

static void test_answer_min_ttl(void **state)
{
	struct ef_dns_query q = make_q("t.example", EF_DNS_TYPE_AAAA);
	struct msg *m = msg_new();
	struct ef_dns_answer a;

	ans_start(m, "t.example", EF_DNS_TYPE_AAAA, 6, 0);
	rr_cname(m, "t.example", 100, "u.example");
	rr_cname(m, "u.example", 50, "v.example");
	rr_aaaa(m, "t.example", 1000, "2001:db8::1");
	rr_aaaa(m, "u.example", 1000, "2001:db8::2");
	rr_aaaa(m, "v.example", 10, "2001:db8::3");
	rr_aaaa(m, "v.example", 0x80000000u, "2001:db8::4");
	assert_int_equal(ef_dns_answer_parse(m->b, m->n, &q, 0x1234, &a), 0);
	assert_int_equal(a.n_addrs, 4);
	assert_addr(&a.addrs[0], "2001:db8::1", 1000);
	assert_addr(&a.addrs[1], "2001:db8::2", 100);
	assert_addr(&a.addrs[2], "2001:db8::3", 10);
	assert_addr(&a.addrs[3], "2001:db8::4", 0);

	/* a CNAME whose TTL has the top bit set makes everything after it 0 */
	ans_start(m, "t.example", EF_DNS_TYPE_AAAA, 2, 0);
	rr_cname(m, "t.example", 0xffffffffu, "u.example");
	rr_aaaa(m, "u.example", 1000, "2001:db8::2");
	assert_int_equal(ef_dns_answer_parse(m->b, m->n, &q, 0x1234, &a), 0);
	assert_addr(&a.addrs[0], "2001:db8::2", 0);
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

/* ---- names, ids ---- */

static void test_type_names(void **state)
{
	char buf[EF_DNS_TYPESTR_MAX];
	unsigned int t;

	assert_string_equal(ef_dns_type_name(1, buf, sizeof(buf)), "A");
	assert_string_equal(ef_dns_type_name(28, buf, sizeof(buf)), "AAAA");
	assert_string_equal(ef_dns_type_name(5, buf, sizeof(buf)), "CNAME");
	assert_string_equal(ef_dns_type_name(16, buf, sizeof(buf)), "TXT");
	assert_string_equal(ef_dns_type_name(65, buf, sizeof(buf)), "HTTPS");
	assert_string_equal(ef_dns_type_name(255, buf, sizeof(buf)), "ANY");
	assert_string_equal(ef_dns_type_name(65280, buf, sizeof(buf)), "TYPE65280");
	/* ldns's names, every one, and they fit */
	for (t = 0; t < 65536; t++) {
		char *want = ldns_rr_type2str((ldns_rr_type)t);

		assert_non_null(want);
		assert_true(strlen(want) < sizeof(buf));
		assert_string_equal(ef_dns_type_name((uint16_t)t, buf, sizeof(buf)), want);
		free(want);
	}
	assert_string_equal(ef_dns_type_name(28, buf, 3), "AA");
}

static void test_rcode_names(void **state)
{
	char buf[EF_DNS_TYPESTR_MAX];

	assert_string_equal(ef_dns_rcode_name(0, buf, sizeof(buf)), "NOERROR");
	assert_string_equal(ef_dns_rcode_name(1, buf, sizeof(buf)), "FORMERR");
	assert_string_equal(ef_dns_rcode_name(2, buf, sizeof(buf)), "SERVFAIL");
	assert_string_equal(ef_dns_rcode_name(3, buf, sizeof(buf)), "NXDOMAIN");
	assert_string_equal(ef_dns_rcode_name(4, buf, sizeof(buf)), "NOTIMP");
	assert_string_equal(ef_dns_rcode_name(5, buf, sizeof(buf)), "REFUSED");
	assert_string_equal(ef_dns_rcode_name(16, buf, sizeof(buf)), "BADVERS");
	assert_string_equal(ef_dns_rcode_name(12, buf, sizeof(buf)), "RCODE12");
	assert_string_equal(ef_dns_rcode_name(-1, buf, sizeof(buf)), "RCODE-1");
	assert_string_equal(ef_dns_rcode_name(4095, buf, sizeof(buf)), "RCODE4095");
}

static void test_set_id(void **state)
{
	struct msg *m = msg_new();
	struct ef_dns_query q;
	int rcode;

	std_query(m, 0x1111, "a.example", 1, -1);
	ef_dns_set_id(m->b, 0xfedc);
	assert_int_equal(ef_dns_query_parse(m->b, m->n, &q, &rcode), 0);
	assert_int_equal(q.id, 0xfedc);
	assert_int_equal(m->b[0], 0xfe);
	assert_int_equal(m->b[1], 0xdc);
	free(m);
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
		cmocka_unit_test(test_query_a),
		cmocka_unit_test(test_query_aaaa_edns),
		cmocka_unit_test(test_query_case_dot_root),
		cmocka_unit_test(test_name_escaping_matches_ldns),
		cmocka_unit_test(test_name_dot_in_label),
		cmocka_unit_test(test_name_length),
		cmocka_unit_test(test_query_errors),
		cmocka_unit_test(test_query_truncated),
		cmocka_unit_test(test_query_compression),
		cmocka_unit_test(test_query_garbage),
		cmocka_unit_test(test_reply_error),
		cmocka_unit_test(test_query_build),
		cmocka_unit_test(test_answer_spelling),
		cmocka_unit_test(test_type_forwardable),
		cmocka_unit_test(test_answer_simple),
		cmocka_unit_test(test_answer_cname_in_order),
		cmocka_unit_test(test_answer_cname_out_of_order),
		cmocka_unit_test(test_answer_cname_loop),
		cmocka_unit_test(test_answer_chain_too_long),
		cmocka_unit_test(test_answer_owner_mismatch),
		cmocka_unit_test(test_answer_mismatch),
		cmocka_unit_test(test_answer_tc),
		cmocka_unit_test(test_answer_min_ttl),
		cmocka_unit_test(test_answer_many_addrs),
		cmocka_unit_test(test_answer_malformed),
		cmocka_unit_test(test_answer_ldns_built),
		cmocka_unit_test(test_answer_garbage),
		cmocka_unit_test(test_type_names),
		cmocka_unit_test(test_rcode_names),
		cmocka_unit_test(test_set_id),
		cmocka_unit_test(test_speed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
