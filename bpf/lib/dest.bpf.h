/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Judging a destination (connect, sendmsg). Precedence, in order:
 *   1. the caller belongs to no live job: deny (fail closed), EF_R_NO_JOB;
 *   2. loopback (127.0.0.0/8, ::1, ::ffff:127.x): the DNS proxy port of
 *      another job is refused (EF_R_DNS_PROXY: its policy is not this
 *      job's); the job's own proxy port passes unrecorded. Then, unless
 *      "loopback" is false, a listener (TCP) or bound socket (UDP) of the
 *      job itself (found with bpf_sk_lookup_*(), created in the job's
 *      cgroup or one nested in it, in no SO_REUSEPORT group) passes
 *      unrecorded. Any other local listener goes on to step 3 and is
 *      recorded: a rule naming it (127.0.0.1:5432) allows it; without one,
 *      EF_R_LOOPBACK, allowed with "loopback": true (a deny rule still
 *      wins), denied with "own" or false;
 *   3. exact-address entry of the job's policy, else longest-prefix entry;
 *      its ranges decide per ef_judge_ports() (deny rule > allow rule >
 *      metadata > no rule). No entry: EF_R_NO_RULE;
 *   4. no rule: an address the job learned through its DNS proxy
 *      (ef_learned, keyed by job) is judged by the ranges of the name rules
 *      that allowed the name, until its TTL (+ grace) runs out
 *      (EF_R_DNS_EXPIRED after that); the record names the host name;
 *   5. audit mode turns a deny into would_deny and lets the call through.
 * The canary (EF_CANARY_ADDR4:EF_CANARY_PORT, include/ef_abi.h) is refused
 * to every job after step 1, whatever the policy and mode say (EF_R_CANARY):
 * egressctl run's proof that the process it execs is fenced. One compare of
 * the port first: nothing else is paid for it.
 * Before all this, port 53 (UDP or TCP, any address) is taken to the job's
 * DNS proxy (lib/dns.bpf.h) and not recorded here.
 * Unconnected UDP is judged once per (socket, job, policy version, destination)
 * and recorded then; later datagrams reuse the verdict: from the socket's
 * ef_sk storage when they go where its last one judged by the policy went
 * (EF_SKF_SENT_OK), else from ef_sent.
 * IPv4-mapped IPv6 destinations are judged as the IPv4 address. Every exit
 * that lets the call through records what it let through in the socket's
 * ef_sk storage (ef_judged_set, lib/judged.bpf.h) for the wire check. The cost is
 * one hash lookup plus at most one trie lookup, whatever the rule count.
 */
#ifndef EF_DEST_BPF_H
#define EF_DEST_BPF_H

#define EF_LO4_ADDR 0x7f000001 /* 127.0.0.1, host order */

struct ef_dest {
	__u32 family; /* enum ef_family */
	__u8 addr[16];
	__u16 port;   /* host order */
	__u16 protocol;
	__u8 proto_bit;
	__u8 sock_type;
};

static __always_inline void ef_dest_proto(struct ef_dest *d, __u32 protocol, __u32 type)
{
	d->protocol = protocol;
	d->sock_type = type;
	if (protocol == EF_IPPROTO_TCP)
		d->proto_bit = EF_PROTO_TCP;
	else if (protocol == EF_IPPROTO_UDP)
		d->proto_bit = EF_PROTO_UDP;
	else
		d->proto_bit = 0; /* no rule covers other protocols */
}

static __always_inline void ef_dest_from4(struct ef_dest *d, struct bpf_sock_addr *ctx)
{
	__u32 ip = ctx->user_ip4;

	__builtin_memset(d, 0, sizeof(*d));
	d->family = EF_FAM_V4;
	/* 0.0.0.0 is where the kernel would take 127.0.0.1: say so, so that
	 * the judgement, the record and the packet agree */
	if (ip == 0) {
		ip = bpf_htonl(EF_LO4_ADDR);
		ctx->user_ip4 = ip;
	}
	__builtin_memcpy(d->addr, &ip, 4);
	d->port = bpf_ntohs((__u16)ctx->user_port);
	ef_dest_proto(d, ctx->protocol, ctx->type);
}

static __always_inline void ef_dest_from6(struct ef_dest *d, struct bpf_sock_addr *ctx)
{
	__u32 w0 = ctx->user_ip6[0], w1 = ctx->user_ip6[1];
	__u32 w2 = ctx->user_ip6[2], w3 = ctx->user_ip6[3];

	__builtin_memset(d, 0, sizeof(*d));
	/* :: (and ::ffff:0.0.0.0) is where the kernel would take ::1
	 * (127.0.0.1): say so, as for 0.0.0.0 */
	if (w0 == 0 && w1 == 0 && (w2 == 0 || w2 == bpf_htonl(0xffff)) && w3 == 0) {
		w3 = w2 ? bpf_htonl(EF_LO4_ADDR) : bpf_htonl(1);
		ctx->user_ip6[3] = w3;
	}
	if (w0 == 0 && w1 == 0 && w2 == bpf_htonl(0xffff)) {
		d->family = EF_FAM_V4;
		__builtin_memcpy(d->addr, &w3, 4);
	} else {
		d->family = EF_FAM_V6;
		__builtin_memcpy(d->addr, &w0, 4);
		__builtin_memcpy(d->addr + 4, &w1, 4);
		__builtin_memcpy(d->addr + 8, &w2, 4);
		__builtin_memcpy(d->addr + 12, &w3, 4);
	}
	d->port = bpf_ntohs((__u16)ctx->user_port);
	ef_dest_proto(d, ctx->protocol, ctx->type);
}

static __always_inline int ef_dest_is_loopback(const struct ef_dest *d)
{
	if (d->family == EF_FAM_V4)
		return d->addr[0] == 127;
	for (int i = 0; i < 15; i++)
		if (d->addr[i])
			return 0;
	return d->addr[15] == 1;
}

/*
 * The job a socket was created in: the ancestor at ef_job_level of its
 * cgroup (sk_cgrp_data, fixed when the socket is made; the same the kernel
 * gives bpf_skb_ancestor_cgroup_id() and sock_diag), 0 if it is in none;
 * and whether it is in a SO_REUSEPORT group. Sockets carry no mark: the
 * head of struct sock is copied (probe read, CO-RE offsets) into per-CPU
 * scratch, which works on any kernel with BPF CO-RE, without kfuncs.
 * Returns 0, or -1 if the socket could not be read (then it is not own).
 */
static __always_inline int ef_sk_owner(struct bpf_sock *sk, __u64 *job, int *reuseport)
{
	__u32 off = bpf_core_field_offset(struct sock, sk_cgrp_data.cgroup), zero = 0;
	struct sock_common *sc;
	struct cgroup *cg = NULL, *anc = NULL;
	__u32 lvl = ef_job_level;
	__u8 *buf;

	*job = 0;
	*reuseport = 0;
	buf = bpf_map_lookup_elem(&ef_scratch, &zero);
	if (!buf || off > EF_SCRATCH_BYTES - sizeof(cg))
		return -1;
	if (bpf_probe_read_kernel(buf, off + sizeof(cg), sk) < 0)
		return -1;
	sc = (struct sock_common *)buf;
	*reuseport = BPF_CORE_READ_BITFIELD(sc, skc_reuseport);
	__builtin_memcpy(&cg, buf + off, sizeof(cg));
	if (!cg || lvl > 64 || BPF_CORE_READ(cg, level) < (int)lvl)
		return 0;
	if (bpf_probe_read_kernel(&anc, sizeof(anc), &cg->ancestors[lvl]) < 0 || !anc)
		return 0;
	*job = BPF_CORE_READ(anc, kn, id);
	return 0;
}

/*
 * The socket a loopback destination would reach (a TCP listener, a bound
 * UDP socket) belongs to job `job`: created in the job's cgroup or one
 * nested in it (a socket made outside and passed in is not the job's).
 * The lookup is the kernel's own (same netns), so it finds what the
 * connection would find, dual-stack [::] listeners included. A socket in a
 * SO_REUSEPORT group is never own: the kernel may hand the connection to
 * another member, outside the job.
 */
static __always_inline int ef_loopback_own(struct bpf_sock_addr *ctx, const struct ef_dest *d,
					   __u64 job)
{
	struct bpf_sock_tuple t = {};
	struct bpf_sock *sk;
	__u64 owner;
	__u32 size;
	int own, reuseport;

	if (d->family == EF_FAM_V4) {
		__builtin_memcpy(&t.ipv4.daddr, d->addr, 4);
		t.ipv4.dport = bpf_htons(d->port);
		size = sizeof(t.ipv4);
	} else {
		__builtin_memcpy(t.ipv6.daddr, d->addr, 16);
		t.ipv6.dport = bpf_htons(d->port);
		size = sizeof(t.ipv6);
	}
	if (d->proto_bit == EF_PROTO_TCP)
		sk = bpf_sk_lookup_tcp(ctx, &t, size, BPF_F_CURRENT_NETNS, 0);
	else if (d->proto_bit == EF_PROTO_UDP)
		sk = bpf_sk_lookup_udp(ctx, &t, size, BPF_F_CURRENT_NETNS, 0);
	else
		return 0;
	if (!sk)
		return 0;
	own = !ef_sk_owner(sk, &owner, &reuseport) && job && owner == job && !reuseport;
	bpf_sk_release(sk);
	return own;
}

/* 127.0.0.1 or ::1, where egressd's DNS proxies listen */
static __always_inline int ef_dest_is_lo1(const struct ef_dest *d)
{
	__u32 a;

	if (d->family == EF_FAM_V4) {
		/* one word: byte loads could be folded into loads from ctx */
		__builtin_memcpy(&a, d->addr, 4);
		return a == bpf_htonl(0x7f000001);
	}
	return ef_dest_is_loopback(d);
}

/* EF_CANARY_ADDR4 (IPv4, or IPv4-mapped from a *6 program) */
static __always_inline int ef_dest_is_canary(const struct ef_dest *d)
{
	__u32 a;

	__builtin_memcpy(&a, d->addr, 4);
	return d->family == EF_FAM_V4 && a == bpf_htonl(EF_CANARY_ADDR4);
}

/* Returns 1 allow, 0 deny. */
static __always_inline int ef_dest_lookup(__u32 policy_id, const struct ef_dest *d, __u8 *reason,
					  __u32 *rule_id)
{
	struct ef_exact_key ek = {};
	struct ef_lpm_key lk = {};
	const struct ef_ports *v;

	ek.policy_id = policy_id;
	ek.family = d->family;
	__builtin_memcpy(ek.addr, d->addr, sizeof(ek.addr));
	v = bpf_map_lookup_elem(&ef_exact, &ek);
	if (!v) {
		lk.prefixlen = EF_LPM_FIXED_BITS + (d->family == EF_FAM_V4 ? 32 : 128);
		lk.policy_id = policy_id;
		lk.family = d->family;
		__builtin_memcpy(lk.addr, d->addr, sizeof(lk.addr));
		v = bpf_map_lookup_elem(&ef_cidr, &lk);
	}
	if (!v) {
		*reason = EF_R_NO_RULE;
		*rule_id = EF_RULE_NONE;
		return 0;
	}
	return ef_judge_ports(v, d->port, d->proto_bit, reason, rule_id);
}

/* Step 4: returns 1 allow, 0 deny; reason and rule only change if the
 * job learned the address. */
static __always_inline int ef_learned_judge(const struct ef_ctx *c, const struct ef_dest *d,
					    __u8 *reason, __u32 *rule_id, __u64 *name_id)
{
	struct ef_learn_key k = {};
	const struct ef_learn_val *v;

	k.cgroup_id = c->cgroup_id;
	k.policy_id = c->policy_id;
	k.family = d->family;
	__builtin_memcpy(k.addr, d->addr, sizeof(k.addr));
	v = bpf_map_lookup_elem(&ef_learned, &k);
	if (!v)
		return 0;
	*name_id = v->name_id;
	if (v->expires_boot_ns < bpf_ktime_get_boot_ns()) {
		*reason = EF_R_DNS_EXPIRED;
		*rule_id = EF_RULE_NONE;
		return 0;
	}
	if (!v->ports.n)
		return 0; /* audit mode, unlisted name: known by name only */
	return ef_judge_ports(&v->ports, d->port, d->proto_bit, reason, rule_id);
}

static __always_inline void ef_sent_key_fill(struct ef_sent_key *k, __u64 cookie,
					     const struct ef_ctx *c, const struct ef_dest *d)
{
	k->cookie = cookie;
	k->job = c->cgroup_id;
	k->policy_id = c->policy_id;
	k->family = d->family;
	k->port = d->port;
	__builtin_memcpy(k->addr, d->addr, sizeof(k->addr));
}

/* v6: called from a *6 program (ctx has user_ip6). */
static __always_inline int ef_dest_decide(struct bpf_sock_addr *ctx, const struct ef_dest *d,
					  __u8 kind, int v6)
{
	__u32 rule_id = EF_RULE_NONE;
	__u64 name_id = 0;
	struct ef_sent_key sk = {};
	struct ef_sk *s = NULL;
	__u8 reason, verdict;
	struct ef_ctx c;
	__u64 cookie;
	int loopback;

	cookie = bpf_get_socket_cookie(ctx);
	if (ef_ctx_load(&c) < 0) {
		ef_emit(&c, kind, EF_V_DENY, EF_R_NO_JOB, EF_RULE_NONE, d->family, d->addr, d->port,
			d->protocol, d->sock_type, cookie, 0);
		return EF_DROP;
	}
	if (d->port == EF_DNS_PORT && d->proto_bit && c.job->dns_port) {
		ef_dns_netns(ctx, &c);
		ef_dns_who_keep(ctx, c.cgroup_id);
		if (!v6)
			return ef_judged_set(ctx, &c, v6, kind, ef_dns_redirect4(ctx, c.job));
		return ef_judged_set(ctx, &c, v6, kind,
				     ef_dns_redirect6(ctx, c.job, d->family == EF_FAM_V4));
	}
	/* the canary (ef_abi.h): refused before anything could allow it */
	if (d->port == EF_CANARY_PORT && ef_dest_is_canary(d)) {
		ef_emit(&c, kind, EF_V_DENY, EF_R_CANARY, EF_RULE_NONE, d->family, d->addr,
			d->port, d->protocol, d->sock_type, cookie, 0);
		return EF_DROP;
	}
	loopback = ef_dest_is_loopback(d);
	if (loopback) {
		__u16 port = d->port;
		const __u64 *owner = bpf_map_lookup_elem(&ef_dns_ports, &port);

		if (owner && *owner != c.cgroup_id) {
			verdict = c.pol->mode == EF_MODE_AUDIT ? EF_V_WOULD_DENY : EF_V_DENY;
			ef_emit(&c, kind, verdict, EF_R_DNS_PROXY, EF_RULE_NONE, d->family, d->addr,
				d->port, d->protocol, d->sock_type, cookie, 0);
			return verdict == EF_V_DENY ? EF_DROP : ef_judged_set(ctx, &c, v6, kind, EF_ALLOW);
		}
		/* the fence's own resolver for this job, judged by its policy;
		 * only where it listens (127.0.0.1, ::1): the same port on
		 * another loopback address could be anyone's */
		if (owner && ef_dest_is_lo1(d)) {
			/* asked straight: its egress.dns span names it all the same */
			ef_dns_who_keep(ctx, c.cgroup_id);
			return ef_judged_set(ctx, &c, v6, kind, EF_ALLOW);
		}
		if ((c.pol->flags & (EF_PF_LOOPBACK | EF_PF_LOOPBACK_OWN)) &&
		    ef_loopback_own(ctx, d, c.cgroup_id))
			return ef_judged_set(ctx, &c, v6, kind, EF_ALLOW);
	}
	if (kind == EF_K_SEND) {
		const struct ef_sent_val *sv;

		s = bpf_sk_storage_get(&ef_sk, ctx->sk, NULL, BPF_SK_STORAGE_GET_F_CREATE);
		if (s && ef_judged_sent_ok(s, &c, d->family, d->port, d->addr))
			return EF_ALLOW;
		ef_sent_key_fill(&sk, cookie, &c, d);
		sv = bpf_map_lookup_elem(&ef_sent, &sk);
		if (sv) {
			if (sv->verdict == EF_V_DENY)
				return EF_DROP;
			if (s)
				ef_judged_write(s, ctx, &c, v6, 1);
			return EF_ALLOW;
		}
	}

	if (ef_dest_lookup(c.policy_id, d, &reason, &rule_id) ||
	    (reason == EF_R_NO_RULE && ef_learned_judge(&c, d, &reason, &rule_id, &name_id)))
		verdict = EF_V_ALLOW;
	else
		verdict = c.pol->mode == EF_MODE_AUDIT ? EF_V_WOULD_DENY : EF_V_DENY;
	if (loopback && reason == EF_R_NO_RULE) {
		/* a local listener outside the job that no rule names */
		reason = EF_R_LOOPBACK;
		if (c.pol->flags & EF_PF_LOOPBACK)
			verdict = EF_V_ALLOW;
	}

	if (kind == EF_K_SEND) {
		struct ef_sent_val sv = { .verdict = verdict };

		bpf_map_update_elem(&ef_sent, &sk, &sv, BPF_ANY);
	}
	ef_emit(&c, kind, verdict, reason, rule_id, d->family, d->addr, d->port, d->protocol,
		d->sock_type, cookie, name_id);
	if (verdict == EF_V_DENY)
		return EF_DROP;
	if (kind == EF_K_SEND) {
		if (s)
			ef_judged_write(s, ctx, &c, v6, 1);
		return EF_ALLOW;
	}
	return ef_judged_set(ctx, &c, v6, kind, EF_ALLOW);
}

#endif /* EF_DEST_BPF_H */
