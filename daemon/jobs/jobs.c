// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Jobs. A job is a cgroup <cgroup-root>/job-<id> with an ef_jobs entry
 * naming its policy version. Setup order, so that the job's process is
 * never in the fence's cgroups without a policy (fail closed otherwise):
 *   policy in the maps -> cgroup created -> ef_jobs entry -> process moved.
 * The job ends when its cgroup has no process left (cgroup.events
 * "populated 0", watched with inotify and rechecked on the timer); its
 * egress.job span is written after every record of its decisions.
 * Each live job is kept in <state-dir>/jobs/<id>.json for adoption. The
 * start itself (egressctl run's request) is in job_start.c; the cgroups no
 * adopted job owns, found at start, in job_sweep.c.
 */
#include <errno.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "egressd.h"
#include "spans/spans.h"
#include "registry/registry.h"
#include "lib/names.h"
#include "decisions/decisions.h"
#include "dns/dns.h"
#include "jobs.h"
#include "policies/policies.h"
#include "probe/probe.h"
#include "tamper/tamper.h"
#include "notices/notices.h"
#include "docker/docker.h"
#include "lib/cgroup.h"
#include "lib/util.h"
#include "fence.skel.h"
#include "jobs_int.h"
#include "overlay.h"

bool ef_job_id_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > EF_JOB_ID_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');

		if (!alnum && (i == 0 || (c != '.' && c != '_' && c != '-')))
			return false;
	}
	return true;
}

void ef_job_free(struct ef_job_rec *j)
{
	if (!j)
		return;
	ef_probe_job_free(j);
	free(j->cgroup);
	free(j->command);
	free(j->command_line);
	free(j->overlay);
	cJSON_Delete(j->write_through);
	cJSON_Delete(j->attrs);
	free(j->workdir);
	free(j->trace_state);
	ef_docker_job_free(j);
	free(j);
}

void ef_job_state_path(struct ef_daemon *d, const char *id, char *out, size_t len)
{
	snprintf(out, len, "%s/jobs/%s.json", d->state_dir, id);
}

int ef_job_save(struct ef_daemon *d, const struct ef_job_rec *j)
{
	char path[EF_PATH_MAX + 128], hex[33], *s;
	cJSON *o = cJSON_CreateObject();
	int ret;

	if (!o)
		return -ENOMEM;
	cJSON_AddStringToObject(o, "id", j->id);
	cJSON_AddNumberToObject(o, "serial", (double)j->serial);
	snprintf(hex, sizeof(hex), "%llx", (unsigned long long)j->cgroup_id);
	cJSON_AddStringToObject(o, "cgroup_id", hex);
	cJSON_AddStringToObject(o, "cgroup", j->cgroup);
	cJSON_AddNumberToObject(o, "policy_id", j->pol->id);
	ef_hex(j->trace_id, 16, hex);
	cJSON_AddStringToObject(o, "trace_id", hex);
	ef_hex(j->span_id, 8, hex);
	cJSON_AddStringToObject(o, "span_id", hex);
	if (j->has_parent) {
		ef_hex(j->parent_id, 8, hex);
		cJSON_AddStringToObject(o, "parent_id", hex);
	}
	if (j->trace_state)
		cJSON_AddStringToObject(o, "trace_state", j->trace_state);
	snprintf(hex, sizeof(hex), "%llu", (unsigned long long)j->start_ns);
	cJSON_AddStringToObject(o, "start_ns", hex);
	cJSON_AddNumberToObject(o, "uid", j->uid);
	cJSON_AddNumberToObject(o, "pid", j->pid);
	cJSON_AddStringToObject(o, "command", j->command ? j->command : "");
	if (j->command_line)
		cJSON_AddStringToObject(o, "command_line", j->command_line);
	cJSON_AddItemToObject(o, "attrs", cJSON_Duplicate(j->attrs, true));
	cJSON_AddBoolToObject(o, "canary", j->canary);
	if (j->overlay) {
		cJSON *ov = cJSON_AddObjectToObject(o, "overlay");

		if (ov) {
			cJSON_AddStringToObject(ov, "name", j->overlay);
			cJSON_AddItemToObject(ov, "write_through",
					      cJSON_Duplicate(j->write_through, true));
		}
	}
	ef_probe_job_save(o, j);
	ef_job_fds_save(o, j);
	s = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	if (!s)
		return -ENOMEM;
	ef_job_state_path(d, j->id, path, sizeof(path));
	ret = ef_write_file_atomic(path, s, strlen(s), 0640);
	free(s);
	return ret;
}

