/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The probe detectors' tests (test_probe_*.c): a detector, a fake clock, the
 * checks every fire must pass, and connect() and DNS decisions to feed it.
 */
#ifndef EF_TEST_PROBE_FIXTURE_H
#define EF_TEST_PROBE_FIXTURE_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "policy.h"
#include "probe/probe_detect.h"

#define SEC 1000000000ull
#define T0 (1000 * SEC)	 /* the fake clock's start; never 0 */
#define SET_MAX 65536	 /* probe_detect.c's bound on one set */
#define WIN ((uint64_t)EF_PROBE_DEF_WINDOW_S * SEC)

/* ---- helpers ---- */

static inline struct ef_pdet *det_new(const struct ef_probe_limits *l)
{
	struct ef_probe_limits def;
	struct ef_pdet *p;

	if (!l) {
		ef_probe_limits_of(NULL, &def);
		l = &def;
	}
	p = ef_pdet_new(l);
	assert_non_null(p);
	return p;
}

/* "1.2.3.4" or an IPv6 address, as given (an IPv4-mapped one stays V6) */
static inline void addr_of(const char *s, uint8_t *family, uint8_t a[16])
{
	memset(a, 0, 16);
	if (inet_pton(AF_INET, s, a) == 1) {
		*family = EF_FAM_V4;
		return;
	}
	if (inet_pton(AF_INET6, s, a) != 1)
		fail_msg("bad address in test: %s", s);
	*family = EF_FAM_V6;
}

static inline bool terminated(const char *s)
{
	return memchr(s, '\0', EF_PROBE_TARGET_LEN) != NULL;
}

/* What every call must give: at most one fire per reason, sane evidence. */
static inline void check_out(const struct ef_probe_fire *out, int n)
{
	bool seen[EF_PR__MAX] = { false };

	assert_in_range(n, 0, EF_PR__MAX);
	for (int i = 0; i < n; i++) {
		const struct ef_probe_fire *f = &out[i];

		assert_in_range(f->reason, 0, EF_PR__MAX - 1);
		if (seen[f->reason])
			fail_msg("%s fired twice in one call", ef_probe_reason_name(f->reason));
		seen[f->reason] = true;
		assert_in_range(f->n_targets, 0, EF_PROBE_SAMPLES);
		assert_true(f->count >= f->threshold);
		assert_true(terminated(f->subject));
		for (int k = 0; k < f->n_targets; k++) {
			assert_true(terminated(f->targets[k]));
			assert_true(f->targets[k][0] != '\0');
		}
	}
}

static inline void no_fire(const struct ef_probe_fire *out, int n, const char *what)
{
	if (n)
		fail_msg("%s: %s fired (count %u), want nothing", what,
			 ef_probe_reason_name(out[0].reason), out[0].count);
}

/* Exactly one fire, of `reason`; returns it. */
static inline const struct ef_probe_fire *only(const struct ef_probe_fire *out, int n, int reason,
					       const char *what)
{
	if (n != 1 || out[0].reason != reason)
		fail_msg("%s: %d fires (first %s), want %s alone", what, n,
			 n ? ef_probe_reason_name(out[0].reason) : "-",
			 ef_probe_reason_name(reason));
	return &out[0];
}

static inline int conn_full(struct ef_pdet *p, uint64_t now, const char *addr, uint16_t port,
			    uint8_t proto, bool connect, int verdict, int reason, bool learned,
			    bool host, const char *server, struct ef_probe_fire *out)
{
	uint8_t a[16];
	struct ef_probe_conn c = {
		.now_ns = now,
		.addr = a,
		.port = port,
		.ipproto = proto,
		.connect = connect,
		.verdict = verdict,
		.reason = reason,
		.learned = learned,
		.host_address = host,
		.server = server,
	};
	int n;

	addr_of(addr, &c.family, a);
	n = ef_pdet_conn(p, &c, out);
	check_out(out, n);
	return n;
}

/* A denied TCP connect() with no rule for it. */
static inline int deny_tcp(struct ef_pdet *p, uint64_t now, const char *addr, uint16_t port,
			   struct ef_probe_fire *out)
{
	return conn_full(p, now, addr, port, IPPROTO_TCP, true, EF_V_DENY, EF_R_NO_RULE, false,
			 false, NULL, out);
}

/* 198.18.hi.lo: public in the test world */
static inline const char *pub(char *buf, unsigned hi, unsigned lo)
{
	snprintf(buf, 32, "198.18.%u.%u", hi, lo);
	return buf;
}

static inline int dns_full(struct ef_pdet *p, uint64_t now, const char *name, int verdict,
			   int rcode, const struct ef_compiled *names, size_t n_addrs,
			   const uint8_t (*addrs)[16], const uint8_t *families,
			   struct ef_probe_fire *out)
{
	struct ef_probe_dns q = {
		.now_ns = now,
		.name = name,
		.verdict = verdict,
		.rcode = rcode,
		.names = names,
		.n_addrs = n_addrs,
		.addrs = addrs,
		.families = families,
	};
	int n = ef_pdet_dns(p, &q, out);

	check_out(out, n);
	return n;
}

#endif /* EF_TEST_PROBE_FIXTURE_H */
