// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * egressctl report --spans FILE: the spans others traced in the job's
 * trace, as an OTLP receiver or a Collector's file exporter wrote them
 * (OTLP/JSON ExportTraceServiceRequests, one per line, or one object in
 * the whole file). An agent that traces itself (invoke_agent, execute_tool
 * of the GenAI conventions) and starts each tool's process with TRACEPARENT
 * naming its tool call has egressd put the process's decisions under that
 * call; this file supplies the spans in between, so that the report can
 * draw job -> agent -> tool call -> decision.
 *
 * The file is the user's, not egressd's, and may be anything: a file that
 * is not OTLP/JSON stops the report with its line; a span that is not
 * usable (bad ids or times, another trace, times far from the job's) is
 * left out and counted; the fence's own spans are left out too (the
 * journal is their record, and they would be drawn twice). Nothing here
 * trusts a parent link: report_tree.c follows them with a bound.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "report.h"
#include "lib/util.h"

#define FILE_MAX  (32u << 20) /* bytes of the whole file */
#define LINE_MAX_ (4u << 20)  /* bytes of one request, in a file of lines */
#define NEAR_NS	  (24ull * 3600 * 1000000000) /* a day either side of the job */

/* hex: exactly n digits, not all zero (an invalid id in OTLP); lowercased
 * into out (n + 1 bytes) */
static bool hex_id(const cJSON *v, size_t n, char *out)
{
	const char *s = cJSON_GetStringValue(v);
	bool zero = true;

	if (!s || strlen(s) != n)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (!isxdigit((unsigned char)s[i]))
			return false;
		out[i] = (char)tolower((unsigned char)s[i]);
		zero &= s[i] == '0';
	}
	out[n] = '\0';
	return !zero;
}

/* A fixed64 time in nanoseconds: a decimal string (or a whole number, as
 * some writers use) above zero. */
static bool ns_of(const cJSON *v, uint64_t *ret)
{
	const char *p = cJSON_GetStringValue(v);
	char *end;

	if (cJSON_IsNumber(v)) {
		if (!(v->valuedouble >= 1 && v->valuedouble < 1.8e19))
			return false;
		*ret = (uint64_t)v->valuedouble;
		return true;
	}
	if (!p || !(*p >= '1' && *p <= '9')) /* strtoull takes "-1", " 1" */
		return false;
	errno = 0;
	*ret = strtoull(p, &end, 10);
	return !errno && !*end;
}

struct reading {
	struct report_spans *sp;
	const char *trace_id;
	uint64_t lo_ns, hi_ns;
};

static bool have(const struct report_spans *sp, const char *id)
{
	for (size_t i = 0; i < sp->n; i++)
		if (!strcmp(sp->s[i].id, id))
			return true;
	return false;
}

/* One span object: kept, or counted as left out. 0 or -ENOMEM. */
static int take(struct reading *rd, const cJSON *o)
{
	struct report_spans *sp = rd->sp;
	const cJSON *par = cJSON_GetObjectItemCaseSensitive(o, "parentSpanId");
	const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "name"));
	struct report_span s = { 0 };
	char trace[33];

	if (!cJSON_IsObject(o) || !name ||
	    !hex_id(cJSON_GetObjectItemCaseSensitive(o, "traceId"), 32, trace) ||
	    !hex_id(cJSON_GetObjectItemCaseSensitive(o, "spanId"), 16, s.id) ||
	    /* proto3 JSON may write an absent parent as "" */
	    (par && !(cJSON_IsString(par) && !*par->valuestring) && !hex_id(par, 16, s.parent)) ||
	    !ns_of(cJSON_GetObjectItemCaseSensitive(o, "startTimeUnixNano"), &s.start_ns) ||
	    !ns_of(cJSON_GetObjectItemCaseSensitive(o, "endTimeUnixNano"), &s.end_ns) ||
	    s.end_ns < s.start_ns) {
		sp->n_bad++;
		return 0;
	}
	if (strcmp(trace, rd->trace_id)) {
		sp->n_other_trace++;
		return 0;
	}
	if (!strncmp(name, "egress.", 7)) {
		sp->n_fence++;
		return 0;
	}
	/* the job's own clock bounds what can be drawn beside it */
	if (s.end_ns + NEAR_NS < rd->lo_ns || s.start_ns > rd->hi_ns + NEAR_NS) {
		sp->n_far++;
		return 0;
	}
	if (have(sp, s.id)) { /* a retried export: the first copy stands */
		sp->n_dup++;
		return 0;
	}
	if (sp->n >= REPORT_SPANS_MAX) {
		sp->n_more++;
		return 0;
	}
	if (sp->n == sp->cap) {
		size_t cap = sp->cap ? sp->cap * 2 : 64;
		struct report_span *n = realloc(sp->s, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		sp->s = n;
		sp->cap = cap;
	}
	snprintf(s.name, sizeof(s.name), "%s", name);
	sp->s[sp->n++] = s;
	return 0;
}

