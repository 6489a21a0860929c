// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * egressctl report JOB: one job, read from the journal (audit.c), for a
 * person: what the job was (policy, CI attributes, trace id, duration),
 * how many decisions, what was denied grouped by destination with the
 * processes that tried, what was flagged or refused as tampering, and the
 * rules that would allow what was denied, as `policy suggest` would write
 * them (suggest_rules.c), as lines to add to the policy.
 *
 * The journal is read once into a model (a cJSON tree, which --format json
 * prints as it is); text and markdown render that model (report_text.c),
 * and so does html (report_html.c), which also draws the model's timeline of the job's
 * decisions (report_timeline.c), nested under the spans they are children
 * of (report_tree.c): tool calls of an agent that traces itself, whose
 * spans --spans adds (report_spans.c). Every value in it comes from the job, and
 * the job is hostile: text prints control characters as '?', markdown makes
 * every value a code span, html escapes every value.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "audit.h"
#include "egressctl.h"
#include "report.h"
#include "suggest.h"
#include "lib/util.h"

#define PROG "egressctl report"
#define MAX_GROUPS 4096
#define MAX_PROCS 16 /* processes named per group */

const char cmd_report_help[] =
	"One job from the decision journal: the job (policy, CI attributes, trace id,\n"
	"duration), its counts, what was denied grouped by destination with the\n"
	"processes that tried, probe flags and tamper refusals, and the rules that would\n"
	"allow what was denied. --format: text (default), markdown, json (the model the\n"
	"others render), or html: one self-contained page (no script, nothing fetched)\n"
	"that also draws the job's decisions on a timeline, a lane per process. Works\n"
	"without egressd. --since (default 30d) bounds the journal files read.\n"
	"A decision span whose parent is not the job's span (its process was started\n"
	"with a TRACEPARENT of its own, by an agent's tool call) is drawn under that\n"
	"parent, grouped by parent span and labelled by the executables that decided.\n"
	"--spans FILE adds the spans of the job's trace from FILE (OTLP/JSON, as an\n"
	"OTLP receiver or a Collector's file exporter writes it: one request per line,\n"
	"or one object), so that the timeline nests job -> agent -> tool call ->\n"
	"decision. Exit status: 0; 1 if the job is not in the journal or FILE cannot\n"
	"be used; 2 for a usage error.\n";

struct group {
	char *dest, *kind, *reason;
	uint64_t count, first_ns;
	struct suggest_set procs;
	size_t n_procs; /* all, named or not */
};

struct rep {
	const char *job;
	cJSON *info;   /* the egress.job span's, flattened; NULL: not seen */
	cJSON *flags;  /* [{"time", "reason", "action"}] */
	cJSON *tamper; /* [{"time", "reason", "target", "process"}] */
	struct group *g;
	size_t n_g, n_g_more;
	uint64_t n_spans, first_ns, last_ns;
	struct suggest *sg;
	struct report_tl tl; /* every decision span, for the timeline */
	char trace_id[33];
	char job_span[17]; /* the egress.job span's id: the root of the tree */
	uint64_t job_start_ns, job_end_ns;
};

const char *report_str_or(const char *s, const char *dflt)
{
	return s && *s ? s : dflt;
}

/* the destination as audit's table shows it (audit_dest), a DNS question
 * and a socket's family said as such */
static void dest_of(const struct audit_span *s, char *out, size_t len)
{
	char d[512];

	audit_dest(s, d, sizeof(d));
	snprintf(out, len, "%s%s%s", !strcmp(s->name, "egress.socket") ? "socket " : "",
		 d[0] ? d : "?", !strcmp(s->name, "egress.dns") ? " (DNS)" : "");
}

/* RFC 3339 UTC, as audit --json writes it; "?" for none */
static void time_utc(uint64_t ns, char *out, size_t len)
{
	if (!ns)
		snprintf(out, len, "?");
	else
		audit_fmt_time(ns, true, out, len);
}

