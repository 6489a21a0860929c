// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * A job's start: egressctl run's request (ef_job_start), and its preview
 * (ef_job_run_preview). The order that keeps a job fenced from its first
 * instruction is in jobs.c's top comment; the registry, the job's end and
 * its saved state are there too.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "egressd.h"
#include "access/access.h"
#include "registry/registry.h"
#include "lib/names.h"
#include "loader/loader.h"
#include "dns/dns.h"
#include "jobs.h"
#include "jobs_int.h"
#include "policies/policies.h"
#include "tamper/tamper.h"
#include "docker/docker.h"
#include "docker/docker.h"
#include "lib/cgroup.h"
#include "lib/util.h"
#include "fence.skel.h"
#include "overlay.h"
/* With no --policy and no <policy-dir>/default.json: deny everything but
 * the job's own listeners on loopback ("loopback": "own", the default). A
 * job is never left unfenced for want of a policy. */
static const char default_policy[] = "{\"name\": \"default\", \"mode\": \"enforce\", \"allow\": []}\n";

/* egressctl run's working directory, which the job's containers may bind
 * (docker.c): resolved here, in egressd's (the host's) mount namespace; not
 * the root or a directory of the system's, nor one above them. */
static char *job_workdir(const struct ef_job_rec *j, const cJSON *cwd)
{
	static const char *const sys[] = { "/etc", "/usr", "/bin", "/sbin", "/lib", "/lib32",
					   "/lib64", "/libx32", "/boot", "/dev", "/proc", "/sys",
					   "/run", "/var", "/root", "/opt", "/srv", "/snap", "/tmp", "/home",
					   "/mnt", "/media", NULL };
	char *r;

	if (!cJSON_IsString(cwd) || cwd->valuestring[0] != '/')
		return NULL;
	r = realpath(cwd->valuestring, NULL);
	if (!r)
		return NULL;
	for (int i = 0; sys[i]; i++) {
		size_t n = strlen(r);

		/* the directory itself, one below it, or one above it */
		if (!strcmp(r, "/") || !strncmp(sys[i], r, n) ||
		    (!strncmp(r, sys[i], strlen(sys[i])) && r[strlen(sys[i])] == '/' &&
		     !strchr(r + strlen(sys[i]) + 1, '/')) || !strcmp(r, sys[i])) {
			log_info("job %s: working directory %s is a system directory: its "
				 "containers may bind only the policy's docker.binds", j->id, r);
			free(r);
			return NULL;
		}
	}
	return r;
}

/* The TRACEPARENT naming the job's span, which its command gets; 56 bytes
 * with the NUL (the first 56 of out) */
static void job_traceparent(const struct ef_job_rec *j, char out[EF_TRACEPARENT_LEN])
{
	char t[33], s[17];

	ef_hex(j->trace_id, 16, t);
	ef_hex(j->span_id, 8, s);
	memset(out, 0, EF_TRACEPARENT_LEN);
	snprintf(out, EF_TRACEPARENT_LEN, "00-%s-%s-01", t, s);
}

/* The policy the job asked for: a file's text, a NAME, else the caller's
 * assigned policy (access.run), else default. */
