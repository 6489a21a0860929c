/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The wire check (cgroup_skb/egress): each packet of a job's socket, as it
 * leaves, after the host's netfilter, is compared with the destination the
 * fence judged for that socket (ef_sk, written by connect/sendmsg through
 * lib/judged.bpf.h). What the kernel puts on the wire can differ from what
 * connect()/sendmsg() was given: a routing header or source-route option
 * sends the packet to another first hop, a DNAT rule after the hook
 * rewrites it, a corked datagram goes to the first address of the cork.
 *
 *   fast path: the packet's destination (address, L4 port) equals the judged
 *     one -> pass. One storage lookup and a few loads.
 *   slow path: a packet carrying a source route (IPv4 LSRR/SSRR, an IPv6
 *     routing header with segments left, any type) -> deny, EF_R_REROUTE:
 *     the hops it names are not judged. Otherwise the on-wire destination
 *     is judged like connect judges (exact/CIDR entry, learned DNS address,
 *     metadata, deny rules, audit mode). A socket with nothing judged (an
 *     accepted socket, a listener's SYN-ACK, a ping socket, which has no
 *     sendmsg hook) is also allowed by the job's inbound rules (peer, LOCAL
 *     port) and to a loopback destination (only local sockets receive those;
 *     the sending side of a local connection is judged at its connect).
 *     Allowed: the destination becomes the judged one (the next packet
 *     takes the fast path). Denied: dropped, counted (EF_S_WIRE_DROPS) and
 *     recorded once per (socket, on-wire destination) as EF_K_PACKET.
 * A protocol without ports (ICMP from a ping or raw socket) is judged as
 * port 0 of any protocol: only a rule covering every port of the address
 * (host:*) allows it.
 *
 * The job is the SOCKET's (bpf_skb_ancestor_cgroup_id): the packet may be
 * sent from softirq or a timer, in whatever task was running. The record
 * names the process only when the current task is in that job.
 */
#ifndef EF_WIRE_BPF_H
#define EF_WIRE_BPF_H

#define EF_ETH_P_IP	    0x0800
#define EF_ETH_P_IPV6	    0x86DD
#define EF_NEXTHDR_HOP	    0
#define EF_NEXTHDR_ROUTING  43
#define EF_NEXTHDR_FRAGMENT 44
#define EF_NEXTHDR_AH	    51
#define EF_NEXTHDR_DEST	    60
#define EF_NEXTHDR_MOBILITY 135
#define EF_WIRE_MAX_EXT	    8 /* IPv6 extension headers walked before giving up on the port */
#define EF_IPOPT_LSRR	    0x83
#define EF_IPOPT_SSRR	    0x89
#define EF_BPF_TCP_LISTEN   10

/* A packet's destination as it goes on the wire. */
struct ef_wire {
	__u32 family; /* enum ef_family */
	__u8 addr[16];
	__u16 port;  /* host order; 0: no port (ICMP, a later fragment...) */
	__u16 sport; /* host order: the LOCAL port, for inbound rules */
	__u8 proto;
	__u8 proto_bit; /* EF_PROTO_TCP/UDP; EF_PROTO_ANY for a protocol without ports */
	__u8 reroute;	/* a source route: hops past the first are not judged */
	__u8 hop_limit; /* IPv6 */
	__u8 icmp_type; /* ICMPv6 */
	__u32 l4off;	/* offset of the TCP/UDP header; 0: none */
};

static __always_inline void ef_wire_ports(struct __sk_buff *skb, struct ef_wire *w, __u32 off)
{
	__u16 p[2];

	if (w->proto != EF_IPPROTO_TCP && w->proto != EF_IPPROTO_UDP) {
		w->proto_bit = EF_PROTO_ANY;
		return;
	}
	w->proto_bit = w->proto == EF_IPPROTO_TCP ? EF_PROTO_TCP : EF_PROTO_UDP;
	w->l4off = off;
	if (bpf_skb_load_bytes(skb, off, p, sizeof(p)) == 0) {
		w->sport = bpf_ntohs(p[0]);
		w->port = bpf_ntohs(p[1]);
	}
}

/* IPv4 options: a loose or strict source route names the hops to take.
 * Walked with bpf_loop: one callback verified once, whatever the lengths. */
struct ef_ipopt_walk {
	__u8 o[64];
	__u32 i, len;
	int srr;
};

