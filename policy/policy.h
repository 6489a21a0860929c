/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * policy/: parse, validate and compile egress-fence policy files.
 *
 * A pure C library (libc + cJSON + libpsl, no libbpf): the daemon, egressctl
 * and the fuzz targets link it. Functions return 0 or -errno; on a user error they
 * fill `err` with "FILE:LINE:COL: message" (1-based line and column of the
 * offending JSON token, or of the character inside a rule string).
 */
#ifndef EF_POLICY_H
#define EF_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>

#include "ef_abi.h"

#define EF_ERR_LEN 512
#define EF_NAME_MAX 64 /* policy name: [a-z0-9][a-z0-9._-]{0,63} */
#define EF_MAX_PORT_SPECS 32 /* comma-separated port items in one rule */
/* Larger files are refused unread. Generous: 200,000 rules are ~5 MiB. */
#define EF_POLICY_MAX_BYTES (32u << 20)

enum ef_dest_kind {
	EF_DEST_NAME = 0,     /* api.github.com */
	EF_DEST_WILDCARD = 1, /* *.githubusercontent.com: any depth below, never the apex */
	EF_DEST_CIDR = 2,     /* address or CIDR, IPv4 or IPv6 */
};

struct ef_port_spec {
	__u16 lo, hi; /* inclusive, host order; "*" is 0-65535 */
};

struct ef_rule {
	char *text;	/* the rule as written in the file */
	int line, col;	/* position of the rule's string token */
	bool deny;	/* from the "deny" list */
	enum ef_dest_kind kind;
	char *name;	/* NAME: lowercase, no trailing dot; WILDCARD: the suffix without "*." */
	__u8 family;	/* CIDR: EF_FAM_V4 / EF_FAM_V6 (IPv4-mapped IPv6 becomes V4) */
	__u8 prefixlen; /* CIDR: 0..32 or 0..128 */
	__u8 addr[16];	/* CIDR: network address; IPv4 in addr[0..3], rest zero */
	__u8 protos;	/* EF_PROTO_* */
	int n_ports;
	struct ef_port_spec ports[EF_MAX_PORT_SPECS];
};

/* The "probe" section: probe detection for the policy's jobs (daemon/probe/probe.c).
 * Thresholds count distinct things within the sliding window. */
struct ef_probe_cfg {
	int action; /* EF_PROBE_ALERT (default), _FREEZE, _KILL */
	/* 0 means "use the default" (EF_PROBE_DEF_*) */
	__u32 denied_dests;	 /* distinct denied hosts */
	__u32 denied_names;	 /* distinct denied (or NXDOMAIN) DNS names */
	__u32 ports_per_host;	 /* distinct denied ports on one host */
	__u32 names_per_parent;	 /* distinct names under one registrable domain */
	__u32 tunnel_names;	 /* distinct names with tunnel-shaped labels */
	__u32 window_s;		 /* the window, seconds */
	__u32 dns_label_bytes;	 /* bytes below one registrable domain, of distinct names
				  * the proxy forwarded */
	__u32 flood;		 /* refusals, repeats counted, within the window */
};
/* The DNS proxy's per-job limit on queries forwarded upstream (a token
 * bucket): an npm install of a few hundred packages stays well inside. */
#define EF_DNS_DEF_QUERY_RATE 100
#define EF_DNS_DEF_QUERY_BURST 1000
#define EF_DNS_MAX_QUERY_RATE 100000
#define EF_PROBE_DEF_WINDOW_S 60
#define EF_PROBE_DEF_DENIED_DESTS 10
#define EF_PROBE_DEF_DENIED_NAMES 20
#define EF_PROBE_DEF_PORTS_PER_HOST 10
#define EF_PROBE_DEF_NAMES_PER_PARENT 40
#define EF_PROBE_DEF_TUNNEL_NAMES 5
#define EF_PROBE_DEF_DNS_LABEL_BYTES 1024
#define EF_PROBE_MAX_BYTES 1000000 /* a byte threshold */
#define EF_PROBE_DEF_FLOOD 1000
#define EF_PROBE_MAX_COUNT 10000 /* a threshold; larger would only cost memory */
#define EF_PROBE_MAX_FLOOD 100000000 /* a count, no memory: any sane number */
#define EF_PROBE_MAX_WINDOW_S 86400
enum { EF_PROBE_ALERT = 0, EF_PROBE_FREEZE = 1, EF_PROBE_KILL = 2 };

