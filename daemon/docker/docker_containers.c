// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * A job's containers: removed with its networks and bind mounts at the
 * job's end (or once only they keep its cgroup populated), named on its
 * decisions' spans and listed on the job span, and the container a job
 * itself was started in. Apart from docker.c: the main loop's side of
 * the containers, not the endpoint's connections.
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "container.h"
#include "docker.h"
#include "docker_int.h"
#include "egressd.h"
#include "lib/cgroup.h"
#include "lib/span.h"
#include "lib/util.h"

#define REAP_KILL_NS (10ull * 1000000000ull)

/* ---- the job's end ---- */

struct reap {
	char job[EF_JOB_ID_MAX + 1];
	char cgroup_rel[EF_PATH_MAX];
	char stage[EF_PATH_MAX + 96];
};

static void *reap_main(void *arg)
{
	struct reap *r = arg;
	char path[EF_DK_TARGET_MAX], f[256], enc[512], *body = NULL;
	cJSON *a, *e;
	int st;

	/* containers, with their anonymous volumes */
	snprintf(f, sizeof(f), "{\"label\":[\"%s=%s\"]}", EF_DK_LABEL, r->job);
	ef_dk_query_escape(f, enc, sizeof(enc));
	snprintf(path, sizeof(path), "/containers/json?all=1&filters=%s", enc);
	if (!ef_dk_up_request("GET", path, &st, &body) && st == 200 && (a = cJSON_Parse(body))) {
		cJSON_ArrayForEach(e, a) {
			const cJSON *id = cJSON_GetObjectItemCaseSensitive(e, "Id"), *cp;
			char *rb = NULL;
			cJSON *o;
			bool ours;

			if (!cJSON_IsString(id) || !ef_dk_ref_plain(id->valuestring))
				continue;
			/* the label may have come with an image: the cgroup parent
			 * only the endpoint sets */
			o = ef_dk_up_json("/containers/%s/json", id->valuestring, &st);
			cp = cJSON_GetObjectItemCaseSensitive(
				cJSON_GetObjectItemCaseSensitive(o, "HostConfig"), "CgroupParent");
			ours = cJSON_IsString(cp) && !strcmp(cp->valuestring, r->cgroup_rel);
			cJSON_Delete(o);
			if (!ours)
				continue;
			snprintf(path, sizeof(path), "/containers/%s?force=1&v=1", id->valuestring);
			if (!ef_dk_up_request("DELETE", path, &st, &rb))
				log_info("job %s: container %.12s removed (%d)", r->job,
					 id->valuestring, st);
			free(rb);
		}
		cJSON_Delete(a);
	}
	free(body);
	body = NULL;
	snprintf(path, sizeof(path), "/networks?filters=%s", enc);
	if (!ef_dk_up_request("GET", path, &st, &body) && st == 200 && (a = cJSON_Parse(body))) {
		cJSON_ArrayForEach(e, a) {
			const cJSON *id = cJSON_GetObjectItemCaseSensitive(e, "Id");
			char *rb = NULL;

			if (!cJSON_IsString(id) || !ef_dk_ref_plain(id->valuestring))
				continue;
			snprintf(path, sizeof(path), "/networks/%s", id->valuestring);
			ef_dk_up_request("DELETE", path, &st, &rb);
			free(rb);
		}
		cJSON_Delete(a);
	}
	free(body);
	/* the bind mounts */
	if (r->stage[0]) {
		DIR *dir = opendir(r->stage);
		struct dirent *de;

		while (dir && (de = readdir(dir))) {
			char p[EF_PATH_MAX + 400];

			if (de->d_name[0] == '.')
				continue;
			snprintf(p, sizeof(p), "%s/%s", r->stage, de->d_name);
			umount2(p, MNT_DETACH);
			if (rmdir(p) && errno == ENOTDIR)
				unlink(p);
		}
		if (dir)
			closedir(dir);
		rmdir(r->stage);
	}
	free(r);
	return NULL;
}