static int read_policy_text(struct ef_daemon *d, const cJSON *req, const char *assigned,
			    char **text, size_t *len, char *file, size_t filelen, char *origin,
			    size_t originlen, char *err, size_t errlen)
{
	const cJSON *name = cJSON_GetObjectItem(req, "policy");
	cJSON *assigned_name = NULL;
	const cJSON *ptext = cJSON_GetObjectItem(req, "policy_text");
	const cJSON *pfile = cJSON_GetObjectItem(req, "policy_file");
	int ret;

	if (cJSON_IsString(ptext)) {
		snprintf(file, filelen, "%s", cJSON_IsString(pfile) ? pfile->valuestring : "policy");
		snprintf(origin, originlen, "%s", file);
		*text = strdup(ptext->valuestring);
		*len = *text ? strlen(*text) : 0;
		return *text ? 0 : -ENOMEM;
	}
	if (name && !cJSON_IsString(name)) {
		snprintf(err, errlen, "\"policy\" must be a string");
		return -EINVAL;
	}
	if (!name && assigned)
		name = assigned_name = cJSON_CreateString(assigned);
	if (!name) {
		snprintf(file, filelen, "%s/default.json", d->policy_dir);
		snprintf(origin, originlen, "default");
		ret = ef_read_file(file, EF_POLICY_MAX_BYTES, text, len);
		if (ret == -ENOENT) {
			snprintf(file, filelen, "(built-in default)");
			*text = strdup(default_policy);
			*len = sizeof(default_policy) - 1;
			return *text ? 0 : -ENOMEM;
		}
	} else {
		if (!ef_policy_name_valid(name->valuestring)) {
			snprintf(err, errlen, "invalid policy name \"%.80s\"", name->valuestring);
			return -EINVAL;
		}
		snprintf(file, filelen, "%s/%s.json", d->policy_dir, name->valuestring);
		snprintf(origin, originlen, "%s", name->valuestring);
		ret = ef_read_file(file, EF_POLICY_MAX_BYTES, text, len);
	}
	cJSON_Delete(assigned_name);
	if (ret) {
		snprintf(err, errlen, "%s: %s", file,
			 ret == -ENOENT ? "no such policy" : strerror(-ret));
		return ret;
	}
	return 0;
}

/*
 * What a root job's mount namespace needs to know of its policy before
 * the run request (cli/run_isolate.c isolate_root: the namespace is made before
 * the job's cgroup is joined): the policy the run request would take,
 * chosen the same way, says whether its system writes reach the host
 * ("host_writes"). An error goes into "run_policy_error"; the run request
 * then says it again and fails.
 */
void ef_job_run_preview(struct ef_daemon *d, const cJSON *req, const struct ef_peer *peer,
			cJSON *reply)
{
	char file[EF_PATH_MAX], origin[EF_PATH_MAX], err[512] = "";
	const struct ef_run_grant *grant;
	struct ef_policy *p = NULL;
	char *text = NULL;
	size_t len = 0;

	if (!ef_access_run_grant(d, peer, &grant, err, sizeof(err)) &&
	    !read_policy_text(d, req, grant ? grant->policy : NULL, &text, &len, file,
			      sizeof(file), origin, sizeof(origin), err, sizeof(err)) &&
	    !ef_policy_parse(text, len, file, &p, err, sizeof(err)))
		cJSON_AddBoolToObject(reply, "host_writes", p->flags & EF_PF_HOST_WRITES),
		cJSON_AddBoolToObject(reply, "docker", p->flags & EF_PF_DOCKER);
	else
		cJSON_AddStringToObject(reply, "run_policy_error", err[0] ? err : "no policy");
	ef_policy_free(p);
	free(text);
}

