// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The ring-buffer consumer: each ef_event becomes one span, batched into
 * one journal line per drain (at most EF_SPAN_BATCH spans a line). This is
 * a hot path: no allocation per record, no JSON tree, one write per batch.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "egressd.h"
#include "spans/spans.h"
#include "registry/registry.h"
#include "lib/names.h"
#include "lib/procinfo.h"
#include "loader/loader.h"
#include "decisions.h"
#include "dns/dns.h"
#include "policies/policies.h"
#include "probe/probe.h"
#include "tamper/tamper.h"
#include "docker/docker.h"
#include "fold.h"
#include "notices/notices.h"
#include "export/otlp_pb.h"
#include "lib/util.h"
#include "fence.skel.h"

static void status_msg(struct ef_span *s, const struct ef_event *e, const char *addr,
		       const char *rule)
{
	char msg[256];

	ef_event_why(e, addr, rule, msg, sizeof(msg));
	s->status = EF_STATUS_ERROR;
	s->status_msg = ef_span_strdup(s, msg);
}

static void fold_attrs(struct ef_daemon *d, struct ef_span *s, const struct ef_fold_sum *fs)
{
	const char *sample[EF_FOLD_DESTS];
	char text[EF_FOLD_DESTS][INET6_ADDRSTRLEN + 16];

	s->start_ns = fs->first_ns + d->boot_to_real_ns;
	s->end_ns = fs->last_ns + d->boot_to_real_ns;
	ef_span_int(s, "egress.count", fs->count);
	ef_span_str(s, "egress.fold", fs->by_job ? "job" : "repeat");
	if (!fs->by_job)
		return;
	for (int i = 0; i < fs->n_sample; i++) {
		char a[INET6_ADDRSTRLEN] = "";

		if (!fs->sample[i].family) /* an address the fence could not read */
			snprintf(text[i], sizeof(text[i]), "unread/%s",
				 ef_transport_name(fs->sample[i].protocol));
		else
			snprintf(text[i], sizeof(text[i]),
				 fs->sample[i].family == EF_FAM_V6 ? "[%s]:%u/%s" : "%s:%u/%s",
				 ef_addr_str(fs->sample[i].family, fs->sample[i].addr, a, sizeof(a)),
				 fs->sample[i].port, ef_transport_name(fs->sample[i].protocol));
		sample[i] = text[i];
	}
	ef_span_int(s, "egress.fold.destinations", fs->n_dests);
	if (fs->e.kind == EF_FOLD_K_DNS)
		return; /* the proxy sees no process; names: dns_fold_span */
	ef_span_int(s, "egress.fold.processes", fs->n_pids);
	if (fs->n_sample && fs->e.kind != EF_K_SOCKET && fs->e.kind != EF_K_TAMPER)
		ef_span_strs(s, "egress.fold.sample", sample, fs->n_sample);
}

/* One decision record (or fold of them, fs) to its span (detail: egressd's
 * own tamper records) */
