// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * A policy's rules indexed for the questions lint.c, weaker.c and diff.c
 * ask about whole policies: is this rule in that policy too, which rules
 * contain this destination, which allow rules share anything with it.
 * Policies can have 100,000 rules, so no question scans them all:
 *
 *   - containment by names is a walk up the labels: the rules containing
 *     a.b.com are a.b.com, *.b.com and *.com, one hash probe each;
 *   - containment by addresses is one probe per prefix length some rule of
 *     the family uses (at most 33 or 129);
 *   - what lies inside a prefix is a range of the allow CIDRs sorted by
 *     address, what lies below a wildcard a range of the allow names
 *     sorted by their reversed spelling ("moc.b.a" follows "moc.b.").
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static unsigned int full_len(__u8 family)
{
	return family == EF_FAM_V4 ? 32 : 128;
}

bool ef_rule_usable(const struct ef_rule *r)
{
	if (r->n_ports < 0 || r->n_ports > EF_MAX_PORT_SPECS)
		return false;
	switch (r->kind) {
	case EF_DEST_NAME:
	case EF_DEST_WILDCARD:
		return r->name && r->name[0] && strlen(r->name) <= EF_HOSTNAME_MAX;
	case EF_DEST_CIDR:
		return (r->family == EF_FAM_V4 || r->family == EF_FAM_V6) &&
		       r->prefixlen <= full_len(r->family);
	}
	return false;
}

void ef_dkey_of(const struct ef_rule *r, struct ef_dkey *k)
{
	memset(k, 0, sizeof(*k));
	k->deny = r->deny;
	k->kind = (__u8)r->kind;
	if (r->kind == EF_DEST_CIDR) {
		k->family = r->family;
		k->len = r->prefixlen;
		memcpy(k->addr, r->addr, 16);
		ef_addr_mask(k->addr, k->len);
	} else {
		k->name = r->name;
		k->name_len = strlen(r->name);
	}
}

bool ef_dkey_is_meta(const struct ef_dkey *k)
{
	return k->kind == EF_DEST_CIDR && k->len == full_len(k->family) &&
	       ef_addr_is_meta(k->family, k->addr);
}

static __u32 dkey_hash(const struct ef_dkey *k)
{
	__u8 hdr[4] = { k->deny, k->kind, k->family, k->len };
	__u64 h = ef_fnv1a(hdr, sizeof(hdr), EF_FNV1A_INIT);

	if (k->kind == EF_DEST_CIDR)
		h = ef_fnv1a(k->addr, 16, h);
	else
		h = ef_fnv1a(k->name, k->name_len, h);
	return (__u32)(h ^ (h >> 32));
}

static bool dkey_eq(const struct ef_dkey *k, const struct ef_rule *r)
{
	struct ef_dkey o;

	ef_dkey_of(r, &o);
	if (o.deny != k->deny || o.kind != k->kind)
		return false;
	if (k->kind == EF_DEST_CIDR)
		return o.family == k->family && o.len == k->len && !memcmp(o.addr, k->addr, 16);
	return o.name_len == k->name_len && !memcmp(o.name, k->name, k->name_len);
}

static __u32 same_hash(const struct ef_rule *r)
{
	__u64 h = ef_rule_hash(r);

	return (__u32)(h ^ (h >> 32));
}

static void slot_put(struct ef_rx_slot *tab, __u32 mask, __u32 hash, __u32 rule)
{
	__u32 i = hash & mask;

	while (tab[i].rule)
		i = (i + 1) & mask;
	tab[i].hash = hash;
	tab[i].rule = rule + 1;
}

static int cmp_cidr(const void *x, const void *y)
{
	const struct ef_rx_cidr *a = x, *b = y;
	int d;

	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	d = memcmp(a->addr, b->addr, 16);
	if (d)
		return d;
	if (a->len != b->len)
		return a->len < b->len ? -1 : 1;
	return a->rule < b->rule ? -1 : a->rule > b->rule;
}

static int cmp_name(const void *x, const void *y)
{
	const struct ef_rx_name *a = x, *b = y;
	int d = strcmp(a->rev, b->rev);

	return d ? d : (a->rule < b->rule ? -1 : a->rule > b->rule);
}

