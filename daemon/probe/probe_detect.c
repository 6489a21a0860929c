// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The probe detectors of one job. Each counts distinct targets in a
 * sliding window (policy "probe.window_s"): a set of 64-bit target hashes
 * with the time each was last seen, optionally grouped (ports by host,
 * names by registrable domain). A reason fires when its count reaches its
 * threshold, at most once per window: after firing, its count starts over
 * and it stays quiet until the window has passed.
 *
 * Only what the fence refused counts, and not all of that:
 *  - a connected-UDP connect() to an address the job's DNS proxy just gave
 *    it is glibc's getaddrinfo sorting the answer (RFC 6724: it connects a
 *    UDP socket to each address and never sends), not a probe;
 *  - an address whose learned DNS answer expired is a stale cache;
 *  - a denied name that is an allowed name with a search domain appended
 *    (resolv.conf "search"), and single-label names, are the resolver's own
 *    tries.
 * Memory is bounded: a set holds at most SET_MAX targets in its window.
 */
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libpsl.h>

#include "probe_detect.h"

#define SET_MAX (1u << 16)
#define SAMPLE_RING 32

struct pent {
	uint64_t key, group, seen; /* key 0: empty slot */
	uint32_t w;		   /* what the key adds to its group's count */
};

struct gent {
	uint64_t group; /* 0: empty slot */
	uint32_t n;	/* the weights of its keys (1 each, unless pset_add_w) */
};

struct fent {
	uint64_t key, t; /* t: when the key was seen as of this item */
};

/*
 * Distinct keys seen within the window, counted exactly at O(1) amortized
 * per event: a hash (open addressing, linear probing, backward-shift
 * deletion) plus a FIFO of (key, time) in arrival order that holds each
 * key once. Expiry pops the FIFO front while it is older than the window:
 * a key not seen since is deleted; a key seen again since goes to the back
 * with its newer time.
 */
struct pset {
	struct pent *e;
	uint32_t cap, n; /* slots (a power of 2), keys */
	struct gent *g;	 /* group counts, cap slots (grouped sets only) */
	bool grouped;
	struct fent *q;	 /* FIFO ring, cap items */
	uint32_t qhead;
};

/* A target as seen: formatted only if it ends up in evidence. */
enum { T_NAME, T_HOST, T_HOSTPORT, T_PORT };
struct tgt {
	int how;	  /* T_*: what the evidence shows */
	const char *name; /* T_NAME: the name; else the DNS name of the host, or NULL */
	uint8_t family, ipproto;
	uint16_t port;
	const uint8_t *addr;
};

struct sample {
	uint64_t group, key, t;
	bool used;
	uint8_t how, family, ipproto;
	uint16_t port;
	uint8_t addr[16];
	char name[EF_PROBE_TARGET_LEN]; /* "" if none */
};

struct detector {
	struct pset set;
	uint64_t last_fire; /* 0: never */
	struct sample ring[SAMPLE_RING];
	unsigned ring_next;
};

struct ef_pdet {
	struct ef_probe_limits lim;
	uint64_t window_ns;
	struct detector det[EF_PR__MAX];
	struct pset answered; /* addresses the job's DNS proxy answered with */
	struct {
		uint64_t start; /* of the current fixed window; 0: none yet */
		uint64_t cur, prev;
	} flood;
};

static const psl_ctx_t *psl(void)
{
	static const psl_ctx_t *ctx;
	static bool tried;

	if (!tried) {
		/* the system's list (package publicsuffix) if newer, else the built-in */
		ctx = psl_latest(NULL);
		if (!ctx)
			ctx = psl_builtin();
		tried = true;
	}
	return ctx;
}

const char *ef_probe_reason_name(int r)
{
	static const char *const names[] = {
		[EF_PR_DEST_SCAN] = "dest_scan",     [EF_PR_PORT_SCAN] = "port_scan",
		[EF_PR_DNS_SWEEP] = "dns_sweep",     [EF_PR_DNS_TUNNEL] = "dns_tunnel",
		[EF_PR_DNS_FANOUT] = "dns_fanout",   [EF_PR_METADATA] = "metadata",
		[EF_PR_HOST_ADDRESS] = "host_address", [EF_PR_LINK_LOCAL] = "link_local",
		[EF_PR_PRIVATE] = "private_address", [EF_PR_TAMPER] = "tamper",
		[EF_PR_DNS_LABEL_BYTES] = "dns_tunnel_bytes",
		[EF_PR_FLOOD] = "flood",
	};

	return r >= 0 && r < EF_PR__MAX ? names[r] : "unknown";
}

