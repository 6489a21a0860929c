// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * egressctl report --format html: the model (report.c) as one page that
 * stands alone: what the text form shows, and a timeline of the job's
 * decisions, an inline SVG with a lane per process. When the model has a
 * tree (report_tree.c: decisions under an agent's tool calls), the timeline
 * is a waterfall: a row per span, indented under its parent, a bar from its
 * start to its end, and under each span the lanes of the processes whose
 * decisions are its children; the table of decisions nests alike.
 *
 * The page is opened by people, from CI artifacts, and every value in it
 * comes from the job, which is hostile. So: no script at all, no URL of
 * any kind (nothing fetched, nothing to click), and a Content-Security-
 * Policy that would refuse both if a value ever got out; every value of
 * the job is escaped (& < > " ' as references, so one rule serves text and
 * attributes alike), its control characters (C0, DEL, C1) and invalid
 * UTF-8 are '?' as in the text form (audit_char: the bidi overrides and
 * isolates too, which could make a name read as another).
 */
#include <stdio.h>
#include <string.h>

#include "audit.h"
#include "egressctl.h"
#include "report.h"

#define CSP "default-src 'none'; style-src 'unsafe-inline'; img-src data:"

/* The timeline's geometry, in SVG user units (CSS px). Marks are big
 * enough to see, and to be found in a screenshot (the tests do). */
#define SVG_W	    1100
#define LABEL_W	    250 /* lane labels, right-aligned left of the plot */
#define PLOT_W	    (SVG_W - LABEL_W - 30)
#define LANE_H	    28
#define TOP	    8
#define AXIS_H	    40
#define MARK_W	    8
#define LABEL_CHARS 30 /* characters of a lane label; the whole in its tooltip */

#define C_ALLOW "#2e7d32"
#define C_DENY	"#c62828"
#define C_FLAG	"#ef6c00"
#define C_OTHER "#757575"
#define C_JOB	"#b0bec5" /* span bars: greys, never a decision's colour */
#define C_SPAN	"#78909c"
#define C_GROUP "#eceff1"

#define INDENT	  14 /* px per level of the tree, left of the plot */
#define MAX_DEPTH 8  /* levels indented; deeper ones as deep as this */

/* s, at most max characters of it (then "…"), escaped for text and for
 * attribute values alike */
static void esc_cut(const char *s, size_t max)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");

	for (size_t n = 0; *p; n++) {
		int l = audit_char(p);

		if (n == max) {
			fputs("\xe2\x80\xa6", stdout); /* … */
			return;
		}
		if (l < 0)
			fputc('?', stdout);
		else if (*p == '&')
			fputs("&amp;", stdout);
		else if (*p == '<')
			fputs("&lt;", stdout);
		else if (*p == '>')
			fputs("&gt;", stdout);
		else if (*p == '"')
			fputs("&quot;", stdout);
		else if (*p == '\'')
			fputs("&#39;", stdout);
		else
			fwrite(p, 1, (size_t)l, stdout);
		p += l < 0 ? -l : l;
	}
}

static void esc(const char *s)
{
	esc_cut(s, (size_t)-1);
}

/* o[k], a string (escaped) or a number; dflt if neither */
static void put_val(const cJSON *o, const char *k, const char *dflt)
{
	const cJSON *v = cJSON_GetObjectItem(o, k);

	if (cJSON_IsNumber(v))
		printf("%.15g", v->valuedouble);
	else
		esc(cJSON_IsString(v) && *v->valuestring ? v->valuestring : dflt);
}

static void code(const char *s)
{
	fputs("<code>", stdout);
	esc(s);
	fputs("</code>", stdout);
}

/* o[k], a string, or "" */
static const char *str(const cJSON *o, const char *k)
{
	return cJSON_GetStringValue(cJSON_GetObjectItem(o, k)) ?: "";
}