static int cmp_port(const void *x, const void *y)
{
	const struct ef_port_spec *a = x, *b = y;

	if (a->lo != b->lo)
		return a->lo < b->lo ? -1 : 1;
	return a->hi < b->hi ? -1 : a->hi > b->hi;
}

size_t ef_ports_merge(struct ef_port_spec *r, size_t n)
{
	size_t i, m = 0;

	if (n < 2)
		return n; /* r may be NULL then */
	qsort(r, n, sizeof(*r), cmp_port);
	for (i = 0; i < n; i++) {
		if (m && (unsigned int)r[i].lo <= (unsigned int)r[m - 1].hi + 1) {
			if (r[i].hi > r[m - 1].hi)
				r[m - 1].hi = r[i].hi;
			continue;
		}
		r[m++] = r[i];
	}
	return m;
}

bool ef_ports_inside(const struct ef_port_spec *a, size_t na, const struct ef_port_spec *u,
		     size_t nu)
{
	size_t i, j = 0;

	/* both sorted: walk u once */
	for (i = 0; i < na; i++) {
		while (j < nu && u[j].hi < a[i].lo)
			j++;
		if (j == nu || u[j].lo > a[i].lo || u[j].hi < a[i].hi)
			return false;
	}
	return true;
}

bool ef_ports_meet(const struct ef_port_spec *a, size_t na, const struct ef_port_spec *b, size_t nb)
{
	size_t i = 0, j = 0;

	while (i < na && j < nb) {
		if (a[i].hi < b[j].lo)
			i++;
		else if (b[j].hi < a[i].lo)
			j++;
		else
			return true;
	}
	return false;
}

static __u32 table_size(size_t n)
{
	__u32 cap = 16;

	while (cap < 2 * n)
		cap *= 2;
	return cap;
}

/* The merged ports of every allow name rule, per protocol: a CIDR deny of
 * another policy meets them if names may resolve into it. */
static int build_name_ports(struct ef_rindex *ix)
{
	const struct ef_policy *p = ix->p;
	struct ef_port_spec canon[EF_MAX_PORT_SPECS];
	size_t i, n_names = 0, b;

	for (i = 0; i < p->n_rules; i++)
		if (!p->rules[i].deny && p->rules[i].kind != EF_DEST_CIDR &&
		    ef_rule_usable(&p->rules[i]))
			n_names++;
	for (b = 0; b < 2; b++) {
		ix->name_ports[b] = calloc(n_names * EF_MAX_PORT_SPECS + 1,
					   sizeof(*ix->name_ports[b]));
		if (!ix->name_ports[b])
			return -ENOMEM;
	}
	for (i = 0; i < p->n_rules; i++) {
		const struct ef_rule *r = &p->rules[i];
		int k, n;

		if (r->deny || r->kind == EF_DEST_CIDR || !ef_rule_usable(r))
			continue;
		n = ef_rule_canon_ports(r, canon);
		for (b = 0; b < 2; b++) {
			if (!(r->protos & (1u << b)))
				continue;
			for (k = 0; k < n; k++)
				ix->name_ports[b][ix->n_name_ports[b]++] = canon[k];
		}
	}
	for (b = 0; b < 2; b++)
		ix->n_name_ports[b] = ef_ports_merge(ix->name_ports[b], ix->n_name_ports[b]);
	return 0;
}