static void write_span(struct ef_daemon *d, const struct ef_event *e, struct ef_job_rec *j,
		       const char *detail, const struct ef_fold_sum *fs)
{
	const char *rule = NULL, *name = NULL;
	struct ef_pol_rec *pol;
	struct ef_span *s;
	char addr[INET6_ADDRSTRLEN] = "";
	bool by_job = fs && fs->by_job;

	/* the job's own policy version, unless the record predates a switch */
	pol = j && j->pol->id == e->policy_id ? j->pol : ef_pol_by_id(d, e->policy_id);
	if (pol && ef_policy_rule_by_id(pol->pol, e->rule_id))
		rule = ef_policy_rule_by_id(pol->pol, e->rule_id)->text;

	s = ef_span_new(d);
	ef_span_init(s, ef_span_name_of(e->kind),
		     e->kind == EF_K_SOCKET || e->kind == EF_K_TAMPER || e->kind == EF_K_SOCKOPT
			     ? EF_KIND_INTERNAL
		     : e->kind == EF_K_INBOUND ? EF_KIND_SERVER
					       : EF_KIND_CLIENT);
	if (j)
		ef_span_job_context(d, s, j);
	else
		ef_random_bytes(s->trace_id, sizeof(s->trace_id));
	s->start_ns = s->end_ns = e->ts_boot_ns + d->boot_to_real_ns;
	ef_span_str(s, "egress.decision", ef_verdict_name(e->verdict));
	ef_span_str(s, "egress.reason", ef_reason_name(e->reason));
	if (fs)
		fold_attrs(d, s, fs);
	ef_span_rule(s, pol, rule);
	if (e->kind == EF_K_SOCKET) {
		const char *fam = ef_family_name(e->family);

		if (by_job || e->reason == EF_R_IO_URING)
			;
		else if (fam)
			ef_span_str(s, "egress.socket.family", fam);
		else
			ef_span_int(s, "egress.socket.family", e->family);
		if (!by_job && e->reason != EF_R_IO_URING) {
			ef_span_str(s, "egress.socket.type", ef_socktype_name(e->sock_type));
			ef_span_int(s, "egress.socket.protocol", e->protocol);
		}
	} else if (e->kind == EF_K_TAMPER) {
		ef_tamper_span(d, s, e, detail);
		if (fs) /* it counted one */
			d->tamper_refused += fs->count - 1;
	} else if (e->kind == EF_K_SOCKOPT) {
		ef_sockopt_span(s, e);
	} else if (e->kind == EF_K_INBOUND) {
		char local[INET6_ADDRSTRLEN] = "";

		/* a SYN from outside: the peer is the client, the job the server */
		ef_addr_str(e->family, e->addr, addr, sizeof(addr));
		ef_span_str(s, "network.transport", ef_transport_name(e->protocol));
		ef_span_str(s, "network.type", e->family == EF_FAM_V4 ? "ipv4" : "ipv6");
		ef_span_str(s, "network.peer.address", addr);
		ef_span_int(s, "network.peer.port", e->port);
		ef_span_str(s, "client.address", addr);
		ef_span_int(s, "client.port", e->port);
		if (e->family2) {
			ef_addr_str(e->family2, e->addr2, local, sizeof(local));
			ef_span_str(s, "network.local.address", local);
			ef_span_str(s, "server.address", local);
		}
		ef_span_int(s, "network.local.port", e->port2);
		ef_span_int(s, "server.port", e->port2);
	} else if (!by_job && !e->family) {
		/* an address the program named where the fence could not read
		 * it (EF_R_UDP_CORKED): no peer to name */
		ef_span_str(s, "network.transport", ef_transport_name(e->protocol));
	} else if (!by_job) {
		ef_addr_str(e->family, e->addr, addr, sizeof(addr));
		ef_span_str(s, "network.transport", ef_transport_name(e->protocol));
		ef_span_str(s, "network.type", e->family == EF_FAM_V4 ? "ipv4" : "ipv6");
		ef_span_str(s, "network.peer.address", addr);
		ef_span_int(s, "network.peer.port", e->port);
		name = ef_name_get(d, e->name_id);
		ef_span_str(s, "server.address", name ? name : addr);
		ef_span_int(s, "server.port", e->port);
		if (e->kind == EF_K_PACKET)
			ef_wire_span(s, e);
	}
	if (e->kind == EF_K_PACKET && !e->pid) {
		/* sent from softirq or a timer: no process is known */
		ef_span_str(s, "egress.wire.process", "unknown");
		ef_span_int(s, "process.user.id", e->uid);
		goto process_done;
	}
	/* an inbound record is written in softirq context: no process asked */
	if (e->kind == EF_K_INBOUND)
		goto process_done;
	/* the process's own span, if it was started with one (proc_ctx.c); a
	 * fold of the job's many processes stays under the job */
	if (j && !by_job)
		ef_span_proc_context(d, s, j, e->pid, e->start_boot_ns);
	ef_span_process(d, s, e->pid, e->ppid, e->uid, e->tid, e->start_boot_ns, e->exe, e->comm);
	ef_docker_span(d, s, j, e->pid, e->start_boot_ns);
process_done:
	if (by_job && e->verdict == EF_V_DENY) {
		char msg[160];

		snprintf(msg, sizeof(msg), "%u refusals (%s) of %u destination%s folded: the job "
			 "went over %d spans, then %d a second", fs->count, ef_reason_name(e->reason),
			 fs->n_dests, fs->n_dests == 1 ? "" : "s", EF_FOLD_JOB_BURST, EF_FOLD_JOB_RATE);
		s->status = EF_STATUS_ERROR;
		s->status_msg = ef_span_strdup(s, msg);
	} else if (e->verdict == EF_V_DENY && e->kind != EF_K_TAMPER) {
		status_msg(s, e, name ? name : addr, rule);
	}
	if (j)
		ef_span_job_attrs(s, j);
}

