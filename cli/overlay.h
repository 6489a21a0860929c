/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef EF_CLI_OVERLAY_H
#define EF_CLI_OVERLAY_H

#define EF_OVERLAY_MAX_THROUGH 16

struct ef_overlay_result {
	char name[64];		/* the layer's directory in egressd's overlay_dir */
	int n_layers;		/* overlays mounted */
	int n_through;		/* directories written through to the host */
	char through[EF_OVERLAY_MAX_THROUGH][4096];
};

/*
 * A root job's system directories made copy-on-write in the current mount
 * namespace (a slave of the host's, made by the caller; see overlay.c):
 * the upper layers in overlay_dir/NAME (res->name), the working directory,
 * the CI runner's workspace directories and writes[] written through to
 * the host. 0, or -errno having said why in why (the job must not run;
 * res->name, when set, is a directory egressd removes).
 */
int ef_overlay_system(const char *overlay_dir, const char *const *writes, int n_writes,
		      struct ef_overlay_result *res, char *why, size_t len);

#endif /* EF_CLI_OVERLAY_H */
