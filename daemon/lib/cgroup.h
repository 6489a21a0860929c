/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* cgroup2 plumbing: find the mount, ids, levels, moving, removing, freezing, killing. */
#ifndef EF_CGROUP_H
#define EF_CGROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The cgroup2 mount point from /proc/self/mounts (never assumed). */
int ef_cgroup2_mount(char *out, size_t len);
/* Kernel cgroup id of a cgroup directory (what BPF sees). */
int ef_cgroup_id(const char *path, uint64_t *id);
/* Level of `path` in the hierarchy mounted at `mount` (the mount is 0). */
int ef_cgroup_level(const char *mount, const char *path);
/* Move a process into the cgroup. */
int ef_cgroup_move(const char *path, pid_t pid);
/* 1 if any process is in the cgroup or below, 0 if none, -errno. */
int ef_cgroup_populated(const char *path);
/* Remove a cgroup and every cgroup nested below it (they must be empty). */
int ef_cgroup_remove_tree(const char *path);
/* Every pid in the cgroup and below; *out is malloc'd. */
int ef_cgroup_pids(const char *path, pid_t **out, size_t *n);
/* The cgroup2 path of a process relative to the mount ("/a/b"). */
int ef_cgroup_of_pid(pid_t pid, char *out, size_t len);
/* cgroup.freeze: the cgroup and everything below it stop (or go on). */
int ef_cgroup_freeze(const char *path, bool freeze);
/* EF_CG_RUNNING, _FREEZING (asked, not every task stopped yet), _FROZEN,
 * _THAWING (thawed, cgroup.events still "frozen 1"), or -errno. */
enum { EF_CG_RUNNING = 0, EF_CG_FREEZING = 1, EF_CG_FROZEN = 2, EF_CG_THAWING = 3 };
int ef_cgroup_state(const char *path);
const char *ef_cgroup_state_name(int state);
/* SIGKILL every process of the cgroup and below (cgroup.kill; frozen ones too). */
int ef_cgroup_kill(const char *path);

#endif /* EF_CGROUP_H */
