// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libFuzzer target for policy files: arbitrary bytes go through
 * ef_policy_parse() and, when accepted, ef_policy_compile(). Beyond memory
 * errors it checks the library's promises, aborting when one breaks:
 *   - a rejected file leaves no policy and a "fuzz.json:LINE:COL: " message;
 *   - the compiled entries decide like the naive matcher over the rules, at
 *     the edges of every CIDR rule and at the metadata addresses;
 *   - the name table answers like the naive name matcher for every name
 *     rule, a name below it, its apex and each of its suffixes.
 * The input is also tried as a single rule string.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"

static void check_same(const struct ef_policy *p, const struct ef_compiled *c, __u8 fam,
		       const __u8 addr[16], __u16 port)
{
	static const __u8 protos[] = { EF_PROTO_TCP, EF_PROTO_UDP };
	size_t i;

	for (i = 0; i < sizeof(protos); i++) {
		__u8 r1, r2;
		__u32 id1, id2;
		int v1 = ef_compiled_match(c, fam, addr, port, protos[i], &r1, &id1);
		int v2 = ef_policy_match_naive(p, fam, addr, port, protos[i], &r2, &id2);

		if (v1 != v2 || r1 != r2 || id1 != id2) {
			fprintf(stderr, "compiled %d/%u/%u, naive %d/%u/%u at port %u proto %u\n",
				v1, r1, id1, v2, r2, id2, port, protos[i]);
			abort();
		}
	}
}

static void check_compiled(const struct ef_policy *p, const struct ef_compiled *c)
{
	static const __u8 meta4[16] = { 169, 254, 169, 254 };
	static const __u8 meta6[16] = { 0xfd, 0x00, 0x0e, 0xc2, [14] = 0x02, [15] = 0x54 };
	size_t i, n = p->n_rules < 64 ? p->n_rules : 64;

	for (i = 0; i < n; i++) {
		const struct ef_rule *r = &p->rules[i];
		unsigned int b, full = r->family == EF_FAM_V4 ? 32 : 128;
		__u8 last[16];

		if (r->kind != EF_DEST_CIDR || !r->n_ports)
			continue;
		memcpy(last, r->addr, 16);
		for (b = r->prefixlen; b < full; b++)
			last[b / 8] |= (__u8)(0x80 >> (b % 8));
		check_same(p, c, r->family, r->addr, r->ports[0].lo);
		check_same(p, c, r->family, last, r->ports[0].hi);
		check_same(p, c, r->family, last, (__u16)(r->ports[0].hi + 1));
	}
	check_same(p, c, EF_FAM_V4, meta4, 80);
	check_same(p, c, EF_FAM_V6, meta6, 443);
}


static void check_name(const struct ef_policy *p, const struct ef_compiled *c, const char *q)
{
	const struct ef_ports *v = ef_name_lookup(c, q, NULL);
	struct ef_ports n;
	int r = ef_name_lookup_naive(p, q, &n);

	if (r < 0 || !!v != r || (v && memcmp(v, &n, sizeof(n)))) {
		fprintf(stderr, "name %s: table %p naive %d\n", q, (void *)v, r);
		abort();
	}
}

static void check_names(const struct ef_policy *p, const struct ef_compiled *c)
{
	char q[600];
	size_t i, n = p->n_rules < 64 ? p->n_rules : 64;

	for (i = 0; i < n; i++) {
		const struct ef_rule *r = &p->rules[i];
		const char *d;

		if (r->kind == EF_DEST_CIDR)
			continue;
		check_name(p, c, r->name);
		snprintf(q, sizeof(q), "x.%s", r->name);
		check_name(p, c, q);
		snprintf(q, sizeof(q), "A.b.%s.", r->name);
		check_name(p, c, q);
		for (d = strchr(r->name, '.'); d; d = strchr(d + 1, '.'))
			check_name(p, c, d + 1);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[EF_ERR_LEN], *s;
	struct ef_policy *p = NULL;
	struct ef_compiled *c = NULL;
	struct ef_rule r;
	int ret, line, col;

	ret = ef_policy_parse((const char *)data, size, "fuzz.json", &p, err, sizeof(err));
	if (ret) {
		if (p || strncmp(err, "fuzz.json:", 10))
			abort();
		if (ret == -EINVAL && sscanf(err, "fuzz.json:%d:%d: ", &line, &col) != 2)
			abort();
		if (ret == -EINVAL && (line < 1 || col < 1))
			abort();
	} else {
		ret = ef_policy_compile(p, 1, &c, err, sizeof(err));
		if (ret == 0) {
			check_compiled(p, c);
			check_names(p, c);
		}
		else if (c || ret != -E2BIG)
			abort();
		ef_compiled_free(c);
		ef_policy_free(p);
	}

	if (size < 4096) {
		s = malloc(size + 1);
		if (!s)
			return 0;
		memcpy(s, data, size);
		s[size] = '\0';
		if (ef_rule_parse(s, size & 1, &r, err, sizeof(err)) == 0)
			ef_rule_clear(&r);
		free(s);
	}
	return 0;
}
