// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * egressctl policy suggest: what audit-mode jobs did, from the span journal,
 * as a minimal enforce-mode policy, or as the difference to an existing one.
 *
 * The journal is read the way egressctl audit reads it (audit_read(): the
 * files, not the daemon; egressd is only asked where its state dir is).
 * The decisions of the chosen jobs go to suggest_rules.c, which makes the
 * rules; this file chooses the spans and prints. The policy goes to stdout,
 * everything said about it to stderr.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "egressctl.h"
#include "suggest.h"
#include "lib/util.h"

#define PROG		     "egressctl policy suggest"
#define DEFAULT_SINCE	     "7d"
#define DEFAULT_NAME	     "suggested"
#define WILDCARD_MIN_DEFAULT 3
#define WILDCARD_MIN_MAX     100000
#define NAME_RULE	     "a policy name ([a-z0-9][a-z0-9._-]{0,63})"

const char suggest_help[] =
	"usage: egressctl policy suggest [--job ID]... [--policy NAME] [--since DURATION]\n"
	"                                [--name NAME] [--state-dir DIR] [--against FILE]\n"
	"                                [--wildcard-min N]\n"
	"\n"
	"Turn what audit-mode jobs did (the span journal's egress.connect, egress.send and\n"
	"egress.dns spans) into a minimal enforce-mode policy, printed on stdout.\n"
	"\n"
	"  --job ID          this job (repeatable); jobs named so are used even if they ran\n"
	"                    in enforce mode (with a warning). Default: every audit-mode job\n"
	"  --policy NAME     jobs that ran under audit policy NAME\n"
	"  --since DURATION  spans that ended within it (default 7d; 30s, 15m, 2h, 1d, 1w)\n"
	"  --name NAME       the new policy's name (default: the jobs' policy name if they\n"
	"                    share one, else \"suggested\")\n"
	"  --state-dir DIR   read DIR/journal (default: where egressd says its state is)\n"
	"  --against FILE    print only what FILE lacks, as \"+ RULE\" lines, and the allow\n"
	"                    rules of FILE nothing used, as \"- RULE (unused)\"\n"
	"  --wildcard-min N  N or more names under one parent domain with the same ports\n"
	"                    become \"*.parent:PORTS\" (default 3; 0: never)\n"
	"\n"
	"Rules name the DNS name a connection's address was learned from, else the exact\n"
	"address; ports are exactly those used. Loopback is skipped; cloud metadata and other\n"
	"internal addresses, and names resolved but never connected to, are listed on stderr,\n"
	"not added. Exit status: 0, 1 if no span matched or the journal cannot be read,\n"
	"2 for a usage error.\n";

struct cmd {
	/* which spans */
	const char **jobs;
	size_t n_jobs;
	const char *policy;

	struct suggest *sg;
	struct suggest_set used_jobs;	  /* jobs whose spans were used */
	struct suggest_set enforce_jobs;  /* of those, the ones in enforce mode */
	struct suggest_set skipped_jobs;  /* enforce-mode jobs left aside (no --job) */
	struct suggest_set flagged;	  /* "JOB\nREASON" of egress.probe spans */
	struct suggest_set policies;	  /* egress.policy.name of the spans used */
	uint64_t n_conn, n_dns, n_unusable;
};

static const cJSON *item(const cJSON *o, const char *key)
{
	return cJSON_GetObjectItemCaseSensitive(o, key);
}

static bool wanted_job(const struct cmd *c, const char *job)
{
	if (!c->n_jobs)
		return true;
	for (size_t i = 0; i < c->n_jobs; i++)
		if (!strcmp(c->jobs[i], job))
			return true;
	return false;
}

/* dns.answers holds at least one address */
static bool has_answers(const struct audit_span *s)
{
	const cJSON *a = item(item(audit_attr(s->attrs, "dns.answers"), "arrayValue"), "values");

	return cJSON_GetArraySize(a) > 0;
}

