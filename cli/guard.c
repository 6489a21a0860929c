// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The guard: tamper resistance where the kernel will not run BPF LSM
 * programs (egressd says so in its reply to "run"). Set up by egressctl run
 * in the job's first process, just before exec, and inherited by every
 * descendant; none of it can be undone from inside:
 *
 *   - a seccomp filter refusing (EPERM) bpf(), every mount-changing call
 *     (mount, umount2, move_mount, open_tree, fsopen, fsmount, fspick,
 *     mount_setattr, pivot_root), setns(), signals to egressd's threads
 *     (kill, also kill(-1) and kill(-pgid); tkill, tgkill, rt_*sigqueueinfo,
 *     pidfd_open) and ptrace/process_vm_* on them, pidfd_getfd() on any
 *     process (a socket taken from outside the job is judged by nobody),
 *     and syscalls of another ABI;
 * and, when the job starts as root, a mount namespace of its own (slave:
 * the host's mounts still reach it) where every cgroup, cgroup2 and bpf
 * mount, every mount of a kernel-setting filesystem (sysfs, debugfs,
 * tracefs, securityfs, binfmt_misc, configfs, efivarfs, pstore),
 * /proc/sys and /proc/sysrq-trigger are read-only, but for the job's own
 * cgroup (nested cgroups keep working); egressd's /proc/<tid> entries are
 * covered (no pidfd from /proc, no /proc/<pid>/mem, root, fd).
 *
 * In both tamper modes (the guard, or BPF LSM whose hooks refuse the rest)
 * every job gets the baseline (ef_guard_baseline), applied last, after the
 * mount namespace and the seccomp filter (which need CAP_SYS_ADMIN): a
 * root job keeps only the capabilities egressd's reply names, the default
 * set of container runtimes plus the policy's grants (policy/caps.c), and
 * loses every other one from its bounding, permitted, effective,
 * inheritable and ambient sets: it cannot configure interfaces, routes,
 * tunnels or netfilter, destroy other processes' sockets, send raw packets
 * (unless the policy allows raw sockets), load modules or BPF, trace other
 * processes (sudo keeps working, with that smaller root); a job started by
 * an unprivileged user
 * gets no_new_privs: it can never become root (nor regain them through a
 * setuid program), and the file permissions of the cgroup tree, the pins
 * and egressd protect them.
 *
 * The fence's tracepoints (lsm/tamper.bpf.c) record what the guard refused.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/audit.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

#include "guard.h"
#include "mountinfo.h"
#include "policy.h"
#include "seccomp.h"

#define MAX_PIDS 64

/* ---- the seccomp filter (built with seccomp.c's ef_sf_*) ---- */

/* the low 32 bits of an argument (little-endian): pids are ints */
#define LD_ARG(i) BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[i]))
#define RET(v) BPF_STMT(BPF_RET | BPF_K, (v))
#define DENY SECCOMP_RET_ERRNO | EPERM

/* nr refused outright */
static void refuse(struct ef_sf *p, int nr)
{
	ef_sf_emit(p, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)nr, 0, 1));
	ef_sf_emit(p, (struct sock_filter)RET(DENY));
}

/* nr refused outright with another errno */
static void refuse_errno(struct ef_sf *p, int nr, int err)
{
	ef_sf_emit(p, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)nr, 0, 1));
	ef_sf_emit(p, (struct sock_filter)RET(SECCOMP_RET_ERRNO | (unsigned)err));
}

/*
 * nr refused when one of the listed arguments is one of the pids (or, with
 * negated, minus one of them), or, with minus_one, is -1. Layout:
 *   JEQ nr ? next : skip-block
 *   (LD arg; JEQ v -> deny)...   RET ALLOW   deny: RET ERRNO
 * The accumulator holds nr again after the block (the skip jumps past it;
 * inside it the block returns).
 */
