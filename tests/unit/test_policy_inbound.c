// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * policy/: "inbound" rules and the "loopback" setting (issue 15, items 3
 * and 4): parsing with positioned errors, compilation into entries that
 * outbound lookups never reach (and the reverse), lint, diff.
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

#include <cmocka.h>

#include "policy.h"
#include "ef_verdict.h"

static struct ef_policy *parse_ok(const char *text)
{
	char err[EF_ERR_LEN];
	struct ef_policy *p = NULL;

	if (ef_policy_parse(text, strlen(text), "t.json", &p, err, sizeof(err)))
		fail_msg("parse: %s\n%s", err, text);
	return p;
}

static void parse_bad(const char *text, const char *want)
{
	char err[EF_ERR_LEN];
	struct ef_policy *p = NULL;

	if (!ef_policy_parse(text, strlen(text), "t.json", &p, err, sizeof(err)))
		fail_msg("accepted: %s", text);
	assert_null(p);
	if (!strstr(err, want))
		fail_msg("text %s\n got \"%s\"\nwant \"...%s...\"", text, err, want);
}

static void addr4(__u8 a[16], const char *s)
{
	memset(a, 0, 16);
	assert_int_equal(inet_pton(AF_INET, s, a), 1);
}

static void addr6(__u8 a[16], const char *s)
{
	assert_int_equal(inet_pton(AF_INET6, s, a), 1);
}

static void test_loopback_values(void **state)
{
	struct ef_policy *p;

	(void)state;
	p = parse_ok("{\"name\": \"a\"}");
	assert_int_equal(p->loopback, EF_LOOPBACK_OWN);
	assert_int_equal(p->flags & (EF_PF_LOOPBACK | EF_PF_LOOPBACK_OWN), EF_PF_LOOPBACK_OWN);
	ef_policy_free(p);
	p = parse_ok("{\"name\": \"a\", \"loopback\": \"own\"}");
	assert_int_equal(p->loopback, EF_LOOPBACK_OWN);
	ef_policy_free(p);
	/* the spellings of old files keep working */
	p = parse_ok("{\"name\": \"a\", \"loopback\": true}");
	assert_int_equal(p->loopback, EF_LOOPBACK_ANY);
	assert_int_equal(p->flags & (EF_PF_LOOPBACK | EF_PF_LOOPBACK_OWN), EF_PF_LOOPBACK);
	ef_policy_free(p);
	p = parse_ok("{\"name\": \"a\", \"loopback\": false}");
	assert_int_equal(p->loopback, EF_LOOPBACK_OFF);
	assert_int_equal(p->flags & (EF_PF_LOOPBACK | EF_PF_LOOPBACK_OWN), 0);
	ef_policy_free(p);
	assert_true(ef_loopback_rank(EF_LOOPBACK_ANY) > ef_loopback_rank(EF_LOOPBACK_OWN));
	assert_true(ef_loopback_rank(EF_LOOPBACK_OWN) > ef_loopback_rank(EF_LOOPBACK_OFF));
}

static void test_loopback_bad(void **state)
{
	static const char *const bad[] = {
		"\"yes\"", "\"Own\"", "\"own \"", "\"\"", "1", "0", "null", "[]", "{}",
		"[\"own\"]", "\"true\"",
	};
	char text[256];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), "{\"name\": \"a\",\n  \"loopback\": %s}", bad[i]);
		parse_bad(text, "t.json:2:15: \"loopback\" must be \"own\", true or false");
	}
}

