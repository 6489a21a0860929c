// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * egressctl policy suggest, the rules written from what is kept
 * (suggest_rules.c, steps 4 to 6): the ports of each destination and
 * protocol merged, wildcards for enough names under one parent, and the
 * order the rules are written in.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "suggest_rules.h"

#define RUN_MIN 3 /* consecutive ports written as one range "LO-HI" */
/* One destination and protocol: more distinct ports, or more runs of
 * consecutive ports, and the destination is left out. Runs: half of an
 * entry's EF_MAX_RANGES, so TCP and UDP of one destination fit together. */
#define PORTS_MAX EF_MAX_PORT_SPECS
#define RUNS_MAX  (EF_MAX_RANGES / 2)

/* A rule for dest (the name or wildcard, or the address as written) with
 * o's protocol and family. */
static int rules_add(struct rules *rs, const struct obs *o, const char *dest, const char *ports)
{
	struct rule_out *r;

	if (rs->n == rs->cap) {
		size_t cap = rs->cap ? 2 * rs->cap : 32;
		struct rule_out *v = realloc(rs->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		rs->v = v;
		rs->cap = cap;
	}
	r = &rs->v[rs->n];
	memset(r, 0, sizeof(*r));
	if (asprintf(&r->text, "%s:%s%s", dest, ports, o->proto == EF_PROTO_UDP ? "/udp" : "") < 0)
		return -ENOMEM;
	if (o->name && !(r->key = suggest_rev_key(dest))) {
		free(r->text);
		return -ENOMEM;
	}
	r->cls = o->name ? 0 : o->family == EF_FAM_V4 ? 1 : 2;
	if (!o->name)
		memcpy(r->addr, o->addr, sizeof(r->addr));
	r->proto = o->proto;
	rs->n++;
	return 0;
}

int suggest_cmp_rule(const void *x, const void *y)
{
	const struct rule_out *a = x, *b = y;
	int c;

	if (a->cls != b->cls)
		return a->cls - b->cls;
	c = a->cls ? memcmp(a->addr, b->addr, sizeof(a->addr)) : strcmp(a->key, b->key);
	if (c)
		return c;
	if (a->proto != b->proto)
		return a->proto - b->proto;
	return strcmp(a->text, b->text);
}

/* Observations by destination, protocol, port. */
static int cmp_obs(const void *x, const void *y)
{
	const struct obs *a = *(const struct obs *const *)x, *b = *(const struct obs *const *)y;
	int c;

	if (a->name != b->name)
		return a->name ? -1 : 1;
	if (!a->name && a->family != b->family)
		return a->family == EF_FAM_V4 ? -1 : 1;
	c = a->name ? strcmp(a->key, b->key) : memcmp(a->addr, b->addr, sizeof(a->addr));
	if (c)
		return c;
	if (a->proto != b->proto)
		return a->proto - b->proto;
	return (int)a->port - (int)b->port;
}

static bool same_dest(const struct obs *a, const struct obs *b)
{
	return a->name == b->name && a->proto == b->proto && !strcmp(a->dest, b->dest);
}

/* Ports (sorted, distinct) as a rule writes them; NULL with *ret_err set
 * to -E2BIG if they are too many for one tight rule. */
static char *ports_text(const __u16 *p, size_t n, int *ret_err)
{
	size_t runs = 0, at = 0;
	char *out;

	*ret_err = 0;
	for (size_t i = 0; i < n; i++)
		runs += !i || p[i] != p[i - 1] + 1;
	if (n > PORTS_MAX || runs > RUNS_MAX) {
		*ret_err = -E2BIG;
		return NULL;
	}
	out = malloc(n * 12 + 1);
	if (!out) {
		*ret_err = -ENOMEM;
		return NULL;
	}
	for (size_t i = 0; i < n;) {
		size_t j = i;

		while (j + 1 < n && p[j + 1] == p[j] + 1)
			j++;
		if (j - i + 1 >= RUN_MIN) {
			at += (size_t)sprintf(out + at, "%s%u-%u", at ? "," : "", p[i], p[j]);
			i = j + 1;
		} else {
			at += (size_t)sprintf(out + at, "%s%u", at ? "," : "", p[i]);
			i++;
		}
	}
	out[at] = '\0';
	return out;
}

/* One destination (name or address) and protocol with its ports. */
struct dent {
	const struct obs *o; /* the first observation of it */
	char *ports;
	bool grouped;
};

/* Names first, by protocol and ports (the groups a wildcard may cover) */
static int cmp_dent_group(const void *x, const void *y)
{
	const struct dent *a = x, *b = y;
	int c;

	if (a->o->name != b->o->name)
		return a->o->name ? -1 : 1;
	if (a->o->proto != b->o->proto)
		return a->o->proto - b->o->proto;
	c = strcmp(a->ports, b->ports);
	if (c || !a->o->name)
		return c ? c : strcmp(a->o->dest, b->o->dest);
	return strcmp(a->o->key, b->o->key);
}

static size_t labels(const char *s)
{
	size_t n = 1;

	for (; *s; s++)
		n += *s == '.';
	return n;
}

/* name is strictly below parent */
static bool below(const char *name, const char *parent)
{
	size_t n = strlen(name), p = strlen(parent);

	return n > p + 1 && name[n - p - 1] == '.' && !strcmp(name + n - p, parent);
}

struct cand {
	const char *parent; /* a suffix of some name of the group */
	size_t labels;
};

static int cmp_cand(const void *x, const void *y)
{
	const struct cand *a = x, *b = y;

	if (a->labels != b->labels)
		return a->labels > b->labels ? -1 : 1;
	return strcmp(a->parent, b->parent);
}

/* The parents of name a wildcard may stand on: two labels or more, no
 * public suffix, not above the registrable domain. */
static int add_cands(const psl_ctx_t *psl, const char *name, struct cand **v, size_t *n,
		     size_t *cap)
{
	const char *reg = psl_registrable_domain(psl, name), *p;
	size_t reg_len;

	if (!reg)
		return 0;
	reg_len = strlen(reg);
	for (p = strchr(name, '.'); p; p = strchr(p + 1, '.')) {
		const char *parent = p + 1;

		if (strlen(parent) < reg_len || labels(parent) < 2 ||
		    psl_is_public_suffix(psl, parent))
			continue;
		if (*n == *cap) {
			size_t c = *cap ? 2 * *cap : 32;
			struct cand *nv = realloc(*v, c * sizeof(*nv));

			if (!nv)
				return -ENOMEM;
			*v = nv;
			*cap = c;
		}
		(*v)[(*n)++] = (struct cand){ .parent = parent, .labels = labels(parent) };
	}
	return 0;
}

/* Wildcards for the names of dents[0..n), which share protocol and ports. */
static int group(const struct suggest_opts *opt, struct dent *d, size_t n, struct rules *rs)
{
	struct cand *c = NULL;
	size_t nc = 0, cap = 0;
	int ret = 0;

	if (!opt->wildcard_min || !opt->psl || n < opt->wildcard_min)
		return 0;
	for (size_t i = 0; !ret && i < n; i++)
		ret = add_cands(opt->psl, d[i].o->dest, &c, &nc, &cap);
	if (ret)
		goto out;
	if (nc)
		qsort(c, nc, sizeof(*c), cmp_cand);
	for (size_t k = 0; k < nc; k++) {
		char *star = NULL;
		size_t count = 0;

		if (k && !strcmp(c[k].parent, c[k - 1].parent))
			continue;
		for (size_t i = 0; i < n; i++)
			count += !d[i].grouped && below(d[i].o->dest, c[k].parent);
		if (count < opt->wildcard_min)
			continue;
		for (size_t i = 0; i < n; i++)
			if (below(d[i].o->dest, c[k].parent))
				d[i].grouped = true;
		if (asprintf(&star, "*.%s", c[k].parent) < 0) {
			ret = -ENOMEM;
			goto out;
		}
		ret = rules_add(rs, d[0].o, star, d[0].ports);
		free(star);
		if (ret)
			goto out;
	}
out:
	free(c);
	return ret;
}

int suggest_make_rules(struct suggest *sg, struct rules *rs, struct suggest_set *left)
{
	const struct obs **v = calloc(sg->n_obs + 1, sizeof(*v));
	struct dent *d = calloc(sg->n_obs + 1, sizeof(*d));
	__u16 *ports = calloc(sg->n_obs + 1, sizeof(*ports));
	size_t nv = 0, nd = 0;
	int ret = 0;

	if (!v || !d || !ports) {
		ret = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < sg->n_obs; i++)
		if (sg->obs[i].st == ST_KEEP)
			v[nv++] = &sg->obs[i];
	if (nv)
		qsort(v, nv, sizeof(*v), cmp_obs);
	/* one dent per destination and protocol */
	for (size_t i = 0; i < nv;) {
		size_t j = i, np = 0;
		int err;

		for (; j < nv && same_dest(v[i], v[j]); j++)
			if (!np || ports[np - 1] != v[j]->port)
				ports[np++] = v[j]->port;
		d[nd].o = v[i];
		d[nd].ports = ports_text(ports, np, &err);
		if (err == -E2BIG) {
			char t[EF_HOSTNAME_MAX + 8], msg[EF_HOSTNAME_MAX + 200];

			suggest_dest_text(v[i], t, sizeof(t));
			snprintf(msg, sizeof(msg),
				 "%s on %zu %s ports from %u to %u (too many for a tight rule: "
				 "a port scan?)",
				 t, np, suggest_proto_name(v[i]->proto), ports[0], ports[np - 1]);
			err = suggest_set_add(left, msg, NULL);
		} else if (!err) {
			nd++;
		}
		if (err) {
			ret = err;
			goto out;
		}
		i = j;
	}
	/* names: wildcards for groups with the same protocol and ports */
	if (nd)
		qsort(d, nd, sizeof(*d), cmp_dent_group);
	for (size_t i = 0; i < nd && !ret;) {
		size_t j = i;

		while (j < nd && d[j].o->name == d[i].o->name && d[j].o->proto == d[i].o->proto &&
		       !strcmp(d[j].ports, d[i].ports))
			j++;
		if (d[i].o->name)
			ret = group(&sg->o, d + i, j - i, rs);
		i = j;
	}
	for (size_t i = 0; i < nd && !ret; i++) {
		char t[EF_HOSTNAME_MAX + 8];

		if (d[i].grouped)
			continue;
		suggest_dest_text(d[i].o, t, sizeof(t));
		ret = rules_add(rs, d[i].o, t, d[i].ports);
	}
out:
	for (size_t i = 0; i < nd; i++)
		free(d[i].ports);
	free(d);
	free(v);
	free(ports);
	return ret;
}
