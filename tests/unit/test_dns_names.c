// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * daemon/dns/dnsmsg.c, names: a query's name in presentation form, held equal to
 * ldns's on every byte value and echoed as the job spelt it; a dot inside a
 * label; the length limits; and the names of types (every one, as ldns names
 * it) and rcodes.
 */
#include "dns_fixture.h"

/* ---- query names ---- */

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
	static const struct {
		const char *what;
		uint8_t wire[32];
		size_t n;
		const char *want;
	} cases[] = {
		{ "one label with a dot", { 3, 'a', '.', 'b', 0 }, 5, "a\\.b" },
		{ "two labels", { 1, 'a', 1, 'b', 0 }, 5, "a.b" },
		{ "a dot and a backslash in a label",
		  { 9, 'e', 'v', 'i', 'l', '.', 'c', 'o', 'm', '\\', 7, 'e', 'x', 'a', 'm', 'p',
		    'l', 'e', 3, 'c', 'o', 'm', 0 },
		  23,
		  "evil\\.com\\\\.example.com" },
	};
	char names[sizeof(cases) / sizeof(cases[0])][EF_DNS_NAME_MAX];
	struct msg *m = msg_new();
	struct ef_dns_query q;
	int rcode;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		hdr(m, 1, 0, 1, 0, 0, 0);
		put(m, cases[i].wire, cases[i].n);
		put32(m, 0x00010001);
		row_int(cases[i].what, ef_dns_query_parse(m->b, m->n, &q, &rcode), 0);
		row_str(cases[i].what, q.name, cases[i].want);
		memcpy(names[i], q.name, sizeof(q.name));
	}
	/* a dot inside a label is not a label's end */
	assert_string_not_equal(names[0], names[1]);
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

/* ---- type and rcode names ---- */

static void test_type_names(void **state)
{
	static const struct {
		uint16_t type;
		const char *name;
	} names[] = {
		{ 1, "A" },      { 28, "AAAA" }, { 5, "CNAME" },         { 16, "TXT" },
		{ 65, "HTTPS" }, { 255, "ANY" }, { 65280, "TYPE65280" },
	};
	char buf[EF_DNS_TYPESTR_MAX];
	unsigned int t;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char what[32];

		snprintf(what, sizeof(what), "type %u", names[i].type);
		row_str(what, ef_dns_type_name(names[i].type, buf, sizeof(buf)), names[i].name);
	}
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
	static const struct {
		int rcode;
		const char *name;
	} names[] = {
		{ 0, "NOERROR" },  { 1, "FORMERR" }, { 2, "SERVFAIL" }, { 3, "NXDOMAIN" },
		{ 4, "NOTIMP" },   { 5, "REFUSED" }, { 16, "BADVERS" }, { 12, "RCODE12" },
		{ -1, "RCODE-1" }, { 4095, "RCODE4095" },
	};
	char buf[EF_DNS_TYPESTR_MAX];

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char what[32];

		snprintf(what, sizeof(what), "rcode %d", names[i].rcode);
		row_str(what, ef_dns_rcode_name(names[i].rcode, buf, sizeof(buf)), names[i].name);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_name_escaping_matches_ldns),
		cmocka_unit_test(test_name_dot_in_label),
		cmocka_unit_test(test_name_length),
		cmocka_unit_test(test_type_names),
		cmocka_unit_test(test_rcode_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