static void test_inbound_parse(void **state)
{
	struct ef_policy *p;

	(void)state;
	p = parse_ok("{\"name\": \"a\", \"inbound\": [\"198.51.100.7:8080\","
		     " \"10.1.0.0/24:8000-8100,9000/TCP\", \"[2001:db8::5]:22\","
		     " \"[::ffff:192.0.2.1]:80/tcp\"], \"allow\": [\"x.com:443\"]}");
	assert_int_equal(p->n_rules, 1);
	assert_int_equal(p->n_inbound, 4);
	assert_int_equal(p->inbound[0].kind, EF_DEST_CIDR);
	assert_int_equal(p->inbound[0].prefixlen, 32);
	assert_int_equal(p->inbound[0].protos, EF_PROTO_TCP);
	assert_false(p->inbound[0].deny);
	assert_int_equal(p->inbound[1].prefixlen, 24);
	assert_int_equal(p->inbound[1].protos, EF_PROTO_TCP);
	assert_int_equal(p->inbound[1].n_ports, 2);
	assert_int_equal(p->inbound[2].family, EF_FAM_V6);
	/* a mapped peer is an IPv4 one */
	assert_int_equal(p->inbound[3].family, EF_FAM_V4);
	assert_int_equal(p->inbound[3].protos, EF_PROTO_TCP);
	assert_int_equal(p->inbound[0].line, 1);
	assert_int_equal(p->inbound[0].col, 27);
	assert_ptr_equal(ef_policy_rule_by_id(p, 0), &p->rules[0]);
	assert_ptr_equal(ef_policy_rule_by_id(p, 1), &p->inbound[0]);
	assert_ptr_equal(ef_policy_rule_by_id(p, 4), &p->inbound[3]);
	assert_null(ef_policy_rule_by_id(p, 5));
	assert_null(ef_policy_rule_by_id(p, EF_RULE_NONE));
	ef_policy_free(p);
	p = parse_ok("{\"name\": \"a\", \"inbound\": []}");
	assert_int_equal(p->n_inbound, 0);
	ef_policy_free(p);
}

static void test_inbound_bad(void **state)
{
	static const struct {
		const char *rules, *want;
	} bad[] = {
		/* names: a SYN carries an address, and nothing resolves peers */
		{ "\"ci.example.com:8080\"",
		  "t.json:2:16: inbound peers are addresses, not names: \"ci.example.com\" is a host name" },
		{ "\"*.example.com:8080\"", "t.json:2:16: inbound peers are addresses, not names" },
		{ "\"localhost:8080\"", "inbound peers are addresses, not names: \"localhost\"" },
		{ "\"10.0.0.1:1\", \"runner:22\"", "t.json:2:30: inbound peers are addresses" },
		/* missing or bad ports */
		{ "\"10.0.0.1\"", "t.json:2:24: missing port: write \"10.0.0.1:443\"" },
		{ "\"10.0.0.1:\"", "missing port after ':'" },
		{ "\"[2001:db8::1]\"", "missing port" },
		{ "\"10.0.0.1:0\"", "port 0 out of range 1-65535" },
		{ "\"10.0.0.1:70000\"", "out of range 1-65535" },
		{ "\"10.0.0.1:80/sctp\"", "unknown protocol \"sctp\"" },
		/* UDP is not judged on arrival: no rule may pretend it is */
		{ "\"10.0.0.1:80/udp\"",
		  "t.json:2:27: inbound rules are for TCP connections: UDP datagrams are not judged on arrival" },
		{ "\"10.0.0.0/8:80/any\"", "drop \"/any\"" },
		{ "\"10.0.0.1/33:80\"", "prefix length 33 out of range 0-32" },
		{ "\"10.0.0.1/24:80\"", "host bits set: did you mean 10.0.0.0/24?" },
		{ "\"2001:db8::1:80\"", "ipv6 addresses need brackets" },
		{ "\"\"", "empty rule" },
		/* bad types */
		{ "80", "t.json:2:15: inbound[0]: a rule must be a string such as \"198.51.100.7:8080\"" },
		{ "null", "inbound[0]: a rule must be a string" },
		{ "[\"10.0.0.1:80\"]", "inbound[0]: a rule must be a string" },
		/* duplicates, however spelled */
		{ "\"10.0.0.1:80\", \"10.0.0.1:80/tcp\"", "duplicate rule (first at 2:15)" },
	};
	char text[512];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), "{\"name\": \"a\",\n  \"inbound\": [%s]}", bad[i].rules);
		parse_bad(text, bad[i].want);
	}
	parse_bad("{\"name\": \"a\",\n  \"inbound\": \"10.0.0.1:80\"}",
		  "t.json:2:14: \"inbound\" must be an array of rule strings");
	parse_bad("{\"name\": \"a\",\n  \"inbound\": {}}", "\"inbound\" must be an array");
	parse_bad("{\"name\": \"a\", \"inbound\": [], \"inbound\": []}", "duplicate key \"inbound\"");
	parse_bad("{\"name\": \"a\", \"inbond\": []}", "did you mean \"inbound\"?");
}

