// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * What the DNS proxy decides and learns, and what it records.
 *
 *  - A name is allowed when an allow rule names it (exact, or a wildcard
 *    suffix; policy/names.c). Deny ranges of name rules travel with the
 *    learned address and win there, as for address rules.
 *  - Learned: the A/AAAA addresses an allowed answer gives for the asked
 *    name through its CNAME chain, for this job only (ef_learned is keyed
 *    by the job's cgroup id), with the merged ranges of the name's rules,
 *    until max(TTL, ttl_floor) + ttl_grace. An address already learned
 *    through another name keeps that name's ranges too (CDNs share
 *    addresses). Open connections are never affected by expiry: only
 *    connect and sendmsg consult the map.
 *  - Not learned (DNS rebinding): an answer pointing at a private,
 *    loopback, link-local, multicast or metadata address, unless an allow
 *    rule of the policy covers that address on some port.
 *  - In audit mode every answered address is learned by name with no
 *    ranges, so the records of later connects carry the name.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "egressd.h"
#include "spans/spans.h"
#include "registry/registry.h"
#include "lib/names.h"
#include "lib/procinfo.h"
#include "dns.h"
#include "probe/probe.h"
#include "notices/notices.h"
#include "dnsproxy.h"
#include "lib/util.h"
#include "fence.skel.h"

#define SWEEP_NS (10ull * 1000000000ull)
/* An expired entry stays this long, so that a connect made after the
 * answer ran out is recorded dns_expired (a stale cache, which probe
 * detection does not count), not no_rule; unless the map is half full. */
#define EXPIRED_KEEP_NS (600ull * 1000000000ull)
#define RESOLV_CHECK_NS (1000000000ull)

/* ---- configuration ---- */

/* The config file's "dns" section (NULL: defaults). */
int ef_dns_config(struct ef_daemon *d, const cJSON *sec, const char *path)
{
	static const char *const known[] = { "upstream", "resolv_conf", "ttl_floor_seconds",
					     "ttl_grace_seconds", "timeout_ms", "attempts",
					     "busy_poll_us", "case_randomization", "cache_entries",
					     "cache_max_ttl_seconds", NULL };
	struct ef_dns_cfg *c = &d->cfg.dns;
	const cJSON *up, *rc;
	int ret;

	snprintf(c->resolv_conf, sizeof(c->resolv_conf), "/etc/resolv.conf");
	c->ttl_floor_s = 60;
	c->ttl_grace_s = 30;
	c->timeout_ms = 2000;
	c->attempts = 2;
	c->busy_poll_us = 250;
	c->case_random = true;
	c->cache_entries = 256;
	c->cache_max_ttl_s = 300;
	c->n_up = 0;
	if (!sec)
		return 0;
	if (!cJSON_IsObject(sec)) {
		log_err("%s: \"dns\" must be an object", path);
		return -EINVAL;
	}
	ret = ef_json_known_keys(sec, known, "dns.", path);
	if (ret)
		return ret;
	up = cJSON_GetObjectItem(sec, "upstream");
	if (up) {
		const cJSON *u;

		if (!cJSON_IsArray(up))
			goto bad_up;
		cJSON_ArrayForEach(u, up)
			if (!cJSON_IsString(u) || ef_upstream_add(u->valuestring, c->up, &c->n_up))
				goto bad_up;
	}
	rc = cJSON_GetObjectItem(sec, "case_randomization");
	if (rc) {
		if (!cJSON_IsBool(rc)) {
			log_err("%s: dns.case_randomization must be true or false", path);
			return -EINVAL;
		}
		c->case_random = cJSON_IsTrue(rc);
	}
	rc = cJSON_GetObjectItem(sec, "resolv_conf");
	if (rc) {
		if (!cJSON_IsString(rc) || !rc->valuestring[0] ||
		    strlen(rc->valuestring) >= sizeof(c->resolv_conf)) {
			log_err("%s: dns.resolv_conf must be a path", path);
			return -EINVAL;
		}
		snprintf(c->resolv_conf, sizeof(c->resolv_conf), "%s", rc->valuestring);
	}
	if ((ret = ef_json_u32(sec, "dns", "ttl_floor_seconds", 0, 86400, &c->ttl_floor_s, path)) ||
	    (ret = ef_json_u32(sec, "dns", "ttl_grace_seconds", 0, 86400, &c->ttl_grace_s, path)) ||
	    (ret = ef_json_u32(sec, "dns", "timeout_ms", 10, 60000, &c->timeout_ms, path)) ||
	    (ret = ef_json_u32(sec, "dns", "attempts", 1, 10, &c->attempts, path)) ||
	    (ret = ef_json_u32(sec, "dns", "busy_poll_us", 0, 1000, &c->busy_poll_us, path)) ||
	    (ret = ef_json_u32(sec, "dns", "cache_entries", 0, 4096, &c->cache_entries, path)) ||
	    (ret = ef_json_u32(sec, "dns", "cache_max_ttl_seconds", 1, 86400, &c->cache_max_ttl_s,
			       path)))
		return ret;
	return 0;
bad_up:
	log_err("%s: dns.upstream must be an array of at most %d addresses such as \"1.1.1.1\", "
		"\"1.1.1.1:5353\" or \"[2606:4700::1111]:53\"", path, EF_DNS_MAX_UPSTREAMS);
	return -EINVAL;
}

