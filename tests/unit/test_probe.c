// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * daemon/probe_detect.c: the probe detectors of one job, driven by a fake
 * clock. Each counting detector (dest_scan, port_scan, dns_sweep,
 * dns_tunnel, dns_fanout) counts distinct targets in a sliding window,
 * fires at its threshold, at most once per window, and starts over after
 * firing; the first-touch reasons (metadata, host_address, link_local,
 * private_address) fire on the first denied touch. Also: what never counts
 * (allowed decisions, getaddrinfo's connected-UDP sorting, expired DNS,
 * single-label names and search-list expansions), the tunnel label shape,
 * the registrable-domain grouping (Public Suffix List), the limits and
 * names, the memory bound (timed over 100,000 destinations), and
 * ef_addr_class() of policy/.
 */
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

static struct ef_pdet *det_new(const struct ef_probe_limits *l)
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
static void addr_of(const char *s, uint8_t *family, uint8_t a[16])
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

static bool terminated(const char *s)
{
	return memchr(s, '\0', EF_PROBE_TARGET_LEN) != NULL;
}

/* What every call must give: at most one fire per reason, sane evidence. */
static void check_out(const struct ef_probe_fire *out, int n)
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

static const struct ef_probe_fire *find(const struct ef_probe_fire *out, int n, int reason)
{
	for (int i = 0; i < n; i++)
		if (out[i].reason == reason)
			return &out[i];
	return NULL;
}

static void no_fire(const struct ef_probe_fire *out, int n, const char *what)
{
	if (n)
		fail_msg("%s: %s fired (count %u), want nothing", what,
			 ef_probe_reason_name(out[0].reason), out[0].count);
}

/* Exactly one fire, of `reason`; returns it. */
static const struct ef_probe_fire *only(const struct ef_probe_fire *out, int n, int reason,
					const char *what)
{
	if (n != 1 || out[0].reason != reason)
		fail_msg("%s: %d fires (first %s), want %s alone", what, n,
			 n ? ef_probe_reason_name(out[0].reason) : "-",
			 ef_probe_reason_name(reason));
	return &out[0];
}