/*
 * The "loopback" setting: which local listeners a job reaches on loopback
 * (127.0.0.0/8, ::1, ::ffff:127.x). Values are not ordered by strength:
 * use ef_loopback_rank() to compare. A hand-built policy that sets
 * p->loopback = true gets EF_LOOPBACK_ANY, as before "own" existed.
 */
enum ef_loopback {
	EF_LOOPBACK_OFF = 0, /* false: none without a rule naming it */
	EF_LOOPBACK_ANY = 1, /* true: any local listener, each connection recorded */
	EF_LOOPBACK_OWN = 2, /* "own" (the default): the job's own listeners freely; one
			      * outside the job only through a rule naming it */
};
/* 0 (false) < 1 ("own") < 2 (true): a higher rank opens more. */
int ef_loopback_rank(int loopback);
/* "false", "\"own\"" or "true", as written in a policy file. */
const char *ef_loopback_name(int loopback);
/* The EF_PF_LOOPBACK* bits of a loopback setting. */
__u32 ef_loopback_flags(int loopback);

struct ef_policy {
	char name[EF_NAME_MAX + 1];
	int mode;	/* EF_MODE_ENFORCE / EF_MODE_AUDIT */
	int loopback;	/* enum ef_loopback; default EF_LOOPBACK_OWN */
	int loopback_line, loopback_col; /* of the "loopback" value; 0 if absent */
	__u32 flags;	/* EF_PF_* (loopback included) as stored in ef_policy_val */
	__u64 families; /* allowed AF_* bits; AF_UNIX, AF_INET, AF_INET6, AF_NETLINK always */
	struct ef_rule *rules; /* allow rules first, then deny rules, in file order */
	size_t n_rules;
	/* "inbound": peers (address or CIDR) that may connect to the job's
	 * listeners, with the job's LOCAL ports; kind always EF_DEST_CIDR,
	 * deny false. In records their rule id is n_rules + index. */
	struct ef_rule *inbound;
	size_t n_inbound;
	char **dns_upstream;   /* "1.1.1.1", "[2606:4700::1111]:53", ...; may be empty */
	size_t n_dns_upstream;
	__u32 dns_query_rate;  /* queries a second forwarded upstream per job; 0: default */
	__u32 dns_query_burst; /* ... and in a burst; 0: default */
	struct ef_probe_cfg probe;
	/* "capabilities": what a root job keeps beyond the default set
	 * (bits CAP_*; see ef_policy_caps()); position of the key, 0 if absent */
	__u64 caps;
	int caps_line, caps_col;
	/* "docker": {"binds": [...]}: host paths, besides the job's working
	 * directory, its containers may bind-mount (absolute, normalised) */
	char **docker_binds;
	size_t n_docker_binds;
	/* where "host_writes" was (lint's warning about true) */
	int host_writes_line, host_writes_col;
	/* "fail_on_deny": true: egressctl run exits non-zero when the job had a
	 * denial or a probe flag, as with --fail-on-deny (egressd sends it to
	 * egressctl with the job's notices; not a BPF setting) */
	bool fail_on_deny;
	char *source;	       /* the file text as parsed (NUL-terminated) */
	char *file;	       /* file name used in messages */
};

