// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * egressctl run: ask egressd to put this very process into a new job
 * cgroup, check that it did, then exec the command in place (as env(1)
 * does), so the command's exit status and signals are its own.
 * The command never runs unfenced: any failure before exec exits 125.
 * Exec failures exit 126 (found but not runnable) or 127 (not found).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "egressctl.h"
#include "lib/cgroup.h"
#include "ci_env.h"
#include "policy.h"
#include "inherit.h"
#include "notices.h"
#include "overlay.h"
#include "lib/util.h"
#include "run.h"

#define EXIT_FENCE 125

const char cmd_run_help[] =
	"options:\n"
	"  --policy NAME|FILE   <policy-dir>/NAME.json, or a file (a '/' or .json), validated first;\n"
	"                       default: <policy-dir>/default.json, else deny all but the job's own listeners\n"
	"  --job-id ID          the job's id ([A-Za-z0-9._-], at most 64); default: a generated one\n"
	"  --attr KEY=VALUE     a string attribute on the job's span and on every decision span\n"
	"                       of the job; repeatable, the last one of a KEY wins\n"
	"  --traceparent TP     W3C traceparent the job's span is a child of; TRACEPARENT in the\n"
	"                       environment counts as this (the option wins). A malformed one\n"
	"                       is ignored: the job's trace is a new root.\n"
	"  --quiet              no notices of refusals on stderr\n"
	"  --notices FILE       the notices as JSON lines, appended to FILE (also\n"
	"                       EGRESS_FENCE_NOTICES=FILE)\n"
	"  --exec               no notices, no --fail-on-deny: egressctl execs the command in\n"
	"                       its own place (a container's PID 1); refused for a policy with\n"
	"                       \"fail_on_deny\"\n"
	"  --fail-on-deny       exit 122 when the command succeeded but anything of the job\n"
	"                       was refused (or would be, in audit mode) or flagged as a probe;\n"
	"                       a policy with \"fail_on_deny\": true does the same\n"
	"\n"
	"Notices: the first refusal of each (process, destination, reason) prints one line on\n"
	"stderr as it happens: what, why, which policy, and the command that would allow it.\n"
	"egressctl stays the command's parent, outside the job, for them: a signal sent to it\n"
	"is sent on to the command, and it exits as the command did.\n"
	"\n"
	"CI variables are read: in GitHub Actions (GITHUB_ACTIONS=true) and GitLab CI\n"
	"(GITLAB_CI=true) the runner's variables become OpenTelemetry attributes of the job\n"
	"(cicd.pipeline.*, cicd.worker.*, vcs.*, enduser.id; see the README, \"CI attributes\").\n"
	"The agent's identity: gen_ai.agent.name, gen_ai.agent.id and gen_ai.conversation.id\n"
	"from GEN_AI_AGENT_NAME, GEN_AI_AGENT_ID and GEN_AI_CONVERSATION_ID, else from the\n"
	"same keys in OTEL_RESOURCE_ATTRIBUTES. An --attr of the same key wins; values over\n"
	"1024 bytes are cut.\n"
	"\n"
	"The command gets EGRESS_FENCE_JOB_ID, and TRACEPARENT naming the job's span.\n"
	"It does not get the sockets (unix sockets on 0..2 excepted), io_uring instances,\n"
	"pidfds, namespace, BPF and TUN descriptors egressctl inherited: they are closed\n"
	"before exec (0..2: /dev/null), said once on stderr, and recorded on the job's span.\n"
	"Before exec it proves the fence: it talks only to a root listener on a root-owned\n"
	"socket in directories only root may write, and execs only if the fence refused its\n"
	"canary connect (UDP to 192.0.2.1:9, refused to every job whatever the policy).\n"
	"Exit status: the command's (killed by a signal: the same signal); 125 if the fence\n"
	"cannot be set up or proved (the command is then not run), 126 or 127 if it cannot\n"
	"be executed; 122 with --fail-on-deny (above).\n";

static bool is_file_arg(const char *p)
{
	size_t n = strlen(p);

	return strchr(p, '/') || (n > 5 && !strcmp(p + n - 5, ".json"));
}

