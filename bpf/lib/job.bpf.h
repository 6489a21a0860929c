/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Which job is asking. Programs are attached once, to the fence's cgroup
 * root; every job is a direct child of it, at level ef_job_level. A process
 * in a cgroup nested anywhere below a job is judged by that job: its
 * ancestor at ef_job_level is the job cgroup, whatever the nesting depth.
 */
#ifndef EF_JOB_BPF_H
#define EF_JOB_BPF_H

/* set by egressd before load: level of job cgroups in the cgroup2 tree */
const volatile __u32 ef_job_level = 0;

/* set by egressd before load: the kernel offers the current task's helpers
 * (bpf_get_current_ancestor_cgroup_id, _pid_tgid, _uid_gid, _task_btf) to
 * cgroup_skb programs (the cgroup one from 6.4, which egressd probes:
 * EF_KF_SKB_CURRENT; 6.1 refuses a program that calls it, even where the
 * packet is sent from the task's own context). The
 * branches that need them are dead code otherwise, which the verifier
 * drops. */
const volatile __u8 ef_skb_has_current = 0;

struct ef_ctx {
	__u64 cgroup_id;
	__u32 policy_id; /* read once: a decision sees one policy version, never a mix */
	const struct ef_job *job;
	const struct ef_policy_val *pol;
};

/* Returns 0 with job and policy found, -1 if the caller belongs to no live
 * job (the caller then fails closed). */
static __always_inline int ef_ctx_load(struct ef_ctx *c)
{
	__u32 pid;

	c->cgroup_id = bpf_get_current_ancestor_cgroup_id(ef_job_level);
	c->policy_id = 0;
	c->job = bpf_map_lookup_elem(&ef_jobs, &c->cgroup_id);
	if (!c->job) {
		c->pol = NULL;
		return -1;
	}
	/* egressd switches a job to another policy version by rewriting its
	 * ef_jobs entry: copy the id once, so that the policy value, the
	 * destination entries, the learned addresses and the record all come
	 * from the same version even if the entry changes meanwhile. */
	pid = *(volatile const __u32 *)&c->job->policy_id;
	c->policy_id = pid;
	c->pol = bpf_map_lookup_elem(&ef_policies, &pid);
	return c->pol ? 0 : -1;
}

#endif /* EF_JOB_BPF_H */
