/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The daemon's registries, which every part looks things up in: jobs,
 * policy versions, and the DNS names behind learned addresses.
 */
#ifndef EF_REGISTRY_REGISTRY_H
#define EF_REGISTRY_REGISTRY_H

#include "egressd.h"

/* registry.c: the job whose cgroup (or one below it) holds pid, or NULL */
struct ef_job_rec *ef_job_of_pid(struct ef_daemon *d, pid_t pid);
/* the same for a cgroup path as /proc/PID/cgroup gives it */
struct ef_job_rec *ef_job_of_cgroup(struct ef_daemon *d, const char *cg);
struct ef_job_rec *ef_job_by_cgroup(struct ef_daemon *d, uint64_t cgroup_id);
struct ef_job_rec *ef_job_by_id(struct ef_daemon *d, const char *id);
/* a policy version by its id, retired ones too (records may name them) */
struct ef_pol_rec *ef_pol_by_id(struct ef_daemon *d, uint32_t id);

/* names.c: the DNS name behind an ef_names id (NULL if unknown) */
uint64_t ef_name_id(const char *name);
int ef_name_remember(struct ef_daemon *d, uint64_t id, const char *name);
const char *ef_name_get(struct ef_daemon *d, uint64_t id);
void ef_name_cache_free(struct ef_daemon *d);

#endif /* EF_REGISTRY_REGISTRY_H */
