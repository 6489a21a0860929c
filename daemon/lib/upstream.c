// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * DNS servers the proxy forwards to, from their text: the config file's
 * dns.upstream, a policy's dns.upstream, resolv.conf's nameservers.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "policy.h"
#include "upstream.h"

static void upstream_fill(struct ef_upstream *u, __u8 family, const __u8 addr[16], __u16 port)
{
	char a[INET6_ADDRSTRLEN];

	memset(u, 0, sizeof(*u));
	if (family == EF_FAM_V4) {
		struct sockaddr_in *s = (struct sockaddr_in *)&u->sa;

		s->sin_family = AF_INET;
		memcpy(&s->sin_addr, addr, 4);
		s->sin_port = htons(port);
		u->len = sizeof(*s);
		inet_ntop(AF_INET, addr, a, sizeof(a));
		snprintf(u->text, sizeof(u->text), "%s:%u", a, port);
	} else {
		struct sockaddr_in6 *s = (struct sockaddr_in6 *)&u->sa;

		s->sin6_family = AF_INET6;
		memcpy(&s->sin6_addr, addr, 16);
		s->sin6_port = htons(port);
		u->len = sizeof(*s);
		inet_ntop(AF_INET6, addr, a, sizeof(a));
		snprintf(u->text, sizeof(u->text), "[%s]:%u", a, port);
	}
}

/* Append the server s ("1.1.1.1", "[2606:4700::1111]:53") to out. */
int ef_upstream_add(const char *s, struct ef_upstream *out, size_t *n_out)
{
	__u8 fam, addr[16];
	__u16 port;

	if (ef_upstream_parse(s, &fam, addr, &port))
		return -EINVAL;
	if (*n_out == EF_DNS_MAX_UPSTREAMS)
		return -E2BIG;
	upstream_fill(&out[(*n_out)++], fam, addr, port);
	return 0;
}

int ef_upstreams_parse(char *const *v, size_t n, struct ef_upstream *out, size_t *n_out)
{
	int ret = 0;

	*n_out = 0;
	for (size_t i = 0; i < n && !ret; i++)
		ret = ef_upstream_add(v[i], out, n_out);
	return ret;
}
