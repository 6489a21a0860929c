/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The control socket, and who may do what through it (the config
 * file's "access" section).
 */
#ifndef EF_CONTROL_CONTROL_H
#define EF_CONTROL_CONTROL_H

#include "egressd.h"
#include "notice.h"

int ef_peer_pidfd(struct ef_daemon *d, int fd, pid_t pid, uint64_t accepted_ns);
int ef_pidfd_job(struct ef_daemon *d, int pidfd, struct ef_job_rec **job, pid_t *pid);
int ef_control_setup(struct ef_daemon *d);
void ef_control_accept(struct ef_daemon *d);
void ef_control_tick(struct ef_daemon *d); /* drops idle clients */
void ef_control_io(struct ef_daemon *d, struct ef_client *c, uint32_t events);
void ef_control_close(struct ef_daemon *d);

/* access.c: who may do what (config "access") */
int ef_access_config(struct ef_access *a, const cJSON *sec, const char *path);
void ef_access_free(struct ef_access *a);
bool ef_access_admin(const struct ef_daemon *d, const struct ef_peer *peer);
int ef_access_policy_change(const struct ef_daemon *d, const struct ef_peer *peer, char *err,
			    size_t errlen);

/* May peer start jobs? 0 with *g the access.run entry that applies (NULL:
 * no restriction: root, or no access section), or -EPERM with the reason. */
int ef_access_run_grant(const struct ef_daemon *d, const struct ef_peer *peer,
			const struct ef_run_grant **g, char *err, size_t errlen);

/* May a job of entry g run under the policy it chose (asked: the NAME, or
 * NULL for a file; text: the policy's text)? 0 or -EPERM with the reason. */
int ef_access_run_policy(const struct ef_daemon *d, const struct ef_peer *peer,
			 const struct ef_run_grant *g, const char *asked, const char *text,
			 size_t len, char *err, size_t errlen);
int ef_access_socket(const struct ef_daemon *d, const char *path);
const char *ef_peer_name(const struct ef_peer *peer, char *out, size_t len); /* "uid N (name)" */
const char *ef_peer_user(const struct ef_peer *peer, char *out, size_t len); /* name or NULL */

/* policy_ops.c: egressctl policy apply|add|remove */
int ef_policy_op(struct ef_daemon *d, const char *op, const cJSON *req, const struct ef_peer *peer,
		 cJSON *reply, char *err, size_t errlen);

#endif /* EF_CONTROL_CONTROL_H */
