/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Per-process trace context (issue 20). A process of a job started with a
 * TRACEPARENT in its environment (an agent's tool call, a build step) has
 * its decisions recorded as children of that span. What counts is the
 * environment the process was exec'd with, read here at sched_process_exec
 * from the new image's own stack (mm->env_start..env_end) before a single
 * instruction of it has run: a process cannot rewrite what it was started
 * with, and egressd never reads /proc/<pid>/environ (racy, and gone for a
 * process that has exited by the time its record is read).
 *
 * The value goes to egressd as an EF_K_PROC record (not a decision), raw:
 * egressd validates it (daemon/spans/proc_ctx.c). The job's own TRACEPARENT,
 * which every process inherits from the command egressctl run starts, is
 * told of by no record (ef_job_tp): an exec costs a record only where a
 * process's context differs from the job's, or stops differing. A fork without exec shares its
 * parent's image and environment, so it inherits the context: the fork
 * tracepoint writes a record naming the parent, only for parents with a
 * context (ef_proc_ctx), so ordinary forks cost one hash lookup; and of
 * the exit of such a process, so egressd holds contexts of live processes
 * only.
 *
 * Bounds: the environment is walked string by string with bpf_loop, at most
 * EF_ENV_STEPS steps of EF_ENV_CHUNK bytes; a TRACEPARENT past that is not
 * seen (the job span stays the parent). A hostile environment of a million
 * tiny strings costs its exec those steps, nothing more.
 */
#ifndef EF_PROC_BPF_H
#define EF_PROC_BPF_H

#define EF_ENV_CHUNK 256
#define EF_ENV_STEPS 2048

/* tgid -> the process's start (boot clock): it has a trace context of its
 * own, told to egressd. LRU: an entry lost only costs a forked child its
 * parent's context. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ef_proc_ctx SEC(".maps");

/* job cgroup id -> the TRACEPARENT egressctl run gave its command (egressd
 * writes it before the job's first process runs) */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, EF_MAX_JOBS);
	__type(key, __u64);
	__type(value, __u64[7]);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ef_job_tp SEC(".maps");

struct ef_env_scan {
	__u64 p, end;
	__u64 tp, ts; /* user addresses of the values, 0: not seen */
	__u32 mid;    /* p is inside a string longer than one chunk */
	__u32 pad;
};

/*
 * The walk's state lives in a per-CPU map value, not on the stack: a 6.1
 * verifier follows a bpf_loop callback for one step only, so it never saw
 * both TRACEPARENT and TRACESTATE found, took the read of the latter for
 * dead code and removed it (6.1 spans had no traceState). What a map value
 * holds it takes as unknown. Tracepoint programs run with preemption off:
 * no other walk shares the CPU's value meanwhile.
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ef_env_scan);
} ef_env_state SEC(".maps");

static long ef_env_step(__u64 idx, void *arg)
{
	struct ef_env_scan *s;
	__u32 zero = 0;
	char *b;
	long n;

	s = bpf_map_lookup_elem(&ef_env_state, &zero);
	if (!s || s->p >= s->end)
		return 1;
	b = bpf_map_lookup_elem(&ef_env_buf, &zero);
	if (!b)
		return 1;
	n = bpf_probe_read_user_str(b, EF_ENV_CHUNK, (const void *)s->p);
	if (n <= 0)
		return 1;
	if (!s->mid) {
		/* "TRACEPARENT=" and "TRACESTATE=", the first of each (getenv's) */
		if (!s->tp && b[0] == 'T' && b[1] == 'R' && b[2] == 'A' && b[3] == 'C' &&
		    b[4] == 'E' && b[5] == 'P' && b[6] == 'A' && b[7] == 'R' && b[8] == 'E' &&
		    b[9] == 'N' && b[10] == 'T' && b[11] == '=')
			s->tp = s->p + 12;
		else if (!s->ts && b[0] == 'T' && b[1] == 'R' && b[2] == 'A' && b[3] == 'C' &&
			 b[4] == 'E' && b[5] == 'S' && b[6] == 'T' && b[7] == 'A' && b[8] == 'T' &&
			 b[9] == 'E' && b[10] == '=')
			s->ts = s->p + 11;
	}
	if (n == EF_ENV_CHUNK) {
		/* no NUL in the chunk: the same string goes on */
		s->p += EF_ENV_CHUNK - 1;
		s->mid = 1;
	} else {
		s->p += n;
		s->mid = 0;
	}
	return s->tp && s->ts;
}

