// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libFuzzer target for the DNS proxy's message layer (daemon/dns/dnsmsg.c).
 * The input is read as a query from a job and as an upstream answer to a
 * fixed query. Beyond memory errors it checks the layer's promises, aborting
 * when one breaks:
 *   - only the documented return codes and rcodes come back;
 *   - a parsed name is at most 253 characters, NUL-terminated, lowercase;
 *   - whatever query parsed enough to be answered gets a reply of at most
 *     512 bytes, which parses back as an answer to that very query (when it
 *     echoes the question) with the rcode it was given and no addresses;
 *   - an answer's lists stay within their bounds and hold only what the
 *     bounds allow;
 *   - the query the proxy builds upstream for a parsed query (any case
 *     pattern) parses back as the same question, carries no more than an
 *     option-less OPT, and its spelling is checked and restored exactly;
 *   - an answer the cache would keep (ef_dns_answer_keepable) changes only
 *     its TTLs when aged, none upward, and parses to the same answer.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns/dnsmsg.h"
#include "fuzz.h"

static void check_name(const char *name)
{
	size_t n = strnlen(name, EF_DNS_NAME_MAX), i;

	CHECK(n <= EF_DNS_NAME_LEN_MAX);
	for (i = 0; i < n; i++) {
		CHECK(name[i] > 0x20 && name[i] < 0x7f);
		CHECK(name[i] < 'A' || name[i] > 'Z');
	}
	CHECK(n == 0 || name[n - 1] != '.' || (n >= 2 && name[n - 2] == '\\'));
}

static void check_answer(int ret, const struct ef_dns_answer *a)
{
	size_t i;

	CHECK(ret == 0 || ret == -EBADMSG || ret == -EPROTO);
	if (ret)
		return;
	CHECK(a->n_addrs <= EF_DNS_MAX_ADDRS);
	CHECK(a->n_cnames <= EF_DNS_MAX_CNAMES);
	CHECK(a->rcode >= 0 && a->rcode < 4096);
	for (i = 0; i < a->n_addrs; i++) {
		CHECK(a->addrs[i].family == 4 || a->addrs[i].family == 6);
		CHECK(a->addrs[i].ttl <= INT32_MAX);
	}
	for (i = 0; i < a->n_cnames; i++)
		check_name(a->cnames[i]);
}

/* What the proxy sends upstream for q, spelt with bits from the input. */
static void upstream_query(const struct ef_dns_query *q, const uint8_t *data, size_t size)
{
	uint8_t name[255], out[EF_DNS_NAME_MAX + 64], ans[EF_DNS_NAME_MAX + 64];
	struct ef_dns_query back;
	int rcode;
	ssize_t n;

	CHECK(q->qwire_len >= 1);
	memcpy(name, q->qwire, q->qwire_len);
	ef_dns_name_case(name, q->qwire_len, data, size < 32 ? size : 32);
	n = ef_dns_query_build(q, name, q->qwire_len, 0x4242, out, sizeof(out));
	CHECK(n > 12);
	CHECK(ef_dns_query_parse(out, (size_t)n, &back, &rcode) == 0);
	CHECK(!strcmp(back.name, q->name) && back.qtype == q->qtype && back.qclass == q->qclass);
	CHECK(back.has_edns == q->has_edns && back.dnssec_ok == q->dnssec_ok);
	CHECK(back.qwire_len == q->qwire_len && !memcmp(back.qwire, name, q->qwire_len));
	CHECK((size_t)n == 12u + q->qwire_len + 4 + (q->has_edns ? 11 : 0));
	CHECK((out[2] & ~0x01) == 0 && (out[3] & ~0x10) == 0);
	/* an answer that echoes it is restored to the job's spelling */
	memcpy(ans, out, (size_t)n);
	ans[2] |= 0x80;
	CHECK(ef_dns_answer_spelling(ans, (size_t)n, name, q->qwire_len, q->qwire) == 0);
	CHECK(!memcmp(ans + 12, q->qwire, q->qwire_len));
}

