// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * egressctl report's text and markdown (--format text, markdown): the
 * model (report.c) for a person, and which of the job's attributes and
 * counters a report shows (html too). Every value comes from the job, and
 * the job is hostile: text prints control characters as '?', markdown
 * makes every value a code span.
 */
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "audit.h"
#include "report.h"

const char *const report_counts[4][2] = {
	{ "egress.decisions", "decisions" },
	{ "egress.denied", "denied" },
	{ "egress.dns.queries", "DNS queries" },
	{ "egress.dns.denied", "DNS denied" },
};

bool report_ci_attr(const char *key)
{
	static const char *const prefixes[] = { "cicd.", "vcs.", "enduser.", "gen_ai.",
						"container." };

	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
		if (!strncmp(key, prefixes[i], strlen(prefixes[i])))
			return true;
	return false;
}

/* A value as the format wants it: text with control characters (C0, DEL,
 * C1) and invalid UTF-8 as '?', as audit's table (audit_char);
 * markdown as a code span (nothing in it is markup, links or HTML: its
 * fence is one backtick longer than the longest run inside), control
 * characters and invalid UTF-8 as spaces, and in a table cell '|' as "\|" (GFM splits cells
 * at a bare '|' even inside a code span). */
static void put_md(const char *s, bool cell)
{
	size_t run = 0, max = 0, n = strlen(s);
	bool pad = !n || s[0] == '`' || s[n - 1] == '`';

	for (const char *p = s; *p; p++) {
		run = *p == '`' ? run + 1 : 0;
		if (run > max)
			max = run;
	}
	for (size_t i = 0; i <= max; i++)
		fputc('`', stdout);
	if (pad)
		fputc(' ', stdout);
	for (const unsigned char *p = (const unsigned char *)s; *p;) {
		int l = audit_char(p);

		if (l < 0)
			fputc(' ', stdout);
		else if (*p == '|' && cell)
			fputs("\\|", stdout);
		else
			fwrite(p, 1, (size_t)l, stdout);
		p += l < 0 ? -l : l;
	}
	if (pad)
		fputc(' ', stdout);
	for (size_t i = 0; i <= max; i++)
		fputc('`', stdout);
}

static void put_as(enum fmt f, const char *s, bool cell)
{
	if (f == F_MD) {
		put_md(s ? s : "", cell);
		return;
	}
	for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p;) {
		int l = audit_char(p);

		if (l < 0)
			fputc('?', stdout);
		else
			fwrite(p, 1, (size_t)l, stdout);
		p += l < 0 ? -l : l;
	}
}

/* in a table cell (markdown), or a line of text */
static void put(enum fmt f, const char *s)
{
	put_as(f, s, true);
}

