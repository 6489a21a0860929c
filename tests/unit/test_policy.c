// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * policy/: rule strings, policy files (with the positions of errors), and what
 * a policy says besides its rules (capabilities, host_writes, fail_on_deny).
 */
#include "policy_fixture.h"

/* ---- helpers ---- */

static void dest_str(const struct ef_rule *r, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	if (r->kind == EF_DEST_NAME) {
		snprintf(buf, len, "%s", r->name);
		return;
	}
	if (r->kind == EF_DEST_WILDCARD) {
		snprintf(buf, len, "*.%s", r->name);
		return;
	}
	inet_ntop(r->family == EF_FAM_V4 ? AF_INET : AF_INET6, r->addr, a, sizeof(a));
	snprintf(buf, len, "%s%s%s/%u", r->family == EF_FAM_V6 ? "[" : "", a,
		 r->family == EF_FAM_V6 ? "]" : "", r->prefixlen);
}

static void ports_str(const struct ef_rule *r, char *buf, size_t len)
{
	size_t o = 0;
	int i;

	buf[0] = '\0';
	for (i = 0; i < r->n_ports && o < len; i++)
		o += (size_t)snprintf(buf + o, len - o, "%s%u-%u", i ? "," : "", r->ports[i].lo,
				      r->ports[i].hi);
}

static char *repeat(char c, size_t n, const char *tail)
{
	size_t t = strlen(tail);
	char *s = malloc(n + t + 1);

	assert_non_null(s);
	memset(s, c, n);
	memcpy(s + n, tail, t + 1);
	return s;
}

/* ---- rule strings ---- */

struct rule_case {
	const char *in;
	int col;	    /* 0: valid */
	const char *expect; /* valid: dest as dest_str() prints it; invalid: in the message */
	const char *ports;  /* valid: "lo-hi,..." as written */
	__u8 protos;
};

#define BAD(in, col, msg) { in, col, msg, NULL, 0 }

static const struct rule_case rule_cases[] = {
	/* valid */
	{ "api.anthropic.com:443", 0, "api.anthropic.com", "443-443", EF_PROTO_TCP },
	{ "API.Anthropic.COM.:443", 0, "api.anthropic.com", "443-443", EF_PROTO_TCP },
	{ "*.githubusercontent.com:443", 0, "*.githubusercontent.com", "443-443", EF_PROTO_TCP },
	{ "*.A.b.c:80,443", 0, "*.a.b.c", "80-80,443-443", EF_PROTO_TCP },
	{ "140.82.112.0/20:22,443", 0, "140.82.112.0/20", "22-22,443-443", EF_PROTO_TCP },
	{ "[2606:50c0::]/32:443", 0, "[2606:50c0::]/32", "443-443", EF_PROTO_TCP },
	{ "[2606:50c0::/32]:443", 0, "[2606:50c0::]/32", "443-443", EF_PROTO_TCP },
	{ "[2001:db8::1]:8443/udp", 0, "[2001:db8::1]/128", "8443-8443", EF_PROTO_UDP },
	{ "time.google.com:123/udp", 0, "time.google.com", "123-123", EF_PROTO_UDP },
	{ "dns.example:53/any", 0, "dns.example", "53-53", EF_PROTO_ANY },
	{ "foo.com:443/TCP", 0, "foo.com", "443-443", EF_PROTO_TCP },
	{ "10.0.0.0/8:*", 0, "10.0.0.0/8", "0-65535", EF_PROTO_TCP },
	{ "10.0.0.1:8000-8100", 0, "10.0.0.1/32", "8000-8100", EF_PROTO_TCP },
	{ "0.0.0.0/0:443", 0, "0.0.0.0/0", "443-443", EF_PROTO_TCP },
	{ "[::]/0:443", 0, "[::]/0", "443-443", EF_PROTO_TCP },
	{ "[::ffff:10.0.0.0]/104:443", 0, "10.0.0.0/8", "443-443", EF_PROTO_TCP },
	{ "[::ffff:192.0.2.1]:80", 0, "192.0.2.1/32", "80-80", EF_PROTO_TCP },
	{ "[::ffff:192.0.2.0/120]:80", 0, "192.0.2.0/24", "80-80", EF_PROTO_TCP },
	{ "169.254.169.254:*", 0, "169.254.169.254/32", "0-65535", EF_PROTO_TCP },
	{ "x.com:1,2,3-5,65535", 0, "x.com", "1-1,2-2,3-5,65535-65535", EF_PROTO_TCP },
	{ "localhost:8080", 0, "localhost", "8080-8080", EF_PROTO_TCP },
	{ "_dmarc.example.com:25", 0, "_dmarc.example.com", "25-25", EF_PROTO_TCP },
	{ "a-b.c-d.example:1", 0, "a-b.c-d.example", "1-1", EF_PROTO_TCP },
	/* invalid: the column points at what is wrong */
	BAD("api.x.com", 10, "missing port: write \"api.x.com:443\" or \"api.x.com:*\""),
	BAD("x.com/udp", 6, "\"x.com:443/udp\" or \"x.com:*/udp\""),
	BAD("[::1]", 6, "\"[::1]:443\" or \"[::1]:*\""),
	BAD("10.0.0.0/8", 11, "\"10.0.0.0/8:443\" or \"10.0.0.0/8:*\""),
	BAD("10.1.2.3/8:443", 1, "host bits set: did you mean 10.0.0.0/8?"),
	BAD("[2001:db8::1]/32:443", 1, "did you mean [2001:db8::]/32?"),
	BAD("10.0.0.0/33:443", 10, "prefix length 33 out of range 0-32"),
	BAD("10.0.0.0/:443", 10, "missing prefix length"),
	BAD("10.0.0.256:443", 8, "ipv4 part 256 out of range"),
	BAD("10.0.0:443", 7, "ipv4 address needs 4 parts"),
	BAD("01.2.3.4:443", 1, "leading zero"),
	BAD("x.com:0", 7, "port 0 out of range 1-65535"),
	BAD("x.com:65536", 7, "port 65536 out of range 1-65535"),
	BAD("x.com:80,65536", 10, "port 65536 out of range"),
	BAD("x.com:9000-8000", 7, "reversed port range 9000-8000"),
	BAD("x.com:80-", 10, "missing port number"),
	BAD("2001:db8::1:443", 1, "need brackets: write \"[2001:db8::1]:443\""),
	BAD("2001:db8::/32:443", 1, "write \"[2001:db8::]/32:443\""),
	BAD("2001:db8::1", 1, "brackets and a port"),
	BAD("x.com:80/sctp", 10, "unknown protocol \"sctp\": use tcp, udp or any"),
	BAD("x.com:80/", 10, "missing protocol"),
	BAD("a.*.com:443", 3, "'*' is only allowed as the whole leftmost label"),
	BAD("*x.com:443", 1, "'*' is only allowed"),
	BAD("*:443", 1, "'*' is only allowed"),
	BAD("x.com:*,80", 7, "'*' cannot be combined"),
	BAD("x..com:1", 3, "empty label"),
	BAD("-x.com:1", 1, "cannot start or end with '-'"),
	BAD("x-.com:1", 2, "cannot start or end with '-'"),
	BAD("exa mple.com:443", 4, "invalid character ' ' in name"),
	BAD("x.com:", 7, "missing port after ':'"),
	BAD("x.com:80,,443", 10, "empty port in list"),
	BAD("x.com:443x", 10, "invalid character 'x' in port"),
	BAD(":443", 1, "missing destination"),
	BAD("[1.2.3.4]:443", 2, "brackets are only for ipv6"),
	BAD("[::1:443", 1, "missing ']'"),
	BAD("[::/8]/8:1", 7, "prefix length given twice"),
	BAD("[::]/129:1", 6, "prefix length 129 out of range 0-128"),
	BAD("[::1]x:1", 6, "expected ':' after the address"),
	BAD("[fe80::1%eth0]:443", 2, "zone ids"),
	BAD("[2001:db8::g]:443", 2, "bad ipv6 address"),
	BAD("", 1, "empty rule"),
};

