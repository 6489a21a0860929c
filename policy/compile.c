// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * CIDR rules -> the ef_exact and ef_cidr map entries of one policy version,
 * and the two reference matchers the tests hold against each other.
 *
 * The BPF side does one exact lookup, else one longest-prefix lookup, and
 * judges the ranges of the entry found (include/ef_verdict.h). For that to
 * equal "any deny rule covering the address wins, else any allow rule",
 * every entry carries the ranges of every shorter prefix covering it.
 *
 * Compilation sorts the distinct prefixes by (family, address, length): a
 * covering prefix then always comes before what it covers, so one sweep
 * with a stack of open prefixes gives each prefix its nearest covering
 * one, whose entry already holds everything inherited from further up.
 * That is O(n log n) whatever the prefix lengths, and needs no hash.
 *
 * Ranges are kept in rule order (rule index, then port), so the first
 * matching deny and the first matching allow that ef_judge_ports() reports
 * are the lowest-numbered such rules, as in ef_policy_match_naive(). A range
 * is dropped when it can never decide: a deny inside an earlier deny of the
 * entry, an allow inside any deny or inside an earlier allow. Ranges of
 * different rules are never merged, so records always name the right rule.
 * names.c builds the entries of host-name rules with the same merge
 * (ef_ports_build()), a wildcard suffix playing the covering prefix.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "ef_verdict.h"

struct item {
	__u8 family, len;
	__u8 addr[16]; /* masked to len */
	__u32 rule;    /* index in p->rules; EF_RULE_NONE: a metadata address */
};

struct open_pfx {
	__u8 family, len;
	__u8 addr[16];
	const struct ef_ports *val;
};

/* The ranges kept for one entry; one slot more than fits, to see overflow. */
struct acc {
	struct ef_port_range r[EF_MAX_RANGES + 1];
	__u32 seq[EF_MAX_RANGES + 1];
	int n;
	bool over;
};

static unsigned int full_len(__u8 family)
{
	return family == EF_FAM_V4 ? 32 : 128;
}

static bool is_meta(__u8 family, const __u8 addr[16])
{
	return ef_addr_is_meta(family, addr);
}

/*
 * Loopback (127.0.0.0/8, ::1) is a barrier, as the metadata addresses are:
 * a wide allow rule (0.0.0.0/0:443) must not open a relay listening on the
 * runner's loopback outside the job; only rules naming an address inside
 * it do ("loopback" in the README). Deny rules of covering prefixes still
 * apply. Both get an entry even when no rule names them.
 */
static const __u8 lo_v4[16] = { 127 };
static const __u8 lo_v6[16] = { [15] = 1 };

static bool is_lo_barrier(__u8 family, unsigned int len, const __u8 addr[16])
{
	return (family == EF_FAM_V4 && len == 8 && !memcmp(addr, lo_v4, 16)) ||
	       (family == EF_FAM_V6 && len == 128 && !memcmp(addr, lo_v6, 16));
}

/* a rule naming an address inside loopback (127.x/8 and longer, ::1) */
static bool rule_inside_lo(const struct ef_rule *r)
{
	if (r->family == EF_FAM_V4)
		return r->prefixlen >= 8 && r->addr[0] == 127;
	return r->prefixlen == 128 && !memcmp(r->addr, lo_v6, 16);
}

static bool addr_is_lo(__u8 family, const __u8 addr[16])
{
	return family == EF_FAM_V4 ? addr[0] == 127 : !memcmp(addr, lo_v6, 16);
}

static int cmp_item(const void *a, const void *b)
{
	const struct item *x = a, *y = b;
	int d;

	if (x->family != y->family)
		return x->family < y->family ? -1 : 1;
	d = memcmp(x->addr, y->addr, sizeof(x->addr));
	if (d)
		return d;
	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	return x->rule < y->rule ? -1 : x->rule > y->rule;
}

static bool same_pfx(const struct item *x, const struct item *y)
{
	return x->family == y->family && x->len == y->len && !memcmp(x->addr, y->addr, 16);
}

static bool covers(const struct open_pfx *o, const struct item *x)
{
	__u8 a[16];

	if (o->family != x->family || o->len >= x->len)
		return false;
	memcpy(a, x->addr, sizeof(a));
	ef_addr_mask(a, o->len);
	return !memcmp(a, o->addr, sizeof(a));
}

