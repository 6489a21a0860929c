// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * policy/: the compiler (its entries, the metadata rules, overflow), held
 * against the naive matcher on randomized rule sets, and timed.
 */
#include "policy_fixture.h"
#define TEST_RNG_SEED 0x9e3779b97f4a7c15ull
#include "rng.h"

/* ---- compiler ---- */

static struct ef_compiled *compile_ok(const struct ef_policy *p, __u32 id)
{
	char err[EF_ERR_LEN];
	struct ef_compiled *c;

	if (ef_policy_compile(p, id, &c, err, sizeof(err)))
		fail_msg("%s", err);
	return c;
}

static const struct ef_exact_entry *find_exact(const struct ef_compiled *c, __u8 fam,
					       const char *a)
{
	__u8 f, addr[16];
	size_t i;

	assert_int_equal(ef_addr_parse(a, &f, addr), 0);
	for (i = 0; i < c->n_exact; i++)
		if (c->exact[i].key.family == fam && !memcmp(c->exact[i].key.addr, addr, 16))
			return &c->exact[i];
	return NULL;
}

static const struct ef_lpm_entry *find_lpm(const struct ef_compiled *c, __u8 fam, const char *a,
					   unsigned int len)
{
	__u8 f, addr[16];
	size_t i;

	assert_int_equal(ef_addr_parse(a, &f, addr), 0);
	for (i = 0; i < c->n_lpm; i++)
		if (c->lpm[i].key.family == fam &&
		    c->lpm[i].key.prefixlen == EF_LPM_FIXED_BITS + len &&
		    !memcmp(c->lpm[i].key.addr, addr, 16))
			return &c->lpm[i];
	return NULL;
}

static void check_range(const struct ef_port_range *r, __u32 rule, __u16 lo, __u16 hi,
			__u8 protos, __u8 deny)
{
	if (r->rule_id != rule || r->lo != lo || r->hi != hi || r->protos != protos ||
	    r->deny != deny)
		fail_msg("range {rule %u %u-%u protos %u deny %u}, want {rule %u %u-%u protos %u deny %u}",
			 r->rule_id, r->lo, r->hi, r->protos, r->deny, rule, lo, hi, protos, deny);
}

