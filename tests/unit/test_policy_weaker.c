// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * policy/: no_weaker, one policy within another, case by case and held against
 * the naive matchers on random policies; and its cost.
 */
#include "policy_edit_fixture.h"
#include "rng.h"

/* ---- no_weaker ---- */

struct weaker_case {
	const char *a_allow, *a_deny, *a_extra;
	const char *b_allow, *b_deny, *b_extra;
	int want;
	const char *why; /* part of the reason when 0 */
};

static const struct weaker_case weaker_cases[] = {
	/* settings */
	{ "", "", "\"mode\": \"audit\"", "", "", "", 0,
	  "mode audit lets through what policy b (enforce) denies" },
	{ "\"0.0.0.0/0:*\"", "", "\"sockets\": {\"raw\": true}", "", "", "\"mode\": \"audit\"", 1,
	  NULL },
	{ "", "", "\"mode\": \"audit\"", "", "", "\"mode\": \"audit\"", 1, NULL },
	{ "", "", "", "", "", "\"loopback\": false", 0,
	  "\"loopback\": \"own\" reaches the job's own listeners; policy b has false" },
	{ "", "", "\"loopback\": true", "", "", "", 0,
	  "\"loopback\": true reaches every local listener; policy b has \"own\"" },
	{ "", "", "\"loopback\": true", "", "", "\"loopback\": false", 0,
	  "\"loopback\": true reaches every local listener; policy b has false" },
	{ "", "", "\"loopback\": false", "", "", "", 1, NULL },
	{ "", "", "", "", "", "\"loopback\": true", 1, NULL },
	{ "", "", "\"loopback\": \"own\"", "", "", "\"loopback\": true", 1, NULL },
	/* a loopback rule: within b's "loopback": true, not within b's "own" */
	{ "\"127.0.0.1:5432\"", "", "", "", "", "\"loopback\": true", 1, NULL },
	{ "\"127.0.0.1:5432\"", "", "", "", "", "", 0,
	  "\"127.0.0.1:5432\" is not allowed by policy b" },
	/* b's deny rule on loopback holds under its true; a's true ignores it */
	{ "", "", "\"loopback\": true", "", "\"127.0.0.1:6379\"", "\"loopback\": true", 0,
	  "policy b denies \"127.0.0.1:6379\" on loopback" },
	{ "", "\"127.0.0.1:6379\"", "\"loopback\": true", "", "\"127.0.0.1:6379\"",
	  "\"loopback\": true", 1, NULL },
	/* inbound rules */
	{ "", "", "\"inbound\": [\"10.1.0.5:8080\"]", "", "", "", 0,
	  "inbound \"10.1.0.5:8080\" is not allowed by policy b" },
	{ "", "", "\"inbound\": [\"10.1.0.5:8080\"]", "", "",
	  "\"inbound\": [\"10.1.0.0/24:8000-9000\"]", 1, NULL },
	{ "", "", "\"inbound\": [\"10.1.0.5:7000\"]", "", "",
	  "\"inbound\": [\"10.1.0.0/24:8000-9000\"]", 0, "inbound \"10.1.0.5:7000\"" },
	{ "", "", "", "", "", "\"inbound\": [\"10.1.0.5:8080\"]", 1, NULL },
	/* an outbound rule never stands in for an inbound one, nor the reverse */
	{ "", "", "\"inbound\": [\"10.1.0.5:8080\"]", "\"10.1.0.5:8080\"", "", "", 0,
	  "inbound \"10.1.0.5:8080\"" },
	{ "\"10.1.0.5:8080\"", "", "", "", "", "\"inbound\": [\"10.1.0.5:8080\"]", 0,
	  "\"10.1.0.5:8080\" is not allowed by policy b" },
	{ "", "", "\"sockets\": {\"raw\": true}", "", "", "", 0,
	  "\"sockets.raw\": true is not allowed by policy b" },
	{ "", "", "\"sockets\": {\"icmp\": true}", "", "", "\"sockets\": {\"raw\": true}", 0,
	  "\"sockets.icmp\": true" },
	{ "", "", "\"sockets\": {\"multicast\": true}", "", "", "", 0,
	  "\"sockets.multicast\": true is not allowed by policy b" },
	/* "tracing": false only takes away */
	{ "", "", "", "", "", "\"tracing\": false", 0,
	  "\"tracing\" is on; policy b turns it off" },
	{ "", "", "\"tracing\": false", "", "", "", 1, NULL },
	{ "", "", "\"tracing\": false", "", "", "\"tracing\": false", 1, NULL },
	{ "", "", "\"tracing\": true", "", "", "\"tracing\": false", 0, NULL },
	/* "host_writes": true only gives */
	{ "", "", "\"host_writes\": true", "", "", "", 0,
	  "\"host_writes\": true lets a root job change the host's system directories; "
	  "policy b keeps them private" },
	{ "", "", "\"host_writes\": true", "", "", "\"host_writes\": true", 1, NULL },
	{ "", "", "", "", "", "\"host_writes\": true", 1, NULL },
	{ "", "", "\"host_writes\": false", "", "", "", 1, NULL },
	{ "", "", "\"sockets\": {\"packet\": true}", "", "",
	  "\"sockets\": {\"packet\": true, \"raw\": true}", 1, NULL },
	{ "", "", "\"sockets\": {\"families\": [\"vsock\"]}", "", "",
	  "\"sockets\": {\"families\": [\"can\"]}", 0,
	  "address family \"vsock\" is not allowed by policy b" },
	{ "", "", "\"sockets\": {\"families\": [50]}", "", "", "", 0, "address family 50 " },
	{ "", "", "\"sockets\": {\"families\": [\"vsock\"]}", "", "",
	  "\"sockets\": {\"families\": [\"can\", 40]}", 1, NULL },
	/* dns.upstream */
	{ "", "", "\"dns\": {\"upstream\": [\"8.8.8.8\"]}", "", "", "", 0,
	  "dns.upstream \"8.8.8.8\" is not the default resolver of policy b" },
	{ "", "", "", "", "", "\"dns\": {\"upstream\": [\"1.1.1.1\"]}", 0,
	  "dns.upstream is the default resolver; policy b names its own" },
	{ "", "", "\"dns\": {\"upstream\": [\"1.1.1.1\", \"[::ffff:8.8.8.8]:53\"]}", "", "",
	  "\"dns\": {\"upstream\": [\"8.8.8.8\", \"9.9.9.9\", \"1.1.1.1:53\"]}", 1, NULL },
	{ "", "", "\"dns\": {\"upstream\": [\"1.1.1.1:5353\"]}", "", "",
	  "\"dns\": {\"upstream\": [\"1.1.1.1\"]}", 0, "dns.upstream \"1.1.1.1:5353\" is not an upstream" },
	/* names */
	{ "\"api.github.com:443\"", "", "", "\"*.github.com:443\"", "", "", 1, NULL },
	{ "\"a.b.api.github.com:443\"", "", "", "\"*.com:443\"", "", "", 1, NULL },
	{ "\"API.GitHub.com.:443/tcp\"", "", "", "\"api.github.com:443\"", "", "", 1, NULL },
	{ "\"api.evil.com:443\"", "", "", "\"api.github.com:443\"", "", "", 0,
	  "\"api.evil.com:443\" is not allowed by policy b" },
	{ "\"github.com:443\"", "", "", "\"*.github.com:443\"", "", "", 0, "\"github.com:443\"" },
	{ "\"*.api.github.com:443\"", "", "", "\"*.github.com:443\"", "", "", 1, NULL },
	{ "\"*.github.com:443\"", "", "", "\"*.api.github.com:443\"", "", "", 0, NULL },
	{ "\"*.github.com:443\"", "", "", "\"github.com:443\"", "", "", 0, NULL },
	/* ports, per protocol, together */
	{ "\"x.com:80,443\"", "", "", "\"x.com:80\", \"*.x.com:8080\", \"x.com:443\"", "", "", 1,
	  NULL },
	{ "\"x.com:8000-8100\"", "", "", "\"x.com:8000-8050\", \"x.com:8051-8100\"", "", "", 1,
	  NULL },
	{ "\"x.com:8000-8101\"", "", "", "\"x.com:8000-8100\"", "", "", 0, NULL },
	{ "\"x.com:1-65535\"", "", "", "\"x.com:*\"", "", "", 1, NULL },
	{ "\"x.com:*\"", "", "", "\"x.com:1-65535\"", "", "", 0, NULL }, /* port 0 */
	{ "\"a.x.com:443,80\"", "", "", "\"*.x.com:443\", \"*.com:80\"", "", "", 1, NULL },
	/* protocols */
	{ "\"x.com:53/udp\"", "", "", "\"x.com:53/any\"", "", "", 1, NULL },
	{ "\"x.com:53/any\"", "", "", "\"x.com:53\"", "", "", 0, "\"x.com:53/any\"" },
	{ "\"x.com:53/any\"", "", "", "\"x.com:53/tcp\", \"x.com:1-100/udp\"", "", "", 1, NULL },
	/* addresses */
	{ "\"10.1.2.0/24:443\"", "", "", "\"10.0.0.0/8:443\"", "", "", 1, NULL },
	{ "\"10.0.0.0/8:443\"", "", "", "\"10.1.0.0/16:443\"", "", "", 0, NULL },
	{ "\"10.0.0.0/8:443\"", "", "", "\"10.0.0.0/9:443\", \"10.128.0.0/9:443\"", "", "", 0,
	  NULL }, /* not proven: two rules together */
	{ "\"[2001:db8::1]:443\"", "", "", "\"[2001:db8::]/32:*\"", "", "", 1, NULL },
	{ "\"10.0.0.1:443\"", "", "", "\"[::]/0:443\"", "", "", 0, NULL },
	{ "\"[::ffff:10.0.0.1]:443\"", "", "", "\"10.0.0.0/8:443\"", "", "", 1, NULL },
	{ "\"10.0.0.1:443\"", "", "", "\"10.0.0.0/24:443/udp\"", "", "", 0, NULL },
	/* names and addresses are never proven from each other */
	{ "\"x.com:443\"", "", "", "\"0.0.0.0/0:*/any\", \"[::]/0:*/any\"", "", "", 0, NULL },
	{ "\"10.0.0.1:443\"", "", "", "\"x.com:443\"", "", "", 0, NULL },
	/* metadata: only rules naming the address open it */
	{ "\"169.254.169.254:80\"", "", "", "\"169.254.0.0/16:80\"", "", "", 0,
	  "\"169.254.169.254:80\" is not allowed by policy b" },
	{ "\"169.254.169.254:80\"", "", "", "\"169.254.169.254:*\"", "", "", 1, NULL },
	{ "\"169.254.0.0/16:80\"", "", "", "\"169.254.0.0/16:80\"", "", "", 1, NULL },
	{ "\"169.254.0.0/16:80\"", "", "", "\"0.0.0.0/0:80\"", "", "", 1, NULL },
	{ "\"[fd00:ec2::254]:80\"", "", "", "\"[fd00::]/8:80\"", "", "", 0, NULL },
	{ "\"[fd00:ec2::254]:80\"", "", "", "\"[fd00:ec2::254]:80\"", "", "", 1, NULL },
	/* deny rules of b: kept by a, or nothing of a meets them */
	{ "\"10.0.0.0/8:*\"", "", "", "\"10.0.0.0/8:*\"", "\"10.0.0.5:*\"", "", 0,
	  "policy b denies \"10.0.0.5:*\", which \"10.0.0.0/8:*\" allows" },
	{ "\"10.0.0.0/8:*\"", "\"10.0.0.0/24:*/any\"", "", "\"10.0.0.0/8:*\"", "\"10.0.0.5:*\"", "",
	  1, NULL },
	{ "\"10.0.0.0/8:*\"", "\"10.0.0.0/24:80\", \"10.0.0.0/16:443\"", "", "\"10.0.0.0/8:*\"",
	  "\"10.0.0.0/24:80,443\"", "", 1, NULL },
	{ "\"10.0.0.0/8:*\"", "\"10.0.0.0/24:80\"", "", "\"10.0.0.0/8:*\"",
	  "\"10.0.0.0/24:80,443\"", "", 0, NULL },
	{ "\"10.1.0.0/16:*\"", "", "", "\"10.0.0.0/8:*\"", "\"10.0.0.5:*\"", "", 1, NULL },
	{ "\"10.0.0.0/8:443\"", "", "", "\"10.0.0.0/8:*\"", "\"10.0.0.5:22\"", "", 1, NULL },
	{ "\"10.0.0.0/8:22\"", "", "", "\"10.0.0.0/8:*\"", "\"10.0.0.5:22/udp\"", "", 1, NULL },
	{ "\"10.0.0.5:22\"", "", "", "\"10.0.0.0/8:*\"", "\"10.0.0.0/24:*\"", "", 0,
	  "which \"10.0.0.5:22\" allows" },
	{ "\"x.com:443\"", "", "", "\"x.com:443\"", "\"10.0.0.0/8:443\"", "", 0,
	  "policy b denies \"10.0.0.0/8:443\", which names allowed by \"x.com:443\" may resolve to" },
	{ "\"x.com:443\"", "\"10.0.0.0/8:*\"", "", "\"x.com:443\"", "\"10.0.0.0/8:443\"", "", 1,
	  NULL },
	{ "\"x.com:80\"", "", "", "\"x.com:*\"", "\"10.0.0.0/8:443\"", "", 1, NULL },
	{ "\"*.github.com:443\"", "", "", "\"*.github.com:443\"", "\"evil.github.com:443\"", "", 0,
	  "policy b denies \"evil.github.com:443\", which \"*.github.com:443\" allows" },
	{ "\"api.github.com:443\"", "", "", "\"*.github.com:443\"", "\"evil.github.com:443\"", "",
	  1, NULL },
	{ "\"*.github.com:443\"", "\"evil.github.com:*\"", "", "\"*.github.com:443\"",
	  "\"evil.github.com:443\"", "", 1, NULL },
	{ "\"a.b.evil.github.com:443\"", "", "", "\"*.github.com:443\"",
	  "\"*.evil.github.com:443\"", "", 0, "which \"a.b.evil.github.com:443\" allows" },
	{ "\"*.x.evil.github.com:443\"", "", "", "\"*.github.com:443\"",
	  "\"*.evil.github.com:443\"", "", 0, NULL },
	{ "\"evil.github.com:443\"", "", "", "\"*.github.com:443\"", "\"*.evil.github.com:443\"",
	  "", 1, NULL },
	{ "\"*.github.com:443\"", "\"*.evil.github.com:*\"", "", "\"*.github.com:443\"",
	  "\"a.evil.github.com:443\"", "", 1, NULL },
	/* the DNS proxy answers a name while an allow range of it is left that no
	 * single deny range takes: here a.x.com resolves under a, not under b */
	{ "\"*.x.com:80-81\"", "\"a.x.com:80\", \"a.x.com:81\"", "",
	  "\"*.x.com:80\", \"*.x.com:81\"", "\"a.x.com:80\", \"a.x.com:81\"", "", 0,
	  "DNS name \"a.x.com\" is answered; policy b refuses it" },
	{ "\"*.x.com:80-81\"", "\"a.x.com:80-81\"", "", "\"*.x.com:80\", \"*.x.com:81\"",
	  "\"a.x.com:80\", \"a.x.com:81\"", "", 1, NULL },
	{ "\"*.x.com:80\", \"*.x.com:81\"", "\"*.a.x.com:80-81\"", "",
	  "\"*.x.com:80-81\"", "\"*.a.x.com:80\", \"*.a.x.com:81\"", "", 1, NULL },
	{ "\"*.x.com:80-81\"", "\"*.a.x.com:80\", \"*.a.x.com:81\"", "",
	  "\"*.x.com:80\", \"*.x.com:81\"", "\"*.a.x.com:80\", \"*.a.x.com:81\"", "", 0,
	  "DNS names below \"*.a.x.com\" are answered; policy b refuses them" },
	/* a name deny of b does not touch a's address rules (addresses decide first) */
	{ "\"10.0.0.1:443\"", "", "", "\"10.0.0.0/8:443\"", "\"x.com:443\"", "", 1, NULL },
	/* names never reach the metadata addresses; wide prefixes do not open them */
	{ "\"x.com:80\"", "", "", "\"x.com:80\"", "\"169.254.169.254:80\"", "", 1, NULL },
	{ "\"169.254.0.0/16:80\"", "", "", "\"169.254.0.0/16:80\"", "\"169.254.169.254:*\"", "", 1,
	  NULL },
	{ "\"169.254.169.254:80\"", "", "", "\"169.254.169.254:80\"", "\"169.254.0.0/16:*\"", "", 0,
	  "policy b denies \"169.254.0.0/16:*\", which \"169.254.169.254:80\" allows" },
};