/* The nameservers of resolv.conf, re-read when the file changes. */
void ef_dns_resolv_refresh(struct ef_daemon *d)
{
	uint64_t now = ef_now_boot_ns();
	struct ef_upstream old[EF_DNS_MAX_UPSTREAMS];
	char *text = NULL, *save = NULL;
	struct stat st;
	size_t n_old;
	int64_t mt;

	if (d->resolv_checked_ns && now - d->resolv_checked_ns < RESOLV_CHECK_NS)
		return;
	d->resolv_checked_ns = now;
	if (stat(d->cfg.dns.resolv_conf, &st) < 0) {
		if (d->n_resolv_up)
			ef_dns_cache_flush_all(d);
		d->n_resolv_up = 0;
		d->resolv_mtime_ns = 0;
		return;
	}
	mt = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
	if (mt == d->resolv_mtime_ns)
		return;
	d->resolv_mtime_ns = mt;
	memcpy(old, d->resolv_up, sizeof(old));
	n_old = d->n_resolv_up;
	d->n_resolv_up = 0;
	if (ef_read_file(d->cfg.dns.resolv_conf, 1 << 16, &text, NULL))
		goto changed;
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char kw[16], addr[80];

		if (sscanf(line, " %15s %79s", kw, addr) != 2 || strcmp(kw, "nameserver"))
			continue;
		addr[strcspn(addr, "%")] = '\0'; /* fe80::1%eth0: scope ids are not kept */
		ef_upstream_add(addr, d->resolv_up, &d->n_resolv_up); /* others are skipped */
	}
	free(text);
	if (!d->n_resolv_up)
		log_warn("%s names no nameserver: DNS queries of jobs will fail (set dns.upstream)",
			 d->cfg.dns.resolv_conf);
changed:
	/* answers kept from the servers it named are not the new servers' */
	for (size_t i = 0; i < n_old || i < d->n_resolv_up; i++)
		if (i >= n_old || i >= d->n_resolv_up || strcmp(old[i].text, d->resolv_up[i].text)) {
			ef_dns_cache_flush_all(d);
			break;
		}
}

/* ---- decisions ---- */

void ef_dns_decide(const struct ef_pol_rec *pol, const char *name, struct ef_dns_decision *dec)
{
	const struct ef_ports *v = NULL;
	int mode = pol->pol->mode;
	__u8 reason;
	__u32 rule_id;

	memset(dec, 0, sizeof(*dec));
	if (pol->names)
		v = ef_name_lookup(pol->names, name, NULL);
	if (v) {
		dec->named = true;
		dec->ports = *v;
	}
	if (ef_name_judge(v, &reason, &rule_id)) {
		dec->verdict = EF_V_ALLOW;
	} else {
		if (reason == EF_R_NO_RULE)
			reason = EF_R_DNS_UNLISTED;
		dec->verdict = mode == EF_MODE_AUDIT ? EF_V_WOULD_DENY : EF_V_DENY;
	}
	dec->reason = reason;
	dec->rule_id = rule_id;
}

