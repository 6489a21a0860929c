// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Folding repeated decisions (see fold.h for what and why).
 *
 * The open folds live in a ring of cap entries in the order they were
 * opened: every window has the same length, so the oldest ends first and
 * expiry only looks at the head. A fold ended out of order (its job ended,
 * or a late record found its window over) leaves a hole the head skips.
 * Lookup is a chained hash over the ring's slots. Each job's budget is a
 * token bucket in a small open-addressing table keyed by cgroup id, whose
 * slots are reused once full again (nothing to remember), never deleted.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fold.h"

#define JOB_SLOTS 1024	 /* jobs with a bucket not full at once */
#define DEST_HASHES 32	 /* distinct destinations a job fold tells apart */
#define PID_SLOTS 16	 /* distinct processes a job fold tells apart */
#define NIL (-1)

/* Every field of the record a span shows, zero-padded for memcmp. */
struct key {
	uint64_t cgroup_id, start_boot_ns, name_id;
	uint64_t cookie; /* tamper records only: their target (a pid, a bpf command) */
	uint32_t pid, uid, policy_id, rule_id;
	uint8_t kind, verdict, reason, family, sock_type, family2, by_job, pad;
	uint16_t protocol, port, port2, pad2;
	uint8_t addr[16], addr2[16];
	char exe[EF_EXE_LEN], comm[EF_COMM_LEN];
};

/* hashed a word at a time (key_hash) */
_Static_assert(sizeof(struct key) % 8 == 0, "fold key: whole words");

struct ent {
	struct key k;
	uint64_t hash, win_end;
	int32_t next; /* hash chain */
	bool used;
	struct ef_fold_sum s;
	uint64_t dest_h[DEST_HASHES];
	uint32_t pids[PID_SLOTS];
};

struct jb {
	uint64_t cg, last;  /* when tokens was last brought up to date */
	uint64_t tokens;    /* in 1/1e9 of a span: spans * 1e9 */
	bool used;
};

struct ef_fold {
	uint64_t window_ns;
	uint64_t burst, rate; /* tokens: spans * 1e9; rate per ns in the same unit */
	uint32_t cap, nb;
	ef_fold_emit_fn emit;
	void *ctx;
	struct ent *ring;
	uint32_t head, n; /* ring: slots head .. head+n-1 (holes included) */
	uint32_t open;
	int32_t *bucket;
	struct jb jobs[JOB_SLOTS];
	uint64_t folded, spans;
};

static uint64_t hash_bytes(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ull;
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	return h;
}

#define TOKEN 1000000000ull

/* The key is hashed on every record: a word at a time, not a byte. */
static uint64_t key_hash(const struct key *k)
{
	const unsigned char *p = (const unsigned char *)k;
	uint64_t h = 0x9e3779b97f4a7c15ull;

	for (size_t i = 0; i < sizeof(*k); i += 8) {
		uint64_t w;

		memcpy(&w, p + i, 8);
		h = (h ^ w) * 0xff51afd7ed558ccdull;
		h ^= h >> 32;
	}
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 33;
	return h;
}

struct ef_fold *ef_fold_new(uint64_t window_ns, uint32_t burst, uint32_t rate, uint32_t cap,
			    ef_fold_emit_fn emit, void *ctx)
{
	struct ef_fold *f = calloc(1, sizeof(*f));

	if (!f)
		return NULL;
	f->window_ns = window_ns;
	f->burst = (uint64_t)burst * TOKEN;
	f->rate = rate; /* tokens per ns: rate spans a second */
	f->cap = cap < 2 ? 2 : cap;
	for (f->nb = 16; f->nb < f->cap * 2; f->nb <<= 1)
		;
	f->emit = emit;
	f->ctx = ctx;
	f->ring = calloc(f->cap, sizeof(*f->ring));
	f->bucket = malloc(f->nb * sizeof(*f->bucket));
	if (!f->ring || !f->bucket) {
		ef_fold_free(f);
		return NULL;
	}
	for (uint32_t i = 0; i < f->nb; i++)
		f->bucket[i] = NIL;
	return f;
}

void ef_fold_free(struct ef_fold *f)
{
	if (!f)
		return;
	free(f->ring);
	free(f->bucket);
	free(f);
}