static void as_query(const uint8_t *data, size_t size)
{
	static struct ef_dns_answer a;
	struct ef_dns_query q;
	uint8_t out[512];
	int rcode, ret;
	ssize_t n;

	ret = ef_dns_query_parse(data, size, &q, &rcode);
	CHECK(ret == 0 || ret == -EBADMSG || ret == -EPROTO);
	if (ret == -EBADMSG)
		return;
	if (ret == 0)
		CHECK(rcode == EF_DNS_RCODE_NOERROR && q.has_question && !q.opcode);
	else
		CHECK(rcode == EF_DNS_RCODE_FORMERR || rcode == EF_DNS_RCODE_NOTIMP);
	CHECK(q.udp_size >= EF_DNS_UDP_MIN);
	check_name(q.name);
	if (!q.has_question)
		CHECK(q.name[0] == '\0');
	if (ret == 0)
		upstream_query(&q, data, size);

	/* the deny path: the rcode the proxy would use, or NXDOMAIN for a good query */
	n = ef_dns_reply_error(&q, q.has_question, ret ? rcode : EF_DNS_RCODE_NXDOMAIN, out,
			       sizeof(out));
	CHECK(n >= 12 && (size_t)n <= sizeof(out));
	ret = ef_dns_answer_parse(out, (size_t)n, &q, q.id, &a);
	check_answer(ret, &a);
	if (q.has_question && q.opcode == EF_DNS_OPCODE_QUERY) {
		CHECK(ret == 0);
		CHECK(a.rcode == (rcode ? rcode : EF_DNS_RCODE_NXDOMAIN));
		CHECK(a.n_addrs == 0 && a.n_cnames == 0 && !a.tc);
	} else {
		CHECK(ret == -EPROTO);
	}
}

static void as_answer(const uint8_t *data, size_t size)
{
	static struct ef_dns_answer a;
	struct ef_dns_query q = {
		.id = 0x1234,
		.qtype = EF_DNS_TYPE_A,
		.qclass = EF_DNS_CLASS_IN,
		.rd = true,
		.has_question = true,
		.udp_size = EF_DNS_UDP_MIN,
		.name = "www.example.com",
	};
	uint16_t id = size >= 2 ? (uint16_t)(data[0] << 8 | data[1]) : 0;
	int ret;

	/* the input's own id, so that the fuzzer gets past the id check */
	ret = ef_dns_answer_parse(data, size, &q, id, &a);
	check_answer(ret, &a);
	if (size >= 12 && ret == 0)
		CHECK(a.id == id);
	if (ret == 0) {
		/* sent as "wWw.ExAmple.cOm", the job asked "WWW.example.com" */
		static const uint8_t sent[] = "\x03wWw\x07" "ExAmple\x03" "cOm";
		static const uint8_t orig[] = "\x03WWW\x07" "example\x03" "com";
		uint8_t *c = malloc(size);

		if (!c)
			return;
		memcpy(c, data, size);
		ret = ef_dns_answer_spelling(c, size, sent, sizeof(sent), orig);
		CHECK(ret == 0 || ret == -EPROTO);
		if (ret == 0) {
			CHECK(!memcmp(c + 12, orig, sizeof(orig)));
			CHECK(ef_dns_answer_parse(c, size, &q, id, &a) == 0);
		} else {
			CHECK(!memcmp(c, data, size));
		}
		free(c);
	}
	/* kept in a job's cache and served later, aged: only TTLs change, the
	 * answer still parses with what it had, no TTL grows */
	if (ret == 0 && size >= 12) {
		static struct ef_dns_answer b;
		uint8_t *c = malloc(size);
		uint32_t least, least2;

		if (!c)
			return;
		memcpy(c, data, size);
		if (ef_dns_answer_keepable(c, size) == 0 &&
		    ef_dns_answer_age(c, size, 0, &least) == 0) {
			CHECK(least == UINT32_MAX || least <= INT32_MAX);
			CHECK(ef_dns_answer_age(c, size, 7, &least2) == 0);
			CHECK(least == UINT32_MAX ? least2 == UINT32_MAX
						  : least2 == (least > 7 ? least - 7 : 0));
			CHECK(!memcmp(c, data, 12));
			CHECK(ef_dns_answer_parse(c, size, &q, id, &b) == 0);
			CHECK(b.n_addrs == a.n_addrs && b.n_cnames == a.n_cnames && b.rcode == a.rcode);
			for (size_t i = 0; i < b.n_addrs; i++)
				CHECK(b.addrs[i].ttl <= a.addrs[i].ttl &&
				      !memcmp(b.addrs[i].addr, a.addrs[i].addr, 16));
		}
		free(c);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* a copy of exactly size bytes, so ASan sees any read past the end */
	uint8_t *p = malloc(size ? size : 1);

	if (!p)
		return 0;
	memcpy(p, data, size);
	as_query(p, size);
	as_answer(p, size);
	free(p);
	return 0;
}
