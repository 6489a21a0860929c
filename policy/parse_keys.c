// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The keys of a policy file (egress-fence-policy(5)): a table per object
 * (the top level, "dns", "probe", "sockets", "docker") of each key's name
 * and the function that checks its value and sets what it means in the
 * policy; rules are parsed by rule.c and inbound.c, duplicates refused.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "parse.h"

static int want_bool(struct pctx *c, const cJSON *v, __u32 tok, const char *what, bool *out)
{
	if (!cJSON_IsBool(v))
		return ef_perr(c, ef_tok_off(c, tok), "\"%s\" must be true or false", what);
	*out = cJSON_IsTrue(v);
	return 0;
}

static int want_string(struct pctx *c, const cJSON *v, __u32 tok, const char *what)
{
	if (!cJSON_IsString(v))
		return ef_perr(c, ef_tok_off(c, tok), "\"%s\" must be a string", what);
	return 0;
}

/* ---- top-level keys ---- */

/* [a-z0-9][a-z0-9._-]{0,63}, the one definition of a policy name */
static bool name_char_ok(char ch, size_t i)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
	       (i > 0 && (ch == '.' || ch == '_' || ch == '-'));
}

bool ef_policy_name_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > EF_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!name_char_ok(s[i], i))
			return false;
	return true;
}

static int do_name(struct pctx *c, const cJSON *v, __u32 tok)
{
	const char *s;
	size_t i, n;
	int err;

	err = want_string(c, v, tok, "name");
	if (err)
		return err;
	s = v->valuestring;
	n = strlen(s);
	if (n == 0)
		return ef_perr(c, ef_tok_off(c, tok), "\"name\" must not be empty");
	for (i = 0; i < n; i++) {
		bool ok = name_char_ok(s[i], i);

		if (i == EF_NAME_MAX)
			return ef_perr(c, ef_json_str_off(&c->d, ef_tok_off(c, tok), i),
				       "name longer than %d characters", EF_NAME_MAX);
		if (!ok)
			return ef_perr(c, ef_json_str_off(&c->d, ef_tok_off(c, tok), i),
				       "invalid character in name: use [a-z0-9][a-z0-9._-]{0,63}");
	}
	memcpy(c->p->name, s, n + 1);
	c->have_name = true;
	return 0;
}

static int do_description(struct pctx *c, const cJSON *v, __u32 tok)
{
	return want_string(c, v, tok, "description");
}

static int do_mode(struct pctx *c, const cJSON *v, __u32 tok)
{
	if (cJSON_IsString(v) && !strcmp(v->valuestring, "enforce"))
		c->p->mode = EF_MODE_ENFORCE;
	else if (cJSON_IsString(v) && !strcmp(v->valuestring, "audit"))
		c->p->mode = EF_MODE_AUDIT;
	else
		return ef_perr(c, ef_tok_off(c, tok), "\"mode\" must be \"enforce\" or \"audit\"");
	return 0;
}

/* true and false keep the meaning they had before "own" existed, except
 * that true now records each connection. */
static int do_loopback(struct pctx *c, const cJSON *v, __u32 tok)
{
	ef_json_pos(&c->d, ef_tok_off(c, tok), &c->p->loopback_line, &c->p->loopback_col);
	if (cJSON_IsBool(v))
		c->p->loopback = cJSON_IsTrue(v) ? EF_LOOPBACK_ANY : EF_LOOPBACK_OFF;
	else if (cJSON_IsString(v) && !strcmp(v->valuestring, "own"))
		c->p->loopback = EF_LOOPBACK_OWN;
	else
		return ef_perr(c, ef_tok_off(c, tok),
			       "\"loopback\" must be \"own\", true or false");
	return 0;
}

/* "tracing": false: the job may not trace even its own processes (true,
 * the default: only processes outside the job are out of its reach) */
static int do_tracing(struct pctx *c, const cJSON *v, __u32 tok)
{
	bool on = true;
	int err = want_bool(c, v, tok, "tracing", &on);

	if (!err && !on)
		c->p->flags |= EF_PF_NO_TRACE;
	return err;
}

/* "host_writes": true: a root job's writes to the system directories
 * reach the host (false, the default: a copy-on-write layer of the job's
 * own, gone when it ends; cli/overlay.c) */
