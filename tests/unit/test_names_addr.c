// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * policy/: the address helpers of the DNS proxy (rebinding table, CIDR cover,
 * upstream parsing).
 */
#include "names_fixture.h"

/* ---- addresses ---- */

struct addr_case {
	const char *a;
	bool internal;
};

static void test_addr_internal(void **state)
{
	static const struct addr_case cases[] = {
		{ "0.0.0.0", true },		{ "0.255.255.255", true },
		{ "1.0.0.0", false },		{ "9.255.255.255", false },
		{ "10.0.0.0", true },		{ "10.255.255.255", true },
		{ "11.0.0.0", false },		{ "100.63.255.255", false },
		{ "100.64.0.0", true },		{ "100.127.255.255", true },
		{ "100.128.0.0", false },	{ "126.255.255.255", false },
		{ "127.0.0.1", true },		{ "127.255.255.255", true },
		{ "128.0.0.0", false },		{ "169.253.255.255", false },
		{ "169.254.0.0", true },	{ "169.254.169.254", true },
		{ "169.255.0.0", false },	{ "172.15.255.255", false },
		{ "172.16.0.0", true },		{ "172.31.255.255", true },
		{ "172.32.0.0", false },	{ "191.255.255.255", false },
		{ "192.0.0.0", true },		{ "192.0.0.255", true },
		{ "192.0.1.0", false },		{ "192.0.2.1", false },
		{ "192.167.255.255", false },	{ "192.168.0.0", true },
		{ "192.168.255.255", true },	{ "192.169.0.0", false },
		{ "198.17.255.255", false },	{ "198.18.0.1", false },
		{ "198.19.255.255", false },	{ "223.255.255.255", false },
		{ "224.0.0.0", true },		{ "239.255.255.255", true },
		{ "240.0.0.0", true },		{ "255.255.255.254", true },
		{ "255.255.255.255", true },	{ "8.8.8.8", false },
		{ "1.1.1.1", false },		{ "140.82.112.3", false },
		{ "::", true },			{ "::1", true },
		{ "::2", false },		{ "::1:0", false },
		{ "fbff:ffff::", false },	{ "fc00::", true },
		{ "fd00:ec2::254", true },	{ "fdff:ffff::1", true },
		{ "fe00::1", false },		{ "fe7f:ffff::", false },
		{ "fe80::1", true },		{ "febf:ffff::1", true },
		{ "fec0::1", true },		{ "feff:ffff::1", true },
		{ "ff00::", true },		{ "ff02::1", true },
		{ "2001:db8::1", false },	{ "2001:db8:ffff::1", false },
		{ "2606:4700::1111", false },	{ "2001:4860:4860::8888", false },
		{ "::ffff:127.0.0.1", true },	{ "::ffff:10.1.2.3", true },
		{ "::ffff:169.254.169.254", true }, { "::ffff:8.8.8.8", false },
		{ "::ffff:198.18.0.1", false },
		/* NAT64 (DNS rebinding through a DNS64 resolver) */
		{ "64:ff9b::a9fe:a9fe", true },	{ "64:ff9b::10.11.12.13", true },
		{ "64:ff9b::127.0.0.1", true },	{ "64:ff9b::198.18.0.1", false },
		{ "64:ff9b:1::192.168.1.1", true }, { "64:ff9b:1::8.8.8.8", false },
	};
	__u8 a[16] = { 0 };
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		__u8 fam, raw[16];
		bool got;

		/* IPv6 as written (mapped addresses stay V6), to test the mapping too */
		if (strchr(cases[i].a, ':')) {
			fam = EF_FAM_V6;
			assert_int_equal(inet_pton(AF_INET6, cases[i].a, raw), 1);
		} else {
			memset(raw, 0, sizeof(raw));
			assert_int_equal(ef_addr_parse(cases[i].a, &fam, raw), 0);
		}
		got = ef_addr_internal(fam, raw);
		if (got != cases[i].internal)
			fail_msg("%s: internal %d, want %d", cases[i].a, got, cases[i].internal);
		/* bytes past the IPv4 address are not looked at */
		if (fam == EF_FAM_V4) {
			memset(raw + 4, 0xff, 12);
			assert_int_equal(ef_addr_internal(fam, raw), cases[i].internal);
		}
	}
	/* a family no entry can have: refused */
	assert_true(ef_addr_internal(0, a));
	assert_true(ef_addr_internal(10, a));
}

