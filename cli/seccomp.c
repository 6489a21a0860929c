// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The seccomp filter of the fallbacks for kernels that refuse BPF LSM
 * programs: one filter, installed by egressctl run just before exec and
 * inherited by every descendant (it cannot be removed), refusing with EPERM
 *   - every syscall of another ABI (i386, x32), whose numbers differ;
 *   - socket() and socketpair() of a family not in the allowed list, and
 *     io_uring_setup(), since IORING_OP_SOCKET creates sockets without
 *     socket(2) (ef_sf_refuse_families; the kernel side still records each
 *     refusal: ef_sock_refused);
 *   - the tamper guard's syscalls (guard.c).
 * Each part tests the syscall number and falls through for the others; the
 * filter ends allowing what no part refused.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

#include "seccomp.h"

#if defined(__x86_64__)
#define EF_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define EF_AUDIT_ARCH AUDIT_ARCH_AARCH64
#else
#error "seccomp fallback: add this architecture's AUDIT_ARCH"
#endif

#define DENY (SECCOMP_RET_ERRNO | EPERM)

void ef_sf_emit(struct ef_sf *p, struct sock_filter ins)
{
	if (p->n >= EF_SF_MAX) {
		p->full = true;
		return;
	}
	p->f[p->n++] = ins;
}

void ef_sf_prologue(struct ef_sf *p)
{
	ef_sf_emit(p, (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
						   offsetof(struct seccomp_data, arch)));
	ef_sf_emit(p, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, EF_AUDIT_ARCH, 1, 0));
	ef_sf_emit(p, (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, DENY));
	ef_sf_emit(p, (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
						   offsetof(struct seccomp_data, nr)));
#ifdef __x86_64__
	ef_sf_emit(p, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K,
						   0x40000000 /* __X32_SYSCALL_BIT */, 0, 1));
	ef_sf_emit(p, (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, DENY));
#endif
}

int ef_sf_install(struct ef_sf *p)
{
	struct sock_fprog prog;

	ef_sf_emit(p, (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
	prog.len = (unsigned short)p->n;
	prog.filter = p->f;
	if (p->full)
		return -E2BIG;
	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) == 0)
		return 0;
	/* without CAP_SYS_ADMIN the kernel requires no_new_privs */
	if (errno == EACCES && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 &&
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) == 0)
		return 0;
	return -errno;
}

void ef_sf_refuse_families(struct ef_sf *p, const int *allowed, int n)
{
	int body = n + 3; /* LD args[0], n JEQs, RET DENY, RET ALLOW */

#define EMIT(x) ef_sf_emit(p, (struct sock_filter)x)
	EMIT(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1));
	EMIT(BPF_STMT(BPF_RET | BPF_K, DENY));
	EMIT(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_socket, 1, 0));
	EMIT(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_socketpair, 0, body));
	/* family: the low 32 bits of args[0] (little-endian) */
	EMIT(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0])));
	for (int k = 0; k < n; k++)
		/* to the RET ALLOW closing the block */
		EMIT(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)allowed[k], n - k, 0));
	EMIT(BPF_STMT(BPF_RET | BPF_K, DENY));
	EMIT(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
#undef EMIT
}
