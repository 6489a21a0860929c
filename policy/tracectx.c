// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * W3C Trace Context (https://www.w3.org/TR/trace-context/), as carried in
 * the TRACEPARENT and TRACESTATE environment variables (OpenTelemetry's
 * environment carrier): one strict parser for egressctl (the job's own) and
 * egressd (each process's, read from its environment at exec). A value that
 * does not parse is dropped whole, never half-used.
 */
#include <string.h>

#include "policy.h"

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1; /* upper case too: the format says lowercase */
}

/* n hex digits to n / 2 bytes; false if one is not lowercase hex */
static bool unhex(const char *s, int n, uint8_t *out)
{
	for (int i = 0; i < n; i += 2) {
		int hi = hexval(s[i]), lo = hi < 0 ? -1 : hexval(s[i + 1]);

		if (lo < 0)
			return false;
		out[i / 2] = (uint8_t)(hi << 4 | lo);
	}
	return true;
}

static bool all_zero(const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

/*
 * VERSION-TRACEID-PARENTID-FLAGS, lowercase hex, 2-32-16-2. Version ff is
 * invalid; version 00 is exactly 55 characters; a later version may append
 * "-..." (its fields are then read as version 00's). Ids all zero are
 * invalid.
 */
bool ef_traceparent_parse(const char *tp, struct ef_tracectx *out)
{
	struct ef_tracectx t;
	uint8_t ver;

	if (!tp || strnlen(tp, 56) < 55 || tp[2] != '-' || tp[35] != '-' || tp[52] != '-')
		return false;
	if (!unhex(tp, 2, &ver) || ver == 0xff)
		return false;
	if (tp[55] != '\0' && (ver == 0 || tp[55] != '-'))
		return false;
	if (!unhex(tp + 3, 32, t.trace_id) || !unhex(tp + 36, 16, t.span_id) ||
	    !unhex(tp + 53, 2, &t.flags))
		return false;
	if (all_zero(t.trace_id, sizeof(t.trace_id)) || all_zero(t.span_id, sizeof(t.span_id)))
		return false;
	*out = t;
	return true;
}

/* simple-key / tenant@system key: [a-z0-9][a-z0-9_\-*\/]* (@ once) */
static bool key_ok(const char *k, size_t n)
{
	int at = 0;

	if (!n || n > 256 || !((k[0] >= 'a' && k[0] <= 'z') || (k[0] >= '0' && k[0] <= '9')))
		return false;
	for (size_t i = 1; i < n; i++) {
		char c = k[i];

		if (c == '@' && !at++ && i + 1 < n && i <= 241)
			continue;
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
		      c == '*' || c == '/'))
			return false;
	}
	return true;
}

/* value: printable ASCII but ',' and '=', at most 256, not ending in a space */
static bool value_ok(const char *v, size_t n)
{
	if (!n || n > 256 || v[n - 1] == ' ')
		return false;
	for (size_t i = 0; i < n; i++)
		if (v[i] < 0x20 || v[i] > 0x7e || v[i] == ',' || v[i] == '=')
			return false;
	return true;
}

/*
 * list-member *( OWS "," OWS list-member ), at most 32 members and 512
 * characters; empty members (",,") are allowed and skipped, as the spec
 * says. Returns false for anything else: the whole value is dropped.
 */
bool ef_tracestate_valid(const char *ts)
{
	size_t len = ts ? strnlen(ts, EF_TRACESTATE_MAX + 1) : 0;
	const char *p = ts, *end = ts + len;
	int members = 0;

	if (!ts || !len || len > EF_TRACESTATE_MAX)
		return false;
	while (p < end) {
		const char *m, *me, *eq;

		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		m = p;
		while (p < end && *p != ',')
			p++;
		me = p;
		while (me > m && (me[-1] == ' ' || me[-1] == '\t'))
			me--;
		if (p < end)
			p++; /* the comma */
		if (me == m)
			continue;
		eq = memchr(m, '=', (size_t)(me - m));
		if (!eq || !key_ok(m, (size_t)(eq - m)) || !value_ok(eq + 1, (size_t)(me - eq - 1)))
			return false;
		if (++members > 32)
			return false;
	}
	return members > 0;
}
