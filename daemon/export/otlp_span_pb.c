// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The live path of the exporter: each span encoded once, by the consumer,
 * straight from struct ef_span (protobuf-c, on the stack), and runs of them
 * wrapped into a request without parsing anything back. otlp_pb.c is the
 * other path (journal lines parsed back); the unit tests hold the two to
 * the same bytes.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "otlp_pb.h"
#include "trace_service.pb-c.h"

typedef Opentelemetry__Proto__Common__V1__AnyValue pb_any;
typedef Opentelemetry__Proto__Common__V1__KeyValue pb_kv;
typedef Opentelemetry__Proto__Common__V1__ArrayValue pb_array;
typedef Opentelemetry__Proto__Trace__V1__Span pb_span;
typedef Opentelemetry__Proto__Trace__V1__Status pb_status;

static size_t varint(uint8_t *p, uint64_t v)
{
	size_t n = 0;

	do {
		p[n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
		v >>= 7;
	} while (v);
	return n;
}

/* field number f, wire type 2 (length-delimited), then the length */
static int put_len_field(struct ef_buf *out, unsigned f, size_t len)
{
	uint8_t hdr[16];
	size_t n = varint(hdr, (uint64_t)f << 3 | 2);
	char *p;

	n += varint(hdr + n, len);
	p = ef_buf_extend(out, n);
	if (!p)
		return -ENOMEM;
	memcpy(p, hdr, n);
	return 0;
}

#define SPAN_MAX_VALUES 512 /* array elements of one span, all attributes together */

int ef_pb_span_append(struct ef_buf *out, const struct ef_span *s)
{
	pb_kv kv[EF_SPAN_MAX_ATTRS], *kvp[EF_SPAN_MAX_ATTRS];
	pb_any av[EF_SPAN_MAX_ATTRS], vals[SPAN_MAX_VALUES], *valp[SPAN_MAX_VALUES];
	pb_array arr[EF_SPAN_MAX_ATTRS];
	pb_span sp = OPENTELEMETRY__PROTO__TRACE__V1__SPAN__INIT;
	pb_status st = OPENTELEMETRY__PROTO__TRACE__V1__STATUS__INIT;
	Opentelemetry__Proto__Trace__V1__Span__Link link, *linkp;
	size_t nv = 0, len;
	char *p;

	sp.trace_id = (ProtobufCBinaryData){ 16, (uint8_t *)s->trace_id };
	sp.span_id = (ProtobufCBinaryData){ 8, (uint8_t *)s->span_id };
	if (s->has_parent)
		sp.parent_span_id = (ProtobufCBinaryData){ 8, (uint8_t *)s->parent_id };
	if (s->trace_state[0])
		sp.trace_state = (char *)s->trace_state;
	if (s->has_link) {
		opentelemetry__proto__trace__v1__span__link__init(&link);
		link.trace_id = (ProtobufCBinaryData){ 16, (uint8_t *)s->link_trace_id };
		link.span_id = (ProtobufCBinaryData){ 8, (uint8_t *)s->link_span_id };
		linkp = &link;
		sp.n_links = 1;
		sp.links = &linkp;
	}
	sp.name = (char *)s->name;
	sp.kind = s->kind;
	sp.start_time_unix_nano = s->start_ns;
	sp.end_time_unix_nano = s->end_ns;
	for (int i = 0; i < s->n_attrs; i++) {
		const struct ef_attr *a = &s->attrs[i];

		opentelemetry__proto__common__v1__key_value__init(&kv[i]);
		opentelemetry__proto__common__v1__any_value__init(&av[i]);
		kv[i].key = (char *)a->key;
		kv[i].value = &av[i];
		kvp[i] = &kv[i];
		switch (a->type) {
		case EF_AT_STR:
			av[i].value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
			av[i].string_value = (char *)a->s;
			break;
		case EF_AT_INT:
			av[i].value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE;
			av[i].int_value = a->i;
			break;
		case EF_AT_BOOL:
			av[i].value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE;
			av[i].bool_value = a->b;
			break;
		case EF_AT_STRS: {
			const char *q = a->s;

			if (nv + a->n > SPAN_MAX_VALUES)
				return -E2BIG;
			opentelemetry__proto__common__v1__array_value__init(&arr[i]);
			arr[i].n_values = a->n;
			arr[i].values = &valp[nv];
			for (int k = 0; k < a->n; k++, nv++) {
				opentelemetry__proto__common__v1__any_value__init(&vals[nv]);
				vals[nv].value_case =
					OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
				vals[nv].string_value = (char *)q;
				valp[nv] = &vals[nv];
				q += strlen(q) + 1;
			}
			av[i].value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_ARRAY_VALUE;
			av[i].array_value = &arr[i];
			break;
		}
		}
	}
	sp.n_attributes = s->n_attrs;
	sp.attributes = kvp;
	/* the journal writes "status":{} for UNSET: an empty Status, present */
	st.code = s->status;
	if (s->status_msg && s->status != EF_STATUS_UNSET)
		st.message = (char *)s->status_msg;
	sp.status = &st;
	len = opentelemetry__proto__trace__v1__span__get_packed_size(&sp);
	if (put_len_field(out, 2, len)) /* ScopeSpans.spans */
		return -ENOMEM;
	p = ef_buf_extend(out, len);
	if (!p)
		return -ENOMEM;
	opentelemetry__proto__trace__v1__span__pack(&sp, (uint8_t *)p);
	return 0;
}

int ef_pb_wrap(struct ef_buf *out, const struct ef_buf *res, const struct ef_buf *scope,
	       const char *spans, size_t spans_len)
{
	uint8_t tmp[16];
	size_t ss_len, rs_len;

	/* ScopeSpans = scope (1) + spans (2, already tagged) */
	ss_len = 1 + varint(tmp, scope->len) + scope->len + spans_len;
	/* ResourceSpans = resource (1) + scope_spans (2) */
	rs_len = 1 + varint(tmp, res->len) + res->len + 1 + varint(tmp, ss_len) + ss_len;
	if (put_len_field(out, 1, rs_len) || put_len_field(out, 1, res->len))
		return -ENOMEM;
	ef_buf_add(out, res->p, res->len);
	if (put_len_field(out, 2, ss_len) || put_len_field(out, 1, scope->len))
		return -ENOMEM;
	ef_buf_add(out, scope->p, scope->len);
	ef_buf_add(out, spans, spans_len);
	return out->oom ? -ENOMEM : 0;
}
