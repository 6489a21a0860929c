// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * egressctl audit's output.
 *
 * --json: JSON Lines, one object per span, with the OTLP attribute list
 * flattened to native JSON types ({"key":"network.peer.port","value":
 * {"intValue":"443"}} becomes "network.peer.port":443; 64-bit integers are
 * written exactly, not through a double).
 *
 * Otherwise a table. Its columns are sized to the first TABLE_SIZING_ROWS
 * rows, so output starts before a large journal is read to its end and
 * memory stays bounded; later rows are cut to those widths. Each column has
 * a cap so that one long value cannot push the rest off the screen, and each
 * is cut where it loses least: a destination keeps its port and the end of
 * its name, a process keeps its pid, a job id keeps both ends.
 *
 * Values come from the journal, and some from the fenced job itself
 * (process names, DNS names): the table turns control characters into '?'
 * so that a job cannot write terminal escapes to the operator's screen.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "audit.h"
#include "policy.h"

#define TABLE_SIZING_ROWS 1000
#define CELL_MAX	  256
#define NS_PER_SEC	  1000000000ull

enum { C_TIME, C_JOB, C_SPAN, C_DECISION, C_REASON, C_DEST, C_PROC, C_RULE, N_COLS };
enum trunc { CUT_END, CUT_START, CUT_MIDDLE, CUT_KEEP_PID };

static const struct col {
	const char *title;
	int max; /* 0: the last column, never cut */
	enum trunc cut;
} cols[N_COLS] = {
	[C_TIME] = { "TIME", 23, CUT_END },
	[C_JOB] = { "JOB", 40, CUT_MIDDLE }, /* a UUID stays whole, to paste into --job */
	[C_SPAN] = { "SPAN", 10, CUT_END },
	[C_DECISION] = { "DECISION", 18, CUT_END },
	[C_REASON] = { "REASON", 16, CUT_END },
	[C_DEST] = { "DESTINATION", 44, CUT_START },
	[C_PROC] = { "PROCESS", 24, CUT_KEEP_PID },
	[C_RULE] = { "RULE", 0, CUT_END },
};

struct row {
	char c[N_COLS][CELL_MAX];
};

struct audit_out {
	bool json;
	bool sized; /* widths fixed and header printed */
	int width[N_COLS];
	struct row **rows;
	size_t n_rows;
};

static const cJSON *item(const cJSON *o, const char *key)
{
	return cJSON_GetObjectItemCaseSensitive(o, key);
}

/* ---- JSON Lines ----------------------------------------------------- */

/* RFC 3339 UTC with nanoseconds (JSON), or local time to the millisecond
 * (the table); the raw number if the time cannot be broken down. */
void audit_fmt_time(uint64_t ns, bool utc, char *out, size_t len)
{
	time_t t = (time_t)(ns / NS_PER_SEC);
	struct tm tm;
	size_t n;

	if (!(utc ? gmtime_r(&t, &tm) : localtime_r(&t, &tm)) ||
	    !(n = strftime(out, len, utc ? "%Y-%m-%dT%H:%M:%S" : "%Y-%m-%d %H:%M:%S", &tm))) {
		snprintf(out, len, "%" PRIu64, ns);
		return;
	}
	if (utc)
		snprintf(out + n, len - n, ".%09uZ", (unsigned)(ns % NS_PER_SEC));
	else
		snprintf(out + n, len - n, ".%03u", (unsigned)(ns % NS_PER_SEC / 1000000));
}

static cJSON *flat_attrs(const cJSON *attrs);

/* An OTLP AnyValue as the JSON value it stands for. */
static cJSON *flat_value(const cJSON *v)
{
	const cJSON *x, *e;
	cJSON *arr;

	if ((x = item(v, "stringValue")) || (x = item(v, "boolValue")) ||
	    (x = item(v, "doubleValue")) || (x = item(v, "bytesValue")))
		return cJSON_Duplicate(x, true);
	if ((x = item(v, "intValue"))) {
		char buf[24];
		int64_t i;

		if (!audit_otlp_int(x, &i))
			return cJSON_Duplicate(x, true);
		/* raw digits: a cJSON number is a double and would round above 2^53 */
		snprintf(buf, sizeof(buf), "%" PRId64, i);
		return cJSON_CreateRaw(buf);
	}
	if ((x = item(v, "arrayValue"))) {
		arr = cJSON_CreateArray();
		cJSON_ArrayForEach(e, item(x, "values")) {
			cJSON *f = flat_value(e);

			if (!arr || !f || !cJSON_AddItemToArray(arr, f)) {
				cJSON_Delete(f);
				cJSON_Delete(arr);
				return NULL;
			}
		}
		return arr;
	}
	if ((x = item(v, "kvlistValue")))
		return flat_attrs(item(x, "values"));
	return cJSON_CreateNull();
}

