// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * egress-fence: tamper resistance. A fenced job, even as root, may not take
 * the fence down (see bpf/lib/tamper.bpf.h for what is refused and why).
 *
 * One object, two sets of programs; egressd loads one set:
 *   - lsm/ hooks, where the kernel runs BPF LSM programs: they refuse;
 *   - sys_exit tracepoints otherwise: egressctl run's guard refuses
 *     (seccomp, read-only mounts, capabilities) and these record.
 * The maps are the fence's own (pinned by name, shared with fence.bpf.c);
 * ef_guard_pids holds egressd's threads.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#include "ef_abi.h"
#include "lib/consts.bpf.h"
#include "lib/maps.bpf.h"
#include "lib/job.bpf.h"
#include "lib/event.bpf.h"
#include "lib/tamper.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/*
 * With BPF LSM the syscall-exit recorders below run too (but for the path
 * ones): an attempt that the kernel's own checks refuse ahead of these hooks
 * (the capability and Yama LSMs come first: ptrace of a process with more
 * capabilities, a mount call without CAP_SYS_ADMIN) reaches no hook and is
 * recorded at the syscall's exit instead. A hook that refused marks the
 * thread with the syscall it is in, so that its exit is not recorded twice.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);   /* pid_tgid */
	__type(value, __u64); /* the syscall the hook refused in */
} ef_lsm_refused SEC(".maps");

static __always_inline int ef_lsm_mark(void)
{
	struct task_struct *t = bpf_get_current_task_btf();
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(t);
	__u64 id = bpf_get_current_pid_tgid(), nr = 0;

#if defined(__TARGET_ARCH_x86)
	nr = BPF_CORE_READ(regs, orig_ax);
#elif defined(__TARGET_ARCH_arm64)
	nr = BPF_CORE_READ(regs, syscallno);
#endif
	bpf_map_update_elem(&ef_lsm_refused, &id, &nr, BPF_ANY);
	return -EF_EPERM;
}

/* Did a hook refuse (and record) this syscall of this thread? */
static __always_inline bool ef_lsm_recorded(struct trace_event_raw_sys_exit *ctx)
{
	__u64 id = bpf_get_current_pid_tgid(), *nr;
	bool same;

	if (ctx->ret != -EF_EPERM)
		return false;
	nr = bpf_map_lookup_elem(&ef_lsm_refused, &id);
	if (!nr)
		return false;
	same = *nr == (__u64)ctx->id;
	bpf_map_delete_elem(&ef_lsm_refused, &id);
	return same;
}

#define EF_REFUSE(hook, reason, target, sig) \
	(ef_tamper(reason, EF_TAMPER_LSM | (hook), target, sig) ? ef_lsm_mark() : 0)

SEC("lsm/bpf")
int BPF_PROG(ef_lsm_bpf, int cmd, union bpf_attr *attr, unsigned int size)
{
	return EF_REFUSE(EF_HOOK_BPF, EF_R_TAMPER_BPF, cmd, 0);
}

SEC("lsm/task_kill")
int BPF_PROG(ef_lsm_kill, struct task_struct *p, struct kernel_siginfo *info, int sig,
	     const struct cred *cred)
{
	__u32 tgid = BPF_CORE_READ(p, tgid);

	if (!ef_guarded_pid(tgid))
		return 0;
	return EF_REFUSE(EF_HOOK_TASK_KILL, EF_R_TAMPER_SIGNAL, tgid, sig);
}

/* Attaching to egressd is refused and recorded; reading egressd's /proc
 * files that need ptrace access (fd/, environ, root) is refused without a
 * record: lsof and friends touch them in passing. Attaching to any other
 * process outside the job (ptrace, process_vm_*, /proc/<pid>/mem,
 * pidfd_getfd) is refused and recorded: that process is fenced by nobody;
 * reading one is refused unrecorded, as for egressd. */
