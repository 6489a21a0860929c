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
#include "cgroup.h"
#include "policy.h"
#include "seccomp.h"
#include "util.h"

#define EXIT_FENCE 125

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
	char key[129];

	if (!eq || eq == kv || (size_t)(eq - kv) >= sizeof(key)) {
		fprintf(stderr, "egressctl run: --attr wants KEY=VALUE, got \"%s\"\n", kv);
		return -EINVAL;
	}
	memcpy(key, kv, eq - kv);
	key[eq - kv] = '\0';
	cJSON_DeleteItemFromObject(attrs, key); /* the last one wins */
	cJSON_AddStringToObject(attrs, key, eq + 1);
	return 0;
}

/* egressd asks for the seccomp fallback when BPF LSM cannot refuse
 * socket families on this kernel. */
static int install_seccomp(const cJSON *reply)
{
	const cJSON *fams = cJSON_GetObjectItem(reply, "seccomp_families"), *f;
	int allowed[64], n = 0, ret;

	if (!fams)
		return 0;
	cJSON_ArrayForEach(f, fams)
		if (cJSON_IsNumber(f) && n < 64)
			allowed[n++] = (int)f->valuedouble;
	ret = ef_seccomp_refuse_families(allowed, n);
	if (ret)
		fprintf(stderr, "egressctl: installing the socket-family filter: %s\n",
			strerror(-ret));
	return ret;
}

int cmd_run(int argc, char **argv)
{
	const char *tp = getenv("TRACEPARENT"), *policy = NULL, *job_id = NULL;
	cJSON *req = cJSON_CreateObject(), *attrs = cJSON_CreateObject(), *args, *reply = NULL;
	const cJSON *ok, *cg, *jid, *tpo;
	char mine[4096];
	int i, fd = -1, ret = EXIT_FENCE;

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
		if (i + 1 >= argc) {
			fprintf(stderr, "egressctl run: %s needs a value\n", a);
			goto out;
		}
		if (!strcmp(a, "--policy"))
			policy = argv[++i];
		else if (!strcmp(a, "--job-id"))
			job_id = argv[++i];
		else if (!strcmp(a, "--traceparent"))
			tp = argv[++i];
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
	cJSON_AddStringToObject(req, "op", "run");
	if (policy && add_policy(req, policy))
		goto out;
	if (job_id)
		cJSON_AddStringToObject(req, "job_id", job_id);
	if (tp && *tp)
		cJSON_AddStringToObject(req, "traceparent", tp);
	cJSON_AddItemToObject(req, "attrs", attrs);
	attrs = NULL;
	args = cJSON_AddArrayToObject(req, "argv");
	for (int k = i; k < argc && args; k++)
		cJSON_AddItemToArray(args, cJSON_CreateString(argv[k]));

	reply = ctl_request(req, &fd);
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
	/* trust, but verify: this process must now be in the job's cgroup */
	cg = cJSON_GetObjectItem(reply, "cgroup");
	jid = cJSON_GetObjectItem(reply, "job_id");
	tpo = cJSON_GetObjectItem(reply, "traceparent");
	if (!cJSON_IsString(cg) || ef_cgroup_of_pid(getpid(), mine, sizeof(mine)) ||
	    strcmp(mine, cg->valuestring)) {
		fprintf(stderr, "egressctl: this process is not in the job cgroup %s; not running "
				"%s unfenced\n", cJSON_IsString(cg) ? cg->valuestring : "?", argv[i]);
		goto out;
	}
	if (install_seccomp(reply))
		goto out;
	/* the command's own spans nest under the job's span */
	if (cJSON_IsString(jid))
		setenv("EGRESS_FENCE_JOB_ID", jid->valuestring, 1);
	if (cJSON_IsString(tpo))
		setenv("TRACEPARENT", tpo->valuestring, 1);
	close(fd);
	fd = -1;
	cJSON_Delete(reply);
	cJSON_Delete(req);
	execvp(argv[i], argv + i);
	ret = errno == ENOENT ? 127 : 126;
	fprintf(stderr, "egressctl: %s: %s\n", argv[i], strerror(errno));
	return ret;
out:
	if (fd >= 0)
		close(fd);
	cJSON_Delete(attrs);
	cJSON_Delete(reply);
	cJSON_Delete(req);
	return ret;
}
