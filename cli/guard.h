/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef EF_GUARD_H
#define EF_GUARD_H

#include <stdbool.h>
#include <sys/types.h>

#include <cjson/cJSON.h>

#include "seccomp.h"

/* Puts this process (about to exec the job's command) under the guard
 * egressd asked for (its reply's "guard": pids, job_cgroup): the mount
 * namespace and capabilities now, and the guard's rules into sf, the
 * filter installed last. In a container whose root cannot make a mount
 * namespace (in_container), what the namespace would make read-only must
 * be so already. supervisor (egressctl run's parent, outside the job; 0:
 * none) is kept out of the job's reach as egressd's own processes are. 0,
 * or a negative errno with err saying what failed. See guard.c. */
int ef_guard_apply(const cJSON *guard, struct ef_sf *sf, bool in_container, pid_t supervisor,
		   char *err, size_t errlen);

/* What every job gets, with BPF LSM or the guard, applied last: a root job
 * keeps only the capabilities in caps (egressd's reply's "capabilities",
 * CAP_* numbers; missing or malformed: the default set of policy/caps.c)
 * and loses every other one from its bounding, permitted, effective,
 * inheritable and ambient sets; an unprivileged job gets no_new_privs (no
 * sudo, no setuid). 0, or a negative errno with err saying what failed. */
int ef_guard_baseline(const cJSON *caps, char *err, size_t errlen);

#endif
