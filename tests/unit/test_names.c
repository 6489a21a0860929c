// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * policy/names.c: the host-name table the DNS proxy asks (precedence,
 * inheritance from covering wildcards, normalization of query names), held
 * against the naive scan on randomized rule sets and timed at 100,000 names.
 */
#include "names_fixture.h"
#include "rng.h"

/* ---- helpers ---- */

static void check_range(const struct ef_port_range *r, __u32 rule, __u16 lo, __u16 hi,
			__u8 protos, __u8 deny)
{
	if (r->rule_id != rule || r->lo != lo || r->hi != hi || r->protos != protos ||
	    r->deny != deny)
		fail_msg("range {rule %u %u-%u protos %u deny %u}, want {rule %u %u-%u protos %u deny %u}",
			 r->rule_id, r->lo, r->hi, r->protos, r->deny, rule, lo, hi, protos, deny);
}

/* Looks `q` up, insists on `pattern` (NULL: no entry) and returns the entry. */
static const struct ef_ports *lookup(const struct ef_compiled *c, const char *q,
				     const char *pattern)
{
	const char *got = "junk";
	const struct ef_ports *v = ef_name_lookup(c, q, &got);

	if (!pattern) {
		if (v || got)
			fail_msg("%s: matched %s, want no entry", q, got ? got : "(null)");
		return NULL;
	}
	if (!v || !got || strcmp(got, pattern))
		fail_msg("%s: matched %s, want %s", q, got ? got : "(null)", pattern);
	/* the pattern is optional */
	assert_ptr_equal(ef_name_lookup(c, q, NULL), v);
	return v;
}

static void same_ports(const char *q, const struct ef_ports *a, const struct ef_ports *b)
{
	int i;

	if (a->n != b->n || a->flags != b->flags)
		fail_msg("%s: %u ranges (flags %u) vs %u (flags %u)", q, a->n, a->flags, b->n,
			 b->flags);
	for (i = 0; i < a->n; i++)
		if (a->r[i].rule_id != b->r[i].rule_id || a->r[i].lo != b->r[i].lo ||
		    a->r[i].hi != b->r[i].hi || a->r[i].protos != b->r[i].protos ||
		    a->r[i].deny != b->r[i].deny)
			fail_msg("%s: range %d: {rule %u %u-%u p%u d%u} vs {rule %u %u-%u p%u d%u}",
				 q, i, a->r[i].rule_id, a->r[i].lo, a->r[i].hi, a->r[i].protos,
				 a->r[i].deny, b->r[i].rule_id, b->r[i].lo, b->r[i].hi,
				 b->r[i].protos, b->r[i].deny);
}

/* The table's answer equals the naive scan's, entry or none. */
static void check_naive(const struct ef_policy *p, const struct ef_compiled *c, const char *q)
{
	const struct ef_ports *v = ef_name_lookup(c, q, NULL);
	struct ef_ports n;
	int ret = ef_name_lookup_naive(p, q, &n);

	if (ret < 0)
		fail_msg("%s: naive lookup failed: %d", q, ret);
	if (!!v != ret)
		fail_msg("%s: table %s, naive %s", q, v ? "found" : "none", ret ? "found" : "none");
	if (v)
		same_ports(q, v, &n);
}

/* ---- precedence, inheritance, names ---- */

static const char *const prec_policy =
	"{\"name\": \"n\", \"allow\": ["
	" \"api.github.com:443\","	   /* 0 */
	" \"*.github.com:80\","		   /* 1 */
	" \"*.com:8080\","		   /* 2 */
	" \"github.com:22\","		   /* 3 */
	" \"*.api.github.com:9000/udp\""   /* 4 */
	"], \"deny\": ["
	" \"*.evil.github.com:*\","	   /* 5 */
	" \"bad.com:443\","		   /* 6 */
	" \"tracker.net:*/any\""	   /* 7 */
	"]}";

