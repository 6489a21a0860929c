// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Loading the fence, and adopting it. Maps are pinned by name under the
 * bpffs dir (libbpf reuses them when they exist); programs are attached to
 * the fence's cgroup root through links pinned as <bpffs>/link_<prog>.
 * A pinned link keeps its program attached when egressd is gone, so jobs
 * stay fenced (fail closed). A restarted egressd loads its programs, reuses
 * the pinned maps and swaps its programs into the pinned links atomically
 * (BPF_LINK_UPDATE): at no moment is the cgroup root without a program.
 */
#include <errno.h>
#include <sys/syscall.h>
#include <fcntl.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>
#include <linux/magic.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "egressd.h"
#include "loader.h"
#include "lib/cgroup.h"
#include "lib/util.h"
#include "fence.skel.h"
#include "tamper.skel.h"

/*
 * libbpf's messages, one log line each of their lines. A refused program's
 * verifier log comes as one message of many lines, the reason at its end:
 * its last EF_LIBBPF_TAIL lines are kept.
 */
#define EF_LIBBPF_TAIL 40

static int libbpf_log(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	int lvl = level == LIBBPF_WARN ? EF_LOG_WARN : EF_LOG_DEBUG, lines = 0;
	char *buf = NULL, *p, *nl;

	if (level == LIBBPF_DEBUG && ef_log_level < EF_LOG_DEBUG)
		return 0;
	if (level == LIBBPF_INFO && ef_log_level < EF_LOG_DEBUG)
		return 0;
	if (vasprintf(&buf, fmt, ap) < 0)
		return 0;
	for (p = buf; *p; p++)
		lines += *p == '\n';
	p = buf;
	if (lines > EF_LIBBPF_TAIL) {
		nl = strchr(buf, '\n');
		ef_log(lvl, "libbpf: %.*s [... %d lines ...]", (int)(nl - buf), buf,
		       lines - EF_LIBBPF_TAIL);
		for (int skip = lines - EF_LIBBPF_TAIL; skip > 0 && (nl = strchr(p, '\n')); skip--)
			p = nl + 1;
	}
	while (*p) {
		nl = strchr(p, '\n');
		if (nl)
			*nl = '\0';
		if (*p)
			ef_log(lvl, "libbpf: %s", p);
		if (!nl)
			break;
		p = nl + 1;
	}
	free(buf);
	return 0;
}

/* BPF LSM must be in the active LSM list for lsm_cgroup programs to run. */
static bool bpf_lsm_active(void)
{
	char *buf = NULL;
	bool ret = false;

	if (access("/sys/kernel/security/lsm", R_OK) != 0)
		mount("securityfs", "/sys/kernel/security", "securityfs", 0, NULL);
	if (ef_read_file("/sys/kernel/security/lsm", 4096, &buf, NULL))
		return false;
	for (char *save = NULL, *t = strtok_r(buf, ",\n", &save); t; t = strtok_r(NULL, ",\n", &save))
		if (!strcmp(t, "bpf"))
			ret = true;
	free(buf);
	return ret;
}

static int ensure_bpffs(const char *dir)
{
	char parent[EF_PATH_MAX], *slash;
	struct statfs sf;
	int ret;

	snprintf(parent, sizeof(parent), "%s", dir);
	slash = strrchr(parent, '/');
	if (slash && slash != parent)
		*slash = '\0';
	if (statfs(parent, &sf) == 0 && sf.f_type == BPF_FS_MAGIC)
		goto mkdir;
	if (!strcmp(parent, "/sys/fs/bpf") &&
	    mount("bpf", "/sys/fs/bpf", "bpf", 0, "mode=0700") == 0)
		goto mkdir;
	log_err("%s is not on a bpf filesystem: mount one (mount -t bpf bpf /sys/fs/bpf) or pass "
		"--bpffs-dir on one", dir);
	return -ENOTSUP;
mkdir:
	ret = ef_mkdir_p(dir, 0700);
	if (ret)
		log_err("cannot create %s: %s", dir, strerror(-ret));
	return ret;
}

static void link_path(struct ef_daemon *d, const struct bpf_program *p, char *out, size_t len)
{
	snprintf(out, len, "%s/link_%s", d->bpffs_dir, bpf_program__name(p));
}

