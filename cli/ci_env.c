// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * CI attributes from the runner's environment, read by `egressctl run` at
 * job start so every span of the job says which pipeline, task, repository,
 * revision and user it belongs to.
 *
 * Attribute names are OpenTelemetry semantic conventions (registry groups
 * cicd, vcs and enduser); none is made up here. There is no semconv
 * attribute naming the CI product itself, so vcs.provider.name (github,
 * gitlab) stands in for it. The agent's gen_ai.* identity is never guessed
 * from the CI: only the agent, or whoever starts it, knows it, and says so
 * in variables of its own (ef_agent_env_attrs, below).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus_addr.h"
#include "ci_env.h"

struct ci_system {
	const char *detect; /* set to "true" by the runner in every job */
	const char *provider; /* vcs.provider.name */
};

enum { CI_GITHUB, CI_GITLAB };

static const struct ci_system systems[] = {
	[CI_GITHUB] = { "GITHUB_ACTIONS", "github" },
	[CI_GITLAB] = { "GITLAB_CI", "gitlab" },
};

/* Big enough that a builder's output is cut by the value limit, not by the
 * buffer: the cut then lands on a character boundary. */
#define CI_BUILD_MAX (2 * EF_ATTR_VALUE_MAX)

/* One attribute: the first set, non-empty variable of env[], or what build
 * writes (false: its inputs are missing, no attribute). */
struct ci_attr {
	int sys;
	const char *key;
	const char *env[3];
	bool (*build)(const struct ci_system *sys, char *out, size_t len);
};

/* A variable's value, NULL when unset or empty: empty says nothing. */
static const char *ci_var(const char *name)
{
	const char *v = getenv(name);

	return v && *v ? v : NULL;
}

static bool provider(const struct ci_system *sys, char *out, size_t len)
{
	snprintf(out, len, "%s", sys->provider);
	return true;
}

/* GITHUB_SERVER_URL without trailing slashes, so joins have exactly one. */
static int server_len(const char *srv)
{
	size_t n = strlen(srv);

	while (n > 0 && srv[n - 1] == '/')
		n--;
	return (int)(n < CI_BUILD_MAX ? n : CI_BUILD_MAX);
}

static bool gh_repo_url(const struct ci_system *sys, char *out, size_t len)
{
	const char *srv = ci_var("GITHUB_SERVER_URL"), *repo = ci_var("GITHUB_REPOSITORY");

	if (!srv || !repo)
		return false;
	snprintf(out, len, "%.*s/%s", server_len(srv), srv, repo);
	return true;
}

/* The attempt is part of the run's URL: a re-run keeps GITHUB_RUN_ID. */
static bool gh_run_url(const struct ci_system *sys, char *out, size_t len)
{
	const char *srv = ci_var("GITHUB_SERVER_URL"), *repo = ci_var("GITHUB_REPOSITORY");
	const char *id = ci_var("GITHUB_RUN_ID"), *attempt = ci_var("GITHUB_RUN_ATTEMPT");

	if (!srv || !repo || !id)
		return false;
	snprintf(out, len, "%.*s/%s/actions/runs/%s%s%s", server_len(srv), srv, repo, id,
		 attempt ? "/attempts/" : "", attempt ? attempt : "");
	return true;
}

/* GitHub puts the pull request number only in GITHUB_REF, refs/pull/N/merge. */
static bool gh_change_id(const struct ci_system *sys, char *out, size_t len)
{
	const char *ref = ci_var("GITHUB_REF"), *n;
	size_t digits;

	if (!ref || strncmp(ref, "refs/pull/", 10))
		return false;
	n = ref + 10;
	digits = strspn(n, "0123456789");
	if (!digits || n[digits] != '/')
		return false;
	snprintf(out, len, "%.*s", (int)digits, n);
	return true;
}

/* semconv's values are branch and tag; a detached or unknown ref has none. */
static bool gl_ref_type(const struct ci_system *sys, char *out, size_t len)
{
	if (ci_var("CI_COMMIT_TAG"))
		snprintf(out, len, "tag");
	else if (ci_var("CI_COMMIT_BRANCH") || ci_var("CI_MERGE_REQUEST_SOURCE_BRANCH_NAME"))
		snprintf(out, len, "branch");
	else
		return false;
	return true;
}

