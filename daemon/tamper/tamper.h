/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Tamper attempts: their spans, the records egressd writes itself, and
 * what protects the fence on this host (BPF LSM, or egressctl run's guard).
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
void ef_tamper_status(struct ef_daemon *d, cJSON *o);

/* What a job's Landlock domain (cli/landlock.c) guards against on this host:
 * "ptrace", "ptrace,signal,abstract_unix", or NULL when egressctl run makes
 * none (no Landlock, or BPF LSM with a Landlock that would pre-empt its hooks
 * by handling file access: ABI < 6). */
const char *ef_landlock_scope(const struct ef_daemon *d);

#endif /* EF_TAMPER_TAMPER_H */