static bool subsumes(const struct ef_port_range *a, const struct ef_port_range *b)
{
	return a->lo <= b->lo && b->hi <= a->hi && !(b->protos & ~a->protos);
}

/* Pass 1 offers the denies, pass 2 the allows; see the file comment. */
static void offer(struct acc *a, const struct ef_port_range *r, __u32 seq)
{
	int i;

	if (a->over || !r->protos)
		return;
	for (i = 0; i < a->n; i++)
		if ((a->r[i].deny || !r->deny) && subsumes(&a->r[i], r))
			return;
	a->r[a->n] = *r;
	a->seq[a->n] = seq;
	if (++a->n > EF_MAX_RANGES)
		a->over = true;
}

/*
 * Offer, in rule order, the ranges of kind `deny` of the entry: its own
 * rules (own[0..n_own), ascending rule index) merged with what the nearest
 * covering entry holds (only its denies if parent_deny_only).
 */
static void walk_ranges(const struct ef_policy *p, const __u32 *own, size_t n_own,
			const struct ef_ports *parent, bool parent_deny_only, bool deny,
			struct acc *a)
{
	struct ef_port_spec ps[EF_MAX_PORT_SPECS];
	size_t i = 0, j = 0, n_par = parent ? parent->n : 0;
	__u32 seq = 0;

	while ((i < n_own || j < n_par) && !a->over) {
		if (i < n_own && (j >= n_par || own[i] < parent->r[j].rule_id)) {
			const struct ef_rule *r = &p->rules[own[i]];
			int k, n = ef_rule_canon_ports(r, ps);

			for (k = 0; k < n; k++, seq++) {
				struct ef_port_range pr = {
					.rule_id = own[i],
					.lo = ps[k].lo,
					.hi = ps[k].hi,
					.protos = r->protos & EF_PROTO_ANY,
					.deny = r->deny,
				};

				if (r->deny == deny)
					offer(a, &pr, seq);
			}
			i++;
		} else {
			const struct ef_port_range *pr = &parent->r[j++];

			if (!!pr->deny == deny && (pr->deny || !parent_deny_only))
				offer(a, pr, seq);
			seq++;
		}
	}
}

int ef_ports_build(const struct ef_policy *p, const __u32 *own, size_t n_own,
		   const struct ef_ports *parent, bool parent_deny_only, struct ef_ports *val)
{
	struct acc a = { .n = 0 };
	int order[EF_MAX_RANGES];
	int i, j;

	walk_ranges(p, own, n_own, parent, parent_deny_only, true, &a);
	walk_ranges(p, own, n_own, parent, parent_deny_only, false, &a);
	if (a.over)
		return -E2BIG;
	/* back into rule order: denies and allows were kept in two passes */
	for (i = 0; i < a.n; i++) {
		for (j = i; j > 0 && a.seq[order[j - 1]] > a.seq[i]; j--)
			order[j] = order[j - 1];
		order[j] = i;
	}
	memset(val, 0, sizeof(*val));
	for (i = 0; i < a.n; i++)
		val->r[i] = a.r[order[i]];
	val->n = (__u16)a.n;
	return 0;
}

static int overflow(const struct ef_policy *p, const struct item *g, size_t n_own,
		    const struct ef_ports *parent, char *err, size_t errlen)
{
	const struct ef_rule *blame = NULL;
	struct ef_rule tmp = { .kind = EF_DEST_CIDR, .family = g->family, .prefixlen = g->len };
	char dest[64];

	memcpy(tmp.addr, g->addr, sizeof(tmp.addr));
	ef_rule_dest_str(&tmp, dest, sizeof(dest));
	/* the most specific rule, last in the file: the one whose entry it is */
	if (n_own)
		blame = &p->rules[g[n_own - 1].rule];
	else if (parent && parent->n)
		blame = &p->rules[parent->r[0].rule_id];
	ef_fmt(err, errlen,
	       "%s:%d:%d: too many port ranges for %s (more than %d, counting those of covering prefixes)",
	       p->file ? p->file : "<policy>", blame ? blame->line : 0, blame ? blame->col : 0,
	       dest, EF_MAX_RANGES);
	return -E2BIG;
}

/* Fill `val` for the prefix group g[0..n) whose rule indices are ids[0..n);
 * returns 0 or -E2BIG. */