static void test_precedence(void **state)
{
	struct ef_policy *p = parse_ok(prec_policy);
	struct ef_compiled *c = compile_ok(p);
	const struct ef_ports *v;
	__u32 id;
	__u8 why;

	/* 8 distinct patterns, one entry each */
	assert_int_equal(c->names.n, 8);

	/* exact wins over *.github.com and inherits it and *.com, in rule order */
	v = lookup(c, "api.github.com", "api.github.com");
	assert_int_equal(v->n, 3);
	check_range(&v->r[0], 0, 443, 443, EF_PROTO_TCP, 0);
	check_range(&v->r[1], 1, 80, 80, EF_PROTO_TCP, 0);
	check_range(&v->r[2], 2, 8080, 8080, EF_PROTO_TCP, 0);
	assert_int_equal(ef_name_judge(v, &why, &id), 1);
	assert_int_equal(why, EF_R_RULE);
	assert_int_equal(id, 0);

	/* below api.github.com: its wildcard (not the exact name) plus the shorter ones */
	v = lookup(c, "x.api.github.com", "*.api.github.com");
	assert_int_equal(v->n, 3);
	check_range(&v->r[0], 1, 80, 80, EF_PROTO_TCP, 0);
	check_range(&v->r[1], 2, 8080, 8080, EF_PROTO_TCP, 0);
	check_range(&v->r[2], 4, 9000, 9000, EF_PROTO_UDP, 0);
	/* any depth */
	assert_ptr_equal(lookup(c, "a.b.c.d.x.api.github.com", "*.api.github.com"), v);

	/* the apex of *.github.com is the exact rule only (plus *.com) */
	v = lookup(c, "github.com", "github.com");
	assert_int_equal(v->n, 2);
	check_range(&v->r[0], 2, 8080, 8080, EF_PROTO_TCP, 0);
	check_range(&v->r[1], 3, 22, 22, EF_PROTO_TCP, 0);

	v = lookup(c, "raw.github.com", "*.github.com");
	assert_int_equal(v->n, 2);
	check_range(&v->r[0], 1, 80, 80, EF_PROTO_TCP, 0);
	check_range(&v->r[1], 2, 8080, 8080, EF_PROTO_TCP, 0);
	/* evil.github.com is the apex of *.evil.github.com: not its entry */
	assert_ptr_equal(lookup(c, "evil.github.com", "*.github.com"), v);

	/* the deny covers every tcp port: the inherited allows can never decide */
	v = lookup(c, "x.evil.github.com", "*.evil.github.com");
	assert_int_equal(v->n, 1);
	check_range(&v->r[0], 5, 0, 65535, EF_PROTO_TCP, 1);
	assert_int_equal(ef_name_judge(v, &why, &id), 0);
	assert_int_equal(why, EF_R_DENY_RULE);
	assert_int_equal(id, 5);

	/* a deny on one port of a name an allow covers on another: answered */
	v = lookup(c, "bad.com", "bad.com");
	assert_int_equal(v->n, 2);
	check_range(&v->r[0], 2, 8080, 8080, EF_PROTO_TCP, 0);
	check_range(&v->r[1], 6, 443, 443, EF_PROTO_TCP, 1);
	assert_int_equal(ef_name_judge(v, &why, &id), 1);
	assert_int_equal(id, 2);

	/* deny-only name */
	v = lookup(c, "tracker.net", "tracker.net");
	assert_int_equal(v->n, 1);
	check_range(&v->r[0], 7, 0, 65535, EF_PROTO_ANY, 1);
	assert_int_equal(ef_name_judge(v, &why, &id), 0);
	assert_int_equal(why, EF_R_DENY_RULE);
	assert_int_equal(id, 7);
	lookup(c, "a.tracker.net", NULL);

	lookup(c, "other.com", "*.com");
	lookup(c, "com", NULL); /* apex of *.com */
	lookup(c, "example.org", NULL);
	lookup(c, "githubcom", NULL);
	lookup(c, "xgithub.com", "*.com"); /* a suffix only counts at a label boundary */
	assert_int_equal(ef_name_judge(NULL, &why, &id), 0);
	assert_int_equal(why, EF_R_NO_RULE);
	assert_int_equal(id, EF_RULE_NONE);

	ef_compiled_free(c);
	ef_policy_free(p);
}

