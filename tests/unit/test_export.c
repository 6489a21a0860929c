// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The exporter's pure parts: the OTLP settings (URL rules, headers,
 * Retry-After, precedence of the environment over the config file), and the
 * two protobuf encoders, held against each other: a span parsed back from
 * its journal line and the same span encoded straight from struct ef_span
 * must give the same bytes. Hostile journal lines are refused whole.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cjson/cJSON.h>

#include <cmocka.h>

#include "export/export.h"
#include "export/otlp_pb.h"
#include "lib/span.h"
#include "trace_service.pb-c.h"
#include "lib/util.h"

static void test_traces_url(void **st)
{
	char u[256];

	assert_int_equal(ef_otlp_traces_url("http://h:4318", NULL, u, sizeof(u)), 0);
	assert_string_equal(u, "http://h:4318/v1/traces");
	assert_int_equal(ef_otlp_traces_url("http://h:4318/", NULL, u, sizeof(u)), 0);
	assert_string_equal(u, "http://h:4318/v1/traces");
	assert_int_equal(ef_otlp_traces_url("https://api.honeycomb.io/otlp", NULL, u, sizeof(u)), 0);
	assert_string_equal(u, "https://api.honeycomb.io/otlp/v1/traces");
	/* a signal endpoint is used as is, and wins */
	assert_int_equal(ef_otlp_traces_url("http://a", "http://b:1/x/y", u, sizeof(u)), 0);
	assert_string_equal(u, "http://b:1/x/y");
	assert_int_equal(ef_otlp_traces_url("http://b:1", "", u, sizeof(u)), 0);
	assert_string_equal(u, "http://b:1/v1/traces");
	assert_int_equal(ef_otlp_traces_url(NULL, NULL, u, sizeof(u)), 0);
	assert_string_equal(u, "");
	assert_int_equal(ef_otlp_traces_url("localhost:4318", NULL, u, sizeof(u)), -EINVAL);
	assert_int_equal(ef_otlp_traces_url(NULL, "grpc://x", u, sizeof(u)), -EINVAL);
	assert_int_equal(ef_otlp_traces_url("http://h", NULL, u, 10), -ENAMETOOLONG);
}

static void free_hdrs(char **h, int n)
{
	for (int i = 0; i < n; i++)
		free(h[i]);
}

static void test_headers(void **st)
{
	char *h[8], err[160];
	int n = 0;

	assert_int_equal(ef_otlp_parse_headers("x-honeycomb-team=abc%3D%3D, Api-Key = v w ", h, &n,
					       8, err, sizeof(err)), 0);
	assert_int_equal(n, 2);
	assert_string_equal(h[0], "x-honeycomb-team: abc==");
	assert_string_equal(h[1], "Api-Key: v w");
	/* the same name again (any case) replaces */
	assert_int_equal(ef_otlp_parse_headers("api-key=new", h, &n, 8, err, sizeof(err)), 0);
	assert_int_equal(n, 2);
	assert_string_equal(h[1], "api-key: new");
	assert_int_equal(ef_otlp_parse_headers("novalue", h, &n, 8, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "key=value"));
	assert_int_equal(ef_otlp_parse_headers("a=b%0d%0aX-Injected: 1", h, &n, 8, err,
					       sizeof(err)), -EINVAL);
	assert_int_equal(ef_otlp_parse_headers("bad name=1", h, &n, 8, err, sizeof(err)), -EINVAL);
	assert_int_equal(ef_otlp_parse_headers("=1", h, &n, 8, err, sizeof(err)), -EINVAL);
	assert_int_equal(n, 2);
	free_hdrs(h, n);
	n = 0;
	assert_int_equal(ef_otlp_parse_headers("a=1,b=2,c=3", h, &n, 2, err, sizeof(err)), -EINVAL);
	free_hdrs(h, n);
}