static void head(const cJSON *j)
{
	printf("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
	       "<meta http-equiv=\"Content-Security-Policy\" content=\"%s\">\n"
	       "<meta name=\"referrer\" content=\"no-referrer\">\n"
	       "<meta name=\"viewport\" content=\"width=device-width\">\n<title>egress-fence: job ",
	       CSP);
	put_val(j, "id", "?");
	printf("</title>\n<style>\n"
	       "body{font:14px/1.45 sans-serif;color:#212121;margin:24px;max-width:1150px}\n"
	       "h1{font-size:20px}h2{font-size:16px;margin-top:28px}\n"
	       "table{border-collapse:collapse;margin:8px 0}\n"
	       "th,td{border:1px solid #d0d0d0;padding:3px 8px;text-align:left;"
	       "vertical-align:top}\n"
	       "th{background:#f0f0f0;font-weight:600;white-space:nowrap}\ntd.n{text-align:right}\n"
	       "code,pre{font-family:monospace;unicode-bidi:isolate;white-space:pre-wrap;"
	       "overflow-wrap:break-word}\n"
	       "pre.diff{background:#f6f8fa;border:1px solid #d0d7de;padding:8px 12px}\n"
	       ".add{color:#1b5e20}\n"
	       ".sw{display:inline-block;width:10px;height:10px;margin:0 4px 0 14px}\n"
	       ".allow{background:" C_ALLOW "}.deny{background:" C_DENY "}"
	       ".flag{background:" C_FLAG "}.wd{border:2px solid " C_DENY ";width:6px;height:6px}\n"
	       "svg{display:block;margin:8px 0}svg text{font:12px monospace;fill:#212121}\n"
	       "tr.deny td,tr.would_deny td{background:#fdecea}tr.flag td{background:#fff3e0}\n"
	       "tr.span td{background:#eceff1}\n");
	/* the tree's indentation: a class per level (no style attributes,
	 * which the CSP's 'unsafe-inline' would allow but nothing else needs) */
	for (int i = 0; i <= MAX_DEPTH; i++)
		printf("td.i%d{padding-left:%dpx}", i, 8 + i * 16);
	printf("\n</style>\n</head>\n<body>\n");
}

static void row(const char *label)
{
	printf("<tr><th>%s</th><td>", label);
}

/* the job, as the text form's head */
static void job_table(const cJSON *j)
{
	const cJSON *attrs = cJSON_GetObjectItem(j, "attributes"), *e;

	printf("<h1>egress-fence: job <code>");
	put_val(j, "id", "?");
	printf("</code></h1>\n<table class=\"job\">\n");
	row("policy");
	printf("<code>");
	put_val(attrs, "egress.policy.name", "?");
	printf("</code> (");
	put_val(attrs, "egress.mode", "?");
	printf(")</td></tr>\n");
	row("trace");
	code(str(j, "trace_id"));
	printf("</td></tr>\n");
	row("started");
	put_val(j, "start", "?");
	printf("</td></tr>\n");
	if (!strcmp(str(j, "state"), "ended")) {
		row("duration");
		printf("%.1f s</td></tr>\n", ctl_num(j, "duration_s"));
	} else {
		row("state");
		printf("not ended (no egress.job span yet)</td></tr>\n");
	}
	if (cJSON_GetObjectItem(attrs, "process.command")) {
		row("command");
		code(str(attrs, "process.command"));
		printf("</td></tr>\n");
	}
	for (size_t i = 0; i < sizeof(report_counts) / sizeof(report_counts[0]); i++) {
		if (!cJSON_GetObjectItem(attrs, report_counts[i][0]))
			continue;
		row(report_counts[i][1]);
		put_val(attrs, report_counts[i][0], "?");
		printf("</td></tr>\n");
	}
	cJSON_ArrayForEach(e, attrs) {
		if (!report_ci_attr(e->string))
			continue;
		printf("<tr><th>");
		code(e->string);
		printf("</th><td><code>");
		put_val(attrs, e->string, "");
		printf("</code></td></tr>\n");
	}
	printf("</table>\n");
}

/* ---- the timeline ---- */

struct plot {
	double dur;  /* seconds the plot's width stands for */
	int n_slots; /* rows of the SVG: lanes, and with a tree its spans too */
	int slot[REPORT_TL_LANES + 1]; /* lane -> its row */
};

static int x_of(const struct plot *pl, double t)
{
	if (!(t > 0)) /* NaN too */
		t = 0;
	if (t > pl->dur)
		t = pl->dur;
	return LABEL_W + (int)(t / pl->dur * PLOT_W + 0.5);
}

/* 1, 2 or 5 times a power of ten, for at most 10 ticks */
static double tick_step(double dur)
{
	static const double m[] = { 1, 2, 5 };

	for (double p = 1e-3;; p *= 10)
		for (size_t i = 0; i < 3; i++)
			if (dur / (p * m[i]) <= 10)
				return p * m[i];
}

