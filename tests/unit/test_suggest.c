// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * cli/suggest_rules.c (with suggest_set.c, suggest_obs.c, suggest_write.c):
 * egressctl policy suggest's decisions-in, rules-out half. DNS names rather
 * than addresses, exact addresses (IPv6 in brackets, IPv4-mapped as IPv4),
 * ports merged per destination and protocol, wildcards for enough names
 * under one parent (never under a public suffix), getaddrinfo's UDP sorting
 * connects dropped, metadata and internal addresses left out, loopback
 * skipped, names resolved but not connected to, comparison with an existing
 * policy, the policy text (which must parse and compile), and a fixed
 * output order whatever the input order.
 */
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
#include "../../cli/suggest.h"

/* ---- helpers ---- */

static const psl_ctx_t *psl(void)
{
	static const psl_ctx_t *ctx;

	if (!ctx) {
		ctx = psl_latest(NULL);
		if (!ctx)
			ctx = psl_builtin();
	}
	assert_non_null(ctx);
	return ctx;
}

static struct suggest *new_sg(unsigned wildcard_min)
{
	struct suggest *sg = NULL;

	assert_int_equal(suggest_new(&(struct suggest_opts){ .wildcard_min = wildcard_min,
							     .psl = psl() },
				     &sg),
			 0);
	return sg;
}

/* a connect (or, with send, an egress.send) of job to server (peer) */
static void conn(struct suggest *sg, const char *job, const char *server, const char *peer,
		 long port, const char *transport)
{
	assert_int_equal(suggest_add_conn(sg, job, server, peer, port, transport, false), 0);
}

static void tcp(struct suggest *sg, const char *server, const char *peer, long port)
{
	conn(sg, "job-1", server, peer, port, "tcp");
}

/* want: the expected list, NULL-terminated */
static void expect_list(char **got, size_t n, const char *const *want, const char *what)
{
	size_t nw = 0;

	while (want[nw])
		nw++;
	for (size_t i = 0; i < n || i < nw; i++) {
		const char *g = i < n ? got[i] : "(none)", *w = i < nw ? want[i] : "(none)";

		if (strcmp(g, w)) {
			for (size_t k = 0; k < n; k++)
				print_message("  %s[%zu] = %s\n", what, k, got[k]);
			fail_msg("%s[%zu]: got \"%s\", want \"%s\"", what, i, g, w);
		}
	}
}

