// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Answers the DNS proxy keeps in a job's cache (dns_cache.c): aged in place
 * when served (ef_dns_answer_age), and kept only when aging cannot change a
 * name a resolver reads (ef_dns_answer_keepable). Pure functions over
 * hostile bytes, as the rest of the message layer (dnsmsg.h).
 */
/* before ldns: see dnsmsg.c */
#include <stdbool.h>
#include <errno.h>
#include <stdlib.h>

#include <ldns/ldns.h>

#include "dnsmsg.h"
#include "dnsmsg_int.h"

/* The end of the wire name at *pos (a 0 byte or a pointer), unfollowed. */
static int skip_name(const uint8_t *pkt, size_t len, size_t *pos)
{
	for (size_t hops = 0; hops < LDNS_MAX_DOMAINLEN; hops++) {
		uint8_t b;

		if (*pos >= len)
			return -EBADMSG;
		b = pkt[*pos];
		if (b == 0) {
			*pos += 1;
			return 0;
		}
		if ((b & 0xc0) == 0xc0) {
			if (len - *pos < 2)
				return -EBADMSG;
			*pos += 2;
			return 0;
		}
		if (b & 0xc0)
			return -EBADMSG;
		*pos += 1 + (size_t)b;
	}
	return -EBADMSG;
}

int ef_dns_answer_age(uint8_t *pkt, size_t len, uint32_t age, uint32_t *min_ttl)
{
	size_t pos = HDR_LEN, n_rr;
	uint32_t least = UINT32_MAX;

	if (len < HDR_LEN)
		return -EBADMSG;
	n_rr = (size_t)LDNS_ANCOUNT(pkt) + LDNS_NSCOUNT(pkt) + LDNS_ARCOUNT(pkt);
	for (size_t i = 0; i < LDNS_QDCOUNT(pkt); i++) {
		if (skip_name(pkt, len, &pos) || len - pos < Q_FIXED)
			return -EBADMSG;
		pos += Q_FIXED;
	}
	for (size_t i = 0; i < n_rr; i++) {
		uint32_t ttl;
		uint16_t rdlen;

		if (skip_name(pkt, len, &pos) || len - pos < RR_FIXED)
			return -EBADMSG;
		rdlen = ldns_read_uint16(pkt + pos + 8);
		if (len - pos - RR_FIXED < rdlen)
			return -EBADMSG;
		if (ldns_read_uint16(pkt + pos) != LDNS_RR_TYPE_OPT) {
			ttl = ttl_of(ldns_read_uint32(pkt + pos + 4));
			/* RFC 2308 5: a negative answer lives min(SOA TTL, MINIMUM):
			 * the SOA's TTL says so, as a resolver serves it */
			if (ldns_read_uint16(pkt + pos) == LDNS_RR_TYPE_SOA && rdlen >= SOA_MIN_RDATA)
				ttl = min_u32(ttl, ttl_of(ldns_read_uint32(pkt + pos + RR_FIXED +
									   rdlen - 4)));
			ttl = ttl > age ? ttl - age : 0;
			ldns_write_uint32(pkt + pos + 4, ttl);
			least = min_u32(least, ttl);
		}
		pos += RR_FIXED + rdlen;
	}
	if (pos != len)
		return -EBADMSG;
	*min_ttl = least;
	return 0;
}

/* Bit i set: byte i of the message is in a TTL field ((len + 7) / 8 bytes). */
static bool in_ttl(const uint8_t *map, size_t i)
{
	return map[i / 8] >> (i % 8) & 1;
}

/* The name at pos, compression followed: 0 if none of its bytes (length
 * bytes, labels, pointers) is in a TTL field. */
static int name_clear(const uint8_t *pkt, size_t len, size_t pos, const uint8_t *m)
{
	size_t hops = 0, total = 0;

	for (;;) {
		uint8_t b;

		if (pos >= len || in_ttl(m, pos))
			return -EBADMSG;
		b = pkt[pos];
		if (b == 0)
			return 0;
		if ((b & 0xc0) == 0xc0) {
			if (pos + 1 >= len || in_ttl(m, pos + 1) || ++hops > 128)
				return -EBADMSG;
			pos = (size_t)(b & 0x3f) << 8 | pkt[pos + 1];
			continue;
		}
		if (b & 0xc0 || (total += 1 + (size_t)b) > LDNS_MAX_DOMAINLEN)
			return -EBADMSG;
		for (size_t i = 1; i <= b; i++)
			if (pos + i >= len || in_ttl(m, pos + i))
				return -EBADMSG;
		pos += 1 + (size_t)b;
	}
}