static void test_weaker_cases(void **state)
{
	char why[EF_ERR_LEN];
	size_t i;

	for (i = 0; i < sizeof(weaker_cases) / sizeof(weaker_cases[0]); i++) {
		const struct weaker_case *tc = &weaker_cases[i];
		struct ef_policy *a = pol("a", tc->a_allow, tc->a_deny, tc->a_extra);
		struct ef_policy *b = pol("b", tc->b_allow, tc->b_deny, tc->b_extra);
		int got = ef_policy_no_weaker(a, b, why, sizeof(why));

		if (got != tc->want)
			fail_msg("case %zu: a [%s] - [%s] %s, b [%s] - [%s] %s: got %d (%s)", i,
				 tc->a_allow, tc->a_deny, tc->a_extra, tc->b_allow, tc->b_deny,
				 tc->b_extra, got, why);
		if (got == 1 && why[0])
			fail_msg("case %zu: 1 with a reason \"%s\"", i, why);
		if (got == 0 && (!why[0] || (tc->why && !strstr(why, tc->why))))
			fail_msg("case %zu: reason \"%s\", want \"%s\"", i, why, tc->why);
		/* every policy is within itself */
		assert_int_equal(ef_policy_no_weaker(a, a, why, sizeof(why)), 1);
		assert_int_equal(ef_policy_no_weaker(b, b, why, sizeof(why)), 1);
		ef_policy_free(a);
		ef_policy_free(b);
	}
}

