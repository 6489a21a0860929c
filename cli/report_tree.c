// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * egressctl report: the job's decisions nested under the spans they belong
 * to. egressd makes a decision span the child of the span named by the
 * TRACEPARENT its process was exec'd with, when that is not the job's own:
 * an agent that starts each tool call's process with the tool call's span
 * as TRACEPARENT gets the tool's decisions under the call. The tree is the
 * job's span, the spans of --spans whose parent links lead to it (the
 * agent's invoke_agent, its execute_tool calls), and, for decisions whose
 * parent is neither, a group per parent span id under the job, labelled by
 * the executables that decided (without --spans, all there is to go on).
 *
 * The parent links come from files and from the job's processes (their
 * TRACEPARENT): a link may point nowhere, at itself, or round a cycle.
 * Links are followed at most REPORT_TREE_DEPTH times; a span that does not
 * reach the job within that is left out, counted. Only REPORT_TREE_ROWS
 * rows are drawn, depth first: a row past them folds into its nearest
 * drawn ancestor, which thus holds its decisions.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "report.h"
#include "suggest.h"

enum node_kind { N_JOB, N_SPAN, N_GROUP, N_LOOSE /* not under the job: not drawn */ };

static const char *const kind_name[] = { "job", "span", "group", "loose" };

struct node {
	char id[17], parent_id[17];
	char name[REPORT_NAME_MAX];
	enum node_kind kind;
	uint64_t start_ns, end_ns;
	int parent, depth, row; /* row: its own if drawn, else its drawn ancestor's */
	bool drawn;
	uint64_t n_decisions;
	struct suggest_set exes; /* a group's executables */
};

struct report_tree {
	struct node *n;
	size_t len, cap;
	int *by_id; /* the span nodes, sorted by id, for parent lookups */
	size_t n_by_id;
	uint64_t n_loose, n_folded, n_groups_more;
	int n_rows;
};

static struct node *add_node(struct report_tree *t)
{
	struct node *n;

	if (t->len == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16;

		n = realloc(t->n, cap * sizeof(*n));
		if (!n)
			return NULL;
		t->n = n;
		t->cap = cap;
	}
	n = &t->n[t->len++];
	memset(n, 0, sizeof(*n));
	n->parent = -1;
	n->row = 0;
	return n;
}

static struct report_tree *sort_ctx; /* qsort has no context argument */

static int cmp_id(const void *a, const void *b)
{
	return strcmp(sort_ctx->n[*(const int *)a].id, sort_ctx->n[*(const int *)b].id);
}