static void svg_axis(const struct plot *pl)
{
	int y0 = TOP, y1 = TOP + pl->n_slots * LANE_H;
	double step = tick_step(pl->dur);

	/* i * step, not a running sum: no drift past the last tick */
	for (int i = 0; i * step <= pl->dur * (1 + 1e-9); i++) {
		int x = x_of(pl, i * step);

		printf("<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#d0d0d0\"/>"
		       "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">%g s</text>\n",
		       x, y0, x, y1 + 5, x, y1 + 19, i * step);
	}
	printf("<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#616161\"/>\n", LABEL_W, y1,
	       LABEL_W + PLOT_W, y1);
	printf("<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">time since the job's first span"
	       "</text>\n",
	       LABEL_W + PLOT_W / 2, y1 + 35);
}

static void svg_lanes(const cJSON *lanes)
{
	const cJSON *l;
	int i = 0;

	cJSON_ArrayForEach(l, lanes) {
		int y = TOP + i * LANE_H;

		if (!(i % 2))
			printf("<rect x=\"0\" y=\"%d\" width=\"%d\" height=\"%d\" "
			       "fill=\"#f5f5f5\"/>",
			       y, SVG_W, LANE_H);
		printf("<text x=\"%d\" y=\"%d\" text-anchor=\"end\"><title>", LABEL_W - 10, y + 18);
		esc(cJSON_GetStringValue(l));
		printf("</title>");
		esc_cut(cJSON_GetStringValue(l), LABEL_CHARS);
		printf("</text>\n");
		i++;
	}
}

static void svg_mark(const struct plot *pl, const cJSON *e)
{
	const char *dec = str(e, "decision");
	int lane = (int)ctl_num(e, "lane"), x = x_of(pl, ctl_num(e, "t")) - MARK_W / 2;
	int slot = lane >= 0 && lane <= REPORT_TL_LANES ? pl->slot[lane] : 0;
	int w = MARK_W, y = TOP + slot * LANE_H + 15, h = 9;
	const char *fill = !strcmp(dec, "deny") ? C_DENY : C_OTHER, *extra = "";

	if (cJSON_GetObjectItem(e, "t_end")) /* a folded span: its window */
		w += x_of(pl, ctl_num(e, "t_end")) - x_of(pl, ctl_num(e, "t"));
	if (!strcmp(dec, "allow")) {
		y -= 11;
		fill = C_ALLOW;
	} else if (!strcmp(dec, "flag")) {
		y -= 13;
		h = LANE_H - 4;
		fill = C_FLAG;
	} else if (!strcmp(dec, "would_deny")) {
		fill = "#ffffff";
		extra = " stroke=\"" C_DENY "\" stroke-width=\"2\"";
	}
	printf("<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"%s\"%s><title>+%.3f s ",
	       x, y, w, h, fill, extra, ctl_num(e, "t"));
	put_val(e, "decision", "?");
	printf(" ");
	put_val(e, "kind", "?");
	printf(" ");
	put_val(e, "destination", "?");
	printf(" (");
	put_val(e, "reason", "?");
	printf(") by ");
	put_val(e, "process", "?");
	if (ctl_num(e, "count") > 1)
		printf(", %.15g times", ctl_num(e, "count"));
	printf("</title></rect>\n");
}

static int depth_of(const cJSON *n)
{
	int d = (int)ctl_num(n, "depth");

	return d < 0 ? 0 : d > MAX_DEPTH ? MAX_DEPTH : d;
}

/* a tree row's label: its span's name; a group's executables and the span
 * id they share */
static void span_label(const cJSON *n, size_t max)
{
	if (strcmp(str(n, "kind"), "group")) {
		esc_cut(str(n, "name"), max);
		return;
	}
	esc_cut(str(n, "name"), max > 14 ? max - 14 : 1);
	printf(" (span ");
	esc_cut(str(n, "span_id"), 6);
	printf(")");
}

/* the SVG's rows: flat, a lane each; with a tree, a row per span and under
 * it the rows of its lanes */