static int on_span(void *ctx, const struct audit_span *s)
{
	struct cmd *c = ctx;
	const char *job = audit_attr_str(s, "egress.job.id");
	const char *pol = audit_attr_str(s, "egress.policy.name");
	const char *mode = audit_attr_str(s, "egress.mode");
	bool dns = !strcmp(s->name, "egress.dns"), send = !strcmp(s->name, "egress.send");
	int64_t port;
	int ret;

	if (!job || !wanted_job(c, job) || (c->policy && (!pol || strcmp(pol, c->policy))))
		return 0;
	if (!strcmp(s->name, "egress.probe")) {
		const char *why = audit_attr_str(s, "egress.probe.reason");
		char *k;

		if (asprintf(&k, "%s\n%s", job, why ? why : "?") < 0)
			return -ENOMEM;
		ret = suggest_set_add(&c->flagged, k, NULL);
		free(k);
		return ret;
	}
	if (!dns && !send && strcmp(s->name, "egress.connect"))
		return 0;
	/* the canary (include/ef_abi.h) is refused whatever a policy says:
	 * a rule for it would allow nothing */
	if (!dns && audit_attr_str(s, "egress.reason") &&
	    !strcmp(audit_attr_str(s, "egress.reason"), "canary"))
		return 0;
	if (dns) {
		const char *why = audit_attr_str(s, "egress.reason");

		/* the proxy's folded refusals (a count, the last question at most)
		 * say nothing about which names the job needs */
		if (why && (!strcmp(why, "dns_malformed") || !strcmp(why, "dns_limit")))
			return 0;
	}
	if (!mode || strcmp(mode, "audit")) {
		/* what a job did under enforce was shaped by that policy: only
		 * when asked for by name */
		if (!c->n_jobs)
			return suggest_set_add(&c->skipped_jobs, job, NULL);
		ret = suggest_set_add(&c->enforce_jobs, job, NULL);
		if (ret)
			return ret;
	}
	if (dns) {
		const char *q = audit_attr_str(s, "dns.question.name");

		ret = q ? suggest_add_dns(c->sg, job, q, has_answers(s)) : -EINVAL;
		c->n_dns++;
	} else {
		if (!audit_attr_int(s, "server.port", &port) &&
		    !audit_attr_int(s, "network.peer.port", &port))
			port = 0;
		ret = suggest_add_conn(c->sg, job, audit_attr_str(s, "server.address"),
				       audit_attr_str(s, "network.peer.address"), (long)port,
				       audit_attr_str(s, "network.transport"), send);
		c->n_conn++;
	}
	if (ret == -EINVAL) {
		c->n_unusable++;
		ret = 0;
	}
	if (!ret)
		ret = suggest_set_add(&c->used_jobs, job, NULL);
	if (!ret && pol)
		ret = suggest_set_add(&c->policies, pol, NULL);
	return ret;
}

/* ---- options ---------------------------------------------------------- */

static int usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, PROG ": ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\nRun 'egressctl policy suggest --help' for the options.\n");
	return 2;
}


struct opts {
	const char *since, *name, *state_dir, *against;
	unsigned wildcard_min;
};