static int attach_or_adopt(struct ef_daemon *d, struct bpf_program *prog, int cgfd)
{
	enum bpf_prog_type type = bpf_program__type(prog);
	bool cgroup_prog = type != BPF_PROG_TYPE_TRACEPOINT && type != BPF_PROG_TYPE_RAW_TRACEPOINT &&
			   !(type == BPF_PROG_TYPE_LSM &&
			     bpf_program__expected_attach_type(prog) == BPF_LSM_MAC);
	struct bpf_link *old, *link = NULL;
	char path[EF_PATH_MAX];
	int ret = 0;

	link_path(d, prog, path, sizeof(path));
	old = access(path, F_OK) == 0 ? bpf_link__open(path) : NULL;
	if (old) {
		if (cgroup_prog && !bpf_link__update_program(old, prog)) {
			log_info("adopted %s", path);
			d->adopted = true;
			bpf_link__disconnect(old);
			bpf_link__destroy(old);
			return 0;
		}
		/* attach the new program before detaching the old one */
		if (cgroup_prog)
			log_warn("cannot update %s (%s): replacing it", path, strerror(errno));
		d->adopted = true;
	}
	link = cgroup_prog ? bpf_program__attach_cgroup(prog, cgfd) : bpf_program__attach(prog);
	if (!link) {
		ret = -errno;
		log_err("attaching %s to %s: %s", bpf_program__name(prog), d->cgroup_root,
			strerror(-ret));
		goto cleanup;
	}
	if (old) {
		bpf_link__unpin(old);
		bpf_link__detach(old);
	}
	ret = bpf_link__pin(link, path);
	if (ret) {
		log_err("pinning %s: %s", path, strerror(-ret));
		bpf_link__detach(link);
		goto cleanup;
	}
	bpf_link__disconnect(link);
cleanup:
	bpf_link__destroy(link);
	bpf_link__destroy(old);
	return ret;
}

/* The program not in use must not stay attached from an earlier run. */
static void drop_stale(struct ef_daemon *d, struct bpf_program *prog)
{
	char path[EF_PATH_MAX];
	struct bpf_link *old;

	link_path(d, prog, path, sizeof(path));
	old = access(path, F_OK) == 0 ? bpf_link__open(path) : NULL;
	if (!old)
		return;
	bpf_link__unpin(old);
	bpf_link__detach(old);
	bpf_link__destroy(old);
}

static int load(struct ef_daemon *d, bool with_lsm)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = d->bpffs_dir);
	struct fence_bpf *skel;
	int ret;

	skel = fence_bpf__open_opts(&opts);
	if (!skel)
		return -errno;
	skel->rodata->ef_job_level = d->job_level;
	skel->rodata->ef_skb_has_current = ef_kfeature(d, EF_KF_SKB_CURRENT);
	skel->rodata->ef_dev_has_current = ef_kfeature(d, EF_KF_DEV_CURRENT);
	bpf_program__set_autoload(skel->progs.ef_lsm_sock, with_lsm);
	bpf_program__set_autoload(skel->progs.ef_sock_create, !with_lsm);
	bpf_program__set_autoload(skel->progs.ef_sock_refused, !with_lsm);
	bpf_program__set_autoload(skel->progs.ef_uring_refused, !with_lsm);
	bpf_program__set_autoload(skel->progs.ef_sockpair_refused, !with_lsm);
	bpf_program__set_autoload(skel->progs.ef_lsm_sendmsg, with_lsm);
	bpf_program__set_autoload(skel->progs.ef_cork_to, !with_lsm);
	bpf_program__set_autoload(skel->progs.ef_cork_msg1, !with_lsm);
	bpf_program__set_autoload(skel->progs.ef_cork_mmsg, !with_lsm);
	ret = fence_bpf__load(skel);
	if (ret) {
		fence_bpf__destroy(skel);
		return ret;
	}
	d->skel = skel;
	return 0;
}

/* ---- tamper resistance (lsm/tamper.bpf.c) ---- */

static bool is_lsm_hook(const struct bpf_program *p)
{
	return bpf_program__type(p) == BPF_PROG_TYPE_LSM;
}

