// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Each process's own trace context (issue 20). A process of a job that was
 * exec'd with a TRACEPARENT other than the job's (an agent's tool call, a
 * build step that traces itself) has its decisions recorded as children of
 * that span, in that trace, with its TRACESTATE; they keep egress.job.id
 * and the job's attributes, so the job's record stays whole. The kernel
 * side (bpf/lib/proc.bpf.h) reads the environment at exec and tells of it
 * in an EF_K_PROC record, and of each fork and the exit of such a process;
 * this keeps what they say, by (pid, start time), while the process lives
 * (and at most until its job ends).
 *
 * Only contexts that differ from the job's are kept: a process that
 * inherited the job's own TRACEPARENT (egressctl run sets it) costs one
 * parse at its exec and nothing after. A malformed TRACEPARENT is ignored
 * (the job span stays the parent), a malformed TRACESTATE dropped alone.
 * Bounded: at most EF_PCTX_JOB_MAX live processes per job and EF_PCTX_MAX
 * in all; past that a process keeps the job span, and the loss is counted
 * (egressctl status: trace_context.dropped).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "egressd.h"
#include "registry/registry.h"
#include "lib/procinfo.h"
#include "spans.h"
#include "policy.h"
#include "lib/span.h"
#include "lib/util.h"

#define PCTX_BUCKETS 4096

struct pctx {
	struct pctx *next;
	uint32_t pid;
	uint64_t start_boot_ns;
	uint64_t cgroup_id;
	struct ef_tracectx tc;
	char *tracestate; /* validated; NULL: none */
};

struct ef_pctxs {
	struct pctx *b[PCTX_BUCKETS];
	size_t n;
	uint64_t swept_ns; /* boot clock of the last sweep() */
};

static size_t bucket(uint32_t pid, uint64_t start)
{
	uint64_t h = (pid * 0x9e3779b97f4a7c15ull) ^ (start * 0xff51afd7ed558ccdull);

	return (size_t)(h >> 32) % PCTX_BUCKETS;
}

static struct pctx **slot(struct ef_pctxs *t, uint32_t pid, uint64_t start)
{
	struct pctx **pp = &t->b[bucket(pid, start)];

	while (*pp && ((*pp)->pid != pid || (*pp)->start_boot_ns != start))
		pp = &(*pp)->next;
	return pp;
}

static void drop(struct ef_daemon *d, struct pctx **pp)
{
	struct pctx *p = *pp;
	struct ef_job_rec *j = ef_job_by_cgroup(d, p->cgroup_id);

	*pp = p->next;
	if (j && j->n_pctx)
		j->n_pctx--;
	d->pctx->n--;
	free(p->tracestate);
	free(p);
}

/*
 * Drops the contexts of processes that are gone: their exit records tell of
 * each, but a record lost to a full ring (counted: egress.drops) would
 * leave its entry until the job ends. Run when a cap is reached, at most
 * once a second: /proc of every process held.
 */
static void sweep(struct ef_daemon *d)
{
	uint64_t now = ef_now_boot_ns(), have;

	if (now - d->pctx->swept_ns < 1000000000ull)
		return;
	d->pctx->swept_ns = now;
	for (size_t i = 0; i < PCTX_BUCKETS; i++) {
		struct pctx **pp = &d->pctx->b[i];

		while (*pp) {
			/* within a clock tick of /proc's start time: the same process */
			if (ef_proc_start_ns(d->procs, (*pp)->pid, &have) ||
			    have / 10000000ull != (*pp)->start_boot_ns / 10000000ull)
				drop(d, pp);
			else
				pp = &(*pp)->next;
		}
	}
}

/* Sets (pid, start) to tc/ts, or (tc NULL) drops what it had. */
static void put(struct ef_daemon *d, struct ef_job_rec *j, uint32_t pid, uint64_t start,
		const struct ef_tracectx *tc, const char *ts)
{
	struct pctx **pp = slot(d->pctx, pid, start), *p = *pp;

	if (!tc) {
		if (p)
			drop(d, pp);
		return;
	}
	if (!p && j && (j->n_pctx >= EF_PCTX_JOB_MAX || d->pctx->n >= EF_PCTX_MAX))
		sweep(d); /* a lost exit record (a full ring) leaves one behind */
	if (!p) {
		if (!j || j->n_pctx >= EF_PCTX_JOB_MAX || d->pctx->n >= EF_PCTX_MAX ||
		    !(p = calloc(1, sizeof(*p)))) {
			d->pctx_dropped++;
			return;
		}
		p->pid = pid;
		p->start_boot_ns = start;
		p->cgroup_id = j->cgroup_id;
		*pp = p;
		j->n_pctx++;
		d->pctx->n++;
	}
	{
		/* ts may be the parent's (a fork): copied before anything is freed */
		char *copy = ts ? strdup(ts) : NULL;

		free(p->tracestate);
		p->tracestate = copy;
	}
	p->tc = *tc;
}