static void test_case_and_dot(void **state)
{
	struct ef_policy *p = parse_ok(prec_policy);
	struct ef_compiled *c = compile_ok(p);
	const struct ef_ports *v = lookup(c, "api.github.com", "api.github.com");

	assert_ptr_equal(lookup(c, "API.GitHub.COM", "api.github.com"), v);
	assert_ptr_equal(lookup(c, "api.github.com.", "api.github.com"), v);
	assert_ptr_equal(lookup(c, "Api.GITHUB.com.", "api.github.com"), v);
	v = lookup(c, "X.Api.GitHub.Com.", "*.api.github.com");
	assert_ptr_equal(lookup(c, "y.api.github.com", "*.api.github.com"), v);
	/* one trailing dot is the root; two is an empty label */
	lookup(c, "api.github.com..", NULL);
	ef_compiled_free(c);
	ef_policy_free(p);
}

static void test_malformed(void **state)
{
	struct ef_policy *p =
		parse_ok("{\"name\": \"n\", \"allow\": [\"*.com:443\", \"x.com:80\"]}");
	struct ef_compiled *c = compile_ok(p);
	char name[300], label[70];
	static const char *const bad[] = {
		"", ".", "..", ".x.com", "a..x.com", "x.com..", "a b.com", "a\\.b.com", "*.x.com",
		"\xc3\xa9.com", "a\tb.com", "a/b.com", "a:b.com", "a@b.com",
	};
	struct ef_ports out;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		lookup(c, bad[i], NULL);
		assert_int_equal(ef_name_lookup_naive(p, bad[i], &out), 0);
	}
	assert_null(ef_name_lookup(c, NULL, NULL));
	lookup(c, "_dmarc.a-b.com", "*.com");
	lookup(c, "-odd-.com", "*.com"); /* DNS allows it; only rules are strict */

	/* 63-character labels are fine, 64 are not */
	memset(label, 'a', 63);
	label[63] = '\0';
	snprintf(name, sizeof(name), "%s.com", label);
	lookup(c, name, "*.com");
	snprintf(name, sizeof(name), "b%s.com", label);
	lookup(c, name, NULL);

	/* 253 characters: three 63-character labels, one of 57, "com" and the dots */
	snprintf(name, sizeof(name), "%s.%s.%s.%.57s.com", label, label, label, label);
	assert_int_equal(strlen(name), 253);
	lookup(c, name, "*.com");
	strcat(name, ".");
	lookup(c, name, "*.com");
	name[253] = '\0';
	memmove(name + 1, name, 254);
	name[0] = 'z';
	assert_int_equal(strlen(name), 254);
	lookup(c, name, NULL);
	strcat(name, ".");
	lookup(c, name, NULL);
	assert_int_equal(ef_name_lookup_naive(p, name, &out), 0);

	ef_compiled_free(c);
	ef_policy_free(p);
}