static int parse_opts(int argc, char **argv, struct cmd *c, struct opts *o)
{
	const char *val;
	int ret;

	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];

		if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
			fputs(suggest_help, stdout);
			return 1;
		} else if ((ret = ctl_opt_arg(argc, argv, &i, "--job", &val))) {
			if (ret < 0)
				return usage_error("%s needs a job id", "--job");
			c->jobs[c->n_jobs++] = val;
		} else if ((ret = ctl_opt_arg(argc, argv, &i, "--policy", &val))) {
			if (ret < 0 || !ef_policy_name_valid(val))
				return usage_error("%s needs " NAME_RULE, "--policy");
			c->policy = val;
		} else if ((ret = ctl_opt_arg(argc, argv, &i, "--since", &val))) {
			if (ret < 0)
				return usage_error("%s needs a duration such as 30s, 15m, 2h, 1d "
						   "or 1h30m",
						   "--since");
			o->since = val;
		} else if ((ret = ctl_opt_arg(argc, argv, &i, "--name", &val))) {
			if (ret < 0 || !ef_policy_name_valid(val))
				return usage_error("%s needs " NAME_RULE, "--name");
			o->name = val;
		} else if ((ret = ctl_opt_arg(argc, argv, &i, "--state-dir", &val))) {
			if (ret < 0)
				return usage_error("%s needs a directory", "--state-dir");
			o->state_dir = val;
		} else if ((ret = ctl_opt_arg(argc, argv, &i, "--against", &val))) {
			if (ret < 0)
				return usage_error("%s needs a policy file", "--against");
			o->against = val;
		} else if ((ret = ctl_opt_arg(argc, argv, &i, "--wildcard-min", &val))) {
			char *end;
			unsigned long n;

			errno = 0;
			n = ret < 0 || !(*val >= '0' && *val <= '9') ? 1 : strtoul(val, &end, 10);
			if (ret < 0 || n == 1 || errno || *end || n > WILDCARD_MIN_MAX)
				return usage_error("%s needs a number of names: 0 (never) or 2 to "
						   "100000",
						   "--wildcard-min");
			o->wildcard_min = (unsigned)n;
		} else if (arg[0] == '-') {
			return usage_error("unknown option %s", arg);
		} else {
			return usage_error("unexpected argument \"%s\"", arg);
		}
	}
	return 0;
}

/* ---- printing --------------------------------------------------------- */

/* "a, b, c" of a set, sorted, on stderr */
static int print_set(const struct suggest_set *set)
{
	const char **v;
	int ret = suggest_set_sorted(set, &v);

	if (ret)
		return ret;
	for (size_t i = 0; i < set->n; i++)
		fprintf(stderr, "%s%s", i ? ", " : "", v[i]);
	free(v);
	return 0;
}

static int warn_jobs(const struct cmd *c)
{
	const char **v;
	int ret;

	if (c->enforce_jobs.n) {
		fprintf(stderr, PROG ": warning: job%s ", c->enforce_jobs.n == 1 ? "" : "s");
		ret = print_set(&c->enforce_jobs);
		if (ret)
			return ret;
		fprintf(stderr, " ran in enforce mode: what %s tried, refused or not, is in the "
				"suggestion\n",
			c->enforce_jobs.n == 1 ? "it" : "they");
	}
	ret = suggest_set_sorted(&c->flagged, &v);
	if (ret)
		return ret;
	for (size_t i = 0; i < c->flagged.n; i++) {
		const char *nl = strchr(v[i], '\n');
		char job[256];

		snprintf(job, sizeof(job), "%.*s", (int)(nl - v[i]), v[i]);
		if (suggest_set_has(&c->used_jobs, job))
			fprintf(stderr,
				PROG ": warning: job %s was flagged as probing (%s): review what "
				     "the suggestion allows\n",
				job, nl + 1);
	}
	free(v);
	return 0;
}

static void say_results(const struct suggest_result *r)
{
	for (size_t i = 0; i < r->n_left_out; i++)
		fprintf(stderr, "left out: %s (add by hand if the job needs it)\n", r->left_out[i]);
	for (size_t i = 0; i < r->n_unconnected; i++)
		fprintf(stderr, "resolved but never connected: %s\n", r->unconnected[i]);
	for (size_t i = 0; i < r->n_denied; i++)
		fprintf(stderr, "denied by the policy compared against: %s\n", r->denied[i]);
	if (r->n_sort_probes)
		fprintf(stderr,
			"not added: UDP connects to %zu name:port pair%s that the same job reached "
			"over TCP (getaddrinfo sorting its answers; nothing is sent)\n",
			r->n_sort_probes, r->n_sort_probes == 1 ? "" : "s");
}

