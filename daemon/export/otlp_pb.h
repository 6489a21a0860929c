/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * OTLP/JSON journal lines to one OTLP/protobuf ExportTraceServiceRequest,
 * through protobuf-c code generated from the official schema. Lines come
 * from a file anyone with write access to the state dir could edit, so
 * every field is checked: a line that is not an ExportTraceServiceRequest as
 * the OTLP JSON mapping defines it is refused whole with a reason, and the
 * batch goes on without it.
 *
 * Consecutive lines with the same resource and scope share one ResourceSpans
 * and one ScopeSpans, so a request of 512 spans written in 512 small lines
 * still carries its resource once.
 */
#ifndef EF_OTLP_PB_H
#define EF_OTLP_PB_H

#include <stddef.h>
#include <stdint.h>

#include "lib/span.h"

struct ef_pb_batch;

struct ef_pb_batch *ef_pb_batch_new(void);
void ef_pb_batch_free(struct ef_pb_batch *b);
void ef_pb_batch_reset(struct ef_pb_batch *b);
/* Adds one line's spans. Returns how many, or -EINVAL (err says why; the
 * batch is as before) or -ENOMEM. */
int ef_pb_batch_add(struct ef_pb_batch *b, const char *line, size_t len, char *err,
		    size_t errlen);
size_t ef_pb_batch_spans(const struct ef_pb_batch *b);
/* The serialised request, appended to out. */
int ef_pb_batch_pack(struct ef_pb_batch *b, struct ef_buf *out);

/* An ExportTraceServiceResponse (protobuf or JSON body): its partial_success.
 * Returns 0 (rejected and msg filled, both empty when absent) or -EINVAL. */
int ef_otlp_partial_success(const void *body, size_t len, int json, int64_t *rejected,
			    char *msg, size_t msglen);

/*
 * The live path. The consumer encodes each span once, as a ScopeSpans.spans
 * element (field 2, tagged and sized), straight from struct ef_span; the
 * exporter wraps a run of them in one ResourceSpans whose resource and
 * scope it packed at start (ef_pb_envelope). Same content as the journal
 * line the same spans were written as, without parsing it back.
 */
int ef_pb_span_append(struct ef_buf *out, const struct ef_span *s);
int ef_pb_envelope(const char *resource_json, const char *scope_name, const char *scope_version,
		   struct ef_buf *res, struct ef_buf *scope);
/* Appends ExportTraceServiceRequest{ResourceSpans{res, ScopeSpans{scope, spans}}}. */
int ef_pb_wrap(struct ef_buf *out, const struct ef_buf *res, const struct ef_buf *scope,
	       const char *spans, size_t spans_len);

#endif /* EF_OTLP_PB_H */
