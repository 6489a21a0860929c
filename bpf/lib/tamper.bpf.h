/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Tamper resistance: what a fenced job, even as root, may not do to the
 * fence itself, and the record of each attempt (EF_K_TAMPER).
 *
 * With BPF LSM (lsm/tamper.bpf.c, the lsm/ hooks) the kernel refuses:
 *   - bpf() of any command;
 *   - signals to egressd, and ptrace attach to it;
 *   - writes to the cgroup tree outside the job's own cgroup subtree
 *     (cgroup.procs of another cgroup, mkdir/rmdir there, every cgroup v1
 *     hierarchy);
 *   - unlinking, renaming or creating anything on a bpf filesystem (pins);
 *   - every mount call of a job (mount, umount, move_mount, pivot_root): a
 *     job's mounts would reach the host's mount namespace;
 *   - writing kernel settings: /proc/sys (whatever procfs mount it is
 *     reached through), /proc/sysrq-trigger, and every file of sysfs,
 *     debugfs, tracefs, securityfs, binfmt_misc, configfs, efivarfs and
 *     pstore (core_pattern, binfmt_misc and uevent_helper make the kernel
 *     run a program outside every cgroup; netconsole sends from the kernel);
 *   - ptrace attach of any process outside the job (ptrace, process_vm_*,
 *     /proc/<pid>/mem, pidfd_getfd(): a socket copied from outside, or a
 *     process outside made to send).
 * Without BPF LSM, egressctl run puts the job under a guard instead (a
 * seccomp filter, read-only mounts of the same filesystems in a mount
 * namespace of the job, capabilities dropped: cli/guard.c) and the
 * sys_exit tracepoints here record what the guard refused.
 *
 * Only a process of a live job (its cgroup's ancestor at ef_job_level is in
 * ef_jobs) is judged; everything else passes untouched.
 */
#ifndef EF_TAMPER_BPF_H
#define EF_TAMPER_BPF_H

#define EF_EPERM 1
#define EF_EROFS 30
#define EF_ENOSYS 38

#define EF_CGROUP2_MAGIC 0x63677270
#define EF_CGROUP_MAGIC 0x27e0eb
#define EF_BPFFS_MAGIC 0xcafe4a11
#define EF_SYSFS_MAGIC 0x62656572
#define EF_PROC_MAGIC 0x9fa0
#define EF_DEBUGFS_MAGIC 0x64626720
#define EF_TRACEFS_MAGIC 0x74726163
#define EF_SECURITYFS_MAGIC 0x73636673
#define EF_BINFMTFS_MAGIC 0x42494e4d
#define EF_CONFIGFS_MAGIC 0x62656570
#define EF_EFIVARFS_MAGIC 0xde5e81e4
#define EF_PSTOREFS_MAGIC 0x6165676c

#define EF_FMODE_WRITE 0x2
#define EF_PTRACE_MODE_ATTACH 0x02

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, EF_MAX_GUARD_PIDS);
	__type(key, __u32);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ef_guard_pids SEC(".maps");

static __always_inline bool ef_guarded_pid(__s64 pid)
{
	__u32 k = (__u32)pid;

	if (pid <= 0)
		return false;
	return bpf_map_lookup_elem(&ef_guard_pids, &k) != NULL;
}

/* Records the attempt if the caller is in a live job; returns 1 then (the
 * caller refuses), 0 for a process outside every job. */
static __always_inline int ef_tamper(__u8 reason, __u16 nr, __u64 target, __u16 sig)
{
	struct ef_ctx c;

	/* a job whose policy is gone is still a job: only c.job is tested
	 * (testing both lets clang merge them into "job | pol", which the 6.1
	 * verifier refuses: "pointer |= pointer prohibited") */
	ef_ctx_load(&c);
	if (!c.job)
		return 0;
	ef_emit(&c, EF_K_TAMPER, EF_V_DENY, reason, EF_RULE_NONE, 0, NULL, sig, nr, 0, target, 0);
	return 1;
}

/* Is the caller in a live job? (no record) */
static __always_inline bool ef_in_job(__u64 *job_cg)
{
	struct ef_ctx c;

	/* a job whose policy is gone is still a job: only c.job is tested
	 * (testing both lets clang merge them into "job | pol", which the 6.1
	 * verifier refuses: "pointer |= pointer prohibited") */
	ef_ctx_load(&c);
	if (!c.job)
		return false;
	*job_cg = c.cgroup_id;
	return true;
}

/* Is the caller in a live job whose policy says "tracing": false? */
static __always_inline bool ef_job_no_trace(void)
{
	struct ef_ctx c;

	/* c.pol is NULL outside every job (only it is tested: see ef_tamper) */
	ef_ctx_load(&c);
	if (!c.pol)
		return false;
	return c.pol->flags & EF_PF_NO_TRACE;
}

