/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Addresses the kernel ignores: a datagram call on a corked UDP socket.
 *
 * While a UDP socket holds a pending datagram (UDP_CORK set, or an earlier
 * send with MSG_MORE), udp_sendmsg()/udpv6_sendmsg() append the data to it
 * before they look at the address: the address is ignored and the
 * cgroup/sendmsg programs never run. The data goes where the pending
 * datagram goes, which ef_sendmsg4/6 judged when the cork began, so nothing
 * reaches the named host; but the call succeeds and, without this, nothing
 * records it. A call naming an address the job's policy does not allow is
 * recorded: an egress.send span with reason udp_corked (verdict deny,
 * would_deny in audit mode), so the record matches what the program asked
 * for. Where BPF LSM runs, lsm_cgroup/socket_sendmsg (ef_cork_lsm) also
 * refuses it (EPERM); elsewhere syscall tracepoints on sendto, sendmsg and
 * sendmmsg record it (the call goes on: a tracepoint cannot refuse), the
 * slow syscall path they need being the one the fallback's other recorders
 * already take.
 *
 * The tracepoints take a call as appended when the socket is pending at
 * the call's entry; for sendmmsg(), its later messages also when UDP_CORK or
 * MSG_MORE holds the first one's datagram open. They read the addresses as
 * the call enters: a second thread that rewrites one, or corks the socket,
 * while the call runs goes unrecorded (docs/threat-model.md); nothing it
 * sends reaches the address it named. An address the program hands over in
 * memory this program cannot read (a page not yet faulted in) is recorded
 * all the same, with no address.
 */
#ifndef EF_CORK_BPF_H
#define EF_CORK_BPF_H

#define EF_S_IFMT 00170000
#define EF_S_IFSOCK 0140000
#define EF_MSG_MORE 0x8000
#define EF_IPPROTO_UDPLITE 136
#define EF_UIO_MAXIOV 1024

/* 6.1 to 6.4 kept UDP_CORK in its own field */
struct udp_sock___corkflag {
	unsigned int corkflag;
} __attribute__((preserve_access_index));

struct ef_cork_sock {
	struct sock *sk;
	__u64 cookie;
	__u16 family; /* AF_INET or AF_INET6 */
	__u16 protocol;
	int pending;
	int corked; /* UDP_CORK */
};

/* cs from a socket; 0 if it is no UDP socket. */
static __always_inline int ef_cork_sock_from(struct sock *sk, struct ef_cork_sock *cs)
{
	if (!sk)
		return 0;
	cs->family = BPF_CORE_READ(sk, __sk_common.skc_family);
	cs->protocol = BPF_CORE_READ(sk, sk_protocol);
	if (cs->family != EF_AF_INET && cs->family != EF_AF_INET6)
		return 0;
	if (cs->protocol != EF_IPPROTO_UDP && cs->protocol != EF_IPPROTO_UDPLITE)
		return 0;
	if (BPF_CORE_READ(sk, sk_type) != EF_SOCK_DGRAM)
		return 0;
	cs->sk = sk;
	cs->pending = BPF_CORE_READ((struct udp_sock *)sk, pending);
	if (bpf_core_field_exists(((struct udp_sock___corkflag *)sk)->corkflag))
		cs->corked = BPF_CORE_READ((struct udp_sock___corkflag *)sk, corkflag) != 0;
	else /* UDP_FLAGS_CORK is bit 0 of udp_flags */
		cs->corked = BPF_CORE_READ((struct udp_sock *)sk, udp_flags) & 1;
	/* set when the cork began: ef_sendmsg4/6 asked for it */
	cs->cookie = BPF_CORE_READ(sk, __sk_common.skc_cookie.counter);
	return 1;
}

