/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The Docker endpoint's declarations shared between its files, which
 * docker.c's top comment describes as one; the rest of egressd includes
 * docker.h alone.
 *
 *   docker.c             config, a connection's thread, the threads' reports
 *   docker_up.c          egressd's own requests to dockerd, blocking I/O
 *   docker_ctx.c         what docker_check.c asks: the job's containers,
 *                        networks, volumes, registries, bind sources
 *   docker_http.c        a request's head and body read, the answer relayed
 *   docker_serve.c       one request served: judged, written anew, relayed
 *   docker_containers.c  a job's containers: removed at its end, on spans
 */
#ifndef EF_DOCKER_INT_H
#define EF_DOCKER_INT_H

#include <limits.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <cjson/cJSON.h>

#include "docker_check.h"
#include "egressd.h"

#define HEAD_MAX (64 * 1024)
#define HEADERS_MAX 100
#define CONTAINERS_MAX 64	  /* listed on the job span, and named on spans */

enum { MSG_TAMPER = 1, MSG_DONE, MSG_STARTED, MSG_NETNS, MSG_REAPED, MSG_SELF };

struct msg {
	int type;
	char job[EF_JOB_ID_MAX + 1];
	pid_t pid;
	uid_t uid;
	gid_t gid;
	void *pol;
	char id[65];
	char name[128];
	char image[200];
	char detail[1024];
};
_Static_assert(sizeof(struct msg) <= PIPE_BUF, "a message is written whole");

struct ef_dk_job {
	int n;
	struct {
		char id[65];
		char name[128];
		char image[200];
	} c[CONTAINERS_MAX];
	int n_more;		/* started past CONTAINERS_MAX */
	bool reaping;		/* removal asked */
	int conns;		/* connections being served */
	uint64_t reap_ns;
	/* decisions name the container: the last process looked up */
	pid_t last_pid;
	uint64_t last_start;
	char last_id[65]; /* "": in none */
	/* a job started inside a container (container.c): its processes are
	 * in the job's cgroup, no longer in the container's */
	char self_id[65];
};

struct ef_dk_state {
	int kind; /* EF_EPK_DOCKER: first, the epoll tag's kind */
	int pipe[2];
	char upstream[EF_PATH_MAX];
	char run_dir[EF_PATH_MAX];
	atomic_int conns;
	atomic_uint mounts;
	ino_t host_netns;
};
extern struct ef_dk_state ef_dk;

/* What a thread knows of its job: a copy, taken by the main loop. */
struct conn {
	int fd;
	char job[EF_JOB_ID_MAX + 1];
	char cgroup_rel[EF_PATH_MAX];
	char cgroup_abs[EF_PATH_MAX];
	char workdir[EF_PATH_MAX]; /* "" if not known */
	char **binds;
	size_t n_binds;
	struct ef_pol_rec *pol; /* a reference: MSG_DONE gives it back */
	pid_t pid;
	uid_t uid;
	gid_t gid;
	/* this request */
	struct ef_dk_req req;
	char method[16];
	char name[128], image[200]; /* of the last container ef_dk_own_container() found */
	char rbuf[HEAD_MAX];
	size_t rlen;
};

struct head {
	char *method, *target, *proto;
	int n;
	char *name[HEADERS_MAX], *value[HEADERS_MAX];
	long long clen; /* -1: none */
	bool chunked, upgrade;
};

/* Buffered body reader over what follows the head in rbuf, then the fd. */
struct body {
	struct conn *c;
	size_t off; /* in rbuf */
	/* chunked state */
	bool chunked, done;
	unsigned long long left; /* of the current chunk, or of Content-Length */
};

/* The container a start names: once its first process (runc's init,
 * before it runs the container's command) is in the job's cgroup and a
 * network namespace of its own, the container's cgroup is frozen until the
 * main loop has opened the job's DNS proxy there and thaws it: the
 * container's first query finds the proxy. A second at most: then the
 * thread thaws it itself. */
struct watch {
	bool on, told, frozen;
	char cg[EF_PATH_MAX + 80];
	char procs[EF_PATH_MAX + 96];
	uint64_t until_ns, frozen_ns;
};

/* docker.c */
void ef_dk_post(const struct msg *m);
struct ef_dk_job *ef_dk_dj_of(struct ef_job_rec *j);

/* docker_up.c */
int ef_dk_write_all(int fd, const void *buf, size_t len);
ssize_t ef_dk_read_some(int fd, void *buf, size_t len);
int ef_dk_up_connect(void);
int ef_dk_up_send(const char *method, const char *path, const char *json, int *status,
		  char **resp);
int ef_dk_up_request(const char *method, const char *path, int *status, char **resp);
cJSON *ef_dk_up_json(const char *fmt, const char *ref, int *status);

/* docker_ctx.c */
bool ef_dk_ref_plain(const char *s);
bool ef_dk_labelled(const cJSON *labels, const char *job);
int ef_dk_own_container(void *arg, const char *ref, char id[65]);
int ef_dk_network_ok(void *arg, const char *name, char *why, size_t whylen);
int ef_dk_volume_ok(void *arg, const char *name, char *why, size_t whylen);
bool ef_dk_registry_ok(void *arg, const char *host, unsigned port);
int ef_dk_bind_source(void *arg, const char *src, char *out, size_t outlen, char *why,
		      size_t whylen);

/* docker_http.c */
int ef_dk_parse_head(char *buf, size_t hlen, struct head *h, char *why, size_t whylen);
ssize_t ef_dk_read_head(struct conn *c);
ssize_t ef_dk_body_read(struct body *b, char *out, size_t len);
int ef_dk_body_all(struct body *b, char **out, size_t *len);
void ef_dk_relay(struct conn *c, int up, bool hijack, struct watch *w, int *status,
		 const char *pend0, size_t npend0);

/* docker_serve.c */
void ef_dk_serve(struct conn *c);

/* docker_containers.c */
void ef_dk_reap(struct ef_daemon *d, const char *job, const char *cgroup_rel, bool stage);

#endif