static int do_host_writes(struct pctx *c, const cJSON *v, __u32 tok)
{
	bool on = false;
	int err = want_bool(c, v, tok, "host_writes", &on);

	ef_json_pos(&c->d, ef_tok_off(c, tok), &c->p->host_writes_line, &c->p->host_writes_col);
	if (!err && on)
		c->p->flags |= EF_PF_HOST_WRITES;
	return err;
}

/* "fail_on_deny": true: the job fails when anything was denied (or
 * flagged), whatever its command's exit status (cli/notices.c) */
static int do_fail_on_deny(struct pctx *c, const cJSON *v, __u32 tok)
{
	return want_bool(c, v, tok, "fail_on_deny", &c->p->fail_on_deny);
}

/* "docker": true, or {"binds": ["/srv/cache", ...]}: the job gets its own
 * Docker endpoint (daemon/docker/docker.c), whose containers may bind-mount the
 * job's working directory and the paths listed; false (the default): the
 * host's dockerd is out of reach like every runtime. */
static int do_docker_binds(struct pctx *c, const cJSON *v, __u32 tok)
{
	const cJSON *it;
	__u32 t = tok + 1;

	if (!cJSON_IsArray(v))
		return ef_perr(c, ef_tok_off(c, tok), "\"docker.binds\" must be an array of absolute paths");
	cJSON_ArrayForEach(it, v) {
		size_t off = ef_tok_off(c, t), n;
		const char *s;
		char **nb;

		if (!cJSON_IsString(it))
			return ef_perr(c, off, "a bind path must be a string");
		s = it->valuestring;
		n = strlen(s);
		if (s[0] != '/' || n >= 4096 || strstr(s, "//") || strstr(s, "/./") ||
		    strstr(s, "/../") || (n > 1 && s[n - 1] == '/') ||
		    (n >= 2 && !strcmp(s + n - 2, "/.")) || (n >= 3 && !strcmp(s + n - 3, "/..")))
			return ef_perr(c, off, "a bind path must be absolute and normalised (no //, . or "
					       ".., no trailing /)");
		if (n == 1)
			return ef_perr(c, off,
				       "\"/\" would give the job's containers the whole host");
		for (const char *q = s; *q; q++)
			if ((unsigned char)*q < 0x20 || *q == 0x7f || *q == ':' || *q == ',')
				return ef_perr(c, off, "a bind path may not hold control characters, ':' or ','");
		if (c->p->n_docker_binds >= 64)
			return ef_perr(c, off, "at most 64 bind paths");
		nb = realloc(c->p->docker_binds, (c->p->n_docker_binds + 1) * sizeof(*nb));
		if (!nb)
			return ef_oom(c);
		c->p->docker_binds = nb;
		nb[c->p->n_docker_binds] = strdup(s);
		if (!nb[c->p->n_docker_binds])
			return ef_oom(c);
		c->p->n_docker_binds++;
		t = c->d.tok[t].next;
	}
	return 0;
}

static const struct key docker_keys[] = {
	{ "binds", do_docker_binds },
};

static int do_docker(struct pctx *c, const cJSON *v, __u32 tok)
{
	bool on = false;
	int err;

	if (cJSON_IsObject(v)) {
		c->p->flags |= EF_PF_DOCKER;
		return ef_walk_object(c, v, tok, docker_keys, sizeof(docker_keys) / sizeof(docker_keys[0]),
				      "docker");
	}
	err = want_bool(c, v, tok, "docker", &on);
	if (!err && on)
		c->p->flags |= EF_PF_DOCKER;
	return err;
}

/* Returns the index of an earlier equal rule of the list, or -1 after
 * adding rule `idx` to the hash. */
static long dup_check(struct rule_list *l, size_t idx)
{
	const struct ef_rule *r = &l->r[idx];
	size_t h = (size_t)ef_rule_hash(r) & l->mask;

	while (l->tab[h]) {
		if (ef_rule_same(&l->r[l->tab[h] - 1], r))
			return (long)l->tab[h] - 1;
		h = (h + 1) & l->mask;
	}
	l->tab[h] = (__u32)idx + 1;
	return -1;
}

