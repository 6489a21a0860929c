/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef EF_CLI_LANDLOCK_H
#define EF_CLI_LANDLOCK_H

#include <stddef.h>

/* What ef_landlock_confine() could give this job (the kernel's Landlock ABI
 * decides). */
struct ef_landlock {
	int abi;	    /* 0: Landlock unavailable (not built, not active) */
	int ptrace;	    /* processes outside the job cannot be traced (ABI >= 1) */
	int signals;	    /* nor signalled (ABI >= 6) */
	int abstract_unix;  /* nor their abstract unix sockets reached (ABI >= 6) */
};

/*
 * Puts this process (and so the whole job) in a Landlock domain of its own
 * that restricts no file access: the kernel then refuses every ptrace
 * access (ptrace, process_vm_*, /proc/PID/mem, environ, pidfd_getfd) of a
 * process outside the domain, whatever uid the job takes; from ABI 6 also
 * signals to them (kill, sigqueue, SIGIO/SIGURG of a file owner) and
 * connecting to their abstract unix sockets. Needs no_new_privs or
 * CAP_SYS_ADMIN. 0 (out says what holds; abi 0: nothing, unavailable), or
 * -errno having said why in why.
 */
int ef_landlock_confine(struct ef_landlock *out, char *why, size_t len);

/* The ABI ef_landlock_confine() would use: 0 when Landlock is unavailable. */
int ef_landlock_abi(void);

#endif /* EF_CLI_LANDLOCK_H */
