/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef EF_CLI_CONTAINER_REACH_H
#define EF_CLI_CONTAINER_REACH_H

#include <stddef.h>

#include <cjson/cJSON.h>

/* In a container (egressd's for_run status has "container"): none of the
 * host's container runtime sockets is bound in, and the fence's own files
 * only read-only. 0, or a negative errno with why saying what is there.
 * See container_reach.c. */
int ef_container_reach_check(const cJSON *container, char *why, size_t whylen);
/* the same, of the mounts a mountinfo file lists (the tests') */
int ef_container_reach_check_in(const cJSON *container, const char *mountinfo, char *why,
				size_t whylen);

/* 1 if this container's root filesystem is mounted read-only, 0 if not,
 * a negative errno if mountinfo does not say */
int ef_container_root_ro_in(const char *mountinfo);

#endif /* EF_CLI_CONTAINER_REACH_H */
