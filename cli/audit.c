// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * egressctl audit: query the span journal, <state-dir>/journal/journal-<seq>.jsonl,
 * one OTLP/JSON ExportTraceServiceRequest per line, lowest seq oldest.
 *
 * It reads the files, not the daemon: egressd is only asked where its state
 * dir is, so an audit still works after the daemon has stopped. Files are
 * streamed a line at a time and each line's tree is freed before the next,
 * so memory does not grow with the journal. egressd may rotate a file away
 * while we list or read (ENOENT is not an error) and may be half-way through
 * writing a line (an unterminated last line is skipped, not reported).
 *
 * Filters combine with AND; spans are printed in journal order.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit.h"
#include "control/ctl_proto.h"
#include "egressctl.h"
#include "lib/util.h"

#define DEFAULT_STATE_DIR "/var/lib/egress-fence"
#define NS_PER_SEC	  1000000000ull
/* Decision spans carry the kernel's event time converted to the realtime
 * clock, which can run a little ahead of the file's mtime: only a file older
 * than the --since cutoff by more than this is skipped unread. */
#define MTIME_SLACK_NS (2 * NS_PER_SEC)
/* --since longer than a century means "everything"; the bound keeps the
 * arithmetic far from overflow. */
#define DURATION_MAX_NS (100ull * 366 * 86400 * NS_PER_SEC)

static const char usage_line[] =
	"usage: egressctl audit [--job ID] [--denied] [--flagged] [--since DURATION] "
	"[--state-dir DIR] [--json]\n";

/* egressctl audit's filters and output; the reading is audit_read()'s */
struct audit {
	const char *job;
	bool denied, flagged;
	struct audit_out *out;
	uint64_t n_spans, n_denied;
};

struct jfile {
	uint64_t seq;
	char name[64];
};

/* ---- OTLP values ---------------------------------------------------- */

static const cJSON *item(const cJSON *o, const char *key)
{
	return cJSON_GetObjectItemCaseSensitive(o, key);
}

const cJSON *audit_attr(const cJSON *attrs, const char *key)
{
	const cJSON *kv;

	cJSON_ArrayForEach(kv, attrs) {
		const cJSON *k = item(kv, "key");

		if (cJSON_IsString(k) && !strcmp(k->valuestring, key))
			return item(kv, "value");
	}
	return NULL;
}

const char *audit_attr_str(const struct audit_span *s, const char *key)
{
	const cJSON *v = item(audit_attr(s->attrs, key), "stringValue");

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* OTLP/JSON writes 64-bit integers as decimal strings (a double cannot hold
 * them all); a number is accepted too, as other writers use one. */
bool audit_otlp_int(const cJSON *v, int64_t *ret)
{
	const char *p;
	char *end;
	long long x;

	if (cJSON_IsNumber(v)) {
		if (v->valuedouble != (double)(int64_t)v->valuedouble)
			return false;
		*ret = (int64_t)v->valuedouble;
		return true;
	}
	if (!cJSON_IsString(v))
		return false;
	p = v->valuestring;
	if (!(*p >= '0' && *p <= '9') && !(*p == '-' && p[1] >= '0' && p[1] <= '9'))
		return false;
	errno = 0;
	x = strtoll(p, &end, 10);
	if (errno || *end)
		return false;
	*ret = x;
	return true;
}

bool audit_attr_int(const struct audit_span *s, const char *key, int64_t *ret)
{
	return audit_otlp_int(item(audit_attr(s->attrs, key), "intValue"), ret);
}

bool audit_attr_true(const struct audit_span *s, const char *key)
{
	return cJSON_IsTrue(item(audit_attr(s->attrs, key), "boolValue"));
}

bool audit_is_denied(const struct audit_span *s)
{
	const char *d = audit_attr_str(s, "egress.decision");

	return d && (!strcmp(d, "deny") || !strcmp(d, "would_deny"));
}

/* A fixed64 time: a decimal string, or a non-negative number. */
static bool otlp_time(const cJSON *v, uint64_t *ret)
{
	const char *p;
	char *end;

	if (cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble < 1.8e19) {
		*ret = (uint64_t)v->valuedouble;
		return true;
	}
	if (!cJSON_IsString(v))
		return false;
	p = v->valuestring;
	/* strtoull would take "-1" and " 1" */
	if (!(*p >= '0' && *p <= '9'))
		return false;
	errno = 0;
	*ret = strtoull(p, &end, 10);
	return !errno && !*end;
}

/* ---- --since -------------------------------------------------------- */

int audit_parse_duration(const char *s, uint64_t *ret_ns)
{
	static const struct {
		const char *unit;
		uint64_t ns;
	} units[] = {
		{ "ms", NS_PER_SEC / 1000 }, { "s", NS_PER_SEC },	   { "m", 60 * NS_PER_SEC },
		{ "h", 3600 * NS_PER_SEC },  { "d", 86400 * NS_PER_SEC }, { "w", 604800 * NS_PER_SEC },
	};
	uint64_t total = 0;

	if (!s || !*s)
		return -EINVAL;
	while (*s) {
		uint64_t n = 0, unit = 0;
		size_t ulen = 0;

		/* every part is NUMBER UNIT: a bare "30" could mean seconds or minutes */
		if (!(*s >= '0' && *s <= '9'))
			return -EINVAL;
		for (; *s >= '0' && *s <= '9'; s++) {
			n = n * 10 + (uint64_t)(*s - '0');
			if (n > DURATION_MAX_NS)
				return -ERANGE;
		}
		/* longest match, so that "ms" is not "m" followed by junk */
		for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
			size_t l = strlen(units[i].unit);

			if (l > ulen && !strncmp(s, units[i].unit, l)) {
				ulen = l;
				unit = units[i].ns;
			}
		}
		if (!ulen)
			return -EINVAL;
		s += ulen;
		if (n > (DURATION_MAX_NS - total) / unit)
			return -ERANGE;
		total += n * unit;
	}
	*ret_ns = total;
	return 0;
}