/* list: 0 allow, 1 deny, 2 inbound */
static int do_rules(struct pctx *c, const cJSON *v, __u32 tok, int list)
{
	static const char *const whats[] = { "allow", "deny", "inbound" };
	struct rule_list *l = &c->lists[list];
	const char *what = whats[list];
	bool deny = list == 1;
	char msg[EF_ERR_LEN];
	size_t n, cap = 16;
	const cJSON *it;
	__u32 t = tok + 1;
	int err;

	if (!cJSON_IsArray(v))
		return ef_perr(c, ef_tok_off(c, tok), "\"%s\" must be an array of rule strings",
			       what);
	n = (size_t)cJSON_GetArraySize(v);
	if (!n)
		return 0;
	while (cap < 2 * n)
		cap *= 2;
	l->r = calloc(n, sizeof(*l->r));
	l->tab = calloc(cap, sizeof(*l->tab));
	if (!l->r || !l->tab)
		return ef_oom(c);
	l->mask = cap - 1;
	cJSON_ArrayForEach(it, v) {
		size_t off = ef_tok_off(c, t), col = 1;
		struct ef_rule *r = &l->r[l->n];
		long first;

		if (!cJSON_IsString(it))
			return ef_perr(c, off, "%s[%zu]: a rule must be a string such as \"%s\"",
				       what, l->n,
				       list == 2 ? "198.51.100.7:8080" : "api.example.com:443");
		if (list == 2)
			err = ef_inbound_rule_parse_col(it->valuestring, r, &col, msg,
							sizeof(msg));
		else
			err = ef_rule_parse_col(it->valuestring, deny, r, &col, msg,
						sizeof(msg));
		if (err == -ENOMEM)
			return ef_oom(c);
		if (err)
			return ef_perr(c, ef_json_str_off(&c->d, off, col - 1), "%s", msg);
		l->n++;
		ef_json_pos(&c->d, off, &r->line, &r->col);
		first = dup_check(l, l->n - 1);
		if (first >= 0)
			return ef_perr(c, off, "duplicate rule (first at %d:%d)", l->r[first].line,
				       l->r[first].col);
		t = c->d.tok[t].next;
	}
	return 0;
}

static int do_allow(struct pctx *c, const cJSON *v, __u32 tok)
{
	return do_rules(c, v, tok, 0);
}

static int do_deny(struct pctx *c, const cJSON *v, __u32 tok)
{
	return do_rules(c, v, tok, 1);
}

static int do_inbound(struct pctx *c, const cJSON *v, __u32 tok)
{
	return do_rules(c, v, tok, 2);
}

/* ---- "dns" ---- */

static int do_dns_upstream(struct pctx *c, const cJSON *v, __u32 tok)
{
	struct ef_policy *p = c->p;
	char msg[EF_ERR_LEN];
	const cJSON *it;
	__u32 t = tok + 1;
	size_t n;

	if (!cJSON_IsArray(v))
		return ef_perr(c, ef_tok_off(c, tok),
			       "\"dns.upstream\" must be an array of addresses");
	n = (size_t)cJSON_GetArraySize(v);
	if (!n)
		return 0;
	p->dns_upstream = calloc(n, sizeof(*p->dns_upstream));
	if (!p->dns_upstream)
		return ef_oom(c);
	cJSON_ArrayForEach(it, v) {
		size_t off = ef_tok_off(c, t), col = 1;

		if (!cJSON_IsString(it))
			return ef_perr(c, off, "an upstream must be a string such as \"1.1.1.1\"");
		if (ef_upstream_check(it->valuestring, &col, msg, sizeof(msg)))
			return ef_perr(c, ef_json_str_off(&c->d, off, col - 1), "%s", msg);
		p->dns_upstream[p->n_dns_upstream] = strdup(it->valuestring);
		if (!p->dns_upstream[p->n_dns_upstream])
			return ef_oom(c);
		p->n_dns_upstream++;
		t = c->d.tok[t].next;
	}
	return 0;
}

static int want_rate(struct pctx *c, const cJSON *v, __u32 tok, const char *what, __u32 *out)
{
	double d = cJSON_IsNumber(v) ? v->valuedouble : 0;

	if (!cJSON_IsNumber(v) || d < 1 || d > EF_DNS_MAX_QUERY_RATE || d != (double)(__u32)d)
		return ef_perr(c, ef_tok_off(c, tok), "\"dns.%s\" must be an integer from 1 to %u",
			       what, EF_DNS_MAX_QUERY_RATE);
	*out = (__u32)d;
	return 0;
}

static int do_dns_query_rate(struct pctx *c, const cJSON *v, __u32 tok)
{
	return want_rate(c, v, tok, "query_rate", &c->p->dns_query_rate);
}

static int do_dns_query_burst(struct pctx *c, const cJSON *v, __u32 tok)
{
	return want_rate(c, v, tok, "query_burst", &c->p->dns_query_burst);
}