static void test_ports_merge(void **state)
{
	struct ef_policy *p = parse_ok("{\"name\": \"n\", \"allow\": ["
				       " \"x.com:443,80,81,82\","  /* 0 */
				       " \"*.x.com:443/udp\","	   /* 1 */
				       " \"*.com:80-90/any\","	   /* 2 */
				       " \"*.b.com:443\","	   /* 3 */
				       " \"*.c.b.com:443\""	   /* 4 */
				       "], \"deny\": [\"*.com:85\"]}"); /* 5 */
	struct ef_compiled *c = compile_ok(p);
	const struct ef_ports *v;
	__u32 id;
	__u8 why;

	/* own ports canonical (80,81,82 -> 80-82), inherited ranges after, in rule order */
	v = lookup(c, "x.com", "x.com");
	assert_int_equal(v->n, 4);
	check_range(&v->r[0], 0, 80, 82, EF_PROTO_TCP, 0);
	check_range(&v->r[1], 0, 443, 443, EF_PROTO_TCP, 0);
	check_range(&v->r[2], 2, 80, 90, EF_PROTO_ANY, 0);
	check_range(&v->r[3], 5, 85, 85, EF_PROTO_TCP, 1);
	/* the connect judgement over those ranges: deny wins per port and protocol */
	assert_int_equal(ef_judge_ports(v, 85, EF_PROTO_TCP, &why, &id), 0);
	assert_int_equal(id, 5);
	assert_int_equal(ef_judge_ports(v, 85, EF_PROTO_UDP, &why, &id), 1);
	assert_int_equal(id, 2);
	assert_int_equal(ef_judge_ports(v, 81, EF_PROTO_TCP, &why, &id), 1);
	assert_int_equal(id, 0);
	assert_int_equal(ef_judge_ports(v, 443, EF_PROTO_UDP, &why, &id), 0);
	assert_int_equal(why, EF_R_NO_RULE);

	v = lookup(c, "a.x.com", "*.x.com");
	assert_int_equal(v->n, 3);
	check_range(&v->r[0], 1, 443, 443, EF_PROTO_UDP, 0);
	check_range(&v->r[1], 2, 80, 90, EF_PROTO_ANY, 0);
	check_range(&v->r[2], 5, 85, 85, EF_PROTO_TCP, 1);

	/* rule 4 repeats rule 3 for what it covers: it takes no room */
	v = lookup(c, "z.c.b.com", "*.c.b.com");
	assert_int_equal(v->n, 3);
	check_range(&v->r[0], 2, 80, 90, EF_PROTO_ANY, 0);
	check_range(&v->r[1], 3, 443, 443, EF_PROTO_TCP, 0);
	check_range(&v->r[2], 5, 85, 85, EF_PROTO_TCP, 1);

	check_naive(p, c, "x.com");
	check_naive(p, c, "a.x.com");
	check_naive(p, c, "z.c.b.com");
	ef_compiled_free(c);
	ef_policy_free(p);
}

static void test_overflow(void **state)
{
	static const char *const last[] = { "a.b.com", "*.b.com", "*.a.b.com" };
	static const char *const want[] = { "a.b.com", "*.b.com", "*.a.b.com" };
	char text[4096], err[EF_ERR_LEN], msg[EF_ERR_LEN];
	struct ef_policy *p;
	struct ef_compiled *c;
	size_t o, k;
	int i;

	/* 16 ranges on *.com fit; an entry below it inherits them and adds one */
	for (k = 0; k < sizeof(last) / sizeof(last[0]); k++) {
		o = (size_t)snprintf(text, sizeof(text), "{\"name\": \"o\", \"allow\": [\n");
		for (i = 0; i < EF_MAX_RANGES; i++)
			o += (size_t)snprintf(text + o, sizeof(text) - o, "  \"*.com:%d\",\n",
					      1000 + 2 * i);
		snprintf(text + o, sizeof(text) - o, "  \"%s:99\"\n]}", last[k]);
		p = parse_ok(text);
		assert_int_equal(ef_policy_compile(p, 1, &c, err, sizeof(err)), -E2BIG);
		assert_null(c);
		snprintf(msg, sizeof(msg),
			 "c.json:18:3: too many port ranges for %s "
			 "(more than 16, counting those of covering wildcards)",
			 want[k]);
		assert_string_equal(err, msg);
		ef_policy_free(p);
	}

	/* the apex inherits nothing from its wildcard: b.com fits */
	o = (size_t)snprintf(text, sizeof(text), "{\"name\": \"o\", \"allow\": [\n");
	for (i = 0; i < EF_MAX_RANGES; i++)
		o += (size_t)snprintf(text + o, sizeof(text) - o, "  \"*.b.com:%d\",\n",
				      1000 + 2 * i);
	snprintf(text + o, sizeof(text) - o, "  \"b.com:99\"\n]}");
	p = parse_ok(text);
	c = compile_ok(p);
	assert_int_equal(lookup(c, "b.com", "b.com")->n, 1);
	assert_int_equal(lookup(c, "a.b.com", "*.b.com")->n, EF_MAX_RANGES);
	ef_compiled_free(c);
	ef_policy_free(p);
}