/* kernfs_node.parent became __parent in 6.15 */
struct kernfs_node___new {
	struct kernfs_node *__parent;
} __attribute__((preserve_access_index));
struct kernfs_node___old {
	struct kernfs_node *parent;
} __attribute__((preserve_access_index));

static __always_inline struct kernfs_node *ef_kn_parent(struct kernfs_node *kn)
{
	if (bpf_core_field_exists(struct kernfs_node___new, __parent))
		return BPF_CORE_READ((struct kernfs_node___new *)kn, __parent);
	return BPF_CORE_READ((struct kernfs_node___old *)kn, parent);
}

/* A cgroup2 directory's kernfs id is its cgroup id: is kn the job's cgroup
 * or one below it? Nesting deeper than 16 levels below the job is refused. */
static __always_inline bool ef_kn_in_job(struct kernfs_node *kn, __u64 job_cg)
{
	for (int i = 0; i < 16 && kn; i++) {
		if (BPF_CORE_READ(kn, id) == job_cg)
			return true;
		kn = ef_kn_parent(kn);
	}
	return false;
}

static __always_inline __u64 ef_sb_magic(struct super_block *sb)
{
	return BPF_CORE_READ(sb, s_magic);
}

/* Filesystems whose every file is a kernel setting (cli/guard.c makes the
 * same list read-only without BPF LSM). */
static __always_inline bool ef_kernel_fs(__u64 m)
{
	return m == EF_SYSFS_MAGIC || m == EF_DEBUGFS_MAGIC || m == EF_TRACEFS_MAGIC ||
	       m == EF_SECURITYFS_MAGIC || m == EF_BINFMTFS_MAGIC || m == EF_CONFIGFS_MAGIC ||
	       m == EF_EFIVARFS_MAGIC || m == EF_PSTOREFS_MAGIC;
}

/* Is d, on a procfs, /proc/sys/... or /proc/sysrq-trigger? By the name of
 * its ancestor just below the filesystem's root, so through any mount of
 * procfs. Sysctl paths are at most 7 deep; a deeper one is not sysctl. */
static __always_inline bool ef_proc_kernel(struct dentry *d)
{
	struct dentry *p;
	char n[16];

	for (int i = 0; i < 12 && d; i++) {
		p = BPF_CORE_READ(d, d_parent);
		if (!p || p == d)
			return false; /* the root itself */
		if (BPF_CORE_READ(p, d_parent) != p) {
			d = p;
			continue;
		}
		/* d is a top-level entry of /proc */
		__builtin_memset(n, 0, sizeof(n));
		if (bpf_probe_read_kernel_str(n, sizeof(n), BPF_CORE_READ(d, d_name.name)) < 0)
			return false;
		if (n[0] != 's' || n[1] != 'y' || n[2] != 's')
			return false;
		return n[3] == '\0' || (n[3] == 'r' && n[4] == 'q' && n[5] == '-');
	}
	return false;
}

/* A job writing on a filesystem of the fence: the reason to refuse it, or
 * 0. inode: the directory changed, or (file) the file opened for writing;
 * on cgroup2 the job's own cgroup and those below it stay writable. */
static __always_inline __u8 ef_fs_write(struct inode *inode, bool file)
{
	__u64 magic = ef_sb_magic(BPF_CORE_READ(inode, i_sb)), job_cg;
	bool kernel = ef_kernel_fs(magic);
	struct kernfs_node *kn;

	if (!kernel && magic != EF_BPFFS_MAGIC && magic != EF_CGROUP2_MAGIC &&
	    magic != EF_CGROUP_MAGIC)
		return 0;
	if (!ef_in_job(&job_cg))
		return 0;
	if (kernel)
		return EF_R_TAMPER_KERNEL;
	if (magic == EF_BPFFS_MAGIC)
		return EF_R_TAMPER_PIN;
	if (magic == EF_CGROUP2_MAGIC) {
		kn = (struct kernfs_node *)BPF_CORE_READ(inode, i_private);
		/* a control file's node: its parent is the cgroup's directory */
		if (file && kn)
			kn = ef_kn_parent(kn);
		if (kn && ef_kn_in_job(kn, job_cg))
			return 0;
	}
	return EF_R_TAMPER_CGROUP;
}

/* mkdir, rmdir, unlink, rename in dir */
static __always_inline __u8 ef_dir_change(struct inode *dir)
{
	return ef_fs_write(dir, false);
}

/* n (NUL-padded) is the string s */
static __always_inline bool ef_name_is(const char n[16], const char *s)
{
	for (int i = 0; i < 16; i++) {
		if (n[i] != s[i])
			return false;
		if (!s[i])
			return true;
	}
	return false;
}

