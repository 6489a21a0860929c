// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The kernel features egressd and its BPF objects rely on, and how each is
 * probed on this kernel (lib/kernel_features.c decides what follows). Keep the table
 * in step with bpf/, lsm/, revoke.c and cgroup.c, and with the README's
 * "Kernels" section. Releases are upstream's: where a feature reached a
 * program type later than it first appeared, the later one.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <linux/inet_diag.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <libmnl/libmnl.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "egressd.h"
#include "loader.h"
#include "lib/kernel_features.h"
#include "lib/util.h"

/* ---- probes: 0 present, -errno missing or refused ---- */

static int from_libbpf(int r)
{
	return r > 0 ? 0 : r == 0 ? -EOPNOTSUPP : r;
}

static int probe_path(const struct ef_feature *f, const struct ef_feat_ctx *ctx)
{
	return access(f->path, F_OK) ? -errno : 0;
}

/* f->path below the cgroup egressd owns (cgroup.kill, cgroup.freeze) */
static int probe_cgroup_file(const struct ef_feature *f, const struct ef_feat_ctx *ctx)
{
	char p[EF_PATH_MAX + 32];

	snprintf(p, sizeof(p), "%s/%s", ctx->cgroup_root, f->path);
	return access(p, F_OK) ? -errno : 0;
}

static int probe_map(const struct ef_feature *f, const struct ef_feat_ctx *ctx)
{
	return from_libbpf(libbpf_probe_bpf_map_type(f->type, NULL));
}

static int probe_helper(const struct ef_feature *f, const struct ef_feat_ctx *ctx)
{
	return from_libbpf(libbpf_probe_bpf_helper(f->type, f->helper, NULL));
}

/* A program of type f->type for attach type f->attach (and, for BPF LSM,
 * the hook named f->path), returning 0 (LSM) or 1; its fd, or -errno. */
static int load_trivial(const struct ef_feature *f)
{
	struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0,
		  .imm = f->attach == BPF_LSM_MAC ? 0 : 1 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	struct bpf_prog_load_opts opts;
	struct btf *btf = NULL;
	int fd, id;

	/* LIBBPF_OPTS() spelt out: cppcheck cannot expand it */
	memset(&opts, 0, sizeof(opts));
	opts.sz = sizeof(opts);
	opts.expected_attach_type = f->attach;
	if (f->type == BPF_PROG_TYPE_LSM) {
		btf = btf__load_vmlinux_btf();
		if (!btf)
			return -errno;
		id = btf__find_by_name_kind(btf, f->path, BTF_KIND_FUNC);
		btf__free(btf);
		if (id < 0)
			return id;
		opts.attach_btf_id = id;
	}
	fd = bpf_prog_load(f->type, NULL, "GPL", insns, 2, &opts);
	return fd < 0 ? -errno : fd;
}

static int probe_prog(const struct ef_feature *f, const struct ef_feat_ctx *ctx)
{
	int fd = load_trivial(f);

	if (fd < 0)
		return fd;
	close(fd);
	return 0;
}

/* A pass-all cgroup_skb program linked to egressd's cgroup for a moment. */
static int probe_cgroup_link(const struct ef_feature *f, const struct ef_feat_ctx *ctx)
{
	int prog = load_trivial(f), cg = -1, link = -1, ret = 0;

	if (prog < 0)
		return prog;
	cg = open(ctx->cgroup_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cg < 0 || (link = bpf_link_create(prog, cg, f->attach, NULL)) < 0)
		ret = -errno;
	if (link >= 0)
		close(link);
	if (cg >= 0)
		close(cg);
	close(prog);
	return ret;
}

/* "bpf" in the active LSM list (the loader decides from the same file) */
static int probe_lsm_active(const struct ef_feature *f, const struct ef_feat_ctx *ctx)
{
	char *buf = NULL, *save = NULL;
	int ret;

	if (access(f->path, R_OK) != 0)
		mount("securityfs", "/sys/kernel/security", "securityfs", 0, NULL);
	ret = ef_read_file(f->path, 4096, &buf, NULL);
	if (ret)
		return ret;
	ret = -ENOENT;
	for (char *t = strtok_r(buf, ",\n", &save); t; t = strtok_r(NULL, ",\n", &save))
		if (!strcmp(t, "bpf"))
			ret = 0;
	free(buf);
	return ret;
}

/* The syscall tracepoints are found in tracefs, which the loader mounts
 * where it is not (as here). */
