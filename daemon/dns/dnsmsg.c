// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The DNS message layer of the per-job DNS proxy (see dnsmsg.h for the rules
 * it enforces). ldns decodes every name; the fixed fields around them are
 * read here so that RDLENGTH frames each record exactly.
 */
/* before ldns: without it ldns/common.h makes bool a signed char, and the
 * structs of dnsmsg.h would differ between this file and its callers */
#include <stdbool.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <ldns/ldns.h>

#include "dnsmsg.h"

#include "dnsmsg_int.h"

/* Answers seldom hold more records than this; a longer one costs one allocation. */
#define RR_STACK 32

_Static_assert(LDNS_MAX_DOMAINLEN == 255, "a wire name is at most 255 bytes");

/* The framing of one record; owner and CNAME target as ldns decoded them. */
struct rr {
	ldns_rdf *owner;
	ldns_rdf *target; /* a CNAME's, when of the query's class */
	size_t rdata;	  /* offset of the rdata in the message */
	uint32_t ttl;
	uint16_t type, rclass, rdlen;
};

static uint8_t ascii_lower(uint8_t c)
{
	return c >= 'A' && c <= 'Z' ? (uint8_t)(c + ('a' - 'A')) : c;
}

/* The name at *pos, advancing *pos past it (past the first pointer if compressed). */
static int get_name(const uint8_t *pkt, size_t len, size_t *pos, ldns_rdf **ret_name)
{
	ldns_status st;

	*ret_name = NULL;
	st = ldns_wire2dname(ret_name, pkt, len, pos);
	if (st == LDNS_STATUS_MEM_ERR)
		return -ENOMEM;
	if (st != LDNS_STATUS_OK || *pos > len) {
		ldns_rdf_deep_free(*ret_name);
		*ret_name = NULL;
		return -EBADMSG;
	}
	return 0;
}

/*
 * Whether the name at pos is compressed. The question is a message's first
 * name, with nothing before it to point to: a pointer there is a forward or
 * looping one that no resolver library writes, and refusing it before ldns
 * follows it spares the 65535 hops ldns allows a loop (~180 us, against
 * ~0.2 us for a whole query). Length bytes only: no pointer is followed here.
 */
static bool first_name_compressed(const uint8_t *pkt, size_t len, size_t pos)
{
	while (pos < len && pkt[pos] && pkt[pos] <= LDNS_MAX_LABELLEN)
		pos += pkt[pos] + 1u;
	return pos < len && (pkt[pos] & 0xc0) == 0xc0;
}

/*
 * Presentation form, as ldns_rdf2buffer_str_dname() escapes it (test_dns_names
 * holds the two equal on every byte value), minus the trailing dot, lowercase.
 * Written here because ldns's costs a heap buffer and a printf per byte.
 */
static int name_str(const ldns_rdf *d, char out[EF_DNS_NAME_MAX])
{
	const uint8_t *w = ldns_rdf_data(d);
	size_t wlen = ldns_rdf_size(d), i = 0, o = 0, j;

	out[0] = '\0';
	while (i < wlen && w[i]) {
		size_t n = w[i++];

		if (n > wlen - i)
			return -EBADMSG;
		if (o) {
			if (o + 1 > EF_DNS_NAME_LEN_MAX)
				goto too_long;
			out[o++] = '.';
		}
		for (j = 0; j < n; j++) {
			uint8_t c = w[i + j];

			if (c == '.' || c == ';' || c == '(' || c == ')' || c == '\\') {
				if (o + 2 > EF_DNS_NAME_LEN_MAX)
					goto too_long;
				out[o++] = '\\';
				out[o++] = (char)c;
			} else if (c < 0x21 || c > 0x7e) {
				if (o + 4 > EF_DNS_NAME_LEN_MAX)
					goto too_long;
				out[o++] = '\\';
				out[o++] = (char)('0' + c / 100);
				out[o++] = (char)('0' + c / 10 % 10);
				out[o++] = (char)('0' + c % 10);
			} else {
				if (o + 1 > EF_DNS_NAME_LEN_MAX)
					goto too_long;
				out[o++] = (char)ascii_lower(c);
			}
		}
		i += n;
	}
	out[o] = '\0';
	return 0;
too_long:
	out[0] = '\0';
	return -ENAMETOOLONG;
}

