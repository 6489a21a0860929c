// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Is policy a no weaker than policy b: does a allow nothing b denies?
 *
 * What a policy lets through is its allow rules minus its deny rules. So a
 * is within b if (1) every allow rule of a is within b's allow rules, and
 * (2) every deny rule of b takes away from a at least what it takes from
 * b: it lies within a's deny rules, or a allows nothing it denies. Both are
 * sufficient, not necessary; a "no" only means "not proven" (policy.h).
 *
 * Names and addresses meet in one place: a name rule opens the addresses
 * the job's lookups of it return, whatever they are, and address deny
 * rules are judged before them (bpf/lib/dest.bpf.h). So an address deny of
 * b is taken away from a name allow of a only by a deny of a, and an
 * address allow of a is never proven by a name rule of b.
 *
 * Each question is a few probes of the other policy's rule index; the
 * walks over many rules (one destination with many rules, a wide deny
 * with many allows inside) share one budget, past which the answer is 0.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define WEAKER_BUDGET (16u << 20)

struct cmp {
	const struct ef_policy *a, *b;
	struct ef_rindex ia, ib;
	char *why;
	size_t whylen;
	unsigned long work;
	bool over; /* the budget ran out */
	bool oom;
	/* the union of the ports of the rules found in `gix`, [0] TCP, [1] UDP */
	const struct ef_rindex *gix;
	struct ef_port_spec *u[2];
	size_t n_u[2], cap_u[2];
	size_t n_found;
	/* the ranges of the name rules found, [0] allow, [1] deny (dns_answers()) */
	struct range {
		__u16 lo, hi;
		__u8 protos;
	} *rr[2];
	size_t n_rr[2], cap_rr[2];
	/* the overlap search */
	const struct ef_rule *deny;
	struct ef_port_spec canon[EF_MAX_PORT_SPECS];
	size_t n_canon;
	long hit;
};

static const char *pname(const struct ef_policy *p)
{
	if (p->name[0])
		return p->name;
	return p->file ? p->file : "<policy>";
}


static bool spend(struct cmp *c)
{
	if (++c->work > WEAKER_BUDGET)
		c->over = true;
	return c->over;
}

static int grow(struct cmp *c, int b, size_t more)
{
	size_t cap = c->cap_u[b] ? c->cap_u[b] : 64;
	struct ef_port_spec *n;

	if (c->n_u[b] + more <= c->cap_u[b])
		return 0;
	while (cap < c->n_u[b] + more)
		cap *= 2;
	n = realloc(c->u[b], cap * sizeof(*n));
	if (!n) {
		c->oom = true;
		return -ENOMEM;
	}
	c->u[b] = n;
	c->cap_u[b] = cap;
	return 0;
}

/* Add a rule's ports to the union of the protocols it has. */
static int gather_fn(void *arg, __u32 rule)
{
	struct cmp *c = arg;
	const struct ef_rule *r = &c->gix->p->rules[rule];
	struct ef_port_spec canon[EF_MAX_PORT_SPECS];
	int n = ef_rule_canon_ports(r, canon), b;

	if (spend(c))
		return 1;
	c->n_found++;
	for (b = 0; b < 2; b++) {
		if (!(r->protos & (1u << b)))
			continue;
		if (grow(c, b, (size_t)n))
			return 1;
		memcpy(c->u[b] + c->n_u[b], canon, (size_t)n * sizeof(*canon));
		c->n_u[b] += (size_t)n;
	}
	return 0;
}

/*
 * r (of a's allow list, or of b's deny list) lies within the rules of
 * `ix`'s list of the same kind whose destination contains r's, taken
 * together. 1 yes, 0 no, -1 budget or memory.
 */
static int within(struct cmp *c, const struct ef_rindex *ix, const struct ef_rule *r,
		  bool meta_exact)
{
	struct ef_port_spec canon[EF_MAX_PORT_SPECS];
	struct ef_dkey k;
	int n, b;

	c->n_u[0] = c->n_u[1] = 0;
	c->n_found = 0;
	c->gix = ix;
	ef_dkey_of(r, &k);
	ef_rindex_covering(ix, &k, meta_exact, gather_fn, c);
	if (c->over || c->oom)
		return -1;
	/* even a rule without ports covers its addresses for the rebinding check */
	if (!c->n_found)
		return 0;
	n = ef_rule_canon_ports(r, canon);
	for (b = 0; b < 2; b++) {
		if (!(r->protos & (1u << b)))
			continue;
		c->n_u[b] = ef_ports_merge(c->u[b], c->n_u[b]);
		if (!ef_ports_inside(canon, (size_t)n, c->u[b], c->n_u[b]))
			return 0;
	}
	return 1;
}

