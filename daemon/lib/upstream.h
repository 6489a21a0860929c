/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* DNS servers the proxy forwards to, from their text (upstream.c). */
#ifndef EF_LIB_UPSTREAM_H
#define EF_LIB_UPSTREAM_H

#include <stddef.h>
#include <sys/socket.h>

/* A DNS server the proxy forwards to. */
#define EF_DNS_MAX_UPSTREAMS 4
struct ef_upstream {
	struct sockaddr_storage sa;
	socklen_t len;
	char text[64]; /* "198.18.0.53:53", "[2001:db8::53]:53" */
};

/* Append the server s ("1.1.1.1", "[2606:4700::1111]:53") to out: 0,
 * -EINVAL (not an address), -E2BIG (EF_DNS_MAX_UPSTREAMS already). */
int ef_upstream_add(const char *s, struct ef_upstream *out, size_t *n_out);
/* out (*n_out of them) is the n servers of v, or the first error */
int ef_upstreams_parse(char *const *v, size_t n, struct ef_upstream *out, size_t *n_out);

#endif /* EF_LIB_UPSTREAM_H */
