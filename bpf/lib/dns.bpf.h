/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * DNS interception. Every UDP or TCP destination on port 53 a fenced job
 * asks for, whatever the address, is rewritten to the job's DNS proxy in
 * egressd on loopback (ef_job.dns_port): a job cannot reach a resolver, or
 * tunnel through one, past the proxy. The address the job asked for is kept
 * in the socket's ef_dns_sk storage; recvmsg and getpeername give it back
 * in place of the proxy's, so the resolver library sees its answers come
 * from the server it asked (glibc and musl check the source).
 *
 * The asked address is kept as IPv6, an IPv4 one mapped (::ffff:a.b.c.d):
 * an AF_INET6 socket sending to [::ffff:a.b.c.d]:53 unconnected passes the
 * sendmsg4 hook (udpv6_sendmsg hands mapped destinations to udp_sendmsg),
 * but its answers pass recvmsg6, which must give back the mapped address,
 * not an IPv4 one spread over an IPv6 one (that was c612:109:: for
 * 198.18.1.9).
 *
 * The rewrite is not a decision: it is not recorded. The proxy records one
 * egress.dns span per query. A job without a proxy yet (dns_port 0) is
 * judged like any other destination.
 */
#ifndef EF_DNS_BPF_H
#define EF_DNS_BPF_H

#define EF_LO4 0x7f000001 /* 127.0.0.1, host order */

/*
 * A query from a network namespace other than egressd's (a container's, a
 * rootless Podman's, unshare -n): the rewrite is the same, to loopback and
 * the job's port, and egressd opens the job's proxy sockets in that
 * namespace when told of it: once per job and namespace (ef_dns_nets), by
 * a record that is not a decision (EF_K_NETNS). Until they are open the
 * query finds no listener there, and the resolver asks again.
 */
static __always_inline void ef_dns_netns(struct bpf_sock_addr *ctx, const struct ef_ctx *c)
{
	struct ef_dns_net_key k = { .job = c->cgroup_id };
	__u32 zero = 0;
	__u64 *host, id;
	__u8 one = 1;
	struct ef_event *e;

	host = bpf_map_lookup_elem(&ef_host_netns, &zero);
	k.netns = bpf_get_netns_cookie(ctx);
	if (!host || !*host || k.netns == *host)
		return;
	/* told already (looked up first: an insert into an LRU map takes a
	 * node, evicting another job's entry, before it checks NOEXIST) */
	if (bpf_map_lookup_elem(&ef_dns_nets, &k) ||
	    bpf_map_update_elem(&ef_dns_nets, &k, &one, BPF_NOEXIST))
		return;
	e = bpf_ringbuf_reserve(&ef_events, sizeof(*e), 0);
	if (!e) {
		/* no record: the next query tries again */
		bpf_map_delete_elem(&ef_dns_nets, &k);
		ef_stat_inc(EF_S_RB_DROPS);
		return;
	}
	__builtin_memset(e, 0, sizeof(*e));
	id = bpf_get_current_pid_tgid();
	e->ts_boot_ns = bpf_ktime_get_boot_ns();
	e->cgroup_id = c->cgroup_id;
	e->job_serial = c->job ? c->job->serial : 0;
	e->cookie = k.netns;
	e->pid = id >> 32;
	e->tid = (__u32)id;
	e->policy_id = c->policy_id;
	e->rule_id = EF_RULE_NONE;
	e->kind = EF_K_NETNS;
	e->verdict = EF_V_ALLOW;
	bpf_ringbuf_submit(e, BPF_RB_FORCE_WAKEUP);
}

/* Who is asking: kept on the socket, told to the proxy by the wire check
 * (ef_dns_note). Not fatal if it cannot be had: the span lacks the process. */
static __always_inline void ef_dns_who_keep(struct bpf_sock_addr *ctx, __u64 job)
{
	struct task_struct *t = bpf_get_current_task_btf();
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	const unsigned char *name = NULL;
	struct ef_dns_who *w;
	struct mm_struct *mm;

	w = bpf_sk_storage_get(&ef_dns_whosk, ctx->sk, NULL, BPF_SK_STORAGE_GET_F_CREATE);
	if (!w)
		return;
	w->job = job;
	w->pid = pid_tgid >> 32;
	w->tid = (__u32)pid_tgid;
	w->uid = (__u32)bpf_get_current_uid_gid();
	w->ppid = t->real_parent->tgid;
	w->start_boot_ns = t->group_leader->start_boottime;
	__builtin_memcpy(w->comm, t->comm, sizeof(w->comm));
	mm = t->mm;
	if (mm && mm->exe_file)
		name = mm->exe_file->f_path.dentry->d_name.name;
	if (!name || bpf_probe_read_kernel_str(w->exe, sizeof(w->exe), name) < 0)
		w->exe[0] = '\0';
}