static void proc_of(const struct audit_span *s, char *out, size_t len)
{
	const char *exe = audit_attr_str(s, "process.executable.name");
	int64_t pid;

	if (!exe)
		exe = audit_attr_str(s, "process.command");
	if (audit_attr_int(s, "process.pid", &pid) && !report_str_or(exe, NULL))
		snprintf(out, len, "pid %" PRId64, pid);
	else if (audit_attr_int(s, "process.pid", &pid))
		snprintf(out, len, "%s[%" PRId64 "]", exe, pid);
	else
		snprintf(out, len, "%s", report_str_or(exe, "?"));
}

/* the egress.job span's attributes that describe the job, flat */
static cJSON *job_info(const struct audit_span *s)
{
	static const char *const prefixes[] = { "cicd.", "vcs.", "enduser.", "gen_ai.",
						"container.", "process." };
	cJSON *o = cJSON_CreateObject(), *a = o ? cJSON_AddObjectToObject(o, "attributes") : NULL;
	const cJSON *e;
	char t[40];

	if (!a)
		goto fail;
	cJSON_ArrayForEach(e, s->attrs) {
		const char *k = cJSON_GetStringValue(cJSON_GetObjectItem(e, "key"));
		const cJSON *v = cJSON_GetObjectItem(e, "value");
		const cJSON *sv = cJSON_GetObjectItem(v, "stringValue");
		const cJSON *iv = cJSON_GetObjectItem(v, "intValue");
		bool want = false;
		int64_t n;

		if (!k)
			continue;
		for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
			want |= !strncmp(k, prefixes[i], strlen(prefixes[i]));
		want |= !strncmp(k, "egress.", 7);
		if (!want || cJSON_GetObjectItem(a, k))
			continue;
		if (cJSON_IsString(sv))
			cJSON_AddStringToObject(a, k, sv->valuestring);
		else if (iv && audit_otlp_int(iv, &n))
			cJSON_AddNumberToObject(a, k, (double)n);
		else if (cJSON_IsBool(cJSON_GetObjectItem(v, "boolValue")))
			cJSON_AddBoolToObject(a, k,
					      cJSON_IsTrue(cJSON_GetObjectItem(v, "boolValue")));
	}
	time_utc(s->start_ns, t, sizeof(t));
	cJSON_AddStringToObject(o, "start", t);
	time_utc(s->end_ns, t, sizeof(t));
	cJSON_AddStringToObject(o, "end", t);
	cJSON_AddNumberToObject(o, "duration_s",
				s->end_ns > s->start_ns ? (double)(s->end_ns - s->start_ns) / 1e9
							: 0);
	return o;
fail:
	cJSON_Delete(o);
	return NULL;
}

static int add_group(struct rep *r, const struct audit_span *s, uint64_t count)
{
	char dest[600], proc[300];
	const char *kind = s->name + (strncmp(s->name, "egress.", 7) ? 0 : 7);
	const char *why = report_str_or(audit_attr_str(s, "egress.reason"), "?");
	struct group *g = NULL;
	bool added;
	int ret;

	dest_of(s, dest, sizeof(dest));
	for (size_t i = 0; i < r->n_g; i++)
		if (!strcmp(r->g[i].dest, dest) && !strcmp(r->g[i].kind, kind) &&
		    !strcmp(r->g[i].reason, why)) {
			g = &r->g[i];
			break;
		}
	if (!g) {
		if (r->n_g >= MAX_GROUPS) {
			r->n_g_more++;
			return 0;
		}
		if (!(r->n_g % 64)) {
			struct group *n = realloc(r->g, (r->n_g + 64) * sizeof(*n));

			if (!n)
				return -ENOMEM;
			r->g = n;
		}
		g = &r->g[r->n_g];
		memset(g, 0, sizeof(*g));
		g->dest = strdup(dest);
		g->kind = strdup(kind);
		g->reason = strdup(why);
		if (!g->dest || !g->kind || !g->reason) {
			free(g->dest);
			free(g->kind);
			free(g->reason);
			return -ENOMEM;
		}
		g->first_ns = s->end_ns;
		r->n_g++;
	}
	g->count += count;
	proc_of(s, proc, sizeof(proc));
	if (g->procs.n < MAX_PROCS) {
		ret = suggest_set_add(&g->procs, proc, &added);
		if (ret)
			return ret;
		g->n_procs += added;
	} else if (!suggest_set_has(&g->procs, proc)) {
		g->n_procs++; /* counted, not named (may count one twice) */
	}
	return 0;
}

