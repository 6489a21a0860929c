// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libFuzzer target for the span attributes of egress.packet and
 * egress.sockopt (daemon/spans/wire.c): the input is a ring-buffer record as the
 * BPF programs would write it, every byte arbitrary (families, levels,
 * option names, reasons the fence never produces included), then a buffer
 * length for the status message. Beyond memory errors it checks:
 *   - every string attribute is valid UTF-8 (OTLP requires it);
 *   - egress.wire.judged.* appear together, and only for an IPv4 or IPv6
 *     second endpoint;
 *   - the status message is NUL-terminated within the buffer it was given.
 */
#include <stdint.h>
#include <string.h>

#include "egressd.h"
#include "lib/span.h"
#include "spans/wire.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ef_span s;
	struct ef_event e;
	char msg[300];
	size_t len;

	memset(&e, 0, sizeof(e));
	memcpy(&e, data, size < sizeof(e) ? size : sizeof(e));
	len = size > sizeof(e) ? 1 + data[sizeof(e)] % sizeof(msg) : sizeof(msg);

	ef_span_init(&s, e.kind == EF_K_SOCKOPT ? "egress.sockopt" : "egress.packet", 0);
	if (e.kind == EF_K_SOCKOPT)
		ef_sockopt_span(&s, &e);
	else
		ef_wire_span(&s, &e);
	for (int i = 0; i < s.n_attrs; i++)
		if (s.attrs[i].type == EF_AT_STR)
			CHECK(ef_utf8_valid(s.attrs[i].s));
	CHECK(!ef_span_find(&s, "egress.wire.judged.address") ==
	      !ef_span_find(&s, "egress.wire.judged.port"));
	if (ef_span_find(&s, "egress.wire.judged.address"))
		CHECK(e.family2 == EF_FAM_V4 || e.family2 == EF_FAM_V6);

	memset(msg, 'x', sizeof(msg));
	if (ef_wire_status_msg(&e, "198.18.0.1", msg, len))
		CHECK(memchr(msg, '\0', len) != NULL);
	ef_sockopt_name((int)e.protocol, (int)e.port);
	ef_sockopt_level_name((int)(int16_t)e.protocol);
	return 0;
}
