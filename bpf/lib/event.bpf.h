/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Decision records. One record per decision goes to the ring buffer.
 * Wakeups are batched: an allow wakes egressd only once a backlog has
 * built up (egressd also drains on a short timer); a denial wakes it at once
 * so that it can still read /proc of the process, at most once per
 * EF_DENY_WAKE_GAP_NS (ef_event_submit). A full ring is never
 * silent: the loss is counted per CPU in ef_stats[EF_S_RB_DROPS].
 */
#ifndef EF_EVENT_BPF_H
#define EF_EVENT_BPF_H

#define EF_WAKEUP_BACKLOG (256 * 1024)
#define EF_DENY_WAKE_GAP_NS (10 * 1000 * 1000ull)

/* Direct loads through the BTF task pointer: the verifier makes them
 * fault-safe loads (CO-RE relocated), no helper call per pointer hop. */
static __always_inline void ef_fill_task(struct ef_event *e)
{
	struct task_struct *t = bpf_get_current_task_btf();
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	const unsigned char *name = NULL;
	struct mm_struct *mm;

	e->pid = pid_tgid >> 32;
	e->tid = (__u32)pid_tgid;
	e->uid = (__u32)bpf_get_current_uid_gid();
	e->ppid = t->real_parent->tgid;
	e->start_boot_ns = t->group_leader->start_boottime;
	__builtin_memcpy(e->comm, t->comm, sizeof(e->comm));
	mm = t->mm;
	if (mm && mm->exe_file)
		name = mm->exe_file->f_path.dentry->d_name.name;
	if (!name || bpf_probe_read_kernel_str(e->exe, sizeof(e->exe), name) < 0)
		e->exe[0] = '\0';
}

/* Counts a decision and reserves its record: NULL when the ring is full,
 * and that loss is counted. Every record of the fence goes through here
 * and ef_event_submit(). */
static __always_inline struct ef_event *ef_event_reserve(__u8 verdict)
{
	struct ef_event *e;

	ef_stat_inc(EF_S_DECISIONS);
	if (verdict != EF_V_ALLOW)
		ef_stat_inc(EF_S_DENIED);
	e = bpf_ringbuf_reserve(&ef_events, sizeof(*e), 0);
	if (!e)
		ef_stat_inc(EF_S_RB_DROPS);
	return e;
}

/* The last forced wakeup of egressd for a denial (boot clock, ns); racy
 * across CPUs by design: a lost update costs one wakeup more or less. */
__u64 ef_deny_woken_ns = 0;

/* A denial wakes egressd at once (it may still read /proc of the
 * process), unless a denial woke it less than EF_DENY_WAKE_GAP_NS ago: a
 * wakeup is a self-IPI (irq_work) that costs ~8 us inside the program on
 * these VMs, 30x the decision. So a storm of denials wakes it at most every
 * EF_DENY_WAKE_GAP_NS, the first denial after a quiet spell at once, and the
 * records between wait at most until the next such wakeup or egressd's
 * drain timer (100 ms). An allow wakes it only once a backlog has built up. */
static __always_inline void ef_event_submit(struct ef_event *e, __u8 verdict)
{
	__u64 flags = BPF_RB_NO_WAKEUP, now;

	if (verdict == EF_V_DENY) {
		now = e->ts_boot_ns; /* every record is stamped before it is submitted */
		if (now - ef_deny_woken_ns >= EF_DENY_WAKE_GAP_NS) {
			ef_deny_woken_ns = now;
			flags = BPF_RB_FORCE_WAKEUP;
		}
	}
	if (flags == BPF_RB_NO_WAKEUP &&
	    bpf_ringbuf_query(&ef_events, BPF_RB_AVAIL_DATA) >= EF_WAKEUP_BACKLOG)
		flags = BPF_RB_FORCE_WAKEUP;
	bpf_ringbuf_submit(e, flags);
}

static __always_inline void ef_emit(const struct ef_ctx *c, __u8 kind, __u8 verdict, __u8 reason,
				    __u32 rule_id, __u8 family, const __u8 *addr, __u16 port,
				    __u16 protocol, __u8 sock_type, __u64 cookie, __u64 name_id)
{
	struct ef_event *e = ef_event_reserve(verdict);

	if (!e)
		return;
	e->ts_boot_ns = bpf_ktime_get_boot_ns();
	e->cgroup_id = c->cgroup_id;
	e->job_serial = c->job ? c->job->serial : 0;
	e->cookie = cookie;
	e->policy_id = c->policy_id;
	e->rule_id = rule_id;
	e->kind = kind;
	e->verdict = verdict;
	e->reason = reason;
	e->family = family;
	e->sock_type = sock_type;
	e->pad0 = 0;
	e->protocol = protocol;
	e->port = port;
	e->pad1 = 0;
	e->pad2 = 0;
	e->name_id = name_id;
	__builtin_memset(e->addr2, 0, sizeof(e->addr2));
	e->port2 = 0;
	e->family2 = 0;
	e->pad3 = 0;
	e->pad4 = 0;
	if (addr)
		__builtin_memcpy(e->addr, addr, sizeof(e->addr));
	else
		__builtin_memset(e->addr, 0, sizeof(e->addr));
	ef_fill_task(e);
	ef_event_submit(e, verdict);
}

#endif /* EF_EVENT_BPF_H */