/*
 * /proc/PID/oom_score_adj, oom_adj or autogroup of one of egressd's
 * threads: a root job could make egressd the OOM killer's first choice
 * and then exhaust memory, or lower its session's share of the CPU. The
 * pid is the proc inode's own (struct proc_inode, around the inode).
 */
static __always_inline bool ef_proc_egressd_knob(struct file *f, struct inode *inode)
{
	struct proc_inode *pi;
	char n[16];
	int nr;

	__builtin_memset(n, 0, sizeof(n));
	if (bpf_probe_read_kernel_str(n, sizeof(n), BPF_CORE_READ(f, f_path.dentry, d_name.name)) < 0)
		return false;
	if (!ef_name_is(n, "oom_score_adj") && !ef_name_is(n, "oom_adj") &&
	    !ef_name_is(n, "autogroup"))
		return false;
	pi = (struct proc_inode *)((char *)inode - bpf_core_field_offset(struct proc_inode, vfs_inode));
	nr = BPF_CORE_READ(pi, pid, numbers[0].nr);
	return ef_guarded_pid(nr);
}

static __always_inline __u8 ef_open_write(struct file *f)
{
	struct inode *inode;
	__u64 job_cg;

	if (!(BPF_CORE_READ(f, f_mode) & EF_FMODE_WRITE))
		return 0;
	inode = BPF_CORE_READ(f, f_inode);
	if (ef_sb_magic(BPF_CORE_READ(inode, i_sb)) == EF_PROC_MAGIC) {
		if (!ef_in_job(&job_cg))
			return 0;
		if (ef_proc_kernel(BPF_CORE_READ(f, f_path.dentry)))
			return EF_R_TAMPER_KERNEL;
		return ef_proc_egressd_knob(f, inode) ? EF_R_TAMPER_RESOURCE : 0;
	}
	return ef_fs_write(inode, true);
}

/* ptrace attach (and what needs as much: process_vm_*, /proc/<pid>/mem,
 * pidfd_getfd) from a job to a process outside it: the reason to refuse,
 * or 0. A target nested deeper than 16 cgroups below the job is refused. */
static __always_inline __u8 ef_attach_outside(struct task_struct *t)
{
	__u64 job_cg;

	if (!ef_in_job(&job_cg))
		return 0;
	if (ef_kn_in_job(BPF_CORE_READ(t, cgroups, dfl_cgrp, kn), job_cg))
		return 0;
	return EF_R_TAMPER_PTRACE;
}

/* ---- the fallback's records: syscalls that returned the guard's error ---- */

static __always_inline __u64 ef_sys_arg(int i)
{
	struct task_struct *t = bpf_get_current_task_btf();
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(t);

#if defined(__TARGET_ARCH_x86)
	switch (i) {
	case 0:
		return BPF_CORE_READ(regs, di);
	case 1:
		return BPF_CORE_READ(regs, si);
	case 2:
		return BPF_CORE_READ(regs, dx);
	}
#elif defined(__TARGET_ARCH_arm64)
	switch (i) {
	case 0:
		return BPF_CORE_READ(regs, orig_x0);
	case 1:
		return BPF_CORE_READ(regs, regs[1]);
	case 2:
		return BPF_CORE_READ(regs, regs[2]);
	}
#endif
	return 0;
}

static __always_inline bool ef_prefix(const char *p, const char *lit, int n)
{
#pragma unroll
	for (int i = 0; i < 16; i++) {
		if (i >= n)
			break;
		if (p[i] != lit[i])
			return false;
	}
	return true;
}
#define EF_PREFIX(p, lit) ef_prefix(p, lit, sizeof(lit) - 1)

/* Which guarded filesystem a refused path was on: by its absolute prefix,
 * or, for a relative path, by the filesystem of the working directory.
 * (A path relative to another directory fd is refused all the same, but
 * not recorded.) */
static __always_inline __u8 ef_path_reason(const char *upath, __s64 dfd)
{
	char p[24] = {};
	struct task_struct *t;
	__u64 magic;

	if (bpf_probe_read_user_str(p, sizeof(p), upath) <= 0)
		return 0;
	if (p[0] == '/') {
		if (EF_PREFIX(p, "/sys/fs/cgroup"))
			return EF_R_TAMPER_CGROUP;
		if (EF_PREFIX(p, "/sys/fs/bpf"))
			return EF_R_TAMPER_PIN;
		if (EF_PREFIX(p, "/sys/") || EF_PREFIX(p, "/proc/sys"))
			return EF_R_TAMPER_KERNEL;
		return 0;
	}
	if (dfd != -100 /* AT_FDCWD */)
		return 0;
	t = bpf_get_current_task_btf();
	magic = BPF_CORE_READ(t, fs, pwd.dentry, d_sb, s_magic);
	if (magic == EF_CGROUP2_MAGIC || magic == EF_CGROUP_MAGIC)
		return EF_R_TAMPER_CGROUP;
	if (magic == EF_BPFFS_MAGIC)
		return EF_R_TAMPER_PIN;
	if (ef_kernel_fs(magic) || magic == EF_PROC_MAGIC)
		return EF_R_TAMPER_KERNEL;
	return 0;
}