/* ---- one line ------------------------------------------------------- */

static bool wanted(const struct audit *a, const struct audit_span *s)
{
	if (a->job) {
		const char *j = audit_attr_str(s, "egress.job.id");

		if (!j || strcmp(j, a->job))
			return false;
	}
	if (a->denied && !audit_is_denied(s))
		return false;
	/* probe detection flags a job with an egress.probe span, and may also
	 * mark spans egress.flagged: either counts */
	if (a->flagged && strcmp(s->name, "egress.probe") && !audit_attr_true(s, "egress.flagged"))
		return false;
	return true;
}

static bool attrs_ok(const cJSON *attrs)
{
	const cJSON *kv;

	if (!attrs)
		return true;
	if (!cJSON_IsArray(attrs))
		return false;
	cJSON_ArrayForEach(kv, attrs) {
		const cJSON *v = item(kv, "value");

		if (!cJSON_IsString(item(kv, "key")) || (v && !cJSON_IsObject(v)))
			return false;
	}
	return true;
}

/* Fills *v for one span object, or says why it is not one. */
static const char *span_view(const cJSON *sp, const cJSON *res_attrs, struct audit_span *v)
{
	const cJSON *name = item(sp, "name"), *st = item(sp, "status");
	bool has_start, has_end;

	if (!cJSON_IsObject(sp))
		return "a span is not an object";
	if (!cJSON_IsString(name))
		return "a span has no name";
	v->span = sp;
	v->name = name->valuestring;
	v->resource = res_attrs;
	v->attrs = item(sp, "attributes");
	if (!attrs_ok(v->attrs))
		return "span attributes are not a list of {key, value}";
	if (st && !cJSON_IsObject(st))
		return "a span status is not an object";
	has_start = otlp_time(item(sp, "startTimeUnixNano"), &v->start_ns);
	has_end = otlp_time(item(sp, "endTimeUnixNano"), &v->end_ns);
	if (!has_start && !has_end)
		return "a span has no time";
	if (!has_end)
		v->end_ns = v->start_ns;
	if (!has_start)
		v->start_ns = v->end_ns;
	return NULL;
}

/* Walks resourceSpans[].scopeSpans[].spans[]. The first walk (emit false)
 * only checks the shape, so that a line is shown whole or skipped whole.
 * Returns 0, -EBADMSG with *why set, or an output error. Empty lists may be
 * left out (proto3 JSON omits them). */