static void test_weaker_identical(void **state)
{
	struct ef_policy *a = parse_ok(full_policy), *b = parse_ok(full_policy);
	char why[EF_ERR_LEN];

	assert_int_equal(ef_policy_no_weaker(a, b, why, sizeof(why)), 1);
	assert_string_equal(why, "");
	assert_int_equal(ef_policy_no_weaker(b, a, why, sizeof(why)), 1);
	assert_int_equal(ef_policy_no_weaker(a, a, NULL, 0), 1);
	ef_policy_free(a);
	ef_policy_free(b);
}

/* The 100,000-rule policies of the lint test, against themselves and a
 * narrower copy. */
static void test_weaker_speed(void **state)
{
	struct ef_policy *p = big_policy(100000, false), *q = big_policy(100000, true);
	char why[EF_ERR_LEN];
	double t0, t1, t2;

	t0 = now();
	assert_int_equal(ef_policy_no_weaker(p, p, why, sizeof(why)), 1);
	t1 = now();
	/* q denies every name under *.sN.example.com, which p allows */
	assert_int_equal(ef_policy_no_weaker(p, q, why, sizeof(why)), 0);
	assert_non_null(strstr(why, "policy big denies \"*.s0.example.com:*\", which \"h"));
	/* q denies more: it is within p */
	assert_int_equal(ef_policy_no_weaker(q, p, why, sizeof(why)), 1);
	t2 = now();
	print_message("no_weaker of 200000 rules: %.3f s self, %.3f s both ways\n", t1 - t0,
		      t2 - t1);
	assert_true(t1 - t0 < 3.0 && t2 - t1 < 6.0);
	ef_policy_free(p);
	ef_policy_free(q);
}