static void layout(struct plot *pl, const cJSON *tl, const cJSON *tree)
{
	const cJSON *n, *l;

	for (int i = 0; i <= REPORT_TL_LANES; i++)
		pl->slot[i] = i;
	if (!tree) {
		pl->n_slots = cJSON_GetArraySize(cJSON_GetObjectItem(tl, "lanes"));
		return;
	}
	pl->n_slots = 0;
	cJSON_ArrayForEach(n, tree) {
		pl->n_slots++;
		cJSON_ArrayForEach(l, cJSON_GetObjectItem(n, "lanes")) {
			int i = (int)cJSON_GetNumberValue(l);

			if (i >= 0 && i <= REPORT_TL_LANES)
				pl->slot[i] = pl->n_slots++;
		}
	}
}

/* a label left of the plot, indented by depth, the whole in its tooltip */
static void svg_label(int slot, int depth, const char *s)
{
	printf("<text x=\"%d\" y=\"%d\"><title>", 8 + depth * INDENT, TOP + slot * LANE_H + 18);
	esc(s);
	printf("</title>");
	esc_cut(s, (size_t)(LABEL_CHARS - 2 * depth));
	printf("</text>\n");
}

/* a span's row: its label, and a bar from its start to its end */
static void svg_span(const struct plot *pl, const cJSON *n, int slot)
{
	const char *kind = str(n, "kind");
	int y = TOP + slot * LANE_H, d = depth_of(n);
	int x0 = x_of(pl, ctl_num(n, "t")), x1 = x_of(pl, ctl_num(n, "t_end"));
	bool group = !strcmp(kind, "group");

	printf("<rect x=\"0\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"#f5f5f5\"/>"
	       "<text x=\"%d\" y=\"%d\"><title>",
	       y, SVG_W, LANE_H, 8 + d * INDENT, y + 18);
	span_label(n, REPORT_NAME_MAX);
	printf("</title>");
	span_label(n, (size_t)(LABEL_CHARS - 2 * d));
	printf("</text>\n<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"12\" fill=\"%s\"%s>"
	       "<title>",
	       x0, y + 8, x1 - x0 > 2 ? x1 - x0 : 2,
	       !strcmp(kind, "job") ? C_JOB : group ? C_GROUP : C_SPAN,
	       group ? " stroke=\"" C_SPAN "\" stroke-dasharray=\"3 2\"" : "");
	span_label(n, REPORT_NAME_MAX);
	printf(": +%.3f s, %.3f s, %.15g decisions</title></rect>\n", ctl_num(n, "t"),
	       ctl_num(n, "t_end") - ctl_num(n, "t"), ctl_num(n, "decisions"));
}

/* the waterfall's rows: each span, then the lanes of its processes */
static void svg_tree(const struct plot *pl, const cJSON *tree, const cJSON *lanes)
{
	const cJSON *n, *l;
	int slot = 0;

	cJSON_ArrayForEach(n, tree) {
		svg_span(pl, n, slot++);
		cJSON_ArrayForEach(l, cJSON_GetObjectItem(n, "lanes")) {
			const char *label = cJSON_GetStringValue(
				cJSON_GetArrayItem(lanes, (int)cJSON_GetNumberValue(l)));

			svg_label(slot++, depth_of(n) + 1, label ? label : "?");
		}
	}
}

static void legend(const cJSON *tl, bool nested)
{
	printf("<p><span class=\"sw allow\"></span>allowed"
	       "<span class=\"sw deny\"></span>denied"
	       "<span class=\"sw wd\"></span>would be denied (audit mode)"
	       "<span class=\"sw flag\"></span>probe flag</p>\n"
	       "<p>One lane per process; across, the time since the job's first span. A folded "
	       "span (repeats the journal counted as one) is drawn as long as its window.");
	if (nested)
		printf(" The decisions are nested under the spans they are children of: a row "
		       "per span of the job's trace (the job, an agent, its tool calls; a dashed "
		       "bar groups the decisions of processes started under a span not known "
		       "here), indented under its parent, with a bar from its start to its end, "
		       "and under it a lane per process that decided in it.");
	if (cJSON_GetObjectItem(tl, "tree_more"))
		printf(" %.15g more spans are not drawn: their decisions are in the lanes of the "
		       "nearest span drawn above them.",
		       ctl_num(tl, "tree_more"));
	if (cJSON_GetObjectItem(tl, "lanes_more"))
		printf(" The lane <code>other</code> holds %.15g more processes.",
		       ctl_num(tl, "lanes_more"));
	if (cJSON_GetObjectItem(tl, "decisions_more"))
		printf(" %.15g more spans of the job are not drawn: the first %zu allowed, %zu "
		       "denied and %zu probe flags are.",
		       ctl_num(tl, "decisions_more"), report_tl_cap[TL_ALLOWED],
		       report_tl_cap[TL_DENIED], report_tl_cap[TL_FLAG]);
	printf("</p>\n");
}