static void test_inbound_rule_api(void **state)
{
	struct ef_rule r;
	char err[EF_ERR_LEN];

	(void)state;
	assert_int_equal(ef_inbound_rule_parse("192.0.2.0/24:22", &r, err, sizeof(err)), 0);
	assert_int_equal(r.prefixlen, 24);
	ef_rule_clear(&r);
	assert_int_equal(ef_inbound_rule_parse("git.example.com:22", &r, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "1: inbound peers are addresses"));
	assert_null(r.text);
	assert_null(r.name);
}

/* Inbound and outbound entries never decide for each other. */
static void test_compile_separate(void **state)
{
	struct ef_policy *p;
	struct ef_compiled *c;
	char err[EF_ERR_LEN];
	__u8 a[16], reason;
	__u32 rule;

	(void)state;
	p = parse_ok("{\"name\": \"a\", \"allow\": [\"0.0.0.0/0:443\", \"10.1.0.5:22\","
		     " \"[::]/0:443\"], \"deny\": [\"10.1.0.0/16:*\"],"
		     " \"inbound\": [\"10.1.0.5:8080\", \"10.2.0.0/16:9000-9010\","
		     " \"0.0.0.0/0:7000\", \"[2001:db8::/32]:8443\"]}");
	assert_int_equal(ef_policy_compile(p, 7, &c, err, sizeof(err)), 0);
	assert_int_equal(c->pval.flags & EF_PF_LOOPBACK_OWN, EF_PF_LOOPBACK_OWN);
	for (size_t i = 0; i < c->n_exact; i++)
		assert_int_equal(c->exact[i].key.policy_id, 7);

	/* inbound: peer 10.1.0.5 to local 8080 */
	addr4(a, "10.1.0.5");
	assert_int_equal(ef_compiled_match_inbound(c, EF_FAM_V4, a, 8080, EF_PROTO_TCP, &reason,
						   &rule), 1);
	assert_int_equal(reason, EF_R_RULE);
	assert_int_equal(rule, p->n_rules + 0);
	assert_string_equal(ef_policy_rule_by_id(p, rule)->text, "10.1.0.5:8080");
	/* the outbound deny of 10.1.0.0/16 does not reach inbound lookups */
	assert_int_equal(ef_compiled_match_inbound(c, EF_FAM_V4, a, 22, EF_PROTO_TCP, &reason,
						   &rule), 0);
	assert_int_equal(reason, EF_R_NO_RULE);
	assert_int_equal(rule, EF_RULE_NONE);
	/* ... and the inbound /0 of port 7000 reaches every peer */
	assert_int_equal(ef_compiled_match_inbound(c, EF_FAM_V4, a, 7000, EF_PROTO_TCP, &reason,
						   &rule), 1);
	assert_int_equal(rule, p->n_rules + 2);
	assert_int_equal(ef_compiled_match_inbound(c, EF_FAM_V4, a, 7000, EF_PROTO_UDP, &reason,
						   &rule), 0);
	/* inbound has no loopback barrier: an outside peer claiming 127.0.0.1
	 * (route_localnet) is judged by the rules, and the reference agrees */
	addr4(a, "127.0.0.1");
	assert_int_equal(ef_compiled_match_inbound(c, EF_FAM_V4, a, 7000, EF_PROTO_TCP, &reason,
						   &rule), 1);
	assert_int_equal(rule, p->n_rules + 2);
	assert_int_equal(ef_policy_match_inbound_naive(p, EF_FAM_V4, a, 7000, EF_PROTO_TCP,
						       &reason, &rule), 1);
	assert_int_equal(rule, p->n_rules + 2);
	assert_int_equal(ef_policy_match_inbound_naive(p, EF_FAM_V4, a, 7001, EF_PROTO_TCP,
						       &reason, &rule), 0);
	assert_int_equal(rule, EF_RULE_NONE);
	addr4(a, "10.1.0.5");
	/* outbound: 10.1.0.5:8080 is denied (deny /16), the inbound rule does not open it */
	assert_int_equal(ef_compiled_match(c, EF_FAM_V4, a, 8080, EF_PROTO_TCP, &reason, &rule), 0);
	assert_int_equal(reason, EF_R_DENY_RULE);
	/* outbound 10.2.0.1:9000 has no rule: the inbound /16 is not an outbound one */
	addr4(a, "10.2.0.1");
	assert_int_equal(ef_compiled_match(c, EF_FAM_V4, a, 9000, EF_PROTO_TCP, &reason, &rule), 0);
	assert_int_equal(reason, EF_R_NO_RULE);
	assert_int_equal(ef_compiled_match_inbound(c, EF_FAM_V4, a, 9005, EF_PROTO_TCP, &reason,
						   &rule), 1);
	assert_int_equal(rule, p->n_rules + 1);
	/* inbound 1.2.3.4:443 is not opened by the outbound /0 on 443 */
	addr4(a, "1.2.3.4");
	assert_int_equal(ef_compiled_match_inbound(c, EF_FAM_V4, a, 443, EF_PROTO_TCP, &reason,
						   &rule), 0);
	assert_int_equal(ef_compiled_match(c, EF_FAM_V4, a, 443, EF_PROTO_TCP, &reason, &rule), 1);
	/* IPv6, and an IPv4-mapped peer judged as IPv4 */
	addr6(a, "2001:db8:1::9");
	assert_int_equal(ef_compiled_match_inbound(c, EF_FAM_V6, a, 8443, EF_PROTO_TCP, &reason,
						   &rule), 1);
	assert_int_equal(rule, p->n_rules + 3);
	assert_int_equal(ef_compiled_match(c, EF_FAM_V6, a, 8443, EF_PROTO_TCP, &reason, &rule), 0);
	addr6(a, "::ffff:10.1.0.5");
	assert_int_equal(ef_compiled_match_inbound(c, EF_FAM_V6, a, 8080, EF_PROTO_TCP, &reason,
						   &rule), 1);
	/* the metadata entries are outbound only */
	for (size_t i = 0; i < c->n_exact; i++)
		if (c->exact[i].key.family & EF_FAM_INBOUND)
			assert_int_equal(c->exact[i].val.flags, 0);
	ef_compiled_free(c);
	ef_policy_free(p);
}