#define EXPECT(got, n, ...)                                                    \
	expect_list((got), (n), (const char *const[]){ __VA_ARGS__, NULL }, #got)

static void rules(struct suggest *sg, const struct ef_policy *against, struct suggest_result *r)
{
	assert_int_equal(suggest_rules(sg, against, r), 0);
}

static struct ef_policy *policy_of(const char *text)
{
	char err[EF_ERR_LEN];
	struct ef_policy *p = NULL;

	if (ef_policy_parse(text, strlen(text), "t.json", &p, err, sizeof(err)))
		fail_msg("policy does not parse: %s\n%s", err, text);
	return p;
}

/* ---- tests ---- */

static void test_names_vs_addresses(void **state)
{
	struct suggest *sg = new_sg(3);
	struct suggest_result r;

	/* learned through DNS: the name; the name's case and trailing dot go */
	tcp(sg, "ok.test", "198.18.1.1", 443);
	tcp(sg, "OK.Test.", "198.18.1.1", 443);
	/* no DNS: the address */
	tcp(sg, "198.18.1.7", "198.18.1.7", 443);
	/* no server.address at all: the peer */
	tcp(sg, NULL, "198.18.1.8", 80);
	rules(sg, NULL, &r);
	EXPECT(r.allow, r.n_allow, "ok.test:443", "198.18.1.7:443", "198.18.1.8:80");
	assert_int_equal(r.n_left_out, 0);
	suggest_result_free(&r);
	suggest_free(sg);
}

static void test_port_merging(void **state)
{
	struct suggest *sg = new_sg(3);
	struct suggest_result r;

	tcp(sg, "ok.test", "198.18.1.1", 443);
	tcp(sg, "ok.test", "198.18.1.1", 80);
	tcp(sg, "ok.test", "198.18.1.1", 443); /* again: once */
	conn(sg, "job-2", "ok.test", "2001:db8:1::1", 443, "tcp"); /* another job, address */
	/* UDP is its own rule; unconnected UDP (send) counts as UDP */
	assert_int_equal(suggest_add_conn(sg, "job-1", "ok.test", "198.18.1.1", 123, "udp", true),
			 0);
	/* three or more consecutive ports are a range, two are not */
	for (long p = 8000; p <= 8003; p++)
		tcp(sg, "198.18.1.2", "198.18.1.2", p);
	tcp(sg, "198.18.1.2", "198.18.1.2", 22);
	tcp(sg, "198.18.1.2", "198.18.1.2", 23);
	tcp(sg, "198.18.1.2", "198.18.1.2", 9000);
	rules(sg, NULL, &r);
	EXPECT(r.allow, r.n_allow, "ok.test:80,443", "ok.test:123/udp",
	       "198.18.1.2:22,23,8000-8003,9000");
	suggest_result_free(&r);
	suggest_free(sg);
}

static void test_port_scan_left_out(void **state)
{
	struct suggest *sg = new_sg(3);
	struct suggest_result r;

	/* 40 ports: more than a tight rule holds */
	for (long p = 1; p <= 80; p += 2)
		tcp(sg, "198.18.1.3", "198.18.1.3", p);
	/* a long run of consecutive ports is one range, but still too many */
	for (long p = 1000; p < 1100; p++)
		tcp(sg, "198.18.1.4", "198.18.1.4", p);
	/* nine separate runs: more than half an entry's ranges */
	for (long p = 100; p < 118; p += 2)
		tcp(sg, "198.18.1.5", "198.18.1.5", p);
	/* eight runs fit */
	for (long p = 200; p < 216; p += 2)
		tcp(sg, "198.18.1.6", "198.18.1.6", p);
	rules(sg, NULL, &r);
	EXPECT(r.allow, r.n_allow, "198.18.1.6:200,202,204,206,208,210,212,214");
	EXPECT(r.left_out, r.n_left_out,
	       "198.18.1.3 on 40 tcp ports from 1 to 79 (too many for a tight rule: a port scan?)",
	       "198.18.1.4 on 100 tcp ports from 1000 to 1099 (too many for a tight rule: a port "
	       "scan?)",
	       "198.18.1.5 on 9 tcp ports from 100 to 116 (too many for a tight rule: a port "
	       "scan?)");
	suggest_result_free(&r);
	suggest_free(sg);
}

static void test_wildcards(void **state)
{
	struct suggest *sg = new_sg(3);
	struct suggest_result r;

	/* three names under example.com, same ports: one wildcard; the apex
	 * is not under it and keeps its own rule */
	tcp(sg, "a.example.com", "198.18.1.1", 443);
	tcp(sg, "b.example.com", "198.18.1.2", 443);
	tcp(sg, "c.d.example.com", "198.18.1.3", 443);
	tcp(sg, "example.com", "198.18.1.4", 443);
	/* two are not enough */
	tcp(sg, "x.other.org", "198.18.1.5", 443);
	tcp(sg, "y.other.org", "198.18.1.5", 443);
	/* three, but not the same ports */
	tcp(sg, "p.mixed.net", "198.18.1.6", 443);
	tcp(sg, "q.mixed.net", "198.18.1.6", 443);
	tcp(sg, "r.mixed.net", "198.18.1.6", 80);
	/* three, but not the same protocol */
	tcp(sg, "u1.proto.net", "198.18.1.7", 53);
	tcp(sg, "u2.proto.net", "198.18.1.7", 53);
	conn(sg, "job-1", "u3.proto.net", "198.18.1.7", 53, "udp");
	/* never under a public suffix: co.uk (ICANN) and github.io (private) */
	tcp(sg, "a.co.uk", "198.18.2.1", 443);
	tcp(sg, "b.co.uk", "198.18.2.2", 443);
	tcp(sg, "c.co.uk", "198.18.2.3", 443);
	tcp(sg, "one.github.io", "198.18.2.4", 443);
	tcp(sg, "two.github.io", "198.18.2.4", 443);
	tcp(sg, "three.github.io", "198.18.2.4", 443);
	/* never *.com */
	tcp(sg, "first.com", "198.18.2.5", 443);
	tcp(sg, "second.com", "198.18.2.5", 443);
	tcp(sg, "third.com", "198.18.2.5", 443);
	rules(sg, NULL, &r);
	/* names sort by their labels from the right: com, io, net, org, uk */
	EXPECT(r.allow, r.n_allow, "example.com:443", "*.example.com:443", "first.com:443",
	       "second.com:443", "third.com:443", "one.github.io:443", "three.github.io:443",
	       "two.github.io:443", "p.mixed.net:443", "q.mixed.net:443", "r.mixed.net:80",
	       "u1.proto.net:53", "u2.proto.net:53", "u3.proto.net:53/udp", "x.other.org:443",
	       "y.other.org:443", "a.co.uk:443", "b.co.uk:443", "c.co.uk:443");
	suggest_result_free(&r);
	suggest_free(sg);
}

static void test_wildcard_depth_and_min(void **state)
{
	struct suggest *sg = new_sg(3);
	struct suggest_result r;

	/* the deepest parent with enough names wins; what is left counts
	 * toward the parents above */
	tcp(sg, "a.cdn.example.net", "198.18.1.1", 443);
	tcp(sg, "b.cdn.example.net", "198.18.1.1", 443);
	tcp(sg, "c.cdn.example.net", "198.18.1.1", 443);
	tcp(sg, "api.example.net", "198.18.1.2", 443);
	tcp(sg, "www.example.net", "198.18.1.2", 443);
	rules(sg, NULL, &r);
	EXPECT(r.allow, r.n_allow, "api.example.net:443", "*.cdn.example.net:443",
	       "www.example.net:443");
	suggest_result_free(&r);
	suggest_free(sg);

	/* --wildcard-min 2: two are enough; 0: never */
	sg = new_sg(2);
	tcp(sg, "x.other.org", "198.18.1.5", 443);
	tcp(sg, "y.other.org", "198.18.1.5", 443);
	rules(sg, NULL, &r);
	EXPECT(r.allow, r.n_allow, "*.other.org:443");
	suggest_result_free(&r);
	suggest_free(sg);
	sg = new_sg(0);
	tcp(sg, "x.other.org", "198.18.1.5", 443);
	tcp(sg, "y.other.org", "198.18.1.5", 443);
	tcp(sg, "z.other.org", "198.18.1.5", 443);
	rules(sg, NULL, &r);
	EXPECT(r.allow, r.n_allow, "x.other.org:443", "y.other.org:443", "z.other.org:443");
	suggest_result_free(&r);
	suggest_free(sg);
}

static void test_gai_sort_probes(void **state)
{
	struct suggest *sg = new_sg(3);
	struct suggest_result r;

	/* getaddrinfo: a UDP connect to each answer, then TCP to the first */
	conn(sg, "job-1", "ok.test", "198.18.1.1", 443, "udp");
	conn(sg, "job-1", "ok.test", "2001:db8:1::1", 443, "udp");
	conn(sg, "job-1", "ok.test", "198.18.1.1", 443, "tcp");
	/* another job only used UDP to it: that is real UDP */
	conn(sg, "job-2", "ok.test", "198.18.1.1", 443, "udp");
	/* another port of the same name over UDP: kept */
	conn(sg, "job-1", "ok.test", "198.18.1.1", 123, "udp");
	/* datagrams sent (egress.send) are never sorting */
	assert_int_equal(suggest_add_conn(sg, "job-1", "ok.test", "198.18.1.1", 443, "udp", true),
			 0);
	/* an address is never sorted: UDP and TCP to it stay */
	conn(sg, "job-1", "198.18.1.2", "198.18.1.2", 443, "udp");
	conn(sg, "job-1", "198.18.1.2", "198.18.1.2", 443, "tcp");
	rules(sg, NULL, &r);
	EXPECT(r.allow, r.n_allow, "ok.test:443", "ok.test:123,443/udp", "198.18.1.2:443",
	       "198.18.1.2:443/udp");
	assert_int_equal(r.n_sort_probes, 1);
	suggest_result_free(&r);
	suggest_free(sg);

	/* and with only job-1: no UDP rule to ok.test:443 at all */
	sg = new_sg(3);
	conn(sg, "job-1", "ok.test", "198.18.1.1", 443, "udp");
	conn(sg, "job-1", "ok.test", "2001:db8:1::1", 443, "udp");
	conn(sg, "job-1", "ok.test", "198.18.1.1", 443, "tcp");
	conn(sg, "job-1", "v6only.test", "2001:db8:1::2", 80, "udp");
	conn(sg, "job-1", "v6only.test", "2001:db8:1::2", 80, "tcp");
	rules(sg, NULL, &r);
	EXPECT(r.allow, r.n_allow, "ok.test:443", "v6only.test:80");
	assert_int_equal(r.n_sort_probes, 2);
	suggest_result_free(&r);
	suggest_free(sg);
}

static void test_left_out(void **state)
{
	struct suggest *sg = new_sg(3);
	struct suggest_result r;

	tcp(sg, "169.254.169.254", "169.254.169.254", 80);
	tcp(sg, "fd00:ec2::254", "fd00:ec2::254", 80);
	tcp(sg, "10.1.2.3", "10.1.2.3", 443);
	tcp(sg, "169.254.10.1", "169.254.10.1", 8080);
	conn(sg, "job-1", "224.0.0.251", "224.0.0.251", 5353, "udp");
	/* a name that led to a private address (DNS rebinding) */
	tcp(sg, "rebind.test", "10.11.12.13", 80);
	/* loopback: listeners outside the job, each named by a rule (never
	 * "loopback": true); a name that led there is left out */
	tcp(sg, "127.0.0.1", "127.0.0.1", 8080);
	tcp(sg, "::1", "::1", 8080);
	tcp(sg, "localhost", "127.0.0.1", 631);
	/* a server.address no rule can hold */
	tcp(sg, "bad name!", "198.18.1.9", 80);
	tcp(sg, "ok.test", "198.18.1.1", 443);
	rules(sg, NULL, &r);
	EXPECT(r.allow, r.n_allow, "ok.test:443", "127.0.0.1:8080", "[::1]:8080");
	EXPECT(r.left_out, r.n_left_out,
	       "\"bad name!\" port 80/tcp (not a name or address a rule can hold)",
	       "10.1.2.3:443 (private address)", "169.254.10.1:8080 (link-local address)",
	       "169.254.169.254:80 (cloud metadata address)",
	       "224.0.0.251:5353/udp (multicast address)",
	       "[fd00:ec2::254]:80 (cloud metadata address)",
	       "localhost:631 at 127.0.0.1 (loopback address)",
	       "rebind.test:80 at 10.11.12.13 (private address)");
	assert_int_equal(r.n_loopback, 2);
	suggest_result_free(&r);
	suggest_free(sg);
}

static void test_ipv6(void **state)
{
	struct suggest *sg = new_sg(3);
	struct suggest_result r;

	tcp(sg, "2001:db8:1::1", "2001:db8:1::1", 443);
	tcp(sg, "2001:DB8:1:0::1", "2001:db8:1::1", 80); /* one address, two spellings */
	conn(sg, "job-1", "2001:db8::53", "2001:db8::53", 5353, "udp");
	/* IPv4-mapped: the IPv4 address */
	tcp(sg, "::ffff:198.18.1.1", "::ffff:198.18.1.1", 443);
	tcp(sg, "v6only.test", "2001:db8:1::2", 80);
	rules(sg, NULL, &r);
	EXPECT(r.allow, r.n_allow, "v6only.test:80", "198.18.1.1:443", "[2001:db8::53]:5353/udp",
	       "[2001:db8:1::1]:80,443");
	suggest_result_free(&r);
	suggest_free(sg);
}

static void test_unconnected(void **state)
{
	struct suggest *sg = new_sg(3);
	struct suggest_result r;

	assert_int_equal(suggest_add_dns(sg, "job-1", "ok.test", true), 0);
	assert_int_equal(suggest_add_dns(sg, "job-1", "Unused.Test.", true), 0);
	assert_int_equal(suggest_add_dns(sg, "job-1", "nxdomain.test", false), 0);
	assert_int_equal(suggest_add_dns(sg, "job-1", "also-unused.test", true), 0);
	assert_int_equal(suggest_add_dns(sg, "job-2", "udp-only.test", true), 0);
	tcp(sg, "ok.test", "198.18.1.1", 443);
	conn(sg, "job-2", "udp-only.test", "198.18.1.2", 9999, "udp");
	rules(sg, NULL, &r);
	EXPECT(r.allow, r.n_allow, "ok.test:443", "udp-only.test:9999/udp");
	EXPECT(r.unconnected, r.n_unconnected, "also-unused.test", "unused.test");
	suggest_result_free(&r);
	suggest_free(sg);
}

/* the same decisions in any order give the same text */
static void add_all(struct suggest *sg, const int *order, size_t n)
{
	static const struct {
		const char *job, *server, *peer;
		long port;
		const char *tr;
	} in[] = {
		{ "j1", "b.example.com", "198.18.1.2", 443, "tcp" },
		{ "j2", "a.example.com", "198.18.1.1", 443, "tcp" },
		{ "j1", "c.example.com", "198.18.1.3", 443, "tcp" },
		{ "j1", "198.18.1.20", "198.18.1.20", 22, "tcp" },
		{ "j3", "198.18.1.3", "198.18.1.3", 80, "tcp" },
		{ "j2", "2001:db8:1::3", "2001:db8:1::3", 443, "tcp" },
		{ "j1", "2001:db8:1::2", "2001:db8:1::2", 443, "tcp" },
		{ "j2", "zeta.test", "198.18.1.4", 8080, "tcp" },
		{ "j3", "alpha.test", "198.18.1.5", 9999, "udp" },
		{ "j3", "alpha.test", "198.18.1.5", 80, "tcp" },
		{ "j1", "198.18.1.20", "198.18.1.20", 443, "tcp" },
	};

	assert_int_equal(n, sizeof(in) / sizeof(in[0]));
	for (size_t i = 0; i < n; i++) {
		int k = order[i];

		conn(sg, in[k].job, in[k].server, in[k].peer, in[k].port, in[k].tr);
	}
}

static void test_determinism(void **state)
{
	static const int fwd[] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 };
	static const int rev[] = { 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0 };
	static const int mix[] = { 5, 2, 9, 0, 7, 10, 3, 1, 8, 4, 6 };
	const int *orders[] = { fwd, rev, mix };
	char *first = NULL;

	for (size_t o = 0; o < 3; o++) {
		struct suggest *sg = new_sg(3);
		struct suggest_result r;
		char *text;

		add_all(sg, orders[o], 11);
		rules(sg, NULL, &r);
		assert_int_equal(suggest_policy_text("det", r.allow, r.n_allow, &text), 0);
		if (!first) {
			first = text;
			EXPECT(r.allow, r.n_allow, "*.example.com:443", "alpha.test:80",
			       "alpha.test:9999/udp", "zeta.test:8080", "198.18.1.3:80",
			       "198.18.1.20:22,443", "[2001:db8:1::2]:443", "[2001:db8:1::3]:443");
		} else {
			assert_string_equal(text, first);
			free(text);
		}
		suggest_result_free(&r);
		suggest_free(sg);
	}
	free(first);
}