static void test_compile_entries(void **state)
{
	struct ef_policy *p = parse_ok(
		"{\"name\": \"c\", \"mode\": \"audit\", \"loopback\": false,"
		" \"allow\": [\"10.0.0.0/8:443\", \"10.1.2.3:80,81,82\", \"api.x.com:443\","
		"  \"[2001:db8::]/32:*/any\", \"10.1.0.0/16:443\"],"
		" \"deny\": [\"10.1.0.0/16:22\", \"0.0.0.0/0:25\"]}");
	struct ef_compiled *c = compile_ok(p, 42);
	const struct ef_lpm_entry *l;
	const struct ef_exact_entry *e;

	assert_int_equal(c->policy_id, 42);
	assert_int_equal(c->pval.mode, EF_MODE_AUDIT);
	assert_int_equal(c->pval.flags, 0);
	assert_int_equal(c->pval.families, p->families);
	/* /0, /8, /16, the v6 /32 and loopback's 127.0.0.0/8; 10.1.2.3, the four
	 * metadata addresses (IPv4, IPv6, and the IPv4 one through the two NAT64
	 * prefixes) and ::1 */
	assert_int_equal(c->n_lpm, 5);
	assert_int_equal(c->n_exact, 6);

	/* loopback: like metadata, only the deny of 0.0.0.0/0 is inherited */
	l = find_lpm(c, EF_FAM_V4, "127.0.0.0", 8);
	assert_non_null(l);
	assert_int_equal(l->val.flags, 0);
	assert_int_equal(l->val.n, 1);
	check_range(&l->val.r[0], 6, 25, 25, EF_PROTO_TCP, 1);
	e = find_exact(c, EF_FAM_V6, "::1");
	assert_non_null(e);
	assert_int_equal(e->val.n, 0);

	l = find_lpm(c, EF_FAM_V4, "0.0.0.0", 0);
	assert_non_null(l);
	assert_int_equal(l->key.policy_id, 42);
	assert_int_equal(l->val.n, 1);
	check_range(&l->val.r[0], 6, 25, 25, EF_PROTO_TCP, 1);

	l = find_lpm(c, EF_FAM_V4, "10.0.0.0", 8);
	assert_non_null(l);
	assert_int_equal(l->val.n, 2);
	check_range(&l->val.r[0], 0, 443, 443, EF_PROTO_TCP, 0);
	check_range(&l->val.r[1], 6, 25, 25, EF_PROTO_TCP, 1);

	/* rule 4 (10.1.0.0/16:443) repeats rule 0 for the /16: dropped there */
	l = find_lpm(c, EF_FAM_V4, "10.1.0.0", 16);
	assert_non_null(l);
	assert_int_equal(l->val.n, 3);
	check_range(&l->val.r[0], 0, 443, 443, EF_PROTO_TCP, 0);
	check_range(&l->val.r[1], 5, 22, 22, EF_PROTO_TCP, 1);
	check_range(&l->val.r[2], 6, 25, 25, EF_PROTO_TCP, 1);

	l = find_lpm(c, EF_FAM_V6, "2001:db8::", 32);
	assert_non_null(l);
	assert_int_equal(l->val.n, 1);
	check_range(&l->val.r[0], 3, 0, 65535, EF_PROTO_ANY, 0);

	/* own ports merged (80,81,82 -> 80-82), inherited from /16, /8 and /0 */
	e = find_exact(c, EF_FAM_V4, "10.1.2.3");
	assert_non_null(e);
	assert_int_equal(e->key.policy_id, 42);
	assert_int_equal(e->val.flags, 0);
	assert_int_equal(e->val.n, 4);
	check_range(&e->val.r[0], 0, 443, 443, EF_PROTO_TCP, 0);
	check_range(&e->val.r[1], 1, 80, 82, EF_PROTO_TCP, 0);
	check_range(&e->val.r[2], 5, 22, 22, EF_PROTO_TCP, 1);
	check_range(&e->val.r[3], 6, 25, 25, EF_PROTO_TCP, 1);

	/* metadata: only the deny of 0.0.0.0/0 is inherited */
	e = find_exact(c, EF_FAM_V4, "169.254.169.254");
	assert_non_null(e);
	assert_int_equal(e->val.flags, EF_EF_METADATA);
	assert_int_equal(e->val.n, 1);
	check_range(&e->val.r[0], 6, 25, 25, EF_PROTO_TCP, 1);
	e = find_exact(c, EF_FAM_V6, "fd00:ec2::254");
	assert_non_null(e);
	assert_int_equal(e->val.flags, EF_EF_METADATA);
	assert_int_equal(e->val.n, 0);
	e = find_exact(c, EF_FAM_V6, "64:ff9b::169.254.169.254");
	assert_non_null(e);
	assert_int_equal(e->val.flags, EF_EF_METADATA);
	e = find_exact(c, EF_FAM_V6, "64:ff9b:1::a9fe:a9fe");
	assert_non_null(e);
	assert_int_equal(e->val.flags, EF_EF_METADATA);

	ef_compiled_free(c);
	ef_policy_free(p);
}

struct probe_case {
	const char *addr;
	__u16 port;
	__u8 proto;
	int allow;
	__u8 reason;
	__u32 rule;
};