const char *ef_probe_action_name(int a)
{
	switch (a) {
	case EF_PROBE_FREEZE:
		return "freeze";
	case EF_PROBE_KILL:
		return "kill";
	}
	return "alert";
}

void ef_probe_limits_of(const struct ef_probe_cfg *c, struct ef_probe_limits *l)
{
#define PICK(f, def) l->f = c && c->f ? c->f : (def)
	PICK(window_s, EF_PROBE_DEF_WINDOW_S);
	PICK(denied_dests, EF_PROBE_DEF_DENIED_DESTS);
	PICK(denied_names, EF_PROBE_DEF_DENIED_NAMES);
	PICK(ports_per_host, EF_PROBE_DEF_PORTS_PER_HOST);
	PICK(names_per_parent, EF_PROBE_DEF_NAMES_PER_PARENT);
	PICK(tunnel_names, EF_PROBE_DEF_TUNNEL_NAMES);
	PICK(dns_label_bytes, EF_PROBE_DEF_DNS_LABEL_BYTES);
	PICK(flood, EF_PROBE_DEF_FLOOD);
#undef PICK
}

/* ---- sets ---- */

static uint64_t mix(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 33;
	return h ? h : 1;
}

static uint64_t hash_bytes(const void *p, size_t n, uint64_t seed)
{
	return mix(ef_fnv1a(p, n, EF_FNV1A_INIT ^ seed));
}

static struct pent *pset_slot(const struct pset *s, uint64_t key)
{
	uint32_t mask = s->cap - 1, i = (uint32_t)key & mask;

	while (s->e[i].key && s->e[i].key != key)
		i = (i + 1) & mask;
	return &s->e[i];
}

static struct gent *gset_slot(const struct pset *s, uint64_t group)
{
	uint32_t mask = s->cap - 1, i = (uint32_t)group & mask;

	while (s->g[i].group && s->g[i].group != group)
		i = (i + 1) & mask;
	return &s->g[i];
}

static void pset_clear(struct pset *s)
{
	free(s->e);
	free(s->g);
	free(s->q);
	s->e = NULL;
	s->g = NULL;
	s->q = NULL;
	s->cap = s->n = s->qhead = 0;
}

/* Knuth's deletion for linear probing: later entries of the run move up. */
#define BACKSHIFT(arr, mask, hole, keyf)                                                 \
	do {                                                                             \
		uint32_t j_ = (hole);                                                    \
		for (;;) {                                                               \
			uint32_t home_;                                                  \
			j_ = (j_ + 1) & (mask);                                          \
			if (!(arr)[j_].keyf)                                             \
				break;                                                   \
			home_ = (uint32_t)(arr)[j_].keyf & (mask);                        \
			if (((j_ - home_) & (mask)) >= ((j_ - (hole)) & (mask))) {       \
				(arr)[hole] = (arr)[j_];                                 \
				(hole) = j_;                                             \
			}                                                                \
		}                                                                        \
		memset(&(arr)[hole], 0, sizeof((arr)[hole]));                          \
	} while (0)

static void pset_del(struct pset *s, struct pent *e)
{
	uint32_t mask = s->cap - 1, hole = (uint32_t)(e - s->e);

	if (s->grouped) {
		struct gent *g = gset_slot(s, e->group);
		uint32_t gh = (uint32_t)(g - s->g);

		if (g->group) {
			g->n -= g->n < e->w ? g->n : e->w;
			if (!g->n)
				BACKSHIFT(s->g, mask, gh, group);
		}
	}
	BACKSHIFT(s->e, mask, hole, key);
	s->n--;
}

static void fifo_push(struct pset *s, uint64_t key, uint64_t t)
{
	s->q[(s->qhead + s->n - 1) & (s->cap - 1)] = (struct fent){ key, t };
}