void ef_job_watch(struct ef_daemon *d, struct ef_job_rec *j)
{
	char f[EF_PATH_MAX + 32];

	snprintf(f, sizeof(f), "%s/cgroup.events", j->cgroup);
	j->wd = inotify_add_watch(d->inofd, f, IN_MODIFY);
	if (j->wd < 0)
		log_warn("job %s: cannot watch %s (%s); relying on the timer", j->id, f,
			 strerror(errno));
}

static void job_span(struct ef_daemon *d, const struct ef_job_rec *j)
{
	struct ef_span *s = ef_span_new(d);

	ef_span_init(s, "egress.job", EF_KIND_INTERNAL);
	memcpy(s->trace_id, j->trace_id, sizeof(s->trace_id));
	memcpy(s->span_id, j->span_id, sizeof(s->span_id));
	ef_span_trace_state(s, j->trace_state);
	/* decisions its processes put in traces of their own (proc_ctx.c) */
	if (j->n_elsewhere)
		ef_span_int(s, "egress.trace.elsewhere", (int64_t)j->n_elsewhere);
	if (j->has_parent) {
		memcpy(s->parent_id, j->parent_id, sizeof(s->parent_id));
		s->has_parent = true;
	}
	s->start_ns = j->start_ns;
	s->end_ns = ef_now_realtime_ns();
	ef_span_str(s, "egress.job.id", j->id);
	ef_span_str(s, "egress.policy.name", j->pol->pol->name);
	ef_span_str(s, "egress.mode", ef_mode_name(j->pol->pol->mode));
	ef_span_str(s, "egress.tamper_protection", d->tamper_lsm ? "bpf_lsm" : "guard");
	ef_span_str(s, "egress.landlock", ef_landlock_scope(d) ? ef_landlock_scope(d) : "none");
	/* how the job started: egressctl's canary connect refused, or never seen
	 * (a client that does not make it) */
	ef_span_str(s, "egress.canary", j->canary ? "refused" : "missing");
	ef_span_int(s, "egress.decisions", (int64_t)j->n_decisions);
	ef_span_int(s, "egress.denied", (int64_t)j->n_denied);
	ef_span_int(s, "egress.dns.queries", (int64_t)j->n_dns_queries);
	ef_span_int(s, "egress.dns.denied", (int64_t)j->n_dns_denied);
	ef_span_int(s, "egress.dns.limited", (int64_t)j->n_dns_limited);
	ef_span_int(s, "egress.dns.malformed", (int64_t)j->n_dns_malformed);
	ef_docker_job_span(s, j);
	ef_span_int(s, "process.pid", j->pid);
	ef_span_int(s, "process.user.id", j->uid);
	if (j->command)
		ef_span_str(s, "process.command", j->command);
	if (j->command_line)
		ef_span_str(s, "process.command_line", j->command_line);
	ef_probe_job_attrs(s, j);
	ef_job_fds_span(s, j);
	ef_overlay_span(s, j);
	ef_span_job_attrs(s, j);
}

void ef_job_end(struct ef_daemon *d, struct ef_job_rec *j)
{
	char p[EF_PATH_MAX + 128];
	int ret;

	/* every decision record of the job first, then its span */
	ef_events_drain(d);
	ef_dns_job_flush(d, j);
	ef_events_fold_flush(d, j);
	job_span(d, j);
	ef_spans_flush(d);
	ef_notice_job_end(d, j);
	ef_pctx_job_end(d, j);

	for (struct ef_job_rec **pp = &d->jobs; *pp; pp = &(*pp)->next) {
		if (*pp == j) {
			*pp = j->next;
			break;
		}
	}
	if (j->wd >= 0)
		inotify_rm_watch(d->inofd, j->wd);
	bpf_map_delete_elem(bpf_map__fd(d->skel->maps.ef_jobs), &j->cgroup_id);
	bpf_map_delete_elem(bpf_map__fd(d->skel->maps.ef_job_tp), &j->cgroup_id);
	ef_dns_job_stop(d, j);
	ef_docker_job_end(d, j);
	ret = ef_cgroup_remove_tree(j->cgroup);
	if (ret)
		log_warn("job %s: removing %s: %s", j->id, j->cgroup, strerror(-ret));
	ef_job_state_path(d, j->id, p, sizeof(p));
	unlink(p);
	ef_overlay_release(d, j);
	/* and any left by an egressctl run that failed before its job began */
	ef_overlay_sweep(d, 60);
	log_info("job %s ended: %llu decisions, %llu denied%s", j->id,
		 (unsigned long long)j->n_decisions, (unsigned long long)j->n_denied,
		 j->probe.mask ? ", flagged" : "");
	ef_pol_put(d, j->pol);
	ef_job_free(j);
}

