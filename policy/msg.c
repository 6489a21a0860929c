// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The policy library's messages: formatted into the caller's buffer,
 * never unterminated, cut rather than failing; and what a user wrote,
 * quoted so that a message shows every byte of it.
 */
#include <stdio.h>
#include <string.h>

#include "internal.h"

void ef_vfmt(char *buf, size_t len, const char *fmt, va_list ap)
{
	if (!buf || !len)
		return;
	/* truncation is fine: messages are for humans */
	if (vsnprintf(buf, len, fmt, ap) < 0)
		buf[0] = '\0';
}

void ef_fmt(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ef_vfmt(buf, len, fmt, ap);
	va_end(ap);
}

void ef_msg_quote(char *dst, size_t dstlen, const char *src, size_t n)
{
	size_t o = 0, i;

	if (!dstlen)
		return;
	for (i = 0; i < n && src[i]; i++) {
		unsigned char c = (unsigned char)src[i];
		char tmp[8];
		size_t k = 1;

		if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
			tmp[0] = (char)c;
		else
			k = (size_t)snprintf(tmp, sizeof(tmp), "\\x%02x", c);
		/* keep room for "..." and the NUL */
		if (o + k + 4 > dstlen) {
			if (o + 4 <= dstlen) {
				memcpy(dst + o, "...", 3);
				o += 3;
			}
			break;
		}
		memcpy(dst + o, tmp, k);
		o += k;
	}
	dst[o] = '\0';
}
