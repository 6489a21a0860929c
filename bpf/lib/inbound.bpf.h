/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Inbound rules: which peers may connect to a job's listeners, and on which
 * of the job's local ports. They live in ef_exact/ef_cidr beside the
 * outbound entries, under family | EF_FAM_INBOUND (include/ef_abi.h), keyed
 * by the PEER address; their port ranges are LOCAL ports. Precedence as for
 * outbound (ef_judge_ports): deny rule > allow rule > no rule. A policy with
 * no inbound rule allows no peer but loopback.
 */
#ifndef EF_INBOUND_BPF_H
#define EF_INBOUND_BPF_H

/* Returns 1 allow, 0 deny; family is EF_FAM_V4/V6 (an IPv4-mapped peer
 * already turned into IPv4). */
static __always_inline int ef_inbound_judge(__u32 policy_id, __u32 family, const __u8 addr[16],
					    __u16 local_port, __u8 proto_bit, __u8 *reason,
					    __u32 *rule_id)
{
	struct ef_exact_key ek = {};
	struct ef_lpm_key lk = {};
	const struct ef_ports *v;

	ek.policy_id = policy_id;
	ek.family = family | EF_FAM_INBOUND;
	__builtin_memcpy(ek.addr, addr, sizeof(ek.addr));
	v = bpf_map_lookup_elem(&ef_exact, &ek);
	if (!v) {
		lk.prefixlen = EF_LPM_FIXED_BITS + (family == EF_FAM_V4 ? 32 : 128);
		lk.policy_id = policy_id;
		lk.family = family | EF_FAM_INBOUND;
		__builtin_memcpy(lk.addr, addr, sizeof(lk.addr));
		v = bpf_map_lookup_elem(&ef_cidr, &lk);
	}
	if (!v) {
		*reason = EF_R_NO_RULE;
		*rule_id = EF_RULE_NONE;
		return 0;
	}
	return ef_judge_ports(v, local_port, proto_bit, reason, rule_id);
}

/*
 * The inbound hook (cgroup_skb/ingress on the fence root): what reaches a
 * job's TCP listener from a peer no inbound rule allows is dropped before
 * any data flows. The listener is the socket the packet was delivered to:
 * tcp_filter() runs the hook with the listener for a SYN, and again for
 * the handshake's last ACK, so dropping every packet a listener gets from
 * a denied peer (not only SYNs: a forged syncookie ACK too) leaves no
 * connection. Established sockets (the job's own connections and those it
 * accepted) take the fast path: one socket-state read.
 *
 * Decisions:
 *   - a loopback peer (127.0.0.0/8, ::1) on the loopback device: allowed,
 *     not recorded (the outbound side judged the connect, lib/dest.bpf.h);
 *   - the listener's job is found from the socket's cgroup
 *     (bpf_skb_ancestor_cgroup_id), never from the task that happens to run
 *     the softirq; no live job: dropped, EF_R_NO_JOB;
 *   - ef_inbound_judge() by peer address and LOCAL port: an allow rule ->
 *     allowed (EF_R_RULE), else EF_R_NO_RULE (denied; would_deny and let
 *     through in audit mode).
 * Records: one EF_K_INBOUND per SYN, allowed or not (an allowed one is an
 * accepted connection: cheap, handshakes only). A peer retransmits its SYN
 * (1 s, 3 s, 7 s...): a denial is recorded once per (job, peer, local port)
 * per EF_IN_DEDUP_NS, an allowed SYN once per (job, peer, peer port, local
 * port) in the same window (a retransmission, not a new connection).
 * UDP is not judged here: a datagram from any peer reaches a job's UDP
 * socket; whatever the job sends back is judged as outbound (sendmsg,
 * connect, the wire check).
 */
#define EF_IN_DEDUP_NS (10ull * 1000 * 1000 * 1000)
#define EF_MAX_IN_SEEN 16384

struct ef_in_key {
	__u64 cgroup_id;
	__u8 addr[16];
	__u32 family;
	__u16 local_port;
	__u16 peer_port; /* 0 for a denial */
	__u32 verdict;
};

/* (job, peer, local port) -> when last recorded: retransmitted SYNs */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, EF_MAX_IN_SEEN);
	__type(key, struct ef_in_key);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ef_in_seen SEC(".maps");

#define EF_ETH_P_IP   0x0800
#define EF_ETH_P_IPV6 0x86DD
#define EF_LOOPBACK_IFINDEX 1
#define EF_TCP_SYN    0x02
#define EF_TCP_ACK    0x10