static const struct key dns_keys[] = {
	{ "upstream", do_dns_upstream },
	{ "query_rate", do_dns_query_rate },
	{ "query_burst", do_dns_query_burst },
};

static int do_dns(struct pctx *c, const cJSON *v, __u32 tok)
{
	return ef_walk_object(c, v, tok, dns_keys, sizeof(dns_keys) / sizeof(dns_keys[0]), "dns");
}

/* ---- "probe" ---- */

static int want_threshold(struct pctx *c, const cJSON *v, __u32 tok, const char *what,
			  __u32 max, __u32 *out)
{
	double d = cJSON_IsNumber(v) ? v->valuedouble : 0;

	if (!cJSON_IsNumber(v) || d < 1 || d > max || d != (double)(__u32)d)
		return ef_perr(c, ef_tok_off(c, tok),
			       "\"probe.%s\" must be an integer from 1 to %u", what, max);
	*out = (__u32)d;
	return 0;
}

static int do_probe_action(struct pctx *c, const cJSON *v, __u32 tok)
{
	static const char *const names[] = { [EF_PROBE_ALERT] = "alert",
					     [EF_PROBE_FREEZE] = "freeze",
					     [EF_PROBE_KILL] = "kill" };
	int i;

	for (i = 0; cJSON_IsString(v) && i < 3; i++) {
		if (!strcmp(v->valuestring, names[i])) {
			c->p->probe.action = i;
			return 0;
		}
	}
	return ef_perr(c, ef_tok_off(c, tok),
		       "\"probe.action\" must be \"alert\", \"freeze\" or \"kill\"");
}

