/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Judging socket creation. A fenced job may create AF_UNIX, AF_NETLINK,
 * and in AF_INET/AF_INET6 only TCP stream and UDP datagram sockets: those
 * are the sockets the connect/sendmsg hooks see. Everything else could
 * carry traffic past them and is refused unless the policy allows it:
 *   SOCK_RAW (inet) and AF_PACKET      -> EF_PF_RAW / EF_PF_PACKET, raw_socket
 *   ICMP datagram ("ping") sockets     -> EF_PF_ICMP, protocol
 *   SCTP, MPTCP, UDP-Lite, ...         -> EF_PF_OTHER_PROTO, protocol
 *   any other address family           -> policy families bitmask, family
 * Kernel-internal sockets (kern != 0) are never judged.
 */
#ifndef EF_SOCK_BPF_H
#define EF_SOCK_BPF_H

/* Returns 1 allow, 0 refuse with *reason set. */
static __always_inline int ef_sock_judge(const struct ef_policy_val *p, __u32 family, __u32 type,
					 __u32 protocol, __u8 *reason)
{
	type &= EF_SOCK_TYPE_MASK;
	if (family == EF_AF_INET || family == EF_AF_INET6) {
		if (type == EF_SOCK_RAW) {
			*reason = EF_R_RAW_SOCKET;
			return !!(p->flags & EF_PF_RAW);
		}
		if ((type == EF_SOCK_STREAM &&
		     (protocol == EF_IPPROTO_IP || protocol == EF_IPPROTO_TCP)) ||
		    (type == EF_SOCK_DGRAM &&
		     (protocol == EF_IPPROTO_IP || protocol == EF_IPPROTO_UDP)))
			return 1;
		*reason = EF_R_PROTOCOL;
		if (type == EF_SOCK_DGRAM &&
		    (protocol == EF_IPPROTO_ICMP || protocol == EF_IPPROTO_ICMPV6))
			return !!(p->flags & EF_PF_ICMP);
		return !!(p->flags & EF_PF_OTHER_PROTO);
	}
	if (family == EF_AF_PACKET) {
		*reason = EF_R_RAW_SOCKET;
		return !!(p->flags & EF_PF_PACKET);
	}
	*reason = EF_R_FAMILY;
	return family < 64 && (p->families & (1ULL << family));
}

static __always_inline int ef_sock_decide(__u32 family, __u32 type, __u32 protocol)
{
	__u8 reason = EF_R_FAMILY, verdict;
	struct ef_ctx c;

	if (ef_ctx_load(&c) < 0) {
		/* AF_UNIX stays usable so a stray process can still report. */
		if (family == EF_AF_UNIX)
			return EF_ALLOW;
		ef_emit(&c, EF_K_SOCKET, EF_V_DENY, EF_R_NO_JOB, EF_RULE_NONE, family, NULL, 0,
			protocol, type & EF_SOCK_TYPE_MASK, 0, 0);
		return EF_DROP;
	}
	if (ef_sock_judge(c.pol, family, type, protocol, &reason))
		return EF_ALLOW;
	verdict = c.pol->mode == EF_MODE_AUDIT ? EF_V_WOULD_DENY : EF_V_DENY;
	ef_emit(&c, EF_K_SOCKET, verdict, reason, EF_RULE_NONE, family, NULL, 0, protocol,
		type & EF_SOCK_TYPE_MASK, 0, 0);
	return verdict == EF_V_DENY ? EF_DROP : EF_ALLOW;
}

#endif /* EF_SOCK_BPF_H */