/* No wakeup of its own, as for an allowed decision (lib/event.bpf.h): the
 * record only has to be read before the process's next decision, which
 * the ring's order gives; waking egressd for each (an interrupt, a VM exit
 * here) tripled the programs' run time. */
static __always_inline void ef_proc_submit(void *r)
{
	__u64 flags = BPF_RB_NO_WAKEUP;

	if (bpf_ringbuf_query(&ef_events, BPF_RB_AVAIL_DATA) >= EF_WAKEUP_BACKLOG)
		flags = BPF_RB_FORCE_WAKEUP;
	bpf_ringbuf_submit(r, flags);
}

static __always_inline void ef_proc_head(struct ef_event *e, const struct ef_ctx *c, __u8 what)
{
	__builtin_memset(e, 0, sizeof(*e));
	e->ts_boot_ns = bpf_ktime_get_boot_ns();
	e->cgroup_id = c->cgroup_id;
	e->job_serial = c->job ? c->job->serial : 0;
	e->policy_id = c->policy_id;
	e->rule_id = EF_RULE_NONE;
	e->kind = EF_K_PROC;
	e->verdict = EF_V_ALLOW;
	e->reason = what;
}

/*
 * The job's own TRACEPARENT (egressctl run gives it to the command, and
 * every process of the job inherits it): the job span is the parent anyway,
 * so no record is written. Compared as the 55 characters and NUL, seven
 * words: a longer value differs in its 56th byte.
 */
static __always_inline int ef_proc_is_jobs(const struct ef_ctx *c, __u64 tp)
{
	const __u64 *own = bpf_map_lookup_elem(&ef_job_tp, &c->cgroup_id);
	__u32 zero = 0;
	__u64 *b;

	b = bpf_map_lookup_elem(&ef_env_buf, &zero);
	if (!own || !b || bpf_probe_read_user_str(b, EF_TRACEPARENT_LEN, (const void *)tp) != 56)
		return 0;
	return b[0] == own[0] && b[1] == own[1] && b[2] == own[2] && b[3] == own[3] &&
	       b[4] == own[4] && b[5] == own[5] && b[6] == own[6];
}

/* A job's process exec'd: its context is what its new environment says. */
static __always_inline int ef_proc_exec(void)
{
	struct task_struct *t = bpf_get_current_task_btf();
	struct ef_env_scan *st;
	struct ef_proc_rec *r;
	__u64 tp, ts;
	__u32 zero = 0;
	struct mm_struct *mm;
	struct ef_ctx c;
	__u64 start, *had;
	__u32 tgid;
	int known;

	if (ef_ctx_load(&c) < 0)
		return 0;
	mm = t->mm;
	if (!mm)
		return 0;
	st = bpf_map_lookup_elem(&ef_env_state, &zero);
	if (!st)
		return 0;
	st->p = mm->env_start;
	st->end = mm->env_end;
	st->tp = st->ts = 0;
	st->mid = 0;
	bpf_loop(EF_ENV_STEPS, ef_env_step, NULL, 0);
	tp = st->tp;
	ts = st->ts;
	/* the job's own, or a TRACESTATE alone (no context without a parent):
	 * as if none */
	if (!tp || ef_proc_is_jobs(&c, tp))
		tp = ts = 0;
	tgid = bpf_get_current_pid_tgid() >> 32;
	start = t->group_leader->start_boottime;
	had = bpf_map_lookup_elem(&ef_proc_ctx, &tgid);
	known = had && *had == start;
	if (!tp && !known)
		return 0;
	r = bpf_ringbuf_reserve(&ef_events, sizeof(*r), 0);
	if (!r) {
		/* untold (counted: egress.drops), and the map as it was: a
		 * process egressd knows stays known, so its exit is told */
		ef_stat_inc(EF_S_RB_DROPS);
		return 0;
	}
	if (!tp) /* none now: egressd drops what it held for the process */
		bpf_map_delete_elem(&ef_proc_ctx, &tgid);
	else
		bpf_map_update_elem(&ef_proc_ctx, &tgid, &start, BPF_ANY);
	ef_proc_head(&r->e, &c, EF_PROC_EXEC);
	r->traceparent[0] = '\0';
	r->tracestate[0] = '\0';
	ef_fill_task(&r->e);
	if (tp && bpf_probe_read_user_str(r->traceparent, sizeof(r->traceparent),
					  (const void *)tp) < 0)
		r->traceparent[0] = '\0';
	if (ts && bpf_probe_read_user_str(r->tracestate, sizeof(r->tracestate),
					  (const void *)ts) < 0)
		r->tracestate[0] = '\0';
	ef_proc_submit(r);
	return 0;
}

