/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Inside the policy parser: its state while a file is parsed, and what
 * parse.c (errors at a position, walking an object's keys) and
 * parse_keys.c (what each key means) call of each other.
 */
#ifndef EF_POLICY_PARSE_H
#define EF_POLICY_PARSE_H

#include <cjson/cJSON.h>

#include "internal.h"

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

/* parse.c: a message at a position in the file, out of memory, where a value is */
int ef_perr(struct pctx *c, size_t off, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int ef_oom(struct pctx *c);
size_t ef_tok_off(const struct pctx *c, __u32 tok);
int ef_walk_object(struct pctx *c, const cJSON *obj, __u32 tok, const struct key *keys,
		   size_t n_keys, const char *where);

/* parse_keys.c: the top level's keys */
extern const struct key ef_top_keys[];
extern const size_t ef_n_top_keys;

#endif /* EF_POLICY_PARSE_H */