/* ---- capabilities (caps.c): the one table ---- */
enum {
	EF_CAP_DEFAULT = 1 << 0, /* a root job keeps it (Docker's default set) */
	EF_CAP_NEVER = 1 << 1,	 /* reaches around the fence: never granted */
	EF_CAP_RECORDED = 1 << 2, /* a refusal to a job is recorded (EF_CAPS_RECORDED,
				   * which the BPF side reads, must equal these) */
};
struct ef_cap_info {
	int cap;	  /* CAP_* */
	const char *name; /* without CAP_ */
	unsigned flags;	  /* EF_CAP_* */
	const char *grant; /* lint: what a grant lets a root job do; NULL if never granted or default */
};
/* by name, "NET_ADMIN" or "cap_net_admin", any case; NULL if unknown */
const struct ef_cap_info *ef_cap_by_name(const char *name);
const struct ef_cap_info *ef_cap_by_number(int cap);
__u64 ef_caps_default(void);
__u64 ef_caps_never(void);
__u64 ef_caps_recorded(void);
/* The capabilities a root job under p keeps: the default set, CAP_NET_RAW
 * with sockets.raw or sockets.packet or in audit mode, and p's grants; never
 * one of ef_caps_never(). */
__u64 ef_policy_caps(const struct ef_policy *p);

/* ---- socket address families (families.c): the one table ---- */
#define EF_AF_NAMED 46 /* AF_UNSPEC (0) to AF_MCTP (45) have names */
/* Linux's name of a family, lowercase without AF_ ("inet6", "kcm"), as
 * "sockets.families", spans and egressctl spell it; NULL for a number
 * Linux names no family (shown as the number) */
const char *ef_af_name(long long af);
/* the family of such a name, or -1 */
int ef_af_by_name(const char *name);

/* Parse and validate a policy. `file` is only used in messages. */
int ef_policy_parse(const char *text, size_t len, const char *file, struct ef_policy **out,
		    char *err, size_t errlen);
/* A policy name as "name" must be: [a-z0-9][a-z0-9._-]{0,63}. */
bool ef_policy_name_valid(const char *s);
/* Read `path` and parse it. */
int ef_policy_load(const char *path, struct ef_policy **out, char *err, size_t errlen);
void ef_policy_free(struct ef_policy *p);

/* Parse one rule string (without JSON around it); `err` gets "COL: message"
 * relative to the rule. Exposed for the CLI (policy add) and the unit tests. */
int ef_rule_parse(const char *s, bool deny, struct ef_rule *out, char *err, size_t errlen);
void ef_rule_clear(struct ef_rule *r);
/* An "inbound" rule string, "PEER:LOCALPORTS[/PROTO]": PEER an address or
 * CIDR (a host name is refused: inbound peers are judged by address, and
 * nothing resolves them). Same error convention as ef_rule_parse(). */
int ef_inbound_rule_parse(const char *s, struct ef_rule *out, char *err, size_t errlen);
/* The rule a record's rule id names: an allow or deny rule (id < n_rules)
 * or an inbound one (n_rules <= id < n_rules + n_inbound); NULL if none. */
const struct ef_rule *ef_policy_rule_by_id(const struct ef_policy *p, __u32 rule_id);

/* ---- whole-policy checks: lint.c, weaker.c, diff.c, edit.c ---- */

/*
 * What an operator must confirm (egressctl --force) before an enforce-mode
 * policy goes in; an audit-mode policy has none. In rule order, per rule:
 *   - an allow rule that opens everything or nearly: an IPv4 prefix
 *     shorter than /8, an IPv6 prefix shorter than /16, a wildcard over a
 *     public suffix of the ICANN section of the Public Suffix List (*.com,
 *     *.co.uk, *.uk; libpsl, the system's list if newer than the built-in
 *     one) or over a single label (*.internal);
 *   - a rule repeating an earlier rule of its list (same destination,
 *     protocols and ports; the parser refuses these, hand-built policies
 *     may have them);
 *   - an allow rule one deny rule fully shadows, so it never takes effect:
 *     the deny's destination contains the allow's (same name, a wildcard
 *     over it, a prefix of the same family containing it), its ports and
 *     protocols include the allow's. Names are not compared with
 *     addresses (what a name resolves to is not known here), and several
 *     deny rules covering an allow only together are not reported;
 *   - "loopback": true (at the "loopback" value): every local listener,
 *     and through a relay anywhere;
 *   - an inbound rule whose peer prefix is wider than /24 (IPv4) or /64
 *     (IPv6).
 * Messages are "FILE:LINE:COL: message" at the rule, naming the other
 * rule's position where there is one, and end with what to do:
 *   c.json:3:5: "*.com:443" opens every name under the public suffix "com";
 *   name the hosts, or pass --force
 * Cost: O(n) hash probes (one per label of a name, one per prefix length
 * in use for an address), whatever the number of deny rules; at most 256
 * deny rules containing an allow rule are compared with it (a miss is only
 * a missed hint).
 */