/* the span node of id, or -1 */
static int find_span(const struct report_tree *t, const char *id)
{
	size_t lo = 0, hi = t->n_by_id;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(t->n[t->by_id[mid]].id, id);

		if (!c)
			return t->by_id[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

/* Follows i's parent links to the job: its depth, or -1 if they lead
 * elsewhere (an unknown span, none) or go on too long (a cycle). */
static int depth_of(const struct report_tree *t, int i)
{
	for (int d = 1; d <= REPORT_TREE_DEPTH; d++) {
		const char *p = t->n[i].parent_id;

		if (!strcmp(p, t->n[0].id))
			return d;
		if (!*p || (i = find_span(t, p)) < 0)
			return -1;
	}
	return -1;
}

/* Each span node: under its parent, or loose. */
static void link_spans(struct report_tree *t)
{
	for (size_t i = 1; i < t->len; i++) {
		struct node *n = &t->n[i];
		int d = depth_of(t, (int)i);

		if (d < 0) {
			n->kind = N_LOOSE;
			t->n_loose++;
			continue;
		}
		n->depth = d;
		n->parent = d == 1 ? 0 : find_span(t, n->parent_id);
	}
}

struct report_tree *report_tree_new(const struct report_root *root,
				    const struct report_spans *sp)
{
	struct report_tree *t = calloc(1, sizeof(*t));
	struct node *n;

	if (!t || !(n = add_node(t)))
		goto fail;
	n->kind = N_JOB;
	snprintf(n->id, sizeof(n->id), "%s", root->span_id);
	snprintf(n->name, sizeof(n->name), "%s", root->name);
	n->start_ns = root->start_ns;
	n->end_ns = root->end_ns;
	for (size_t i = 0; sp && i < sp->n; i++) {
		if (!strcmp(sp->s[i].id, root->span_id))
			continue; /* the job's span, as exported */
		if (!(n = add_node(t)))
			goto fail;
		n->kind = N_SPAN;
		memcpy(n->id, sp->s[i].id, sizeof(n->id));
		memcpy(n->parent_id, sp->s[i].parent, sizeof(n->parent_id));
		memcpy(n->name, sp->s[i].name, sizeof(n->name));
		n->start_ns = sp->s[i].start_ns;
		n->end_ns = sp->s[i].end_ns;
	}
	t->by_id = malloc(t->len * sizeof(*t->by_id));
	if (!t->by_id)
		goto fail;
	for (size_t i = 1; i < t->len; i++) /* ids are unique: report_spans_read */
		t->by_id[t->n_by_id++] = (int)i;
	sort_ctx = t;
	if (t->n_by_id)
		qsort(t->by_id, t->n_by_id, sizeof(*t->by_id), cmp_id);
	link_spans(t);
	return t;
fail:
	report_tree_free(t);
	return NULL;
}

/* "exe[pid]" -> "exe" */
static void exe_of(const char *process, char *out, size_t len)
{
	const char *b = strrchr(process, '[');
	size_t l = b ? (size_t)(b - process) : strlen(process);

	snprintf(out, len, "%.*s", (int)l, process);
}

/* the group of decisions with parent id p, made on first use; 0 (the job)
 * when there are already as many as could be drawn */
static int group_of(struct report_tree *t, const char *p)
{
	struct node *n;
	int groups = 0;

	for (size_t i = 1; i < t->len; i++) {
		if (t->n[i].kind != N_GROUP)
			continue;
		if (!strcmp(t->n[i].id, p))
			return (int)i;
		groups++;
	}
	if (groups >= REPORT_TREE_ROWS) {
		t->n_groups_more++;
		return 0;
	}
	if (!(n = add_node(t)))
		return -ENOMEM;
	n->kind = N_GROUP;
	snprintf(n->id, sizeof(n->id), "%s", p);
	n->parent = 0;
	n->depth = 1;
	return (int)(n - t->n);
}

int report_tree_place(struct report_tree *t, const char *parent, const char *process,
		      uint64_t start_ns, uint64_t end_ns)
{
	char exe[256];
	struct node *n;
	int i = 0;

	if (parent && *parent && strcmp(parent, t->n[0].id)) {
		i = find_span(t, parent);
		if (i < 0 || t->n[i].kind == N_LOOSE)
			i = group_of(t, parent);
		if (i < 0)
			return i;
	}
	n = &t->n[i];
	n->n_decisions++;
	if (n->kind != N_GROUP)
		return i;
	/* a group spans its decisions */
	if (!n->start_ns || start_ns < n->start_ns)
		n->start_ns = start_ns;
	if (end_ns > n->end_ns)
		n->end_ns = end_ns;
	exe_of(process, exe, sizeof(exe));
	if (n->exes.n < 8 && suggest_set_add(&n->exes, exe, NULL))
		return -ENOMEM;
	return i;
}

/* siblings by start, then id: the order they happened in */
static int cmp_start(const void *a, const void *b)
{
	const struct node *x = &sort_ctx->n[*(const int *)a], *y = &sort_ctx->n[*(const int *)b];

	if (x->start_ns != y->start_ns)
		return x->start_ns < y->start_ns ? -1 : 1;
	return strcmp(x->id, y->id);
}

/* Depth first from i; recursion is bounded by REPORT_TREE_DEPTH. */
static void visit(struct report_tree *t, const int *sorted, size_t n, int i)
{
	struct node *x = &t->n[i];

	if (t->n_rows < REPORT_TREE_ROWS) {
		x->drawn = true;
		x->row = t->n_rows++;
	} else {
		x->row = t->n[x->parent].row; /* visited before it */
		t->n_folded++;
	}
	for (size_t k = 0; k < n; k++)
		if (t->n[sorted[k]].parent == i && t->n[sorted[k]].kind != N_LOOSE)
			visit(t, sorted, n, sorted[k]);
}

int report_tree_order(struct report_tree *t)
{
	int *sorted = malloc(t->len * sizeof(*sorted));

	if (!sorted)
		return -ENOMEM;
	for (size_t i = 0; i < t->len; i++)
		sorted[i] = (int)i;
	sort_ctx = t;
	qsort(sorted, t->len, sizeof(*sorted), cmp_start);
	t->n_rows = 0;
	t->n_folded = 0;
	visit(t, sorted, t->len, 0);
	free(sorted);
	return 0;
}

int report_tree_row(const struct report_tree *t, int node)
{
	return node >= 0 && (size_t)node < t->len ? t->n[node].row : 0;
}

bool report_tree_nested(const struct report_tree *t)
{
	return t->n_rows > 1;
}

static double since(uint64_t ns, uint64_t zero_ns)
{
	return ns > zero_ns ? (double)(ns - zero_ns) / 1e9 : 0;
}

/* a group's label: the executables of its decisions, "exe, exe" */
static int group_label(const struct node *n, cJSON *o)
{
	const char **v = NULL;
	char label[REPORT_NAME_MAX] = "";
	size_t o_len = 0;

	if (suggest_set_sorted(&n->exes, &v))
		return -ENOMEM;
	for (size_t i = 0; i < n->exes.n && o_len < sizeof(label); i++)
		o_len += (size_t)snprintf(label + o_len, sizeof(label) - o_len, "%s%s",
					  i ? ", " : "", v[i]);
	free(v);
	return cJSON_AddStringToObject(o, "name", label[0] ? label : "?") ? 0 : -ENOMEM;
}

static cJSON *row_json(const struct node *n, uint64_t zero_ns, const int *lane_row,
		       int n_lanes)
{
	cJSON *o = cJSON_CreateObject(), *l;

	if (!o)
		return NULL;
	cJSON_AddNumberToObject(o, "row", n->row);
	cJSON_AddNumberToObject(o, "depth", n->depth);
	cJSON_AddStringToObject(o, "kind", kind_name[n->kind]);
	cJSON_AddStringToObject(o, "span_id", n->id);
	if (n->kind == N_GROUP ? group_label(n, o) : !cJSON_AddStringToObject(o, "name", n->name))
		goto fail;
	cJSON_AddNumberToObject(o, "t", since(n->start_ns, zero_ns));
	cJSON_AddNumberToObject(o, "t_end", since(n->end_ns, zero_ns));
	cJSON_AddNumberToObject(o, "decisions", (double)n->n_decisions);
	l = cJSON_AddArrayToObject(o, "lanes");
	for (int i = 0; l && i < n_lanes; i++)
		if (lane_row[i] == n->row && !cJSON_AddItemToArray(l, cJSON_CreateNumber(i)))
			goto fail;
	if (!l)
		goto fail;
	return o;
fail:
	cJSON_Delete(o);
	return NULL;
}

int report_tree_model(const struct report_tree *t, cJSON *tl, uint64_t zero_ns,
		      const int *lane_row, int n_lanes)
{
	cJSON *a = cJSON_AddArrayToObject(tl, "tree");
	int *at = calloc((size_t)t->n_rows + 1, sizeof(*at));

	if (!a || !at) {
		free(at);
		return -ENOMEM;
	}
	/* in row order: the node drawn on each row */
	for (size_t i = 0; i < t->len; i++)
		if (t->n[i].drawn)
			at[t->n[i].row] = (int)i;
	for (int r = 0; r < t->n_rows; r++) {
		cJSON *o = row_json(&t->n[at[r]], zero_ns, lane_row, n_lanes);

		if (!o || !cJSON_AddItemToArray(a, o)) {
			cJSON_Delete(o);
			free(at);
			return -ENOMEM;
		}
	}
	free(at);
	if (t->n_folded)
		cJSON_AddNumberToObject(tl, "tree_more", (double)t->n_folded);
	if (t->n_loose)
		cJSON_AddNumberToObject(tl, "spans_unlinked", (double)t->n_loose);
	if (t->n_groups_more)
		cJSON_AddNumberToObject(tl, "decisions_ungrouped", (double)t->n_groups_more);
	return 0;
}

void report_tree_free(struct report_tree *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->len; i++)
		suggest_set_free(&t->n[i].exes);
	free(t->n);
	free(t->by_id);
	free(t);
}
