// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * A job's spans: the batch they wait in for the journal and the exporter
 * (one journal line per drain, at most EF_SPAN_BATCH spans a line), the
 * trace context and attributes every span of a job carries, and what a
 * decision record is called and why it was refused, in words. Every part
 * that writes spans writes them through here.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "egressd.h"
#include "spans.h"
#include "lib/names.h"
#include "lib/procinfo.h"
#include "lib/util.h"
#include "export/otlp_pb.h"
#include "wire.h"

const char *ef_span_name_of(int kind)
{
	switch (kind) {
	case EF_K_CONNECT:
		return "egress.connect";
	case EF_K_SEND:
		return "egress.send";
	case EF_K_SOCKET:
		return "egress.socket";
	case EF_K_TAMPER:
		return "egress.tamper";
	case EF_K_PACKET:
		return "egress.packet";
	case EF_K_SOCKOPT:
		return "egress.sockopt";
	case EF_K_INBOUND:
		return "egress.inbound";
	}
	return "egress.unknown";
}

struct ef_span *ef_span_new(struct ef_daemon *d)
{
	if (d->n_spans == EF_SPAN_BATCH)
		ef_spans_flush(d);
	return &d->span_pool[d->n_spans++];
}

/* The journal's bound evicted files: one egress.journal span says how
 * many spans went and from when to when. Written right after the line whose
 * rotation evicted them, so that it is never lost while its cause stays. */
static void journal_evictions(struct ef_daemon *d)
{
	struct ef_journal *jr = &d->journal;
	struct ef_span *s;
	char msg[256];

	if (!jr->ev_files || d->n_spans)
		return;
	s = &d->span_pool[d->n_spans++];
	ef_span_init(s, "egress.journal", EF_KIND_INTERNAL);
	ef_random_bytes(s->trace_id, sizeof(s->trace_id));
	s->start_ns = s->end_ns = ef_now_realtime_ns();
	ef_span_int(s, "egress.journal.evicted.files", (int64_t)jr->ev_files);
	ef_span_int(s, "egress.journal.evicted.spans", (int64_t)jr->ev_spans);
	ef_span_int(s, "egress.journal.evicted.first_ns", (int64_t)jr->ev_first);
	ef_span_int(s, "egress.journal.evicted.last_ns", (int64_t)jr->ev_last);
	ef_span_int(s, "egress.journal.evicted.total", (int64_t)jr->evicted_spans);
	ef_span_int(s, "egress.journal.max_files", jr->max_files);
	ef_span_int(s, "egress.journal.max_file_bytes", (int64_t)jr->max_file_bytes);
	snprintf(msg, sizeof(msg), "journal full (%u files of %llu bytes): %llu spans evicted, "
		 "recorded from %llu to %llu (unix ns)", jr->max_files,
		 (unsigned long long)jr->max_file_bytes, (unsigned long long)jr->ev_spans,
		 (unsigned long long)jr->ev_first, (unsigned long long)jr->ev_last);
	s->status = EF_STATUS_ERROR;
	s->status_msg = ef_span_strdup(s, msg);
	jr->ev_files = jr->ev_spans = jr->ev_first = jr->ev_last = 0;
	ef_spans_flush(d);
}

void ef_spans_flush(struct ef_daemon *d)
{
	const struct ef_span *ptrs[EF_SPAN_BATCH];
	bool enc;

	if (!d->n_spans)
		return;
	for (size_t i = 0; i < d->n_spans; i++)
		ptrs[i] = &d->span_pool[i];
	ef_buf_reset(&d->out);
	ef_otlp_json_request(&d->out, &d->res, ptrs, d->n_spans);
	/* the exporter's protobuf, encoded now from the spans in hand rather
	 * than parsed back from the line later */
	enc = d->journal.queue_on;
	if (enc) {
		ef_buf_reset(&d->pb_out);
		for (size_t i = 0; i < d->n_spans && enc; i++)
			enc = !ef_pb_span_append(&d->pb_out, ptrs[i]);
	}
	if (d->out.oom)
		log_err("out of memory encoding %zu spans; they are lost", d->n_spans);
	else
		ef_journal_append(&d->journal, d->out.p, d->out.len, d->n_spans,
				  enc ? d->pb_out.p : NULL, d->pb_out.len);
	d->n_spans = 0;
	journal_evictions(d);
}

/* The job's --attr and CI attributes, on its span and its decisions. */
void ef_span_job_attrs(struct ef_span *s, const struct ef_job_rec *j)
{
	const cJSON *a;

	cJSON_ArrayForEach(a, j->attrs)
		if (cJSON_IsString(a))
			ef_span_str(s, a->string, a->valuestring);
}

/* Trace context and the job id, common to every span of a job. The job's
 * attributes go on last (ef_span_job_attrs), after the span's own: long
 * --attr values may run out of room, never the decision's own fields. */
