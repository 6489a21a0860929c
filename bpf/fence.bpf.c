// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * egress-fence: the programs attached to the fence's cgroup root. Entry
 * points stay thin; the rules they enforce are stated in lib/dest.bpf.h,
 * lib/sock.bpf.h, lib/wire.bpf.h and lib/sockopt.bpf.h.
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
#include "lib/dns.bpf.h"
#include "lib/judged.bpf.h"
#include "lib/dest.bpf.h"
#include "lib/inbound.bpf.h"
#include "lib/sock.bpf.h"
#include "lib/wire.bpf.h"
#include "lib/sockopt.bpf.h"
#include "lib/device.bpf.h"
#include "lib/proc.bpf.h"
#include "lib/cork.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("cgroup/connect4")
int ef_connect4(struct bpf_sock_addr *ctx)
{
	struct ef_dest d;

	ef_dest_from4(&d, ctx);
	return ef_dest_decide(ctx, &d, EF_K_CONNECT, 0);
}

SEC("cgroup/connect6")
int ef_connect6(struct bpf_sock_addr *ctx)
{
	struct ef_dest d;

	ef_dest_from6(&d, ctx);
	return ef_dest_decide(ctx, &d, EF_K_CONNECT, 1);
}

SEC("cgroup/sendmsg4")
int ef_sendmsg4(struct bpf_sock_addr *ctx)
{
	struct ef_dest d;

	ef_dest_from4(&d, ctx);
	return ef_dest_decide(ctx, &d, EF_K_SEND, 0);
}

SEC("cgroup/sendmsg6")
int ef_sendmsg6(struct bpf_sock_addr *ctx)
{
	struct ef_dest d;

	ef_dest_from6(&d, ctx);
	return ef_dest_decide(ctx, &d, EF_K_SEND, 1);
}

/* Answers of the job's DNS proxy appear to come from the resolver asked. */
SEC("cgroup/recvmsg4")
int ef_recvmsg4(struct bpf_sock_addr *ctx)
{
	ef_dns_restore4(ctx);
	return 1; /* recvmsg programs cannot refuse */
}

SEC("cgroup/recvmsg6")
int ef_recvmsg6(struct bpf_sock_addr *ctx)
{
	ef_dns_restore6(ctx);
	return 1;
}

SEC("cgroup/getpeername4")
int ef_getpeername4(struct bpf_sock_addr *ctx)
{
	ef_dns_restore4(ctx);
	return 1;
}

SEC("cgroup/getpeername6")
int ef_getpeername6(struct bpf_sock_addr *ctx)
{
	ef_dns_restore6(ctx);
	return 1;
}

/* The wire check: each packet of a job's socket as it leaves, after the
 * host's netfilter (1 pass, 0 drop). */
SEC("cgroup_skb/egress")
int ef_wire(struct __sk_buff *skb)
{
	return ef_wire_check(skb);
}

/* Socket options that re-route packets are refused where they are set. */
SEC("cgroup/setsockopt")
int ef_setsockopt(struct bpf_sockopt *ctx)
{
	return ef_sockopt_decide(ctx);
}

/* Every family, via BPF LSM scoped to the fence's cgroups. */
SEC("lsm_cgroup/socket_create")
int BPF_PROG(ef_lsm_sock, int family, int type, int protocol, int kern)
{
	if (kern)
		return EF_ALLOW;
	return ef_sock_decide(family, type, protocol);
}

/* Connections to a job's listeners (lib/inbound.bpf.h). */
SEC("cgroup_skb/ingress")
int ef_ingress(struct __sk_buff *skb)
{
	return ef_inbound_decide(skb);
}

/* Devices a job may not open, in both modes (lib/device.bpf.h). */
SEC("cgroup/dev")
int ef_dev(struct bpf_cgroup_dev_ctx *ctx)
{
	return ef_dev_decide(ctx);
}

/* Fallback where BPF LSM is off: sees AF_INET/AF_INET6 sockets only, so raw
 * inet sockets are still refused but AF_PACKET and other families are not;
 * egressd reports the gap. */
SEC("cgroup/sock_create")
int ef_sock_create(struct bpf_sock *sk)
{
	return ef_sock_decide(sk->family, sk->type, sk->protocol);
}

/*
 * Where BPF LSM programs cannot load, egressctl run installs a seccomp
 * filter refusing socket()/socketpair() of families the policy does not
 * allow (see cli/seccomp.c). seccomp leaves no record, so this tracepoint
 * writes one for every socket() of a job that failed with EPERM on a
 * family the policy refuses. inet families are judged, and recorded, by
 * ef_sock_create. Attached only in that fallback.
 */
