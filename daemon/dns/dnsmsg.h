/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The DNS message layer of egressd's per-job DNS proxy: pure functions over
 * wire-format messages (libc + ldns, no daemon state, no libbpf), so they can
 * be unit tested and fuzzed on their own.
 *
 * The proxy parses a job's query (ef_dns_query_parse), decides by name, and
 * either answers it itself (ef_dns_reply_error) or forwards it upstream under
 * a fresh id (ef_dns_set_id). An upstream answer is checked against the query
 * and its A/AAAA addresses learned (ef_dns_answer_parse) before it is
 * released to the job.
 *
 * Every input is hostile: any byte string of any length may be passed, and
 * the result is one of the documented return codes, never a crash or a read
 * outside [pkt, pkt + len). Names are decoded by ldns (ldns_wire2dname()),
 * which follows compression pointers anywhere in the message, forward ones
 * included, stops a pointer loop after LDNS_MAX_POINTERS (65535) hops or
 * when the decoded name passes 255 bytes, and rejects pointers past the end
 * of the message, pointers to offset 0 and the 0x40/0x80 label types.
 * A loop of pointers alone costs ~180 us in those 65535 hops, so the one
 * name a job controls that could hold one is refused before ldns sees it:
 * the question, a message's first name, with nothing before it that a
 * pointer could rightly point to. Answer records do use compression; their
 * names are only read once the id matched.
 * The RR framing (type, class, TTL, RDLENGTH) is checked here: ldns_wire2rr()
 * does not check that the rdata fields it decodes fill RDLENGTH exactly, so
 * a record whose RDLENGTH disagrees with its rdata would make it read the
 * next record from the middle of this one, seeing records the job's own
 * resolver library would not.
 *
 * Names in presentation form: ldns's escaping (ldns_rdf2buffer_str_dname()
 * in ldns 1.8.3), without the trailing dot, ASCII letters lowercased, the
 * root as "". Inside a label '.', ';', '(', ')' and '\' are written as "\.",
 * "\;", "\(", "\)", "\\", and bytes outside 0x21..0x7e (space, controls,
 * bytes >= 0x80) as "\DDD" in decimal; other bytes are themselves. So one
 * string names one wire name: the one-label name "a.b" (wire 03 'a' '.' 'b'
 * 00) is "a\.b" and never equals the two-label "a.b". A caller that matches a
 * suffix such as ".example.com" must only cut at an unescaped dot: no policy
 * name contains '\', so a name holding one can be refused outright.
 *
 * Functions return 0 (or a length) on success and a negative errno.
 */
#ifndef EF_DNSMSG_H
#define EF_DNSMSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define EF_DNS_NAME_MAX	    256 /* presentation name incl. NUL */
#define EF_DNS_NAME_LEN_MAX 253 /* longest name accepted, presentation, no trailing dot */
#define EF_DNS_MAX_ADDRS    64
#define EF_DNS_MAX_CNAMES   8	  /* CNAME chain length followed */
#define EF_DNS_MSG_MAX	    65535 /* a DNS message's length is 16 bits on TCP */
#define EF_DNS_UDP_MIN	    512	  /* what a client without EDNS0 takes over UDP */
#define EF_DNS_EDNS_SIZE    1232  /* UDP size our own replies advertise (DNS flag day 2020) */

enum {
	EF_DNS_RCODE_NOERROR = 0,
	EF_DNS_RCODE_FORMERR = 1,
	EF_DNS_RCODE_SERVFAIL = 2,
	EF_DNS_RCODE_NXDOMAIN = 3,
	EF_DNS_RCODE_NOTIMP = 4,
	EF_DNS_RCODE_REFUSED = 5,
};

enum {
	EF_DNS_TYPE_A = 1,
	EF_DNS_TYPE_CNAME = 5,
	EF_DNS_TYPE_AAAA = 28,
	EF_DNS_TYPE_OPT = 41,
	EF_DNS_TYPE_HTTPS = 65,
	EF_DNS_TYPE_ANY = 255,
};

enum { EF_DNS_CLASS_IN = 1 };
enum { EF_DNS_OPCODE_QUERY = 0 };

struct ef_dns_query {
	uint16_t id, qtype, qclass;
	uint8_t opcode; /* copied into a reply, as RFC 1035 asks */
	bool rd, cd;
	bool has_question; /* name, qtype, qclass are filled */
	bool has_edns;
	bool dnssec_ok;		    /* the DO bit of its OPT record */
	uint16_t udp_size;	    /* largest UDP answer the client takes: 512 or its EDNS0 size */
	char name[EF_DNS_NAME_MAX]; /* lowercase, no trailing dot; "" for the root */
	uint8_t qwire_len;	    /* the question's name in wire form, as the job spelt it */
	uint8_t qwire[255];	    /* (0 when has_question is false) */
};

