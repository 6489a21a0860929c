// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>

#include "otlp_pb.h"
#include "trace_service.pb-c.h"
#include "lib/util.h"

typedef Opentelemetry__Proto__Common__V1__AnyValue pb_any;
typedef Opentelemetry__Proto__Common__V1__KeyValue pb_kv;
typedef Opentelemetry__Proto__Common__V1__ArrayValue pb_array;
typedef Opentelemetry__Proto__Common__V1__KeyValueList pb_kvlist;
typedef Opentelemetry__Proto__Common__V1__InstrumentationScope pb_scope;
typedef Opentelemetry__Proto__Resource__V1__Resource pb_resource;
typedef Opentelemetry__Proto__Trace__V1__ResourceSpans pb_rs;
typedef Opentelemetry__Proto__Trace__V1__ScopeSpans pb_ss;
typedef Opentelemetry__Proto__Trace__V1__Span pb_span;
typedef Opentelemetry__Proto__Trace__V1__Status pb_status;
typedef Opentelemetry__Proto__Trace__V1__Span__Link pb_link;
typedef Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest pb_request;
typedef Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceResponse pb_response;

#define MAX_DEPTH 8 /* nested arrayValue/kvlistValue */

/* Everything a request points to lives in the arena or in the parsed lines
 * (strings point into the cJSON trees), all freed at once per batch. */
struct chunk {
	struct chunk *next;
	size_t used, cap;
	max_align_t data[];
};

struct ss_ent { /* a ScopeSpans being filled, and what it was made from */
	pb_ss *ss;
	size_t cap;
};

struct rs_ent {
	pb_rs *rs;
	size_t cap; /* of rs->scope_spans */
};

struct ef_pb_batch {
	struct chunk *chunks;
	cJSON **roots;
	size_t n_roots, cap_roots;
	struct rs_ent *rss;
	size_t n_rss, cap_rss;
	struct ss_ent *sss; /* every ScopeSpans, to free their span arrays */
	size_t n_sss, cap_sss;
	const cJSON *cur_res, *cur_scope; /* what the last ScopeSpans was made from */
	size_t n_spans;
};

static void *aalloc(struct ef_pb_batch *b, size_t n)
{
	struct chunk *c = b->chunks;

	n = (n + sizeof(max_align_t) - 1) & ~(sizeof(max_align_t) - 1);
	if (!c || c->cap - c->used < n) {
		size_t cap = n > 60000 ? n : 60000;

		c = malloc(sizeof(*c) + cap);
		if (!c)
			return NULL;
		c->cap = cap;
		c->used = 0;
		c->next = b->chunks;
		b->chunks = c;
	}
	c->used += n;
	return (char *)c->data + c->used - n;
}

static bool grow(void **arr, size_t *cap, size_t need, size_t elem)
{
	size_t nc;
	void *p;

	if (need <= *cap)
		return true;
	nc = *cap ? *cap * 2 : 16;
	while (nc < need)
		nc *= 2;
	p = realloc(*arr, nc * elem);
	if (!p)
		return false;
	*arr = p;
	*cap = nc;
	return true;
}

struct ef_pb_batch *ef_pb_batch_new(void)
{
	return calloc(1, sizeof(struct ef_pb_batch));
}

void ef_pb_batch_reset(struct ef_pb_batch *b)
{
	/* the growable arrays first: the messages holding them are in the arena */
	for (size_t i = 0; i < b->n_rss; i++)
		free(b->rss[i].rs->scope_spans);
	for (size_t i = 0; i < b->n_sss; i++)
		free(b->sss[i].ss->spans);
	while (b->chunks) {
		struct chunk *c = b->chunks;

		b->chunks = c->next;
		free(c);
	}
	for (size_t i = 0; i < b->n_roots; i++)
		cJSON_Delete(b->roots[i]);
	b->n_roots = b->n_rss = b->n_sss = b->n_spans = 0;
	b->cur_res = b->cur_scope = NULL;
}

void ef_pb_batch_free(struct ef_pb_batch *b)
{
	if (!b)
		return;
	ef_pb_batch_reset(b);
	free(b->roots);
	free(b->rss);
	free(b->sss);
	free(b);
}

