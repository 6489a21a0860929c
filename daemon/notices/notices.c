// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Live notices of a job's refusals: see notices.h. One line a notice, a JSON
 * object that egressctl (cli/notices.c) turns into words; every value in it
 * may come from the job (executable names, DNS names), and cJSON escapes
 * them, so a job cannot add lines or keys of its own.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "egressd.h"
#include "access/access.h"
#include "spans/spans.h"
#include "registry/registry.h"
#include "lib/names.h"
#include "loader/loader.h"
#include "notices.h"
#include "lib/util.h"

struct ef_watch {
	struct ef_watch *next;
	struct ef_client *c;
	pid_t pid;     /* the watcher (egressctl run's parent), guarded from the jobs */
	uint64_t cgid; /* the job's cgroup; 0 once it has ended */
	char job_id[EF_JOB_ID_MAX + 1];
	bool fail_on_deny; /* a policy version of the job said "fail_on_deny" */
	uint64_t seen[2 * EF_NOTICE_SEEN]; /* open addressing; 0: empty */
	uint32_t n_seen;
	uint64_t denied, would_deny, flags, shown, unshown, dropped;
	uint64_t rb_drops0; /* records the ring buffer had lost (all jobs) when the watch began */
	uint64_t rb_drops;  /* ... lost since, up to the job's end or the last summary */
};

static uint64_t fnv(const void *p, size_t n, uint64_t h)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ull;
	return h;
}

/* true the first time key is seen by w; false after, and when full */
static bool first_time(struct ef_watch *w, uint64_t key)
{
	size_t n = sizeof(w->seen) / sizeof(w->seen[0]), i;

	key = key ? key : 1;
	for (i = key % n; w->seen[i]; i = (i + 1) % n)
		if (w->seen[i] == key)
			return false;
	if (w->n_seen >= EF_NOTICE_SEEN) {
		w->unshown++;
		return false;
	}
	w->seen[i] = key;
	w->n_seen++;
	return true;
}

static void count(struct ef_watch *w, int verdict)
{
	if (verdict == EF_V_WOULD_DENY)
		w->would_deny++;
	else
		w->denied++;
}

static void send_obj(struct ef_daemon *d, struct ef_watch *w, const char *key, cJSON *o)
{
	cJSON *top = cJSON_CreateObject();
	char *s;

	if (!top || !cJSON_AddItemToObject(top, key, o)) {
		cJSON_Delete(top);
		cJSON_Delete(o);
		w->dropped++;
		return;
	}
	s = cJSON_PrintUnformatted(top);
	cJSON_Delete(top);
	if (s && d->up->control_push(d, w->c, s))
		w->shown++;
	else
		w->dropped++;
	free(s);
}

static cJSON *notice_new(struct ef_watch *w, const char *kind, int verdict, int reason,
			 const struct ef_policy *pol, uint64_t time_ns)
{
	cJSON *o = cJSON_CreateObject();

	if (!o)
		return NULL;
	cJSON_AddNumberToObject(o, "time_ns", (double)time_ns);
	cJSON_AddStringToObject(o, "job_id", w->job_id);
	cJSON_AddStringToObject(o, "kind", kind);
	cJSON_AddStringToObject(o, "decision", ef_verdict_name(verdict));
	if (reason >= 0)
		cJSON_AddStringToObject(o, "reason", ef_reason_name(reason));
	if (pol) {
		cJSON_AddStringToObject(o, "policy", pol->name);
		cJSON_AddStringToObject(o, "mode", ef_mode_name(pol->mode));
	}
	return o;
}

/* The key of a refusal: the process (pid and start time, pids are reused),
 * what it aimed at, and why. */
static uint64_t decision_key(const struct ef_event *e)
{
	uint64_t h = 0xcbf29ce484222325ull;
	uint8_t what[4] = { e->kind, e->reason, e->family, e->sock_type };

	h = fnv(&e->pid, sizeof(e->pid), h);
	h = fnv(&e->start_boot_ns, sizeof(e->start_boot_ns), h);
	h = fnv(what, sizeof(what), h);
	h = fnv(&e->protocol, sizeof(e->protocol), h);
	if (e->kind != EF_K_SOCKET && e->kind != EF_K_TAMPER) {
		h = fnv(&e->port, sizeof(e->port), h);
		h = fnv(e->addr, sizeof(e->addr), h);
	}
	return h;
}

