/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The Docker endpoint's judgement of a request (docker_check.c: routes,
 * docker_check_body.c: bodies): which route a request takes, and what a
 * container create, an exec create, a network or volume create may ask.
 * Pure: what needs dockerd or the file system (is this container the
 * job's, where does this bind path lead) is asked through the callbacks of
 * struct ef_dk_ctx, so that the unit tests and the fuzz target run it
 * alone.
 *
 * Every refusal fills `why` with a message for the Docker API error (the
 * docker CLI prints it) that names what was refused and, where there is
 * one, what to do instead; it is also the detail of the tamper span.
 */
#ifndef EF_DOCKER_CHECK_H
#define EF_DOCKER_CHECK_H

#include <stdbool.h>
#include <stddef.h>

/* the label every container, network and volume made through a job's
 * endpoint carries: its value is the job id */
#define EF_DK_LABEL "io.egress-fence.job"

enum ef_dk_route {
	EF_DK_REFUSE = 0,
	EF_DK_PASS,	   /* forward as it is */
	EF_DK_LIST,	   /* GET /containers/json: the job's own containers only */
	EF_DK_CREATE,	   /* POST /containers/create: body judged and rewritten */
	EF_DK_CONTAINER,   /* /containers/REF/...: the job's own; REF becomes its id */
	EF_DK_EXEC_CREATE, /* POST /containers/REF/exec: the same, and the body judged */
	EF_DK_UPDATE,	   /* POST /containers/REF/update: the same, and the body judged */
	EF_DK_EXEC,	   /* /exec/ID/...: an exec of one of the job's containers */
	EF_DK_PULL,	   /* POST /images/create: the registry is judged by the policy */
	EF_DK_PUSH,	   /* POST /images/NAME/push: the same */
	EF_DK_AUTH,	   /* POST /auth: the same, for the body's serveraddress */
	EF_DK_NET_CREATE,  /* POST /networks/create: a bridge of the job's own */
	EF_DK_NET_OWN,	   /* DELETE /networks/REF: the job's own network */
	EF_DK_NET_CONNECT, /* POST /networks/REF/(dis)connect: the body's container */
	EF_DK_VOL_CREATE,  /* POST /volumes/create: a local volume, no driver options */
	EF_DK_VOL_OWN,	   /* DELETE /volumes/NAME: the job's own volume */
	EF_DK_COMMIT,	   /* POST /commit (docker_serve.c): a container of the job's, no name,
			    * no egress-fence label in the body */
};

#define EF_DK_REF_MAX 256
#define EF_DK_TARGET_MAX 8192

struct ef_dk_req {
	enum ef_dk_route route;
	bool hijack;		     /* the connection becomes a raw stream after it */
	bool start;		     /* POST /containers/REF/start */
	bool remove;		     /* DELETE /containers/REF */
	char version[16];	     /* "/v1.41" or "" */
	char ref[EF_DK_REF_MAX];     /* the container, exec, network or volume named */
	char rest[EF_DK_TARGET_MAX]; /* the path after the ref ("/start"), with the query */
	char path[EF_DK_TARGET_MAX]; /* the path without the version, no query */
	char query[EF_DK_TARGET_MAX]; /* without the '?'; "" if none */
};

/*
 * The route of `method target`. Returns 0, or -EPERM with `why` (an
 * endpoint the job may not use), or -EINVAL with `why` (a target the
 * endpoint does not take: an escape, a dot segment, a ';').
 */
int ef_dk_route(const char *method, const char *target, struct ef_dk_req *r, char *why,
		size_t whylen);

/* s %-encoded for a query key or value (what is not A-Z a-z 0-9 - _ . ~),
 * cut to outlen. */
void ef_dk_query_escape(const char *s, char *out, size_t outlen);

/* The value of query parameter `name`, %-decoded, into out. 1 found, 0 not,
 * -EINVAL if it is there twice or does not decode. */
int ef_dk_query_get(const char *query, const char *name, char *out, size_t outlen);

struct ef_dk_ctx {
	const char *job_id;
	const char *cgroup_parent; /* the job's cgroup, from the cgroup root */
	/* the job may have CAP_NET_RAW (policy/caps.c: sockets.raw or .packet,
	 * or audit mode); if not, its containers are created without it */
	bool net_raw;
	void *arg;
	/* 0 and the full id in id[65] if ref names a container of the job;
	 * -ENOENT if not (no such container, or another's); -EIO dockerd */
	int (*own_container)(void *arg, const char *ref, char id[65]);
	/* 0 and the path dockerd is to bind in out, or -EPERM and why */
	int (*bind_source)(void *arg, const char *src, char *out, size_t outlen, char *why,
			   size_t whylen);
	/* 0 if the container may join network `name`, else -EPERM and why */
	int (*network_ok)(void *arg, const char *name, char *why, size_t whylen);
	/* 0 if named volume `name` may be mounted, else -EPERM and why */
	int (*volume_ok)(void *arg, const char *name, char *why, size_t whylen);
	/* true if the policy lets the job reach this registry (port 443 unless given) */
	bool (*registry_ok)(void *arg, const char *host, unsigned port);
};

/* Bodies are refused above this; a create is a few KiB. */
#define EF_DK_BODY_MAX (1u << 20)

/*
 * A JSON body of route r->route (CREATE, EXEC_CREATE, UPDATE, NET_CREATE,
 * NET_CONNECT, VOL_CREATE, AUTH), judged. 0: *out (malloc'd, NUL-ended) is
 * the body to forward: written anew from the parsed tree, so that dockerd
 * reads what was judged, with the job's label and cgroup put in. -EPERM:
 * refused, -EINVAL: malformed, -ENOMEM; `why` says.
 */
int ef_dk_check_body(const struct ef_dk_ctx *x, const struct ef_dk_req *r, const char *body,
		     size_t len, char **out, char *why, size_t whylen);

/* The registry host of an image reference and its port (443 if none):
 * "busybox" -> registry-1.docker.io, "ghcr.io/a/b:1" -> ghcr.io,
 * "localhost:5000/x" -> localhost, 5000. -EINVAL if malformed. */
int ef_dk_registry(const char *ref, char *host, size_t hostlen, unsigned *port);

#endif