size_t ef_pb_batch_spans(const struct ef_pb_batch *b)
{
	return b->n_spans;
}

/* ---- JSON mapping of OTLP (https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding) */

struct conv {
	struct ef_pb_batch *b;
	const char *why;
	bool oom;
};

static const cJSON *field(const cJSON *o, const char *key)
{
	return cJSON_GetObjectItemCaseSensitive(o, key);
}

static bool fail(struct conv *c, const char *why)
{
	if (!c->why)
		c->why = why;
	return false;
}

static void *c_alloc(struct conv *c, size_t n)
{
	void *p = aalloc(c->b, n);

	if (!p)
		c->oom = true;
	return p;
}

/* 64-bit integers are decimal strings in OTLP/JSON; numbers are accepted too */
static bool get_u64(const cJSON *v, uint64_t *out)
{
	char *end;

	if (cJSON_IsNumber(v)) {
		if (v->valuedouble < 0 || v->valuedouble >= 18446744073709551616.0 ||
		    v->valuedouble != floor(v->valuedouble))
			return false;
		*out = (uint64_t)v->valuedouble;
		return true;
	}
	if (!cJSON_IsString(v) || !v->valuestring[0] || v->valuestring[0] == '-' ||
	    v->valuestring[0] == '+' || v->valuestring[0] == ' ')
		return false;
	errno = 0;
	*out = strtoull(v->valuestring, &end, 10);
	return !*end && !errno;
}

static bool get_i64(const cJSON *v, int64_t *out)
{
	char *end;

	if (cJSON_IsNumber(v)) {
		if (v->valuedouble < -9223372036854775808.0 ||
		    v->valuedouble >= 9223372036854775808.0 || v->valuedouble != floor(v->valuedouble))
			return false;
		*out = (int64_t)v->valuedouble;
		return true;
	}
	if (!cJSON_IsString(v) || !v->valuestring[0] || v->valuestring[0] == ' ' ||
	    v->valuestring[0] == '+')
		return false;
	errno = 0;
	*out = strtoll(v->valuestring, &end, 10);
	return !*end && !errno;
}

static bool get_u32(const cJSON *v, uint32_t *out)
{
	uint64_t x;

	if (!v)
		return true;
	if (!get_u64(v, &x) || x > UINT32_MAX)
		return false;
	*out = (uint32_t)x;
	return true;
}

static int b64val(int ch)
{
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A';
	if (ch >= 'a' && ch <= 'z')
		return ch - 'a' + 26;
	if (ch >= '0' && ch <= '9')
		return ch - '0' + 52;
	if (ch == '+' || ch == '-')
		return 62;
	if (ch == '/' || ch == '_')
		return 63;
	return -1;
}

/* bytesValue: standard or URL-safe base64, padding optional */
static bool get_bytes(struct conv *c, const char *s, ProtobufCBinaryData *out)
{
	size_t n = strlen(s), o = 0;
	uint32_t acc = 0;
	int bits = 0;
	uint8_t *p;

	while (n && s[n - 1] == '=')
		n--;
	p = c_alloc(c, n * 3 / 4 + 1);
	if (!p)
		return false;
	for (size_t i = 0; i < n; i++) {
		int v = b64val((unsigned char)s[i]);

		if (v < 0)
			return fail(c, "bytesValue is not base64");
		acc = acc << 6 | v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			p[o++] = acc >> bits & 0xff;
		}
	}
	out->data = p;
	out->len = o;
	return true;
}

static bool conv_kvs(struct conv *c, const cJSON *arr, size_t *n, pb_kv ***out, int depth);