/* Every span of the job but its egress.job, for the timeline: a probe
 * flag names its subject, a tamper refusal its target. */
static int add_decision(struct rep *r, const struct audit_span *s, const char *proc)
{
	bool probe = !strcmp(s->name, "egress.probe");
	struct report_decision d = {
		.start_ns = s->start_ns,
		.end_ns = s->end_ns,
		.count = 1,
		.process = proc,
		.kind = s->name + (strncmp(s->name, "egress.", 7) ? 0 : 7),
		.reason = report_str_or(audit_attr_str(s, probe ? "egress.probe.reason"
								  : "egress.reason"),
					"?"),
		.decision = probe ? "flag"
				  : report_str_or(audit_attr_str(s, "egress.decision"), "?"),
		.parent = report_str_or(
			cJSON_GetStringValue(cJSON_GetObjectItem(s->span, "parentSpanId")), ""),
	};
	const char *what = audit_attr_str(s, probe ? "egress.probe.subject"
						   : "egress.tamper.target");
	char dest[600];
	int64_t n;

	if (probe || !strcmp(s->name, "egress.tamper"))
		snprintf(dest, sizeof(dest), "%s", report_str_or(what, ""));
	else
		dest_of(s, dest, sizeof(dest));
	d.destination = dest;
	if (audit_attr_int(s, "egress.count", &n) && n > 1)
		d.count = (uint64_t)n;
	return report_tl_add(&r->tl, &d);
}

static int on_span(void *ctx, const struct audit_span *s)
{
	struct rep *r = ctx;
	const char *job = audit_attr_str(s, "egress.job.id");
	bool dns = !strcmp(s->name, "egress.dns"), send = !strcmp(s->name, "egress.send");
	char t[40], proc[300];
	int64_t n;
	cJSON *o;

	if (!job || strcmp(job, r->job))
		return 0;
	r->n_spans++;
	if (!r->first_ns || s->start_ns < r->first_ns)
		r->first_ns = s->start_ns;
	if (s->end_ns > r->last_ns)
		r->last_ns = s->end_ns;
	if (!r->trace_id[0])
		snprintf(r->trace_id, sizeof(r->trace_id), "%s",
			 report_str_or(cJSON_GetStringValue(cJSON_GetObjectItem(s->span, "traceId")),
				       ""));
	if (!strcmp(s->name, "egress.job")) {
		cJSON_Delete(r->info);
		r->info = job_info(s);
		snprintf(r->trace_id, sizeof(r->trace_id), "%s",
			 report_str_or(cJSON_GetStringValue(cJSON_GetObjectItem(s->span, "traceId")),
				       ""));
		snprintf(r->job_span, sizeof(r->job_span), "%s",
			 report_str_or(cJSON_GetStringValue(cJSON_GetObjectItem(s->span, "spanId")),
				       ""));
		r->job_start_ns = s->start_ns;
		r->job_end_ns = s->end_ns;
		return r->info ? 0 : -ENOMEM;
	}
	time_utc(s->end_ns, t, sizeof(t));
	proc_of(s, proc, sizeof(proc));
	if (add_decision(r, s, proc))
		return -ENOMEM;
	if (!strcmp(s->name, "egress.probe")) {
		o = cJSON_CreateObject();
		if (!o || !cJSON_AddItemToArray(r->flags, o))
			return -ENOMEM;
		cJSON_AddStringToObject(o, "time", t);
		cJSON_AddStringToObject(o, "reason",
					report_str_or(audit_attr_str(s, "egress.probe.reason"),
						      "?"));
		cJSON_AddStringToObject(o, "action",
					report_str_or(audit_attr_str(s, "egress.probe.action"),
						      "?"));
		return 0;
	}
	if (!strcmp(s->name, "egress.tamper")) {
		o = cJSON_CreateObject();
		if (!o || !cJSON_AddItemToArray(r->tamper, o))
			return -ENOMEM;
		cJSON_AddStringToObject(o, "time", t);
		cJSON_AddStringToObject(o, "reason",
					report_str_or(audit_attr_str(s, "egress.reason"), "?"));
		cJSON_AddStringToObject(o, "target",
					report_str_or(audit_attr_str(s, "egress.tamper.target"),
						      ""));
		cJSON_AddStringToObject(o, "process", proc);
		return 0;
	}
	if (!audit_is_denied(s))
		return 0;
	if (!audit_attr_int(s, "egress.count", &n) || n < 1)
		n = 1;
	if (add_group(r, s, (uint64_t)n))
		return -ENOMEM;
	/* what would allow it: the canary never; the proxy's folded refusals
	 * name no destination (suggest.c leaves them out alike) */
	if (audit_attr_str(s, "egress.reason") &&
	    (!strcmp(audit_attr_str(s, "egress.reason"), "canary") ||
	     !strcmp(audit_attr_str(s, "egress.reason"), "dns_malformed") ||
	     !strcmp(audit_attr_str(s, "egress.reason"), "dns_limit")))
		return 0;
	if (dns) {
		const char *q = audit_attr_str(s, "dns.question.name");

		if (q && suggest_add_dns(r->sg, job, q, false) == -ENOMEM)
			return -ENOMEM;
	} else if (send || !strcmp(s->name, "egress.connect")) {
		int64_t port;

		if (!audit_attr_int(s, "server.port", &port) &&
		    !audit_attr_int(s, "network.peer.port", &port))
			port = 0;
		if (suggest_add_conn(r->sg, job, audit_attr_str(s, "server.address"),
				     audit_attr_str(s, "network.peer.address"), (long)port,
				     audit_attr_str(s, "network.transport"), send) == -ENOMEM)
			return -ENOMEM;
	}
	return 0;
}

