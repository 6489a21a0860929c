// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * A job's own Docker endpoint.
 *
 * A job whose policy says "docker" reaches, at /run/docker.sock (and so
 * /var/run/docker.sock, where egressctl run points DOCKER_HOST), egressd's
 * cover of that socket (runtimes.c), as every job does; for it the cover
 * is not a refusal but this endpoint. The connecting process's job is known
 * from its peer credentials (runtimes.c), so the endpoint is the job's own
 * without a socket of its own: a job cannot speak for another.
 *
 * Each connection is served by a thread of its own, with blocking I/O: a
 * request's judgement may ask dockerd first (is this container the job's?),
 * and streams (attach, exec, logs -f) live as long as the container. The
 * threads share nothing of egressd's but the job's policy version, which
 * they only read (its name table is read-only once built, policy.h), and
 * a reference the main loop took for them; what they have to tell (a
 * refusal, a container started, a connection done) they write to a pipe
 * that the main loop reads (ef_docker_io()).
 *
 * One request per connection: every request goes to dockerd with
 * "Connection: close" (or as an upgrade, for attach and exec start), its
 * head written anew from what was parsed and judged, its body framed anew;
 * so what dockerd reads is what was judged, and a second request hidden
 * behind the first never reaches it. The route and the bodies are judged
 * by docker_check.c and docker_check_body.c; refusals are Docker API
 * errors the CLI prints, and egress.tamper spans (tamper_docker).
 *
 * What the job's containers are: those carrying the label
 * io.egress-fence.job=<job id>, which only this endpoint sets (it refuses
 * the label from the job). Every request that names a container, an exec,
 * a network or a volume asks dockerd for it first and goes on only for the
 * job's own; the container is then named by its full id.
 *
 * Bind mounts: a source must lie, with no symbolic link on the way, in the
 * job's working directory or a path of the policy's "docker.binds"; it is
 * opened and bind-mounted by egressd at <run_dir>/docker/<job>/<n>, and
 * that path is what dockerd binds, then and at every restart: renaming a
 * directory of the path and putting a link in its place afterwards changes
 * nothing. Those mounts go when the job ends.
 *
 * At the job's end its containers are removed (with their anonymous
 * volumes), and its networks. A job's containers live in its cgroup and so
 * keep it populated: once a second (ef_docker_tick()) a job whose own
 * processes are all gone has them removed, and then it ends as any job
 * does; if dockerd does not remove them within 10 s, they are killed.
 *
 * This file: the config, a connection's thread, and the main loop's side
 * (a connection taken, the threads' reports); the endpoint's other files
 * are listed in docker_int.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "docker.h"
#include "docker_int.h"
#include "egressd.h"
#include "registry/registry.h"
#include "dns/dns.h"
#include "policies/policies.h"
#include "tamper/tamper.h"
#include "lib/cgroup.h"
#include "lib/util.h"

#define CONNS_MAX 256		  /* threads serving connections, all jobs */
#define JOB_CONNS_MAX 64	  /* ... one job's: the others keep theirs */

struct ef_dk_state ef_dk = { .kind = EF_EPK_DOCKER, .pipe = { -1, -1 } };

/* ---- messages to the main loop ---- */

void ef_dk_post(const struct msg *m)
{
	ssize_t n;

	do
		n = write(ef_dk.pipe[1], m, sizeof(*m));
	while (n < 0 && errno == EINTR);
}

/* ---- a connection's thread ---- */

static void *thread_main(void *arg)
{
	struct conn *c = arg;
	struct msg m = { .type = MSG_DONE };

	ef_dk_serve(c);
	/* the job may have sent more: a close with unread data resets, and
	 * the answer would be lost */
	shutdown(c->fd, SHUT_WR);
	{
		char buf[4096];
		struct pollfd p = { .fd = c->fd, .events = POLLIN };

		for (int i = 0; i < 64 && poll(&p, 1, 2000) > 0 && read(c->fd, buf, sizeof(buf)) > 0; i++)
			;
	}
	close(c->fd);
	m.pol = c->pol;
	snprintf(m.job, sizeof(m.job), "%s", c->job);
	snprintf(m.detail, sizeof(m.detail), "%s", c->cgroup_rel);
	ef_dk_post(&m);
	for (size_t i = 0; i < c->n_binds; i++)
		free(c->binds[i]);
	free(c->binds);
	free(c);
	atomic_fetch_sub(&ef_dk.conns, 1);
	return NULL;
}

/* ---- the main loop's side ---- */

int ef_docker_config(struct ef_daemon *d, const cJSON *v, const char *where)
{
	static const char *const known[] = { "socket", NULL };
	const cJSON *s;

	snprintf(ef_dk.upstream, sizeof(ef_dk.upstream), "/run/docker.sock");
	if (!v)
		return 0;
	if (!cJSON_IsObject(v)) {
		log_err("%s: \"docker\" must be an object", where);
		return -EINVAL;
	}
	if (ef_json_known_keys(v, known, "docker.", where))
		return -EINVAL;
	s = cJSON_GetObjectItemCaseSensitive(v, "socket");
	if (s && (!cJSON_IsString(s) || s->valuestring[0] != '/' ||
		  strlen(s->valuestring) >= sizeof(((struct sockaddr_un *)0)->sun_path))) {
		log_err("%s: \"docker.socket\" must be an absolute path of under 108 bytes", where);
		return -EINVAL;
	}
	if (s)
		snprintf(ef_dk.upstream, sizeof(ef_dk.upstream), "%s", s->valuestring);
	return 0;
}

int ef_docker_setup(struct ef_daemon *d)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &ef_dk };
	struct stat st;

	snprintf(ef_dk.run_dir, sizeof(ef_dk.run_dir), "%s", d->run_dir);
	if (!ef_dk.upstream[0])
		snprintf(ef_dk.upstream, sizeof(ef_dk.upstream), "/run/docker.sock");
	if (!stat("/proc/self/ns/net", &st))
		ef_dk.host_netns = st.st_ino;
	if (pipe2(ef_dk.pipe, O_CLOEXEC | O_NONBLOCK))
		return -errno;
	/* the threads' end blocks: a report waits for room, never is lost */
	fcntl(ef_dk.pipe[1], F_SETFL, 0);
	if (epoll_ctl(d->epfd, EPOLL_CTL_ADD, ef_dk.pipe[0], &ev))
		return -errno;
	return 0;
}