static int build_entry(const struct ef_policy *p, const struct item *g, const __u32 *ids,
		       size_t n, const struct ef_ports *parent, struct ef_ports *val, char *err,
		       size_t errlen)
{
	bool meta = g->len == full_len(g->family) && is_meta(g->family, g->addr);
	bool barrier = meta || is_lo_barrier(g->family, g->len, g->addr);
	size_t n_own = n;

	/* the metadata (or loopback) marker sorts last in its group */
	if (n_own && g[n_own - 1].rule == EF_RULE_NONE)
		n_own--;
	if (ef_ports_build(p, ids, n_own, parent, barrier, val))
		return overflow(p, g, n_own, parent, err, errlen);
	val->flags = meta ? EF_EF_METADATA : 0;
	return 0;
}

static int cmp_exact(const void *a, const void *b)
{
	return memcmp(&((const struct ef_exact_entry *)a)->key,
		      &((const struct ef_exact_entry *)b)->key, sizeof(struct ef_exact_key));
}

static int cmp_lpm_key(const struct ef_lpm_key *x, const struct ef_lpm_key *y)
{
	if (x->policy_id != y->policy_id)
		return x->policy_id < y->policy_id ? -1 : 1;
	if (x->family != y->family)
		return x->family < y->family ? -1 : 1;
	if (x->prefixlen != y->prefixlen)
		return x->prefixlen < y->prefixlen ? -1 : 1;
	return memcmp(x->addr, y->addr, sizeof(x->addr));
}

static int cmp_lpm(const void *a, const void *b)
{
	return cmp_lpm_key(&((const struct ef_lpm_entry *)a)->key,
			   &((const struct ef_lpm_entry *)b)->key);
}

static int check_rule(const struct ef_policy *p, size_t i, char *err, size_t errlen)
{
	const struct ef_rule *r = &p->rules[i];

	if ((r->family == EF_FAM_V4 || r->family == EF_FAM_V6) &&
	    r->prefixlen <= full_len(r->family) && r->n_ports >= 0 &&
	    r->n_ports <= EF_MAX_PORT_SPECS)
		return 0;
	ef_fmt(err, errlen, "%s:%d:%d: rule %zu: bad family, prefix length or port count",
	       p->file ? p->file : "<policy>", r->line, r->col, i);
	return -EINVAL;
}

/*
 * The entries of one rule set: the CIDR rules of p->rules (fam_bits 0, the
 * metadata addresses added), or of the inbound rules (p a shallow copy
 * whose rules are the inbound ones, fam_bits EF_FAM_INBOUND, rule ids
 * offset by rule_off). Appended to c->exact and c->lpm. The two sets never
 * meet: their keys differ in the family word, which both the exact hash
 * and the trie compare whole (the trie's fixed 64 bits), and each set's
 * covering-prefix sweep only ever sees its own prefixes.
 */
