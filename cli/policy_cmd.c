// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * egressctl policy: list, show, validate and diff run here, with the same
 * parser egressd uses, so they need no daemon (the policy dir is asked of
 * egressd, or given with --policy-dir). apply, add and remove are egressd's:
 * it checks who is asking, writes the file and switches running jobs
 * (daemon/policy_change/policy_ops.c). suggest is cli/suggest.c.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "egressctl.h"
#include "policy.h"
#include "lib/util.h"

/* Rules that open everything, and contradictory rules, are errors unless
 * --force (then warnings), as egressd's apply treats them. */
static int validate(int argc, char **argv, bool force)
{
	int bad = 0;

	if (argc < 1) {
		fprintf(stderr, "egressctl policy validate: no file given\n");
		return 2;
	}
	for (int i = 0; i < argc; i++) {
		char err[EF_ERR_LEN];
		struct ef_policy *p = NULL;

		if (ef_policy_load(argv[i], &p, err, sizeof(err))) {
			fprintf(stderr, "%s\n", err);
			bad++;
			continue;
		}
		if (ef_policy_lint(p, err, sizeof(err))) {
			fprintf(stderr, "%s%s\n", force ? "warning: " : "", err);
			if (!force) {
				bad++;
				ef_policy_free(p);
				continue;
			}
		}
		printf("%s: ok (policy %s, %s, %zu rules", argv[i], p->name,
		       p->mode == EF_MODE_AUDIT ? "audit" : "enforce", p->n_rules);
		if (p->n_inbound)
			printf(", %zu inbound", p->n_inbound);
		printf(")\n");
		ef_policy_free(p);
	}
	return bad ? 1 : 0;
}

static int policy_dir(char *out, size_t len, const char *flag)
{
	cJSON *req, *r;
	const char *d;

	if (flag) {
		snprintf(out, len, "%s", flag);
		return 0;
	}
	req = cJSON_CreateObject();
	cJSON_AddStringToObject(req, "op", "status");
	r = ctl_request(req, NULL);
	cJSON_Delete(req);
	d = r ? cJSON_GetStringValue(cJSON_GetObjectItem(r, "policy_dir")) : NULL;
	if (!d) {
		fprintf(stderr, "egressctl policy: pass --policy-dir DIR or start egressd\n");
		cJSON_Delete(r);
		return -ENOENT;
	}
	snprintf(out, len, "%s", d);
	cJSON_Delete(r);
	return 0;
}