/* one decision; its process indented to depth */
static void decision_row(const cJSON *e, int depth)
{
	printf("<tr class=\"");
	put_val(e, "decision", "");
	printf("\"><td class=\"n\">+%.3f s", ctl_num(e, "t"));
	if (cJSON_GetObjectItem(e, "t_end")) /* a folded span's window */
		printf(" to +%.3f s", ctl_num(e, "t_end"));
	printf("</td><td class=\"i%d\"><code>", depth);
	put_val(e, "process", "?");
	printf("</code></td><td>");
	put_val(e, "decision", "?");
	printf("</td><td>");
	put_val(e, "kind", "?");
	printf("</td><td><code>");
	put_val(e, "destination", "");
	printf("</code></td><td>");
	put_val(e, "reason", "?");
	printf("</td><td class=\"n\">%.15g</td></tr>\n", ctl_num(e, "count"));
}

/* a span of the tree as a row of the table, over its decisions */
static void span_row(const cJSON *n)
{
	printf("<tr class=\"span\"><td class=\"n\">+%.3f s</td><td colspan=\"6\" class=\"i%d\">"
	       "<code>",
	       ctl_num(n, "t"), depth_of(n));
	span_label(n, REPORT_NAME_MAX);
	printf("</code> (%s, %.3f s)</td></tr>\n", str(n, "kind"),
	       ctl_num(n, "t_end") - ctl_num(n, "t"));
}

static void decision_rows(const cJSON *ds, const cJSON *tree)
{
	const cJSON *e, *n;

	printf("<details><summary>Decisions drawn: %d</summary>\n<table>\n"
	       "<tr><th>time</th><th>process</th><th>decision</th><th>kind</th>"
	       "<th>destination</th><th>reason</th><th>count</th></tr>\n",
	       cJSON_GetArraySize(ds));
	if (!tree) {
		cJSON_ArrayForEach(e, ds) {
			decision_row(e, 0);
		}
	}
	/* each span, then the decisions that are its children, in time order */
	cJSON_ArrayForEach(n, tree) {
		span_row(n);
		cJSON_ArrayForEach(e, ds) {
			if (ctl_num(e, "row") == ctl_num(n, "row"))
				decision_row(e, depth_of(n) + 1);
		}
	}
	printf("</table>\n</details>\n");
}

/* the seconds the plot's width stands for: the job's, or a folded span's
 * window that outlasts it; bounded both ways, as they come from numbers */
static double plot_dur(const cJSON *tl)
{
	double dur = ctl_num(tl, "duration_s");
	const cJSON *e;

	cJSON_ArrayForEach(e, cJSON_GetObjectItem(tl, "decisions"))
		if (ctl_num(e, "t_end") > dur)
			dur = ctl_num(e, "t_end");
	cJSON_ArrayForEach(e, cJSON_GetObjectItem(tl, "tree"))
		if (ctl_num(e, "t_end") > dur)
			dur = ctl_num(e, "t_end");
	if (!(dur >= 1e-3)) /* an instant (or NaN): a millisecond wide */
		return 1e-3;
	return dur > 1e9 ? 1e9 : dur;
}

static void timeline(const cJSON *tl)
{
	const cJSON *ds = cJSON_GetObjectItem(tl, "decisions"), *e;
	const cJSON *tree = cJSON_GetObjectItem(tl, "tree");
	struct plot pl = { .dur = plot_dur(tl) };
	int h;

	/* nothing nests under the job alone: the flat timeline, as without a tree */
	if (cJSON_GetArraySize(tree) < 2)
		tree = NULL;
	layout(&pl, tl, tree);
	h = TOP + pl.n_slots * LANE_H + AXIS_H;
	printf("<h2>Timeline</h2>\n");
	if (!cJSON_GetArraySize(ds) && !tree) {
		printf("<p>No decisions to draw.</p>\n");
		return;
	}
	legend(tl, tree);
	printf("<svg id=\"timeline\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\" "
	       "aria-label=\"decisions by process over time\" shape-rendering=\"crispEdges\">\n",
	       SVG_W, h, SVG_W, h);
	if (tree)
		svg_tree(&pl, tree, cJSON_GetObjectItem(tl, "lanes"));
	else
		svg_lanes(cJSON_GetObjectItem(tl, "lanes"));
	svg_axis(&pl);
	/* what matters is drawn last, on top: allowed (the upper half of a
	 * lane), denied and the rest (the lower half), probe flags (the whole) */
	for (enum report_tl_class c = 0; c < TL_N_CLASSES; c++)
		cJSON_ArrayForEach(e, ds)
			if (report_tl_class(str(e, "decision")) == c)
				svg_mark(&pl, e);
	printf("</svg>\n");
	decision_rows(ds, tree);
}