static void test_retry_after(void **st)
{
	long now = 1700000000;

	assert_int_equal(ef_retry_after_parse("5", now), 5);
	assert_int_equal(ef_retry_after_parse(" 120\r\n", now), 120);
	assert_int_equal(ef_retry_after_parse("0", now), 0);
	assert_int_equal(ef_retry_after_parse("-1", now), -1);
	assert_int_equal(ef_retry_after_parse("5x", now), -1);
	assert_int_equal(ef_retry_after_parse("soon", now), -1);
	/* 1700000000 is Tue, 14 Nov 2023 22:13:20 GMT */
	assert_int_equal(ef_retry_after_parse("Tue, 14 Nov 2023 22:13:50 GMT\r\n", now), 30);
	assert_int_equal(ef_retry_after_parse("Tue, 14 Nov 2023 22:00:00 GMT", now), 0);
}

static const char *const otel_vars[] = {
	"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
	"OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
	"OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
	"OTEL_EXPORTER_OTLP_TIMEOUT", "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
	"OTEL_EXPORTER_OTLP_COMPRESSION", "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION",
	"OTEL_SDK_DISABLED", "OTEL_TRACES_EXPORTER", "OTEL_BSP_SCHEDULE_DELAY",
	"OTEL_BSP_MAX_EXPORT_BATCH_SIZE", NULL
};

static int clear_env(void **st)
{
	for (int i = 0; otel_vars[i]; i++)
		unsetenv(otel_vars[i]);
	return 0;
}

static int config(struct ef_export_cfg *c, const char *json)
{
	cJSON *o = json ? cJSON_Parse(json) : NULL;
	int ret = ef_export_config(c, o, "test.json");

	cJSON_Delete(o);
	return ret;
}

static void test_config_precedence(void **st)
{
	struct ef_export_cfg c;

	/* nothing configured: off */
	assert_int_equal(config(&c, NULL), 0);
	assert_false(c.enabled);
	assert_int_equal(c.timeout_ms, 10000);
	assert_false(c.json);
	ef_export_config_free(&c);

	assert_int_equal(config(&c, "{\"endpoint\":\"http://cfg:4318\",\"protocol\":\"http/json\","
				    "\"headers\":{\"a\":\"1\",\"b\":\"2\"},\"timeout_ms\":500,"
				    "\"compression\":\"gzip\"}"), 0);
	assert_true(c.enabled);
	assert_string_equal(c.url, "http://cfg:4318/v1/traces");
	assert_true(c.json);
	assert_true(c.gzip);
	assert_int_equal(c.timeout_ms, 500);
	assert_int_equal(c.n_headers, 2);
	ef_export_config_free(&c);

	/* the environment wins, the signal-specific variable first */
	setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://env:4318", 1);
	setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json", 1);
	setenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/protobuf", 1);
	setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "2500", 1);
	setenv("OTEL_EXPORTER_OTLP_HEADERS", "a=env", 1);
	setenv("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "b=traces", 1);
	assert_int_equal(config(&c, "{\"endpoint\":\"http://cfg:4318\",\"protocol\":\"http/json\","
				    "\"headers\":{\"a\":\"1\",\"b\":\"2\",\"c\":\"3\"}}"), 0);
	assert_string_equal(c.url, "http://env:4318/v1/traces");
	assert_false(c.json);
	assert_int_equal(c.timeout_ms, 2500);
	assert_int_equal(c.n_headers, 3);
	assert_string_equal(c.headers[0], "a: env");
	assert_string_equal(c.headers[1], "b: traces");
	assert_string_equal(c.headers[2], "c: 3");
	ef_export_config_free(&c);

	setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://sig/x", 1);
	assert_int_equal(config(&c, NULL), 0);
	assert_string_equal(c.url, "http://sig/x");
	ef_export_config_free(&c);

	setenv("OTEL_SDK_DISABLED", "TRUE", 1);
	assert_int_equal(config(&c, NULL), 0);
	assert_false(c.enabled);
	ef_export_config_free(&c);
	setenv("OTEL_SDK_DISABLED", "false", 1);
	setenv("OTEL_TRACES_EXPORTER", "none", 1);
	assert_int_equal(config(&c, NULL), 0);
	assert_false(c.enabled);
	ef_export_config_free(&c);
	clear_env(st);
	assert_int_equal(config(&c, "{\"endpoint\":\"http://cfg\",\"enabled\":false}"), 0);
	assert_false(c.enabled);
	ef_export_config_free(&c);
}