static bool conv_any(struct conv *c, const cJSON *v, pb_any *a, int depth)
{
	const cJSON *x;

	opentelemetry__proto__common__v1__any_value__init(a);
	if (!cJSON_IsObject(v))
		return fail(c, "an attribute value is not an object");
	if (depth > MAX_DEPTH)
		return fail(c, "attribute values nested too deep");
	if ((x = field(v, "stringValue"))) {
		if (!cJSON_IsString(x))
			return fail(c, "stringValue is not a string");
		a->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
		a->string_value = x->valuestring;
	} else if ((x = field(v, "boolValue"))) {
		if (!cJSON_IsBool(x))
			return fail(c, "boolValue is not true or false");
		a->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE;
		a->bool_value = cJSON_IsTrue(x);
	} else if ((x = field(v, "intValue"))) {
		a->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE;
		if (!get_i64(x, &a->int_value))
			return fail(c, "intValue is not a 64-bit integer");
	} else if ((x = field(v, "doubleValue"))) {
		a->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE;
		if (cJSON_IsNumber(x))
			a->double_value = x->valuedouble;
		else if (cJSON_IsString(x) && !strcmp(x->valuestring, "NaN"))
			a->double_value = NAN;
		else if (cJSON_IsString(x) && !strcmp(x->valuestring, "Infinity"))
			a->double_value = INFINITY;
		else if (cJSON_IsString(x) && !strcmp(x->valuestring, "-Infinity"))
			a->double_value = -INFINITY;
		else
			return fail(c, "doubleValue is not a number");
	} else if ((x = field(v, "bytesValue"))) {
		if (!cJSON_IsString(x))
			return fail(c, "bytesValue is not a string");
		a->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BYTES_VALUE;
		if (!get_bytes(c, x->valuestring, &a->bytes_value))
			return false;
	} else if ((x = field(v, "arrayValue"))) {
		const cJSON *vals = field(x, "values"), *e;
		pb_array *arr = c_alloc(c, sizeof(*arr));
		size_t i = 0;

		if (!arr)
			return false;
		opentelemetry__proto__common__v1__array_value__init(arr);
		if (!cJSON_IsObject(x) || (vals && !cJSON_IsArray(vals)))
			return fail(c, "arrayValue is not {\"values\": [...]}");
		arr->n_values = cJSON_GetArraySize(vals);
		arr->values = c_alloc(c, (arr->n_values + 1) * sizeof(*arr->values));
		if (!arr->values)
			return false;
		cJSON_ArrayForEach(e, vals) {
			pb_any *ea = c_alloc(c, sizeof(*ea));

			if (!ea || !conv_any(c, e, ea, depth + 1))
				return false;
			arr->values[i++] = ea;
		}
		a->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_ARRAY_VALUE;
		a->array_value = arr;
	} else if ((x = field(v, "kvlistValue"))) {
		pb_kvlist *kl = c_alloc(c, sizeof(*kl));

		if (!kl)
			return false;
		opentelemetry__proto__common__v1__key_value_list__init(kl);
		if (!cJSON_IsObject(x) ||
		    !conv_kvs(c, field(x, "values"), &kl->n_values, &kl->values, depth + 1))
			return fail(c, "kvlistValue is not {\"values\": [...]}");
		a->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_KVLIST_VALUE;
		a->kvlist_value = kl;
	}
	/* {} is an AnyValue with nothing set: valid, it stays empty */
	return true;
}

static bool conv_kvs(struct conv *c, const cJSON *arr, size_t *n, pb_kv ***out, int depth)
{
	const cJSON *e;
	size_t i = 0;

	*n = 0;
	*out = NULL;
	if (!arr)
		return true;
	if (!cJSON_IsArray(arr))
		return fail(c, "attributes is not an array");
	*n = cJSON_GetArraySize(arr);
	*out = c_alloc(c, (*n + 1) * sizeof(**out));
	if (!*out)
		return false;
	cJSON_ArrayForEach(e, arr) {
		const cJSON *k = field(e, "key"), *v = field(e, "value");
		pb_kv *kv = c_alloc(c, sizeof(*kv));

		if (!kv)
			return false;
		opentelemetry__proto__common__v1__key_value__init(kv);
		if (!cJSON_IsObject(e) || !cJSON_IsString(k))
			return fail(c, "an attribute has no string \"key\"");
		kv->key = k->valuestring;
		if (v) {
			kv->value = c_alloc(c, sizeof(*kv->value));
			if (!kv->value || !conv_any(c, v, kv->value, depth))
				return false;
		}
		(*out)[i++] = kv;
	}
	return true;
}