static void test_policy_text(void **state)
{
	struct suggest *sg = new_sg(3);
	struct suggest_result r;
	struct ef_compiled *c = NULL;
	struct ef_policy *p;
	char *text, err[EF_ERR_LEN];

	tcp(sg, "a.example.com", "198.18.1.1", 443);
	tcp(sg, "b.example.com", "198.18.1.1", 443);
	tcp(sg, "c.example.com", "198.18.1.1", 443);
	tcp(sg, "example.com", "198.18.1.1", 80);
	tcp(sg, "2001:db8:1::1", "2001:db8:1::1", 443);
	conn(sg, "job-1", "198.18.1.9", "198.18.1.9", 123, "udp");
	rules(sg, NULL, &r);
	assert_int_equal(suggest_policy_text("my-agent", r.allow, r.n_allow, &text), 0);
	assert_string_equal(text, "{\n"
				  "  \"name\": \"my-agent\",\n"
				  "  \"mode\": \"enforce\",\n"
				  "  \"allow\": [\n"
				  "    \"example.com:80\",\n"
				  "    \"*.example.com:443\",\n"
				  "    \"198.18.1.9:123/udp\",\n"
				  "    \"[2001:db8:1::1]:443\"\n"
				  "  ]\n"
				  "}\n");
	p = policy_of(text);
	assert_string_equal(p->name, "my-agent");
	assert_int_equal(p->mode, EF_MODE_ENFORCE);
	assert_int_equal(p->n_rules, 4);
	if (ef_policy_compile(p, 1, &c, err, sizeof(err)))
		fail_msg("does not compile: %s", err);
	ef_compiled_free(c);
	ef_policy_free(p);
	free(text);
	suggest_result_free(&r);
	suggest_free(sg);

	/* nothing to allow is still a policy */
	assert_int_equal(suggest_policy_text("empty", NULL, 0, &text), 0);
	assert_string_equal(text, "{\n  \"name\": \"empty\",\n  \"mode\": \"enforce\",\n"
				  "  \"allow\": []\n}\n");
	p = policy_of(text);
	assert_int_equal(p->n_rules, 0);
	ef_policy_free(p);
	free(text);
}

