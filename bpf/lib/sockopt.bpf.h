/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Socket options that re-route a socket's packets, refused where they are
 * set (cgroup/setsockopt, return 0: EPERM) and recorded (EF_K_SOCKOPT,
 * EF_R_REROUTE, protocol = level, port = optname). Each names hops, or a
 * next hop, that the fence never judged (net/ipv4/ip_sockglue.c,
 * net/ipv6/ipv6_sockglue.c):
 *   SOL_IP   IP_OPTIONS with any option bytes: LSRR/SSRR name the route;
 *            every non-empty list is refused (none is needed by a job, and
 *            a parser of ours cannot then disagree with the kernel's).
 *            An empty one (optlen 0) clears the options and passes.
 *   SOL_IPV6 IPV6_RTHDR (every routing header type: 0, 2, 4/SRH) unless
 *            empty (clears it); IPV6_2292RTHDR; IPV6_2292PKTOPTIONS unless
 *            empty (its buffer is ancillary data: a routing header, a next
 *            hop); IPV6_NEXTHOP.
 * Options that join a multicast group or set source filters are refused
 * and recorded the same way (EF_R_MULTICAST) unless the policy says
 * sockets.multicast (EF_PF_MULTICAST): the kernel then sends IGMPv3/MLDv2
 * membership reports from its own per-netns socket, past the wire check,
 * carrying the job-chosen group and source addresses. Leaving and dropping
 * pass. A socket of no live job is refused as EF_R_NO_JOB.
 *   SOL_IP   IP_ADD_MEMBERSHIP, IP_UNBLOCK_SOURCE, IP_BLOCK_SOURCE,
 *            IP_ADD_SOURCE_MEMBERSHIP, IP_MSFILTER
 *   SOL_IPV6 IPV6_ADD_MEMBERSHIP (IPV6_JOIN_GROUP), IPV6_JOIN_ANYCAST
 *   both     MCAST_JOIN_GROUP, MCAST_BLOCK_SOURCE, MCAST_UNBLOCK_SOURCE,
 *            MCAST_JOIN_SOURCE_GROUP, MCAST_MSFILTER
 * The same in ancillary data (sendmsg cmsg IP_RETOPTS, IPV6_RTHDR,
 * IPV6_2292RTHDR) has no hook where it is set: the wire check drops those
 * packets (lib/wire.bpf.h).
 *
 * The program never reads or changes optval: every other option passes
 * with ctx->optlen = 0, which tells the kernel to use the caller's own
 * buffer untouched (also for buffers over a page, which the program never
 * sees whole).
 */
#ifndef EF_SOCKOPT_BPF_H
#define EF_SOCKOPT_BPF_H

#define EF_SOL_IP	       0
#define EF_SOL_IPV6	       41
#define EF_IP_OPTIONS	       4
#define EF_IPV6_2292PKTOPTIONS 6
#define EF_IPV6_2292RTHDR      5
#define EF_IPV6_NEXTHOP	       9
#define EF_IPV6_RTHDR	       57

#define EF_IP_ADD_MEMBERSHIP	    35
#define EF_IP_UNBLOCK_SOURCE	    37
#define EF_IP_BLOCK_SOURCE	    38
#define EF_IP_ADD_SOURCE_MEMBERSHIP 39
#define EF_IP_MSFILTER		    41
#define EF_MCAST_JOIN_GROUP	    42
#define EF_MCAST_BLOCK_SOURCE	    43
#define EF_MCAST_UNBLOCK_SOURCE	    44
#define EF_MCAST_JOIN_SOURCE_GROUP  46
#define EF_MCAST_MSFILTER	    48
#define EF_IPV6_ADD_MEMBERSHIP	    20
#define EF_IPV6_JOIN_ANYCAST	    27

static __always_inline int ef_sockopt_reroutes(int level, int name, int optlen)
{
	if (level == EF_SOL_IP)
		return name == EF_IP_OPTIONS && optlen > 0;
	if (level != EF_SOL_IPV6)
		return 0;
	switch (name) {
	case EF_IPV6_RTHDR:
	case EF_IPV6_2292PKTOPTIONS:
		return optlen > 0;
	case EF_IPV6_2292RTHDR:
	case EF_IPV6_NEXTHOP:
		return 1;
	}
	return 0;
}

/* Joins a group or sets a source filter (linux/in.h, linux/in6.h). */
static __always_inline int ef_sockopt_joins(int level, int name)
{
	if (level != EF_SOL_IP && level != EF_SOL_IPV6)
		return 0;
	switch (name) {
	case EF_MCAST_JOIN_GROUP:
	case EF_MCAST_BLOCK_SOURCE:
	case EF_MCAST_UNBLOCK_SOURCE:
	case EF_MCAST_JOIN_SOURCE_GROUP:
	case EF_MCAST_MSFILTER:
		return 1;
	}
	if (level == EF_SOL_IP)
		return name == EF_IP_ADD_MEMBERSHIP || name == EF_IP_UNBLOCK_SOURCE ||
		       name == EF_IP_BLOCK_SOURCE || name == EF_IP_ADD_SOURCE_MEMBERSHIP ||
		       name == EF_IP_MSFILTER;
	return name == EF_IPV6_ADD_MEMBERSHIP || name == EF_IPV6_JOIN_ANYCAST;
}

/* Returns 1 to refuse; records the attempt (reason EF_R_REROUTE or
 * EF_R_MULTICAST). A multicast option the policy allows passes unrecorded. */
static __always_inline int ef_sockopt_refuse(struct bpf_sockopt *ctx, int level, int name,
					     __u8 reason)
{
	struct bpf_sock *sk = ctx->sk;
	__u8 verdict, family = 0, type = 0;
	struct ef_ctx c;

	if (sk) {
		family = sk->family == EF_AF_INET6 ? EF_FAM_V6 : EF_FAM_V4;
		type = sk->type & EF_SOCK_TYPE_MASK;
	}
	/* A socket of the fence set up by a process of no live job is refused
	 * too (fail closed), recorded as such. */
	if (ef_ctx_load(&c) < 0)
		verdict = EF_V_DENY;
	else if (reason == EF_R_MULTICAST && (c.pol->flags & EF_PF_MULTICAST))
		return 0;
	else
		verdict = c.pol->mode == EF_MODE_AUDIT ? EF_V_WOULD_DENY : EF_V_DENY;
	ef_emit(&c, EF_K_SOCKOPT, verdict, c.pol ? reason : EF_R_NO_JOB, EF_RULE_NONE, family, NULL,
		(__u16)name, (__u16)level, type, 0, 0);
	return verdict == EF_V_DENY;
}

static __always_inline int ef_sockopt_decide(struct bpf_sockopt *ctx)
{
	int level = ctx->level, name = ctx->optname;

	if (ef_sockopt_reroutes(level, name, ctx->optlen) &&
	    ef_sockopt_refuse(ctx, level, name, EF_R_REROUTE))
		return EF_DROP;
	if (ef_sockopt_joins(level, name) && ef_sockopt_refuse(ctx, level, name, EF_R_MULTICAST))
		return EF_DROP;
	/* clang would otherwise compute &ctx->optlen once, ahead, into a
	 * register: the verifier refuses a store through a moved ctx pointer */
	asm volatile("" : "+r"(ctx));
	ctx->optlen = 0; /* the caller's buffer, untouched */
	return EF_ALLOW;
}

#endif /* EF_SOCKOPT_BPF_H */
