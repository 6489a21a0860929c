// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Host-name rules -> the name table of one policy version, its lookup for
 * the DNS proxy, and the naive reference the tests hold it against.
 *
 * As with the CIDR entries (compile.c), one lookup must decide, so every
 * entry carries the ranges of everything covering it. What covers a name
 * is a wildcard whose name is a proper label suffix of it: *.b.com and
 * *.com cover a.b.com, and also *.a.b.com (whose name is a.b.com). A
 * wildcard never covers its apex: *.b.com does not cover b.com. The
 * nearest covering wildcard is the longest such suffix; its entry already
 * holds what covers it in turn, so it plays the parent prefix of
 * ef_ports_build(), and the ranges come out as if every covering rule had
 * been merged flat in rule order (which ef_name_lookup_naive() does).
 *
 * Hashing: FNV-1a over the name from its last character to its first. The
 * running hash after the first character of a label is then the hash of
 * the suffix starting there, so one pass over a query gives the hashes of
 * all its suffixes, and a lookup costs that pass plus one probe per label.
 *
 * Build order: by label count. A covering wildcard has fewer labels than
 * what it covers, so its entry is complete before anything inherits it.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define LABEL_MAX 63
/* "a.a.a...": 253 characters hold at most 127 labels */
#define LABELS_MAX ((EF_HOSTNAME_MAX + 1) / 2)

static __u64 h_step(__u64 h, char c)
{
	return (h ^ (unsigned char)c) * 0x100000001b3ull;
}

/* FNV's low bits alone cluster in a power-of-two table: finish with
 * murmur3's fmix64. The kind goes in here, so that the exact name b.com
 * and the wildcard *.b.com (name b.com) land apart. */
static __u32 h_final(__u64 h, bool wildcard)
{
	h ^= wildcard ? 0x9e3779b97f4a7c15ull : 0;
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 33;
	return (__u32)h;
}

/*
 * The label starts of name[0..n) and the raw hashes of the suffixes
 * starting there, shortest suffix first (the whole name is last). Returns
 * the number of labels. `name` must be one that norm_name() accepted.
 */
static int suffixes(const char *name, size_t n, __u16 start[LABELS_MAX], __u64 hash[LABELS_MAX])
{
	__u64 h = 0xcbf29ce484222325ull;
	size_t i = n;
	int k = 0;

	while (i-- > 0) {
		h = h_step(h, name[i]);
		if (i == 0 || name[i - 1] == '.') {
			start[k] = (__u16)i;
			hash[k++] = h;
		}
	}
	return k;
}

/*
 * Copy `s` lowercased, without one trailing dot, into `out`. Returns the
 * length, or -EINVAL for a name that is empty, longer than EF_HOSTNAME_MAX,
 * has an empty label or one longer than 63, or a character other than a
 * letter, digit, '-' or '_'. The character set is the parser's (rule.c);
 * a name outside it can match no rule, and refusing it keeps escaped
 * presentation forms ("a\.b") from being read as something else.
 */
static int norm_name(const char *s, char out[EF_HOSTNAME_MAX + 1])
{
	size_t n = strnlen(s, EF_HOSTNAME_MAX + 2), i, label = 0;

	if (n > 0 && s[n - 1] == '.')
		n--;
	if (n == 0 || n > EF_HOSTNAME_MAX)
		return -EINVAL;
	for (i = 0; i <= n; i++) {
		char c = i < n ? s[i] : '.';

		if (c == '.') {
			if (i == label || i - label > LABEL_MAX)
				return -EINVAL;
			label = i + 1;
			if (i == n)
				break;
		} else if (c >= 'A' && c <= 'Z') {
			c = (char)(c - 'A' + 'a');
		} else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
			     c == '_')) {
			return -EINVAL;
		}
		out[i] = c;
	}
	out[n] = '\0';
	return (int)n;
}

static const char *entry_name(const struct ef_name_entry *e)
{
	return e->pattern + (e->wildcard ? 2 : 0);
}