/* Which tamper programs a mode runs: the BPF LSM hooks and the recorders of
 * what the kernel refuses ahead of them (ef_tx_*), or, without BPF LSM, all
 * the recorders (ef_tx_* and the path ones, ef_txp_*: lsm/tamper.bpf.c). */
static bool in_mode(const struct bpf_program *p, bool lsm)
{
	if (is_lsm_hook(p))
		return lsm;
	return !lsm || strncmp(bpf_program__name(p), "ef_txp_", 7) != 0;
}

static int tamper_load(struct ef_daemon *d, bool with_lsm)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = d->bpffs_dir);
	struct bpf_program *p;
	struct tamper_bpf *t;
	int ret;

	t = tamper_bpf__open_opts(&opts);
	if (!t)
		return -errno;
	t->rodata->ef_job_level = d->job_level;
	bpf_object__for_each_program(p, t->obj)
		bpf_program__set_autoload(p, in_mode(p, with_lsm));
	ret = tamper_bpf__load(t);
	if (ret) {
		tamper_bpf__destroy(t);
		return ret;
	}
	d->tskel = t;
	return 0;
}

static bool guarded(const struct ef_daemon *d, pid_t pid)
{
	for (size_t i = 0; i < d->n_guarded; i++)
		if (d->guarded[i].pid == pid)
			return true;
	return false;
}

/* egressd's own threads: jobs may not signal or trace them. Refreshed at
 * every job start (threads started since are included); the list goes to
 * egressctl run for the guard's seccomp filter as well. */
int ef_guard_pids_refresh(struct ef_daemon *d, cJSON *out)
{
	__u32 key, next, one = 1;
	int fd, n = 0;
	DIR *dir;
	struct dirent *de;

	if (!d->tskel)
		return 0;
	fd = bpf_map__fd(d->tskel->maps.ef_guard_pids);
	dir = opendir("/proc/self/task");
	if (!dir)
		return -errno;
	/* drop what is gone (an earlier egressd's threads, ended threads) */
	for (int more = bpf_map_get_next_key(fd, NULL, &key) == 0; more;) {
		char p[64];

		more = bpf_map_get_next_key(fd, &key, &next) == 0;
		snprintf(p, sizeof(p), "/proc/self/task/%u", key);
		if (access(p, F_OK) != 0 && !guarded(d, (pid_t)key))
			bpf_map_delete_elem(fd, &key);
		key = next;
	}
	while ((de = readdir(dir))) {
		char *end;
		unsigned long tid = strtoul(de->d_name, &end, 10);

		if (de->d_name[0] < '0' || de->d_name[0] > '9' || *end)
			continue;
		key = (__u32)tid;
		if (bpf_map_update_elem(fd, &key, &one, BPF_ANY) == 0)
			n++;
		if (out)
			cJSON_AddItemToArray(out, cJSON_CreateNumber(tid));
	}
	closedir(dir);
	return n;
}

/* egressctl run's parent, watching its job (notices/notices.c): out of the jobs'
 * reach as egressd's threads are (BPF LSM refuses, the recorders record;
 * the guard's seccomp rules name it without BPF LSM). */
int ef_guard_pid_set(struct ef_daemon *d, pid_t pid, bool on)
{
	__u32 key = (__u32)pid, one = 1;
	size_t i;
	int fd;

	if (pid <= 0)
		return 0;
	/* counted: one process may watch several jobs, and stays guarded until
	 * its last watch ends */
	for (i = 0; i < d->n_guarded && d->guarded[i].pid != pid; i++)
		;
	if (on && i == d->n_guarded) {
		struct ef_guarded *g = realloc(d->guarded, (i + 1) * sizeof(*g));

		if (!g)
			return -ENOMEM; /* not counted, not guarded: the watch is refused */
		d->guarded = g;
		d->guarded[d->n_guarded++] = (struct ef_guarded){ .pid = pid };
	}
	if (i < d->n_guarded) {
		if (on) {
			d->guarded[i].refs++;
		} else if (--d->guarded[i].refs) {
			return 0;
		} else {
			d->guarded[i] = d->guarded[--d->n_guarded];
		}
	} else if (!on) {
		return 0;
	}
	if (!d->tskel)
		return 0;
	fd = bpf_map__fd(d->tskel->maps.ef_guard_pids);
	if (!on)
		bpf_map_delete_elem(fd, &key);
	else if (bpf_map_update_elem(fd, &key, &one, BPF_ANY))
		log_warn("guarding egressctl run's parent (pid %d): %s", pid, strerror(errno));
	return 0;
}

