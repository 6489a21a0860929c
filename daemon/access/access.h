/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Who is calling (peer.c), and who may do what (access.c: the config
 * file's "access" section).
 */
#ifndef EF_ACCESS_ACCESS_H
#define EF_ACCESS_ACCESS_H

#include "egressd.h"

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

/* peer.c: the connector's pidfd (SO_PEERPIDFD, else pidfd_open of a pid that
 * was not started after accepted_ns); -1 if none */
int ef_peer_pidfd(struct ef_daemon *d, int fd, pid_t pid, uint64_t accepted_ns);
/* the job the process a pidfd holds is in now (*job NULL: none); -ESRCH if
 * it has exited, -EIO if that cannot be told */
int ef_pidfd_job(struct ef_daemon *d, int pidfd, struct ef_job_rec **job, pid_t *pid);

#endif /* EF_ACCESS_ACCESS_H */
