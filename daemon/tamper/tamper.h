/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Tamper attempts and their spans, and the host's container runtimes
 * kept out of jobs' reach.
 */
#ifndef EF_TAMPER_TAMPER_H
#define EF_TAMPER_TAMPER_H

#include "egressd.h"

void ef_tamper_span(struct ef_daemon *d, struct ef_span *s, const struct ef_event *e,
		    const char *detail);
void ef_tamper_control(struct ef_daemon *d, struct ef_job_rec *j, const struct ef_peer *peer,
		       bool running, const char *op);
void ef_tamper_user(struct ef_daemon *d, struct ef_job_rec *j, const struct ef_peer *peer,
		    bool running, int reason, unsigned protocol, const char *detail);
int ef_runtimes_config(struct ef_daemon *d, const cJSON *v, const char *where);
int ef_runtimes_setup(struct ef_daemon *d);
void ef_runtimes_accept(struct ef_daemon *d, struct ef_runtime *r);
void ef_runtimes_status(const struct ef_daemon *d, cJSON *o);
void ef_runtimes_close(struct ef_daemon *d);
void ef_runtimes_conn_io(struct ef_daemon *d, void *tag);
void ef_runtimes_tick(struct ef_daemon *d);
void ef_tamper_status(struct ef_daemon *d, cJSON *o);

/* What a job's Landlock domain (cli/landlock.c) guards against on this host:
 * "ptrace", "ptrace,signal,abstract_unix", or NULL when egressctl run makes
 * none (no Landlock, or BPF LSM with a Landlock that would pre-empt its hooks
 * by handling file access: ABI < 6). */
const char *ef_landlock_scope(const struct ef_daemon *d);

#endif /* EF_TAMPER_TAMPER_H */
