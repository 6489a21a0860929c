// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * daemon/probe/probe_detect.c, connections: the probe detectors of one job, driven by
 * a fake clock. The counting detectors (dest_scan, port_scan, flood) count in a
 * sliding window, fire at their threshold, at most once per window, and start
 * over after firing; the first-touch reasons (metadata, host_address,
 * link_local, private_address) fire on the first denied touch. Also: what never
 * counts (allowed decisions, getaddrinfo's connected-UDP sorting, expired DNS),
 * the evidence of a fire, and ef_addr_class() of policy/.
 */
#include "probe_fixture.h"

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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dest_scan),
		cmocka_unit_test(test_window),
		cmocka_unit_test(test_port_scan),
		cmocka_unit_test(test_sensitive),
		cmocka_unit_test(test_discounts),
		cmocka_unit_test(test_evidence_window),
		cmocka_unit_test(test_flood),
		cmocka_unit_test(test_addr_class),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
