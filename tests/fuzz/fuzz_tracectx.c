// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * TRACEPARENT and TRACESTATE as policy/tracectx.c reads them: a job's
 * process sets both to whatever it likes before egressd sees them. The
 * first byte picks the parser. Invariants: a traceparent taken is 55
 * lowercase-hex-and-dash characters (and "-..." after a later version) whose
 * ids are not zero and read back as given; a tracestate taken is at most
 * 512 printable characters.
 */
#include <stdint.h>
#include <string.h>

#include "fuzz.h"
#include "policy.h"

static void hex(const uint8_t *b, size_t n, char *out)
{
	static const char d[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = d[b[i] >> 4];
		out[2 * i + 1] = d[b[i] & 15];
	}
	out[2 * n] = '\0';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s, back[33];
	struct ef_tracectx tc;
	size_t len;

	if (!size)
		return 0;
	s = malloc(size);
	if (!s)
		return 0;
	memcpy(s, data + 1, size - 1);
	s[size - 1] = '\0';
	len = strlen(s);
	if (data[0] & 1) {
		memset(&tc, 0xa5, sizeof(tc));
		if (ef_traceparent_parse(s, &tc)) {
			static const uint8_t zero[16];

			CHECK(len == 55 || (len > 55 && s[55] == '-' && strncmp(s, "00", 2)));
			CHECK(strncmp(s, "ff", 2));
			CHECK(memcmp(tc.trace_id, zero, 16) && memcmp(tc.span_id, zero, 8));
			hex(tc.trace_id, 16, back);
			CHECK(!memcmp(s + 3, back, 32));
			hex(tc.span_id, 8, back);
			CHECK(!memcmp(s + 36, back, 16));
			hex(&tc.flags, 1, back);
			CHECK(!memcmp(s + 53, back, 2));
		}
	} else if (ef_tracestate_valid(s)) {
		CHECK(len > 0 && len <= EF_TRACESTATE_MAX);
		for (size_t i = 0; i < len; i++)
			CHECK(s[i] == '\t' || (s[i] >= 0x20 && s[i] <= 0x7e));
	}
	free(s);
	return 0;
}