#define PROBE_COUNT(key)                                                                 \
	static int do_probe_##key(struct pctx *c, const cJSON *v, __u32 tok)              \
	{                                                                                  \
		return want_threshold(c, v, tok, #key, EF_PROBE_MAX_COUNT, &c->p->probe.key); \
	}
PROBE_COUNT(denied_dests)
PROBE_COUNT(denied_names)
PROBE_COUNT(ports_per_host)
PROBE_COUNT(names_per_parent)
PROBE_COUNT(tunnel_names)

static int do_probe_dns_label_bytes(struct pctx *c, const cJSON *v, __u32 tok)
{
	return want_threshold(c, v, tok, "dns_label_bytes", EF_PROBE_MAX_BYTES,
			      &c->p->probe.dns_label_bytes);
}

static int do_probe_flood(struct pctx *c, const cJSON *v, __u32 tok)
{
	return want_threshold(c, v, tok, "flood", EF_PROBE_MAX_FLOOD, &c->p->probe.flood);
}

static int do_probe_window(struct pctx *c, const cJSON *v, __u32 tok)
{
	return want_threshold(c, v, tok, "window_s", EF_PROBE_MAX_WINDOW_S, &c->p->probe.window_s);
}

static const struct key probe_keys[] = {
	{ "action", do_probe_action },
	{ "denied_dests", do_probe_denied_dests },
	{ "denied_names", do_probe_denied_names },
	{ "flood", do_probe_flood },
	{ "ports_per_host", do_probe_ports_per_host },
	{ "names_per_parent", do_probe_names_per_parent },
	{ "tunnel_names", do_probe_tunnel_names },
	{ "dns_label_bytes", do_probe_dns_label_bytes },
	{ "window_s", do_probe_window },
};

static int do_probe(struct pctx *c, const cJSON *v, __u32 tok)
{
	return ef_walk_object(c, v, tok, probe_keys, sizeof(probe_keys) / sizeof(probe_keys[0]),
			      "probe");
}

/* ---- "sockets" ---- */

static int sock_flag(struct pctx *c, const cJSON *v, __u32 tok, const char *what, __u32 flag)
{
	bool on = false;
	int err = want_bool(c, v, tok, what, &on);

	if (!err && on)
		c->p->flags |= flag;
	return err;
}

static int do_sock_raw(struct pctx *c, const cJSON *v, __u32 tok)
{
	return sock_flag(c, v, tok, "sockets.raw", EF_PF_RAW);
}

static int do_sock_packet(struct pctx *c, const cJSON *v, __u32 tok)
{
	return sock_flag(c, v, tok, "sockets.packet", EF_PF_PACKET);
}

static int do_sock_icmp(struct pctx *c, const cJSON *v, __u32 tok)
{
	return sock_flag(c, v, tok, "sockets.icmp", EF_PF_ICMP);
}

static int do_sock_other(struct pctx *c, const cJSON *v, __u32 tok)
{
	return sock_flag(c, v, tok, "sockets.other_protocols", EF_PF_OTHER_PROTO);
}

static int do_sock_multicast(struct pctx *c, const cJSON *v, __u32 tok)
{
	return sock_flag(c, v, tok, "sockets.multicast", EF_PF_MULTICAST);
}

#define EF_AF_PACKET 17

static int do_sock_families(struct pctx *c, const cJSON *v, __u32 tok)
{
	const cJSON *it;
	__u32 t = tok + 1;
	char q[40];

	if (!cJSON_IsArray(v))
		return ef_perr(c, ef_tok_off(c, tok),
			       "\"sockets.families\" must be an array of family names or numbers");
	cJSON_ArrayForEach(it, v) {
		size_t off = ef_tok_off(c, t);
		int af = -1;

		if (cJSON_IsString(it)) {
			af = ef_af_by_name(it->valuestring);
			if (af < 0) {
				ef_msg_quote(q, sizeof(q), it->valuestring, SIZE_MAX);
				return ef_perr(c, off, "unknown address family \"%s\"", q);
			}
		} else if (cJSON_IsNumber(it)) {
			double d = it->valuedouble;

			if (d < 0 || d > 63 || d != (double)(int)d)
				return ef_perr(c, off,
					       "address family number must be from 0 to 63");
			af = (int)d;
		} else {
			return ef_perr(c, off, "an address family must be a name or a number");
		}
		/* one switch per thing: AF_PACKET has its own, see the policy flags */
		if (af == EF_AF_PACKET)
			return ef_perr(c, off, "packet sockets are allowed with \"packet\": true");
		c->p->families |= 1ull << af;
		t = c->d.tok[t].next;
	}
	return 0;
}

static const struct key sock_keys[] = {
	{ "raw", do_sock_raw },		    { "packet", do_sock_packet },
	{ "icmp", do_sock_icmp },	    { "other_protocols", do_sock_other },
	{ "multicast", do_sock_multicast }, { "families", do_sock_families },
};

static int do_sockets(struct pctx *c, const cJSON *v, __u32 tok)
{
	return ef_walk_object(c, v, tok, sock_keys, sizeof(sock_keys) / sizeof(sock_keys[0]),
			      "sockets");
}

/* ---- "capabilities" ---- */

static int do_capabilities(struct pctx *c, const cJSON *v, __u32 tok)
{
	const struct ef_cap_info *ci;
	const cJSON *it;
	__u32 t = tok + 1;
	char q[40];

	if (!cJSON_IsArray(v))
		return ef_perr(c, ef_tok_off(c, tok),
			       "\"capabilities\" must be an array of capability names such as \"NET_ADMIN\"");
	ef_json_pos(&c->d, ef_tok_off(c, tok), &c->p->caps_line, &c->p->caps_col);
	cJSON_ArrayForEach(it, v) {
		size_t off = ef_tok_off(c, t);

		if (!cJSON_IsString(it))
			return ef_perr(c, off, "a capability must be a name such as \"NET_ADMIN\"");
		ci = ef_cap_by_name(it->valuestring);
		ef_msg_quote(q, sizeof(q), it->valuestring, SIZE_MAX);
		if (!ci)
			return ef_perr(c, off, "unknown capability \"%s\"", q);
		if (ci->flags & EF_CAP_NEVER)
			return ef_perr(c, off,
				       "capability CAP_%s can never be granted: it reaches around the fence itself",
				       ci->name);
		c->p->caps |= 1ull << ci->cap;
		t = c->d.tok[t].next;
	}
	return 0;
}

const struct key ef_top_keys[] = {
	{ "name", do_name },	   { "description", do_description },
	{ "mode", do_mode },	   { "allow", do_allow },
	{ "deny", do_deny },	   { "loopback", do_loopback },
	{ "dns", do_dns },	   { "probe", do_probe },
	{ "sockets", do_sockets }, { "inbound", do_inbound },
	{ "tracing", do_tracing },	   { "host_writes", do_host_writes },
	{ "capabilities", do_capabilities }, { "docker", do_docker },
	{ "fail_on_deny", do_fail_on_deny },
};

const size_t ef_n_top_keys = sizeof(ef_top_keys) / sizeof(ef_top_keys[0]);
