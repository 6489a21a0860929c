// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * daemon/probe/probe_detect.c, DNS: the counting detectors of names (dns_sweep,
 * dns_tunnel, dns_fanout, dns_tunnel_bytes), driven by a fake clock; what never
 * counts (single-label names and search-list expansions), the tunnel label
 * shape and the registrable-domain grouping (Public Suffix List).
 */
#include "probe_fixture.h"

/* ---- helpers ---- */

static const struct ef_probe_fire *find(const struct ef_probe_fire *out, int n, int reason)
{
	for (int i = 0; i < n; i++)
		if (out[i].reason == reason)
			return &out[i];
	return NULL;
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dns_sweep),
		cmocka_unit_test(test_dns_tunnel),
		cmocka_unit_test(test_dns_fanout),
		cmocka_unit_test(test_dns_label_bytes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