static int conn_full(struct ef_pdet *p, uint64_t now, const char *addr, uint16_t port,
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
static int deny_tcp(struct ef_pdet *p, uint64_t now, const char *addr, uint16_t port,
		    struct ef_probe_fire *out)
{
	return conn_full(p, now, addr, port, IPPROTO_TCP, true, EF_V_DENY, EF_R_NO_RULE, false,
			 false, NULL, out);
}

/* 198.18.hi.lo: public in the test world */
static const char *pub(char *buf, unsigned hi, unsigned lo)
{
	snprintf(buf, 32, "198.18.%u.%u", hi, lo);
	return buf;
}

static int dns_full(struct ef_pdet *p, uint64_t now, const char *name, int verdict, int rcode,
		    const struct ef_compiled *names, size_t n_addrs, const uint8_t (*addrs)[16],
		    const uint8_t *families, struct ef_probe_fire *out)
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

static int dns_q(struct ef_pdet *p, uint64_t now, const char *name, int verdict, int rcode,
		 struct ef_probe_fire *out)
{
	return dns_full(p, now, name, verdict, rcode, NULL, 0, NULL, NULL, out);
}

static struct ef_compiled *compile_text(const char *text, struct ef_policy **pol)
{
	char err[EF_ERR_LEN];
	struct ef_compiled *c;

	if (ef_policy_parse(text, strlen(text), "t.json", pol, err, sizeof(err)))
		fail_msg("%s", err);
	if (ef_policy_compile(*pol, 1, &c, err, sizeof(err)))
		fail_msg("%s", err);
	return c;
}

static double since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

/* ---- dest_scan ---- */

static void test_dest_scan(void **state)
{
	struct ef_probe_fire out[EF_PR__MAX];
	const struct ef_probe_fire *f;
	struct ef_probe_limits l;
	struct ef_pdet *p = det_new(NULL);
	char a[32], b[32];
	int n;

	/* 9 distinct: nothing; the 10th fires, with the 10 hosts newest first */
	for (unsigned i = 1; i <= EF_PROBE_DEF_DENIED_DESTS; i++) {
		n = deny_tcp(p, T0 + i * SEC, pub(a, 0, i), 443, out);
		if (i < EF_PROBE_DEF_DENIED_DESTS) {
			no_fire(out, n, "dest_scan below threshold");
			continue;
		}
		f = only(out, n, EF_PR_DEST_SCAN, "dest_scan at threshold");
		assert_int_equal(f->count, EF_PROBE_DEF_DENIED_DESTS);
		assert_int_equal(f->threshold, EF_PROBE_DEF_DENIED_DESTS);
		assert_int_equal(f->window_s, EF_PROBE_DEF_WINDOW_S);
		assert_string_equal(f->subject, "");
		assert_int_equal(f->n_targets, EF_PROBE_DEF_DENIED_DESTS);
		for (int k = 0; k < f->n_targets; k++)
			assert_string_equal(f->targets[k],
					    pub(b, 0, EF_PROBE_DEF_DENIED_DESTS - k));
	}
	ef_pdet_free(p);

	/* the same address 50 times is one target */
	p = det_new(NULL);
	for (unsigned i = 0; i < 50; i++)
		no_fire(out, deny_tcp(p, T0 + i * SEC / 10, "198.18.1.1", 443, out),
			"same address");
	for (unsigned i = 2; i < EF_PROBE_DEF_DENIED_DESTS; i++)
		no_fire(out, deny_tcp(p, T0 + 5 * SEC + i, pub(a, 1, i), 443, out), "after same");
	n = deny_tcp(p, T0 + 6 * SEC, "198.18.1.99", 443, out);
	f = only(out, n, EF_PR_DEST_SCAN, "same address counted once");
	assert_int_equal(f->count, EF_PROBE_DEF_DENIED_DESTS);
	/* the repeated target appears once in the evidence */
	assert_int_equal(f->n_targets, EF_PROBE_DEF_DENIED_DESTS);
	assert_string_equal(f->targets[0], "198.18.1.99");
	assert_string_equal(f->targets[EF_PROBE_DEF_DENIED_DESTS - 1], "198.18.1.1");
	ef_pdet_free(p);

	/* allowed decisions never count */
	p = det_new(NULL);
	for (unsigned i = 0; i < 3 * EF_PROBE_DEF_DENIED_DESTS; i++)
		no_fire(out,
			conn_full(p, T0 + i * SEC / 10, pub(a, 2, i), 443, IPPROTO_TCP, true,
				  EF_V_ALLOW, EF_R_RULE, false, false, NULL, out),
			"allowed");
	for (unsigned i = 0; i < EF_PROBE_DEF_DENIED_DESTS - 1; i++)
		no_fire(out, deny_tcp(p, T0 + 4 * SEC, pub(a, 3, i), 443, out),
			"denied after allowed");
	n = deny_tcp(p, T0 + 5 * SEC, "198.18.3.200", 443, out);
	assert_int_equal(only(out, n, EF_PR_DEST_SCAN, "allowed did not count")->count,
			 EF_PROBE_DEF_DENIED_DESTS);
	ef_pdet_free(p);

	/* audit mode's would-deny counts like a deny */
	p = det_new(NULL);
	for (unsigned i = 1; i <= EF_PROBE_DEF_DENIED_DESTS; i++) {
		n = conn_full(p, T0 + i * SEC, pub(a, 4, i), 80, IPPROTO_TCP, true, EF_V_WOULD_DENY,
			      EF_R_NO_RULE, false, false, NULL, out);
		if (i < EF_PROBE_DEF_DENIED_DESTS)
			no_fire(out, n, "would-deny below threshold");
		else
			only(out, n, EF_PR_DEST_SCAN, "would-deny at threshold");
	}
	ef_pdet_free(p);

	/* a threshold above EF_PROBE_SAMPLES: the evidence is the most recent
	 * EF_PROBE_SAMPLES; a learned address is named by its DNS name */
	ef_probe_limits_of(NULL, &l);
	l.denied_dests = EF_PROBE_SAMPLES + 5;
	p = det_new(&l);
	for (unsigned i = 1; i <= l.denied_dests; i++) {
		char srv[64];

		snprintf(srv, sizeof(srv), "h%u.example.org", i);
		n = conn_full(p, T0 + i * SEC, pub(a, 5, i), 443, IPPROTO_TCP, true, EF_V_DENY,
			      EF_R_DENY_RULE, i % 2 == 0, false, i % 2 ? NULL : srv, out);
		if (i < l.denied_dests) {
			no_fire(out, n, "custom threshold");
			continue;
		}
		f = only(out, n, EF_PR_DEST_SCAN, "custom threshold");
		assert_int_equal(f->count, l.denied_dests);
		assert_int_equal(f->threshold, l.denied_dests);
		assert_int_equal(f->window_s, l.window_s);
		assert_int_equal(f->n_targets, EF_PROBE_SAMPLES);
		for (int k = 0; k < f->n_targets; k++) {
			unsigned j = l.denied_dests - (unsigned)k;

			if (j % 2)
				pub(b, 5, j);
			else
				snprintf(b, sizeof(b), "h%u.example.org", j);
			assert_string_equal(f->targets[k], b);
		}
	}
	ef_pdet_free(p);
}

/* ---- the sliding window, once per window ---- */

static void test_window(void **state)
{
	struct ef_probe_fire out[EF_PR__MAX];
	const struct ef_probe_fire *f;
	struct ef_pdet *p = det_new(NULL);
	const unsigned th = EF_PROBE_DEF_DENIED_DESTS;
	uint64_t t, fired;
	char a[32];
	int n;

	/* 9, then past the window 9 more: the first 9 have expired */
	for (unsigned i = 0; i < th - 1; i++)
		no_fire(out, deny_tcp(p, T0 + i * SEC, pub(a, 0, i), 443, out), "first 9");
	t = T0 + (th - 2) * SEC + WIN + SEC;
	for (unsigned i = 0; i < th - 1; i++)
		no_fire(out, deny_tcp(p, t + i * SEC, pub(a, 1, i), 443, out),
			"9 after the window");
	/* one more makes 10 within the window, counted exactly */
	n = deny_tcp(p, t + th * SEC, "198.18.1.200", 443, out);
	f = only(out, n, EF_PR_DEST_SCAN, "10 in the window");
	assert_int_equal(f->count, th);
	ef_pdet_free(p);

	/* once per window */
	p = det_new(NULL);
	for (unsigned i = 1; i <= th; i++)
		n = deny_tcp(p, T0 + i * SEC, pub(a, 2, i), 443, out);
	only(out, n, EF_PR_DEST_SCAN, "first fire");
	fired = T0 + th * SEC;
	/* 10 more, then 20 more, within the window of the fire: quiet */
	for (unsigned i = 1; i <= 3 * th; i++)
		no_fire(out, deny_tcp(p, fired + i * SEC / 10, pub(a, 3, i), 443, out),
			"quiet after the fire");
	/* past the window since the fire and since those: 9 new do not fire, the
	 * 10th does, counted from zero */
	t = fired + 3 * th * SEC / 10 + WIN + SEC;
	for (unsigned i = 1; i < th; i++)
		no_fire(out, deny_tcp(p, t + i * SEC, pub(a, 4, i), 443, out), "rearmed, below");
	n = deny_tcp(p, t + th * SEC, pub(a, 4, th), 443, out);
	f = only(out, n, EF_PR_DEST_SCAN, "rearmed, at threshold");
	assert_int_equal(f->count, th);
	ef_pdet_free(p);

	/* targets seen while quiet are in the sliding window: once the window
	 * since the fire has passed, the first new one fires with them */
	p = det_new(NULL);
	for (unsigned i = 1; i <= th; i++)
		n = deny_tcp(p, T0 + i * SEC, pub(a, 5, i), 443, out);
	only(out, n, EF_PR_DEST_SCAN, "fire");
	fired = T0 + th * SEC;
	for (unsigned i = 1; i <= th; i++)
		no_fire(out, deny_tcp(p, fired + WIN - 20 * SEC + i * SEC, pub(a, 6, i), 443, out),
			"late in the quiet window");
	n = deny_tcp(p, fired + WIN + SEC, "198.18.6.200", 443, out);
	f = only(out, n, EF_PR_DEST_SCAN, "quiet targets still in the window");
	assert_int_equal(f->count, th + 1);
	assert_string_equal(f->targets[0], "198.18.6.200");
	ef_pdet_free(p);
}

/* ---- port_scan ---- */

static void test_port_scan(void **state)
{
	struct ef_probe_fire out[EF_PR__MAX];
	const struct ef_probe_fire *f;
	struct ef_pdet *p = det_new(NULL);
	const unsigned th = EF_PROBE_DEF_PORTS_PER_HOST;
	char want[32];
	int n;

	for (unsigned i = 1; i <= th; i++) {
		n = deny_tcp(p, T0 + i * SEC, "198.18.5.5", (uint16_t)(1000 + i), out);
		if (i < th) {
			no_fire(out, n, "ports below threshold");
			continue;
		}
		/* one host: no dest_scan */
		f = only(out, n, EF_PR_PORT_SCAN, "ports at threshold");
		assert_int_equal(f->count, th);
		assert_int_equal(f->threshold, th);
		assert_string_equal(f->subject, "198.18.5.5");
		assert_int_equal(f->n_targets, th);
		for (int k = 0; k < f->n_targets; k++) {
			snprintf(want, sizeof(want), "%u/tcp", 1000 + th - (unsigned)k);
			assert_string_equal(f->targets[k], want);
		}
	}
	ef_pdet_free(p);

	/* 9 ports on each of 2 hosts: no port scan, and 2 hosts are no dest scan */
	p = det_new(NULL);
	for (unsigned i = 1; i < th; i++) {
		no_fire(out, deny_tcp(p, T0 + i * SEC, "198.18.5.6", (uint16_t)(2000 + i), out),
			"host a");
		no_fire(out, deny_tcp(p, T0 + i * SEC + 1, "198.18.5.7", (uint16_t)(2000 + i), out),
			"host b");
	}
	ef_pdet_free(p);

	/* IPv6 and UDP: the subject is bracketed, the targets say udp */
	p = det_new(NULL);
	for (unsigned i = 1; i <= th; i++)
		n = conn_full(p, T0 + i * SEC, "2001:db8::5", (uint16_t)(3000 + i), IPPROTO_UDP,
			      false, EF_V_DENY, EF_R_NO_RULE, false, false, NULL, out);
	f = only(out, n, EF_PR_PORT_SCAN, "v6 udp ports");
	assert_string_equal(f->subject, "[2001:db8::5]");
	snprintf(want, sizeof(want), "%u/udp", 3000 + th);
	assert_string_equal(f->targets[0], want);
	ef_pdet_free(p);
}

/* ---- first touches ---- */

static void test_sensitive(void **state)
{
	static const struct {
		const char *addr;
		bool host;
		int reason; /* -1: none */
		const char *target;
	} cases[] = {
		{ "169.254.169.254", false, EF_PR_METADATA, "169.254.169.254:80/tcp" },
		{ "fd00:ec2::254", false, EF_PR_METADATA, "[fd00:ec2::254]:80/tcp" },
		{ "169.254.170.2", false, EF_PR_METADATA, "169.254.170.2:80/tcp" },
		{ "198.18.9.9", true, EF_PR_HOST_ADDRESS, "198.18.9.9:80/tcp" },
		{ "169.254.1.1", false, EF_PR_LINK_LOCAL, "169.254.1.1:80/tcp" },
		{ "fe80::1", false, EF_PR_LINK_LOCAL, "[fe80::1]:80/tcp" },
		{ "10.1.2.3", false, EF_PR_PRIVATE, "10.1.2.3:80/tcp" },
		{ "192.168.0.1", false, EF_PR_PRIVATE, "192.168.0.1:80/tcp" },
		{ "172.16.0.9", false, EF_PR_PRIVATE, "172.16.0.9:80/tcp" },
		{ "100.64.0.1", false, EF_PR_PRIVATE, "100.64.0.1:80/tcp" },
		{ "fd00::1", false, EF_PR_PRIVATE, "[fd00::1]:80/tcp" },
		{ "127.0.0.1", false, -1, NULL },
		{ "::1", false, -1, NULL },
		{ "198.18.9.9", false, -1, NULL },
		{ "224.0.0.1", false, -1, NULL },
	};
	struct ef_probe_fire out[EF_PR__MAX];
	const struct ef_probe_fire *f;
	struct ef_pdet *p;
	int n;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		p = det_new(NULL);
		n = conn_full(p, T0, cases[i].addr, 80, IPPROTO_TCP, true, EF_V_DENY, EF_R_NO_RULE,
			      false, cases[i].host, NULL, out);
		if (cases[i].reason < 0) {
			no_fire(out, n, cases[i].addr);
		} else {
			f = only(out, n, cases[i].reason, cases[i].addr);
			assert_int_equal(f->count, 1);
			assert_int_equal(f->threshold, 1);
			assert_string_equal(f->subject, "");
			assert_int_equal(f->n_targets, 1);
			assert_string_equal(f->targets[0], cases[i].target);
		}
		/* allowed: never */
		n = conn_full(p, T0 + 2 * WIN, cases[i].addr, 80, IPPROTO_TCP, true, EF_V_ALLOW,
			      EF_R_RULE, false, cases[i].host, NULL, out);
		no_fire(out, n, "allowed sensitive address");
		ef_pdet_free(p);
	}

	/* metadata: once per window, v4 and v6 alike */
	p = det_new(NULL);
	n = deny_tcp(p, T0, "169.254.169.254", 80, out);
	only(out, n, EF_PR_METADATA, "metadata first");
	no_fire(out, deny_tcp(p, T0 + 5 * SEC, "169.254.169.254", 8080, out), "metadata again");
	no_fire(out, deny_tcp(p, T0 + 6 * SEC, "fd00:ec2::254", 80, out), "v6 metadata in window");
	n = deny_tcp(p, T0 + WIN + SEC, "fd00:ec2::254", 80, out);
	f = only(out, n, EF_PR_METADATA, "v6 metadata in a new window");
	assert_string_equal(f->targets[0], "[fd00:ec2::254]:80/tcp");
	/* the reasons are separate: a private address still fires its own */
	n = deny_tcp(p, T0 + WIN + 2 * SEC, "10.1.2.3", 80, out);
	only(out, n, EF_PR_PRIVATE, "private while metadata quiet");
	no_fire(out, deny_tcp(p, T0 + WIN + 3 * SEC, "192.168.0.1", 80, out), "private again");
	ef_pdet_free(p);

	/* the fence's own metadata verdict is a metadata touch whatever the address */
	p = det_new(NULL);
	n = conn_full(p, T0, "198.18.7.7", 80, IPPROTO_TCP, true, EF_V_DENY, EF_R_METADATA, false,
		      false, NULL, out);
	only(out, n, EF_PR_METADATA, "EF_R_METADATA");
	ef_pdet_free(p);
}

