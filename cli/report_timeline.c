// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * egressctl report's timeline: every span of the job but its egress.job
 * (allowed decisions as well as denied ones, probe flags, tamper refusals)
 * for the model's "timeline", which the HTML form draws as one lane per
 * process. The journal holds allowed decisions as spans too; repeats are
 * folded there (daemon/decisions/fold.h) into one span with egress.count and the
 * window it covers, and so they are here.
 *
 * Bounded, as the page must be: of each class of decision (report.h) the
 * first spans in journal order are kept, up to its share of REPORT_TL_MAX,
 * and the rest counted; the first REPORT_TL_LANES processes in time order
 * get a lane each, the others share one, "other".
 *
 * With a tree (report_tree.c) a lane is a process under one row of it, the
 * span its decisions are children of: a process started for a tool call
 * has its lane under that call. Without nesting, every lane is under the
 * job's row and the timeline is what it was.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "report.h"
#include "suggest.h"

struct tl_entry {
	uint64_t start_ns, end_ns, count;
	size_t seq; /* journal order, which ties keep */
	int node;   /* in the tree, when there is one */
	char *buf;  /* the strings below, in one allocation */
	char *process, *destination, *kind, *reason, *decision, *parent;
};

static int entry_strings(struct tl_entry *e, const struct report_decision *d)
{
	const char *src[] = { d->process, d->destination, d->kind,
			      d->reason,  d->decision,	  d->parent };
	char **dst[] = { &e->process, &e->destination, &e->kind,
			 &e->reason,  &e->decision,    &e->parent };
	size_t len = 0, o = 0, n = sizeof(src) / sizeof(src[0]);

	for (size_t i = 0; i < n; i++)
		len += strlen(src[i] ? src[i] : "") + 1;
	e->buf = malloc(len);
	if (!e->buf)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(src[i] ? src[i] : "") + 1;

		memcpy(e->buf + o, src[i] ? src[i] : "", l);
		*dst[i] = e->buf + o;
		o += l;
	}
	return 0;
}

const size_t report_tl_cap[TL_N_CLASSES] = {
	[TL_ALLOWED] = REPORT_TL_MAX / 2,
	[TL_DENIED] = REPORT_TL_MAX / 2 - REPORT_TL_MAX / 20,
	[TL_FLAG] = REPORT_TL_MAX / 20,
};

enum report_tl_class report_tl_class(const char *decision)
{
	if (!strcmp(decision, "allow"))
		return TL_ALLOWED;
	return strcmp(decision, "flag") ? TL_DENIED : TL_FLAG;
}

int report_tl_add(struct report_tl *t, const struct report_decision *d)
{
	enum report_tl_class c = report_tl_class(d->decision ? d->decision : "");
	struct tl_entry *e;

	if (t->n_class[c] >= report_tl_cap[c]) {
		t->n_more++;
		return 0;
	}
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 64;

		e = realloc(t->e, cap * sizeof(*e));
		if (!e)
			return -ENOMEM;
		t->e = e;
		t->cap = cap;
	}
	e = &t->e[t->n];
	e->start_ns = d->start_ns;
	e->end_ns = d->end_ns > d->start_ns ? d->end_ns : d->start_ns;
	e->count = d->count ? d->count : 1;
	e->seq = t->n;
	e->node = 0;
	if (entry_strings(e, d))
		return -ENOMEM;
	t->n++;
	t->n_class[c]++;
	return 0;
}

void report_tl_free(struct report_tl *t)
{
	for (size_t i = 0; i < t->n; i++)
		free(t->e[i].buf);
	free(t->e);
	memset(t, 0, sizeof(*t));
}