static bool conv_id(struct conv *c, const cJSON *v, size_t n, bool optional,
		    ProtobufCBinaryData *out, const char *what)
{
	uint8_t *p;

	out->len = 0;
	out->data = NULL;
	if (!v || (cJSON_IsString(v) && !v->valuestring[0])) {
		if (optional)
			return true;
		return fail(c, what);
	}
	p = c_alloc(c, n);
	if (!p)
		return false;
	if (!cJSON_IsString(v) || ef_unhex(v->valuestring, p, n))
		return fail(c, what);
	out->data = p;
	out->len = n;
	return true;
}

static bool str_field(struct conv *c, const cJSON *o, const char *key, char **out)
{
	const cJSON *v = field(o, key);

	if (!v)
		return true; /* proto3 default: "" (set by _init) */
	if (!cJSON_IsString(v))
		return fail(c, "a string field is not a string");
	*out = v->valuestring;
	return true;
}

/* Span.links: egressd writes one (proc_ctx.c): a trace id and span id, and
 * what the format allows beside them. */
static bool conv_links(struct conv *c, const cJSON *arr, pb_span *s)
{
	const cJSON *e;
	size_t i = 0;

	if (!arr)
		return true;
	if (!cJSON_IsArray(arr))
		return fail(c, "links is not an array");
	s->n_links = cJSON_GetArraySize(arr);
	s->links = c_alloc(c, (s->n_links + 1) * sizeof(*s->links));
	if (!s->links)
		return false;
	cJSON_ArrayForEach(e, arr) {
		pb_link *l = c_alloc(c, sizeof(*l));

		if (!l)
			return false;
		opentelemetry__proto__trace__v1__span__link__init(l);
		if (!cJSON_IsObject(e) ||
		    !conv_id(c, field(e, "traceId"), 16, false, &l->trace_id,
			     "a link's traceId is not 32 hex digits") ||
		    !conv_id(c, field(e, "spanId"), 8, false, &l->span_id,
			     "a link's spanId is not 16 hex digits") ||
		    !str_field(c, e, "traceState", &l->trace_state) ||
		    !get_u32(field(e, "flags"), &l->flags) ||
		    !get_u32(field(e, "droppedAttributesCount"), &l->dropped_attributes_count) ||
		    !conv_kvs(c, field(e, "attributes"), &l->n_attributes, &l->attributes, 0))
			return fail(c, "a link is not {\"traceId\", \"spanId\", ...}");
		s->links[i++] = l;
	}
	return true;
}