struct ef_in_pkt {
	__u32 family;
	__u8 peer[16];
	__u8 local[16];
	__u16 peer_port; /* host order; 0 if the TCP header was not found */
	__u16 local_port;
	__u8 flags; /* TCP flags; 0 if not found */
};

static __always_inline int ef_in_parse4(struct __sk_buff *skb, struct ef_in_pkt *p)
{
	struct iphdr ip;
	__u8 th[14];

	if (bpf_skb_load_bytes(skb, 0, &ip, sizeof(ip)) < 0)
		return -1;
	p->family = EF_FAM_V4;
	__builtin_memcpy(p->peer, &ip.saddr, 4);
	__builtin_memcpy(p->local, &ip.daddr, 4);
	if (ip.protocol != EF_IPPROTO_TCP || (ip.frag_off & bpf_htons(0x1fff)))
		return 0;
	if (bpf_skb_load_bytes(skb, (__u32)ip.ihl * 4, th, sizeof(th)) < 0)
		return 0;
	p->peer_port = (__u16)(th[0] << 8 | th[1]);
	p->local_port = (__u16)(th[2] << 8 | th[3]);
	p->flags = th[13];
	return 0;
}

/* Extension headers are walked (a bounded few): a peer that puts one
 * before TCP is still seen. Past the bound the packet is judged all the
 * same (the listener is what decides), only not recorded as a SYN. */
static __always_inline int ef_in_parse6(struct __sk_buff *skb, struct ef_in_pkt *p)
{
	struct ipv6hdr ip;
	__u8 nh, th[14], eh[2];
	__u32 off = sizeof(ip);

	if (bpf_skb_load_bytes(skb, 0, &ip, sizeof(ip)) < 0)
		return -1;
	p->family = EF_FAM_V6;
	__builtin_memcpy(p->peer, &ip.saddr, 16);
	__builtin_memcpy(p->local, &ip.daddr, 16);
	nh = ip.nexthdr;
	for (int i = 0; i < 6; i++) {
		if (nh != 0 && nh != 43 && nh != 60 && nh != 51)
			break;
		if (bpf_skb_load_bytes(skb, off, eh, sizeof(eh)) < 0)
			return 0;
		nh = eh[0];
		off += nh == 51 ? ((__u32)eh[1] + 2) * 4 : ((__u32)eh[1] + 1) * 8;
	}
	if (nh != EF_IPPROTO_TCP)
		return 0;
	if (bpf_skb_load_bytes(skb, off, th, sizeof(th)) < 0)
		return 0;
	p->peer_port = (__u16)(th[0] << 8 | th[1]);
	p->local_port = (__u16)(th[2] << 8 | th[3]);
	p->flags = th[13];
	return 0;
}

/* An IPv4-mapped peer is its IPv4 address (the judge takes IPv4 in addr[0..3]). */
static __always_inline void ef_in_unmap(struct ef_in_pkt *p)
{
	__u32 w[4];

	if (p->family != EF_FAM_V6)
		return;
	__builtin_memcpy(w, p->peer, 16);
	if (w[0] || w[1] || w[2] != bpf_htonl(0xffff))
		return;
	p->family = EF_FAM_V4;
	__builtin_memset(p->peer, 0, 16);
	__builtin_memcpy(p->peer, &w[3], 4);
	__builtin_memcpy(w, p->local, 16);
	__builtin_memset(p->local, 0, 16);
	__builtin_memcpy(p->local, &w[3], 4);
}

static __always_inline int ef_in_peer_loopback(const struct ef_in_pkt *p)
{
	if (p->family == EF_FAM_V4)
		return p->peer[0] == 127;
	for (int i = 0; i < 15; i++)
		if (p->peer[i])
			return 0;
	return p->peer[15] == 1;
}

/* Recorded already in this window? Marks it recorded if not. */
static __always_inline int ef_in_seen_recently(__u64 cgroup_id, const struct ef_in_pkt *p,
					       __u8 verdict)
{
	struct ef_in_key k = {};
	__u64 now = bpf_ktime_get_boot_ns(), *last;

	k.cgroup_id = cgroup_id;
	__builtin_memcpy(k.addr, p->peer, sizeof(k.addr));
	k.family = p->family;
	k.local_port = p->local_port;
	k.peer_port = verdict == EF_V_ALLOW ? p->peer_port : 0;
	k.verdict = verdict;
	last = bpf_map_lookup_elem(&ef_in_seen, &k);
	if (last && now - *last < EF_IN_DEDUP_NS)
		return 1;
	bpf_map_update_elem(&ef_in_seen, &k, &now, BPF_ANY);
	return 0;
}

