// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libFuzzer target for the exporter's parser of journal lines (OTLP/JSON
 * back to protobuf) and of export responses. A journal file is as hostile
 * as anyone who can write to the state dir: whatever a line holds, the
 * parser refuses it or yields a request that decodes again, and never
 * crashes or leaks. Lines accumulate in one batch across inputs (as the
 * exporter merges consecutive lines), packed now and then.
 */
#include <stdint.h>
#include <stdlib.h>

#include "export/otlp_pb.h"
#include "trace_service.pb-c.h"
#include "lib/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ef_pb_batch *b;
	static unsigned lines;
	char err[128], msg[64];
	int64_t rejected;
	int n;

	if (!b) {
		ef_log_level = -1;
		b = ef_pb_batch_new();
		if (!b)
			abort();
	}
	n = ef_pb_batch_add(b, (const char *)data, size, err, sizeof(err));
	if (n >= 0)
		lines++;
	if (lines >= 4 || ef_pb_batch_spans(b) > 256) {
		struct ef_buf out = { 0 };

		if (ef_pb_batch_pack(b, &out) == 0) {
			Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest *r =
				opentelemetry__proto__collector__trace__v1__export_trace_service_request__unpack(
					NULL, out.len, (const uint8_t *)out.p);

			if (!r)
				abort(); /* we wrote something that is not a request */
			opentelemetry__proto__collector__trace__v1__export_trace_service_request__free_unpacked(
				r, NULL);
		}
		ef_buf_free(&out);
		ef_pb_batch_reset(b);
		lines = 0;
	}
	ef_otlp_partial_success(data, size, 0, &rejected, msg, sizeof(msg));
	ef_otlp_partial_success(data, size, 1, &rejected, msg, sizeof(msg));
	return 0;
}