/* ---- no_weaker against the naive matchers, on random policies ---- */

static const char *const r_ports[] = { "22",     "80",     "81",      "80-81", "443",
					"80,443", "1-1024", "440-450", "*" };
static const char *const r_protos[] = { "", "/udp", "/any" };

/* A small world, so that rules of two random policies often meet. */
static void rand_cidr(char *buf, size_t len)
{
	static const unsigned int l4[] = { 8, 16, 24, 30, 32, 32 };
	static const unsigned int l6[] = { 32, 64, 120, 128 };
	unsigned int k = rndn(10);

	if (k == 0) {
		snprintf(buf, len, "169.254.169.254");
	} else if (k == 1) {
		snprintf(buf, len, "169.254.0.0/16");
	} else if (k < 8) {
		unsigned int l = l4[rndn(6)], a = (10u << 24) | (rndn(2) << 16) | (rndn(4) << 8) |
						  rndn(4);

		a &= ~0u << (32 - l);
		if (l == 32)
			snprintf(buf, len, "%u.%u.%u.%u", a >> 24, (a >> 16) & 255, (a >> 8) & 255,
				 a & 255);
		else
			snprintf(buf, len, "%u.%u.%u.%u/%u", a >> 24, (a >> 16) & 255,
				 (a >> 8) & 255, a & 255, l);
	} else {
		unsigned int l = l6[rndn(4)];

		if (l <= 32)
			snprintf(buf, len, "[2001:db8::]/32");
		else if (l == 64)
			snprintf(buf, len, "[2001:db8:0:%x::]/64", rndn(2));
		else if (l == 120)
			snprintf(buf, len, "[2001:db8:0:%x::100]/120", rndn(2));
		else
			snprintf(buf, len, "[2001:db8:0:%x::1%02x]", rndn(2), rndn(4));
	}
}