static int walk(struct audit_reader *a, const cJSON *root, bool emit, const char **why)
{
	const cJSON *rss = item(root, "resourceSpans"), *rs;

	if (!cJSON_IsObject(root)) {
		*why = "not a JSON object";
		return -EBADMSG;
	}
	if (!cJSON_IsArray(rss)) {
		*why = "no resourceSpans list: not an OTLP/JSON trace request";
		return -EBADMSG;
	}
	cJSON_ArrayForEach(rs, rss) {
		const cJSON *res = item(rs, "resource"), *sss = item(rs, "scopeSpans"), *ss;
		const cJSON *res_attrs = item(res, "attributes");

		if (!cJSON_IsObject(rs) || (res && !cJSON_IsObject(res)) || !attrs_ok(res_attrs) ||
		    (sss && !cJSON_IsArray(sss))) {
			*why = "a resourceSpans entry is not {resource, scopeSpans}";
			return -EBADMSG;
		}
		cJSON_ArrayForEach(ss, sss) {
			const cJSON *sps = item(ss, "spans"), *sp;

			if (!cJSON_IsObject(ss) || (sps && !cJSON_IsArray(sps))) {
				*why = "a scopeSpans entry is not {scope, spans}";
				return -EBADMSG;
			}
			cJSON_ArrayForEach(sp, sps) {
				struct audit_span v;
				int ret;

				*why = span_view(sp, res_attrs, &v);
				if (*why)
					return -EBADMSG;
				if (!emit || (a->since && v.end_ns < a->cutoff_ns))
					continue;
				ret = a->fn(a->ctx, &v);
				if (ret)
					return ret;
			}
		}
	}
	return 0;
}

static bool blank(const char *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r' && p[i] != '\n')
			return false;
	return true;
}

/* A line holds one of the needles (or there are none). */
static bool has_needle(const struct audit_reader *a, const char *line, size_t len)
{
	if (!a->n_needles)
		return true;
	for (size_t i = 0; i < a->n_needles; i++)
		if (memmem(line, len, a->needles[i], strlen(a->needles[i])))
			return true;
	return false;
}

/* One complete line (without its '\n'). 0, -EBADMSG with *why set, or an
 * output error. */
static int read_line(struct audit_reader *a, const char *line, size_t len, const char **why)
{
	const char *end = NULL;
	cJSON *root;
	int ret;

	if (blank(line, len))
		return 0;
	a->n_lines_ok++;
	/* A job's spans name it verbatim (job ids need no JSON escaping, see
	 * audit_json_verbatim), so a line without the id is skipped unparsed:
	 * this keeps --job fast on a large journal. Such lines are not checked. */
	if (!has_needle(a, line, len))
		return 0;
	root = cJSON_ParseWithLengthOpts(line, len, &end, false);
	if (!root || !blank(end, len - (size_t)(end - line))) {
		*why = "not JSON";
		ret = -EBADMSG;
		goto cleanup;
	}
	ret = walk(a, root, false, why);
	if (!ret)
		ret = walk(a, root, true, why);
cleanup:
	if (ret == -EBADMSG) {
		a->n_lines_ok--;
		a->n_lines_bad++;
	}
	cJSON_Delete(root);
	return ret;
}

/* ---- files ---------------------------------------------------------- */

static int read_file(struct audit_reader *a, const struct jfile *jf)
{
	const char *why = NULL, *first_why = NULL;
	unsigned long lineno = 0, first_bad = 0, n_bad = 0;
	char path[4300], *line = NULL;
	size_t cap = 0;
	struct stat st;
	ssize_t n;
	FILE *f;
	int ret = 0;

	snprintf(path, sizeof(path), "%s/%s", a->dir, jf->name);
	f = fopen(path, "re");
	if (!f) {
		/* rotated away since the listing: what it held is gone, not unreadable */
		if (errno == ENOENT)
			return 0;
		fprintf(stderr, "%s: %s: %s\n", a->prog, path, strerror(errno));
		a->n_unreadable++;
		return 0;
	}
	if (fstat(fileno(f), &st) < 0 || !S_ISREG(st.st_mode))
		goto cleanup;
	/* every span in a file was written before its mtime */
	if (a->since && (uint64_t)st.st_mtim.tv_sec * NS_PER_SEC + (uint64_t)st.st_mtim.tv_nsec +
					MTIME_SLACK_NS <
				a->cutoff_ns)
		goto cleanup;
	a->n_files++;
	while ((n = getline(&line, &cap, f)) > 0) {
		lineno++;
		if (line[n - 1] != '\n')
			break; /* egressd is still writing it */
		ret = read_line(a, line, (size_t)n - 1, &why);
		if (ret == -EBADMSG) {
			if (!n_bad++) {
				first_bad = lineno;
				first_why = why;
			}
			ret = 0;
			continue;
		}
		if (ret)
			goto cleanup;
	}
	if (ferror(f)) {
		fprintf(stderr, "%s: reading %s: %s\n", a->prog, path, strerror(errno));
		a->n_unreadable++;
	}
cleanup:
	/* once per file: a damaged file must not bury the output in messages */
	if (n_bad)
		fprintf(stderr, "%s: %s:%lu: %s; skipped %lu malformed line%s in this file\n",
			a->prog, path, first_bad, first_why, n_bad, n_bad == 1 ? "" : "s");
	free(line);
	fclose(f);
	return ret;
}