static void run_probes(const char *policy, const struct probe_case *pc, size_t n)
{
	struct ef_policy *p = parse_ok(policy);
	struct ef_compiled *c = compile_ok(p, 1);
	size_t i;

	for (i = 0; i < n; i++) {
		__u8 fam, addr[16], r1, r2;
		__u32 id1, id2;
		int v1, v2;

		/* ef_addr_parse maps ::ffff:x to v4; feed the matchers the raw v6 */
		if (strchr(pc[i].addr, ':')) {
			fam = EF_FAM_V6;
			assert_int_equal(inet_pton(AF_INET6, pc[i].addr, addr), 1);
		} else {
			assert_int_equal(ef_addr_parse(pc[i].addr, &fam, addr), 0);
		}
		v1 = ef_compiled_match(c, fam, addr, pc[i].port, pc[i].proto, &r1, &id1);
		v2 = ef_policy_match_naive(p, fam, addr, pc[i].port, pc[i].proto, &r2, &id2);
		if (v1 != pc[i].allow || r1 != pc[i].reason || id1 != pc[i].rule || v2 != v1 ||
		    r2 != r1 || id2 != id1)
			fail_msg("%s:%u/%u: compiled %d/%u/%d naive %d/%u/%d want %d/%u/%d",
				 pc[i].addr, pc[i].port, pc[i].proto, v1, r1, (int)id1, v2, r2,
				 (int)id2, pc[i].allow, pc[i].reason, (int)pc[i].rule);
	}
	ef_compiled_free(c);
	ef_policy_free(p);
}

static void test_metadata(void **state)
{
	static const struct probe_case wide[] = {
		{ "169.254.169.254", 80, EF_PROTO_TCP, 0, EF_R_METADATA, EF_RULE_NONE },
		{ "::ffff:169.254.169.254", 80, EF_PROTO_TCP, 0, EF_R_METADATA, EF_RULE_NONE },
		{ "169.254.169.253", 80, EF_PROTO_TCP, 1, EF_R_RULE, 0 },
		{ "fd00:ec2::254", 443, EF_PROTO_UDP, 0, EF_R_METADATA, EF_RULE_NONE },
		{ "fd00:ec2::253", 443, EF_PROTO_UDP, 1, EF_R_RULE, 1 },
		/* the IPv4 metadata address through NAT64 */
		{ "64:ff9b::a9fe:a9fe", 80, EF_PROTO_TCP, 0, EF_R_METADATA, EF_RULE_NONE },
		{ "64:ff9b:1::a9fe:a9fe", 443, EF_PROTO_UDP, 0, EF_R_METADATA, EF_RULE_NONE },
		{ "64:ff9b::a9fe:a9fd", 80, EF_PROTO_TCP, 1, EF_R_RULE, 1 },
		{ "10.9.9.9", 22, EF_PROTO_TCP, 0, EF_R_DENY_RULE, 2 },
		{ "2001:db8::1", 22, EF_PROTO_TCP, 1, EF_R_RULE, 1 },
	};
	/* wide allows do not open a metadata address, a rule naming it does */
	static const struct probe_case named_v6deny[] = {
		{ "169.254.169.254", 80, EF_PROTO_TCP, 1, EF_R_RULE, 1 },
		{ "169.254.169.254", 81, EF_PROTO_TCP, 0, EF_R_METADATA, EF_RULE_NONE },
		{ "169.254.169.254", 80, EF_PROTO_UDP, 0, EF_R_METADATA, EF_RULE_NONE },
		{ "169.254.169.254", 22, EF_PROTO_TCP, 0, EF_R_METADATA, EF_RULE_NONE },
		{ "fd00:ec2::254", 80, EF_PROTO_TCP, 1, EF_R_RULE, 2 },
		{ "fd00:ec2::254", 81, EF_PROTO_TCP, 0, EF_R_METADATA, EF_RULE_NONE },
		{ "fd00:ec2::254", 22, EF_PROTO_TCP, 0, EF_R_DENY_RULE, 3 },
		{ "10.0.0.1", 22, EF_PROTO_TCP, 1, EF_R_RULE, 0 },
	};
	static const struct probe_case named_v4deny[] = {
		{ "169.254.169.254", 80, EF_PROTO_TCP, 1, EF_R_RULE, 1 },
		{ "169.254.169.254", 22, EF_PROTO_TCP, 0, EF_R_DENY_RULE, 3 },
		{ "::ffff:169.254.169.254", 22, EF_PROTO_UDP, 0, EF_R_DENY_RULE, 3 },
		{ "fd00:ec2::254", 22, EF_PROTO_TCP, 0, EF_R_METADATA, EF_RULE_NONE },
		{ "10.0.0.1", 22, EF_PROTO_TCP, 0, EF_R_DENY_RULE, 3 },
		{ "10.0.0.1", 23, EF_PROTO_TCP, 1, EF_R_RULE, 0 },
	};
	static const struct probe_case denied[] = {
		{ "169.254.169.254", 80, EF_PROTO_TCP, 0, EF_R_DENY_RULE, 1 },
		{ "169.254.1.1", 80, EF_PROTO_TCP, 0, EF_R_DENY_RULE, 1 },
		{ "169.255.1.1", 80, EF_PROTO_TCP, 0, EF_R_NO_RULE, EF_RULE_NONE },
	};

	run_probes("{\"name\": \"m\", \"allow\": [\"0.0.0.0/0:*/any\", \"[::]/0:*/any\"],"
		   " \"deny\": [\"0.0.0.0/0:22\"]}",
		   wide, sizeof(wide) / sizeof(wide[0]));
	run_probes("{\"name\": \"m\", \"allow\": [\"0.0.0.0/0:*/any\", \"169.254.169.254:80\","
		   " \"[fd00:ec2::254]:80\"], \"deny\": [\"[::]/0:22/any\"]}",
		   named_v6deny, sizeof(named_v6deny) / sizeof(named_v6deny[0]));
	run_probes("{\"name\": \"m\", \"allow\": [\"0.0.0.0/0:*/any\", \"169.254.169.254:80\","
		   " \"[fd00:ec2::254]:80\"], \"deny\": [\"0.0.0.0/0:22/any\"]}",
		   named_v4deny, sizeof(named_v4deny) / sizeof(named_v4deny[0]));
	run_probes("{\"name\": \"m\", \"allow\": [\"169.254.169.254:80\"],"
		   " \"deny\": [\"169.254.0.0/16:*\"]}",
		   denied, sizeof(denied) / sizeof(denied[0]));
}

