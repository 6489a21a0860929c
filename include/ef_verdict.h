/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The port/protocol judgement of one destination entry, shared by the BPF
 * programs and by policy/'s reference matcher so that the two cannot drift.
 * Include ef_abi.h first. Pure: no helpers, no libc.
 *
 * Precedence, enforced here:
 *   1. a deny range that covers (port, protocol) wins: EF_R_DENY_RULE;
 *   2. else an allow range that covers it: EF_R_RULE;
 *   3. else EF_R_METADATA for a metadata entry, EF_R_NO_RULE otherwise.
 * The first matching range of each kind names the rule in the record.
 */
#ifndef EF_VERDICT_H
#define EF_VERDICT_H

#ifndef EF_INLINE
#define EF_INLINE static inline __attribute__((always_inline))
#endif

/* Returns 1 (allow) or 0 (deny); *reason and *rule_id say why. */
EF_INLINE int ef_judge_ports(const struct ef_ports *v, __u16 port, __u8 proto_bit, __u8 *reason,
			     __u32 *rule_id)
{
	__u32 allow_rule = EF_RULE_NONE;
	__u32 i, n = v->n;

	if (n > EF_MAX_RANGES)
		n = EF_MAX_RANGES;
	for (i = 0; i < EF_MAX_RANGES; i++) {
		const struct ef_port_range *r = &v->r[i];

		if (i >= n)
			break;
		if (!(r->protos & proto_bit) || port < r->lo || port > r->hi)
			continue;
		if (r->deny) {
			*reason = EF_R_DENY_RULE;
			*rule_id = r->rule_id;
			return 0;
		}
		if (allow_rule == EF_RULE_NONE)
			allow_rule = r->rule_id;
	}
	if (allow_rule != EF_RULE_NONE) {
		*reason = EF_R_RULE;
		*rule_id = allow_rule;
		return 1;
	}
	*reason = (v->flags & EF_EF_METADATA) ? EF_R_METADATA : EF_R_NO_RULE;
	*rule_id = EF_RULE_NONE;
	return 0;
}

#endif /* EF_VERDICT_H */