static void add_process(cJSON *o, const struct ef_event *e)
{
	char exe[EF_EXE_LEN + 1], comm[EF_COMM_LEN + 1];
	cJSON *p = cJSON_AddObjectToObject(o, "process");

	if (!p)
		return;
	memcpy(exe, e->exe, EF_EXE_LEN);
	exe[EF_EXE_LEN] = '\0';
	memcpy(comm, e->comm, EF_COMM_LEN);
	comm[EF_COMM_LEN] = '\0';
	if (e->pid)
		cJSON_AddNumberToObject(p, "pid", e->pid);
	/* the job names its executables: JSON strings are UTF-8, so a name that
	 * is not has its bytes past ASCII as '?' (the journal's U+FFFD aside) */
	for (char *n = exe[0] ? exe : comm; !ef_utf8_valid(n) && *n; n++)
		if ((unsigned char)*n >= 0x80)
			*n = '?';
	cJSON_AddStringToObject(p, "executable", exe[0] ? exe : comm[0] ? comm : "?");
}

static cJSON *decision_notice(struct ef_daemon *d, struct ef_watch *w, struct ef_job_rec *j,
			      const struct ef_event *e)
{
	struct ef_pol_rec *pr = j->pol->id == e->policy_id ? j->pol : ef_pol_by_id(d, e->policy_id);
	const struct ef_policy *pol = pr ? pr->pol : NULL;
	const struct ef_rule *r = pol ? ef_policy_rule_by_id(pol, e->rule_id) : NULL;
	const char *name = NULL;
	char addr[INET6_ADDRSTRLEN] = "", why[256];
	/* the kind, as the span is named without "egress." */
	const char *kind = ef_span_name_of(e->kind) + sizeof("egress.") - 1;
	cJSON *o = notice_new(w, kind, e->verdict, e->reason, pol, e->ts_boot_ns + d->boot_to_real_ns);

	if (!o)
		return NULL;
	if (r)
		cJSON_AddStringToObject(o, "rule", r->text);
	if (e->kind == EF_K_SOCKET) {
		cJSON *s = cJSON_AddObjectToObject(o, "socket");
		const char *fam = ef_family_name(e->family);

		if (s && e->reason != EF_R_IO_URING) {
			if (fam)
				cJSON_AddStringToObject(s, "family", fam);
			else
				cJSON_AddNumberToObject(s, "family", e->family);
			cJSON_AddStringToObject(s, "type", ef_socktype_name(e->sock_type));
			cJSON_AddNumberToObject(s, "protocol", e->protocol);
		}
	} else if (e->kind != EF_K_TAMPER) {
		cJSON *dst = cJSON_AddObjectToObject(o, "destination");

		ef_addr_str(e->family, e->addr, addr, sizeof(addr));
		name = ef_name_get(d, e->name_id);
		if (dst && e->family) { /* 0: an address the fence could not read */
			if (name)
				cJSON_AddStringToObject(dst, "name", name);
			cJSON_AddStringToObject(dst, "address", addr);
			cJSON_AddNumberToObject(dst, "port", e->port);
		}
		if (dst)
			cJSON_AddStringToObject(dst, "transport", ef_transport_name(e->protocol));
	}
	if (e->kind == EF_K_TAMPER)
		snprintf(why, sizeof(why), "an attempt on the fence itself (%s)",
			 ef_reason_name(e->reason));
	else
		ef_event_why(e, name ? name : addr, r ? r->text : NULL, why, sizeof(why));
	cJSON_AddStringToObject(o, "why", why);
	if (e->kind != EF_K_PACKET || e->pid)
		add_process(o, e);
	return o;
}

