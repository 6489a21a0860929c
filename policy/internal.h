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

/* The metadata addresses; policy.h documents why they are special. */
extern const __u8 ef_meta_v4[16];
extern const __u8 ef_meta_v6[16];

/* ---- rule.c ---- */

/*
 * ef_rule_parse() with the error position returned apart: on error
 * *ret_col is the 1-based byte index in `s` of the offending character
 * (strlen(s) + 1 when something is missing at the end) and `msg` holds the
 * bare message, so the policy parser can place it inside the JSON string.
 */
int ef_rule_parse_col(const char *s, bool deny, struct ef_rule *out, size_t *ret_col, char *msg,
		      size_t msglen);

/* A DNS upstream: IPv4 or IPv6 address, bracketed IPv6, optional :port.
 * Same error convention as ef_rule_parse_col(). */
int ef_upstream_check(const char *s, size_t *ret_col, char *msg, size_t msglen);

/* The rule's port specs sorted by lo with overlapping and adjacent specs
 * merged; returns the count. Two rules that differ only in how they spell
 * their ports ("80,443" and "443,80") have the same canonical ports. */
int ef_rule_canon_ports(const struct ef_rule *r, struct ef_port_spec out[EF_MAX_PORT_SPECS]);

/* Duplicate detection: same list, destination, protocols and port set. */
bool ef_rule_same(const struct ef_rule *a, const struct ef_rule *b);
__u64 ef_rule_hash(const struct ef_rule *r);

/* "10.0.0.0/8", "[2001:db8::]/32", "169.254.169.254" or the name. */
void ef_rule_dest_str(const struct ef_rule *r, char *buf, size_t len);

/* Mask `addr` (16 bytes) to `len` bits in place. */
void ef_addr_mask(__u8 addr[16], unsigned int len);

/* Quote at most `n` bytes of `src` (stopping at its NUL) for a message:
 * quotes, backslashes and non printable bytes become \xNN; what does not
 * fit in `dst` is cut and marked "...". */
void ef_msg_quote(char *dst, size_t dstlen, const char *src, size_t n);

/* snprintf that never leaves `buf` unterminated and ignores truncation. */
void ef_fmt(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void ef_vfmt(char *buf, size_t len, const char *fmt, va_list ap);

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
