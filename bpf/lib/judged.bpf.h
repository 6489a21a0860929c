/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The destination the fence judged for a socket (ef_sk socket storage,
 * include/ef_abi.h), which the wire check (lib/wire.bpf.h) compares every
 * packet of the socket with. connect4|6 and sendmsg4|6 write it at each of
 * their allow exits, after the DNS rewrite: what is stored is what the
 * kernel will put in the packet's header (the proxy's 127.0.0.1/::1 and
 * port; an IPv4-mapped destination as IPv4, since an IPv6 socket sends it
 * as an IPv4 packet).
 *
 * sendmsg creates the storage; connect only updates one the socket already
 * has. A TCP or UDP socket's connected peer is the destination its connect
 * was judged with (the kernel takes it from the hook's rewritten address),
 * and the wire check reads it from the socket itself while the socket has
 * no storage: creating a storage costs an allocation (about 1 us by
 * bpf_stats, more than the rest of the connect program), and most
 * connections never need one.
 */
#ifndef EF_JUDGED_BPF_H
#define EF_JUDGED_BPF_H

/* The socket's address after every rewrite, read back from ctx. */
static __always_inline void ef_judged_from_ctx(struct bpf_sock_addr *ctx, int v6, __u8 *family,
					       __u32 a[4])
{
	if (!v6) {
		*family = EF_FAM_V4;
		a[0] = ctx->user_ip4;
		a[1] = a[2] = a[3] = 0;
		return;
	}
	a[0] = ctx->user_ip6[0];
	a[1] = ctx->user_ip6[1];
	a[2] = ctx->user_ip6[2];
	a[3] = ctx->user_ip6[3];
	if (a[0] == 0 && a[1] == 0 && a[2] == bpf_htonl(0xffff)) {
		*family = EF_FAM_V4;
		a[0] = a[3];
		a[1] = a[2] = a[3] = 0;
	} else {
		*family = EF_FAM_V6;
	}
}

/*
 * Writes the judged destination (read back from ctx) into s, only what
 * changed, so a socket sending to one destination keeps its storage's cache
 * line clean. sent_ok: a sendmsg judged it by the policy (EF_SKF_SENT_OK).
 * The sendmsgs of one socket are serialised (the kernel runs their hook
 * under the socket lock) but the wire check is not: the flag is cleared
 * before the destination changes and set after it, and the fast path
 * (ef_judged_sent_ok) reads it before and after the destination.
 */
static __always_inline void ef_judged_write(struct ef_sk *s, struct bpf_sock_addr *ctx,
					    const struct ef_ctx *c, int v6, int sent_ok)
{
	__u8 family, flags;
	__u32 a[4], *w;
	__u16 port;

	ef_judged_from_ctx(ctx, v6, &family, a);
	port = bpf_ntohs((__u16)ctx->user_port);
	flags = sent_ok ? s->flags | EF_SKF_SENT_OK : s->flags & ~EF_SKF_SENT_OK;
	w = (__u32 *)s->addr;
	if (s->family == family && s->port == port && s->policy_id == c->policy_id &&
	    s->job_cgroup == c->cgroup_id && s->flags == flags && w[0] == a[0] &&
	    w[1] == a[1] && w[2] == a[2] && w[3] == a[3])
		return;
	*(volatile __u8 *)&s->flags = s->flags & ~EF_SKF_SENT_OK;
	barrier();
	s->job_cgroup = c->cgroup_id;
	s->policy_id = c->policy_id;
	w[0] = a[0];
	w[1] = a[1];
	w[2] = a[2];
	w[3] = a[3];
	s->port = port;
	s->family = family;
	barrier();
	*(volatile __u8 *)&s->flags = flags;
}

/*
 * Called where a connect or sendmsg (kind) is let through (ret EF_ALLOW);
 * returns ret. A storage that cannot be had (memory) is not fatal here: the
 * wire check then finds nothing judged and judges the packet itself.
 */
static __always_inline int ef_judged_set(struct bpf_sock_addr *ctx, const struct ef_ctx *c, int v6,
					 __u8 kind, int ret)
{
	struct ef_sk *s;

	if (ret != EF_ALLOW)
		return ret;
	s = bpf_sk_storage_get(&ef_sk, ctx->sk, NULL,
			       kind == EF_K_SEND ? BPF_SK_STORAGE_GET_F_CREATE : 0);
	if (s)
		ef_judged_write(s, ctx, c, v6, 0);
	return ret;
}

/*
 * The sendmsg fast path: s says the socket's last destination judged by the
 * policy version now in force, for the job now asking, and let through, is d (ctx was not
 * rewritten on that path, so what s holds is d itself). The verdict ef_sent
 * would give is the same; this costs one storage lookup instead of a hash of
 * a 40-byte key.
 */
static __always_inline int ef_judged_sent_ok(const struct ef_sk *s, const struct ef_ctx *c,
					     __u32 family, __u16 port, const __u8 addr[16])
{
	const __u32 *w = (const __u32 *)s->addr, *a = (const __u32 *)addr;
	int same;

	if (!(*(volatile const __u8 *)&s->flags & EF_SKF_SENT_OK))
		return 0;
	barrier();
	same = s->policy_id == c->policy_id && s->job_cgroup == c->cgroup_id &&
	       s->family == family && s->port == port && w[0] == a[0] && w[1] == a[1] &&
	       w[2] == a[2] && w[3] == a[3];
	barrier();
	/* the wire check may have changed the destination meanwhile: it
	 * clears the flag first */
	return same && (*(volatile const __u8 *)&s->flags & EF_SKF_SENT_OK);
}

#endif /* EF_JUDGED_BPF_H */