static void key_of(struct key *k, const struct ef_event *e, bool by_job)
{
	memset(k, 0, sizeof(*k));
	k->cgroup_id = e->cgroup_id;
	k->kind = e->kind;
	k->verdict = e->verdict;
	k->reason = e->reason;
	k->by_job = by_job;
	/* a job fold still names the rule: a job that spends its budget on
	 * decoys cannot hide which allow rule it used (or which deny rule hit) */
	k->policy_id = e->policy_id;
	k->rule_id = e->rule_id;
	if (by_job)
		return;
	k->start_boot_ns = e->start_boot_ns;
	k->name_id = e->name_id;
	if (e->kind == EF_K_TAMPER)
		k->cookie = e->cookie;
	k->pid = e->pid;
	k->uid = e->uid;
	k->policy_id = e->policy_id;
	k->rule_id = e->rule_id;
	k->family = e->family;
	k->sock_type = e->sock_type;
	k->family2 = e->family2;
	k->protocol = e->protocol;
	k->port = e->port;
	k->port2 = e->port2;
	memcpy(k->addr, e->addr, 16);
	memcpy(k->addr2, e->addr2, 16);
	/* up to its NUL: the kernel side writes the name and its NUL, not what
	 * follows, which is whatever the ring held there before (another
	 * record's bytes, since records of other sizes shifted the ring) */
	memcpy(k->exe, e->exe, strnlen(e->exe, EF_EXE_LEN));
	memcpy(k->comm, e->comm, strnlen(e->comm, EF_COMM_LEN));
}

static struct ent *lookup(struct ef_fold *f, const struct key *k, uint64_t h)
{
	for (int32_t i = f->bucket[h & (f->nb - 1)]; i != NIL; i = f->ring[i].next)
		if (f->ring[i].hash == h && !memcmp(&f->ring[i].k, k, sizeof(*k)))
			return &f->ring[i];
	return NULL;
}

/* Emit (if it folded anything) and free one fold. */
static void end(struct ef_fold *f, struct ent *x)
{
	int32_t idx = (int32_t)(x - f->ring), *pp = &f->bucket[x->hash & (f->nb - 1)];

	if (x->s.count) {
		f->spans++;
		f->emit(f->ctx, &x->s);
	}
	while (*pp != NIL && *pp != idx)
		pp = &f->ring[*pp].next;
	if (*pp == idx)
		*pp = x->next;
	x->used = false;
	f->open--;
	/* the head moves past holes */
	while (f->n && !f->ring[f->head].used) {
		f->head = (f->head + 1) % f->cap;
		f->n--;
	}
}

static struct ent *open_fold(struct ef_fold *f, const struct key *k, uint64_t h,
			     const struct ef_event *e)
{
	struct ent *x;
	uint32_t slot;

	if (f->n == f->cap)
		end(f, &f->ring[f->head]); /* full: the oldest window ends early */
	slot = (f->head + f->n) % f->cap;
	f->n++;
	x = &f->ring[slot];
	memset(&x->s, 0, sizeof(x->s));
	x->k = *k;
	x->hash = h;
	x->used = true;
	x->win_end = e->ts_boot_ns + f->window_ns;
	x->s.by_job = k->by_job;
	x->next = f->bucket[h & (f->nb - 1)];
	f->bucket[h & (f->nb - 1)] = (int32_t)slot;
	f->open++;
	return x;
}

static void refill(const struct ef_fold *f, struct jb *b, uint64_t now)
{
	if (now > b->last) {
		uint64_t dt = now - b->last;

		/* dt * rate cannot overflow before the bucket is full anyway */
		b->tokens = dt >= f->burst / (f->rate ? f->rate : 1) ? f->burst
			    : b->tokens + dt * f->rate;
		if (b->tokens > f->burst)
			b->tokens = f->burst;
		b->last = now;
	}
}

/* The job's bucket: true (and one span spent) while it may write a span at
 * once. A slot whose bucket is full again holds nothing worth keeping. */