void ef_notice_decision(struct ef_daemon *d, struct ef_job_rec *j, const struct ef_event *e)
{
	uint64_t key = 0;
	bool keyed = false;

	for (struct ef_watch *w = d->watches; w; w = w->next) {
		cJSON *o;

		if (w->cgid != j->cgroup_id)
			continue;
		count(w, e->verdict);
		if (!keyed) {
			key = decision_key(e);
			keyed = true;
		}
		if (!first_time(w, key))
			continue;
		o = decision_notice(d, w, j, e);
		if (o)
			send_obj(d, w, "notice", o);
		else
			w->dropped++;
	}
}

void ef_notice_dns(struct ef_daemon *d, struct ef_job_rec *j, const char *name, int qtype,
		   int verdict, int reason, const char *rule, const char *why)
{
	uint64_t key = fnv(name ? name : "", name ? strlen(name) : 0, 0xcbf29ce484222325ull);
	uint8_t r = (uint8_t)reason;
	char tbuf[24];

	key = fnv(&r, 1, key ^ 0x646e73); /* "dns": apart from decisions */
	for (struct ef_watch *w = d->watches; w; w = w->next) {
		cJSON *o, *q;

		if (w->cgid != j->cgroup_id)
			continue;
		count(w, verdict);
		if (!first_time(w, key))
			continue;
		o = notice_new(w, "dns", verdict, reason, j->pol->pol, ef_now_realtime_ns());
		q = o ? cJSON_AddObjectToObject(o, "query") : NULL;
		if (!q) {
			cJSON_Delete(o);
			w->dropped++;
			continue;
		}
		if (name)
			cJSON_AddStringToObject(q, "name", name);
		if (qtype >= 0)
			cJSON_AddStringToObject(q, "type", ef_dns_type_name(qtype, tbuf, sizeof(tbuf)));
		if (rule)
			cJSON_AddStringToObject(o, "rule", rule);
		cJSON_AddStringToObject(o, "why", why);
		send_obj(d, w, "notice", o);
	}
}

void ef_notice_flag(struct ef_daemon *d, struct ef_job_rec *j, const char *reason,
		    const char *what, const char *action)
{
	for (struct ef_watch *w = d->watches; w; w = w->next) {
		cJSON *o;

		if (w->cgid != j->cgroup_id)
			continue;
		w->flags++;
		o = notice_new(w, "flag", EF_V_DENY, -1, j->pol->pol, ef_now_realtime_ns());
		if (!o) {
			w->dropped++;
			continue;
		}
		cJSON_AddStringToObject(o, "reason", reason);
		cJSON_AddStringToObject(o, "why", what);
		cJSON_AddStringToObject(o, "action", action);
		send_obj(d, w, "notice", o);
	}
}

static cJSON *summary(const struct ef_watch *w)
{
	cJSON *o = cJSON_CreateObject();

	if (!o)
		return NULL;
	cJSON_AddStringToObject(o, "job_id", w->job_id);
	cJSON_AddBoolToObject(o, "ended", !w->cgid);
	cJSON_AddNumberToObject(o, "denied", (double)w->denied);
	cJSON_AddNumberToObject(o, "would_deny", (double)w->would_deny);
	cJSON_AddNumberToObject(o, "flags", (double)w->flags);
	cJSON_AddNumberToObject(o, "notices", (double)w->shown);
	cJSON_AddNumberToObject(o, "not_shown", (double)(w->unshown + w->dropped));
	cJSON_AddBoolToObject(o, "fail_on_deny", w->fail_on_deny);
	/* records lost while the job ran (counted for all jobs: the kernel
	 * cannot say whose): its counts may be short by as many */
	cJSON_AddNumberToObject(o, "records_lost", (double)w->rb_drops);
	return o;
}

void ef_notice_job_end(struct ef_daemon *d, struct ef_job_rec *j)
{
	for (struct ef_watch *w = d->watches; w; w = w->next) {
		cJSON *o;

		if (w->cgid != j->cgroup_id)
			continue;
		w->fail_on_deny |= j->pol->pol->fail_on_deny;
		w->rb_drops = ef_bpf_stat(d, EF_S_RB_DROPS) - w->rb_drops0;
		w->cgid = 0;
		o = summary(w);
		if (o)
			send_obj(d, w, "end", o);
	}
}