static int probe_tracefs(const struct ef_feature *f, const struct ef_feat_ctx *ctx)
{
	if (access("/sys/kernel/tracing/events", F_OK) != 0)
		mount("tracefs", "/sys/kernel/tracing", "tracefs", 0, NULL);
	return probe_path(f, ctx);
}

/* One TCP/IPv4 request to sock_diag: 0 when it ends without an error
 * (a dump's NLMSG_DONE, an ACK), else the kernel's -errno. */
static int diag_request(struct mnl_socket *nl, uint16_t type, uint16_t flags, uint32_t states)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct inet_diag_req_v2 *r;
	ssize_t n;
	int ret;

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	nlh->nlmsg_seq = type;
	r = mnl_nlmsg_put_extra_header(nlh, sizeof(*r));
	r->sdiag_family = AF_INET;
	r->sdiag_protocol = IPPROTO_TCP;
	r->idiag_states = states;
	r->id.idiag_cookie[0] = r->id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	do {
		n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
		if (n < 0)
			return -errno;
		ret = mnl_cb_run(buf, n, type, mnl_socket_get_portid(nl), NULL, NULL);
	} while (ret > 0);
	return ret < 0 ? -errno : 0;
}

/*
 * Revocation lists sockets with sock_diag, then destroys some. The listing
 * (of no state: nothing comes back) fails where the kernel has no TCP
 * sock_diag; SOCK_DESTROY of a socket that does not exist answers ENOENT
 * where the kernel can destroy sockets, EOPNOTSUPP where it was built
 * without CONFIG_INET_DIAG_DESTROY.
 */
static int probe_sock_destroy(const struct ef_feature *f, const struct ef_feat_ctx *ctx)
{
	struct mnl_socket *nl = mnl_socket_open(NETLINK_SOCK_DIAG);
	int ret;

	if (!nl)
		return -errno;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		ret = -errno;
	} else if ((ret = diag_request(nl, SOCK_DIAG_BY_FAMILY, NLM_F_DUMP, 0))) {
		ret = ret == -ENOENT ? -EOPNOTSUPP : ret; /* no TCP sock_diag */
	} else {
		ret = diag_request(nl, SOCK_DESTROY, NLM_F_ACK, ~0u);
		/* ENOENT: no such socket, as asked; an ACK would be a surprise */
		ret = ret == -ENOENT ? 0 : ret ? ret : -EIO;
	}
	mnl_socket_close(nl);
	return ret;
}

/* ---- the table ---- */

#define MAP(t) .probe = probe_map, .type = BPF_MAP_TYPE_##t
#define PROG(t, a) .probe = probe_prog, .type = BPF_PROG_TYPE_##t, .attach = a
#define HELPER(t, h) .probe = probe_helper, .type = BPF_PROG_TYPE_##t, .helper = BPF_FUNC_##h
#define LSM(a, hook) .probe = probe_prog, .type = BPF_PROG_TYPE_LSM, .attach = a, .path = hook

#define SOCKET_HOOK_INSTEAD                                                                 \
	"cgroup/sock_create judges inet sockets, egressctl run's seccomp filter refuses "   \
	"the other families"
#define GUARD_INSTEAD                                                                       \
	"egressctl run's guard (seccomp filter, read-only mounts, capabilities dropped) "  \
	"keeps jobs from taking the fence down"

