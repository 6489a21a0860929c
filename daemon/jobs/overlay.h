/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The copy-on-write layers of root jobs (overlay.c). */
#ifndef EF_OVERLAY_H
#define EF_OVERLAY_H

#include <stdbool.h>
#include <cjson/cJSON.h>

struct ef_daemon;
struct ef_job_rec;
struct ef_span;

/* egressctl's names: "PID-HEX", lower-case hex digits and '-' */
#define EF_OVERLAY_NAME_MAX 48

bool ef_overlay_name_valid(const char *s);
/* <state-dir>/overlay, made 0700; 0 or -errno */
int ef_overlay_init(struct ef_daemon *d);
/* The run request's "overlay" ({"name", "write_through"}; NULL: none) for
 * job j; 0 or -errno having said why in err. */
int ef_overlay_claim(struct ef_daemon *d, struct ef_job_rec *j, const cJSON *ov, char *err,
		     size_t errlen);
/* The job ended: its layer goes (on a thread). */
void ef_overlay_release(struct ef_daemon *d, struct ef_job_rec *j);
/* Removes layers no job claims, older than min_age_s (0: all). */
void ef_overlay_sweep(struct ef_daemon *d, unsigned int min_age_s);
/* parent/name and all below it, never following a symlink; 0 or -errno */
int ef_overlay_remove_at(int parent, const char *name);
/* egress.system_writes ("private", "host") and egress.write_through */
void ef_overlay_span(struct ef_span *s, const struct ef_job_rec *j);

#endif
