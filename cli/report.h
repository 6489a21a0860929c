/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * egressctl report, split along its seams: report.c reads the journal into
 * the model; report_text.c renders it as text and markdown;
 * report_timeline.c keeps the job's decisions for the model's "timeline";
 * report_spans.c reads the spans others traced in the job's trace
 * (--spans) and report_tree.c nests the decisions under them;
 * report_html.c renders the model as one self-contained HTML page.
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
	const char *parent;   /* its parentSpanId (hex), "" for none */
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

/* ---- the spans the decisions nest under (report_spans.c, report_tree.c) ---- */

#define REPORT_NAME_MAX	  128  /* bytes of a span's name kept */
#define REPORT_SPANS_MAX  4096 /* spans of the job's trace read from --spans */
#define REPORT_TREE_ROWS  64   /* span rows drawn; deeper or later ones fold up */
#define REPORT_TREE_DEPTH 32   /* parent links followed: more is a cycle, or absurd */

/* A span of the job's trace that is not the fence's: an agent's
 * invoke_agent, a tool call's execute_tool. Ids in lowercase hex. */
struct report_span {
	char id[17], parent[17];
	char name[REPORT_NAME_MAX];
	uint64_t start_ns, end_ns;
};

/* Zero-initialised is empty. What was left out is counted, by why. */
struct report_spans {
	struct report_span *s;
	size_t n, cap;
	uint64_t n_other_trace, n_fence, n_bad, n_far, n_dup, n_more;
};

/* Reads path (--spans): OTLP/JSON ExportTraceServiceRequests, one per line
 * or one object in the whole file, and keeps the spans of trace_id whose
 * times lie within a day of lo_ns..hi_ns (the job's). 0; -ENOMEM; or
 * -EBADMSG / -errno with err[] saying what is wrong with the file. */
int report_spans_read(struct report_spans *sp, const char *path, const char *trace_id,
		      uint64_t lo_ns, uint64_t hi_ns, char *err, size_t errlen);
void report_spans_free(struct report_spans *sp);

/* The root the decisions nest under: the egress.job span. */
struct report_root {
	const char *span_id; /* hex */
	const char *name;
	uint64_t start_ns, end_ns;
};

struct report_tree;
/* The job's span, and under it the spans of sp (may be NULL) whose parent
 * links lead to it; NULL on ENOMEM. */
struct report_tree *report_tree_new(const struct report_root *root,
				    const struct report_spans *sp);
/* The node a decision nests under: the span its parent names if that is in
 * the tree, else a group of the decisions with that parent, under the job
 * (its label names their executables), else the job. -ENOMEM or >= 0. */
int report_tree_place(struct report_tree *t, const char *parent, const char *process,
		      uint64_t start_ns, uint64_t end_ns);
/* Orders the tree for drawing (depth first, siblings by start): afterwards
 * report_tree_row() maps a node to its row, a node past REPORT_TREE_ROWS to
 * its nearest drawn ancestor's. 0 or -ENOMEM. */
int report_tree_order(struct report_tree *t);
int report_tree_row(const struct report_tree *t, int node);
/* Rows beyond the job's own: is there anything to nest? */
bool report_tree_nested(const struct report_tree *t);
/* Adds the model's "tree" to tl: the drawn rows in order, each with the
 * lanes drawn under it (lane_row[i] is lane i's row), and what was left
 * out. 0 or -ENOMEM. */
int report_tree_model(const struct report_tree *t, cJSON *tl, uint64_t zero_ns,
		      const int *lane_row, int n_lanes);
void report_tree_free(struct report_tree *t);

/* The model's "timeline": times in seconds since zero_ns (the job's first
 * span), up to end_ns (its last); with tree, also its "tree" and each
 * decision's "row". NULL on ENOMEM. */
cJSON *report_tl_model(struct report_tl *t, uint64_t zero_ns, uint64_t end_ns,
		       struct report_tree *tree);
void report_tl_free(struct report_tl *t);

/* The job's attributes the report shows by name (CI, agent, container) */
bool report_ci_attr(const char *key);
/* The job's counters the report shows: attribute key and label */
extern const char *const report_counts[4][2];

/* The model (report.c's model()) as one HTML page on stdout: no script,
 * nothing fetched, every value of the job escaped. */
void report_html(const cJSON *m);

/* ---- text and markdown (report_text.c) ---- */

enum fmt { F_TEXT, F_MD, F_JSON, F_HTML };

/* The model as text or markdown (f) on stdout. */
void report_render(const cJSON *m, enum fmt f);
/* s, or dflt for NULL or "" (report.c) */
const char *report_str_or(const char *s, const char *dflt);

#endif /* EF_REPORT_H */