static void test_config_refused(void **st)
{
	static const char *const bad_cfg[] = {
		"{\"endpoint\":1}", "{\"endpoint\":\"ftp://x\"}", "{\"protocol\":\"grpc\"}",
		"{\"compression\":\"br\"}", "{\"timeout_ms\":0}", "{\"timeout_ms\":1.5}",
		"{\"headers\":[]}", "{\"headers\":{\"a\":1}}", "{\"headers\":{\"a b\":\"1\"}}",
		"{\"enabled\":1}", "{\"unknown\":1}", "[]", "{\"max_export_batch_size\":0}", NULL
	};
	static const char *const bad_env[][2] = {
		{ "OTEL_EXPORTER_OTLP_PROTOCOL", "grpc" },
		{ "OTEL_EXPORTER_OTLP_COMPRESSION", "zstd" },
		{ "OTEL_EXPORTER_OTLP_TIMEOUT", "10s" },
		{ "OTEL_EXPORTER_OTLP_TIMEOUT", "0" },
		{ "OTEL_EXPORTER_OTLP_ENDPOINT", "localhost:4318" },
		{ "OTEL_EXPORTER_OTLP_HEADERS", "x" },
		{ "OTEL_BSP_SCHEDULE_DELAY", "-1" },
		{ NULL, NULL }
	};
	struct ef_export_cfg c;

	for (int i = 0; bad_cfg[i]; i++)
		assert_int_equal(config(&c, bad_cfg[i]), -EINVAL);
	for (int i = 0; bad_env[i][0]; i++) {
		setenv(bad_env[i][0], bad_env[i][1], 1);
		assert_int_equal(config(&c, NULL), -EINVAL);
		unsetenv(bad_env[i][0]);
	}
}

/* ---- encoders ---- */

static void make_spans(struct ef_span *s, int n)
{
	static const char *const answers[] = { "198.18.1.1", "2001:db8::1", "" };

	for (int i = 0; i < n; i++) {
		ef_span_init(&s[i], i % 2 ? "egress.connect" : "egress.dns", EF_KIND_CLIENT);
		for (int k = 0; k < 16; k++)
			s[i].trace_id[k] = (uint8_t)(k * 7 + i);
		if (i) {
			memcpy(s[i].parent_id, s[0].span_id, 8);
			s[i].has_parent = true;
		}
		s[i].start_ns = 1700000000123456789ull + i;
		s[i].end_ns = s[i].start_ns + 1000;
		ef_span_str(&s[i], "egress.decision", i % 3 ? "allow" : "deny");
		ef_span_str(&s[i], "process.executable.name", "py\"th\\on\n\xff\xc3\xa9");
		ef_span_int(&s[i], "network.peer.port", 443);
		ef_span_int(&s[i], "negative", -9223372036854775807ll - 1);
		ef_span_bool(&s[i], "egress.flagged", i % 2);
		ef_span_strs(&s[i], "dns.answers", answers, i % 4);
		if (i % 3 == 0) {
			s[i].status = EF_STATUS_ERROR;
			s[i].status_msg = "no rule allows 198.18.1.3 port 443/tcp";
		}
		if (i == 3) { /* a process's own trace context (proc_ctx.c) */
			ef_span_trace_state(&s[i], "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");
			s[i].has_link = true;
			memset(s[i].link_trace_id, 0xab, 16);
			memset(s[i].link_span_id, 0xcd, 8);
		}
	}
}