static int by_count(const void *a, const void *b)
{
	const struct group *x = a, *y = b;

	if (x->count != y->count)
		return x->count < y->count ? 1 : -1;
	return strcmp(x->dest, y->dest);
}

/* the model: what --format json prints; tree (may be NULL) nests the
 * timeline */
static cJSON *model(struct rep *r, const struct suggest_result *res, struct report_tree *tree)
{
	cJSON *m = cJSON_CreateObject(), *j, *a, *e;
	const char *pol = NULL;
	char t[40];

	if (!m)
		return NULL;
	j = cJSON_AddObjectToObject(m, "job");
	cJSON_AddStringToObject(j, "id", r->job);
	cJSON_AddStringToObject(j, "trace_id", r->trace_id);
	if (r->info) {
		cJSON *attrs = cJSON_GetObjectItem(r->info, "attributes");

		pol = cJSON_GetStringValue(cJSON_GetObjectItem(attrs, "egress.policy.name"));
		cJSON_AddStringToObject(j, "state", "ended");
		for (cJSON *x = r->info->child; x; x = x->next)
			cJSON_AddItemToObject(j, x->string, cJSON_Duplicate(x, true));
	} else {
		/* no egress.job span: running, or its end not in the journal */
		cJSON_AddStringToObject(j, "state", "not ended");
		time_utc(r->first_ns, t, sizeof(t));
		cJSON_AddStringToObject(j, "start", t);
	}
	if (r->n_g) /* qsort's base must not be NULL, even for none */
		qsort(r->g, r->n_g, sizeof(*r->g), by_count);
	a = cJSON_AddArrayToObject(m, "denied");
	for (size_t i = 0; a && i < r->n_g; i++) {
		const char **p = NULL;
		cJSON *pa;

		e = cJSON_CreateObject();
		if (!e || !cJSON_AddItemToArray(a, e))
			goto fail;
		cJSON_AddStringToObject(e, "destination", r->g[i].dest);
		cJSON_AddStringToObject(e, "kind", r->g[i].kind);
		cJSON_AddStringToObject(e, "reason", r->g[i].reason);
		cJSON_AddNumberToObject(e, "count", (double)r->g[i].count);
		time_utc(r->g[i].first_ns, t, sizeof(t));
		cJSON_AddStringToObject(e, "first", t);
		pa = cJSON_AddArrayToObject(e, "processes");
		if (suggest_set_sorted(&r->g[i].procs, &p))
			goto fail;
		for (size_t k = 0; pa && k < r->g[i].procs.n; k++)
			cJSON_AddItemToArray(pa, cJSON_CreateString(p[k]));
		free(p);
		if (r->g[i].n_procs > r->g[i].procs.n)
			cJSON_AddNumberToObject(e, "processes_more",
						(double)(r->g[i].n_procs - r->g[i].procs.n));
	}
	if (r->n_g_more)
		cJSON_AddNumberToObject(m, "denied_groups_more", (double)r->n_g_more);
	cJSON_AddItemToObject(m, "flags", cJSON_Duplicate(r->flags, true));
	cJSON_AddItemToObject(m, "tamper", cJSON_Duplicate(r->tamper, true));
	e = cJSON_AddObjectToObject(m, "allow");
	if (e) {
		cJSON_AddStringToObject(e, "policy", report_str_or(pol, "?"));
		a = cJSON_AddArrayToObject(e, "add");
		for (size_t i = 0; a && i < res->n_allow; i++)
			cJSON_AddItemToArray(a, cJSON_CreateString(res->allow[i]));
		a = cJSON_AddArrayToObject(e, "left_out");
		for (size_t i = 0; a && i < res->n_left_out; i++)
			cJSON_AddItemToArray(a, cJSON_CreateString(res->left_out[i]));
	}
	e = report_tl_model(&r->tl, r->first_ns, r->last_ns, tree);
	if (!e || !cJSON_AddItemToObject(m, "timeline", e)) {
		cJSON_Delete(e);
		goto fail;
	}
	return m;
fail:
	cJSON_Delete(m);
	return NULL;
}