static void test_against(void **state)
{
	struct suggest *sg = new_sg(3);
	struct suggest_result r;
	struct ef_policy *p = policy_of("{\"name\": \"old\", \"mode\": \"audit\", \"allow\": ["
					"\"ok.test:443\", \"*.wild.test:80\", \"stale.test:443\", "
					"\"198.18.1.0/24:22\", \"198.18.9.9:443\", "
					"\"169.254.169.254:80\"],"
					"\"deny\": [\"198.18.2.0/24:*\"]}");

	tcp(sg, "ok.test", "198.18.1.1", 443);	  /* covered */
	tcp(sg, "ok.test", "198.18.1.1", 80);	  /* not the port */
	tcp(sg, "a.wild.test", "198.18.1.2", 80); /* by the wildcard */
	tcp(sg, "wild.test", "198.18.1.3", 80);	  /* the apex: not */
	tcp(sg, "198.18.1.5", "198.18.1.5", 22);  /* by the CIDR */
	tcp(sg, "named.test", "198.18.1.6", 22);  /* a name, its address in the CIDR */
	tcp(sg, "198.18.2.7", "198.18.2.7", 443); /* denied by FILE */
	tcp(sg, "169.254.169.254", "169.254.169.254", 80); /* named: not left out */
	rules(sg, p, &r);
	EXPECT(r.allow, r.n_allow, "ok.test:80", "wild.test:80", "198.18.2.7:443");
	EXPECT(r.unused, r.n_unused, "stale.test:443", "198.18.9.9:443");
	EXPECT(r.denied, r.n_denied, "198.18.2.7:443 (deny rule \"198.18.2.0/24:*\")");
	assert_int_equal(r.n_left_out, 0);
	suggest_result_free(&r);
	suggest_free(sg);
	ef_policy_free(p);

	/* a CIDR wider than the metadata address does not open it */
	sg = new_sg(3);
	p = policy_of("{\"name\": \"w\", \"allow\": [\"169.254.0.0/16:*\"]}");
	tcp(sg, "169.254.169.254", "169.254.169.254", 80);
	rules(sg, p, &r);
	assert_int_equal(r.n_allow, 0);
	EXPECT(r.left_out, r.n_left_out, "169.254.169.254:80 (cloud metadata address)");
	EXPECT(r.unused, r.n_unused, "169.254.0.0/16:*");
	suggest_result_free(&r);
	suggest_free(sg);
	ef_policy_free(p);
}

