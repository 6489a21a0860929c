// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The exporter thread: journal lines → OTLP/HTTP requests, in order.
 *
 * Delivery rules (OTLP/HTTP spec, "Failures"):
 *  - 2xx: done. A partial success is logged and counted, never retried.
 *  - 429, 502, 503, 504 and transport failures (refused, reset, timed out,
 *    TLS): retried, the same batch, after Retry-After if the server sent
 *    one, else after an exponential backoff with jitter, for as long as it
 *    takes. The journal's bound, not a retry limit, decides what is lost in
 *    a long outage, and that is counted where it happens (journal.c).
 *  - any other status: the batch is rejected for good; counted, logged, and
 *    the cursor moves past it, since sending it again cannot succeed.
 */
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <curl/curl.h>
#include <cjson/cJSON.h>
#include <zlib.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "export.h"
#include "journal.h"
#include "otlp_pb.h"
#include "lib/util.h"

#define CURSOR_NAME "otlp"
#define MAX_LINE (64u << 20)
#define MAX_JSON_BODY (16u << 20)
#define RESP_MAX 65536
#define DRAIN_MS 3000 /* at stop, time to send what is already written */

static const char json_head[] = "{\"resourceSpans\":[";
static const char json_tail[] = "]}";

struct ef_exporter {
	const struct ef_export_cfg *cfg;
	struct ef_journal *j;
	char state_dir[4096];
	pthread_t th;
	bool started;

	CURL *curl;
	struct curl_slist *hdrs;
	struct curl_slist *pinned;    /* CURLOPT_RESOLVE: the endpoint's addresses */
	uint64_t pinned_ns;	      /* when looked up (boot clock); 0: never */
	struct ef_journal_reader rd;
	struct ef_pb_batch *pb;	      /* a batch parsed back from journal lines */
	struct ef_buf spans;	      /* a batch of spans the consumer encoded */
	struct ef_buf env_res, env_scope; /* their resource and scope, packed once */
	enum { SRC_NONE, SRC_FILE, SRC_QUEUE } src;
	struct ef_journal_entry *held; /* taken from the queue, for the next batch */
	struct ef_buf body, gz;
	char resp[RESP_MAX];
	size_t resp_len;
	long retry_after; /* seconds, -1 if none */
	size_t batch_spans;
	struct ef_journal_pos batch_end;

	/* stop: read by the thread, set under j->lock */
	bool stop;
	uint64_t stop_deadline_ns;

	pthread_mutex_t st_lock; /* the counters below */
	uint64_t exported, requests, retries, rejected, partial_rejected, malformed;
	uint64_t failing_since_ns;
	struct ef_journal_pos cursor;
	char last_error[256];
	uint64_t last_ok_ns;
};

static bool stopping(struct ef_exporter *x)
{
	bool s;

	pthread_mutex_lock(&x->j->lock);
	s = x->stop;
	pthread_mutex_unlock(&x->j->lock);
	return s;
}

/* Sleep up to ms, waking early on stop (and on new data when wake_on_data).
 * Returns true when stopping. */
static bool nap(struct ef_exporter *x, uint64_t ms, bool wake_on_data)
{
	struct ef_journal *j = x->j;
	struct timespec ts;
	uint64_t seq, size;
	bool s;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&j->lock);
	seq = j->pub_seq;
	size = j->pub_size;
	while (!x->stop) {
		if (wake_on_data && (j->pub_seq != seq || j->pub_size != size))
			break;
		if (pthread_cond_timedwait(&j->cond, &j->lock, &ts) == ETIMEDOUT)
			break;
	}
	s = x->stop;
	pthread_mutex_unlock(&j->lock);
	return s;
}

static void set_error(struct ef_exporter *x, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void set_error(struct ef_exporter *x, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&x->st_lock);
	va_start(ap, fmt);
	vsnprintf(x->last_error, sizeof(x->last_error), fmt, ap);
	va_end(ap);
	pthread_mutex_unlock(&x->st_lock);
}

/* ---- HTTP ----------------------------------------------------------- */

static size_t on_body(char *p, size_t sz, size_t n, void *arg)
{
	struct ef_exporter *x = arg;
	size_t len = sz * n, room = sizeof(x->resp) - x->resp_len;

	memcpy(x->resp + x->resp_len, p, len < room ? len : room);
	x->resp_len += len < room ? len : room;
	return len;
}