static bool conv_span(struct conv *c, const cJSON *j, pb_span *s)
{
	const cJSON *v, *st;
	double kind;

	opentelemetry__proto__trace__v1__span__init(s);
	if (!cJSON_IsObject(j))
		return fail(c, "a span is not an object");
	if (!conv_id(c, field(j, "traceId"), 16, false, &s->trace_id,
		     "traceId is not 32 hex digits") ||
	    !conv_id(c, field(j, "spanId"), 8, false, &s->span_id,
		     "spanId is not 16 hex digits") ||
	    !conv_id(c, field(j, "parentSpanId"), 8, true, &s->parent_span_id,
		     "parentSpanId is not 16 hex digits") ||
	    !str_field(c, j, "name", &s->name) || !str_field(c, j, "traceState", &s->trace_state))
		return false;
	if ((v = field(j, "kind"))) {
		/* enums are integers in OTLP/JSON */
		kind = cJSON_IsNumber(v) ? v->valuedouble : -1;
		if (kind < 0 || kind > 5 || kind != floor(kind))
			return fail(c, "kind is not a SpanKind number");
		s->kind = (int)kind;
	}
	if (((v = field(j, "startTimeUnixNano")) && !get_u64(v, &s->start_time_unix_nano)) ||
	    ((v = field(j, "endTimeUnixNano")) && !get_u64(v, &s->end_time_unix_nano)))
		return fail(c, "a time is not a 64-bit unsigned integer");
	if (!get_u32(field(j, "flags"), &s->flags) ||
	    !get_u32(field(j, "droppedAttributesCount"), &s->dropped_attributes_count) ||
	    !get_u32(field(j, "droppedEventsCount"), &s->dropped_events_count) ||
	    !get_u32(field(j, "droppedLinksCount"), &s->dropped_links_count))
		return fail(c, "a count is not a 32-bit unsigned integer");
	/* egressd writes no events; refusing them beats dropping them */
	if (cJSON_GetArraySize(field(j, "events")))
		return fail(c, "span events are not supported");
	if (!conv_links(c, field(j, "links"), s))
		return false;
	if (!conv_kvs(c, field(j, "attributes"), &s->n_attributes, &s->attributes, 0))
		return false;
	if ((st = field(j, "status"))) {
		pb_status *ps = c_alloc(c, sizeof(*ps));

		if (!ps)
			return false;
		opentelemetry__proto__trace__v1__status__init(ps);
		if (!cJSON_IsObject(st) || !str_field(c, st, "message", &ps->message))
			return fail(c, "status is not an object");
		if ((v = field(st, "code"))) {
			if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > 2 ||
			    v->valuedouble != floor(v->valuedouble))
				return fail(c, "status.code is not a StatusCode number");
			ps->code = (int)v->valuedouble;
		}
		s->status = ps;
	}
	return true;
}

static pb_resource *conv_resource(struct conv *c, const cJSON *r)
{
	pb_resource *pr = c_alloc(c, sizeof(*pr));

	if (!pr)
		return NULL;
	opentelemetry__proto__resource__v1__resource__init(pr);
	if (r && !cJSON_IsObject(r)) {
		fail(c, "resource is not an object");
		return NULL;
	}
	if (!conv_kvs(c, field(r, "attributes"), &pr->n_attributes, &pr->attributes, 0) ||
	    !get_u32(field(r, "droppedAttributesCount"), &pr->dropped_attributes_count)) {
		fail(c, "bad resource");
		return NULL;
	}
	return pr;
}

static pb_scope *conv_scope(struct conv *c, const cJSON *s)
{
	pb_scope *ps = c_alloc(c, sizeof(*ps));

	if (!ps)
		return NULL;
	opentelemetry__proto__common__v1__instrumentation_scope__init(ps);
	if (s && !cJSON_IsObject(s)) {
		fail(c, "scope is not an object");
		return NULL;
	}
	if (!str_field(c, s, "name", &ps->name) || !str_field(c, s, "version", &ps->version) ||
	    !conv_kvs(c, field(s, "attributes"), &ps->n_attributes, &ps->attributes, 0)) {
		fail(c, "bad scope");
		return NULL;
	}
	return ps;
}

static bool same(const cJSON *a, const cJSON *b)
{
	if (!a || !b)
		return a == b;
	return cJSON_Compare(a, b, true);
}

/* One line's spans, checked whole before anything is added to the batch. */
struct staged {
	const cJSON *res, *scope;
	pb_resource *pres; /* res and scope, converted while checking */
	pb_scope *pscope;
	pb_span *span;
};

