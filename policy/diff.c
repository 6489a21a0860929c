// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * What changed between two versions of a policy, for `egressctl policy
 * diff` and the egress.policy span: rules by meaning (a rule respelled is
 * not a change), settings as "what: old -> new".
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

struct dctx {
	struct ef_policy_change *out;
	size_t cap_rules, cap_settings;
	bool oom;
};

static void add_rule(struct dctx *d, const struct ef_rule *r, bool added, bool inbound)
{
	struct ef_policy_change *c = d->out;
	struct ef_rule_change *rc;
	char dest[EF_HOSTNAME_MAX + 8];

	if (d->oom)
		return;
	if (c->n_rules == d->cap_rules) {
		size_t cap = d->cap_rules ? 2 * d->cap_rules : 16;
		struct ef_rule_change *n = realloc(c->rules, cap * sizeof(*n));

		if (!n) {
			d->oom = true;
			return;
		}
		c->rules = n;
		d->cap_rules = cap;
	}
	rc = &c->rules[c->n_rules];
	memset(rc, 0, sizeof(*rc));
	if (!r->text && ef_rule_usable(r))
		ef_rule_dest_str(r, dest, sizeof(dest));
	else
		ef_fmt(dest, sizeof(dest), "?");
	rc->text = strdup(r->text ? r->text : dest);
	if (!rc->text) {
		d->oom = true;
		return;
	}
	rc->deny = r->deny;
	rc->inbound = inbound;
	rc->added = added;
	rc->line = r->line;
	rc->col = r->col;
	c->n_rules++;
}

static void setting(struct dctx *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void setting(struct dctx *d, const char *fmt, ...)
{
	struct ef_policy_change *c = d->out;
	va_list ap;
	char *s;
	int n;

	if (d->oom)
		return;
	if (c->n_settings == d->cap_settings) {
		size_t cap = d->cap_settings ? 2 * d->cap_settings : 8;
		char **ns = realloc(c->settings, cap * sizeof(*ns));

		if (!ns) {
			d->oom = true;
			return;
		}
		c->settings = ns;
		d->cap_settings = cap;
	}
	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0) {
		d->oom = true;
		return;
	}
	c->settings[c->n_settings++] = s;
}

/* Rules of `from` with no rule of the same meaning in `other`. */
static int rules_only_in_list(struct dctx *d, const struct ef_policy *from,
			      const struct ef_policy *other, bool added, bool inbound)
{
	struct ef_rindex ix;
	size_t i;

	if (ef_rindex_build(&ix, other))
		return -ENOMEM;
	for (i = 0; i < from->n_rules && !d->oom; i++)
		if (ef_rindex_same(&ix, &from->rules[i]) < 0)
			add_rule(d, &from->rules[i], added, inbound);
	ef_rindex_free(&ix);
	return d->oom ? -ENOMEM : 0;
}

/* Outbound rules, then inbound ones: the inbound list compared as a
 * policy of its own (shallow copies whose rules are the inbound ones). */
static int rules_only_in(struct dctx *d, const struct ef_policy *from,
			 const struct ef_policy *other, bool added)
{
	struct ef_policy fi = *from, oi = *other;
	int ret = rules_only_in_list(d, from, other, added, false);

	if (ret)
		return ret;
	fi.rules = from->inbound;
	fi.n_rules = from->n_inbound;
	oi.rules = other->inbound;
	oi.n_rules = other->n_inbound;
	return rules_only_in_list(d, &fi, &oi, added, true);
}

static const char *onoff(bool b)
{
	return b ? "true" : "false";
}

static void flag_change(struct dctx *d, const struct ef_policy *o, const struct ef_policy *n,
			__u32 flag, const char *what)
{
	bool a = o->flags & flag, b = n->flags & flag;

	if (a != b)
		setting(d, "%s: %s -> %s", what, onoff(a), onoff(b));
}

static void families_change(struct dctx *d, __u64 o, __u64 n)
{
	char buf[1024];
	size_t off = 0;
	unsigned int i, pass;

	if (o == n)
		return;
	/* added ones first, then removed ones */
	for (pass = 0; pass < 2; pass++) {
		__u64 set = pass ? o & ~n : n & ~o;

		for (i = 0; i < 64; i++) {
			const char *name = ef_af_name(i);

			if (!(set & (1ull << i)) || off >= sizeof(buf))
				continue;
			if (name)
				off += (size_t)snprintf(buf + off, sizeof(buf) - off, " %c%s",
							pass ? '-' : '+', name);
			else
				off += (size_t)snprintf(buf + off, sizeof(buf) - off, " %c%u",
							pass ? '-' : '+', i);
		}
	}
	setting(d, "sockets.families:%s", buf);
}

static char *join_upstream(const struct ef_policy *p)
{
	size_t i, len = 8;
	char *s;

	for (i = 0; i < p->n_dns_upstream; i++)
		len += strlen(p->dns_upstream[i]) + 2;
	s = malloc(len);
	if (!s)
		return NULL;
	if (!p->n_dns_upstream) {
		strcpy(s, "default");
		return s;
	}
	s[0] = '\0';
	for (i = 0; i < p->n_dns_upstream; i++) {
		if (i)
			strcat(s, ", ");
		strcat(s, p->dns_upstream[i]);
	}
	return s;
}

static void upstream_change(struct dctx *d, const struct ef_policy *o, const struct ef_policy *n)
{
	char *a, *b;
	size_t i;
	bool same = o->n_dns_upstream == n->n_dns_upstream;

	for (i = 0; same && i < o->n_dns_upstream; i++)
		same = !strcmp(o->dns_upstream[i], n->dns_upstream[i]);
	if (same)
		return;
	a = join_upstream(o);
	b = join_upstream(n);
	if (a && b)
		setting(d, "dns.upstream: %s -> %s", a, b);
	else
		d->oom = true;
	free(a);
	free(b);
}

static __u32 or_default(__u32 v, __u32 def)
{
	return v ? v : def;
}

static const char *action_name(int a)
{
	static const char *const names[] = { [EF_PROBE_ALERT] = "alert",
					     [EF_PROBE_FREEZE] = "freeze",
					     [EF_PROBE_KILL] = "kill" };

	return a >= 0 && a <= EF_PROBE_KILL ? names[a] : "?";
}

static void probe_change(struct dctx *d, const struct ef_probe_cfg *o, const struct ef_probe_cfg *n)
{
	const struct {
		const char *what;
		__u32 a, b, def;
	} t[] = {
		{ "window_s", o->window_s, n->window_s, EF_PROBE_DEF_WINDOW_S },
		{ "denied_dests", o->denied_dests, n->denied_dests, EF_PROBE_DEF_DENIED_DESTS },
		{ "ports_per_host", o->ports_per_host, n->ports_per_host,
		  EF_PROBE_DEF_PORTS_PER_HOST },
		{ "denied_names", o->denied_names, n->denied_names, EF_PROBE_DEF_DENIED_NAMES },
		{ "names_per_parent", o->names_per_parent, n->names_per_parent,
		  EF_PROBE_DEF_NAMES_PER_PARENT },
		{ "tunnel_names", o->tunnel_names, n->tunnel_names, EF_PROBE_DEF_TUNNEL_NAMES },
		{ "dns_label_bytes", o->dns_label_bytes, n->dns_label_bytes,
		  EF_PROBE_DEF_DNS_LABEL_BYTES },
		{ "flood", o->flood, n->flood, EF_PROBE_DEF_FLOOD },
	};
	size_t i;

	if (o->action != n->action)
		setting(d, "probe.action: %s -> %s", action_name(o->action),
			action_name(n->action));
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		__u32 a = or_default(t[i].a, t[i].def), b = or_default(t[i].b, t[i].def);

		if (a != b)
			setting(d, "probe.%s: %u -> %u", t[i].what, a, b);
	}
}

int ef_policy_diff(const struct ef_policy *old_p, const struct ef_policy *new_p,
		   struct ef_policy_change *out)
{
	struct dctx d = { .out = out };
	int ret;

	memset(out, 0, sizeof(*out));
	ret = rules_only_in(&d, old_p, new_p, false);
	if (!ret)
		ret = rules_only_in(&d, new_p, old_p, true);
	if (ret)
		goto fail;
	if (strcmp(old_p->name, new_p->name))
		setting(&d, "name: %s -> %s", old_p->name, new_p->name);
	if (old_p->mode != new_p->mode)
		setting(&d, "mode: %s -> %s", old_p->mode == EF_MODE_AUDIT ? "audit" : "enforce",
			new_p->mode == EF_MODE_AUDIT ? "audit" : "enforce");
	if (old_p->loopback != new_p->loopback)
		setting(&d, "loopback: %s -> %s", ef_loopback_name(old_p->loopback),
			ef_loopback_name(new_p->loopback));
	flag_change(&d, old_p, new_p, EF_PF_RAW, "sockets.raw");
	flag_change(&d, old_p, new_p, EF_PF_PACKET, "sockets.packet");
	flag_change(&d, old_p, new_p, EF_PF_ICMP, "sockets.icmp");
	flag_change(&d, old_p, new_p, EF_PF_OTHER_PROTO, "sockets.other_protocols");
	flag_change(&d, old_p, new_p, EF_PF_MULTICAST, "sockets.multicast");
	if ((old_p->flags ^ new_p->flags) & EF_PF_HOST_WRITES)
		setting(&d, "host_writes: %s -> %s", old_p->flags & EF_PF_HOST_WRITES ? "true" : "false",
			new_p->flags & EF_PF_HOST_WRITES ? "true" : "false");
	if (old_p->fail_on_deny != new_p->fail_on_deny)
		setting(&d, "fail_on_deny: %s -> %s", old_p->fail_on_deny ? "true" : "false",
			new_p->fail_on_deny ? "true" : "false");
	if ((old_p->flags ^ new_p->flags) & EF_PF_DOCKER)
		setting(&d, "docker: %s -> %s", onoff(old_p->flags & EF_PF_DOCKER),
			onoff(new_p->flags & EF_PF_DOCKER));
	for (size_t i = 0; i < old_p->n_docker_binds; i++) {
		size_t j = 0;

		while (j < new_p->n_docker_binds && strcmp(old_p->docker_binds[i], new_p->docker_binds[j]))
			j++;
		if (j == new_p->n_docker_binds)
			setting(&d, "docker.binds: - %s", old_p->docker_binds[i]);
	}
	for (size_t i = 0; i < new_p->n_docker_binds; i++) {
		size_t j = 0;

		while (j < old_p->n_docker_binds && strcmp(new_p->docker_binds[i], old_p->docker_binds[j]))
			j++;
		if (j == old_p->n_docker_binds)
			setting(&d, "docker.binds: + %s", new_p->docker_binds[i]);
	}
	if ((old_p->flags ^ new_p->flags) & EF_PF_NO_TRACE)
		setting(&d, "tracing: %s -> %s", onoff(!(old_p->flags & EF_PF_NO_TRACE)),
			onoff(!(new_p->flags & EF_PF_NO_TRACE)));
	families_change(&d, old_p->families, new_p->families);
	if (old_p->caps != new_p->caps) {
		char buf[512] = "";
		size_t used = 0;

		for (int i = 0; i < 64; i++) {
			const struct ef_cap_info *ci = ef_cap_by_number(i);
			__u64 bit = 1ull << i;

			if (!ci || !((old_p->caps ^ new_p->caps) & bit))
				continue;
			ef_fmt(buf + used, sizeof(buf) - used, " %c%s",
			       (new_p->caps & bit) ? '+' : '-', ci->name);
			used += strlen(buf + used);
		}
		setting(&d, "capabilities:%s", buf);
	}
	upstream_change(&d, old_p, new_p);
	if (or_default(old_p->dns_query_rate, EF_DNS_DEF_QUERY_RATE) !=
	    or_default(new_p->dns_query_rate, EF_DNS_DEF_QUERY_RATE))
		setting(&d, "dns.query_rate: %u -> %u",
			or_default(old_p->dns_query_rate, EF_DNS_DEF_QUERY_RATE),
			or_default(new_p->dns_query_rate, EF_DNS_DEF_QUERY_RATE));
	if (or_default(old_p->dns_query_burst, EF_DNS_DEF_QUERY_BURST) !=
	    or_default(new_p->dns_query_burst, EF_DNS_DEF_QUERY_BURST))
		setting(&d, "dns.query_burst: %u -> %u",
			or_default(old_p->dns_query_burst, EF_DNS_DEF_QUERY_BURST),
			or_default(new_p->dns_query_burst, EF_DNS_DEF_QUERY_BURST));
	probe_change(&d, &old_p->probe, &new_p->probe);
	if (!d.oom)
		return 0;
	ret = -ENOMEM;
fail:
	ef_policy_change_free(out);
	return ret;
}

void ef_policy_change_free(struct ef_policy_change *c)
{
	size_t i;

	if (!c)
		return;
	for (i = 0; i < c->n_rules; i++)
		free(c->rules[i].text);
	free(c->rules);
	for (i = 0; i < c->n_settings; i++)
		free(c->settings[i]);
	free(c->settings);
	memset(c, 0, sizeof(*c));
}
