/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef EF_CLI_USERNS_H
#define EF_CLI_USERNS_H

#include <stdbool.h>
#include <stddef.h>

/* Same-user isolation of an unprivileged job (see userns.c): 0 done; 1 not
 * done, the process unchanged (why says why); -errno the process is in a
 * namespace it cannot use (why says why): the job must not run. */
struct ef_runtime_cover {
	const char *path;  /* a container runtime's socket (egressd's "runtime_sockets") */
	const char *cover; /* egressd's listener that takes its place */
};
#define EF_MAX_RUNTIME_COVERS 32

int ef_userns_isolate(const struct ef_runtime_cover *rc, int n_rc, char *why, size_t len);

/* The covers opened (fds[n], before anything is mounted), put in place in
 * the job's mount namespace, closed. 0, or -errno having said why. */
int ef_runtime_covers_open(const struct ef_runtime_cover *rc, int n, int *fds, char *why,
			   size_t len);
int ef_runtimes_cover(const struct ef_runtime_cover *rc, int n, const int *fds, bool run_rebuilt,
		      bool may_create, char *why, size_t len);
void ef_runtime_covers_close(int *fds, int n);

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
	const struct ef_runtime_cover *runtimes; /* covered after the overlay */
	int n_runtimes;
};

int ef_root_isolate(const struct ef_root_opts *o, struct ef_overlay_result *res, char *why,
		    size_t len);

#endif /* EF_CLI_USERNS_H */