/* Into cap slots (more than twice the keys): same keys, FIFO order kept. */
static int pset_resize(struct pset *s, uint32_t cap)
{
	struct pset t = { .cap = cap, .grouped = s->grouped };

	t.e = calloc(cap, sizeof(*t.e));
	t.q = calloc(cap, sizeof(*t.q));
	if (s->grouped)
		t.g = calloc(cap, sizeof(*t.g));
	if (!t.e || !t.q || (s->grouped && !t.g)) {
		free(t.e);
		free(t.q);
		free(t.g);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < s->n; i++) {
		const struct fent *f = &s->q[(s->qhead + i) & (s->cap - 1)];
		const struct pent *e = pset_slot(s, f->key);

		t.q[i] = *f;
		*pset_slot(&t, e->key) = *e;
		if (t.grouped) {
			struct gent *g = gset_slot(&t, e->group);

			g->group = e->group;
			g->n += e->w;
		}
	}
	t.n = s->n;
	pset_clear(s);
	*s = t;
	return 0;
}

static uint64_t since_of(uint64_t now, uint64_t window)
{
	return now > window ? now - window : 0;
}

/* Forget the keys not seen at or after `since`. */
static void pset_expire(struct pset *s, uint64_t since)
{
	while (s->n) {
		struct fent f = s->q[s->qhead];
		struct pent *e;

		if (f.t >= since)
			break;
		s->qhead = (s->qhead + 1) & (s->cap - 1);
		e = pset_slot(s, f.key);
		if (e->seen < since) {
			pset_del(s, e);
		} else {
			/* seen again since: to the back, with that time */
			s->q[(s->qhead + s->n - 1) & (s->cap - 1)] = (struct fent){ f.key, e->seen };
		}
	}
	if (!s->n && s->cap > 64)
		pset_clear(s);
	else if (s->cap > 64 && s->n * 8 < s->cap)
		pset_resize(s, s->cap / 2);
}

/*
 * Add key (in group, weighing w) seen at now; returns the number of
 * distinct keys in the window, or of a grouped set the sum of the weights
 * of the group's keys. A key's weight is the one it was first added with.
 * A set holds at most SET_MAX keys: beyond that new keys are not added
 * (the count stays, exact as far as it goes).
 */
static uint32_t pset_add_w(struct pset *s, uint64_t key, uint64_t group, uint64_t now,
			   uint64_t window, uint32_t w)
{
	struct pent *e;

	if (s->cap)
		pset_expire(s, since_of(now, window));
	if (!s->cap && pset_resize(s, 64))
		return 0;
	e = pset_slot(s, key);
	if (!e->key) {
		if (s->n >= SET_MAX)
			goto out;
		if ((s->n + 1) * 2 > s->cap) {
			if (pset_resize(s, s->cap * 2))
				goto out;
			e = pset_slot(s, key);
		}
		e->key = key;
		e->group = group;
		e->w = w;
		s->n++;
		fifo_push(s, key, now);
		if (s->grouped) {
			struct gent *g = gset_slot(s, group);

			g->group = group;
			g->n = g->n > UINT32_MAX - w ? UINT32_MAX : g->n + w;
		}
	}
	e->seen = now;
out:
	if (s->grouped) {
		const struct gent *g = gset_slot(s, group);

		return g->group ? g->n : 0;
	}
	return s->n;
}

static uint32_t pset_add(struct pset *s, uint64_t key, uint64_t group, uint64_t now,
			 uint64_t window)
{
	return pset_add_w(s, key, group, now, window, 1);
}

static bool pset_has(const struct pset *s, uint64_t key, uint64_t now, uint64_t window)
{
	const struct pent *e;

	if (!s->cap)
		return false;
	e = pset_slot(s, key);
	return e->key == key && e->seen >= since_of(now, window);
}

/* ---- detectors ---- */

struct ef_pdet *ef_pdet_new(const struct ef_probe_limits *l)
{
	struct ef_pdet *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->det[EF_PR_PORT_SCAN].set.grouped = true;
	p->det[EF_PR_DNS_FANOUT].set.grouped = true;
	p->det[EF_PR_DNS_LABEL_BYTES].set.grouped = true;
	ef_pdet_set_limits(p, l);
	return p;
}

void ef_pdet_set_limits(struct ef_pdet *p, const struct ef_probe_limits *l)
{
	p->lim = *l;
	p->window_ns = (uint64_t)l->window_s * 1000000000ull;
}

void ef_pdet_free(struct ef_pdet *p)
{
	if (!p)
		return;
	for (int i = 0; i < EF_PR__MAX; i++)
		pset_clear(&p->det[i].set);
	pset_clear(&p->answered);
	free(p);
}

