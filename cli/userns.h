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
 * private socket covered, the system directories copy-on-write unless
 * overlay_dir is NULL (overlay.c; res says what was made), the paths in
 * protect[] (the fence's files, from egressd's status) read-only. Its mount calls are refused afterwards (the
 * guard's seccomp rules, or the BPF LSM hooks). 0, or -errno having said
 * why: the job must not run. */
#define EF_ROOT_MAX_PROTECT 16

struct ef_overlay_result;

struct ef_root_opts {
	const char *const *protect; /* the fence's files (egressd's status "protect") */
	int n_protect;
	const char *overlay_dir;    /* egressd's; NULL: the policy has "host_writes" */
	const char *const *writes;  /* egressctl run --write */
	int n_writes;
};

int ef_root_isolate(const struct ef_root_opts *o, struct ef_overlay_result *res, char *why,
		    size_t len);

#endif /* EF_CLI_USERNS_H */
