// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libFuzzer target for the probe detectors (daemon/probe/probe_detect.c). The
 * input is a program: a header of small limits (window, thresholds; 0
 * included), then operations, each an opcode byte and its operands:
 *   0 a connect or datagram decision: family, address, port, protocol,
 *     connect/learned/host-address/server flags, verdict, reason (all
 *     arbitrary, so also families and verdicts the fence never produces);
 *   1 a DNS decision: verdict, the policy's names or none, a suffix, up to
 *     4 answer addresses, a NUL-terminated name of up to 300 bytes (any
 *     bytes; the suffix, one the Public Suffix List knows or none, is
 *     appended), rcode;
 *   2 ef_pdet_expire();
 *   3 new limits (ef_pdet_set_limits());
 * each advancing a monotonic fake clock. Addresses come from a small table
 * varied in the last byte, so that targets repeat and thresholds are
 * reached, or raw. Beyond memory errors it checks the detectors' promises,
 * aborting when one breaks:
 *   - a call returns 0..EF_PR__MAX fires, each reason < EF_PR__MAX and at
 *     most once per call, count >= threshold, 0..EF_PROBE_SAMPLES targets,
 *     subject and targets NUL-terminated;
 *   - a first-touch reason fires with count and threshold 1;
 *   - a reason fires at most once per window;
 *   - nothing fires for an allowed connect or an expired DNS address;
 *   - memory stays within SET_MAX per set;
 *   - the label-shape helpers answer for any name (entropy within 0..8).
 */
#include <math.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"
#include "probe/probe_detect.h"
#include "fuzz.h"

#define SEC 1000000000ull
#define SET_MAX 65536 /* probe_detect.c's bound on one set */
#define NAME_MAX_IN 300

struct in {
	const uint8_t *p;
	size_t n;
};

static uint8_t byte(struct in *in)
{
	uint8_t b = 0;

	if (in->n) {
		b = *in->p++;
		in->n--;
	}
	return b;
}

static uint16_t u16(struct in *in)
{
	uint16_t hi = byte(in);

	return (uint16_t)(hi << 8 | byte(in));
}

/* Addresses worth hitting: public, the metadata ones, each special class. */
static const struct {
	uint8_t family;
	uint8_t a[16];
} seeds[] = {
	{ EF_FAM_V4, { 198, 18, 0, 1 } },
	{ EF_FAM_V4, { 198, 18, 7, 1 } },
	{ EF_FAM_V4, { 169, 254, 169, 254 } },
	{ EF_FAM_V6, { 0xfd, 0x00, 0x0e, 0xc2, [14] = 0x02, [15] = 0x54 } },
	{ EF_FAM_V4, { 169, 254, 1, 1 } },
	{ EF_FAM_V4, { 10, 1, 2, 3 } },
	{ EF_FAM_V4, { 127, 0, 0, 1 } },
	{ EF_FAM_V6, { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 } },
	{ EF_FAM_V6, { 0xfe, 0x80, [15] = 1 } },
	{ EF_FAM_V6, { [10] = 0xff, [11] = 0xff, 10, 0, 0, 1 } },
	{ EF_FAM_V4, { 224, 0, 0, 1 } },
	{ EF_FAM_V4, { 100, 100, 100, 200 } },
};
#define N_SEEDS (sizeof(seeds) / sizeof(seeds[0]))

/* One address: a seed with its last byte varied (mostly), or raw bytes. */
static void address(struct in *in, uint8_t *family, uint8_t a[16])
{
	uint8_t sel = byte(in);

	if (sel == 0xff) {
		*family = byte(in);
		for (int i = 0; i < 16; i++)
			a[i] = byte(in);
		return;
	}
	*family = seeds[(sel & 0x7f) % N_SEEDS].family;
	memcpy(a, seeds[(sel & 0x7f) % N_SEEDS].a, 16);
	if (sel & 0x80)
		a[*family == EF_FAM_V4 ? 3 : 15] ^= byte(in) & 0x1f;
}

