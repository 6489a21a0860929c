/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The DNS message layer's tests (test_dns_*.c): a message builder for
 * well-formed messages built by hand, for exact control (header, question, OPT,
 * A, AAAA and CNAME records), a query parsed and the start of its answer, and
 * random bytes that are the same every run.
 */
#ifndef EF_TEST_DNS_FIXTURE_H
#define EF_TEST_DNS_FIXTURE_H

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
#include "lib/names.h"

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

static inline struct msg *msg_new(void)
{
	struct msg *m = calloc(1, sizeof(*m));

	assert_non_null(m);
	return m;
}

static inline void put(struct msg *m, const void *p, size_t n)
{
	assert_true(m->n + n <= sizeof(m->b));
	memcpy(m->b + m->n, p, n);
	m->n += n;
}

static inline void put8(struct msg *m, uint8_t v)
{
	put(m, &v, 1);
}

static inline void put16(struct msg *m, uint16_t v)
{
	uint8_t b[2] = { (uint8_t)(v >> 8), (uint8_t)v };

	put(m, b, 2);
}

static inline void put32(struct msg *m, uint32_t v)
{
	put16(m, (uint16_t)(v >> 16));
	put16(m, (uint16_t)v);
}

/* dotted name, no escapes; "" is the root */
static inline void put_name(struct msg *m, const char *name)
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

static inline void hdr(struct msg *m, uint16_t id, uint16_t flags, uint16_t qd, uint16_t an,
		       uint16_t ns, uint16_t ar)
{
	m->n = 0;
	put16(m, id);
	put16(m, flags);
	put16(m, qd);
	put16(m, an);
	put16(m, ns);
	put16(m, ar);
}

static inline void set16(struct msg *m, size_t off, uint16_t v)
{
	m->b[off] = (uint8_t)(v >> 8);
	m->b[off + 1] = (uint8_t)v;
}

static inline void question(struct msg *m, const char *name, uint16_t type, uint16_t cls)
{
	put_name(m, name);
	put16(m, type);
	put16(m, cls);
}

static inline void opt(struct msg *m, uint16_t size, uint32_t ttl)
{
	put8(m, 0);
	put16(m, EF_DNS_TYPE_OPT);
	put16(m, size);
	put32(m, ttl);
	put16(m, 0);
}

static inline void rr_raw(struct msg *m, const char *owner, uint16_t type, uint16_t cls,
			  uint32_t ttl, const void *rdata, uint16_t rdlen)
{
	put_name(m, owner);
	put16(m, type);
	put16(m, cls);
	put32(m, ttl);
	put16(m, rdlen);
	put(m, rdata, rdlen);
}

static inline void rr_a(struct msg *m, const char *owner, uint32_t ttl, const char *addr)
{
	uint8_t a[4];

	assert_int_equal(inet_pton(AF_INET, addr, a), 1);
	rr_raw(m, owner, EF_DNS_TYPE_A, EF_DNS_CLASS_IN, ttl, a, 4);
}

static inline void rr_aaaa(struct msg *m, const char *owner, uint32_t ttl, const char *addr)
{
	uint8_t a[16];

	assert_int_equal(inet_pton(AF_INET6, addr, a), 1);
	rr_raw(m, owner, EF_DNS_TYPE_AAAA, EF_DNS_CLASS_IN, ttl, a, 16);
}

static inline void rr_cname(struct msg *m, const char *owner, uint32_t ttl, const char *target)
{
	struct msg *t = msg_new();

	put_name(t, target);
	rr_raw(m, owner, EF_DNS_TYPE_CNAME, EF_DNS_CLASS_IN, ttl, t->b, (uint16_t)t->n);
	free(t);
}

/* a standard query as a stub sends it */
static inline void std_query(struct msg *m, uint16_t id, const char *name, uint16_t type, int edns)
{
	hdr(m, id, F_RD, 1, 0, 0, edns >= 0 ? 1 : 0);
	question(m, name, type, EF_DNS_CLASS_IN);
	if (edns >= 0)
		opt(m, (uint16_t)edns, 0);
}

static inline struct ef_dns_query make_q(const char *name, uint16_t type)
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
static inline void ans_start(struct msg *m, const char *name, uint16_t type, uint16_t an,
			     uint16_t flags)
{
	hdr(m, 0x1234, F_QR | F_RD | F_RA | flags, 1, an, 0, 0);
	question(m, name, type, EF_DNS_CLASS_IN);
}

/*
 * The checks of a table's row: on failure they name the row (what) and the
 * values, so that one loop over many cases still says which case failed.
 */
#define row_int(what, got, want)                                                                   \
	do {                                                                                       \
		long long got_ = (long long)(got), want_ = (long long)(want);                      \
		if (got_ != want_)                                                                 \
			fail_msg("%s: %s is %lld, want %lld", (what), #got, got_, want_);          \
	} while (0)

#define row_str(what, got, want)                                                                   \
	do {                                                                                       \
		const char *got_ = (got), *want_ = (want);                                         \
		if (!got_ || strcmp(got_, want_))                                                  \
			fail_msg("%s: %s is \"%s\", want \"%s\"", (what), #got,                    \
				 got_ ? got_ : "(null)", want_);                                   \
	} while (0)

/* xorshift, so the random packets are the same every run */
static uint64_t rnd_state = 0x9e3779b97f4a7c15ull;

static inline uint32_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return (uint32_t)(rnd_state >> 16);
}

#endif /* EF_TEST_DNS_FIXTURE_H */