static void test_rule_table(void **state)
{
	size_t i, n = sizeof(rule_cases) / sizeof(rule_cases[0]);
	char err[EF_ERR_LEN], got[128], ports[256], want[EF_ERR_LEN];
	int n_valid = 0, n_invalid = 0;

	for (i = 0; i < n; i++) {
		const struct rule_case *tc = &rule_cases[i];
		struct ef_rule r;
		int ret = ef_rule_parse(tc->in, i % 2, &r, err, sizeof(err));

		if (!tc->col) {
			if (ret)
				fail_msg("\"%s\": unexpected error %s", tc->in, err);
			dest_str(&r, got, sizeof(got));
			ports_str(&r, ports, sizeof(ports));
			if (strcmp(got, tc->expect) || strcmp(ports, tc->ports) ||
			    r.protos != tc->protos || r.deny != (i % 2) || strcmp(r.text, tc->in))
				fail_msg("\"%s\": got %s ports %s protos %u", tc->in, got, ports,
					 r.protos);
			ef_rule_clear(&r);
			n_valid++;
			continue;
		}
		if (!ret)
			fail_msg("\"%s\": accepted", tc->in);
		assert_int_equal(ret, -EINVAL);
		snprintf(want, sizeof(want), "%d: ", tc->col);
		if (strncmp(err, want, strlen(want)) || !strstr(err, tc->expect))
			fail_msg("\"%s\": got \"%s\", want \"%s...%s\"", tc->in, err, want, tc->expect);
		assert_null(r.text);
		assert_null(r.name);
		n_invalid++;
	}
	assert_true(n_valid >= 20 && n_invalid >= 40);
}