/* Loads and attaches one set of tamper programs (the BPF LSM hooks, or the
 * recorders), dropping links of the other set left from an earlier run.
 * The hooks attach all or none: half of them would be a false promise. A
 * recorder that does not attach is a syscall this architecture lacks. */
static int tamper_attach(struct ef_daemon *d, bool lsm)
{
	struct bpf_program *p;
	int ret = tamper_load(d, lsm);

	if (ret) {
		if (lsm)
			snprintf(d->tamper_why, sizeof(d->tamper_why),
				 "this kernel refuses BPF LSM programs (%s)", strerror(-ret));
		return ret;
	}
	/* libbpf finds tracepoints in tracefs */
	if (access("/sys/kernel/tracing/events", F_OK) != 0)
		mount("tracefs", "/sys/kernel/tracing", "tracefs", 0, NULL);
	bpf_object__for_each_program(p, d->tskel->obj) {
		if (!in_mode(p, lsm)) {
			drop_stale(d, p);
			continue;
		}
		ret = attach_or_adopt(d, p, -1);
		if (ret && is_lsm_hook(p)) {
			snprintf(d->tamper_why, sizeof(d->tamper_why),
				 "attaching the BPF LSM program %s failed (%s)", bpf_program__name(p),
				 strerror(-ret));
			bpf_object__for_each_program(p, d->tskel->obj)
				drop_stale(d, p);
			tamper_bpf__destroy(d->tskel);
			d->tskel = NULL;
			return ret;
		}
		if (ret)
			log_debug("tamper recorder %s not attached: %s", bpf_program__name(p),
				  strerror(-ret));
	}
	return 0;
}

static void tamper_setup(struct ef_daemon *d)
{
	/* LANDLOCK_CREATE_RULESET_VERSION: the ABI, or an error without it */
	long abi = syscall(444 /* __NR_landlock_create_ruleset */, NULL, 0, 1);

	d->landlock_abi = abi > 0 ? (int)abi : 0;
	d->tamper_why[0] = '\0';
	d->tamper_lsm = false;
	d->tamper_recorded = false;
	if (!bpf_lsm_active())
		snprintf(d->tamper_why, sizeof(d->tamper_why),
			 "BPF LSM is not active (no \"bpf\" in /sys/kernel/security/lsm; boot with "
			 "lsm=...,bpf)");
	else
		d->tamper_lsm = tamper_attach(d, true) == 0;
	if (d->tamper_lsm) {
		d->tamper_recorded = true;
		log_info("tamper resistance: BPF LSM hooks refuse bpf(), leaving the job's cgroup, "
			 "signals to egressd, ptrace outside the job, changes to the pins, mount "
			 "calls and writes to kernel settings");
	} else {
		d->tamper_recorded = tamper_attach(d, false) == 0;
		log_warn("tamper resistance: BPF LSM unavailable: %s. Fenced jobs run under "
			 "egressctl run's guard instead (seccomp filter, read-only cgroup, bpf and "
			 "kernel-setting mounts in a mount namespace); "
			 "see docs/threat-model.md", d->tamper_why);
		if (!d->tamper_recorded)
			log_warn("tamper resistance: cannot load the recorders: the guard still "
				 "refuses, but attempts are not recorded");
	}
	ef_guard_pids_refresh(d, NULL);
}

