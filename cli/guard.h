/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef EF_GUARD_H
#define EF_GUARD_H

#include <cjson/cJSON.h>

/* Puts this process (about to exec the job's command) under the guard
 * egressd asked for (its reply's "guard": pids, job_cgroup). 0, or a
 * negative errno with err saying what failed. See guard.c. */
int ef_guard_apply(const cJSON *guard, char *err, size_t errlen);

#endif
