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
 *   - ef_policy_lint() and ef_policy_lint_all() agree, with positioned
 *     messages; ef_policy_no_weaker(p, p) is 1 and ef_policy_diff(p, p)
 *     is empty;
 *   - ef_policy_format() output parses to the same policy (an empty diff)
 *     and formats to itself;
 *   - taking an allow rule out, or adding a deny rule, with
 *     ef_policy_edit() gives a policy no weaker than p; so does taking an
 *     inbound rule out (ef_policy_edit_list()).
 * The input is also tried as a single rule string, and as a rule added to
 * a small policy.
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

/* Inbound entries decide like the naive matcher over the inbound rules
 * alone (ids offset by n_rules), and outbound lookups of the same peer
 * are untouched by them (checked by check_compiled above: the naive
 * outbound matcher never sees the inbound rules). The metadata and
 * loopback barriers are outbound only: a rule over 0.0.0.0/1 covers an
 * outside peer claiming 127.0.0.1 here. */
static void check_inbound_one(const struct ef_policy *p, const struct ef_compiled *c, __u8 fam,
			      const __u8 addr[16], __u16 port)
{
	static const __u8 protos[] = { EF_PROTO_TCP, EF_PROTO_UDP };

	for (size_t i = 0; i < sizeof(protos); i++) {
		__u8 r1, r2;
		__u32 id1, id2;
		int v1 = ef_compiled_match_inbound(c, fam, addr, port, protos[i], &r1, &id1);
		int v2 = ef_policy_match_inbound_naive(p, fam, addr, port, protos[i], &r2, &id2);

		if (v1 != v2 || r1 != r2 || id1 != id2) {
			fprintf(stderr, "inbound compiled %d/%u/%u, naive %d/%u/%u at port %u\n",
				v1, r1, id1, v2, r2, id2, port);
			abort();
		}
	}
}

