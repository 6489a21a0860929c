// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The capabilities a root job keeps: one table, read by the parser (the
 * policy's "capabilities" grants), lint (what each grant lets a root job
 * do), egressd (the set in its reply to "run") and egressctl (which keeps
 * exactly that set; cli/guard.c).
 *
 * The default is the default set of container runtimes (Docker's): nothing
 * that configures interfaces, routes, tunnels or netfilter, destroys other
 * processes' sockets, loads modules or BPF, traces other processes or sets
 * the clock. CAP_NET_RAW is added when the policy allows raw or packet
 * sockets ("sockets": {"raw": true} or {"packet": true}) or is in audit mode (which lets them through
 * and records them). A policy may grant more by name; the ones
 * that reach around the fence itself can never be granted.
 */
#include <linux/capability.h>
#include <stddef.h>
#include <strings.h>

#include "internal.h"

/* CAP_* numbers spelled out: older headers lack the newest */
static const struct ef_cap_info caps[] = {
	{ 0, "CHOWN", EF_CAP_DEFAULT, NULL },
	{ 1, "DAC_OVERRIDE", EF_CAP_DEFAULT, NULL },
	{ 2, "DAC_READ_SEARCH", 0,
	  "open any file by handle (open_by_handle_at), reaching files outside the "
	  "job's mounts" },
	{ 3, "FOWNER", EF_CAP_DEFAULT, NULL },
	{ 4, "FSETID", EF_CAP_DEFAULT, NULL },
	{ 5, "KILL", EF_CAP_DEFAULT, NULL },
	{ 6, "SETGID", EF_CAP_DEFAULT, NULL },
	{ 7, "SETUID", EF_CAP_DEFAULT, NULL },
	{ 8, "SETPCAP", EF_CAP_DEFAULT, NULL },
	{ 9, "LINUX_IMMUTABLE", 0, "set immutable and append-only flags on the runner's files" },
	{ 10, "NET_BIND_SERVICE", EF_CAP_DEFAULT, NULL },
	{ 11, "NET_BROADCAST", 0, "send broadcasts and join multicast groups as root" },
	{ 12, "NET_ADMIN", EF_CAP_RECORDED,
	  "reconfigure the runner's network: interfaces, routes, tunnels, and nft rules "
	  "that outlive the job (a DNAT of its allowed destinations elsewhere), and "
	  "destroy other processes' sockets" },
	{ 13, "NET_RAW", EF_CAP_RECORDED,
	  "send raw packets and forge source routes; prefer \"sockets\": {\"raw\": true}, "
	  "which grants it with the fence's judgement of raw sockets" },
	{ 14, "IPC_LOCK", 0, "lock unlimited memory" },
	{ 15, "IPC_OWNER", 0, "use any System V IPC object of the runner's processes" },
	{ 16, "SYS_MODULE", EF_CAP_RECORDED | EF_CAP_NEVER, NULL },
	{ 17, "SYS_RAWIO", EF_CAP_RECORDED | EF_CAP_NEVER, NULL },
	{ 18, "SYS_CHROOT", EF_CAP_DEFAULT, NULL },
	{ 19, "SYS_PTRACE", EF_CAP_NEVER, NULL },
	{ 20, "SYS_PACCT", 0, "switch process accounting on the runner" },
	{ 21, "SYS_ADMIN", 0,
	  "administer much of the kernel (namespaces, host names, keyrings, quotas, "
	  "devices): the fence's guard still refuses its mount and bpf calls, but "
	  "little else on the runner is out of reach" },
	{ 22, "SYS_BOOT", EF_CAP_RECORDED | EF_CAP_NEVER, NULL },
	{ 23, "SYS_NICE", 0,
	  "raise its priority and real-time scheduling over the runner's processes, "
	  "egressd's included" },
	{ 24, "SYS_RESOURCE", 0,
	  "exceed resource limits and quotas the runner sets" },
	{ 25, "SYS_TIME", EF_CAP_RECORDED,
	  "set the runner's clock (certificate checks, logs and records of every job)" },
	{ 26, "SYS_TTY_CONFIG", 0, "reconfigure the runner's terminals" },
	{ 27, "MKNOD", EF_CAP_DEFAULT, NULL },
	{ 28, "LEASE", 0, "take leases on files it does not own" },
	{ 29, "AUDIT_WRITE", EF_CAP_DEFAULT, NULL },
	{ 30, "AUDIT_CONTROL", 0, "change the runner's audit rules" },
	{ 31, "SETFCAP", EF_CAP_DEFAULT, NULL },
	{ 32, "MAC_OVERRIDE", EF_CAP_NEVER, NULL },
	{ 33, "MAC_ADMIN", EF_CAP_NEVER, NULL },
	{ 34, "SYSLOG", 0, "read and clear the kernel log (kernel addresses)" },
	{ 35, "WAKE_ALARM", 0, "set alarms that wake the runner" },
	{ 36, "BLOCK_SUSPEND", 0, "keep the runner from suspending" },
	{ 37, "AUDIT_READ", 0, "read the runner's audit log" },
	{ 38, "PERFMON", EF_CAP_RECORDED | EF_CAP_NEVER, NULL },
	{ 39, "BPF", EF_CAP_RECORDED | EF_CAP_NEVER, NULL },
	{ 40, "CHECKPOINT_RESTORE", 0, "choose pids and restore processes' state" },
};

const struct ef_cap_info *ef_cap_by_name(const char *name)
{
	if (!strncasecmp(name, "CAP_", 4))
		name += 4;
	for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++)
		if (!strcasecmp(name, caps[i].name))
			return &caps[i];
	return NULL;
}

const struct ef_cap_info *ef_cap_by_number(int cap)
{
	if (cap < 0 || (size_t)cap >= sizeof(caps) / sizeof(caps[0]))
		return NULL;
	return &caps[cap];
}

static __u64 mask_of(unsigned flag)
{
	__u64 m = 0;

	for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++)
		if (caps[i].flags & flag)
			m |= 1ull << caps[i].cap;
	return m;
}

__u64 ef_caps_default(void)
{
	return mask_of(EF_CAP_DEFAULT);
}

__u64 ef_caps_never(void)
{
	return mask_of(EF_CAP_NEVER);
}

__u64 ef_caps_recorded(void)
{
	return mask_of(EF_CAP_RECORDED);
}

__u64 ef_policy_caps(const struct ef_policy *p)
{
	__u64 m = ef_caps_default() | p->caps;

	/* raw and packet sockets are the policy's switches, judged by the
	 * fence; audit mode lets them through (recorded would_deny) */
	if ((p->flags & (EF_PF_RAW | EF_PF_PACKET)) || p->mode == EF_MODE_AUDIT)
		m |= 1ull << 13; /* CAP_NET_RAW */
	return m & ~ef_caps_never();
}
