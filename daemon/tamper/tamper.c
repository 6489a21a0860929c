// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Tamper attempts: the egress.tamper span of a record (from the BPF LSM
 * hooks or the guard's recorders, lsm/tamper.bpf.c), the records egressd
 * writes itself for control requests a job may not make, and the status.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>

#include "egressd.h"
#include "lib/procinfo.h"
#include "tamper.h"
#include "lib/span.h"
#include "lib/util.h"

/* protocol of a record: a syscall number, EF_TAMPER_LSM | the hook, or a
 * control request */
#define VIA_CONTROL 0xfffe

static const char *hook_name(unsigned h)
{
	static const char *const t[EF_HOOK__MAX] = {
		[EF_HOOK_BPF] = "bpf",
		[EF_HOOK_TASK_KILL] = "task_kill",
		[EF_HOOK_PTRACE_ACCESS_CHECK] = "ptrace_access_check",
		[EF_HOOK_FILE_OPEN] = "file_open",
		[EF_HOOK_INODE_MKDIR] = "inode_mkdir",
		[EF_HOOK_INODE_RMDIR] = "inode_rmdir",
		[EF_HOOK_INODE_UNLINK] = "inode_unlink",
		[EF_HOOK_INODE_RENAME] = "inode_rename",
		[EF_HOOK_SB_UMOUNT] = "sb_umount",
		[EF_HOOK_SB_MOUNT] = "sb_mount",
		[EF_HOOK_MOVE_MOUNT] = "move_mount",
		[EF_HOOK_SB_PIVOTROOT] = "sb_pivotroot",
		[EF_HOOK_TASK_ALLOC] = "task_alloc",
		[EF_HOOK_TASK_SETNICE] = "task_setnice",
		[EF_HOOK_TASK_SETIOPRIO] = "task_setioprio",
		[EF_HOOK_TASK_SETSCHEDULER] = "task_setscheduler",
		[EF_HOOK_TASK_PRLIMIT] = "task_prlimit",
		[EF_HOOK_TASK_MOVEMEMORY] = "task_movememory",
		[EF_HOOK_FILE_SEND_SIGIOTASK] = "file_send_sigiotask",
		[EF_HOOK_PTRACE_TRACEME] = "ptrace_traceme",
		[EF_HOOK_KEY_ALLOC] = "key_alloc",
	};

	return h < EF_HOOK__MAX ? t[h] : NULL;
}

