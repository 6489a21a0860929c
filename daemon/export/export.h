/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The OTLP/HTTP exporter. It runs in a thread of its own and reads the
 * journal as its spool, so a slow or absent backend never holds up the
 * ring-buffer consumer, and enforcement (in the kernel) never waits for
 * either. Delivery is at least once: batches go in journal order, and the
 * position after the last delivered span (<state-dir>/cursors/otlp.json)
 * moves only on a 2xx (or on a rejection that retrying cannot fix).
 *
 * Settings come from the standard OTEL_EXPORTER_OTLP_* variables and from
 * the "otlp" section of egressd's config file; a variable wins over the
 * file (as OTEL_SERVICE_NAME wins over "service_name").
 */
#ifndef EF_EXPORT_H
#define EF_EXPORT_H

#include <stdbool.h>
#include <stdint.h>

#define EF_OTLP_MAX_HEADERS 32

struct cJSON;
struct ef_exporter;
struct ef_journal;
struct ef_resource;

struct ef_export_cfg {
	bool enabled;		/* an endpoint, and not OTEL_SDK_DISABLED */
	char url[2048];		/* the full traces URL */
	const char *url_from;	/* which setting gave it, for logs */
	bool json;		/* http/json, else http/protobuf */
	bool gzip;
	uint32_t timeout_ms;
	char *headers[EF_OTLP_MAX_HEADERS]; /* "Name: value" */
	int n_headers;
	char ca_file[1024], client_cert[1024], client_key[1024];
	uint32_t batch_max_spans;  /* spans per request */
	uint32_t delay_ms;	   /* wait this long for a batch to fill */
	uint32_t retry_initial_ms; /* first backoff after a retryable failure */
	uint32_t retry_max_ms;	   /* backoff ceiling */
	uint32_t retry_after_max_s; /* a longer Retry-After is cut to this */
};

/* Parses the "otlp" section (may be NULL) then the environment. On a bad
 * value logs "WHERE: what" and returns -EINVAL. */
int ef_export_config(struct ef_export_cfg *c, const struct cJSON *section, const char *path);
void ef_export_config_free(struct ef_export_cfg *c);
/* The URL rules of the OTLP exporter spec, exposed for the unit tests:
 * a base endpoint gets "v1/traces" appended, a signal endpoint is used as is. */
int ef_otlp_traces_url(const char *base, const char *signal, char *out, size_t len);
/* "k1=v1,k2=v2" (values %-decoded) into "K: V" headers; -EINVAL on a bad one. */
int ef_otlp_parse_headers(const char *s, char **out, int *n, int max, char *err, size_t errlen);
/* Retry-After: delta-seconds or an HTTP-date; returns seconds or -1. */
long ef_retry_after_parse(const char *v, long now);

/* The exporter thread, reading journal j from the cursor in state_dir:
 * *out (NULL while export is off); 0 or -errno. */
int ef_export_start(struct ef_exporter **out, const struct ef_export_cfg *cfg,
		    struct ef_journal *j, const char *state_dir, const struct ef_resource *res);
/* Drains what it can in DRAIN_MS, stops the thread, frees *out */
void ef_export_stop(struct ef_exporter **out);
/* Counters for `egressctl status` */
void ef_export_status(struct ef_exporter *x, const struct ef_export_cfg *c,
		      struct ef_journal *j, struct cJSON *o);

#endif /* EF_EXPORT_H */