static void test_bad_input(void **state)
{
	struct suggest *sg = new_sg(3);
	struct suggest_result r;

	assert_int_equal(suggest_add_conn(sg, NULL, "ok.test", NULL, 443, "tcp", false), -EINVAL);
	assert_int_equal(suggest_add_conn(sg, "j", NULL, NULL, 443, "tcp", false), -EINVAL);
	assert_int_equal(suggest_add_conn(sg, "j", "", "", 443, "tcp", false), -EINVAL);
	assert_int_equal(suggest_add_conn(sg, "j", "ok.test", NULL, 0, "tcp", false), -EINVAL);
	assert_int_equal(suggest_add_conn(sg, "j", "ok.test", NULL, 65536, "tcp", false), -EINVAL);
	assert_int_equal(suggest_add_conn(sg, "j", "ok.test", NULL, 443, "sctp", false), -EINVAL);
	assert_int_equal(suggest_add_conn(sg, "j", "ok.test", NULL, 443, NULL, false), -EINVAL);
	assert_int_equal(suggest_add_dns(sg, "j", "bad..name", true), -EINVAL);
	assert_int_equal(suggest_add_dns(sg, "j", NULL, true), -EINVAL);
	/* names a rule cannot hold: left out, said once */
	tcp(sg, "-lead.test", "198.18.1.1", 80);
	tcp(sg, "1.2.3", "198.18.1.1", 80);
	tcp(sg, "1.2.3", "198.18.1.1", 80);
	tcp(sg, "ctl\x01name", "198.18.1.1", 80);
	/* a name without a peer address is still a name */
	tcp(sg, "nopeer.test", NULL, 443);
	tcp(sg, "bad-peer.test", "not an address", 443);
	rules(sg, NULL, &r);
	EXPECT(r.allow, r.n_allow, "bad-peer.test:443", "nopeer.test:443");
	EXPECT(r.left_out, r.n_left_out,
	       "\"-lead.test\" port 80/tcp (not a name or address a rule can hold)",
	       "\"1.2.3\" port 80/tcp (not a name or address a rule can hold)",
	       "\"ctl?name\" port 80/tcp (not a name or address a rule can hold)");
	suggest_result_free(&r);
	suggest_free(sg);

	/* nothing at all */
	sg = new_sg(3);
	rules(sg, NULL, &r);
	assert_int_equal(r.n_allow, 0);
	assert_int_equal(r.n_left_out, 0);
	suggest_result_free(&r);
	suggest_free(sg);
}