/* Without inbound rules no inbound entry exists: every peer but loopback
 * (which the BPF side lets through before looking) is refused. */
static void test_compile_no_inbound(void **state)
{
	struct ef_policy *p = parse_ok("{\"name\": \"a\", \"allow\": [\"0.0.0.0/0:*\"]}");
	struct ef_compiled *c;
	char err[EF_ERR_LEN];
	__u8 a[16], reason;
	__u32 rule;

	(void)state;
	assert_int_equal(ef_policy_compile(p, 1, &c, err, sizeof(err)), 0);
	for (size_t i = 0; i < c->n_exact; i++)
		assert_false(c->exact[i].key.family & EF_FAM_INBOUND);
	for (size_t i = 0; i < c->n_lpm; i++)
		assert_false(c->lpm[i].key.family & EF_FAM_INBOUND);
	addr4(a, "198.51.100.1");
	assert_int_equal(ef_compiled_match_inbound(c, EF_FAM_V4, a, 80, EF_PROTO_TCP, &reason,
						   &rule), 0);
	ef_compiled_free(c);
	ef_policy_free(p);
}

/* Covering prefixes inherit within the inbound set too. */
static void test_compile_inherit(void **state)
{
	struct ef_policy *p = parse_ok("{\"name\": \"a\", \"inbound\": [\"10.0.0.0/8:22\","
				       " \"10.1.0.0/16:80\", \"10.1.2.3:443\"]}");
	struct ef_compiled *c;
	char err[EF_ERR_LEN];
	__u8 a[16], reason;
	__u32 rule;

	(void)state;
	assert_int_equal(ef_policy_compile(p, 1, &c, err, sizeof(err)), 0);
	addr4(a, "10.1.2.3");
	assert_int_equal(ef_compiled_match_inbound(c, EF_FAM_V4, a, 22, EF_PROTO_TCP, &reason,
						   &rule), 1);
	assert_int_equal(rule, 0);
	assert_int_equal(ef_compiled_match_inbound(c, EF_FAM_V4, a, 80, EF_PROTO_TCP, &reason,
						   &rule), 1);
	assert_int_equal(rule, 1);
	assert_int_equal(ef_compiled_match_inbound(c, EF_FAM_V4, a, 443, EF_PROTO_TCP, &reason,
						   &rule), 1);
	assert_int_equal(rule, 2);
	assert_int_equal(ef_compiled_match_inbound(c, EF_FAM_V4, a, 8080, EF_PROTO_TCP, &reason,
						   &rule), 0);
	ef_compiled_free(c);
	ef_policy_free(p);
}

