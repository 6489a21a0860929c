// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * A rule's meaning apart from its spelling: its ports in canonical form,
 * whether two rules are the same and their hash (duplicates, diffs, the
 * rule index), and its destination as text.
 */
#include <arpa/inet.h>
#include <string.h>

#include "internal.h"

int ef_rule_canon_ports(const struct ef_rule *r, struct ef_port_spec out[EF_MAX_PORT_SPECS])
{
	int n = r->n_ports, i, j, m = 0;

	/* hand-built rules (CLI, tests) may be out of range: never overrun */
	if (n < 0)
		n = 0;
	if (n > EF_MAX_PORT_SPECS)
		n = EF_MAX_PORT_SPECS;

	memcpy(out, r->ports, (size_t)n * sizeof(*out));
	for (i = 1; i < n; i++) {
		struct ef_port_spec t = out[i];

		for (j = i; j > 0 && (out[j - 1].lo > t.lo ||
				      (out[j - 1].lo == t.lo && out[j - 1].hi > t.hi)); j--)
			out[j] = out[j - 1];
		out[j] = t;
	}
	for (i = 0; i < n; i++) {
		if (m > 0 && (int)out[i].lo <= (int)out[m - 1].hi + 1) {
			if (out[i].hi > out[m - 1].hi)
				out[m - 1].hi = out[i].hi;
			continue;
		}
		out[m++] = out[i];
	}
	return m;
}

bool ef_rule_same(const struct ef_rule *a, const struct ef_rule *b)
{
	struct ef_port_spec pa[EF_MAX_PORT_SPECS], pb[EF_MAX_PORT_SPECS];
	int na, nb;

	if (a->kind != b->kind || a->deny != b->deny || a->protos != b->protos)
		return false;
	if (a->kind == EF_DEST_CIDR) {
		if (a->family != b->family || a->prefixlen != b->prefixlen ||
		    memcmp(a->addr, b->addr, sizeof(a->addr)))
			return false;
	} else if (strcmp(a->name, b->name)) {
		return false;
	}
	na = ef_rule_canon_ports(a, pa);
	nb = ef_rule_canon_ports(b, pb);
	return na == nb && !memcmp(pa, pb, (size_t)na * sizeof(*pa));
}

__u64 ef_fnv1a(const void *p, size_t n, __u64 h)
{
	const unsigned char *c = p;

	while (n--)
		h = (h ^ *c++) * 0x100000001b3ull;
	return h;
}

__u64 ef_rule_hash(const struct ef_rule *r)
{
	struct ef_port_spec ps[EF_MAX_PORT_SPECS];
	__u8 hdr[3] = { (__u8)r->kind, r->deny, r->protos };
	__u64 h = ef_fnv1a(hdr, sizeof(hdr), EF_FNV1A_INIT);
	int n = ef_rule_canon_ports(r, ps);

	if (r->kind == EF_DEST_CIDR) {
		h = ef_fnv1a(&r->family, 1, h);
		h = ef_fnv1a(&r->prefixlen, 1, h);
		h = ef_fnv1a(r->addr, sizeof(r->addr), h);
	} else {
		h = ef_fnv1a(r->name, strlen(r->name), h);
	}
	return ef_fnv1a(ps, (size_t)n * sizeof(*ps), h);
}

void ef_rule_dest_str(const struct ef_rule *r, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];
	unsigned int full = r->family == EF_FAM_V4 ? 32 : 128;

	if (r->kind != EF_DEST_CIDR) {
		ef_fmt(buf, len, "%s%s", r->kind == EF_DEST_WILDCARD ? "*." : "", r->name);
		return;
	}
	if (!inet_ntop(r->family == EF_FAM_V4 ? AF_INET : AF_INET6, r->addr, a, sizeof(a)))
		a[0] = '\0';
	if (r->prefixlen == full)
		ef_fmt(buf, len, r->family == EF_FAM_V4 ? "%s" : "[%s]", a);
	else
		ef_fmt(buf, len, r->family == EF_FAM_V4 ? "%s/%u" : "[%s]/%u", a, r->prefixlen);
}
