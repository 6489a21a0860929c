// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * egressctl policy suggest, the pure half: decisions in, allow rules out.
 *
 * What the jobs did is a set of observations (job, destination, address,
 * port, protocol), deduplicated as they come. suggest_rules() then:
 *
 *  1. names each loopback listener it saw by its exact address and port
 *     ("127.0.0.1:5432"): under the default "loopback": "own" a job's own
 *     listeners are never recorded, so what is seen is a listener outside
 *     the job (a service container, a proxy), which needs a rule; never
 *     "loopback": true, which would open every local listener. A DNS name
 *     that led to loopback is left out, like every other non-public
 *     address (cloud metadata, link-local, private, multicast, reserved):
 *     such a destination is a person's decision, not a heuristic's;
 *  2. drops a UDP connect() to NAME:PORT when the same job made a TCP
 *     connect to NAME:PORT: that is glibc's getaddrinfo sorting its answers
 *     (RFC 6724), which sends nothing;
 *  3. with a policy to compare against, sets aside what it already allows
 *     and notes which of its allow rules were used;
 *  4. merges the ports of each destination and protocol ("80,443", a run of
 *     three or more consecutive ports as "LO-HI"); a destination with more
 *     ports than one tight rule holds (a port scan?) is left out;
 *  5. writes names where DNS was used, exact addresses otherwise, and
 *     replaces wildcard_min or more names with the same ports and protocol
 *     under one parent domain by "*.parent", deepest parent first; the
 *     parent is never a public suffix and never above the names'
 *     registrable domain (libpsl);
 *  6. sorts: names by their labels read from the right (so *.a.com,
 *     a.com's neighbours and b.a.com sit together), then IPv4, then IPv6.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "suggest.h"

#define RUN_MIN 3 /* consecutive ports written as one range "LO-HI" */
/* One destination and protocol: more distinct ports, or more runs of
 * consecutive ports, and the destination is left out. Runs: half of an
 * entry's EF_MAX_RANGES, so TCP and UDP of one destination fit together. */
#define PORTS_MAX EF_MAX_PORT_SPECS
#define RUNS_MAX  (EF_MAX_RANGES / 2)

/* ---- string sets ------------------------------------------------------ */

static size_t set_find(const struct suggest_set *set, const char *s)
{
	size_t mask = set->cap - 1, i;

	i = (size_t)ef_fnv1a(s, strlen(s), EF_FNV1A_INIT) & mask;
	while (set->slot[i] && strcmp(set->slot[i], s))
		i = (i + 1) & mask;
	return i;
}

static int set_grow(struct suggest_set *set)
{
	struct suggest_set bigger = { .cap = set->cap ? 2 * set->cap : 16 };

	bigger.slot = calloc(bigger.cap, sizeof(*bigger.slot));
	if (!bigger.slot)
		return -ENOMEM;
	for (size_t i = 0; i < set->cap; i++)
		if (set->slot[i])
			bigger.slot[set_find(&bigger, set->slot[i])] = set->slot[i];
	bigger.n = set->n;
	free(set->slot);
	*set = bigger;
	return 0;
}

int suggest_set_add(struct suggest_set *set, const char *s, bool *added)
{
	size_t i;
	int ret;

	if (added)
		*added = false;
	if (2 * (set->n + 1) > set->cap) {
		ret = set_grow(set);
		if (ret)
			return ret;
	}
	i = set_find(set, s);
	if (set->slot[i])
		return 0;
	set->slot[i] = strdup(s);
	if (!set->slot[i])
		return -ENOMEM;
	set->n++;
	if (added)
		*added = true;
	return 0;
}

bool suggest_set_has(const struct suggest_set *set, const char *s)
{
	return set->cap && set->slot[set_find(set, s)];
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int suggest_set_sorted(const struct suggest_set *set, const char ***ret)
{
	const char **v = calloc(set->n + 1, sizeof(*v));
	size_t n = 0;

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < set->cap; i++)
		if (set->slot[i])
			v[n++] = set->slot[i];
	qsort(v, n, sizeof(*v), cmp_str);
	*ret = v;
	return 0;
}

void suggest_set_free(struct suggest_set *set)
{
	for (size_t i = 0; i < set->cap; i++)
		free(set->slot[i]);
	free(set->slot);
	memset(set, 0, sizeof(*set));
}

/* The set's members, sorted, as an owned array of owned strings. */
static int set_take(struct suggest_set *set, char ***ret, size_t *ret_n)
{
	const char **v;
	int ret_err = suggest_set_sorted(set, &v);

	if (ret_err)
		return ret_err;
	/* the strings change hands: the set keeps only its slot array */
	*ret = (char **)v;
	*ret_n = set->n;
	free(set->slot);
	memset(set, 0, sizeof(*set));
	return 0;
}

/* ---- observations ----------------------------------------------------- */

enum obs_state {
	ST_KEEP,     /* needs a rule (a loopback address too: a listener outside the job) */
	ST_LEFT,     /* a non-public address: left out, said on stderr */
	ST_PROBE,    /* getaddrinfo's UDP sorting connect */
	ST_COVERED,  /* the policy compared against allows it */
};

struct obs {
	char *job;
	char *dest; /* a lowercase name, or the address as text (no brackets) */
	char *key;  /* names: the labels from the right, '\1' between */
	bool name, has_addr, send;
	__u8 family, proto; /* EF_FAM_*; EF_PROTO_TCP or EF_PROTO_UDP */
	__u16 port;
	__u8 addr[16]; /* the address connected to (for a name: the peer's) */
	enum obs_state st;
};

struct suggest {
	struct suggest_opts o;
	struct obs *obs;
	size_t n_obs, cap_obs;
	struct suggest_set seen;     /* observations, deduplicated */
	struct suggest_set resolved; /* names a DNS answer gave addresses for */
	struct suggest_set bad;	     /* destinations no rule can name */
};

int suggest_new(const struct suggest_opts *o, struct suggest **ret)
{
	struct suggest *sg = calloc(1, sizeof(*sg));

	if (!sg)
		return -ENOMEM;
	sg->o = *o;
	*ret = sg;
	return 0;
}

void suggest_free(struct suggest *sg)
{
	if (!sg)
		return;
	for (size_t i = 0; i < sg->n_obs; i++) {
		free(sg->obs[i].job);
		free(sg->obs[i].dest);
		free(sg->obs[i].key);
	}
	free(sg->obs);
	suggest_set_free(&sg->seen);
	suggest_set_free(&sg->resolved);
	suggest_set_free(&sg->bad);
	free(sg);
}

/* A host name as a rule writes it: lowercase, no trailing dot, labels of 1
 * to 63 letters, digits, '_' and '-' (not at a label's ends), not only
 * digits and dots (the policy parser would read an address). 0 or -EINVAL. */
static int norm_name(const char *in, char out[EF_HOSTNAME_MAX + 1])
{
	size_t n = strlen(in), label = 0;
	bool alpha = false;

	if (n && in[n - 1] == '.')
		n--;
	if (!n || n > EF_HOSTNAME_MAX)
		return -EINVAL;
	for (size_t i = 0; i <= n; i++) {
		char c = i < n ? in[i] : '.';

		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (c == '.') {
			if (i == label || i - label > 63 || in[label] == '-' || in[i - 1] == '-')
				return -EINVAL;
			label = i + 1;
		} else if ((c >= 'a' && c <= 'z') || c == '-' || c == '_') {
			alpha = true;
		} else if (!(c >= '0' && c <= '9')) {
			return -EINVAL;
		}
		if (i < n)
			out[i] = c;
	}
	out[n] = '\0';
	return alpha ? 0 : -EINVAL;
}

/* "c\1b\1a" of "a.b.c": sorts a name next to its parents and siblings */
static char *rev_key(const char *name)
{
	size_t n = strlen(name), at = 0;
	char *k = malloc(n + 1);
	const char *end = name + n;

	if (!k)
		return NULL;
	while (end > name) {
		const char *dot = end;

		while (dot > name && dot[-1] != '.')
			dot--;
		if (at)
			k[at++] = '\1';
		memcpy(k + at, dot, (size_t)(end - dot));
		at += (size_t)(end - dot);
		end = dot > name ? dot - 1 : name;
	}
	k[at] = '\0';
	return k;
}

/* Printable, short: a destination from a journal can hold anything. */
static void sanitize(const char *in, char *out, size_t len)
{
	size_t i = 0;

	for (; *in && i + 4 < len; in++)
		out[i++] = (unsigned char)*in < 0x20 || (unsigned char)*in >= 0x7f ? '?' : *in;
	if (*in && len > 3) {
		memcpy(out + i, "..", 2);
		i += 2;
	}
	out[i] = '\0';
}

int suggest_add_conn(struct suggest *sg, const char *job, const char *server, const char *peer,
		     long port, const char *transport, bool send)
{
	char name[EF_HOSTNAME_MAX + 1], atext[INET6_ADDRSTRLEN] = "", *key = NULL;
	struct obs o = { .send = send, .port = (__u16)port };
	__u8 pfam = 0, paddr[16];
	bool peer_ok, added;
	const char *dest;
	int ret;

	if (!job || port < 1 || port > 65535 || !transport)
		return -EINVAL;
	if (!strcmp(transport, "tcp"))
		o.proto = EF_PROTO_TCP;
	else if (!strcmp(transport, "udp"))
		o.proto = EF_PROTO_UDP;
	else
		return -EINVAL;
	peer_ok = peer && !ef_addr_parse(peer, &pfam, paddr);
	if (!server || !*server)
		server = peer;
	if (!server || !*server)
		return -EINVAL;
	if (!ef_addr_parse(server, &o.family, o.addr)) {
		o.has_addr = true;
		dest = ef_addr_str(o.family, o.addr, atext, sizeof(atext));
	} else if (!norm_name(server, name)) {
		o.name = true;
		dest = name;
		if (peer_ok) {
			o.has_addr = true;
			o.family = pfam;
			memcpy(o.addr, paddr, sizeof(o.addr));
			ef_addr_str(o.family, o.addr, atext, sizeof(atext));
		}
	} else {
		char msg[160], s[96];

		sanitize(server, s, sizeof(s));
		snprintf(msg, sizeof(msg),
			 "\"%s\" port %ld/%s (not a name or address a rule can hold)", s, port,
			 transport);
		return suggest_set_add(&sg->bad, msg, NULL);
	}
	if (asprintf(&key, "%s\n%s\n%s\n%u/%u/%d", job, dest, atext, o.port, o.proto, send) < 0)
		return -ENOMEM;
	ret = suggest_set_add(&sg->seen, key, &added);
	free(key);
	if (ret || !added)
		return ret;
	if (sg->n_obs == sg->cap_obs) {
		size_t cap = sg->cap_obs ? 2 * sg->cap_obs : 64;
		struct obs *v = realloc(sg->obs, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		sg->obs = v;
		sg->cap_obs = cap;
	}
	o.job = strdup(job);
	o.dest = strdup(dest);
	o.key = o.name ? rev_key(dest) : NULL;
	if (!o.job || !o.dest || (o.name && !o.key)) {
		free(o.job);
		free(o.dest);
		free(o.key);
		return -ENOMEM;
	}
	sg->obs[sg->n_obs++] = o;
	return 0;
}

int suggest_add_dns(struct suggest *sg, const char *job, const char *qname, bool answered)
{
	char name[EF_HOSTNAME_MAX + 1];

	if (!job || !qname || norm_name(qname, name))
		return -EINVAL;
	return answered ? suggest_set_add(&sg->resolved, name, NULL) : 0;
}

/* ---- text ------------------------------------------------------------- */

/* "198.18.1.1", "[2001:db8::1]" or the name */
static void dest_text(const struct obs *o, char *out, size_t len)
{
	if (!o->name && o->family == EF_FAM_V6)
		snprintf(out, len, "[%s]", o->dest);
	else
		snprintf(out, len, "%s", o->dest);
}

static const char *proto_name(__u8 proto)
{
	return proto == EF_PROTO_UDP ? "udp" : "tcp";
}

static const char *class_text(enum ef_addr_cls c)
{
	switch (c) {
	case EF_AC_METADATA:
		return "cloud metadata address";
	case EF_AC_LINK_LOCAL:
		return "link-local address";
	case EF_AC_PRIVATE:
		return "private address";
	case EF_AC_MULTICAST:
		return "multicast address";
	case EF_AC_LOOPBACK:
		return "loopback address";
	default:
		return "reserved address";
	}
}

/* "ok.test:80", "[2001:db8::1]:53/udp", and " at 10.0.0.1" for a name */
static void obs_text(const struct obs *o, char *out, size_t len)
{
	char d[EF_HOSTNAME_MAX + 8], a[INET6_ADDRSTRLEN] = "";

	dest_text(o, d, sizeof(d));
	if (o->name && o->has_addr)
		ef_addr_str(o->family, o->addr, a, sizeof(a));
	snprintf(out, len, "%s:%u%s%s%s", d, o->port, o->proto == EF_PROTO_UDP ? "/udp" : "",
		 a[0] ? " at " : "", a);
}

/* ---- comparing with a policy ------------------------------------------ */

static bool rule_covers_obs(const struct ef_rule *r, const struct obs *o)
{
	size_t rl, dl;
	int i;

	if (!(r->protos & o->proto))
		return false;
	for (i = 0; i < r->n_ports; i++)
		if (o->port >= r->ports[i].lo && o->port <= r->ports[i].hi)
			break;
	if (i == r->n_ports)
		return false;
	switch (r->kind) {
	case EF_DEST_NAME:
		return o->name && !strcmp(r->name, o->dest);
	case EF_DEST_WILDCARD:
		if (!o->name)
			return false;
		rl = strlen(r->name);
		dl = strlen(o->dest);
		return dl > rl + 1 && o->dest[dl - rl - 1] == '.' &&
		       !strcmp(o->dest + dl - rl, r->name);
	default:
		if (!o->has_addr || !ef_rule_covers(r, o->family, o->addr))
			return false;
		/* only a rule naming the exact address opens a metadata address */
		return ef_addr_class(o->family, o->addr) != EF_AC_METADATA ||
		       r->prefixlen == (r->family == EF_FAM_V4 ? 32 : 128);
	}
}

static int compare(struct suggest *sg, const struct ef_policy *p, bool *used,
		   struct suggest_set *denied)
{
	for (size_t i = 0; i < sg->n_obs; i++) {
		struct obs *o = &sg->obs[i];
		const struct ef_rule *deny = NULL;
		bool allow = false;

		if (o->st != ST_KEEP && o->st != ST_LEFT)
			continue;
		for (size_t r = 0; r < p->n_rules; r++) {
			if (!rule_covers_obs(&p->rules[r], o))
				continue;
			if (p->rules[r].deny) {
				deny = deny ? deny : &p->rules[r];
			} else {
				allow = true;
				used[r] = true;
			}
		}
		if (deny && o->st == ST_KEEP) {
			char t[EF_HOSTNAME_MAX + 80], msg[EF_HOSTNAME_MAX + 600];
			int ret;

			obs_text(o, t, sizeof(t));
			snprintf(msg, sizeof(msg), "%s (deny rule \"%.500s\")", t, deny->text);
			ret = suggest_set_add(denied, msg, NULL);
			if (ret)
				return ret;
		}
		if (allow && !deny)
			o->st = ST_COVERED;
	}
	return 0;
}

/* ---- rules ------------------------------------------------------------ */

struct rule_out {
	char *text;
	char *key; /* names: rev_key; NULL for addresses */
	int cls;	 /* 0 name, 1 IPv4, 2 IPv6 */
	__u8 addr[16];
	__u8 proto;
};

struct rules {
	struct rule_out *v;
	size_t n, cap;
};

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
	if (o->name && !(r->key = rev_key(dest))) {
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

static int cmp_rule(const void *x, const void *y)
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

static int make_rules(struct suggest *sg, struct rules *rs, struct suggest_set *left)
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

			dest_text(v[i], t, sizeof(t));
			snprintf(msg, sizeof(msg),
				 "%s on %zu %s ports from %u to %u (too many for a tight rule: "
				 "a port scan?)",
				 t, np, proto_name(v[i]->proto), ports[0], ports[np - 1]);
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
		dest_text(d[i].o, t, sizeof(t));
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

/* ---- the whole ---------------------------------------------------------- */

static int classify(struct suggest *sg, size_t *n_loopback)
{
	struct suggest_set lo = { 0 };
	int ret = 0;

	for (size_t i = 0; !ret && i < sg->n_obs; i++) {
		struct obs *o = &sg->obs[i];
		enum ef_addr_cls c = o->has_addr ? ef_addr_class(o->family, o->addr) : EF_AC_PUBLIC;

		o->st = c == EF_AC_PUBLIC || (c == EF_AC_LOOPBACK && !o->name) ? ST_KEEP : ST_LEFT;
		if (c == EF_AC_LOOPBACK && !o->name)
			ret = suggest_set_add(&lo, o->dest, NULL);
	}
	*n_loopback = lo.n;
	suggest_set_free(&lo);
	return ret;
}

/* UDP connect()s to NAME:PORT of a job that made a TCP connect to NAME:PORT */
static int drop_sort_probes(struct suggest *sg, size_t *n_probes)
{
	struct suggest_set tcp = { 0 }, probes = { 0 };
	char *k = NULL;
	int ret = 0;

	for (size_t i = 0; !ret && i < sg->n_obs; i++) {
		const struct obs *o = &sg->obs[i];

		if (!o->name || o->send || o->proto != EF_PROTO_TCP)
			continue;
		if (asprintf(&k, "%s\n%s\n%u", o->job, o->dest, o->port) < 0)
			ret = -ENOMEM;
		else
			ret = suggest_set_add(&tcp, k, NULL);
		free(k);
	}
	for (size_t i = 0; !ret && i < sg->n_obs; i++) {
		struct obs *o = &sg->obs[i];

		if (!o->name || o->send || o->proto != EF_PROTO_UDP ||
		    (o->st != ST_KEEP && o->st != ST_LEFT))
			continue;
		if (asprintf(&k, "%s\n%s\n%u", o->job, o->dest, o->port) < 0) {
			ret = -ENOMEM;
			break;
		}
		if (suggest_set_has(&tcp, k)) {
			o->st = ST_PROBE;
			ret = suggest_set_add(&probes, k + strlen(o->job) + 1, NULL);
		}
		free(k);
	}
	*n_probes = probes.n;
	suggest_set_free(&tcp);
	suggest_set_free(&probes);
	return ret;
}

static int left_out(struct suggest *sg, struct suggest_set *left)
{
	for (size_t i = 0; i < sg->n_obs; i++) {
		const struct obs *o = &sg->obs[i];
		char t[EF_HOSTNAME_MAX + 80], msg[EF_HOSTNAME_MAX + 160];
		int ret;

		if (o->st != ST_LEFT)
			continue;
		obs_text(o, t, sizeof(t));
		snprintf(msg, sizeof(msg), "%s (%s)", t,
			 class_text(ef_addr_class(o->family, o->addr)));
		ret = suggest_set_add(left, msg, NULL);
		if (ret)
			return ret;
	}
	for (size_t i = 0; i < sg->bad.cap; i++) {
		int ret = sg->bad.slot[i] ? suggest_set_add(left, sg->bad.slot[i], NULL) : 0;

		if (ret)
			return ret;
	}
	return 0;
}

static int unconnected(struct suggest *sg, struct suggest_result *res)
{
	struct suggest_set conn = { 0 }, names = { 0 };
	int ret = 0;

	for (size_t k = 0; k < sg->n_obs && !ret; k++)
		if (sg->obs[k].name)
			ret = suggest_set_add(&conn, sg->obs[k].dest, NULL);
	for (size_t i = 0; i < sg->resolved.cap && !ret; i++) {
		const char *n = sg->resolved.slot[i];

		if (n && !suggest_set_has(&conn, n))
			ret = suggest_set_add(&names, n, NULL);
	}
	if (!ret)
		ret = set_take(&names, &res->unconnected, &res->n_unconnected);
	suggest_set_free(&conn);
	suggest_set_free(&names);
	return ret;
}

int suggest_rules(struct suggest *sg, const struct ef_policy *against, struct suggest_result *res)
{
	struct suggest_set left = { 0 }, denied = { 0 };
	struct rules rs = { 0 };
	bool *used = NULL;
	int ret;

	memset(res, 0, sizeof(*res));
	ret = classify(sg, &res->n_loopback);
	if (!ret)
		ret = drop_sort_probes(sg, &res->n_sort_probes);
	if (!ret && against) {
		used = calloc(against->n_rules + 1, sizeof(*used));
		ret = used ? compare(sg, against, used, &denied) : -ENOMEM;
	}
	if (!ret)
		ret = left_out(sg, &left);
	if (!ret)
		ret = make_rules(sg, &rs, &left);
	if (!ret)
		ret = unconnected(sg, res);
	if (ret)
		goto out;
	if (rs.n)
		qsort(rs.v, rs.n, sizeof(*rs.v), cmp_rule);
	res->allow = calloc(rs.n + 1, sizeof(*res->allow));
	if (!res->allow) {
		ret = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < rs.n; i++) {
		res->allow[i] = rs.v[i].text;
		rs.v[i].text = NULL;
	}
	res->n_allow = rs.n;
	if (against) {
		res->unused = calloc(against->n_rules + 1, sizeof(*res->unused));
		ret = res->unused ? 0 : -ENOMEM;
		for (size_t r = 0; !ret && r < against->n_rules; r++) {
			if (against->rules[r].deny || used[r])
				continue;
			res->unused[res->n_unused] = strdup(against->rules[r].text);
			if (!res->unused[res->n_unused++])
				ret = -ENOMEM;
		}
	}
	if (!ret)
		ret = set_take(&left, &res->left_out, &res->n_left_out);
	if (!ret)
		ret = set_take(&denied, &res->denied, &res->n_denied);
out:
	for (size_t i = 0; i < rs.n; i++) {
		free(rs.v[i].text);
		free(rs.v[i].key);
	}
	free(rs.v);
	suggest_set_free(&left);
	suggest_set_free(&denied);
	free(used);
	if (ret)
		suggest_result_free(res);
	return ret;
}

static void free_list(char **v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

void suggest_result_free(struct suggest_result *res)
{
	free_list(res->allow, res->n_allow);
	free_list(res->left_out, res->n_left_out);
	free_list(res->unconnected, res->n_unconnected);
	free_list(res->unused, res->n_unused);
	free_list(res->denied, res->n_denied);
	memset(res, 0, sizeof(*res));
}

int suggest_policy_text(const char *name, char *const *allow, size_t n, char **ret)
{
	size_t len = strlen(name) + 64;
	char *t, *p;

	for (size_t i = 0; i < n; i++)
		len += strlen(allow[i]) + 8;
	t = malloc(len);
	if (!t)
		return -ENOMEM;
	/* names, rules and the policy's name need no JSON escaping: the
	 * policy name is [a-z0-9._-], rules are built from checked parts */
	p = t + sprintf(t, "{\n  \"name\": \"%s\",\n  \"mode\": \"enforce\",\n  \"allow\": [",
			name);
	for (size_t i = 0; i < n; i++)
		p += sprintf(p, "%s\n    \"%s\"", i ? "," : "", allow[i]);
	sprintf(p, "%s]\n}\n", n ? "\n  " : "");
	*ret = t;
	return 0;
}
