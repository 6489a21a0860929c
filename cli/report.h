/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * egressctl report, split along its seams: report.c reads the journal into
 * the model and renders text and markdown; report_timeline.c keeps the
 * job's decisions for the model's "timeline"; report_html.c renders the
 * model as one self-contained HTML page.
 */
#ifndef EF_REPORT_H
#define EF_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>

/* The timeline's bounds: a job writes spans without end (the journal folds
 * repeats, but not a flood of distinct decisions), a page cannot draw them.
 * Each class of decision has its share of REPORT_TL_MAX, the first of it in
 * journal order, so that a busy job's allowed traffic cannot push its
 * denials off the timeline, nor a flood of denials its probe flags. */
#define REPORT_TL_MAX	2000
#define REPORT_TL_LANES 32 /* processes with a lane; the rest share "other" */

enum report_tl_class { TL_ALLOWED, TL_DENIED, TL_FLAG, TL_N_CLASSES };
/* allow; flag (a probe flag); deny, would_deny and anything else */
enum report_tl_class report_tl_class(const char *decision);
extern const size_t report_tl_cap[TL_N_CLASSES]; /* the shares, summing to REPORT_TL_MAX */

/* One decision span of the job as the timeline shows it. */
struct report_decision {
	uint64_t start_ns, end_ns; /* realtime; a folded span covers a window */
	uint64_t count;		   /* decisions the span stands for (egress.count) */
	const char *process;	   /* "exe[pid]", as the denials name it */
	const char *destination, *kind, *reason;
	const char *decision; /* allow, deny, would_deny, flag (probe), "?" */
};

struct tl_entry;
/* Zero-initialised is empty. */
struct report_tl {
	struct tl_entry *e;
	size_t n, cap;
	size_t n_class[TL_N_CLASSES]; /* kept, by class */
	uint64_t n_more;	      /* left off: over their class's share */
};

/* Keeps a copy of d (or counts it as left off). 0 or -ENOMEM. */
int report_tl_add(struct report_tl *t, const struct report_decision *d);
/* The model's "timeline": times in seconds since zero_ns (the job's first
 * span), up to end_ns (its last); NULL on ENOMEM. */
cJSON *report_tl_model(struct report_tl *t, uint64_t zero_ns, uint64_t end_ns);
void report_tl_free(struct report_tl *t);

/* The job's attributes the report shows by name (CI, agent, container) */
bool report_ci_attr(const char *key);
/* The job's counters the report shows: attribute key and label */
extern const char *const report_counts[4][2];

/* The model (report.c's model()) as one HTML page on stdout: no script,
 * nothing fetched, every value of the job escaped. */
void report_html(const cJSON *m);

#endif /* EF_REPORT_H */