int ef_job_start(struct ef_daemon *d, const cJSON *req, const struct ef_peer *peer,
		 cJSON *reply, char *err, size_t errlen)
{
	const cJSON *asked_name = cJSON_GetObjectItem(req, "policy");
	const cJSON *asked_text = cJSON_GetObjectItem(req, "policy_text");
	pid_t peer_pid = peer->pid;
	uid_t peer_uid = peer->uid;
	const struct ef_run_grant *grant;
	char file[EF_PATH_MAX], origin[EF_PATH_MAX], hex[33];
	const cJSON *jid = cJSON_GetObjectItem(req, "job_id");
	const cJSON *attrs = cJSON_GetObjectItem(req, "attrs");
	const cJSON *tp = cJSON_GetObjectItem(req, "traceparent");
	const cJSON *argv = cJSON_GetObjectItem(req, "argv");
	struct ef_job job_val = { 0 };
	struct ef_job_rec *j = NULL;
	bool in_map = false, created = false, self_container;
	char *text = NULL, container_id[65];
	size_t len = 0;
	int ret;

	if (peer_pid <= 0) {
		snprintf(err, errlen, "cannot identify the calling process");
		return -EPERM;
	}
	if ((jid && !cJSON_IsString(jid)) || (attrs && !cJSON_IsObject(attrs)) ||
	    (tp && !cJSON_IsString(tp)) || (argv && !cJSON_IsArray(argv))) {
		snprintf(err, errlen, "malformed run request: job_id, traceparent must be strings, "
				      "attrs an object, argv an array");
		return -EINVAL;
	}
	j = calloc(1, sizeof(*j));
	if (!j)
		return -ENOMEM;
	j->wd = -1;
	j->probe.action = -1;
	ret = ef_job_fds_parse(req, j, err, errlen);
	if (ret)
		goto fail;
	ret = ef_overlay_claim(d, j, cJSON_GetObjectItem(req, "overlay"), err, errlen);
	if (ret)
		goto fail;
	if (jid) {
		if (!ef_job_id_valid(jid->valuestring)) {
			snprintf(err, errlen, "invalid job id \"%.80s\": use [A-Za-z0-9._-], at most %d",
				 jid->valuestring, EF_JOB_ID_MAX);
			ret = -EINVAL;
			goto fail;
		}
		if (ef_job_by_id(d, jid->valuestring)) {
			snprintf(err, errlen, "job %s is already running", jid->valuestring);
			ret = -EEXIST;
			goto fail;
		}
		snprintf(j->id, sizeof(j->id), "%s", jid->valuestring);
	} else {
		uint8_t r[8];

		ef_random_bytes(r, sizeof(r));
		ef_hex(r, sizeof(r), j->id);
	}
	j->attrs = cJSON_CreateObject();
	if (!j->attrs) {
		ret = -ENOMEM;
		goto fail;
	}
	if (attrs) {
		const cJSON *a;

		cJSON_ArrayForEach(a, attrs) {
			/* keys go into spans as they are: they must be UTF-8 */
			if (!cJSON_IsString(a) || !a->string[0] || strlen(a->string) > 128 ||
			    strlen(a->valuestring) > 1024 || !ef_utf8_valid(a->string)) {
				snprintf(err, errlen, "attribute \"%.64s\": must be a non-empty UTF-8 "
						      "key (<= 128) with a string value (<= 1024)", a->string);
				ret = -EINVAL;
				goto fail;
			}
			cJSON_AddStringToObject(j->attrs, a->string, a->valuestring);
		}
	}
	ef_random_bytes(j->trace_id, sizeof(j->trace_id));
	ef_random_bytes(j->span_id, sizeof(j->span_id));
	if (tp) {
		struct ef_tracectx tc;
		const cJSON *ts = cJSON_GetObjectItem(req, "tracestate");

		if (ef_traceparent_parse(tp->valuestring, &tc)) {
			/* only a valid one replaces the job's own trace id */
			memcpy(j->trace_id, tc.trace_id, sizeof(j->trace_id));
			memcpy(j->parent_id, tc.span_id, sizeof(j->parent_id));
			j->has_parent = true;
			if (cJSON_IsString(ts) && ef_tracestate_valid(ts->valuestring))
				j->trace_state = strdup(ts->valuestring);
			else if (ts)
				log_warn("job %s: ignoring malformed tracestate \"%.64s\"", j->id,
					 cJSON_IsString(ts) ? ts->valuestring : "(not a string)");
		} else {
			log_warn("job %s: ignoring malformed traceparent \"%.64s\"", j->id,
				 tp->valuestring);
		}
	}
	j->workdir = job_workdir(j, cJSON_GetObjectItem(req, "cwd"));
	if (argv && cJSON_GetArraySize(argv) > 0) {
		const cJSON *a0 = cJSON_GetArrayItem(argv, 0);

		j->command = strdup(cJSON_IsString(a0) ? a0->valuestring : "");
		if (d->cfg.record_command_line) {
			struct ef_buf b = { 0 };
			const cJSON *a;

			cJSON_ArrayForEach(a, argv) {
				if (!cJSON_IsString(a))
					continue;
				if (b.len)
					ef_buf_add(&b, " ", 1);
				ef_buf_puts(&b, a->valuestring);
			}
			j->command_line = b.p;
		}
	}
	j->uid = peer_uid;
	j->pid = peer_pid;
	j->start_ns = ef_now_realtime_ns();
	j->serial = d->next_serial++;

	/* who may run, and with which policy (access.c) */
	ret = ef_access_run_grant(d, peer, &grant, err, errlen);
	if (ret)
		goto fail;
	ret = read_policy_text(d, req, grant ? grant->policy : NULL, &text, &len, file,
			       sizeof(file), origin, sizeof(origin), err, errlen);
	if (ret)
		goto fail;
	if (grant && (cJSON_IsString(asked_text) || cJSON_IsString(asked_name))) {
		ret = ef_access_run_policy(d, peer, grant,
					   cJSON_IsString(asked_text) ? NULL : asked_name->valuestring,
					   text, len, err, errlen);
		if (ret)
			goto fail;
	}
	ret = ef_pol_get(d, text, len, file, origin, &j->pol, err, errlen);
	if (ret)
		goto fail;

	if (asprintf(&j->cgroup, "%s/job-%s", d->cgroup_root, j->id) < 0) {
		j->cgroup = NULL;
		ret = -ENOMEM;
		goto fail;
	}
	if (mkdir(j->cgroup, 0755) < 0) {
		/* a leftover of a crashed job with no process left may be reused */
		if (errno != EEXIST || ef_cgroup_populated(j->cgroup) != 0 ||
		    ef_cgroup_remove_tree(j->cgroup) || mkdir(j->cgroup, 0755) < 0) {
			ret = -errno;
			snprintf(err, errlen, "creating %s: %s", j->cgroup, strerror(errno));
			goto fail;
		}
	}
	created = true;
	ret = ef_cgroup_id(j->cgroup, &j->cgroup_id);
	if (ret) {
		snprintf(err, errlen, "cgroup id of %s: %s", j->cgroup, strerror(-ret));
		goto fail;
	}
	/* the proxy is listening before the job's first query can be taken to it */
	ret = ef_dns_job_start(d, j, 0);
	if (ret) {
		snprintf(err, errlen, "starting the job's DNS proxy: %s", strerror(-ret));
		goto fail;
	}
	job_val.policy_id = j->pol->id;
	job_val.serial = j->serial;
	ef_dns_job_value(j, &job_val);
	/* the TRACEPARENT the command gets, known to the kernel side first:
	 * processes that inherit it cost no record (bpf/lib/proc.bpf.h); one
	 * not written is only records egressd drops (proc_ctx.c) */
	{
		char tp[EF_TRACEPARENT_LEN] = "";

		job_traceparent(j, tp);
		bpf_map_update_elem(bpf_map__fd(d->skel->maps.ef_job_tp), &j->cgroup_id, tp,
				    BPF_ANY);
	}
	if (bpf_map_update_elem(bpf_map__fd(d->skel->maps.ef_jobs), &j->cgroup_id, &job_val,
				BPF_NOEXIST)) {
		ret = -errno;
		snprintf(err, errlen, "registering job: %s", strerror(errno));
		goto fail;
	}
	in_map = true;
	ret = ef_job_save(d, j);
	if (ret) {
		snprintf(err, errlen, "saving job state: %s", strerror(-ret));
		goto fail;
	}
	/* a job started inside a container leaves the container's cgroup: its
	 * decisions name the container all the same */
	self_container = ef_container_of_pid(peer_pid, container_id);
	ret = ef_cgroup_move(j->cgroup, peer_pid);
	if (ret) {
		snprintf(err, errlen, "moving pid %d into %s: %s", peer_pid, j->cgroup,
			 strerror(-ret));
		goto fail;
	}
	/* the pid moved was the caller's only if the caller is still there
	 * (control.c verified it just before; its pidfd pins the number) */
	if (peer->pidfd < 0 || ef_pidfd_exited(peer->pidfd)) {
		snprintf(err, errlen, "the calling process (pid %d) exited while it was moved "
			 "into its job", peer_pid);
		ret = -ESRCH;
		goto fail;
	}
	ef_job_watch(d, j);
	j->next = d->jobs;
	d->jobs = j;
	if (self_container) {
		log_info("job %s: started inside container %.12s", j->id, container_id);
		ef_docker_self(d, j, container_id, peer_pid);
	}
	/* a caller in another network namespace (a container's, `ip netns
	 * exec`): the proxy listens there before the command's first query
	 * (dns_netns.c; nothing to do in egressd's own) */
	ef_dns_netns_open_pid(d, j, peer_pid);

	cJSON_AddStringToObject(reply, "job_id", j->id);
	/* egressctl run --exec, which has no parent to fail the step, refuses it */
	cJSON_AddBoolToObject(reply, "fail_on_deny", j->pol->pol->fail_on_deny);
	cJSON_AddStringToObject(reply, "cgroup", j->cgroup + strlen(d->cgroup_mount));
	/* the job's Docker endpoint is the cover of /run/docker.sock (docker.c) */
	if (j->pol->pol->flags & EF_PF_DOCKER)
		cJSON_AddStringToObject(reply, "docker_host", "unix://" EF_DOCKER_ENDPOINT);
	ef_hex(j->trace_id, 16, hex);
	cJSON_AddStringToObject(reply, "trace_id", hex);
	{
		char tpo[EF_TRACEPARENT_LEN];

		job_traceparent(j, tpo);
		cJSON_AddStringToObject(reply, "traceparent", tpo);
	}
	cJSON_AddStringToObject(reply, "policy", j->pol->pol->name);
	/* Without BPF LSM, egressctl refuses the families with seccomp. */
	if (!d->lsm && j->pol->pol->mode == EF_MODE_ENFORCE) {
		cJSON *fams = cJSON_AddArrayToObject(reply, "seccomp_families");

		for (int f = 0; f < 64 && fams; f++) {
			bool ok = (j->pol->pol->families >> f) & 1;

			if (f == AF_PACKET)
				ok = j->pol->pol->flags & EF_PF_PACKET;
			if (ok)
				cJSON_AddItemToArray(fams, cJSON_CreateNumber(f));
		}
	}
	/* Without BPF LSM, egressctl puts the job under its guard (cli/guard.c):
	 * egressd's threads may not be signalled or traced, the job's own
	 * cgroup stays writable for nested cgroups. */
	{
		cJSON *g = d->tamper_lsm ? NULL : cJSON_AddObjectToObject(reply, "guard");

		if (g) {
			cJSON_AddStringToObject(g, "job_cgroup", j->cgroup);
			cJSON_AddStringToObject(g, "why", d->tamper_why);
			/* the policy's "tracing": false (with BPF LSM, the hooks read it) */
			if (j->pol->pol->flags & EF_PF_NO_TRACE)
				cJSON_AddBoolToObject(g, "tracing", false);
		}
		/* threads started since the last job are protected too */
		ef_guard_pids_refresh(d, g ? cJSON_AddArrayToObject(g, "pids") : NULL);
	}
	/* the job's Landlock domain, where it adds to the rest (cli/landlock.c) */
	if (ef_landlock_scope(d))
		cJSON_AddStringToObject(reply, "landlock", ef_landlock_scope(d));
	/* What a root job keeps (policy/caps.c); egressctl keeps exactly
	 * these and nothing else, and without this field the default set. */
	{
		cJSON *caps = cJSON_AddArrayToObject(reply, "capabilities");
		__u64 m = ef_policy_caps(j->pol->pol);

		for (int c = 0; c < 64 && caps; c++)
			if ((m >> c) & 1)
				cJSON_AddItemToArray(caps, cJSON_CreateNumber(c));
	}
	cJSON_AddStringToObject(reply, "mode", ef_mode_name(j->pol->pol->mode));
	log_info("job %s started: pid %d uid %u policy %s (%s) cgroup %s", j->id, peer_pid,
		 peer_uid, j->pol->pol->name, ef_mode_name(j->pol->pol->mode), j->cgroup);
	free(text);
	return 0;
fail:
	if (j->cgroup_id)
		bpf_map_delete_elem(bpf_map__fd(d->skel->maps.ef_job_tp), &j->cgroup_id);
	if (in_map)
		bpf_map_delete_elem(bpf_map__fd(d->skel->maps.ef_jobs), &j->cgroup_id);
	if (created)
		rmdir(j->cgroup);
	if (in_map) {
		char p[EF_PATH_MAX + 128];

		ef_job_state_path(d, j->id, p, sizeof(p));
		unlink(p);
	}
	ef_dns_job_stop(d, j);
	/* the job never ran: nothing in its layer to keep */
	ef_overlay_release(d, j);
	if (j->pol)
		ef_pol_put(d, j->pol);
	ef_job_free(j);
	free(text);
	return ret;
}