static long ef_ipopt_step(__u64 idx, void *arg)
{
	struct ef_ipopt_walk *w = arg;
	__u32 i = w->i;
	__u8 t, l;

	if (i >= w->len || i >= 40)
		return 1;
	t = w->o[i & 63];
	if (t == 0) /* end of list */
		return 1;
	if (t == 1) { /* no-op */
		w->i = i + 1;
		return 0;
	}
	if (t == EF_IPOPT_LSRR || t == EF_IPOPT_SSRR) {
		w->srr = 1;
		return 1;
	}
	/* a malformed list (no room for the length, a length under 2): the
	 * kernel never builds one for a socket, so only a raw packet can carry
	 * it, and what follows it cannot be read: taken as a source route */
	if (i + 1 >= w->len) {
		w->srr = 1;
		return 1;
	}
	l = w->o[(i + 1) & 63];
	if (l < 2) {
		w->srr = 1;
		return 1;
	}
	w->i = i + l;
	return 0;
}

static __always_inline int ef_wire_ip4_srr(struct __sk_buff *skb, __u32 optlen)
{
	struct ef_ipopt_walk w = {};

	optlen &= 63;
	if (optlen < 4 || optlen > 40)
		return 0;
	/* the same number, in a form whose bounds (1..64, the size of w.o) the
	 * 6.1 verifier sees: clang knows optlen is a multiple of 4 (IHL * 4 -
	 * 20) and tests the lower bound as "== 0", from which 6.1 learns none
	 * and refuses the read as possibly zero-sized; barrier_var() keeps
	 * clang from folding this back */
	barrier_var(optlen);
	optlen = ((optlen - 1) & 63) + 1;
	if (bpf_skb_load_bytes(skb, 20, w.o, optlen) < 0)
		return 1; /* options we cannot read: not judged, so not passed */
	w.len = optlen;
	bpf_loop(40, ef_ipopt_step, &w, 0);
	return w.srr;
}

static __always_inline int ef_wire_parse4(struct __sk_buff *skb, struct ef_wire *w)
{
	struct iphdr ip;
	__u32 hlen;

	if (bpf_skb_load_bytes(skb, 0, &ip, sizeof(ip)) < 0)
		return -1;
	hlen = ip.ihl * 4;
	if (hlen < 20)
		return -1;
	w->family = EF_FAM_V4;
	__builtin_memcpy(w->addr, &ip.daddr, 4);
	w->proto = ip.protocol;
	if (hlen > 20)
		w->reroute = ef_wire_ip4_srr(skb, hlen - 20);
	if (ip.frag_off & bpf_htons(0x1fff)) { /* a later fragment: no L4 header */
		w->proto_bit = EF_PROTO_ANY;
		return 0;
	}
	ef_wire_ports(skb, w, hlen);
	return 0;
}

static __always_inline int ef_wire_parse6(struct __sk_buff *skb, struct ef_wire *w)
{
	struct ipv6hdr ip;
	__u32 off = sizeof(ip);
	__u8 nh;

	if (bpf_skb_load_bytes(skb, 0, &ip, sizeof(ip)) < 0)
		return -1;
	w->family = EF_FAM_V6;
	__builtin_memcpy(w->addr, &ip.daddr, 16);
	w->hop_limit = ip.hop_limit;
	nh = ip.nexthdr;
	for (int i = 0; i < EF_WIRE_MAX_EXT; i++) {
		__u8 h[4];

		if (nh == EF_IPPROTO_TCP || nh == EF_IPPROTO_UDP)
			break;
		if (nh != EF_NEXTHDR_HOP && nh != EF_NEXTHDR_ROUTING && nh != EF_NEXTHDR_DEST &&
		    nh != EF_NEXTHDR_FRAGMENT && nh != EF_NEXTHDR_AH && nh != EF_NEXTHDR_MOBILITY)
			break;
		if (bpf_skb_load_bytes(skb, off, h, sizeof(h)) < 0)
			return -1;
		if (nh == EF_NEXTHDR_ROUTING && h[3] /* segments left */)
			w->reroute = 1;
		if (nh == EF_NEXTHDR_FRAGMENT) {
			nh = h[0];
			off += 8;
			if ((h[2] << 8 | h[3]) & 0xfff8) { /* a later fragment */
				w->proto = nh;
				w->proto_bit = EF_PROTO_ANY;
				return 0;
			}
			continue;
		}
		off += nh == EF_NEXTHDR_AH ? (h[1] + 2) * 4 : (h[1] + 1) * 8;
		nh = h[0];
	}
	/* a chain longer than we follow could hide a routing header: unreadable */
	if (nh == EF_NEXTHDR_HOP || nh == EF_NEXTHDR_ROUTING || nh == EF_NEXTHDR_DEST ||
	    nh == EF_NEXTHDR_FRAGMENT || nh == EF_NEXTHDR_AH || nh == EF_NEXTHDR_MOBILITY)
		return -1;
	w->proto = nh;
	if (nh == EF_IPPROTO_TCP || nh == EF_IPPROTO_UDP)
		ef_wire_ports(skb, w, off);
	else
		w->proto_bit = EF_PROTO_ANY; /* no ports (ICMPv6, ...) */
	if (nh == EF_IPPROTO_ICMPV6 && bpf_skb_load_bytes(skb, off, &w->icmp_type, 1) < 0)
		w->icmp_type = 0;
	return 0;
}