/* journal-<decimal seq>.jsonl, as egressd names them; anything else in the
 * dir (editor backups, a collector's cursor) is not the journal. */
static bool parse_seq(const char *name, uint64_t *seq)
{
	const char *p = name + 8;
	char *end;

	if (strncmp(name, "journal-", 8) || !(*p >= '0' && *p <= '9'))
		return false;
	errno = 0;
	*seq = strtoull(p, &end, 10);
	return !errno && !strcmp(end, ".jsonl");
}

static int cmp_jfile(const void *x, const void *y)
{
	const struct jfile *a = x, *b = y;

	if (a->seq != b->seq)
		return a->seq < b->seq ? -1 : 1;
	return strcmp(a->name, b->name);
}

/* The journal's files, oldest first. */
static int list_journal(const char *dir, struct jfile **ret_files, size_t *ret_n)
{
	struct jfile *files = NULL, *nf;
	size_t n = 0, cap = 0;
	struct dirent *de;
	DIR *d;
	int ret = 0;

	d = opendir(dir);
	if (!d)
		return -errno;
	for (;;) {
		uint64_t seq;

		errno = 0;
		de = readdir(d);
		if (!de) {
			ret = -errno;
			break;
		}
		if (strlen(de->d_name) >= sizeof(files->name) || !parse_seq(de->d_name, &seq))
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 64;
			nf = realloc(files, cap * sizeof(*files));
			if (!nf) {
				ret = -ENOMEM;
				break;
			}
			files = nf;
		}
		files[n].seq = seq;
		strcpy(files[n].name, de->d_name);
		n++;
	}
	closedir(d);
	if (ret) {
		free(files);
		return ret;
	}
	if (n)
		qsort(files, n, sizeof(*files), cmp_jfile);
	*ret_files = files;
	*ret_n = n;
	return 0;
}

int audit_read(struct audit_reader *a)
{
	struct jfile *files = NULL;
	size_t n_files = 0;
	int ret;

	a->listed = false;
	ret = list_journal(a->dir, &files, &n_files);
	if (ret)
		return ret;
	a->listed = true;
	for (size_t i = 0; !ret && i < n_files; i++)
		ret = read_file(a, &files[i]);
	free(files);
	return ret;
}

/* ---- where the journal is ------------------------------------------- */

/* --state-dir, else what the running egressd says, else the default. A
 * daemon that is not running is the normal case for a post-mortem audit,
 * so that fallback is quiet; the journal dir's path is in every message. */
enum audit_dir_source audit_state_dir(const char *prog, const char *flag, char *out, size_t len)
{
	const char *d = NULL;
	cJSON *req, *r = NULL;
	int fd;

	if (flag) {
		snprintf(out, len, "%s", flag);
		return AUDIT_DIR_FLAG;
	}
	fd = ef_ctl_connect(ctl_socket_path);
	if (fd < 0) {
		snprintf(out, len, "%s", DEFAULT_STATE_DIR);
		return AUDIT_DIR_DEFAULT;
	}
	close(fd);
	req = cJSON_CreateObject();
	if (req && cJSON_AddStringToObject(req, "op", "status"))
		r = ctl_request(req, NULL);
	cJSON_Delete(req);
	if (cJSON_IsTrue(cJSON_GetObjectItem(r, "ok")))
		d = cJSON_GetStringValue(cJSON_GetObjectItem(r, "state_dir"));
	if (!d || !*d) {
		fprintf(stderr, "%s: egressd at %s did not say where its state is; reading %s\n",
			prog, ctl_socket_path, DEFAULT_STATE_DIR);
		snprintf(out, len, "%s", DEFAULT_STATE_DIR);
		cJSON_Delete(r);
		return AUDIT_DIR_DEFAULT;
	}
	snprintf(out, len, "%s", d);
	cJSON_Delete(r);
	return AUDIT_DIR_DAEMON;
}