/* Where the rdata of a record of this type holds names (RFC 1035 3.3 and
 * the types that followed it with compression): offsets of the first, and
 * whether a second follows it at once. -1: none. */
static int rdata_names(uint16_t type, bool *two)
{
	*two = false;
	switch (type) {
	case LDNS_RR_TYPE_NS:
	case LDNS_RR_TYPE_MD:
	case LDNS_RR_TYPE_MF:
	case LDNS_RR_TYPE_CNAME:
	case LDNS_RR_TYPE_MB:
	case LDNS_RR_TYPE_MG:
	case LDNS_RR_TYPE_MR:
	case LDNS_RR_TYPE_PTR:
	case LDNS_RR_TYPE_DNAME:
		return 0;
	case LDNS_RR_TYPE_SOA:
	case LDNS_RR_TYPE_MINFO:
	case LDNS_RR_TYPE_RP:
		*two = true;
		return 0;
	case LDNS_RR_TYPE_MX:
	case LDNS_RR_TYPE_AFSDB:
	case LDNS_RR_TYPE_RT:
	case LDNS_RR_TYPE_KX:
		return 2;
	case LDNS_RR_TYPE_SRV:
		return 6;
	}
	return -1;
}

int ef_dns_answer_keepable(const uint8_t *pkt, size_t len)
{
	uint8_t *m;
	size_t pos = HDR_LEN, n_rr, start;
	int ret = -EBADMSG;

	if (len < HDR_LEN || len > EF_DNS_MSG_MAX)
		return -EBADMSG;
	m = calloc(1, (len + 7) / 8);
	if (!m)
		return -ENOMEM;
	/* first the TTL fields, then every name against them */
	n_rr = (size_t)LDNS_ANCOUNT(pkt) + LDNS_NSCOUNT(pkt) + LDNS_ARCOUNT(pkt);
	for (size_t i = 0; i < LDNS_QDCOUNT(pkt); i++) {
		if (skip_name(pkt, len, &pos) || len - pos < Q_FIXED)
			goto out;
		pos += Q_FIXED;
	}
	for (size_t i = 0; i < n_rr; i++) {
		if (skip_name(pkt, len, &pos) || len - pos < RR_FIXED ||
		    len - pos - RR_FIXED < ldns_read_uint16(pkt + pos + 8))
			goto out;
		for (size_t b = pos + 4; b < pos + 8; b++)
			m[b / 8] |= (uint8_t)(1u << (b % 8));
		pos += RR_FIXED + ldns_read_uint16(pkt + pos + 8);
	}
	if (pos != len)
		goto out;
	pos = HDR_LEN;
	for (size_t i = 0; i < LDNS_QDCOUNT(pkt); i++) {
		if (name_clear(pkt, len, pos, m))
			goto out;
		skip_name(pkt, len, &pos);
		pos += Q_FIXED;
	}
	for (size_t i = 0; i < n_rr; i++) {
		uint16_t type, rdlen;
		bool two;
		int at;

		if (name_clear(pkt, len, pos, m))
			goto out;
		skip_name(pkt, len, &pos);
		type = ldns_read_uint16(pkt + pos);
		rdlen = ldns_read_uint16(pkt + pos + 8);
		start = pos + RR_FIXED;
		at = rdata_names(type, &two);
		if (at >= 0 && (size_t)at < rdlen) {
			size_t p = start + (size_t)at;

			if (name_clear(pkt, len, p, m))
				goto out;
			if (two) {
				/* the second name starts where the first ends
				 * in place (a pointer ends it) */
				if (skip_name(pkt, start + rdlen, &p) ||
				    (p < start + rdlen && name_clear(pkt, len, p, m)))
					goto out;
			}
		}
		pos = start + rdlen;
	}
	ret = 0;
out:
	free(m);
	return ret;
}
