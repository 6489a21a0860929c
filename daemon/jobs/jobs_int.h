/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* What jobs.c shares with job_start.c, inside the jobs part only. */
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

#endif
