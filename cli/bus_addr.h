/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef EF_CLI_BUS_ADDR_H
#define EF_CLI_BUS_ADDR_H

#include <stddef.h>

/*
 * The socket paths of a D-Bus address list (DBUS_SESSION_BUS_ADDRESS):
 * addresses separated by ';', each "transport:key=value,key=value", values
 * %-escaped. Each call puts the next unix:path= value (unescaped, NUL-free,
 * not empty, shorter than len) in out, moves *cur past it and returns 1; a
 * relative path is as given (libdbus takes it from the working directory).
 * Returns 0 when there is none left. Anything else (other transports,
 * unix:abstract=, a too long path, a bad escape) is passed over: the bus
 * library would not connect there either, or it is not a file a mount
 * could cover.
 */
int ef_bus_next_path(const char **cur, char *out, size_t len);

/* [v, end) %-unescaped into out (D-Bus addresses, OTEL_RESOURCE_ATTRIBUTES):
 * 0, or -1 for a bad escape, an encoded NUL or no room */
int ef_pct_unescape(const char *v, const char *end, char *out, size_t len);

#endif /* EF_CLI_BUS_ADDR_H */