/* Rules built by hand (CLI, tests) must spell names as the parser does. */
static void test_hand_built(void **state)
{
	struct ef_policy *p = parse_ok("{\"name\": \"n\", \"allow\": [\"x.com:443\"]}");
	struct ef_compiled *c;
	char err[EF_ERR_LEN];

	free(p->rules[0].name);
	p->rules[0].name = strdup("X.com");
	assert_non_null(p->rules[0].name);
	assert_int_equal(ef_policy_compile(p, 1, &c, err, sizeof(err)), -EINVAL);
	assert_null(c);
	assert_string_equal(err,
			    "c.json:1:25: rule 0: host name not lowercase, or not a valid name");
	ef_policy_free(p);
}

/* ---- randomized: table against the naive scan ---- */

/* Few labels, so that names, wildcards and queries overlap a lot. */
static void rand_name(char *buf, size_t len, int min_labels, int max_labels)
{
	static const char *const labels[] = { "a", "b", "x", "com" };
	int n = min_labels + (int)rndn((unsigned int)(max_labels - min_labels + 1)), i;
	size_t o = 0;

	buf[0] = '\0';
	for (i = 0; i < n; i++)
		o += (size_t)snprintf(buf + o, len - o, "%s%s", i ? "." : "",
				      labels[rndn(sizeof(labels) / sizeof(labels[0]))]);
}

static void rand_rule(struct ef_rule *r, size_t i)
{
	static const __u8 protos[] = { EF_PROTO_TCP, EF_PROTO_UDP, EF_PROTO_ANY };
	char name[64];
	int k;

	memset(r, 0, sizeof(*r));
	r->kind = rndn(2) ? EF_DEST_WILDCARD : EF_DEST_NAME;
	r->deny = rndn(4) == 0;
	r->protos = protos[rndn(3)];
	r->line = (int)i + 1;
	r->col = 1;
	rand_name(name, sizeof(name), 1, 3);
	r->name = strdup(name);
	assert_non_null(r->name);
	r->n_ports = 1 + (int)rndn(2);
	for (k = 0; k < r->n_ports; k++) {
		if (rndn(8) == 0) {
			r->ports[k].lo = 0;
			r->ports[k].hi = 65535;
		} else {
			r->ports[k].lo = (__u16)(20 + rndn(10));
			r->ports[k].hi = (__u16)(r->ports[k].lo + rndn(3));
		}
	}
}

/* "any deny rule covering the name, port and protocol wins, else any allow
 * rule": the meaning the merged ranges must keep, from the rules alone. */
static int flat_judge(const struct ef_policy *p, const char *q, __u16 port, __u8 proto,
		      __u32 *rule_id)
{
	char name[300];
	size_t i, n;
	__u32 allow = EF_RULE_NONE;
	int k;

	/* the probes are well-formed: lowercase and strip the dot here */
	for (n = 0; q[n]; n++)
		name[n] = (char)(q[n] >= 'A' && q[n] <= 'Z' ? q[n] - 'A' + 'a' : q[n]);
	if (n && name[n - 1] == '.')
		n--;
	name[n] = '\0';
	for (i = 0; i < p->n_rules; i++) {
		const struct ef_rule *r = &p->rules[i];
		size_t sn = strlen(r->name);
		bool covers = r->kind == EF_DEST_NAME ?
				      !strcmp(r->name, name) :
				      n > sn + 1 && name[n - sn - 1] == '.' &&
					      !strcmp(name + n - sn, r->name);
		bool port_ok = false;

		if (!covers || !(r->protos & proto))
			continue;
		for (k = 0; k < r->n_ports; k++)
			port_ok |= port >= r->ports[k].lo && port <= r->ports[k].hi;
		if (!port_ok)
			continue;
		if (r->deny) {
			*rule_id = (__u32)i;
			return 0;
		}
		if (allow == EF_RULE_NONE)
			allow = (__u32)i;
	}
	*rule_id = allow;
	return allow != EF_RULE_NONE;
}