/*
 * The slot holding (name, wildcard), or the empty slot where it would go.
 * The table is at most half full, so an empty slot is always found. With
 * 100,000 names the entries are far bigger than the caches: the hash in
 * the slot keeps a probe that passes other names from reading them.
 */
static struct ef_name_slot *probe(const struct ef_name_table *t, const char *name, size_t n,
				  bool wildcard, __u32 h)
{
	__u32 i;

	for (i = h & t->mask;; i = (i + 1) & t->mask) {
		struct ef_name_slot *s = &t->slot[i];
		const struct ef_name_entry *e;

		if (!s->idx)
			return s;
		if (s->hash != h)
			continue;
		e = &t->e[s->idx - 1];
		if (e->wildcard == wildcard && e->name_len == n && !memcmp(entry_name(e), name, n))
			return s;
	}
}

static const struct ef_name_entry *find(const struct ef_name_table *t, const char *name, size_t n,
					bool wildcard, __u64 raw)
{
	const struct ef_name_slot *s = probe(t, name, n, wildcard, h_final(raw, wildcard));

	return s->idx ? &t->e[s->idx - 1] : NULL;
}

const struct ef_ports *ef_name_lookup(const struct ef_compiled *c, const char *qname,
				      const char **pattern)
{
	char name[EF_HOSTNAME_MAX + 1];
	__u16 start[LABELS_MAX];
	__u64 hash[LABELS_MAX];
	const struct ef_name_table *t;
	const struct ef_name_entry *e;
	int n, k, i;

	if (pattern)
		*pattern = NULL;
	if (!c || !qname || !c->names.n)
		return NULL;
	t = &c->names;
	n = norm_name(qname, name);
	if (n < 0)
		return NULL;
	k = suffixes(name, (size_t)n, start, hash);
	e = find(t, name, (size_t)n, false, hash[k - 1]);
	/* else the longest wildcard suffix; the name itself is a wildcard's apex */
	for (i = k - 2; !e && i >= 0; i--)
		e = find(t, name + start[i], (size_t)n - start[i], true, hash[i]);
	if (!e)
		return NULL;
	if (pattern)
		*pattern = e->pattern;
	return &e->val;
}

int ef_name_judge(const struct ef_ports *v, __u8 *reason, __u32 *rule_id)
{
	__u32 deny = EF_RULE_NONE;
	unsigned int i;

	for (i = 0; v && i < v->n && i < EF_MAX_RANGES; i++) {
		if (!v->r[i].deny) {
			*reason = EF_R_RULE;
			*rule_id = v->r[i].rule_id;
			return 1;
		}
		if (deny == EF_RULE_NONE)
			deny = v->r[i].rule_id;
	}
	*reason = deny != EF_RULE_NONE ? EF_R_DENY_RULE : EF_R_NO_RULE;
	*rule_id = deny;
	return 0;
}

/* Build-time state of one entry. */
struct pending {
	__u32 first, n; /* its own rules: own[first .. first + n), ascending */
	__u32 parent;	/* index + 1 of the nearest covering wildcard; 0: none */
	__u8 labels;
};

static bool is_name_rule(const struct ef_rule *r)
{
	return r->kind == EF_DEST_NAME || r->kind == EF_DEST_WILDCARD;
}

/* Hand-built rules (CLI, tests) bypass the parser: the table is only right
 * for names in the form lookups compare against. */
static int check_rule(const struct ef_policy *p, size_t i, char *err, size_t errlen)
{
	const struct ef_rule *r = &p->rules[i];
	char buf[EF_HOSTNAME_MAX + 1];

	if (r->name && norm_name(r->name, buf) >= 0 && !strcmp(buf, r->name))
		return 0;
	ef_fmt(err, errlen, "%s:%d:%d: rule %zu: host name not lowercase, or not a valid name",
	       p->file ? p->file : "<policy>", r->line, r->col, i);
	return -EINVAL;
}

