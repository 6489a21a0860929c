// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * daemon/dns/dnsmsg.c, a job's query: what ef_dns_query_parse() takes from a
 * well-formed one (id, flags, EDNS size, name, as ldns writes it too), and
 * hostile bytes of every kind (opcodes, counts, OPT records, cuts at every
 * offset, compression pointers, random packets), which must end in the
 * documented error codes; and ef_dns_set_id().
 */
#include "dns_fixture.h"

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

/* expect_query() for a row of a table: a failure names the row */
static void expect_query_row(const char *what, struct msg *m, int ret, int rcode, bool has_question)
{
	struct ef_dns_query q;
	int rc = -1;

	row_int(what, ef_dns_query_parse(m->b, m->n, &q, &rc), ret);
	if (ret == -EPROTO) {
		row_int(what, rc, rcode);
		row_int(what, q.has_question, has_question);
		row_int(what, q.id, ldns_read_uint16(m->b));
		if (!has_question)
			row_str(what, q.name, "");
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
	/* the question section after a header of one question */
#define QS(what, s) { what, (const uint8_t *)(s), sizeof(s) - 1 }
	static const struct {
		const char *what;
		const uint8_t *q;
		size_t n;
	} cases[] = {
		QS("a pointer to itself: ldns gives up after 65535 hops", "\xc0\x0c\0\1\0\1"),
		QS("a label, then a pointer back to it: the name outgrows 255 bytes",
		   "\x01" "a" "\xc0\x0c\0\1\0\1"),
		QS("two pointers at each other", "\xc0\x0e\xc0\x0c\0\1\0\1"),
		QS("a pointer out of bounds", "\xc0\xff\0\1\0\1"),
		QS("a pointer out of bounds, all ones", "\xff\xff\0\1\0\1"),
		QS("a pointer to offset 0", "\xc0\x00\0\1\0\1"),
		QS("a 0x40 label type", "\x41" "a" "\0\0\1\0\1"),
		QS("a pointer cut in half at the end", "\xc0"),
		/*
		 * A question is the first name, so any pointer in it is refused
		 * before ldns follows it: forward to a name after the question,
		 * into the header (where ldns would read QDCOUNT's 0 as the root,
		 * or the id's low byte as a label length), after a label.
		 */
		QS("a pointer forward, to a name after the question",
		   "\xc0\x12\0\1\0\1" "\x01" "x" "\0"),
		QS("a pointer into the header, at QDCOUNT", "\xc0\x04\0\1\0\1"),
		QS("a pointer into the header, at the id's low byte", "\xc0\x01\0\1\0\1"),
		QS("a pointer after a label",
		   "\x03" "www" "\xc0\x12\0\1\0\1" "\x07" "example" "\0"),
	};
#undef QS
	struct msg *m = msg_new();

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		hdr(m, 6, 0, 1, 0, 0, 0);
		put(m, cases[i].q, cases[i].n);
		expect_query_row(cases[i].what, m, -EPROTO, EF_DNS_RCODE_FORMERR, false);
	}
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

/* ---- ids ---- */

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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_query_a),
		cmocka_unit_test(test_query_aaaa_edns),
		cmocka_unit_test(test_query_case_dot_root),
		cmocka_unit_test(test_query_errors),
		cmocka_unit_test(test_query_truncated),
		cmocka_unit_test(test_query_compression),
		cmocka_unit_test(test_query_garbage),
		cmocka_unit_test(test_set_id),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