static void test_both_encoders_agree(void **st)
{
	struct ef_span *s = calloc(5, sizeof(*s));
	const struct ef_span *ptrs[5];
	struct ef_resource res = { 0 };
	struct ef_buf line = { 0 }, a = { 0 }, b = { 0 }, spans = { 0 }, er = { 0 }, es = { 0 };
	struct ef_pb_batch *batch = ef_pb_batch_new();
	char err[128];

	assert_non_null(s);
	setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=ci,k=v%2Cw", 1);
	assert_int_equal(ef_resource_init(&res, "egress-fence"), 0);
	make_spans(s, 5);
	for (int i = 0; i < 5; i++)
		ptrs[i] = &s[i];
	/* the file path: two journal lines (same resource: one ResourceSpans) */
	ef_otlp_json_request(&line, &res, ptrs, 2);
	assert_int_equal(ef_pb_batch_add(batch, line.p, line.len - 1, err, sizeof(err)), 2);
	ef_buf_reset(&line);
	ef_otlp_json_request(&line, &res, ptrs + 2, 3);
	assert_int_equal(ef_pb_batch_add(batch, line.p, line.len - 1, err, sizeof(err)), 3);
	assert_int_equal(ef_pb_batch_spans(batch), 5);
	assert_int_equal(ef_pb_batch_pack(batch, &a), 0);
	/* the live path: straight from the spans */
	for (int i = 0; i < 5; i++)
		assert_int_equal(ef_pb_span_append(&spans, &s[i]), 0);
	assert_int_equal(ef_pb_envelope(res.json, "egress-fence", EF_VERSION, &er, &es), 0);
	assert_int_equal(ef_pb_wrap(&b, &er, &es, spans.p, spans.len), 0);
	if (getenv("EF_DUMP")) {
		FILE *f = fopen("/tmp/a.pb", "w");

		fwrite(a.p, 1, a.len, f);
		fclose(f);
		f = fopen("/tmp/b.pb", "w");
		fwrite(b.p, 1, b.len, f);
		fclose(f);
	}
	assert_int_equal(a.len, b.len);
	assert_memory_equal(a.p, b.p, a.len);

	/* and what a receiver decodes from it is the spans */
	{
		Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest *r =
			opentelemetry__proto__collector__trace__v1__export_trace_service_request__unpack(
				NULL, a.len, (const uint8_t *)a.p);
		Opentelemetry__Proto__Trace__V1__ScopeSpans *ss;
		Opentelemetry__Proto__Trace__V1__Span *sp;

		assert_non_null(r);
		assert_int_equal(r->n_resource_spans, 1);
		assert_int_equal(r->resource_spans[0]->n_scope_spans, 1);
		ss = r->resource_spans[0]->scope_spans[0];
		assert_string_equal(ss->scope->name, "egress-fence");
		assert_int_equal(ss->n_spans, 5);
		sp = ss->spans[3];
		assert_memory_equal(sp->trace_id.data, s[3].trace_id, 16);
		assert_memory_equal(sp->span_id.data, s[3].span_id, 8);
		assert_memory_equal(sp->parent_span_id.data, s[0].span_id, 8);
		assert_int_equal(ss->spans[0]->parent_span_id.len, 0);
		assert_string_equal(sp->trace_state, "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");
		assert_int_equal(sp->n_links, 1);
		assert_memory_equal(sp->links[0]->trace_id.data, s[3].link_trace_id, 16);
		assert_memory_equal(sp->links[0]->span_id.data, s[3].link_span_id, 8);
		assert_int_equal(ss->spans[2]->n_links, 0);
		assert_string_equal(ss->spans[2]->trace_state, "");
		assert_true(sp->start_time_unix_nano == s[3].start_ns);
		assert_int_equal(sp->status->code, 2);
		assert_string_equal(sp->attributes[1]->value->string_value,
				    "py\"th\\on\n\xef\xbf\xbd\xc3\xa9");
		assert_true(sp->attributes[3]->value->int_value == INT64_MIN);
		assert_int_equal(sp->attributes[5]->value->array_value->n_values, 3);
		assert_string_equal(sp->attributes[5]->value->array_value->values[2]->string_value, "");
		for (size_t i = 0; i < r->resource_spans[0]->resource->n_attributes; i++) {
			Opentelemetry__Proto__Common__V1__KeyValue *kv =
				r->resource_spans[0]->resource->attributes[i];

			if (!strcmp(kv->key, "k"))
				assert_string_equal(kv->value->string_value, "v,w");
		}
		opentelemetry__proto__collector__trace__v1__export_trace_service_request__free_unpacked(
			r, NULL);
	}
	ef_pb_batch_free(batch);
	ef_buf_free(&line);
	ef_buf_free(&a);
	ef_buf_free(&b);
	ef_buf_free(&spans);
	ef_buf_free(&er);
	ef_buf_free(&es);
	ef_resource_fini(&res);
	unsetenv("OTEL_RESOURCE_ATTRIBUTES");
	free(s);
}