/* A fold of a job's DNS queries (ef_events_dns_fold): one egress.dns span,
 * without the answers (the first of them has its own span with them). */
static void dns_fold_span(struct ef_daemon *d, const struct ef_fold_sum *fs,
			  struct ef_job_rec *j)
{
	const struct ef_event *e = &fs->e;
	struct ef_pol_rec *pol = ef_pol_by_id(d, e->policy_id);
	struct ef_span *s = ef_span_new(d);
	const char *names[EF_FOLD_DESTS];
	char tbuf[24], msg[200];
	int n = 0;

	ef_span_init(s, "egress.dns", EF_KIND_SERVER);
	if (j)
		ef_span_job_context(d, s, j);
	else
		ef_random_bytes(s->trace_id, sizeof(s->trace_id));
	ef_span_str(s, "egress.decision", ef_verdict_name(e->verdict));
	ef_span_str(s, "egress.reason", ef_reason_name(e->reason));
	fold_attrs(d, s, fs);
	ef_span_rule(s, pol, pol && e->rule_id < pol->pol->n_rules
				     ? pol->pol->rules[e->rule_id].text : NULL);
	if (!fs->by_job) {
		ef_span_str(s, "dns.question.name", fs->name);
		ef_span_str(s, "egress.dns.type", ef_dns_type_name(e->port, tbuf, sizeof(tbuf)));
		ef_span_str(s, "egress.dns.rcode",
			    ef_dns_rcode_name(e->protocol, tbuf, sizeof(tbuf)));
		ef_span_str(s, "egress.dns.transport", e->sock_type & 1 ? "tcp" : "udp");
		if (e->sock_type & 2)
			ef_span_bool(s, "egress.dns.cached", true);
	} else {
		for (int i = 0; i < fs->n_sample; i++) {
			uint64_t id;
			const char *nm;

			memcpy(&id, fs->sample[i].addr, sizeof(id));
			nm = ef_name_get(d, id);
			names[n++] = nm ? nm : "?";
		}
		ef_span_strs(s, "egress.fold.sample", names, n);
	}
	if (e->verdict == EF_V_DENY) {
		s->status = EF_STATUS_ERROR;
		snprintf(msg, sizeof(msg), "%u DNS queries%s%s folded (%s)", fs->count,
			 fs->by_job ? "" : " for ", fs->by_job ? "" : fs->name,
			 ef_reason_name(e->reason));
		s->status_msg = ef_span_strdup(s, msg);
	}
	if (j)
		ef_span_job_attrs(s, j);
}

/* A fold ended (fold.c): its one span. */
static void on_fold(void *ctx, const struct ef_fold_sum *fs)
{
	struct ef_daemon *d = ctx;
	struct ef_job_rec *j = ef_job_by_cgroup(d, fs->e.cgroup_id);

	if (fs->e.kind == EF_FOLD_K_DNS)
		dns_fold_span(d, fs, j);
	else
		write_span(d, &fs->e, j, NULL, fs);
}

