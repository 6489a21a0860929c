/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Names of the ABI's enums as spans and output spell them (names.c).
 * Keep in sync with the enums of include/ef_abi.h.
 */
#ifndef EF_LIB_NAMES_H
#define EF_LIB_NAMES_H


/* names.c — keep in sync with the enums of include/ef_abi.h */
const char *ef_verdict_name(int v);
const char *ef_reason_name(int r);
const char *ef_mode_name(int m);
const char *ef_family_name(int af);
const char *ef_socktype_name(int t);
const char *ef_transport_name(int ipproto);

#endif /* EF_LIB_NAMES_H */