/*
 * The kernel's own IPv6 link control, from its ICMPv6 socket of a network
 * namespace that a process of the job made (a container's, unshare -n): that
 * socket is the job's, and nothing is judged for it. Neighbour discovery
 * (router and neighbour solicitations and advertisements) goes with hop
 * limit 255 and MLD reports with hop limit 1: neither passes a router
 * (RFC 4861 7.1.1, RFC 3810 5), so they reach no host off the link; without
 * them no IPv6 address in that namespace reaches its gateway.
 */
static __always_inline int ef_wire_link_control(const struct bpf_sock *sk, const struct ef_wire *w)
{
	if (w->family != EF_FAM_V6 || w->proto != EF_IPPROTO_ICMPV6 || sk->type != 3 /* RAW */ ||
	    sk->protocol != EF_IPPROTO_ICMPV6)
		return 0;
	if (w->icmp_type >= 133 && w->icmp_type <= 136)
		return w->hop_limit == 255;
	if (w->icmp_type == 131 || w->icmp_type == 132 || w->icmp_type == 143)
		return w->hop_limit == 1;
	return 0;
}

/* TCP flags SYN and ACK both set. The L4 offset: see ef_wire_parse*. */
static __always_inline int ef_wire_synack(struct __sk_buff *skb, const struct ef_wire *w)
{
	__u8 f = 0;

	if (!w->l4off || bpf_skb_load_bytes(skb, w->l4off + 13, &f, 1) < 0)
		return 0;
	return (f & 0x12) == 0x12;
}

static __always_inline int ef_wire_is_loopback(const struct ef_wire *w)
{
	if (w->family == EF_FAM_V4)
		return w->addr[0] == 127;
	for (int i = 0; i < 15; i++)
		if (w->addr[i])
			return 0;
	return w->addr[15] == 1;
}

/* The record: the socket's job; the process only if the current task is in
 * that job (in softirq or a timer it is whatever task was running). */
static __always_inline void ef_wire_emit(struct __sk_buff *skb, const struct ef_ctx *c,
					 const struct bpf_sock *sk, const struct ef_sk *s,
					 const struct ef_wire *w, __u8 verdict, __u8 reason,
					 __u32 rule_id, __u64 name_id)
{
	struct ef_event *e;

	e = ef_event_reserve(verdict);
	if (!e)
		return;
	__builtin_memset(e, 0, sizeof(*e));
	e->ts_boot_ns = bpf_ktime_get_boot_ns();
	e->cgroup_id = c->cgroup_id;
	e->job_serial = c->job ? c->job->serial : 0;
	e->cookie = bpf_get_socket_cookie(skb);
	e->policy_id = c->policy_id;
	e->rule_id = rule_id;
	e->kind = EF_K_PACKET;
	e->verdict = verdict;
	e->reason = reason;
	e->family = w->family;
	e->sock_type = sk->type & EF_SOCK_TYPE_MASK;
	e->protocol = w->proto;
	e->port = w->port;
	e->name_id = name_id;
	__builtin_memcpy(e->addr, w->addr, sizeof(e->addr));
	if (s && s->family) {
		__builtin_memcpy(e->addr2, s->addr, sizeof(e->addr2));
		e->port2 = s->port;
		e->family2 = s->family;
	}
	if (ef_skb_has_current && c->cgroup_id &&
	    bpf_get_current_ancestor_cgroup_id(ef_job_level) == c->cgroup_id)
		ef_fill_task(e);
	else
		e->uid = bpf_get_socket_uid(skb); /* the socket's owner, pid unknown (0) */
	ef_event_submit(e, verdict);
}

