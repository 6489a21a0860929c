// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Policy text edits for `egressctl policy add/remove`, and the canonical
 * rendering they write. The file is parsed twice: by ef_policy_parse(),
 * which validates it and gives each rule its meaning, and by cJSON, which
 * keeps every key in order with its value; the i-th string of the edited
 * list is the i-th rule of that list in struct ef_policy. What is written
 * is parsed again before it is handed back, so an edit never produces a
 * file egressd would refuse.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* ---- a growing output buffer ---- */

struct sb {
	char *s;
	size_t n, cap;
	bool oom;
};

static void sb_put(struct sb *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->n + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		char *ns;

		while (cap < b->n + n + 1)
			cap *= 2;
		ns = realloc(b->s, cap);
		if (!ns) {
			b->oom = true;
			return;
		}
		b->s = ns;
		b->cap = cap;
	}
	memcpy(b->s + b->n, s, n);
	b->n += n;
	b->s[b->n] = '\0';
}

static void sb_str(struct sb *b, const char *s)
{
	sb_put(b, s, strlen(s));
}

static void sb_indent(struct sb *b, int n)
{
	static const char sp[] = "                                ";

	while (n > 0) {
		int k = n < (int)sizeof(sp) - 1 ? n : (int)sizeof(sp) - 1;

		sb_put(b, sp, (size_t)k);
		n -= k;
	}
}

/* ---- canonical JSON ---- */

#define INDENT 2

/* Quotes, backslashes and control characters escaped, the shortest way;
 * everything else (UTF-8 included) as it is. */
static void put_string(struct sb *b, const char *s)
{
	const char *run = s;
	char esc[8];

	sb_put(b, "\"", 1);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		const char *e = NULL;

		switch (c) {
		case '"':
			e = "\\\"";
			break;
		case '\\':
			e = "\\\\";
			break;
		case '\b':
			e = "\\b";
			break;
		case '\f':
			e = "\\f";
			break;
		case '\n':
			e = "\\n";
			break;
		case '\r':
			e = "\\r";
			break;
		case '\t':
			e = "\\t";
			break;
		default:
			if (c < 0x20) {
				snprintf(esc, sizeof(esc), "\\u%04x", c);
				e = esc;
			}
		}
		if (!e)
			continue;
		sb_put(b, run, (size_t)(s - run));
		sb_str(b, e);
		run = s + 1;
	}
	sb_put(b, run, (size_t)(s - run));
	sb_put(b, "\"", 1);
}

/* The parser accepts only whole numbers (thresholds, family numbers);
 * anything else still round-trips through %.17g. */
static void put_number(struct sb *b, double d)
{
	char buf[40];

	if (d > -1e15 && d < 1e15 && d == (double)(long long)d)
		snprintf(buf, sizeof(buf), "%lld", (long long)d);
	else
		snprintf(buf, sizeof(buf), "%.17g", d);
	sb_str(b, buf);
}

static bool is_container(const cJSON *v)
{
	return cJSON_IsArray(v) || cJSON_IsObject(v);
}

static void put_value(struct sb *b, const cJSON *v, int indent, bool one_per_line);

static void put_array(struct sb *b, const cJSON *v, int indent, bool one_per_line)
{
	const cJSON *it;
	bool first = true;

	if (!v->child) {
		sb_str(b, "[]");
		return;
	}
	cJSON_ArrayForEach(it, v)
		one_per_line |= is_container(it);
	sb_put(b, "[", 1);
	cJSON_ArrayForEach(it, v) {
		if (!first)
			sb_put(b, ",", 1);
		if (one_per_line) {
			sb_put(b, "\n", 1);
			sb_indent(b, indent + INDENT);
		} else if (!first) {
			sb_put(b, " ", 1);
		}
		put_value(b, it, indent + INDENT, false);
		first = false;
	}
	if (one_per_line) {
		sb_put(b, "\n", 1);
		sb_indent(b, indent);
	}
	sb_put(b, "]", 1);
}