/*
 * Parse a query from a job.
 *   0: a well-formed standard query: one question whose name is not
 *      compressed and is at most EF_DNS_NAME_LEN_MAX characters, no answer
 *      or authority records, at most one additional record which is an OPT
 *      owned by the root (a 0 byte) whose options fill its rdata exactly,
 *      nothing after the last record (the proxy forwards the query as is).
 *   -EBADMSG: not answerable at all, drop it: shorter than a header, longer
 *      than EF_DNS_MSG_MAX, or QR set (answering a response could start a
 *      loop between two resolvers).
 *   -EPROTO: answer it with ef_dns_reply_error(q, q->has_question, *rcode):
 *      EF_DNS_RCODE_NOTIMP for an opcode other than QUERY (the question is
 *      filled when there is exactly one and it parses); EF_DNS_RCODE_FORMERR
 *      for anything else above (the question is filled when it parsed and
 *      fits, and the fault lies elsewhere: counts, OPT, trailing bytes).
 * On 0 and -EPROTO, q->id, opcode, rd, cd are filled. *rcode is
 * EF_DNS_RCODE_NOERROR unless -EPROTO. -ENOMEM when ldns could not allocate.
 * The length is not checked against a transport: a UDP query longer than 512
 * bytes is the client's to send.
 */
int ef_dns_query_parse(const uint8_t *pkt, size_t len, struct ef_dns_query *q, int *rcode);

/*
 * Write into out an answer to q with no records and the given rcode (0..15:
 * NXDOMAIN, SERVFAIL, FORMERR, NOTIMP, REFUSED, or NOERROR for an empty
 * answer): id, opcode and RD, CD copied from q, QR and RA set, AA, TC, AD
 * clear. With has_question, q->name/qtype/qclass are echoed as the question
 * (spelt as the job spelt it, q->qwire, when that is the same name);
 * without, the question section is empty (what a stub accepts only with
 * FORMERR). When q had EDNS0 the reply carries an OPT record advertising
 * EF_DNS_EDNS_SIZE, as a resolver's own answers do; so an NXDOMAIN looks like
 * a resolver's, except that it carries no SOA. Never more than 512 bytes.
 * Returns the length written, -ENOSPC if outlen is too small, -EINVAL for an
 * rcode out of range or a name ldns cannot read, -ENOMEM.
 */
ssize_t ef_dns_reply_error(const struct ef_dns_query *q, bool has_question, int rcode,
			   uint8_t *out, size_t outlen);

struct ef_dns_addr {
	uint8_t family;	  /* 4 or 6 */
	uint8_t addr[16]; /* network order; IPv4 in [0..3] */
	uint32_t ttl;
};

struct ef_dns_answer {
	uint16_t id;
	int rcode; /* with an OPT record, including its extended bits */
	bool tc;
	size_t n_addrs;
	struct ef_dns_addr addrs[EF_DNS_MAX_ADDRS];
	size_t n_cnames;
	char cnames[EF_DNS_MAX_CNAMES][EF_DNS_NAME_MAX]; /* chain targets in order, lowercase */
	bool truncated_list; /* more addresses than EF_DNS_MAX_ADDRS, or the chain went on
			      * past EF_DNS_MAX_CNAMES or through a name over 253 characters */
};

/*
 * Parse an upstream answer to q (as ef_dns_query_parse filled it).
 *   -EBADMSG: shorter than a header, longer than EF_DNS_MSG_MAX, a
 *      compressed question name, or a name or record that does not parse
 *      (also an A/AAAA record of q's class whose RDLENGTH is not 4/16, or a
 *      CNAME whose target does not fill its RDATA exactly). -ENOMEM.
 *   -EPROTO: QR clear, id != expect_id, opcode not QUERY, or a question
 *      section that is not exactly q's question (name compared ignoring ASCII
 *      case, type, class); a header-only error answer without a question
 *      lands here too.
 *   0: a->id, rcode, tc set; the addresses learned:
 * The CNAME chain is followed through the answer section from q->name, in
 * chain order whatever the record order (first CNAME of an owner wins),
 * stopping at a name already on the chain, and after EF_DNS_MAX_CNAMES
 * targets. The A and AAAA records of the answer section whose owner is on
 * the chain are collected, whatever q->qtype; an address's ttl is the
 * minimum of its own TTL and those of the CNAMEs on the way to it (a TTL
 * with the top bit set counts as 0, RFC 2181). Records of q's class only;
 * records of other owners, and all of the authority and additional sections,
 * are ignored: no resolver vouches for them. With TC set, a message cut
 * inside a record parses up to the cut (a->tc = true). Bytes after the last
 * record are ignored, as stub resolvers do.
 */
int ef_dns_answer_parse(const uint8_t *pkt, size_t len, const struct ef_dns_query *q,
			uint16_t expect_id, struct ef_dns_answer *a);