/* Label length bytes are at most 63, below 'A', so folding byte by byte folds only letters. */
static bool name_eq(const ldns_rdf *a, const ldns_rdf *b)
{
	const uint8_t *x = ldns_rdf_data(a), *y = ldns_rdf_data(b);
	size_t n = ldns_rdf_size(a), i;

	if (n != ldns_rdf_size(b))
		return false;
	for (i = 0; i < n; i++)
		if (ascii_lower(x[i]) != ascii_lower(y[i]))
			return false;
	return true;
}

bool ef_dns_wire_eq_fold(const uint8_t *x, const uint8_t *y, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (ascii_lower(x[i]) != ascii_lower(y[i]))
			return false;
	return true;
}

/* The wire form of a presentation name, through ldns's own reader of its escapes. */
static int name_wire(const char *name, uint8_t out[LDNS_MAX_DOMAINLEN], size_t *ret_len)
{
	ldns_rdf *d = NULL;
	ldns_status st;
	int ret = 0;

	if (!name[0]) {
		/* ldns reads "" as an error, "." as the root */
		out[0] = 0;
		*ret_len = 1;
		return 0;
	}
	st = ldns_str2rdf_dname(&d, name);
	if (st == LDNS_STATUS_MEM_ERR || (st == LDNS_STATUS_OK && !d))
		return -ENOMEM;
	if (st != LDNS_STATUS_OK || ldns_rdf_size(d) > LDNS_MAX_DOMAINLEN) {
		ret = -EINVAL;
		goto out;
	}
	memcpy(out, ldns_rdf_data(d), ldns_rdf_size(d));
	*ret_len = ldns_rdf_size(d);
out:
	ldns_rdf_deep_free(d);
	return ret;
}

/* A question; q is only written once the whole of it parsed and the name fits. */
static int get_question(const uint8_t *pkt, size_t len, size_t *pos, struct ef_dns_query *q)
{
	char name[EF_DNS_NAME_MAX];
	ldns_rdf *d;
	int ret;

	if (first_name_compressed(pkt, len, *pos))
		return -EBADMSG;
	ret = get_name(pkt, len, pos, &d);
	if (ret)
		return ret;
	ret = name_str(d, name);
	if (ret || ldns_rdf_size(d) > sizeof(q->qwire) || len - *pos < Q_FIXED) {
		ldns_rdf_deep_free(d);
		return ret ? ret : -EBADMSG;
	}
	/* uncompressed (above): the bytes ldns decoded are the job's own spelling */
	memcpy(q->qwire, ldns_rdf_data(d), ldns_rdf_size(d));
	q->qwire_len = (uint8_t)ldns_rdf_size(d);
	ldns_rdf_deep_free(d);
	q->qtype = ldns_read_uint16(pkt + *pos);
	q->qclass = ldns_read_uint16(pkt + *pos + 2);
	*pos += Q_FIXED;
	memcpy(q->name, name, strlen(name) + 1);
	return 0;
}

/* One record's framing at *pos, its rdata bounded by the message. */
static int get_rr(const uint8_t *pkt, size_t len, size_t *pos, struct rr *rr)
{
	const uint8_t *p;
	int ret;

	rr->target = NULL;
	ret = get_name(pkt, len, pos, &rr->owner);
	if (ret)
		return ret;
	if (len - *pos < RR_FIXED)
		goto bad;
	p = pkt + *pos;
	rr->type = ldns_read_uint16(p);
	rr->rclass = ldns_read_uint16(p + 2);
	rr->ttl = ldns_read_uint32(p + 4);
	rr->rdlen = ldns_read_uint16(p + 8);
	*pos += RR_FIXED;
	if (len - *pos < rr->rdlen)
		goto bad;
	rr->rdata = *pos;
	*pos += rr->rdlen;
	return 0;
bad:
	ldns_rdf_deep_free(rr->owner);
	rr->owner = NULL;
	return -EBADMSG;
}

static void rr_free(struct rr *rr)
{
	ldns_rdf_deep_free(rr->owner);
	ldns_rdf_deep_free(rr->target);
}

