/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Private interfaces between the policy/ sources. Not part of the library's
 * API: the daemon, the CLI and the tests use policy.h only.
 */
#ifndef EF_POLICY_INTERNAL_H
#define EF_POLICY_INTERNAL_H

#include <stdarg.h>

#include "policy.h"

/* EF_POLICY_MAX_BYTES: see policy.h */
#define EF_RULE_MAX_LEN 1024	       /* a name, a bracketed CIDR and 32 ranges fit easily */
#define EF_JSON_MAX_DEPTH 32	       /* policies nest 3 deep; bounds the recursion */

/* The metadata addresses; policy.h documents why they are special. (addr.c) */
extern const __u8 ef_meta_v4[16];
extern const __u8 ef_meta_v6[16];
#define EF_META_NAT64_N 2
extern const __u8 ef_meta_nat64[EF_META_NAT64_N][16];

/* ---- rule.c ---- */

/*
 * ef_rule_parse() with the error position returned apart: on error
 * *ret_col is the 1-based byte index in `s` of the offending character
 * (strlen(s) + 1 when something is missing at the end) and `msg` holds the
 * bare message, so the policy parser can place it inside the JSON string.
 */
int ef_rule_parse_col(const char *s, bool deny, struct ef_rule *out, size_t *ret_col, char *msg,
		      size_t msglen);

/* ef_inbound_rule_parse() with the position apart, as above. (inbound.c) */
int ef_inbound_rule_parse_col(const char *s, struct ef_rule *out, size_t *ret_col, char *msg,
			      size_t msglen);

/* A DNS upstream: IPv4 or IPv6 address, bracketed IPv6, optional :port.
 * Same error convention as ef_rule_parse_col(). */
int ef_upstream_check(const char *s, size_t *ret_col, char *msg, size_t msglen);

/* ---- rule_same.c: a rule's meaning apart from its spelling ---- */

/* The rule's port specs sorted by lo with overlapping and adjacent specs
 * merged; returns the count. Two rules that differ only in how they spell
 * their ports ("80,443" and "443,80") have the same canonical ports. */
int ef_rule_canon_ports(const struct ef_rule *r, struct ef_port_spec out[EF_MAX_PORT_SPECS]);

/* Duplicate detection: same list, destination, protocols and port set. */
bool ef_rule_same(const struct ef_rule *a, const struct ef_rule *b);
__u64 ef_rule_hash(const struct ef_rule *r);

/* "10.0.0.0/8", "[2001:db8::]/32", "169.254.169.254" or the name. */
void ef_rule_dest_str(const struct ef_rule *r, char *buf, size_t len);

/* ---- addr.c ---- */

/* Mask `addr` (16 bytes) to `len` bits in place. */
void ef_addr_mask(__u8 addr[16], unsigned int len);

/* An IPv4-mapped IPv6 address (::ffff:a.b.c.d). */
bool ef_is_mapped(const __u8 a[16]);

/* ---- msg.c: messages ---- */

/* Quote at most `n` bytes of `src` (stopping at its NUL) for a message:
 * quotes, backslashes and non printable bytes become \xNN; what does not
 * fit in `dst` is cut and marked "...". */
void ef_msg_quote(char *dst, size_t dstlen, const char *src, size_t n);