/* The first problem in `err`: returns 0 (none) or -EINVAL; -ENOMEM. */
int ef_policy_lint(const struct ef_policy *p, char *err, size_t errlen);
/* Up to `max` problems, '\n'-joined (no trailing newline) in `out`, cut at
 * outlen. Returns how many were written (0: lint clean), or -ENOMEM. */
int ef_policy_lint_all(const struct ef_policy *p, unsigned int max, char *out, size_t outlen);
/* Every problem to `fn` with its rule and message; a nonzero return from
 * fn stops the walk. Returns the number of calls made, or -ENOMEM. */
typedef int (*ef_lint_fn)(void *arg, const struct ef_rule *r, const char *msg);
int ef_policy_lint_each(const struct ef_policy *p, ef_lint_fn fn, void *arg);

/*
 * 1 if policy `a` allows nothing that policy `b` denies, so a job assigned
 * `b` may be given `a`; 0 otherwise, with a one-line reason in `why`
 * naming the first setting or rule found, e.g.
 *   "api.evil.com:443" is not allowed by policy ci-agent
 * -ENOMEM on allocation failure. Conservative: 0 means "not proven", never
 * a wrong 1. Settings are compared first, then rules:
 *   - b in audit mode denies nothing: 1. Else a in audit mode: 0;
 *   - every capability a grants ("capabilities") is in b's set;
 *   - loopback: a's rank (false < "own" < true) at most b's; socket
 *     switches (raw, packet, icmp, other_protocols, multicast) and
 *     address families of a must be within b's;
 *   - dns.upstream: a's list must be empty when b's is, else a subset of
 *     b's (addresses and ports compared; a resolver of the job's choosing
 *     could point allowed names anywhere);
 *   - every allow rule of a is the same as an allow rule of b, or lies
 *     within the allow rules of b whose destination contains its own (a
 *     name: the same name or a wildcard over it at any depth; a wildcard:
 *     the same or a shorter wildcard; an address: a prefix of the same
 *     family containing it), taken together: per protocol, its ports lie
 *     in the union of theirs. A rule naming a metadata address
 *     (169.254.169.254, fd00:ec2::254) needs rules of b naming that exact
 *     address; a wider prefix of a does not open it, so it needs none;
 *   - every deny rule of b is the same as a deny rule of a, or lies within
 *     a's deny rules containing its destination (as above, together), or
 *     shares nothing with a's allow rules: for a name deny, no allow name
 *     rule of a over the same names with a common port and protocol; for
 *     an address deny, no allow prefix of a overlapping it with a common
 *     port and protocol, and no allow name rule of a with a common port
 *     and protocol (names may resolve to any address, and address deny
 *     rules judge learned addresses too);
 *   - unless both have the same name rules: every name a's DNS proxy
 *     answers, b's answers too, checked for one query per name rule of
 *     either policy (the name, or one just below the wildcard). The proxy
 *     answers while an allow range is left that no single deny range
 *     holds whole, so this is not implied by the rule checks above.
 *   - loopback rules: an allow rule of a inside loopback is within b when
 *     b has "loopback": true; a deny rule of b meeting loopback must be
 *     within a's deny rules when a has "loopback": true (deny rules judge
 *     loopback then);
 *   - every inbound rule of a lies within b's inbound rules, as for allow
 *     rules (inbound and outbound rules are never compared with each
 *     other).
 * Not proven (0): a destination covered only by several rules of b
 * together (two /9s for a /8), an address covered by a name rule, or more
 * than ~16 million comparisons (100,000-rule policies take well under a
 * second). Probe settings are not compared.
 * ef_policy_no_weaker(p, p) is 1 for every policy the parser accepts.
 */
