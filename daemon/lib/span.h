/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The span model: what egressd records for every decision, and its OTLP/JSON
 * encoding (https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding:
 * ids as lowercase hex, 64-bit integers as strings, enums as integers).
 *
 * Spans are serialised on the ring-buffer consumer's path, so the encoder is
 * a direct writer into a growable buffer rather than a cJSON tree.
 */
#ifndef EF_SPAN_H
#define EF_SPAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define EF_SPAN_MAX_ATTRS 64
#define EF_SPAN_ARENA 4096
#define EF_SPAN_TRACESTATE_MAX 512

enum ef_attr_type { EF_AT_STR, EF_AT_INT, EF_AT_BOOL, EF_AT_STRS };
/* OTLP Span.SpanKind and Status.StatusCode */
enum { EF_KIND_INTERNAL = 1, EF_KIND_SERVER = 2, EF_KIND_CLIENT = 3 };
enum { EF_STATUS_UNSET = 0, EF_STATUS_OK = 1, EF_STATUS_ERROR = 2 };

struct ef_attr {
	const char *key; /* static or in the arena */
	enum ef_attr_type type;
	union {
		const char *s; /* EF_AT_STRS: n strings, each NUL-terminated, back to back */
		int64_t i;
		bool b;
	};
	int n; /* EF_AT_STRS: number of strings */
};

struct ef_span {
	uint8_t trace_id[16];
	uint8_t span_id[8];
	uint8_t parent_id[8];
	bool has_parent;
	/* W3C tracestate, validated; "": none. Its own room, not the arena's:
	 * a process's 512 characters must not crowd out the job's attributes */
	char trace_state[EF_SPAN_TRACESTATE_MAX + 1];
	/* one link: a decision put in a process's own trace, other than its
	 * job's, links back to the job span (proc_ctx.c) */
	bool has_link;
	uint8_t link_trace_id[16], link_span_id[8];
	const char *name;
	int kind;
	uint64_t start_ns, end_ns; /* unix epoch */
	int status;
	const char *status_msg;
	int n_attrs;
	struct ef_attr attrs[EF_SPAN_MAX_ATTRS];
	size_t arena_used;
	char arena[EF_SPAN_ARENA];
};

void ef_span_init(struct ef_span *s, const char *name, int kind);
/* Copies value (and key when copy_key) into the span's arena; silently
 * drops the attribute if the span is full (logged once by the caller). */
void ef_span_str(struct ef_span *s, const char *key, const char *value);
void ef_span_str_dupkey(struct ef_span *s, const char *key, const char *value);
/* A string array attribute (OTLP arrayValue). */
void ef_span_strs(struct ef_span *s, const char *key, const char *const *v, int n);
void ef_span_int(struct ef_span *s, const char *key, int64_t v);
void ef_span_bool(struct ef_span *s, const char *key, bool v);
const char *ef_span_strdup(struct ef_span *s, const char *v); /* as UTF-8 (U+FFFD for bad bytes) */
/* The span's tracestate (NULL: none); one longer than the room is none. */
void ef_span_trace_state(struct ef_span *s, const char *ts);
bool ef_utf8_valid(const char *v);
const struct ef_attr *ef_span_find(const struct ef_span *s, const char *key);

struct ef_buf {
	char *p;
	size_t len, cap;
	bool oom;
};
void ef_buf_reset(struct ef_buf *b);
void ef_buf_free(struct ef_buf *b);
void ef_buf_add_slow(struct ef_buf *b, const char *s, size_t n);
/* the consumer adds a few bytes at a time: the common case inline */
static inline void ef_buf_add(struct ef_buf *b, const char *s, size_t n)
{
	if (b->len + n + 1 <= b->cap) {
		memcpy(b->p + b->len, s, n);
		b->len += n;
		b->p[b->len] = '\0';
		return;
	}
	ef_buf_add_slow(b, s, n);
}
void ef_buf_puts(struct ef_buf *b, const char *s);
#define EF_BUF_LIT(b, lit) ef_buf_add((b), "" lit, sizeof(lit) - 1)
char *ef_buf_extend(struct ef_buf *b, size_t n); /* n more bytes to fill in; NULL: out of memory */
void ef_buf_printf(struct ef_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void ef_buf_json_str(struct ef_buf *b, const char *s); /* quoted, escaped */

/* Resource attributes, rendered once. */
struct ef_resource {
	char *json; /* the "resource" object */
};
int ef_resource_init(struct ef_resource *r, const char *service_name_default);
void ef_resource_fini(struct ef_resource *r);

/* One ExportTraceServiceRequest (as one line, with '\n') for n spans. */
void ef_otlp_json_request(struct ef_buf *b, const struct ef_resource *r,
			  const struct ef_span *const *spans, size_t n);

#endif /* EF_SPAN_H */