static int compile_set(const struct ef_policy *p, struct ef_compiled *c, __u32 fam_bits,
		       bool meta, __u32 rule_off, char *err, size_t errlen)
{
	struct open_pfx stack[130];
	struct item *it = NULL;
	__u32 *ids = NULL;
	size_t n_it = 0, i, g, n_full = 0, n_part = 0;
	int depth = 0, ret = 0;
	void *nx;

	it = calloc(p->n_rules + 4 + EF_META_NAT64_N, sizeof(*it));
	ids = calloc(p->n_rules + 4 + EF_META_NAT64_N, sizeof(*ids));
	if (!it || !ids) {
		ret = -ENOMEM;
		goto out;
	}
	for (i = 0; i < p->n_rules; i++) {
		const struct ef_rule *r = &p->rules[i];

		if (r->kind != EF_DEST_CIDR)
			continue; /* names go to the name table */
		ret = check_rule(p, i, err, errlen);
		if (ret)
			goto out;
		it[n_it].family = r->family;
		it[n_it].len = r->prefixlen;
		memcpy(it[n_it].addr, r->addr, 16);
		ef_addr_mask(it[n_it].addr, r->prefixlen);
		it[n_it++].rule = (__u32)i;
	}
	/* the metadata addresses get an entry even when no rule names them */
	if (meta) {
		it[n_it].family = EF_FAM_V4;
		it[n_it].len = 32;
		memcpy(it[n_it].addr, ef_meta_v4, 16);
		it[n_it++].rule = EF_RULE_NONE;
		it[n_it].family = EF_FAM_V6;
		it[n_it].len = 128;
		memcpy(it[n_it].addr, ef_meta_v6, 16);
		it[n_it++].rule = EF_RULE_NONE;
		for (i = 0; i < EF_META_NAT64_N; i++) {
			it[n_it].family = EF_FAM_V6;
			it[n_it].len = 128;
			memcpy(it[n_it].addr, ef_meta_nat64[i], 16);
			it[n_it++].rule = EF_RULE_NONE;
		}
		it[n_it].family = EF_FAM_V4;
		it[n_it].len = 8;
		memcpy(it[n_it].addr, lo_v4, 16);
		it[n_it++].rule = EF_RULE_NONE;
		it[n_it].family = EF_FAM_V6;
		it[n_it].len = 128;
		memcpy(it[n_it].addr, lo_v6, 16);
		it[n_it++].rule = EF_RULE_NONE;
	}
	qsort(it, n_it, sizeof(*it), cmp_item);
	/* the rule indices of a prefix group, as ef_ports_build() takes them */
	for (i = 0; i < n_it; i++)
		ids[i] = it[i].rule;

	for (i = 0; i < n_it; i++) {
		if (i > 0 && same_pfx(&it[i - 1], &it[i]))
			continue;
		if (it[i].len == full_len(it[i].family))
			n_full++;
		else
			n_part++;
	}
	nx = realloc(c->exact, (c->n_exact + n_full + 1) * sizeof(*c->exact));
	if (!nx) {
		ret = -ENOMEM;
		goto out;
	}
	c->exact = nx;
	nx = realloc(c->lpm, (c->n_lpm + n_part + 1) * sizeof(*c->lpm));
	if (!nx) {
		ret = -ENOMEM;
		goto out;
	}
	c->lpm = nx;

	for (g = 0; g < n_it; g = i) {
		const struct item *x = &it[g];
		struct ef_ports *val;

		for (i = g + 1; i < n_it && same_pfx(x, &it[i]); i++)
			;
		while (depth > 0 && !covers(&stack[depth - 1], x))
			depth--;
		if (x->len == full_len(x->family)) {
			struct ef_exact_entry *e = &c->exact[c->n_exact++];

			memset(e, 0, sizeof(*e));
			e->key.policy_id = c->policy_id;
			e->key.family = x->family | fam_bits;
			memcpy(e->key.addr, x->addr, 16);
			val = &e->val;
		} else {
			struct ef_lpm_entry *e = &c->lpm[c->n_lpm++];

			memset(e, 0, sizeof(*e));
			e->key.prefixlen = EF_LPM_FIXED_BITS + x->len;
			e->key.policy_id = c->policy_id;
			e->key.family = x->family | fam_bits;
			memcpy(e->key.addr, x->addr, 16);
			val = &e->val;
		}
		ret = build_entry(p, x, ids + g, i - g, depth ? stack[depth - 1].val : NULL, val,
				  err, errlen);
		if (ret)
			goto out;
		/* full-length prefixes cover nothing but themselves */
		if (x->len < full_len(x->family)) {
			stack[depth].family = x->family;
			stack[depth].len = x->len;
			memcpy(stack[depth].addr, x->addr, 16);
			stack[depth++].val = val;
		}
	}
	/* the stack points into the arrays, so ids are offset only now */
	if (rule_off) {
		for (i = 0; i < c->n_exact; i++)
			if (c->exact[i].key.family & fam_bits)
				for (g = 0; g < c->exact[i].val.n && g < EF_MAX_RANGES; g++)
					c->exact[i].val.r[g].rule_id += rule_off;
		for (i = 0; i < c->n_lpm; i++)
			if (c->lpm[i].key.family & fam_bits)
				for (g = 0; g < c->lpm[i].val.n && g < EF_MAX_RANGES; g++)
					c->lpm[i].val.r[g].rule_id += rule_off;
	}
out:
	free(ids);
	free(it);
	return ret;
}

