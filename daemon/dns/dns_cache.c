// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * A job's DNS answers, kept for their TTL so that the job's next query for
 * the same question is answered here rather than upstream: one loopback
 * round trip instead of two plus the upstream's, as any caching resolver
 * does (dnsmasq, systemd-resolved). Per job: one job's lookups never answer
 * another's (nor tell it, by their speed, what the other asked).
 *
 * Nothing about a query's judgement changes. Every query is still judged by
 * the job's policy first (a denied name never reaches the cache), still
 * learned into ef_learned through ef_dns_learn() with the policy the job has
 * now (deny rules, the rebinding check), still answered only once learned,
 * and still recorded as an egress.dns span (egress.dns.cached). What the
 * cache saves is the upstream: no query leaves the host for a cached answer,
 * and none is taken from the job's query bucket.
 *
 * Kept: NOERROR and NXDOMAIN answers, whole (not truncated), at most
 * CACHE_MSG_MAX bytes, with at least one record to give a TTL (a negative
 * answer's SOA, RFC 2308) and none of them 0, and no name that runs through
 * a TTL field (ef_dns_answer_keepable: aging would change it). An answer lives for the least
 * TTL of its records (a negative answer's SOA counts its MINIMUM too, RFC
 * 2308), at most dns.cache_max_ttl_seconds, on the boot clock as learned
 * addresses are; it is served with its TTLs lowered by the seconds it was
 * kept, the job's own id, RD bit and spelling. What the answer gives (its
 * addresses and CNAME chain) is kept as parsed when it came: a hit costs no
 * parse, so a job asking one question over and over (which the query bucket
 * does not limit: nothing goes upstream) costs egressd what a refused name
 * does, whatever the answer holds. The key is the question (name ignoring ASCII case, type) and
 * what shapes the answer the proxy asked for: EDNS0 or not, the DO and CD
 * bits. The cache is emptied when the job's policy version changes (its
 * upstream may be another) and when the job ends; at dns.cache_entries
 * answers the least recently used goes. 0 entries turns it off.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "egressd.h"
#include "dnsproxy.h"
#include "lib/util.h"

#define CACHE_BUCKETS 256

struct ef_dns_cache_ent {
	struct ef_dns_cache_ent *hnext;	      /* bucket chain */
	struct ef_dns_cache_ent *prev, *next; /* most recently used first */
	uint64_t stored_ns, expires_ns;	      /* CLOCK_BOOTTIME */
	uint32_t hash;
	uint16_t qtype;
	uint8_t flags;
	uint8_t name_len;
	uint8_t name[255]; /* the question as spelt in msg (wire form) */
	char server_text[64];
	size_t len;
	/* what ef_dns_answer_parse() found in msg, addresses' TTLs as stored */
	int rcode;
	bool truncated_list;
	uint8_t n_addrs, n_cnames;
	struct ef_dns_addr *addrs;			/* n_addrs, after msg */
	char (*cnames)[EF_DNS_NAME_MAX];		/* n_cnames, after addrs */
	uint8_t msg[];
};

struct ef_dns_cache {
	struct ef_dns_cache_ent *bucket[CACHE_BUCKETS];
	struct ef_dns_cache_ent *head, *tail;
	size_t n;
};

enum { KEY_EDNS = 1, KEY_DO = 2, KEY_CD = 4 };

static uint8_t key_flags(const struct ef_dns_query *q)
{
	return (uint8_t)((q->has_edns ? KEY_EDNS : 0) | (q->dnssec_ok ? KEY_DO : 0) |
			 (q->cd ? KEY_CD : 0));
}

/* Over q->name (lowercase, one string per wire name: dnsmsg.h), the type
 * and the flags. */
static uint32_t key_hash(const struct ef_dns_query *q, uint8_t flags)
{
	uint64_t h = ef_fnv1a(q->name, strlen(q->name), EF_FNV1A_INIT);

	h = ef_fnv1a(&q->qtype, sizeof(q->qtype), h);
	h = ef_fnv1a(&flags, sizeof(flags), h);
	return (uint32_t)(h ^ h >> 32);
}

static void unlink_ent(struct ef_dns_cache *c, struct ef_dns_cache_ent *e)
{
	struct ef_dns_cache_ent **pp = &c->bucket[e->hash % CACHE_BUCKETS];

	while (*pp != e)
		pp = &(*pp)->hnext;
	*pp = e->hnext;
	if (e->prev)
		e->prev->next = e->next;
	else
		c->head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		c->tail = e->prev;
	c->n--;
}

static void drop(struct ef_daemon *d, struct ef_dns_cache *c, struct ef_dns_cache_ent *e)
{
	unlink_ent(c, e);
	d->dns_cache_n--;
	free(e);
}

static struct ef_dns_cache_ent *find(struct ef_dns_cache *c, const struct ef_dns_query *q,
				     uint8_t flags, uint32_t h)
{
	for (struct ef_dns_cache_ent *e = c->bucket[h % CACHE_BUCKETS]; e; e = e->hnext)
		if (e->hash == h && e->qtype == q->qtype && e->flags == flags &&
		    e->name_len == q->qwire_len &&
		    ef_dns_wire_eq_fold(e->name, q->qwire, e->name_len))
			return e;
	return NULL;
}

static void to_front(struct ef_dns_cache *c, struct ef_dns_cache_ent *e)
{
	if (c->head == e)
		return;
	e->prev->next = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		c->tail = e->prev;
	e->prev = NULL;
	e->next = c->head;
	c->head->prev = e;
	c->head = e;
}

