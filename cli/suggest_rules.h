/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Inside egressctl policy suggest's pure half (suggest.h is its
 * interface): the observations and the rules being written, shared by
 * suggest_obs.c (what was given), suggest_write.c (the rules written) and
 * suggest_rules.c (what needs a rule, the whole).
 */
#ifndef EF_SUGGEST_RULES_H
#define EF_SUGGEST_RULES_H

#include "suggest.h"

enum obs_state {
	ST_KEEP,     /* needs a rule (a loopback address too: a listener outside the job) */
	ST_LEFT,     /* a non-public address: left out, said on stderr */
	ST_PROBE,    /* getaddrinfo's UDP sorting connect */
	ST_COVERED,  /* the policy compared against allows it */
};

struct obs {
	char *job;
	char *dest; /* a lowercase name, or the address as text (no brackets) */
	char *key;  /* names: the labels from the right, '\1' between */
	bool name, has_addr, send;
	__u8 family, proto; /* EF_FAM_*; EF_PROTO_TCP or EF_PROTO_UDP */
	__u16 port;
	__u8 addr[16]; /* the address connected to (for a name: the peer's) */
	enum obs_state st;
};

struct suggest {
	struct suggest_opts o;
	struct obs *obs;
	size_t n_obs, cap_obs;
	struct suggest_set seen;     /* observations, deduplicated */
	struct suggest_set resolved; /* names a DNS answer gave addresses for */
	struct suggest_set bad;	     /* destinations no rule can name */
};

struct rule_out {
	char *text;
	char *key; /* names: suggest_rev_key; NULL for addresses */
	int cls;	 /* 0 name, 1 IPv4, 2 IPv6 */
	__u8 addr[16];
	__u8 proto;
};

struct rules {
	struct rule_out *v;
	size_t n, cap;
};

/* suggest_obs.c */
char *suggest_rev_key(const char *name);

/* suggest_rules.c */
void suggest_dest_text(const struct obs *o, char *out, size_t len);
const char *suggest_proto_name(__u8 proto);

/* suggest_write.c */
int suggest_cmp_rule(const void *x, const void *y);
int suggest_make_rules(struct suggest *sg, struct rules *rs, struct suggest_set *left);

#endif /* EF_SUGGEST_RULES_H */