static void refuse_pids(struct ef_sf *p, int nr, const int *args, int n_args, const unsigned *pids,
			int n, bool negated, bool minus_one)
{
	int per_arg = n * (negated ? 2 : 1) + (minus_one ? 1 : 0);
	int body = n_args * (1 + per_arg) + 2; /* + RET ALLOW + deny */
	int start, deny;

	if (body > 250) { /* jump offsets are 8 bits */
		p->full = true;
		return;
	}
	ef_sf_emit(p, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)nr, 0, body));
	start = p->n;
	deny = start + body - 1;
	for (int a = 0; a < n_args; a++) {
		ef_sf_emit(p, (struct sock_filter)LD_ARG(args[a]));
		for (int k = 0; k < n; k++) {
			ef_sf_emit(p, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, pids[k],
							     deny - p->n - 1, 0));
			if (negated)
				ef_sf_emit(p, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
								     (unsigned)-(int)pids[k],
								     deny - p->n - 1, 0));
		}
		if (minus_one)
			ef_sf_emit(p, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0xffffffffu,
							     deny - p->n - 1, 0));
	}
	ef_sf_emit(p, (struct sock_filter)RET(SECCOMP_RET_ALLOW));
	ef_sf_emit(p, (struct sock_filter)RET(DENY));
}

/* nr refused (with err) when argument arg equals one of vals[]; when none
 * does, the accumulator holds nr again after the block and the filter goes
 * on. Layout: JEQ nr ? next : past; LD arg; (JEQ v -> deny)...; LD nr;
 * JA past; deny: RET ERRNO */
static void refuse_arg_eq(struct ef_sf *p, int nr, int arg, const unsigned *vals, int n_vals,
			  int err)
{
	int body = n_vals + 4;

	ef_sf_emit(p, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)nr, 0, body));
	ef_sf_emit(p, (struct sock_filter)LD_ARG(arg));
	for (int k = 0; k < n_vals; k++)
		ef_sf_emit(p, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, vals[k],
						     (unsigned)(n_vals - k + 1), 0));
	ef_sf_emit(p, (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
						    offsetof(struct seccomp_data, nr)));
	ef_sf_emit(p, (struct sock_filter)BPF_STMT(BPF_JMP | BPF_JA, 1));
	ef_sf_emit(p, (struct sock_filter)RET(SECCOMP_RET_ERRNO | (unsigned)err));
}

/* nr refused when argument arg is not 0 (a pointer given); the accumulator
 * holds nr again after the block */
static void refuse_arg_ne0(struct ef_sf *p, int nr, int arg)
{
	ef_sf_emit(p, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)nr, 0, 6));
	/* both halves of the 64-bit argument */
	ef_sf_emit(p, (struct sock_filter)LD_ARG(arg));
	ef_sf_emit(p, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 3));
	ef_sf_emit(p, (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
						    offsetof(struct seccomp_data, args[arg]) + 4));
	ef_sf_emit(p, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 1));
	ef_sf_emit(p, (struct sock_filter)RET(SECCOMP_RET_ALLOW));
	ef_sf_emit(p, (struct sock_filter)RET(DENY));
}

/*
 * fcntl(fd, F_SETOWN, pid): the file's SIGIO (or the signal F_SETSIG names,
 * SIGKILL included) goes to pid, or to the group -pid, whenever I/O happens
 * on it, and the kernel checks only that the owner's uid may signal the
 * target: a root job could so signal egressd. F_SETOWN naming one of the
 * pids (or its group) is refused; F_SETOWN_EX, whose pid is behind a
 * pointer, is refused outright (the job's own processes are named with
 * F_SETOWN), and so are the ioctls that set an owner (FIOSETOWN,
 * SIOCSPGRP), whose pid is behind a pointer too.
 */