/* A job's DNS query, decided and answered (its record: ef_dns_fold_event):
 * true if it folded into a span to come (the caller writes no span), as
 * decisions do (fold.h). */
bool ef_events_dns_fold(struct ef_daemon *d, const struct ef_event *e, const char *name)
{
	if (!d->fold)
		return false;
	return ef_fold_add_named(d->fold, e, name);
}

/* One decision record: counted, judged for probes, and written as a span
 * unless it folds into one (fold.c); egressd's own records never fold. */
static void record(struct ef_daemon *d, const struct ef_event *e, const char *detail)
{
	struct ef_job_rec *j;

	d->events++;
	j = ef_job_by_cgroup(d, e->cgroup_id);
	/* egressctl run's canary, from the process that started the job: part
	 * of the job's start (egress.canary on its span), not one of its
	 * decisions; never a probe. A later one is the job's own doing: a
	 * decision, recorded, still never a probe. */
	if (j && e->reason == EF_R_CANARY && e->kind == EF_K_CONNECT && !j->canary &&
	    e->pid == (uint32_t)j->pid && e->verdict == EF_V_DENY) {
		j->canary = true;
		d->up->job_save(d, j);
		return;
	}
	if (j) {
		j->n_decisions++;
		if (e->verdict != EF_V_ALLOW)
			j->n_denied++;
	}
	if (detail || !d->fold || !ef_fold_add(d->fold, e))
		write_span(d, e, j, detail, NULL);
	/* a refusal, for whoever watches the job (egressctl run): allowed
	 * traffic does not come here */
	if (j && d->watches && e->verdict != EF_V_ALLOW && e->kind != EF_K_INBOUND)
		ef_notice_decision(d, j, e);
	/* the span is complete: probe detection may add its own after it.
	 * Inbound denials are what others try on the job, not its probing. */
	if (j && e->verdict != EF_V_ALLOW && e->kind != EF_K_INBOUND && e->reason != EF_R_CANARY)
		ef_probe_event(d, j, e);
}

static int on_event(void *ctx, void *data, size_t size)
{
	struct ef_daemon *d = ctx;

	if (size < sizeof(struct ef_event)) {
		log_warn("short ring-buffer record (%zu bytes); ABI mismatch?", size);
		return 0;
	}
	if (((const struct ef_event *)data)->kind == EF_K_NETNS) {
		ef_dns_netns_seen(d, data); /* not a decision */
		return 0;
	}
	if (((const struct ef_event *)data)->kind == EF_K_PROC) {
		ef_pctx_record(d, data, size); /* not a decision */
		return 0;
	}
	record(d, data, NULL);
	return 0;
}

void ef_event_record(struct ef_daemon *d, const struct ef_event *e, const char *detail)
{
	d->boot_to_real_ns = (int64_t)(ef_now_realtime_ns() - ef_now_boot_ns());
	record(d, e, detail);
	ef_spans_flush(d);
}

int ef_events_setup(struct ef_daemon *d)
{
	d->span_pool = calloc(EF_SPAN_BATCH, sizeof(*d->span_pool));
	if (!d->span_pool)
		return -ENOMEM;
	d->fold = ef_fold_new(EF_FOLD_WINDOW_NS, EF_FOLD_JOB_BURST, EF_FOLD_JOB_RATE, EF_FOLD_CAP,
			      on_fold, d);
	if (!d->fold)
		return -ENOMEM;
	d->rb = ring_buffer__new(bpf_map__fd(d->skel->maps.ef_events), on_event, d, NULL);
	if (!d->rb)
		return -errno;
	return 0;
}

/* The records in the ring now, no more: what the DNS proxy reads first, so
 * that a query's asker is known as its records say (its exec: trace
 * context). Their spans go out with the next flush. */