static void test_rule_lengths(void **state)
{
	char err[EF_ERR_LEN], *s, ports[512];
	struct ef_rule r;
	size_t o;
	int i;

	s = repeat('a', 63, ".com:443"); /* the longest label */
	assert_int_equal(ef_rule_parse(s, false, &r, err, sizeof(err)), 0);
	ef_rule_clear(&r);
	free(s);
	s = repeat('a', 64, ".com:443");
	assert_int_equal(ef_rule_parse(s, false, &r, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "1: label longer than 63 characters");
	free(s);

	/* 253 characters is the longest name: 63 + 1 + 63 + 1 + 63 + 1 + 61 */
	s = malloc(300);
	assert_non_null(s);
	memset(s, 'a', 253);
	s[63] = s[127] = s[191] = '.';
	strcpy(s + 253, ":1");
	assert_int_equal(ef_rule_parse(s, false, &r, err, sizeof(err)), 0);
	assert_int_equal(strlen(r.name), 253);
	ef_rule_clear(&r);
	memset(s, 'a', 254);
	s[63] = s[127] = s[191] = '.';
	strcpy(s + 254, ":1");
	assert_int_equal(ef_rule_parse(s, false, &r, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "1: name longer than 253 characters");
	free(s);

	/* EF_MAX_PORT_SPECS items, then one more */
	for (o = 0, i = 1; i <= EF_MAX_PORT_SPECS; i++)
		o += (size_t)snprintf(ports + o, sizeof(ports) - o, "%s%d", i > 1 ? "," : "", i);
	s = malloc(600);
	assert_non_null(s);
	snprintf(s, 600, "x.com:%s", ports);
	assert_int_equal(ef_rule_parse(s, false, &r, err, sizeof(err)), 0);
	assert_int_equal(r.n_ports, EF_MAX_PORT_SPECS);
	ef_rule_clear(&r);
	snprintf(s, 600, "x.com:%s,99", ports);
	assert_int_equal(ef_rule_parse(s, false, &r, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "too many ports"));
	free(s);
}

static void test_addr_parse(void **state)
{
	static const __u8 v6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
	__u8 fam, a[16];

	assert_int_equal(ef_addr_parse("192.0.2.7", &fam, a), 0);
	assert_int_equal(fam, EF_FAM_V4);
	assert_memory_equal(a, ((__u8[16]){ 192, 0, 2, 7 }), 16);
	assert_int_equal(ef_addr_parse("2001:db8::1", &fam, a), 0);
	assert_int_equal(fam, EF_FAM_V6);
	assert_memory_equal(a, v6, 16);
	assert_int_equal(ef_addr_parse("::ffff:10.1.2.3", &fam, a), 0);
	assert_int_equal(fam, EF_FAM_V4);
	assert_memory_equal(a, ((__u8[16]){ 10, 1, 2, 3 }), 16);
	assert_int_equal(ef_addr_parse("1.2.3", &fam, a), -EINVAL);
	assert_int_equal(ef_addr_parse("1.2.3.4 ", &fam, a), -EINVAL);
	assert_int_equal(ef_addr_parse("[::1]", &fam, a), -EINVAL);
	assert_int_equal(ef_addr_parse("", &fam, a), -EINVAL);
	assert_int_equal(ef_addr_parse("fe80::1%lo", &fam, a), -EINVAL);
}

/* ---- policy files ---- */

struct json_case {
	const char *text;
	const char *prefix; /* exact start of the message */
	const char *substr; /* and somewhere in it */
};

static const struct json_case json_cases[] = {
	{ "{\n  \"name\": \"x\",\n  \"allow\": [\"a.com:443\" \"b.com:443\"]\n}", "t.json:3:25: ",
	  "expected ',' or ']'" },
	{ "{\n  \"name\": \"x\",\n  \"alow\": []\n}", "t.json:3:3: ",
	  "unknown key \"alow\": did you mean \"allow\"?" },
	{ "{\n  \"name\": \"x\",\n  \"mode\": \"strict\"\n}", "t.json:3:11: ",
	  "\"mode\" must be \"enforce\" or \"audit\"" },
	{ "{\n  \"name\": \"x\",\n  \"allow\": [\n    \"a.com:443\",\n    \"b.com:99999\"\n  ]\n}",
	  "t.json:5:12: ", "port 99999 out of range 1-65535" },
	{ "{\n  \"name\": \"x\",\n  \"allow\": [\n    \"api.x.com\"\n  ]\n}", "t.json:4:15: ",
	  "missing port: write \"api.x.com:443\" or \"api.x.com:*\"" },
	{ "{\n  \"name\": \"x\",\n  \"allow\": [\n    \"a.com:443\",\n    \"A.COM.:443\"\n  ]\n}",
	  "t.json:5:5: ", "duplicate rule (first at 4:5)" },
	{ "{\n  \"name\": \"x\",\n  \"deny\": [\"10.0.0.0/8:22,80\", \"10.0.0.0/8:80,22\"]\n}",
	  "t.json:3:32: ", "duplicate rule (first at 3:12)" },
	{ "{\n  \"name\": \"x\",\n  \"loopback\": true,\n  \"loopback\": false\n}", "t.json:4:3: ",
	  "duplicate key \"loopback\" (first at 3:3)" },
	{ "{\n  \"name\": \"x\",\n  \"allow\": \"a.com:443\"\n}", "t.json:3:12: ",
	  "\"allow\" must be an array of rule strings" },
	{ "{\n  \"name\": \"x\",\n  \"loopback\": \"yes\"\n}", "t.json:3:15: ",
	  "\"loopback\" must be \"own\", true or false" },
	{ "", "t.json:1:1: ", "empty file" },
	{ " \n\t ", "t.json:1:1: ", "empty file" },
	{ "{\"name\": \"x\"}\n}", "t.json:2:1: ", "after the end of the JSON value" },
	{ "{\"name\": \"x\", \"deny\": [true]}", "t.json:1:24: ", "a rule must be a string" },
	{ "{\"mode\": \"audit\"}", "t.json:1:1: ", "missing \"name\"" },
	{ "{\"name\": \"my_Policy\"}", "t.json:1:14: ", "invalid character in name" },
	{ "{\"name\": \"\"}", "t.json:1:10: ", "must not be empty" },
	{ "{\"name\": 7}", "t.json:1:10: ", "\"name\" must be a string" },
	{ "{\"name\": \"x\", \"dns\": {\"upstreams\": []}}", "t.json:1:23: ",
	  "unknown key \"upstreams\" in dns: did you mean \"upstream\"?" },
	{ "{\"name\": \"x\", \"dns\": {\"upstream\": [\"1.1.1.1:0\"]}}", "t.json:1:45: ",
	  "port 0 out of range" },
	{ "{\"name\": \"x\", \"dns\": {\"upstream\": [\"example.com\"]}}", "t.json:1:37: ",
	  "an upstream must be an IP address" },
	{ "{\"name\": \"x\", \"probe\": {\"window_s\": 0}}", "t.json:1:37: ",
	  "\"probe.window_s\" must be an integer from 1 to 86400" },
	{ "{\"name\": \"x\", \"probe\": {\"window_s\": 86401}}", "t.json:1:37: ",
	  "\"probe.window_s\" must be an integer from 1 to 86400" },
	{ "{\"name\": \"x\", \"probe\": {\"denied_dests\": 10001}}", "t.json:1:41: ",
	  "\"probe.denied_dests\" must be an integer from 1 to 10000" },
	{ "{\"name\": \"x\", \"probe\": {\"names_per_parent\": -3}}", "t.json:1:45: ",
	  "\"probe.names_per_parent\" must be an integer from 1 to 10000" },
	{ "{\"name\": \"x\", \"probe\": {\"tunnel_names\": \"5\"}}", "t.json:1:41: ",
	  "\"probe.tunnel_names\" must be an integer from 1 to 10000" },
	{ "{\"name\": \"x\", \"probe\": {\"denied_names\": null}}", "t.json:1:41: ",
	  "\"probe.denied_names\" must be an integer from 1 to 10000" },
	{ "{\"name\": \"x\", \"probe\": {\"dns_label_bytes\": 0}}", "t.json:1:44: ",
	  "\"probe.dns_label_bytes\" must be an integer from 1 to 1000000" },
	{ "{\"name\": \"x\", \"probe\": {\"dns_label_bytes\": 1000001}}", "t.json:1:44: ",
	  "\"probe.dns_label_bytes\" must be an integer from 1 to 1000000" },
	{ "{\"name\": \"x\", \"probe\": {\"dns_label_bytes\": 512.5}}", "t.json:1:44: ",
	  "must be an integer" },
	{ "{\"name\": \"x\", \"dns\": {\"query_rate\": 0}}", "t.json:1:37: ",
	  "\"dns.query_rate\" must be an integer from 1 to 100000" },
	{ "{\"name\": \"x\", \"dns\": {\"query_rate\": \"100\"}}", "t.json:1:37: ",
	  "\"dns.query_rate\" must be an integer from 1 to 100000" },
	{ "{\"name\": \"x\", \"dns\": {\"query_burst\": 100001}}", "t.json:1:38: ",
	  "\"dns.query_burst\" must be an integer from 1 to 100000" },
	{ "{\"name\": \"x\", \"dns\": {\"query_burst\": -1}}", "t.json:1:38: ",
	  "\"dns.query_burst\" must be an integer from 1 to 100000" },
	{ "{\"name\": \"x\", \"probe\": {\"flood\": 0}}", "t.json:1:34: ",
	  "\"probe.flood\" must be an integer from 1 to 100000000" },
	{ "{\"name\": \"x\", \"probe\": {\"flood\": 100000001}}", "t.json:1:34: ",
	  "\"probe.flood\" must be an integer from 1 to 100000000" },
	{ "{\"name\": \"x\", \"probe\": {\"flood\": 2.5}}", "t.json:1:34: ",
	  "\"probe.flood\" must be an integer from 1 to 100000000" },
	{ "{\"name\": \"x\", \"probe\": {\"flood\": \"9\"}}", "t.json:1:34: ",
	  "\"probe.flood\" must be an integer from 1 to 100000000" },
	{ "{\"name\": \"x\", \"probe\": {\"entropy\": 3}}", "t.json:1:",
	  "unknown key" },
	{ "{\"name\": \"x\", \"probe\": [1]}", "t.json:1:", "" },
	{ "{\"name\": \"x\", \"probe\": {\"ports_per_host\": 1.5}}", "t.json:1:43: ",
	  "must be an integer" },
	{ "{\"name\": \"x\", \"probe\": {\"action\": \"ban\"}}", "t.json:1:35: ",
	  "\"alert\", \"freeze\" or \"kill\"" },
	{ "{\"name\": \"x\", \"probe\": {\"window_s\": 030}}", "t.json:1:37: ", "leading zero" },
	{ "{\"name\": \"x", "t.json:1:10: ", "unterminated string" },
	{ "{\"name\": \"x\", \"allow\": [\"a.com:443\"", "t.json:1:36: ",
	  "unexpected end of file: '[' at 1:24 is not closed" },
	{ "{\"name\": \"x\", \"allow\": [\"a.com:443\",]}", "t.json:1:37: ", "trailing comma" },
	{ "{\"name\": \"x\", \"allow\": [\"\\u0061.com:0\"]}", "t.json:1:37: ", "port 0" },
	{ "{\"name\": \"x\", \"allow\": [\"a.com:443\\u0000x\"]}", "t.json:1:35: ",
	  "\\u0000 is not allowed" },
	{ "{\"name\": \"x\", \"description\": \"h\xc3\xa9llo\", \"allow\": [\"b.com:0\"]}",
	  "t.json:1:56: ", "port 0" },
	{ "[]", "t.json:1:1: ", "the policy must be an object" },
	{ "{\"name\": \"x\", \"sockets\": {\"families\": [\"bogus\"]}}", "t.json:1:40: ",
	  "unknown address family \"bogus\"" },
	{ "{\"name\": \"x\", \"sockets\": {\"families\": [64]}}", "t.json:1:40: ",
	  "from 0 to 63" },
	{ "{\"name\": \"x\", \"sockets\": {\"raw\": 1}}", "t.json:1:34: ",
	  "\"sockets.raw\" must be true or false" },
	{ "{\"name\": \"x\", \"sockets\": {\"multicast\": \"yes\"}}", "t.json:1:40: ",
	  "\"sockets.multicast\" must be true or false" },
	{ "{\r\n  \"name\": \"x\",\r\n  \"bogus\": 1\r\n}", "t.json:3:3: ", "unknown key \"bogus\"" },
	{ "{\"name\": \"x\", \"allow\": [\"10.1.2.3/8:443\"]}", "t.json:1:26: ",
	  "host bits set: did you mean 10.0.0.0/8?" },
	{ "{\"name\": \"x\", \"allow\": [\"2001:db8::1:443\"]}", "t.json:1:26: ",
	  "\"[2001:db8::1]:443\"" },
	{ "{\"name\": \"x\", \"mode\": tru}", "t.json:1:23: ", "invalid literal" },
	{ "{\"name\" \"x\"}", "t.json:1:9: ", "expected ':'" },
	{ "{\"name\": \"x\" \"mode\": \"audit\"}", "t.json:1:14: ", "expected ',' or '}'" },
	{ "{\"name\": \"x\", \"allow\": [\"a\tb:1\"]}", "t.json:1:27: ", "control character" },
};

static void check_json_err(const char *text, size_t len, const char *prefix, const char *substr)
{
	struct ef_policy *p = (void *)1;
	char err[EF_ERR_LEN];
	int ret;

	ret = ef_policy_parse(text, len, "t.json", &p, err, sizeof(err));
	if (!ret)
		fail_msg("accepted: %s", text);
	assert_null(p);
	if (strncmp(err, prefix, strlen(prefix)) || !strstr(err, substr))
		fail_msg("text %s\n got \"%s\"\nwant \"%s...%s\"", text, err, prefix, substr);
}

static void test_json_errors(void **state)
{
	size_t i;

	for (i = 0; i < sizeof(json_cases) / sizeof(json_cases[0]); i++)
		check_json_err(json_cases[i].text, strlen(json_cases[i].text), json_cases[i].prefix,
			       json_cases[i].substr);
}

static void test_json_limits(void **state)
{
	static const char nul[] = "{\"name\": \"x\0\"}";
	char *big, *deep, want[64];
	size_t n = EF_POLICY_MAX_BYTES + 1, i;

	check_json_err(nul, sizeof(nul) - 1, "t.json:1:12: ", "NUL byte");

	big = malloc(n);
	assert_non_null(big);
	memset(big, ' ', n);
	memcpy(big, "{\"name\": \"x\"}", 13);
	snprintf(want, sizeof(want), "file larger than %u bytes", EF_POLICY_MAX_BYTES);
	check_json_err(big, n, "t.json:1:1: ", want);
	/* exactly at the limit is fine */
	{
		struct ef_policy *p;
		char err[EF_ERR_LEN];

		assert_int_equal(ef_policy_parse(big, n - 1, "t.json", &p, err, sizeof(err)), 0);
		ef_policy_free(p);
	}
	free(big);

	deep = malloc(200);
	assert_non_null(deep);
	strcpy(deep, "{\"name\": \"x\", \"description\": ");
	for (i = 0; i < 40; i++)
		strcat(deep, "[");
	for (i = 0; i < 40; i++)
		strcat(deep, "]");
	strcat(deep, "}");
	check_json_err(deep, strlen(deep), "t.json:1:", "nesting deeper than");
	free(deep);
}

static const char full_policy[] =
	"{\n"
	"  \"name\": \"claude-code\",\n"
	"  \"description\": \"coding agent\",\n"
	"  \"mode\": \"audit\",\n"
	"  \"allow\": [\n"
	"    \"api.anthropic.com:443\",\n"
	"    \"*.githubusercontent.com:443\",\n"
	"    \"140.82.112.0/20:22,443\",\n"
	"    \"[2606:50c0::]/32:443\",\n"
	"    \"time.google.com:123/udp\"\n"
	"  ],\n"
	"  \"deny\": [\"169.254.169.254:*\"],\n"
	"  \"loopback\": false,\n"
	"  \"dns\": { \"upstream\": [\"1.1.1.1\", \"[2606:4700::1111]:53\"],\n"
	"           \"query_rate\": 20, \"query_burst\": 200 },\n"
	"  \"probe\": { \"action\": \"freeze\", \"denied_dests\": 20, \"denied_names\": 30,\n"
	"             \"ports_per_host\": 10, \"window_s\": 60, \"dns_label_bytes\": 700 },\n"
	"  \"sockets\": { \"raw\": true, \"packet\": false, \"icmp\": true,\n"
	"               \"other_protocols\": true, \"multicast\": true,\n"
	"               \"families\": [\"vsock\", \"can\", 42] }\n"
	"}\n";

static void test_full_policy(void **state)
{
	static const __u8 gh[16] = { 140, 82, 112, 0 };
	static const __u8 v6[16] = { 0x26, 0x06, 0x50, 0xc0 };
	char err[EF_ERR_LEN];
	struct ef_policy *p;
	const struct ef_rule *r;

	assert_int_equal(ef_policy_parse(full_policy, strlen(full_policy), "cc.json", &p, err,
					 sizeof(err)),
			 0);
	assert_string_equal(p->name, "claude-code");
	assert_string_equal(p->file, "cc.json");
	assert_string_equal(p->source, full_policy);
	assert_int_equal(p->mode, EF_MODE_AUDIT);
	assert_false(p->loopback);
	assert_int_equal(p->flags,
			 EF_PF_RAW | EF_PF_ICMP | EF_PF_OTHER_PROTO | EF_PF_MULTICAST);
	assert_int_equal(p->families, (1ull << 1) | (1ull << 2) | (1ull << 10) | (1ull << 16) |
					      (1ull << 40) | (1ull << 29) | (1ull << 42));
	assert_int_equal(p->n_dns_upstream, 2);
	assert_string_equal(p->dns_upstream[0], "1.1.1.1");
	assert_string_equal(p->dns_upstream[1], "[2606:4700::1111]:53");
	assert_int_equal(p->dns_query_rate, 20);
	assert_int_equal(p->dns_query_burst, 200);
	assert_int_equal(p->probe.dns_label_bytes, 700);
	assert_int_equal(p->probe.action, EF_PROBE_FREEZE);
	assert_int_equal(p->probe.denied_dests, 20);
	assert_int_equal(p->probe.denied_names, 30);
	assert_int_equal(p->probe.ports_per_host, 10);
	assert_int_equal(p->probe.window_s, 60);

	assert_int_equal(p->n_rules, 6);
	r = &p->rules[0];
	assert_string_equal(r->text, "api.anthropic.com:443");
	assert_int_equal(r->kind, EF_DEST_NAME);
	assert_string_equal(r->name, "api.anthropic.com");
	assert_int_equal(r->line, 6);
	assert_int_equal(r->col, 5);
	assert_false(r->deny);
	r = &p->rules[1];
	assert_int_equal(r->kind, EF_DEST_WILDCARD);
	assert_string_equal(r->name, "githubusercontent.com");
	r = &p->rules[2];
	assert_int_equal(r->kind, EF_DEST_CIDR);
	assert_int_equal(r->family, EF_FAM_V4);
	assert_int_equal(r->prefixlen, 20);
	assert_memory_equal(r->addr, gh, 16);
	assert_int_equal(r->n_ports, 2);
	assert_int_equal(r->ports[0].lo, 22);
	assert_int_equal(r->ports[1].hi, 443);
	assert_int_equal(r->protos, EF_PROTO_TCP);
	r = &p->rules[3];
	assert_int_equal(r->family, EF_FAM_V6);
	assert_int_equal(r->prefixlen, 32);
	assert_memory_equal(r->addr, v6, 16);
	r = &p->rules[4];
	assert_int_equal(r->protos, EF_PROTO_UDP);
	assert_int_equal(r->line, 10);
	r = &p->rules[5];
	assert_true(r->deny);
	assert_int_equal(r->prefixlen, 32);
	assert_int_equal(r->ports[0].lo, 0);
	assert_int_equal(r->ports[0].hi, 65535);
	assert_int_equal(r->line, 12);
	assert_int_equal(r->col, 12);
	ef_policy_free(p);
}

static void test_defaults_and_order(void **state)
{
	static const char text[] = "{\"deny\": [\"10.0.0.0/8:22\"], \"name\": \"a.b_c-9\","
				   " \"allow\": [\"10.0.0.0/8:22\", \"x.com:1\"]}";
	char err[EF_ERR_LEN];
	struct ef_policy *p;

	assert_int_equal(ef_policy_parse(text, strlen(text), NULL, &p, err, sizeof(err)), 0);
	assert_int_equal(p->mode, EF_MODE_ENFORCE);
	assert_int_equal(p->loopback, EF_LOOPBACK_OWN);
	assert_int_equal(p->flags, EF_PF_LOOPBACK_OWN);
	assert_int_equal(p->n_inbound, 0);
	assert_int_equal(p->families, (1ull << 1) | (1ull << 2) | (1ull << 10) | (1ull << 16));
	assert_int_equal(p->probe.action, EF_PROBE_ALERT);
	assert_int_equal(p->n_dns_upstream, 0);
	/* allow rules first, then deny rules, whatever the key order; the same
	 * rule in both lists is not a duplicate */
	assert_int_equal(p->n_rules, 3);
	assert_false(p->rules[0].deny);
	assert_false(p->rules[1].deny);
	assert_true(p->rules[2].deny);
	assert_string_equal(p->rules[2].text, "10.0.0.0/8:22");
	ef_policy_free(p);
}

static void test_load(void **state)
{
	char path[] = "/tmp/ef-test-XXXXXX", err[EF_ERR_LEN];
	static const char text[] = "{\"name\": \"x\", \"allow\": [\"a.com\"]}";
	struct ef_policy *p;
	int fd;

	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	assert_int_equal(ef_policy_load(path, &p, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, ":1:31: missing port"));
	assert_int_equal(strncmp(err, path, strlen(path)), 0);
	/* one byte over the limit is refused; the limit itself is read whole */
	fd = open(path, O_RDWR | O_TRUNC);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, EF_POLICY_MAX_BYTES + 1), 0);
	assert_int_equal(ef_policy_load(path, &p, err, sizeof(err)), -EFBIG);
	assert_non_null(strstr(err, ":1:1: file larger than"));
	assert_int_equal(ftruncate(fd, EF_POLICY_MAX_BYTES), 0);
	assert_int_equal(ef_policy_load(path, &p, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, ":1:1: NUL byte in file"));
	close(fd);
	unlink(path);
	assert_int_equal(ef_policy_load(path, &p, err, sizeof(err)), -ENOENT);
	assert_null(p);
	assert_int_equal(ef_policy_load("/", &p, err, sizeof(err)), -EISDIR);
}