static uint32_t small(struct in *in)
{
	return byte(in) % 24; /* 0: a threshold of 0, a window of 0 */
}

static void limits(struct in *in, struct ef_probe_limits *l)
{
	l->window_s = byte(in) % 8;
	l->denied_dests = small(in);
	l->denied_names = small(in);
	l->ports_per_host = small(in);
	l->names_per_parent = small(in);
	l->tunnel_names = small(in);
	l->dns_label_bytes = small(in) * 16;
	l->flood = small(in);
}

static const struct ef_compiled *policy_names(void)
{
	static const char text[] =
		"{\"name\":\"f\",\"allow\":[\"api.github.com:443\",\"*.example.com:443\","
		"\"registry-1.docker.io:443\"],\"deny\":[\"bad.example.com:*\"]}";
	static struct ef_compiled *c;
	static bool tried;

	if (!tried) {
		struct ef_policy *p;
		char err[EF_ERR_LEN];

		tried = true;
		if (!ef_policy_parse(text, strlen(text), "f.json", &p, err, sizeof(err))) {
			if (ef_policy_compile(p, 1, &c, err, sizeof(err)))
				c = NULL;
			ef_policy_free(p);
		}
		CHECK(c);
	}
	return c;
}

struct state {
	struct ef_pdet *p;
	struct ef_probe_limits lim;
	uint64_t now;
	uint64_t last[EF_PR__MAX]; /* 0: never fired */
};

static bool terminated(const char *s)
{
	return memchr(s, '\0', EF_PROBE_TARGET_LEN) != NULL;
}

static void check_fires(struct state *st, const struct ef_probe_fire *out, int n)
{
	bool seen[EF_PR__MAX] = { false };
	uint64_t window = (uint64_t)st->lim.window_s * SEC;

	CHECK(n >= 0 && n <= EF_PR__MAX);
	for (int i = 0; i < n; i++) {
		const struct ef_probe_fire *f = &out[i];

		CHECK(f->reason >= 0 && f->reason < EF_PR__MAX);
		CHECK(!seen[f->reason]);
		seen[f->reason] = true;
		CHECK(f->count >= f->threshold);
		CHECK(f->n_targets >= 0 && f->n_targets <= EF_PROBE_SAMPLES);
		CHECK(terminated(f->subject));
		for (int k = 0; k < f->n_targets; k++)
			CHECK(terminated(f->targets[k]));
		if (f->reason >= EF_PR_METADATA && f->reason <= EF_PR_TAMPER) { /* first touch */
			CHECK(f->count == 1 && f->threshold == 1);
			CHECK(f->n_targets == 1);
		}
		/* at most once per window (the clock starts above 0) */
		if (st->last[f->reason])
			CHECK(st->now - st->last[f->reason] >= window);
		st->last[f->reason] = st->now;
	}
	CHECK(ef_pdet_entries(st->p) <= (size_t)(EF_PR__MAX + 1) * SET_MAX);
}

/* The clock: mostly small steps, sometimes past any window. */
static void tick(struct state *st, struct in *in)
{
	uint8_t dt = byte(in);

	st->now += dt == 0xff ? 10 * SEC : (uint64_t)dt * (SEC / 16);
}