static void test_compile_overflow(void **state)
{
	char text[4096], err[EF_ERR_LEN];
	struct ef_policy *p;
	struct ef_compiled *c;
	const struct ef_lpm_entry *l;
	size_t o;
	int i;

	/* 16 ranges on the /8 fit; the /16 inherits them and adds one */
	o = (size_t)snprintf(text, sizeof(text), "{\"name\": \"o\", \"allow\": [\n");
	for (i = 0; i < EF_MAX_RANGES; i++)
		o += (size_t)snprintf(text + o, sizeof(text) - o, "  \"10.0.0.0/8:%d\",\n",
				      1000 + 2 * i);
	snprintf(text + o, sizeof(text) - o, "  \"10.1.0.0/16:99\"\n]}");
	p = parse_ok(text);
	assert_int_equal(ef_policy_compile(p, 1, &c, err, sizeof(err)), -E2BIG);
	assert_null(c);
	assert_string_equal(err, "c.json:18:3: too many port ranges for 10.1.0.0/16 "
				 "(more than 16, counting those of covering prefixes)");
	ef_policy_free(p);

	/* ranges that can never decide take no room: 25 nested rules, one port */
	o = (size_t)snprintf(text, sizeof(text), "{\"name\": \"o\", \"allow\": [");
	for (i = 8; i <= 32; i++)
		o += (size_t)snprintf(text + o, sizeof(text) - o, "\"10.0.0.0/%d:443\",", i);
	snprintf(text + o, sizeof(text) - o,
		 "\"0.0.0.0/0:440-450\"], \"deny\": [\"0.0.0.0/0:*\", \"10.0.0.0/8:443\"]}");
	p = parse_ok(text);
	c = compile_ok(p, 1);
	l = find_lpm(c, EF_FAM_V4, "10.0.0.0", 31);
	assert_non_null(l);
	/* every allow lies inside the deny of 0.0.0.0/0:*, the /8 deny inside it too */
	assert_int_equal(l->val.n, 1);
	check_range(&l->val.r[0], 26, 0, 65535, EF_PROTO_TCP, 1);
	ef_compiled_free(c);
	ef_policy_free(p);
}