void ef_jobs_check(struct ef_daemon *d)
{
	struct ef_job_rec *j = d->jobs, *next;

	for (; j; j = next) {
		int pop = ef_cgroup_populated(j->cgroup);

		next = j->next;
		/* only an empty or removed cgroup ends a job: one egressd could
		 * not read (out of file descriptors, memory) keeps its fence,
		 * its ef_jobs entry and its state, and is asked again on the
		 * next tick */
		if (pop == 0 || pop == -ENOENT) {
			ef_job_end(d, j);
		} else if (pop < 0) {
			static uint64_t failed;

			if (!(failed++ % 60))
				log_warn("job %s: reading %s/cgroup.events: %s; the job is kept "
					 "until it can be read (%llu such failures)",
					 j->id, j->cgroup, strerror(-pop), (unsigned long long)failed);
		}
	}
}

void ef_jobs_on_inotify(struct ef_daemon *d)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));

	/* which watch fired does not matter: recheck every job */
	while (read(d->inofd, buf, sizeof(buf)) > 0)
		;
	ef_jobs_check(d);
}

static struct ef_job_rec *job_from_state(struct ef_daemon *d, const cJSON *o)
{
	const cJSON *id = cJSON_GetObjectItem(o, "id"), *cg = cJSON_GetObjectItem(o, "cgroup");
	const cJSON *pid = cJSON_GetObjectItem(o, "policy_id"), *tr = cJSON_GetObjectItem(o, "trace_id");
	const cJSON *sp = cJSON_GetObjectItem(o, "span_id"), *par = cJSON_GetObjectItem(o, "parent_id");
	const cJSON *st = cJSON_GetObjectItem(o, "start_ns"), *attrs = cJSON_GetObjectItem(o, "attrs");
	const cJSON *ser = cJSON_GetObjectItem(o, "serial"), *cmd = cJSON_GetObjectItem(o, "command");
	const cJSON *cl = cJSON_GetObjectItem(o, "command_line");
	struct ef_job_rec *j;

	if (!cJSON_IsString(id) || !ef_job_id_valid(id->valuestring) || !cJSON_IsString(cg) ||
	    !cJSON_IsNumber(pid) || !cJSON_IsString(tr) || !cJSON_IsString(sp) ||
	    !cJSON_IsString(st) || !cJSON_IsNumber(ser))
		return NULL;
	j = calloc(1, sizeof(*j));
	if (!j)
		return NULL;
	j->wd = -1;
	snprintf(j->id, sizeof(j->id), "%s", id->valuestring);
	j->cgroup = strdup(cg->valuestring);
	j->pol = ef_pol_by_id(d, (uint32_t)pid->valuedouble);
	j->serial = (uint64_t)ser->valuedouble;
	j->start_ns = strtoull(st->valuestring, NULL, 10);
	j->uid = (uid_t)cJSON_GetNumberValue(cJSON_GetObjectItem(o, "uid"));
	j->pid = (pid_t)cJSON_GetNumberValue(cJSON_GetObjectItem(o, "pid"));
	j->command = cJSON_IsString(cmd) ? strdup(cmd->valuestring) : NULL;
	j->command_line = cJSON_IsString(cl) ? strdup(cl->valuestring) : NULL;
	j->attrs = cJSON_IsObject(attrs) ? cJSON_Duplicate(attrs, true) : cJSON_CreateObject();
	{
		const cJSON *ov = cJSON_GetObjectItem(o, "overlay");
		const cJSON *n = cJSON_GetObjectItem(ov, "name");
		const cJSON *wt = cJSON_GetObjectItem(ov, "write_through");

		/* an unreadable name is no claim: the sweep removes the layer */
		if (cJSON_IsString(n) && ef_overlay_name_valid(n->valuestring)) {
			j->overlay = strdup(n->valuestring);
			j->write_through = cJSON_IsArray(wt) ? cJSON_Duplicate(wt, true)
							     : cJSON_CreateArray();
		}
	}
	j->canary = cJSON_IsTrue(cJSON_GetObjectItem(o, "canary"));
	if (!j->cgroup || !j->pol || !j->attrs || ef_unhex(tr->valuestring, j->trace_id, 16) ||
	    ef_unhex(sp->valuestring, j->span_id, 8)) {
		ef_job_free(j);
		return NULL;
	}
	if (cJSON_IsString(par) && !ef_unhex(par->valuestring, j->parent_id, 8))
		j->has_parent = true;
	{
		const cJSON *ts = cJSON_GetObjectItem(o, "trace_state");

		if (cJSON_IsString(ts) && ef_tracestate_valid(ts->valuestring))
			j->trace_state = strdup(ts->valuestring);
	}
	ef_probe_job_load(o, j);
	ef_job_fds_load(o, j);
	return j;
}

