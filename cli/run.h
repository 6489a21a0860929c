/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * egressctl run, split along the job's start: run.c reads the options,
 * asks egressd for the job, checks it and execs the command; run_isolate.c
 * makes the job's namespaces before it joins its cgroup; run_confine.c
 * takes the last steps before exec (Landlock, the fallbacks, the baseline,
 * the canary).
 */
#ifndef EF_CLI_RUN_H
#define EF_CLI_RUN_H

#include <stdbool.h>
#include <sys/types.h>

#include <cjson/cJSON.h>

/* run_isolate.c */
int run_isolate_same_user(cJSON *req, cJSON *attrs, int fd, const char *const *writes,
			  int n_writes, bool *in_container, const char *cmd);

/* run_confine.c */
int run_install_fallbacks(const cJSON *reply, bool in_container, pid_t supervisor,
			  const char *cmd);
int run_canary_open(const char *cmd);
int run_canary_refused(int s, const char *cmd);

#endif /* EF_CLI_RUN_H */
