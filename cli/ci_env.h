/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef EF_CI_ENV_H
#define EF_CI_ENV_H

#include <cjson/cJSON.h>

/* egressd refuses a job whose attribute breaks these limits (ef_job_start in
 * daemon/jobs/jobs.c): keep in sync. */
#define EF_ATTR_KEY_MAX 128
#define EF_ATTR_VALUE_MAX 1024

/*
 * Adds to attrs what the CI runner's environment says about the job:
 * OpenTelemetry cicd.*, vcs.* and enduser.id attributes for GitHub Actions
 * (GITHUB_ACTIONS=true) or GitLab CI (GITLAB_CI=true). A key already in
 * attrs is left alone, so an explicit --attr wins. Unset or empty variables
 * add nothing; a value over EF_ATTR_VALUE_MAX bytes is cut at a UTF-8
 * character boundary so a long variable never fails the job.
 * Returns 0 or -ENOMEM.
 */
int ef_ci_env_attrs(cJSON *attrs);

/*
 * Adds gen_ai.agent.name, gen_ai.agent.id and gen_ai.conversation.id from
 * GEN_AI_AGENT_NAME, GEN_AI_AGENT_ID, GEN_AI_CONVERSATION_ID, else from
 * OTEL_RESOURCE_ATTRIBUTES; a key already in attrs is left alone. Values
 * are cut as ef_ci_env_attrs cuts them. Returns 0 or -ENOMEM.
 */
int ef_agent_env_attrs(cJSON *attrs);

#endif