static void refuse_setown(struct ef_sf *p, const unsigned *pids, int n)
{
	static const unsigned setown_ioctls[] = { 0x8901 /* FIOSETOWN */, 0x8902 /* SIOCSPGRP */ };
	int body = 2 + 1 + 1 + 2 * n + 2; /* LD cmd, JEQ EX, JEQ SETOWN, LD arg2, pids, out */
	int deny;

	ef_sf_emit(p, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_fcntl, 0, body));
	deny = p->n + body - 1;
	ef_sf_emit(p, (struct sock_filter)LD_ARG(1));
	ef_sf_emit(p, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 15 /* F_SETOWN_EX */,
					     deny - p->n - 1, 0));
	ef_sf_emit(p, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 8 /* F_SETOWN */, 0,
					     2 * n + 1));
	ef_sf_emit(p, (struct sock_filter)LD_ARG(2));
	for (int k = 0; k < n; k++) {
		ef_sf_emit(p, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, pids[k],
						     deny - p->n - 1, 0));
		ef_sf_emit(p, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
						     (unsigned)-(int)pids[k], deny - p->n - 1, 0));
	}
	ef_sf_emit(p, (struct sock_filter)RET(SECCOMP_RET_ALLOW));
	ef_sf_emit(p, (struct sock_filter)RET(DENY));
	refuse_arg_eq(p, __NR_ioctl, 1, setown_ioctls, 2, EPERM);
}

static void add_rules(struct ef_sf *p, const unsigned *pids, int n, bool no_trace)
{
	static const int mount_calls[] = {
		__NR_mount, __NR_umount2, __NR_move_mount, __NR_open_tree, __NR_fsopen,
		__NR_fsmount, __NR_fspick, __NR_mount_setattr, __NR_pivot_root, __NR_setns,
		__NR_bpf,
	};
	static const int a0[] = { 0 }, a1[] = { 1 }, a01[] = { 0, 1 };
	static const unsigned user_which[] = { 2 /* PRIO_USER */ };
	static const unsigned ioprio_user[] = { 3 /* IOPRIO_WHO_USER */ };

	for (size_t i = 0; i < sizeof(mount_calls) / sizeof(mount_calls[0]); i++)
		refuse(p, mount_calls[i]);
	/* the policy's "tracing": false: no tracing at all, the job's own
	 * processes included */
	if (no_trace) {
		refuse(p, __NR_ptrace);
		refuse(p, __NR_process_vm_readv);
		refuse(p, __NR_process_vm_writev);
	}
	refuse_pids(p, __NR_kill, a0, 1, pids, n, true, true);
	refuse_pids(p, __NR_tkill, a0, 1, pids, n, false, false);
	refuse_pids(p, __NR_tgkill, a01, 2, pids, n, false, false);
	refuse_pids(p, __NR_rt_sigqueueinfo, a0, 1, pids, n, false, false);
	refuse_pids(p, __NR_rt_tgsigqueueinfo, a01, 2, pids, n, false, false);
	refuse_pids(p, __NR_pidfd_open, a0, 1, pids, n, false, false);
	refuse_pids(p, __NR_ptrace, a1, 1, pids, n, false, false);
	refuse_pids(p, __NR_process_vm_readv, a0, 1, pids, n, false, false);
	refuse_pids(p, __NR_process_vm_writev, a0, 1, pids, n, false, false);
	/* a copy of any descriptor of a process outside the job (its parent's
	 * sockets): judged by nobody */
	refuse(p, __NR_pidfd_getfd);
	/* starving or limiting egressd: its niceness, scheduling class and CPUs,
	 * I/O priority and resource limits (a root job may lower those of any
	 * root process: RLIMIT_CPU or RLIMIT_FSIZE would kill it, RLIMIT_NOFILE
	 * wedge it). By pid, by process group (egressd leads its own), and by
	 * user (every process of root, egressd among them) */
	refuse_arg_eq(p, __NR_setpriority, 0, user_which, 1, EPERM);
	refuse_pids(p, __NR_setpriority, a1, 1, pids, n, false, false);
	refuse_arg_eq(p, __NR_ioprio_set, 0, ioprio_user, 1, EPERM);
	refuse_pids(p, __NR_ioprio_set, a1, 1, pids, n, false, false);
	refuse_pids(p, __NR_prlimit64, a0, 1, pids, n, false, false);
	refuse_pids(p, __NR_sched_setscheduler, a0, 1, pids, n, false, false);
	refuse_pids(p, __NR_sched_setparam, a0, 1, pids, n, false, false);
	refuse_pids(p, __NR_sched_setattr, a0, 1, pids, n, false, false);
	refuse_pids(p, __NR_sched_setaffinity, a0, 1, pids, n, false, false);
	refuse_pids(p, __NR_migrate_pages, a0, 1, pids, n, false, false);
	refuse_pids(p, __NR_move_pages, a0, 1, pids, n, false, false);
	refuse_setown(p, pids, n);
	/* clone3(CLONE_INTO_CGROUP) starts a child in any cgroup whose directory
	 * the job can open: the kernel checks write permission on the target's
	 * cgroup.procs, not that the mount is read-only. Its flags are behind
	 * a pointer, so clone3 is refused with ENOSYS, as container runtimes
	 * do: the C library falls back to clone(), which has no such flag. */
	refuse_errno(p, __NR_clone3, ENOSYS);
	/* request_key() with callout information makes the kernel run
	 * /sbin/request-key, outside every cgroup, with what the job gave
	 * (key.dns_resolver resolves any name it is handed: DNS past the
	 * fence). Without callout no program runs: that stays. */
	refuse_arg_ne0(p, __NR_request_key, 2);
}