void ef_pdet_expire(struct ef_pdet *p, uint64_t now_ns)
{
	uint64_t since = since_of(now_ns, p->window_ns);

	for (int i = 0; i < EF_PR__MAX; i++)
		if (p->det[i].set.cap)
			pset_expire(&p->det[i].set, since);
	if (p->answered.cap)
		pset_expire(&p->answered, since);
}

size_t ef_pdet_entries(const struct ef_pdet *p)
{
	size_t n = p->answered.n;

	for (int i = 0; i < EF_PR__MAX; i++)
		n += p->det[i].set.n;
	return n;
}

static void host_text(uint8_t family, const uint8_t *addr, char *out, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	snprintf(out, len, family == EF_FAM_V4 ? "%s" : "[%s]",
		 ef_addr_str(family, addr, a, sizeof(a)));
}

/* What the evidence shows of a sample; `host` only: the host part. */
static void sample_text(const struct sample *s, bool host, char *out, size_t len)
{
	char h[INET6_ADDRSTRLEN + 2];
	const char *proto = s->ipproto == IPPROTO_UDP ? "udp" : "tcp";

	if (s->how == T_NAME || (s->name[0] && (host || s->how == T_HOST))) {
		snprintf(out, len, "%s", s->name);
		return;
	}
	host_text(s->family, s->addr, h, sizeof(h));
	if (host || s->how == T_HOST)
		snprintf(out, len, "%s", h);
	else if (s->how == T_PORT)
		snprintf(out, len, "%u/%s", s->port, proto);
	else
		snprintf(out, len, "%s:%u/%s", h, s->port, proto);
}

static void remember(struct detector *d, uint64_t key, uint64_t group, const struct tgt *t,
		     uint64_t now)
{
	struct sample *last = &d->ring[(d->ring_next + SAMPLE_RING - 1) % SAMPLE_RING], *s;

	if (last->used && last->key == key) {
		last->t = now; /* the same target again: already the most recent */
		return;
	}
	/* an older copy of it goes: each target once in the evidence */
	for (unsigned i = 0; i < SAMPLE_RING; i++)
		if (d->ring[i].key == key)
			d->ring[i].used = false;
	s = &d->ring[d->ring_next];
	s->used = true;
	s->key = key;
	s->group = group;
	s->t = now;
	s->how = (uint8_t)t->how;
	s->family = t->family;
	s->ipproto = t->ipproto;
	s->port = t->port;
	if (t->addr)
		memcpy(s->addr, t->addr, 16);
	s->name[0] = '\0';
	if (t->name) {
		size_t n = strnlen(t->name, sizeof(s->name) - 1);

		memcpy(s->name, t->name, n);
		s->name[n] = '\0';
	}
	d->ring_next = (d->ring_next + 1) % SAMPLE_RING;
}

static bool quiet(const struct ef_pdet *p, const struct detector *d, uint64_t now)
{
	return d->last_fire && now - d->last_fire < p->window_ns;
}

/* Fire reason r: evidence from its ring (of `group` when grouped). */
static int fire(struct ef_pdet *p, int r, uint64_t now, uint32_t count, uint32_t threshold,
		bool by_group, uint64_t group, const char *subject, struct ef_probe_fire *out)
{
	struct detector *d = &p->det[r];

	memset(out, 0, sizeof(*out));
	out->reason = r;
	out->count = count;
	out->threshold = threshold;
	out->window_s = p->lim.window_s;
	if (subject)
		snprintf(out->subject, sizeof(out->subject), "%s", subject);
	for (unsigned k = 1; k <= SAMPLE_RING && out->n_targets < EF_PROBE_SAMPLES; k++) {
		const struct sample *s = &d->ring[(d->ring_next + SAMPLE_RING - k) % SAMPLE_RING];

		/* only what is in the window is evidence */
		if (!s->used || (by_group && s->group != group) || s->t < since_of(now, p->window_ns))
			continue;
		if (!out->subject[0] && r == EF_PR_PORT_SCAN)
			sample_text(s, true, out->subject, sizeof(out->subject));
		sample_text(s, false, out->targets[out->n_targets++], EF_PROBE_TARGET_LEN);
	}
	d->last_fire = now;
	pset_clear(&d->set);
	memset(d->ring, 0, sizeof(d->ring));
	d->ring_next = 0;
	return 1;
}

