/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Probe detection in egressd (the detectors: probe_detect.h), what is
 * done about it, and freeze/thaw/kill of a job.
 */
#ifndef EF_PROBE_PROBE_H
#define EF_PROBE_PROBE_H

#include "egressd.h"
#include "probe_detect.h"


/* probe.c: probe detection, its actions, and freeze/thaw/kill */
int ef_probe_setup(struct ef_daemon *d);
void ef_probe_netlink_io(struct ef_daemon *d);
void ef_probe_close(struct ef_daemon *d);
void ef_probe_event(struct ef_daemon *d, struct ef_job_rec *j, const struct ef_event *e);
/* A job's DNS query, decided and answered (in: all but now_ns) */
void ef_probe_dns(struct ef_daemon *d, struct ef_job_rec *j, struct ef_probe_dns *in);
void ef_probe_tick(struct ef_daemon *d);
void ef_probe_status(struct ef_daemon *d, cJSON *o);
void ef_probe_job_free(struct ef_job_rec *j);
void ef_probe_job_attrs(struct ef_span *s, const struct ef_job_rec *j);
void ef_probe_job_json(cJSON *o, const struct ef_job_rec *j);
void ef_probe_job_save(cJSON *o, const struct ef_job_rec *j);
void ef_probe_job_load(const cJSON *o, struct ef_job_rec *j);
/* freeze, thaw or kill: reply's "job_id" and "state" (ef_job_control_state) */
int ef_job_control(struct ef_daemon *d, const char *op, const cJSON *req,
		   const struct ef_peer *peer, cJSON *reply, char *err, size_t errlen);
/* The state of the job job_id (of cgroup cgroup_id) after op: running,
 * freezing, frozen, thawing, ending (killed, processes left), killed, or,
 * once it is gone, killed (op "kill") or ended. *settled: false while the
 * state is a passing one (freezing, thawing, ending). */
const char *ef_job_control_state(struct ef_daemon *d, const char *op, const char *job_id,
				 uint64_t cgroup_id, bool *settled);

#endif /* EF_PROBE_PROBE_H */
