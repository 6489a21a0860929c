// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * egress-fence: the programs attached to the fence's cgroup root. Entry
 * points stay thin; the rules they enforce are stated in lib/dest.bpf.h and
 * lib/sock.bpf.h.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>

#include "ef_abi.h"
#include "ef_verdict.h"
#include "lib/consts.bpf.h"
#include "lib/maps.bpf.h"
#include "lib/job.bpf.h"
#include "lib/event.bpf.h"
#include "lib/dest.bpf.h"
#include "lib/sock.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("cgroup/connect4")
int ef_connect4(struct bpf_sock_addr *ctx)
{
	struct ef_dest d;

	ef_dest_from4(&d, ctx);
	return ef_dest_decide(ctx, &d, EF_K_CONNECT);
}

SEC("cgroup/connect6")
int ef_connect6(struct bpf_sock_addr *ctx)
{
	struct ef_dest d;

	ef_dest_from6(&d, ctx);
	return ef_dest_decide(ctx, &d, EF_K_CONNECT);
}

SEC("cgroup/sendmsg4")
int ef_sendmsg4(struct bpf_sock_addr *ctx)
{
	struct ef_dest d;

	ef_dest_from4(&d, ctx);
	return ef_dest_decide(ctx, &d, EF_K_SEND);
}

SEC("cgroup/sendmsg6")
int ef_sendmsg6(struct bpf_sock_addr *ctx)
{
	struct ef_dest d;

	ef_dest_from6(&d, ctx);
	return ef_dest_decide(ctx, &d, EF_K_SEND);
}

/* Every family, via BPF LSM scoped to the fence's cgroups. */
SEC("lsm_cgroup/socket_create")
int BPF_PROG(ef_lsm_sock, int family, int type, int protocol, int kern)
{
	if (kern)
		return EF_ALLOW;
	return ef_sock_decide(family, type, protocol);
}

/* Fallback where BPF LSM is off: sees AF_INET/AF_INET6 sockets only, so raw
 * inet sockets are still refused but AF_PACKET and other families are not;
 * egressd reports the gap. */
SEC("cgroup/sock_create")
int ef_sock_create(struct bpf_sock *sk)
{
	return ef_sock_decide(sk->family, sk->type, sk->protocol);
}