static void rand_name(char *buf, size_t len)
{
	static const char *const names[] = { "a.x.com", "b.x.com", "x.com", "c.a.x.com", "y.com",
					     "a.y.com", "z.org" };
	bool wild = rndn(3) == 0;

	snprintf(buf, len, "%s%s", wild ? "*." : "", names[rndn(7)]);
}

/* text: JSON list contents; both kinds when names */
static void rand_rules(char *buf, size_t len, int n, bool names)
{
	size_t o = 0;
	int i;

	buf[0] = '\0';
	for (i = 0; i < n; i++) {
		char dest[64];

		if (names)
			rand_name(dest, sizeof(dest));
		else
			rand_cidr(dest, sizeof(dest));
		o += (size_t)snprintf(buf + o, len - o, "%s\"%s:%s%s\"", i ? ", " : "", dest,
				      r_ports[rndn(9)], r_protos[rndn(3)]);
	}
}

/* Parses, or NULL for a duplicate rule (random lists repeat themselves). */
static struct ef_policy *try_pol(const char *allow, const char *deny)
{
	char text[8192], err[EF_ERR_LEN];
	struct ef_policy *p;

	snprintf(text, sizeof(text), "{\"name\": \"r\", \"allow\": [%s], \"deny\": [%s]}", allow,
		 deny);
	if (ef_policy_parse(text, strlen(text), "r.json", &p, err, sizeof(err))) {
		if (!strstr(err, "duplicate rule"))
			fail_msg("%s: %s", text, err);
		return NULL;
	}
	return p;
}