int ef_policy_no_weaker(const struct ef_policy *a, const struct ef_policy *b, char *why,
			size_t whylen);

/* One rule in one policy and not the other (see ef_policy_diff()). */
struct ef_rule_change {
	char *text;	/* the rule as written in its policy */
	bool deny;	/* from the "deny" list */
	bool added;	/* in the new policy only; false: in the old one only */
	int line, col;	/* its position in the policy it is in */
	bool inbound;	/* from the "inbound" list (deny is then false) */
};

/* What changed from one policy to another. */
struct ef_policy_change {
	/* removed rules (old file order: allow and deny, then inbound), then
	 * added ones (new file order, likewise) */
	struct ef_rule_change *rules;
	size_t n_rules;
	/* changed settings in this order: name, mode, loopback ("loopback:
	 * \"own\" -> true"), sockets.raw, .packet, .icmp,
	 * .other_protocols, .multicast, .families, capabilities
	 * ("capabilities: +NET_ADMIN -SYS_NICE"), dns.upstream,
	 * probe.action and each threshold; e.g. "mode: audit -> enforce",
	 * "sockets.families: +vsock -can", "dns.upstream: default -> 1.1.1.1",
	 * "probe.window_s: 60 -> 120" (thresholds as in force, defaults
	 * filled in) */
	char **settings;
	size_t n_settings;
};

/*
 * The rule-level difference between two policies: a rule counts as the
 * same in both when it is in the same list with the same destination,
 * protocols and port set, however spelled ("API.github.com.:443/tcp" is
 * "api.github.com:443"). Returns 0 or -ENOMEM (out is then empty). Free
 * with ef_policy_change_free(); it holds copies, so it outlives both.
 */
int ef_policy_diff(const struct ef_policy *old_p, const struct ef_policy *new_p,
		   struct ef_policy_change *out);
void ef_policy_change_free(struct ef_policy_change *c);

/*
 * egressctl policy add/remove: `text` (a whole policy file, which must be
 * valid: else its "FILE:LINE:COL: message") with the rule strings
 * remove[0..n_remove) taken out of the "allow" list ("deny" if `deny`),
 * then add[0..n_add) appended to it, written to *out (malloc'd,
 * NUL-terminated) as canonical text:
 *   - every key, in its order, with its value, 2-space indent, a trailing
 *     newline; objects and arrays of objects one member per line, arrays
 *     of plain values on one line, except "allow", "deny" and "inbound": one rule per
 *     line, as written; strings re-escaped minimally;
 *   - a list that was absent and gets rules is placed after "allow" (for
 *     "deny"), before "deny" (for "allow"), else after "name",
 *     "description" or "mode", whichever comes last;
 *   - a rule to remove matches the rule of the list with the same meaning
 *     (ef_policy_diff()'s sense), however spelled. Errors (-EINVAL, *out
 *     NULL): a rule string ef_rule_parse() refuses, as "RULE:COL: message";
 *     removing one that is not in the list ("FILE: \"RULE\" is not in
 *     \"allow\""), adding one that already is ("FILE:LINE:COL: \"RULE\" is
 *     already in \"allow\" as \"TEXT\"") or twice; a result the parser
 *     refuses (e.g. too large: -EFBIG).
 * Returns 0, -EINVAL, -EFBIG or -ENOMEM.
 */
int ef_policy_edit(const char *text, size_t len, const char *file, const char *const *add,
		   size_t n_add, const char *const *remove, size_t n_remove, bool deny, char **out,
		   char *err, size_t errlen);
