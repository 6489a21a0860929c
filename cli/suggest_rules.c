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
#include "suggest_rules.h"

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

/* ---- text ------------------------------------------------------------- */

/* "198.18.1.1", "[2001:db8::1]" or the name */
void suggest_dest_text(const struct obs *o, char *out, size_t len)
{
	if (!o->name && o->family == EF_FAM_V6)
		snprintf(out, len, "[%s]", o->dest);
	else
		snprintf(out, len, "%s", o->dest);
}

const char *suggest_proto_name(__u8 proto)
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

	suggest_dest_text(o, d, sizeof(d));
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
		ret = suggest_make_rules(sg, &rs, &left);
	if (!ret)
		ret = unconnected(sg, res);
	if (ret)
		goto out;
	if (rs.n)
		qsort(rs.v, rs.n, sizeof(*rs.v), suggest_cmp_rule);
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
