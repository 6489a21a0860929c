/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef EF_CLI_MOUNTINFO_H
#define EF_CLI_MOUNTINFO_H

#include <stdbool.h>

/* A field of /proc/self/mountinfo with its escapes undone in place: space,
 * tab, newline and backslash are written there as \ooo. */
void ef_mountinfo_unescape(char *s);

/* One line of /proc/PID/mountinfo, its fields unescaped:
 * "id parent MAJ:MIN root mountpoint opts [optional...] - fstype source super" */
struct ef_mountinfo {
	unsigned major, minor;
	char root[4096], mountpoint[4096], opts[1024], fstype[64];
	bool ro; /* the mount's own (per-mount) options say ro */
};

/* 0, or -EINVAL if line is not a mountinfo line */
int ef_mountinfo_parse(const char *line, struct ef_mountinfo *m);

/* A kernel filesystem (proc, sysfs, cgroup, bpf, nsfs, ...) by its statfs
 * f_type: what the copy-on-write layer puts back as it is (overlay.c). */
bool ef_kernel_fs(long type);

#endif /* EF_CLI_MOUNTINFO_H */