int ef_bpf_setup(struct ef_daemon *d)
{
	struct bpf_program *progs[24];
	int cgfd = -1, ret, n = 0;

	libbpf_set_print(libbpf_log);
	ret = ensure_bpffs(d->bpffs_dir);
	if (ret)
		return ret;
	d->lsm = bpf_lsm_active();
	ret = load(d, d->lsm);
	if (ret && d->lsm) {
		log_warn("this kernel refuses BPF LSM programs (%s): socket families are refused "
			 "by a seccomp filter in egressctl run instead", strerror(-ret));
		d->lsm = false;
		ret = load(d, false);
	} else if (!d->lsm) {
		log_warn("BPF LSM is not active (no \"bpf\" in /sys/kernel/security/lsm): socket "
			 "families are refused by a seccomp filter in egressctl run instead");
	}
	if (ret) {
		log_err("loading BPF programs: %s%s", strerror(-ret),
			ret == -EINVAL ? " (pinned maps of another layout? run egressd --reset)" : "");
		return ret;
	}

	cgfd = open(d->cgroup_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cgfd < 0) {
		ret = -errno;
		log_err("opening %s: %s", d->cgroup_root, strerror(errno));
		return ret;
	}
	progs[n++] = d->skel->progs.ef_connect4;
	progs[n++] = d->skel->progs.ef_connect6;
	progs[n++] = d->skel->progs.ef_sendmsg4;
	progs[n++] = d->skel->progs.ef_sendmsg6;
	progs[n++] = d->skel->progs.ef_recvmsg4;
	progs[n++] = d->skel->progs.ef_recvmsg6;
	progs[n++] = d->skel->progs.ef_getpeername4;
	progs[n++] = d->skel->progs.ef_getpeername6;
	/* the wire check and the re-routing socket options (lib/wire.bpf.h,
	 * lib/sockopt.bpf.h) */
	progs[n++] = d->skel->progs.ef_wire;
	progs[n++] = d->skel->progs.ef_setsockopt;
	/* the inbound hook, in both socket-hook modes */
	progs[n++] = d->skel->progs.ef_ingress;
	/* devices jobs may not open (lib/device.bpf.h), in both modes */
	progs[n++] = d->skel->progs.ef_dev;
	/* per-process trace context (lib/proc.bpf.h), in both modes */
	progs[n++] = d->skel->progs.ef_exec;
	progs[n++] = d->skel->progs.ef_fork;
	progs[n++] = d->skel->progs.ef_exit;
	/* addresses ignored on corked UDP sockets (lib/cork.bpf.h): refused
	 * by BPF LSM, else recorded by syscall tracepoints */
	if (d->lsm) {
		progs[n++] = d->skel->progs.ef_lsm_sock;
		progs[n++] = d->skel->progs.ef_lsm_sendmsg;
	} else {
		progs[n++] = d->skel->progs.ef_cork_to;
		progs[n++] = d->skel->progs.ef_cork_msg1;
		progs[n++] = d->skel->progs.ef_cork_mmsg;
		progs[n++] = d->skel->progs.ef_sock_create;
		progs[n++] = d->skel->progs.ef_sock_refused;
		progs[n++] = d->skel->progs.ef_uring_refused;
		progs[n++] = d->skel->progs.ef_sockpair_refused;
	}
	for (int i = 0; i < n; i++) {
		bool recorder = progs[i] == d->skel->progs.ef_sock_refused ||
				progs[i] == d->skel->progs.ef_uring_refused ||
				progs[i] == d->skel->progs.ef_sockpair_refused;
		bool corked = progs[i] == d->skel->progs.ef_cork_to ||
			      progs[i] == d->skel->progs.ef_cork_msg1 ||
			      progs[i] == d->skel->progs.ef_cork_mmsg;

		bool context = progs[i] == d->skel->progs.ef_exec ||
			       progs[i] == d->skel->progs.ef_fork ||
			       progs[i] == d->skel->progs.ef_exit;

		/* libbpf finds tracepoints in tracefs */
		if ((recorder || context || corked) && access("/sys/kernel/tracing/events", F_OK) != 0)
			mount("tracefs", "/sys/kernel/tracing", "tracefs", 0, NULL);
		ret = attach_or_adopt(d, progs[i], cgfd);
		if (ret && recorder) {
			/* enforcement holds (seccomp); only the records are missing */
			log_warn("socket refusals by the seccomp fallback will not be recorded");
			ret = 0;
		} else if (ret && corked) {
			/* nothing is sent to the address the kernel ignores */
			log_warn("addresses ignored on corked UDP sockets will not be recorded (%s)",
				 bpf_program__name(progs[i]));
			ret = 0;
		} else if (ret && context) {
			/* enforcement holds; decisions stay under the job span */
			log_warn("processes' own TRACEPARENT will not be followed (%s)",
				 bpf_program__name(progs[i]));
			ret = 0;
		}
		if (ret)
			break;
	}
	if (!ret)
		tamper_setup(d);
	if (!ret && d->lsm) {
		drop_stale(d, d->skel->progs.ef_cork_to);
		drop_stale(d, d->skel->progs.ef_cork_msg1);
		drop_stale(d, d->skel->progs.ef_cork_mmsg);
		drop_stale(d, d->skel->progs.ef_sock_create);
		drop_stale(d, d->skel->progs.ef_sock_refused);
		drop_stale(d, d->skel->progs.ef_uring_refused);
		drop_stale(d, d->skel->progs.ef_sockpair_refused);
	} else if (!ret) {
		drop_stale(d, d->skel->progs.ef_lsm_sock);
		drop_stale(d, d->skel->progs.ef_lsm_sendmsg);
	}
	close(cgfd);
	return ret;
}

