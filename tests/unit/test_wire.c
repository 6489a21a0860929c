// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * daemon/spans/wire.c: the span attributes of egress.packet and egress.sockopt,
 * bad input included (unknown levels and names, no judged destination,
 * families that are neither IPv4 nor IPv6).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "egressd.h"
#include "lib/span.h"
#include "spans/wire.h"

static const struct ef_attr *find(const struct ef_span *s, const char *k)
{
	return ef_span_find(s, k);
}

static void test_sockopt_names(void **state)
{
	(void)state;
	assert_string_equal(ef_sockopt_level_name(0), "SOL_IP");
	assert_string_equal(ef_sockopt_level_name(41), "SOL_IPV6");
	assert_null(ef_sockopt_level_name(-1));
	assert_null(ef_sockopt_level_name(65535));
	assert_string_equal(ef_sockopt_name(0, 4), "IP_OPTIONS");
	assert_string_equal(ef_sockopt_name(41, 57), "IPV6_RTHDR");
	assert_string_equal(ef_sockopt_name(41, 5), "IPV6_2292RTHDR");
	assert_string_equal(ef_sockopt_name(41, 6), "IPV6_2292PKTOPTIONS");
	assert_string_equal(ef_sockopt_name(41, 9), "IPV6_NEXTHOP");
	/* multicast joins and source filters (EF_R_MULTICAST) */
	assert_string_equal(ef_sockopt_name(0, 35), "IP_ADD_MEMBERSHIP");
	assert_string_equal(ef_sockopt_name(0, 39), "IP_ADD_SOURCE_MEMBERSHIP");
	assert_string_equal(ef_sockopt_name(0, 41), "IP_MSFILTER");
	assert_string_equal(ef_sockopt_name(0, 46), "MCAST_JOIN_SOURCE_GROUP");
	assert_string_equal(ef_sockopt_name(41, 46), "MCAST_JOIN_SOURCE_GROUP");
	assert_string_equal(ef_sockopt_name(41, 48), "MCAST_MSFILTER");
	assert_string_equal(ef_sockopt_name(41, 20), "IPV6_ADD_MEMBERSHIP");
	assert_string_equal(ef_sockopt_name(41, 27), "IPV6_JOIN_ANYCAST");
	assert_null(ef_sockopt_name(41, 41));
	assert_null(ef_sockopt_name(1, 42));
	/* the same number at another level is another option */
	assert_null(ef_sockopt_name(0, 57));
	assert_null(ef_sockopt_name(41, 4));
	assert_null(ef_sockopt_name(1, 4));
	assert_null(ef_sockopt_name(-7, -7));
}

static void test_sockopt_span(void **state)
{
	struct ef_event e = {.kind = EF_K_SOCKOPT, .protocol = 41, .port = 57, .family = EF_FAM_V6};
	struct ef_span s;
	char msg[256];

	(void)state;
	ef_span_init(&s, "egress.sockopt", EF_KIND_INTERNAL);
	ef_sockopt_span(&s, &e);
	assert_string_equal(find(&s, "egress.sockopt.level")->s, "SOL_IPV6");
	assert_string_equal(find(&s, "egress.sockopt.name")->s, "IPV6_RTHDR");
	assert_string_equal(find(&s, "network.type")->s, "ipv6");
	assert_true(ef_wire_status_msg(&e, "", msg, sizeof(msg)));
	assert_string_equal(msg, "socket option IPV6_RTHDR re-routes packets");

	/* unknown: numbers, never a wrong name */
	e.protocol = 300;
	e.port = 65535;
	e.family = 0;
	ef_span_init(&s, "egress.sockopt", EF_KIND_INTERNAL);
	ef_sockopt_span(&s, &e);
	assert_int_equal(find(&s, "egress.sockopt.level")->type, EF_AT_INT);
	assert_int_equal(find(&s, "egress.sockopt.level")->i, 300);
	assert_int_equal(find(&s, "egress.sockopt.name")->i, 65535);
	assert_null(find(&s, "network.type"));
	assert_true(ef_wire_status_msg(&e, "", msg, sizeof(msg)));
	assert_string_equal(msg, "socket option 300/65535 re-routes packets");

	e.reason = EF_R_MULTICAST;
	e.protocol = 0;
	e.port = 46;
	assert_true(ef_wire_status_msg(&e, "", msg, sizeof(msg)));
	assert_string_equal(msg, "socket option MCAST_JOIN_SOURCE_GROUP joins a multicast group");
}

static void test_packet_span(void **state)
{
	struct ef_event e = {.kind = EF_K_PACKET,
			     .reason = EF_R_NO_RULE,
			     .family = EF_FAM_V4,
			     .port = 443,
			     .family2 = EF_FAM_V4,
			     .port2 = 8443,
			     .addr = {198, 18, 2, 2},
			     .addr2 = {198, 18, 1, 1}};
	struct ef_span s;
	char msg[256];

	(void)state;
	ef_span_init(&s, "egress.packet", EF_KIND_CLIENT);
	ef_wire_span(&s, &e);
	assert_string_equal(find(&s, "egress.wire.judged.address")->s, "198.18.1.1");
	assert_int_equal(find(&s, "egress.wire.judged.port")->i, 8443);
	assert_true(ef_wire_status_msg(&e, "198.18.2.2", msg, sizeof(msg)));
	assert_non_null(strstr(msg, "198.18.2.2 port 443"));
	assert_non_null(strstr(msg, "198.18.1.1 port 8443"));

	e.family2 = EF_FAM_V6;
	memset(e.addr2, 0, 16);
	e.addr2[0] = 0x20;
	e.addr2[1] = 0x01;
	e.addr2[15] = 1;
	ef_span_init(&s, "egress.packet", EF_KIND_CLIENT);
	ef_wire_span(&s, &e);
	assert_string_equal(find(&s, "egress.wire.judged.address")->s, "2001::1");

	/* nothing judged (accepted socket, ping socket): no judged attributes */
	for (int f = 0; f < 256; f++) {
		if (f == EF_FAM_V4 || f == EF_FAM_V6)
			continue;
		e.family2 = (uint8_t)f;
		ef_span_init(&s, "egress.packet", EF_KIND_CLIENT);
		ef_wire_span(&s, &e);
		assert_null(find(&s, "egress.wire.judged.address"));
		assert_null(find(&s, "egress.wire.judged.port"));
	}
	e.family2 = 0;
	assert_true(ef_wire_status_msg(&e, "198.18.2.2", msg, sizeof(msg)));
	assert_non_null(strstr(msg, "nothing was judged"));

	e.reason = EF_R_REROUTE;
	assert_true(ef_wire_status_msg(&e, "198.18.2.2", msg, sizeof(msg)));
	assert_string_equal(msg, "packet carries a source route (first hop 198.18.2.2)");
	/* deny rule: the generic message names the rule */
	e.reason = EF_R_DENY_RULE;
	assert_false(ef_wire_status_msg(&e, "198.18.2.2", msg, sizeof(msg)));
	/* other kinds are not this file's */
	e.kind = EF_K_CONNECT;
	e.reason = EF_R_NO_RULE;
	assert_false(ef_wire_status_msg(&e, "198.18.2.2", msg, sizeof(msg)));
	/* a tiny buffer truncates, never overflows */
	e.kind = EF_K_PACKET;
	e.family2 = EF_FAM_V4;
	assert_true(ef_wire_status_msg(&e, "198.18.2.2", msg, 8));
	assert_int_equal(strlen(msg), 7);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sockopt_names),
	    cmocka_unit_test(test_sockopt_span),
	    cmocka_unit_test(test_packet_span),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