void ef_span_job_context(struct ef_daemon *d, struct ef_span *s, const struct ef_job_rec *j)
{
	memcpy(s->trace_id, j->trace_id, sizeof(s->trace_id));
	memcpy(s->parent_id, j->span_id, sizeof(s->parent_id));
	s->has_parent = true;
	ef_span_trace_state(s, j->trace_state);
	ef_span_str(s, "egress.job.id", j->id);
}

/*
 * The policy and rule a decision was taken by, in egress-fence's names and
 * in OpenTelemetry's security_rule.* (a backend's security views key on
 * those): the rule's text is its name, the policy its ruleset, and the
 * version the FNV-1a hash of the policy's text, the same on every runner
 * for the same text. pol NULL: a record whose policy version is gone.
 */
void ef_span_rule(struct ef_span *s, const struct ef_pol_rec *pol, const char *rule)
{
	char v[17];

	if (rule) {
		ef_span_str(s, "egress.rule", rule);
		ef_span_str(s, "security_rule.name", rule);
	}
	if (!pol)
		return;
	ef_span_str(s, "egress.policy.name", pol->pol->name);
	ef_span_str(s, "egress.mode", ef_mode_name(pol->pol->mode));
	ef_span_str(s, "security_rule.ruleset.name", pol->pol->name);
	snprintf(v, sizeof(v), "%016llx", (unsigned long long)pol->hash);
	ef_span_str(s, "security_rule.version", v);
}

/* Why a decision was a refusal, in words: its span's status message and
 * the job's notice (notices/notices.c). addr: the destination's name or address. */
void ef_event_why(const struct ef_event *e, const char *addr, const char *rule, char *msg,
		  size_t len)
{
	if (ef_wire_status_msg(e, addr, msg, len))
		return;
	switch (e->reason) {
	case EF_R_DENY_RULE:
		snprintf(msg, len, "denied by rule %s", rule ? rule : "?");
		break;
	case EF_R_METADATA:
		snprintf(msg, len, "cloud metadata address %s is not named by any rule",
			 addr);
		break;
	case EF_R_RAW_SOCKET:
		snprintf(msg, len, "raw and packet sockets are refused");
		break;
	case EF_R_FAMILY:
		snprintf(msg, len, "address family %u is refused", e->family);
		break;
	case EF_R_PROTOCOL:
		snprintf(msg, len, "protocol %u is refused", e->protocol);
		break;
	case EF_R_NO_JOB:
		snprintf(msg, len, "socket used outside a live job");
		break;
	case EF_R_DNS_PROXY:
		snprintf(msg, len, "port %u is another job's DNS proxy", e->port);
		break;
	case EF_R_DNS_EXPIRED:
		snprintf(msg, len, "the DNS answer that allowed %s has expired", addr);
		break;
	case EF_R_IO_URING:
		snprintf(msg, len, "io_uring_setup is refused: its requests would make "
			 "and use sockets past the fence's socket hook");
		break;
	case EF_R_LOOPBACK:
		snprintf(msg, len,
			 "%s port %u/%s is a local listener outside the job that no rule names",
			 addr, e->port, ef_transport_name(e->protocol));
		break;
	case EF_R_UDP_CORKED:
		if (e->family)
			snprintf(msg, len,
				 "no rule allows %s port %u/%s; the kernel ignored the address and "
				 "appended the data to the socket's corked datagram",
				 addr, e->port, ef_transport_name(e->protocol));
		else
			snprintf(msg, len, "an address the fence could not read; the kernel ignored "
				 "it and appended the data to the socket's corked datagram");
		break;
	default:
		if (e->kind == EF_K_INBOUND) {
			snprintf(msg, len, "no inbound rule allows %s to connect to port %u",
				 addr, e->port2);
			break;
		}
		snprintf(msg, len, "no rule allows %s port %u/%s", addr, e->port,
			 ef_transport_name(e->protocol));
	}
}

void ef_span_process(struct ef_daemon *d, struct ef_span *s, uint32_t pid, uint32_t ppid,
		     uint32_t uid, uint32_t tid, uint64_t start_boot_ns,
		     const char rec_exe[EF_EXE_LEN], const char rec_comm[EF_COMM_LEN])
{
	char exe[EF_EXE_LEN + 1], comm[EF_COMM_LEN + 1];
	const char *path;

	memcpy(exe, rec_exe, EF_EXE_LEN);
	exe[EF_EXE_LEN] = '\0';
	memcpy(comm, rec_comm, EF_COMM_LEN);
	comm[EF_COMM_LEN] = '\0';
	ef_span_int(s, "process.pid", pid);
	ef_span_int(s, "process.parent_pid", ppid);
	ef_span_int(s, "process.user.id", uid);
	ef_span_int(s, "thread.id", tid);
	ef_span_str(s, "process.executable.name", exe[0] ? exe : comm);
	path = ef_proc_exe(d->procs, pid, start_boot_ns, exe);
	if (path)
		ef_span_str(s, "process.executable.path", path);
}