int ef_rindex_build(struct ef_rindex *ix, const struct ef_policy *p)
{
	size_t i, n = p->n_rules, n_cidr = 0, n_names = 0;
	__u32 cap = table_size(n);

	memset(ix, 0, sizeof(*ix));
	ix->p = p;
	ix->same = calloc(cap, sizeof(*ix->same));
	ix->dest = calloc(cap, sizeof(*ix->dest));
	if (!ix->same || !ix->dest)
		goto oom;
	ix->same_mask = ix->dest_mask = cap - 1;
	for (i = 0; i < n; i++) {
		const struct ef_rule *r = &p->rules[i];
		struct ef_dkey k;

		if (!ef_rule_usable(r))
			continue;
		ef_dkey_of(r, &k);
		slot_put(ix->same, ix->same_mask, same_hash(r), (__u32)i);
		slot_put(ix->dest, ix->dest_mask, dkey_hash(&k), (__u32)i);
		if (r->kind == EF_DEST_CIDR)
			ix->lens[r->deny][r->family == EF_FAM_V6][r->prefixlen] = true;
		if (!r->deny && r->kind == EF_DEST_CIDR)
			n_cidr++;
		else if (!r->deny)
			n_names++;
	}
	ix->cidr = calloc(n_cidr + 1, sizeof(*ix->cidr));
	ix->names = calloc(n_names + 1, sizeof(*ix->names));
	if (!ix->cidr || !ix->names)
		goto oom;
	for (i = 0; i < n; i++) {
		const struct ef_rule *r = &p->rules[i];

		if (r->deny || !ef_rule_usable(r))
			continue;
		if (r->kind == EF_DEST_CIDR) {
			struct ef_rx_cidr *c = &ix->cidr[ix->n_cidr++];

			c->family = r->family;
			c->len = r->prefixlen;
			memcpy(c->addr, r->addr, 16);
			ef_addr_mask(c->addr, c->len);
			c->rule = (__u32)i;
		} else {
			size_t len = strlen(r->name), j;
			char *rev = malloc(len + 1);

			if (!rev)
				goto oom;
			for (j = 0; j < len; j++)
				rev[j] = r->name[len - 1 - j];
			rev[len] = '\0';
			ix->names[ix->n_names].rev = rev;
			ix->names[ix->n_names++].rule = (__u32)i;
		}
	}
	qsort(ix->cidr, ix->n_cidr, sizeof(*ix->cidr), cmp_cidr);
	qsort(ix->names, ix->n_names, sizeof(*ix->names), cmp_name);
	if (build_name_ports(ix))
		goto oom;
	return 0;
oom:
	ef_rindex_free(ix);
	return -ENOMEM;
}

void ef_rindex_free(struct ef_rindex *ix)
{
	size_t i;

	if (!ix)
		return;
	for (i = 0; ix->names && i < ix->n_names; i++)
		free(ix->names[i].rev);
	free(ix->names);
	free(ix->cidr);
	free(ix->same);
	free(ix->dest);
	free(ix->name_ports[0]);
	free(ix->name_ports[1]);
	memset(ix, 0, sizeof(*ix));
}

long ef_rindex_same(const struct ef_rindex *ix, const struct ef_rule *r)
{
	__u32 h, i;

	if (!ef_rule_usable(r))
		return -1;
	h = same_hash(r);
	for (i = h & ix->same_mask; ix->same[i].rule; i = (i + 1) & ix->same_mask) {
		const struct ef_rule *o = &ix->p->rules[ix->same[i].rule - 1];

		if (ix->same[i].hash == h && ef_rule_same(o, r))
			return (long)ix->same[i].rule - 1;
	}
	return -1;
}

/* fn for every rule with exactly destination k. */
int ef_rindex_exact(const struct ef_rindex *ix, const struct ef_dkey *k, ef_rx_fn fn, void *arg)
{
	__u32 h = dkey_hash(k), i;
	int ret;

	for (i = h & ix->dest_mask; ix->dest[i].rule; i = (i + 1) & ix->dest_mask) {
		__u32 rule = ix->dest[i].rule - 1;

		if (ix->dest[i].hash != h || !dkey_eq(k, &ix->p->rules[rule]))
			continue;
		ret = fn(arg, rule);
		if (ret)
			return ret;
	}
	return 0;
}

/* The wildcards over name[0..len): *.name itself if `self`, and *.S for
 * every proper label suffix S. */
static int probe_wildcards(const struct ef_rindex *ix, bool deny, const char *name, size_t len,
			   bool self, ef_rx_fn fn, void *arg)
{
	struct ef_dkey k = { .deny = deny, .kind = EF_DEST_WILDCARD };
	size_t i;
	int ret;

	if (self) {
		k.name = name;
		k.name_len = len;
		ret = ef_rindex_exact(ix, &k, fn, arg);
		if (ret)
			return ret;
	}
	for (i = 0; i < len; i++) {
		if (name[i] != '.')
			continue;
		k.name = name + i + 1;
		k.name_len = len - i - 1;
		ret = ef_rindex_exact(ix, &k, fn, arg);
		if (ret)
			return ret;
	}
	return 0;
}