/* A policy given as a file is validated here first, so a typo is reported
 * with its position before anything else happens. */
static int add_policy(cJSON *req, const char *arg)
{
	char err[EF_ERR_LEN], abs[PATH_MAX];
	struct ef_policy *p = NULL;
	char *text = NULL;
	size_t len;
	int ret;

	if (!is_file_arg(arg)) {
		cJSON_AddStringToObject(req, "policy", arg);
		return 0;
	}
	ret = ef_read_file(arg, EF_POLICY_MAX_BYTES, &text, &len);
	if (ret) {
		fprintf(stderr, "egressctl: %s: %s\n", arg, strerror(-ret));
		return ret;
	}
	ret = ef_policy_parse(text, len, arg, &p, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "%s\n", err);
		free(text);
		return ret;
	}
	ef_policy_free(p);
	cJSON_AddStringToObject(req, "policy_file", realpath(arg, abs) ? abs : arg);
	cJSON_AddStringToObject(req, "policy_text", text);
	free(text);
	return 0;
}

static int add_attr(cJSON *attrs, const char *kv)
{
	const char *eq = strchr(kv, '=');
	char key[EF_ATTR_KEY_MAX + 1];

	if (!eq || eq == kv) {
		fprintf(stderr, "egressctl run: --attr wants KEY=VALUE, got \"%s\"\n", kv);
		return -EINVAL;
	}
	if ((size_t)(eq - kv) >= sizeof(key)) {
		fprintf(stderr, "egressctl run: --attr: a key has at most %d bytes, got %d\n",
			EF_ATTR_KEY_MAX, (int)(eq - kv));
		return -EINVAL;
	}
	memcpy(key, kv, eq - kv);
	key[eq - kv] = '\0';
	/* the last one wins; keys are case-sensitive */
	cJSON_DeleteItemFromObjectCaseSensitive(attrs, key);
	cJSON_AddStringToObject(attrs, key, eq + 1);
	return 0;
}

/* Close what the command must not inherit (inherit.c), say so once, and
 * tell egressd, which records it on the job's span. */
static int close_inherited(cJSON *req, const char *cmd)
{
	struct ef_inherited in;
	char kinds[256] = "";
	cJSON *o, *k;
	int ret = ef_close_inherited(&in, -1, geteuid() == 0);

	if (ret) {
		fprintf(stderr, "egressctl: cannot list or close inherited descriptors "
				"(/proc/self/fd): %s; not running %s unfenced\n", strerror(-ret), cmd);
		return ret;
	}
	o = cJSON_AddObjectToObject(req, "inherited_fds");
	k = o ? cJSON_AddObjectToObject(o, "kinds") : NULL;
	if (!k)
		return -ENOMEM;
	cJSON_AddNumberToObject(o, "closed", in.closed);
	for (int i = 0; i < in.n_kinds; i++) {
		size_t l = strlen(kinds);

		cJSON_AddNumberToObject(k, in.kinds[i], in.count[i]);
		snprintf(kinds + l, sizeof(kinds) - l, "%s%d %s", i ? ", " : "", in.count[i],
			 in.kinds[i]);
	}
	if (in.closed)
		fprintf(stderr, "egressctl: closed %d inherited descriptor%s the command must not "
				"have (%s: fd %s%s)\n", in.closed, in.closed == 1 ? "" : "s", kinds,
			in.fds, in.truncated ? ", ..." : "");
	return 0;
}

/* A cgroup path as /proc/self/cgroup shows it, as egressd names it: in a
 * container with a cgroup namespace of its own, the job's cgroup is
 * outside the namespace's root, and shown from there ("/../../X/job-J") */
static const char *cgroup_seen(const char *p)
{
	while (!strncmp(p, "/../", 4))
		p += 3;
	return p;
}

