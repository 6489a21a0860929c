// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * What the DNS proxy answers itself without forwarding, and how it records
 * that without letting a job flood the journal:
 *
 *  - the per-job limit on queries forwarded upstream: a token bucket of
 *    the policy's dns.query_rate tokens a second, holding at most
 *    dns.query_burst (defaults EF_DNS_DEF_QUERY_RATE/_BURST). A query that
 *    finds the bucket empty is answered here with REFUSED (the proxy
 *    refuses by policy; SERVFAIL would say the upstream failed) and never
 *    relayed. In audit mode it is relayed and recorded would_deny.
 *    Queries the proxy answers itself (denied names, errors) take no token;
 *  - malformed queries and bytes that are not DNS at all (UDP or TCP):
 *    refused as before (FORMERR/NOTIMP where a reply can be made, else
 *    dropped), never forwarded.
 *
 * Both are recorded as egress.dns spans with reason dns_limit or
 * dns_malformed, folded per job and reason: the first one at once, then at
 * most one span per FOLD_NS carrying egress.count, the number of queries
 * since the last span; what is left is written when the job ends. So a
 * flood costs a span every 10 s, and none goes unrecorded. The job span
 * carries the totals (egress.dns.limited, egress.dns.malformed).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "egressd.h"
#include "spans/spans.h"
#include "lib/names.h"
#include "notices/notices.h"
#include "dnsproxy.h"
#include "lib/util.h"

#define FOLD_NS (10ull * 1000000000ull)

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static int fold_index(int reason)
{
	return reason == EF_R_DNS_LIMIT ? 0 : 1;
}

bool ef_dns_admit(struct ef_dns_job *dj)
{
	const struct ef_policy *p = dj->job->pol->pol;
	double rate = p->dns_query_rate ? p->dns_query_rate : EF_DNS_DEF_QUERY_RATE;
	double burst = p->dns_query_burst ? p->dns_query_burst : EF_DNS_DEF_QUERY_BURST;
	uint64_t now = mono_ns();

	if (!dj->bucket_ns)
		dj->tokens = burst; /* a job starts with a full bucket */
	else
		dj->tokens += (double)(now - dj->bucket_ns) * rate / 1e9;
	if (dj->tokens > burst)
		dj->tokens = burst; /* also when the policy lowered the burst */
	dj->bucket_ns = now;
	if (dj->tokens < 1.0)
		return false;
	dj->tokens -= 1.0;
	return true;
}

/* One span for what the fold holds; empties it. */
static void fold_emit(struct ef_daemon *d, struct ef_dns_job *dj, struct ef_dns_fold *f,
		      int reason, uint64_t now)
{
	const struct ef_job_rec *j = dj->job;
	const struct ef_policy *pol = j->pol->pol;
	struct ef_span *s;
	char msg[200], tbuf[EF_DNS_TYPESTR_MAX];
	bool audit = pol->mode == EF_MODE_AUDIT && reason == EF_R_DNS_LIMIT;

	if (!f->count)
		return;
	s = ef_span_new(d);
	ef_span_init(s, "egress.dns", EF_KIND_SERVER);
	ef_span_job_context(d, s, j);
	s->start_ns = f->first_real_ns;
	s->end_ns = ef_now_realtime_ns();
	ef_span_str(s, "egress.decision", ef_verdict_name(audit ? EF_V_WOULD_DENY : EF_V_DENY));
	ef_span_str(s, "egress.reason", ef_reason_name((uint8_t)reason));
	ef_span_rule(s, j->pol, NULL);
	ef_span_int(s, "egress.count", (int64_t)f->count);
	if (f->name[0])
		ef_span_str(s, "dns.question.name", f->name);
	if (f->has_type)
		ef_span_str(s, "egress.dns.type", ef_dns_type_name(f->qtype, tbuf, sizeof(tbuf)));
	if (f->rcode >= 0)
		ef_span_str(s, "egress.dns.rcode", ef_dns_rcode_name(f->rcode, tbuf, sizeof(tbuf)));
	ef_span_str(s, "egress.dns.transport", f->tcp ? "tcp" : "udp");
	if (reason == EF_R_DNS_LIMIT) {
		snprintf(msg, sizeof(msg),
			 "%llu queries over the job's DNS limit (%u/s, burst %u)%s",
			 (unsigned long long)f->count,
			 pol->dns_query_rate ? pol->dns_query_rate : EF_DNS_DEF_QUERY_RATE,
			 pol->dns_query_burst ? pol->dns_query_burst : EF_DNS_DEF_QUERY_BURST,
			 audit ? ", forwarded (audit mode)" : ", answered here");
	} else {
		snprintf(msg, sizeof(msg),
			 "%llu malformed or non-DNS messages to port 53 (last: %s)",
			 (unsigned long long)f->count, f->why);
	}
	s->status = EF_STATUS_ERROR;
	s->status_msg = ef_span_strdup(s, msg);
	ef_span_job_attrs(s, j);
	f->count = 0;
	f->last_emit_ns = now;
}

void ef_dns_refused(struct ef_daemon *d, struct ef_dns_job *dj, int reason,
		    const struct ef_dns_query *q, int rcode, bool tcp, const char *why)
{
	struct ef_dns_fold *f = &dj->fold[fold_index(reason)];
	uint64_t now = mono_ns();

	if (reason == EF_R_DNS_LIMIT) {
		d->dns_limited++;
		dj->job->n_dns_limited++;
	} else {
		d->dns_malformed++;
		dj->job->n_dns_malformed++;
	}
	if (d->watches)
		ef_notice_dns(d, dj->job, q && q->has_question ? q->name : NULL,
			      q && q->has_question ? q->qtype : -1,
			      reason == EF_R_DNS_LIMIT && dj->job->pol->pol->mode == EF_MODE_AUDIT
				      ? EF_V_WOULD_DENY : EF_V_DENY,
			      reason, NULL, why);
	if (!f->count)
		f->first_real_ns = ef_now_realtime_ns();
	f->count++;
	/* the last one stands for the fold */
	f->name[0] = '\0';
	f->has_type = q && q->has_question;
	if (f->has_type) {
		snprintf(f->name, sizeof(f->name), "%s", q->name);
		f->qtype = q->qtype;
	}
	f->rcode = rcode;
	f->tcp = tcp;
	snprintf(f->why, sizeof(f->why), "%s", why);
	if (!f->last_emit_ns || now - f->last_emit_ns >= FOLD_NS)
		fold_emit(d, dj, f, reason, now);
}

void ef_dns_fold_tick(struct ef_daemon *d, struct ef_dns_job *dj, bool flush)
{
	uint64_t now = mono_ns();

	for (int i = 0; i < 2; i++) {
		struct ef_dns_fold *f = &dj->fold[i];

		if (f->count && (flush || now - f->last_emit_ns >= FOLD_NS))
			fold_emit(d, dj, f, i == 0 ? EF_R_DNS_LIMIT : EF_R_DNS_MALFORMED, now);
	}
}
