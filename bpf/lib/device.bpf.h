/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The devices a job may open (cgroup/dev, attached at the fence's cgroup
 * root: every job and its nested cgroups). A root job owns the host's
 * device nodes (uid 0) and keeps CAP_MKNOD (the container default set), so
 * without this it could write the disk under every filesystem (the copy-on-
 * write layer of its files, cli/overlay.c, included), read other jobs'
 * layers and the host's secrets off it, read or type into the host's
 * consoles, inject input events, or talk to USB, SCSI, modems and the BMC
 * raw. An allowlist, as container runtimes keep (a list of refusals would
 * miss what appears next: bsg, NVMe generic devices, uhid...):
 *   - 1:3 null, 1:5 zero, 1:7 full, 1:8 random, 1:9 urandom;
 *   - 5:0 tty (the caller's own terminal), 5:2 ptmx, 136-143:* pty slaves
 *     (a root job gets a devpts instance of its own: cli/overlay.c);
 *   - 10:200 tun (rootless container networking: pasta, slirp4netns),
 *     10:229 fuse, 10:232 kvm;
 *   - 195:* NVIDIA GPUs, 226:128-255 DRM render nodes (not the primary
 *     nodes, card0: the master of one draws and reads the console).
 * Everything else (block devices, /dev/console, virtual consoles, /dev/mem,
 * /dev/kmsg, input, uinput, uhid, framebuffers, SCSI generic, bsg, raw
 * USB, serial lines, loop and device-mapper control...) is refused, read
 * and write; mknod stays allowed (a node is inert until opened, and
 * archives and chroots carry them). Each refusal is recorded (EF_K_TAMPER,
 * reason EF_R_TAMPER_DEVICE, protocol EF_TAMPER_DEVICE, cookie type << 40 |
 * major << 20 | minor, port the access bits). From Linux 6.4 the job is
 * the caller's ancestor at ef_job_level and the record names the process;
 * before, cgroup/dev programs have no pid or ancestor helper: the record
 * names the caller's own cgroup and uid, and egressd finds its job only
 * when that cgroup is the job's (not a nested one).
 */
#ifndef EF_DEVICE_BPF_H
#define EF_DEVICE_BPF_H

/* uapi's BPF_DEVCG_* (anonymous enums: not in vmlinux.h) */
#define EF_DEVCG_ACC_READ 2
#define EF_DEVCG_ACC_WRITE 4
#define EF_DEVCG_DEV_BLOCK 1
#define EF_DEVCG_DEV_CHAR 2

/* set by egressd: bpf_get_current_ancestor_cgroup_id() and the pid and
 * comm helpers are allowed in cgroup/dev programs (Linux 6.4) */
const volatile __u8 ef_dev_has_current = 0;

static __always_inline bool ef_dev_refused(__u32 type, __u32 major, __u32 minor)
{
	if (type != EF_DEVCG_DEV_CHAR)
		return true;
	switch (major) {
	case 1:
		return !(minor == 3 || minor == 5 || minor == 7 || minor == 8 || minor == 9);
	case 5:
		return !(minor == 0 || minor == 2);
	case 10:
		return !(minor == 200 || minor == 229 || minor == 232);
	case 136: case 137: case 138: case 139: case 140: case 141: case 142: case 143:
	case 195:
		return false;
	case 226: /* DRM render nodes; a primary node (card0) is the console's display */
		return minor < 128;
	}
	return true;
}

static __always_inline void ef_dev_record(__u32 type, __u32 access, __u32 major, __u32 minor)
{
	struct ef_event *e;
	const struct ef_job *job;
	__u64 cg;

	if (ef_dev_has_current)
		cg = bpf_get_current_ancestor_cgroup_id(ef_job_level);
	else
		cg = bpf_get_current_cgroup_id();
	job = bpf_map_lookup_elem(&ef_jobs, &cg);
	e = ef_event_reserve(EF_V_DENY);
	if (!e)
		return;
	__builtin_memset(e, 0, sizeof(*e));
	e->ts_boot_ns = bpf_ktime_get_boot_ns();
	e->cgroup_id = cg;
	if (job) {
		e->job_serial = job->serial;
		e->policy_id = *(volatile const __u32 *)&job->policy_id;
	}
	e->cookie = (__u64)type << 40 | (__u64)major << 20 | minor;
	e->rule_id = EF_RULE_NONE;
	e->kind = EF_K_TAMPER;
	e->verdict = EF_V_DENY;
	e->reason = EF_R_TAMPER_DEVICE;
	e->protocol = EF_TAMPER_DEVICE;
	e->port = (__u16)access;
	e->uid = (__u32)bpf_get_current_uid_gid();
	if (ef_dev_has_current) {
		__u64 pid_tgid = bpf_get_current_pid_tgid();

		e->pid = pid_tgid >> 32;
		e->tid = (__u32)pid_tgid;
		bpf_get_current_comm(e->comm, sizeof(e->comm));
	}
	ef_event_submit(e, EF_V_DENY);
}

static __always_inline int ef_dev_decide(struct bpf_cgroup_dev_ctx *ctx)
{
	__u32 type = ctx->access_type & 0xffff, access = ctx->access_type >> 16;

	if (!(access & (EF_DEVCG_ACC_READ | EF_DEVCG_ACC_WRITE)))
		return 1;
	if (!ef_dev_refused(type, ctx->major, ctx->minor))
		return 1;
	ef_dev_record(type, access, ctx->major, ctx->minor);
	return 0;
}

#endif /* EF_DEVICE_BPF_H */
