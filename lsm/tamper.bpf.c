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

#define EF_REFUSE(reason, target, sig) \
	(ef_tamper(reason, EF_TAMPER_VIA_LSM, target, sig) ? -EF_EPERM : 0)

SEC("lsm/bpf")
int BPF_PROG(ef_lsm_bpf, int cmd, union bpf_attr *attr, unsigned int size)
{
	return EF_REFUSE(EF_R_TAMPER_BPF, cmd, 0);
}

SEC("lsm/task_kill")
int BPF_PROG(ef_lsm_kill, struct task_struct *p, struct kernel_siginfo *info, int sig,
	     const struct cred *cred)
{
	__u32 tgid = BPF_CORE_READ(p, tgid);

	if (!ef_guarded_pid(tgid))
		return 0;
	return EF_REFUSE(EF_R_TAMPER_SIGNAL, tgid, sig);
}

/* Attaching is refused and recorded; reading egressd's /proc files that
 * need ptrace access (fd/, environ, root) is refused without a record:
 * lsof and friends touch them in passing. */
SEC("lsm/ptrace_access_check")
int BPF_PROG(ef_lsm_ptrace, struct task_struct *child, unsigned int mode)
{
	__u32 tgid = BPF_CORE_READ(child, tgid);
	__u64 job_cg;

	if (!ef_guarded_pid(tgid))
		return 0;
	if (mode & EF_PTRACE_MODE_ATTACH)
		return EF_REFUSE(EF_R_TAMPER_PTRACE, tgid, 0);
	return ef_in_job(&job_cg) ? -EF_EPERM : 0;
}

SEC("lsm/file_open")
int BPF_PROG(ef_lsm_open, struct file *file)
{
	__u8 r = ef_open_write(file);

	return r ? EF_REFUSE(r, 0, 0) : 0;
}

SEC("lsm/inode_mkdir")
int BPF_PROG(ef_lsm_mkdir, struct inode *dir, struct dentry *dentry, umode_t mode)
{
	__u8 r = ef_dir_change(dir);

	return r ? EF_REFUSE(r, 0, 0) : 0;
}

SEC("lsm/inode_rmdir")
int BPF_PROG(ef_lsm_rmdir, struct inode *dir, struct dentry *dentry)
{
	__u8 r = ef_dir_change(dir);

	return r ? EF_REFUSE(r, 0, 0) : 0;
}

SEC("lsm/inode_unlink")
int BPF_PROG(ef_lsm_unlink, struct inode *dir, struct dentry *dentry)
{
	__u8 r = ef_dir_change(dir);

	return r ? EF_REFUSE(r, 0, 0) : 0;
}

SEC("lsm/inode_rename")
int BPF_PROG(ef_lsm_rename, struct inode *old_dir, struct dentry *old_dentry,
	     struct inode *new_dir, struct dentry *new_dentry)
{
	__u8 r = ef_dir_change(old_dir);

	if (!r)
		r = ef_dir_change(new_dir);
	return r ? EF_REFUSE(r, 0, 0) : 0;
}

SEC("lsm/sb_umount")
int BPF_PROG(ef_lsm_umount, struct vfsmount *mnt, int flags)
{
	if (!ef_fence_fs(BPF_CORE_READ(mnt, mnt_sb)))
		return 0;
	return EF_REFUSE(EF_R_TAMPER_MOUNT, 0, 0);
}

/* Mounting onto (or remounting) one of the fence's filesystems. */
SEC("lsm/sb_mount")
int BPF_PROG(ef_lsm_mount, const char *dev_name, const struct path *path, const char *type,
	     unsigned long flags, void *data)
{
	if (!ef_fence_fs(BPF_CORE_READ(path, dentry, d_sb)))
		return 0;
	return EF_REFUSE(EF_R_TAMPER_MOUNT, 0, 0);
}

SEC("lsm/move_mount")
int BPF_PROG(ef_lsm_move_mount, const struct path *from_path, const struct path *to_path)
{
	if (!ef_fence_fs(BPF_CORE_READ(from_path, dentry, d_sb)) &&
	    !ef_fence_fs(BPF_CORE_READ(to_path, dentry, d_sb)))
		return 0;
	return EF_REFUSE(EF_R_TAMPER_MOUNT, 0, 0);
}

/* ---- without BPF LSM: records of what egressctl run's guard refused ---- */

#define EF_TX(sys, how, reason, sig_arg)                                     \
	SEC("tracepoint/syscalls/sys_exit_" #sys)                            \
	int ef_tx_##sys(struct trace_event_raw_sys_exit *ctx)                \
	{                                                                    \
		return ef_tamper_exit(ctx, how, reason, sig_arg);            \
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
EF_TX(ptrace, EF_TX_PID1, EF_R_TAMPER_PTRACE, -1)
EF_TX(process_vm_readv, EF_TX_PID0, EF_R_TAMPER_PTRACE, -1)
EF_TX(process_vm_writev, EF_TX_PID0, EF_R_TAMPER_PTRACE, -1)
EF_TX(pidfd_getfd, EF_TX_EPERM, EF_R_TAMPER_PTRACE, -1)
EF_TX(openat, EF_TX_PATH1, 0, -1)
EF_TX(openat2, EF_TX_PATH1, 0, -1)
EF_TX(mkdirat, EF_TX_PATH1, 0, -1)
EF_TX(unlinkat, EF_TX_PATH1, 0, -1)
EF_TX(renameat, EF_TX_PATH1, 0, -1)
EF_TX(renameat2, EF_TX_PATH1, 0, -1)
#if defined(__TARGET_ARCH_x86)
EF_TX(open, EF_TX_PATH0, 0, -1)
EF_TX(creat, EF_TX_PATH0, 0, -1)
EF_TX(mkdir, EF_TX_PATH0, 0, -1)
EF_TX(rmdir, EF_TX_PATH0, 0, -1)
EF_TX(unlink, EF_TX_PATH0, 0, -1)
EF_TX(rename, EF_TX_PATH0, 0, -1)
#endif