/* ---- "capabilities" (policy/caps.c) ---- */

static void test_capabilities(void **state)
{
	char err[EF_ERR_LEN], all[2048];
	struct ef_policy *p;
	__u64 def;
	const char *bad;

	(void)state;
	def = ef_caps_default();
	/* Docker's default set: CHOWN DAC_OVERRIDE FOWNER FSETID KILL SETGID SETUID
	 * SETPCAP NET_BIND_SERVICE SYS_CHROOT MKNOD AUDIT_WRITE SETFCAP */
	assert_true(def == ((1ull << 0) | (1ull << 1) | (1ull << 3) | (1ull << 4) | (1ull << 5) |
			    (1ull << 6) | (1ull << 7) | (1ull << 8) | (1ull << 10) | (1ull << 18) |
			    (1ull << 27) | (1ull << 29) | (1ull << 31)));
	/* the BPF side's set is the table's */
	assert_true(ef_caps_recorded() == EF_CAPS_RECORDED);
	assert_true(!(def & ef_caps_never()));

	p = parse_ok("{\"name\": \"c\"}");
	assert_true(ef_policy_caps(p) == def);
	assert_int_equal(ef_policy_lint_all(p, 10, all, sizeof(all)), 0);
	ef_policy_free(p);
	/* raw sockets bring CAP_NET_RAW */
	p = parse_ok("{\"name\": \"c\", \"sockets\": {\"raw\": true}}");
	assert_true(ef_policy_caps(p) == (def | 1ull << 13));
	ef_policy_free(p);
	p = parse_ok("{\"name\": \"c\", \"sockets\": {\"packet\": true}}");
	assert_true(ef_policy_caps(p) == (def | 1ull << 13));
	ef_policy_free(p);
	/* by name, any case, with or without CAP_; lint names each, in audit mode too */
	p = parse_ok("{\"name\": \"c\", \"mode\": \"audit\",\n"
		     " \"capabilities\": [\"net_admin\", \"CAP_SYS_NICE\", \"chown\"]}");
	/* audit mode lets raw sockets through: CAP_NET_RAW */
	assert_true(ef_policy_caps(p) == (def | 1ull << 12 | 1ull << 13 | 1ull << 23));
	assert_int_equal(ef_policy_lint_all(p, 10, all, sizeof(all)), 2);
	assert_non_null(strstr(all, "c.json:2:18: \"capabilities\": CAP_NET_ADMIN lets a root job "
				    "reconfigure the runner's network"));
	assert_non_null(strstr(all, "CAP_SYS_NICE"));
	assert_int_equal(ef_policy_lint(p, err, sizeof(err)), -EINVAL);
	ef_policy_free(p);
	/* never granted, unknown, malformed: errors with their position */
	static const struct {
		const char *text, *want;
	} errs[] = {
		{ "{\"name\": \"c\", \"capabilities\": [\"BPF\"]}",
		  "c.json:1:32: capability CAP_BPF can never be granted" },
		{ "{\"name\": \"c\", \"capabilities\": [\"cap_sys_module\"]}",
		  "c.json:1:32: capability CAP_SYS_MODULE can never be granted" },
		{ "{\"name\": \"c\", \"capabilities\": [\"NET_ADMIN\", \"SYS_RAWIO\"]}",
		  "c.json:1:45: capability CAP_SYS_RAWIO can never be granted" },
		{ "{\"name\": \"c\", \"capabilities\": [\"SYS_BOOT\"]}", "CAP_SYS_BOOT can never" },
		{ "{\"name\": \"c\", \"capabilities\": [\"MAC_ADMIN\"]}", "CAP_MAC_ADMIN can never" },
		{ "{\"name\": \"c\", \"capabilities\": [\"mac_override\"]}", "CAP_MAC_OVERRIDE can never" },
		{ "{\"name\": \"c\", \"capabilities\": [\"SYS_PTRACE\"]}", "CAP_SYS_PTRACE can never" },
		{ "{\"name\": \"c\", \"capabilities\": [\"PERFMON\"]}", "CAP_PERFMON can never" },
		{ "{\"name\": \"c\", \"capabilities\": [\"NET_ADMINN\"]}",
		  "c.json:1:32: unknown capability \"NET_ADMINN\"" },
		{ "{\"name\": \"c\", \"capabilities\": [12]}",
		  "c.json:1:32: a capability must be a name" },
		{ "{\"name\": \"c\", \"capabilities\": \"NET_ADMIN\"}",
		  "c.json:1:31: \"capabilities\" must be an array" },
	};
	for (size_t i = 0; i < sizeof(errs) / sizeof(errs[0]); i++) {
		bad = errs[i].text;
		p = NULL;
		assert_int_equal(ef_policy_parse(bad, strlen(bad), "c.json", &p, err, sizeof(err)),
				 -EINVAL);
		assert_null(p);
		if (!strstr(err, errs[i].want))
			fail_msg("%s: got \"%s\", want \"%s\"", bad, err, errs[i].want);
	}
}