/* The UDP socket behind the calling task's fd, or 0 if it is none. */
static __always_inline int ef_cork_sock_of(int fd, struct ef_cork_sock *cs)
{
	struct task_struct *t = bpf_get_current_task_btf();
	struct file **fds;
	struct fdtable *fdt;
	struct socket *sock;
	struct file *f;
	unsigned int max;
	umode_t mode;

	if (fd < 0)
		return 0;
	fdt = BPF_CORE_READ(t, files, fdt);
	max = BPF_CORE_READ(fdt, max_fds);
	if ((unsigned int)fd >= max)
		return 0;
	fds = BPF_CORE_READ(fdt, fd);
	if (bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]) || !f)
		return 0;
	mode = BPF_CORE_READ(f, f_inode, i_mode);
	if ((mode & EF_S_IFMT) != EF_S_IFSOCK)
		return 0;
	sock = BPF_CORE_READ(f, private_data);
	return ef_cork_sock_from(BPF_CORE_READ(sock, sk), cs);
}

/* Records a call whose address is not allowed; d NULL: one this program
 * could not read. */
static __always_inline void ef_cork_emit(const struct ef_ctx *c, const struct ef_cork_sock *cs,
					 const struct ef_dest *d, __u32 rule_id, __u64 name_id)
{
	__u8 verdict = c->pol->mode == EF_MODE_AUDIT ? EF_V_WOULD_DENY : EF_V_DENY;

	/* family 0: no address (egressd names no peer) */
	ef_emit(c, EF_K_SEND, verdict, EF_R_UDP_CORKED, rule_id, d ? d->family : 0,
		d ? d->addr : NULL, d ? d->port : 0, cs->protocol, EF_SOCK_DGRAM, cs->cookie,
		name_id);
}

union ef_cork_sa {
	struct sockaddr_in6 sa;
	__u8 raw[32]; /* a power of two: the bound of a read's length */
};

/* Judges the address a call named on a corked socket (read into u, alen
 * bytes long) and records it if the job's policy does not allow it; returns
 * 1 then. Judged as the cgroup/sendmsg programs judge, but for what they do
 * to loopback, unspecified (0.0.0.0, ::) and port 53 destinations (a job's
 * own listeners, the DNS proxy): those are not judged here, the data going
 * to the corked datagram's destination all the same. An address the kernel
 * would refuse (too short, or IPv4 on an IPv6 socket whose datagram is
 * IPv6: EINVAL) is not either. */
static __always_inline int ef_cork_verdict(const struct ef_ctx *c, const struct ef_cork_sock *cs,
					   const union ef_cork_sa *u, __u32 alen)
{
	const struct sockaddr_in6 *sa = &u->sa;
	__u32 rule_id = EF_RULE_NONE, w[4];
	__u16 family = sa->sin6_family;
	__u64 name_id = 0;
	struct ef_dest d = {};
	__u8 reason;

	/* udp_sendmsg takes AF_UNSPEC for AF_INET */
	if (family == 0 && cs->family == EF_AF_INET)
		family = EF_AF_INET;
	ef_dest_proto(&d, cs->protocol, EF_SOCK_DGRAM);
	if (family == EF_AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;

		if (alen < sizeof(*s4) || (cs->family == EF_AF_INET6 && cs->pending != EF_AF_INET))
			return 0;
		d.family = EF_FAM_V4;
		__builtin_memcpy(d.addr, &s4->sin_addr, 4);
		d.port = bpf_ntohs(s4->sin_port);
	} else if (family == EF_AF_INET6) {
		if (alen < 24 /* SIN6_LEN_RFC2133 */)
			return 0;
		__builtin_memcpy(w, &sa->sin6_addr, sizeof(w));
		d.port = bpf_ntohs(sa->sin6_port);
		if (w[0] == 0 && w[1] == 0 && w[2] == bpf_htonl(0xffff)) {
			d.family = EF_FAM_V4;
			__builtin_memcpy(d.addr, &w[3], 4);
		} else {
			d.family = EF_FAM_V6;
			__builtin_memcpy(d.addr, w, sizeof(w));
		}
	} else {
		return 0; /* not an inet address: nothing the kernel would send to */
	}
	__builtin_memcpy(w, d.addr, sizeof(w));
	if (d.port == EF_DNS_PORT || ef_dest_is_loopback(&d) || !(w[0] | w[1] | w[2] | w[3]))
		return 0;
	if (ef_dest_lookup(c->policy_id, &d, &reason, &rule_id) ||
	    (reason == EF_R_NO_RULE && ef_learned_judge(c, &d, &reason, &rule_id, &name_id)))
		return 0;
	ef_cork_emit(c, cs, &d, rule_id, name_id);
	return 1;
}