void ef_events_consume(struct ef_daemon *d)
{
	int n;

	d->boot_to_real_ns = (int64_t)(ef_now_realtime_ns() - ef_now_boot_ns());
	n = ring_buffer__consume(d->rb);
	if (n < 0)
		log_warn("ring buffer: %s", strerror(-n));
}

void ef_events_drain(struct ef_daemon *d)
{
	int n;

	d->boot_to_real_ns = (int64_t)(ef_now_realtime_ns() - ef_now_boot_ns());
	n = ring_buffer__consume(d->rb);
	if (n < 0)
		log_warn("ring buffer: %s", strerror(-n));
	ef_fold_expire(d->fold, ef_now_boot_ns());
	ef_spans_flush(d);
}

/* Every fold of one job (job != NULL: it is ending) or of all (stopping)
 * is written now: a job's span comes after every record of its decisions. */
void ef_events_fold_flush(struct ef_daemon *d, const struct ef_job_rec *j)
{
	if (!d->fold)
		return;
	d->boot_to_real_ns = (int64_t)(ef_now_realtime_ns() - ef_now_boot_ns());
	ef_fold_flush(d->fold, j ? j->cgroup_id : 0, !j);
	ef_spans_flush(d);
}

void ef_events_fold_status(struct ef_daemon *d, cJSON *o)
{
	cJSON *f = d->fold ? cJSON_AddObjectToObject(o, "fold") : NULL;

	if (!f)
		return;
	cJSON_AddNumberToObject(f, "folded", (double)ef_fold_folded(d->fold));
	cJSON_AddNumberToObject(f, "spans", (double)ef_fold_spans(d->fold));
	cJSON_AddNumberToObject(f, "open", ef_fold_open(d->fold));
	cJSON_AddNumberToObject(f, "window_ms", EF_FOLD_WINDOW_NS / 1000000);
	cJSON_AddNumberToObject(f, "job_burst", EF_FOLD_JOB_BURST);
	cJSON_AddNumberToObject(f, "job_rate", EF_FOLD_JOB_RATE);
}

void ef_events_close(struct ef_daemon *d)
{
	ef_events_fold_flush(d, NULL);
	ef_fold_free(d->fold);
	d->fold = NULL;
	ring_buffer__free(d->rb);
	d->rb = NULL;
	free(d->span_pool);
	d->span_pool = NULL;
	ef_buf_free(&d->out);
	ef_buf_free(&d->pb_out);
}

/* Records lost to a full ring are reported, never silent: a root span and a
 * log line whenever the per-CPU drop counters grew. What was reported
 * survives restarts in <state-dir>/rb-drops-reported. */
void ef_events_check_drops(struct ef_daemon *d)
{
	uint64_t cur = ef_bpf_stat(d, EF_S_RB_DROPS);
	char path[EF_PATH_MAX + 32], num[32];
	struct ef_span *s;

	if (cur <= d->rb_drops_reported)
		return;
	log_warn("ring buffer full: %llu decision records lost (%llu in all)",
		 (unsigned long long)(cur - d->rb_drops_reported), (unsigned long long)cur);
	s = ef_span_new(d);
	ef_span_init(s, "egress.drops", EF_KIND_INTERNAL);
	ef_random_bytes(s->trace_id, sizeof(s->trace_id));
	s->start_ns = s->end_ns = ef_now_realtime_ns();
	ef_span_int(s, "egress.dropped.records", (int64_t)(cur - d->rb_drops_reported));
	ef_span_int(s, "egress.dropped.total", (int64_t)cur);
	s->status = EF_STATUS_ERROR;
	s->status_msg = "decision records lost: ring buffer full";
	ef_spans_flush(d);
	d->rb_drops_reported = cur;
	snprintf(path, sizeof(path), "%s/rb-drops-reported", d->state_dir);
	snprintf(num, sizeof(num), "%llu\n", (unsigned long long)cur);
	ef_write_file_atomic(path, num, strlen(num), 0640);
}