/* [{key, value}...] as {key: value...}; a repeated key keeps its last value. */
static cJSON *flat_attrs(const cJSON *attrs)
{
	cJSON *o = cJSON_CreateObject();
	const cJSON *kv;

	cJSON_ArrayForEach(kv, attrs) {
		const cJSON *k = item(kv, "key");
		cJSON *v;
		bool ok;

		if (!o)
			return NULL;
		if (!cJSON_IsString(k))
			continue;
		v = flat_value(item(kv, "value"));
		if (!v)
			goto fail;
		if (item(o, k->valuestring))
			ok = cJSON_ReplaceItemInObjectCaseSensitive(o, k->valuestring, v);
		else
			ok = cJSON_AddItemToObject(o, k->valuestring, v);
		if (!ok) {
			cJSON_Delete(v);
			goto fail;
		}
	}
	return o;
fail:
	cJSON_Delete(o);
	return NULL;
}

/* proto3 JSON may spell an enum by number or by name */
static const char *enum_name(const cJSON *v, const char *const *names, int n, const char *prefix)
{
	if (cJSON_IsNumber(v) && v->valueint >= 0 && v->valueint < n)
		return names[v->valueint];
	if (cJSON_IsString(v) && !strncmp(v->valuestring, prefix, strlen(prefix)))
		for (int i = 0; i < n; i++)
			if (!strcasecmp(v->valuestring + strlen(prefix), names[i]))
				return names[i];
	return NULL;
}

static const char *const kinds[] = { "unspecified", "internal", "server",
				     "client",	    "producer", "consumer" };
static const char *const codes[] = { "unset", "ok", "error" };

static cJSON *hex_id(const cJSON *sp, const char *key)
{
	const char *s = cJSON_GetStringValue(item(sp, key));

	return s && *s ? cJSON_CreateString(s) : cJSON_CreateNull();
}

static bool put(cJSON *o, const char *key, cJSON *v)
{
	if (v && cJSON_AddItemToObject(o, key, v))
		return true;
	cJSON_Delete(v);
	return false;
}

static int json_span(const struct audit_span *s)
{
	const cJSON *st = item(s->span, "status");
	const char *kind, *code, *msg = cJSON_GetStringValue(item(st, "message"));
	cJSON *o = cJSON_CreateObject(), *status = cJSON_CreateObject();
	char t[48], *text = NULL;
	bool ok = o && status;
	int ret = -ENOMEM;

	kind = enum_name(item(s->span, "kind"), kinds, 6, "SPAN_KIND_");
	code = enum_name(item(st, "code"), codes, 3, "STATUS_CODE_");
	if (!ok)
		goto cleanup;
	audit_fmt_time(s->end_ns, true, t, sizeof(t));
	ok &= put(o, "time", cJSON_CreateString(t));
	audit_fmt_time(s->start_ns, true, t, sizeof(t));
	ok &= put(o, "start_time", cJSON_CreateString(t));
	ok &= put(o, "trace_id", hex_id(s->span, "traceId"));
	ok &= put(o, "span_id", hex_id(s->span, "spanId"));
	ok &= put(o, "parent_span_id", hex_id(s->span, "parentSpanId"));
	ok &= put(o, "name", cJSON_CreateString(s->name));
	ok &= put(o, "kind", kind ? cJSON_CreateString(kind) : cJSON_CreateNull());
	ok &= put(status, "code", cJSON_CreateString(code ? code : "unset"));
	if (msg && *msg)
		ok &= put(status, "message", cJSON_CreateString(msg));
	ok &= put(o, "status", status);
	status = NULL; /* o owns it now, or put() freed it */
	ok &= put(o, "attributes", flat_attrs(s->attrs));
	ok &= put(o, "resource", flat_attrs(s->resource));
	if (!ok || !(text = cJSON_PrintUnformatted(o)))
		goto cleanup;
	fputs(text, stdout);
	putchar('\n');
	ret = 0;
cleanup:
	free(text);
	cJSON_Delete(status);
	cJSON_Delete(o);
	return ret;
}

/* ---- table cells ---------------------------------------------------- */

/* Copies a value into a cell: C0, DEL and C1 controls (some terminals obey
 * C1 as escapes) and invalid UTF-8 become '?'; cut at CELL_MAX on a
 * character boundary; empty is "-". */
static void cell(char *dst, const char *src)
{
	term_copy(dst, CELL_MAX, src && *src ? src : "-");
}