/* ef_cork_verdict as a global function, verified once on its own: the
 * sendmmsg loop's callback calls it for each message, which inlined would
 * take the verifier past its limit. Job and policy are looked up again from
 * their ids (a global function's pointers carry no map value types). */
__noinline int ef_cork_verdict_g(__u64 cgroup_id, __u32 policy_id, const struct ef_cork_sock *cs,
				 const union ef_cork_sa *u, __u32 alen)
{
	struct ef_ctx c;

	if (!cs || !u)
		return 0;
	c.cgroup_id = cgroup_id;
	c.policy_id = policy_id;
	c.job = bpf_map_lookup_elem(&ef_jobs, &cgroup_id);
	c.pol = bpf_map_lookup_elem(&ef_policies, &policy_id);
	if (!c.job || !c.pol)
		return 0;
	return ef_cork_verdict(&c, cs, u, alen);
}

/* The same, the address in the program's memory (uaddr, alen). */
static __always_inline void ef_cork_judge(const struct ef_ctx *c, const struct ef_cork_sock *cs,
					  const void *uaddr, __u32 alen)
{
	union ef_cork_sa u = {};

	if (alen < sizeof(u.sa.sin6_family))
		return; /* the kernel refuses it (EINVAL) */
	if (alen > sizeof(u.sa))
		alen = sizeof(u.sa);
	asm volatile("" : "+r"(alen)); /* keep the mask: the verifier needs it */
	if (bpf_probe_read_user(&u, alen & (sizeof(u.raw) - 1), uaddr)) {
		ef_cork_emit(c, cs, NULL, EF_RULE_NONE, 0);
		return;
	}
	ef_cork_verdict(c, cs, &u, alen);
}

/*
 * Where BPF LSM runs (lsm_cgroup/socket_sendmsg, before the protocol's
 * sendmsg): the address is the kernel's copy, and a call naming one the
 * policy does not allow is refused (EPERM) as well as recorded, in enforce
 * mode; 1 lets the call through.
 */
static __always_inline int ef_cork_lsm(struct socket *sock, struct msghdr *msg)
{
	union ef_cork_sa u = {};
	struct ef_cork_sock cs;
	struct ef_ctx c;
	void *name;
	int alen;

	if (!ef_cork_sock_from(BPF_CORE_READ(sock, sk), &cs) || !cs.pending)
		return EF_ALLOW;
	name = BPF_CORE_READ(msg, msg_name);
	alen = BPF_CORE_READ(msg, msg_namelen);
	if (!name || alen < (int)sizeof(u.sa.sin6_family) || ef_ctx_load(&c) < 0)
		return EF_ALLOW;
	if (alen > (int)sizeof(u.sa))
		alen = sizeof(u.sa);
	asm volatile("" : "+r"(alen));
	if (bpf_probe_read_kernel(&u, alen & (sizeof(u.raw) - 1), name))
		return EF_ALLOW;
	if (ef_cork_verdict(&c, &cs, &u, alen) && c.pol->mode != EF_MODE_AUDIT)
		return EF_DROP;
	return EF_ALLOW;
}

/* sendto(fd, buf, len, flags, addr, addrlen) */
static __always_inline int ef_cork_sendto(struct trace_event_raw_sys_enter *ctx)
{
	struct ef_cork_sock cs;
	struct ef_ctx c;

	if (!ctx->args[4] || ef_ctx_load(&c) < 0)
		return 0;
	if (!ef_cork_sock_of((int)ctx->args[0], &cs) || !cs.pending)
		return 0;
	ef_cork_judge(&c, &cs, (const void *)ctx->args[4], (__u32)ctx->args[5]);
	return 0;
}