/* ---- the rest, as the text form ---- */

static void denied(const cJSON *m)
{
	const cJSON *den = cJSON_GetObjectItem(m, "denied"), *e, *p;

	printf("<h2>Denied</h2>\n");
	if (!cJSON_GetArraySize(den)) {
		printf("<p>Nothing was denied.</p>\n");
		return;
	}
	printf("<table>\n<tr><th>destination</th><th>kind</th><th>reason</th><th>count</th>"
	       "<th>processes</th></tr>\n");
	cJSON_ArrayForEach(e, den) {
		bool first = true;

		printf("<tr><td><code>");
		put_val(e, "destination", "?");
		printf("</code></td><td>");
		put_val(e, "kind", "?");
		printf("</td><td>");
		put_val(e, "reason", "?");
		printf("</td><td class=\"n\">%.15g</td><td>", ctl_num(e, "count"));
		cJSON_ArrayForEach(p, cJSON_GetObjectItem(e, "processes")) {
			printf(first ? "" : ", ");
			code(cJSON_GetStringValue(p));
			first = false;
		}
		if (cJSON_GetObjectItem(e, "processes_more"))
			printf(" and %.15g more", ctl_num(e, "processes_more"));
		printf("</td></tr>\n");
	}
	printf("</table>\n");
	if (cJSON_GetObjectItem(m, "denied_groups_more"))
		printf("<p>and %.15g more destinations</p>\n", ctl_num(m, "denied_groups_more"));
}

static void flags_and_tamper(const cJSON *m)
{
	const cJSON *fl = cJSON_GetObjectItem(m, "flags"), *ta = cJSON_GetObjectItem(m, "tamper");
	const cJSON *e;

	if (cJSON_GetArraySize(fl))
		printf("<h2>Probe flags</h2>\n<ul>\n");
	cJSON_ArrayForEach(e, fl) {
		printf("<li>");
		put_val(e, "time", "?");
		printf(" <code>");
		put_val(e, "reason", "?");
		printf("</code> (action: ");
		put_val(e, "action", "?");
		printf(")</li>\n");
	}
	if (cJSON_GetArraySize(fl))
		printf("</ul>\n");
	if (cJSON_GetArraySize(ta))
		printf("<h2>Tamper refusals</h2>\n<ul>\n");
	cJSON_ArrayForEach(e, ta) {
		printf("<li>");
		put_val(e, "time", "?");
		printf(" <code>");
		put_val(e, "reason", "?");
		printf("</code> <code>");
		put_val(e, "target", "");
		printf("</code> by <code>");
		put_val(e, "process", "?");
		printf("</code></li>\n");
	}
	if (cJSON_GetArraySize(ta))
		printf("</ul>\n");
}

static void allow_block(const cJSON *al)
{
	const cJSON *add = cJSON_GetObjectItem(al, "add"), *e;

	if (!cJSON_GetArraySize(add))
		return;
	printf("<h2>To allow what was denied</h2>\n<p>Add to policy <code>");
	put_val(al, "policy", "?");
	printf("</code> (<code>egressctl policy add NAME RULE...</code>, or its file):</p>\n"
	       "<pre class=\"diff\">");
	cJSON_ArrayForEach(e, add) {
		printf("<span class=\"add\">+  &quot;");
		esc(cJSON_GetStringValue(e));
		printf("&quot;,</span>\n");
	}
	printf("</pre>\n");
}

void report_html(const cJSON *m)
{
	const cJSON *j = cJSON_GetObjectItem(m, "job");

	head(j);
	job_table(j);
	timeline(cJSON_GetObjectItem(m, "timeline"));
	denied(m);
	flags_and_tamper(m);
	allow_block(cJSON_GetObjectItem(m, "allow"));
	printf("</body>\n</html>\n");
}