/* ---- randomized: compiled lookup against the naive matcher ---- */

#define N_ANCHORS 24

struct world {
	__u8 a4[N_ANCHORS][16];
	__u8 a6[N_ANCHORS][16];
};

static void rand_bits(__u8 *a, unsigned int from, unsigned int to)
{
	unsigned int b;

	for (b = from; b < to; b++)
		if (rnd() & 1)
			a[b / 8] ^= (__u8)(0x80 >> (b % 8));
}

static void make_world(struct world *w)
{
	static const __u8 meta4[16] = { 169, 254, 169, 254 };
	static const __u8 meta6[16] = { 0xfd, 0, 0x0e, 0xc2, [14] = 2, [15] = 0x54 };
	int i;

	for (i = 0; i < N_ANCHORS; i++) {
		memset(w->a4[i], 0, 16);
		memset(w->a6[i], 0, 16);
		w->a4[i][0] = 10;
		w->a4[i][1] = (__u8)rndn(4);
		rand_bits(w->a4[i], 16, 32);
		w->a6[i][0] = 0x20;
		w->a6[i][1] = 0x01;
		w->a6[i][2] = 0x0d;
		w->a6[i][3] = 0xb8;
		w->a6[i][5] = (__u8)rndn(4);
		rand_bits(w->a6[i], 64, 128);
	}
	memcpy(w->a4[0], meta4, 16);
	memcpy(w->a6[0], meta6, 16);
}

static void fmt_dest(char *buf, size_t len, __u8 fam, const __u8 *a, unsigned int plen, bool mapped)
{
	char s[INET6_ADDRSTRLEN];

	if (fam == EF_FAM_V4 && mapped) {
		snprintf(buf, len, "[::ffff:%u.%u.%u.%u]/%u", a[0], a[1], a[2], a[3], plen + 96);
	} else if (fam == EF_FAM_V4) {
		inet_ntop(AF_INET, a, s, sizeof(s));
		snprintf(buf, len, "%s/%u", s, plen);
	} else {
		inet_ntop(AF_INET6, a, s, sizeof(s));
		/* both spellings of an IPv6 CIDR */
		if (rnd() & 1)
			snprintf(buf, len, "[%s]/%u", s, plen);
		else
			snprintf(buf, len, "[%s/%u]", s, plen);
	}
}

static void rand_ports(char *buf, size_t len)
{
	static const char *const items[] = {
		"22", "53", "80", "443", "8080", "8000-8100", "440-450", "1-1024", "65535",
	};
	unsigned int n = 1 + rndn(2), i;
	size_t o = 0;

	if (rndn(12) == 0) {
		snprintf(buf, len, "*");
		return;
	}
	for (i = 0; i < n; i++)
		o += (size_t)snprintf(buf + o, len - o, "%s%s", i ? "," : "",
				      items[rndn(sizeof(items) / sizeof(items[0]))]);
}

static struct ef_policy *rand_policy(const struct world *w, int n_rules)
{
	static const unsigned int len4[] = { 0, 8, 12, 16, 20, 24, 26, 28, 30, 31, 32, 32, 32 };
	static const unsigned int len6[] = { 0, 16, 32, 48, 64, 96, 112, 120, 126, 127, 128, 128 };
	static const char *const protos[] = { "", "/tcp", "/udp", "/any" };
	struct ef_policy *p = calloc(1, sizeof(*p));
	char text[256], dest[96], ports[64], err[EF_ERR_LEN];
	int i;

