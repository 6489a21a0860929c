/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Containers. A job's own Docker endpoint (docker.c): what a job whose
 * policy says "docker" reaches at /run/docker.sock, in front of the host's
 * dockerd. The host's container runtimes, out of a job's reach
 * (runtimes.c). Jobs started inside a container (container.c).
 */
#ifndef EF_DOCKER_H
#define EF_DOCKER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "container.h"

struct ef_daemon;
struct ef_job_rec;
struct ef_peer;
struct ef_span;
struct ef_event;
struct ef_runtime;
struct cJSON;

/* the runtime socket whose cover is the endpoint in a job with "docker" */
#define EF_DOCKER_ENDPOINT "/run/docker.sock"

/* config "docker": {"socket": PATH} (dockerd's socket; default
 * /run/docker.sock) */
int ef_docker_config(struct ef_daemon *d, const struct cJSON *v, const char *where);
int ef_docker_setup(struct ef_daemon *d);
void ef_docker_close(struct ef_daemon *d);
/* A job's connection to the endpoint's cover: 0 taken (served by a thread
 * of its own), else the caller answers as for any runtime's cover. */
int ef_docker_take(struct ef_daemon *d, struct ef_job_rec *j, const struct ef_peer *peer,
		   int fd);
/* the endpoint's threads' reports (epoll tag EF_EPK_DOCKER) */
void ef_docker_io(struct ef_daemon *d);
/* once a second: a job whose own processes are gone has its containers
 * removed (they keep its cgroup populated) */
void ef_docker_tick(struct ef_daemon *d);
/* the job has ended: its containers, networks and bind mounts go */
void ef_docker_job_end(struct ef_daemon *d, struct ef_job_rec *j);
/* container.* attributes of a decision by process pid of job j */
void ef_docker_span(struct ef_daemon *d, struct ef_span *s, const struct ef_job_rec *j,
		    pid_t pid, uint64_t start_ns);
/* the job span's list of containers */
void ef_docker_job_span(struct ef_span *s, const struct ef_job_rec *j);
void ef_docker_job_free(struct ef_job_rec *j);
/* dockerd's socket (config "docker.socket") */
const char *ef_docker_upstream(void);
/* job j was started by pid in a cgroup of container id (container.c):
 * if dockerd's container of that id has pid in its pid namespace, the
 * job's decisions name it, and the job span lists it with dockerd's name
 * and image */
void ef_docker_self(struct ef_daemon *d, struct ef_job_rec *j, const char *id, pid_t pid);

/* runtimes.c: the host's container runtimes, out of a job's reach */
int ef_runtimes_config(struct ef_daemon *d, const struct cJSON *v, const char *where);
int ef_runtimes_setup(struct ef_daemon *d);
void ef_runtimes_accept(struct ef_daemon *d, struct ef_runtime *r);
void ef_runtimes_status(const struct ef_daemon *d, struct cJSON *o);
void ef_runtimes_close(struct ef_daemon *d);
void ef_runtimes_conn_io(struct ef_daemon *d, void *tag);
void ef_runtimes_tick(struct ef_daemon *d);

#endif