/* ---- the mount namespace ---- */

/* the per-mount flags a bind remount must repeat */
static unsigned long mount_flags(const char *opts)
{
	unsigned long f = 0;
	char *dup = strdup(opts), *save = NULL;

	if (!dup)
		return 0;
	for (char *t = strtok_r(dup, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (!strcmp(t, "nosuid"))
			f |= MS_NOSUID;
		else if (!strcmp(t, "nodev"))
			f |= MS_NODEV;
		else if (!strcmp(t, "noexec"))
			f |= MS_NOEXEC;
		else if (!strcmp(t, "noatime"))
			f |= MS_NOATIME;
		else if (!strcmp(t, "nodiratime"))
			f |= MS_NODIRATIME;
		else if (!strcmp(t, "relatime"))
			f |= MS_RELATIME;
	}
	free(dup);
	return f;
}

static int remount_ro(const char *target, unsigned long flags, char *err, size_t errlen)
{
	if (mount(NULL, target, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | flags, NULL) == 0)
		return 0;
	snprintf(err, errlen, "making %s read-only: %s", target, strerror(errno));
	return -errno;
}

static int bind_ro(const char *path, char *err, size_t errlen)
{
	if (mount(path, path, NULL, MS_BIND | MS_REC, NULL) != 0) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "bind-mounting %s: %s", path, strerror(errno));
		return -errno;
	}
	return remount_ro(path, MS_NOSUID | MS_NODEV | MS_NOEXEC, err, errlen);
}

/* the filesystems made read-only: the fence's own, and those whose every
 * file is a kernel setting (bpf/lib/tamper.bpf.h's ef_kernel_fs) */
static bool guarded_fs(const char *fstype)
{
	static const char *const fs[] = {
		"cgroup2", "cgroup", "bpf", "sysfs", "debugfs", "tracefs", "securityfs",
		"binfmt_misc", "configfs", "efivarfs", "pstore",
	};

	for (size_t i = 0; i < sizeof(fs) / sizeof(fs[0]); i++)
		if (!strcmp(fstype, fs[i]))
			return true;
	return false;
}

