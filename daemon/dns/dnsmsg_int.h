/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* What dnsmsg.c (messages) and dnsmsg_ttl.c (answers kept in a job's
 * cache) share: the wire format's fixed sizes and the reading of a TTL. */
#ifndef EF_DNSMSG_INT_H
#define EF_DNSMSG_INT_H

#include <stdint.h>

#include <ldns/ldns.h>

#define HDR_LEN	      LDNS_HEADER_SIZE
#define Q_FIXED	      4	 /* type, class after a question's name */
#define RR_FIXED      10 /* type, class, TTL, RDLENGTH after a record's owner */
#define RR_MIN	      11 /* the root as owner and no rdata */
#define OPT_LEN	      11 /* an OPT record without options */
#define SOA_MIN_RDATA 22 /* two names of one byte, then five 32-bit numbers */

/* RFC 2181 8: a TTL with the top bit set is read as 0. */
static inline uint32_t ttl_of(uint32_t ttl)
{
	return ttl > INT32_MAX ? 0 : ttl;
}

static inline uint32_t min_u32(uint32_t a, uint32_t b)
{
	return a < b ? a : b;
}

#endif /* EF_DNSMSG_INT_H */