void ef_docker_close(struct ef_daemon *d)
{
	/* threads still serving hold the write end: they finish on their own
	 * (egressd exits after this) */
	if (ef_dk.pipe[0] >= 0) {
		epoll_ctl(d->epfd, EPOLL_CTL_DEL, ef_dk.pipe[0], NULL);
	}
}

int ef_docker_take(struct ef_daemon *d, struct ef_job_rec *j, const struct ef_peer *peer, int fd)
{
	const struct ef_policy *p = j->pol->pol;
	pthread_attr_t at;
	pthread_t th;
	struct conn *c;
	int flags;

	if (!(p->flags & EF_PF_DOCKER) || ef_dk.pipe[1] < 0)
		return -EPERM;
	if (!ef_dk_dj_of(j) || j->docker->conns >= JOB_CONNS_MAX) {
		log_warn("job %s: Docker endpoint connection refused: %d of the job's already "
			 "served", j->id, JOB_CONNS_MAX);
		close(fd);
		return 0;
	}
	if (atomic_fetch_add(&ef_dk.conns, 1) >= CONNS_MAX) {
		atomic_fetch_sub(&ef_dk.conns, 1);
		log_warn("job %s: Docker endpoint connection refused: %d already served", j->id,
			 CONNS_MAX);
		close(fd);
		return 0;
	}
	j->docker->conns++;
	c = calloc(1, sizeof(*c));
	if (!c)
		goto fail;
	c->fd = fd;
	snprintf(c->job, sizeof(c->job), "%s", j->id);
	snprintf(c->cgroup_abs, sizeof(c->cgroup_abs), "%s", j->cgroup);
	snprintf(c->cgroup_rel, sizeof(c->cgroup_rel), "%s", j->cgroup + strlen(d->cgroup_mount));
	snprintf(c->workdir, sizeof(c->workdir), "%s", j->workdir ? j->workdir : "");
	c->pid = peer->pid;
	c->uid = peer->uid;
	c->gid = peer->gid;
	if (p->n_docker_binds) {
		c->binds = calloc(p->n_docker_binds, sizeof(char *));
		if (!c->binds)
			goto fail;
		for (; c->n_binds < p->n_docker_binds; c->n_binds++)
			if (!(c->binds[c->n_binds] = strdup(p->docker_binds[c->n_binds])))
				goto fail;
	}
	/* the thread's reads block */
	flags = fcntl(fd, F_GETFL);
	fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
	c->pol = j->pol;
	j->pol->refs++;
	pthread_attr_init(&at);
	pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&at, 1u << 20);
	if (pthread_create(&th, &at, thread_main, c)) {
		pthread_attr_destroy(&at);
		ef_pol_put(d, j->pol);
		j->docker->conns--;
		goto fail;
	}
	pthread_attr_destroy(&at);
	return 0;