static void test_hostile_lines(void **st)
{
	static const char *const bad[] = {
		"", "{", "[]", "null", "{\"resourceSpans\":{}}",
		"{\"resourceSpans\":[1]}",
		"{\"resourceSpans\":[{\"scopeSpans\":{}}]}",
		"{\"resourceSpans\":[{\"resource\":[],\"scopeSpans\":[]}]}",
		"{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{}]}]}]}",
		"{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"traceId\":\"zz\",\"spanId\":\"0011223344556677\"}]}]}]}",
		"{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"traceId\":\"00112233445566778899aabbccddeeff\",\"spanId\":\"00112233\"}]}]}]}",
		"{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"traceId\":\"00112233445566778899aabbccddeeff\",\"spanId\":\"0011223344556677\",\"kind\":\"SPAN_KIND_CLIENT\"}]}]}]}",
		"{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"traceId\":\"00112233445566778899aabbccddeeff\",\"spanId\":\"0011223344556677\",\"startTimeUnixNano\":\"-1\"}]}]}]}",
		"{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"traceId\":\"00112233445566778899aabbccddeeff\",\"spanId\":\"0011223344556677\",\"startTimeUnixNano\":\"99999999999999999999\"}]}]}]}",
		"{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"traceId\":\"00112233445566778899aabbccddeeff\",\"spanId\":\"0011223344556677\",\"attributes\":[{\"value\":{}}]}]}]}]}",
		"{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"traceId\":\"00112233445566778899aabbccddeeff\",\"spanId\":\"0011223344556677\",\"attributes\":[{\"key\":\"k\",\"value\":{\"intValue\":\"1.5\"}}]}]}]}]}",
		"{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"traceId\":\"00112233445566778899aabbccddeeff\",\"spanId\":\"0011223344556677\",\"attributes\":[{\"key\":\"k\",\"value\":{\"arrayValue\":{\"values\":[{\"arrayValue\":{\"values\":[{\"arrayValue\":{\"values\":[{\"arrayValue\":{\"values\":[{\"arrayValue\":{\"values\":[{\"arrayValue\":{\"values\":[{\"arrayValue\":{\"values\":[{\"arrayValue\":{\"values\":[{\"arrayValue\":{\"values\":[{\"arrayValue\":{\"values\":[]}}]}}]}}]}}]}}]}}]}}]}}]}}]}}]}}}]}]}]}]}",
		"{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"traceId\":\"00112233445566778899aabbccddeeff\",\"spanId\":\"0011223344556677\",\"status\":{\"code\":7}}]}]}]}",
		"{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"traceId\":\"00112233445566778899aabbccddeeff\",\"spanId\":\"0011223344556677\",\"events\":[{}]}]}]}]}",
		/* links: an array of {traceId, spanId, ...} (egressd writes one: proc_ctx.c) */
		"{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"traceId\":\"00112233445566778899aabbccddeeff\",\"spanId\":\"0011223344556677\",\"links\":{}}]}]}]}",
		"{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"traceId\":\"00112233445566778899aabbccddeeff\",\"spanId\":\"0011223344556677\",\"links\":[1]}]}]}]}",
		"{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"traceId\":\"00112233445566778899aabbccddeeff\",\"spanId\":\"0011223344556677\",\"links\":[{\"spanId\":\"0011223344556677\"}]}]}]}]}",
		"{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"traceId\":\"00112233445566778899aabbccddeeff\",\"spanId\":\"0011223344556677\",\"links\":[{\"traceId\":\"00112233445566778899aabbccddeeff\",\"spanId\":\"00\"}]}]}]}]}",
		"{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"traceId\":\"00112233445566778899aabbccddeeff\",\"spanId\":\"0011223344556677\",\"links\":[{\"traceId\":\"00112233445566778899aabbccddeeff\",\"spanId\":\"0011223344556677\",\"traceState\":7}]}]}]}]}",
		"{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"traceId\":\"00112233445566778899aabbccddeeff\",\"spanId\":\"0011223344556677\",\"attributes\":[{\"key\":\"b\",\"value\":{\"bytesValue\":\"!!\"}}]}]}]}]}",
		NULL
	};
	static const char good[] =
		"{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"traceId\":"
		"\"00112233445566778899aabbccddeeff\",\"spanId\":\"0011223344556677\","
		"\"parentSpanId\":\"\",\"kind\":2,\"startTimeUnixNano\":1700000000,"
		"\"attributes\":[{\"key\":\"b\",\"value\":{\"bytesValue\":\"aGk=\"}},"
		"{\"key\":\"d\",\"value\":{\"doubleValue\":\"NaN\"}},{\"key\":\"e\",\"value\":{}},"
		"{\"key\":\"kv\",\"value\":{\"kvlistValue\":{\"values\":[{\"key\":\"x\","
		"\"value\":{\"intValue\":-3}}]}}}],\"unknownField\":1}]}]}]}";
	struct ef_pb_batch *b = ef_pb_batch_new();
	struct ef_buf before = { 0 }, after = { 0 };
	char err[128];

	assert_int_equal(ef_pb_batch_add(b, good, strlen(good), err, sizeof(err)), 1);
	assert_int_equal(ef_pb_batch_pack(b, &before), 0);
	for (int i = 0; bad[i]; i++) {
		err[0] = '\0';
		assert_int_equal(ef_pb_batch_add(b, bad[i], strlen(bad[i]), err, sizeof(err)),
				 -EINVAL);
		assert_true(err[0]);
	}
	/* refused lines left nothing behind */
	assert_int_equal(ef_pb_batch_spans(b), 1);
	assert_int_equal(ef_pb_batch_pack(b, &after), 0);
	assert_int_equal(before.len, after.len);
	assert_memory_equal(before.p, after.p, before.len);
	ef_buf_free(&before);
	ef_buf_free(&after);
	ef_pb_batch_free(b);
}