/* An allow rule of the policy covers the address on some port. Over the
 * rules, not the compiled entries: those are dropped once in the maps, and
 * this only runs for the rare internal address in an answer. */
static bool allow_rule_covers(const struct ef_policy *p, __u8 family, const __u8 addr[16])
{
	for (size_t i = 0; i < p->n_rules; i++)
		if (!p->rules[i].deny && ef_rule_covers(&p->rules[i], family, addr))
			return true;
	return false;
}

/* DNS rebinding: an internal address is learned only if an allow rule of
 * the version covers it. */
static bool learnable(const struct ef_pol_rec *pol, __u8 family, const __u8 addr[16])
{
	return !ef_addr_internal(family, addr) || allow_rule_covers(pol->pol, family, addr);
}

/* Union of the ranges of an entry still alive and the new ones, the new
 * first; what does not fit is dropped from the old (logged). */
static void ports_merge(struct ef_ports *dst, const struct ef_ports *old)
{
	for (__u16 i = 0; i < old->n && i < EF_MAX_RANGES; i++) {
		const struct ef_port_range *r = &old->r[i];
		bool dup = false;

		for (__u16 k = 0; k < dst->n && !dup; k++)
			dup = dst->r[k].lo == r->lo && dst->r[k].hi == r->hi &&
			      dst->r[k].protos == r->protos && dst->r[k].deny == r->deny;
		if (dup)
			continue;
		if (dst->n == EF_MAX_RANGES) {
			log_warn("dns: an address learned through several names needs more than %d "
				 "port ranges; keeping the newest name's", EF_MAX_RANGES);
			return;
		}
		dst->r[dst->n++] = *r;
	}
}

/* ---- what this job's ef_learned entries hold ----
 *
 * egressd is the only writer of ef_learned, so it can remember what it
 * wrote and skip the lookup and update when a repeated answer would not
 * change the entry (same name and ranges, deadline moved by less than a
 * quarter of its life). Only a cache: dropped whole when it grows large.
 */
#define MIRROR_BUCKETS 4096
#define MIRROR_MAX 100000

struct ef_mirror_ent {
	struct ef_mirror_ent *next;
	__u32 family;
	__u8 addr[16];
	uint64_t expires, name_id, ports_hash;
};

struct ef_learn_mirror {
	struct ef_mirror_ent *b[MIRROR_BUCKETS];
	size_t n;
};

static size_t mirror_slot(const struct ef_learn_key *k)
{
	return ef_fnv1a(k->addr, sizeof(k->addr), EF_FNV1A_INIT + k->family) &
	       (MIRROR_BUCKETS - 1);
}

void ef_dns_mirror_free(struct ef_learn_mirror *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < MIRROR_BUCKETS; i++) {
		while (m->b[i]) {
			struct ef_mirror_ent *e = m->b[i];

			m->b[i] = e->next;
			free(e);
		}
	}
	free(m);
}

static struct ef_mirror_ent *mirror_find(struct ef_learn_mirror *m, const struct ef_learn_key *k)
{
	if (!m)
		return NULL;
	for (struct ef_mirror_ent *e = m->b[mirror_slot(k)]; e; e = e->next)
		if (e->family == k->family && !memcmp(e->addr, k->addr, sizeof(e->addr)))
			return e;
	return NULL;
}

static void mirror_put(struct ef_dns_job *dj, const struct ef_learn_key *k,
		       const struct ef_learn_val *v)
{
	struct ef_mirror_ent *e = mirror_find(dj->mirror, k);

	if (!e) {
		size_t slot = mirror_slot(k);

		if (dj->mirror && dj->mirror->n >= MIRROR_MAX) {
			ef_dns_mirror_free(dj->mirror);
			dj->mirror = NULL;
		}
		if (!dj->mirror && !(dj->mirror = calloc(1, sizeof(*dj->mirror))))
			return;
		if (!(e = calloc(1, sizeof(*e))))
			return;
		e->family = k->family;
		memcpy(e->addr, k->addr, sizeof(e->addr));
		e->next = dj->mirror->b[slot];
		dj->mirror->b[slot] = e;
		dj->mirror->n++;
	}
	e->expires = v->expires_boot_ns;
	e->name_id = v->name_id;
	e->ports_hash = ef_fnv1a(&v->ports, sizeof(v->ports), EF_FNV1A_INIT);
}

