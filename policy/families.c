// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Socket address families: one table of the names Linux gives them
 * (include/linux/socket.h's AF_*, lowercase, without AF_), read by the
 * parser ("sockets.families"), the policy diff and the weaker-than check,
 * egressd (egress.socket.family of spans and notices) and egressctl (audit,
 * and a notice in words). A family the kernel names after AF_MCTP has no
 * name here: it is shown as its number.
 */
#include <string.h>

#include "policy.h"

/* AF_* numbers spelled out: older libc headers lack the newest */
static const char *const af_names[] = {
    [0] = "unspec",    [1] = "unix",	    [2] = "inet",     [3] = "ax25",	[4] = "ipx",
    [5] = "appletalk", [6] = "netrom",	    [7] = "bridge",   [8] = "atmpvc",	[9] = "x25",
    [10] = "inet6",    [11] = "rose",	    [12] = "decnet",  [13] = "netbeui", [14] = "security",
    [15] = "key",      [16] = "netlink",    [17] = "packet",  [18] = "ash",	[19] = "econet",
    [20] = "atmsvc",   [21] = "rds",	    [22] = "sna",     [23] = "irda",	[24] = "pppox",
    [25] = "wanpipe",  [26] = "llc",	    [27] = "ib",      [28] = "mpls",	[29] = "can",
    [30] = "tipc",     [31] = "bluetooth",  [32] = "iucv",    [33] = "rxrpc",	[34] = "isdn",
    [35] = "phonet",   [36] = "ieee802154", [37] = "caif",    [38] = "alg",	[39] = "nfc",
    [40] = "vsock",    [41] = "kcm",	    [42] = "qipcrtr", [43] = "smc",	[44] = "xdp",
    [45] = "mctp",
};
_Static_assert(sizeof(af_names) / sizeof(af_names[0]) == EF_AF_NAMED,
	       "EF_AF_NAMED is one past the last family named here");

const char *ef_af_name(long long af)
{
	return af >= 0 && af < EF_AF_NAMED ? af_names[af] : NULL;
}

int ef_af_by_name(const char *name)
{
	int af;

	for (af = 0; af < EF_AF_NAMED; af++)
		if (!strcmp(af_names[af], name))
			return af;
	return -1;
}