/* The one additional record a query may carry: an OPT owned by the root (RFC 6891 6.1.1). */
static int get_opt(const uint8_t *pkt, size_t len, size_t *pos, struct ef_dns_query *q)
{
	struct rr rr;
	size_t o, end;
	int ret;

	/* the root as one 0 byte, never a pointer (which could loop) */
	if (*pos >= len || pkt[*pos])
		return -EBADMSG;
	ret = get_rr(pkt, len, pos, &rr);
	if (ret)
		return ret;
	if (rr.type != EF_DNS_TYPE_OPT) {
		ret = -EBADMSG;
		goto out;
	}
	/* options (code, length, data) fill the rdata exactly, or the OPT is malformed */
	end = rr.rdata + rr.rdlen;
	for (o = rr.rdata; o < end; o += 4u + ldns_read_uint16(pkt + o + 2)) {
		if (end - o < 4 || end - o - 4 < ldns_read_uint16(pkt + o + 2)) {
			ret = -EBADMSG;
			goto out;
		}
	}
	q->has_edns = true;
	q->dnssec_ok = rr.ttl & 0x8000;
	/* RFC 6891 6.2.3: a size below 512 is read as 512 */
	q->udp_size = rr.rclass < EF_DNS_UDP_MIN ? EF_DNS_UDP_MIN : rr.rclass;
out:
	rr_free(&rr);
	return ret;
}

int ef_dns_query_parse(const uint8_t *pkt, size_t len, struct ef_dns_query *q, int *rcode)
{
	size_t pos = HDR_LEN;
	int ret;

	memset(q, 0, offsetof(struct ef_dns_query, name));
	q->name[0] = '\0';
	q->qwire_len = 0;
	q->udp_size = EF_DNS_UDP_MIN;
	*rcode = EF_DNS_RCODE_NOERROR;
	if (len < HDR_LEN || len > EF_DNS_MSG_MAX || LDNS_QR_WIRE(pkt))
		return -EBADMSG;
	q->id = LDNS_ID_WIRE(pkt);
	q->opcode = LDNS_OPCODE_WIRE(pkt);
	q->rd = LDNS_RD_WIRE(pkt);
	q->cd = LDNS_CD_WIRE(pkt);

	if (LDNS_QDCOUNT(pkt) == 1) {
		ret = get_question(pkt, len, &pos, q);
		if (ret == -ENOMEM)
			return ret;
		q->has_question = !ret;
	}
	if (q->opcode != EF_DNS_OPCODE_QUERY) {
		*rcode = EF_DNS_RCODE_NOTIMP;
		return -EPROTO;
	}
	/* what a stub sends, and no more (unbound's worker_check_request() draws the same line) */
	if (!q->has_question || LDNS_ANCOUNT(pkt) || LDNS_NSCOUNT(pkt) || LDNS_ARCOUNT(pkt) > 1)
		goto formerr;
	if (LDNS_ARCOUNT(pkt) == 1) {
		ret = get_opt(pkt, len, &pos, q);
		if (ret == -ENOMEM)
			return ret;
		if (ret)
			goto formerr;
	}
	/* the proxy forwards the query as it came: nothing may ride along unparsed */
	if (pos != len)
		goto formerr;
	return 0;
formerr:
	*rcode = EF_DNS_RCODE_FORMERR;
	return -EPROTO;
}

/* The proxy's own OPT record as the only additional record (ARCOUNT 1):
 * root owner, our UDP size, extended rcode and version 0, the DO bit if
 * asked, no options. Returns its length; the caller checked the room. */
static size_t put_opt(uint8_t *out, size_t o, bool dnssec_ok)
{
	ldns_write_uint16(out + LDNS_ARCOUNT_OFF, 1);
	memset(out + o, 0, OPT_LEN);
	ldns_write_uint16(out + o + 1, EF_DNS_TYPE_OPT);
	ldns_write_uint16(out + o + 3, EF_DNS_EDNS_SIZE);
	if (dnssec_ok)
		out[o + 7] = 0x80; /* TTL bytes: ext rcode, version, DO|Z, Z */
	return OPT_LEN;
}