/* resourceSpans[].scopeSpans[].spans[]; NULL, or why the request is not one */
static const char *walk(struct reading *rd, const cJSON *req, int *ret)
{
	const cJSON *rss = cJSON_GetObjectItemCaseSensitive(req, "resourceSpans"), *rs;

	*ret = 0;
	if (!cJSON_IsObject(req) || !cJSON_IsArray(rss))
		return "not an OTLP/JSON trace request (no resourceSpans list)";
	cJSON_ArrayForEach(rs, rss) {
		const cJSON *sss = cJSON_GetObjectItemCaseSensitive(rs, "scopeSpans"), *ss;

		if (sss && !cJSON_IsArray(sss))
			return "scopeSpans is not a list";
		cJSON_ArrayForEach(ss, sss) {
			const cJSON *sps = cJSON_GetObjectItemCaseSensitive(ss, "spans"), *o;

			if (sps && !cJSON_IsArray(sps))
				return "spans is not a list";
			cJSON_ArrayForEach(o, sps)
				if ((*ret = take(rd, o)))
					return NULL;
		}
	}
	return NULL;
}

static bool blank(const char *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!isspace((unsigned char)p[i]))
			return false;
	return true;
}

/* p[0..len) as one JSON value; NULL if it is not exactly one */
static cJSON *parse(const char *p, size_t len)
{
	const char *end = NULL;
	cJSON *v = cJSON_ParseWithLengthOpts(p, len, &end, false);

	if (v && end && !blank(end, len - (size_t)(end - p))) {
		cJSON_Delete(v);
		return NULL;
	}
	return v;
}

/* A file of lines, a request on each (blank lines aside). */
static int by_line(struct reading *rd, const char *path, const char *buf, size_t len,
		   char *err, size_t errlen)
{
	size_t no = 0;

	for (const char *p = buf, *nl; p < buf + len; p = nl + 1) {
		size_t l;
		const char *why;
		cJSON *v;
		int ret;

		nl = memchr(p, '\n', (size_t)(buf + len - p));
		if (!nl)
			nl = buf + len;
		l = (size_t)(nl - p);
		no++;
		if (blank(p, l))
			continue;
		if (l > LINE_MAX_) {
			snprintf(err, errlen, "%s:%zu: a line of more than %u MiB", path, no,
				 LINE_MAX_ >> 20);
			return -EBADMSG;
		}
		v = parse(p, l);
		if (!v) {
			snprintf(err, errlen, "%s:%zu: not JSON", path, no);
			return -EBADMSG;
		}
		why = walk(rd, v, &ret);
		cJSON_Delete(v);
		if (why) {
			snprintf(err, errlen, "%s:%zu: %s", path, no, why);
			return -EBADMSG;
		}
		if (ret)
			return ret;
	}
	return 0;
}

int report_spans_read(struct report_spans *sp, const char *path, const char *trace_id,
		      uint64_t lo_ns, uint64_t hi_ns, char *err, size_t errlen)
{
	struct reading rd = { .sp = sp, .trace_id = trace_id, .lo_ns = lo_ns, .hi_ns = hi_ns };
	const char *why;
	size_t len = 0;
	char *buf = NULL;
	cJSON *v;
	int ret;

	ret = ef_read_file(path, FILE_MAX, &buf, &len);
	if (ret == -EFBIG) {
		snprintf(err, errlen, "%s: larger than %u MiB", path, FILE_MAX >> 20);
		return ret;
	}
	if (ret) {
		snprintf(err, errlen, "%s: %s", path, strerror(-ret));
		return ret;
	}
	if (blank(buf, len)) {
		snprintf(err, errlen, "%s: empty", path);
		ret = -EBADMSG;
		goto out;
	}
	/* one request in the whole file (pretty-printed, say), else lines */
	v = parse(buf, len);
	if (v) {
		why = walk(&rd, v, &ret);
		cJSON_Delete(v);
		if (why) {
			snprintf(err, errlen, "%s: %s", path, why);
			ret = -EBADMSG;
		}
	} else {
		ret = by_line(&rd, path, buf, len, err, errlen);
	}
out:
	free(buf);
	return ret;
}

void report_spans_free(struct report_spans *sp)
{
	free(sp->s);
	memset(sp, 0, sizeof(*sp));
}