SEC("lsm/ptrace_access_check")
int BPF_PROG(ef_lsm_ptrace, struct task_struct *child, unsigned int mode)
{
	__u32 tgid = BPF_CORE_READ(child, tgid);
	__u64 job_cg;
	__u8 r;

	if (ef_guarded_pid(tgid)) {
		if (mode & EF_PTRACE_MODE_ATTACH)
			return EF_REFUSE(EF_HOOK_PTRACE_ACCESS_CHECK, EF_R_TAMPER_PTRACE, tgid, 0);
		return ef_in_job(&job_cg) ? -EF_EPERM : 0;
	}
	r = ef_attach_outside(child);
	/* the policy's "tracing": false: the job's own processes too */
	if (!r && (mode & EF_PTRACE_MODE_ATTACH) && ef_job_no_trace())
		return EF_REFUSE(EF_HOOK_PTRACE_ACCESS_CHECK, EF_R_TAMPER_PTRACE, tgid, 0);
	if (!r)
		return 0;
	/* reading a process outside the job (/proc/<pid>/environ, maps, fd/,
	 * kcmp) is refused too, unrecorded: ps and friends touch them in
	 * passing; environ holds the runner's secrets */
	if (!(mode & EF_PTRACE_MODE_ATTACH))
		return -EF_EPERM;
	return EF_REFUSE(EF_HOOK_PTRACE_ACCESS_CHECK, r, tgid, 0);
}

/* PTRACE_TRACEME (gdb and strace starting a program) under "tracing": false */
SEC("lsm/ptrace_traceme")
int BPF_PROG(ef_lsm_traceme, struct task_struct *parent)
{
	if (!ef_job_no_trace())
		return 0;
	return EF_REFUSE(EF_HOOK_PTRACE_TRACEME, EF_R_TAMPER_PTRACE, BPF_CORE_READ(parent, tgid),
			 0);
}

SEC("lsm/file_open")
int BPF_PROG(ef_lsm_open, struct file *file)
{
	__u8 r = ef_open_write(file);

	return r ? EF_REFUSE(EF_HOOK_FILE_OPEN, r, 0, 0) : 0;
}

SEC("lsm/inode_mkdir")
int BPF_PROG(ef_lsm_mkdir, struct inode *dir, struct dentry *dentry, umode_t mode)
{
	__u8 r = ef_dir_change(dir);

	return r ? EF_REFUSE(EF_HOOK_INODE_MKDIR, r, 0, 0) : 0;
}

SEC("lsm/inode_rmdir")
int BPF_PROG(ef_lsm_rmdir, struct inode *dir, struct dentry *dentry)
{
	__u8 r = ef_dir_change(dir);

	return r ? EF_REFUSE(EF_HOOK_INODE_RMDIR, r, 0, 0) : 0;
}

SEC("lsm/inode_unlink")
int BPF_PROG(ef_lsm_unlink, struct inode *dir, struct dentry *dentry)
{
	__u8 r = ef_dir_change(dir);

	return r ? EF_REFUSE(EF_HOOK_INODE_UNLINK, r, 0, 0) : 0;
}

SEC("lsm/inode_rename")
int BPF_PROG(ef_lsm_rename, struct inode *old_dir, struct dentry *old_dentry,
	     struct inode *new_dir, struct dentry *new_dentry)
{
	__u8 r = ef_dir_change(old_dir);

	if (!r)
		r = ef_dir_change(new_dir);
	return r ? EF_REFUSE(EF_HOOK_INODE_RENAME, r, 0, 0) : 0;
}

/* Every mount call of a job: its mounts would land in (or propagate to)
 * the host's mount namespace, over files that processes outside the fence
 * run or read. egressctl run's own mounts (cli/userns.c) are made before
 * it joins the job's cgroup. */
SEC("lsm/sb_umount")
int BPF_PROG(ef_lsm_umount, struct vfsmount *mnt, int flags)
{
	return EF_REFUSE(EF_HOOK_SB_UMOUNT, EF_R_TAMPER_MOUNT, 0, 0);
}

SEC("lsm/sb_mount")
int BPF_PROG(ef_lsm_mount, const char *dev_name, const struct path *path, const char *type,
	     unsigned long flags, void *data)
{
	return EF_REFUSE(EF_HOOK_SB_MOUNT, EF_R_TAMPER_MOUNT, 0, 0);
}

SEC("lsm/move_mount")
int BPF_PROG(ef_lsm_move_mount, const struct path *from_path, const struct path *to_path)
{
	return EF_REFUSE(EF_HOOK_MOVE_MOUNT, EF_R_TAMPER_MOUNT, 0, 0);
}