static void put_object(struct sb *b, const cJSON *v, int indent)
{
	const cJSON *it;
	bool first = true;

	if (!v->child) {
		sb_str(b, "{}");
		return;
	}
	sb_put(b, "{", 1);
	cJSON_ArrayForEach(it, v) {
		sb_str(b, first ? "\n" : ",\n");
		sb_indent(b, indent + INDENT);
		put_string(b, it->string);
		sb_str(b, ": ");
		put_value(b, it, indent + INDENT, false);
		first = false;
	}
	sb_put(b, "\n", 1);
	sb_indent(b, indent);
	sb_put(b, "}", 1);
}

static void put_value(struct sb *b, const cJSON *v, int indent, bool one_per_line)
{
	if (cJSON_IsObject(v))
		put_object(b, v, indent);
	else if (cJSON_IsArray(v))
		put_array(b, v, indent, one_per_line);
	else if (cJSON_IsString(v))
		put_string(b, v->valuestring);
	else if (cJSON_IsNumber(v))
		put_number(b, v->valuedouble);
	else if (cJSON_IsTrue(v))
		sb_str(b, "true");
	else if (cJSON_IsFalse(v))
		sb_str(b, "false");
	else
		sb_str(b, "null");
}

/* ---- the edited list ---- */

struct item {
	const char *text;	  /* as written */
	const struct ef_rule *r;  /* its meaning */
	bool removed, added;
};

struct edit {
	const char *file;
	const char *list; /* "allow", "deny" or "inbound" */
	bool deny;
	bool inbound;
	char *err;
	size_t errlen;
	struct item *it;
	size_t n, cap;
	struct ef_rule *added; /* the parsed rules of add[] */
	size_t n_added;
	__u32 *tab; /* item index + 1, by ef_rule_hash() */
	size_t mask;
};

static __u32 ihash(const struct ef_rule *r)
{
	__u64 h = ef_rule_hash(r);

	return (__u32)(h ^ (h >> 32));
}

static void tab_put(struct edit *e, size_t idx)
{
	size_t h = ihash(e->it[idx].r) & e->mask;

	while (e->tab[h])
		h = (h + 1) & e->mask;
	e->tab[h] = (__u32)idx + 1;
}

/* The live item with the meaning of r, or -1. */
static long tab_find(const struct edit *e, const struct ef_rule *r)
{
	size_t h = ihash(r) & e->mask;

	for (; e->tab[h]; h = (h + 1) & e->mask) {
		const struct item *it = &e->it[e->tab[h] - 1];

		if (!it->removed && ef_rule_same(it->r, r))
			return (long)e->tab[h] - 1;
	}
	return -1;
}

/* Parse a rule string of the command line: "RULE:COL: message". */
static int parse_arg(struct edit *e, const char *s, struct ef_rule *r)
{
	char msg[EF_ERR_LEN], q[EF_RULE_MAX_LEN + 8];
	size_t col = 1;
	int ret;

	if (e->inbound)
		ret = ef_inbound_rule_parse_col(s, r, &col, msg, sizeof(msg));
	else
		ret = ef_rule_parse_col(s, e->deny, r, &col, msg, sizeof(msg));
	if (ret == -ENOMEM) {
		ef_fmt(e->err, e->errlen, "out of memory");
		return ret;
	}
	if (ret) {
		ef_msg_quote(q, sizeof(q), s, EF_RULE_MAX_LEN + 1);
		ef_fmt(e->err, e->errlen, "%s:%zu: %s", q, col, msg);
	}
	return ret;
}

static int do_remove(struct edit *e, const char *s)
{
	struct ef_rule r;
	char q[EF_RULE_MAX_LEN + 8];
	long i;
	int ret;

	ret = parse_arg(e, s, &r);
	if (ret)
		return ret;
	i = tab_find(e, &r);
	ef_rule_clear(&r);
	if (i < 0) {
		ef_msg_quote(q, sizeof(q), s, SIZE_MAX);
		ef_fmt(e->err, e->errlen, "%s: \"%s\" is not in \"%s\"", e->file, q, e->list);
		return -EINVAL;
	}
	e->it[i].removed = true;
	return 0;
}

