/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* What jobs.c shares with job_start.c and job_sweep.c, inside the jobs part only. */
#ifndef EF_JOBS_INT_H
#define EF_JOBS_INT_H

#include <stdbool.h>
#include <stddef.h>

struct ef_daemon;
struct ef_job_rec;

bool ef_job_id_valid(const char *s);
void ef_job_free(struct ef_job_rec *j);
/* <state-dir>/jobs/<id>.json */
void ef_job_state_path(struct ef_daemon *d, const char *id, char *out, size_t len);
/* cgroup.events of the job watched with inotify (else the timer finds its end) */
void ef_job_watch(struct ef_daemon *d, struct ef_job_rec *j);
/* job_sweep.c: at start, after the adoption: remove the empty job cgroups no
 * adopted job owns, log the ones with processes (left in place) */
int ef_jobs_sweep_cgroups(struct ef_daemon *d);

#endif