/* The entry would not change: same name and ranges, alive, and the new
 * deadline is not much later. */
static bool mirror_unchanged(struct ef_dns_job *dj, const struct ef_learn_key *k,
			     const struct ef_learn_val *v, uint64_t now, uint64_t life_ns)
{
	struct ef_mirror_ent *e = mirror_find(dj->mirror, k);
	uint64_t slack = life_ns / 4 > 1000000000ull ? life_ns / 4 : 1000000000ull;

	return e && e->expires > now && e->name_id == v->name_id &&
	       e->expires + slack >= v->expires_boot_ns &&
	       e->ports_hash == ef_fnv1a(&v->ports, sizeof(v->ports), EF_FNV1A_INIT);
}

int ef_dns_learn(struct ef_daemon *d, const struct ef_dns_pending *p,
		 const struct ef_dns_answer *a, char not_learned[][48], size_t *n_not)
{
	int fd_l = bpf_map__fd(d->skel->maps.ef_learned);
	int fd_n = bpf_map__fd(d->skel->maps.ef_names);
	const struct ef_dns_cfg *cfg = &d->cfg.dns;
	uint64_t now = ef_now_boot_ns(), name_id;
	const struct ef_pol_rec *pol;
	struct ef_dns_decision dec;
	struct ef_name_val nv;

	*n_not = 0;
	if (!p->dj || !a->n_addrs)
		return 0;
	/* The job may have been switched to a new policy version while the
	 * query was out: learn for the version it is judged by now. */
	pol = p->dj->job->pol;
	dec = p->dec;
	if (pol != p->pol)
		ef_dns_decide(pol, p->q.name, &dec);
	if (dec.verdict == EF_V_DENY)
		return 0;
	name_id = ef_name_id(p->q.name);
	/* a name in the cache is in ef_names (an LRU of 65536: a name evicted
	 * from it only costs server.address its name) */
	if (ef_name_remember(d, name_id, p->q.name) != 1) {
		memset(&nv, 0, sizeof(nv));
		snprintf(nv.name, sizeof(nv.name), "%s", p->q.name);
		if (bpf_map_update_elem(fd_n, &name_id, &nv, BPF_ANY))
			return -errno;
	}

	for (size_t i = 0; i < a->n_addrs; i++) {
		const struct ef_dns_addr *x = &a->addrs[i];
		__u8 fam = x->family == 4 ? EF_FAM_V4 : EF_FAM_V6;
		struct ef_learn_key k = { 0 };
		struct ef_learn_val v = { 0 }, old;
		uint64_t life;

		if (!learnable(pol, fam, x->addr)) {
			ef_addr_str(fam, x->addr, not_learned[*n_not], 48);
			(*n_not)++;
			continue;
		}
		k.cgroup_id = p->dj->job->cgroup_id;
		k.policy_id = pol->id;
		k.family = fam;
		memcpy(k.addr, x->addr, fam == EF_FAM_V4 ? 4 : 16);
		life = (uint64_t)(x->ttl > cfg->ttl_floor_s ? x->ttl : cfg->ttl_floor_s) +
		       cfg->ttl_grace_s;
		v.expires_boot_ns = now + life * 1000000000ull;
		v.name_id = name_id;
		if (dec.verdict == EF_V_ALLOW)
			v.ports = dec.ports;
		if (mirror_unchanged(p->dj, &k, &v, now, life * 1000000000ull))
			continue;
		if (!bpf_map_lookup_elem(fd_l, &k, &old) && old.expires_boot_ns > now) {
			if (old.expires_boot_ns > v.expires_boot_ns)
				v.expires_boot_ns = old.expires_boot_ns;
			ports_merge(&v.ports, &old.ports);
		}
		if (bpf_map_update_elem(fd_l, &k, &v, BPF_ANY))
			return -errno;
		mirror_put(p->dj, &k, &v);
	}
	return 0;
}

/* Entries expired EXPIRED_KEEP_NS ago (at once when the map was half
 * full at the last sweep), and entries of jobs or policy versions that are
 * gone, leave the map. The BPF programs check the deadline themselves:
 * this only reclaims space. */