static const __u16 probe_ports[] = { 0,   1,   22,  53,  80,   81,   439,
				     440, 443, 450, 451, 1024, 1025, 8080 };

static int allows_addr(const struct ef_policy *p, __u8 fam, const __u8 a[16], __u16 port,
		       __u8 proto)
{
	__u8 reason;
	__u32 rule;

	return ef_policy_match_naive(p, fam, a, port, proto, &reason, &rule);
}

static int allows_name(const struct ef_policy *p, const char *name, __u16 port, __u8 proto)
{
	struct ef_ports v;
	__u8 reason;
	__u32 rule;
	int r = ef_name_lookup_naive(p, name, &v);

	if (r < 0)
		return -1;
	return r ? ef_judge_ports(&v, port, proto, &reason, &rule) : 0;
}

static int resolves(const struct ef_policy *p, const char *name)
{
	struct ef_ports v;
	__u8 reason;
	__u32 rule;
	int r = ef_name_lookup_naive(p, name, &v);

	if (r < 0)
		return -1;
	return ef_name_judge(r ? &v : NULL, &reason, &rule);
}

struct soundness {
	unsigned long pairs, proven, probes;
};

static void names_within(const struct ef_policy *a, const struct ef_policy *b, __u16 port,
			 __u8 proto, struct soundness *s)
{
	static const char *const qnames[] = { "a.x.com", "b.x.com", "x.com", "c.a.x.com",
					      "d.c.a.x.com", "q.b.x.com", "y.com", "a.y.com",
					      "b.a.y.com", "z.org", "w.z.org", "com" };
	size_t i;

	for (i = 0; i < sizeof(qnames) / sizeof(qnames[0]); i++) {
		const char *q = qnames[i];

		s->probes++;
		if (allows_name(a, q, port, proto) == 1 && allows_name(b, q, port, proto) == 0)
			fail_msg("%s port %u proto %u: allowed by a, not b\n%s\n%s", q, port, proto,
				 a->source, b->source);
		/* the DNS proxy's decision: any allow range left */
		if (resolves(a, q) == 1 && resolves(b, q) == 0)
			fail_msg("%s: resolved by a, not b\n%s\n%s", q, a->source, b->source);
	}
}

