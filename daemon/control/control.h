/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The control socket: egressctl's requests, served from the main loop.
 */
#ifndef EF_CONTROL_CONTROL_H
#define EF_CONTROL_CONTROL_H

#include "egressd.h"

int ef_control_setup(struct ef_daemon *d);
void ef_control_accept(struct ef_daemon *d);
void ef_control_tick(struct ef_daemon *d); /* drops idle clients */
void ef_control_io(struct ef_daemon *d, struct ef_client *c, uint32_t events);
/* Replies of freeze, thaw and kill waiting for the job's state to settle:
 * sent once it has, or EF_CTL_SETTLE_MS after the request with the
 * passing state (on the timer, and when a job's cgroup.events changes). */
void ef_control_settle(struct ef_daemon *d);
void ef_control_close(struct ef_daemon *d);
/* Queue one line (with its newline) on c, unless it has more than
 * EF_NOTICE_OUT_MAX unread; false: dropped (d->up->control_push). */
bool ef_control_push(struct ef_daemon *d, struct ef_client *c, const char *line);

#endif /* EF_CONTROL_CONTROL_H */