static bool spend(struct ef_fold *f, uint64_t cg, uint64_t now)
{
	uint32_t i = (uint32_t)hash_bytes(&cg, sizeof(cg)) & (JOB_SLOTS - 1);
	struct jb *free_slot = NULL, *b = NULL;

	for (uint32_t n = 0; n < JOB_SLOTS; n++, i = (i + 1) & (JOB_SLOTS - 1)) {
		struct jb *s = &f->jobs[i];

		if (s->used && s->cg == cg) {
			b = s;
			break;
		}
		if (s->used)
			refill(f, s, now);
		if (!free_slot && (!s->used || s->tokens == f->burst))
			free_slot = s;
		if (!s->used)
			break;
	}
	if (!b) {
		if (!free_slot)
			return true; /* no room to count: write (the ring bounds it) */
		b = free_slot;
		b->used = true;
		b->cg = cg;
		b->tokens = f->burst;
		b->last = now;
	}
	refill(f, b, now);
	if (b->tokens < TOKEN)
		return false;
	b->tokens -= TOKEN;
	return true;
}

static void job_fold_note(struct ent *x, const struct ef_event *e)
{
	struct ef_fold_dest d = { .family = e->family, .port = e->port, .protocol = e->protocol };
	uint64_t h;
	int i;

	memcpy(d.addr, e->addr, 16);
	h = hash_bytes(&d, sizeof(d)) | 1;
	for (i = 0; i < DEST_HASHES && x->dest_h[i] && x->dest_h[i] != h; i++)
		;
	if (i < DEST_HASHES && !x->dest_h[i]) {
		x->dest_h[i] = h;
		x->s.n_dests++;
		if (x->s.n_sample < EF_FOLD_DESTS)
			x->s.sample[x->s.n_sample++] = d;
	}
	for (i = 0; i < PID_SLOTS && x->pids[i] && x->pids[i] != e->pid; i++)
		;
	if (i < PID_SLOTS && !x->pids[i]) {
		x->pids[i] = e->pid ? e->pid : 1;
		x->s.n_pids++;
	}
}

static void fold_into(struct ef_fold *f, struct ent *x, const struct ef_event *e,
		      const char *name)
{
	if (name)
		snprintf(x->s.name, sizeof(x->s.name), "%s", name);
	if (!x->s.count)
		x->s.first_ns = e->ts_boot_ns;
	if (e->ts_boot_ns > x->s.last_ns)
		x->s.last_ns = e->ts_boot_ns;
	if (e->ts_boot_ns < x->s.first_ns)
		x->s.first_ns = e->ts_boot_ns;
	x->s.count++;
	x->s.e = *e;
	if (x->k.by_job)
		job_fold_note(x, e);
	f->folded++;
}

bool ef_fold_add(struct ef_fold *f, const struct ef_event *e)
{
	return ef_fold_add_named(f, e, NULL);
}

bool ef_fold_add_named(struct ef_fold *f, const struct ef_event *e, const char *name)
{
	struct key k;
	struct ent *x;
	uint64_t h;

	key_of(&k, e, false);
	h = key_hash(&k);
	x = lookup(f, &k, h);
	if (x && e->ts_boot_ns >= x->win_end) {
		end(f, x);
		x = NULL;
	}
	if (x) {
		fold_into(f, x, e, name);
		return true;
	}
	if (spend(f, e->cgroup_id, e->ts_boot_ns)) {
		/* written now; its repeats in the window are counted */
		open_fold(f, &k, h, e);
		return false;
	}
	key_of(&k, e, true);
	h = key_hash(&k);
	x = lookup(f, &k, h);
	if (x && e->ts_boot_ns >= x->win_end) {
		end(f, x);
		x = NULL;
	}
	if (!x)
		x = open_fold(f, &k, h, e);
	fold_into(f, x, e, name);
	return true;
}

void ef_fold_expire(struct ef_fold *f, uint64_t now_ns)
{
	while (f->n) {
		struct ent *x = &f->ring[f->head];

		if (x->used && x->win_end > now_ns)
			break;
		if (x->used) {
			end(f, x);
		} else {
			f->head = (f->head + 1) % f->cap;
			f->n--;
		}
	}
}

void ef_fold_flush(struct ef_fold *f, uint64_t cgroup_id, bool all)
{
	for (uint32_t i = 0, n = f->n, start = f->head; i < n; i++) {
		struct ent *x = &f->ring[(start + i) % f->cap];

		if (x->used && (all || x->k.cgroup_id == cgroup_id))
			end(f, x);
	}
	if (all)
		memset(f->jobs, 0, sizeof(f->jobs));
}

uint32_t ef_fold_open(const struct ef_fold *f)
{
	return f->open;
}

uint64_t ef_fold_folded(const struct ef_fold *f)
{
	return f->folded;
}

uint64_t ef_fold_spans(const struct ef_fold *f)
{
	return f->spans;
}