static void op_conn(struct state *st, struct in *in)
{
	struct ef_probe_fire out[EF_PR__MAX];
	uint8_t a[16], flags;
	struct ef_probe_conn c = { .addr = a };
	int n;

	tick(st, in);
	address(in, &c.family, a);
	c.port = u16(in);
	flags = byte(in);
	c.ipproto = flags & 1 ? IPPROTO_UDP : flags & 2 ? IPPROTO_TCP : byte(in);
	c.connect = flags & 4;
	c.learned = flags & 8;
	c.host_address = flags & 16;
	c.server = flags & 32 ? (flags & 64 ? "srv.example.com" : "other.example.org") : NULL;
	c.verdict = flags & 128 ? byte(in) : byte(in) % 3; /* EF_V_*, or anything */
	c.reason = byte(in) % (EF_R__MAX + 2);
	c.now_ns = st->now;
	n = ef_pdet_conn(st->p, &c, out);
	check_fires(st, out, n);
	if (c.verdict == EF_V_ALLOW || c.reason == EF_R_DNS_EXPIRED)
		CHECK(n == 0);
	/* a refusal of any kind counts towards a flood */
	n = ef_pdet_flood(st->p, st->now, out);
	CHECK(n == 0 || n == 1);
	check_fires(st, out, n);
}

static const char *const suffixes[] = {
	"", ".example.com", ".co.uk", ".sweep.test", ".github.io", ".com.corp", ".amazonaws.com",
};

static void op_dns(struct state *st, struct in *in)
{
	struct ef_probe_fire out[EF_PR__MAX];
	uint8_t addrs[4][16], fams[4], flags;
	char name[NAME_MAX_IN + 32];
	const char *sfx;
	struct ef_probe_dns q;
	size_t len = 0, n_addrs;
	double h;
	int n;

	tick(st, in);
	flags = byte(in);
	sfx = suffixes[byte(in) % (sizeof(suffixes) / sizeof(suffixes[0]))];
	n_addrs = (flags & 7) % 5;
	for (size_t i = 0; i < n_addrs; i++)
		address(in, &fams[i], addrs[i]);
	while (len < NAME_MAX_IN && in->n) {
		uint8_t b = byte(in);

		if (!b)
			break;
		name[len++] = (char)b;
	}
	name[len] = '\0';
	strcat(name, sfx);

	q = (struct ef_probe_dns){
		.now_ns = st->now,
		.name = name,
		.verdict = flags & 0x80 ? EF_V_ALLOW : flags & 0x40 ? EF_V_WOULD_DENY : EF_V_DENY,
		.rcode = byte(in) % 6,
		.names = flags & 0x20 ? policy_names() : NULL,
		.n_addrs = n_addrs,
		.addrs = (const uint8_t(*)[16])addrs,
		.families = fams,
	};
	n = ef_pdet_dns(st->p, &q, out);
	check_fires(st, out, n);

	/* the shape helpers on the same name, with and without a registrable domain */
	(void)ef_probe_tunnel_shaped(name, NULL);
	(void)ef_probe_tunnel_shaped(name, sfx[0] ? sfx + 1 : "");
	{
		size_t lb = ef_probe_label_bytes(name, sfx[0] ? sfx + 1 : "");

		CHECK(lb == 0 || lb < strlen(name));
		CHECK(ef_probe_label_bytes(name, NULL) == 0);
		CHECK(ef_probe_label_bytes(name, name) == 0);
	}
	h = ef_probe_entropy(name, strlen(name));
	CHECK(h >= 0.0 && h <= 8.0 + 1e-9 && !isnan(h));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct in in = { data, size };
	struct state st = { .now = SEC };
	int ops = 0;

	limits(&in, &st.lim);
	st.p = ef_pdet_new(&st.lim);
	if (!st.p)
		return 0;
	while (in.n && ops++ < 4096) {
		switch (byte(&in) % 4) {
		case 0:
			op_conn(&st, &in);
			break;
		case 1:
			op_dns(&st, &in);
			break;
		case 2:
			tick(&st, &in);
			ef_pdet_expire(st.p, st.now);
			CHECK(ef_pdet_entries(st.p) <= (size_t)(EF_PR__MAX + 1) * SET_MAX);
			break;
		default:
			tick(&st, &in);
			limits(&in, &st.lim);
			ef_pdet_set_limits(st.p, &st.lim);
			break;
		}
	}
	ef_pdet_free(st.p);
	return 0;
}
