// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Socket address families: policy/families.c's one table (every family
 * Linux names, numbers for the rest), as the policy's "sockets.families",
 * its diff and weaker-than check, and egressd's spans and notices
 * (daemon/lib/names.c) read it.
 */
#include <sys/socket.h>

#include "policy_fixture.h"
#include "lib/names.h"

/* the libc's PF_* where it has them, against the table's numbers */
static const struct {
	int af;
	const char *name;
} libc[] = {
    {PF_UNSPEC, "unspec"},
    {PF_UNIX, "unix"},
    {PF_INET, "inet"},
    {PF_AX25, "ax25"},
    {PF_IPX, "ipx"},
    {PF_APPLETALK, "appletalk"},
    {PF_NETROM, "netrom"},
    {PF_BRIDGE, "bridge"},
    {PF_ATMPVC, "atmpvc"},
    {PF_X25, "x25"},
    {PF_INET6, "inet6"},
    {PF_ROSE, "rose"},
    {PF_DECnet, "decnet"},
    {PF_NETBEUI, "netbeui"},
    {PF_SECURITY, "security"},
    {PF_KEY, "key"},
    {PF_NETLINK, "netlink"},
    {PF_PACKET, "packet"},
    {PF_ASH, "ash"},
    {PF_ECONET, "econet"},
    {PF_ATMSVC, "atmsvc"},
    {PF_RDS, "rds"},
    {PF_SNA, "sna"},
    {PF_IRDA, "irda"},
    {PF_PPPOX, "pppox"},
    {PF_WANPIPE, "wanpipe"},
    {PF_LLC, "llc"},
    {PF_IB, "ib"},
    {PF_MPLS, "mpls"},
    {PF_CAN, "can"},
    {PF_TIPC, "tipc"},
    {PF_BLUETOOTH, "bluetooth"},
    {PF_IUCV, "iucv"},
    {PF_RXRPC, "rxrpc"},
    {PF_ISDN, "isdn"},
    {PF_PHONET, "phonet"},
    {PF_IEEE802154, "ieee802154"},
    {PF_CAIF, "caif"},
    {PF_ALG, "alg"},
    {PF_NFC, "nfc"},
    {PF_VSOCK, "vsock"},
    {PF_KCM, "kcm"},
    {PF_QIPCRTR, "qipcrtr"},
    {PF_SMC, "smc"},
    {PF_XDP, "xdp"},
    {PF_MCTP, "mctp"},
};

static void test_every_family_named(void **state)
{
	size_t i;

	(void)state;
	assert_int_equal(sizeof(libc) / sizeof(libc[0]), EF_AF_NAMED);
	for (i = 0; i < sizeof(libc) / sizeof(libc[0]); i++) {
		assert_non_null(ef_af_name(libc[i].af));
		assert_string_equal(ef_af_name(libc[i].af), libc[i].name);
		assert_int_equal(ef_af_by_name(libc[i].name), libc[i].af);
		/* egressd's spans and notices name it as the policy does */
		assert_non_null(ef_family_name(libc[i].af));
		assert_string_equal(ef_family_name(libc[i].af), libc[i].name);
	}
}

static void test_unknown_family(void **state)
{
	(void)state;
	assert_null(ef_af_name(EF_AF_NAMED));
	assert_null(ef_af_name(63));
	assert_null(ef_af_name(-1));
	assert_null(ef_af_name(1ll << 40));
	assert_null(ef_family_name(46));
	assert_null(ef_family_name(-5));
	assert_int_equal(ef_af_by_name("bogus"), -1);
	assert_int_equal(ef_af_by_name(""), -1);
	assert_int_equal(ef_af_by_name("KCM"), -1); /* spelt as Linux does, lowercase */
	assert_int_equal(ef_af_by_name("af_kcm"), -1);
}

/* every name but "packet" (its own switch) is a "sockets.families" entry */
static void test_policy_accepts_every_name(void **state)
{
	char text[256], err[EF_ERR_LEN];
	struct ef_policy *p;
	int af;

	(void)state;
	for (af = 0; af < EF_AF_NAMED; af++) {
		int r;

		snprintf(text, sizeof(text),
			 "{\"name\": \"x\", \"sockets\": {\"families\": [\"%s\"]}}",
			 ef_af_name(af));
		r = ef_policy_parse(text, strlen(text), "c.json", &p, err, sizeof(err));
		if (af == PF_PACKET) {
			assert_int_equal(r, -EINVAL);
			assert_non_null(strstr(err, "\"packet\": true"));
			continue;
		}
		if (r)
			fail_msg("%s: %s", text, err);
		assert_true(p->families & (1ull << af));
		ef_policy_free(p);
	}
}

static void test_policy_new_names(void **state)
{
	char why[256];
	struct ef_policy *p = parse_ok("{\"name\": \"a\", \"sockets\": {\"families\": "
				       "[\"kcm\", \"rds\", \"appletalk\", 45]}}");
	struct ef_policy *b = parse_ok("{\"name\": \"b\"}");
	struct ef_policy_change ch;

	(void)state;
	assert_int_equal(p->families & ((1ull << 41) | (1ull << 21) | (1ull << 5) | (1ull << 45)),
			 (1ull << 41) | (1ull << 21) | (1ull << 5) | (1ull << 45));
	/* the diff and the weaker-than check name them too */
	assert_int_equal(ef_policy_diff(b, p, &ch), 0);
	assert_int_equal(ch.n_settings, 2); /* the name, the families */
	assert_string_equal(ch.settings[1], "sockets.families: +appletalk +rds +kcm +mctp");
	ef_policy_change_free(&ch);
	assert_int_equal(ef_policy_no_weaker(p, b, why, sizeof(why)), 0);
	assert_non_null(strstr(why, "address family \"appletalk\" is not allowed"));
	ef_policy_free(p);
	ef_policy_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_every_family_named),
	    cmocka_unit_test(test_unknown_family),
	    cmocka_unit_test(test_policy_accepts_every_name),
	    cmocka_unit_test(test_policy_new_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
