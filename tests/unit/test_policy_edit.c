// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * policy/: whole-policy checks and edits: lint (broad and contradictory
 * rules), no_weaker (one policy within another, held against the naive
 * matchers on random policies), diff, and the text editor behind
 * `egressctl policy add/remove` with its canonical rendering.
 */
#include <arpa/inet.h>
#include <errno.h>
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
#include "ef_verdict.h"
#include "rng.h"

/* ---- helpers ---- */

static struct ef_policy *parse_as(const char *text, const char *file)
{
	char err[EF_ERR_LEN];
	struct ef_policy *p;

	if (ef_policy_parse(text, strlen(text), file, &p, err, sizeof(err)))
		fail_msg("%s\n%s", err, text);
	return p;
}

static struct ef_policy *parse_ok(const char *text)
{
	return parse_as(text, "l.json");
}

/* A one-line enforce policy from rule lists ("" for none). */
static struct ef_policy *pol(const char *name, const char *allow, const char *deny,
			     const char *extra)
{
	char text[8192];

	snprintf(text, sizeof(text), "{\"name\": \"%s\", \"allow\": [%s], \"deny\": [%s]%s%s}",
		 name, allow, deny, extra && *extra ? ", " : "", extra ? extra : "");
	return parse_as(text, "w.json");
}

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* ---- lint ---- */

/* The first lint message of a policy text; "" when clean. */
static void lint_first(const char *text, char *err, size_t len)
{
	struct ef_policy *p = parse_ok(text);
	int ret = ef_policy_lint(p, err, len);

	assert_true(ret == 0 || ret == -EINVAL);
	assert_true(ret == 0 ? err[0] == '\0' : err[0] != '\0');
	ef_policy_free(p);
}

struct lint_case {
	const char *allow, *deny;
	const char *want; /* the message without "l.json:1:COL: "; NULL: clean */
};

static const struct lint_case lint_cases[] = {
	/* wide prefixes */
	{ "\"0.0.0.0/0:443\"", "",
	  "\"0.0.0.0/0:443\" opens every ipv4 address; name the networks, or pass --force" },
	{ "\"64.0.0.0/2:*\"", "",
	  "\"64.0.0.0/2:*\" opens 1/4 of all ipv4 addresses (a /2, wider than /8); name the networks, or pass --force" },
	{ "\"0.0.0.0/7:80\"", "", "opens 1/128 of all ipv4 addresses (a /7, wider than /8)" },
	{ "\"10.0.0.0/8:*\"", "", NULL },
	{ "\"[::]/0:443\"", "", "\"[::]/0:443\" opens every ipv6 address" },
	{ "\"[2000::]/3:443\"", "", "opens 1/8 of all ipv6 addresses (a /3, wider than /16)" },
	{ "\"[2001::/16]:443\"", "", NULL },
	{ "\"[::ffff:0.0.0.0]/96:443\"", "", "opens every ipv4 address" },
	/* the test world's public hosts */
	{ "\"198.18.0.0/15:*/any\", \"[2001:db8::]/32:*/any\"", "", NULL },
	/* wildcards over public suffixes, ICANN section */
	{ "\"*.com:443\"", "",
	  "\"*.com:443\" opens every name under the public suffix \"com\"; name the hosts, or pass --force" },
	{ "\"*.CO.UK.:443\"", "", "opens every name under the public suffix \"co.uk\"" },
	{ "\"*.uk:443\"", "", "opens every name under the public suffix \"uk\"" },
	{ "\"*.internal:443\"", "",
	  "\"*.internal:443\" opens every name under the single label \"internal\"; name the hosts, or pass --force" },
	{ "\"*.githubusercontent.com:443\", \"*.example.co.uk:443\"", "", NULL },
	/* the private section (github.io) is not the ICANN one */
	{ "\"*.github.io:443\"", "", NULL },
	/* a deny rule is never broad */
	{ "\"x.example.org:443\"", "\"*.com:*\", \"0.0.0.0/0:*\"", NULL },
	/* shadowed allow rules */
	{ "\"a.b.com:443\"", "\"*.b.com:*\"",
	  "allow \"a.b.com:443\" never takes effect: deny \"*.b.com:*\" at 1:50 covers it; remove one, or pass --force" },
	{ "\"*.a.b.com:443\"", "\"*.b.com:443,80\"", "deny \"*.b.com:443,80\" at 1:52" },
	{ "\"*.b.com:443\"", "\"*.b.com:443\"",
	  "allow \"*.b.com:443\" is also denied (\"*.b.com:443\" at 1:50), so it never takes effect" },
	{ "\"b.com:443\"", "\"*.b.com:*\"", NULL },	 /* the apex is not below */
	{ "\"*.b.com:443\"", "\"*.a.b.com:*\"", NULL }, /* only part of it */
	{ "\"x.b.com:443,8443\"", "\"x.b.com:443\"", NULL },
	{ "\"x.b.com:53/any\"", "\"x.b.com:53\"", NULL },
	{ "\"x.b.com:53/udp\"", "\"x.b.com:1-100/any\"",
	  "never takes effect: deny \"x.b.com:1-100/any\"" },
	{ "\"10.1.0.0/16:443/udp\"", "\"10.0.0.0/8:1-1000/any\"",
	  "allow \"10.1.0.0/16:443/udp\" never takes effect: deny \"10.0.0.0/8:1-1000/any\" at 1:58" },
	{ "\"10.0.0.0/8:443\"", "\"10.1.0.0/16:*\"", NULL },
	{ "\"[2001:db8::1]:443\"", "\"0.0.0.0/0:*\"", NULL }, /* another family */
	{ "\"[::ffff:10.0.0.1]:443\"", "\"10.0.0.0/8:*\"", "never takes effect" },
	{ "\"x.b.com:443\"", "\"0.0.0.0/0:*\", \"[::]/0:*\"", NULL }, /* names vs addresses */
	{ "\"169.254.169.254:80\"", "\"169.254.0.0/16:*\"", "never takes effect" },
	{ "\"10.0.0.1:80,443\"", "\"10.0.0.1:80\", \"10.0.0.0/24:443\"", NULL }, /* only together */
};