struct cover_case {
	const char *a;
	int covered;
};

static void run_covers(const char *policy, const struct cover_case *cc, size_t n)
{
	struct ef_policy *p = parse_ok(policy);
	struct ef_compiled *c = compile_ok(p);
	size_t i;

	for (i = 0; i < n; i++) {
		__u8 fam, a[16];
		int got;

		if (strchr(cc[i].a, ':')) {
			fam = EF_FAM_V6;
			assert_int_equal(inet_pton(AF_INET6, cc[i].a, a), 1);
		} else {
			memset(a, 0, sizeof(a));
			assert_int_equal(ef_addr_parse(cc[i].a, &fam, a), 0);
		}
		got = ef_compiled_covers(c, fam, a);
		if (got != cc[i].covered)
			fail_msg("%s: covers %d, want %d", cc[i].a, got, cc[i].covered);
	}
	ef_compiled_free(c);
	ef_policy_free(p);
}

static void test_compiled_covers(void **state)
{
	static const struct cover_case narrow[] = {
		{ "10.1.2.3", 1 },	  { "::ffff:10.1.2.3", 1 }, { "10.9.1.1", 0 },
		{ "10.9.1.2", 0 },	  { "10.9.1.3", 1 },	    { "192.168.1.5", 1 },
		{ "192.168.1.6", 0 },
		{ "172.16.0.1", 0 },	  { "8.8.8.8", 0 },	    { "fd00::1", 1 },
		{ "fe80::1", 0 },	  { "127.0.0.1", 0 },	    { "169.254.169.254", 0 },
		{ "fd00:ec2::254", 0 },	  { "fd00:ec2::253", 1 },
	};
	static const struct cover_case wide[] = {
		{ "169.254.169.254", 0 }, { "169.254.169.253", 1 }, { "10.0.0.1", 1 },
		{ "fd00:ec2::254", 0 },	  { "::1", 0 },
	};
	static const struct cover_case named[] = {
		{ "169.254.169.254", 1 }, { "169.254.169.253", 1 }, { "fd00:ec2::254", 1 },
	};

	/* allows on some port count, udp too; not under a deny of all their
	 * ports (10.9.1.2); names never count (they are not addresses) */
	run_covers("{\"name\": \"n\", \"allow\": [\"10.0.0.0/8:443\", \"[fd00::]/8:443\","
		   " \"192.168.1.5:53/udp\", \"10.9.1.2:80\", \"10.9.1.3:53/udp\","
		   " \"localhost:80\"],"
		   " \"deny\": [\"10.9.0.0/16:*\", \"172.16.0.0/12:443\"]}",
		   narrow, sizeof(narrow) / sizeof(narrow[0]));
	/* a wide allow never opens the metadata addresses ... */
	run_covers("{\"name\": \"n\", \"allow\": [\"0.0.0.0/0:80\", \"[::]/0:*\"],"
		   " \"deny\": [\"[::1]:*\"]}",
		   wide, sizeof(wide) / sizeof(wide[0]));
	/* ... a rule naming them does */
	run_covers("{\"name\": \"n\", \"allow\": [\"169.254.0.0/16:80\", \"169.254.169.254:80\","
		   " \"[fd00:ec2::254]:443\"]}",
		   named, sizeof(named) / sizeof(named[0]));
}

struct up_case {
	const char *s;
	int ok;
	const char *addr; /* as ef_addr_parse reads it */
	__u16 port;
};