int cmd_run(int argc, char **argv)
{
	const char *tp = getenv("TRACEPARENT"), *policy = NULL, *job_id = NULL;
	struct ef_tracectx tc;
	cJSON *req = cJSON_CreateObject(), *attrs = cJSON_CreateObject(), *args, *reply = NULL;
	const cJSON *ok, *cg, *jid, *tpo, *dh;
	char cwd[4096];
	char mine[4096], why[PATH_MAX + 256] = "";
	int i, fd = -1, canary = -1, ret = EXIT_FENCE, n_writes = 0;
	bool in_container = false;
	struct sup_opts so = { .notices = getenv("EGRESS_FENCE_NOTICES") };
	struct sup sup = { -1, -1 };
	bool exec_only = false;
	const char *writes[EF_OVERLAY_MAX_THROUGH];

	if (!req || !attrs)
		goto out;
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--")) {
			i++;
			break;
		}
		if (a[0] != '-')
			break;
		if (!strcmp(a, "--quiet")) {
			so.quiet = true;
			continue;
		}
		if (!strcmp(a, "--fail-on-deny")) {
			so.fail_on_deny = true;
			continue;
		}
		if (!strcmp(a, "--exec")) {
			exec_only = true;
			continue;
		}
		if (i + 1 >= argc) {
			fprintf(stderr, "egressctl run: %s needs a value\n", a);
			goto out;
		}
		if (!strcmp(a, "--policy"))
			policy = argv[++i];
		else if (!strcmp(a, "--notices"))
			so.notices = argv[++i];
		else if (!strcmp(a, "--job-id"))
			job_id = argv[++i];
		else if (!strcmp(a, "--traceparent"))
			tp = argv[++i];
		else if (!strcmp(a, "--write")) {
			if (n_writes >= EF_OVERLAY_MAX_THROUGH) {
				fprintf(stderr, "egressctl run: at most %d --write directories\n",
					EF_OVERLAY_MAX_THROUGH);
				goto out;
			}
			writes[n_writes++] = argv[++i];
		}
		else if (!strcmp(a, "--attr")) {
			if (add_attr(attrs, argv[++i]))
				goto out;
		} else {
			fprintf(stderr, "egressctl run: unknown option %s\n", a);
			goto out;
		}
	}
	if (i >= argc) {
		fprintf(stderr, "egressctl run: no command given (egressctl run [options] -- CMD)\n");
		goto out;
	}
	if (tp && *tp && !ef_traceparent_parse(tp, &tc)) {
		fprintf(stderr, "egressctl run: ignoring malformed traceparent \"%.64s\"; the job's "
				"trace starts a new root\n", tp);
		tp = NULL;
	}
	if (so.notices && !*so.notices)
		so.notices = NULL;
	if (exec_only && (so.fail_on_deny || so.notices)) {
		fprintf(stderr, "egressctl run: --exec leaves no parent for %s\n",
			so.fail_on_deny ? "--fail-on-deny" : "the notices (--notices, EGRESS_FENCE_NOTICES)");
		ret = 2;
		goto out;
	}
	/* the parent stays outside the job, for the notices and the verdict
	 * of --fail-on-deny (notices.c); from here on this is the child */
	if (!exec_only && sup_fork(&so, argv[i], &sup))
		goto out;
	/* after the options: an --attr of the same key wins over the runner's */
	if (ef_ci_env_attrs(attrs) || ef_agent_env_attrs(attrs)) {
		fprintf(stderr, "egressctl run: out of memory reading CI variables\n");
		goto out;
	}
	cJSON_AddStringToObject(req, "op", "run");
	if (policy && add_policy(req, policy))
		goto out;
	if (close_inherited(req, argv[i]))
		goto out;
	/* egressd's, and no one else's: checked before the user namespace,
	 * where root's files and root itself would look like nobody's */
	fd = ctl_connect_root(why, sizeof(why));
	if (fd < 0) {
		fprintf(stderr, "egressctl: %s; not running %s unfenced\n", why, argv[i]);
		goto out;
	}
	if (run_isolate_same_user(req, attrs, fd, writes, n_writes, &in_container, argv[i]))
		goto out;
	if (job_id)
		cJSON_AddStringToObject(req, "job_id", job_id);
	if (tp && *tp) {
		/* the job's span carries the caller's tracestate (egressd checks
		 * it); the command inherits it with TRACEPARENT */
		const char *ts = getenv("TRACESTATE");

		cJSON_AddStringToObject(req, "traceparent", tp);
		if (ts && *ts)
			cJSON_AddStringToObject(req, "tracestate", ts);
	}
	/* what the job's containers may bind (daemon/docker/docker.c) */
	if (getcwd(cwd, sizeof(cwd)))
		cJSON_AddStringToObject(req, "cwd", cwd);
	cJSON_AddItemToObject(req, "attrs", attrs);
	attrs = NULL;
	args = cJSON_AddArrayToObject(req, "argv");
	for (int k = i; k < argc && args; k++)
		cJSON_AddItemToArray(args, cJSON_CreateString(argv[k]));

	reply = ctl_exchange(fd, req);
	if (!reply) {
		fprintf(stderr, "egressctl: not running %s unfenced\n", argv[i]);
		goto out;
	}
	ok = cJSON_GetObjectItem(reply, "ok");
	if (!cJSON_IsTrue(ok)) {
		const char *e = cJSON_GetStringValue(cJSON_GetObjectItem(reply, "error"));

		fprintf(stderr, "egressctl: %s\negressctl: not running %s unfenced\n",
			e ? e : "egressd refused the job", argv[i]);
		goto out;
	}
	/* trust, but verify: this process must now be in the job's cgroup, and
	 * (below, last) the fence must refuse it the canary */
	cg = cJSON_GetObjectItem(reply, "cgroup");
	jid = cJSON_GetObjectItem(reply, "job_id");
	tpo = cJSON_GetObjectItem(reply, "traceparent");
	if (!cJSON_IsString(cg) || ef_cgroup_of_pid(getpid(), mine, sizeof(mine)) ||
	    strcmp(cgroup_seen(mine), cg->valuestring)) {
		fprintf(stderr, "egressctl: this process is not in the job cgroup %s; not running "
				"%s unfenced\n", cJSON_IsString(cg) ? cg->valuestring : "?", argv[i]);
		goto out;
	}
	canary = run_canary_open(argv[i]);
	if (canary < 0)
		goto out;
	if (run_install_fallbacks(reply, in_container, exec_only ? 0 : getppid(), argv[i]))
		goto out;
	ret = run_canary_refused(canary, argv[i]);
	canary = -1;
	if (ret) {
		ret = EXIT_FENCE;
		goto out;
	}
	/* the command's own spans nest under the job's span */
	if (cJSON_IsString(jid))
		setenv("EGRESS_FENCE_JOB_ID", jid->valuestring, 1);
	if (cJSON_IsString(tpo))
		setenv("TRACEPARENT", tpo->valuestring, 1);
	/* the job's own Docker endpoint (a policy with "docker"); without
	 * one, a DOCKER_HOST inherited would name a daemon out of reach */
	dh = cJSON_GetObjectItem(reply, "docker_host");
	if (cJSON_IsString(dh) && !strncmp(dh->valuestring, "unix:///", 8)) {
		setenv("DOCKER_HOST", dh->valuestring, 1);
		unsetenv("DOCKER_CONTEXT");
		unsetenv("DOCKER_TLS_VERIFY");
	}
	close(fd);
	fd = -1;
	if (exec_only && cJSON_IsTrue(cJSON_GetObjectItem(reply, "fail_on_deny"))) {
		fprintf(stderr, "egressctl: the job's policy fails on deny (\"fail_on_deny\"), which "
			"--exec cannot do; not running %s\n", argv[i]);
		ret = EXIT_FENCE;
		goto out;
	}
	/* the parent watches the job before the command runs */
	if (!exec_only && sup_ready(&sup, cJSON_GetStringValue(jid) ? jid->valuestring : "",
				    cJSON_IsTrue(cJSON_GetObjectItem(reply, "fail_on_deny")))) {
		ret = EXIT_FENCE;
		goto out;
	}
	cJSON_Delete(reply);
	cJSON_Delete(req);
	execvp(argv[i], argv + i);
	ret = errno == ENOENT ? 127 : 126;
	fprintf(stderr, "egressctl: %s: %s\n", argv[i], strerror(errno));
	return ret;
out:
	if (canary >= 0)
		close(canary);
	if (fd >= 0)
		close(fd);
	cJSON_Delete(attrs);
	cJSON_Delete(reply);
	cJSON_Delete(req);
	return ret;
}
