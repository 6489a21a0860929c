// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Lint: rules that are valid but almost certainly not what was meant, so
 * an operator must confirm them (--force). Two families, see policy.h:
 * allow rules that open everything or nearly, and rules that can never
 * take effect (repeated, or shadowed by a deny rule). Audit mode allows
 * everything anyway, so it has nothing of those to confirm. Capabilities
 * granted a root job beyond the default set ("capabilities") are
 * confirmed in both modes.
 *
 * The shadow check asks the deny side of the rule index for the rules
 * containing each allow rule's destination: a handful of hash probes per
 * rule, so a policy of 100,000 allow rules and as many deny rules costs
 * the same per rule as one with three.
 */
#include <errno.h>
#include <libpsl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Deny rules containing one allow rule that are compared with it: many
 * deny rules over one destination differing only in ports are rare, and a
 * missed shadow is only a missed hint. */
#define LINT_SAME_DEST_MAX 256

#define V4_WIDEST 8
#define V6_WIDEST 16
/* Inbound peers are a handful of hosts (a CI controller, a test harness);
 * wider than a /24 (IPv4) or a /64 (IPv6) lets strangers in. */
#define IN_V4_WIDEST 24
#define IN_V6_WIDEST 64

static const psl_ctx_t *lint_psl;
static pthread_once_t lint_psl_once = PTHREAD_ONCE_INIT;

static void lint_psl_load(void)
{
	/* the system's list (package publicsuffix) if newer, else the built-in */
	lint_psl = psl_latest(NULL);
	if (!lint_psl)
		lint_psl = psl_builtin();
}

struct lint {
	const struct ef_policy *p;
	struct ef_rindex ix;
	ef_lint_fn fn;
	void *arg;
	int n;	   /* problems reported */
	bool stop; /* fn asked to stop */
	/* the shadow search, per allow rule */
	const struct ef_rule *allow;
	struct ef_port_spec canon[EF_MAX_PORT_SPECS];
	int n_canon;
	long shadow;
	int seen;
};

static const char *file_of(const struct ef_policy *p)
{
	return p->file ? p->file : "<policy>";
}