static int usage_error(const char *msg)
{
	fprintf(stderr, PROG ": %s (egressctl report --help)\n", msg);
	return 2;
}

/* What of --spans FILE was left out, when it is worth a word: a file of
 * another trace, or whose spans point nowhere, draws nothing more. */
static void spans_note(const char *path, const struct report_spans *sp, const char *trace)
{
	const struct {
		uint64_t n;
		const char *what;
	} left[] = {
		{ sp->n_bad, "malformed (ids, times or name)" },
		{ sp->n_far, "with times more than a day from the job's" },
		{ sp->n_more, "past the first 4096 of the trace" },
	};
	_Static_assert(REPORT_SPANS_MAX == 4096, "the message above names it");

	for (size_t i = 0; i < sizeof(left) / sizeof(left[0]); i++)
		if (left[i].n)
			fprintf(stderr, PROG ": --spans %s: %" PRIu64 " spans left out: %s\n", path,
				left[i].n, left[i].what);
	if (!sp->n)
		fprintf(stderr, PROG ": --spans %s: no spans of trace %s but the fence's own\n",
			path, trace);
}

/* The tree the timeline nests in: the job's span, and the spans of the
 * job's trace from --spans (spans_path, may be NULL). 0 with *ret NULL if
 * the job's span is not in the journal (nothing to nest under); 1 if the
 * file cannot be used (said why); -ENOMEM. */
static int make_tree(struct rep *r, const char *spans_path, struct report_tree **ret)
{
	struct report_root root = { .span_id = r->job_span, .name = "egress.job",
				    .start_ns = r->job_start_ns, .end_ns = r->job_end_ns };
	struct report_spans sp = { 0 };
	char err[600];
	int e;

	*ret = NULL;
	if (!r->job_span[0] || !r->trace_id[0]) {
		if (spans_path)
			fprintf(stderr, PROG ": --spans %s: the job's egress.job span is not in the "
					"journal yet: nothing to nest its spans under\n",
				spans_path);
		return 0;
	}
	if (spans_path) {
		e = report_spans_read(&sp, spans_path, r->trace_id, r->job_start_ns, r->job_end_ns,
				      err, sizeof(err));
		if (e == -ENOMEM)
			return e;
		if (e) {
			fprintf(stderr, PROG ": --spans %s\n", err);
			report_spans_free(&sp);
			return 1;
		}
		spans_note(spans_path, &sp, r->trace_id);
	}
	*ret = report_tree_new(&root, &sp);
	report_spans_free(&sp);
	return *ret ? 0 : -ENOMEM;
}

