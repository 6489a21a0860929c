/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Span attributes of the wire check and of refused socket options (wire.c). */
#ifndef EF_WIRE_H
#define EF_WIRE_H

#include <stddef.h>

struct ef_span;
struct ef_event;

/* Symbolic names, NULL if unknown. */
const char *ef_sockopt_level_name(int level);
const char *ef_sockopt_name(int level, int name);

void ef_sockopt_span(struct ef_span *s, const struct ef_event *e);
void ef_wire_span(struct ef_span *s, const struct ef_event *e);
/* The status message of a packet or sockopt denial into msg; 0 if the
 * generic one applies. */
int ef_wire_status_msg(const struct ef_event *e, const char *addr, char *msg, size_t len);

#endif /* EF_WIRE_H */