static int fail(struct cmp *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(struct cmp *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ef_vfmt(c->why, c->whylen, fmt, ap);
	va_end(ap);
	return 0;
}

static int too_much(struct cmp *c)
{
	if (c->oom)
		return -ENOMEM;
	return fail(c, "too many overlapping rules to compare with policy %s", pname(c->b));
}

/* The CIDR rule lies inside loopback (127.0.0.0/8, ::1). */
static bool inside_loopback(const struct ef_rule *r)
{
	static const __u8 one[16] = { [15] = 1 };

	if (r->kind != EF_DEST_CIDR)
		return false;
	if (r->family == EF_FAM_V4)
		return r->prefixlen >= 8 && r->addr[0] == 127;
	return r->family == EF_FAM_V6 && r->prefixlen == 128 && !memcmp(r->addr, one, 16);
}

/* The CIDR rule shares an address with loopback. */
static bool meets_loopback(const struct ef_rule *r)
{
	static const __u8 one[16] = { [15] = 1 };
	__u8 a[16];

	if (r->kind != EF_DEST_CIDR)
		return false;
	if (r->family == EF_FAM_V4)
		return r->prefixlen < 8 ? ((r->addr[0] ^ 127) >> (8 - r->prefixlen)) == 0 :
					  r->addr[0] == 127;
	memcpy(a, one, 16);
	ef_addr_mask(a, r->prefixlen);
	return r->family == EF_FAM_V6 && !memcmp(a, r->addr, 16);
}

/* An allow rule of a, against b's allow rules. */
static int allow_ok(struct cmp *c, const struct ef_rule *r)
{
	char q[160];
	int ret;

	if (ef_rindex_same(&c->ib, r) >= 0)
		return 1;
	/* b ("loopback": true) reaches every local listener its deny rules
	 * leave; those are checked against a by deny_ok() */
	if (c->b->loopback == EF_LOOPBACK_ANY && inside_loopback(r))
		return 1;
	ret = ef_rule_usable(r) ? within(c, &c->ib, r, true) : 0;
	if (ret < 0)
		return too_much(c);
	if (!ret)
		return fail(c, "\"%s\" is not allowed by policy %s", ef_rule_quote(r, q, sizeof(q)),
			    pname(c->b));
	return 1;
}

/* An allow rule of a that shares a port and a protocol with c->deny. */
static int meet_fn(void *arg, __u32 rule)
{
	struct cmp *c = arg;
	const struct ef_rule *r = &c->a->rules[rule];
	struct ef_port_spec canon[EF_MAX_PORT_SPECS];
	int n;

	if (spend(c))
		return 1;
	if (!(r->protos & c->deny->protos & EF_PROTO_ANY))
		return 0;
	n = ef_rule_canon_ports(r, canon);
	if (!ef_ports_meet(canon, (size_t)n, c->canon, c->n_canon))
		return 0;
	c->hit = rule;
	return 1;
}

/* a's allow name rules may resolve into the address deny d. */
static bool names_meet(const struct cmp *c, const struct ef_rule *d)
{
	int b;

	for (b = 0; b < 2; b++)
		if ((d->protos & (1u << b)) &&
		    ef_ports_meet(c->ia.name_ports[b], c->ia.n_name_ports[b], c->canon, c->n_canon))
			return true;
	return false;
}

/* The first allow name rule of a with a port and protocol of d. */
static long first_name_meeting(const struct cmp *c, const struct ef_rule *d)
{
	struct ef_port_spec canon[EF_MAX_PORT_SPECS];
	size_t i;

	for (i = 0; i < c->a->n_rules; i++) {
		const struct ef_rule *r = &c->a->rules[i];
		int n;

		if (r->deny || r->kind == EF_DEST_CIDR || !ef_rule_usable(r) ||
		    !(r->protos & d->protos & EF_PROTO_ANY))
			continue;
		n = ef_rule_canon_ports(r, canon);
		if (ef_ports_meet(canon, (size_t)n, c->canon, c->n_canon))
			return (long)i;
	}
	return -1;
}

/* A deny rule of b, against a's deny and allow rules. */
static int deny_ok(struct cmp *c, const struct ef_rule *d)
{
	char q[160], qa[160];
	struct ef_dkey k;
	bool meta;
	int ret;

	if (ef_rindex_same(&c->ia, d) >= 0)
		return 1;
	if (!(d->protos & EF_PROTO_ANY) || !d->n_ports)
		return 1; /* denies nothing */
	if (!ef_rule_usable(d))
		return fail(c, "policy %s denies \"%s\", which policy %s does not",
			    pname(c->b), ef_rule_quote(d, q, sizeof(q)), pname(c->a));
	ret = within(c, &c->ia, d, false);
	if (ret < 0)
		return too_much(c);
	if (ret)
		return 1;
	/* "loopback": true opens what the rule denies on loopback, unless a
	 * denies it too (deny rules still judge loopback then) */
	if (c->a->loopback == EF_LOOPBACK_ANY && meets_loopback(d))
		return fail(c, "policy %s denies \"%s\" on loopback, which \"loopback\": true of policy %s allows",
			    pname(c->b), ef_rule_quote(d, q, sizeof(q)), pname(c->a));
	/* not denied by a: a must allow none of it */
	ef_dkey_of(d, &k);
	meta = ef_dkey_is_meta(&k);
	c->deny = d;
	c->n_canon = (size_t)ef_rule_canon_ports(d, c->canon);
	c->hit = -1;
	ef_rindex_overlapping(&c->ia, &k, true, meet_fn, c);
	if (c->over)
		return too_much(c);
	if (c->hit >= 0)
		return fail(c, "policy %s denies \"%s\", which \"%s\" allows", pname(c->b),
			    ef_rule_quote(d, q, sizeof(q)), ef_rule_quote(&c->a->rules[c->hit], qa, sizeof(qa)));
	/* learned addresses: never the metadata ones (their entry decides) */
	if (d->kind == EF_DEST_CIDR && !meta && names_meet(c, d)) {
		long i = first_name_meeting(c, d);

		return fail(c,
			    "policy %s denies \"%s\", which names allowed by \"%s\" may resolve to",
			    pname(c->b), ef_rule_quote(d, q, sizeof(q)),
			    i >= 0 ? ef_rule_quote(&c->a->rules[i], qa, sizeof(qa)) : "?");
	}
	return 1;
}

/* ---- the DNS proxy's answer ---- */

static int range_fn(void *arg, __u32 rule)
{
	struct cmp *c = arg;
	const struct ef_rule *r = &c->gix->p->rules[rule];
	struct ef_port_spec canon[EF_MAX_PORT_SPECS];
	int n = ef_rule_canon_ports(r, canon), k, d = r->deny;

	if (spend(c))
		return 1;
	if (!(r->protos & EF_PROTO_ANY))
		return 0; /* no range of it is ever kept */
	if (c->n_rr[d] + (size_t)n > c->cap_rr[d]) {
		size_t cap = c->cap_rr[d] ? 2 * c->cap_rr[d] : 64;
		struct range *nr;

		while (cap < c->n_rr[d] + (size_t)n)
			cap *= 2;
		nr = realloc(c->rr[d], cap * sizeof(*nr));
		if (!nr) {
			c->oom = true;
			return 1;
		}
		c->rr[d] = nr;
		c->cap_rr[d] = cap;
	}
	for (k = 0; k < n; k++) {
		struct range *x = &c->rr[d][c->n_rr[d]++];

		x->lo = canon[k].lo;
		x->hi = canon[k].hi;
		x->protos = r->protos & EF_PROTO_ANY;
	}
	return 0;
}

/*
 * Whether the DNS proxy of ix->p answers name q[0..len): ef_name_judge()
 * says yes when an allow range is left in the name's entry, and names.c
 * drops an allow range that one deny range of the entry holds whole (not
 * one that several hold together). So: 1 if some allow range of the rules
 * covering q is inside no single deny range of them, 0 if not, -1 when
 * the budget or memory ran out.
 */
static int dns_answers(struct cmp *c, const struct ef_rindex *ix, const char *q, size_t len)
{
	struct ef_dkey k = { .kind = EF_DEST_NAME, .name = q, .name_len = len };
	size_t i, j;

	c->n_rr[0] = c->n_rr[1] = 0;
	c->gix = ix;
	ef_rindex_covering(ix, &k, false, range_fn, c);
	k.deny = true;
	ef_rindex_covering(ix, &k, false, range_fn, c);
	for (i = 0; i < c->n_rr[0] && !c->over && !c->oom; i++) {
		const struct range *a = &c->rr[0][i];
		bool held = false;

		for (j = 0; j < c->n_rr[1] && !held; j++) {
			const struct range *d = &c->rr[1][j];

			held = d->lo <= a->lo && a->hi <= d->hi && !(a->protos & ~d->protos);
			if (spend(c))
				break;
		}
		if (!held && !c->over)
			return 1;
	}
	return c->over || c->oom ? -1 : 0;
}

static int found_fn(void *arg, __u32 rule)
{
	return 1;
}

/* Some rule of either policy names exactly q. */
static bool named(const struct cmp *c, const char *q, size_t len)
{
	struct ef_dkey k = { .kind = EF_DEST_NAME, .name = q, .name_len = len };
	int d;

	for (d = 0; d < 2; d++) {
		k.deny = d;
		if (ef_rindex_exact(&c->ia, &k, found_fn, NULL) ||
		    ef_rindex_exact(&c->ib, &k, found_fn, NULL))
			return true;
	}
	return false;
}

/* Every name rule of p has one of the same meaning in the other index. */
static bool names_in(const struct ef_policy *p, const struct ef_rindex *other)
{
	size_t i;

	for (i = 0; i < p->n_rules; i++)
		if (p->rules[i].kind != EF_DEST_CIDR && ef_rindex_same(other, &p->rules[i]) < 0)
			return false;
	return true;
}

/* The names of rule r (of a or b), one of each kind a query can meet: the
 * name itself, or one name just below a wildcard that no rule names. */
static int dns_rule_ok(struct cmp *c, const struct ef_rule *r)
{
	static const char labels[] = "0123456789abcdefghijklmnopqrstuvwxyz";
	char q[EF_HOSTNAME_MAX + 1], n[EF_HOSTNAME_MAX + 8];
	size_t len = strlen(r->name), i;
	int ret;

	if (r->kind == EF_DEST_NAME) {
		memcpy(q, r->name, len + 1);
	} else {
		if (len + 2 > EF_HOSTNAME_MAX)
			return 1; /* no name is below it */
		for (i = 0; i < sizeof(labels) - 1; i++) {
			q[0] = labels[i];
			q[1] = '.';
			memcpy(q + 2, r->name, len + 1);
			if (!named(c, q, len + 2))
				break;
		}
		if (i == sizeof(labels) - 1)
			return fail(c, "too many names below \"*.%s\" to compare with policy %s",
				    r->name, pname(c->b));
		len += 2;
	}
	ret = dns_answers(c, &c->ia, q, len);
	if (ret == 1)
		ret = dns_answers(c, &c->ib, q, len) ? 1 : 2;
	if (ret < 0 || c->over)
		return too_much(c);
	if (ret != 2)
		return 1;
	ef_msg_quote(n, sizeof(n), r->name, SIZE_MAX);
	if (r->kind == EF_DEST_NAME)
		return fail(c, "DNS name \"%s\" is answered; policy %s refuses it", n, pname(c->b));
	return fail(c, "DNS names below \"*.%s\" are answered; policy %s refuses them", n,
		    pname(c->b));
}

/*
 * Every name a's DNS proxy answers, b's answers too. The answer for a query
 * depends only on the exact name rule for it, if any, and on the wildcards
 * over it, so one query per name rule of either policy meets every case.
 * Policies with the same name rules answer alike: nothing to do.
 */
static int dns_ok(struct cmp *c)
{
	const struct ef_policy *pp[2] = { c->a, c->b };
	size_t i, k;
	int ret = 1;

	if (names_in(c->a, &c->ib) && names_in(c->b, &c->ia))
		return 1;
	for (k = 0; k < 2 && ret == 1; k++)
		for (i = 0; i < pp[k]->n_rules && ret == 1; i++)
			if (pp[k]->rules[i].kind != EF_DEST_CIDR &&
			    ef_rule_usable(&pp[k]->rules[i]))
				ret = dns_rule_ok(c, &pp[k]->rules[i]);
	return ret;
}

static int upstream_key(const char *s, __u8 key[19])
{
	__u16 port;

	memset(key, 0, 19);
	if (ef_upstream_parse(s, &key[0], key + 1, &port))
		return -EINVAL;
	key[17] = (__u8)(port >> 8);
	key[18] = (__u8)port;
	return 0;
}

/* a's dns.upstream within b's. */
static int upstream_ok(struct cmp *c)
{
	const struct ef_policy *a = c->a, *b = c->b;
	char q[80];
	size_t i, j;

	if (!a->n_dns_upstream && !b->n_dns_upstream)
		return 1;
	if (!a->n_dns_upstream)
		return fail(c, "dns.upstream is the default resolver; policy %s names its own",
			    pname(b));
	for (i = 0; i < a->n_dns_upstream; i++) {
		__u8 ka[19], kb[19];
		bool ok_a = !upstream_key(a->dns_upstream[i], ka), found = false;

		for (j = 0; j < b->n_dns_upstream && !found; j++) {
			if (ok_a && !upstream_key(b->dns_upstream[j], kb))
				found = !memcmp(ka, kb, sizeof(ka));
			else
				found = !strcmp(a->dns_upstream[i], b->dns_upstream[j]);
		}
		if (!found) {
			ef_msg_quote(q, sizeof(q), a->dns_upstream[i], SIZE_MAX);
			return fail(c, "dns.upstream \"%s\" is not %s of policy %s", q,
				    b->n_dns_upstream ? "an upstream" : "the default resolver",
				    pname(b));
		}
	}
	return 1;
}

static const struct {
	__u32 flag;
	const char *name;
} sock_flags[] = {
	{ EF_PF_RAW, "sockets.raw" },
	{ EF_PF_PACKET, "sockets.packet" },
	{ EF_PF_ICMP, "sockets.icmp" },
	{ EF_PF_OTHER_PROTO, "sockets.other_protocols" },
	{ EF_PF_MULTICAST, "sockets.multicast" },
};

static int settings_ok(struct cmp *c)
{
	const struct ef_policy *a = c->a, *b = c->b;
	__u32 extra = (a->flags & ~b->flags) &
		      ~(__u32)(EF_PF_LOOPBACK | EF_PF_LOOPBACK_OWN | EF_PF_NO_TRACE |
			       EF_PF_HOST_WRITES | EF_PF_DOCKER);
	__u64 fam = a->families & ~b->families;
	size_t i;

	if (a->mode == EF_MODE_AUDIT)
		return fail(c, "mode audit lets through what policy %s (enforce) denies",
			    pname(b));
	for (i = 0; i < 64; i++) {
		const struct ef_cap_info *ci = ef_cap_by_number((int)i);

		if (((a->caps & ~ef_policy_caps(b)) >> i) & 1)
			return fail(c, "\"capabilities\": CAP_%s is not granted by policy %s",
				    ci ? ci->name : "?", pname(b));
	}
	if (ef_loopback_rank(a->loopback) > ef_loopback_rank(b->loopback))
		return fail(c, "\"loopback\": %s %s; policy %s has %s",
			    ef_loopback_name(a->loopback),
			    a->loopback == EF_LOOPBACK_ANY ? "reaches every local listener" :
							     "reaches the job's own listeners",
			    pname(b), ef_loopback_name(b->loopback));
	if ((b->flags & EF_PF_NO_TRACE) && !(a->flags & EF_PF_NO_TRACE))
		return fail(c, "\"tracing\" is on; policy %s turns it off", pname(b));
	if ((a->flags & EF_PF_HOST_WRITES) && !(b->flags & EF_PF_HOST_WRITES))
		return fail(c, "\"host_writes\": true lets a root job change the host's system "
			    "directories; policy %s keeps them private", pname(b));
	if ((a->flags & EF_PF_DOCKER) && !(b->flags & EF_PF_DOCKER))
		return fail(c, "\"docker\" gives the job a Docker endpoint; policy %s keeps the "
			    "host's dockerd out of reach", pname(b));
	for (i = 0; i < a->n_docker_binds; i++) {
		size_t j;

		for (j = 0; j < b->n_docker_binds; j++) {
			size_t n = strlen(b->docker_binds[j]);

			if (!strncmp(a->docker_binds[i], b->docker_binds[j], n) &&
			    (a->docker_binds[i][n] == '\0' || a->docker_binds[i][n] == '/'))
				break;
		}
		if (j == b->n_docker_binds)
			return fail(c, "\"docker.binds\": %s is not within the binds of policy %s",
				    a->docker_binds[i], pname(b));
	}
	for (i = 0; i < sizeof(sock_flags) / sizeof(sock_flags[0]); i++)
		if (extra & sock_flags[i].flag)
			return fail(c, "\"%s\": true is not allowed by policy %s",
				    sock_flags[i].name, pname(b));
	if (extra)
		return fail(c, "socket flags 0x%x are not allowed by policy %s", extra, pname(b));
	for (i = 0; i < 64; i++) {
		const char *n = ef_af_name((long long)i);

		if (!(fam & (1ull << i)))
			continue;
		if (n)
			return fail(c, "address family \"%s\" is not allowed by policy %s", n,
				    pname(b));
		return fail(c, "address family %zu is not allowed by policy %s", i, pname(b));
	}
	return upstream_ok(c);
}

/* Every inbound rule of a is one of b's, or lies within b's inbound rules
 * containing its peers, taken together (inbound has no deny rules). */
static int inbound_ok(struct cmp *c)
{
	struct ef_policy bi = *c->b;
	struct ef_rindex ix;
	char q[160];
	size_t i;
	int ret = 1;

	if (!c->a->n_inbound)
		return 1;
	bi.rules = c->b->inbound;
	bi.n_rules = c->b->n_inbound;
	if (ef_rindex_build(&ix, &bi))
		return -ENOMEM;
	for (i = 0; i < c->a->n_inbound && ret == 1; i++) {
		const struct ef_rule *r = &c->a->inbound[i];

		if (ef_rindex_same(&ix, r) >= 0)
			continue;
		ret = ef_rule_usable(r) ? within(c, &ix, r, false) : 0;
		if (ret < 0)
			ret = too_much(c);
		else if (!ret)
			ret = fail(c, "inbound \"%s\" is not allowed by policy %s",
				   ef_rule_quote(r, q, sizeof(q)), pname(c->b));
	}
	ef_rindex_free(&ix);
	return ret;
}

int ef_policy_no_weaker(const struct ef_policy *a, const struct ef_policy *b, char *why,
			size_t whylen)
{
	struct cmp c = { .a = a, .b = b, .why = why, .whylen = whylen };
	size_t i;
	int ret;

	if (why && whylen)
		why[0] = '\0';
	/* audit mode denies nothing: everything is within it */
	if (b->mode == EF_MODE_AUDIT)
		return 1;
	ret = settings_ok(&c);
	if (ret != 1)
		return ret;
	if (ef_rindex_build(&c.ia, a) || ef_rindex_build(&c.ib, b)) {
		ret = -ENOMEM;
		goto out;
	}
	for (i = 0; i < a->n_rules && ret == 1; i++)
		if (!a->rules[i].deny)
			ret = allow_ok(&c, &a->rules[i]);
	for (i = 0; i < b->n_rules && ret == 1; i++)
		if (b->rules[i].deny)
			ret = deny_ok(&c, &b->rules[i]);
	if (ret == 1)
		ret = dns_ok(&c);
	if (ret == 1)
		ret = inbound_ok(&c);
out:
	if (ret == -ENOMEM)
		ef_fmt(why, whylen, "out of memory");
	ef_rindex_free(&c.ia);
	ef_rindex_free(&c.ib);
	free(c.u[0]);
	free(c.u[1]);
	free(c.rr[0]);
	free(c.rr[1]);
	return ret;
}