int ef_rindex_covering(const struct ef_rindex *ix, const struct ef_dkey *k, bool meta_exact,
		       ef_rx_fn fn, void *arg)
{
	struct ef_dkey q = *k;
	int ret;
	int len;

	if (k->kind == EF_DEST_NAME) {
		ret = ef_rindex_exact(ix, k, fn, arg);
		if (ret)
			return ret;
		return probe_wildcards(ix, k->deny, k->name, k->name_len, false, fn, arg);
	}
	if (k->kind == EF_DEST_WILDCARD)
		return probe_wildcards(ix, k->deny, k->name, k->name_len, true, fn, arg);
	if (meta_exact && ef_dkey_is_meta(k))
		return ef_rindex_exact(ix, k, fn, arg);
	for (len = 0; len <= k->len; len++) {
		if (!ix->lens[k->deny][k->family == EF_FAM_V6][len])
			continue;
		q.len = (__u8)len;
		memcpy(q.addr, k->addr, 16);
		ef_addr_mask(q.addr, (unsigned int)len);
		ret = ef_rindex_exact(ix, &q, fn, arg);
		if (ret)
			return ret;
	}
	return 0;
}

/* First allow CIDR not before (family, addr, 0). */
static size_t cidr_lower(const struct ef_rindex *ix, __u8 family, const __u8 addr[16])
{
	size_t lo = 0, hi = ix->n_cidr;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct ef_rx_cidr *c = &ix->cidr[mid];

		if (c->family < family || (c->family == family && memcmp(c->addr, addr, 16) < 0))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* First allow name whose reversed spelling is not before `key`. */
static size_t name_lower(const struct ef_rindex *ix, const char *key)
{
	size_t lo = 0, hi = ix->n_names;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (strcmp(ix->names[mid].rev, key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int ef_rindex_overlapping(const struct ef_rindex *ix, const struct ef_dkey *k, bool meta_exact,
			  ef_rx_fn fn, void *arg)
{
	struct ef_dkey q = *k;
	char rev[EF_HOSTNAME_MAX + 2];
	size_t i, n;
	int ret;

	q.deny = false;
	ret = ef_rindex_covering(ix, &q, meta_exact, fn, arg);
	if (ret || k->kind == EF_DEST_NAME)
		return ret;
	if (k->kind == EF_DEST_WILDCARD) {
		/* below *.S: names and wildcards ending in ".S" */
		if (k->name_len > EF_HOSTNAME_MAX)
			return 0;
		for (n = 0; n < k->name_len; n++)
			rev[n] = k->name[k->name_len - 1 - n];
		rev[n++] = '.';
		rev[n] = '\0';
		for (i = name_lower(ix, rev); i < ix->n_names; i++) {
			if (strncmp(ix->names[i].rev, rev, n))
				break;
			ret = fn(arg, ix->names[i].rule);
			if (ret)
				return ret;
		}
		return 0;
	}
	/* inside the prefix: longer prefixes whose address starts with it */
	for (i = cidr_lower(ix, k->family, k->addr); i < ix->n_cidr; i++) {
		const struct ef_rx_cidr *c = &ix->cidr[i];
		__u8 a[16];

		if (c->family != k->family)
			break;
		memcpy(a, c->addr, 16);
		ef_addr_mask(a, k->len);
		if (memcmp(a, k->addr, 16))
			break;
		if (c->len <= k->len)
			continue; /* found as covering */
		ret = fn(arg, c->rule);
		if (ret)
			return ret;
	}
	return 0;
}

/* The rule as written, quoted for a message; its destination if it has
 * no text (hand-built). */
const char *ef_rule_quote(const struct ef_rule *r, char *buf, size_t len)
{
	char d[EF_HOSTNAME_MAX + 8];

	if (r->text) {
		ef_msg_quote(buf, len, r->text, SIZE_MAX);
	} else if (ef_rule_usable(r)) {
		ef_rule_dest_str(r, d, sizeof(d));
		ef_msg_quote(buf, len, d, SIZE_MAX);
	} else {
		ef_fmt(buf, len, "?");
	}
	return buf;
}
