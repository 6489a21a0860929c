/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Names as spans and output spell them (names.c): of the ABI's enums
 * (keep in sync with include/ef_abi.h), and of DNS types and rcodes.
 */
#ifndef EF_LIB_NAMES_H
#define EF_LIB_NAMES_H

#include <stddef.h>
#include <stdint.h>

/* names.c — keep in sync with the enums of include/ef_abi.h */
const char *ef_verdict_name(int v);
const char *ef_reason_name(int r);
const char *ef_mode_name(int m);
/* every family Linux names (the table of policy/families.c), NULL for another */
const char *ef_family_name(int af);
const char *ef_socktype_name(int t);
const char *ef_transport_name(int ipproto);

#define EF_DNS_TYPESTR_MAX 16 /* buffer for ef_dns_type_name / ef_dns_rcode_name */

/*
 * Names for logs and spans, written into buf (len >= 1; EF_DNS_TYPESTR_MAX is
 * always enough) and returned. Types as ldns names them ("A", "AAAA",
 * "CNAME", "TXT", "HTTPS", "ANY", ...) or "TYPE65280"; rcodes as dig does
 * ("NOERROR", "NXDOMAIN", "NOTIMP", "BADVERS", ...) or "RCODE12".
 */
const char *ef_dns_type_name(uint16_t t, char *buf, size_t len);
const char *ef_dns_rcode_name(int rcode, char *buf, size_t len);

#endif /* EF_LIB_NAMES_H */