/* a row whose value is a variable (the first set of up to three), or built */
#define FROM_ENV(sys, key, ...) { sys, key, { __VA_ARGS__ }, NULL }
#define BUILT(sys, key, fn) { sys, key, { NULL }, fn }

/*
 * The mapping, one row per attribute and system. Sources: the OpenTelemetry
 * semantic-conventions registry (model/cicd, model/vcs, enduser); GitHub's
 * "default environment variables" and GitLab's "predefined CI/CD variables".
 */
static const struct ci_attr ci_attrs[] = {
	FROM_ENV(CI_GITHUB, "cicd.pipeline.name", "GITHUB_WORKFLOW"),
	FROM_ENV(CI_GITHUB, "cicd.pipeline.run.id", "GITHUB_RUN_ID"),
	BUILT(CI_GITHUB, "cicd.pipeline.run.url.full", gh_run_url),
	FROM_ENV(CI_GITHUB, "cicd.pipeline.task.name", "GITHUB_JOB"),
	FROM_ENV(CI_GITHUB, "cicd.worker.name", "RUNNER_NAME"),
	BUILT(CI_GITHUB, "vcs.provider.name", provider),
	BUILT(CI_GITHUB, "vcs.repository.url.full", gh_repo_url),
	/* a pull request's head branch; GITHUB_REF_NAME there is "N/merge" */
	FROM_ENV(CI_GITHUB, "vcs.ref.head.name", "GITHUB_HEAD_REF", "GITHUB_REF_NAME"),
	FROM_ENV(CI_GITHUB, "vcs.ref.head.type", "GITHUB_REF_TYPE"),
	FROM_ENV(CI_GITHUB, "vcs.ref.head.revision", "GITHUB_SHA"),
	FROM_ENV(CI_GITHUB, "vcs.ref.base.name", "GITHUB_BASE_REF"),
	BUILT(CI_GITHUB, "vcs.change.id", gh_change_id),
	/* who started this attempt (a re-run), else who started the run */
	FROM_ENV(CI_GITHUB, "enduser.id", "GITHUB_TRIGGERING_ACTOR", "GITHUB_ACTOR"),

	FROM_ENV(CI_GITLAB, "cicd.pipeline.name", "CI_PIPELINE_NAME", "CI_PROJECT_PATH"),
	FROM_ENV(CI_GITLAB, "cicd.pipeline.run.id", "CI_PIPELINE_ID"),
	FROM_ENV(CI_GITLAB, "cicd.pipeline.run.url.full", "CI_PIPELINE_URL"),
	FROM_ENV(CI_GITLAB, "cicd.pipeline.task.name", "CI_JOB_NAME"),
	FROM_ENV(CI_GITLAB, "cicd.pipeline.task.run.id", "CI_JOB_ID"),
	FROM_ENV(CI_GITLAB, "cicd.pipeline.task.run.url.full", "CI_JOB_URL"),
	FROM_ENV(CI_GITLAB, "cicd.worker.id", "CI_RUNNER_ID"),
	FROM_ENV(CI_GITLAB, "cicd.worker.name", "CI_RUNNER_DESCRIPTION"),
	BUILT(CI_GITLAB, "vcs.provider.name", provider),
	FROM_ENV(CI_GITLAB, "vcs.repository.url.full", "CI_PROJECT_URL"),
	FROM_ENV(CI_GITLAB, "vcs.ref.head.name", "CI_COMMIT_REF_NAME"),
	BUILT(CI_GITLAB, "vcs.ref.head.type", gl_ref_type),
	FROM_ENV(CI_GITLAB, "vcs.ref.head.revision", "CI_COMMIT_SHA"),
	FROM_ENV(CI_GITLAB, "vcs.ref.base.name", "CI_MERGE_REQUEST_TARGET_BRANCH_NAME"),
	FROM_ENV(CI_GITLAB, "vcs.change.id", "CI_MERGE_REQUEST_IID"),
	FROM_ENV(CI_GITLAB, "enduser.id", "GITLAB_USER_LOGIN"),
};

/* How many bytes of v to keep: at most the daemon's limit, and never half
 * of a UTF-8 sequence (the OTLP exporter must send valid UTF-8). */
static size_t fit_len(const char *v)
{
	size_t n = strlen(v);

	if (n <= EF_ATTR_VALUE_MAX)
		return n;
	n = EF_ATTR_VALUE_MAX;
	while (n > 0 && ((unsigned char)v[n] & 0xc0) == 0x80)
		n--;
	return n;
}

