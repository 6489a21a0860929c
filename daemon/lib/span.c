// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "span.h"
#include "util.h"

/* Span ids must be unique, not secret: splitmix64 seeded once from the
 * kernel saves a getrandom() syscall per decision on the consumer's path.
 * Trace ids of jobs still come from ef_random_bytes(). */
static uint64_t next_id(void)
{
	static uint64_t state;
	uint64_t z;

	if (!state)
		ef_random_bytes(&state, sizeof(state));
	z = (state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	z ^= z >> 31;
	return z ? z : 1; /* an all-zero span id is invalid */
}

void ef_span_trace_state(struct ef_span *s, const char *ts)
{
	size_t n = ts ? strlen(ts) : 0;

	if (n > EF_SPAN_TRACESTATE_MAX)
		n = 0;
	memcpy(s->trace_state, ts ? ts : "", n);
	s->trace_state[n] = '\0';
}

void ef_span_init(struct ef_span *s, const char *name, int kind)
{
	uint64_t id = next_id();

	s->name = name;
	s->kind = kind;
	s->has_parent = false;
	s->trace_state[0] = '\0';
	s->has_link = false;
	s->start_ns = s->end_ns = 0;
	s->status = EF_STATUS_UNSET;
	s->status_msg = NULL;
	s->n_attrs = 0;
	s->arena_used = 0;
	memcpy(s->span_id, &id, sizeof(s->span_id));
}

/* Length of the valid UTF-8 sequence at p, 0 if it is not one. */
static int utf8_len(const unsigned char *p)
{
	unsigned char c = *p;
	int len = 0;

	if (c < 0x80)
		return 1;
	if ((c & 0xe0) == 0xc0 && c >= 0xc2)
		len = 2;
	else if ((c & 0xf0) == 0xe0)
		len = 3;
	else if ((c & 0xf8) == 0xf0 && c <= 0xf4)
		len = 4;
	for (int i = 1; i < len; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	return len;
}

bool ef_utf8_valid(const char *v)
{
	const unsigned char *p = (const unsigned char *)v;

	while (*p) {
		int n = utf8_len(p);

		if (!n)
			return false;
		p += n;
	}
	return true;
}

/* Strings in spans are valid UTF-8, as OTLP requires of a protobuf string
 * (a receiver may refuse the whole request otherwise): bytes that are not
 * become U+FFFD here, once, so both encoders write the same text. Process
 * names and command lines are the job's to choose. */
const char *ef_span_strdup(struct ef_span *s, const char *v)
{
	const unsigned char *p = (const unsigned char *)v;
	char *out = s->arena + s->arena_used, *o = out;
	char *end = s->arena + sizeof(s->arena);

	while (*p) {
		const unsigned char *run = p;
		int n;

		/* plain ASCII, the usual case, in one copy */
		while (*p && *p < 0x80)
			p++;
		if (p > run) {
			if (o + (p - run) >= end)
				return NULL;
			memcpy(o, run, p - run);
			o += p - run;
			continue;
		}
		n = utf8_len(p);
		if (n) {
			if (o + n >= end)
				return NULL;
			memcpy(o, p, n);
			o += n;
			p += n;
		} else {
			if (o + 3 >= end)
				return NULL;
			memcpy(o, "\xef\xbf\xbd", 3);
			o += 3;
			p++;
		}
	}
	if (o >= end)
		return NULL;
	*o++ = '\0';
	s->arena_used = o - s->arena;
	return out;
}

static struct ef_attr *attr_new(struct ef_span *s, const char *key)
{
	struct ef_attr *a;

	if (s->n_attrs >= EF_SPAN_MAX_ATTRS)
		return NULL;
	a = &s->attrs[s->n_attrs];
	a->key = key;
	return a;
}

void ef_span_str(struct ef_span *s, const char *key, const char *value)
{
	struct ef_attr *a = attr_new(s, key);
	const char *v;

	if (!a || !value)
		return;
	v = ef_span_strdup(s, value);
	if (!v)
		return;
	a->type = EF_AT_STR;
	a->s = v;
	s->n_attrs++;
}

void ef_span_str_dupkey(struct ef_span *s, const char *key, const char *value)
{
	const char *k = ef_span_strdup(s, key);

	if (k)
		ef_span_str(s, k, value);
}

void ef_span_strs(struct ef_span *s, const char *key, const char *const *v, int n)
{
	struct ef_attr *a = attr_new(s, key);
	size_t used = s->arena_used;

	if (!a)
		return;
	/* back to back in the arena: each copy starts where the last ended */
	for (int i = 0; i < n; i++) {
		if (!ef_span_strdup(s, v[i])) {
			s->arena_used = used;
			return;
		}
	}
	a->type = EF_AT_STRS;
	a->s = s->arena + used;
	a->n = n;
	s->n_attrs++;
}

void ef_span_int(struct ef_span *s, const char *key, int64_t v)
{
	struct ef_attr *a = attr_new(s, key);

	if (!a)
		return;
	a->type = EF_AT_INT;
	a->i = v;
	s->n_attrs++;
}

void ef_span_bool(struct ef_span *s, const char *key, bool v)
{
	struct ef_attr *a = attr_new(s, key);

	if (!a)
		return;
	a->type = EF_AT_BOOL;
	a->b = v;
	s->n_attrs++;
}

const struct ef_attr *ef_span_find(const struct ef_span *s, const char *key)
{
	for (int i = 0; i < s->n_attrs; i++)
		if (!strcmp(s->attrs[i].key, key))
			return &s->attrs[i];
	return NULL;
}

void ef_buf_reset(struct ef_buf *b)
{
	b->len = 0;
	b->oom = false;
}

void ef_buf_free(struct ef_buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

static bool buf_grow(struct ef_buf *b, size_t extra)
{
	size_t nc;
	char *np;

	if (b->oom)
		return false;
	if (b->len + extra + 1 <= b->cap)
		return true;
	nc = b->cap ? b->cap : 4096;
	while (nc < b->len + extra + 1)
		nc *= 2;
	np = realloc(b->p, nc);
	if (!np) {
		b->oom = true;
		return false;
	}
	b->p = np;
	b->cap = nc;
	return true;
}

void ef_buf_add_slow(struct ef_buf *b, const char *s, size_t n)
{
	if (!buf_grow(b, n))
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

char *ef_buf_extend(struct ef_buf *b, size_t n)
{
	char *p;

	if (!buf_grow(b, n))
		return NULL;
	p = b->p + b->len;
	b->len += n;
	b->p[b->len] = '\0';
	return p;
}

void ef_buf_puts(struct ef_buf *b, const char *s)
{
	ef_buf_add(b, s, strlen(s));
}

void ef_buf_printf(struct ef_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || !buf_grow(b, n))
		return;
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, n + 1, fmt, ap);
	va_end(ap);
	b->len += n;
}

/* JSON string with escapes; bytes that are not valid UTF-8 become U+FFFD so
 * that a hostile process name cannot break the journal line. Runs of plain
 * ASCII are copied in one go: this is most of what the consumer writes. */
void ef_buf_json_str(struct ef_buf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	ef_buf_add(b, "\"", 1);
	while (*p) {
		const unsigned char *run = p;
		unsigned char c;
		int len = 0;

		while (*p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\')
			p++;
		if (p > run)
			ef_buf_add(b, (const char *)run, p - run);
		c = *p;
		if (!c)
			break;
		if (c == '"' || c == '\\') {
			char e[2] = { '\\', (char)c };

			ef_buf_add(b, e, 2);
			p++;
			continue;
		}
		if (c < 0x20) {
			static const char hx[] = "0123456789abcdef";
			char e[6] = { '\\', 'u', '0', '0', hx[c >> 4], hx[c & 15] };

			ef_buf_add(b, e, 6);
			p++;
			continue;
		}
		len = utf8_len(p);
		if (len) {
			ef_buf_add(b, (const char *)p, len);
			p += len;
		} else {
			EF_BUF_LIT(b, "\\ufffd");
			p++;
		}
	}
	ef_buf_add(b, "\"", 1);
}

/* "123" with the quotes (OTLP/JSON writes 64-bit integers as strings);
 * no printf on the consumer's path */
static void buf_u64(struct ef_buf *b, uint64_t v, bool neg, bool quoted)
{
	char tmp[24], *p = tmp + sizeof(tmp);

	if (quoted)
		*--p = '"';
	do {
		*--p = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	if (neg)
		*--p = '-';
	if (quoted)
		*--p = '"';
	ef_buf_add(b, p, tmp + sizeof(tmp) - p);
}

static void buf_i64(struct ef_buf *b, int64_t v)
{
	buf_u64(b, v < 0 ? -(uint64_t)v : (uint64_t)v, v < 0, true);
}

static void buf_hex(struct ef_buf *b, const uint8_t *id, size_t n)
{
	char hex[33];

	ef_hex(id, n, hex);
	ef_buf_add(b, "\"", 1);
	ef_buf_add(b, hex, 2 * n);
	ef_buf_add(b, "\"", 1);
}

static void json_attr(struct ef_buf *b, const char *key, const struct ef_attr *a)
{
	EF_BUF_LIT(b, "{\"key\":");
	ef_buf_json_str(b, key);
	EF_BUF_LIT(b, ",\"value\":{");
	switch (a->type) {
	case EF_AT_STR:
		EF_BUF_LIT(b, "\"stringValue\":");
		ef_buf_json_str(b, a->s);
		break;
	case EF_AT_INT:
		EF_BUF_LIT(b, "\"intValue\":");
		buf_i64(b, a->i);
		break;
	case EF_AT_BOOL:
		ef_buf_puts(b, a->b ? "\"boolValue\":true" : "\"boolValue\":false");
		break;
	case EF_AT_STRS: {
		const char *p = a->s;

		EF_BUF_LIT(b, "\"arrayValue\":{\"values\":[");
		for (int i = 0; i < a->n; i++) {
			ef_buf_puts(b, i ? ",{\"stringValue\":" : "{\"stringValue\":");
			ef_buf_json_str(b, p);
			ef_buf_add(b, "}", 1);
			p += strlen(p) + 1;
		}
		EF_BUF_LIT(b, "]}");
		break;
	}
	}
	EF_BUF_LIT(b, "}}");
}

static void json_span(struct ef_buf *b, const struct ef_span *s)
{
	EF_BUF_LIT(b, "{\"traceId\":");
	buf_hex(b, s->trace_id, 16);
	EF_BUF_LIT(b, ",\"spanId\":");
	buf_hex(b, s->span_id, 8);
	if (s->has_parent) {
		EF_BUF_LIT(b, ",\"parentSpanId\":");
		buf_hex(b, s->parent_id, 8);
	}
	if (s->trace_state[0]) {
		EF_BUF_LIT(b, ",\"traceState\":");
		ef_buf_json_str(b, s->trace_state);
	}
	EF_BUF_LIT(b, ",\"name\":");
	ef_buf_json_str(b, s->name);
	EF_BUF_LIT(b, ",\"kind\":");
	buf_u64(b, (uint64_t)s->kind, false, false);
	EF_BUF_LIT(b, ",\"startTimeUnixNano\":");
	buf_u64(b, s->start_ns, false, true);
	EF_BUF_LIT(b, ",\"endTimeUnixNano\":");
	buf_u64(b, s->end_ns, false, true);
	EF_BUF_LIT(b, ",\"attributes\":[");
	for (int i = 0; i < s->n_attrs; i++) {
		if (i)
			ef_buf_add(b, ",", 1);
		json_attr(b, s->attrs[i].key, &s->attrs[i]);
	}
	if (s->has_link) {
		EF_BUF_LIT(b, "],\"links\":[{\"traceId\":");
		buf_hex(b, s->link_trace_id, 16);
		EF_BUF_LIT(b, ",\"spanId\":");
		buf_hex(b, s->link_span_id, 8);
		EF_BUF_LIT(b, "}");
	}
	EF_BUF_LIT(b, "],\"status\":{");
	if (s->status != EF_STATUS_UNSET) {
		EF_BUF_LIT(b, "\"code\":");
		buf_u64(b, (uint64_t)s->status, false, false);
		if (s->status_msg) {
			EF_BUF_LIT(b, ",\"message\":");
			ef_buf_json_str(b, s->status_msg);
		}
	}
	EF_BUF_LIT(b, "}}");
}

void ef_otlp_json_request(struct ef_buf *b, const struct ef_resource *r,
			  const struct ef_span *const *spans, size_t n)
{
	EF_BUF_LIT(b, "{\"resourceSpans\":[{\"resource\":");
	ef_buf_puts(b, r->json);
	ef_buf_puts(b, ",\"scopeSpans\":[{\"scope\":{\"name\":\"egress-fence\",\"version\":\"" EF_VERSION
		       "\"},\"spans\":[");
	for (size_t i = 0; i < n; i++) {
		if (i)
			ef_buf_add(b, ",", 1);
		json_span(b, spans[i]);
	}
	EF_BUF_LIT(b, "]}]}]}\n");
}

/* OTEL_RESOURCE_ATTRIBUTES: key1=value1,key2=value2 with %XX escapes (W3C
 * Baggage octets). Malformed entries are skipped with a warning. */
int ef_resource_init(struct ef_resource *r, const char *service_name_default)
{
	const char *env = getenv("OTEL_RESOURCE_ATTRIBUTES");
	const char *svc = getenv("OTEL_SERVICE_NAME");
	struct ef_buf b = { 0 };
	char host[256] = "unknown";
	char *copy = NULL, *save = NULL;
	bool first = true, have_svc_attr = false;

	gethostname(host, sizeof(host) - 1);
	EF_BUF_LIT(&b, "{\"attributes\":[");
	if (env) {
		copy = strdup(env);
		for (char *kv = copy ? strtok_r(copy, ",", &save) : NULL; kv;
		     kv = strtok_r(NULL, ",", &save)) {
			char *eq = strchr(kv, '='), *k = kv, *v;

			if (!eq) {
				log_warn("OTEL_RESOURCE_ATTRIBUTES: ignoring '%s' (no '=')", kv);
				continue;
			}
			*eq = '\0';
			v = eq + 1;
			ef_trim(&k);
			ef_trim(&v);
			ef_pct_decode(v);
			if (!*k)
				continue;
			/* OTEL_SERVICE_NAME wins over service.name here */
			if (!strcmp(k, "service.name")) {
				if (svc && *svc)
					continue;
				have_svc_attr = true;
			}
			if (!first)
				ef_buf_add(&b, ",", 1);
			first = false;
			EF_BUF_LIT(&b, "{\"key\":");
			ef_buf_json_str(&b, k);
			EF_BUF_LIT(&b, ",\"value\":{\"stringValue\":");
			ef_buf_json_str(&b, v);
			EF_BUF_LIT(&b, "}}");
		}
	}
	if (!have_svc_attr) {
		if (!first)
			ef_buf_add(&b, ",", 1);
		EF_BUF_LIT(&b, "{\"key\":\"service.name\",\"value\":{\"stringValue\":");
		ef_buf_json_str(&b, svc && *svc ? svc : service_name_default);
		EF_BUF_LIT(&b, "}}");
	}
	ef_buf_puts(&b, ",{\"key\":\"service.version\",\"value\":{\"stringValue\":\"" EF_VERSION
			"\"}},{\"key\":\"host.name\",\"value\":{\"stringValue\":");
	ef_buf_json_str(&b, host);
	EF_BUF_LIT(&b, "}}]}");
	free(copy);
	if (b.oom) {
		ef_buf_free(&b);
		return -12;
	}
	r->json = b.p;
	return 0;
}

void ef_resource_fini(struct ef_resource *r)
{
	free(r->json);
	r->json = NULL;
}