/* Every rule's first or last address, and the metadata one. */
static void addrs_within(const struct ef_policy *a, const struct ef_policy *b, __u16 port,
			 __u8 proto, struct soundness *s)
{
	static const __u8 meta[16] = { 169, 254, 169, 254 };
	size_t i, n = a->n_rules + b->n_rules;

	for (i = 0; i <= n; i++) {
		const struct ef_rule *r = i < a->n_rules ? &a->rules[i] : &b->rules[i - a->n_rules];
		__u8 fam = EF_FAM_V4, addr[16];
		unsigned int bit, full;

		if (i == n) {
			memcpy(addr, meta, 16);
		} else {
			fam = r->family;
			memcpy(addr, r->addr, 16);
			full = fam == EF_FAM_V4 ? 32 : 128;
			if (rnd() & 1)
				for (bit = r->prefixlen; bit < full; bit++)
					addr[bit / 8] |= (__u8)(0x80 >> (bit % 8));
		}
		s->probes++;
		if (allows_addr(a, fam, addr, port, proto) &&
		    !allows_addr(b, fam, addr, port, proto))
			fail_msg("rule %zu port %u proto %u: allowed by a, not b\n%s\n%s", i, port,
				 proto, a->source, b->source);
	}
}

/* a proven within b: nothing a allows may b deny */
static void check_within(const struct ef_policy *a, const struct ef_policy *b, bool names,
			 struct soundness *s)
{
	char why[EF_ERR_LEN];
	size_t k;
	__u8 pr;

	s->pairs++;
	if (ef_policy_no_weaker(a, b, why, sizeof(why)) != 1)
		return;
	s->proven++;
	for (k = 0; k < sizeof(probe_ports) / sizeof(probe_ports[0]); k++) {
		for (pr = EF_PROTO_TCP; pr <= EF_PROTO_UDP; pr++) {
			if (names)
				names_within(a, b, probe_ports[k], pr, s);
			else
				addrs_within(a, b, probe_ports[k], pr, s);
		}
	}
}

static void soundness_rounds(bool names, int rounds, struct soundness *s)
{
	char ab[2048], ad[2048], bb[2048], bd[2048];
	int i;

	for (i = 0; i < rounds; i++) {
		struct ef_policy *a, *b;

		rand_rules(bb, sizeof(bb), 1 + (int)rndn(6), names);
		rand_rules(bd, sizeof(bd), (int)rndn(3), names);
		/* a: often a part of b's allow rules and all its denies */
		if (rndn(2)) {
			rand_rules(ab, sizeof(ab), 1 + (int)rndn(3), names);
			rand_rules(ad, sizeof(ad), (int)rndn(3), names);
		} else {
			const char *cut = strstr(bb, "\", \"");

			/* b's first allow rule (rules hold no quotes) */
			int n_ab = (int)(cut ? cut - bb + 1 : (long)strlen(bb));

			snprintf(ab, sizeof(ab), "%.*s", n_ab, bb);
			snprintf(ad, sizeof(ad), "%s", bd);
		}
		a = try_pol(ab, ad);
		b = try_pol(bb, bd);
		if (a && b) {
			check_within(a, b, names, s);
			check_within(b, a, names, s);
			check_within(a, a, names, s);
		}
		ef_policy_free(a);
		ef_policy_free(b);
	}
}

static void test_weaker_sound(void **state)
{
	struct soundness sa = { 0 }, sn = { 0 };

	soundness_rounds(false, 3000, &sa);
	soundness_rounds(true, 3000, &sn);
	print_message("addresses: %lu pairs, %lu proven, %lu probes; names: %lu pairs, %lu "
		      "proven, %lu probes\n",
		      sa.pairs, sa.proven, sa.probes, sn.pairs, sn.proven, sn.probes);
	/* both answers must come up often, or this proves little */
	assert_true(sa.proven > sa.pairs / 3 + 200 && sa.proven < sa.pairs - 500);
	assert_true(sn.proven > sn.pairs / 3 + 200 && sn.proven < sn.pairs - 500);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_weaker_cases),
		cmocka_unit_test(test_weaker_identical),
		cmocka_unit_test(test_weaker_speed),
		cmocka_unit_test(test_weaker_sound),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