ssize_t ef_dns_reply_error(const struct ef_dns_query *q, bool has_question, int rcode,
			   uint8_t *out, size_t outlen)
{
	uint8_t name[LDNS_MAX_DOMAINLEN];
	size_t nlen = 0, need = HDR_LEN, o = HDR_LEN;
	int ret;

	if (rcode < 0 || rcode > (int)LDNS_RCODE_MASK)
		return -EINVAL;
	if (has_question) {
		ret = name_wire(q->name, name, &nlen);
		if (ret)
			return ret;
		/* the job's own spelling back, when it is this name */
		if (q->qwire_len == nlen && ef_dns_wire_eq_fold(q->qwire, name, nlen))
			memcpy(name, q->qwire, nlen);
		need += nlen + Q_FIXED;
	}
	if (q->has_edns)
		need += OPT_LEN;
	if (outlen < need)
		return -ENOSPC;

	memset(out, 0, HDR_LEN);
	LDNS_ID_SET(out, q->id);
	out[2] = (uint8_t)(LDNS_QR_MASK | ((q->opcode << LDNS_OPCODE_SHIFT) & LDNS_OPCODE_MASK) |
			   (q->rd ? LDNS_RD_MASK : 0));
	/* RFC 4035 3.2.2: CD is copied into the answer */
	out[3] = (uint8_t)(LDNS_RA_MASK | (q->cd ? LDNS_CD_MASK : 0) | (unsigned int)rcode);
	if (has_question) {
		ldns_write_uint16(out + LDNS_QDCOUNT_OFF, 1);
		memcpy(out + o, name, nlen);
		o += nlen;
		ldns_write_uint16(out + o, q->qtype);
		ldns_write_uint16(out + o + 2, q->qclass);
		o += Q_FIXED;
	}
	if (q->has_edns)
		o += put_opt(out, o, false);
	return (ssize_t)o;
}

/*
 * An answer-section record: the parts the chain walk reads must be
 * well-formed, so that the proxy and the job's resolver library see the
 * same addresses. Records of another class are never read.
 */
static int check_answer_rr(const uint8_t *pkt, size_t len, const struct ef_dns_query *q,
			   struct rr *rr)
{
	size_t pos = rr->rdata;
	int ret;

	if (rr->rclass != q->qclass)
		return 0;
	switch (rr->type) {
	case EF_DNS_TYPE_A:
		return rr->rdlen == 4 ? 0 : -EBADMSG;
	case EF_DNS_TYPE_AAAA:
		return rr->rdlen == 16 ? 0 : -EBADMSG;
	case EF_DNS_TYPE_CNAME:
		ret = get_name(pkt, len, &pos, &rr->target);
		if (ret)
			return ret;
		return pos == rr->rdata + rr->rdlen ? 0 : -EBADMSG;
	}
	return 0;
}


struct chain {
	const ldns_rdf *name[1 + EF_DNS_MAX_CNAMES]; /* [0] is the question's */
	uint32_t ttl[1 + EF_DNS_MAX_CNAMES];	     /* least TTL on the way to name[i] */
	size_t n;
};

static int chain_find(const struct chain *c, const ldns_rdf *name)
{
	size_t i;

	for (i = 0; i < c->n; i++)
		if (name_eq(c->name[i], name))
			return (int)i;
	return -1;
}

static void collect(const struct ef_dns_query *q, const struct rr *rrs, size_t n_rr,
		    const ldns_rdf *qname, const uint8_t *pkt, struct ef_dns_answer *a)
{
	struct chain c = { .name = { qname }, .ttl = { UINT32_MAX }, .n = 1 };
	size_t i;

	for (;;) {
		const struct rr *cn = NULL;

		for (i = 0; i < n_rr && !cn; i++)
			if (rrs[i].target && name_eq(rrs[i].owner, c.name[c.n - 1]))
				cn = &rrs[i];
		if (!cn || chain_find(&c, cn->target) >= 0)
			break;
		if (c.n - 1 == EF_DNS_MAX_CNAMES || name_str(cn->target, a->cnames[c.n - 1])) {
			a->truncated_list = true;
			break;
		}
		c.name[c.n] = cn->target;
		c.ttl[c.n] = min_u32(c.ttl[c.n - 1], ttl_of(cn->ttl));
		c.n++;
	}
	a->n_cnames = c.n - 1;

	for (i = 0; i < n_rr; i++) {
		const struct rr *rr = &rrs[i];
		struct ef_dns_addr *ad;
		int k;

		if (rr->rclass != q->qclass ||
		    (rr->type != EF_DNS_TYPE_A && rr->type != EF_DNS_TYPE_AAAA))
			continue;
		k = chain_find(&c, rr->owner);
		if (k < 0)
			continue;
		if (a->n_addrs == EF_DNS_MAX_ADDRS) {
			a->truncated_list = true;
			break;
		}
		ad = &a->addrs[a->n_addrs++];
		memset(ad, 0, sizeof(*ad));
		ad->family = rr->type == EF_DNS_TYPE_A ? 4 : 6;
		memcpy(ad->addr, pkt + rr->rdata, rr->rdlen);
		ad->ttl = min_u32(ttl_of(rr->ttl), c.ttl[k]);
	}
}

