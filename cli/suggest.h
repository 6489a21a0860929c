/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * egressctl policy suggest, split along the seam between reading and
 * deciding: suggest.c reads the journal and prints; suggest_rules.c turns
 * the decisions it was given into allow rules (pure: no I/O, unit-tested),
 * with suggest_obs.c keeping what it was given and suggest_write.c writing
 * the rules; the string sets are suggest_set.c's.
 */
#ifndef EF_SUGGEST_H
#define EF_SUGGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <libpsl.h>

#include "policy.h"

/* A set of strings (copies), for deduplication. Zero-initialised is empty. */
struct suggest_set {
	char **slot;
	size_t cap, n;
};
/* 0 or -ENOMEM; *added (optional) says whether s was new. */
int suggest_set_add(struct suggest_set *set, const char *s, bool *added);
bool suggest_set_has(const struct suggest_set *set, const char *s);
/* The members in strcmp order, pointing into the set: free() the array only. */
int suggest_set_sorted(const struct suggest_set *set, const char ***ret);
void suggest_set_free(struct suggest_set *set);

struct suggest_opts {
	/* this many distinct names or more under one parent domain, with the same
	 * ports and protocol, become one "*.parent" rule; 0: never */
	unsigned wildcard_min;
	/* public suffixes (libpsl); NULL: no wildcards */
	const psl_ctx_t *psl;
};

struct suggest;
int suggest_new(const struct suggest_opts *o, struct suggest **ret);
void suggest_free(struct suggest *sg);

/*
 * One egress.connect (send false) or egress.send (send true) decision of
 * job: its server.address (the DNS name the address was learned from, else
 * the address), network.peer.address, server.port and network.transport.
 * Either address may be NULL. 0; -EINVAL if nothing can be made of it (no
 * address, port not 1..65535, transport not tcp/udp); -ENOMEM.
 */
int suggest_add_conn(struct suggest *sg, const char *job, const char *server, const char *peer,
		     long port, const char *transport, bool send);
/* One egress.dns decision of job: the question name, and whether the answer
 * held addresses. 0, -EINVAL, -ENOMEM. */
int suggest_add_dns(struct suggest *sg, const char *job, const char *qname, bool answered);

struct suggest_result {
	char **allow; /* the rules, in a fixed order (names, then IPv4, then IPv6) */
	size_t n_allow;
	char **left_out; /* "169.254.169.254:80 (cloud metadata address)", sorted */
	size_t n_left_out;
	char **unconnected; /* names resolved with answers but never connected to, sorted */
	size_t n_unconnected;
	char **unused; /* with against: its allow rules nothing used, in file order */
	size_t n_unused;
	char **denied; /* with against: "DEST:PORT/PROTO (deny rule \"RULE\")", sorted */
	size_t n_denied;
	size_t n_sort_probes; /* NAME:PORT pairs whose UDP connects were getaddrinfo's sorting */
	size_t n_loopback;    /* loopback addresses given rules (listeners outside the job) */
};

/*
 * The allow rules of a minimal enforce policy for what was added. With
 * `against`, only the rules what it does not allow needs (computed over
 * those destinations alone), and which of its allow rules nothing used.
 * 0 or -ENOMEM. Free res with suggest_result_free().
 */
int suggest_rules(struct suggest *sg, const struct ef_policy *against, struct suggest_result *res);
void suggest_result_free(struct suggest_result *res);

/* The policy file: {"name", "mode": "enforce", "allow": [...]}, one rule a
 * line, newline-terminated. 0 or -ENOMEM. */
int suggest_policy_text(const char *name, char *const *allow, size_t n, char **ret);

/* egressctl policy suggest's --help text (usage line first). */
extern const char suggest_help[];

#endif /* EF_SUGGEST_H */