/* The lists ef_policy_edit_list() edits. */
enum ef_edit_list { EF_EDIT_ALLOW = 0, EF_EDIT_DENY = 1, EF_EDIT_INBOUND = 2 };
/* ef_policy_edit() of any list: "inbound" rules are parsed as
 * ef_inbound_rule_parse() parses them, and an absent "inbound" list goes
 * after "deny" or "allow", whichever comes last, else as for "deny". */
int ef_policy_edit_list(const char *text, size_t len, const char *file, const char *const *add,
			size_t n_add, const char *const *remove, size_t n_remove,
			enum ef_edit_list list, char **out, char *err, size_t errlen);
/* The canonical text of a valid policy (ef_policy_edit() with no change);
 * -EINVAL without a message for an invalid one: use ef_policy_parse() or
 * ef_policy_edit() for that. */
int ef_policy_format(const char *text, size_t len, char **out);

/* The map entries of one policy version. */
struct ef_lpm_entry {
	struct ef_lpm_key key;
	struct ef_ports val;
};
struct ef_exact_entry {
	struct ef_exact_key key;
	struct ef_ports val;
};

/* One distinct host name or wildcard of the policy's rules. */
struct ef_name_entry {
	const char *pattern; /* "api.github.com" or "*.githubusercontent.com" */
	__u32 hash;	     /* of the name (without "*.") and the kind; see names.c */
	__u16 name_len;	     /* strlen of the name without "*." */
	__u8 wildcard;	     /* 1: matches names below the name, never the name itself */
	__u8 pad;
	struct ef_ports val; /* own ranges plus those of every covering wildcard */
};

/*
 * The host-name rules of a policy version, for the DNS proxy; user space
 * only (no map holds it). An open-addressing hash over the entries: a
 * lookup costs one probe per label of the name. Read-only once built, so
 * any number of threads may look up concurrently.
 */
struct ef_name_slot {
	__u32 hash; /* the entry's, so that a probe past it reads no entry */
	__u32 idx;  /* index in e[] + 1; 0: empty */
};
struct ef_name_table {
	struct ef_name_entry *e;   /* in no particular order */
	size_t n;
	struct ef_name_slot *slot; /* 2^k slots, at most half of them used */
	__u32 mask;		   /* number of slots - 1 */
	char *text;		   /* the patterns, NUL-terminated, one after the other */
};

struct ef_compiled {
	__u32 policy_id;
	struct ef_policy_val pval;
	struct ef_lpm_entry *lpm;
	size_t n_lpm;
	struct ef_exact_entry *exact;
	size_t n_exact;
	struct ef_name_table names;
};

/*
 * Compile the CIDR rules of `p` into map entries for `policy_id`, and its
 * host-name rules into the name table (see ef_name_lookup()). The inbound
 * rules get entries of their own, under family | EF_FAM_INBOUND, built
 * the same way over the inbound rules alone (range rule ids n_rules + i):
 * no outbound entry inherits from an inbound prefix, nor the reverse.
 * Addresses of full length (/32, /128) go to the exact hash, others to the
 * LPM trie. Every entry carries its own ranges plus those of every shorter
 * prefix of the same family covering it, so one longest-prefix lookup
 * decides. The metadata addresses (169.254.169.254, fd00:ec2::254) always
 * get an exact entry flagged EF_EF_METADATA that inherits only deny ranges:
 * a wide allow (0.0.0.0/0) never opens them; a rule naming the exact address
 * does. Name entries inherit the same way from the wildcards covering
 * them (*.b.com and *.com cover a.b.com and *.a.b.com). Fails with -E2BIG
 * and a positioned message if an entry would need more than EF_MAX_RANGES
 * ranges after merging.
 */
int ef_policy_compile(const struct ef_policy *p, __u32 policy_id, struct ef_compiled **out,
		      char *err, size_t errlen);
void ef_compiled_free(struct ef_compiled *c);

