// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * policy/: diff, and the text editor behind `egressctl policy add/remove` with
 * its canonical rendering.
 */
#include "policy_edit_fixture.h"

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
		cmocka_unit_test(test_diff),
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_edit_add_remove),
		cmocka_unit_test(test_edit_errors),
		cmocka_unit_test(test_edit_speed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