int cmd_report(int argc, char **argv)
{
	struct rep r = { 0 };
	struct audit_reader rd = { .prog = PROG, .fn = on_span, .ctx = &r };
	struct suggest_result res = { 0 };
	const char *fmt = "text", *since = "30d", *state_flag = NULL, *spans = NULL, *v;
	struct report_tree *tree = NULL;
	enum audit_dir_source src;
	char state[4096], dir[4200];
	uint64_t dur, now = ef_now_realtime_ns();
	cJSON *m = NULL;
	enum fmt f;
	int ret, rc = 1;

	for (int i = 1; i < argc; i++) {
		if ((ret = ctl_opt_arg(argc, argv, &i, "--format", &v)))
			fmt = ret > 0 ? v : NULL;
		else if ((ret = ctl_opt_arg(argc, argv, &i, "--since", &v)))
			since = ret > 0 ? v : NULL;
		else if ((ret = ctl_opt_arg(argc, argv, &i, "--state-dir", &v)))
			state_flag = ret > 0 ? v : NULL;
		else if ((ret = ctl_opt_arg(argc, argv, &i, "--spans", &v)))
			spans = ret > 0 ? v : NULL;
		else if (argv[i][0] == '-' || r.job)
			return usage_error("unknown argument");
		else
			r.job = argv[i];
		if (ret < 0 || !fmt || !since)
			return usage_error("an option lacks its value");
	}
	if (!r.job)
		return usage_error("which job? (egressctl report JOB)");
	if (!strcmp(fmt, "text"))
		f = F_TEXT;
	else if (!strcmp(fmt, "markdown") || !strcmp(fmt, "md"))
		f = F_MD;
	else if (!strcmp(fmt, "json"))
		f = F_JSON;
	else if (!strcmp(fmt, "html"))
		f = F_HTML;
	else
		return usage_error("--format: text, markdown, json or html");
	if (audit_parse_duration(since, &dur))
		return usage_error("bad --since: want NUMBER UNIT... (30s, 15m, 2h, 1d)");
	r.flags = cJSON_CreateArray();
	r.tamper = cJSON_CreateArray();
	if (!r.flags || !r.tamper || suggest_new(&(struct suggest_opts){ 0 }, &r.sg))
		goto nomem;
	/* lines without the job's id are not even parsed */
	if (audit_json_verbatim(r.job)) {
		rd.needles = &r.job;
		rd.n_needles = 1;
	}
	rd.since = true;
	rd.cutoff_ns = dur < now ? now - dur : 0;
	src = audit_state_dir(PROG, state_flag, state, sizeof(state));
	snprintf(dir, sizeof(dir), "%s/journal", state);
	rd.dir = dir;
	ret = audit_read(&rd);
	if (ret && !rd.listed) {
		fprintf(stderr, PROG ": no journal at %s: %s%s\n", dir, strerror(-ret),
			src == AUDIT_DIR_DEFAULT ? " (egressd is not answering; pass --state-dir DIR)"
						 : "");
		goto out;
	}
	if (ret == -ENOMEM)
		goto nomem;
	if (!r.n_spans) {
		fprintf(stderr, PROG ": no spans of job %s in %s (the last %s)\n", r.job, dir, since);
		goto out;
	}
	ret = make_tree(&r, spans, &tree);
	if (ret == -ENOMEM)
		goto nomem;
	if (ret)
		goto out;
	if (suggest_rules(r.sg, NULL, &res))
		goto nomem;
	m = model(&r, &res, tree);
	if (!m)
		goto nomem;
	if (f == F_JSON) {
		char *s = cJSON_Print(m);

		if (!s)
			goto nomem;
		printf("%s\n", s);
		free(s);
	} else if (f == F_HTML) {
		report_html(m);
	} else {
		report_render(m, f);
	}
	rc = fflush(stdout) ? 1 : 0;
	goto out;
nomem:
	fprintf(stderr, PROG ": %s\n", strerror(ENOMEM));
out:
	cJSON_Delete(m);
	cJSON_Delete(r.info);
	cJSON_Delete(r.flags);
	cJSON_Delete(r.tamper);
	for (size_t i = 0; i < r.n_g; i++) {
		free(r.g[i].dest);
		free(r.g[i].kind);
		free(r.g[i].reason);
		suggest_set_free(&r.g[i].procs);
	}
	free(r.g);
	report_tl_free(&r.tl);
	report_tree_free(tree);
	suggest_result_free(&res);
	suggest_free(r.sg);
	return rc;
}
