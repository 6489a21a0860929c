// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Policy files: JSON text -> struct ef_policy (see DESIGN.md, "Policy files
 * and rules"). A file is accepted whole or rejected with the first error in
 * it as "FILE:LINE:COL: message": unknown or repeated keys are errors, not
 * warnings, because a typo in an allowlist ("alow") must not silently widen
 * or narrow what a job may reach.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

/* Families every fenced job keeps: without them nothing works at all. */
#define EF_FAMILIES_BASE                                                                     \
	((1ull << AF_UNIX) | (1ull << AF_INET) | (1ull << AF_INET6) | (1ull << AF_NETLINK))

/* One of the two rule lists while it is parsed, with a hash of its rules
 * (indices + 1, 0 = empty) so duplicates are found in linear time. */
struct rule_list {
	struct ef_rule *r;
	size_t n;
	__u32 *tab;
	size_t mask;
};

struct pctx {
	struct ef_jdoc d;
	const char *file;
	char *err;
	size_t errlen;
	struct ef_policy *p;
	struct rule_list lists[3]; /* [0] allow, [1] deny, [2] inbound */
	bool have_name;
};

typedef int (*key_fn)(struct pctx *c, const cJSON *v, __u32 tok);

struct key {
	const char *name;
	key_fn fn;
};