SEC("lsm/sb_pivotroot")
int BPF_PROG(ef_lsm_pivotroot, const struct path *old_path, const struct path *new_path)
{
	return EF_REFUSE(EF_HOOK_SB_PIVOTROOT, EF_R_TAMPER_MOUNT, 0, 0);
}

/* egressd's niceness, scheduling class and CPUs, I/O priority, memory
 * placement: a root job may change those of any root process (and of every
 * one at once: PRIO_USER, IOPRIO_WHO_USER), and starve egressd so. */
static __always_inline int ef_refuse_guarded(struct task_struct *p, __u16 hook)
{
	__u32 tgid = BPF_CORE_READ(p, tgid);

	if (!ef_guarded_pid(tgid))
		return 0;
	return EF_REFUSE(hook, EF_R_TAMPER_RESOURCE, tgid, 0);
}

SEC("lsm/task_setnice")
int BPF_PROG(ef_lsm_setnice, struct task_struct *p, int nice)
{
	return ef_refuse_guarded(p, EF_HOOK_TASK_SETNICE);
}

SEC("lsm/task_setioprio")
int BPF_PROG(ef_lsm_setioprio, struct task_struct *p, int ioprio)
{
	return ef_refuse_guarded(p, EF_HOOK_TASK_SETIOPRIO);
}

/* sched_setscheduler, sched_setparam, sched_setattr and sched_setaffinity */
SEC("lsm/task_setscheduler")
int BPF_PROG(ef_lsm_setscheduler, struct task_struct *p)
{
	return ef_refuse_guarded(p, EF_HOOK_TASK_SETSCHEDULER);
}

SEC("lsm/task_movememory")
int BPF_PROG(ef_lsm_movememory, struct task_struct *p)
{
	return ef_refuse_guarded(p, EF_HOOK_TASK_MOVEMEMORY);
}

/* prlimit64() on another process (RLIMIT_CPU or RLIMIT_FSIZE kill egressd,
 * RLIMIT_NOFILE wedges it). The hook is given credentials, not the task:
 * the target is the syscall's first argument (only prlimit64 calls it). */
SEC("lsm/task_prlimit")
int BPF_PROG(ef_lsm_prlimit, const struct cred *cred, const struct cred *tcred,
	     unsigned int flags)
{
	__s32 pid = (__s32)ef_sys_arg(0);

	if (!ef_guarded_pid(pid))
		return 0;
	return EF_REFUSE(EF_HOOK_TASK_PRLIMIT, EF_R_TAMPER_RESOURCE, pid, 0);
}

/* A file's owner gets SIGIO/SIGURG (or the signal F_SETSIG chose, SIGKILL
 * included) when I/O happens on it, and the kernel checks only that the
 * owner's uid may signal it: never to egressd. Recorded when the I/O that
 * sends it is the job's (it may come from anyone). */
SEC("lsm/file_send_sigiotask")
int BPF_PROG(ef_lsm_sigio, struct task_struct *tsk, struct fown_struct *fown, int sig)
{
	__u32 tgid = BPF_CORE_READ(tsk, tgid);

	if (!ef_guarded_pid(tgid))
		return 0;
	ef_tamper(EF_R_TAMPER_SIGNAL, EF_TAMPER_LSM | EF_HOOK_FILE_SEND_SIGIOTASK, tgid,
		  (__u16)sig);
	return -EF_EPERM;
}

/* clone3(CLONE_INTO_CGROUP) starts the child in any cgroup whose directory
 * the job can open, past the file_open hook (the kernel checks permission
 * on the target's cgroup.procs, opening nothing). Refused to jobs
 * whatever the target (the flag is all the hook is given). */
#define EF_CLONE_INTO_CGROUP 0x200000000ULL

SEC("lsm/task_alloc")
int BPF_PROG(ef_lsm_task_alloc, struct task_struct *task, unsigned long clone_flags)
{
	if (!((__u64)clone_flags & EF_CLONE_INTO_CGROUP))
		return 0;
	return EF_REFUSE(EF_HOOK_TASK_ALLOC, EF_R_TAMPER_CGROUP, 0, 0);
}