	assert_non_null(p);
	p->rules = calloc((size_t)n_rules, sizeof(*p->rules));
	assert_non_null(p->rules);
	p->loopback = true;
	for (i = 0; i < n_rules; i++) {
		bool v4 = rndn(10) < 6, deny = rndn(10) < 3;
		unsigned int plen;
		__u8 a[16];

		if (v4) {
			plen = len4[rndn(sizeof(len4) / sizeof(len4[0]))];
			if (plen == 0 && rndn(3))
				plen = 24; /* /0 everywhere would make everything overflow */
			memcpy(a, w->a4[rndn(N_ANCHORS)], 16);
			if (rndn(4) == 0)
				rand_bits(a, plen < 24 ? 24 : plen, 32);
		} else {
			plen = len6[rndn(sizeof(len6) / sizeof(len6[0]))];
			if (plen == 0 && rndn(3))
				plen = 120;
			memcpy(a, w->a6[rndn(N_ANCHORS)], 16);
			if (rndn(4) == 0)
				rand_bits(a, plen < 112 ? 112 : plen, 128);
		}
		/* the metadata anchors must also be hit by wide rules, not only named */
		{
			__u8 m[16];

			memcpy(m, a, 16);
			for (unsigned int b = plen; b < (v4 ? 32u : 128u); b++)
				m[b / 8] &= (__u8)~(0x80 >> (b % 8));
			memcpy(a, m, 16);
		}
		fmt_dest(dest, sizeof(dest), v4 ? EF_FAM_V4 : EF_FAM_V6, a, plen,
			 v4 && rndn(10) == 0);
		rand_ports(ports, sizeof(ports));
		snprintf(text, sizeof(text), "%s:%s%s", dest, ports, protos[rndn(4)]);
		if (ef_rule_parse(text, deny, &p->rules[i], err, sizeof(err)))
			fail_msg("generated rule \"%s\": %s", text, err);
		p->rules[i].line = i + 1;
		p->rules[i].col = 1;
	}
	p->n_rules = (size_t)n_rules;
	return p;
}

struct tally {
	unsigned long probes, by_reason[EF_R__MAX], mapped, overflowed, rounds;
};

static void rand_probe(const struct world *w, const struct ef_policy *p, __u8 *fam, __u8 *a,
		       __u16 *port, __u8 *proto)
{
	static const __u16 ports[] = { 1, 22, 53, 80, 443, 439, 440, 450, 451, 1024, 1025,
				       7999, 8000, 8080, 8100, 8101, 65535 };
	unsigned int k = rndn(100);
	const struct ef_rule *r = &p->rules[rndn((unsigned int)p->n_rules)];

	memset(a, 0, 16);
	if (k < 60) {
		*fam = r->family;
		memcpy(a, r->addr, 16);
		if (rnd() & 1)
			rand_bits(a, r->prefixlen, r->family == EF_FAM_V4 ? 32 : 128);
	} else if (k < 72) {
		*fam = (rnd() & 1) ? EF_FAM_V4 : EF_FAM_V6;
		memcpy(a, *fam == EF_FAM_V4 ? w->a4[0] : w->a6[0], 16);
	} else if (k < 85) {
		*fam = (rnd() & 1) ? EF_FAM_V4 : EF_FAM_V6;
		memcpy(a, *fam == EF_FAM_V4 ? w->a4[rndn(N_ANCHORS)] : w->a6[rndn(N_ANCHORS)], 16);
		if (rnd() & 1)
			rand_bits(a, *fam == EF_FAM_V4 ? 24 : 112, *fam == EF_FAM_V4 ? 32 : 128);
	} else {
		*fam = (rnd() & 1) ? EF_FAM_V4 : EF_FAM_V6;
		rand_bits(a, 0, *fam == EF_FAM_V4 ? 32 : 128);
	}
	/* an IPv4-mapped IPv6 destination is judged as the IPv4 address */
	if (*fam == EF_FAM_V4 && rndn(10) == 0) {
		memmove(a + 12, a, 4);
		memset(a, 0, 12);
		a[10] = a[11] = 0xff;
		*fam = EF_FAM_V6;
	}
	if (r->n_ports && (rnd() & 1)) {
		const struct ef_port_spec *ps = &r->ports[rndn((unsigned int)r->n_ports)];

		switch (rndn(4)) {
		case 0:
			*port = ps->lo;
			break;
		case 1:
			*port = ps->hi;
			break;
		case 2:
			*port = (__u16)(ps->lo - 1);
			break;
		default:
			*port = (__u16)(ps->hi + 1);
		}
	} else {
		*port = ports[rndn(sizeof(ports) / sizeof(ports[0]))];
	}
	/* 0: a protocol no rule covers (the BPF side passes 0 for SCTP & co) */
	*proto = (__u8[]){ EF_PROTO_TCP, EF_PROTO_UDP, EF_PROTO_TCP, EF_PROTO_UDP, 0 }[rndn(5)];
}