static int perr(struct pctx *c, size_t off, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int perr(struct pctx *c, size_t off, const char *fmt, ...)
{
	char msg[EF_ERR_LEN];
	int line, col;
	va_list ap;

	va_start(ap, fmt);
	ef_vfmt(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ef_json_pos(&c->d, off, &line, &col);
	ef_fmt(c->err, c->errlen, "%s:%d:%d: %s", c->file, line, col, msg);
	return -EINVAL;
}

static int oom(struct pctx *c)
{
	ef_fmt(c->err, c->errlen, "%s: out of memory", c->file);
	return -ENOMEM;
}

static size_t tok_off(const struct pctx *c, __u32 tok)
{
	return c->d.tok[tok].off;
}

/* Levenshtein distance capped at 3, for "did you mean". */
static int edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i, j;
	int row[32], prev, tmp;

	if (la >= 32 || lb >= 32)
		return 3;
	for (j = 0; j <= lb; j++)
		row[j] = (int)j;
	for (i = 1; i <= la; i++) {
		prev = row[0];
		row[0] = (int)i;
		for (j = 1; j <= lb; j++) {
			int best = prev + (a[i - 1] != b[j - 1]);

			if (row[j] + 1 < best)
				best = row[j] + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			tmp = row[j];
			row[j] = best;
			prev = tmp;
		}
	}
	return row[lb] > 3 ? 3 : row[lb];
}

static int walk_object(struct pctx *c, const cJSON *obj, __u32 tok, const struct key *keys,
		       size_t n_keys, const char *where)
{
	__u32 first[16];
	bool seen[16] = { false };
	const cJSON *it;
	__u32 t = tok + 1;
	char q[80];
	size_t k;
	int err;

	if (!cJSON_IsObject(obj))
		return perr(c, tok_off(c, tok), "%s%s%s must be an object", where ? "\"" : "",
			    where ? where : "the policy", where ? "\"" : "");
	cJSON_ArrayForEach(it, obj) {
		int line, col;

		/* both parsers read the same text, so the trees match */
		if (t >= c->d.n_tok || c->d.tok[t].key == EF_JNOKEY)
			return perr(c, tok_off(c, tok), "internal error: position index mismatch");
		for (k = 0; k < n_keys; k++)
			if (!strcmp(it->string, keys[k].name))
				break;
		if (k == n_keys) {
			const char *best = NULL;
			int bd = 3;

			/* a typo of a known key: say which */
			for (k = 0; k < n_keys; k++) {
				int dist = edit_distance(it->string, keys[k].name);

				if (dist < bd) {
					bd = dist;
					best = keys[k].name;
				}
			}
			ef_msg_quote(q, sizeof(q), it->string, SIZE_MAX);
			if (best)
				return perr(c, c->d.tok[t].key,
					    "unknown key \"%s\"%s%s: did you mean \"%s\"?", q,
					    where ? " in " : "", where ? where : "", best);
			return perr(c, c->d.tok[t].key, "unknown key \"%s\"%s%s", q,
				    where ? " in " : "", where ? where : "");
		}
		if (seen[k]) {
			ef_json_pos(&c->d, first[k], &line, &col);
			return perr(c, c->d.tok[t].key, "duplicate key \"%s\" (first at %d:%d)",
				    keys[k].name, line, col);
		}
		seen[k] = true;
		first[k] = c->d.tok[t].key;
		err = keys[k].fn(c, it, t);
		if (err)
			return err;
		t = c->d.tok[t].next;
	}
	return 0;
}

static int want_bool(struct pctx *c, const cJSON *v, __u32 tok, const char *what, bool *out)
{
	if (!cJSON_IsBool(v))
		return perr(c, tok_off(c, tok), "\"%s\" must be true or false", what);
	*out = cJSON_IsTrue(v);
	return 0;
}

static int want_string(struct pctx *c, const cJSON *v, __u32 tok, const char *what)
{
	if (!cJSON_IsString(v))
		return perr(c, tok_off(c, tok), "\"%s\" must be a string", what);
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
		return perr(c, tok_off(c, tok), "\"name\" must not be empty");
	for (i = 0; i < n; i++) {
		bool ok = name_char_ok(s[i], i);

		if (i == EF_NAME_MAX)
			return perr(c, ef_json_str_off(&c->d, tok_off(c, tok), i),
				    "name longer than %d characters", EF_NAME_MAX);
		if (!ok)
			return perr(c, ef_json_str_off(&c->d, tok_off(c, tok), i),
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
		return perr(c, tok_off(c, tok), "\"mode\" must be \"enforce\" or \"audit\"");
	return 0;
}

/* true and false keep the meaning they had before "own" existed, except
 * that true now records each connection. */
static int do_loopback(struct pctx *c, const cJSON *v, __u32 tok)
{
	ef_json_pos(&c->d, tok_off(c, tok), &c->p->loopback_line, &c->p->loopback_col);
	if (cJSON_IsBool(v))
		c->p->loopback = cJSON_IsTrue(v) ? EF_LOOPBACK_ANY : EF_LOOPBACK_OFF;
	else if (cJSON_IsString(v) && !strcmp(v->valuestring, "own"))
		c->p->loopback = EF_LOOPBACK_OWN;
	else
		return perr(c, tok_off(c, tok), "\"loopback\" must be \"own\", true or false");
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

	ef_json_pos(&c->d, tok_off(c, tok), &c->p->host_writes_line, &c->p->host_writes_col);
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
		return perr(c, tok_off(c, tok), "\"docker.binds\" must be an array of absolute paths");
	cJSON_ArrayForEach(it, v) {
		size_t off = tok_off(c, t), n;
		const char *s;
		char **nb;

		if (!cJSON_IsString(it))
			return perr(c, off, "a bind path must be a string");
		s = it->valuestring;
		n = strlen(s);
		if (s[0] != '/' || n >= 4096 || strstr(s, "//") || strstr(s, "/./") ||
		    strstr(s, "/../") || (n > 1 && s[n - 1] == '/') ||
		    (n >= 2 && !strcmp(s + n - 2, "/.")) || (n >= 3 && !strcmp(s + n - 3, "/..")))
			return perr(c, off, "a bind path must be absolute and normalised (no //, . or "
					    ".., no trailing /)");
		if (n == 1)
			return perr(c, off, "\"/\" would give the job's containers the whole host");
		for (const char *q = s; *q; q++)
			if ((unsigned char)*q < 0x20 || *q == 0x7f || *q == ':' || *q == ',')
				return perr(c, off, "a bind path may not hold control characters, ':' or ','");
		if (c->p->n_docker_binds >= 64)
			return perr(c, off, "at most 64 bind paths");
		nb = realloc(c->p->docker_binds, (c->p->n_docker_binds + 1) * sizeof(*nb));
		if (!nb)
			return oom(c);
		c->p->docker_binds = nb;
		nb[c->p->n_docker_binds] = strdup(s);
		if (!nb[c->p->n_docker_binds])
			return oom(c);
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
		return walk_object(c, v, tok, docker_keys, sizeof(docker_keys) / sizeof(docker_keys[0]),
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
		return perr(c, tok_off(c, tok), "\"%s\" must be an array of rule strings", what);
	n = (size_t)cJSON_GetArraySize(v);
	if (!n)
		return 0;
	while (cap < 2 * n)
		cap *= 2;
	l->r = calloc(n, sizeof(*l->r));
	l->tab = calloc(cap, sizeof(*l->tab));
	if (!l->r || !l->tab)
		return oom(c);
	l->mask = cap - 1;
	cJSON_ArrayForEach(it, v) {
		size_t off = tok_off(c, t), col = 1;
		struct ef_rule *r = &l->r[l->n];
		long first;

		if (!cJSON_IsString(it))
			return perr(c, off, "%s[%zu]: a rule must be a string such as \"%s\"",
				    what, l->n,
				    list == 2 ? "198.51.100.7:8080" : "api.example.com:443");
		if (list == 2)
			err = ef_inbound_rule_parse_col(it->valuestring, r, &col, msg,
							sizeof(msg));
		else
			err = ef_rule_parse_col(it->valuestring, deny, r, &col, msg,
						sizeof(msg));
		if (err == -ENOMEM)
			return oom(c);
		if (err)
			return perr(c, ef_json_str_off(&c->d, off, col - 1), "%s", msg);
		l->n++;
		ef_json_pos(&c->d, off, &r->line, &r->col);
		first = dup_check(l, l->n - 1);
		if (first >= 0)
			return perr(c, off, "duplicate rule (first at %d:%d)", l->r[first].line,
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
		return perr(c, tok_off(c, tok), "\"dns.upstream\" must be an array of addresses");
	n = (size_t)cJSON_GetArraySize(v);
	if (!n)
		return 0;
	p->dns_upstream = calloc(n, sizeof(*p->dns_upstream));
	if (!p->dns_upstream)
		return oom(c);
	cJSON_ArrayForEach(it, v) {
		size_t off = tok_off(c, t), col = 1;

		if (!cJSON_IsString(it))
			return perr(c, off, "an upstream must be a string such as \"1.1.1.1\"");
		if (ef_upstream_check(it->valuestring, &col, msg, sizeof(msg)))
			return perr(c, ef_json_str_off(&c->d, off, col - 1), "%s", msg);
		p->dns_upstream[p->n_dns_upstream] = strdup(it->valuestring);
		if (!p->dns_upstream[p->n_dns_upstream])
			return oom(c);
		p->n_dns_upstream++;
		t = c->d.tok[t].next;
	}
	return 0;
}

static int want_rate(struct pctx *c, const cJSON *v, __u32 tok, const char *what, __u32 *out)
{
	double d = cJSON_IsNumber(v) ? v->valuedouble : 0;

	if (!cJSON_IsNumber(v) || d < 1 || d > EF_DNS_MAX_QUERY_RATE || d != (double)(__u32)d)
		return perr(c, tok_off(c, tok), "\"dns.%s\" must be an integer from 1 to %u", what,
			    EF_DNS_MAX_QUERY_RATE);
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
	return walk_object(c, v, tok, dns_keys, sizeof(dns_keys) / sizeof(dns_keys[0]), "dns");
}

/* ---- "probe" ---- */

static int want_threshold(struct pctx *c, const cJSON *v, __u32 tok, const char *what,
			  __u32 max, __u32 *out)
{
	double d = cJSON_IsNumber(v) ? v->valuedouble : 0;

	if (!cJSON_IsNumber(v) || d < 1 || d > max || d != (double)(__u32)d)
		return perr(c, tok_off(c, tok), "\"probe.%s\" must be an integer from 1 to %u",
			    what, max);
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
	return perr(c, tok_off(c, tok),
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
	return walk_object(c, v, tok, probe_keys, sizeof(probe_keys) / sizeof(probe_keys[0]),
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

/* Linux AF_* numbers, spelled out: older libc headers lack the newest. */
static const struct {
	const char *name;
	int af;
} families[] = {
	{ "unix", 1 },	       { "inet", 2 },	   { "inet6", 10 }, { "netlink", 16 },
	{ "rds", 21 },	       { "llc", 26 },	   { "can", 29 },   { "tipc", 30 },
	{ "bluetooth", 31 },   { "ieee802154", 36 }, { "alg", 38 },   { "vsock", 40 },
	{ "qipcrtr", 42 },     { "smc", 43 },	   { "xdp", 44 },   { "mctp", 45 },
};

#define EF_AF_PACKET 17

const char *ef_sock_family_name(unsigned int af)
{
	size_t k;

	if (af == EF_AF_PACKET)
		return "packet";
	for (k = 0; k < sizeof(families) / sizeof(families[0]); k++)
		if ((unsigned int)families[k].af == af)
			return families[k].name;
	return NULL;
}

static int do_sock_families(struct pctx *c, const cJSON *v, __u32 tok)
{
	const cJSON *it;
	__u32 t = tok + 1;
	char q[40];
	size_t k;

	if (!cJSON_IsArray(v))
		return perr(c, tok_off(c, tok),
			    "\"sockets.families\" must be an array of family names or numbers");
	cJSON_ArrayForEach(it, v) {
		size_t off = tok_off(c, t);
		int af = -1;

		if (cJSON_IsString(it)) {
			for (k = 0; k < sizeof(families) / sizeof(families[0]); k++)
				if (!strcmp(it->valuestring, families[k].name))
					af = families[k].af;
			if (af < 0 && strcmp(it->valuestring, "packet")) {
				ef_msg_quote(q, sizeof(q), it->valuestring, SIZE_MAX);
				return perr(c, off, "unknown address family \"%s\"", q);
			}
			if (af < 0)
				af = EF_AF_PACKET;
		} else if (cJSON_IsNumber(it)) {
			double d = it->valuedouble;

			if (d < 0 || d > 63 || d != (double)(int)d)
				return perr(c, off, "address family number must be from 0 to 63");
			af = (int)d;
		} else {
			return perr(c, off, "an address family must be a name or a number");
		}
		/* one switch per thing: AF_PACKET has its own, see the policy flags */
		if (af == EF_AF_PACKET)
			return perr(c, off, "packet sockets are allowed with \"packet\": true");
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
	return walk_object(c, v, tok, sock_keys, sizeof(sock_keys) / sizeof(sock_keys[0]),
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
		return perr(c, tok_off(c, tok),
			    "\"capabilities\" must be an array of capability names such as \"NET_ADMIN\"");
	ef_json_pos(&c->d, tok_off(c, tok), &c->p->caps_line, &c->p->caps_col);
	cJSON_ArrayForEach(it, v) {
		size_t off = tok_off(c, t);

		if (!cJSON_IsString(it))
			return perr(c, off, "a capability must be a name such as \"NET_ADMIN\"");
		ci = ef_cap_by_name(it->valuestring);
		ef_msg_quote(q, sizeof(q), it->valuestring, SIZE_MAX);
		if (!ci)
			return perr(c, off, "unknown capability \"%s\"", q);
		if (ci->flags & EF_CAP_NEVER)
			return perr(c, off,
				    "capability CAP_%s can never be granted: it reaches around the fence itself",
				    ci->name);
		c->p->caps |= 1ull << ci->cap;
		t = c->d.tok[t].next;
	}
	return 0;
}

static const struct key top_keys[] = {
	{ "name", do_name },	   { "description", do_description },
	{ "mode", do_mode },	   { "allow", do_allow },
	{ "deny", do_deny },	   { "loopback", do_loopback },
	{ "dns", do_dns },	   { "probe", do_probe },
	{ "sockets", do_sockets }, { "inbound", do_inbound },
	{ "tracing", do_tracing },	   { "host_writes", do_host_writes },
	{ "capabilities", do_capabilities }, { "docker", do_docker },
	{ "fail_on_deny", do_fail_on_deny },
};

/* Allow rules first, then deny rules: the order policy.h promises and the
 * rule ids in decision records index. */
static int join_rules(struct pctx *c)
{
	struct ef_policy *p = c->p;
	size_t na = c->lists[0].n, nd = c->lists[1].n;

	if (!na && !nd)
		return 0;
	p->rules = calloc(na + nd, sizeof(*p->rules));
	if (!p->rules)
		return oom(c);
	if (na)
		memcpy(p->rules, c->lists[0].r, na * sizeof(*p->rules));
	if (nd)
		memcpy(p->rules + na, c->lists[1].r, nd * sizeof(*p->rules));
	p->n_rules = na + nd;
	c->lists[0].n = c->lists[1].n = 0; /* moved */
	return 0;
}

static int take_inbound(struct pctx *c)
{
	struct rule_list *l = &c->lists[2];

	c->p->inbound = l->r;
	c->p->n_inbound = l->n;
	l->r = NULL;
	l->n = 0;
	return 0;
}

int ef_policy_parse(const char *text, size_t len, const char *file, struct ef_policy **out,
		    char *err, size_t errlen)
{
	struct pctx c = { .file = file ? file : "<policy>", .err = err, .errlen = errlen };
	cJSON *root = NULL;
	const char *end = NULL, *nul;
	struct ef_policy *p;
	size_t off = 0;
	char msg[EF_ERR_LEN];
	int ret, i;

	*out = NULL;
	if (err && errlen)
		err[0] = '\0';
	p = calloc(1, sizeof(*p));
	if (!p)
		return oom(&c);
	c.p = p;
	p->mode = EF_MODE_ENFORCE;
	p->loopback = EF_LOOPBACK_OWN;
	p->families = EF_FAMILIES_BASE;
	p->file = strdup(c.file);
	if (!p->file) {
		ret = oom(&c);
		goto out;
	}
	/* the limit is checked first so a huge input costs nothing */
	if (len > EF_POLICY_MAX_BYTES) {
		ef_fmt(err, errlen, "%s:1:1: file larger than %u bytes", c.file,
		       EF_POLICY_MAX_BYTES);
		ret = -EFBIG;
		goto out;
	}
	p->source = malloc(len + 1);
	if (!p->source) {
		ret = oom(&c);
		goto out;
	}
	memcpy(p->source, text, len);
	p->source[len] = '\0';
	c.d.text = p->source;
	c.d.len = len;
	c.d.cur_line = c.d.cur_col = 1;
	/* a NUL would end the text early for every C string consumer */
	nul = memchr(p->source, '\0', len);
	if (nul) {
		ret = perr(&c, (size_t)(nul - p->source), "NUL byte in file");
		goto out;
	}
	ret = ef_json_scan(&c.d, p->source, len, &off, msg, sizeof(msg));
	if (ret == -ENOMEM) {
		ret = oom(&c);
		goto out;
	}
	if (ret) {
		ret = perr(&c, off, "%s", msg);
		goto out;
	}
	/* The scan is stricter than cJSON, so this fails only if cJSON runs out
	 * of memory or disagrees; its error offset is the best position then. */
	root = cJSON_ParseWithLengthOpts(p->source, len + 1, &end, 1);
	if (!root) {
		ret = perr(&c, end ? (size_t)(end - p->source) : 0, "invalid JSON");
		goto out;
	}
	ret = walk_object(&c, root, 0, top_keys, sizeof(top_keys) / sizeof(top_keys[0]), NULL);
	if (ret)
		goto out;
	if (!c.have_name) {
		ret = perr(&c, tok_off(&c, 0), "missing \"name\"");
		goto out;
	}
	ret = join_rules(&c);
	if (!ret)
		ret = take_inbound(&c);
	if (ret)
		goto out;
	p->flags |= ef_loopback_flags(p->loopback);
out:
	for (i = 0; i < 3; i++) {
		size_t k;

		for (k = 0; k < c.lists[i].n; k++)
			ef_rule_clear(&c.lists[i].r[k]);
		free(c.lists[i].r);
		free(c.lists[i].tab);
	}
	cJSON_Delete(root);
	ef_json_fini(&c.d);
	if (ret) {
		ef_policy_free(p);
		return ret;
	}
	*out = p;
	return 0;
}

int ef_policy_load(const char *path, struct ef_policy **out, char *err, size_t errlen)
{
	size_t n = 0, cap = 0;
	char *buf = NULL;
	struct stat st;
	int fd, ret;

	*out = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		ef_fmt(err, errlen, "%s: cannot open: %s", path, strerror(-ret));
		return ret;
	}
	if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
		ret = -EISDIR;
		ef_fmt(err, errlen, "%s: is a directory", path);
		goto out;
	}
	/* Read at most one byte past the limit: enough to know it is too big,
	 * and right for pipes and /proc files whose st_size means nothing. The
	 * buffer grows as needed: most policies are a few KiB. */
	for (;;) {
		ssize_t r;

		if (n == cap) {
			size_t want = cap ? cap * 2 : 64 * 1024;
			char *nb;

			if (cap == EF_POLICY_MAX_BYTES + 1)
				break;
			if (want > EF_POLICY_MAX_BYTES + 1)
				want = EF_POLICY_MAX_BYTES + 1;
			nb = realloc(buf, want);
			if (!nb) {
				ret = -ENOMEM;
				ef_fmt(err, errlen, "%s: out of memory", path);
				goto out;
			}
			buf = nb;
			cap = want;
		}
		r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			ret = -errno;
			ef_fmt(err, errlen, "%s: read error: %s", path, strerror(-ret));
			goto out;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	ret = ef_policy_parse(buf ? buf : "", n, path, out, err, errlen);
out:
	free(buf);
	close(fd);
	return ret;
}

void ef_policy_free(struct ef_policy *p)
{
	size_t i;

	if (!p)
		return;
	for (i = 0; i < p->n_rules; i++)
		ef_rule_clear(&p->rules[i]);
	free(p->rules);
	for (i = 0; i < p->n_inbound; i++)
		ef_rule_clear(&p->inbound[i]);
	free(p->inbound);
	for (i = 0; i < p->n_dns_upstream; i++)
		free(p->dns_upstream[i]);
	free(p->dns_upstream);
	for (i = 0; i < p->n_docker_binds; i++)
		free(p->docker_binds[i]);
	free(p->docker_binds);
	free(p->source);
	free(p->file);
	free(p);
}