void ef_dns_sweep(struct ef_daemon *d, bool force)
{
	static size_t last_total;
	int fd = bpf_map__fd(d->skel->maps.ef_learned);
	uint64_t now = ef_now_boot_ns(), keep;
	struct ef_learn_key k, next;
	struct ef_learn_val v;
	bool first = true;
	size_t n = 0, total = 0;

	if (!force && now - d->dns_sweep_ns < SWEEP_NS)
		return;
	d->dns_sweep_ns = now;
	keep = EXPIRED_KEEP_NS;
	if (last_total > bpf_map__max_entries(d->skel->maps.ef_learned) / 2)
		keep = 0;
	while (!bpf_map_get_next_key(fd, first ? NULL : &k, &next)) {
		bool drop = false;

		if (!bpf_map_lookup_elem(fd, &next, &v)) {
			const struct ef_job_rec *j = ef_job_by_cgroup(d, next.cgroup_id);

			drop = v.expires_boot_ns + keep <= now || !j || j->pol->id != next.policy_id;
		}
		if (drop && !bpf_map_delete_elem(fd, &next)) {
			n++;
			/* next is gone: continue from the key before it */
			continue;
		}
		total++;
		first = false;
		k = next;
	}
	last_total = total;
	if (n)
		log_debug("dns: %zu learned addresses expired", n);

	/* proxy ports of jobs that ended while egressd was away */
	fd = bpf_map__fd(d->skel->maps.ef_dns_ports);
	{
		__u16 port, nport;
		__u64 owner;

		first = true;
		while (!bpf_map_get_next_key(fd, first ? NULL : &port, &nport)) {
			if (!bpf_map_lookup_elem(fd, &nport, &owner) && !ef_job_by_cgroup(d, owner) &&
			    !bpf_map_delete_elem(fd, &nport))
				continue;
			first = false;
			port = nport;
		}
	}
}

void ef_dns_forget_job(struct ef_daemon *d, uint64_t cgroup_id)
{
	int fd = bpf_map__fd(d->skel->maps.ef_learned);
	struct ef_learn_key k, next;
	bool first = true;

	while (!bpf_map_get_next_key(fd, first ? NULL : &k, &next)) {
		if (next.cgroup_id == cgroup_id && !bpf_map_delete_elem(fd, &next))
			continue;
		first = false;
		k = next;
	}
}

/* ---- the egress.dns span ---- */

/* A job's DNS query, decided and answered, into the fold as a record
 * (EF_FOLD_K_DNS): true if it folded into a span to come (the caller writes
 * no span), as decisions do. */
static bool dns_fold(struct ef_daemon *d, const struct ef_job_rec *j,
		     const struct ef_dns_pending *p, int rcode)
{
	struct ef_event e;
	uint64_t id;

	memset(&e, 0, sizeof(e));
	id = ef_name_id(p->q.name);
	e.ts_boot_ns = ef_now_boot_ns();
	e.cgroup_id = j->cgroup_id;
	e.kind = EF_FOLD_K_DNS;
	e.verdict = (uint8_t)p->dec.verdict;
	e.reason = (uint8_t)p->dec.reason;
	e.rule_id = p->dec.rule_id;
	e.policy_id = p->pol->id;
	e.name_id = id;
	e.port = p->q.qtype;
	e.protocol = (uint16_t)rcode;
	/* answered from the cache or not: two spans, as the span says which */
	e.sock_type = (uint8_t)((p->client.conn ? 1 : 0) | (p->cached ? 2 : 0));
	memcpy(e.addr, &id, sizeof(id));
	/* a job fold names a sample by id: keep the name findable */
	ef_name_remember(d, id, p->q.name);
	return d->up->events_dns_fold(d, &e, p->q.name);
}