static size_t on_header(char *p, size_t sz, size_t n, void *arg)
{
	struct ef_exporter *x = arg;
	size_t len = sz * n;

	if (len > 12 && !strncasecmp(p, "Retry-After:", 12)) {
		char v[128];
		size_t vl = len - 12 < sizeof(v) - 1 ? len - 12 : sizeof(v) - 1;

		memcpy(v, p + 12, vl);
		v[vl] = '\0';
		x->retry_after = ef_retry_after_parse(v, (long)time(NULL));
	}
	return len;
}

static int on_progress(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	struct ef_exporter *x = arg;

	/* at stop, a request in flight may finish within the drain time */
	return stopping(x) && ef_now_boot_ns() > x->stop_deadline_ns;
}

static int http_setup(struct ef_exporter *x)
{
	const struct ef_export_cfg *c = x->cfg;
	struct curl_slist *h = NULL;

	x->curl = curl_easy_init();
	if (!x->curl)
		return -ENOMEM;
	h = curl_slist_append(h, c->json ? "Content-Type: application/json"
					 : "Content-Type: application/x-protobuf");
	if (c->gzip)
		h = curl_slist_append(h, "Content-Encoding: gzip");
	h = curl_slist_append(h, "Expect:"); /* no 100-continue round trip */
	for (int i = 0; i < c->n_headers && h; i++)
		h = curl_slist_append(h, c->headers[i]);
	if (!h)
		return -ENOMEM;
	x->hdrs = h;
	curl_easy_setopt(x->curl, CURLOPT_URL, c->url);
	curl_easy_setopt(x->curl, CURLOPT_HTTPHEADER, x->hdrs);
	curl_easy_setopt(x->curl, CURLOPT_POST, 1L);
	curl_easy_setopt(x->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(x->curl, CURLOPT_TIMEOUT_MS, (long)c->timeout_ms);
	curl_easy_setopt(x->curl, CURLOPT_CONNECTTIMEOUT_MS, (long)c->timeout_ms);
	curl_easy_setopt(x->curl, CURLOPT_USERAGENT, "egress-fence/" EF_VERSION);
	curl_easy_setopt(x->curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(x->curl, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(x->curl, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(x->curl, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(x->curl, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(x->curl, CURLOPT_XFERINFODATA, x);
	curl_easy_setopt(x->curl, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(x->curl, CURLOPT_PROTOCOLS_STR, "http,https");
	if (c->ca_file[0])
		curl_easy_setopt(x->curl, CURLOPT_CAINFO, c->ca_file);
	if (c->client_cert[0])
		curl_easy_setopt(x->curl, CURLOPT_SSLCERT, c->client_cert);
	if (c->client_key[0])
		curl_easy_setopt(x->curl, CURLOPT_SSLKEY, c->client_key);
	return 0;
}

static int gzip_body(struct ef_exporter *x)
{
	z_stream z = { 0 };
	size_t bound;
	char *p;
	int ret;

	if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
			 Z_DEFAULT_STRATEGY) != Z_OK)
		return -ENOMEM;
	bound = deflateBound(&z, x->body.len) + 32;
	ef_buf_reset(&x->gz);
	p = ef_buf_extend(&x->gz, bound);
	if (!p) {
		deflateEnd(&z);
		return -ENOMEM;
	}
	z.next_in = (Bytef *)x->body.p;
	z.avail_in = x->body.len;
	z.next_out = (Bytef *)p;
	z.avail_out = bound;
	ret = deflate(&z, Z_FINISH);
	x->gz.len = bound - z.avail_out;
	deflateEnd(&z);
	return ret == Z_STREAM_END ? 0 : -EIO;
}

enum outcome { SENT, RETRY, REJECTED };

static bool retryable_status(long s)
{
	return s == 429 || s == 502 || s == 503 || s == 504;
}

/*
 * The endpoint's addresses, and a proxy's from the environment, looked up
 * here, in the exporter thread, and handed to libcurl (CURLOPT_RESOLVE):
 * its threaded resolver would start a thread for each lookup, a thread
 * born after a job started, whose id the job's guard does not know
 * (cli/guard.c refuses signals and resource limits by thread id; a limit
 * set through any thread's id is the whole process's). Looked up again
 * every 30 s; an address literal needs none. Returns false where a name
 * could not be looked up: the request is not made (libcurl would look it
 * up itself) and counts as a transport failure, retried.
 */
static bool pin_one(const char *url, bool proxy, struct curl_slist **l)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res = NULL;
	char *host = NULL, *port = NULL, entry[1024], drop[600];
	CURLU *u = curl_url();
	unsigned char buf[16];
	bool ok = false;
	size_t off;

	if (!u || curl_url_set(u, CURLUPART_URL, url, CURLU_GUESS_SCHEME) ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0))
		goto out;
	if (curl_url_get(u, CURLUPART_PORT, &port, proxy ? 0 : CURLU_DEFAULT_PORT)) {
		port = NULL; /* a proxy without a port: libcurl's 1080 */
		if (!proxy)
			goto out;
	}
	ok = true;
	if (host[0] == '[' || inet_pton(AF_INET, host, buf) == 1)
		goto out;
	ok = false;
	if (getaddrinfo(host, port ? port : "1080", &hints, &res) != 0 || !res)
		goto out;
	off = (size_t)snprintf(entry, sizeof(entry), "%s:%s:", host, port ? port : "1080");
	for (const struct addrinfo *a = res; a && off < sizeof(entry) - 64; a = a->ai_next) {
		char ip[INET6_ADDRSTRLEN];
		const void *p = a->ai_family == AF_INET6
					? (const void *)&((struct sockaddr_in6 *)a->ai_addr)->sin6_addr
					: (const void *)&((struct sockaddr_in *)a->ai_addr)->sin_addr;

		if ((a->ai_family != AF_INET && a->ai_family != AF_INET6) ||
		    !inet_ntop(a->ai_family, p, ip, sizeof(ip)))
			continue;
		off += (size_t)snprintf(entry + off, sizeof(entry) - off, "%s%s%s%s",
					entry[off - 1] == ':' ? "" : ",",
					a->ai_family == AF_INET6 ? "[" : "", ip,
					a->ai_family == AF_INET6 ? "]" : "");
	}
	if (entry[off - 1] == ':')
		goto out;
	snprintf(drop, sizeof(drop), "-%s:%s", host, port ? port : "1080");
	ok = (*l = curl_slist_append(*l, drop)) && (*l = curl_slist_append(*l, entry));
out:
	if (res)
		freeaddrinfo(res);
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
	return ok;
}

static bool pin_endpoint(struct ef_exporter *x)
{
	static const char *const proxies[] = { "https_proxy", "HTTPS_PROXY", "http_proxy",
					       "all_proxy", "ALL_PROXY" };
	struct curl_slist *l = NULL;
	uint64_t now = ef_now_boot_ns();
	bool ok;

	if (x->pinned_ns && now - x->pinned_ns < 30ull * 1000000000)
		return true;
	ok = pin_one(x->cfg->url, false, &l);
	for (size_t i = 0; ok && i < sizeof(proxies) / sizeof(proxies[0]); i++) {
		const char *v = getenv(proxies[i]);

		if (v && *v)
			ok = pin_one(v, true, &l);
	}
	if (!ok) {
		curl_slist_free_all(l);
		return false;
	}
	if (l) {
		curl_easy_setopt(x->curl, CURLOPT_RESOLVE, l);
		curl_slist_free_all(x->pinned);
		x->pinned = l;
	}
	x->pinned_ns = now;
	return true;
}

/* One POST. status: the HTTP status, or 0 for a transport failure. */
static enum outcome post(struct ef_exporter *x, long *status)
{
	const struct ef_buf *b = x->cfg->gzip ? &x->gz : &x->body;
	CURLcode rc;

	x->resp_len = 0;
	x->retry_after = -1;
	*status = 0;
	curl_easy_setopt(x->curl, CURLOPT_POSTFIELDS, b->p);
	curl_easy_setopt(x->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)b->len);
	rc = pin_endpoint(x) ? curl_easy_perform(x->curl) : CURLE_COULDNT_RESOLVE_HOST;
	pthread_mutex_lock(&x->st_lock);
	x->requests++;
	pthread_mutex_unlock(&x->st_lock);
	if (rc != CURLE_OK) {
		set_error(x, "%s: %s", x->cfg->url, curl_easy_strerror(rc));
		return RETRY;
	}
	curl_easy_getinfo(x->curl, CURLINFO_RESPONSE_CODE, status);
	if (*status >= 200 && *status < 300)
		return SENT;
	set_error(x, "%s: HTTP %ld: %.*s", x->cfg->url, *status,
		  (int)(x->resp_len < 160 ? x->resp_len : 160), x->resp);
	return retryable_status(*status) ? RETRY : REJECTED;
}

static void on_sent(struct ef_exporter *x)
{
	int64_t rejected = 0;
	char msg[200];

	if (ef_otlp_partial_success(x->resp, x->resp_len, x->cfg->json, &rejected, msg,
				    sizeof(msg)))
		log_debug("export: response body is not an ExportTraceServiceResponse (ignored)");
	if (rejected > 0 || msg[0])
		log_warn("export: partial success: %" PRId64 " of %zu spans rejected%s%s", rejected,
			 x->batch_spans, msg[0] ? ": " : "", msg);
	pthread_mutex_lock(&x->st_lock);
	if (rejected > 0) {
		x->partial_rejected += rejected;
		x->exported += (uint64_t)rejected < x->batch_spans ? x->batch_spans - rejected : 0;
	} else {
		x->exported += x->batch_spans;
	}
	x->last_ok_ns = ef_now_realtime_ns();
	pthread_mutex_unlock(&x->st_lock);
}

static uint64_t backoff_ms(struct ef_exporter *x, unsigned attempt)
{
	uint64_t d = x->cfg->retry_initial_ms;
	uint64_t r;

	for (unsigned i = 0; i < attempt && d < x->cfg->retry_max_ms; i++)
		d *= 2;
	if (d > x->cfg->retry_max_ms)
		d = x->cfg->retry_max_ms;
	/* jitter: somewhere in [d/2, d], so that many runners do not retry in step */
	ef_random_bytes(&r, sizeof(r));
	return d / 2 + r % (d / 2 + 1);
}

/* Sends the encoded batch until it is delivered or rejected. Returns false
 * when stopping first (the cursor stays; the batch goes again next start). */
static bool deliver(struct ef_exporter *x)
{
	unsigned attempt = 0;

	for (;;) {
		long status;
		enum outcome o = post(x, &status);
		uint64_t wait;

		if (o == SENT) {
			on_sent(x);
			if (x->failing_since_ns) {
				log_info("export: %s reachable again after %.1f s, %u retries",
					 x->cfg->url, (ef_now_boot_ns() - x->failing_since_ns) / 1e9,
					 attempt);
				pthread_mutex_lock(&x->st_lock);
				x->failing_since_ns = 0;
				pthread_mutex_unlock(&x->st_lock);
			}
			return true;
		}
		if (o == REJECTED) {
			log_err("export: %s answered HTTP %ld to %zu spans; not retried (%.*s)",
				x->cfg->url, status, x->batch_spans,
				(int)(x->resp_len < 200 ? x->resp_len : 200), x->resp);
			pthread_mutex_lock(&x->st_lock);
			x->rejected += x->batch_spans;
			pthread_mutex_unlock(&x->st_lock);
			return true;
		}
		if (stopping(x))
			return false;
		if (x->retry_after >= 0) {
			wait = (uint64_t)(x->retry_after < (long)x->cfg->retry_after_max_s
						  ? x->retry_after
						  : (long)x->cfg->retry_after_max_s) *
			       1000;
		} else {
			wait = backoff_ms(x, attempt);
		}
		if (!x->failing_since_ns) {
			pthread_mutex_lock(&x->st_lock);
			x->failing_since_ns = ef_now_boot_ns();
			log_warn("export: %s; retrying in %.1f s (spans wait in the journal)",
				 x->last_error, wait / 1e3);
			pthread_mutex_unlock(&x->st_lock);
		} else {
			log_debug("export: retry %u failed; next in %.1f s", attempt + 1, wait / 1e3);
		}
		pthread_mutex_lock(&x->st_lock);
		x->retries++;
		pthread_mutex_unlock(&x->st_lock);
		attempt++;
		if (nap(x, wait, false))
			return false;
	}
}

/* ---- batches --------------------------------------------------------- */

static void batch_reset(struct ef_exporter *x)
{
	if (x->pb)
		ef_pb_batch_reset(x->pb);
	ef_buf_reset(&x->spans);
	x->src = SRC_NONE;
	ef_buf_reset(&x->body);
	if (x->cfg->json)
		ef_buf_add(&x->body, json_head, sizeof(json_head) - 1);
	x->batch_spans = 0;
	x->batch_end = x->rd.pos;
}

static void malformed(struct ef_exporter *x, const char *why)
{
	log_warn("export: journal-%010" PRIu64 ".jsonl before byte %" PRIu64 ": %s; line skipped",
		 x->rd.pos.seq, x->rd.pos.off, why);
	pthread_mutex_lock(&x->st_lock);
	x->malformed++;
	pthread_mutex_unlock(&x->st_lock);
}

/* One journal line into the batch. In JSON mode the line's resourceSpans are
 * spliced into the request as they are: egressd wrote them in the OTLP JSON
 * mapping already. */
static int add_line(struct ef_exporter *x, const char *line, size_t len)
{
	size_t hl = sizeof(json_head) - 1, tl = sizeof(json_tail) - 1;
	char err[128];
	int n;

	if (!x->cfg->json) {
		n = ef_pb_batch_add(x->pb, line, len, err, sizeof(err));
		if (n == -EINVAL) {
			malformed(x, err);
			return 0;
		}
		return n;
	}
	if (len < hl + tl || memcmp(line, json_head, hl) || memcmp(line + len - tl, json_tail, tl)) {
		malformed(x, "not an ExportTraceServiceRequest as egressd writes them");
		return 0;
	}
	if (len - hl - tl == 0)
		return 0;
	if (x->batch_spans || x->body.len > hl)
		ef_buf_add(&x->body, ",", 1);
	ef_buf_add(&x->body, line + hl, len - hl - tl);
	if (x->body.oom)
		return -ENOMEM;
	return (int)ef_journal_count_spans(line, len);
}

/* The next line, from the queue when the consumer encoded it already. A
 * batch holds lines from one source only (they are wrapped differently).
 * Returns 1 when the line was added, 0 when the batch must end first. */
static int take_queued(struct ef_exporter *x)
{
	struct ef_journal_entry *e = x->held;

	if (!e && x->j->queue_on)
		e = ef_journal_take(x->j, x->rd.pos.seq, x->rd.pos.off);
	if (!e)
		return x->src == SRC_QUEUE ? 0 : -1; /* -1: read the file */
	if (x->src == SRC_FILE) {
		x->held = e;
		return 0;
	}
	x->held = NULL;
	x->src = SRC_QUEUE;
	ef_buf_add(&x->spans, e->data, e->len);
	x->batch_spans += e->n_spans;
	ef_journal_reader_seek(&x->rd, e->seq, e->end);
	x->batch_end = x->rd.pos;
	free(e);
	return x->spans.oom ? -ENOMEM : 1;
}

/* Reads lines until the batch is full or the journal has nothing complete.
 * Returns 1 if the journal ran dry, 0 if the batch filled, -errno. */
static int fill(struct ef_exporter *x)
{
	while (x->batch_spans < x->cfg->batch_max_spans &&
	       (!x->cfg->json || x->body.len < MAX_JSON_BODY)) {
		const char *line;
		size_t len;
		int ret = take_queued(x);

		if (ret == -ENOMEM)
			return ret;
		if (ret == 1)
			continue;
		if (ret == 0)
			return x->held ? 0 : 1;
		ret = ef_journal_reader_next(&x->rd, &line, &len);
		if (ret < 0)
			return ret;
		if (ret == 0)
			return 1;
		if (!x->cfg->json)
			x->src = SRC_FILE;
		ret = add_line(x, line, len);
		if (ret < 0)
			return ret;
		x->batch_spans += ret;
		x->batch_end = x->rd.pos;
	}
	return 0;
}

static int encode(struct ef_exporter *x)
{
	int ret = 0;

	if (x->cfg->json) {
		ef_buf_add(&x->body, json_tail, sizeof(json_tail) - 1);
		if (x->body.oom)
			ret = -ENOMEM;
	} else if (x->src == SRC_QUEUE) {
		ef_buf_reset(&x->body);
		ret = ef_pb_wrap(&x->body, &x->env_res, &x->env_scope, x->spans.p, x->spans.len);
	} else {
		ef_buf_reset(&x->body);
		ret = ef_pb_batch_pack(x->pb, &x->body);
	}
	if (!ret && x->cfg->gzip)
		ret = gzip_body(x);
	return ret;
}

static void commit_cursor(struct ef_exporter *x)
{
	int ret = ef_cursor_save(x->state_dir, CURSOR_NAME, x->batch_end);

	if (ret)
		log_err("export: saving the cursor in %s/cursors: %s (spans may be sent twice)",
			x->state_dir, strerror(-ret));
	pthread_mutex_lock(&x->st_lock);
	x->cursor = x->batch_end;
	pthread_mutex_unlock(&x->st_lock);
}

/* Back to the last delivered position, e.g. after running out of memory
 * halfway through a batch. */
static int rewind_reader(struct ef_exporter *x)
{
	struct ef_journal_pos at = x->cursor;

	free(x->held);
	x->held = NULL;
	ef_journal_reader_fini(&x->rd);
	return ef_journal_reader_init(&x->rd, x->j, at, MAX_LINE);
}

static void *exporter_main(void *arg)
{
	struct ef_exporter *x = arg;

	batch_reset(x);
	for (;;) {
		bool dry, stop = stopping(x);
		int ret;

		if (stop && ef_now_boot_ns() > x->stop_deadline_ns)
			break;
		ret = fill(x);
		if (ret < 0) {
			log_err("export: reading the journal: %s; retrying in 1 s", strerror(-ret));
			batch_reset(x);
			if (rewind_reader(x) || nap(x, 1000, false))
				break;
			batch_reset(x);
			continue;
		}
		dry = ret == 1;
		if (!x->batch_spans) {
			if (x->batch_end.seq != x->cursor.seq || x->batch_end.off != x->cursor.off)
				commit_cursor(x); /* only skipped lines */
			if (stop)
				break; /* all written spans are out */
			nap(x, 1000, true);
			continue;
		}
		/* a partial batch waits a little for company, unless stopping */
		if (dry && !stop && x->cfg->delay_ms) {
			if (nap(x, x->cfg->delay_ms, false) && ef_now_boot_ns() > x->stop_deadline_ns)
				break;
			if (fill(x) < 0)
				continue;
		}
		ret = encode(x);
		if (ret) {
			log_err("export: encoding %zu spans: %s; retrying in 1 s", x->batch_spans,
				strerror(-ret));
			batch_reset(x);
			if (rewind_reader(x) || nap(x, 1000, false))
				break;
			batch_reset(x);
			continue;
		}
		if (!deliver(x))
			break;
		commit_cursor(x);
		batch_reset(x);
	}
	return NULL;
}

/* ---- daemon side ------------------------------------------------------ */

int ef_export_start(struct ef_exporter **out, const struct ef_export_cfg *cfg,
		    struct ef_journal *j, const char *state_dir, const struct ef_resource *res)
{
	struct ef_journal_pos pos = { 0, 0 };
	struct ef_exporter *x;
	int ret;

	if (!cfg->enabled) {
		log_info("export: off (%s); spans go to the journal only",
			 cfg->url[0] ? "disabled" : "no OTLP endpoint configured");
		return 0;
	}
	x = calloc(1, sizeof(*x));
	if (!x)
		return -ENOMEM;
	x->cfg = cfg;
	x->j = j;
	snprintf(x->state_dir, sizeof(x->state_dir), "%s", state_dir);
	pthread_mutex_init(&x->st_lock, NULL);
	*out = x; /* ef_export_stop() frees what a failure below leaves */
	ret = ef_cursor_load(state_dir, CURSOR_NAME, &pos);
	if (ret == -ENOENT)
		log_info("export: no cursor yet; starting from the oldest journal file");
	pthread_mutex_lock(&j->lock);
	if (pos.seq > j->pub_seq) {
		log_warn("export: the cursor (file %" PRIu64 ") is ahead of the journal (file %" PRIu64
			 "); starting from the oldest journal file", pos.seq, j->pub_seq);
		pos.seq = pos.off = 0;
	}
	pthread_mutex_unlock(&j->lock);
	x->cursor = pos;
	if (!x->cfg->json) {
		x->pb = ef_pb_batch_new();
		if (!x->pb ||
		    ef_pb_envelope(res->json, "egress-fence", EF_VERSION, &x->env_res, &x->env_scope))
			return -ENOMEM;
		/* the consumer encodes what it writes; a reader that keeps up uses that */
		/* ~200k spans: a backend slower than the jobs for a while (or a
		 * short outage) is caught up from memory, not by parsing */
		ef_journal_queue_on(j, 128u << 20);
	}
	ret = ef_journal_reader_init(&x->rd, x->j, pos, MAX_LINE);
	if (ret)
		return ret;
	ret = http_setup(x);
	if (ret)
		return ret;
	ret = pthread_create(&x->th, NULL, exporter_main, x);
	if (ret)
		return -ret;
	x->started = true;
	pthread_setname_np(x->th, "ef-export");
	log_info("export: OTLP %s%s to %s (from %s), batches of %u spans",
		 x->cfg->json ? "http/json" : "http/protobuf", x->cfg->gzip ? " gzip" : "",
		 x->cfg->url, x->cfg->url_from ? x->cfg->url_from : "config", x->cfg->batch_max_spans);
	return 0;
}

void ef_export_stop(struct ef_exporter **out)
{
	struct ef_exporter *x = *out;

	if (!x)
		return;
	if (x->started) {
		pthread_mutex_lock(&x->j->lock);
		x->stop_deadline_ns = ef_now_boot_ns() + (uint64_t)DRAIN_MS * 1000000;
		x->stop = true;
		pthread_cond_broadcast(&x->j->cond);
		pthread_mutex_unlock(&x->j->lock);
		pthread_join(x->th, NULL);
	}
	ef_journal_reader_fini(&x->rd);
	if (x->curl)
		curl_easy_cleanup(x->curl);
	curl_slist_free_all(x->hdrs);
	curl_slist_free_all(x->pinned);
	ef_pb_batch_free(x->pb);
	free(x->held);
	ef_buf_free(&x->spans);
	ef_buf_free(&x->env_res);
	ef_buf_free(&x->env_scope);
	ef_buf_free(&x->body);
	ef_buf_free(&x->gz);
	pthread_mutex_destroy(&x->st_lock);
	free(x);
	*out = NULL;
}

void ef_export_status(struct ef_exporter *x, const struct ef_export_cfg *c,
		      struct ef_journal *j, cJSON *o)
{
	cJSON *e = cJSON_AddObjectToObject(o, "export");
	uint64_t dropped, reparsed;

	if (!e)
		return;
	pthread_mutex_lock(&j->lock);
	dropped = j->dropped_undelivered;
	reparsed = j->q_missed;
	pthread_mutex_unlock(&j->lock);
	cJSON_AddBoolToObject(e, "enabled", x != NULL);
	if (!x)
		return;
	cJSON_AddStringToObject(e, "endpoint", c->url);
	cJSON_AddStringToObject(e, "protocol", c->json ? "http/json" : "http/protobuf");
	cJSON_AddStringToObject(e, "compression", c->gzip ? "gzip" : "none");
	pthread_mutex_lock(&x->st_lock);
	cJSON_AddStringToObject(e, "state", x->failing_since_ns ? "retrying" : "ok");
	cJSON_AddNumberToObject(e, "exported_spans", (double)x->exported);
	cJSON_AddNumberToObject(e, "requests", (double)x->requests);
	cJSON_AddNumberToObject(e, "retries", (double)x->retries);
	cJSON_AddNumberToObject(e, "rejected_spans", (double)x->rejected);
	cJSON_AddNumberToObject(e, "partially_rejected_spans", (double)x->partial_rejected);
	cJSON_AddNumberToObject(e, "malformed_lines", (double)x->malformed);
	/* lines the queue could not hold, so the exporter parses them back */
	cJSON_AddNumberToObject(e, "reparsed_lines", (double)reparsed);
	cJSON_AddNumberToObject(e, "dropped_spans", (double)dropped);
	cJSON_AddNumberToObject(e, "cursor_file", (double)x->cursor.seq);
	cJSON_AddNumberToObject(e, "cursor_offset", (double)x->cursor.off);
	if (x->last_error[0])
		cJSON_AddStringToObject(e, "last_error", x->last_error);
	pthread_mutex_unlock(&x->st_lock);
}