/* ---- "host_writes" (cli/overlay.c reads it through egressd) ---- */

static void test_host_writes(void **state)
{
	char err[EF_ERR_LEN], all[2048];
	struct ef_policy *p, *q;
	struct ef_policy_change c;
	const char *bad = "{\"name\": \"c\", \"host_writes\": \"yes\"}";

	(void)state;
	p = parse_ok("{\"name\": \"c\"}");
	assert_false(p->flags & EF_PF_HOST_WRITES);
	q = parse_ok("{\"name\": \"c\", \"mode\": \"audit\",\n \"host_writes\": true}");
	assert_true(q->flags & EF_PF_HOST_WRITES);
	/* a lint warning with its position, in audit mode too */
	assert_int_equal(ef_policy_lint_all(q, 10, all, sizeof(all)), 1);
	assert_non_null(strstr(all, "c.json:2:17: \"host_writes\": true lets a root job leave "
				    "files in the host's system directories"));
	assert_int_equal(ef_policy_lint(q, err, sizeof(err)), -EINVAL);
	assert_int_equal(ef_policy_diff(p, q, &c), 0);
	assert_int_equal(c.n_settings, 2); /* mode, host_writes */
	ef_policy_change_free(&c);
	ef_policy_free(q);
	q = parse_ok("{\"name\": \"c\", \"host_writes\": false}");
	assert_false(q->flags & EF_PF_HOST_WRITES);
	assert_int_equal(ef_policy_lint_all(q, 10, all, sizeof(all)), 0);
	ef_policy_free(q);
	ef_policy_free(p);
	p = NULL;
	assert_int_equal(ef_policy_parse(bad, strlen(bad), "c.json", &p, err, sizeof(err)),
			 -EINVAL);
	assert_null(p);
	assert_non_null(strstr(err, "c.json:1:30: \"host_writes\" must be true or false"));
}