static void check_inbound(const struct ef_policy *p, const struct ef_compiled *c)
{
	size_t i, n = p->n_inbound < 64 ? p->n_inbound : 64;

	for (i = 0; i < n; i++) {
		const struct ef_rule *r = &p->inbound[i];
		unsigned int b, full = r->family == EF_FAM_V4 ? 32 : 128;
		__u8 last[16];

		if (r->kind != EF_DEST_CIDR || !r->n_ports)
			abort(); /* the parser takes addresses only */
		memcpy(last, r->addr, 16);
		for (b = r->prefixlen; b < full; b++)
			last[b / 8] |= (__u8)(0x80 >> (b % 8));
		check_inbound_one(p, c, r->family, r->addr, r->ports[0].lo);
		check_inbound_one(p, c, r->family, last, r->ports[0].hi);
		check_inbound_one(p, c, r->family, last, (__u16)(r->ports[0].hi + 1));
	}
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

static void check_lint(const struct ef_policy *p)
{
	char err[EF_ERR_LEN], all[4 * EF_ERR_LEN];
	int one = ef_policy_lint(p, err, sizeof(err));
	int n = ef_policy_lint_all(p, 4, all, sizeof(all));

	if (one == -ENOMEM || n == -ENOMEM)
		return;
	if ((one == 0) != (n == 0) || n < 0 || n > 4 || (one != 0 && one != -EINVAL))
		abort();
	if (one && (strncmp(err, "fuzz.json:", 10) || strncmp(all, err, strlen(err))))
		abort();
	if (p->mode == EF_MODE_AUDIT && n)
		abort();
}

static bool no_change(const struct ef_policy *a, const struct ef_policy *b)
{
	struct ef_policy_change c;
	bool none;

	if (ef_policy_diff(a, b, &c))
		return true; /* out of memory: nothing to say */
	none = !c.n_rules && !c.n_settings;
	ef_policy_change_free(&c);
	return none;
}

static void check_whole(const struct ef_policy *p, const uint8_t *data, size_t size)
{
	char why[EF_ERR_LEN], err[EF_ERR_LEN], *out = NULL, *again = NULL;
	struct ef_policy *q = NULL;
	size_t i;
	int ret;

	check_lint(p);
	ret = ef_policy_no_weaker(p, p, why, sizeof(why));
	if (ret != 1 && ret != -ENOMEM) {
		fprintf(stderr, "no_weaker(p, p) = %d: %s\n", ret, why);
		abort();
	}
	if (!no_change(p, p))
		abort();

	ret = ef_policy_format((const char *)data, size, &out);
	if (ret == -ENOMEM || ret == -EFBIG)
		return;
	if (ret || ef_policy_parse(out, strlen(out), "fuzz.json", &q, err, sizeof(err)))
		abort();
	if (!no_change(p, q) || q->n_rules != p->n_rules)
		abort();
	ef_policy_free(q);
	q = NULL;
	if (ef_policy_format(out, strlen(out), &again) == 0 && strcmp(out, again))
		abort();
	free(again);
	free(out);
	out = NULL;

	/* one inbound rule out: never weaker, and it may not be added twice */
	for (i = 0; i < p->n_inbound && i < 2; i++) {
		const char *text = p->inbound[i].text;

		ret = ef_policy_edit_list((const char *)data, size, "fuzz.json", NULL, 0, &text, 1,
					  EF_EDIT_INBOUND, &out, err, sizeof(err));
		if (ret == -ENOMEM || ret == -EFBIG)
			continue;
		if (ret || ef_policy_parse(out, strlen(out), "fuzz.json", &q, err, sizeof(err)))
			abort();
		if (q->n_inbound != p->n_inbound - 1 || q->n_rules != p->n_rules ||
		    ef_policy_no_weaker(q, p, why, sizeof(why)) == 0)
			abort();
		if (ef_policy_edit_list((const char *)data, size, "fuzz.json", &text, 1, NULL, 0,
					EF_EDIT_INBOUND, &again, err, sizeof(err)) != -EINVAL ||
		    again)
			abort();
		ef_policy_free(q);
		q = NULL;
		free(out);
		out = NULL;
	}

	/* one allow rule out, or one deny rule in: never weaker */
	for (i = 0; i < p->n_rules && i < 4; i++) {
		const char *text = p->rules[i].text;
		bool deny = p->rules[i].deny;

		if (deny)
			continue;
		ret = ef_policy_edit((const char *)data, size, "fuzz.json", NULL, 0, &text, 1,
				     false, &out, err, sizeof(err));
		if (ret == -ENOMEM || ret == -EFBIG)
			continue;
		if (ret || ef_policy_parse(out, strlen(out), "fuzz.json", &q, err, sizeof(err)))
			abort();
		ret = ef_policy_no_weaker(q, p, why, sizeof(why));
		if (ret == 0) {
			fprintf(stderr, "without \"%s\": %s\n", text, why);
			abort();
		}
		/* it was there: adding it again must be refused */
		if (ef_policy_edit((const char *)data, size, "fuzz.json", &text, 1, NULL, 0, false,
				   &again, err, sizeof(err)) != -EINVAL || again)
			abort();
		ef_policy_free(q);
		q = NULL;
		free(out);
		out = NULL;
	}
	{
		const char *add = "203.0.113.7:1-1024/any";

		ret = ef_policy_edit((const char *)data, size, "fuzz.json", &add, 1, NULL, 0, true,
				     &out, err, sizeof(err));
		if (ret == 0) {
			if (ef_policy_parse(out, strlen(out), "fuzz.json", &q, err, sizeof(err)))
				abort();
			if (ef_policy_no_weaker(q, p, why, sizeof(why)) == 0) {
				fprintf(stderr, "with deny %s: %s\n", add, why);
				abort();
			}
			ef_policy_free(q);
			free(out);
		} else if (ret != -EINVAL && ret != -ENOMEM && ret != -EFBIG) {
			abort();
		}
	}
}

/* The input as a rule added to, then removed from, a small policy. */
static void check_edit_rule(const char *s)
{
	static const char base[] = "{\"name\": \"f\", \"allow\": [\"a.example.com:443\"]}";
	char err[EF_ERR_LEN], *out = NULL, *back = NULL;
	int ret;

	ret = ef_policy_edit(base, sizeof(base) - 1, "f.json", &s, 1, NULL, 0, false, &out, err,
			     sizeof(err));
	if (ret) {
		if (out || (ret != -EINVAL && ret != -ENOMEM))
			abort();
		return;
	}
	ret = ef_policy_edit(out, strlen(out), "f.json", NULL, 0, &s, 1, false, &back, err,
			     sizeof(err));
	if (ret == 0 && !strstr(back, "\"a.example.com:443\"\n  ]"))
		abort();
	if (ret && ret != -ENOMEM)
		abort();
	free(back);
	free(out);
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
			check_inbound(p, c);
		}
		else if (c || ret != -E2BIG)
			abort();
		ef_compiled_free(c);
		check_whole(p, data, size);
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
		if (size < 1100)
			check_edit_rule(s);
		free(s);
	}
	return 0;
}