/* ---- the command ---------------------------------------------------- */


static int usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "egressctl audit: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n%s", usage_line);
	return 2;
}

/* A value is its own JSON encoding when it has no '"', '\\', control or
 * non-ASCII bytes; only then can memmem() on the raw line stand in for a
 * match on the parsed attribute. egressd's job ids ([A-Za-z0-9._-]) always
 * qualify. */
bool audit_json_verbatim(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p >= 0x7f || *p == '"' || *p == '\\')
			return false;
	return true;
}

static int audit_span(void *ctx, const struct audit_span *s)
{
	struct audit *a = ctx;
	int ret;

	if (!wanted(a, s))
		return 0;
	ret = audit_out_span(a->out, s);
	if (ret)
		return ret;
	a->n_spans++;
	a->n_denied += audit_is_denied(s);
	return 0;
}

int cmd_audit(int argc, char **argv)
{
	const char *since = NULL, *state_flag = NULL, *val;
	struct audit a = { 0 };
	struct audit_reader r = { .prog = "egressctl audit", .fn = audit_span, .ctx = &a };
	enum audit_dir_source src;
	char state[4096], dir[4200];
	bool json = false;
	int ret, rc = 1;

	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];

		if (!strcmp(arg, "--denied")) {
			a.denied = true;
		} else if (!strcmp(arg, "--flagged")) {
			a.flagged = true;
		} else if (!strcmp(arg, "--json")) {
			json = true;
		} else if ((ret = ctl_opt_arg(argc, argv, &i, "--job", &val))) {
			if (ret < 0)
				return usage_error("%s needs a job id", "--job");
			a.job = val;
		} else if ((ret = ctl_opt_arg(argc, argv, &i, "--since", &val))) {
			if (ret < 0)
				return usage_error("%s needs a duration such as 30s, 15m, 2h, 1d or 1h30m",
						   "--since");
			since = val;
		} else if ((ret = ctl_opt_arg(argc, argv, &i, "--state-dir", &val))) {
			if (ret < 0)
				return usage_error("%s needs a directory", "--state-dir");
			state_flag = val;
		} else if (arg[0] == '-') {
			return usage_error("unknown option %s", arg);
		} else {
			return usage_error("unexpected argument \"%s\"", arg);
		}
	}
	if (since) {
		uint64_t dur, now = ef_now_realtime_ns();

		if (audit_parse_duration(since, &dur))
			return usage_error("bad --since \"%s\": want NUMBER UNIT... with units ms, "
					   "s, m, h, d, w (30s, 15m, 2h, 1d, 1h30m)",
					   since);
		r.since = true;
		r.cutoff_ns = dur < now ? now - dur : 0;
	}
	if (a.job && audit_json_verbatim(a.job)) {
		r.needles = &a.job;
		r.n_needles = 1;
	}

	src = audit_state_dir(r.prog, state_flag, state, sizeof(state));
	snprintf(dir, sizeof(dir), "%s/journal", state);
	r.dir = dir;
	ret = audit_out_new(json, &a.out);
	if (!ret)
		ret = audit_read(&r);
	if (ret && !r.listed && a.out) {
		fprintf(stderr, "egressctl audit: no journal at %s: %s", r.dir, strerror(-ret));
		if (src == AUDIT_DIR_DEFAULT)
			fprintf(stderr, " (egressd is not answering at %s; pass --state-dir DIR)",
				ctl_socket_path);
		fprintf(stderr, "\n");
		goto cleanup;
	}
	if (!ret)
		ret = audit_out_finish(a.out);
	if (ret) {
		fprintf(stderr, "egressctl audit: %s\n", strerror(-ret));
		goto cleanup;
	}
	/* --json keeps stdout and stderr for data and trouble: no summary */
	if (!json)
		fprintf(stderr, "%" PRIu64 " span%s (%" PRIu64 " denied) in %u journal file%s under %s\n",
			a.n_spans, a.n_spans == 1 ? "" : "s", a.n_denied, r.n_files,
			r.n_files == 1 ? "" : "s", r.dir);
	if (!r.n_lines_ok && (r.n_lines_bad || r.n_unreadable)) {
		fprintf(stderr, "egressctl audit: nothing in %s could be read\n", r.dir);
		goto cleanup;
	}
	rc = 0;
cleanup:
	audit_out_free(a.out);
	return rc;
}