/* One message of sendmsg() or sendmmsg() */
static __always_inline void ef_cork_msg(const struct ef_ctx *c, const struct ef_cork_sock *cs,
					const struct user_msghdr *um)
{
	void *name = NULL;
	int namelen = 0;

	if (bpf_probe_read_user(&name, sizeof(name), &um->msg_name) ||
	    bpf_probe_read_user(&namelen, sizeof(namelen), &um->msg_namelen)) {
		/* unreadable here; the kernel may still read it */
		ef_cork_emit(c, cs, NULL, EF_RULE_NONE, 0);
		return;
	}
	if (name && namelen > 0)
		ef_cork_judge(c, cs, name, (__u32)namelen);
}

/* sendmsg(fd, msg, flags) */
static __always_inline int ef_cork_sendmsg(struct trace_event_raw_sys_enter *ctx)
{
	struct ef_cork_sock cs;
	struct ef_ctx c;

	if (!ctx->args[1] || ef_ctx_load(&c) < 0)
		return 0;
	if (!ef_cork_sock_of((int)ctx->args[0], &cs) || !cs.pending)
		return 0;
	ef_cork_msg(&c, &cs, (const struct user_msghdr *)ctx->args[1]);
	return 0;
}

struct ef_cork_mmsg {
	struct ef_ctx c;
	struct ef_cork_sock cs;
	union ef_cork_sa u;
	const struct mmsghdr *vec;
	int held; /* the first message's datagram stays open after it */
};

static long ef_cork_mmsg_one(__u64 i, void *arg)
{
	struct ef_cork_mmsg *m = arg;
	const struct user_msghdr *um;
	void *name = NULL;
	int namelen = 0;
	__u32 alen;

	/* the first is appended only to a datagram already pending; the
	 * cgroup/sendmsg programs judge it otherwise, and it opens one the
	 * rest join if UDP_CORK or MSG_MORE holds it */
	if (!m->cs.pending && !(i > 0 && m->held))
		return 0;
	um = &m->vec[i].msg_hdr;
	__builtin_memset(&m->u, 0, sizeof(m->u));
	if (bpf_probe_read_user(&name, sizeof(name), &um->msg_name) ||
	    bpf_probe_read_user(&namelen, sizeof(namelen), &um->msg_namelen)) {
		ef_cork_emit(&m->c, &m->cs, NULL, EF_RULE_NONE, 0);
		return 0;
	}
	if (!name || namelen < (int)sizeof(m->u.sa.sin6_family))
		return 0;
	alen = namelen > (int)sizeof(m->u.sa) ? sizeof(m->u.sa) : namelen;
	asm volatile("" : "+r"(alen));
	if (bpf_probe_read_user(&m->u, alen & (sizeof(m->u.raw) - 1), name)) {
		ef_cork_emit(&m->c, &m->cs, NULL, EF_RULE_NONE, 0);
		return 0;
	}
	ef_cork_verdict_g(m->c.cgroup_id, m->c.policy_id, &m->cs, &m->u, alen);
	return 0;
}

/* sendmmsg(fd, msgvec, vlen, flags) */
static __always_inline int ef_cork_sendmmsg(struct trace_event_raw_sys_enter *ctx)
{
	struct ef_cork_mmsg m = {};
	__u32 vlen = (__u32)ctx->args[2];

	if (!ctx->args[1] || vlen < 1 || ef_ctx_load(&m.c) < 0)
		return 0;
	if (!ef_cork_sock_of((int)ctx->args[0], &m.cs))
		return 0;
	m.held = m.cs.corked || (ctx->args[3] & EF_MSG_MORE);
	if (!m.cs.pending && !m.held)
		return 0;
	if (vlen > EF_UIO_MAXIOV)
		vlen = EF_UIO_MAXIOV; /* the kernel sends no more */
	m.vec = (const struct mmsghdr *)ctx->args[1];
	bpf_loop(vlen, ef_cork_mmsg_one, &m, 0);
	return 0;
}

#endif /* EF_CORK_BPF_H */