static void test_upstream_parse(void **state)
{
	static const struct up_case cases[] = {
		{ "1.1.1.1", 1, "1.1.1.1", 53 },
		{ "1.1.1.1:5353", 1, "1.1.1.1", 5353 },
		{ "9.9.9.9:65535", 1, "9.9.9.9", 65535 },
		{ "2606:4700::1111", 1, "2606:4700::1111", 53 },
		{ "[2606:4700::1111]:53", 1, "2606:4700::1111", 53 },
		{ "[2606:4700::1111]:5300", 1, "2606:4700::1111", 5300 },
		{ "[2606:4700::1111]", 1, "2606:4700::1111", 53 },
		{ "::1", 1, "::1", 53 },
		{ "[::ffff:1.2.3.4]:54", 1, "1.2.3.4", 54 },
		{ "::ffff:1.2.3.4", 1, "1.2.3.4", 53 },
		/* an unbracketed IPv6 address has no port: this is ::1:53 */
		{ "::1:53", 1, "::1:53", 53 },
		{ "", 0, NULL, 0 },
		{ "example.com", 0, NULL, 0 },
		{ "dns.google:53", 0, NULL, 0 },
		{ "1.1.1.1:0", 0, NULL, 0 },
		{ "1.1.1.1:65536", 0, NULL, 0 },
		{ "1.1.1.1:", 0, NULL, 0 },
		{ "1.1.1.1:53x", 0, NULL, 0 },
		{ "1.1.1.1 ", 0, NULL, 0 },
		{ "1.1.1", 0, NULL, 0 },
		{ "01.1.1.1", 0, NULL, 0 },
		{ "1.1.1.256", 0, NULL, 0 },
		{ "[::1", 0, NULL, 0 },
		{ "[::1]x", 0, NULL, 0 },
		{ "[::1]:", 0, NULL, 0 },
		{ "[::1]:0", 0, NULL, 0 },
		{ "[1.2.3.4]:53", 0, NULL, 0 },
		{ "[]:53", 0, NULL, 0 },
		{ "fe80::1%eth0", 0, NULL, 0 },
		{ "[fe80::1%eth0]:53", 0, NULL, 0 },
		{ "2606:4700::11111", 0, NULL, 0 },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct up_case *u = &cases[i];
		__u8 fam = 0xee, a[16], wf, wa[16];
		__u16 port = 0;
		int ret = ef_upstream_parse(u->s, &fam, a, &port);
		char text[256], err[EF_ERR_LEN];
		struct ef_policy *p = NULL;
		int pret;

		if (u->ok) {
			if (ret)
				fail_msg("\"%s\": %d, want 0", u->s, ret);
			memset(wa, 0, sizeof(wa));
			assert_int_equal(ef_addr_parse(u->addr, &wf, wa), 0);
			assert_int_equal(fam, wf);
			assert_memory_equal(a, wa, 16);
			assert_int_equal(port, u->port);
		} else if (ret != -EINVAL) {
			fail_msg("\"%s\": %d, want -EINVAL", u->s, ret);
		}
		/* the policy parser takes exactly the same strings */
		snprintf(text, sizeof(text), "{\"name\": \"u\", \"dns\": {\"upstream\": [\"%s\"]}}",
			 u->s);
		pret = ef_policy_parse(text, strlen(text), "u.json", &p, err, sizeof(err));
		if (!pret != !ret)
			fail_msg("\"%s\": parser %d (%s), ef_upstream_parse %d", u->s, pret,
				 pret ? err : "ok", ret);
		ef_policy_free(p);
	}
	assert_int_equal(ef_upstream_parse(NULL, &(__u8){ 0 }, (__u8[16]){ 0 }, &(__u16){ 0 }),
			 -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_addr_internal),
		cmocka_unit_test(test_compiled_covers),
		cmocka_unit_test(test_upstream_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