/* A process forked (not a thread): a child of a parent with a context
 * inherits it. Current is the parent. */
static __always_inline int ef_proc_fork(struct task_struct *parent, struct task_struct *child)
{
	struct ef_event *r;
	__u32 ptgid, ctgid;
	__u64 pstart, cstart, *had;
	struct ef_ctx c;

	ptgid = BPF_CORE_READ(parent, tgid);
	ctgid = BPF_CORE_READ(child, tgid);
	if (ptgid == ctgid)
		return 0;
	had = bpf_map_lookup_elem(&ef_proc_ctx, &ptgid);
	if (!had)
		return 0;
	pstart = BPF_CORE_READ(parent, group_leader, start_boottime);
	if (*had != pstart || ef_ctx_load(&c) < 0)
		return 0;
	cstart = BPF_CORE_READ(child, start_boottime);
	/* a fork's record is the head alone: no environment of its own */
	r = bpf_ringbuf_reserve(&ef_events, sizeof(*r), 0);
	if (!r) {
		ef_stat_inc(EF_S_RB_DROPS);
		return 0;
	}
	ef_proc_head(r, &c, EF_PROC_FORK);
	bpf_map_update_elem(&ef_proc_ctx, &ctgid, &cstart, BPF_ANY);
	r->pid = ctgid;
	r->tid = ctgid;
	r->start_boot_ns = cstart;
	r->ppid = ptgid;
	r->cookie = pstart;
	ef_proc_submit(r);
	return 0;
}

/* A process with a context exited, its last thread: egressd lets its
 * context go. After every record of its threads (the ring keeps order), so
 * none of its decisions is recorded without it. */
static __always_inline int ef_proc_exit(void)
{
	struct task_struct *t = bpf_get_current_task_btf();
	struct ef_event *r;
	__u64 start, *had;
	struct ef_ctx c;
	__u32 tgid;

	if (t->signal->live.counter != 0)
		return 0; /* other threads of the process still run */
	tgid = t->tgid;
	had = bpf_map_lookup_elem(&ef_proc_ctx, &tgid);
	if (!had)
		return 0;
	start = t->group_leader->start_boottime;
	if (*had != start)
		return 0;
	r = bpf_ringbuf_reserve(&ef_events, sizeof(*r), 0);
	if (!r) {
		/* egressd keeps it until its sweep finds the process gone */
		ef_stat_inc(EF_S_RB_DROPS);
		bpf_map_delete_elem(&ef_proc_ctx, &tgid);
		return 0;
	}
	bpf_map_delete_elem(&ef_proc_ctx, &tgid);
	if (ef_ctx_load(&c) < 0)
		c.job = NULL; /* a job gone already: its contexts went with it */
	ef_proc_head(r, &c, EF_PROC_EXIT);
	r->pid = tgid;
	r->tid = tgid;
	r->start_boot_ns = start;
	ef_proc_submit(r);
	return 0;
}

#endif /* EF_PROC_BPF_H */
