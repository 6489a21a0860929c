// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Deciding from the kernel feature probes: which feature is missing, what
 * egressd says about it, and whether it may start. The probes themselves
 * are the table's (kernel_probes.c for the real kernel; the unit test
 * passes a table of its own), so that this part runs anywhere.
 *
 * Rules: a feature is missing when its probe returns an error; one the
 * kernel lacks (ef_feature_missing_err) is "missing", any other error
 * (EPERM: a kernel that has it and will not let egressd use it) "refused".
 * Each missing feature gets one line naming it, the release that brought
 * it, what it is for and this kernel's release; a degradable one also says
 * what egressd does instead. Any required one missing: egressd does not
 * start.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>

#include "kernel_features.h"
#include "util.h"

bool ef_feature_missing_err(int err)
{
	return err == -ENOENT || err == -EINVAL || err == -EOPNOTSUPP || err == -ENOSYS ||
	       err == -E2BIG || err == -ESRCH;
}

void ef_feature_line(char *buf, size_t len, const struct ef_feature *f, int err,
		     const char *release)
{
	bool refused = !ef_feature_missing_err(err);
	int n;

	n = snprintf(buf, len, "kernel feature %s: %s (Linux %s+%s%s), needed for %s; this kernel "
		     "is %s", refused ? "refused" : "missing", f->name, f->since,
		     refused ? ", refused here: " : "", refused ? strerror(-err) : "",
		     f->needed_for, release);
	if (f->need == EF_FEAT_DEGRADE && n >= 0 && (size_t)n < len)
		snprintf(buf + n, len - n, "; going on without it: %s", f->instead);
}

/* "5.17" as 5017, to compare releases */
static long release_num(const char *v)
{
	char *end;
	long major = strtol(v, &end, 10), minor = *end == '.' ? strtol(end + 1, NULL, 10) : 0;

	return major * 1000 + minor;
}

/* The oldest release with every required feature of the table. */
static const char *min_release(const struct ef_feature *tab, size_t n)
{
	const char *best = "0";

	for (size_t i = 0; i < n; i++)
		if (tab[i].need == EF_FEAT_REQUIRED && release_num(tab[i].since) > release_num(best))
			best = tab[i].since;
	return best;
}

int ef_features_check(struct ef_features *out, const struct ef_feature *tab, size_t n,
		      const struct ef_feat_ctx *ctx, const char *release, ef_feat_log_fn log,
		      void *arg)
{
	char line[EF_FEAT_LINE];
	int n_required = 0;

	memset(out, 0, sizeof(*out));
	if (n > EF_FEAT_MAX)
		return -E2BIG;
	out->tab = tab;
	out->n = n;
	snprintf(out->release, sizeof(out->release), "%s", release);
	for (size_t i = 0; i < n; i++) {
		out->err[i] = tab[i].probe(&tab[i], ctx);
		if (!out->err[i])
			continue;
		out->missing |= 1ull << i;
		n_required += tab[i].need == EF_FEAT_REQUIRED;
		ef_feature_line(line, sizeof(line), &tab[i], out->err[i], release);
		log(tab[i].need == EF_FEAT_REQUIRED ? EF_LOG_ERR : EF_LOG_WARN, line, arg);
	}
	if (!n_required)
		return 0;
	snprintf(line, sizeof(line), "refusing to start: this kernel (%s) lacks %d required "
		 "feature%s (above); egressd needs Linux %s or later with all of them", release,
		 n_required, n_required == 1 ? "" : "s", min_release(tab, n));
	log(EF_LOG_ERR, line, arg);
	return -ENOTSUP;
}

bool ef_feature_have(const struct ef_features *fs, size_t idx)
{
	return idx < fs->n && !(fs->missing & (1ull << idx));
}

void ef_features_status(const struct ef_features *fs, cJSON *o)
{
	cJSON *k = cJSON_AddObjectToObject(o, "kernel"), *miss;

	if (!k)
		return;
	cJSON_AddStringToObject(k, "release", fs->release);
	miss = cJSON_AddArrayToObject(k, "missing");
	for (size_t i = 0; miss && i < fs->n; i++) {
		const struct ef_feature *f = &fs->tab[i];
		cJSON *m;

		if (ef_feature_have(fs, i) || !(m = cJSON_CreateObject()))
			continue;
		cJSON_AddStringToObject(m, "feature", f->name);
		cJSON_AddStringToObject(m, "since", f->since);
		cJSON_AddBoolToObject(m, "required", f->need == EF_FEAT_REQUIRED);
		cJSON_AddStringToObject(m, "error", strerror(-fs->err[i]));
		if (f->need == EF_FEAT_DEGRADE)
			cJSON_AddStringToObject(m, "instead", f->instead);
		cJSON_AddItemToArray(miss, m);
	}
}