struct tally {
	unsigned long probes, found, exact, wild, e2big;
};

static void random_round(int n_rules, int n_probes, struct tally *t)
{
	struct ef_policy *p = calloc(1, sizeof(*p));
	struct ef_compiled *c;
	char err[EF_ERR_LEN], q[80];
	int i, j, ret;

	assert_non_null(p);
	p->rules = calloc((size_t)n_rules, sizeof(*p->rules));
	assert_non_null(p->rules);
	for (i = 0; i < n_rules; i++)
		rand_rule(&p->rules[i], (size_t)i);
	p->n_rules = (size_t)n_rules;
	ret = ef_policy_compile(p, 1, &c, err, sizeof(err));
	if (ret == -E2BIG) {
		t->e2big++;
		ef_policy_free(p);
		return;
	}
	if (ret)
		fail_msg("%s", err);
	for (i = 0; i < n_probes; i++) {
		const struct ef_ports *v;
		const char *pat;
		size_t o;

		rand_name(q, sizeof(q), 1, 4);
		/* any case, and sometimes the root dot */
		for (o = 0; q[o]; o++)
			if (rndn(4) == 0 && q[o] >= 'a' && q[o] <= 'z')
				q[o] = (char)(q[o] - 'a' + 'A');
		if (rndn(4) == 0)
			strcat(q, ".");
		check_naive(p, c, q);
		v = ef_name_lookup(c, q, &pat);
		t->probes++;
		if (v) {
			t->found++;
			if (pat[0] == '*')
				t->wild++;
			else
				t->exact++;
		}
		for (j = 0; j < 6; j++) {
			__u16 port = (__u16)(18 + rndn(16));
			__u8 proto = rndn(2) ? EF_PROTO_TCP : EF_PROTO_UDP, why;
			__u32 id1, id2;
			int v1 = v ? ef_judge_ports(v, port, proto, &why, &id1) : 0;
			int v2 = flat_judge(p, q, port, proto, &id2);

			if (!v)
				id1 = EF_RULE_NONE;
			if (v1 != v2 || id1 != id2)
				fail_msg("%s:%u/%u: table %d rule %d, rules %d rule %d", q, port,
					 proto, v1, (int)id1, v2, (int)id2);
		}
	}
	ef_compiled_free(c);
	ef_policy_free(p);
}

static void test_random_vs_naive(void **state)
{
	struct tally t = { 0 };
	int round;

	for (round = 0; round < 400; round++)
		random_round(1 + (int)rndn(14), 50, &t);
	print_message("%lu probes: %lu found (%lu exact, %lu wildcard); %lu of 400 policies "
		      "too big\n",
		      t.probes, t.found, t.exact, t.wild, t.e2big);
	/* the generator must exercise all the cases, and mostly compile */
	assert_true(t.probes >= 15000);
	assert_true(t.exact > t.probes / 20 && t.wild > t.probes / 10);
	assert_true(t.found < t.probes);
	assert_true(t.e2big < 40);
}

/* ---- 100,000 names ---- */

static void big_name(char *buf, size_t len, unsigned int i, bool *wild)
{
	/* one name in ten a wildcard over a zone of ~1000 hosts */
	*wild = i % 10 == 0;
	if (*wild)
		snprintf(buf, len, "zone%u.example%u.com", i / 10, i % 7);
	else
		snprintf(buf, len, "host%u.zone%u.example%u.com", i, i / 100, (i / 100 * 10) % 7);
}

static double since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

