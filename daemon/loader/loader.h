/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The loader: the kernel feature probes, loading, pinning and adopting
 * the BPF objects, and egressd's own threads guarded from jobs.
 */
#ifndef EF_LOADER_LOADER_H
#define EF_LOADER_LOADER_H

#include "egressd.h"

int ef_bpf_setup(struct ef_daemon *d);
void ef_bpf_close(struct ef_daemon *d);

/* Writes egressd's thread ids into ef_guard_pids (and into out, a JSON
 * array, if given); returns how many. */
int ef_guard_pids_refresh(struct ef_daemon *d, cJSON *out);

/* pid (egressctl run's parent, watching a job) guarded as egressd's threads
 * are, or one watch fewer of it; -ENOMEM: it could not be counted, and is
 * not guarded (the watch must be refused) */
int ef_guard_pid_set(struct ef_daemon *d, pid_t pid, bool on);

/* kernel_probes.c: the kernel features egressd relies on; the order of
 * ef_kernel_features */
enum ef_kfeat {
	EF_KF_BTF,
	EF_KF_SOCK_ADDR,
	EF_KF_SKB,
	EF_KF_SOCKOPT,
	EF_KF_SOCK_CREATE,
	EF_KF_CGROUP_LINK,
	EF_KF_RINGBUF,
	EF_KF_SK_STORAGE,
	EF_KF_LPM,
	EF_KF_LRU,
	EF_KF_LOOP,
	EF_KF_ADDR_CGROUP,
	EF_KF_ADDR_TASK,
	EF_KF_ADDR_STORAGE,
	EF_KF_ADDR_LOOKUP,
	EF_KF_BOOT_NS,
	EF_KF_SKB_CGROUP,
	EF_KF_PT_REGS,
	EF_KF_SKB_CURRENT,
	EF_KF_DEV_CURRENT,
	EF_KF_LSM_ACTIVE,
	EF_KF_LSM_PROG,
	EF_KF_LSM_CGROUP,
	EF_KF_SYSCALL_TP,
	EF_KF_CGROUP_FREEZE,
	EF_KF_CGROUP_KILL,
	EF_KF_SOCK_DESTROY,
	EF_KF_CAP_TP,
	EF_KF__MAX
};
extern const struct ef_feature ef_kernel_features[EF_KF__MAX];

/* Probes each; logs what is missing. -ENOTSUP: a required one is: do not start. */
int ef_features_probe(struct ef_daemon *d);
bool ef_kfeature(const struct ef_daemon *d, enum ef_kfeat id);
int ef_bpf_reset(struct ef_daemon *d, bool force);
uint64_t ef_bpf_stat(struct ef_daemon *d, int idx);

#endif /* EF_LOADER_LOADER_H */