/* A job's query and its answer, for probe detection (probe/) */
static void probe_dns(struct ef_daemon *d, struct ef_job_rec *j, const struct ef_dns_pending *p,
		      const struct ef_dns_answer *a, int rcode)
{
	uint8_t addrs[EF_DNS_MAX_ADDRS][16], fams[EF_DNS_MAX_ADDRS];
	struct ef_probe_dns in = {
		.name = p->q.name,
		.verdict = p->dec.verdict,
		.rcode = rcode,
		.names = p->pol->names,
		.addrs = (const uint8_t (*)[16])addrs,
		.families = fams,
	};

	for (size_t i = 0; a && i < a->n_addrs && i < EF_DNS_MAX_ADDRS; i++) {
		memcpy(addrs[i], a->addrs[i].addr, 16);
		fams[i] = a->addrs[i].family == 4 ? EF_FAM_V4 : EF_FAM_V6;
		in.n_addrs++;
	}
	ef_probe_dns(d, j, &in);
}

void ef_dns_record(struct ef_daemon *d, const struct ef_dns_pending *p,
		   const struct ef_dns_answer *a, int rcode, char not_learned[][48], size_t n_not)
{
	const struct ef_policy *pol = p->pol->pol;
	const char *answers[EF_DNS_MAX_ADDRS];
	char texts[EF_DNS_MAX_ADDRS][48], tbuf[24], msg[160];
	struct ef_span *s;
	const struct ef_dns_who *w;
	int n = 0;

	if (p->dj && d->watches && p->dec.verdict != EF_V_ALLOW)
		ef_notice_dns(d, p->dj->job, p->q.name, p->q.qtype, p->dec.verdict, p->dec.reason,
			      p->dec.rule_id < pol->n_rules ? pol->rules[p->dec.rule_id].text : NULL,
			      p->dec.reason == EF_R_DENY_RULE ? "a deny rule names the host"
							       : "no rule names the host");
	/* repeats, and a job over its span budget, fold (events.c, fold.h) */
	if (p->dj && dns_fold(d, p->dj->job, p, rcode)) {
		probe_dns(d, p->dj->job, p, a, rcode);
		return;
	}
	s = ef_span_new(d);
	ef_span_init(s, "egress.dns", EF_KIND_SERVER);
	w = p->client.conn ? (p->client.conn->has_who ? &p->client.conn->who : NULL)
			   : (p->client.has_who ? &p->client.who : NULL);
	if (p->dj) {
		ef_span_job_context(d, s, p->dj->job);
		if (w) /* under the asking process's own span, if it has one */
			ef_span_proc_context(d, s, p->dj->job, w->pid, w->start_boot_ns);
	} else {
		ef_random_bytes(s->trace_id, sizeof(s->trace_id));
	}
	s->start_ns = p->start_real_ns;
	s->end_ns = ef_now_realtime_ns();
	ef_span_str(s, "egress.decision", ef_verdict_name(p->dec.verdict));
	ef_span_str(s, "egress.reason", ef_reason_name(p->dec.reason));
	ef_span_rule(s, p->pol, p->dec.rule_id < pol->n_rules ? pol->rules[p->dec.rule_id].text
							      : NULL);
	ef_span_str(s, "dns.question.name", p->q.name);
	ef_span_str(s, "egress.dns.type", ef_dns_type_name(p->q.qtype, tbuf, sizeof(tbuf)));
	ef_span_str(s, "egress.dns.rcode", ef_dns_rcode_name(rcode, tbuf, sizeof(tbuf)));
	ef_span_str(s, "egress.dns.transport", p->client.conn ? "tcp" : "udp");
	if (a) {
		for (size_t i = 0; i < a->n_addrs && n < EF_DNS_MAX_ADDRS; i++) {
			ef_addr_str(a->addrs[i].family == 4 ? EF_FAM_V4 : EF_FAM_V6, a->addrs[i].addr,
				  texts[n], sizeof(texts[n]));
			answers[n] = texts[n];
			n++;
		}
		if (a->n_cnames) {
			const char *cn[EF_DNS_MAX_CNAMES];

			for (size_t i = 0; i < a->n_cnames; i++)
				cn[i] = a->cnames[i];
			ef_span_strs(s, "egress.dns.cnames", cn, (int)a->n_cnames);
		}
	}
	ef_span_strs(s, "dns.answers", answers, n);
	if (n_not) {
		const char *nl[EF_DNS_MAX_ADDRS];

		for (size_t i = 0; i < n_not; i++)
			nl[i] = not_learned[i];
		ef_span_strs(s, "egress.dns.not_learned", nl, (int)n_not);
	}
	if (p->server_text[0])
		ef_span_str(s, "egress.dns.upstream", p->server_text);
	if (p->cached)
		ef_span_bool(s, "egress.dns.cached", true);
	/* the process that asked (ef_dns_who_find), as decision spans name theirs */
	if (w)
		ef_span_process(d, s, w->pid, w->ppid, w->uid, w->tid, w->start_boot_ns, w->exe,
				w->comm);
	if (p->dec.verdict == EF_V_DENY) {
		s->status = EF_STATUS_ERROR;
		snprintf(msg, sizeof(msg), "%s: %s", p->q.name,
			 p->dec.reason == EF_R_DENY_RULE ? "denied by rule" : "no rule names it");
		s->status_msg = ef_span_strdup(s, msg);
	} else if (rcode == EF_DNS_RCODE_SERVFAIL && p->error[0]) {
		s->status = EF_STATUS_ERROR;
		snprintf(msg, sizeof(msg), "upstream: %s", p->error);
		s->status_msg = ef_span_strdup(s, msg);
	}
	if (p->dj) {
		ef_span_job_attrs(s, p->dj->job);
		/* after the span is complete: a flag adds a span of its own */
		probe_dns(d, p->dj->job, p, a, rcode);
	}
}

