// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * DBUS_SESSION_BUS_ADDRESS as egressctl run reads it (cli/bus_addr.c): the
 * environment is the caller's. Invariants: it ends; each path is not empty,
 * NUL-terminated, shorter than the room given and NUL-free; the cursor only
 * moves forward, within the string.
 */
#include <stdint.h>
#include <string.h>

#include "fuzz.h"
#include "../../cli/bus_addr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1), out[64];
	const char *cur;
	size_t room = size ? data[0] % sizeof(out) : sizeof(out), n = 0;

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = 0;
	cur = s;
	for (;;) {
		const char *was = cur;
		int got;

		memset(out, 'X', sizeof(out));
		got = ef_bus_next_path(&cur, out, room);
		CHECK(cur >= was && cur <= s + strlen(s));
		if (!got)
			break;
		CHECK(out[0] && memchr(out, 0, room) != NULL && strlen(out) < room);
		CHECK(cur > was);
		CHECK(++n <= size);
	}
	free(s);
	return 0;
}