/* A TCP or UDP socket (no other protocol: raw sockets connect without a
 * hook) whose connected peer is the destination its connect() was judged
 * with. */
static __always_inline int ef_wire_inet_conn(const struct bpf_sock *sk)
{
	return ((sk->type == EF_SOCK_STREAM && sk->protocol == EF_IPPROTO_TCP) ||
		(sk->type == EF_SOCK_DGRAM && sk->protocol == EF_IPPROTO_UDP)) &&
	       sk->dst_port != 0 && sk->state != EF_BPF_TCP_LISTEN;
}

/* The peer a socket without storage was judged with at its connect(). */
static __always_inline void ef_wire_peer(const struct bpf_sock *sk, const struct ef_wire *w,
					 struct ef_sk *j)
{
	__u32 *a = (__u32 *)j->addr;

	j->port = bpf_ntohs(sk->dst_port);
	if (w->family == EF_FAM_V4) {
		a[0] = sk->dst_ip4;
		a[1] = a[2] = a[3] = 0;
	} else {
		a[0] = sk->dst_ip6[0];
		a[1] = sk->dst_ip6[1];
		a[2] = sk->dst_ip6[2];
		a[3] = sk->dst_ip6[3];
	}
	j->family = w->family;
}

static __always_inline int ef_wire_is_judged(const struct ef_sk *s, const struct ef_wire *w)
{
	const __u32 *a = (const __u32 *)s->addr, *b = (const __u32 *)w->addr;

	return s->family == w->family && s->port == w->port && a[0] == b[0] && a[1] == b[1] &&
	       a[2] == b[2] && a[3] == b[3];
}

static __always_inline int ef_wire_same(const struct ef_sk *s, const struct ef_wire *w)
{
	const __u32 *a = (const __u32 *)s->wire_addr, *b = (const __u32 *)w->addr;

	return s->wire_family == w->family && s->wire_port == w->port && a[0] == b[0] &&
	       a[1] == b[1] && a[2] == b[2] && a[3] == b[3];
}

