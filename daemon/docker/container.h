/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Jobs started inside a container (container.c): which container a
 * process is in, and what egressctl run there must check it cannot reach.
 */
#ifndef EF_CONTAINER_H
#define EF_CONTAINER_H

#include <stdbool.h>
#include <sys/types.h>

struct ef_daemon;
struct cJSON;

/* The container whose cgroup path (of the unified hierarchy) is this:
 * its 64-hex id in id, the innermost; false if the path names none. */
bool ef_container_of_cgroup(const char *path, char id[65]);
/* the same, of process pid's cgroup */
bool ef_container_of_pid(pid_t pid, char id[65]);
/* The for_run status of a caller in a container: "container": {"id",
 * "reach": [{"path", "kind": "runtime"|"service"|"fence", "dev": "MAJ:MIN",
 * "root"}, or {"path", "kind", "unlocated": WHY}]}
 * (cli/container_reach.c checks them); nothing for a caller in none. */
void ef_container_preview(struct ef_daemon *d, pid_t pid, struct cJSON *reply);

#endif