int ef_dns_answer_parse(const uint8_t *pkt, size_t len, const struct ef_dns_query *q,
			uint16_t expect_id, struct ef_dns_answer *a)
{
	struct rr stack[RR_STACK], *rrs = stack;
	char name[EF_DNS_NAME_MAX];
	ldns_rdf *qname = NULL;
	size_t pos = HDR_LEN, n_rr = 0, cap = RR_STACK, i;
	uint16_t an;
	int ret, sec;

	a->id = 0;
	a->rcode = 0;
	a->tc = false;
	a->n_addrs = 0;
	a->n_cnames = 0;
	a->truncated_list = false;
	if (len < HDR_LEN || len > EF_DNS_MSG_MAX)
		return -EBADMSG;
	a->id = LDNS_ID_WIRE(pkt);
	a->rcode = LDNS_RCODE_WIRE(pkt);
	a->tc = LDNS_TC_WIRE(pkt);
	if (!LDNS_QR_WIRE(pkt) || a->id != expect_id ||
	    LDNS_OPCODE_WIRE(pkt) != EF_DNS_OPCODE_QUERY || LDNS_QDCOUNT(pkt) != 1)
		return -EPROTO;

	if (first_name_compressed(pkt, len, pos))
		return -EBADMSG;
	ret = get_name(pkt, len, &pos, &qname);
	if (ret)
		return ret;
	if (len - pos < Q_FIXED) {
		ret = -EBADMSG;
		goto out;
	}
	if (name_str(qname, name) || strcasecmp(name, q->name) ||
	    ldns_read_uint16(pkt + pos) != q->qtype ||
	    ldns_read_uint16(pkt + pos + 2) != q->qclass) {
		ret = -EPROTO;
		goto out;
	}
	pos += Q_FIXED;

	an = LDNS_ANCOUNT(pkt);
	if (an > RR_STACK) {
		/* a count the message cannot hold must not size the allocation */
		cap = (len - pos) / RR_MIN;
		if (cap > an)
			cap = an;
		rrs = calloc(cap ? cap : 1, sizeof(*rrs));
		if (!rrs) {
			ret = -ENOMEM;
			goto out;
		}
	}
	for (i = 0; i < an; i++) {
		if (n_rr == cap) {
			ret = -EBADMSG;
			goto cut;
		}
		ret = get_rr(pkt, len, &pos, &rrs[n_rr]);
		if (ret)
			goto cut;
		n_rr++;
		ret = check_answer_rr(pkt, len, q, &rrs[n_rr - 1]);
		if (ret)
			goto out;
	}
	/* the other sections only for their framing, and the extended rcode an OPT holds */
	for (sec = 0; sec < 2; sec++) {
		uint16_t count = sec ? LDNS_ARCOUNT(pkt) : LDNS_NSCOUNT(pkt);

		for (i = 0; i < count; i++) {
			struct rr rr;

			ret = get_rr(pkt, len, &pos, &rr);
			if (ret)
				goto cut;
			if (sec && rr.type == EF_DNS_TYPE_OPT)
				a->rcode = (int)((rr.ttl >> 24) << 4 | LDNS_RCODE_WIRE(pkt));
			rr_free(&rr);
		}
	}
	ret = 0;
	goto done;
cut:
	/* RFC 2181 9: a TC answer may end anywhere; what came before the cut still counts */
	if (ret == -ENOMEM || !a->tc)
		goto out;
	ret = 0;
done:
	collect(q, rrs, n_rr, qname, pkt, a);
out:
	for (i = 0; i < n_rr; i++)
		rr_free(&rrs[i]);
	if (rrs != stack)
		free(rrs);
	ldns_rdf_deep_free(qname);
	return ret;
}

