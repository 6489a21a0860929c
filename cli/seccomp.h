/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef EF_SECCOMP_H
#define EF_SECCOMP_H
/* Refuse socket()/socketpair() of families not in allowed[] (and
 * io_uring_setup) for this process and all its descendants. 0 or -errno. */
int ef_seccomp_refuse_families(const int *allowed, int n);
#endif
