// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * What egressctl run closed before exec (cli/inherit.c) and reported in
 * its run request, "inherited_fds": {"closed": N, "kinds": {"inet": 2,
 * ...}}: kept with the job and put on its egress.job span as
 * egress.inherited_fds_closed and egress.inherited_fds_kinds.
 *
 * It is what the caller says: the closing happens in the caller's process,
 * before the job exists, and a caller that hands the job a socket anyway
 * (its own client instead of egressctl) was outside the fence to begin
 * with. So the field is checked for shape, never trusted for more.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "egressd.h"
#include "jobs.h"

#define MAX_CLOSED (1 << 20) /* more than any RLIMIT_NOFILE a runner sets */

static bool kind_ok(const char *k)
{
	size_t n = strlen(k);

	if (!n || n > EF_FD_KIND_LEN)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((k[i] >= 'a' && k[i] <= 'z') || (k[i] >= '0' && k[i] <= '9') || k[i] == '_'))
			return false;
	return true;
}

static bool count_ok(const cJSON *v, double max)
{
	return cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble <= max &&
	       v->valuedouble == (double)(int)v->valuedouble;
}

int ef_job_fds_parse(const cJSON *req, struct ef_job_rec *j, char *err, size_t errlen)
{
	const cJSON *o = cJSON_GetObjectItem(req, "inherited_fds"), *closed, *kinds, *k;
	double sum = 0;

	j->fds_closed = -1; /* not reported: an older egressctl, or another client */
	j->n_fd_kinds = 0;
	if (!o)
		return 0;
	closed = cJSON_GetObjectItem(o, "closed");
	kinds = cJSON_GetObjectItem(o, "kinds");
	if (!cJSON_IsObject(o) || !count_ok(closed, MAX_CLOSED) || (kinds && !cJSON_IsObject(kinds)))
		goto bad;
	cJSON_ArrayForEach(k, kinds) {
		if (!kind_ok(k->string) || !count_ok(k->valuedouble > 0 ? k : NULL, MAX_CLOSED) ||
		    j->n_fd_kinds == EF_FD_KINDS)
			goto bad;
		for (int i = 0; i < j->n_fd_kinds; i++)
			if (!strcmp(j->fd_kinds[i], k->string))
				goto bad;
		snprintf(j->fd_kinds[j->n_fd_kinds++], EF_FD_KIND_LEN + 1, "%s", k->string);
		sum += k->valuedouble;
	}
	if (sum != closed->valuedouble)
		goto bad;
	j->fds_closed = (int)closed->valuedouble;
	return 0;
bad:
	j->n_fd_kinds = 0;
	snprintf(err, errlen, "malformed run request: \"inherited_fds\" must be {\"closed\": N, "
			      "\"kinds\": {KIND: N, ...}} with at most %d kinds ([a-z0-9_], at most "
			      "%d bytes), counts from 1 adding up to closed", EF_FD_KINDS,
		 EF_FD_KIND_LEN);
	return -EINVAL;
}

void ef_job_fds_span(struct ef_span *s, const struct ef_job_rec *j)
{
	const char *k[EF_FD_KINDS];

	if (j->fds_closed < 0)
		return;
	ef_span_int(s, "egress.inherited_fds_closed", j->fds_closed);
	for (int i = 0; i < j->n_fd_kinds; i++)
		k[i] = j->fd_kinds[i];
	if (j->n_fd_kinds)
		ef_span_strs(s, "egress.inherited_fds_kinds", k, j->n_fd_kinds);
}

void ef_job_fds_save(cJSON *o, const struct ef_job_rec *j)
{
	cJSON *a;

	if (j->fds_closed < 0)
		return;
	cJSON_AddNumberToObject(o, "fds_closed", j->fds_closed);
	a = cJSON_AddArrayToObject(o, "fd_kinds");
	for (int i = 0; a && i < j->n_fd_kinds; i++)
		cJSON_AddItemToArray(a, cJSON_CreateString(j->fd_kinds[i]));
}

void ef_job_fds_load(const cJSON *o, struct ef_job_rec *j)
{
	const cJSON *n = cJSON_GetObjectItem(o, "fds_closed"), *k;

	j->fds_closed = count_ok(n, MAX_CLOSED) ? (int)n->valuedouble : -1;
	j->n_fd_kinds = 0;
	cJSON_ArrayForEach(k, cJSON_GetObjectItem(o, "fd_kinds"))
		if (cJSON_IsString(k) && kind_ok(k->valuestring) && j->n_fd_kinds < EF_FD_KINDS)
			snprintf(j->fd_kinds[j->n_fd_kinds++], EF_FD_KIND_LEN + 1, "%s",
				 k->valuestring);
}