/*
 * Reference lookup over compiled entries, the same algorithm as the BPF
 * programs: exact hash, else longest prefix, then ef_judge_ports(). No
 * entry: EF_R_NO_RULE. Loopback and mode are not applied here.
 * Returns 1 allow, 0 deny.
 */
int ef_compiled_match(const struct ef_compiled *c, __u8 family, const __u8 addr[16], __u16 port,
		      __u8 proto_bit, __u8 *reason, __u32 *rule_id);

/*
 * The same for an inbound connection: `family`/`addr` the PEER, `port` the
 * job's LOCAL port (entries under family | EF_FAM_INBOUND, which no
 * outbound lookup ever reaches, nor an inbound one an outbound entry).
 * Loopback peers are not special-cased here (the BPF side allows them
 * before looking). rule_id is n_rules + index of the inbound rule.
 */
int ef_compiled_match_inbound(const struct ef_compiled *c, __u8 family, const __u8 addr[16],
			      __u16 port, __u8 proto_bit, __u8 *reason, __u32 *rule_id);

/* Naive reference over the rules themselves (for tests): deny rule covering
 * wins, else allow rule covering, metadata special case as above. */
int ef_policy_match_naive(const struct ef_policy *p, __u8 family, const __u8 addr[16], __u16 port,
			  __u8 proto_bit, __u8 *reason, __u32 *rule_id);

/* The naive reference for ef_compiled_match_inbound(): the inbound rules,
 * deny before allow, no metadata or loopback barrier (an outside peer
 * spoofing 127/8, which route_localnet lets in, is judged by the rules);
 * rule ids as there (n_rules + index). */
int ef_policy_match_inbound_naive(const struct ef_policy *p, __u8 family, const __u8 addr[16],
				  __u16 port, __u8 proto_bit, __u8 *reason, __u32 *rule_id);

/* Parse "a.b.c.d" or an IPv6 address (no brackets); IPv4-mapped IPv6 is
 * returned as V4. Returns 0 or -EINVAL. */
int ef_addr_parse(const char *s, __u8 *family, __u8 addr[16]);

/* ---- host names (names.c), for the DNS proxy ---- */

#define EF_HOSTNAME_MAX 253 /* characters of a name without the trailing dot */

/*
 * The ranges that apply to DNS name `qname` (any case, trailing dot
 * allowed; at most EF_HOSTNAME_MAX chars without the dot) under compiled
 * policy `c`: the exact-name entry if there is one, else the entry of the
 * longest matching wildcard suffix. NULL if no name rule covers it, and for
 * empty, over-long or malformed names: an empty label, a label longer than
 * 63, or a character other than a letter, digit, '-' or '_' (so a
 * presentation-form escape such as "\." never matches). `*pattern`
 * (optional) gets the matched pattern text, e.g. "api.github.com" or
 * "*.githubusercontent.com", valid as long as `c`; NULL when none matched.
 */
const struct ef_ports *ef_name_lookup(const struct ef_compiled *c, const char *qname,
				      const char **pattern);

/*
 * The DNS decision for a name's ranges: 1 if any allow range is there
 * (reason EF_R_RULE, rule_id = first allow range's rule), else 0:
 * EF_R_DENY_RULE (rule_id = first deny range's rule) if deny ranges are
 * there, EF_R_NO_RULE (rule_id EF_RULE_NONE) if v is NULL or empty. Ports
 * are not looked at: the connection to the address is judged later.
 */
int ef_name_judge(const struct ef_ports *v, __u8 *reason, __u32 *rule_id);

/*
 * Naive reference over p->rules for tests: finds the covering rules by
 * scanning them all and builds the same merged ranges into `out`.
 * Returns 1 found, 0 none, -E2BIG if more than EF_MAX_RANGES ranges.
 */
int ef_name_lookup_naive(const struct ef_policy *p, const char *qname, struct ef_ports *out);

