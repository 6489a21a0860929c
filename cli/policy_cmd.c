// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * egressctl policy: list, show, validate. Validation runs here, with the
 * same parser egressd uses, so it needs no daemon. The policy dir is asked
 * of egressd (status), or given with --policy-dir.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "egressctl.h"
#include "policy.h"
#include "util.h"

static int validate(int argc, char **argv)
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
		printf("%s: ok (policy %s, %s, %zu rules)\n", argv[i], p->name,
		       p->mode == EF_MODE_AUDIT ? "audit" : "enforce", p->n_rules);
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

int cmd_policy(int argc, char **argv)
{
	const char *pdir_flag = NULL;
	char dir[4096];
	int i = 1;

	while (i + 1 < argc && !strcmp(argv[i], "--policy-dir")) {
		pdir_flag = argv[i + 1];
		i += 2;
	}
	if (i >= argc) {
		fprintf(stderr, "usage: egressctl policy list | show NAME | validate FILE...\n");
		return 2;
	}
	if (!strcmp(argv[i], "validate"))
		return validate(argc - i - 1, argv + i + 1);
	if (!strcmp(argv[i], "list") || !strcmp(argv[i], "show")) {
		if (policy_dir(dir, sizeof(dir), pdir_flag))
			return 1;
		if (!strcmp(argv[i], "list"))
			return list(dir);
		if (i + 1 >= argc) {
			fprintf(stderr, "egressctl policy show: which policy?\n");
			return 2;
		}
		return show(dir, argv[i + 1]);
	}
	if (!strcmp(argv[i], "suggest"))
		return cmd_policy_suggest(argc - i, argv + i);
	if (!strcmp(argv[i], "apply") || !strcmp(argv[i], "add") || !strcmp(argv[i], "remove") ||
	    !strcmp(argv[i], "diff")) {
		fprintf(stderr, "egressctl policy %s: not in this version yet; edit "
				"<policy-dir>/NAME.json and check it with 'egressctl policy validate'\n",
			argv[i]);
		return 2;
	}
	fprintf(stderr, "egressctl policy: unknown subcommand \"%s\"\n", argv[i]);
	return 2;
}