/* How a syscall's exit is judged. */
enum ef_tamper_exit {
	EF_TX_EPERM,	 /* refused with EPERM: always an attempt (reason given) */
	EF_TX_PID0,	 /* EPERM, and args[0] is a guarded pid */
	EF_TX_PID01,	 /* EPERM, and args[0] or args[1] is a guarded pid */
	EF_TX_PID1,	 /* EPERM, and args[1] is a guarded pid */
	EF_TX_KILL,	 /* kill(): EPERM, and the pid is guarded, -1, or a guarded group */
	EF_TX_PATH0,	 /* EROFS, path in args[0] */
	EF_TX_PATH1,	 /* EROFS, path in args[1], relative to the fd in args[0] */
	EF_TX_PRIO,	 /* setpriority: EPERM, and PRIO_USER or args[1] guarded */
	EF_TX_IOPRIO,	 /* ioprio_set: EPERM, and IOPRIO_WHO_USER or args[1] guarded */
	EF_TX_PTRACE,	 /* ptrace: EPERM, and PTRACE_ATTACH/SEIZE (of any process:
			  * a job's own attach is let through), PTRACE_TRACEME (refused
			  * only under "tracing": false), or a guarded pid */
};

static __always_inline int ef_tamper_exit(struct trace_event_raw_sys_exit *ctx, int how,
					  __u8 reason, int sig_arg)
{
	__s64 ret = ctx->ret, a0, a1;
	__u16 nr = (__u16)ctx->id, sig = 0;
	__u64 target = 0;

	if (ret != -EF_EPERM && ret != -EF_EROFS)
		return 0;
	switch (how) {
	case EF_TX_EPERM:
		if (ret != -EF_EPERM)
			return 0;
		target = ef_sys_arg(0);
		break;
	case EF_TX_PID0:
	case EF_TX_PID01:
	case EF_TX_PID1:
		if (ret != -EF_EPERM)
			return 0;
		a0 = (__s32)ef_sys_arg(0);
		a1 = (__s32)ef_sys_arg(1);
		if (how != EF_TX_PID1 && ef_guarded_pid(a0))
			target = a0;
		else if (how != EF_TX_PID0 && ef_guarded_pid(a1))
			target = a1;
		else
			return 0;
		break;
	case EF_TX_KILL:
		if (ret != -EF_EPERM)
			return 0;
		a0 = (__s32)ef_sys_arg(0);
		if (a0 != -1 && !ef_guarded_pid(a0) && !ef_guarded_pid(-a0))
			return 0;
		target = (__u64)a0;
		break;
	case EF_TX_PRIO:
	case EF_TX_IOPRIO:
		if (ret != -EF_EPERM)
			return 0;
		a0 = (__s32)ef_sys_arg(0);
		a1 = (__s32)ef_sys_arg(1);
		if (a0 == (how == EF_TX_PRIO ? 2 /* PRIO_USER */ : 3 /* IOPRIO_WHO_USER */))
			target = 0;
		else if (ef_guarded_pid(a1))
			target = a1;
		else
			return 0;
		break;
	case EF_TX_PTRACE:
		if (ret != -EF_EPERM)
			return 0;
		a0 = (__s32)ef_sys_arg(0);
		a1 = (__s32)ef_sys_arg(1);
		if (a0 != 16 /* PTRACE_ATTACH */ && a0 != 0x4206 /* PTRACE_SEIZE */ &&
		    a0 != 0 /* PTRACE_TRACEME: "tracing": false */ && !ef_guarded_pid(a1))
			return 0;
		target = (__u64)a1;
		break;
	case EF_TX_PATH0:
	case EF_TX_PATH1:
		if (ret != -EF_EROFS)
			return 0;
		if (how == EF_TX_PATH0)
			reason = ef_path_reason((const char *)ef_sys_arg(0), -100);
		else
			reason = ef_path_reason((const char *)ef_sys_arg(1), (__s32)ef_sys_arg(0));
		if (!reason)
			return 0;
		break;
	default:
		return 0;
	}
	if (sig_arg >= 0)
		sig = (__u16)ef_sys_arg(sig_arg);
	ef_tamper(reason, nr, target, sig);
	return 0;
}

#endif /* EF_TAMPER_BPF_H */