int ef_policy_compile(const struct ef_policy *p, __u32 policy_id, struct ef_compiled **out,
		      char *err, size_t errlen)
{
	struct ef_compiled *c;
	struct ef_policy in;
	int ret;

	*out = NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->policy_id = policy_id;
	c->pval.mode = (__u32)p->mode;
	/* p->loopback is what the file said; flags follow it */
	c->pval.flags = (p->flags & ~(__u32)(EF_PF_LOOPBACK | EF_PF_LOOPBACK_OWN)) |
			ef_loopback_flags(p->loopback);
	c->pval.families = p->families;

	ret = compile_set(p, c, 0, true, 0, err, errlen);
	if (!ret && p->n_inbound) {
		/* the inbound rules, judged alone: a shallow copy whose rule
		 * list is theirs, so messages and merges index them */
		in = *p;
		in.rules = p->inbound;
		in.n_rules = p->n_inbound;
		ret = compile_set(&in, c, EF_FAM_INBOUND, false, (__u32)p->n_rules, err, errlen);
	}
	if (!ret) {
		/* ef_compiled_match() binary-searches both arrays */
		qsort(c->exact, c->n_exact, sizeof(*c->exact), cmp_exact);
		qsort(c->lpm, c->n_lpm, sizeof(*c->lpm), cmp_lpm);
		ret = ef_names_compile(p, &c->names, err, errlen);
	}
	if (ret) {
		if (ret == -ENOMEM)
			ef_fmt(err, errlen, "%s: out of memory", p->file ? p->file : "<policy>");
		ef_compiled_free(c);
		return ret;
	}
	*out = c;
	return 0;
}

void ef_compiled_free(struct ef_compiled *c)
{
	if (!c)
		return;
	free(c->lpm);
	free(c->exact);
	ef_names_free(&c->names);
	free(c);
}

/* As the BPF programs do: an IPv4-mapped IPv6 address is its IPv4
 * address, and IPv4 uses addr[0..3] only. Returns false for a family that
 * no entry can have. */
static bool norm_dest(__u8 *family, const __u8 in[16], __u8 out[16])
{
	static const __u8 mapped[12] = { [10] = 0xff, [11] = 0xff };

	memset(out, 0, 16);
	if (*family == EF_FAM_V6 && !memcmp(in, mapped, sizeof(mapped))) {
		*family = EF_FAM_V4;
		memcpy(out, in + 12, 4);
	} else if (*family == EF_FAM_V4) {
		memcpy(out, in, 4);
	} else if (*family == EF_FAM_V6) {
		memcpy(out, in, 16);
	} else {
		return false;
	}
	return true;
}

static int no_rule(__u8 *reason, __u32 *rule_id)
{
	*reason = EF_R_NO_RULE;
	*rule_id = EF_RULE_NONE;
	return 0;
}

/* The entry deciding for an address, as the BPF programs find it: the
 * exact hash, else the longest prefix. NULL if none. */
static const struct ef_ports *find_entry_fam(const struct ef_compiled *c, __u8 family,
					     const __u8 addr[16], __u32 fam_bits)
{
	struct ef_exact_entry ek = { .key = { .policy_id = c->policy_id } };
	const struct ef_exact_entry *e;
	struct ef_lpm_key lk = { .policy_id = c->policy_id };
	size_t lo, hi;
	int len;

	if (!norm_dest(&family, addr, ek.key.addr))
		return NULL;
	ek.key.family = family | fam_bits;
	e = c->n_exact ? bsearch(&ek, c->exact, c->n_exact, sizeof(*c->exact), cmp_exact) : NULL;
	if (e)
		return &e->val;
	lk.family = family | fam_bits;
	for (len = (int)full_len(family); len >= 0; len--) {
		memcpy(lk.addr, ek.key.addr, 16);
		ef_addr_mask(lk.addr, (unsigned int)len);
		lk.prefixlen = EF_LPM_FIXED_BITS + (__u32)len;
		for (lo = 0, hi = c->n_lpm; lo < hi;) {
			size_t mid = lo + (hi - lo) / 2;
			int d = cmp_lpm_key(&c->lpm[mid].key, &lk);

			if (!d)
				return &c->lpm[mid].val;
			if (d < 0)
				lo = mid + 1;
			else
				hi = mid;
		}
	}
	return NULL;
}

static const struct ef_ports *find_entry(const struct ef_compiled *c, __u8 family,
					 const __u8 addr[16])
{
	return find_entry_fam(c, family, addr, 0);
}

int ef_compiled_match_inbound(const struct ef_compiled *c, __u8 family, const __u8 addr[16],
			      __u16 port, __u8 proto_bit, __u8 *reason, __u32 *rule_id)
{
	const struct ef_ports *v = find_entry_fam(c, family, addr, EF_FAM_INBOUND);

	if (!v)
		return no_rule(reason, rule_id);
	return ef_judge_ports(v, port, proto_bit, reason, rule_id);
}