static int do_add(struct edit *e, const char *s)
{
	struct ef_rule *r = &e->added[e->n_added];
	char q[EF_RULE_MAX_LEN + 8], qo[EF_RULE_MAX_LEN + 8];
	long i;
	int ret;

	ret = parse_arg(e, s, r);
	if (ret)
		return ret;
	e->n_added++;
	i = tab_find(e, r);
	if (i >= 0) {
		const struct item *o = &e->it[i];

		ef_msg_quote(q, sizeof(q), s, SIZE_MAX);
		ef_msg_quote(qo, sizeof(qo), o->text, SIZE_MAX);
		if (o->added)
			ef_fmt(e->err, e->errlen, "%s: \"%s\" is given twice (also as \"%s\")",
			       e->file, q, qo);
		else
			ef_fmt(e->err, e->errlen, "%s:%d:%d: \"%s\" is already in \"%s\" as \"%s\"",
			       e->file, o->r->line, o->r->col, q, e->list, qo);
		return -EINVAL;
	}
	e->it[e->n].text = r->text;
	e->it[e->n].r = r;
	e->it[e->n].added = true;
	tab_put(e, e->n++);
	return 0;
}

static void put_list(struct sb *b, const struct edit *e)
{
	bool first = true;
	size_t i;

	sb_put(b, "[", 1);
	for (i = 0; i < e->n; i++) {
		if (e->it[i].removed)
			continue;
		sb_str(b, first ? "\n" : ",\n");
		sb_indent(b, 2 * INDENT);
		put_string(b, e->it[i].text);
		first = false;
	}
	if (first) {
		sb_put(b, "]", 1);
		return;
	}
	sb_put(b, "\n", 1);
	sb_indent(b, INDENT);
	sb_put(b, "]", 1);
}

static bool list_empty(const struct edit *e)
{
	size_t i;

	for (i = 0; i < e->n; i++)
		if (!e->it[i].removed)
			return false;
	return true;
}

/* Where a list the file did not have goes, as an index among the keys. */
static int insert_pos(const cJSON *root, bool deny, bool inbound)
{
	const cJSON *it;
	int i = 0, after = -1;

	if (inbound) {
		/* after the outbound lists, whichever is last */
		cJSON_ArrayForEach(it, root) {
			if (!strcmp(it->string, "allow") || !strcmp(it->string, "deny"))
				after = i;
			i++;
		}
		if (after >= 0)
			return after + 1;
		deny = true; /* no outbound list: where "deny" would go */
		i = 0;
	}
	cJSON_ArrayForEach(it, root) {
		if (!deny && !strcmp(it->string, "deny"))
			return i;
		if (deny && !strcmp(it->string, "allow"))
			return i + 1;
		if (!strcmp(it->string, "name") || !strcmp(it->string, "description") ||
		    !strcmp(it->string, "mode"))
			after = i;
		i++;
	}
	return after >= 0 ? after + 1 : i;
}

static void put_member_key(struct sb *b, const char *key, bool first)
{
	sb_str(b, first ? "\n" : ",\n");
	sb_indent(b, INDENT);
	put_string(b, key);
	sb_str(b, ": ");
}

/* The top-level object: "allow", "deny" and "inbound" one rule per line, the edited
 * list from `e` (NULL: no edit). */
static void put_policy(struct sb *b, const cJSON *root, const struct edit *e)
{
	const cJSON *it;
	bool first = true, have = false;
	int i = 0, pos = -1;

	if (e) {
		have = cJSON_GetObjectItemCaseSensitive(root, e->list) != NULL;
		if (!have && !list_empty(e))
			pos = insert_pos(root, e->deny, e->inbound);
	}
	sb_put(b, "{", 1);
	cJSON_ArrayForEach(it, root) {
		if (i++ == pos) {
			put_member_key(b, e->list, first);
			put_list(b, e);
			first = false;
		}
		put_member_key(b, it->string, first);
		first = false;
		if (e && !strcmp(it->string, e->list))
			put_list(b, e);
		else
			put_value(b, it, INDENT,
				  !strcmp(it->string, "allow") || !strcmp(it->string, "deny") ||
					  !strcmp(it->string, "inbound"));
	}
	if (i == pos) {
		put_member_key(b, e->list, first);
		put_list(b, e);
		first = false;
	}
	sb_str(b, first ? "}\n" : "\n}\n");
}

