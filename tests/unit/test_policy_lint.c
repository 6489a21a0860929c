// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * policy/: lint, a policy's broad and contradictory rules (messages, their
 * positions, audit mode, repeats, the callback), and its cost on 200,000
 * rules.
 */
#include "policy_edit_fixture.h"

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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lint_cases),
		cmocka_unit_test(test_lint_positions),
		cmocka_unit_test(test_lint_audit_and_clean),
		cmocka_unit_test(test_lint_repeat),
		cmocka_unit_test(test_lint_callback),
		cmocka_unit_test(test_lint_speed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
