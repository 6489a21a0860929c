/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Folding repeated decisions into one span (fold.c), so that a job that
 * floods the fence cannot flood the journal with it.
 *
 * Two decisions are the same when every field a span shows from the record
 * is: the job, the process (pid and start time, uid, executable), the kind,
 * verdict, reason, rule and policy version, and the destination (family,
 * address, port, protocol, the DNS name it was learned from, the second
 * endpoint; a tamper record's target). The first of them is written at once, as always; the same
 * decisions in the next window (EF_FOLD_WINDOW_NS from the first) are
 * counted, and written as ONE span when the window ends, with the count
 * (egress.count) and the first and last of them as its start and end.
 *
 * Distinct decisions cannot be folded so, and a job that varies the port or
 * the process each time would write a span for each. So each job has a
 * budget of spans written at once: a token bucket of EF_FOLD_JOB_BURST,
 * refilled at EF_FOLD_JOB_RATE a second. Past it, a new decision is folded
 * by job, kind, verdict, reason and rule only (a "job" fold), its span
 * naming the rule, the destinations seen (a sample) and how many there
 * were: a job that spends its budget on decoys cannot hide which rule let
 * it through. Whatever a job
 * does, it writes at most the burst, then about twice the rate plus one per
 * (kind, verdict, reason) a second: a flood of hours costs tens of MB, not
 * the journal.
 *
 * A crash loses at most one window of repeats (their first was written);
 * the table is bounded (a full table ends its oldest window early). Pure:
 * no clock, no I/O; the caller passes the boot-clock time of each record
 * and gets the folds through a callback.
 */
#ifndef EF_FOLD_H
#define EF_FOLD_H

#include <stdbool.h>
#include <stdint.h>
#include <linux/types.h>

#include "ef_abi.h"

#define EF_FOLD_WINDOW_NS 1000000000ull
#define EF_FOLD_JOB_BURST 1000 /* spans written at once, a job's bucket */
#define EF_FOLD_JOB_RATE 20    /* ... refilled per second */
#define EF_FOLD_CAP 8192 /* open folds, all jobs */
#define EF_FOLD_DESTS 8	 /* destinations named by a job fold */
#define EF_FOLD_NAME_MAX 256

struct ef_fold_dest {
	uint8_t family;
	uint8_t addr[16];
	uint16_t port;
	uint16_t protocol;
};

/* One fold, ended: what its span says. */
struct ef_fold_sum {
	struct ef_event e;	   /* the last decision folded */
	uint64_t first_ns, last_ns; /* boot clock: the first and the last folded */
	uint32_t count;		   /* decisions folded into this span */
	bool by_job;		   /* a job fold (over the budget) */
	uint32_t n_dests;	   /* by_job: distinct destinations (up to a bound) */
	uint32_t n_pids;	   /* by_job: distinct processes (up to a bound) */
	int n_sample;
	struct ef_fold_dest sample[EF_FOLD_DESTS]; /* by_job: the first destinations */
	char name[EF_FOLD_NAME_MAX]; /* the last one's DNS name (ef_fold_add_named), or "" */
};

typedef void (*ef_fold_emit_fn)(void *ctx, const struct ef_fold_sum *s);

struct ef_fold;
struct ef_fold *ef_fold_new(uint64_t window_ns, uint32_t burst, uint32_t rate, uint32_t cap,
			    ef_fold_emit_fn emit, void *ctx);
void ef_fold_free(struct ef_fold *f);

/* One decision: true if it was folded (no span now), false if its span is
 * to be written now. May end folds first (emit). */
bool ef_fold_add(struct ef_fold *f, const struct ef_event *e);
/* The same, with a name the fold's span shows (a DNS query's). */
bool ef_fold_add_named(struct ef_fold *f, const struct ef_event *e, const char *name);
/* End (emit) every fold whose window is over at now_ns (boot clock). */
void ef_fold_expire(struct ef_fold *f, uint64_t now_ns);
/* End every fold of one job (its cgroup id), or of all with all. */
void ef_fold_flush(struct ef_fold *f, uint64_t cgroup_id, bool all);
/* Open folds, and decisions folded since the start (for status). */
uint32_t ef_fold_open(const struct ef_fold *f);
uint64_t ef_fold_folded(const struct ef_fold *f);
uint64_t ef_fold_spans(const struct ef_fold *f); /* fold spans emitted */

#endif /* EF_FOLD_H */