/*
 * What kind of address this is. Special ranges: 0.0.0.0/8, 10/8,
 * 100.64/10, 127/8, 169.254/16, 172.16/12, 192.0.0/24, 192.168/16, 224/4,
 * 240/4 (255.255.255.255 included); ::, ::1, fc00::/7, fe80::/10,
 * fec0::/10, ff00::/8; and the cloud metadata addresses 169.254.169.254,
 * fd00:ec2::254, 169.254.170.2 (ECS) and 100.100.100.200 (Alibaba).
 * NOT 198.18.0.0/15 or 2001:db8::/32 (the test world uses them as public
 * hosts). `family` is EF_FAM_V4 (IPv4 in addr[0..3]) or EF_FAM_V6; an
 * IPv4-mapped IPv6 address is judged as its IPv4 address, and so is a
 * NAT64 one (64:ff9b::/96; 64:ff9b:1::/48 in any RFC 6052 layout). Any other
 * family is EF_AC_RESERVED.
 */
/* The order is the sensitivity (a NAT64 address with several candidate
 * embeddings takes the lowest non-public one): keep it. */
enum ef_addr_cls {
	EF_AC_PUBLIC = 0,
	EF_AC_METADATA,
	EF_AC_LOOPBACK,
	EF_AC_LINK_LOCAL,
	EF_AC_PRIVATE, /* RFC 1918, carrier-grade NAT, unique local, site-local */
	EF_AC_MULTICAST,
	EF_AC_RESERVED,
};
enum ef_addr_cls ef_addr_class(__u8 family, const __u8 addr[16]);
const char *ef_addr_class_name(enum ef_addr_cls c);
/* The address as text ("198.18.0.1", "2001:db8::1"; no brackets), in out
 * (INET6_ADDRSTRLEN is enough); returns out. */
const char *ef_addr_str(__u8 family, const __u8 addr[16], char *out, size_t len);
/* Addresses a public name must not point at (DNS rebinding): every class
 * but EF_AC_PUBLIC. */
bool ef_addr_internal(__u8 family, const __u8 addr[16]);
/* The cloud metadata address a policy must name exactly to open:
 * 169.254.169.254, fd00:ec2::254, and 169.254.169.254 through NAT64
 * (64:ff9b::a9fe:a9fe, 64:ff9b:1::a9fe:a9fe). */
bool ef_addr_is_meta(__u8 family, const __u8 addr[16]);

/*
 * 1 if an allow rule of the compiled policy covers the address on some
 * port (the exact or CIDR entry deciding for it has at least one allow
 * range), else 0. The metadata addresses count as covered only by rules
 * naming them, as in ef_compiled_match().
 */
int ef_compiled_covers(const struct ef_compiled *c, __u8 family, const __u8 addr[16]);

/* The address is inside the CIDR rule's prefix (any port; false for name
 * rules). */
bool ef_rule_covers(const struct ef_rule *r, __u8 family, const __u8 addr[16]);

/* FNV-1a 64 over n bytes, continuing from h (EF_FNV1A_INIT to start). */
#define EF_FNV1A_INIT 0xcbf29ce484222325ull
__u64 ef_fnv1a(const void *p, size_t n, __u64 h);

/*
 * Parse a dns.upstream entry ("1.1.1.1", "1.1.1.1:5353", "2606:4700::1111",
 * "[2606:4700::1111]:53") into family/addr (IPv4 in addr[0..3]) and port
 * (host order, default 53). Accepts exactly what the policy parser
 * accepts. IPv4-mapped IPv6 becomes V4. Returns 0 or -EINVAL.
 */
int ef_upstream_parse(const char *s, __u8 *family, __u8 addr[16], __u16 *port);

/* W3C Trace Context (policy/tracectx.c): the job's TRACEPARENT (egressctl)
 * and each process's (egressd, lib/proc.bpf.h). */
#define EF_TRACESTATE_MAX 512
struct ef_tracectx {
	uint8_t trace_id[16];
	uint8_t span_id[8];
	uint8_t flags;
};
bool ef_traceparent_parse(const char *tp, struct ef_tracectx *out);
bool ef_tracestate_valid(const char *ts);

#endif /* EF_POLICY_H */
