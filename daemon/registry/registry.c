// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The daemon's registries, looked up by every part: jobs by id, cgroup id,
 * cgroup path or process, and policy versions by id. Jobs are added and
 * removed by jobs/ (their start and end), policy versions by policies/;
 * here they are only found.
 */
#include <stdio.h>
#include <string.h>
#include <sys/types.h>

#include "egressd.h"
#include "registry.h"
#include "lib/cgroup.h"

struct ef_job_rec *ef_job_of_cgroup(struct ef_daemon *d, const char *cg)
{
	char abs[2 * EF_PATH_MAX];

	snprintf(abs, sizeof(abs), "%s%s", d->cgroup_mount, cg);
	for (struct ef_job_rec *j = d->jobs; j; j = j->next) {
		size_t n = strlen(j->cgroup);

		if (!strncmp(abs, j->cgroup, n) && (abs[n] == '\0' || abs[n] == '/'))
			return j;
	}
	return NULL;
}

struct ef_job_rec *ef_job_of_pid(struct ef_daemon *d, pid_t pid)
{
	char cg[EF_PATH_MAX];

	if (ef_cgroup_of_pid(pid, cg, sizeof(cg)))
		return NULL;
	return ef_job_of_cgroup(d, cg);
}

struct ef_job_rec *ef_job_by_cgroup(struct ef_daemon *d, uint64_t cgroup_id)
{
	for (struct ef_job_rec *j = d->jobs; j; j = j->next)
		if (j->cgroup_id == cgroup_id)
			return j;
	return NULL;
}

struct ef_job_rec *ef_job_by_id(struct ef_daemon *d, const char *id)
{
	for (struct ef_job_rec *j = d->jobs; j; j = j->next)
		if (!strcmp(j->id, id))
			return j;
	return NULL;
}

/* Retired versions too: records of their decisions may still be in the
 * ring buffer. */
struct ef_pol_rec *ef_pol_by_id(struct ef_daemon *d, uint32_t id)
{
	for (struct ef_pol_rec *p = d->pols; p; p = p->next)
		if (p->id == id)
			return p;
	for (struct ef_pol_rec *p = d->pols_retired; p; p = p->next)
		if (p->id == id)
			return p;
	return NULL;
}