static void differential_round(const struct world *w, int n_rules, int n_probes, struct tally *t)
{
	char err[EF_ERR_LEN];
	struct ef_policy *p = rand_policy(w, n_rules);
	struct ef_compiled *c;
	int i, ret;

	ret = ef_policy_compile(p, 3 + (__u32)t->rounds, &c, err, sizeof(err));
	if (ret == -E2BIG) {
		t->overflowed++;
		ef_policy_free(p);
		return;
	}
	if (ret)
		fail_msg("compile: %s", err);
	t->rounds++;
	for (i = 0; i < n_probes; i++) {
		__u8 fam, a[16], r1, r2, proto;
		__u32 id1, id2;
		__u16 port;
		int v1, v2;

		rand_probe(w, p, &fam, a, &port, &proto);
		v1 = ef_compiled_match(c, fam, a, port, proto, &r1, &id1);
		v2 = ef_policy_match_naive(p, fam, a, port, proto, &r2, &id2);
		if (v1 != v2 || r1 != r2 || id1 != id2) {
			char s[INET6_ADDRSTRLEN];

			inet_ntop(fam == EF_FAM_V4 ? AF_INET : AF_INET6, a, s, sizeof(s));
			fail_msg("%s port %u proto %u: compiled %d reason %u rule %d (%s), naive %d reason %u rule %d (%s)",
				 s, port, proto, v1, r1, (int)id1,
				 id1 < p->n_rules ? p->rules[id1].text : "-", v2, r2, (int)id2,
				 id2 < p->n_rules ? p->rules[id2].text : "-");
		}
		t->probes++;
		t->by_reason[r1]++;
		t->mapped += fam == EF_FAM_V6 && a[10] == 0xff && a[11] == 0xff && !a[0];
	}
	ef_compiled_free(c);
	ef_policy_free(p);
}

static void test_compiled_vs_naive(void **state)
{
	struct tally t = { 0 };
	struct world w;
	int k;

	for (k = 0; t.rounds < 10 && k < 100; k++) {
		make_world(&w);
		differential_round(&w, 200, 2000, &t);
	}
	print_message("%lu rounds of 200 rules, %lu probes (%lu ipv4-mapped), %lu rule sets "
		      "overflowed; allow %lu, deny rule %lu, no rule %lu, metadata %lu\n",
		      t.rounds, t.probes, t.mapped, t.overflowed, t.by_reason[EF_R_RULE],
		      t.by_reason[EF_R_DENY_RULE], t.by_reason[EF_R_NO_RULE],
		      t.by_reason[EF_R_METADATA]);
	assert_true(t.rounds == 10);
	assert_true(t.probes >= 20000);
	/* the probes must exercise every outcome, or the comparison proves little */
	assert_true(t.by_reason[EF_R_RULE] > 1000);
	assert_true(t.by_reason[EF_R_DENY_RULE] > 1000);
	assert_true(t.by_reason[EF_R_NO_RULE] > 1000);
	assert_true(t.by_reason[EF_R_METADATA] > 100);
	assert_true(t.mapped > 100);
}

static void test_compiled_vs_naive_small(void **state)
{
	struct tally t = { 0 };
	struct world w;
	int k;

	/* small sets: fewer overlaps, so exact and LPM entries stand alone */
	for (k = 0; k < 200; k++) {
		make_world(&w);
		differential_round(&w, 1 + rndn(12), 200, &t);
	}
	assert_true(t.rounds > 150);
}