/* ---- policy changes ---- */

/*
 * Rewrite job j's learned addresses of version `old` for version `np`,
 * before the job is switched to it: each keeps its deadline and gets the
 * ranges np's name rules give the name it was learned from. An address
 * whose name np no longer allows (enforce mode), whose name is no longer
 * known, or that np's rebinding check refuses, is not carried over: it is
 * forgotten. The entries of `old` stay until ef_dns_forget_version().
 * An address learned through several names keeps only the ranges of the
 * last one (the entry records one name).
 */
int ef_dns_relearn(struct ef_daemon *d, struct ef_job_rec *j, const struct ef_pol_rec *old,
		   const struct ef_pol_rec *np, size_t *carried, size_t *forgotten)
{
	int fd = bpf_map__fd(d->skel->maps.ef_learned);
	struct ef_learn_key k, next;
	struct ef_learn_val v;
	bool first = true;
	int ret = 0;

	*carried = *forgotten = 0;
	/* answers kept under old were asked of its upstream, judged by it */
	if (j->dns)
		ef_dns_cache_flush(d, j->dns);
	while (!bpf_map_get_next_key(fd, first ? NULL : &k, &next)) {
		struct ef_dns_decision dec;
		struct ef_learn_key nk;
		struct ef_learn_val nv;
		const char *name;

		first = false;
		k = next;
		if (next.cgroup_id != j->cgroup_id || next.policy_id != old->id ||
		    bpf_map_lookup_elem(fd, &next, &v))
			continue;
		/* judged as ef_dns_learn() would judge a fresh answer */
		name = ef_name_get(d, v.name_id);
		if (name)
			ef_dns_decide(np, name, &dec);
		if (!name || dec.verdict == EF_V_DENY || !learnable(np, next.family, next.addr)) {
			(*forgotten)++;
			continue;
		}
		nk = next;
		nk.policy_id = np->id;
		nv = v;
		memset(&nv.ports, 0, sizeof(nv.ports));
		if (dec.verdict == EF_V_ALLOW)
			nv.ports = dec.ports;
		if (bpf_map_update_elem(fd, &nk, &nv, BPF_ANY)) {
			ret = -errno;
			break;
		}
		(*carried)++;
	}
	if (j->dns) {
		/* the mirror's entries are keyed without the version */
		ef_dns_mirror_free(j->dns->mirror);
		j->dns->mirror = NULL;
	}
	return ret;
}

/* Drop job `cgroup_id`'s learned addresses of one policy version. */
void ef_dns_forget_version(struct ef_daemon *d, uint64_t cgroup_id, uint32_t policy_id)
{
	int fd = bpf_map__fd(d->skel->maps.ef_learned);
	struct ef_learn_key k, next;
	bool first = true;

	while (!bpf_map_get_next_key(fd, first ? NULL : &k, &next)) {
		if (next.cgroup_id == cgroup_id && next.policy_id == policy_id &&
		    !bpf_map_delete_elem(fd, &next))
			continue;
		first = false;
		k = next;
	}
}