static int read_only_fence(const char *job_cgroup, const unsigned *pids, int n, char *err,
			   size_t errlen)
{
	char *line = NULL, mp[4096], opts[1024], fstype[64], path[64];
	unsigned long job_flags = 0;
	size_t cap = 0;
	FILE *f;
	int ret = 0;

	if (unshare(CLONE_NEWNS) != 0) {
		snprintf(err, errlen, "a mount namespace for the job: %s", strerror(errno));
		return -errno;
	}
	if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) != 0) {
		snprintf(err, errlen, "making the job's mounts slaves: %s", strerror(errno));
		return -errno;
	}
	f = fopen("/proc/self/mountinfo", "re");
	if (!f) {
		snprintf(err, errlen, "/proc/self/mountinfo: %s", strerror(errno));
		return -errno;
	}
	while (!ret && getline(&line, &cap, f) > 0) {
		/* id parent maj:min root mountpoint opts [optional...] - fstype source super */
		char *sep = strstr(line, " - ");

		if (!sep || sscanf(line, "%*s %*s %*s %*s %4095s %1023s", mp, opts) != 2 ||
		    sscanf(sep + 3, "%63s", fstype) != 1)
			continue;
		if (!guarded_fs(fstype))
			continue;
		ef_mountinfo_unescape(mp);
		if (!strcmp(fstype, "cgroup2") && job_cgroup &&
		    !strncmp(job_cgroup, mp, strlen(mp)))
			job_flags = mount_flags(opts);
		ret = remount_ro(mp, mount_flags(opts), err, errlen);
		/* a mount hidden under another one cannot be reached: nothing to do */
		if (ret == -EINVAL || ret == -ENOENT)
			ret = 0;
	}
	free(line);
	fclose(f);
	if (!ret)
		ret = bind_ro("/proc/sys", err, errlen);
	if (!ret)
		ret = bind_ro("/proc/sysrq-trigger", err, errlen);
	/* the job's own cgroup stays writable: nested cgroups below it */
	if (!ret && job_cgroup) {
		if (mount(job_cgroup, job_cgroup, NULL, MS_BIND, NULL) != 0 ||
		    mount(NULL, job_cgroup, NULL, MS_REMOUNT | MS_BIND | job_flags, NULL) != 0) {
			snprintf(err, errlen, "keeping %s writable: %s", job_cgroup, strerror(errno));
			ret = -errno;
		}
	}
	/* egressd's /proc entries: an empty, read-only directory over each */
	for (int i = 0; !ret && i < n; i++) {
		snprintf(path, sizeof(path), "/proc/%u", pids[i]);
		if (mount("none", path, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
			  "size=4k,mode=000") != 0 && errno != ENOENT) {
			snprintf(err, errlen, "covering %s: %s", path, strerror(errno));
			ret = -errno;
		}
	}
	return ret;
}

/* ---- capabilities ---- */

/* The set egressd's reply names ("capabilities": CAP_* numbers), or, if it
 * names none or sends something else, the default set: fail closed. Never
 * one of those that reach around the fence, whatever the reply says. */
static __u64 keep_set(const cJSON *caps)
{
	const cJSON *v;
	__u64 m = 0;

	if (!cJSON_IsArray(caps))
		return ef_caps_default();
	cJSON_ArrayForEach(v, caps) {
		if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > 63 ||
		    v->valuedouble != (double)(int)v->valuedouble)
			return ef_caps_default();
		m |= 1ull << (int)v->valuedouble;
	}
	return m & ~ef_caps_never();
}

/* Everything not in keep leaves the bounding set (so no exec, setuid
 * program or file capability brings it back), and the permitted,
 * effective, inheritable and ambient sets. */
static int drop_caps(__u64 keep, char *err, size_t errlen)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2];

	for (int cap = 0; cap < 64; cap++) {
		if ((keep >> cap) & 1)
			continue;
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0) {
			if (errno == EINVAL) /* past the kernel's last capability */
				break;
			snprintf(err, errlen, "dropping capability %d: %s", cap, strerror(errno));
			return -errno;
		}
	}
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL) {
		snprintf(err, errlen, "clearing ambient capabilities: %s", strerror(errno));
		return -errno;
	}
	if (syscall(SYS_capget, &h, d) != 0) {
		snprintf(err, errlen, "capget: %s", strerror(errno));
		return -errno;
	}
	for (int w = 0; w < 2; w++) {
		__u32 k = (__u32)(keep >> (32 * w));

		d[w].effective &= k;
		d[w].permitted &= k;
		d[w].inheritable &= k;
	}
	if (syscall(SYS_capset, &h, d) != 0) {
		snprintf(err, errlen, "capset: %s", strerror(errno));
		return -errno;
	}
	return 0;
}

