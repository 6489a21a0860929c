/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A job's spans: the batch (spans.c), the trace context and attributes of
 * a job's spans, each process's own trace context (proc_ctx.c), and what
 * a decision record says (its span's name, why it was refused; the wire
 * check's attributes: wire.h).
 */
#ifndef EF_SPANS_SPANS_H
#define EF_SPANS_SPANS_H

#include "egressd.h"
#include "wire.h"

/* spans.c */
struct ef_span *ef_span_new(struct ef_daemon *d); /* from the pool; flushes when full */
void ef_spans_flush(struct ef_daemon *d);
void ef_span_job_context(struct ef_daemon *d, struct ef_span *s, const struct ef_job_rec *j);
void ef_span_job_attrs(struct ef_span *s, const struct ef_job_rec *j);
/* egress.rule/policy/mode and security_rule.* of a decision */
void ef_span_rule(struct ef_span *s, const struct ef_pol_rec *pol, const char *rule);

/* process.* and thread.id of a record's process (the executable's path
 * from /proc while it runs); exe and comm as records carry them, not
 * NUL-terminated when full */
void ef_span_process(struct ef_daemon *d, struct ef_span *s, uint32_t pid, uint32_t ppid,
		     uint32_t uid, uint32_t tid, uint64_t start_boot_ns,
		     const char rec_exe[EF_EXE_LEN], const char rec_comm[EF_COMM_LEN]);

/* A decision record's span name by kind: "egress.connect", ... */
const char *ef_span_name_of(int kind);

/* Why a refusal was one, in words (addr: the destination's name or address) */
void ef_event_why(const struct ef_event *e, const char *addr, const char *rule, char *msg,
		  size_t len);

/* proc_ctx.c: each process's own trace context (bpf/lib/proc.bpf.h) */
#define EF_PCTX_JOB_MAX 16384
#define EF_PCTX_MAX 65536
int ef_pctx_setup(struct ef_daemon *d);
void ef_pctx_free(struct ef_daemon *d);
void ef_pctx_record(struct ef_daemon *d, const struct ef_event *e, size_t size);
void ef_pctx_job_end(struct ef_daemon *d, const struct ef_job_rec *j);
size_t ef_pctx_count(const struct ef_daemon *d);
void ef_span_proc_context(struct ef_daemon *d, struct ef_span *s, struct ef_job_rec *j,
			  uint32_t pid, uint64_t start);

#endif /* EF_SPANS_SPANS_H */