static int commit(struct ef_pb_batch *b, struct conv *c, struct staged *st, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct rs_ent *re;
		struct ss_ent *se;

		if (!b->n_rss || !same(b->cur_res, st[i].res)) {
			pb_resource *r = st[i].pres ? st[i].pres : conv_resource(c, st[i].res);
			pb_rs *rs = c_alloc(c, sizeof(*rs));

			if (!r || !rs || !grow((void **)&b->rss, &b->cap_rss, b->n_rss + 1,
					       sizeof(*b->rss)))
				return -ENOMEM;
			opentelemetry__proto__trace__v1__resource_spans__init(rs);
			rs->resource = r;
			b->rss[b->n_rss++] = (struct rs_ent){ .rs = rs };
			b->cur_res = st[i].res;
			b->cur_scope = NULL;
		}
		re = &b->rss[b->n_rss - 1];
		if (!re->rs->n_scope_spans || !same(b->cur_scope, st[i].scope)) {
			pb_scope *sc = st[i].pscope;
			pb_ss *ss = c_alloc(c, sizeof(*ss));

			if (!sc || !ss ||
			    !grow((void **)&re->rs->scope_spans, &re->cap, re->rs->n_scope_spans + 1,
				  sizeof(*re->rs->scope_spans)) ||
			    !grow((void **)&b->sss, &b->cap_sss, b->n_sss + 1, sizeof(*b->sss)))
				return -ENOMEM;
			opentelemetry__proto__trace__v1__scope_spans__init(ss);
			ss->scope = sc;
			re->rs->scope_spans[re->rs->n_scope_spans++] = ss;
			b->sss[b->n_sss++] = (struct ss_ent){ .ss = ss };
			b->cur_scope = st[i].scope;
		}
		se = &b->sss[b->n_sss - 1];
		if (!grow((void **)&se->ss->spans, &se->cap, se->ss->n_spans + 1,
			  sizeof(*se->ss->spans)))
			return -ENOMEM;
		se->ss->spans[se->ss->n_spans++] = st[i].span;
		b->n_spans++;
	}
	return 0;
}

int ef_pb_batch_add(struct ef_pb_batch *b, const char *line, size_t len, char *err,
		    size_t errlen)
{
	struct conv c = { .b = b };
	struct staged *st = NULL;
	size_t n = 0, cap = 0;
	const cJSON *rss, *rs;
	cJSON *root;
	int ret = -EINVAL;

	root = cJSON_ParseWithLength(line, len);
	if (!root) {
		snprintf(err, errlen, "not JSON");
		return -EINVAL;
	}
	rss = field(root, "resourceSpans");
	if (!cJSON_IsArray(rss)) {
		snprintf(err, errlen, "no \"resourceSpans\" array");
		goto out;
	}
	cJSON_ArrayForEach(rs, rss) {
		const cJSON *res = field(rs, "resource"), *sss = field(rs, "scopeSpans"), *ss;
		pb_resource *pres = NULL;

		if (!cJSON_IsObject(rs) || (sss && !cJSON_IsArray(sss))) {
			fail(&c, "a resourceSpans entry is not {\"resource\", \"scopeSpans\": [...]}");
			break;
		}
		/* a resource like the previous one was checked when it was converted */
		if (!same(b->cur_res, res) && !(pres = conv_resource(&c, res)))
			break;
		cJSON_ArrayForEach(ss, sss) {
			const cJSON *scope = field(ss, "scope"), *spans = field(ss, "spans"), *sp;
			pb_scope *pscope;

			if (!cJSON_IsObject(ss) || (spans && !cJSON_IsArray(spans))) {
				fail(&c, "a scopeSpans entry is not {\"scope\", \"spans\": [...]}");
				break;
			}
			if (!(pscope = conv_scope(&c, scope)))
				break;
			cJSON_ArrayForEach(sp, spans) {
				pb_span *ps = c_alloc(&c, sizeof(*ps));

				if (!ps || !conv_span(&c, sp, ps))
					break;
				if (!grow((void **)&st, &cap, n + 1, sizeof(*st))) {
					c.oom = true;
					break;
				}
				st[n++] = (struct staged){ .res = res, .scope = scope, .pres = pres,
							    .pscope = pscope, .span = ps };
			}
			if (c.why || c.oom)
				break;
		}
		if (c.why || c.oom)
			break;
	}
	if (c.oom) {
		ret = -ENOMEM;
		goto out;
	}
	if (c.why) {
		snprintf(err, errlen, "%s", c.why);
		goto out;
	}
	if (!grow((void **)&b->roots, &b->cap_roots, b->n_roots + 1, sizeof(*b->roots))) {
		ret = -ENOMEM;
		goto out;
	}
	ret = commit(b, &c, st, n);
	if (ret) {
		/* the batch may hold part of the line now: never send it */
		b->roots[b->n_roots++] = root;
		free(st);
		ef_pb_batch_reset(b);
		return ret;
	}
	b->roots[b->n_roots++] = root; /* the spans point into it */
	free(st);
	return (int)n;
out:
	free(st);
	cJSON_Delete(root);
	return ret;
}

