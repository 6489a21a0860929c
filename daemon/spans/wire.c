// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * What the wire check and the socket-option refusals add to their spans
 * (bpf/lib/wire.bpf.h, bpf/lib/sockopt.bpf.h):
 *   egress.packet   the on-wire destination is network.peer.*; the one the
 *                   fence judged for the socket is egress.wire.judged.*
 *                   (absent when nothing was judged). The packet may leave
 *                   in softirq or a timer: process.* only when the record
 *                   names a process (pid != 0), else egress.wire.process
 *                   "unknown".
 *   egress.sockopt  egress.sockopt.level / egress.sockopt.name, symbolic
 *                   (re-routing options, multicast joins and filters).
 * Pure functions: the names are unit-tested (tests/unit/test_wire.c).
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "egressd.h"
#include "lib/span.h"
#include "wire.h"

const char *ef_sockopt_level_name(int level)
{
	switch (level) {
	case 0:
		return "SOL_IP";
	case 1:
		return "SOL_SOCKET";
	case 6:
		return "SOL_TCP";
	case 17:
		return "SOL_UDP";
	case 41:
		return "SOL_IPV6";
	}
	return NULL;
}

const char *ef_sockopt_name(int level, int name)
{
	if (level == 0) {
		switch (name) {
		case 4:
			return "IP_OPTIONS";
		case 7:
			return "IP_RETOPTS";
		case 35:
			return "IP_ADD_MEMBERSHIP";
		case 36:
			return "IP_DROP_MEMBERSHIP";
		case 37:
			return "IP_UNBLOCK_SOURCE";
		case 38:
			return "IP_BLOCK_SOURCE";
		case 39:
			return "IP_ADD_SOURCE_MEMBERSHIP";
		case 40:
			return "IP_DROP_SOURCE_MEMBERSHIP";
		case 41:
			return "IP_MSFILTER";
		}
	} else if (level == 41) {
		switch (name) {
		case 5:
			return "IPV6_2292RTHDR";
		case 6:
			return "IPV6_2292PKTOPTIONS";
		case 9:
			return "IPV6_NEXTHOP";
		case 20:
			return "IPV6_ADD_MEMBERSHIP";
		case 21:
			return "IPV6_DROP_MEMBERSHIP";
		case 27:
			return "IPV6_JOIN_ANYCAST";
		case 28:
			return "IPV6_LEAVE_ANYCAST";
		case 57:
			return "IPV6_RTHDR";
		}
	}
	/* the protocol-independent group options, the same at both levels */
	if (level == 0 || level == 41) {
		switch (name) {
		case 42:
			return "MCAST_JOIN_GROUP";
		case 43:
			return "MCAST_BLOCK_SOURCE";
		case 44:
			return "MCAST_UNBLOCK_SOURCE";
		case 45:
			return "MCAST_LEAVE_GROUP";
		case 46:
			return "MCAST_JOIN_SOURCE_GROUP";
		case 47:
			return "MCAST_LEAVE_SOURCE_GROUP";
		case 48:
			return "MCAST_MSFILTER";
		}
	}
	return NULL;
}

static void int_or_name(struct ef_span *s, const char *key, const char *name, int v)
{
	if (name)
		ef_span_str(s, key, name);
	else
		ef_span_int(s, key, v);
}

void ef_sockopt_span(struct ef_span *s, const struct ef_event *e)
{
	int_or_name(s, "egress.sockopt.level", ef_sockopt_level_name(e->protocol), e->protocol);
	int_or_name(s, "egress.sockopt.name", ef_sockopt_name(e->protocol, e->port), e->port);
	if (e->family == EF_FAM_V4 || e->family == EF_FAM_V6)
		ef_span_str(s, "network.type", e->family == EF_FAM_V4 ? "ipv4" : "ipv6");
}

void ef_wire_span(struct ef_span *s, const struct ef_event *e)
{
	char a[INET6_ADDRSTRLEN];

	if (e->family2 != EF_FAM_V4 && e->family2 != EF_FAM_V6)
		return;
	ef_addr_str(e->family2, e->addr2, a, sizeof(a));
	ef_span_str(s, "egress.wire.judged.address", a);
	ef_span_int(s, "egress.wire.judged.port", e->port2);
}

int ef_wire_status_msg(const struct ef_event *e, const char *addr, char *msg, size_t len)
{
	char j[INET6_ADDRSTRLEN];

	if (e->kind == EF_K_SOCKOPT) {
		const char *n = ef_sockopt_name(e->protocol, e->port);
		const char *what =
		    e->reason == EF_R_MULTICAST ? "joins a multicast group" : "re-routes packets";

		if (n)
			snprintf(msg, len, "socket option %s %s", n, what);
		else
			snprintf(msg, len, "socket option %u/%u %s", e->protocol, e->port, what);
		return 1;
	}
	if (e->kind != EF_K_PACKET)
		return 0;
	if (e->reason == EF_R_REROUTE) {
		snprintf(msg, len, "packet carries a source route (first hop %s)", addr);
		return 1;
	}
	if (e->reason == EF_R_DENY_RULE || e->reason == EF_R_NO_JOB)
		return 0;
	if (e->family2 != EF_FAM_V4 && e->family2 != EF_FAM_V6) {
		snprintf(msg, len,
			 "packet to %s port %u: nothing was judged for its socket and no "
			 "rule allows it",
			 addr, e->port);
		return 1;
	}
	ef_addr_str(e->family2, e->addr2, j, sizeof(j));
	snprintf(msg, len,
		 "packet to %s port %u, not to %s port %u judged for its socket, and "
		 "no rule allows it",
		 addr, e->port, j, e->port2);
	return 1;
}