static void test_set(void **state)
{
	struct suggest_set s = { 0 };
	const char **v;
	char buf[32];
	bool added;

	for (int i = 0; i < 1000; i++) {
		snprintf(buf, sizeof(buf), "k%04d", 999 - i);
		assert_int_equal(suggest_set_add(&s, buf, &added), 0);
		assert_true(added);
	}
	assert_int_equal(suggest_set_add(&s, "k0500", &added), 0);
	assert_false(added);
	assert_true(suggest_set_has(&s, "k0999"));
	assert_false(suggest_set_has(&s, "k1000"));
	assert_int_equal(s.n, 1000);
	assert_int_equal(suggest_set_sorted(&s, &v), 0);
	assert_string_equal(v[0], "k0000");
	assert_string_equal(v[999], "k0999");
	free(v);
	suggest_set_free(&s);
	assert_false(suggest_set_has(&s, "k0000"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names_vs_addresses),
		cmocka_unit_test(test_port_merging),
		cmocka_unit_test(test_port_scan_left_out),
		cmocka_unit_test(test_wildcards),
		cmocka_unit_test(test_wildcard_depth_and_min),
		cmocka_unit_test(test_gai_sort_probes),
		cmocka_unit_test(test_left_out),
		cmocka_unit_test(test_ipv6),
		cmocka_unit_test(test_unconnected),
		cmocka_unit_test(test_determinism),
		cmocka_unit_test(test_policy_text),
		cmocka_unit_test(test_against),
		cmocka_unit_test(test_bad_input),
		cmocka_unit_test(test_set),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
