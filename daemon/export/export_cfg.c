// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Exporter settings: the "otlp" section of the config file, then the
 * standard variables (https://opentelemetry.io/docs/specs/otel/protocol/exporter/),
 * a signal-specific one (..._TRACES_...) before the generic one. A value
 * egressd cannot honour stops it at start with the name of the setting:
 * an operator who asked for export should not find out from an empty backend.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <curl/curl.h>
#include <cjson/cJSON.h>

#include "export.h"
#include "lib/util.h"

static const char *env2(const char *specific, const char *generic, const char **name)
{
	const char *v = getenv(specific);

	if (v && *v) {
		*name = specific;
		return v;
	}
	v = getenv(generic);
	if (v && *v) {
		*name = generic;
		return v;
	}
	return NULL;
}

static bool env_true(const char *name)
{
	const char *v = getenv(name);

	if (!v || !*v)
		return false;
	if (!strcasecmp(v, "true"))
		return true;
	if (strcasecmp(v, "false"))
		log_warn("%s=\"%s\": not true or false; taken as false", name, v);
	return false;
}

static bool http_url(const char *u)
{
	return !strncasecmp(u, "http://", 7) || !strncasecmp(u, "https://", 8);
}

int ef_otlp_traces_url(const char *base, const char *signal, char *out, size_t len)
{
	int n;

	if (signal && *signal) {
		if (!http_url(signal))
			return -EINVAL;
		n = snprintf(out, len, "%s", signal);
	} else if (base && *base) {
		size_t bl = strlen(base);

		if (!http_url(base))
			return -EINVAL;
		n = snprintf(out, len, "%s%sv1/traces", base, base[bl - 1] == '/' ? "" : "/");
	} else {
		out[0] = '\0';
		return 0;
	}
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* RFC 7230 token */
static bool header_name_ok(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("!#$%&'*+-.^_`|~", *s))
			return false;
	return true;
}

static bool header_value_ok(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 && *s != '\t')
			return false; /* no CR/LF: no header injection */
	return true;
}

/* Adds or replaces (names are case-insensitive) "name: value". */
static int put_header(char **out, int *n, int max, const char *name, const char *value,
		      char *err, size_t errlen)
{
	size_t nl = strlen(name);
	char *h;

	if (!header_name_ok(name)) {
		snprintf(err, errlen, "\"%.64s\" is not a valid header name", name);
		return -EINVAL;
	}
	if (!header_value_ok(value)) {
		snprintf(err, errlen, "the value of header %.64s has control characters", name);
		return -EINVAL;
	}
	if (asprintf(&h, "%s: %s", name, value) < 0)
		return -ENOMEM;
	for (int i = 0; i < *n; i++) {
		if (!strncasecmp(out[i], name, nl) && out[i][nl] == ':') {
			free(out[i]);
			out[i] = h;
			return 0;
		}
	}
	if (*n >= max) {
		free(h);
		snprintf(err, errlen, "more than %d headers", max);
		return -EINVAL;
	}
	out[(*n)++] = h;
	return 0;
}

int ef_otlp_parse_headers(const char *s, char **out, int *n, int max, char *err, size_t errlen)
{
	char *copy = strdup(s), *save = NULL;
	int ret = 0;

	if (!copy)
		return -ENOMEM;
	for (char *kv = strtok_r(copy, ",", &save); kv && !ret; kv = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(kv, '='), *k = kv, *val;

		if (!eq) {
			snprintf(err, errlen, "\"%.64s\" is not key=value", kv);
			ret = -EINVAL;
			break;
		}
		*eq = '\0';
		val = eq + 1;
		ef_trim(&k);
		ef_trim(&val);
		ef_pct_decode(val); /* values are percent-encoded (W3C Baggage octets) */
		ret = put_header(out, n, max, k, val, err, errlen);
	}
	free(copy);
	return ret;
}