static void cellf(char *dst, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void cellf(char *dst, const char *fmt, ...)
{
	char buf[CELL_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	cell(dst, buf);
}

/* Display columns: every character one column wide (no CJK in here). */
static int ucols(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

/* Bytes taken by the first n characters of s. */
static size_t head_bytes(const char *s, int n)
{
	const char *p = s;

	for (; *p && n > 0; n--)
		for (p++; ((unsigned char)*p & 0xc0) == 0x80; p++)
			;
	return (size_t)(p - s);
}

/* The last n characters of s. */
static const char *tail(const char *s, int n)
{
	return s + head_bytes(s, ucols(s) - n);
}

void audit_dest(const struct audit_span *s, char *out, size_t len)
{
	const char *addr = audit_attr_str(s, "server.address"), *tr;
	char port[32] = "";
	int64_t i;

	if (!strcmp(s->name, "egress.dns")) {
		snprintf(out, len, "%s", audit_attr_str(s, "dns.question.name") ?: "");
		return;
	}
	if (!strcmp(s->name, "egress.socket")) {
		const char *fam = audit_attr_str(s, "egress.socket.family");
		char num[24];

		/* a number: a family the journal's egressd could not name (an
		 * older one named fewer), named here if Linux names it */
		if (!fam && audit_attr_int(s, "egress.socket.family", &i) &&
		    !(fam = ef_af_name(i))) {
			snprintf(num, sizeof(num), "family %" PRId64, i);
			fam = num;
		}
		snprintf(out, len, "%s/%s", fam ? fam : "?",
			 audit_attr_str(s, "egress.socket.type") ?: "?");
		return;
	}
	if (!strcmp(s->name, "egress.job")) {
		int64_t q, dq;

		if (audit_attr_int(s, "egress.dns.queries", &q) && q > 0 &&
		    audit_attr_int(s, "egress.dns.denied", &dq))
			snprintf(out, len, "dns %" PRId64 "/%" PRId64 " denied", dq, q);
		else
			snprintf(out, len, "%s", "");
		return;
	}
	if (!addr)
		addr = audit_attr_str(s, "network.peer.address");
	if (!addr) {
		snprintf(out, len, "%s", "");
		return;
	}
	if (audit_attr_int(s, "server.port", &i) || audit_attr_int(s, "network.peer.port", &i))
		snprintf(port, sizeof(port), ":%" PRId64, i);
	tr = audit_attr_str(s, "network.transport");
	snprintf(out, len, "%s%s%s%s%s%s", strchr(addr, ':') ? "[" : "", addr,
		 strchr(addr, ':') ? "]" : "", port, tr ? "/" : "", tr ? tr : "");
}

static void dest_cell(char *dst, const struct audit_span *s)
{
	char buf[CELL_MAX];

	audit_dest(s, buf, sizeof(buf));
	cell(dst, buf);
}

static void row_build(struct row *r, const struct audit_span *s)
{
	const char *exe = audit_attr_str(s, "process.executable.name");
	const char *dec = audit_attr_str(s, "egress.decision");
	const char *why = audit_attr_str(s, "egress.reason");
	const char *rule = audit_attr_str(s, "egress.rule");
	char t[48];
	int64_t pid, n, d;

	audit_fmt_time(s->end_ns, false, t, sizeof(t));
	cell(r->c[C_TIME], t);
	cell(r->c[C_JOB], audit_attr_str(s, "egress.job.id"));
	cell(r->c[C_SPAN], strncmp(s->name, "egress.", 7) ? s->name : s->name + 7);
	if (!strcmp(s->name, "egress.job")) {
		/* a job's row sums up its decisions rather than being one */
		if (audit_attr_int(s, "egress.decisions", &n) && audit_attr_int(s, "egress.denied", &d))
			cellf(r->c[C_DECISION], "%" PRId64 "/%" PRId64 " denied", d, n);
		else
			cell(r->c[C_DECISION], NULL);
		why = audit_attr_str(s, "egress.probe.reason");
		if (!why && audit_attr_true(s, "egress.flagged"))
			why = "flagged";
		if (!exe)
			exe = audit_attr_str(s, "process.command");
		if (audit_attr_str(s, "egress.policy.name"))
			cellf(r->c[C_RULE], "policy %s", audit_attr_str(s, "egress.policy.name"));
		else
			cell(r->c[C_RULE], NULL);
	} else if (!strcmp(s->name, "egress.probe")) {
		cell(r->c[C_DECISION], audit_attr_str(s, "egress.probe.action"));
		why = audit_attr_str(s, "egress.probe.reason");
		cell(r->c[C_RULE], rule);
	} else if (audit_attr_int(s, "egress.count", &n)) {
		/* a folded span: how many decisions it stands for */
		cellf(r->c[C_DECISION], "%s x%" PRId64, dec ? dec : "?", n);
		cell(r->c[C_RULE], rule);
	} else {
		cell(r->c[C_DECISION], dec);
		cell(r->c[C_RULE], rule);
	}
	cell(r->c[C_REASON], why);
	dest_cell(r->c[C_DEST], s);
	/* a job fold (README, "Decisions and spans"): how many destinations */
	if (audit_attr_int(s, "egress.fold.destinations", &n))
		cellf(r->c[C_DEST], "%" PRId64 "%s destination%s", n, n >= 32 ? "+" : "",
		      n == 1 ? "" : "s");
	if (audit_attr_int(s, "process.pid", &pid) && !(exe && *exe))
		cellf(r->c[C_PROC], "pid %" PRId64, pid); /* no name: not "?[pid]" */
	else if (audit_attr_int(s, "process.pid", &pid))
		cellf(r->c[C_PROC], "%s[%" PRId64 "]", exe, pid);
	else
		cell(r->c[C_PROC], exe);
}

/* ---- table ---------------------------------------------------------- */

/* s in w columns, then the gap: padded, or cut with ".." where the column
 * loses least. */
static void put_cell(const char *s, int w, enum trunc cut)
{
	int n = ucols(s), keep = w - 2;
	const char *pid;

	if (n <= w) {
		printf("%s%*s", s, w - n + 2, "");
		return;
	}
	pid = strrchr(s, '[');
	if (cut == CUT_KEEP_PID && pid && ucols(pid) + 3 <= w) {
		keep -= ucols(pid);
		printf("%.*s..%s  ", (int)head_bytes(s, keep), s, pid);
	} else if (cut == CUT_START) {
		printf("..%s  ", tail(s, keep));
	} else if (cut == CUT_MIDDLE) {
		printf("%.*s..%s  ", (int)head_bytes(s, (keep + 1) / 2), s, tail(s, keep / 2));
	} else {
		printf("%.*s..  ", (int)head_bytes(s, keep), s);
	}
}

static void put_row(const struct audit_out *o, const char *const *c)
{
	for (int i = 0; i < N_COLS - 1; i++)
		put_cell(c[i], o->width[i], cols[i].cut);
	printf("%s\n", c[N_COLS - 1]);
}

static void put_struct_row(const struct audit_out *o, const struct row *r)
{
	const char *c[N_COLS];

	for (int i = 0; i < N_COLS; i++)
		c[i] = r->c[i];
	put_row(o, c);
}

/* Fix the widths from the rows seen so far, print the header and them. */
static void table_size(struct audit_out *o)
{
	const char *titles[N_COLS];

	for (int i = 0; i < N_COLS; i++) {
		int w = (int)strlen(cols[i].title);

		for (size_t r = 0; r < o->n_rows; r++) {
			int n = ucols(o->rows[r]->c[i]);

			if (n > w)
				w = n;
		}
		o->width[i] = cols[i].max && w > cols[i].max ? cols[i].max : w;
		titles[i] = cols[i].title;
	}
	o->sized = true;
	put_row(o, titles);
	for (size_t r = 0; r < o->n_rows; r++) {
		put_struct_row(o, o->rows[r]);
		free(o->rows[r]);
	}
	o->n_rows = 0;
}

/* ---- interface ------------------------------------------------------ */

int audit_out_new(bool json, struct audit_out **ret)
{
	struct audit_out *o = calloc(1, sizeof(*o));

	if (!o)
		return -ENOMEM;
	o->json = json;
	if (!json) {
		o->rows = calloc(TABLE_SIZING_ROWS, sizeof(*o->rows));
		if (!o->rows) {
			free(o);
			return -ENOMEM;
		}
		tzset();
	}
	*ret = o;
	return 0;
}

int audit_out_span(struct audit_out *o, const struct audit_span *s)
{
	struct row *r;

	if (o->json)
		return json_span(s);
	r = malloc(sizeof(*r));
	if (!r)
		return -ENOMEM;
	row_build(r, s);
	if (o->sized) {
		put_struct_row(o, r);
		free(r);
		return 0;
	}
	o->rows[o->n_rows++] = r;
	if (o->n_rows == TABLE_SIZING_ROWS)
		table_size(o);
	return 0;
}

int audit_out_finish(struct audit_out *o)
{
	if (!o->json && !o->sized)
		table_size(o);
	if (fflush(stdout) || ferror(stdout))
		return -EIO;
	return 0;
}

void audit_out_free(struct audit_out *o)
{
	if (!o)
		return;
	for (size_t r = 0; r < o->n_rows; r++)
		free(o->rows[r]);
	free(o->rows);
	free(o);
}
