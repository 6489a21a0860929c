/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Live notices of a job's refusals (issue 19), for the person and the
 * agent: egressctl run's parent, outside the job, asks to "watch" the job
 * it started on a control connection of its own; egressd then sends it one
 * line {"notice": {...}} for the first refusal of each (process,
 * destination, reason), and keeps the job's counts for --fail-on-deny.
 *
 * The state is the watcher's (struct ef_watch, one per connection), not the
 * job's: it outlives the job, so that egressctl asks for the summary after
 * its command has exited and the cgroup has emptied. Nothing is kept for
 * a job nobody watches, and allowed decisions never reach this file.
 */
#ifndef EF_NOTICES_NOTICES_H
#define EF_NOTICES_NOTICES_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <cjson/cJSON.h>

struct ef_daemon;
struct ef_client;
struct ef_event;
struct ef_job_rec;
struct ef_peer;
struct ef_policy;

#define EF_NOTICE_SEEN 1024	 /* distinct (process, destination, reason) a watcher shows */
#define EF_NOTICE_PER_JOB 4	 /* watchers of one job */
#define EF_NOTICE_OUT_MAX (256 * 1024) /* bytes a watcher may leave unread: then dropped */

/* Control ops (control.c): "watch" {"job_id"}, "watch_summary". */
int ef_notice_watch(struct ef_daemon *d, struct ef_client *c, const cJSON *req,
		    const struct ef_peer *peer, cJSON *reply, char *err, size_t errlen);
int ef_notice_summary(struct ef_daemon *d, struct ef_client *c, cJSON *reply, char *err,
		      size_t errlen);
void ef_notice_unwatch(struct ef_daemon *d, struct ef_client *c);
/* true: c watches a job that is still running (not dropped when idle) */
bool ef_notice_watching(const struct ef_daemon *d, const struct ef_client *c);

/* A refusal (verdict deny or would-deny) of job j (events.c). */
void ef_notice_decision(struct ef_daemon *d, struct ef_job_rec *j, const struct ef_event *e);
/* A refused DNS query (dns_learn.c, dns_guard.c): name may be NULL. */
void ef_notice_dns(struct ef_daemon *d, struct ef_job_rec *j, const char *name, int qtype,
		   int verdict, int reason, const char *rule, const char *why);
/* A probe flag (probe.c). */
void ef_notice_flag(struct ef_daemon *d, struct ef_job_rec *j, const char *reason,
		    const char *what, const char *action);
/* Job j ends: its watchers get {"end": summary}; their counts stay. */
void ef_notice_job_end(struct ef_daemon *d, struct ef_job_rec *j);

#endif /* EF_NOTICES_NOTICES_H */