static void report(struct lint *l, const struct ef_rule *r, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void report(struct lint *l, const struct ef_rule *r, const char *fmt, ...)
{
	char msg[EF_ERR_LEN], line[EF_ERR_LEN];
	va_list ap;

	if (l->stop)
		return;
	va_start(ap, fmt);
	ef_vfmt(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ef_fmt(line, sizeof(line), "%s:%d:%d: %s", file_of(l->p), r->line, r->col, msg);
	l->n++;
	if (l->fn(l->arg, r, line))
		l->stop = true;
}

static void lint_cidr(struct lint *l, const struct ef_rule *r)
{
	unsigned int widest = r->family == EF_FAM_V4 ? V4_WIDEST : V6_WIDEST;
	const char *fam = r->family == EF_FAM_V4 ? "ipv4" : "ipv6";
	char q[160];

	if (r->prefixlen >= widest)
		return;
	if (r->prefixlen == 0)
		report(l, r, "\"%s\" opens every %s address; name the networks, or pass --force",
		       ef_rule_quote(r, q, sizeof(q)), fam);
	else
		report(l, r,
		       "\"%s\" opens 1/%llu of all %s addresses (a /%u, wider than /%u); name the networks, or pass --force",
		       ef_rule_quote(r, q, sizeof(q)), 1ull << r->prefixlen, fam, r->prefixlen, widest);
}

static void lint_wildcard(struct lint *l, const struct ef_rule *r)
{
	char q[160], n[80];

	pthread_once(&lint_psl_once, lint_psl_load);
	ef_msg_quote(n, sizeof(n), r->name, SIZE_MAX);
	if (lint_psl &&
	    psl_is_public_suffix2(lint_psl, r->name, PSL_TYPE_ICANN | PSL_TYPE_NO_STAR_RULE))
		report(l, r,
		       "\"%s\" opens every name under the public suffix \"%s\"; name the hosts, or pass --force",
		       ef_rule_quote(r, q, sizeof(q)), n);
	else if (!strchr(r->name, '.'))
		report(l, r,
		       "\"%s\" opens every name under the single label \"%s\"; name the hosts, or pass --force",
		       ef_rule_quote(r, q, sizeof(q)), n);
}

/* One deny rule containing the allow rule's destination: does it take
 * all its ports and protocols? */
static int shadow_fn(void *arg, __u32 rule)
{
	struct lint *l = arg;
	const struct ef_rule *d = &l->p->rules[rule];
	struct ef_port_spec canon[EF_MAX_PORT_SPECS];
	int n;

	if (++l->seen > LINT_SAME_DEST_MAX)
		return 1;
	if (l->allow->protos & ~d->protos)
		return 0;
	n = ef_rule_canon_ports(d, canon);
	if (!ef_ports_inside(l->canon, (size_t)l->n_canon, canon, (size_t)n))
		return 0;
	l->shadow = rule;
	return 1;
}

/* The same destination, protocols and ports, whatever the lists. */
static bool same_meaning(const struct ef_rule *a, const struct ef_rule *b)
{
	struct ef_rule t = *b;

	t.deny = a->deny;
	return ef_rule_same(a, &t);
}

static void lint_shadow(struct lint *l, const struct ef_rule *r)
{
	const struct ef_rule *d;
	struct ef_dkey k;
	char q[160], qd[160];

	ef_dkey_of(r, &k);
	k.deny = true;
	l->allow = r;
	l->n_canon = ef_rule_canon_ports(r, l->canon);
	l->shadow = -1;
	l->seen = 0;
	ef_rindex_covering(&l->ix, &k, false, shadow_fn, l);
	if (l->shadow < 0)
		return;
	d = &l->p->rules[l->shadow];
	ef_rule_quote(r, q, sizeof(q));
	ef_rule_quote(d, qd, sizeof(qd));
	if (same_meaning(r, d))
		report(l, r,
		       "allow \"%s\" is also denied (\"%s\" at %d:%d), so it never takes effect; remove one, or pass --force",
		       q, qd, d->line, d->col);
	else
		report(l, r,
		       "allow \"%s\" never takes effect: deny \"%s\" at %d:%d covers it; remove one, or pass --force",
		       q, qd, d->line, d->col);
}

/* A rule of the same list with the same meaning, earlier in the file:
 * ef_rindex_same() finds the first one. */
static void lint_repeat(struct lint *l, size_t i)
{
	const struct ef_rule *r = &l->p->rules[i], *o;
	long first = ef_rindex_same(&l->ix, r);
	char q[160], qo[160];

	if (first < 0 || (size_t)first == i)
		return;
	o = &l->p->rules[first];
	report(l, r, "\"%s\" repeats \"%s\" at %d:%d; remove one, or pass --force",
	       ef_rule_quote(r, q, sizeof(q)), ef_rule_quote(o, qo, sizeof(qo)), o->line, o->col);
}

static void lint_inbound(struct lint *l, const struct ef_rule *r)
{
	unsigned int widest = r->family == EF_FAM_V4 ? IN_V4_WIDEST : IN_V6_WIDEST;
	char q[160];

	if (r->kind != EF_DEST_CIDR || r->prefixlen >= widest)
		return;
	report(l, r,
	       "inbound \"%s\" lets %s connect to the job's listeners (a /%u, wider than /%u); name the peers, or pass --force",
	       ef_rule_quote(r, q, sizeof(q)),
	       r->prefixlen == 0 ? (r->family == EF_FAM_V4 ? "every ipv4 address" :
							     "every ipv6 address") :
				   "a whole network",
	       r->prefixlen, widest);
}

/* "loopback": true reaches every local listener: a proxy, a cache or a
 * published container port then relays the job's data anywhere (each
 * connection is recorded, but not stopped). */
static void lint_loopback(struct lint *l)
{
	struct ef_rule at = { .line = l->p->loopback_line, .col = l->p->loopback_col };

	if (l->p->loopback != EF_LOOPBACK_ANY)
		return;
	report(l, &at,
	       "\"loopback\": true lets the job reach every local listener, and through a relay anywhere; use \"own\" with rules naming the listeners it needs (e.g. \"127.0.0.1:5432\"), or pass --force");
}

/* Each capability granted beyond the default set, with what it lets a
 * root job do on the runner. In audit mode too: capabilities are kept or
 * dropped the same in both modes. */
static void lint_caps(struct lint *l)
{
	struct ef_rule at = { .line = l->p->caps_line, .col = l->p->caps_col };
	__u64 extra = l->p->caps & ~ef_caps_default();

	for (int cap = 0; cap < 64 && !l->stop; cap++) {
		const struct ef_cap_info *ci = ef_cap_by_number(cap);

		if (!((extra >> cap) & 1) || !ci)
			continue;
		report(l, &at, "\"capabilities\": CAP_%s lets a root job %s; or pass --force",
		       ci->name, ci->grant ? ci->grant : "reach outside the job");
	}
}

/* "host_writes": true takes a root job's copy-on-write layer away: what
 * it leaves in /etc, /usr or /var runs outside the fence later. */
static void lint_host_writes(struct lint *l)
{
	struct ef_rule at = { .line = l->p->host_writes_line, .col = l->p->host_writes_col };

	if (!(l->p->flags & EF_PF_HOST_WRITES) || l->stop)
		return;
	report(l, &at,
	       "\"host_writes\": true lets a root job leave files in the host's system directories that run outside the fence later (a cron file, a unit, a replaced binary); or pass --force");
}

int ef_policy_lint_each(const struct ef_policy *p, ef_lint_fn fn, void *arg)
{
	struct lint l = { .p = p, .fn = fn, .arg = arg };
	size_t i;

	lint_caps(&l);
	lint_host_writes(&l);
	if (p->mode == EF_MODE_AUDIT || l.stop)
		return l.n;
	if (ef_rindex_build(&l.ix, p))
		return -ENOMEM;
	lint_loopback(&l);
	for (i = 0; i < p->n_rules && !l.stop; i++) {
		const struct ef_rule *r = &p->rules[i];

		if (!ef_rule_usable(r))
			continue;
		if (!r->deny && r->kind == EF_DEST_CIDR)
			lint_cidr(&l, r);
		if (!r->deny && r->kind == EF_DEST_WILDCARD)
			lint_wildcard(&l, r);
		lint_repeat(&l, i);
		if (!r->deny && r->protos && r->n_ports)
			lint_shadow(&l, r);
	}
	for (i = 0; i < p->n_inbound && !l.stop; i++)
		lint_inbound(&l, &p->inbound[i]);
	ef_rindex_free(&l.ix);
	return l.n;
}

struct first {
	char *err;
	size_t errlen;
};

static int first_fn(void *arg, const struct ef_rule *r, const char *msg)
{
	struct first *f = arg;

	ef_fmt(f->err, f->errlen, "%s", msg);
	return 1;
}

int ef_policy_lint(const struct ef_policy *p, char *err, size_t errlen)
{
	struct first f = { .err = err, .errlen = errlen };
	int n;

	if (err && errlen)
		err[0] = '\0';
	n = ef_policy_lint_each(p, first_fn, &f);
	if (n < 0)
		return n;
	return n ? -EINVAL : 0;
}

struct all {
	unsigned int max, n;
	char *out;
	size_t outlen, used;
};

static int all_fn(void *arg, const struct ef_rule *r, const char *msg)
{
	struct all *a = arg;

	if (a->out && a->used + 1 < a->outlen) {
		ef_fmt(a->out + a->used, a->outlen - a->used, "%s%s", a->n ? "\n" : "", msg);
		a->used += strlen(a->out + a->used);
	}
	return ++a->n >= a->max;
}

int ef_policy_lint_all(const struct ef_policy *p, unsigned int max, char *out, size_t outlen)
{
	struct all a = { .max = max, .out = out, .outlen = outlen };

	if (out && outlen)
		out[0] = '\0';
	if (!max)
		return 0;
	return ef_policy_lint_each(p, all_fn, &a);
}