/* snprintf that never leaves `buf` unterminated and ignores truncation. */
void ef_fmt(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void ef_vfmt(char *buf, size_t len, const char *fmt, va_list ap);

/* ---- rindex.c: a policy's rules by meaning and by destination ---- */

/*
 * A destination as looked up. CIDR: family, len and addr (masked to len);
 * NAME / WILDCARD: name[0..name_len), lowercase, without "*." (it may be a
 * suffix of a longer name, hence not NUL-terminated).
 */
struct ef_dkey {
	bool deny; /* the list looked in */
	__u8 kind; /* enum ef_dest_kind */
	__u8 family, len;
	__u8 addr[16];
	const char *name;
	size_t name_len;
};

struct ef_rx_slot {
	__u32 hash;
	__u32 rule; /* index in p->rules + 1; 0: empty */
};

struct ef_rx_cidr {
	__u8 family, len;
	__u8 addr[16]; /* masked to len */
	__u32 rule;
};

struct ef_rx_name {
	char *rev; /* the name reversed byte by byte, "moc.buhtig" */
	__u32 rule;
};

/*
 * The rules of one policy indexed three ways, built in O(n log n):
 *   - by meaning (ef_rule_same()), to find the same rule in another policy;
 *   - by exact destination, both lists: a covering query is one probe per
 *     label of a name, or per prefix length in use for an address;
 *   - allow rules sorted (CIDRs by address, names by reversed name), so
 *     that what lies inside a CIDR or below a wildcard is one range.
 * Rules ef_rule_usable() refuses are in none of them. Read-only once built.
 */
struct ef_rindex {
	const struct ef_policy *p;
	struct ef_rx_slot *same, *dest; /* open addressing, 2^k slots, at most half used */
	__u32 same_mask, dest_mask;
	bool lens[2][2][129];		/* [deny][family is v6][len]: a CIDR rule of that length */
	struct ef_rx_cidr *cidr;	/* allow CIDRs by (family, addr, len) */
	size_t n_cidr;
	struct ef_rx_name *names;	/* allow NAME and WILDCARD rules by rev */
	size_t n_names;
	/* the ports of every allow name rule merged, [0] TCP, [1] UDP */
	struct ef_port_spec *name_ports[2];
	size_t n_name_ports[2];
};

/* The rule can be reasoned about: a known kind, a name for name kinds, a
 * family and a prefix length in range for CIDRs. Parsed rules always are. */
bool ef_rule_usable(const struct ef_rule *r);
/* The rule as written, quoted for a message (its destination if it has no
 * text); returns buf. */
const char *ef_rule_quote(const struct ef_rule *r, char *buf, size_t len);
/* The destination of a usable rule as a key of its own list. */
void ef_dkey_of(const struct ef_rule *r, struct ef_dkey *k);
/* A CIDR key or rule naming a metadata address at full length. */
bool ef_dkey_is_meta(const struct ef_dkey *k);

int ef_rindex_build(struct ef_rindex *ix, const struct ef_policy *p);
void ef_rindex_free(struct ef_rindex *ix);

/* Index of a rule of ix->p with the same meaning as r (same list,
 * destination, protocols and port set), or -1. */
long ef_rindex_same(const struct ef_rindex *ix, const struct ef_rule *r);

/* Called per rule found; a nonzero return stops the walk and is returned. */
typedef int (*ef_rx_fn)(void *arg, __u32 rule);

/* Every rule of list k->deny with exactly destination k. */
int ef_rindex_exact(const struct ef_rindex *ix, const struct ef_dkey *k, ef_rx_fn fn, void *arg);
/*
 * Every rule of list k->deny whose destination contains k's: the same
 * name, or a wildcard over it (*.b.com contains a.b.com, *.a.b.com and
 * *.b.com itself, never b.com); an address rule of the same family whose
 * prefix contains k's. With `meta_exact` and k naming a metadata address
 * at full length, only rules naming that address count (a wider prefix
 * does not open it).
 */
int ef_rindex_covering(const struct ef_rindex *ix, const struct ef_dkey *k, bool meta_exact,
		       ef_rx_fn fn, void *arg);
/*
 * Every allow rule whose destination shares something with k's: those
 * containing it (as above) and those inside it (names below a wildcard,
 * prefixes inside a prefix). Name rules are not looked at for an address
 * key: the caller decides what names may resolve to.
 */
int ef_rindex_overlapping(const struct ef_rindex *ix, const struct ef_dkey *k, bool meta_exact,
			  ef_rx_fn fn, void *arg);

/* ---- port sets (rindex.c) ---- */

/* Sort and merge ranges in place (overlapping and adjacent ones become one);
 * returns the new count. */
size_t ef_ports_merge(struct ef_port_spec *r, size_t n);
/* Every range of a[0..na) lies inside one of u[0..nu) (u merged). */
bool ef_ports_inside(const struct ef_port_spec *a, size_t na, const struct ef_port_spec *u,
		     size_t nu);
/* Some port is in both (both merged). */
bool ef_ports_meet(const struct ef_port_spec *a, size_t na, const struct ef_port_spec *b,
		   size_t nb);

/* ---- compile.c ---- */

/*
 * The ranges of one entry (an address or a name): those of the rules
 * own[0..n_own) (indices in p->rules, ascending) merged with the ranges
 * `parent`, the nearest covering entry, already holds (only its denies if
 * parent_deny_only), in rule order, without the ranges that can never
 * decide. val->flags is 0. Returns 0, or -E2BIG if more than EF_MAX_RANGES
 * ranges would remain (`err` is the caller's to fill: it knows the entry).
 */
int ef_ports_build(const struct ef_policy *p, const __u32 *own, size_t n_own,
		   const struct ef_ports *parent, bool parent_deny_only, struct ef_ports *val);

/* ---- names.c ---- */

/* Build `t` from the NAME and WILDCARD rules of `p`. Returns 0, -E2BIG or
 * -EINVAL (a hand-built rule with a bad name) with `err` set, or -ENOMEM.
 * On error `t` holds nothing to free beyond what ef_names_free() frees. */
int ef_names_compile(const struct ef_policy *p, struct ef_name_table *t, char *err,
		     size_t errlen);
void ef_names_free(struct ef_name_table *t);

/* ---- json.c: positions in the raw text, which cJSON does not keep ---- */

/*
 * One JSON value, in document order (pre-order). The tokens of a
 * container's members follow it; `next` is the index just past its subtree,
 * so the members of token i are i + 1, tok[i + 1].next, ... The tree has
 * the same shape as cJSON's for the same text (both parse it whole), so the
 * parser walks both in lockstep.
 */
struct ef_jtok {
	__u32 key;  /* offset of the member's key string ('"'), or EF_JNOKEY */
	__u32 off;  /* offset of the value's first character */
	__u32 next; /* index of the token after this value's subtree */
};
#define EF_JNOKEY 0xffffffffu

struct ef_jdoc {
	const char *text;
	size_t len;
	struct ef_jtok *tok;
	size_t n_tok, cap;
	/* offset -> line:col cursor; lookups mostly move forward */
	size_t cur_off;
	int cur_line, cur_col;
};

/*
 * Scan `text` as strict RFC 8259 JSON (one value, no trailing text, no
 * \u0000, nesting at most EF_JSON_MAX_DEPTH) and build the token array.
 * Returns 0, -EINVAL with *ret_off and `msg` set, or -ENOMEM.
 */
int ef_json_scan(struct ef_jdoc *d, const char *text, size_t len, size_t *ret_off, char *msg,
		 size_t msglen);
void ef_json_fini(struct ef_jdoc *d);

/* 1-based line and column of byte offset `off`; columns count UTF-8
 * characters, a tab is one column. */
void ef_json_pos(struct ef_jdoc *d, size_t off, int *line, int *col);

/* Raw offset of the byte `idx` of the decoded value of the string token
 * starting at `quote` (escapes such as \u0041 are longer raw than
 * decoded); the closing quote when idx is past the end. */
size_t ef_json_str_off(const struct ef_jdoc *d, size_t quote, size_t idx);

#endif /* EF_POLICY_INTERNAL_H */