void ef_dk_reap(struct ef_daemon *d, const char *job, const char *cgroup_rel, bool stage)
{
	struct reap *r = calloc(1, sizeof(*r));
	pthread_attr_t at;
	pthread_t th;

	if (!r)
		return;
	snprintf(r->job, sizeof(r->job), "%s", job);
	snprintf(r->cgroup_rel, sizeof(r->cgroup_rel), "%s", cgroup_rel);
	if (stage)
		snprintf(r->stage, sizeof(r->stage), "%s/docker/%s", d->run_dir, job);
	pthread_attr_init(&at);
	pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&th, &at, reap_main, r))
		free(r);
	pthread_attr_destroy(&at);
}

/* Only the job's containers keep its cgroup populated: the job's own
 * processes are in no other part of it. */
static bool only_containers(const char *cg)
{
	char p[EF_PATH_MAX + 300], *buf = NULL;
	struct dirent *de;
	bool any = false, other = false;
	DIR *dir;

	snprintf(p, sizeof(p), "%s/cgroup.procs", cg);
	if (ef_read_file(p, 1 << 16, &buf, NULL) || buf[0]) {
		free(buf);
		return false;
	}
	free(buf);
	dir = opendir(cg);
	while (dir && (de = readdir(dir)) && !other) {
		size_t n = strlen(de->d_name);

		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", cg, de->d_name);
		if (n == 64 && strspn(de->d_name, "0123456789abcdef") == 64)
			any = true;
		else if (ef_cgroup_populated(p) == 1)
			other = true;
	}
	if (dir)
		closedir(dir);
	return any && !other;
}

void ef_docker_tick(struct ef_daemon *d)
{
	for (struct ef_job_rec *j = d->jobs; j; j = j->next) {
		struct ef_dk_job *dj = j->docker;

		if (!(j->pol->pol->flags & EF_PF_DOCKER) && !dj)
			continue;
		if (dj && dj->reaping) {
			if (ef_now_boot_ns() - dj->reap_ns > REAP_KILL_NS) {
				log_warn("job %s: its containers outlived their removal; killed",
					 j->id);
				ef_cgroup_kill(j->cgroup);
				dj->reap_ns = ef_now_boot_ns();
			}
			continue;
		}
		if (!only_containers(j->cgroup) || !(dj = ef_dk_dj_of(j)))
			continue;
		log_info("job %s: its processes have ended; removing its containers", j->id);
		dj->reaping = true;
		dj->reap_ns = ef_now_boot_ns();
		ef_dk_reap(d, j->id, j->cgroup + strlen(d->cgroup_mount), false);
	}
}

void ef_docker_job_end(struct ef_daemon *d, struct ef_job_rec *j)
{
	if (!(j->pol->pol->flags & EF_PF_DOCKER) && !j->docker)
		return;
	ef_dk_reap(d, j->id, j->cgroup + strlen(d->cgroup_mount), true);
}

void ef_docker_job_free(struct ef_job_rec *j)
{
	free(j->docker);
	j->docker = NULL;
}

/* ---- spans ---- */

/* The container process pid is in (container.c: its id in the process's
 * cgroup path, dockerd's cgroupfs layout <parent>/<id>), else the one the
 * job itself was started in; the last process looked up is kept. */
static const char *container_of(struct ef_job_rec *j, pid_t pid, uint64_t start)
{
	struct ef_dk_job *dj = j->docker;

	if (dj->last_pid == pid && dj->last_start == start)
		return dj->last_id;
	if (!ef_container_of_pid(pid, dj->last_id))
		memcpy(dj->last_id, dj->self_id, sizeof(dj->self_id));
	dj->last_pid = pid;
	dj->last_start = start;
	return dj->last_id;
}

void ef_docker_span(struct ef_daemon *d, struct ef_span *s, const struct ef_job_rec *cj,
		    pid_t pid, uint64_t start_ns)
{
	struct ef_job_rec *j = (struct ef_job_rec *)cj;
	const char *id;

	if (!j || !j->docker || pid <= 0)
		return;
	id = container_of(j, pid, start_ns);
	if (!id[0])
		return;
	ef_span_str(s, "container.id", ef_span_strdup(s, id));
	for (int k = 0; k < j->docker->n; k++) {
		if (strcmp(j->docker->c[k].id, id))
			continue;
		if (j->docker->c[k].name[0])
			ef_span_str(s, "container.name", ef_span_strdup(s, j->docker->c[k].name));
		if (j->docker->c[k].image[0])
			ef_span_str(s, "container.image.name",
				    ef_span_strdup(s, j->docker->c[k].image));
		break;
	}
}

