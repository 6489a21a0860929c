// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Inbound rules and the loopback setting (issue 15, items 3 and 4).
 *
 * An inbound rule is an outbound rule's spelling, "PEER:LOCALPORTS[/PROTO]",
 * read with the same parser, then held to one more condition: PEER is an
 * address or a CIDR. A host name is refused, because a SYN carries an
 * address and nothing in the fence resolves peers (a reverse lookup is the
 * peer's own claim). And the protocol is TCP: UDP datagrams are not judged
 * on arrival (what a job sends back is judged as outbound), so a "/udp"
 * inbound rule would promise what nothing enforces.
 */
#include <errno.h>
#include <string.h>

#include "internal.h"

int ef_inbound_rule_parse_col(const char *s, struct ef_rule *out, size_t *ret_col, char *msg,
			      size_t msglen)
{
	char q[96];
	size_t n;
	int err;

	err = ef_rule_parse_col(s, false, out, ret_col, msg, msglen);
	if (err)
		return err;
	if (out->kind == EF_DEST_CIDR && out->protos != EF_PROTO_TCP) {
		ef_fmt(msg, msglen,
		       "inbound rules are for TCP connections: UDP datagrams are not judged on arrival (what the job sends back is judged as outbound); drop \"%s\"",
		       strrchr(s, '/'));
		*ret_col = (size_t)(strrchr(s, '/') - s) + 1;
		ef_rule_clear(out);
		return -EINVAL;
	}
	if (out->kind == EF_DEST_CIDR)
		return 0;
	n = strcspn(s, ":");
	ef_msg_quote(q, sizeof(q), s, n);
	ef_fmt(msg, msglen,
	       "inbound peers are addresses, not names: \"%s\" is a host name; write its address or CIDR, e.g. \"198.51.100.7:8080\" or \"10.0.0.0/24:8080\"",
	       q);
	*ret_col = 1;
	ef_rule_clear(out);
	return -EINVAL;
}

int ef_inbound_rule_parse(const char *s, struct ef_rule *out, char *err, size_t errlen)
{
	char msg[EF_ERR_LEN];
	size_t col = 0;
	int ret;

	ret = ef_inbound_rule_parse_col(s, out, &col, msg, sizeof(msg));
	if (ret)
		ef_fmt(err, errlen, "%zu: %s", col, msg);
	return ret;
}

const struct ef_rule *ef_policy_rule_by_id(const struct ef_policy *p, __u32 rule_id)
{
	if (!p || rule_id == EF_RULE_NONE)
		return NULL;
	if (rule_id < p->n_rules)
		return &p->rules[rule_id];
	if (rule_id - p->n_rules < p->n_inbound)
		return &p->inbound[rule_id - p->n_rules];
	return NULL;
}

int ef_loopback_rank(int loopback)
{
	switch (loopback) {
	case EF_LOOPBACK_ANY:
		return 2;
	case EF_LOOPBACK_OWN:
		return 1;
	default:
		return 0;
	}
}

const char *ef_loopback_name(int loopback)
{
	switch (loopback) {
	case EF_LOOPBACK_ANY:
		return "true";
	case EF_LOOPBACK_OWN:
		return "\"own\"";
	default:
		return "false";
	}
}

__u32 ef_loopback_flags(int loopback)
{
	switch (loopback) {
	case EF_LOOPBACK_ANY:
		return EF_PF_LOOPBACK;
	case EF_LOOPBACK_OWN:
		return EF_PF_LOOPBACK_OWN;
	default:
		return 0;
	}
}