static int by_time(const void *a, const void *b)
{
	const struct tl_entry *x = a, *y = b;

	if (x->start_ns != y->start_ns)
		return x->start_ns < y->start_ns ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static double since(uint64_t ns, uint64_t zero_ns)
{
	return ns > zero_ns ? (double)(ns - zero_ns) / 1e9 : 0;
}

/* The lanes so far: their labels, and the tree row each is under. */
struct lanes {
	cJSON *labels;
	int row[REPORT_TL_LANES + 1];
	int n;
	struct suggest_set others; /* the processes in "other" */
};

/* The lane of a process under a row: its own while there are lanes left,
 * else REPORT_TL_LANES ("other", under the job's row, added at the end).
 * 0 or -ENOMEM. */
static int lane_of(struct lanes *ls, const char *proc, int row, int *ret)
{
	const cJSON *l;
	int i = 0;

	cJSON_ArrayForEach(l, ls->labels) {
		if (ls->row[i] == row && !strcmp(l->valuestring, proc)) {
			*ret = i;
			return 0;
		}
		i++;
	}
	if (i < REPORT_TL_LANES) {
		*ret = i;
		ls->row[i] = row;
		ls->n = i + 1;
		return cJSON_AddItemToArray(ls->labels, cJSON_CreateString(proc)) ? 0 : -ENOMEM;
	}
	*ret = REPORT_TL_LANES;
	return suggest_set_add(&ls->others, proc, NULL);
}

static cJSON *entry_json(const struct tl_entry *e, int lane, int row, uint64_t zero_ns)
{
	cJSON *o = cJSON_CreateObject();

	if (!o)
		return NULL;
	cJSON_AddNumberToObject(o, "t", since(e->start_ns, zero_ns));
	if (e->end_ns > e->start_ns)
		cJSON_AddNumberToObject(o, "t_end", since(e->end_ns, zero_ns));
	cJSON_AddNumberToObject(o, "lane", lane);
	cJSON_AddStringToObject(o, "process", e->process);
	cJSON_AddStringToObject(o, "decision", e->decision);
	cJSON_AddStringToObject(o, "kind", e->kind);
	cJSON_AddStringToObject(o, "destination", e->destination);
	cJSON_AddStringToObject(o, "reason", e->reason);
	cJSON_AddNumberToObject(o, "count", (double)e->count);
	if (row >= 0)
		cJSON_AddNumberToObject(o, "row", row);
	return o;
}

/* Each entry's node in the tree (groups made as needed), then the tree's
 * rows. 0 or -ENOMEM. */
static int place(struct report_tl *t, struct report_tree *tree)
{
	for (size_t i = 0; i < t->n; i++) {
		struct tl_entry *e = &t->e[i];

		e->node = report_tree_place(tree, e->parent, e->process, e->start_ns, e->end_ns);
		if (e->node < 0)
			return e->node;
	}
	return report_tree_order(tree);
}

/* "decisions", in time order, the "lanes" they fall in, and the "tree"
 * the lanes are under */
static int add_decisions(cJSON *tl, struct report_tl *t, uint64_t zero_ns,
			 struct report_tree *tree)
{
	struct lanes ls = { .labels = cJSON_AddArrayToObject(tl, "lanes") };
	cJSON *a = cJSON_AddArrayToObject(tl, "decisions");
	int lane, ret = -ENOMEM;

	if (!ls.labels || !a)
		return -ENOMEM;
	if (t->n) /* qsort's base must not be NULL, even for none */
		qsort(t->e, t->n, sizeof(*t->e), by_time);
	if (tree && place(t, tree))
		return -ENOMEM;
	for (size_t i = 0; i < t->n; i++) {
		int row = tree ? report_tree_row(tree, t->e[i].node) : -1;
		cJSON *o;

		if (lane_of(&ls, t->e[i].process, row < 0 ? 0 : row, &lane))
			goto out;
		o = entry_json(&t->e[i], lane, row, zero_ns);
		if (!o || !cJSON_AddItemToArray(a, o)) {
			cJSON_Delete(o);
			goto out;
		}
	}
	if (ls.others.n) {
		cJSON_AddItemToArray(ls.labels, cJSON_CreateString("other"));
		cJSON_AddNumberToObject(tl, "lanes_more", (double)ls.others.n);
		ls.row[ls.n++] = 0;
	}
	ret = tree ? report_tree_model(tree, tl, zero_ns, ls.row, ls.n) : 0;
out:
	suggest_set_free(&ls.others);
	return ret;
}

cJSON *report_tl_model(struct report_tl *t, uint64_t zero_ns, uint64_t end_ns,
		       struct report_tree *tree)
{
	cJSON *tl = cJSON_CreateObject();
	char start[40];

	if (!tl)
		return NULL;
	audit_fmt_time(zero_ns, true, start, sizeof(start));
	cJSON_AddStringToObject(tl, "start", start);
	cJSON_AddNumberToObject(tl, "duration_s", since(end_ns, zero_ns));
	if (add_decisions(tl, t, zero_ns, tree)) {
		cJSON_Delete(tl);
		return NULL;
	}
	if (t->n_more)
		cJSON_AddNumberToObject(tl, "decisions_more", (double)t->n_more);
	return tl;
}