/* The policy checked the way egressd will take it: parsed and compiled. */
static int self_check(const char *text)
{
	char err[EF_ERR_LEN];
	struct ef_policy *p = NULL;
	struct ef_compiled *cp = NULL;
	int ret;

	ret = ef_policy_parse(text, strlen(text), "<suggested>", &p, err, sizeof(err));
	if (!ret)
		ret = ef_policy_compile(p, 1, &cp, err, sizeof(err));
	if (ret)
		fprintf(stderr, PROG ": the suggested policy does not validate (a bug): %s\n", err);
	ef_compiled_free(cp);
	ef_policy_free(p);
	return ret;
}

static int print_diff(const char *file, const struct suggest_result *r)
{
	for (size_t i = 0; i < r->n_allow; i++) {
		char err[EF_ERR_LEN];
		struct ef_rule rule = { 0 };

		if (ef_rule_parse(r->allow[i], false, &rule, err, sizeof(err))) {
			fprintf(stderr, PROG ": suggested rule \"%s\" does not parse (a bug): %s\n",
				r->allow[i], err);
			return -EINVAL;
		}
		ef_rule_clear(&rule);
	}
	for (size_t i = 0; i < r->n_allow; i++)
		printf("+ %s\n", r->allow[i]);
	for (size_t i = 0; i < r->n_unused; i++)
		printf("- %s (unused)\n", r->unused[i]);
	if (!r->n_allow && !r->n_unused)
		fprintf(stderr,
			"%s allows everything the jobs did, and every allow rule was used\n", file);
	return 0;
}

/* ---- the command ------------------------------------------------------ */