static void test_lint_cases(void **state)
{
	char err[EF_ERR_LEN], text[1024], want[EF_ERR_LEN];
	size_t i;

	for (i = 0; i < sizeof(lint_cases) / sizeof(lint_cases[0]); i++) {
		const struct lint_case *tc = &lint_cases[i];

		snprintf(text, sizeof(text), "{\"name\": \"x\", \"allow\": [%s], \"deny\": [%s]}",
			 tc->allow, tc->deny);
		lint_first(text, err, sizeof(err));
		if (!tc->want) {
			if (err[0])
				fail_msg("%s: unexpected \"%s\"", text, err);
			continue;
		}
		/* the message is at the first allow rule: column 25 */
		snprintf(want, sizeof(want), "l.json:1:25: ");
		if (strncmp(err, want, strlen(want)) || !strstr(err, tc->want))
			fail_msg("%s:\n got \"%s\"\nwant \"%s...%s\"", text, err, want, tc->want);
	}
}

static void test_lint_positions(void **state)
{
	static const char text[] = "{\n"
				   "  \"name\": \"pos\",\n"
				   "  \"allow\": [\n"
				   "    \"api.example.com:443\",\n"
				   "\t\"*.com:443\",\n"
				   "    \"a.b.example.com:443\"\n"
				   "  ],\n"
				   "  \"deny\": [\n"
				   "    \"*.b.example.com:*\"\n"
				   "  ]\n"
				   "}\n";
	char err[EF_ERR_LEN], all[4096];
	struct ef_policy *p = parse_as(text, "pos.json");

	assert_int_equal(ef_policy_lint(p, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "pos.json:5:2: \"*.com:443\" opens every name under the public "
				 "suffix \"com\"; name the hosts, or pass --force");
	assert_int_equal(ef_policy_lint_all(p, 10, all, sizeof(all)), 2);
	assert_string_equal(all,
			    "pos.json:5:2: \"*.com:443\" opens every name under the public suffix "
			    "\"com\"; name the hosts, or pass --force\n"
			    "pos.json:6:5: allow \"a.b.example.com:443\" never takes effect: deny "
			    "\"*.b.example.com:*\" at 9:5 covers it; remove one, or pass --force");
	/* max stops early; a short buffer is cut, never overrun */
	assert_int_equal(ef_policy_lint_all(p, 1, all, sizeof(all)), 1);
	assert_null(strchr(all, '\n'));
	assert_int_equal(ef_policy_lint_all(p, 10, all, 20), 2);
	assert_int_equal(strlen(all), 19);
	assert_int_equal(ef_policy_lint_all(p, 0, all, sizeof(all)), 0);
	assert_string_equal(all, "");
	ef_policy_free(p);
}

static void test_lint_audit_and_clean(void **state)
{
	char err[EF_ERR_LEN];

	/* audit mode allows everything anyway: nothing to confirm */
	lint_first("{\"name\": \"a\", \"mode\": \"audit\","
		   " \"allow\": [\"0.0.0.0/0:*\", \"*.com:*\"], \"deny\": [\"x.com:*\"]}",
		   err, sizeof(err));
	assert_string_equal(err, "");
	/* README's and DESIGN.md's examples */
	lint_first("{\"name\": \"ci-agent\", \"mode\": \"enforce\","
		   " \"allow\": [\"api.anthropic.com:443\", \"140.82.112.0/20:22,443\","
		   " \"[2606:50c0::]/32:443\", \"time.google.com:123/udp\"],"
		   " \"deny\": [\"140.82.112.9:*\"], \"loopback\": \"own\"}",
		   err, sizeof(err));
	assert_string_equal(err, "");
	lint_first("{\"name\": \"claude-code\", \"allow\": [\"api.anthropic.com:443\","
		   " \"*.githubusercontent.com:443\", \"140.82.112.0/20:22,443\","
		   " \"[2606:50c0::]/32:443\", \"time.google.com:123/udp\"],"
		   " \"deny\": [\"169.254.169.254:*\"], \"dns\": {\"upstream\": [\"1.1.1.1\"]}}",
		   err, sizeof(err));
	assert_string_equal(err, "");
	lint_first("{\"name\": \"empty\"}", err, sizeof(err));
	assert_string_equal(err, "");
}

/* Hand-built policies may repeat a rule; the parser refuses that. */
static void test_lint_repeat(void **state)
{
	struct ef_policy *p = calloc(1, sizeof(*p));
	char err[EF_ERR_LEN], all[2048];
	const char *texts[] = { "a.example.com:443", "10.0.0.0/8:22", "A.EXAMPLE.COM.:443/tcp",
				"10.0.0.0/8:22" };
	size_t i;

	assert_non_null(p);
	p->rules = calloc(4, sizeof(*p->rules));
	assert_non_null(p->rules);
	for (i = 0; i < 4; i++) {
		assert_int_equal(ef_rule_parse(texts[i], i == 3, &p->rules[i], err, sizeof(err)),
				 0);
		p->rules[i].line = (int)i + 2;
		p->rules[i].col = 3;
	}
	p->n_rules = 4;
	p->loopback = EF_LOOPBACK_OWN;
	assert_int_equal(ef_policy_lint_all(p, 10, all, sizeof(all)), 2);
	assert_string_equal(all,
			    "<policy>:3:3: allow \"10.0.0.0/8:22\" is also denied (\"10.0.0.0/8:22\" "
			    "at 5:3), so it never takes effect; remove one, or pass --force\n"
			    "<policy>:4:3: \"A.EXAMPLE.COM.:443/tcp\" repeats \"a.example.com:443\" at "
			    "2:3; remove one, or pass --force");
	ef_policy_free(p);
}

struct stop_ctx {
	int calls;
};

static int stop_after_one(void *arg, const struct ef_rule *r, const char *msg)
{
	struct stop_ctx *s = arg;

	assert_non_null(r);
	assert_non_null(strstr(msg, "l.json:1:"));
	s->calls++;
	return 1;
}

static void test_lint_callback(void **state)
{
	struct ef_policy *p = pol("cb", "\"*.com:1\", \"*.net:1\", \"0.0.0.0/0:1\"", "", NULL);
	struct stop_ctx s = { 0 };

	p->file[0] = 'l'; /* "w.json" -> "l.json" */
	assert_int_equal(ef_policy_lint_each(p, stop_after_one, &s), 1);
	assert_int_equal(s.calls, 1);
	ef_policy_free(p);
}

/* Many rules of each list: the contradiction check must not be O(n^2). */
static struct ef_policy *big_policy(size_t n, bool with_shadows)
{
	struct ef_policy *p = calloc(1, sizeof(*p));
	char text[128], err[EF_ERR_LEN];
	size_t i, k = 0;

	assert_non_null(p);
	p->rules = calloc(2 * n, sizeof(*p->rules));
	assert_non_null(p->rules);
	for (i = 0; i < n; i++) {
		switch (i % 4) {
		case 0:
			snprintf(text, sizeof(text), "h%zu.s%zu.example.com:443", i, i % 97);
			break;
		case 1:
			snprintf(text, sizeof(text), "*.w%zu.example.org:443,8443", i);
			break;
		case 2:
			snprintf(text, sizeof(text), "10.%zu.%zu.0/24:80", (i / 4) >> 8,
				 (i / 4) & 255);
			break;
		default:
			snprintf(text, sizeof(text), "[2001:db8:%zx:%zx::]/64:443/any", i >> 16,
				 i & 0xffff);
		}
		if (ef_rule_parse(text, false, &p->rules[k], err, sizeof(err)))
			fail_msg("%s: %s", text, err);
		p->rules[k].line = (int)k + 1;
		p->rules[k].col = 1;
		k++;
	}
	for (i = 0; i < n; i++) {
		if (i % 2)
			snprintf(text, sizeof(text), "d%zu.s%zu.example.com:*", i, i % 97);
		else if (with_shadows && i % 1000 == 0)
			snprintf(text, sizeof(text), "*.s%zu.example.com:*", i % 97);
		else
			snprintf(text, sizeof(text), "172.%zu.%zu.%zu:22", 16 + (i >> 16) % 16,
				 (i >> 8) & 255, i & 255);
		if (ef_rule_parse(text, true, &p->rules[k], err, sizeof(err)))
			continue; /* a repeat of the wildcard: fine */
		p->rules[k].line = (int)k + 1;
		p->rules[k].col = 1;
		k++;
	}
	p->n_rules = k;
	p->loopback = EF_LOOPBACK_OWN;
	p->file = strdup("big.json");
	strcpy(p->name, "big");
	return p;
}

static void test_lint_speed(void **state)
{
	struct ef_policy *p = big_policy(100000, false), *q = big_policy(100000, true);
	char err[EF_ERR_LEN];
	double t0, t1, t2;
	int n;

	t0 = now();
	if (ef_policy_lint(p, err, sizeof(err)))
		fail_msg("%s", err);
	t1 = now();
	n = ef_policy_lint_all(q, 100000, NULL, 0);
	t2 = now();
	print_message("lint of 200000 rules: %.3f s clean, %.3f s with %d problems\n", t1 - t0,
		      t2 - t1, n);
	/* every name under a denied wildcard's suffix is shadowed */
	assert_true(n > 100);
	assert_true(t1 - t0 < 3.0 && t2 - t1 < 3.0);
	ef_policy_free(p);
	ef_policy_free(q);
}

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

static const char full_policy[] =
	"{\n"
	"  \"name\": \"claude-code\",\n"
	"  \"description\": \"coding agent\",\n"
	"  \"allow\": [\n"
	"    \"api.anthropic.com:443\",\n"
	"    \"*.githubusercontent.com:443\",\n"
	"    \"140.82.112.0/20:22,443\",\n"
	"    \"[2606:50c0::]/32:443\",\n"
	"    \"time.google.com:123/udp\",\n"
	"    \"169.254.169.254:80\"\n"
	"  ],\n"
	"  \"deny\": [\"169.254.0.0/16:22\", \"*.evil.githubusercontent.com:*/any\", \"10.0.0.0/8:*\"],\n"
	"  \"loopback\": false,\n"
	"  \"dns\": { \"upstream\": [\"1.1.1.1\", \"[2606:4700::1111]:53\"] },\n"
	"  \"probe\": { \"action\": \"freeze\", \"denied_dests\": 20, \"window_s\": 60 },\n"
	"  \"sockets\": { \"raw\": true, \"icmp\": true, \"families\": [\"vsock\", \"can\", 42] }\n"
	"}\n";

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

/* ---- diff ---- */

static void test_diff(void **state)
{
	struct ef_policy *a = parse_ok(full_policy), *b;
	struct ef_policy_change c;
	size_t i;

	/* the same policy, and the same respelled: no change */
	assert_int_equal(ef_policy_diff(a, a, &c), 0);
	assert_int_equal(c.n_rules + c.n_settings, 0);
	ef_policy_change_free(&c);
	b = parse_ok("{\"deny\": [\"10.0.0.0/8:*\", \"*.EVIL.githubusercontent.com.:*/ANY\","
		     " \"169.254.0.0/16:22/tcp\"],"
		     " \"name\": \"claude-code\", \"allow\": [\"time.google.com:123/udp\","
		     " \"169.254.169.254:80\", \"API.anthropic.com:443\", \"140.82.112.0/20:443,22\","
		     " \"[2606:50c0::/32]:443\", \"*.githubusercontent.com:443\"],"
		     " \"loopback\": false, \"dns\": {\"upstream\": [\"1.1.1.1\", \"[2606:4700::1111]:53\"]},"
		     " \"probe\": {\"action\": \"freeze\", \"denied_dests\": 20},"
		     " \"sockets\": {\"families\": [42, \"can\", \"vsock\"], \"raw\": true, \"icmp\": true}}");
	assert_int_equal(ef_policy_diff(a, b, &c), 0);
	for (i = 0; i < c.n_settings; i++)
		print_message("unexpected: %s\n", c.settings[i]);
	assert_int_equal(c.n_rules + c.n_settings, 0);
	ef_policy_change_free(&c);
	ef_policy_free(b);

	b = parse_ok("{\"name\": \"cc2\", \"mode\": \"audit\","
		     " \"allow\": [\"api.anthropic.com:443\","
		     " \"*.githubusercontent.com:443,80\", \"140.82.112.0/20:22,443\","
		     " \"[2606:50c0::]/32:443\", \"time.google.com:123/udp\", \"169.254.169.254:80\","
		     " \"10.0.0.0/8:*\"],\n"
		     " \"deny\": [\"169.254.0.0/16:22\", \"*.evil.githubusercontent.com:*/any\"],"
		     " \"dns\": {\"upstream\": [\"1.1.1.1\"], \"query_rate\": 100,"
		     " \"query_burst\": 50},"
		     " \"probe\": {\"action\": \"kill\", \"denied_dests\": 20, \"window_s\": 120,"
		     " \"tunnel_names\": 5, \"dns_label_bytes\": 300},"
		     " \"sockets\": {\"packet\": true, \"icmp\": true, \"families\": [\"vsock\", \"xdp\"]}}");
	assert_int_equal(ef_policy_diff(a, b, &c), 0);
	assert_int_equal(c.n_rules, 4);
	/* removed first, in the old file's order, then added */
	assert_string_equal(c.rules[0].text, "*.githubusercontent.com:443");
	assert_false(c.rules[0].added);
	assert_false(c.rules[0].deny);
	assert_int_equal(c.rules[0].line, 6);
	assert_int_equal(c.rules[0].col, 5);
	assert_string_equal(c.rules[1].text, "10.0.0.0/8:*");
	assert_false(c.rules[1].added);
	assert_true(c.rules[1].deny);
	assert_int_equal(c.rules[1].line, 12);
	assert_string_equal(c.rules[2].text, "*.githubusercontent.com:443,80");
	assert_true(c.rules[2].added);
	assert_false(c.rules[2].deny);
	assert_int_equal(c.rules[2].line, 1);
	assert_string_equal(c.rules[3].text, "10.0.0.0/8:*");
	assert_true(c.rules[3].added);
	assert_false(c.rules[3].deny); /* moved from deny to allow */
	assert_int_equal(c.rules[3].line, 1);
	{
		static const char *const want[] = {
			"name: claude-code -> cc2",
			"mode: enforce -> audit",
			"loopback: false -> \"own\"",
			"sockets.raw: true -> false",
			"sockets.packet: false -> true",
			"sockets.families: +xdp -can -qipcrtr",
			"dns.upstream: 1.1.1.1, [2606:4700::1111]:53 -> 1.1.1.1",
			"dns.query_burst: 1000 -> 50", /* query_rate 100 is the default */
			"probe.action: freeze -> kill",
			"probe.window_s: 60 -> 120",
			"probe.dns_label_bytes: 1024 -> 300",
		};

		for (i = 0; i < c.n_settings; i++)
			print_message("  %s\n", c.settings[i]);
		assert_int_equal(c.n_settings, sizeof(want) / sizeof(want[0]));
		for (i = 0; i < c.n_settings; i++)
			assert_string_equal(c.settings[i], want[i]);
	}
	ef_policy_change_free(&c);
	assert_null(c.rules);
	assert_int_equal(c.n_settings, 0);
	ef_policy_free(b);

	/* the default resolver, both ways */
	b = parse_ok("{\"name\": \"claude-code\"}");
	assert_int_equal(ef_policy_diff(b, a, &c), 0);
	assert_int_equal(c.n_rules, 9);
	for (i = 0; i < c.n_rules; i++)
		assert_true(c.rules[i].added);
	for (i = 0; i < c.n_settings; i++)
		if (!strncmp(c.settings[i], "dns.upstream", 12))
			assert_string_equal(c.settings[i],
					    "dns.upstream: default -> 1.1.1.1, [2606:4700::1111]:53");
	ef_policy_change_free(&c);
	ef_policy_free(b);
	ef_policy_free(a);
}

/* ---- edit and format ---- */

static const char edit_src[] =
	"{\"name\": \"ci\", \"description\": \"a \\\"quoted\\\" \\u00e9 \\/ tab\\t\","
	" \"allow\": [\"api.github.com:443\", \"*.npmjs.org:443\",\n"
	"   \"10.0.0.0/8:22\"], \"loopback\": false,"
	" \"probe\": {\"window_s\": 1.2e2, \"action\": \"kill\"},"
	" \"dns\": {\"upstream\": []}, \"sockets\": {\"families\": [\"vsock\", 42], \"raw\": false}}";

static const char edit_fmt[] = "{\n"
			       "  \"name\": \"ci\",\n"
			       "  \"description\": \"a \\\"quoted\\\" \xc3\xa9 / tab\\t\",\n"
			       "  \"allow\": [\n"
			       "    \"api.github.com:443\",\n"
			       "    \"*.npmjs.org:443\",\n"
			       "    \"10.0.0.0/8:22\"\n"
			       "  ],\n"
			       "  \"loopback\": false,\n"
			       "  \"probe\": {\n"
			       "    \"window_s\": 120,\n"
			       "    \"action\": \"kill\"\n"
			       "  },\n"
			       "  \"dns\": {\n"
			       "    \"upstream\": []\n"
			       "  },\n"
			       "  \"sockets\": {\n"
			       "    \"families\": [\"vsock\", 42],\n"
			       "    \"raw\": false\n"
			       "  }\n"
			       "}\n";

static char *edit_ok(const char *src, const char *const *add, size_t n_add,
		     const char *const *rm, size_t n_rm, bool deny)
{
	char err[EF_ERR_LEN], *out = NULL;
	struct ef_policy *p;

	if (ef_policy_edit(src, strlen(src), "e.json", add, n_add, rm, n_rm, deny, &out, err,
			   sizeof(err)))
		fail_msg("%s", err);
	/* what comes out parses, and formats to itself */
	p = parse_as(out, "out.json");
	ef_policy_free(p);
	{
		char *again = NULL;

		assert_int_equal(ef_policy_format(out, strlen(out), &again), 0);
		assert_string_equal(again, out);
		free(again);
	}
	return out;
}

static void edit_err(const char *src, const char *const *add, size_t n_add,
		     const char *const *rm, size_t n_rm, bool deny, int want_ret, const char *want)
{
	char err[EF_ERR_LEN], *out = (char *)1;
	int ret = ef_policy_edit(src, strlen(src), "e.json", add, n_add, rm, n_rm, deny, &out, err,
				 sizeof(err));

	assert_int_equal(ret, want_ret);
	assert_null(out);
	if (strcmp(err, want))
		fail_msg(" got \"%s\"\nwant \"%s\"", err, want);
}

static void test_format(void **state)
{
	struct ef_policy *a, *b;
	struct ef_policy_change c;
	char *out;

	out = edit_ok(edit_src, NULL, 0, NULL, 0, false);
	assert_string_equal(out, edit_fmt);
	/* the same policy */
	a = parse_ok(edit_src);
	b = parse_ok(out);
	assert_int_equal(ef_policy_diff(a, b, &c), 0);
	assert_int_equal(c.n_rules + c.n_settings, 0);
	ef_policy_change_free(&c);
	ef_policy_free(a);
	ef_policy_free(b);
	free(out);

	assert_int_equal(ef_policy_format("{\"name\": \"x\"}", 13, &out), 0);
	assert_string_equal(out, "{\n  \"name\": \"x\"\n}\n");
	free(out);
	assert_int_equal(ef_policy_format("{\"name\": \"x\", \"allow\": [], \"probe\": {}}", 39,
					  &out),
			 0);
	assert_string_equal(out, "{\n  \"name\": \"x\",\n  \"allow\": [],\n  \"probe\": {}\n}\n");
	free(out);
	/* control characters and escapes come back the shortest way */
	out = edit_ok("{\"name\": \"x\","
		      " \"description\": \"\\u0001\\b\\f\\n\\r\\\\\\u2028\"}",
		      NULL, 0, NULL, 0, false);
	assert_string_equal(out, "{\n  \"name\": \"x\",\n  \"description\": "
				 "\"\\u0001\\b\\f\\n\\r\\\\\xe2\x80\xa8\"\n}\n");
	free(out);
	out = (char *)1;
	assert_int_equal(ef_policy_format("{\"name\": 1}", 11, &out), -EINVAL);
	assert_null(out);
}

static void test_edit_add_remove(void **state)
{
	const char *add1[] = { "registry.npmjs.org:443", "[2001:db8::]/32:443/any" };
	const char *rm1[] = { "API.github.com.:443/tcp" };
	const char *rm2[] = { "*.NPMJS.org:443", "10.0.0.0/8:22", "api.github.com:443" };
	const char *add_deny[] = { "10.0.0.5:22" };
	const char *respell_rm[] = { "10.0.0.0/8:22" };
	const char *respell_add[] = { "10.0.0.0/8:22/tcp" };
	size_t n_head;
	char *out;

	out = edit_ok(edit_src, add1, 2, rm1, 1, false);
	assert_non_null(strstr(out, "  \"allow\": [\n"
				    "    \"*.npmjs.org:443\",\n"
				    "    \"10.0.0.0/8:22\",\n"
				    "    \"registry.npmjs.org:443\",\n"
				    "    \"[2001:db8::]/32:443/any\"\n"
				    "  ],\n"
				    "  \"loopback\": false,\n"));
	/* everything else as formatted */
	assert_string_equal(strstr(out, "  \"loopback\""), strstr(edit_fmt, "  \"loopback\""));
	n_head = (size_t)(strstr(edit_fmt, "  \"allow\"") - edit_fmt);
	assert_int_equal(strncmp(out, edit_fmt, n_head), 0);
	free(out);

	/* the last rule out leaves an empty list */
	out = edit_ok(edit_src, NULL, 0, rm2, 3, false);
	assert_non_null(strstr(out, "  \"allow\": [],\n  \"loopback\": false,\n"));
	free(out);

	/* "deny" was not there: it goes right after "allow" */
	out = edit_ok(edit_src, add_deny, 1, NULL, 0, true);
	assert_non_null(strstr(out, "    \"10.0.0.0/8:22\"\n"
				    "  ],\n"
				    "  \"deny\": [\n"
				    "    \"10.0.0.5:22\"\n"
				    "  ],\n"
				    "  \"loopback\": false,\n"));
	free(out);

	/* "allow" was not there: before "deny", else after name/description/mode */
	out = edit_ok("{\"name\": \"n\", \"loopback\": true, \"deny\": [\"x.com:1\"]}", add1, 1,
		      NULL, 0, false);
	assert_string_equal(out, "{\n  \"name\": \"n\",\n  \"loopback\": true,\n"
				 "  \"allow\": [\n    \"registry.npmjs.org:443\"\n  ],\n"
				 "  \"deny\": [\n    \"x.com:1\"\n  ]\n}\n");
	free(out);
	out = edit_ok("{\"loopback\": true, \"name\": \"n\", \"mode\": \"enforce\", \"probe\": {}}",
		      add1, 1, NULL, 0, false);
	assert_string_equal(out, "{\n  \"loopback\": true,\n  \"name\": \"n\",\n"
				 "  \"mode\": \"enforce\",\n"
				 "  \"allow\": [\n    \"registry.npmjs.org:443\"\n  ],\n"
				 "  \"probe\": {}\n}\n");
	free(out);
	out = edit_ok("{\"name\": \"n\"}", add_deny, 1, NULL, 0, true);
	assert_string_equal(out,
			    "{\n  \"name\": \"n\",\n  \"deny\": [\n    \"10.0.0.5:22\"\n  ]\n}\n");
	free(out);

	/* out and back in, respelled, in one edit */
	out = edit_ok(edit_src, respell_add, 1, respell_rm, 1, false);
	assert_non_null(strstr(out, "    \"*.npmjs.org:443\",\n    \"10.0.0.0/8:22/tcp\"\n  ],"));
	free(out);

	/* the same rule in the other list is not a duplicate */
	out = edit_ok(edit_src, respell_rm, 1, NULL, 0, true);
	assert_non_null(strstr(out, "  \"deny\": [\n    \"10.0.0.0/8:22\"\n  ],"));
	free(out);
}

static void test_edit_errors(void **state)
{
	const char *missing[] = { "x.example.com:443" };
	const char *wrong_ports[] = { "api.github.com:443,80" };
	const char *dup[] = { "API.GITHUB.COM:443" };
	const char *twice[] = { "a.example.com:443", "A.example.com.:443/tcp" };
	const char *bad[] = { "ok.example.com:443", "api.x.com" };
	const char *bad_rm[] = { "10.0.0.1/8:22" };
	const char *in_deny[] = { "api.github.com:443" };

	edit_err(edit_src, NULL, 0, missing, 1, false, -EINVAL,
		 "e.json: \"x.example.com:443\" is not in \"allow\"");
	edit_err(edit_src, NULL, 0, wrong_ports, 1, false, -EINVAL,
		 "e.json: \"api.github.com:443,80\" is not in \"allow\"");
	edit_err(edit_src, NULL, 0, in_deny, 1, true, -EINVAL,
		 "e.json: \"api.github.com:443\" is not in \"deny\"");
	/* removing twice: the second is not there any more */
	edit_err(edit_src, NULL, 0, (const char *[]){ "10.0.0.0/8:22", "10.0.0.0/8:22" }, 2, false,
		 -EINVAL, "e.json: \"10.0.0.0/8:22\" is not in \"allow\"");
	edit_err(edit_src, dup, 1, NULL, 0, false, -EINVAL,
		 "e.json:1:73: \"API.GITHUB.COM:443\" is already in \"allow\" as \"api.github.com:443\"");
	edit_err(edit_src, twice, 2, NULL, 0, false, -EINVAL,
		 "e.json: \"A.example.com.:443/tcp\" is given twice (also as \"a.example.com:443\")");
	edit_err(edit_src, bad, 2, NULL, 0, false, -EINVAL,
		 "api.x.com:10: missing port: write \"api.x.com:443\" or \"api.x.com:*\"");
	edit_err(edit_src, NULL, 0, bad_rm, 1, false, -EINVAL,
		 "10.0.0.1/8:22:1: host bits set: did you mean 10.0.0.0/8?");
	edit_err(edit_src, (const char *[]){ "" }, 1, NULL, 0, false, -EINVAL,
		 ":1: empty rule: write \"DEST:PORTS\", e.g. \"api.example.com:443\"");
	/* the input itself must be valid */
	edit_err("{\n  \"name\": \"x\",\n  \"allow\": [\"a.com:443\" \"b.com:443\"]\n}", missing, 1,
		 NULL, 0, false, -EINVAL, "e.json:3:25: expected ',' or ']', found '\"'");
	edit_err("{\"name\": \"x\", \"alow\": []}", missing, 1, NULL, 0, false, -EINVAL,
		 "e.json:1:15: unknown key \"alow\": did you mean \"allow\"?");
	edit_err("", missing, 1, NULL, 0, false, -EINVAL, "e.json:1:1: empty file");
}

/* An edit of a big file stays linear. */
static void test_edit_speed(void **state)
{
	size_t n = 50000, i, o = 0, cap = n * 40 + 100;
	char *text = malloc(cap), *out = NULL, err[EF_ERR_LEN], rm[64];
	const char *rms[] = { rm };
	const char *adds[] = { "new.example.com:443" };
	double t0;

	assert_non_null(text);
	o += (size_t)snprintf(text + o, cap - o, "{\"name\": \"big\", \"allow\": [");
	for (i = 0; i < n; i++)
		o += (size_t)snprintf(text + o, cap - o, "%s\"h%zu.example.com:443\"", i ? "," : "",
				      i);
	snprintf(text + o, cap - o, "]}");
	snprintf(rm, sizeof(rm), "H%zu.example.com.:443", n / 2);
	t0 = now();
	if (ef_policy_edit(text, strlen(text), "big.json", adds, 1, rms, 1, false, &out, err,
			   sizeof(err)))
		fail_msg("%s", err);
	print_message("edit of %zu rules: %.3f s\n", n, now() - t0);
	assert_true(now() - t0 < 3.0);
	assert_null(strstr(out, "\"h25000.example.com:443\""));
	assert_non_null(
		strstr(out, "    \"h49999.example.com:443\",\n    \"new.example.com:443\"\n"));
	free(out);
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lint_cases),
		cmocka_unit_test(test_lint_positions),
		cmocka_unit_test(test_lint_audit_and_clean),
		cmocka_unit_test(test_lint_repeat),
		cmocka_unit_test(test_lint_callback),
		cmocka_unit_test(test_lint_speed),
		cmocka_unit_test(test_weaker_cases),
		cmocka_unit_test(test_weaker_identical),
		cmocka_unit_test(test_weaker_speed),
		cmocka_unit_test(test_weaker_sound),
		cmocka_unit_test(test_diff),
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_edit_add_remove),
		cmocka_unit_test(test_edit_errors),
		cmocka_unit_test(test_edit_speed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
