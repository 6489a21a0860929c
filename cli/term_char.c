// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * One character of a value the job chose, as a terminal may show it: what
 * audit's table, egressctl report and egressctl run's notices print.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "audit.h"

/* Bytes in the UTF-8 sequence at p, or 0 if it is not a valid one. */
static int utf8_len(const unsigned char *p)
{
	int n = 0;

	if (*p < 0x80)
		return 1;
	if (*p >= 0xc2 && *p <= 0xdf)
		n = 2;
	else if (*p >= 0xe0 && *p <= 0xef)
		n = 3;
	else if (*p >= 0xf0 && *p <= 0xf4)
		n = 4;
	for (int i = 1; i < n; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

int audit_char(const unsigned char *p)
{
	int l = utf8_len(p);

	if (!l || *p < 0x20 || *p == 0x7f || (p[0] == 0xc2 && p[1] <= 0x9f))
		return -(l ? l : 1);
	/* the bidi marks, embeddings, overrides and isolates (U+200E, U+200F,
	 * U+202A..U+202E, U+2066..U+2069): they make a name read as another */
	if (l == 3 && p[0] == 0xe2 &&
	    ((p[1] == 0x80 && (p[2] == 0x8e || p[2] == 0x8f || (p[2] >= 0xaa && p[2] <= 0xae))) ||
	     (p[1] == 0x81 && p[2] >= 0xa6 && p[2] <= 0xa9)))
		return -3;
	return l;
}

size_t term_copy(char *dst, size_t cap, const char *src)
{
	const unsigned char *p = (const unsigned char *)src;
	size_t o = 0;

	while (*p) {
		int l = audit_char(p);

		if (o + (l > 0 ? l : 1) >= cap)
			break;
		if (l < 0) {
			dst[o++] = '?';
			p += -l;
			continue;
		}
		memcpy(dst + o, p, l);
		o += l;
		p += l;
	}
	dst[o] = '\0';
	return o;
}