/* ---- what does not count ---- */

static void test_discounts(void **state)
{
	struct ef_probe_fire out[EF_PR__MAX];
	const unsigned th = EF_PROBE_DEF_DENIED_DESTS;
	uint8_t addrs[EF_PROBE_DEF_DENIED_DESTS][16], fams[EF_PROBE_DEF_DENIED_DESTS];
	struct ef_pdet *p = det_new(NULL);
	const struct ef_probe_fire *f;
	char a[32];
	int n;

	/* getaddrinfo's sort: connected UDP to learned addresses, many, and private ones */
	for (unsigned i = 0; i < 3 * th; i++)
		no_fire(out,
			conn_full(p, T0 + i * SEC / 10, pub(a, 0, i), 0, IPPROTO_UDP, true,
				  EF_V_DENY, EF_R_NO_RULE, true, false, "x.example.org", out),
			"connected UDP, learned");
	no_fire(out,
		conn_full(p, T0 + 4 * SEC, "10.9.9.9", 0, IPPROTO_UDP, true, EF_V_DENY,
			  EF_R_NO_RULE, true, false, NULL, out),
		"connected UDP, learned, private");
	for (unsigned i = 0; i < th - 1; i++)
		no_fire(out, deny_tcp(p, T0 + 5 * SEC, pub(a, 1, i), 443, out), "TCP after UDP");
	ef_pdet_free(p);

	/* ... or to addresses a DNS answer just gave (not marked learned) */
	p = det_new(NULL);
	for (unsigned i = 0; i < th; i++) {
		char s[32];

		addr_of(pub(s, 2, i), &fams[i], addrs[i]);
	}
	no_fire(out,
		dns_full(p, T0, "svc.example.net", EF_V_ALLOW, 0, NULL, th,
			 (const uint8_t(*)[16])addrs, fams, out),
		"answer");
	for (unsigned i = 0; i < th; i++)
		no_fire(out,
			conn_full(p, T0 + SEC, pub(a, 2, i), 53, IPPROTO_UDP, true, EF_V_DENY,
				  EF_R_NO_RULE, false, false, NULL, out),
			"connected UDP to answered");
	/* the same addresses over TCP do count */
	for (unsigned i = 0; i < th; i++) {
		n = deny_tcp(p, T0 + 2 * SEC, pub(a, 2, i), 443, out);
		if (i < th - 1)
			no_fire(out, n, "TCP to answered");
	}
	f = only(out, n, EF_PR_DEST_SCAN, "TCP to answered");
	assert_int_equal(f->count, th);
	ef_pdet_free(p);

	/* an answer only discounts within the window */
	p = det_new(NULL);
	dns_full(p, T0, "svc.example.net", EF_V_ALLOW, 0, NULL, th, (const uint8_t(*)[16])addrs,
		 fams, out);
	for (unsigned i = 0; i < th; i++)
		n = conn_full(p, T0 + WIN + SEC, pub(a, 2, i), 53, IPPROTO_UDP, true, EF_V_DENY,
			      EF_R_NO_RULE, false, false, NULL, out);
	only(out, n, EF_PR_DEST_SCAN, "connected UDP to an old answer");
	ef_pdet_free(p);

	/* an unconnected datagram (sendto) counts, learned or not */
	p = det_new(NULL);
	dns_full(p, T0, "svc.example.net", EF_V_ALLOW, 0, NULL, th, (const uint8_t(*)[16])addrs,
		 fams, out);
	for (unsigned i = 0; i < th; i++) {
		n = conn_full(p, T0 + SEC, pub(a, 2, i), 53, IPPROTO_UDP, false, EF_V_DENY,
			      EF_R_NO_RULE, true, false, NULL, out);
		if (i < th - 1)
			no_fire(out, n, "sendto");
	}
	only(out, n, EF_PR_DEST_SCAN, "sendto counts");
	ef_pdet_free(p);

	/* expired DNS is a stale cache: nothing, not even a private first touch */
	p = det_new(NULL);
	for (unsigned i = 0; i < 3 * th; i++)
		no_fire(out,
			conn_full(p, T0 + i * SEC / 10, pub(a, 3, i), 443, IPPROTO_TCP, true,
				  EF_V_DENY, EF_R_DNS_EXPIRED, true, false, NULL, out),
			"DNS expired");
	no_fire(out,
		conn_full(p, T0 + 4 * SEC, "10.1.2.3", 443, IPPROTO_TCP, true, EF_V_DENY,
			  EF_R_DNS_EXPIRED, true, false, NULL, out),
		"DNS expired, private");
	ef_pdet_free(p);
}