static void test_speed(void **state)
{
	const unsigned int n = 100000, n_lookups = 1000000, n_q = 100000;
	struct ef_policy *p = calloc(1, sizeof(*p));
	struct ef_compiled *c;
	struct timespec t0;
	char err[EF_ERR_LEN], q[128], (*qs)[64];
	unsigned long found = 0, dist = 0, worst = 0;
	double secs;
	unsigned int i;
	bool wild;

	assert_non_null(p);
	p->rules = calloc(n + 1, sizeof(*p->rules));
	assert_non_null(p->rules);
	for (i = 0; i < n; i++) {
		struct ef_rule *r = &p->rules[i];

		big_name(q, sizeof(q), i, &wild);
		r->kind = wild ? EF_DEST_WILDCARD : EF_DEST_NAME;
		r->name = strdup(q);
		assert_non_null(r->name);
		r->deny = i % 13 == 0;
		r->protos = EF_PROTO_TCP;
		r->n_ports = 1;
		r->ports[0].lo = r->ports[0].hi = (__u16)(443 + i % 3);
		r->line = (int)i + 1;
	}
	p->rules[n].kind = EF_DEST_WILDCARD;
	p->rules[n].name = strdup("com");
	p->rules[n].protos = EF_PROTO_TCP;
	p->rules[n].n_ports = 1;
	p->rules[n].ports[0].lo = p->rules[n].ports[0].hi = 80;
	p->n_rules = n + 1;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (ef_policy_compile(p, 1, &c, err, sizeof(err)))
		fail_msg("%s", err);
	secs = since(&t0);
	assert_int_equal(c->names.n, n + 1);
	print_message("compiled %u name rules in %.3f s\n", n + 1, secs);
	assert_true(secs < 5.0);

	/* the hash spreads: how far entries sit from their home slot */
	for (i = 0; i <= c->names.mask; i++) {
		__u32 k = c->names.slot[i].idx, home;
		unsigned long d;

		if (!k)
			continue;
		home = c->names.e[k - 1].hash & c->names.mask;
		d = (i - home) & c->names.mask;
		dist += d;
		if (d > worst)
			worst = d;
	}
	print_message("mean displacement %.3f, worst %lu (%u slots)\n",
		      (double)dist / (double)c->names.n, worst, c->names.mask + 1);
	assert_true(dist < c->names.n);

	/* present names, names under wildcards (any depth), and names outside */
	qs = calloc(n_q, sizeof(*qs));
	assert_non_null(qs);
	for (i = 0; i < n_q; i++) {
		unsigned int k = (unsigned int)rndn(n);

		switch (i % 4) {
		case 0:
			big_name(qs[i], sizeof(qs[i]), k, &wild);
			break;
		case 1:
			snprintf(qs[i], sizeof(qs[i]), "a.b.c.d.e.f.new%u.zone%u.example%u.com", k,
				 k / 10, k % 7);
			break;
		case 2:
			snprintf(qs[i], sizeof(qs[i]), "x%u.example%u.org", k, k % 7);
			break;
		default:
			snprintf(qs[i], sizeof(qs[i]), "HOST%u.Zone%u.Example%u.COM.", k, k / 100,
				 (k / 100 * 10) % 7);
			break;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < n_lookups; i++)
		found += ef_name_lookup(c, qs[i % n_q], NULL) != NULL;
	secs = since(&t0);
	free(qs);
	print_message("%u lookups in %.3f s (%.0f ns each), %lu found\n", n_lookups, secs,
		      secs * 1e9 / n_lookups, found);
	assert_true(secs < 5.0);
	assert_true(found >= n_lookups / 4 * 3 - n_lookups / 100);

	/* spot checks against the naive scan (O(rules) a lookup) */
	for (i = 0; i < 50; i++) {
		unsigned int k = (unsigned int)rndn(n);

		big_name(q, sizeof(q), k, &wild);
		check_naive(p, c, q);
		snprintf(q, sizeof(q), "deep.new%u.zone%u.example%u.com", k, k / 10, k % 7);
		check_naive(p, c, q);
		snprintf(q, sizeof(q), "x%u.example%u.org", k, k % 7);
		check_naive(p, c, q);
	}
	ef_compiled_free(c);
	ef_policy_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_precedence),
		cmocka_unit_test(test_case_and_dot),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_ports_merge),
		cmocka_unit_test(test_overflow),
		cmocka_unit_test(test_hand_built),
		cmocka_unit_test(test_random_vs_naive),
		cmocka_unit_test(test_speed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