static void test_lint(void **state)
{
	char out[4096];
	struct ef_policy *p;
	int n;

	(void)state;
	p = parse_ok("{\"name\": \"a\",\n  \"loopback\": true,\n  \"inbound\": [\"0.0.0.0/0:22\","
		     " \"10.0.0.0/16:80\", \"10.0.0.0/24:81\", \"[2001:db8::/48]:1\","
		     " \"[2001:db8::/64]:2\"]}");
	n = ef_policy_lint_all(p, 10, out, sizeof(out));
	print_message("%s\n", out);
	assert_int_equal(n, 4);
	assert_non_null(strstr(out, "t.json:2:15: \"loopback\": true lets the job reach every local listener"));
	assert_non_null(strstr(out, "t.json:3:15: inbound \"0.0.0.0/0:22\" lets every ipv4 address connect"));
	assert_non_null(strstr(out, "inbound \"10.0.0.0/16:80\" lets a whole network connect"));
	assert_non_null(strstr(out, "\"[2001:db8::/48]:1\""));
	assert_null(strstr(out, "10.0.0.0/24:81"));
	assert_null(strstr(out, "/64]:2"));
	ef_policy_free(p);
	p = parse_ok("{\"name\": \"a\", \"loopback\": \"own\", \"allow\": [\"127.0.0.1:5432\"]}");
	assert_int_equal(ef_policy_lint_all(p, 10, out, sizeof(out)), 0);
	ef_policy_free(p);
	/* audit mode has nothing to confirm */
	p = parse_ok("{\"name\": \"a\", \"mode\": \"audit\", \"loopback\": true}");
	assert_int_equal(ef_policy_lint_all(p, 10, out, sizeof(out)), 0);
	ef_policy_free(p);
}

static void test_diff(void **state)
{
	struct ef_policy *a, *b;
	struct ef_policy_change ch;

	(void)state;
	a = parse_ok("{\"name\": \"a\", \"loopback\": true, \"inbound\": [\"10.0.0.1:80\","
		     " \"10.0.0.2:80\"]}");
	b = parse_ok("{\"name\": \"a\", \"inbound\": [\"10.0.0.2:80/tcp\", \"10.0.0.3:80\"],"
		     " \"allow\": [\"10.0.0.1:80\"]}");
	assert_int_equal(ef_policy_diff(a, b, &ch), 0);
	assert_int_equal(ch.n_settings, 1);
	assert_string_equal(ch.settings[0], "loopback: true -> \"own\"");
	assert_int_equal(ch.n_rules, 3);
	assert_string_equal(ch.rules[0].text, "10.0.0.1:80");
	assert_true(ch.rules[0].inbound);
	assert_false(ch.rules[0].added);
	assert_string_equal(ch.rules[1].text, "10.0.0.1:80");
	assert_false(ch.rules[1].inbound);
	assert_true(ch.rules[1].added);
	assert_string_equal(ch.rules[2].text, "10.0.0.3:80");
	assert_true(ch.rules[2].inbound);
	assert_true(ch.rules[2].added);
	ef_policy_change_free(&ch);
	/* a policy is no weaker than itself */
	assert_int_equal(ef_policy_no_weaker(a, a, NULL, 0), 1);
	assert_int_equal(ef_policy_no_weaker(b, b, NULL, 0), 1);
	ef_policy_free(a);
	ef_policy_free(b);
}

static void test_format_keeps_inbound(void **state)
{
	static const char text[] = "{\"name\": \"a\", \"loopback\": \"own\","
				   " \"inbound\": [\"10.0.0.1:80\", \"[2001:db8::1]:22\"]}";
	char *out = NULL;
	struct ef_policy *p;

	(void)state;
	assert_int_equal(ef_policy_format(text, strlen(text), &out), 0);
	assert_non_null(strstr(out, "  \"loopback\": \"own\",\n"));
	assert_non_null(strstr(out, "  \"inbound\": [\n    \"10.0.0.1:80\",\n"));
	p = parse_ok(out);
	assert_int_equal(p->n_inbound, 2);
	ef_policy_free(p);
	free(out);
}