const struct ef_feature ef_kernel_features[EF_KF__MAX] = {
	[EF_KF_BTF] = { "kernel BTF (/sys/kernel/btf/vmlinux)", "5.4", EF_FEAT_REQUIRED,
			"CO-RE: the BPF objects read kernel structures at this kernel's offsets",
			.probe = probe_path, .path = "/sys/kernel/btf/vmlinux" },
	[EF_KF_SOCK_ADDR] = { "cgroup connect, sendmsg, recvmsg and getpeername hooks "
			      "(BPF_PROG_TYPE_CGROUP_SOCK_ADDR)", "5.8", EF_FEAT_REQUIRED,
			      "judging connects and datagrams, and the DNS proxy's addresses",
			      PROG(CGROUP_SOCK_ADDR, BPF_CGROUP_INET6_GETPEERNAME) },
	[EF_KF_SKB] = { "cgroup_skb ingress and egress (BPF_PROG_TYPE_CGROUP_SKB)", "4.10",
			EF_FEAT_REQUIRED, "the wire check and the inbound hook",
			PROG(CGROUP_SKB, BPF_CGROUP_INET_EGRESS) },
	[EF_KF_SOCKOPT] = { "cgroup/setsockopt (BPF_PROG_TYPE_CGROUP_SOCKOPT)", "5.3",
			    EF_FEAT_REQUIRED, "refusing the socket options that re-route packets",
			    PROG(CGROUP_SOCKOPT, BPF_CGROUP_SETSOCKOPT) },
	[EF_KF_SOCK_CREATE] = { "cgroup/sock_create (BPF_PROG_TYPE_CGROUP_SOCK)", "4.10",
				EF_FEAT_REQUIRED, "judging socket creation without BPF LSM",
				PROG(CGROUP_SOCK, BPF_CGROUP_INET_SOCK_CREATE) },
	[EF_KF_CGROUP_LINK] = { "bpf_link for cgroup programs (BPF_LINK_CREATE)", "5.7",
				EF_FEAT_REQUIRED, "pinned links that keep jobs fenced while "
				"egressd is down, swapped in place by a restarted egressd",
				.probe = probe_cgroup_link, .type = BPF_PROG_TYPE_CGROUP_SKB,
				.attach = BPF_CGROUP_INET_EGRESS },
	[EF_KF_RINGBUF] = { "BPF ring buffer (BPF_MAP_TYPE_RINGBUF)", "5.8", EF_FEAT_REQUIRED,
			    "decision records from the kernel to egressd", MAP(RINGBUF) },
	[EF_KF_SK_STORAGE] = { "socket local storage (BPF_MAP_TYPE_SK_STORAGE)", "5.2",
			       EF_FEAT_REQUIRED, "each socket's job and judged destination",
			       MAP(SK_STORAGE) },
	[EF_KF_LPM] = { "LPM trie (BPF_MAP_TYPE_LPM_TRIE)", "4.11", EF_FEAT_REQUIRED,
			"CIDR rules", MAP(LPM_TRIE) },
	[EF_KF_LRU] = { "LRU hash (BPF_MAP_TYPE_LRU_HASH)", "4.10", EF_FEAT_REQUIRED,
			"datagram verdicts and DNS names", MAP(LRU_HASH) },
	[EF_KF_LOOP] = { "bpf_loop() in cgroup_skb", "5.17", EF_FEAT_REQUIRED,
			 "the wire check's walk over IPv4 options", HELPER(CGROUP_SKB, loop) },
	[EF_KF_ADDR_CGROUP] = { "bpf_get_current_ancestor_cgroup_id() in cgroup sock_addr hooks",
				"5.7", EF_FEAT_REQUIRED, "finding the job of a connect or datagram",
				HELPER(CGROUP_SOCK_ADDR, get_current_ancestor_cgroup_id) },
	[EF_KF_ADDR_TASK] = { "bpf_get_current_task_btf() outside tracing programs", "5.15",
			      EF_FEAT_REQUIRED, "the process and executable of each decision",
			      HELPER(CGROUP_SOCK_ADDR, get_current_task_btf) },
	[EF_KF_ADDR_STORAGE] = { "bpf_sk_storage_get() in cgroup sock_addr hooks", "5.3",
				 EF_FEAT_REQUIRED, "remembering what was judged for a socket",
				 HELPER(CGROUP_SOCK_ADDR, sk_storage_get) },
	[EF_KF_ADDR_LOOKUP] = { "bpf_sk_lookup_tcp() in cgroup sock_addr hooks", "5.0",
				EF_FEAT_REQUIRED, "telling the job's own listeners on loopback",
				HELPER(CGROUP_SOCK_ADDR, sk_lookup_tcp) },
	[EF_KF_BOOT_NS] = { "bpf_ktime_get_boot_ns()", "5.8", EF_FEAT_REQUIRED,
			    "record times and the expiry of learned addresses",
			    HELPER(CGROUP_SOCK_ADDR, ktime_get_boot_ns) },
	[EF_KF_SKB_CGROUP] = { "bpf_skb_ancestor_cgroup_id() in cgroup_skb", "4.19",
			       EF_FEAT_REQUIRED, "the job of a packet's socket",
			       HELPER(CGROUP_SKB, skb_ancestor_cgroup_id) },
	[EF_KF_PT_REGS] = { "bpf_task_pt_regs() in tracepoints", "5.15", EF_FEAT_REQUIRED,
			    "the arguments of refused syscalls in records",
			    HELPER(TRACEPOINT, task_pt_regs) },
	[EF_KF_SKB_CURRENT] = { "bpf_get_current_ancestor_cgroup_id() in cgroup_skb", "6.4",
				EF_FEAT_DEGRADE, "the sending process in egress.packet records",
				"those records name the socket's owner uid, not the process",
				HELPER(CGROUP_SKB, get_current_ancestor_cgroup_id) },
	[EF_KF_DEV_CURRENT] = { "bpf_get_current_ancestor_cgroup_id() in cgroup/dev", "6.4",
				EF_FEAT_DEGRADE, "the process in records of refused devices",
				"those records name the caller's own cgroup and uid: a process in "
				"a job's nested cgroup goes unrecorded",
				HELPER(CGROUP_DEVICE, get_current_ancestor_cgroup_id) },
	[EF_KF_LSM_ACTIVE] = { "BPF LSM active (\"bpf\" in /sys/kernel/security/lsm)", "5.7",
			       EF_FEAT_DEGRADE, "BPF LSM hooks (tamper resistance, the socket "
			       "hook for every family)", GUARD_INSTEAD "; " SOCKET_HOOK_INSTEAD
			       "; boot with lsm=<the list in that file>,bpf to turn it on",
			       .probe = probe_lsm_active, .path = "/sys/kernel/security/lsm" },
	[EF_KF_LSM_PROG] = { "BPF LSM programs (BPF_PROG_TYPE_LSM, on the BPF trampoline)", "5.7",
			     EF_FEAT_DEGRADE, "the tamper hooks (lsm/tamper.bpf.c)", GUARD_INSTEAD,
			     LSM(BPF_LSM_MAC, "bpf_lsm_bpf") },
	[EF_KF_LSM_CGROUP] = { "BPF LSM scoped to cgroups (lsm_cgroup, BPF_LSM_CGROUP)", "6.0",
			       EF_FEAT_DEGRADE, "judging socket creation of every family",
			       SOCKET_HOOK_INSTEAD, LSM(BPF_LSM_CGROUP, "bpf_lsm_socket_create") },
	[EF_KF_SYSCALL_TP] = { "syscall tracepoints (CONFIG_FTRACE_SYSCALLS)", "4.7",
			       EF_FEAT_DEGRADE, "records of what the guard and the seccomp "
			       "fallback refuse", "those refusals still happen, unrecorded",
			       .probe = probe_tracefs,
			       .path = "/sys/kernel/tracing/events/syscalls/sys_exit_socket" },
	[EF_KF_CGROUP_FREEZE] = { "cgroup v2 freezer (cgroup.freeze)", "5.2", EF_FEAT_REQUIRED,
				  "the probe action freeze and egressctl freeze",
				  .probe = probe_cgroup_file, .path = "cgroup.freeze" },
	[EF_KF_CGROUP_KILL] = { "cgroup.kill", "5.14", EF_FEAT_DEGRADE,
				"egressctl kill, the probe action kill and egressd --reset --force",
				"the job is frozen, each process killed, then thawed",
				.probe = probe_cgroup_file, .path = "cgroup.kill" },
	[EF_KF_SOCK_DESTROY] = { "SOCK_DESTROY over sock_diag (CONFIG_INET_DIAG_DESTROY)", "4.5",
				 EF_FEAT_DEGRADE, "closing open connections a changed policy "
				 "no longer allows", "a policy change applies to new connections "
				 "only; egressctl policy apply counts the ones it could not close",
				 .probe = probe_sock_destroy },
	[EF_KF_CAP_TP] = { "capability tracepoint (capability/cap_capable)", "6.13",
			   EF_FEAT_DEGRADE, "records of the capabilities a job lacks (tamper_capability)",
			   "capability refusals are refused but not recorded",
			   .probe = probe_tracefs,
			   .path = "/sys/kernel/tracing/events/capability/cap_capable" },
};

_Static_assert(EF_KF__MAX <= EF_FEAT_MAX, "one bit of ef_features.missing per feature");

static void log_line(int level, const char *line, void *arg)
{
	ef_log(level, "%s", line);
}

int ef_features_probe(struct ef_daemon *d)
{
	struct ef_feat_ctx ctx = { .cgroup_root = d->cgroup_root };
	struct utsname u;

	if (uname(&u) < 0)
		snprintf(u.release, sizeof(u.release), "unknown");
	return ef_features_check(&d->features, ef_kernel_features, EF_KF__MAX, &ctx, u.release,
				 log_line, NULL);
}

bool ef_kfeature(const struct ef_daemon *d, enum ef_kfeat id)
{
	return ef_feature_have(&d->features, id);
}