static int edit_init(struct edit *e, const struct ef_policy *p, const cJSON *root, size_t n_add)
{
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(root, e->list), *s;
	const struct ef_rule *rules = e->inbound ? p->inbound : p->rules;
	size_t n_rules = e->inbound ? p->n_inbound : p->n_rules;
	size_t n_list = 0, i, k = 0, cap = 16;

	for (i = 0; i < n_rules; i++)
		n_list += rules[i].deny == e->deny;
	e->cap = n_list + n_add;
	e->it = calloc(e->cap + 1, sizeof(*e->it));
	e->added = calloc(n_add + 1, sizeof(*e->added));
	while (cap < 2 * (e->cap + 1))
		cap *= 2;
	e->tab = calloc(cap, sizeof(*e->tab));
	if (!e->it || !e->added || !e->tab)
		return -ENOMEM;
	e->mask = cap - 1;
	/* the strings of the array are the rules of the list, in order */
	i = 0;
	cJSON_ArrayForEach(s, arr) {
		while (i < n_rules && rules[i].deny != e->deny)
			i++;
		if (i == n_rules || !cJSON_IsString(s) || k == n_list)
			return -EINVAL; /* cannot be: the parser read the same text */
		e->it[k].text = s->valuestring;
		e->it[k].r = &rules[i++];
		tab_put(e, k++);
	}
	if (k != n_list)
		return -EINVAL;
	e->n = k;
	return 0;
}

static void edit_fini(struct edit *e)
{
	size_t i;

	for (i = 0; i < e->n_added; i++)
		ef_rule_clear(&e->added[i]);
	free(e->added);
	free(e->it);
	free(e->tab);
}

int ef_policy_edit(const char *text, size_t len, const char *file, const char *const *add,
		   size_t n_add, const char *const *remove, size_t n_remove, bool deny, char **out,
		   char *err, size_t errlen)
{
	return ef_policy_edit_list(text, len, file, add, n_add, remove, n_remove,
				   deny ? EF_EDIT_DENY : EF_EDIT_ALLOW, out, err, errlen);
}

int ef_policy_edit_list(const char *text, size_t len, const char *file, const char *const *add,
			size_t n_add, const char *const *remove, size_t n_remove,
			enum ef_edit_list list, char **out, char *err, size_t errlen)
{
	static const char *const names[] = { "allow", "deny", "inbound" };
	struct edit e = { .file = file ? file : "<policy>",
			  .list = names[list <= EF_EDIT_INBOUND ? list : EF_EDIT_ALLOW],
			  .deny = list == EF_EDIT_DENY, .inbound = list == EF_EDIT_INBOUND,
			  .err = err, .errlen = errlen };
	struct ef_policy *p = NULL, *check = NULL;
	struct sb b = { 0 };
	cJSON *root = NULL;
	const char *end = NULL;
	size_t i;
	int ret;

	*out = NULL;
	if (err && errlen)
		err[0] = '\0';
	ret = ef_policy_parse(text, len, file, &p, err, errlen);
	if (ret)
		return ret;
	root = cJSON_ParseWithLengthOpts(p->source, len + 1, &end, 1);
	if (!root) {
		ret = -ENOMEM; /* the parser accepted it: only memory can fail */
		goto oom;
	}
	ret = edit_init(&e, p, root, n_add);
	if (ret == -ENOMEM)
		goto oom;
	if (ret) {
		ef_fmt(err, errlen, "%s: internal error: rules and JSON disagree", e.file);
		goto out;
	}
	for (i = 0; i < n_remove && !ret; i++)
		ret = do_remove(&e, remove[i]);
	for (i = 0; i < n_add && !ret; i++)
		ret = do_add(&e, add[i]);
	if (ret)
		goto out;
	put_policy(&b, root, n_add || n_remove ? &e : NULL);
	if (b.oom) {
		ret = -ENOMEM;
		goto oom;
	}
	/* what is handed back must be what egressd accepts */
	ret = ef_policy_parse(b.s, b.n, file, &check, err, errlen);
	if (ret)
		goto out;
	*out = b.s;
	b.s = NULL;
	goto out;
oom:
	ef_fmt(err, errlen, "%s: out of memory", e.file);
out:
	edit_fini(&e);
	ef_policy_free(check);
	ef_policy_free(p);
	cJSON_Delete(root);
	free(b.s);
	return ret;
}

int ef_policy_format(const char *text, size_t len, char **out)
{
	return ef_policy_edit(text, len, NULL, NULL, 0, NULL, 0, false, out, NULL, 0);
}
