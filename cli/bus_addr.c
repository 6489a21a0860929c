// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* D-Bus address lists: the unix:path= sockets of one (see bus_addr.h). */
#include <string.h>

#include "bus_addr.h"

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* [v, end) %-unescaped into out; 0, or -1 for a bad escape, a NUL or no room */
int ef_pct_unescape(const char *v, const char *end, char *out, size_t len)
{
	size_t o = 0;

	for (; v < end; v++) {
		int c = (unsigned char)*v;

		if (c == '%') {
			int hi = end - v > 2 ? hexval(v[1]) : -1, lo = hi >= 0 ? hexval(v[2]) : -1;

			if (lo < 0)
				return -1;
			c = hi * 16 + lo;
			v += 2;
		}
		if (c == 0 || o + 1 >= len)
			return -1;
		out[o++] = (char)c;
	}
	if (!len)
		return -1;
	out[o] = 0;
	return 0;
}

int ef_bus_next_path(const char **cur, char *out, size_t len)
{
	const char *a = *cur;

	while (*a) {
		const char *end = strchr(a, ';');
		const char *lim = end ? end : a + strlen(a);

		if (lim - a > 5 && !strncmp(a, "unix:", 5)) {
			const char *k = a + 5;

			while (k < lim) {
				const char *ke = memchr(k, ',', (size_t)(lim - k));

				if (!ke)
					ke = lim;
				if (ke - k > 5 && !strncmp(k, "path=", 5) &&
				    !ef_pct_unescape(k + 5, ke, out, len)) {
					*cur = ke;
					return 1;
				}
				k = ke + 1;
			}
		}
		if (!end) {
			a = lim;
			break;
		}
		a = end + 1;
	}
	*cur = a;
	return 0;
}