static __noinline int ef_wire_slow(struct __sk_buff *skb)
{
	__u32 rule_id = EF_RULE_NONE;
	__u8 reason = EF_R_NO_RULE, verdict;
	struct ef_wire w = {};
	struct bpf_sock *sk;
	__u64 name_id = 0;
	struct ef_ctx c = {};
	struct ef_dest d;
	struct ef_sk *s;
	__u32 pid;
	int ok = 0, nothing_judged, listener, synack, fresh;

	sk = skb->sk;
	if (!sk)
		return 1;
	sk = bpf_sk_fullsock(sk);
	if (!sk)
		return 1;
	if (skb->protocol == bpf_htons(EF_ETH_P_IP)) {
		if (ef_wire_parse4(skb, &w) < 0)
			goto unreadable;
	} else if (skb->protocol == bpf_htons(EF_ETH_P_IPV6)) {
		if (ef_wire_parse6(skb, &w) < 0)
			goto unreadable;
	} else {
		return 1; /* not IP: cannot leave through an inet route */
	}
	/*
	 * A listener's storage is cloned into every socket it accepts (after
	 * its SYN-ACK): it must have one, holding no judged destination, not
	 * even one left by a connect() that failed before listen(). A socket
	 * sending a SYN-ACK without storage is a Fast Open child, created
	 * before its SYN-ACK: nothing judged either. Every other socket
	 * without storage is a connected TCP/UDP client whose peer is what its
	 * connect() judged (the fast path compares with it), or a socket that
	 * never had a judged destination. Without storage (memory) a listener
	 * or a SYN-ACK does not pass: accepted sockets would then carry none
	 * and look like judged clients.
	 */
	listener = sk->state == EF_BPF_TCP_LISTEN;
	synack = w.proto == EF_IPPROTO_TCP && ef_wire_synack(skb, &w);
	s = bpf_sk_storage_get(&ef_sk, sk, NULL, 0);
	fresh = !s;
	if (!s)
		s = bpf_sk_storage_get(&ef_sk, sk, NULL, BPF_SK_STORAGE_GET_F_CREATE);
	if (!s && (listener || synack)) {
		ef_stat_inc(EF_S_WIRE_DROPS);
		return 0;
	}
	if (s && listener) {
		s->family = 0;
		s->flags = (s->flags & ~EF_SKF_SENT_OK) | EF_SKF_LISTENER;
	} else if (s && fresh && !synack && ef_wire_inet_conn(sk)) {
		ef_wire_peer(sk, &w, s);
	}
	nothing_judged = !s || !s->family;

	c.cgroup_id = bpf_skb_ancestor_cgroup_id(skb, ef_job_level);
	c.job = bpf_map_lookup_elem(&ef_jobs, &c.cgroup_id);
	if (c.job) {
		pid = *(volatile const __u32 *)&c.job->policy_id;
		c.policy_id = pid;
		c.pol = bpf_map_lookup_elem(&ef_policies, &pid);
	}
	if (!c.pol) {
		reason = EF_R_NO_JOB;
		verdict = EF_V_DENY;
		goto denied;
	}
	if (w.reroute) {
		reason = EF_R_REROUTE;
		goto judged;
	}
	/* the judged destination after all (a header the fast path does not
	 * read, a first packet without storage): connect judged it, with what
	 * only connect knows (the DNS proxy, loopback) */
	if (s && s->family && ef_wire_is_judged(s, &w))
		return 1;
	/* as connect judges loopback with "loopback": true; else rules decide,
	 * unless nothing was judged (see above) */
	if (ef_wire_is_loopback(&w) && (nothing_judged || (c.pol->flags & EF_PF_LOOPBACK)))
		return 1;
	if (nothing_judged && ef_wire_link_control(sk, &w))
		return 1;

	__builtin_memset(&d, 0, sizeof(d));
	d.family = w.family;
	__builtin_memcpy(d.addr, w.addr, sizeof(d.addr));
	d.port = w.port;
	d.protocol = w.proto;
	d.proto_bit = w.proto_bit;
	ok = ef_dest_lookup(c.policy_id, &d, &reason, &rule_id) ||
	     (reason == EF_R_NO_RULE && ef_learned_judge(&c, &d, &reason, &rule_id, &name_id));
	if (!ok && nothing_judged && w.proto_bit != EF_PROTO_ANY) {
		__u8 r2;
		__u32 rule2;

		if (ef_inbound_judge(c.policy_id, w.family, w.addr, w.sport, w.proto_bit, &r2,
				     &rule2)) {
			ok = 1;
			reason = r2;
			rule_id = rule2;
		}
	}
	if (ok) {
		if (s && !listener) {
			/* judged on the wire, not by a sendmsg: the flag goes first, so
			 * that a sendmsg on another thread never takes a half-written
			 * destination for one it judged (lib/judged.bpf.h) */
			*(volatile __u8 *)&s->flags = s->flags & ~EF_SKF_SENT_OK;
			barrier();
			s->job_cgroup = c.cgroup_id;
			s->policy_id = c.policy_id;
			__builtin_memcpy(s->addr, w.addr, sizeof(s->addr));
			s->port = w.port;
			s->family = w.family;
		}
		return 1;
	}
judged:
	verdict = c.pol->mode == EF_MODE_AUDIT ? EF_V_WOULD_DENY : EF_V_DENY;
denied:
	if (verdict == EF_V_DENY)
		ef_stat_inc(EF_S_WIRE_DROPS);
	if (!s || !ef_wire_same(s, &w)) {
		if (s) {
			__builtin_memcpy(s->wire_addr, w.addr, sizeof(s->wire_addr));
			s->wire_port = w.port;
			s->wire_family = w.family;
		}
		ef_wire_emit(skb, &c, sk, s, &w, verdict, reason, rule_id, name_id);
	}
	return verdict == EF_V_DENY ? 0 : 1;
unreadable:
	/* a header we cannot read is not judged, so not passed */
	ef_stat_inc(EF_S_WIRE_DROPS);
	return 0;
}

/*
 * Fast path: the packet goes where the fence judged: the destination in the
 * socket's storage, or, for a TCP/UDP socket without storage, its connected
 * peer (lib/judged.bpf.h says why). Direct packet access on the linear
 * head; anything else (options, extension headers, a port outside the
 * head, a SYN-ACK from a socket without storage) is the slow path's.
 */