static int add_attr(cJSON *attrs, const char *key, const char *v)
{
	char *cut;
	cJSON *item;

	/* attribute keys are case-sensitive, unlike cJSON_GetObjectItem */
	if (cJSON_GetObjectItemCaseSensitive(attrs, key))
		return 0;
	cut = strndup(v, fit_len(v));
	if (!cut)
		return -ENOMEM;
	item = cJSON_AddStringToObject(attrs, key, cut);
	free(cut);
	return item ? 0 : -ENOMEM;
}

static const struct ci_system *detect(int *ret_sys)
{
	for (size_t i = 0; i < sizeof(systems) / sizeof(systems[0]); i++) {
		const char *v = getenv(systems[i].detect);

		if (v && !strcmp(v, "true")) {
			*ret_sys = (int)i;
			return &systems[i];
		}
	}
	return NULL;
}

int ef_ci_env_attrs(cJSON *attrs)
{
	const struct ci_system *sys;
	char buf[CI_BUILD_MAX];
	int which, ret;

	sys = detect(&which);
	if (!sys)
		return 0;
	for (size_t i = 0; i < sizeof(ci_attrs) / sizeof(ci_attrs[0]); i++) {
		const struct ci_attr *a = &ci_attrs[i];
		const char *v = NULL;

		if (a->sys != which)
			continue;
		if (a->build) {
			if (a->build(sys, buf, sizeof(buf)) && buf[0])
				v = buf;
		} else {
			for (size_t k = 0; k < sizeof(a->env) / sizeof(a->env[0]) && a->env[k] && !v;
			     k++)
				v = ci_var(a->env[k]);
		}
		if (!v)
			continue;
		ret = add_attr(attrs, a->key, v);
		if (ret)
			return ret;
	}
	return 0;
}

/*
 * The agent's identity, for a backend to join the fence's spans with the
 * agent's own: gen_ai.agent.name, gen_ai.agent.id and gen_ai.conversation.id
 * (OpenTelemetry GenAI conventions). No standard variable carries them, so
 * two places are read, the first found wins:
 *   GEN_AI_AGENT_NAME, GEN_AI_AGENT_ID, GEN_AI_CONVERSATION_ID
 *     (the attribute's name in capitals, '.' as '_', as OTEL_* variables are
 *     spelt), set by whatever starts the agent;
 *   OTEL_RESOURCE_ATTRIBUTES, key=value,... with %-encoded values (the SDK
 *     variable an instrumented agent is configured with).
 * An --attr of the same key wins over both.
 */
static const struct {
	const char *key, *env;
} agent_attrs[] = {
	{ "gen_ai.agent.name", "GEN_AI_AGENT_NAME" },
	{ "gen_ai.agent.id", "GEN_AI_AGENT_ID" },
	{ "gen_ai.conversation.id", "GEN_AI_CONVERSATION_ID" },
};

/* key's value in an OTEL_RESOURCE_ATTRIBUTES list, %-decoded (ef_pct_unescape) and trimmed,
 * into out; false if absent, empty or malformed (a bad %-escape). */
static bool resource_attr(const char *list, const char *key, char *out, size_t len)
{
	size_t klen = strlen(key);

	for (const char *p = list; p && *p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL) {
		const char *end = strchr(p, ','), *v;

		while (*p == ' ' || *p == '\t')
			p++;
		if (strncmp(p, key, klen))
			continue;
		v = p + klen;
		while (*v == ' ' || *v == '\t')
			v++;
		if (*v != '=')
			continue;
		v++;
		if (!end)
			end = v + strlen(v);
		while (v < end && (*v == ' ' || *v == '\t'))
			v++;
		while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
			end--;
		return v < end && !ef_pct_unescape(v, end, out, len);
	}
	return false;
}

int ef_agent_env_attrs(cJSON *attrs)
{
	const char *res = getenv("OTEL_RESOURCE_ATTRIBUTES");
	char buf[CI_BUILD_MAX];
	int ret;

	for (size_t i = 0; i < sizeof(agent_attrs) / sizeof(agent_attrs[0]); i++) {
		const char *v = ci_var(agent_attrs[i].env);

		if (!v && res && resource_attr(res, agent_attrs[i].key, buf, sizeof(buf)))
			v = buf;
		if (!v)
			continue;
		ret = add_attr(attrs, agent_attrs[i].key, v);
		if (ret)
			return ret;
	}
	return 0;
}