/* ---- dns_sweep ---- */

static void test_dns_sweep(void **state)
{
	struct ef_probe_fire out[EF_PR__MAX];
	const unsigned th = EF_PROBE_DEF_DENIED_NAMES;
	const struct ef_probe_fire *f;
	struct ef_pdet *p = det_new(NULL);
	struct ef_compiled *c;
	struct ef_policy *pol;
	char name[128];
	int n;

	for (unsigned i = 1; i <= th; i++) {
		snprintf(name, sizeof(name), "r%u.sweep.test", 1000 + i);
		n = dns_q(p, T0 + i * SEC, name, EF_V_DENY, 3, out);
		if (i < th) {
			no_fire(out, n, "sweep below threshold");
			continue;
		}
		f = only(out, n, EF_PR_DNS_SWEEP, "sweep at threshold");
		assert_int_equal(f->count, th);
		assert_int_equal(f->threshold, th);
		assert_int_equal(f->n_targets, EF_PROBE_SAMPLES);
		assert_string_equal(f->targets[0], name);
	}
	/* once per window: 20 more (under other parents) do not fire a sweep */
	for (unsigned i = 1; i <= th; i++) {
		snprintf(name, sizeof(name), "r%u.sweep%u.test", i, i);
		n = dns_q(p, T0 + (th + i) * SEC, name, EF_V_DENY, 3, out);
		assert_null(find(out, n, EF_PR_DNS_SWEEP));
	}
	ef_pdet_free(p);

	/* the same name again is one */
	p = det_new(NULL);
	for (unsigned i = 0; i < 3 * th; i++)
		no_fire(out, dns_q(p, T0 + i, "again.sweep.test", EF_V_DENY, 3, out), "same name");
	ef_pdet_free(p);

	/* NXDOMAIN for allowed names counts; a good answer to an allowed one not */
	p = det_new(NULL);
	for (unsigned i = 1; i <= th; i++) {
		snprintf(name, sizeof(name), "ok%u.allowed.test", i);
		no_fire(out, dns_q(p, T0, name, EF_V_ALLOW, 0, out), "allowed NOERROR");
	}
	for (unsigned i = 1; i <= th; i++) {
		snprintf(name, sizeof(name), "nx%u.other%u.test", i, i);
		n = dns_q(p, T0 + SEC, name, EF_V_ALLOW, 3, out);
		if (i < th)
			no_fire(out, n, "NXDOMAIN below threshold");
	}
	f = only(out, n, EF_PR_DNS_SWEEP, "NXDOMAIN at threshold");
	assert_int_equal(f->count, th);
	ef_pdet_free(p);

	/* single-label names are the resolver's own tries */
	p = det_new(NULL);
	no_fire(out, dns_q(p, T0, "wpad", EF_V_DENY, 3, out), "wpad");
	no_fire(out, dns_q(p, T0, "myhost", EF_V_DENY, 3, out), "myhost");
	for (unsigned i = 0; i < 2 * th; i++) {
		snprintf(name, sizeof(name), "host%u", i);
		no_fire(out, dns_q(p, T0 + SEC, name, EF_V_DENY, 3, out), "single label");
	}
	for (unsigned i = 1; i <= th; i++) {
		snprintf(name, sizeof(name), "d%u.zone%u.test", i, i);
		n = dns_q(p, T0 + 2 * SEC, name, EF_V_DENY, 0, out);
		if (i < th)
			no_fire(out, n, "dotted after single labels");
	}
	assert_int_equal(only(out, n, EF_PR_DNS_SWEEP, "single labels did not count")->count, th);
	ef_pdet_free(p);

	/* search-list expansions of an allowed name do not count */
	c = compile_text("{\"name\":\"t\",\"allow\":[\"api.github.com:443\"]}", &pol);
	p = det_new(NULL);
	no_fire(out,
		dns_full(p, T0, "api.github.com.corp.example", EF_V_DENY, 3, c, 0, NULL, NULL, out),
		"expansion, 2 labels");
	no_fire(out, dns_full(p, T0, "api.github.com.lan", EF_V_DENY, 3, c, 0, NULL, NULL, out),
		"expansion, 1 label");
	no_fire(out, dns_full(p, T0, "api.github.com.a.b.c", EF_V_DENY, 3, c, 0, NULL, NULL, out),
		"expansion, 3 labels");
	for (unsigned i = 0; i < 2 * th; i++) {
		snprintf(name, sizeof(name), "api.github.com.s%u.example", i);
		no_fire(out, dns_full(p, T0 + SEC, name, EF_V_DENY, 3, c, 0, NULL, NULL, out),
			"expansions");
	}
	for (unsigned i = 1; i <= th; i++) {
		snprintf(name, sizeof(name), "u%u.unrelated%u.test", i, i);
		n = dns_full(p, T0 + 2 * SEC, name, EF_V_DENY, 3, c, 0, NULL, NULL, out);
		if (i < th)
			no_fire(out, n, "unrelated after expansions");
	}
	assert_int_equal(only(out, n, EF_PR_DNS_SWEEP, "expansions did not count")->count, th);
	ef_pdet_free(p);

	/* without the policy's names the same expansions do count */
	p = det_new(NULL);
	for (unsigned i = 1; i <= th; i++) {
		snprintf(name, sizeof(name), "api.github.com.s%u.example", i);
		n = dns_q(p, T0 + SEC, name, EF_V_DENY, 3, out);
	}
	only(out, n, EF_PR_DNS_SWEEP, "expansions without names");
	ef_pdet_free(p);
	ef_compiled_free(c);
	ef_policy_free(pol);
}

