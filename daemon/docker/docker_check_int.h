/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What docker_check.c (routes) and docker_check_body.c (bodies) share;
 * docker_check.h is their interface.
 */
#ifndef EF_DOCKER_CHECK_INT_H
#define EF_DOCKER_CHECK_INT_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

/* why (if not NULL) filled from fmt; returns ret. Inline, so that both
 * files call it as before the split, with no symbol of its own. */
static inline int say(char *why, size_t whylen, int ret, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static inline int say(char *why, size_t whylen, int ret, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (why && whylen)
		vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
	return ret;
}

#endif
