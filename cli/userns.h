/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef EF_CLI_USERNS_H
#define EF_CLI_USERNS_H

#include <stddef.h>

/* Same-user isolation of an unprivileged job (see userns.c): 0 done; 1 not
 * done, the process unchanged (why says why); -errno the process is in a
 * namespace it cannot use (why says why): the job must not run. */
int ef_userns_isolate(char *why, size_t len);

/* A root job's mount namespace (a slave of the host's, made before it joins
 * its cgroup): the host services of hide_host_services() and systemd's
 * private socket covered, the paths in protect[] (the fence's files, from
 * egressd's status) read-only. Its mount calls are refused afterwards (the
 * guard's seccomp rules, or the BPF LSM hooks). 0, or -errno having said
 * why: the job must not run. */
int ef_root_isolate(const char *const *protect, int n, char *why, size_t len);

#endif /* EF_CLI_USERNS_H */