long ef_retry_after_parse(const char *v, long now)
{
	char *end;
	long s;
	time_t t;

	while (*v == ' ' || *v == '\t')
		v++;
	if (isdigit((unsigned char)*v)) {
		s = strtol(v, &end, 10);
		while (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n')
			end++;
		return *end || s < 0 ? -1 : s;
	}
	t = curl_getdate(v, NULL);
	if (t < 0)
		return -1;
	return t > now ? (long)(t - now) : 0;
}

static int u32_env(const char *name, const char *v, uint32_t lo, uint32_t hi, uint32_t *out)
{
	char *end;
	unsigned long x;

	errno = 0;
	x = strtoul(v, &end, 10);
	if (!*v || *end || errno || x < lo || x > hi) {
		log_err("%s=\"%s\": want a whole number from %u to %u", name, v, lo, hi);
		return -EINVAL;
	}
	*out = (uint32_t)x;
	return 0;
}

static int str_key(const cJSON *sec, const char *key, char *out, size_t len, const char *path)
{
	const cJSON *v = cJSON_GetObjectItem(sec, key);

	if (!v)
		return 0;
	if (!cJSON_IsString(v) || strlen(v->valuestring) >= len) {
		log_err("%s: otlp.%s must be a string (shorter than %zu)", path, key, len);
		return -EINVAL;
	}
	snprintf(out, len, "%s", v->valuestring);
	return 0;
}

static int set_protocol(struct ef_export_cfg *c, const char *v, const char *where)
{
	if (!strcmp(v, "http/protobuf"))
		c->json = false;
	else if (!strcmp(v, "http/json"))
		c->json = true;
	else {
		log_err("%s: protocol \"%s\" is not supported (http/protobuf or http/json; gRPC "
			"is not built in: put an OpenTelemetry Collector in between)", where, v);
		return -EINVAL;
	}
	return 0;
}

static int set_compression(struct ef_export_cfg *c, const char *v, const char *where)
{
	if (!strcmp(v, "gzip"))
		c->gzip = true;
	else if (!strcmp(v, "none"))
		c->gzip = false;
	else {
		log_err("%s: compression \"%s\" is not supported (gzip or none)", where, v);
		return -EINVAL;
	}
	return 0;
}

static int env_path(const char *specific, const char *generic, char *out, size_t len)
{
	const char *name, *v = env2(specific, generic, &name);

	if (!v)
		return 0;
	if (strlen(v) >= len) {
		log_err("%s: too long", name);
		return -EINVAL;
	}
	snprintf(out, len, "%s", v);
	return 0;
}

int ef_export_config(struct ef_export_cfg *c, const cJSON *sec, const char *path)
{
	static const char *const known[] = {
		"enabled", "endpoint", "traces_endpoint", "headers", "protocol", "timeout_ms",
		"compression", "certificate", "client_certificate", "client_key",
		"max_export_batch_size", "schedule_delay_ms", "retry_initial_ms", "retry_max_ms",
		"retry_after_max_seconds", NULL
	};
	char base[2048] = "", signal[2048] = "", err[160];
	const char *name, *v;
	bool enabled = true;
	int ret;

	memset(c, 0, sizeof(*c));
	c->timeout_ms = 10000;
	c->batch_max_spans = 512;
	c->delay_ms = 500;
	c->retry_initial_ms = 1000;
	c->retry_max_ms = 30000;
	c->retry_after_max_s = 600;
	if (sec) {
		const cJSON *h = cJSON_GetObjectItem(sec, "headers"), *e;
		const cJSON *en = cJSON_GetObjectItem(sec, "enabled");
		char proto[32] = "", comp[16] = "";

		if (!cJSON_IsObject(sec)) {
			log_err("%s: \"otlp\" must be an object", path);
			return -EINVAL;
		}
		if (ef_json_known_keys(sec, known, "otlp.", path))
			return -EINVAL;
		if (en && !cJSON_IsBool(en)) {
			log_err("%s: otlp.enabled must be true or false", path);
			return -EINVAL;
		}
		enabled = !en || cJSON_IsTrue(en);
		if (str_key(sec, "endpoint", base, sizeof(base), path) ||
		    str_key(sec, "traces_endpoint", signal, sizeof(signal), path) ||
		    str_key(sec, "protocol", proto, sizeof(proto), path) ||
		    str_key(sec, "compression", comp, sizeof(comp), path) ||
		    str_key(sec, "certificate", c->ca_file, sizeof(c->ca_file), path) ||
		    str_key(sec, "client_certificate", c->client_cert, sizeof(c->client_cert), path) ||
		    str_key(sec, "client_key", c->client_key, sizeof(c->client_key), path) ||
		    ef_json_u32(sec, "otlp", "timeout_ms", 1, 600000, &c->timeout_ms, path) ||
		    ef_json_u32(sec, "otlp", "max_export_batch_size", 1, 65536, &c->batch_max_spans, path) ||
		    ef_json_u32(sec, "otlp", "schedule_delay_ms", 0, 600000, &c->delay_ms, path) ||
		    ef_json_u32(sec, "otlp", "retry_initial_ms", 1, 3600000, &c->retry_initial_ms, path) ||
		    ef_json_u32(sec, "otlp", "retry_max_ms", 1, 3600000, &c->retry_max_ms, path) ||
		    ef_json_u32(sec, "otlp", "retry_after_max_seconds", 1, 86400, &c->retry_after_max_s, path))
			return -EINVAL;
		if ((*proto && set_protocol(c, proto, path)) ||
		    (*comp && set_compression(c, comp, path)))
			return -EINVAL;
		if (h && !cJSON_IsObject(h)) {
			log_err("%s: otlp.headers must be an object of strings", path);
			return -EINVAL;
		}
		cJSON_ArrayForEach(e, h) {
			if (!cJSON_IsString(e)) {
				log_err("%s: otlp.headers.%s must be a string", path, e->string);
				goto bad;
			}
			ret = put_header(c->headers, &c->n_headers, EF_OTLP_MAX_HEADERS, e->string,
					 e->valuestring, err, sizeof(err));
			if (ret) {
				log_err("%s: otlp.headers: %s", path, err);
				goto bad;
			}
		}
		c->url_from = *signal ? "otlp.traces_endpoint" : "otlp.endpoint";
	}

	/* the environment wins */
	if ((v = getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")) && *v) {
		snprintf(signal, sizeof(signal), "%s", v);
		c->url_from = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT";
	} else if ((v = getenv("OTEL_EXPORTER_OTLP_ENDPOINT")) && *v) {
		snprintf(base, sizeof(base), "%s", v);
		signal[0] = '\0';
		c->url_from = "OTEL_EXPORTER_OTLP_ENDPOINT";
	}
	ret = ef_otlp_traces_url(base, signal, c->url, sizeof(c->url));
	if (ret) {
		log_err("%s=\"%.200s\": not an http:// or https:// URL",
			c->url_from ? c->url_from : "otlp endpoint", *signal ? signal : base);
		goto bad;
	}
	if ((v = env2("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL", &name)) &&
	    set_protocol(c, v, name))
		goto bad;
	if ((v = env2("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "OTEL_EXPORTER_OTLP_COMPRESSION",
		      &name)) &&
	    set_compression(c, v, name))
		goto bad;
	if ((v = env2("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "OTEL_EXPORTER_OTLP_TIMEOUT", &name)) &&
	    u32_env(name, v, 1, 600000, &c->timeout_ms))
		goto bad;
	if ((v = getenv("OTEL_BSP_SCHEDULE_DELAY")) && *v &&
	    u32_env("OTEL_BSP_SCHEDULE_DELAY", v, 0, 600000, &c->delay_ms))
		goto bad;
	if ((v = getenv("OTEL_BSP_MAX_EXPORT_BATCH_SIZE")) && *v &&
	    u32_env("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", v, 1, 65536, &c->batch_max_spans))
		goto bad;
	/* generic headers, then the signal's, each key replacing the one before */
	{
		static const char *const hv[] = { "OTEL_EXPORTER_OTLP_HEADERS",
						  "OTEL_EXPORTER_OTLP_TRACES_HEADERS" };

		for (int i = 0; i < 2; i++) {
			if (!(v = getenv(hv[i])) || !*v)
				continue;
			if (ef_otlp_parse_headers(v, c->headers, &c->n_headers, EF_OTLP_MAX_HEADERS,
						  err, sizeof(err))) {
				log_err("%s: %s", hv[i], err);
				goto bad;
			}
		}
	}
	if (env_path("OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE", "OTEL_EXPORTER_OTLP_CERTIFICATE",
		     c->ca_file, sizeof(c->ca_file)) ||
	    env_path("OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE",
		     "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", c->client_cert,
		     sizeof(c->client_cert)) ||
	    env_path("OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY", "OTEL_EXPORTER_OTLP_CLIENT_KEY",
		     c->client_key, sizeof(c->client_key)))
		goto bad;
	if (c->retry_max_ms < c->retry_initial_ms)
		c->retry_max_ms = c->retry_initial_ms;
	if (env_true("OTEL_SDK_DISABLED"))
		enabled = false;
	if ((v = getenv("OTEL_TRACES_EXPORTER")) && !strcmp(v, "none"))
		enabled = false;
	c->enabled = enabled && c->url[0];
	return 0;
bad:
	ef_export_config_free(c);
	return -EINVAL;
}

void ef_export_config_free(struct ef_export_cfg *c)
{
	for (int i = 0; i < c->n_headers; i++)
		free(c->headers[i]);
	c->n_headers = 0;
}
