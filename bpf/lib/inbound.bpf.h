/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Inbound rules: which peers may connect to a job's listeners, and on which
 * of the job's local ports. They live in ef_exact/ef_cidr beside the
 * outbound entries, under family | EF_FAM_INBOUND (include/ef_abi.h), keyed
 * by the PEER address; their port ranges are LOCAL ports. Precedence as for
 * outbound (ef_judge_ports): deny rule > allow rule > no rule. A policy with
 * no inbound rule allows no peer but loopback.
 */
#ifndef EF_INBOUND_BPF_H
#define EF_INBOUND_BPF_H

/* Returns 1 allow, 0 deny; family is EF_FAM_V4/V6 (an IPv4-mapped peer
 * already turned into IPv4). */
static __always_inline int ef_inbound_judge(__u32 policy_id, __u32 family, const __u8 addr[16],
					    __u16 local_port, __u8 proto_bit, __u8 *reason,
					    __u32 *rule_id)
{
	struct ef_exact_key ek = {};
	struct ef_lpm_key lk = {};
	const struct ef_ports *v;

	ek.policy_id = policy_id;
	ek.family = family | EF_FAM_INBOUND;
	__builtin_memcpy(ek.addr, addr, sizeof(ek.addr));
	v = bpf_map_lookup_elem(&ef_exact, &ek);
	if (!v) {
		lk.prefixlen = EF_LPM_FIXED_BITS + (family == EF_FAM_V4 ? 32 : 128);
		lk.policy_id = policy_id;
		lk.family = family | EF_FAM_INBOUND;
		__builtin_memcpy(lk.addr, addr, sizeof(lk.addr));
		v = bpf_map_lookup_elem(&ef_cidr, &lk);
	}
	if (!v) {
		*reason = EF_R_NO_RULE;
		*rule_id = EF_RULE_NONE;
		return 0;
	}
	return ef_judge_ports(v, local_port, proto_bit, reason, rule_id);
}

#endif /* EF_INBOUND_BPF_H */