static __always_inline int ef_sock_refused_common(struct trace_event_raw_sys_exit *ctx)
{
	struct task_struct *t;
	struct pt_regs *regs;
	__u32 family, type, protocol;
	__u8 reason = EF_R_FAMILY;
	struct ef_ctx c;

	if (ctx->ret != -1 /* -EPERM */)
		return 0;
	if (ef_ctx_load(&c) < 0)
		return 0;
	t = bpf_get_current_task_btf();
	regs = (struct pt_regs *)bpf_task_pt_regs(t);
#if defined(__TARGET_ARCH_x86)
	family = BPF_CORE_READ(regs, di);
	type = BPF_CORE_READ(regs, si);
	protocol = BPF_CORE_READ(regs, dx);
#elif defined(__TARGET_ARCH_arm64)
	family = BPF_CORE_READ(regs, orig_x0);
	type = BPF_CORE_READ(regs, regs[1]);
	protocol = BPF_CORE_READ(regs, regs[2]);
#else
	return 0;
#endif
	if (family == EF_AF_INET || family == EF_AF_INET6)
		return 0;
	if (ef_sock_judge(c.pol, family, type, protocol, &reason))
		return 0;
	ef_emit(&c, EF_K_SOCKET, EF_V_DENY, reason, EF_RULE_NONE, family, NULL, 0, protocol,
		type & EF_SOCK_TYPE_MASK, 0, 0);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_socket")
int ef_sock_refused(struct trace_event_raw_sys_exit *ctx)
{
	return ef_sock_refused_common(ctx);
}

/* socketpair() takes the same first three arguments, and the filter
 * refuses it on the same families */
SEC("tracepoint/syscalls/sys_exit_socketpair")
int ef_sockpair_refused(struct trace_event_raw_sys_exit *ctx)
{
	return ef_sock_refused_common(ctx);
}

/*
 * The same fallback's seccomp filter refuses io_uring_setup() to every job
 * in enforce mode (IORING_OP_SOCKET makes sockets without socket(2)); this
 * records each refusal: an egress.socket span, reason io_uring. An EPERM in
 * audit mode is the host's io_uring_disabled sysctl, not the fence.
 */
SEC("tracepoint/syscalls/sys_exit_io_uring_setup")
int ef_uring_refused(struct trace_event_raw_sys_exit *ctx)
{
	struct ef_ctx c;

	if (ctx->ret != -1 /* -EPERM */)
		return 0;
	if (ef_ctx_load(&c) < 0 || c.pol->mode != EF_MODE_ENFORCE)
		return 0;
	ef_emit(&c, EF_K_SOCKET, EF_V_DENY, EF_R_IO_URING, EF_RULE_NONE, 0, NULL, 0, 0, 0, 0, 0);
	return 0;
}

/* Addresses the kernel ignores on a corked UDP socket (lib/cork.bpf.h):
 * refused and recorded where BPF LSM runs, recorded by syscall tracepoints
 * elsewhere. */
SEC("lsm_cgroup/socket_sendmsg")
int BPF_PROG(ef_lsm_sendmsg, struct socket *sock, struct msghdr *msg, int size)
{
	return ef_cork_lsm(sock, msg);
}

SEC("tracepoint/syscalls/sys_enter_sendto")
int ef_cork_to(struct trace_event_raw_sys_enter *ctx)
{
	return ef_cork_sendto(ctx);
}

SEC("tracepoint/syscalls/sys_enter_sendmsg")
int ef_cork_msg1(struct trace_event_raw_sys_enter *ctx)
{
	return ef_cork_sendmsg(ctx);
}

SEC("tracepoint/syscalls/sys_enter_sendmmsg")
int ef_cork_mmsg(struct trace_event_raw_sys_enter *ctx)
{
	return ef_cork_sendmmsg(ctx);
}

/* Per-process trace context (lib/proc.bpf.h): the environment a job's
 * process was exec'd with, and its forks. Attached in every mode. */
SEC("tp/sched/sched_process_exec")
int ef_exec(void *ctx)
{
	return ef_proc_exec();
}

SEC("raw_tp/sched_process_fork")
int BPF_PROG(ef_fork, struct task_struct *parent, struct task_struct *child)
{
	return ef_proc_fork(parent, child);
}

SEC("tp/sched/sched_process_exit")
int ef_exit(void *ctx)
{
	return ef_proc_exit();
}
