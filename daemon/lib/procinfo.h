/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A process's executable path and start time, from /proc, cached per
 * (pid, start) (procinfo.c).
 */
#ifndef EF_LIB_PROCINFO_H
#define EF_LIB_PROCINFO_H

#include <stdint.h>

/* procinfo.c: executable path of a process, cached per (pid, start). */
struct ef_proc_cache *ef_proc_cache_new(void);
void ef_proc_cache_free(struct ef_proc_cache *c);

/* Returns the path or NULL if the process is gone or was replaced. */
/* A process's start time on the boot clock (as records carry it), from
 * /proc/<pid>/stat. 0 or -errno. */
int ef_proc_start_ns(const struct ef_proc_cache *c, uint32_t pid, uint64_t *out);
const char *ef_proc_exe(struct ef_proc_cache *c, uint32_t pid, uint64_t start_boot_ns,
			const char *exe_base);

#endif /* EF_LIB_PROCINFO_H */