static __always_inline int ef_wire_check(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	struct bpf_sock *sk = skb->sk;
	const struct ef_sk *s;

	if (!sk)
		return 1;
	s = bpf_sk_storage_get(&ef_sk, sk, NULL, 0);
	if (skb->protocol == bpf_htons(EF_ETH_P_IP)) {
		struct iphdr *ip = data;
		__u16 *p = data + sizeof(*ip);
		__u8 *flags = data + sizeof(*ip) + 13;

		if ((void *)(p + 2) > end || ip->ihl != 5 || (ip->frag_off & bpf_htons(0x1fff)))
			return ef_wire_slow(skb);
		/* to a job's DNS proxy, maybe: each datagram, a SYN */
		if (ip->daddr == bpf_htonl(EF_LO4) &&
		    (ip->protocol == EF_IPPROTO_UDP ||
		     (ip->protocol == EF_IPPROTO_TCP && (void *)(flags + 1) <= end &&
		      (*flags & 0x12) == 0x02)))
			ef_dns_note(sk, ip->protocol, p[0], p[1]);
		if (s) {
			if (s->family != EF_FAM_V4 || ip->daddr != *(const __u32 *)s->addr)
				return ef_wire_slow(skb);
			if (ip->protocol == EF_IPPROTO_TCP || ip->protocol == EF_IPPROTO_UDP) {
				if (p[1] == bpf_htons(s->port))
					return 1;
			} else if (s->port == 0) {
				return 1;
			}
			return ef_wire_slow(skb);
		}
		/* no storage: the connected peer, never for a SYN-ACK (a Fast
		 * Open child) */
		sk = bpf_sk_fullsock(sk);
		if (!sk || ip->protocol != sk->protocol || !ef_wire_inet_conn(sk) ||
		    ip->daddr != sk->dst_ip4 || p[1] != sk->dst_port)
			return ef_wire_slow(skb);
		if (ip->protocol == EF_IPPROTO_TCP &&
		    ((void *)(flags + 1) > end || (*flags & 0x12) == 0x12))
			return ef_wire_slow(skb);
		return 1;
	} else {
		struct ipv6hdr *ip = data;
		__u16 *p = data + sizeof(*ip);
		__u8 *flags = data + sizeof(*ip) + 13;
		const __u32 *a;

		if ((void *)(p + 2) > end)
			return ef_wire_slow(skb);
		if (ip->daddr.in6_u.u6_addr32[3] == bpf_htonl(1) && !ip->daddr.in6_u.u6_addr32[0] &&
		    !ip->daddr.in6_u.u6_addr32[1] && !ip->daddr.in6_u.u6_addr32[2] &&
		    (ip->nexthdr == EF_IPPROTO_UDP ||
		     (ip->nexthdr == EF_IPPROTO_TCP && (void *)(flags + 1) <= end &&
		      (*flags & 0x12) == 0x02)))
			ef_dns_note(sk, ip->nexthdr, p[0], p[1]);
		if (s) {
			a = (const __u32 *)s->addr;
			if (s->family != EF_FAM_V6 || ip->daddr.in6_u.u6_addr32[0] != a[0] ||
			    ip->daddr.in6_u.u6_addr32[1] != a[1] ||
			    ip->daddr.in6_u.u6_addr32[2] != a[2] ||
			    ip->daddr.in6_u.u6_addr32[3] != a[3])
				return ef_wire_slow(skb);
			if (ip->nexthdr == EF_IPPROTO_TCP || ip->nexthdr == EF_IPPROTO_UDP) {
				if (p[1] == bpf_htons(s->port))
					return 1;
			} else if (ip->nexthdr == EF_IPPROTO_ICMPV6 && s->port == 0) {
				return 1;
			}
			return ef_wire_slow(skb);
		}
		sk = bpf_sk_fullsock(sk);
		if (!sk || ip->nexthdr != sk->protocol || !ef_wire_inet_conn(sk) ||
		    ip->daddr.in6_u.u6_addr32[0] != sk->dst_ip6[0] ||
		    ip->daddr.in6_u.u6_addr32[1] != sk->dst_ip6[1] ||
		    ip->daddr.in6_u.u6_addr32[2] != sk->dst_ip6[2] ||
		    ip->daddr.in6_u.u6_addr32[3] != sk->dst_ip6[3] || p[1] != sk->dst_port)
			return ef_wire_slow(skb);
		if (ip->nexthdr == EF_IPPROTO_TCP &&
		    ((void *)(flags + 1) > end || (*flags & 0x12) == 0x12))
			return ef_wire_slow(skb);
		return 1;
	}
}

#endif /* EF_WIRE_BPF_H */
