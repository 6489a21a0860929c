/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef EF_SECCOMP_H
#define EF_SECCOMP_H

#include <stdbool.h>
#include <linux/filter.h>

/* A classic-BPF seccomp filter being built (seccomp.c). Past EF_SF_MAX
 * instructions, full is set and ef_sf_install refuses it. */
#define EF_SF_MAX 2048
struct ef_sf {
	struct sock_filter f[EF_SF_MAX];
	int n;
	bool full;
};

void ef_sf_emit(struct ef_sf *p, struct sock_filter ins);
/* Every filter starts so: a syscall of another ABI (i386, x32: other
 * numbers) is refused, then the accumulator holds the syscall number. */
void ef_sf_prologue(struct ef_sf *p);
/* Ends it allowing what no rule refused, and installs it for this process
 * and all its descendants (no_new_privs first when the kernel asks for it:
 * no CAP_SYS_ADMIN). 0 or -errno. */
int ef_sf_install(struct ef_sf *p);

/* Rules: refuse socket()/socketpair() of families not in allowed[], and
 * io_uring_setup. The accumulator holds the syscall number after them. */
void ef_sf_refuse_families(struct ef_sf *p, const int *allowed, int n);
#endif