void ef_docker_job_span(struct ef_span *s, const struct ef_job_rec *j)
{
	char buf[4096];
	size_t o = 0;

	if (!j->docker || !j->docker->n)
		return;
	for (int k = 0; k < j->docker->n && o < sizeof(buf) - 1; k++)
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s%s (%.12s, %s)", k ? ", " : "",
				      j->docker->c[k].name, j->docker->c[k].id, j->docker->c[k].image);
	if (j->docker->n_more && o < sizeof(buf) - 1)
		snprintf(buf + o, sizeof(buf) - o, " and %d more", j->docker->n_more);
	ef_span_str(s, "egress.job.containers", ef_span_strdup(s, buf));
	ef_span_int(s, "egress.job.container_count", j->docker->n + j->docker->n_more);
}

/* ---- a job that runs inside a container (container.c) ---- */

const char *ef_docker_upstream(void)
{
	return ef_dk.upstream;
}

struct self_ask {
	char job[EF_JOB_ID_MAX + 1];
	char id[65];
	pid_t pid;
};

/* the pid namespace of /proc/PID; 0 if gone */
static ino_t pidns_of(pid_t pid)
{
	char p[64];
	struct stat st;

	snprintf(p, sizeof(p), "/proc/%d/ns/pid", (int)pid);
	return stat(p, &st) ? 0 : st.st_ino;
}

/* dockerd's container of that id, if the job's first process is in its
 * pid namespace (a cgroup's name alone is anyone's to choose): the job's
 * own container from then on (MSG_SELF), with its name and image */
static void *self_main(void *arg)
{
	struct self_ask *a = arg;
	struct msg m = { .type = MSG_SELF };
	const cJSON *n, *img, *pid;
	ino_t want = pidns_of(a->pid);
	cJSON *o;
	int st;

	snprintf(m.job, sizeof(m.job), "%s", a->job);
	memcpy(m.id, a->id, sizeof(m.id));
	o = ef_dk_up_json("/containers/%s/json", a->id, &st);
	if (!o) {
		log_warn("job %s: started in a cgroup of container %.12s, which dockerd does not "
			 "know (HTTP %d): its decisions do not name it", a->job, a->id, st);
		goto out;
	}
	pid = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(o, "State"),
					       "Pid");
	if (!want || !cJSON_IsNumber(pid) || pid->valuedouble < 1 ||
	    pidns_of((pid_t)pid->valuedouble) != want) {
		log_warn("job %s: started in a cgroup of container %.12s, but not in its pid "
			 "namespace: its decisions do not name it", a->job, a->id);
		cJSON_Delete(o);
		goto out;
	}
	n = cJSON_GetObjectItemCaseSensitive(o, "Name");
	img = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(o, "Config"),
					       "Image");
	snprintf(m.name, sizeof(m.name), "%s",
		 cJSON_IsString(n) ? n->valuestring + (n->valuestring[0] == '/') : "");
	snprintf(m.image, sizeof(m.image), "%s", cJSON_IsString(img) ? img->valuestring : "");
	cJSON_Delete(o);
	ef_dk_post(&m);
out:
	free(a);
	return NULL;
}

void ef_docker_self(struct ef_daemon *d, struct ef_job_rec *j, const char *id, pid_t pid)
{
	struct ef_dk_job *dj = ef_dk_dj_of(j);
	struct self_ask *a;
	pthread_attr_t at;
	pthread_t th;

	(void)d;
	if (!dj)
		return;
	a = calloc(1, sizeof(*a));
	if (!a || ef_dk.pipe[1] < 0) {
		free(a);
		return;
	}
	snprintf(a->job, sizeof(a->job), "%s", j->id);
	snprintf(a->id, sizeof(a->id), "%s", id);
	a->pid = pid;
	pthread_attr_init(&at);
	pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&at, 1u << 20);
	if (pthread_create(&th, &at, self_main, a))
		free(a);
	pthread_attr_destroy(&at);
}
