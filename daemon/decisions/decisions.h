/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Decisions: the ring-buffer consumer that turns each record into a span
 * (events.c), folding repeats and over-budget decisions (fold.c).
 */
#ifndef EF_DECISIONS_DECISIONS_H
#define EF_DECISIONS_DECISIONS_H

#include "egressd.h"

/* events.c: a record egressd writes itself, through the consumer's path */
void ef_event_record(struct ef_daemon *d, const struct ef_event *e, const char *detail);
int ef_events_setup(struct ef_daemon *d);
void ef_events_consume(struct ef_daemon *d);
void ef_events_drain(struct ef_daemon *d);
void ef_events_close(struct ef_daemon *d);
void ef_events_check_drops(struct ef_daemon *d);
void ef_events_fold_flush(struct ef_daemon *d, const struct ef_job_rec *j);
void ef_events_fold_status(struct ef_daemon *d, cJSON *o);
bool ef_events_dns_fold(struct ef_daemon *d, const struct ef_event *e, const char *name);

#endif /* EF_DECISIONS_DECISIONS_H */