static int overflow(const struct ef_policy *p, const struct ef_name_entry *e, __u32 last_rule,
		    char *err, size_t errlen)
{
	/* the most specific rule, last in the file: the one whose entry it is */
	const struct ef_rule *blame = &p->rules[last_rule];

	ef_fmt(err, errlen,
	       "%s:%d:%d: too many port ranges for %s (more than %d, counting those of covering wildcards)",
	       p->file ? p->file : "<policy>", blame->line, blame->col, e->pattern,
	       EF_MAX_RANGES);
	return -E2BIG;
}

int ef_names_compile(const struct ef_policy *p, struct ef_name_table *t, char *err,
		     size_t errlen)
{
	size_t m = 0, text_len = 0, i, j, o = 0;
	struct pending *pend = NULL;
	__u32 *ent = NULL, *ids = NULL, *own = NULL;
	__u32 by_labels[LABELS_MAX + 1] = { 0 };
	__u16 start[LABELS_MAX];
	__u64 hash[LABELS_MAX];
	__u32 cap = 8;
	int ret;

	memset(t, 0, sizeof(*t));
	for (i = 0; i < p->n_rules; i++) {
		if (!is_name_rule(&p->rules[i]))
			continue;
		ret = check_rule(p, i, err, errlen);
		if (ret)
			return ret;
		m++;
		text_len += strlen(p->rules[i].name) + 3; /* "*." and the NUL */
	}
	if (!m)
		return 0;
	/* at most half full: probes stay short and always end */
	if (m > UINT32_MAX / 4)
		return -ENOMEM;
	while (cap < 2 * m)
		cap *= 2;
	t->e = calloc(m, sizeof(*t->e));
	t->slot = calloc(cap, sizeof(*t->slot));
	t->text = malloc(text_len);
	t->mask = cap - 1;
	pend = calloc(m, sizeof(*pend));
	ent = calloc(m, sizeof(*ent));
	ids = calloc(m, sizeof(*ids));
	own = calloc(m, sizeof(*own));
	if (!t->e || !t->slot || !t->text || !pend || !ent || !ids || !own) {
		ret = -ENOMEM;
		goto out;
	}

	/* one entry per distinct (kind, name), patterns copied into t->text */
	for (i = 0, j = 0; i < p->n_rules; i++) {
		const struct ef_rule *r = &p->rules[i];
		bool wild = r->kind == EF_DEST_WILDCARD;
		struct ef_name_slot *s;
		size_t n;
		__u32 h;
		int k;

		if (!is_name_rule(r))
			continue;
		n = strlen(r->name);
		k = suffixes(r->name, n, start, hash);
		h = h_final(hash[k - 1], wild);
		s = probe(t, r->name, n, wild, h);
		if (!s->idx) {
			struct ef_name_entry *e = &t->e[t->n];

			e->pattern = t->text + o;
			if (wild) {
				memcpy(t->text + o, "*.", 2);
				o += 2;
			}
			memcpy(t->text + o, r->name, n + 1);
			o += n + 1;
			e->hash = h;
			e->name_len = (__u16)n;
			e->wildcard = wild;
			pend[t->n].labels = (__u8)k;
			s->hash = h;
			s->idx = (__u32)++t->n;
		}
		ent[j] = s->idx - 1;
		ids[j++] = (__u32)i;
	}

	/* each entry's rules as a slice of own[], in rule order: slice ends by
	 * prefix sums, then filled from the back */
	for (j = 0; j < m; j++)
		pend[ent[j]].n++;
	for (i = 0, o = 0; i < t->n; i++) {
		o += pend[i].n;
		pend[i].first = (__u32)o;
	}
	for (j = m; j-- > 0;)
		own[--pend[ent[j]].first] = ids[j];

	/* parents: the longest proper suffix that is a wildcard of the table */
	for (i = 0; i < t->n; i++) {
		const struct ef_name_entry *e = &t->e[i];
		const char *name = entry_name(e);
		int k = suffixes(name, e->name_len, start, hash), l;

		for (l = k - 2; l >= 0 && !pend[i].parent; l--) {
			const struct ef_name_entry *w =
				find(t, name + start[l], e->name_len - start[l], true, hash[l]);

			if (w)
				pend[i].parent = (__u32)(w - t->e) + 1;
		}
	}

	/* counting sort by label count into ids[], then build in that order */
	for (i = 0; i < t->n; i++)
		by_labels[pend[i].labels]++;
	for (i = 0, o = 0; i <= LABELS_MAX; i++) {
		size_t c = by_labels[i];

		by_labels[i] = (__u32)o;
		o += c;
	}
	for (i = 0; i < t->n; i++)
		ids[by_labels[pend[i].labels]++] = (__u32)i;
	for (i = 0; i < t->n; i++) {
		const struct pending *pe = &pend[ids[i]];
		struct ef_name_entry *e = &t->e[ids[i]];

		ret = ef_ports_build(p, own + pe->first, pe->n,
				     pe->parent ? &t->e[pe->parent - 1].val : NULL, false, &e->val);
		if (ret) {
			ret = overflow(p, e, own[pe->first + pe->n - 1], err, errlen);
			goto out;
		}
	}
	ret = 0;
out:
	free(own);
	free(ids);
	free(ent);
	free(pend);
	if (ret)
		ef_names_free(t);
	return ret;
}