static void test_partial_success(void **st)
{
	Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceResponse r =
		OPENTELEMETRY__PROTO__COLLECTOR__TRACE__V1__EXPORT_TRACE_SERVICE_RESPONSE__INIT;
	Opentelemetry__Proto__Collector__Trace__V1__ExportTracePartialSuccess ps =
		OPENTELEMETRY__PROTO__COLLECTOR__TRACE__V1__EXPORT_TRACE_PARTIAL_SUCCESS__INIT;
	uint8_t buf[128];
	int64_t rej;
	char msg[64];
	size_t n;

	ps.rejected_spans = 3;
	ps.error_message = "too long";
	r.partial_success = &ps;
	n = opentelemetry__proto__collector__trace__v1__export_trace_service_response__pack(&r, buf);
	assert_int_equal(ef_otlp_partial_success(buf, n, 0, &rej, msg, sizeof(msg)), 0);
	assert_int_equal(rej, 3);
	assert_string_equal(msg, "too long");
	assert_int_equal(ef_otlp_partial_success("", 0, 0, &rej, msg, sizeof(msg)), 0);
	assert_int_equal(rej, 0);
	assert_int_equal(ef_otlp_partial_success("\xff\xff", 2, 0, &rej, msg, sizeof(msg)), -EINVAL);
	assert_int_equal(ef_otlp_partial_success("{\"partialSuccess\":{\"rejectedSpans\":\"2\","
						 "\"errorMessage\":\"x\"}}", 59, 1, &rej, msg,
						 sizeof(msg)), 0);
	assert_int_equal(rej, 2);
	assert_string_equal(msg, "x");
	assert_int_equal(ef_otlp_partial_success("{}", 2, 1, &rej, msg, sizeof(msg)), 0);
	assert_int_equal(rej, 0);
	assert_int_equal(ef_otlp_partial_success("nope", 4, 1, &rej, msg, sizeof(msg)), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_traces_url),
		cmocka_unit_test(test_headers),
		cmocka_unit_test(test_retry_after),
		cmocka_unit_test_setup(test_config_precedence, clear_env),
		cmocka_unit_test_setup(test_config_refused, clear_env),
		cmocka_unit_test(test_both_encoders_agree),
		cmocka_unit_test(test_hostile_lines),
		cmocka_unit_test(test_partial_success),
	};

	ef_log_level = -1; /* the refused settings log; keep the test output clean */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