static int list(const char *dir)
{
	struct dirent *de;
	DIR *dh = opendir(dir);

	if (!dh) {
		fprintf(stderr, "egressctl policy list: %s: %s\n", dir, strerror(errno));
		return 1;
	}
	while ((de = readdir(dh))) {
		size_t n = strlen(de->d_name);
		char path[8192], err[EF_ERR_LEN];
		struct ef_policy *p = NULL;

		if (n < 6 || strcmp(de->d_name + n - 5, ".json"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (ef_policy_load(path, &p, err, sizeof(err))) {
			printf("%-24.*s INVALID  %s\n", (int)(n - 5), de->d_name, err);
			continue;
		}
		printf("%-24s %-8s %zu rules\n", p->name, p->mode == EF_MODE_AUDIT ? "audit" : "enforce",
		       p->n_rules);
		ef_policy_free(p);
	}
	closedir(dh);
	return 0;
}

static int show(const char *dir, const char *name)
{
	char path[8192], *text = NULL;
	int ret;

	if (strchr(name, '/'))
		snprintf(path, sizeof(path), "%s", name);
	else
		snprintf(path, sizeof(path), "%s/%s.json", dir, name);
	ret = ef_read_file(path, EF_POLICY_MAX_BYTES, &text, NULL);
	if (ret) {
		fprintf(stderr, "egressctl policy show: %s: %s\n", path, strerror(-ret));
		return 1;
	}
	fputs(text, stdout);
	free(text);
	return 0;
}

static const char usage_text[] =
	"usage: egressctl policy [--policy-dir DIR] list\n"
	"       egressctl policy show NAME\n"
	"       egressctl policy validate [--force] FILE...\n"
	"       egressctl policy diff FILE [--name NAME]\n"
	"       egressctl policy apply [--force] [--json] FILE\n"
	"       egressctl policy add [--deny|--inbound] [--force] [--json] NAME RULE...\n"
	"       egressctl policy remove [--deny|--inbound] [--force] [--json] NAME RULE...\n"
	"       egressctl policy suggest [OPTIONS] (see 'egressctl policy suggest --help')\n";

/* Print the change egressd made. */
static void print_change(const cJSON *r, const char *verb)
{
	const char *name = cJSON_GetStringValue(cJSON_GetObjectItem(r, "name"));
	const char *path = cJSON_GetStringValue(cJSON_GetObjectItem(r, "path"));
	static const char *const lists[] = { "added", "removed", "settings" };
	static const char marks[] = { '+', '-', '~' };

	if (!cJSON_IsTrue(cJSON_GetObjectItem(r, "changed"))) {
		printf("policy %s: unchanged (%s)\n", name ? name : "?", path ? path : "?");
		return;
	}
	printf("policy %s %s (%s)\n", name ? name : "?",
	       cJSON_IsTrue(cJSON_GetObjectItem(r, "created")) ? "created" : verb, path ? path : "?");
	for (int k = 0; k < 3; k++) {
		const cJSON *v, *arr = cJSON_GetObjectItem(r, lists[k]);

		cJSON_ArrayForEach(v, arr)
			if (cJSON_IsString(v))
				printf("  %c %s\n", marks[k], v->valuestring);
	}
	printf("running jobs switched: %d; connections closed: %d; learned addresses forgotten: %d\n",
	       (int)cJSON_GetNumberValue(cJSON_GetObjectItem(r, "jobs")),
	       (int)cJSON_GetNumberValue(cJSON_GetObjectItem(r, "connections_closed")),
	       (int)cJSON_GetNumberValue(cJSON_GetObjectItem(r, "addresses_forgotten")));
}

static int send_change(cJSON *req, bool json, const char *verb)
{
	cJSON *r = ctl_request(req, NULL);
	int ret = 1;

	cJSON_Delete(req);
	if (!r)
		return 1;
	if (!cJSON_IsTrue(cJSON_GetObjectItem(r, "ok"))) {
		const char *e = cJSON_GetStringValue(cJSON_GetObjectItem(r, "error"));

		fprintf(stderr, "egressctl policy %s: %s\n", verb, e ? e : "refused");
	} else {
		ret = 0;
	}
	if (json) {
		char *s = cJSON_PrintUnformatted(r);

		if (s)
			puts(s);
		free(s);
	} else if (!ret) {
		print_change(r, !strcmp(verb, "apply") ? "applied" : "changed");
	}
	cJSON_Delete(r);
	return ret;
}

static int apply(int argc, char **argv, bool force, bool json)
{
	char err[EF_ERR_LEN], *text = NULL;
	struct ef_policy *p = NULL;
	size_t len = 0;
	cJSON *req;
	int ret;

	if (argc != 1) {
		fprintf(stderr, "egressctl policy apply: give one FILE\n");
		return 2;
	}
	ret = ef_read_file(argv[0], EF_POLICY_MAX_BYTES, &text, &len);
	if (ret) {
		fprintf(stderr, "egressctl policy apply: %s: %s\n", argv[0], strerror(-ret));
		return 1;
	}
	/* checked here too, so a typo is reported without a round trip */
	if (ef_policy_parse(text, len, argv[0], &p, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		free(text);
		return 1;
	}
	ef_policy_free(p);
	req = cJSON_CreateObject();
	cJSON_AddStringToObject(req, "op", "policy_apply");
	cJSON_AddStringToObject(req, "text", text);
	cJSON_AddStringToObject(req, "file", argv[0]);
	cJSON_AddBoolToObject(req, "force", force);
	free(text);
	return send_change(req, json, "apply");
}

static int edit(const char *op, int argc, char **argv, bool deny, bool inbound, bool force,
		bool json)
{
	cJSON *req, *rules;

	if (argc < 2) {
		fprintf(stderr, "egressctl policy %s: give NAME and at least one RULE\n", op);
		return 2;
	}
	if (deny && inbound) {
		fprintf(stderr, "egressctl policy %s: --deny and --inbound together: inbound rules "
				"are allow rules\n", op);
		return 2;
	}
	req = cJSON_CreateObject();
	cJSON_AddStringToObject(req, "op", !strcmp(op, "add") ? "policy_add" : "policy_remove");
	cJSON_AddStringToObject(req, "name", argv[0]);
	rules = cJSON_AddArrayToObject(req, "rules");
	for (int i = 1; i < argc; i++)
		cJSON_AddItemToArray(rules, cJSON_CreateString(argv[i]));
	cJSON_AddBoolToObject(req, "deny", deny);
	if (inbound)
		cJSON_AddBoolToObject(req, "inbound", true);
	cJSON_AddBoolToObject(req, "force", force);
	return send_change(req, json, op);
}

/* diff(1)-like: 0 same, 1 different, 2 trouble. */
static int diff(int argc, char **argv, const char *name_flag, const char *pdir_flag)
{
	char dir[4096], path[8192], err[EF_ERR_LEN];
	struct ef_policy *np = NULL, *old = NULL;
	struct ef_policy_change ch;
	bool missing = false;
	int ret = 2;

	if (argc != 1) {
		fprintf(stderr, "egressctl policy diff: give one FILE\n");
		return 2;
	}
	if (ef_policy_load(argv[0], &np, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		return 2;
	}
	if (policy_dir(dir, sizeof(dir), pdir_flag))
		goto out;
	snprintf(path, sizeof(path), "%s/%s.json", dir, name_flag ? name_flag : np->name);
	if (ef_policy_load(path, &old, err, sizeof(err))) {
		if (access(path, F_OK) == 0) {
			fprintf(stderr, "%s\n", err);
			goto out;
		}
		old = NULL; /* not installed yet: everything is new */
	}
	if (!old) {
		/* not installed yet: every rule is new */
		char t[EF_NAME_MAX + 64];

		snprintf(t, sizeof(t), "{\"name\": \"%s\", \"allow\": []}", np->name);
		if (ef_policy_parse(t, strlen(t), "(none)", &old, err, sizeof(err))) {
			fprintf(stderr, "%s\n", err);
			goto out;
		}
		missing = true;
	}
	if (ef_policy_diff(old, np, &ch)) {
		fprintf(stderr, "egressctl policy diff: out of memory\n");
		goto out;
	}
	printf("--- %s%s\n+++ %s\n", path, missing ? " (not installed)" : "", argv[0]);
	for (size_t i = 0; i < ch.n_settings; i++)
		printf("~ %s\n", ch.settings[i]);
	for (size_t i = 0; i < ch.n_rules; i++)
		printf("%c %s %s\n", ch.rules[i].added ? '+' : '-',
		       ch.rules[i].inbound ? "inbound" : ch.rules[i].deny ? "deny" : "allow",
		       ch.rules[i].text);
	ret = ch.n_settings || ch.n_rules ? 1 : 0;
	ef_policy_change_free(&ch);
out:
	ef_policy_free(np);
	ef_policy_free(old);
	return ret;
}

int cmd_policy(int argc, char **argv)
{
	const char *pdir_flag = NULL, *name_flag = NULL, *sub = NULL;
	bool force = false, deny = false, inbound = false, json = false;
	char **pos, dir[4096];
	int n = 0, i = 1;

	/* suggest has options of its own */
	for (int k = 1; k < argc; k++) {
		if (!strcmp(argv[k], "--policy-dir")) {
			k++;
			continue;
		}
		if (argv[k][0] == '-')
			continue;
		if (!strcmp(argv[k], "suggest"))
			return cmd_policy_suggest(argc - k, argv + k);
		break;
	}
	pos = calloc(argc + 1, sizeof(*pos));
	if (!pos)
		return 1;
	/* options anywhere; "--" ends them (a rule never starts with "-") */
	for (; i < argc; i++) {
		if (!strcmp(argv[i], "--")) {
			while (++i < argc)
				pos[n++] = argv[i];
			break;
		}
		if (!strcmp(argv[i], "--policy-dir") && i + 1 < argc)
			pdir_flag = argv[++i];
		else if (!strcmp(argv[i], "--name") && i + 1 < argc)
			name_flag = argv[++i];
		else if (!strcmp(argv[i], "--force"))
			force = true;
		else if (!strcmp(argv[i], "--deny"))
			deny = true;
		else if (!strcmp(argv[i], "--inbound"))
			inbound = true;
		else if (!strcmp(argv[i], "--json"))
			json = true;
		else if (argv[i][0] == '-' && argv[i][1]) {
			fprintf(stderr, "egressctl policy: unknown option %s\n%s", argv[i], usage_text);
			free(pos);
			return 2;
		} else
			pos[n++] = argv[i];
	}
	if (!n) {
		fputs(usage_text, stderr);
		free(pos);
		return 2;
	}
	sub = pos[0];
	{
		int ret;

		if (!strcmp(sub, "validate"))
			ret = validate(n - 1, pos + 1, force);
		else if (!strcmp(sub, "apply"))
			ret = apply(n - 1, pos + 1, force, json);
		else if (!strcmp(sub, "add") || !strcmp(sub, "remove"))
			ret = edit(sub, n - 1, pos + 1, deny, inbound, force, json);
		else if (!strcmp(sub, "diff"))
			ret = diff(n - 1, pos + 1, name_flag, pdir_flag);
		else if (!strcmp(sub, "list") || !strcmp(sub, "show")) {
			if (policy_dir(dir, sizeof(dir), pdir_flag))
				ret = 1;
			else if (!strcmp(sub, "list"))
				ret = list(dir);
			else if (n < 2) {
				fprintf(stderr, "egressctl policy show: which policy?\n");
				ret = 2;
			} else
				ret = show(dir, pos[1]);
		} else {
			fprintf(stderr, "egressctl policy: unknown subcommand \"%s\"\n%s", sub,
				usage_text);
			ret = 2;
		}
		free(pos);
		return ret;
	}
}

const char cmd_policy_help[] =
	"  list                 the policies in the policy dir, with their mode and rule count\n"
	"  show NAME            print <policy-dir>/NAME.json\n"
	"  validate FILE...     check files as egressd would; rules that open everything\n"
	"                       (0.0.0.0/0, *.com) and contradictory rules are errors unless --force\n"
	"  diff FILE            rule by rule, what applying FILE would change (exit 1 if anything)\n"
	"  apply FILE           install FILE as <policy-dir>/NAME.json (NAME: its \"name\")\n"
	"  add NAME RULE...     add allow rules (--deny: deny rules; --inbound: inbound\n"
	"                       peers, PEER:LOCALPORTS) to an installed policy\n"
	"  remove NAME RULE...  remove them\n"
	"  suggest ...          a policy from what audit-mode jobs did\n"
	"\n"
	"apply, add and remove are done by egressd: only root and the config's\n"
	"access.policy_admins may use them. The file is replaced atomically; jobs running\n"
	"under the policy switch to the new version at once, and their open connections\n"
	"that it no longer allows are closed. Each change is an egress.policy span.\n"
	"Options: --force (accept rules that open everything or contradict), --deny, --inbound,\n"
	"--json (egressd's reply), --policy-dir DIR (list, show, diff without egressd),\n"
	"--name NAME (diff against another installed policy).\n";