void ef_names_free(struct ef_name_table *t)
{
	if (!t)
		return;
	free(t->e);
	free(t->slot);
	free(t->text);
	memset(t, 0, sizeof(*t));
}

/* `q` is strictly below `s`: it ends with "." followed by s. */
static bool below(const char *q, size_t qn, const char *s)
{
	size_t sn = strlen(s);

	return qn > sn + 1 && q[qn - sn - 1] == '.' && !memcmp(q + qn - sn, s, sn);
}

/*
 * Deliberately nothing shared with the table but the merge: which rules
 * apply is found by comparing strings over every rule, and they are merged
 * flat, with no parent entry.
 */
int ef_name_lookup_naive(const struct ef_policy *p, const char *qname, struct ef_ports *out)
{
	char name[EF_HOSTNAME_MAX + 1];
	size_t i, k = 0, best = 0;
	bool exact = false, wild = false;
	const char *at;
	__u32 *own;
	int n, ret;

	memset(out, 0, sizeof(*out));
	n = qname ? norm_name(qname, name) : -EINVAL;
	if (n < 0)
		return 0;
	for (i = 0; i < p->n_rules; i++) {
		const struct ef_rule *r = &p->rules[i];

		if (!r->name)
			continue;
		if (r->kind == EF_DEST_NAME && !strcmp(r->name, name))
			exact = true;
		if (r->kind == EF_DEST_WILDCARD && below(name, (size_t)n, r->name) &&
		    (!wild || strlen(r->name) > best)) {
			wild = true;
			best = strlen(r->name);
		}
	}
	if (!exact && !wild)
		return 0;
	own = calloc(p->n_rules ? p->n_rules : 1, sizeof(*own));
	if (!own)
		return -ENOMEM;
	/* the pattern deciding: the name itself, else the longest wildcard */
	at = exact ? name : name + n - best;
	for (i = 0; i < p->n_rules; i++) {
		const struct ef_rule *r = &p->rules[i];

		if (!r->name)
			continue;
		if (r->kind == (exact ? EF_DEST_NAME : EF_DEST_WILDCARD) && !strcmp(r->name, at))
			own[k++] = (__u32)i;
		else if (r->kind == EF_DEST_WILDCARD && below(at, strlen(at), r->name))
			own[k++] = (__u32)i;
	}
	ret = ef_ports_build(p, own, k, NULL, false, out);
	free(own);
	return ret ? ret : 1;
}