static const char *syscall_name(unsigned nr)
{
	static const struct {
		unsigned nr;
		const char *name;
	} t[] = {
#define S(x) { __NR_##x, #x }
		S(bpf), S(mount), S(umount2), S(move_mount), S(open_tree), S(fsopen), S(fsmount),
		S(fspick), S(mount_setattr), S(pivot_root), S(setns), S(kill), S(tkill), S(tgkill),
		S(rt_sigqueueinfo), S(rt_tgsigqueueinfo), S(pidfd_open), S(pidfd_getfd), S(ptrace),
		S(process_vm_readv), S(process_vm_writev), S(openat), S(openat2), S(mkdirat),
		S(unlinkat), S(renameat), S(renameat2), S(clone3), S(setpriority), S(ioprio_set),
		S(prlimit64), S(sched_setscheduler), S(sched_setparam), S(sched_setattr),
		S(sched_setaffinity), S(migrate_pages), S(move_pages), S(fcntl), S(ioctl),
		S(request_key),
#ifdef __NR_open
		S(open), S(creat), S(mkdir), S(rmdir), S(unlink), S(rename),
#endif
#undef S
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (t[i].nr == nr)
			return t[i].name;
	return NULL;
}

static const char *what(int reason)
{
	switch (reason) {
	case EF_R_TAMPER_BPF:
		return "bpf() is refused to fenced jobs";
	case EF_R_TAMPER_CGROUP:
		return "a fenced job may not change the cgroup tree outside its own cgroup";
	case EF_R_TAMPER_SIGNAL:
		return "a fenced job may not signal egressd";
	case EF_R_TAMPER_PTRACE:
		return "a fenced job may not trace egressd or a process outside its job";
	case EF_R_TAMPER_PIN:
		return "a fenced job may not change the bpf filesystem (the fence's pins)";
	case EF_R_TAMPER_MOUNT:
		return "a fenced job may not mount or unmount";
	case EF_R_TAMPER_NS:
		return "a fenced job may not enter other namespaces";
	case EF_R_TAMPER_KERNEL:
		return "a fenced job may not change kernel settings (/proc/sys, sysfs and the "
		       "like) or have the kernel run a program for it (request-key)";
	case EF_R_TAMPER_CONTROL:
		return "a fenced job may not start jobs, change policies or control jobs";
	case EF_R_TAMPER_RESOURCE:
		return "a fenced job may not change egressd's priority, scheduling or resource "
		       "limits";
	case EF_R_TAMPER_CAP:
		return "a fenced job lacks the capabilities that reach outside it (network "
		       "configuration, raw sockets, administration) unless its policy grants them";
	case EF_R_TAMPER_DEVICE:
		return "a fenced job may not open block devices, consoles, input or raw "
		       "hardware devices";
	case EF_R_TAMPER_RUNTIME:
		return "a fenced job may not use the host's container runtimes (dockerd, "
		       "containerd, Podman: they act as root outside the fence)";
	case EF_R_TAMPER_DOCKER:
		return "a fenced job's Docker endpoint refuses what would let a container out "
		       "of the fence (privileges, the host's namespaces or files, others' "
		       "containers, what dockerd itself would fetch)";
	}
	return "refused";
}

void ef_tamper_span(struct ef_daemon *d, struct ef_span *s, const struct ef_event *e,
		    const char *detail)
{
	const char *sys = NULL, *cap = NULL;
	char msg[320];

	if (e->protocol == EF_TAMPER_DEVICE) {
		char dev[48];

		snprintf(dev, sizeof(dev), "%s %u:%u", (e->cookie >> 40) == 1 ? "block" : "char",
			 (unsigned)((e->cookie >> 20) & 0xfffff), (unsigned)(e->cookie & 0xfffff));
		ef_span_str(s, "egress.tamper.via", "cgroup_device");
		ef_span_str(s, "egress.tamper.device", dev);
		ef_span_str(s, "egress.tamper.access", (e->port & 2) && (e->port & 4) ? "read,write"
						      : (e->port & 4) ? "write" : "read");
	} else if (e->protocol == EF_TAMPER_CAP) {
		/* a capability the job lacks (cli/guard.c drops it), seen at the
		 * kernel's check (capability/cap_capable); the protocol is in
		 * EF_TAMPER_LSM's range, so it is tested first */
		const struct ef_cap_info *ci = ef_cap_by_number((int)e->cookie);
		char name[40];

		snprintf(name, sizeof(name), "CAP_%s", ci ? ci->name : "UNKNOWN");
		ef_span_str(s, "egress.tamper.via", "capability");
		ef_span_str(s, "egress.tamper.capability", name);
		cap = ci ? ci->name : NULL;
	} else if (e->protocol == EF_TAMPER_DOCKER) {
		/* detail: "METHOD TARGET\nthe refusal's message" */
		const char *nl = detail ? strchr(detail, '\n') : NULL;

		ef_span_str(s, "egress.tamper.via", "docker_endpoint");
		if (nl) {
			char req[400];

			snprintf(req, sizeof(req), "%.*s", (int)(nl - detail), detail);
			ef_span_str(s, "egress.tamper.docker.request", ef_span_strdup(s, req));
			ef_span_str(s, "egress.tamper.docker.refusal", ef_span_strdup(s, nl + 1));
		}
		detail = NULL;
	} else if (e->protocol == EF_TAMPER_RUNTIME) {
		/* the protocol is in EF_TAMPER_LSM's range, as EF_TAMPER_CAP's */
		ef_span_str(s, "egress.tamper.via", "runtime_socket_cover");
		if (detail && *detail)
			ef_span_str(s, "egress.tamper.socket", detail);
		detail = NULL;
	} else if (e->protocol != VIA_CONTROL && (e->protocol & 0xff00) == EF_TAMPER_LSM) {
		const char *h = hook_name(e->protocol & 0xff);

		ef_span_str(s, "egress.tamper.via", "bpf_lsm");
		if (h)
			ef_span_str(s, "egress.tamper.hook", h);
	} else if (e->protocol == VIA_CONTROL) {
		ef_span_str(s, "egress.tamper.via", "control_socket");
	} else {
		/* with BPF LSM, a syscall's record is of a refusal by the kernel's
		 * own checks, ahead of the hooks (lsm/tamper.bpf.c) */
		ef_span_str(s, "egress.tamper.via", d->tamper_lsm ? "kernel" : "guard");
		sys = syscall_name(e->protocol);
		if (sys)
			ef_span_str(s, "egress.tamper.syscall", sys);
		else
			ef_span_int(s, "egress.tamper.syscall_nr", e->protocol);
	}
	switch (e->reason) {
	case EF_R_TAMPER_SIGNAL:
		ef_span_int(s, "egress.tamper.target.pid", (int32_t)e->cookie);
		if (e->port)
			ef_span_int(s, "egress.tamper.signal", e->port);
		break;
	case EF_R_TAMPER_PTRACE:
		ef_span_int(s, "egress.tamper.target.pid", (int32_t)e->cookie);
		break;
	case EF_R_TAMPER_RESOURCE:
		/* 0: every process of a user (PRIO_USER, IOPRIO_WHO_USER) */
		if (e->cookie)
			ef_span_int(s, "egress.tamper.target.pid", (int32_t)e->cookie);
		break;
	case EF_R_TAMPER_BPF:
		ef_span_int(s, "egress.tamper.bpf_command", (int64_t)e->cookie);
		break;
	}
	if (detail && *detail)
		ef_span_str(s, "egress.tamper.request", detail);
	if (cap)
		snprintf(msg, sizeof(msg), "%s (CAP_%s)", what(e->reason), cap);
	else
		snprintf(msg, sizeof(msg), "%s%s%s%s", what(e->reason), sys ? " (" : "",
			 sys ? sys : "", sys ? ")" : "");
	s->status = EF_STATUS_ERROR;
	s->status_msg = ef_span_strdup(s, msg);
	d->tamper_refused++;
}

/* A control request a job may not make: recorded like the kernel's
 * records, so that it becomes the same span and counts as a probe. The
 * caller's name and executable are looked up only while it is running. */
void ef_tamper_control(struct ef_daemon *d, struct ef_job_rec *j, const struct ef_peer *peer,
		       bool running, const char *op)
{
	ef_tamper_user(d, j, peer, running, EF_R_TAMPER_CONTROL, VIA_CONTROL, op);
}

/* An attempt egressd saw itself (a control request, a connection to a
 * runtime's cover): detail is the request or the socket's path. */
void ef_tamper_user(struct ef_daemon *d, struct ef_job_rec *j, const struct ef_peer *peer,
		    bool running, int reason, unsigned protocol, const char *detail)
{
	const char *op = detail;
	struct ef_event e = { 0 };
	const char *exe, *slash;
	char p[64], *comm = NULL;
	uint64_t start;

	e.ts_boot_ns = ef_now_boot_ns();
	e.cgroup_id = j->cgroup_id;
	e.job_serial = j->serial;
	e.pid = e.tid = peer->pid;
	e.uid = peer->uid;
	e.policy_id = j->pol->id;
	e.rule_id = EF_RULE_NONE;
	e.kind = EF_K_TAMPER;
	e.verdict = EF_V_DENY;
	e.reason = reason;
	e.protocol = protocol;
	/* the fold key (fold.c) takes the cookie of a tamper record: requests
	 * of different ops are not folded into one span that names only the
	 * first (FNV-1a of the op) */
	e.cookie = 0xcbf29ce484222325ull;
	for (const char *o = op; *o; o++)
		e.cookie = (e.cookie ^ (unsigned char)*o) * 0x100000001b3ull;
	/* the pid of a caller that has exited may be another process's now */
	if (!running)
		goto record;
	snprintf(p, sizeof(p), "/proc/%d/comm", peer->pid);
	if (ef_read_file(p, 64, &comm, NULL) == 0) {
		comm[strcspn(comm, "\n")] = '\0';
		snprintf(e.comm, sizeof(e.comm), "%s", comm);
	}
	free(comm);
	/* the executable as the consumer finds it for kernel records (cached) */
	if (ef_proc_start_ns(d->procs, peer->pid, &start) == 0 &&
	    (exe = ef_proc_exe(d->procs, peer->pid, e.start_boot_ns = start, ""))) {
		slash = strrchr(exe, '/');
		snprintf(e.exe, sizeof(e.exe), "%s", slash ? slash + 1 : exe);
	}
record:
	d->up->event_record(d, &e, op);
}

const char *ef_landlock_scope(const struct ef_daemon *d)
{
	if (d->landlock_abi >= 6)
		return "ptrace,signal,abstract_unix";
	if (d->landlock_abi >= 1 && !d->tamper_lsm)
		return "ptrace";
	return NULL;
}

void ef_tamper_status(struct ef_daemon *d, cJSON *o)
{
	cJSON *t = cJSON_AddObjectToObject(o, "tamper_protection");

	if (!t)
		return;
	cJSON_AddBoolToObject(t, "bpf_lsm", d->tamper_lsm);
	cJSON_AddStringToObject(t, "mode", d->tamper_lsm ? "bpf_lsm" : "guard");
	if (!d->tamper_lsm) {
		cJSON_AddStringToObject(t, "why", d->tamper_why);
		cJSON_AddStringToObject(t, "guard", "egressctl run: seccomp filter, read-only "
					"cgroup/bpf/sysfs mounts in a mount namespace, "
					"capabilities dropped for root jobs");
		cJSON_AddBoolToObject(t, "attempts_recorded", d->tamper_recorded);
	}
	cJSON_AddNumberToObject(t, "refused", (double)d->tamper_refused);
	cJSON_AddNumberToObject(t, "landlock_abi", d->landlock_abi);
	cJSON_AddStringToObject(t, "landlock", ef_landlock_scope(d) ? ef_landlock_scope(d) : "none");
}
