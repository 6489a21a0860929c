/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Tearing down the connections a changed policy no longer allows (revoke.c). */
#ifndef EF_REVOKE_H
#define EF_REVOKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ef_daemon;
struct ef_job_rec;
struct ef_pol_rec;
struct ef_compiled;

/* One job whose policy changed: the version it was judged by and the one it
 * is judged by now, each with its address entries compiled. */
struct ef_revoke_job {
	struct ef_job_rec *j;
	const struct ef_pol_rec *old_pol, *new_pol;
	const struct ef_compiled *old_c, *new_c;
	size_t closed; /* out: connections of this job torn down */
};

struct ef_revoke_res {
	size_t examined; /* connected sockets of the jobs judged */
	size_t closed;
	size_t failed;
};

/* The sockets the first pass judged (by cookie), so the second judges only
 * the others. */
struct ef_revoke_seen {
	uint64_t *cookie;
	size_t n, cap;
};

/*
 * Judge every connected socket of the jobs. First pass (second == false):
 * destroy those the new version denies and the old did not, and note the
 * cookies of all judged in `seen` (may be NULL). Second pass: destroy those
 * not in `seen` that the new version denies. Returns 0 or the first -errno
 * (the other namespaces are still done); res counts what was done.
 */
int ef_revoke(struct ef_daemon *d, struct ef_revoke_job *jobs, size_t n_jobs,
	      struct ef_revoke_seen *seen, bool second, struct ef_revoke_res *res);
void ef_revoke_seen_free(struct ef_revoke_seen *s);

/* enum ef_verdict of a connection from job j to the peer under version pr
 * (c: its compiled address entries), as the BPF programs would decide a
 * connect, except that learned addresses do not expire. `own`: the peer is
 * a listener (or bound UDP socket) of the job itself. */
int ef_revoke_verdict(struct ef_daemon *d, const struct ef_job_rec *j, const struct ef_pol_rec *pr,
		      const struct ef_compiled *c, uint8_t family, const uint8_t addr[16],
		      uint16_t port, uint8_t proto_bit, bool own);

#endif /* EF_REVOKE_H */