/*
 * Adopt the jobs of an earlier egressd: their cgroups, ef_jobs entries and
 * policies are still in place (the fence never went down); only the
 * bookkeeping is read back. A job whose processes all exited while egressd
 * was away ends now.
 */
int ef_jobs_restore(struct ef_daemon *d)
{
	char dir[EF_PATH_MAX + 16];
	struct dirent *de;
	DIR *dh;
	int ret;

	snprintf(dir, sizeof(dir), "%s/jobs", d->state_dir);
	ret = ef_mkdir_p(dir, 0750);
	if (ret)
		return ret;
	dh = opendir(dir);
	if (!dh)
		return -errno;
	while ((de = readdir(dh))) {
		char path[EF_PATH_MAX + 300], *buf = NULL;
		struct ef_job_rec *j = NULL;
		struct ef_job v;
		cJSON *o = NULL;

		if (!strstr(de->d_name, ".json") || strstr(de->d_name, ".tmp."))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (!ef_read_file(path, 1 << 20, &buf, NULL))
			o = cJSON_Parse(buf);
		if (o)
			j = job_from_state(d, o);
		if (!j || ef_cgroup_id(j->cgroup, &j->cgroup_id) ||
		    bpf_map_lookup_elem(bpf_map__fd(d->skel->maps.ef_jobs), &j->cgroup_id, &v)) {
			log_warn("job state %s: its cgroup or fence entry is gone; dropping it",
				 path);
			if (j && j->cgroup)
				ef_cgroup_remove_tree(j->cgroup);
			unlink(path);
			ef_job_free(j);
			goto next;
		}
		j->pol->refs++;
		if (j->serial >= d->next_serial)
			d->next_serial = j->serial + 1;
		/* same port if it is free, so queries in flight still find it */
		if (ef_dns_job_start(d, j, v.dns_port) == 0) {
			ef_dns_job_value(j, &v);
			if (bpf_map_update_elem(bpf_map__fd(d->skel->maps.ef_jobs), &j->cgroup_id,
						&v, BPF_EXIST))
				log_warn("job %s: updating its DNS proxy port: %s", j->id,
					 strerror(errno));
		} else {
			log_warn("job %s: no DNS proxy; its DNS queries fail", j->id);
		}
		ef_job_watch(d, j);
		j->next = d->jobs;
		d->jobs = j;
		log_info("adopted job %s (%s)", j->id, j->cgroup);
next:
		cJSON_Delete(o);
		free(buf);
	}
	closedir(dh);
	/* policy versions no adopted job uses */
	for (struct ef_pol_rec *p = d->pols, *next; p; p = next) {
		next = p->next;
		if (p->refs == 0)
			ef_pol_put(d, p);
	}
	ef_jobs_check(d);
	/* cgroups of jobs that ended without them (a failed removal) */
	ef_jobs_sweep_cgroups(d);
	return 0;
}

