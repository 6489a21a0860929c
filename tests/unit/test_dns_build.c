// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * daemon/dns/dnsmsg.c, what egressd writes: its own error replies, read back by
 * ldns (and one byte for byte against a resolver's); the query it sends
 * upstream, with nothing of the job's but the question, and its 0x20 spelling;
 * the types it forwards; and the answer's spelling of the question, checked and
 * given back to the job.
 */
#include "dns_fixture.h"

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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reply_error),
		cmocka_unit_test(test_query_build),
		cmocka_unit_test(test_answer_spelling),
		cmocka_unit_test(test_type_forwardable),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
