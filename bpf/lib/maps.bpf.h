/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The fence's maps. All are pinned by name under egressd's bpffs dir, so a
 * restarted egressd adopts them, and jobs stay fenced while it is down.
 * Names are prefixed "ef_" and kept under the kernel's 15 characters.
 */
#ifndef EF_MAPS_BPF_H
#define EF_MAPS_BPF_H

#define EF_MAX_JOBS 4096
#define EF_MAX_POLICIES 1024
#define EF_MAX_DESTS (1 << 20)
#define EF_MAX_SENT 65536
#define EF_RINGBUF_BYTES (8 << 20)
#define EF_MAX_LEARNED (1 << 18)
#define EF_MAX_NAMES 65536

/* job cgroup id -> job */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, EF_MAX_JOBS);
	__type(key, __u64);
	__type(value, struct ef_job);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ef_jobs SEC(".maps");

/* policy id -> mode and flags */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, EF_MAX_POLICIES);
	__type(key, __u32);
	__type(value, struct ef_policy_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ef_policies SEC(".maps");

/* (policy, exact address) -> ranges; not preallocated: most policies are small */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, EF_MAX_DESTS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct ef_exact_key);
	__type(value, struct ef_ports);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ef_exact SEC(".maps");

/* (policy, CIDR) -> ranges, longest prefix wins */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, EF_MAX_DESTS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct ef_lpm_key);
	__type(value, struct ef_ports);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ef_cidr SEC(".maps");

/* unconnected UDP (socket, policy version, destination) -> verdict */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, EF_MAX_SENT);
	__type(key, struct ef_sent_key);
	__type(value, struct ef_sent_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ef_sent SEC(".maps");

/* socket -> where its DNS traffic was headed before the proxy took it */
struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct ef_dns_orig);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ef_dns_sk SEC(".maps");

/* socket -> the process that last sent its DNS traffic to the proxy */
struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct ef_dns_who);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ef_dns_whosk SEC(".maps");

/* (job, client port, protocol) -> that process, for the proxy's spans */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct ef_dns_peer_key);
	__type(value, struct ef_dns_who);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ef_dns_peer SEC(".maps");

/* socket -> its job and the destination judged for it (include/ef_abi.h);
 * cloned to accepted sockets */
struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC | BPF_F_CLONE);
	__type(key, int);
	__type(value, struct ef_sk);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ef_sk SEC(".maps");

/* (job, address) -> learned through the job's DNS proxy; written by egressd
 * before the answer is released, so a connect right after it never races */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, EF_MAX_LEARNED);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct ef_learn_key);
	__type(value, struct ef_learn_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ef_learned SEC(".maps");

/* DNS proxy port (host order) -> the job cgroup it serves: a job may not
 * send its queries through another job's proxy (and its policy) */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, EF_MAX_JOBS);
	__type(key, __u16);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ef_dns_ports SEC(".maps");

/* (job, network namespace other than egressd's) -> 1: egressd has been told
 * of it (EF_K_NETNS) and opens the job's proxy there; deleted when it could
 * not, so the next query asks again. LRU: a job making namespaces by the
 * thousand evicts entries, which costs their jobs one more record each,
 * never a proxy (egressd knows the namespaces it opened) */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, EF_MAX_JOBS * 4);
	__type(key, struct ef_dns_net_key);
	__type(value, __u8);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ef_dns_nets SEC(".maps");

/* [0]: egressd's network namespace cookie; 0 until it has written it */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ef_host_netns SEC(".maps");

/* name id -> DNS name; only egressd reads it (records carry the id) */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, EF_MAX_NAMES);
	__type(key, __u64);
	__type(value, struct ef_name_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ef_names SEC(".maps");

/* decision records for egressd */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, EF_RINGBUF_BYTES);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ef_events SEC(".maps");

/* counters, per CPU so the hot path never contends */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, EF_S__MAX);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ef_stats SEC(".maps");

/* per-CPU scratch for reading the head of a struct sock (lib/dest.bpf.h);
 * not pinned: nothing in it outlives one program run */
#define EF_SCRATCH_BYTES 2048
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u8[EF_SCRATCH_BYTES]);
} ef_scratch SEC(".maps");

/* per-CPU buffer for walking a new process's environment (lib/proc.bpf.h);
 * its own, not ef_scratch: a cgroup program using that may be preempted */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u8[256]);
} ef_env_buf SEC(".maps");

static __always_inline void ef_stat_inc(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&ef_stats, &idx);

	if (v)
		*v += 1;
}

#endif /* EF_MAPS_BPF_H */