/* ---- "fail_on_deny" (egressctl run's verdict, through egressd) ---- */

static void test_fail_on_deny(void **state)
{
	char err[EF_ERR_LEN], txt[512];
	struct ef_policy *p, *q;
	struct ef_policy_change c;
	const char *bad = "{\"name\": \"c\", \"fail_on_deny\": 1}";

	(void)state;
	p = parse_ok("{\"name\": \"c\"}");
	assert_false(p->fail_on_deny);
	q = parse_ok("{\"name\": \"c\", \"fail_on_deny\": true}");
	assert_true(q->fail_on_deny);
	/* a setting of its own in a diff; compiled maps unchanged */
	assert_int_equal(ef_policy_diff(p, q, &c), 0);
	assert_int_equal(c.n_settings, 1);
	snprintf(txt, sizeof(txt), "%s", c.settings[0]);
	assert_non_null(strstr(txt, "fail_on_deny: false -> true"));
	ef_policy_change_free(&c);
	ef_policy_free(q);
	ef_policy_free(p);
	p = NULL;
	assert_int_equal(ef_policy_parse(bad, strlen(bad), "c.json", &p, err, sizeof(err)),
			 -EINVAL);
	assert_null(p);
	assert_non_null(strstr(err, "c.json:1:31: \"fail_on_deny\" must be true or false"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rule_table),
		cmocka_unit_test(test_rule_lengths),
		cmocka_unit_test(test_addr_parse),
		cmocka_unit_test(test_json_errors),
		cmocka_unit_test(test_json_limits),
		cmocka_unit_test(test_full_policy),
		cmocka_unit_test(test_defaults_and_order),
		cmocka_unit_test(test_load),
		cmocka_unit_test(test_capabilities),
		cmocka_unit_test(test_host_writes),
		cmocka_unit_test(test_fail_on_deny),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