void ef_dns_cache_flush(struct ef_daemon *d, struct ef_dns_job *dj)
{
	struct ef_dns_cache *c = dj->cache;

	if (!c)
		return;
	while (c->head)
		drop(d, c, c->head);
	free(c);
	dj->cache = NULL;
}

void ef_dns_cache_put(struct ef_daemon *d, struct ef_dns_job *dj, const struct ef_dns_query *q,
		      const char *server_text, const uint8_t *msg, size_t len,
		      const struct ef_dns_answer *a)
{
	const struct ef_dns_cfg *cfg = &d->cfg.dns;
	struct ef_dns_cache_ent *e;
	struct ef_dns_cache *c;
	uint32_t ttl, h;
	uint8_t flags;

	if (!cfg->cache_entries || len > CACHE_MSG_MAX || a->tc ||
	    (a->rcode != EF_DNS_RCODE_NOERROR && a->rcode != EF_DNS_RCODE_NXDOMAIN) ||
	    !q->qwire_len)
		return;
	{
		size_t off_a = (sizeof(*e) + len + 7) & ~(size_t)7;
		size_t off_c = off_a + a->n_addrs * sizeof(struct ef_dns_addr);

		e = malloc(off_c + a->n_cnames * (size_t)EF_DNS_NAME_MAX);
		if (!e)
			return;
		e->addrs = (struct ef_dns_addr *)((char *)e + off_a);
		e->cnames = (char (*)[EF_DNS_NAME_MAX])((char *)e + off_c);
	}
	memcpy(e->msg, msg, len);
	e->rcode = a->rcode;
	e->truncated_list = a->truncated_list;
	e->n_addrs = (uint8_t)a->n_addrs;
	e->n_cnames = (uint8_t)a->n_cnames;
	memcpy(e->addrs, a->addrs, a->n_addrs * sizeof(struct ef_dns_addr));
	memcpy(e->cnames, a->cnames, a->n_cnames * (size_t)EF_DNS_NAME_MAX);
	/* age 0: TTLs as they will be served (a top-bit TTL as 0, an SOA's at
	 * most its MINIMUM), the least of them, and the framing checked, so
	 * what is served later ages cleanly */
	if (ef_dns_answer_age(e->msg, len, 0, &ttl) || ttl == 0 || ttl == UINT32_MAX ||
	    ef_dns_answer_keepable(e->msg, len)) {
		free(e);
		return;
	}
	if (ttl > cfg->cache_max_ttl_s)
		ttl = cfg->cache_max_ttl_s;
	if (!dj->cache && !(dj->cache = calloc(1, sizeof(*dj->cache)))) {
		free(e);
		return;
	}
	c = dj->cache;
	flags = key_flags(q);
	h = key_hash(q, flags);
	{
		struct ef_dns_cache_ent *old = find(c, q, flags, h);

		if (old)
			drop(d, c, old);
	}
	while (c->n >= cfg->cache_entries && c->tail)
		drop(d, c, c->tail);
	e->len = len;
	e->hash = h;
	e->qtype = q->qtype;
	e->flags = flags;
	e->name_len = q->qwire_len;
	memcpy(e->name, q->qwire, q->qwire_len);
	snprintf(e->server_text, sizeof(e->server_text), "%s", server_text);
	e->stored_ns = ef_now_boot_ns();
	e->expires_ns = e->stored_ns + (uint64_t)ttl * 1000000000ull;
	e->hnext = c->bucket[h % CACHE_BUCKETS];
	c->bucket[h % CACHE_BUCKETS] = e;
	e->prev = NULL;
	e->next = c->head;
	if (c->head)
		c->head->prev = e;
	else
		c->tail = e;
	c->head = e;
	c->n++;
	d->dns_cache_n++;
}

int ef_dns_cache_get(struct ef_daemon *d, struct ef_dns_job *dj, const struct ef_dns_query *q,
		     uint8_t *out, size_t outlen, size_t *len, char server_text[64],
		     struct ef_dns_answer *a)
{
	struct ef_dns_cache *c = dj->cache;
	struct ef_dns_cache_ent *e;
	uint32_t least, age;
	uint64_t now;

	if (!c || !q->qwire_len)
		return -ENOENT;
	e = find(c, q, key_flags(q), key_hash(q, key_flags(q)));
	if (!e)
		return -ENOENT;
	now = ef_now_boot_ns();
	if (now >= e->expires_ns || e->len > outlen) {
		drop(d, c, e);
		return -ENOENT;
	}
	age = (uint32_t)((now - e->stored_ns) / 1000000000ull);
	memcpy(out, e->msg, e->len);
	if (ef_dns_answer_age(out, e->len, age, &least) ||
	    ef_dns_answer_spelling(out, e->len, e->name, e->name_len, q->qwire)) {
		drop(d, c, e);
		return -ENOENT;
	}
	a->id = q->id; /* the message's: ef_dns_release() writes it */
	a->rcode = e->rcode;
	a->tc = false;
	a->truncated_list = e->truncated_list;
	a->n_addrs = e->n_addrs;
	a->n_cnames = e->n_cnames;
	for (size_t i = 0; i < e->n_addrs; i++) {
		a->addrs[i] = e->addrs[i];
		a->addrs[i].ttl = e->addrs[i].ttl > age ? e->addrs[i].ttl - age : 0;
	}
	memcpy(a->cnames, e->cnames, e->n_cnames * (size_t)EF_DNS_NAME_MAX);
	to_front(c, e);
	*len = e->len;
	snprintf(server_text, 64, "%s", e->server_text);
	return 0;
}

void ef_dns_cache_flush_all(struct ef_daemon *d)
{
	for (struct ef_job_rec *j = d->jobs; j; j = j->next)
		if (j->dns)
			ef_dns_cache_flush(d, j->dns);
}