/* A counting detector: add the target (weighing w in its group), fire at the threshold. */
static int count_w(struct ef_pdet *p, int r, uint64_t key, uint64_t group, uint32_t w,
		   uint64_t now, uint32_t threshold, const struct tgt *t, const char *subject,
		   struct ef_probe_fire *out)
{
	struct detector *d = &p->det[r];
	uint32_t n;

	n = pset_add_w(&d->set, key, group, now, p->window_ns, w);
	remember(d, key, group, t, now);
	if (n < threshold || quiet(p, d, now))
		return 0;
	return fire(p, r, now, n, threshold, d->set.grouped, group, subject, out);
}

static int count(struct ef_pdet *p, int r, uint64_t key, uint64_t group, uint64_t now,
		 uint32_t threshold, const struct tgt *t, const char *subject,
		 struct ef_probe_fire *out)
{
	return count_w(p, r, key, group, 1, now, threshold, t, subject, out);
}

static int first_touch(struct ef_pdet *p, int r, uint64_t now, uint64_t key, const struct tgt *t,
		       struct ef_probe_fire *out)
{
	struct detector *d = &p->det[r];

	if (quiet(p, d, now))
		return 0;
	remember(d, key, 0, t, now);
	return fire(p, r, now, 1, 1, false, 0, NULL, out);
}

static uint64_t addr_key(uint8_t family, const uint8_t *addr)
{
	uint8_t b[17];

	b[0] = family;
	memcpy(b + 1, addr, 16);
	return hash_bytes(b, sizeof(b), 0);
}

int ef_pdet_conn(struct ef_pdet *p, const struct ef_probe_conn *c, struct ef_probe_fire *out)
{
	struct tgt t = { .how = T_HOSTPORT, .family = c->family, .ipproto = c->ipproto,
			 .port = c->port, .addr = c->addr };
	uint64_t hk, pk;
	uint8_t pb[19];
	int n = 0, cls, sens = -1;

	if (c->verdict == EF_V_ALLOW || c->reason == EF_R_DNS_EXPIRED)
		return 0;
	hk = addr_key(c->family, c->addr);
	/* getaddrinfo's RFC 6724 sort: connect(), never send */
	if (c->connect && c->ipproto == IPPROTO_UDP &&
	    (c->learned || pset_has(&p->answered, hk, c->now_ns, p->window_ns)))
		return 0;
	pb[0] = c->family;
	memcpy(pb + 1, c->addr, 16);
	memcpy(pb + 17, &c->port, 2);
	pk = hash_bytes(pb, sizeof(pb), 1);

	cls = ef_addr_class(c->family, c->addr);
	if (cls == EF_AC_METADATA || c->reason == EF_R_METADATA)
		sens = EF_PR_METADATA;
	else if (c->host_address)
		sens = EF_PR_HOST_ADDRESS;
	else if (cls == EF_AC_LINK_LOCAL)
		sens = EF_PR_LINK_LOCAL;
	else if (cls == EF_AC_PRIVATE)
		sens = EF_PR_PRIVATE;
	if (sens >= 0)
		n += first_touch(p, sens, c->now_ns, pk, &t, out + n);

	t.name = c->server;
	t.how = T_HOST;
	n += count(p, EF_PR_DEST_SCAN, hk, 0, c->now_ns, p->lim.denied_dests, &t, NULL, out + n);
	t.how = T_PORT;
	n += count(p, EF_PR_PORT_SCAN, pk, hk, c->now_ns, p->lim.ports_per_host, &t, NULL,
		   out + n);
	return n;
}

double ef_probe_entropy(const char *s, size_t n)
{
	unsigned cnt[256] = { 0 };
	double h = 0;

	if (!n)
		return 0;
	for (size_t i = 0; i < n; i++)
		cnt[(unsigned char)s[i]]++;
	for (int i = 0; i < 256; i++) {
		if (cnt[i]) {
			double q = (double)cnt[i] / (double)n;

			h -= q * log2(q);
		}
	}
	return h;
}

size_t ef_probe_label_bytes(const char *name, const char *registrable)
{
	size_t n = strlen(name), r = registrable ? strlen(registrable) : n;

	/* "x.example.com" below "example.com": "x", the dot before it not counted */
	if (r >= n || name[n - r - 1] != '.' || strcmp(name + n - r, registrable))
		return 0;
	return n - r - 1;
}