cJSON *ef_jobs_json(struct ef_daemon *d, const struct ef_job_rec *only)
{
	cJSON *arr = cJSON_CreateArray();

	for (struct ef_job_rec *j = d->jobs; j && arr; j = j->next) {
		cJSON *o, *pids;
		pid_t *pl = NULL;
		size_t n = 0;
		char hex[33];

		if (only && j != only)
			continue;
		o = cJSON_CreateObject();
		pids = cJSON_CreateArray();

		if (!o || !pids) {
			cJSON_Delete(o);
			cJSON_Delete(pids);
			break;
		}
		cJSON_AddStringToObject(o, "id", j->id);
		cJSON_AddStringToObject(o, "policy", j->pol->pol->name);
		cJSON_AddStringToObject(o, "policy_origin", j->pol->origin);
		cJSON_AddStringToObject(o, "mode", ef_mode_name(j->pol->pol->mode));
		cJSON_AddStringToObject(o, "cgroup", j->cgroup);
		ef_hex(j->trace_id, 16, hex);
		cJSON_AddStringToObject(o, "trace_id", hex);
		cJSON_AddNumberToObject(o, "uid", j->uid);
		cJSON_AddNumberToObject(o, "started", (double)(j->start_ns / 1000000000ull));
		cJSON_AddNumberToObject(o, "decisions", (double)j->n_decisions);
		cJSON_AddNumberToObject(o, "denied", (double)j->n_denied);
		cJSON_AddStringToObject(o, "canary", j->canary ? "refused" : "missing");
		cJSON_AddNumberToObject(o, "dns_queries", (double)j->n_dns_queries);
		cJSON_AddNumberToObject(o, "dns_denied", (double)j->n_dns_denied);
		cJSON_AddNumberToObject(o, "dns_limited", (double)j->n_dns_limited);
		cJSON_AddNumberToObject(o, "dns_malformed", (double)j->n_dns_malformed);
		if (ef_dns_job_port(j))
			cJSON_AddNumberToObject(o, "dns_port", ef_dns_job_port(j));
		if (j->command)
			cJSON_AddStringToObject(o, "command", j->command);
		ef_probe_job_json(o, j);
		if (!ef_cgroup_pids(j->cgroup, &pl, &n))
			for (size_t i = 0; i < n; i++)
				cJSON_AddItemToArray(pids, cJSON_CreateNumber(pl[i]));
		free(pl);
		cJSON_AddItemToObject(o, "pids", pids);
		cJSON_AddItemToArray(arr, o);
	}
	return arr;
}

void ef_jobs_free(struct ef_daemon *d)
{
	while (d->jobs) {
		struct ef_job_rec *j = d->jobs;

		d->jobs = j->next;
		ef_job_free(j);
	}
	ef_pols_free(d);
}

int ef_job_set_policy(struct ef_daemon *d, struct ef_job_rec *j, struct ef_pol_rec *np,
		      size_t *forgotten)
{
	int fd = bpf_map__fd(d->skel->maps.ef_jobs);
	struct ef_pol_rec *old = j->pol;
	struct ef_job v;
	size_t carried = 0;
	int ret;

	*forgotten = 0;
	if (old == np)
		return 0;
	/* 1. the learned addresses for the new version, while the job still
	 * reads the old one's */
	ret = ef_dns_relearn(d, j, old, np, &carried, forgotten);
	if (ret) {
		ef_dns_forget_version(d, j->cgroup_id, np->id);
		return ret;
	}
	/* 2. one map update switches every later decision of the job */
	if (bpf_map_lookup_elem(fd, &j->cgroup_id, &v)) {
		ret = -errno;
		ef_dns_forget_version(d, j->cgroup_id, np->id);
		return ret;
	}
	v.policy_id = np->id;
	if (bpf_map_update_elem(fd, &j->cgroup_id, &v, BPF_EXIST)) {
		ret = -errno;
		ef_dns_forget_version(d, j->cgroup_id, np->id);
		return ret;
	}
	np->refs++;
	j->pol = np; /* the caller holds the job's reference on old */
	ret = ef_job_save(d, j);
	if (ret)
		log_warn("job %s: saving its state: %s", j->id, strerror(-ret));
	log_info("job %s: policy %s now version %u (was %u); %zu learned addresses kept, %zu "
		 "forgotten", j->id, np->pol->name, np->id, old->id, carried, *forgotten);
	return 0;
}
