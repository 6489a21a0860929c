/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Jobs: the registry of running jobs, their start and end, their saved
 * state, and the descriptors egressctl run closed for them.
 */
#ifndef EF_JOBS_JOBS_H
#define EF_JOBS_JOBS_H

#include "egressd.h"
#include "overlay.h"

/* job_fds.c: the inherited descriptors egressctl run closed */
int ef_job_fds_parse(const cJSON *req, struct ef_job_rec *j, char *err, size_t errlen);
void ef_job_fds_span(struct ef_span *s, const struct ef_job_rec *j);
void ef_job_fds_save(cJSON *o, const struct ef_job_rec *j);
void ef_job_fds_load(const cJSON *o, struct ef_job_rec *j);
void ef_job_run_preview(struct ef_daemon *d, const cJSON *req, const struct ef_peer *peer,
			cJSON *reply);
int ef_job_start(struct ef_daemon *d, const cJSON *req, const struct ef_peer *peer,
		 cJSON *reply, char *err, size_t errlen);

/* Point the job at another policy version (live policy change): its learned
 * addresses are rewritten for the new version first, then its ef_jobs
 * entry. Takes a reference on np; the caller keeps the old version's until
 * it has revoked. */
int ef_job_set_policy(struct ef_daemon *d, struct ef_job_rec *j, struct ef_pol_rec *np,
		      size_t *forgotten);
void ef_job_end(struct ef_daemon *d, struct ef_job_rec *j);
int ef_jobs_restore(struct ef_daemon *d);
void ef_jobs_check(struct ef_daemon *d);
void ef_jobs_on_inotify(struct ef_daemon *d);
int ef_job_save(struct ef_daemon *d, const struct ef_job_rec *j); /* <state-dir>/jobs/<id>.json */
/* every job, or only one (a caller inside a job sees its own alone) */
cJSON *ef_jobs_json(struct ef_daemon *d, const struct ef_job_rec *only);
void ef_jobs_free(struct ef_daemon *d);

#endif /* EF_JOBS_JOBS_H */