/*
 * The query the proxy sends upstream for q: never the job's bytes. A
 * header with the given id, opcode QUERY, RD set and only CD taken from q
 * (RD, AD and Z, which a job could set freely, are not its to choose); the one question
 * with the name as `qname` spells it (wire form, qname_len bytes, as
 * ef_dns_name_case() left it); and, when the job sent EDNS0, an OPT record
 * of the proxy's own: UDP size EF_DNS_EDNS_SIZE, version 0, the DO bit
 * copied, no options. So nothing the job put in its query reaches the
 * upstream unless the proxy parsed and chose it: no EDNS options (client
 * subnet, cookies, padding, or any unknown code), no other additional
 * records, no flag bits, no case pattern.
 * Returns the length written, -ENOSPC, or -EINVAL for a qname that is not
 * one well-formed uncompressed wire name.
 */
ssize_t ef_dns_query_build(const struct ef_dns_query *q, const uint8_t *qname, size_t qname_len,
			   uint16_t id, uint8_t *out, size_t outlen);

/*
 * Set the case of the ASCII letters of a wire name (in place): letter i
 * (counting letters only) upper case when bit i of bits (bits[i / 8] >>
 * (i % 8)) is set, else lower; rlen bytes of bits (32 cover any name).
 * With random bits this is DNS 0x20 (draft-vixie-dnsext-dns0x20): an
 * upstream's answer must echo the spelling, which a spoofer cannot guess,
 * and the job's own spelling never leaves the host. Letters past
 * 8 * rlen are lowered. Length bytes are never changed.
 */
void ef_dns_name_case(uint8_t *wire, size_t len, const uint8_t *bits, size_t rlen);

/*
 * An upstream answer already accepted by ef_dns_answer_parse(): check that
 * its question spells the name exactly as sent (sent, sent_len: wire form)
 * and, when it does, write the job's spelling `orig` (same length, as
 * ef_dns_query_parse() kept it in q->qwire) over it in place, so the job
 * sees its own question back (and the answer records whose owner points at
 * it). -EPROTO when the spelling differs (a spoof, or an upstream that
 * does not keep case), -EBADMSG when pkt is too short to hold it.
 */
int ef_dns_answer_spelling(uint8_t *pkt, size_t len, const uint8_t *sent, size_t sent_len,
			   const uint8_t *orig);

/*
 * Whether the proxy forwards a question of this type: a type ldns has a
 * descriptor for (the registered RR types, A to TLSA, HTTPS, CAA, ...) or
 * ANY; not OPT, TSIG, TKEY, AXFR, IXFR, MAILA, MAILB (never asked over a
 * stub's path). Unassigned and private-use types carry nothing a job's
 * resolver asks for, only 16 bits of the job's choosing.
 */
bool ef_dns_type_forwardable(uint16_t t);

/*
 * An answer the proxy keeps in its cache (dns_cache.c), aged in place: the
 * TTL of every record of the answer, authority and additional sections but
 * the OPT record is lowered by `age` seconds (to 0 at least; a TTL with the
 * top bit set reads as 0; an SOA record's is first lowered to its MINIMUM,
 * the last 32 bits of its rdata: how long a negative answer lives, RFC
 * 2308), and *min_ttl is set to the least TTL left among them (UINT32_MAX
 * when there are none). With age 0 the message is only
 * read. Walks owner names without following compression pointers (a name
 * ends at a 0 byte or a pointer) and checks each record's framing against
 * len. -EBADMSG for a message shorter than its header or a record that does
 * not fit, a label type other than 0x00/0xc0, or bytes after the last
 * record (a message the proxy would not have kept); pkt is then unchanged
 * only up to the record that failed.
 */
int ef_dns_answer_age(uint8_t *pkt, size_t len, uint32_t age, uint32_t *min_ttl);

/*
 * Whether ef_dns_answer_age() can age this answer without changing any name
 * a resolver reads from it: 0 when no name (the question, each record's
 * owner, and the names in the rdata of NS, MD, MF, CNAME, MB, MG, MR, PTR,
 * DNAME, SOA, MINFO, RP, MX, AFSDB, RT, KX and SRV, compression followed)
 * has a byte in a TTL field. A compression pointer into a TTL is no server's
 * doing, only a crafted message's; -EBADMSG then, or when the framing or a
 * name does not hold (as ef_dns_answer_age()), and the proxy does not keep
 * it. Reads only.
 */
int ef_dns_answer_keepable(const uint8_t *pkt, size_t len);

/* Whether two wire names of n bytes are equal ignoring ASCII case. */
bool ef_dns_wire_eq_fold(const uint8_t *x, const uint8_t *y, size_t n);

/* Overwrite the message id in place (len >= 2). */
void ef_dns_set_id(uint8_t *pkt, uint16_t id);

#endif /* EF_DNSMSG_H */