int cmd_policy_suggest(int argc, char **argv)
{
	struct opts o = { .since = DEFAULT_SINCE, .wildcard_min = WILDCARD_MIN_DEFAULT };
	struct cmd c = { 0 };
	struct audit_reader r = { .prog = PROG, .fn = on_span, .ctx = &c };
	struct suggest_result res = { 0 };
	struct ef_policy *against = NULL;
	const char **pols = NULL;
	const psl_ctx_t *psl = NULL;
	psl_ctx_t *psl_file = NULL;
	enum audit_dir_source src;
	char state[4096], dir[4200], err[EF_ERR_LEN], *text = NULL;
	const char *name;
	uint64_t dur, now = ef_now_realtime_ns();
	bool verbatim = true;
	int ret, rc = 1;

	c.jobs = calloc((size_t)argc + 1, sizeof(*c.jobs));
	if (!c.jobs) {
		fprintf(stderr, PROG ": %s\n", strerror(ENOMEM));
		return 1;
	}
	ret = parse_opts(argc, argv, &c, &o);
	if (ret) {
		free(c.jobs);
		return ret == 1 ? 0 : ret;
	}
	if (audit_parse_duration(o.since, &dur)) {
		free(c.jobs);
		return usage_error("bad --since \"%s\": want NUMBER UNIT... with units ms, s, m, "
				   "h, d, w (30s, 15m, 2h, 1d, 1h30m)",
				   o.since);
	}
	if (o.against && ef_policy_load(o.against, &against, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		free(c.jobs);
		return 1;
	}

	/* lines without a wanted job id (or policy name) are not even parsed */
	for (size_t i = 0; i < c.n_jobs; i++)
		verbatim = verbatim && audit_json_verbatim(c.jobs[i]);
	if (c.n_jobs && verbatim) {
		r.needles = c.jobs;
		r.n_needles = c.n_jobs;
	} else if (!c.n_jobs && c.policy) {
		r.needles = &c.policy;
		r.n_needles = 1;
	}
	r.since = true;
	r.cutoff_ns = dur < now ? now - dur : 0;

	psl_file = psl_latest(NULL);
	psl = psl_file ? psl_file : psl_builtin();
	if (!psl && o.wildcard_min)
		fprintf(stderr, PROG ": no public suffix list (libpsl): no wildcard rules\n");
	ret = suggest_new(&(struct suggest_opts){ .wildcard_min = o.wildcard_min, .psl = psl },
			  &c.sg);
	if (ret)
		goto fail;

	src = audit_state_dir(PROG, o.state_dir, state, sizeof(state));
	snprintf(dir, sizeof(dir), "%s/journal", state);
	r.dir = dir;
	ret = audit_read(&r);
	if (ret && !r.listed) {
		fprintf(stderr, PROG ": no journal at %s: %s", r.dir, strerror(-ret));
		if (src == AUDIT_DIR_DEFAULT)
			fprintf(stderr, " (egressd is not answering at %s; pass --state-dir DIR)",
				ctl_socket_path);
		fprintf(stderr, "\n");
		goto cleanup;
	}
	if (ret)
		goto fail;
	if (!r.n_lines_ok && (r.n_lines_bad || r.n_unreadable)) {
		fprintf(stderr, PROG ": nothing in %s could be read\n", r.dir);
		goto cleanup;
	}
	if (!c.n_conn && !c.n_dns) {
		fprintf(stderr, PROG ": no egress.connect, egress.send or egress.dns spans of %s",
			c.n_jobs ? "" : "audit-mode jobs");
		for (size_t i = 0; i < c.n_jobs; i++)
			fprintf(stderr, "%sjob %s", i ? ", " : "", c.jobs[i]);
		if (c.policy)
			fprintf(stderr, " under policy %s", c.policy);
		fprintf(stderr, " in the last %s in %s\n", o.since, r.dir);
		if (c.skipped_jobs.n) {
			fprintf(stderr, PROG ": left aside: enforce-mode job%s ",
				c.skipped_jobs.n == 1 ? "" : "s");
			ret = print_set(&c.skipped_jobs);
			if (ret)
				goto fail;
			fprintf(stderr, " (name them with --job to use them)\n");
		}
		goto cleanup;
	}

	ret = suggest_rules(c.sg, against, &res);
	if (ret)
		goto fail;
	fprintf(stderr,
		"read %" PRIu64 " decision span%s (%" PRIu64 " connect/send, %" PRIu64
		" dns) of %zu job%s from %u journal file%s under %s\n",
		c.n_conn + c.n_dns, c.n_conn + c.n_dns == 1 ? "" : "s", c.n_conn, c.n_dns,
		c.used_jobs.n, c.used_jobs.n == 1 ? "" : "s", r.n_files, r.n_files == 1 ? "" : "s",
		r.dir);
	if (c.n_unusable)
		fprintf(stderr, PROG ": %" PRIu64 " span%s without a usable destination skipped\n",
			c.n_unusable, c.n_unusable == 1 ? "" : "s");
	ret = warn_jobs(&c);
	if (ret)
		goto fail;
	say_results(&res);

	if (against) {
		rc = print_diff(o.against, &res) ? 1 : 0;
		goto cleanup;
	}
	ret = suggest_set_sorted(&c.policies, &pols);
	if (ret)
		goto fail;
	name = o.name ? o.name : c.policies.n == 1 ? pols[0] : DEFAULT_NAME;
	ret = suggest_policy_text(name, res.allow, res.n_allow, &text);
	if (ret)
		goto fail;
	if (self_check(text))
		goto cleanup;
	fputs(text, stdout);
	if (fflush(stdout) || ferror(stdout)) {
		fprintf(stderr, PROG ": writing the policy: %s\n", strerror(errno));
		goto cleanup;
	}
	rc = 0;
	goto cleanup;
fail:
	fprintf(stderr, PROG ": %s\n", strerror(-ret));
cleanup:
	free(text);
	free(pols);
	suggest_result_free(&res);
	suggest_free(c.sg);
	suggest_set_free(&c.used_jobs);
	suggest_set_free(&c.enforce_jobs);
	suggest_set_free(&c.skipped_jobs);
	suggest_set_free(&c.flagged);
	suggest_set_free(&c.policies);
	psl_free(psl_file);
	ef_policy_free(against);
	free(c.jobs);
	return rc;
}