/* One well-formed uncompressed wire name filling exactly len bytes. */
static bool wire_name_ok(const uint8_t *w, size_t len)
{
	size_t i = 0;

	if (!len || len > LDNS_MAX_DOMAINLEN)
		return false;
	while (i < len && w[i]) {
		if (w[i] > LDNS_MAX_LABELLEN)
			return false;
		i += w[i] + 1u;
	}
	return i == len - 1;
}

ssize_t ef_dns_query_build(const struct ef_dns_query *q, const uint8_t *qname, size_t qname_len,
			   uint16_t id, uint8_t *out, size_t outlen)
{
	size_t need = HDR_LEN + qname_len + Q_FIXED + (q->has_edns ? OPT_LEN : 0), o = HDR_LEN;

	if (!wire_name_ok(qname, qname_len))
		return -EINVAL;
	if (outlen < need)
		return -ENOSPC;
	memset(out, 0, HDR_LEN);
	LDNS_ID_SET(out, id);
	/* RD always (a stub's query without it is no use to a resolver, and the
	 * job's choice would be one more bit upstream); QR 0, opcode QUERY */
	out[2] = LDNS_RD_MASK;
	out[3] = q->cd ? LDNS_CD_MASK : 0; /* RA, Z, AD 0, rcode 0 */
	ldns_write_uint16(out + LDNS_QDCOUNT_OFF, 1);
	memcpy(out + o, qname, qname_len);
	o += qname_len;
	ldns_write_uint16(out + o, q->qtype);
	ldns_write_uint16(out + o + 2, q->qclass);
	o += Q_FIXED;
	if (q->has_edns)
		o += put_opt(out, o, q->dnssec_ok);
	return (ssize_t)o;
}

void ef_dns_name_case(uint8_t *wire, size_t len, const uint8_t *bits, size_t rlen)
{
	size_t i = 0, k = 0;

	while (i < len && wire[i] && wire[i] <= LDNS_MAX_LABELLEN) {
		size_t end = i + 1u + wire[i];

		for (i++; i < end && i < len; i++) {
			uint8_t c = ascii_lower(wire[i]);

			if (c < 'a' || c > 'z')
				continue;
			if (k / 8 < rlen && (bits[k / 8] >> (k % 8)) & 1)
				c = (uint8_t)(c - ('a' - 'A'));
			wire[i] = c;
			k++;
		}
	}
}

int ef_dns_answer_spelling(uint8_t *pkt, size_t len, const uint8_t *sent, size_t sent_len,
			   const uint8_t *orig)
{
	if (len < HDR_LEN || len - HDR_LEN < sent_len)
		return -EBADMSG;
	if (memcmp(pkt + HDR_LEN, sent, sent_len))
		return -EPROTO;
	memcpy(pkt + HDR_LEN, orig, sent_len);
	return 0;
}

bool ef_dns_type_forwardable(uint16_t t)
{
	switch (t) {
	case LDNS_RR_TYPE_ANY:
		return true;
	case LDNS_RR_TYPE_OPT:
	case LDNS_RR_TYPE_TSIG:
	case LDNS_RR_TYPE_TKEY:
	case LDNS_RR_TYPE_AXFR:
	case LDNS_RR_TYPE_IXFR:
	case LDNS_RR_TYPE_MAILA:
	case LDNS_RR_TYPE_MAILB:
	case 0:
		return false;
	}
	/* ldns_rr_descript() answers a placeholder for unknown types below its
	 * table's end: a descriptor counts only if it names this type */
	{
		const ldns_rr_descriptor *d = ldns_rr_descript(t);

		return d && d->_type == t && d->_name;
	}
}

void ef_dns_set_id(uint8_t *pkt, uint16_t id)
{
	LDNS_ID_SET(pkt, id);
}