/* request_key() with callout information: the kernel runs /sbin/request-key
 * as root, outside every cgroup, with what the job gave (key.dns_resolver
 * resolves any name: DNS past the fence). Such a construction, and only
 * it, first allocates the authorisation key of type ".request_key_auth". */
SEC("lsm/key_alloc")
int BPF_PROG(ef_lsm_key_alloc, struct key *key, const struct cred *cred, unsigned long flags)
{
	static const char auth[] = ".request_key_auth";
	char name[sizeof(auth)] = {};

	if (bpf_probe_read_kernel_str(name, sizeof(name), BPF_CORE_READ(key, type, name)) !=
	    (long)sizeof(auth))
		return 0;
	for (int i = 0; i < (int)sizeof(auth); i++)
		if (name[i] != auth[i])
			return 0;
	return EF_REFUSE(EF_HOOK_KEY_ALLOC, EF_R_TAMPER_KERNEL, 0, 0);
}

/* ---- records at the syscall's exit ----
 * Without BPF LSM: what egressctl run's guard refused (all of them). With
 * it: what the kernel refused ahead of the hooks (the EF_TX ones; the
 * path recorders, EF_TXP, are not loaded: no read-only mount of the guard's
 * to tell a refusal of the fence's from any other EROFS). */

#define EF_TX(sys, how, reason, sig_arg)                                     \
	SEC("tracepoint/syscalls/sys_exit_" #sys)                            \
	int ef_tx_##sys(struct trace_event_raw_sys_exit *ctx)                \
	{                                                                    \
		if (ef_lsm_recorded(ctx))                                    \
			return 0;                                            \
		return ef_tamper_exit(ctx, how, reason, sig_arg);            \
	}

#define EF_TXP(sys, how)                                                     \
	SEC("tracepoint/syscalls/sys_exit_" #sys)                            \
	int ef_txp_##sys(struct trace_event_raw_sys_exit *ctx)               \
	{                                                                    \
		return ef_tamper_exit(ctx, how, 0, -1);                      \
	}

EF_TX(bpf, EF_TX_EPERM, EF_R_TAMPER_BPF, -1)
EF_TX(mount, EF_TX_EPERM, EF_R_TAMPER_MOUNT, -1)
EF_TX(umount, EF_TX_EPERM, EF_R_TAMPER_MOUNT, -1)
EF_TX(move_mount, EF_TX_EPERM, EF_R_TAMPER_MOUNT, -1)
EF_TX(open_tree, EF_TX_EPERM, EF_R_TAMPER_MOUNT, -1)
EF_TX(fsopen, EF_TX_EPERM, EF_R_TAMPER_MOUNT, -1)
EF_TX(fsmount, EF_TX_EPERM, EF_R_TAMPER_MOUNT, -1)
EF_TX(fspick, EF_TX_EPERM, EF_R_TAMPER_MOUNT, -1)
EF_TX(mount_setattr, EF_TX_EPERM, EF_R_TAMPER_MOUNT, -1)
EF_TX(pivot_root, EF_TX_EPERM, EF_R_TAMPER_MOUNT, -1)
EF_TX(setns, EF_TX_EPERM, EF_R_TAMPER_NS, -1)
EF_TX(kill, EF_TX_KILL, EF_R_TAMPER_SIGNAL, 1)
EF_TX(tkill, EF_TX_PID0, EF_R_TAMPER_SIGNAL, 1)
EF_TX(tgkill, EF_TX_PID01, EF_R_TAMPER_SIGNAL, 2)
EF_TX(rt_sigqueueinfo, EF_TX_PID0, EF_R_TAMPER_SIGNAL, 1)
EF_TX(rt_tgsigqueueinfo, EF_TX_PID01, EF_R_TAMPER_SIGNAL, 2)
EF_TX(pidfd_open, EF_TX_PID0, EF_R_TAMPER_SIGNAL, -1)
/* ptrace and process_vm_* of any process: the job's own are let through
 * (Landlock, cli/landlock.c, refuses those outside the job) */
EF_TX(ptrace, EF_TX_PTRACE, EF_R_TAMPER_PTRACE, -1)
EF_TX(process_vm_readv, EF_TX_EPERM, EF_R_TAMPER_PTRACE, -1)
EF_TX(process_vm_writev, EF_TX_EPERM, EF_R_TAMPER_PTRACE, -1)
EF_TX(pidfd_getfd, EF_TX_EPERM, EF_R_TAMPER_PTRACE, -1)
EF_TX(setpriority, EF_TX_PRIO, EF_R_TAMPER_RESOURCE, -1)
EF_TX(ioprio_set, EF_TX_IOPRIO, EF_R_TAMPER_RESOURCE, -1)
EF_TX(prlimit64, EF_TX_PID0, EF_R_TAMPER_RESOURCE, -1)
EF_TX(sched_setscheduler, EF_TX_PID0, EF_R_TAMPER_RESOURCE, -1)
EF_TX(sched_setparam, EF_TX_PID0, EF_R_TAMPER_RESOURCE, -1)
EF_TX(sched_setattr, EF_TX_PID0, EF_R_TAMPER_RESOURCE, -1)
EF_TX(sched_setaffinity, EF_TX_PID0, EF_R_TAMPER_RESOURCE, -1)
EF_TX(migrate_pages, EF_TX_PID0, EF_R_TAMPER_RESOURCE, -1)
EF_TX(move_pages, EF_TX_PID0, EF_R_TAMPER_RESOURCE, -1)
/* (fcntl F_SETOWN and the owner-setting ioctls the guard refuses are not
 * recorded: a recorder there runs at every fcntl and ioctl of the host,
 * measured +30-45% on each; bench/tamper.py) */
EF_TX(request_key, EF_TX_EPERM, EF_R_TAMPER_KERNEL, -1)

/* clone3: the guard refuses every call (ENOSYS: the C library falls back to
 * clone()); one that asked for CLONE_INTO_CGROUP is an attempt */
SEC("tracepoint/syscalls/sys_exit_clone3")
int ef_tx_clone3(struct trace_event_raw_sys_exit *ctx)
{
	__u64 flags = 0;

	if (ctx->ret != -EF_ENOSYS && ctx->ret != -EF_EPERM)
		return 0;
	if (bpf_probe_read_user(&flags, sizeof(flags), (const void *)ef_sys_arg(0)) ||
	    !(flags & EF_CLONE_INTO_CGROUP))
		return 0;
	if (ef_lsm_recorded(ctx))
		return 0;
	ef_tamper(EF_R_TAMPER_CGROUP, (__u16)ctx->id, 0, 0);
	return 0;
}

EF_TXP(openat, EF_TX_PATH1)
EF_TXP(openat2, EF_TX_PATH1)
EF_TXP(mkdirat, EF_TX_PATH1)
EF_TXP(unlinkat, EF_TX_PATH1)
EF_TXP(renameat, EF_TX_PATH1)
EF_TXP(renameat2, EF_TX_PATH1)
#if defined(__TARGET_ARCH_x86)
EF_TXP(open, EF_TX_PATH0)
EF_TXP(creat, EF_TX_PATH0)
EF_TXP(mkdir, EF_TX_PATH0)
EF_TXP(rmdir, EF_TX_PATH0)
EF_TXP(unlink, EF_TX_PATH0)
EF_TXP(rename, EF_TX_PATH0)
#endif

/* ---- capability refusals (capability/cap_capable, Linux 6.x where it
 * exists; egressd tolerates its absence: kernel_probes.c) ----
 * Fires on every capability check of the host: the refusal test comes
 * first, then the capability, then the job. Only the capabilities that
 * reach outside the job (EF_CAPS_RECORDED) are recorded; a root job lacks
 * them (cli/guard.c) unless its policy grants them, and then the check
 * passes. Its layout as in tracefs's format file, so that no kernel's BTF
 * is needed for it. */
struct ef_cap_capable_args {
	__u64 common;
	const void *cred;
	const void *target_ns;
	const void *capable_ns;
	int cap;
	int ret;
};

SEC("tracepoint/capability/cap_capable")
int ef_tx_cap_capable(struct ef_cap_capable_args *ctx)
{
	int cap = ctx->cap;

	if (ctx->ret == 0 || cap < 0 || cap > 63 || !((EF_CAPS_RECORDED >> cap) & 1))
		return 0;
	ef_tamper(EF_R_TAMPER_CAP, EF_TAMPER_CAP, (__u64)cap, 0);
	return 0;
}