static const char *jstr(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItem(o, k);
	static char num[32];

	if (cJSON_IsNumber(v)) {
		snprintf(num, sizeof(num), "%.15g", v->valuedouble);
		return num;
	}
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

void report_render(const cJSON *m, enum fmt f)
{
	const cJSON *j = cJSON_GetObjectItem(m, "job"), *attrs = cJSON_GetObjectItem(j, "attributes");
	const cJSON *den = cJSON_GetObjectItem(m, "denied"), *fl = cJSON_GetObjectItem(m, "flags");
	const cJSON *ta = cJSON_GetObjectItem(m, "tamper"), *al = cJSON_GetObjectItem(m, "allow");
	const cJSON *e, *add = cJSON_GetObjectItem(al, "add");
	bool md = f == F_MD;

	printf(md ? "## egress-fence: job " : "egress-fence job ");
	put_as(f, jstr(j, "id"), false);
	printf(md ? "\n\n" : "\n");
	printf(md ? "| | |\n|---|---|\n| policy | " : "  policy     ");
	put(f, report_str_or(jstr(attrs, "egress.policy.name"), "?"));
	printf(" (");
	put(f, report_str_or(jstr(attrs, "egress.mode"), "?"));
	printf(md ? ") |\n| trace | " : ")\n  trace      ");
	put(f, report_str_or(jstr(j, "trace_id"), "?"));
	printf(md ? " |\n| started | " : "\n  started    ");
	put(f, jstr(j, "start"));
	if (!strcmp(report_str_or(jstr(j, "state"), ""), "ended")) {
		printf(md ? " |\n| duration | " : "\n  duration   ");
		printf("%.1f s", cJSON_GetNumberValue(cJSON_GetObjectItem(j, "duration_s")));
	} else {
		printf(md ? " |\n| state | " : "\n  state      ");
		printf("not ended (no egress.job span yet)");
	}
	if (jstr(attrs, "process.command")) {
		printf(md ? " |\n| command | " : "\n  command    ");
		put(f, jstr(attrs, "process.command"));
	}
	for (size_t i = 0; i < sizeof(report_counts) / sizeof(report_counts[0]); i++) {
		if (!jstr(attrs, report_counts[i][0]))
			continue;
		printf(md ? " |\n| %s | " : "\n  %-10s ", report_counts[i][1]);
		put(f, jstr(attrs, report_counts[i][0]));
	}
	cJSON_ArrayForEach(e, attrs) {
		if (!report_ci_attr(e->string))
			continue;
		printf(md ? " |\n| " : "\n  ");
		put(f, e->string);
		printf(md ? " | " : " = ");
		put(f, jstr(attrs, e->string));
	}
	printf(md ? " |\n\n" : "\n\n");

	if (!cJSON_GetArraySize(den)) {
		printf(md ? "Nothing was denied.\n\n" : "Nothing was denied.\n\n");
	} else {
		printf(md ? "### Denied\n\n| destination | kind | reason | count | processes |\n"
			    "|---|---|---|---:|---|\n"
			  : "Denied (destination, kind, reason, count, processes):\n");
		cJSON_ArrayForEach(e, den) {
			const cJSON *p;
			bool first = true;

			printf(md ? "| " : "  ");
			put(f, jstr(e, "destination"));
			printf(md ? " | " : "  ");
			put(f, jstr(e, "kind"));
			printf(md ? " | " : "  ");
			put(f, jstr(e, "reason"));
			printf(md ? " | %s | " : "  x%s  ", jstr(e, "count"));
			cJSON_ArrayForEach(p, cJSON_GetObjectItem(e, "processes")) {
				printf(first ? "" : ", ");
				put(f, p->valuestring);
				first = false;
			}
			if (jstr(e, "processes_more"))
				printf(" and %s more", jstr(e, "processes_more"));
			printf(md ? " |\n" : "\n");
		}
		if (jstr(m, "denied_groups_more"))
			printf("%sand %s more destinations\n", md ? "\n" : "  ",
			       jstr(m, "denied_groups_more"));
		printf("\n");
	}
	if (cJSON_GetArraySize(fl)) {
		printf(md ? "### Probe flags\n\n" : "Probe flags:\n");
		cJSON_ArrayForEach(e, fl) {
			printf(md ? "- " : "  ");
			put_as(f, jstr(e, "time"), false);
			printf(" ");
			put_as(f, jstr(e, "reason"), false);
			printf(md ? " (action: " : " (action ");
			put_as(f, jstr(e, "action"), false);
			printf(")\n");
		}
		printf("\n");
	}
	if (cJSON_GetArraySize(ta)) {
		printf(md ? "### Tamper refusals\n\n" : "Tamper refusals:\n");
		cJSON_ArrayForEach(e, ta) {
			printf(md ? "- " : "  ");
			put_as(f, jstr(e, "time"), false);
			printf(" ");
			put_as(f, jstr(e, "reason"), false);
			printf(" ");
			put_as(f, jstr(e, "target"), false);
			printf(" by ");
			put_as(f, jstr(e, "process"), false);
			printf("\n");
		}
		printf("\n");
	}
	if (cJSON_GetArraySize(add)) {
		printf(md ? "### To allow what was denied\n\nAdd to policy " : "To allow what was "
									   "denied, add to "
									   "policy ");
		put_as(f, jstr(al, "policy"), false);
		printf(md ? " (`egressctl policy add NAME RULE...`, or its file):\n\n```diff\n"
			  : " (egressctl policy add NAME RULE..., or its file):\n");
		cJSON_ArrayForEach(e, add) {
			/* inside the code block nothing is markup: only control
			 * characters and a closing fence matter */
			printf(md ? "+  \"" : "  + \"");
			put(F_TEXT, strstr(e->valuestring, "```") ? "?" : e->valuestring);
			printf("\",\n");
		}
		printf(md ? "```\n" : "\n");
	}
}
