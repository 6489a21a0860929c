// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The fallback for kernels that refuse BPF LSM programs: a seccomp filter,
 * installed by egressctl run just before exec and inherited by every
 * descendant (it cannot be removed), refusing with EPERM
 *   - socket() and socketpair() of a family not in the allowed list;
 *   - io_uring_setup(), since IORING_OP_SOCKET creates sockets without
 *     socket(2) and so without this filter;
 *   - every syscall of another ABI (i386, x32), whose socket numbers
 *     differ.
 * The kernel side still records each refusal (ef_sock_refused).
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
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

#define MAX_INSNS 128

int ef_seccomp_refuse_families(const int *allowed, int n)
{
	struct sock_filter f[MAX_INSNS];
	struct sock_fprog prog;
	int i = 0, fam_start;

	if (n < 0 || n > 64)
		return -EINVAL;
#define EMIT(x) f[i++] = (struct sock_filter)x
	EMIT(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)));
	EMIT(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, EF_AUDIT_ARCH, 1, 0));
	EMIT(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM));
	EMIT(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)));
#ifdef __x86_64__
	EMIT(BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000 /* __X32_SYSCALL_BIT */, 0, 1));
	EMIT(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM));
#endif
	EMIT(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1));
	EMIT(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM));
	EMIT(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_socket, 2, 0));
	EMIT(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_socketpair, 1, 0));
	EMIT(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
	/* family: the low 32 bits of args[0] (little-endian) */
	EMIT(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0])));
	fam_start = i;
	for (int k = 0; k < n; k++) {
		/* jump to the ALLOW after the list */
		int to_allow = (fam_start + n) - (i + 1) + 1;

		EMIT(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)allowed[k], to_allow, 0));
	}
	EMIT(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM));
	EMIT(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
#undef EMIT
	prog.len = i;
	prog.filter = f;
	/* without CAP_SYS_ADMIN the kernel requires no_new_privs */
	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) == 0)
		return 0;
	if (errno == EACCES && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 &&
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) == 0)
		return 0;
	return -errno;
}