/*
 * In a container whose root has no CAP_SYS_ADMIN (run_isolate.c), no mount
 * namespace of the job's own: what read_only_fence() would make read-only
 * must be so already, as the runtime mounts it for a container that is not
 * privileged (Docker, Podman: sysfs, the cgroup filesystems, /proc/sys and
 * /proc/sysrq-trigger read-only). A privileged container, or one the runner
 * gave a writable cgroup filesystem, is refused: fence it from the host.
 * egressd's /proc entries are in another pid namespace, out of sight; its
 * pids in the seccomp rules (add_rules) refuse no more than a few of the
 * container's own.
 */
static int verify_read_only_fence(char *err, size_t errlen)
{
	struct ef_mountinfo m;
	char *line = NULL;
	bool sys_ro = false, sysrq_ro = false;
	size_t cap = 0;
	FILE *f = fopen("/proc/self/mountinfo", "re");
	int ret = 0;

	if (!f) {
		snprintf(err, errlen, "/proc/self/mountinfo: %s", strerror(errno));
		return -errno;
	}
	while (!ret && getline(&line, &cap, f) > 0) {
		if (ef_mountinfo_parse(line, &m))
			continue;
		if (!strcmp(m.mountpoint, "/proc/sys"))
			sys_ro = m.ro;
		else if (!strcmp(m.mountpoint, "/proc/sysrq-trigger"))
			sysrq_ro = m.ro;
		if (guarded_fs(m.fstype) && !m.ro) {
			snprintf(err, errlen, "%s (%s) is mounted read-write in this container, and "
					      "without CAP_SYS_ADMIN the job cannot have it made "
					      "read-only (a privileged container? fence the "
					      "container from the host: docs/ci.md)", m.mountpoint,
				 m.fstype);
			ret = -EPERM;
		}
	}
	free(line);
	fclose(f);
	if (!ret && (!sys_ro || (!sysrq_ro && access("/proc/sysrq-trigger", F_OK) == 0))) {
		snprintf(err, errlen, "%s is writable in this container, and without CAP_SYS_ADMIN "
				      "the job cannot have it made read-only (a privileged "
				      "container? fence the container from the host: docs/ci.md)",
			 sys_ro ? "/proc/sysrq-trigger" : "/proc/sys");
		ret = -EPERM;
	}
	return ret;
}

int ef_guard_apply(const cJSON *guard, struct ef_sf *sf, bool in_container, pid_t supervisor,
		   char *err, size_t errlen)
{
	const cJSON *pl = cJSON_GetObjectItem(guard, "pids"), *v;
	const char *job_cgroup = cJSON_GetStringValue(cJSON_GetObjectItem(guard, "job_cgroup"));
	unsigned pids[MAX_PIDS];
	int n = 0, ret;

	if (!cJSON_IsArray(pl)) {
		snprintf(err, errlen, "egressd sent a malformed guard (pids)");
		return -EINVAL;
	}
	cJSON_ArrayForEach(v, pl) {
		if (!cJSON_IsNumber(v) || v->valuedouble < 1 || v->valuedouble > 4194304 ||
		    n >= MAX_PIDS) {
			snprintf(err, errlen, "egressd sent a malformed guard (pids)");
			return -EINVAL;
		}
		pids[n++] = (unsigned)v->valuedouble;
	}
	if (geteuid() == 0) {
		ret = in_container ? verify_read_only_fence(err, errlen)
				   : read_only_fence(job_cgroup, pids, n, err, errlen);
		if (ret)
			return ret;
	}
	/* the parent that judges the job (its notices, --fail-on-deny): no
	 * signal, trace, limit or scheduling change from the job either */
	if (supervisor > 0 && n < MAX_PIDS)
		pids[n++] = (unsigned)supervisor;
	add_rules(sf, pids, n, cJSON_IsFalse(cJSON_GetObjectItem(guard, "tracing")));
	return 0;
}

int ef_guard_baseline(const cJSON *caps, char *err, size_t errlen)
{
	if (geteuid() == 0)
		return drop_caps(keep_set(caps), err, errlen);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
		snprintf(err, errlen, "no_new_privs: %s", strerror(errno));
		return -errno;
	}
	return 0;
}