static void test_edit_inbound(void **state)
{
	static const char text[] = "{\"name\": \"a\", \"allow\": [\"x.com:443\"],"
				   " \"mode\": \"enforce\"}";
	const char *add[] = { "10.0.0.1:8080", "[2001:db8::1]:22" };
	const char *rm[] = { "10.0.0.1:8080/TCP" };
	const char *bad[] = { "ci.example.com:22" };
	const char *udp[] = { "10.0.0.2:53/udp" };
	char err[EF_ERR_LEN], *out = NULL, *out2 = NULL;
	struct ef_policy *p;

	(void)state;
	/* an absent "inbound" list goes right after the outbound lists */
	assert_int_equal(ef_policy_edit_list(text, strlen(text), "e.json", add, 2, NULL, 0,
					     EF_EDIT_INBOUND, &out, err, sizeof(err)), 0);
	assert_string_equal(out, "{\n  \"name\": \"a\",\n  \"allow\": [\n    \"x.com:443\"\n  ],\n"
				 "  \"inbound\": [\n    \"10.0.0.1:8080\",\n    \"[2001:db8::1]:22\"\n"
				 "  ],\n  \"mode\": \"enforce\"\n}\n");
	p = parse_ok(out);
	assert_int_equal(p->n_inbound, 2);
	assert_int_equal(p->n_rules, 1);
	ef_policy_free(p);
	/* removed however spelled; the outbound list untouched */
	assert_int_equal(ef_policy_edit_list(out, strlen(out), "e.json", NULL, 0, rm, 1,
					     EF_EDIT_INBOUND, &out2, err, sizeof(err)), 0);
	p = parse_ok(out2);
	assert_int_equal(p->n_inbound, 1);
	assert_string_equal(p->inbound[0].text, "[2001:db8::1]:22");
	assert_int_equal(p->n_rules, 1);
	ef_policy_free(p);
	free(out2);
	/* a rule of the outbound list is not in "inbound", nor the reverse */
	assert_int_equal(ef_policy_edit_list(out, strlen(out), "e.json", NULL, 0,
					     (const char *[]){ "x.com:443" }, 1, EF_EDIT_INBOUND,
					     &out2, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "inbound peers are addresses"));
	assert_int_equal(ef_policy_edit_list(out, strlen(out), "e.json", NULL, 0,
					     (const char *[]){ "10.9.9.9:443" }, 1, EF_EDIT_INBOUND,
					     &out2, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "is not in \"inbound\""));
	assert_int_equal(ef_policy_edit_list(out, strlen(out), "e.json", NULL, 0, add, 1,
					     EF_EDIT_ALLOW, &out2, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "is not in \"allow\""));
	/* bad inbound rules */
	assert_int_equal(ef_policy_edit_list(out, strlen(out), "e.json", bad, 1, NULL, 0,
					     EF_EDIT_INBOUND, &out2, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "inbound peers are addresses"));
	assert_int_equal(ef_policy_edit_list(out, strlen(out), "e.json", udp, 1, NULL, 0,
					     EF_EDIT_INBOUND, &out2, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "inbound rules are for TCP"));
	assert_int_equal(ef_policy_edit_list(out, strlen(out), "e.json", add, 1, NULL, 0,
					     EF_EDIT_INBOUND, &out2, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "is already in \"inbound\""));
	free(out);
	/* no outbound list: where "deny" would go (after name/mode) */
	assert_int_equal(ef_policy_edit_list("{\"name\": \"b\"}", 13, "e.json", add, 1, NULL, 0,
					     EF_EDIT_INBOUND, &out, err, sizeof(err)), 0);
	assert_string_equal(out, "{\n  \"name\": \"b\",\n  \"inbound\": [\n    \"10.0.0.1:8080\"\n  ]\n}\n");
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_loopback_values),	 cmocka_unit_test(test_loopback_bad),
		cmocka_unit_test(test_inbound_parse),	 cmocka_unit_test(test_inbound_bad),
		cmocka_unit_test(test_inbound_rule_api), cmocka_unit_test(test_compile_separate),
		cmocka_unit_test(test_compile_no_inbound), cmocka_unit_test(test_compile_inherit),
		cmocka_unit_test(test_lint),		 cmocka_unit_test(test_diff),
		cmocka_unit_test(test_format_keeps_inbound), cmocka_unit_test(test_edit_inbound),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