void ef_bpf_close(struct ef_daemon *d)
{
	/* Links and maps stay pinned: the fence holds without egressd. */
	tamper_bpf__destroy(d->tskel);
	d->tskel = NULL;
	fence_bpf__destroy(d->skel);
	d->skel = NULL;
	free(d->guarded);
	d->guarded = NULL;
	d->n_guarded = 0;
}

uint64_t ef_bpf_stat(struct ef_daemon *d, int idx)
{
	int ncpu = libbpf_num_possible_cpus();
	uint64_t sum = 0, *vals;
	__u32 key = idx;

	if (ncpu <= 0 || !d->skel)
		return 0;
	vals = calloc(ncpu, sizeof(*vals));
	if (!vals)
		return 0;
	if (!bpf_map_lookup_elem(bpf_map__fd(d->skel->maps.ef_stats), &key, vals))
		for (int i = 0; i < ncpu; i++)
			sum += vals[i];
	free(vals);
	return sum;
}

/*
 * egressd --reset: take the fence down. Refuses while a job has processes
 * (they would run unfenced) unless forced, in which case they are killed
 * first through cgroup.kill.
 */
int ef_bpf_reset(struct ef_daemon *d, bool force)
{
	struct dirent *de;
	int ret = 0;
	DIR *dir;

	dir = opendir(d->cgroup_root);
	if (dir) {
		while ((de = readdir(dir))) {
			char p[EF_PATH_MAX], k[EF_PATH_MAX + 16];

			if (de->d_type != DT_DIR || strncmp(de->d_name, "job-", 4))
				continue;
			snprintf(p, sizeof(p), "%s/%s", d->cgroup_root, de->d_name);
			if (ef_cgroup_populated(p) == 1) {
				if (!force) {
					log_err("job %s still has processes; refusing to unfence "
						"it (use --force to kill them)", de->d_name);
					ret = -EBUSY;
					continue;
				}
				snprintf(k, sizeof(k), "%s/cgroup.kill", p);
				ef_write_str(k, "1");
				for (int i = 0; i < 100 && ef_cgroup_populated(p) == 1; i++)
					usleep(20000);
			}
			ef_cgroup_remove_tree(p);
		}
		closedir(dir);
	}
	if (ret)
		return ret;
	dir = opendir(d->bpffs_dir);
	if (dir) {
		while ((de = readdir(dir))) {
			char p[EF_PATH_MAX];
			struct bpf_link *l;

			if (de->d_name[0] == '.')
				continue;
			snprintf(p, sizeof(p), "%s/%s", d->bpffs_dir, de->d_name);
			if (!strncmp(de->d_name, "link_", 5) && (l = bpf_link__open(p))) {
				bpf_link__detach(l);
				bpf_link__destroy(l);
			}
			unlink(p);
		}
		closedir(dir);
		if (rmdir(d->bpffs_dir) < 0 && errno != ENOENT)
			log_warn("rmdir %s: %s", d->bpffs_dir, strerror(errno));
	}
	if (rmdir(d->cgroup_root) < 0 && errno != ENOENT)
		log_warn("rmdir %s: %s", d->cgroup_root, strerror(errno));
	return 0;
}