/* An ef_emit() for a packet: no task (softirq), the job from the socket. */
static __always_inline void ef_emit_inbound(__u64 cgroup_id, const struct ef_job *job,
					    __u32 policy_id, const struct ef_in_pkt *p,
					    __u8 verdict, __u8 reason, __u32 rule_id, __u64 cookie)
{
	struct ef_event *e;

	e = ef_event_reserve(verdict);
	if (!e)
		return;
	__builtin_memset(e, 0, sizeof(*e));
	e->ts_boot_ns = bpf_ktime_get_boot_ns();
	e->cgroup_id = cgroup_id;
	e->job_serial = job ? job->serial : 0;
	e->cookie = cookie;
	e->policy_id = policy_id;
	e->rule_id = rule_id;
	e->kind = EF_K_INBOUND;
	e->verdict = verdict;
	e->reason = reason;
	e->family = (__u8)p->family;
	e->sock_type = EF_SOCK_STREAM;
	e->protocol = EF_IPPROTO_TCP;
	e->port = p->peer_port;
	__builtin_memcpy(e->addr, p->peer, sizeof(e->addr));
	__builtin_memcpy(e->addr2, p->local, sizeof(e->addr2));
	e->port2 = p->local_port;
	e->family2 = (__u8)p->family;
	ef_event_submit(e, verdict);
}

/* Returns 1 pass, 0 drop. */
static __always_inline int ef_inbound_decide(struct __sk_buff *skb)
{
	struct bpf_sock *sk = skb->sk;
	struct ef_in_pkt p = {};
	const struct ef_policy_val *pol;
	const struct ef_job *job;
	__u32 rule_id = EF_RULE_NONE, policy_id;
	__u8 reason = EF_R_NO_JOB, verdict;
	__u64 cgroup_id;
	struct ef_sk *s;
	int ret;

	/* fast path: only a listener's packets are connection attempts */
	if (!sk)
		return 1;
	sk = bpf_sk_fullsock(sk);
	if (!sk || sk->state != BPF_TCP_LISTEN || sk->protocol != EF_IPPROTO_TCP)
		return 1;

	if (skb->protocol == bpf_htons(EF_ETH_P_IP))
		ret = ef_in_parse4(skb, &p);
	else if (skb->protocol == bpf_htons(EF_ETH_P_IPV6))
		ret = ef_in_parse6(skb, &p);
	else
		return 0; /* a listener's packet of no IP family: nothing to allow */
	if (ret < 0)
		return 0;
	ef_in_unmap(&p);
	if (!p.local_port)
		p.local_port = (__u16)sk->src_port;
	/* the wire check tells accepted sockets by this flag: set on the
	 * listener before its first child exists, so every child clones it */
	s = bpf_sk_storage_get(&ef_sk, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (s && !(s->flags & EF_SKF_LISTENER))
		s->flags |= EF_SKF_LISTENER;
	/* a loopback peer, on the loopback device: the stack drops ::1 from
	 * elsewhere, but accepts 127/8 from outside where route_localnet is
	 * set, so the device is checked too (lo is ifindex 1 in every netns) */
	if (ef_in_peer_loopback(&p) && skb->ingress_ifindex == EF_LOOPBACK_IFINDEX)
		return 1;

	cgroup_id = bpf_skb_ancestor_cgroup_id(skb, ef_job_level);
	job = bpf_map_lookup_elem(&ef_jobs, &cgroup_id);
	pol = NULL;
	policy_id = 0;
	if (job) {
		policy_id = *(volatile const __u32 *)&job->policy_id;
		pol = bpf_map_lookup_elem(&ef_policies, &policy_id);
	}
	if (!pol) {
		verdict = EF_V_DENY; /* fail closed */
	} else if (ef_inbound_judge(policy_id, p.family, p.peer, p.local_port, EF_PROTO_TCP,
				    &reason, &rule_id)) {
		verdict = EF_V_ALLOW;
	} else {
		verdict = pol->mode == EF_MODE_AUDIT ? EF_V_WOULD_DENY : EF_V_DENY;
	}
	if ((p.flags & (EF_TCP_SYN | EF_TCP_ACK)) == EF_TCP_SYN &&
	    !ef_in_seen_recently(cgroup_id, &p, verdict))
		ef_emit_inbound(cgroup_id, job, policy_id, &p, verdict, reason, rule_id,
				bpf_get_socket_cookie(skb));
	return verdict == EF_V_DENY ? 0 : 1;
}

#endif /* EF_INBOUND_BPF_H */