static struct ef_watch *watch_of(const struct ef_daemon *d, const struct ef_client *c)
{
	for (struct ef_watch *w = d->watches; w; w = w->next)
		if (w->c == c)
			return w;
	return NULL;
}

/* A watcher of a running job may be quiet for as long as the job runs;
 * once the job has ended it is a client like any other (control.c drops
 * it when idle): an ended job's watchers do not hold the socket forever. */
bool ef_notice_watching(const struct ef_daemon *d, const struct ef_client *c)
{
	const struct ef_watch *w = watch_of(d, c);

	return w && w->cgid;
}

int ef_notice_watch(struct ef_daemon *d, struct ef_client *c, const cJSON *req,
		    const struct ef_peer *peer, cJSON *reply, char *err, size_t errlen)
{
	const cJSON *jid = cJSON_GetObjectItem(req, "job_id");
	struct ef_job_rec *j;
	struct ef_watch *w;
	int n = 0;

	if (!cJSON_IsString(jid)) {
		snprintf(err, errlen, "malformed watch request: \"job_id\" must be a string");
		return -EINVAL;
	}
	j = ef_job_by_id(d, jid->valuestring);
	if (!j) {
		snprintf(err, errlen, "no running job \"%.80s\"", jid->valuestring);
		return -ENOENT;
	}
	/* what a job was refused names what it holds and tried: its owner's */
	if (!ef_access_admin(d, peer) && peer->uid != j->uid) {
		snprintf(err, errlen, "watch job %s: permission denied (only root, a policy admin "
			 "or the job's owner)", j->id);
		return -EPERM;
	}
	if (watch_of(d, c)) {
		snprintf(err, errlen, "this connection already watches a job");
		return -EBUSY;
	}
	for (w = d->watches; w; w = w->next)
		n += w->cgid == j->cgroup_id;
	if (n >= EF_NOTICE_PER_JOB) {
		snprintf(err, errlen, "job %s has %d watchers already", j->id, n);
		return -EBUSY;
	}
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->c = c;
	w->pid = peer->pid;
	w->cgid = j->cgroup_id;
	snprintf(w->job_id, sizeof(w->job_id), "%s", j->id);
	w->fail_on_deny = j->pol->pol->fail_on_deny;
	w->rb_drops0 = ef_bpf_stat(d, EF_S_RB_DROPS);
	/* a job must not stop, limit or trace what judges it: unguarded, no watch */
	if (ef_guard_pid_set(d, w->pid, true)) {
		free(w);
		snprintf(err, errlen, "watch job %s: out of memory", j->id);
		return -ENOMEM;
	}
	w->next = d->watches;
	d->watches = w;
	cJSON_AddStringToObject(reply, "job_id", j->id);
	cJSON_AddStringToObject(reply, "policy", j->pol->pol->name);
	cJSON_AddBoolToObject(reply, "fail_on_deny", w->fail_on_deny);
	return 0;
}

int ef_notice_summary(struct ef_daemon *d, struct ef_client *c, cJSON *reply, char *err,
		      size_t errlen)
{
	struct ef_watch *w = watch_of(d, c);
	struct ef_job_rec *j;
	cJSON *o;

	if (!w) {
		snprintf(err, errlen, "watch_summary: this connection watches no job");
		return -EINVAL;
	}
	/* every record the kernel has written so far, before the counts: what
	 * the command did before it exited is in them */
	if (w->cgid) {
		d->up->events_drain(d);
		j = ef_job_by_cgroup(d, w->cgid);
		if (j)
			w->fail_on_deny |= j->pol->pol->fail_on_deny;
		w->rb_drops = ef_bpf_stat(d, EF_S_RB_DROPS) - w->rb_drops0;
	}
	o = summary(w);
	if (!o)
		return -ENOMEM;
	cJSON_AddItemToObject(reply, "summary", o);
	return 0;
}

void ef_notice_unwatch(struct ef_daemon *d, struct ef_client *c)
{
	for (struct ef_watch **pp = &d->watches; *pp; pp = &(*pp)->next) {
		if ((*pp)->c == c) {
			struct ef_watch *w = *pp;

			*pp = w->next;
			ef_guard_pid_set(d, w->pid, false);
			free(w);
			return;
		}
	}
}