int ef_compiled_match(const struct ef_compiled *c, __u8 family, const __u8 addr[16], __u16 port,
		      __u8 proto_bit, __u8 *reason, __u32 *rule_id)
{
	const struct ef_ports *v = find_entry(c, family, addr);

	if (!v)
		return no_rule(reason, rule_id);
	return ef_judge_ports(v, port, proto_bit, reason, rule_id);
}

/*
 * The entry found holds every range that can decide for the address
 * (allows inside a deny were dropped when it was built), so an allow range
 * in it is an allow rule that opens some port there. The metadata entries
 * hold only the allows of rules naming them, so a wide allow such as
 * 0.0.0.0/0 never counts as covering them.
 */
int ef_compiled_covers(const struct ef_compiled *c, __u8 family, const __u8 addr[16])
{
	const struct ef_ports *v = find_entry(c, family, addr);
	unsigned int i;

	for (i = 0; v && i < v->n && i < EF_MAX_RANGES; i++)
		if (!v->r[i].deny)
			return 1;
	return 0;
}

bool ef_rule_covers(const struct ef_rule *r, __u8 family, const __u8 addr[16])
{
	__u8 a[16], n[16];

	if (r->kind != EF_DEST_CIDR || r->family != family || r->prefixlen > full_len(family))
		return false;
	memcpy(a, addr, 16);
	memcpy(n, r->addr, 16);
	ef_addr_mask(a, r->prefixlen);
	ef_addr_mask(n, r->prefixlen);
	return !memcmp(a, n, 16);
}

static bool rule_ports(const struct ef_rule *r, __u16 port, __u8 proto_bit)
{
	int i;

	if (!(r->protos & proto_bit))
		return false;
	for (i = 0; i < r->n_ports && i < EF_MAX_PORT_SPECS; i++)
		if (port >= r->ports[i].lo && port <= r->ports[i].hi)
			return true;
	return false;
}

/* The naive reference; `outbound` adds the metadata and loopback barriers
 * that only outbound lookups have. */
static int match_naive(const struct ef_rule *rules, size_t n_rules, bool outbound, __u8 family,
		       const __u8 addr[16], __u16 port, __u8 proto_bit, __u8 *reason,
		       __u32 *rule_id)
{
	__u32 allow = EF_RULE_NONE;
	bool meta, lo;
	__u8 a[16];
	size_t i;

	if (!norm_dest(&family, addr, a))
		return no_rule(reason, rule_id);
	meta = outbound && is_meta(family, a);
	lo = outbound && addr_is_lo(family, a);
	for (i = 0; i < n_rules; i++) {
		const struct ef_rule *r = &rules[i];

		if (!ef_rule_covers(r, family, a) || !rule_ports(r, port, proto_bit))
			continue;
		if (r->deny) {
			*reason = EF_R_DENY_RULE;
			*rule_id = (__u32)i;
			return 0;
		}
		/* only a rule naming the metadata address itself opens it */
		if (meta && r->prefixlen != full_len(family))
			continue;
		/* nor loopback, but by a rule naming an address inside it */
		if (lo && !rule_inside_lo(r))
			continue;
		if (allow == EF_RULE_NONE)
			allow = (__u32)i;
	}
	if (allow != EF_RULE_NONE) {
		*reason = EF_R_RULE;
		*rule_id = allow;
		return 1;
	}
	*reason = meta ? EF_R_METADATA : EF_R_NO_RULE;
	*rule_id = EF_RULE_NONE;
	return 0;
}

int ef_policy_match_naive(const struct ef_policy *p, __u8 family, const __u8 addr[16], __u16 port,
			  __u8 proto_bit, __u8 *reason, __u32 *rule_id)
{
	return match_naive(p->rules, p->n_rules, true, family, addr, port, proto_bit, reason,
			   rule_id);
}

int ef_policy_match_inbound_naive(const struct ef_policy *p, __u8 family, const __u8 addr[16],
				  __u16 port, __u8 proto_bit, __u8 *reason, __u32 *rule_id)
{
	int v = match_naive(p->inbound, p->n_inbound, false, family, addr, port, proto_bit,
			    reason, rule_id);

	if (*rule_id != EF_RULE_NONE)
		*rule_id += (__u32)p->n_rules;
	return v;
}