fail:
	if (c) {
		for (size_t i = 0; i < c->n_binds; i++)
			free(c->binds[i]);
		free(c->binds);
	}
	free(c);
	atomic_fetch_sub(&ef_dk.conns, 1);
	close(fd);
	return 0;
}

struct ef_dk_job *ef_dk_dj_of(struct ef_job_rec *j)
{
	if (!j->docker) {
		j->docker = calloc(1, sizeof(*j->docker));
		if (j->docker)
			j->docker->last_pid = 0;
	}
	return j->docker;
}

void ef_docker_io(struct ef_daemon *d)
{
	struct msg m;

	for (int i = 0; i < 64 && read(ef_dk.pipe[0], &m, sizeof(m)) == (ssize_t)sizeof(m); i++) {
		struct ef_job_rec *j = ef_job_by_id(d, m.job);
		struct ef_dk_job *dj;

		m.job[sizeof(m.job) - 1] = '\0';
		m.detail[sizeof(m.detail) - 1] = '\0';
		switch (m.type) {
		case MSG_DONE:
			ef_pol_put(d, m.pol);
			if (j && j->docker && j->docker->conns > 0)
				j->docker->conns--;
			/* a request still in flight when the job ended may have made
			 * a container after the job's cleanup: cleaned again */
			if (!j)
				ef_dk_reap(d, m.job, m.detail, false);
			break;
		case MSG_TAMPER: {
			struct ef_peer peer = { .pid = m.pid, .uid = m.uid, .gid = m.gid, .pidfd = -1 };

			m.detail[sizeof(m.detail) - 1] = '\0';
			if (j)
				ef_tamper_user(d, j, &peer, true, EF_R_TAMPER_DOCKER, EF_TAMPER_DOCKER,
					       m.detail);
			break;
		}
		case MSG_NETNS:
			if (j)
				ef_dns_netns_open_pid(d, j, m.pid);
			/* the container was frozen for it (watch_poll()) */
			if (j && strlen(m.id) == 64 && strspn(m.id, "0123456789abcdef") == 64) {
				char cg[EF_PATH_MAX + 80];

				snprintf(cg, sizeof(cg), "%s/%s", j->cgroup, m.id);
				ef_cgroup_freeze(cg, false);
			}
			break;
		case MSG_SELF:
		case MSG_STARTED:
			if (!j || !(dj = ef_dk_dj_of(j)))
				break;
			if (m.type == MSG_SELF) {
				memcpy(dj->self_id, m.id, sizeof(m.id));
				dj->last_pid = 0;
			}
			for (int k = 0; k < dj->n; k++)
				if (!strcmp(dj->c[k].id, m.id))
					goto known;
			if (dj->n >= CONTAINERS_MAX) {
				dj->n_more++;
				break;
			}
			memcpy(dj->c[dj->n].id, m.id, sizeof(m.id));
			memcpy(dj->c[dj->n].name, m.name, sizeof(m.name));
			memcpy(dj->c[dj->n].image, m.image, sizeof(m.image));
			dj->n++;
			dj->last_pid = 0;
			log_info("job %s: container %s (%.12s, %s) started", j->id, m.name, m.id,
				 m.image);
known:
			break;
		}
	}
}