/* ---- speed ---- */

static __u32 mix32(__u32 x)
{
	x ^= x >> 16;
	x *= 0x7feb352du;
	x ^= x >> 15;
	x *= 0x846ca68bu;
	return x ^ (x >> 16);
}

static void big_rule(struct ef_rule *r, __u32 i, bool exact)
{
	static const __u16 ports[] = { 80, 443, 8080 };
	__u32 h = mix32(i * 2 + exact), h2 = mix32(h);

	memset(r, 0, sizeof(*r));
	r->kind = EF_DEST_CIDR;
	r->deny = h2 % 10 == 0;
	r->protos = EF_PROTO_TCP;
	r->n_ports = 1;
	r->ports[0].lo = r->ports[0].hi = ports[h2 % 3];
	r->line = (int)i + 1;
	if (h % 5) {
		r->family = EF_FAM_V4;
		r->prefixlen = exact ? 32 : (__u8)(16 + h2 % 16);
		memcpy(r->addr, &h2, 4);
	} else {
		r->family = EF_FAM_V6;
		r->prefixlen = exact ? 128 : (__u8)(32 + h2 % 96);
		r->addr[0] = 0x20;
		r->addr[1] = 0x01;
		memcpy(r->addr + 2, &h, 4);
		memcpy(r->addr + 6, &h2, 4);
		memcpy(r->addr + 12, &i, 4);
	}
	/* the network address, as the parser would insist on */
	for (unsigned int b = r->prefixlen; b < (r->family == EF_FAM_V4 ? 32u : 128u); b++)
		r->addr[b / 8] &= (__u8)~(0x80 >> (b % 8));
}

static void test_compile_speed(void **state)
{
	const size_t n = 100000;
	struct ef_policy *p = calloc(1, sizeof(*p));
	struct timespec t0, t1;
	struct ef_compiled *c;
	char err[EF_ERR_LEN];
	double secs;
	size_t i;

	assert_non_null(p);
	p->rules = calloc(2 * n, sizeof(*p->rules));
	assert_non_null(p->rules);
	for (i = 0; i < n; i++) {
		big_rule(&p->rules[i], (__u32)i, false);
		big_rule(&p->rules[n + i], (__u32)i, true);
	}
	p->n_rules = 2 * n;
	p->loopback = true;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (ef_policy_compile(p, 9, &c, err, sizeof(err)))
		fail_msg("%s", err);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	print_message("compiled 100000 CIDR + 100000 exact rules in %.3f s: %zu exact, %zu lpm\n",
		      secs, c->n_exact, c->n_lpm);
	assert_true(secs < 5.0);
	assert_true(c->n_exact > n / 2 && c->n_lpm > n / 2);

	/* spot checks against the naive matcher (which is O(rules) a probe) */
	for (i = 0; i < 100; i++) {
		const struct ef_rule *r = &p->rules[rndn((unsigned int)p->n_rules)];
		__u8 a[16], r1, r2;
		__u32 id1, id2;
		int v1, v2;

		memcpy(a, r->addr, 16);
		rand_bits(a, r->prefixlen, r->family == EF_FAM_V4 ? 32 : 128);
		v1 = ef_compiled_match(c, r->family, a, r->ports[0].lo, EF_PROTO_TCP, &r1, &id1);
		v2 = ef_policy_match_naive(p, r->family, a, r->ports[0].lo, EF_PROTO_TCP, &r2,
					   &id2);
		assert_int_equal(v1, v2);
		assert_int_equal(r1, r2);
		assert_int_equal(id1, id2);
	}
	ef_compiled_free(c);
	ef_policy_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_compile_entries),
		cmocka_unit_test(test_metadata),
		cmocka_unit_test(test_compile_overflow),
		cmocka_unit_test(test_compiled_vs_naive),
		cmocka_unit_test(test_compiled_vs_naive_small),
		cmocka_unit_test(test_compile_speed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