/* ---- dns_tunnel ---- */

static void test_dns_tunnel(void **state)
{
	static const char *const legit[] = {
		"objects.githubusercontent.com",
		"my-loadbalancer-1234567890.us-east-1.elb.amazonaws.com",
		"api.github.com",
		"registry-1.docker.io",
		"d111111abcdef8.cloudfront.net",
		"pypi.org",
		"",
	};
	struct ef_probe_fire out[EF_PR__MAX];
	const unsigned th = EF_PROBE_DEF_TUNNEL_NAMES;
	const struct ef_probe_fire *f;
	struct ef_pdet *p;
	char name[300], label[64];
	int n;

	/* the shape */
	memset(label, 'a', 45);
	label[45] = '\0';
	snprintf(name, sizeof(name), "%s.t.example.com", label);
	assert_true(ef_probe_tunnel_shaped(name, "example.com"));
	assert_true(ef_probe_tunnel_shaped(name, NULL));
	label[39] = '\0'; /* 39 of one letter: short enough, no entropy */
	snprintf(name, sizeof(name), "%s.t.example.com", label);
	assert_false(ef_probe_tunnel_shaped(name, "example.com"));
	label[39] = 'a'; /* 40 */
	label[40] = '\0';
	snprintf(name, sizeof(name), "x.%s.example.com", label);
	assert_true(ef_probe_tunnel_shaped(name, "example.com"));
	/* 30 characters of base32 */
	assert_true(ef_probe_tunnel_shaped("mfrggzdfmztwq2lknnwg23tpobyxe3.t.example.com",
					   "example.com"));
	assert_true(ef_probe_tunnel_shaped("nbswy3dpeb3w64tmmqqq2ldfnrxa.example.com", NULL));
	/* the same with a dash is a host name */
	assert_false(ef_probe_tunnel_shaped("mfrggzdfmztwq2l-knnwg23tpobyxe3.t.example.com",
					    "example.com"));
	for (size_t i = 0; i < sizeof(legit) / sizeof(legit[0]); i++) {
		if (ef_probe_tunnel_shaped(legit[i], NULL))
			fail_msg("%s: tunnel-shaped", legit[i]);
	}
	assert_false(ef_probe_tunnel_shaped(legit[1], "amazonaws.com"));
	/* more than 100 characters below the registrable domain, in short labels */
	name[0] = '\0';
	for (int i = 0; i < 21; i++)
		strcat(name, "abcd.");
	strcat(name, "example.com"); /* 105 below */
	assert_true(ef_probe_tunnel_shaped(name, "example.com"));
	name[0] = '\0';
	for (int i = 0; i < 19; i++)
		strcat(name, "abcd.");
	strcat(name, "example.com"); /* 95 below, 106 in all */
	assert_false(ef_probe_tunnel_shaped(name, "example.com"));

	/* entropy */
	assert_true(ef_probe_entropy("aaaa", 4) == 0.0);
	assert_true(ef_probe_entropy("ab", 2) == 1.0);
	assert_true(ef_probe_entropy("abcd", 4) == 2.0);
	assert_true(ef_probe_entropy("", 0) == 0.0);
	assert_true(ef_probe_entropy("abab", 2) == 1.0); /* only n bytes */

	/* 5 distinct tunnel-shaped names (answered, allowed) fire the tunnel alone */
	p = det_new(NULL);
	for (unsigned i = 1; i <= th; i++) {
		snprintf(name, sizeof(name), "%08u%s.t.tunnel.example", i,
			 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
		n = dns_q(p, T0 + i * SEC, name, EF_V_ALLOW, 0, out);
		if (i < th) {
			no_fire(out, n, "tunnel below threshold");
			continue;
		}
		f = only(out, n, EF_PR_DNS_TUNNEL, "tunnel at threshold");
		assert_int_equal(f->count, th);
		assert_int_equal(f->threshold, th);
		assert_int_equal(f->n_targets, th);
		assert_string_equal(f->targets[0], name);
	}
	ef_pdet_free(p);

	/* the same shaped name again and again is one */
	p = det_new(NULL);
	for (unsigned i = 0; i < 4 * th; i++)
		no_fire(out, dns_q(p, T0 + i * SEC, name, EF_V_ALLOW, 0, out), "same tunnel name");
	ef_pdet_free(p);

	/* legit names never make a tunnel */
	p = det_new(NULL);
	for (unsigned i = 0; i < 100; i++) {
		snprintf(name, sizeof(name),
			 "my-loadbalancer-%010u.us-east-%u.elb.amazonaws.com", i, i);
		n = dns_q(p, T0 + i * SEC / 100, name, EF_V_ALLOW, 0, out);
		assert_null(find(out, n, EF_PR_DNS_TUNNEL));
	}
	ef_pdet_free(p);
}

/* ---- dns_fanout ---- */

static void test_dns_fanout(void **state)
{
	struct ef_probe_fire out[EF_PR__MAX];
	const unsigned th = EF_PROBE_DEF_NAMES_PER_PARENT;
	const struct ef_probe_fire *f;
	struct ef_pdet *p = det_new(NULL);
	char name[128];
	int n;

	/* the apex is not a name under it */
	no_fire(out, dns_q(p, T0, "example.com", EF_V_ALLOW, 0, out), "apex");
	for (unsigned i = 1; i <= th; i++) {
		snprintf(name, sizeof(name), "x%u.fan.example.com", i);
		n = dns_q(p, T0 + i * SEC / 10, name, EF_V_ALLOW, 0, out);
		if (i < th) {
			no_fire(out, n, "fanout below threshold");
			continue;
		}
		f = only(out, n, EF_PR_DNS_FANOUT, "fanout at threshold");
		assert_int_equal(f->count, th);
		assert_int_equal(f->threshold, th);
		assert_string_equal(f->subject, "example.com");
		assert_int_equal(f->n_targets, EF_PROBE_SAMPLES);
		assert_string_equal(f->targets[0], name);
	}
	ef_pdet_free(p);

	/* different registrable domains do not add up; the PSL knows co.uk, and
	 * that each user.github.io is its own registrable domain */
	p = det_new(NULL);
	for (unsigned i = 1; i < th; i++) {
		static const char *const parents[] = { "example.org", "example.net", "a.co.uk",
							"b.co.uk", "github.io" };

		for (size_t k = 0; k < sizeof(parents) / sizeof(parents[0]); k++) {
			snprintf(name, sizeof(name), "n%u.%s", i, parents[k]);
			no_fire(out, dns_q(p, T0 + i * SEC / 10, name, EF_V_ALLOW, 0, out),
				"spread over parents");
		}
	}
	n = dns_q(p, T0 + 5 * SEC, "n40.b.co.uk", EF_V_ALLOW, 0, out);
	f = only(out, n, EF_PR_DNS_FANOUT, "b.co.uk at threshold");
	assert_string_equal(f->subject, "b.co.uk");
	ef_pdet_free(p);
}

/* ---- dns_tunnel_bytes ---- */

/* Everything a job sends upstream in a window, for the quiet side. */
static int dns_any(struct ef_pdet *p, uint64_t now, const char *name, struct ef_probe_fire *out)
{
	int n = dns_q(p, now, name, EF_V_ALLOW, 0, out);

	if (n)
		fail_msg("%s: %s fired (count %u, subject %s)", name,
			 ef_probe_reason_name(out[0].reason), out[0].count, out[0].subject);
	return n;
}

static void test_dns_label_bytes(void **state)
{
	/* what CI jobs ask: package registries, CDNs, code hosts */
	static const char *const busy[] = {
		"registry.npmjs.org", "registry.yarnpkg.com", "deb.debian.org",
		"security.debian.org", "archive.ubuntu.com", "security.ubuntu.com",
		"pypi.org", "files.pythonhosted.org", "proxy.golang.org", "sum.golang.org",
		"index.crates.io", "static.crates.io", "registry-1.docker.io", "auth.docker.io",
		"production.cloudflare.docker.com", "github.com", "api.github.com",
		"codeload.github.com", "uploads.github.com", "gist.github.com",
		"objects.githubusercontent.com", "raw.githubusercontent.com",
		"release-assets.githubusercontent.com", "pkg-containers.githubusercontent.com",
		"pipelines.actions.githubusercontent.com",
		"results-receiver.actions.githubusercontent.com", "storage.googleapis.com",
		"oauth2.googleapis.com", "www.googleapis.com", "api.anthropic.com",
		"statsig.anthropic.com", "my-bucket.s3.amazonaws.com",
		"my-bucket.s3.us-east-1.amazonaws.com", "sts.amazonaws.com",
		"ghcr.io", "pkg-containers.githubusercontent.com", "repo.maven.apache.org",
		"repo1.maven.org", "plugins.gradle.org", "services.gradle.org",
	};
	struct ef_probe_fire out[EF_PR__MAX];
	const unsigned th = EF_PROBE_DEF_DNS_LABEL_BYTES;
	const struct ef_probe_fire *f;
	struct ef_probe_limits l;
	struct ef_probe_cfg cfg;
	struct ef_pdet *p;
	char name[300];
	unsigned sent = 0, i;
	int n;

	/* the measure */
	assert_int_equal(ef_probe_label_bytes("a.b.example.com", "example.com"), 3);
	assert_int_equal(ef_probe_label_bytes("example.com", "example.com"), 0);
	assert_int_equal(ef_probe_label_bytes("xexample.com", "example.com"), 0);
	assert_int_equal(ef_probe_label_bytes("x.example.com", NULL), 0);
	assert_int_equal(ef_probe_label_bytes("x.example.com", "other.com"), 0);
	assert_int_equal(ef_probe_label_bytes("", "example.com"), 0);
	assert_int_equal(ef_probe_label_bytes("registry.npmjs.org", "npmjs.org"), 8);

	/* the low-and-slow tunnel: every 2 s a name of three 15-byte base32
	 * labels (47 bytes, ~1.4 KB a minute): no label is tunnel-shaped, 30
	 * names a minute is below names_per_parent; the bytes fire */
	p = det_new(NULL);
	for (i = 0; i < 60; i++) {
		snprintf(name, sizeof(name),
			 "mfrggzdf%07u.nbswy3dpeb3w64t.mmqqq2ldfnrxa%02u.t.example.com", i, i % 100);
		n = dns_q(p, T0 + 2 * i * SEC, name, EF_V_ALLOW, 0, out);
		sent += (unsigned)ef_probe_label_bytes(name, "example.com");
		if (sent < th) {
			no_fire(out, n, "tunnel below the byte threshold");
			continue;
		}
		f = only(out, n, EF_PR_DNS_LABEL_BYTES, "low-and-slow tunnel");
		assert_int_equal(f->count, sent);
		assert_int_equal(f->threshold, th);
		assert_string_equal(f->subject, "example.com");
		assert_string_equal(f->targets[0], name);
		assert_true(2 * i < 60); /* within the first minute */
		break;
	}
	assert_true(i < 60);
	ef_pdet_free(p);

	/* new combinations of labels already sent count in full: one-character
	 * labels spelling data */
	p = det_new(NULL);
	for (i = 0, n = 0; i < 200 && !n; i++) {
		char *o = name;

		/* 30 hex digits of i, spelt a digit a label */
		for (unsigned k = 0; k < 30; k++)
			o += sprintf(o, "%c.",
				     "0123456789abcdef"[(i * 2654435761u >> (k % 8 * 4)) % 16]);
		strcpy(o, "d.example.net");
		n = dns_q(p, T0 + i * SEC / 4, name, EF_V_ALLOW, 0, out);
	}
	f = only(out, n, EF_PR_DNS_LABEL_BYTES, "single-character labels");
	assert_true(i <= th / 60 + 1);
	ef_pdet_free(p);

	/* names answered here (denied in enforce mode) never reached the upstream */
	p = det_new(NULL);
	for (i = 0; i < 100; i++) {
		snprintf(name, sizeof(name), "mfrggzdf%07u.nbswy3dpeb3w64t.t.example.com", i);
		n = dns_q(p, T0 + i * SEC / 2, name, EF_V_DENY, 3, out);
		assert_null(find(out, n, EF_PR_DNS_LABEL_BYTES));
	}
	ef_pdet_free(p);

	/* CI traffic over five windows: an npm install of 200 packages asks the
	 * registry A and AAAA for each (node does not cache), apt and pip their
	 * mirrors, 30 hash-named CloudFront hosts (each its own registrable
	 * domain in the PSL), github's hosts: nothing fires */
	p = det_new(NULL);
	for (unsigned w = 0; w < 5; w++) {
		uint64_t t = T0 + w * WIN;

		for (i = 0; i < 400; i++)
			dns_any(p, t + i * SEC / 10, "registry.npmjs.org", out);
		for (i = 0; i < sizeof(busy) / sizeof(busy[0]); i++)
			dns_any(p, t + 41 * SEC + i * SEC / 10, busy[i], out);
		for (i = 0; i < 30; i++) {
			snprintf(name, sizeof(name), "d%013x.cloudfront.net", 0x1a2b3c4du * (i + 1));
			dns_any(p, t + 50 * SEC + i * SEC / 10, name, out);
		}
		/* 30 of YouTube's cache hosts, under one domain: 16 bytes each */
		for (i = 0; i < 30; i++) {
			snprintf(name, sizeof(name), "r%u---sn-5hne6n%02u.googlevideo.com", i % 9, i);
			dns_any(p, t + 55 * SEC + i * SEC / 10, name, out);
		}
	}
	ef_pdet_free(p);

	/* the policy's threshold is the one used */
	memset(&cfg, 0, sizeof(cfg));
	cfg.dns_label_bytes = 100;
	ef_probe_limits_of(&cfg, &l);
	assert_int_equal(l.dns_label_bytes, 100);
	p = det_new(&l);
	no_fire(out, dns_q(p, T0, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.x.example.org",
			   EF_V_ALLOW, 0, out), "51 bytes");
	no_fire(out, dns_q(p, T0 + SEC, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.x.example.org",
			   EF_V_ALLOW, 0, out), "the same name again");
	n = dns_q(p, T0 + 2 * SEC, "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb.x.example.org",
		  EF_V_WOULD_DENY, 0, out); /* audit mode forwards it */
	f = only(out, n, EF_PR_DNS_LABEL_BYTES, "custom threshold");
	assert_int_equal(f->count, 102);
	assert_int_equal(f->threshold, 100);
	/* quiet for the window after firing, then counting again */
	no_fire(out, dns_q(p, T0 + 3 * SEC, "cccccccccccccccccccccccccccccccccccccccccccccccccc.example.org",
			   EF_V_ALLOW, 0, out), "quiet after the fire");
	ef_pdet_free(p);
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

/* ---- evidence ---- */

/* The evidence names targets of the window being counted, no more than counted. */
static void test_evidence_window(void **state)
{
	struct ef_probe_fire out[EF_PR__MAX];
	const struct ef_probe_fire *f;
	struct ef_probe_limits l;
	struct ef_pdet *p;
	int n;

	ef_probe_limits_of(NULL, &l);
	l.denied_dests = 3;
	p = det_new(&l);
	/* two long gone, then three */
	no_fire(out, deny_tcp(p, T0, "198.18.0.1", 443, out), "old 1");
	no_fire(out, deny_tcp(p, T0 + SEC, "198.18.0.2", 443, out), "old 2");
	no_fire(out, deny_tcp(p, T0 + WIN + 5 * SEC, "198.18.0.3", 443, out), "new 1");
	no_fire(out, deny_tcp(p, T0 + WIN + 6 * SEC, "198.18.0.4", 443, out), "new 2");
	n = deny_tcp(p, T0 + WIN + 7 * SEC, "198.18.0.5", 443, out);
	ef_pdet_free(p); /* out[] is ours: nothing leaks if what follows fails */
	f = only(out, n, EF_PR_DEST_SCAN, "new 3");
	assert_int_equal(f->count, 3);
	for (int k = 0; k < f->n_targets; k++)
		print_message("evidence %d: %s\n", k, f->targets[k]);
	if (f->n_targets > (int)f->count)
		fail_msg("%d targets named for a count of %u; the oldest, %s, was last seen "
			 "before the window began",
			 f->n_targets, f->count, f->targets[f->n_targets - 1]);
	assert_string_equal(f->targets[0], "198.18.0.5");
	assert_string_equal(f->targets[1], "198.18.0.4");
	assert_string_equal(f->targets[2], "198.18.0.3");
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

/* ---- ef_addr_class ---- */

static void test_addr_class(void **state)
{
	static const struct {
		const char *addr;
		enum ef_addr_cls cls;
	} cases[] = {
		{ "169.254.169.254", EF_AC_METADATA },
		{ "fd00:ec2::254", EF_AC_METADATA },
		{ "169.254.170.2", EF_AC_METADATA },
		{ "100.100.100.200", EF_AC_METADATA },
		{ "127.0.0.1", EF_AC_LOOPBACK },
		{ "127.255.0.9", EF_AC_LOOPBACK },
		{ "::1", EF_AC_LOOPBACK },
		{ "169.254.3.4", EF_AC_LINK_LOCAL },
		{ "169.254.169.253", EF_AC_LINK_LOCAL },
		{ "fe80::1", EF_AC_LINK_LOCAL },
		{ "10.0.0.1", EF_AC_PRIVATE },
		{ "10.255.255.255", EF_AC_PRIVATE },
		{ "172.16.0.1", EF_AC_PRIVATE },
		{ "172.31.255.254", EF_AC_PRIVATE },
		{ "172.32.0.1", EF_AC_PUBLIC },
		{ "192.168.1.1", EF_AC_PRIVATE },
		{ "100.64.0.1", EF_AC_PRIVATE },
		{ "100.127.255.255", EF_AC_PRIVATE },
		{ "100.128.0.1", EF_AC_PUBLIC },
		{ "fc00::1", EF_AC_PRIVATE },
		{ "fdff:ffff::1", EF_AC_PRIVATE },
		{ "fd00:ec2::253", EF_AC_PRIVATE },
		{ "224.0.0.1", EF_AC_MULTICAST },
		{ "239.255.255.250", EF_AC_MULTICAST },
		{ "ff02::1", EF_AC_MULTICAST },
		{ "0.0.0.0", EF_AC_RESERVED },
		{ "255.255.255.255", EF_AC_RESERVED },
		{ "::", EF_AC_RESERVED },
		{ "198.18.0.1", EF_AC_PUBLIC },
		{ "198.19.255.255", EF_AC_PUBLIC },
		{ "8.8.8.8", EF_AC_PUBLIC },
		{ "2001:db8::1", EF_AC_PUBLIC },
		{ "2606:4700::1111", EF_AC_PUBLIC },
		{ "::ffff:10.0.0.1", EF_AC_PRIVATE },
		{ "::ffff:169.254.169.254", EF_AC_METADATA },
		{ "::ffff:127.0.0.1", EF_AC_LOOPBACK },
		{ "::ffff:8.8.8.8", EF_AC_PUBLIC },
		/* NAT64: the IPv4 address it embeds (RFC 6052, RFC 8215) */
		{ "64:ff9b::a9fe:a9fe", EF_AC_METADATA },
		{ "64:ff9b::10.1.2.3", EF_AC_PRIVATE },
		{ "64:ff9b::127.0.0.1", EF_AC_LOOPBACK },
		{ "64:ff9b::169.254.1.1", EF_AC_LINK_LOCAL },
		{ "64:ff9b::192.168.0.1", EF_AC_PRIVATE },
		{ "64:ff9b::8.8.8.8", EF_AC_PUBLIC },
		{ "64:ff9b::1:8.8.8.8", EF_AC_PUBLIC }, /* not the /96 */
		{ "64:ff9b:1::10.0.0.1", EF_AC_PRIVATE },   /* /96 in the local-use /48 */
		{ "64:ff9b:1:a9fe:a9:fe00::", EF_AC_METADATA }, /* /48: a9 fe, u, a9 fe */
		{ "64:ff9b:1:a:0:101::", EF_AC_PRIVATE },	/* /56: 10, u, 0 1 1 */
		{ "64:ff9b:1:0:7f:1:100::", EF_AC_LOOPBACK },	/* /64: u, 7f 0 1 1 */
		{ "64:ff9b:1:a9fe:1a9:fe00::", EF_AC_RESERVED }, /* u octet set: /96 only, 0.0.0.0 */
		{ "64:ff9b:1:a9fe:1a9:fe00:808:808", EF_AC_PUBLIC }, /* ... 8.8.8.8 */
		{ "64:ff9b:1::8.8.8.8", EF_AC_PUBLIC },
		{ "64:ff9b:2::10.0.0.1", EF_AC_PUBLIC }, /* outside both prefixes */
		{ "64:ff9a::10.0.0.1", EF_AC_PUBLIC },
	};
	uint8_t fam, a[16];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum ef_addr_cls got;

		addr_of(cases[i].addr, &fam, a);
		got = ef_addr_class(fam, a);
		if (got != cases[i].cls)
			fail_msg("%s: %s, want %s", cases[i].addr, ef_addr_class_name(got),
				 ef_addr_class_name(cases[i].cls));
	}
	/* garbage after an IPv4 address is not looked at */
	addr_of("10.0.0.1", &fam, a);
	memset(a + 4, 0xee, 12);
	assert_int_equal(ef_addr_class(fam, a), EF_AC_PRIVATE);
	/* an unknown family cannot be judged */
	assert_int_equal(ef_addr_class(0, a), EF_AC_RESERVED);
	assert_int_equal(ef_addr_class(10, a), EF_AC_RESERVED);
}

/* flood: every refusal counts, repeats too; a sliding window; once per window */
static void test_flood(void **state)
{
	struct ef_probe_fire out[EF_PR__MAX];
	struct ef_probe_cfg cfg = { .flood = 100, .window_s = 10 };
	struct ef_probe_limits l;
	struct ef_pdet *p;
	int fired = 0, at = -1;

	(void)state;
	ef_probe_limits_of(&cfg, &l);
	p = det_new(&l);
	/* 99 in the window: quiet */
	for (int i = 0; i < 99; i++)
		assert_int_equal(ef_pdet_flood(p, T0 + i * (SEC / 10), out), 0);
	/* the 100th fires, once, with its evidence */
	assert_int_equal(ef_pdet_flood(p, T0 + 99 * (SEC / 10), out), 1);
	assert_int_equal(out[0].reason, EF_PR_FLOOD);
	assert_int_equal(out[0].count, 100);
	assert_int_equal(out[0].threshold, 100);
	assert_int_equal(out[0].window_s, 10);
	assert_string_equal(ef_probe_reason_name(EF_PR_FLOOD), "flood");
	for (int i = 0; i < 500; i++)
		fired += ef_pdet_flood(p, T0 + 99 * (SEC / 10) + i * 1000, out);
	assert_int_equal(fired, 0); /* quiet for the window */
	ef_pdet_free(p);

	/* a slow trickle never fires: 9 a second against 100 per 10 s */
	p = det_new(&l);
	for (int i = 0; i < 9 * 600; i++)
		fired += ef_pdet_flood(p, T0 + (uint64_t)i * SEC / 9, out);
	assert_int_equal(fired, 0);
	ef_pdet_free(p);

	/* split across the fixed halves: 60 at the end of one, 60 at the start of
	 * the next, 2 s apart: the sliding estimate fires */
	p = det_new(&l);
	ef_pdet_flood(p, T0, out); /* the fixed halves start here */
	for (int i = 0; i < 60; i++)
		ef_pdet_flood(p, T0 + 9 * SEC + i * 1000, out);
	for (int i = 0; i < 60 && at < 0; i++)
		if (ef_pdet_flood(p, T0 + 11 * SEC + i * 1000, out))
			at = i;
	assert_true(at >= 0 && at < 59); /* before the second half alone could */
	ef_pdet_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dest_scan),
		cmocka_unit_test(test_window),
		cmocka_unit_test(test_port_scan),
		cmocka_unit_test(test_sensitive),
		cmocka_unit_test(test_discounts),
		cmocka_unit_test(test_dns_sweep),
		cmocka_unit_test(test_dns_tunnel),
		cmocka_unit_test(test_dns_fanout),
		cmocka_unit_test(test_dns_label_bytes),
		cmocka_unit_test(test_limits_names),
		cmocka_unit_test(test_evidence_window),
		cmocka_unit_test(test_flood),
		cmocka_unit_test(test_memory),
		cmocka_unit_test(test_memory_saturated),
		cmocka_unit_test(test_addr_class),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