int ef_pctx_setup(struct ef_daemon *d)
{
	d->pctx = calloc(1, sizeof(*d->pctx));
	return d->pctx ? 0 : -ENOMEM;
}

void ef_pctx_free(struct ef_daemon *d)
{
	if (!d->pctx)
		return;
	for (size_t i = 0; i < PCTX_BUCKETS; i++)
		while (d->pctx->b[i])
			drop(d, &d->pctx->b[i]);
	free(d->pctx);
	d->pctx = NULL;
}

/* An EF_K_PROC record (lib/proc.bpf.h) of size bytes. */
void ef_pctx_record(struct ef_daemon *d, const struct ef_event *e, size_t size)
{
	const struct ef_proc_rec *r = (const struct ef_proc_rec *)e;
	struct ef_job_rec *j = ef_job_by_cgroup(d, e->cgroup_id);
	char tp[EF_TRACEPARENT_LEN], ts[EF_TRACESTATE_LEN];
	struct ef_tracectx tc;
	struct pctx *parent;

	d->pctx_records++;
	if (e->reason == EF_PROC_FORK) {
		parent = *slot(d->pctx, e->ppid, e->cookie);
		if (parent)
			put(d, j, e->pid, e->start_boot_ns, &parent->tc, parent->tracestate);
		return;
	}
	if (e->reason == EF_PROC_EXIT) {
		put(d, j, e->pid, e->start_boot_ns, NULL, NULL);
		return;
	}
	if (e->reason != EF_PROC_EXEC || size < sizeof(*r)) {
		log_warn("EF_K_PROC record of %zu bytes, what %u: ABI mismatch?", size, e->reason);
		return;
	}
	memcpy(tp, r->traceparent, sizeof(tp));
	tp[sizeof(tp) - 1] = '\0';
	memcpy(ts, r->tracestate, sizeof(ts));
	ts[sizeof(ts) - 1] = '\0';
	/* the job's own context (what egressctl run gave the command: the
	 * kernel side skips most of those, ef_job_tp), or none that parses:
	 * the job span is the parent */
	if (!ef_traceparent_parse(tp, &tc) ||
	    (j && !memcmp(tc.trace_id, j->trace_id, 16) && !memcmp(tc.span_id, j->span_id, 8))) {
		if (tp[0] && !ef_traceparent_parse(tp, &tc))
			d->pctx_malformed++;
		put(d, j, r->e.pid, r->e.start_boot_ns, NULL, NULL);
		return;
	}
	put(d, j, r->e.pid, r->e.start_boot_ns, &tc, ef_tracestate_valid(ts) ? ts : NULL);
}

/*
 * A decision of (pid, start) of job j: under its process's span if it has
 * one. A process can name any trace, another job's too: a span put in a
 * trace other than its job's links back to the job span, and the job span
 * says how many went elsewhere (egress.trace.elsewhere), so a view of the
 * job's trace shows that some of its decisions are not in it, and where.
 */
void ef_span_proc_context(struct ef_daemon *d, struct ef_span *s, struct ef_job_rec *j,
			  uint32_t pid, uint64_t start)
{
	const struct pctx *p;

	if (!d->pctx || !d->pctx->n || !pid)
		return;
	p = *slot(d->pctx, pid, start);
	if (!p)
		return;
	if (j && memcmp(p->tc.trace_id, j->trace_id, sizeof(j->trace_id))) {
		s->has_link = true;
		memcpy(s->link_trace_id, j->trace_id, sizeof(s->link_trace_id));
		memcpy(s->link_span_id, j->span_id, sizeof(s->link_span_id));
		j->n_elsewhere++;
	}
	memcpy(s->trace_id, p->tc.trace_id, sizeof(s->trace_id));
	memcpy(s->parent_id, p->tc.span_id, sizeof(s->parent_id));
	s->has_parent = true;
	ef_span_trace_state(s, p->tracestate);
}

size_t ef_pctx_count(const struct ef_daemon *d)
{
	return d->pctx ? d->pctx->n : 0;
}

/* The job ended: its processes' contexts go. */
void ef_pctx_job_end(struct ef_daemon *d, const struct ef_job_rec *j)
{
	if (!d->pctx || !j->n_pctx)
		return;
	for (size_t i = 0; i < PCTX_BUCKETS; i++) {
		struct pctx **pp = &d->pctx->b[i];

		while (*pp)
			if ((*pp)->cgroup_id == j->cgroup_id)
				drop(d, pp);
			else
				pp = &(*pp)->next;
	}
}