bool ef_probe_tunnel_shaped(const char *name, const char *registrable)
{
	size_t below = strlen(name);
	const char *l = name;

	if (registrable) {
		size_t rl = strlen(registrable);

		below = below > rl ? below - rl : 0;
	}
	if (below > 100)
		return true;
	while (*l) {
		const char *dot = strchr(l, '.');
		size_t n = dot ? (size_t)(dot - l) : strlen(l);

		if (n >= 40)
			return true;
		if (n >= 24 && !memchr(l, '-', n) && ef_probe_entropy(l, n) >= 3.8)
			return true;
		if (!dot)
			break;
		l = dot + 1;
	}
	return false;
}

/* "api.github.com.corp.example" when "api.github.com" is allowed: the
 * resolver tried a search domain. Up to three labels off the end. */
static bool search_expansion(const struct ef_compiled *names, const char *name)
{
	char buf[EF_PROBE_TARGET_LEN];
	int labels = 0;

	if (!names || strlen(name) >= sizeof(buf))
		return false;
	strcpy(buf, name);
	for (char *dot; labels < 3 && (dot = strrchr(buf, '.')); labels++) {
		*dot = '\0';
		if (strchr(buf, '.') && ef_name_lookup(names, buf, NULL))
			return true;
	}
	return false;
}

int ef_pdet_dns(struct ef_pdet *p, const struct ef_probe_dns *q, struct ef_probe_fire *out)
{
	struct tgt t = { .how = T_NAME, .name = q->name };
	const char *reg;
	uint64_t nk;
	int n = 0;

	for (size_t i = 0; i < q->n_addrs; i++)
		pset_add(&p->answered, addr_key(q->families[i], q->addrs[i]), 0, q->now_ns,
			 p->window_ns);
	if (!q->name[0])
		return 0;
	nk = hash_bytes(q->name, strlen(q->name), 2);
	reg = psl() ? psl_registrable_domain(psl(), q->name) : NULL;

	if (q->verdict != EF_V_ALLOW || q->rcode == 3 /* NXDOMAIN */) {
		if (strchr(q->name, '.') && !search_expansion(q->names, q->name))
			n += count(p, EF_PR_DNS_SWEEP, nk, 0, q->now_ns, p->lim.denied_names,
				   &t, NULL, out + n);
	}
	if (ef_probe_tunnel_shaped(q->name, reg))
		n += count(p, EF_PR_DNS_TUNNEL, nk, 0, q->now_ns, p->lim.tunnel_names, &t, NULL,
			   out + n);
	if (reg && strcmp(reg, q->name)) {
		uint64_t gk = hash_bytes(reg, strlen(reg), 3);
		size_t below = ef_probe_label_bytes(q->name, reg);

		n += count(p, EF_PR_DNS_FANOUT, nk, gk, q->now_ns, p->lim.names_per_parent,
			   &t, reg, out + n);
		/* what reached the upstream: a name answered here told it nothing */
		if (q->verdict != EF_V_DENY && below)
			n += count_w(p, EF_PR_DNS_LABEL_BYTES, nk, gk,
				     below > UINT32_MAX ? UINT32_MAX : (uint32_t)below, q->now_ns,
				     p->lim.dns_label_bytes, &t, reg, out + n);
	}
	return n;
}

int ef_pdet_flood(struct ef_pdet *p, uint64_t now_ns, struct ef_probe_fire *out)
{
	uint64_t w = p->window_ns ? p->window_ns : 1, est, into;
	struct detector *d = &p->det[EF_PR_FLOOD];

	if (!p->flood.start || now_ns < p->flood.start)
		p->flood.start = now_ns;
	if (now_ns - p->flood.start >= w) {
		uint64_t k = (now_ns - p->flood.start) / w;

		p->flood.prev = k == 1 ? p->flood.cur : 0;
		p->flood.cur = 0;
		p->flood.start += k * w;
	}
	p->flood.cur++;
	into = now_ns - p->flood.start;
	est = p->flood.cur + (uint64_t)((double)p->flood.prev * (double)(w - into) / (double)w);
	if (est < p->lim.flood || quiet(p, d, now_ns))
		return 0;
	return fire(p, EF_PR_FLOOD, now_ns, est > UINT32_MAX ? UINT32_MAX : (uint32_t)est,
		    p->lim.flood, false, 0, NULL, out);
}