/*
 * The wire check, for a UDP datagram or a TCP SYN of a job's socket to
 * 127.0.0.1 or ::1: if it goes to that job's own proxy port (ef_dns_ports)
 * from a socket whose DNS traffic was taken or sent there (ef_dns_whosk),
 * the proxy learns who sent it under (job, local port, protocol): the local
 * port is known only now (connect() binds it after its hook). A packet to
 * any other loopback port costs one hash lookup; one to another job's proxy
 * (audit mode lets it through) notes nothing.
 */
static __always_inline void ef_dns_note(struct bpf_sock *sk, __u8 proto, __u16 sport,
					__u16 dport)
{
	struct ef_dns_peer_key k = {};
	struct ef_dns_who *w;
	__u16 port = bpf_ntohs(dport);
	__u64 *job;

	job = bpf_map_lookup_elem(&ef_dns_ports, &port);
	if (!job)
		return;
	w = bpf_sk_storage_get(&ef_dns_whosk, sk, NULL, 0);
	if (!w || w->job != *job)
		return;
	k.job = *job;
	k.port = bpf_ntohs(sport);
	k.proto = proto;
	bpf_map_update_elem(&ef_dns_peer, &k, w, BPF_ANY);
}

static __always_inline struct ef_dns_orig *ef_dns_keep(struct bpf_sock_addr *ctx,
						       const struct ef_job *job)
{
	struct ef_dns_orig *o;

	o = bpf_sk_storage_get(&ef_dns_sk, ctx->sk, NULL, BPF_SK_STORAGE_GET_F_CREATE);
	if (!o)
		return NULL;
	o->port = (__u16)ctx->user_port;
	o->proxy_port = bpf_htons(job->dns_port);
	return o;
}

/* Returns EF_ALLOW after the rewrite, EF_DROP if the socket's storage
 * cannot be had (fail closed: the query would otherwise leave unjudged). */
static __always_inline int ef_dns_redirect4(struct bpf_sock_addr *ctx, const struct ef_job *job)
{
	struct ef_dns_orig *o = ef_dns_keep(ctx, job);

	if (!o)
		return EF_DROP;
	o->addr[0] = o->addr[1] = 0;
	o->addr[2] = bpf_htonl(0xffff);
	o->addr[3] = ctx->user_ip4;
	ctx->user_ip4 = bpf_htonl(EF_LO4);
	ctx->user_port = o->proxy_port;
	return EF_ALLOW;
}

static __always_inline int ef_dns_redirect6(struct bpf_sock_addr *ctx, const struct ef_job *job,
					    int mapped)
{
	struct ef_dns_orig *o = ef_dns_keep(ctx, job);

	if (!o)
		return EF_DROP;
	o->addr[0] = ctx->user_ip6[0];
	o->addr[1] = ctx->user_ip6[1];
	o->addr[2] = ctx->user_ip6[2];
	o->addr[3] = ctx->user_ip6[3];
	ctx->user_ip6[0] = 0;
	ctx->user_ip6[1] = 0;
	if (mapped || !(job->dns_flags & EF_JD_V6)) {
		/* an IPv4 resolver asked through an IPv6 socket stays IPv4 */
		ctx->user_ip6[2] = bpf_htonl(0xffff);
		ctx->user_ip6[3] = bpf_htonl(EF_LO4);
	} else {
		ctx->user_ip6[2] = 0;
		ctx->user_ip6[3] = bpf_htonl(1);
	}
	ctx->user_port = o->proxy_port;
	return EF_ALLOW;
}

/* recvmsg4 / getpeername4: the proxy's address back to the asked one. */
static __always_inline void ef_dns_restore4(struct bpf_sock_addr *ctx)
{
	struct ef_dns_orig *o;

	if (ctx->user_ip4 != bpf_htonl(EF_LO4))
		return;
	o = bpf_sk_storage_get(&ef_dns_sk, ctx->sk, NULL, 0);
	if (!o || (__u16)ctx->user_port != o->proxy_port)
		return;
	/* addr[0]: what an egressd before the mapped form kept (sockets of
	 * jobs that outlived its restart) */
	ctx->user_ip4 = o->addr[2] == bpf_htonl(0xffff) ? o->addr[3] : o->addr[0];
	ctx->user_port = o->port;
}

static __always_inline void ef_dns_restore6(struct bpf_sock_addr *ctx)
{
	struct ef_dns_orig *o;
	__u32 w3 = ctx->user_ip6[3];

	if (ctx->user_ip6[0] || ctx->user_ip6[1])
		return;
	if (!((ctx->user_ip6[2] == 0 && w3 == bpf_htonl(1)) ||
	      (ctx->user_ip6[2] == bpf_htonl(0xffff) && w3 == bpf_htonl(EF_LO4))))
		return;
	o = bpf_sk_storage_get(&ef_dns_sk, ctx->sk, NULL, 0);
	if (!o || (__u16)ctx->user_port != o->proxy_port)
		return;
	ctx->user_ip6[0] = o->addr[0];
	ctx->user_ip6[1] = o->addr[1];
	ctx->user_ip6[2] = o->addr[2];
	ctx->user_ip6[3] = o->addr[3];
	ctx->user_port = o->port;
}

#endif /* EF_DNS_BPF_H */