int ef_pb_batch_pack(struct ef_pb_batch *b, struct ef_buf *out)
{
	pb_request req = OPENTELEMETRY__PROTO__COLLECTOR__TRACE__V1__EXPORT_TRACE_SERVICE_REQUEST__INIT;
	pb_rs **rss = NULL;
	size_t need;
	char *p;

	if (b->n_rss) {
		rss = malloc(b->n_rss * sizeof(*rss));
		if (!rss)
			return -ENOMEM;
		for (size_t i = 0; i < b->n_rss; i++)
			rss[i] = b->rss[i].rs;
	}
	req.n_resource_spans = b->n_rss;
	req.resource_spans = rss;
	need = opentelemetry__proto__collector__trace__v1__export_trace_service_request__get_packed_size(&req);
	p = ef_buf_extend(out, need);
	if (!p) {
		free(rss);
		return -ENOMEM;
	}
	opentelemetry__proto__collector__trace__v1__export_trace_service_request__pack(&req,
										      (uint8_t *)p);
	free(rss);
	return 0;
}

int ef_otlp_partial_success(const void *body, size_t len, int json, int64_t *rejected,
			    char *msg, size_t msglen)
{
	*rejected = 0;
	msg[0] = '\0';
	if (!len)
		return 0;
	if (json) {
		cJSON *r = cJSON_ParseWithLength(body, len);
		const cJSON *ps = field(r, "partialSuccess"), *v;

		if (!cJSON_IsObject(r)) {
			cJSON_Delete(r);
			return -EINVAL;
		}
		if (cJSON_IsObject(ps)) {
			v = field(ps, "rejectedSpans");
			if (v && !get_i64(v, rejected)) {
				cJSON_Delete(r);
				return -EINVAL;
			}
			v = field(ps, "errorMessage");
			if (cJSON_IsString(v))
				snprintf(msg, msglen, "%s", v->valuestring);
		}
		cJSON_Delete(r);
		return 0;
	}
	{
		pb_response *r = opentelemetry__proto__collector__trace__v1__export_trace_service_response__unpack(
			NULL, len, body);

		if (!r)
			return -EINVAL;
		if (r->partial_success) {
			*rejected = r->partial_success->rejected_spans;
			if (r->partial_success->error_message)
				snprintf(msg, msglen, "%s", r->partial_success->error_message);
		}
		opentelemetry__proto__collector__trace__v1__export_trace_service_response__free_unpacked(
			r, NULL);
	}
	return 0;
}

/* The resource and scope of the live path (otlp_span_pb.c), packed once. */
int ef_pb_envelope(const char *resource_json, const char *scope_name, const char *scope_version,
		   struct ef_buf *res, struct ef_buf *scope)
{
	struct ef_pb_batch *b = ef_pb_batch_new();
	struct conv c = { .b = b };
	cJSON *r = cJSON_Parse(resource_json);
	pb_scope sc = OPENTELEMETRY__PROTO__COMMON__V1__INSTRUMENTATION_SCOPE__INIT;
	pb_resource *pr;
	int ret = -EINVAL;
	char *p;

	if (!b || !r)
		goto out;
	pr = conv_resource(&c, r);
	if (!pr)
		goto out;
	p = ef_buf_extend(res, opentelemetry__proto__resource__v1__resource__get_packed_size(pr));
	if (!p)
		goto out;
	opentelemetry__proto__resource__v1__resource__pack(pr, (uint8_t *)p);
	sc.name = (char *)scope_name;
	sc.version = (char *)scope_version;
	p = ef_buf_extend(scope,
			  opentelemetry__proto__common__v1__instrumentation_scope__get_packed_size(&sc));
	if (!p)
		goto out;
	opentelemetry__proto__common__v1__instrumentation_scope__pack(&sc, (uint8_t *)p);
	ret = 0;
out:
	cJSON_Delete(r);
	ef_pb_batch_free(b);
	return ret;
}
