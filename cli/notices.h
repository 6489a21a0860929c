/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * egressctl run's supervisor (issue 19): a parent that stays outside the
 * job while the child becomes it. The parent watches the job on egressd's
 * control socket (daemon/notices/notices.h), prints the first refusal of each
 * (process, destination, reason) on stderr as it happens, writes the same
 * notices as JSON lines to EGRESS_FENCE_NOTICES, forwards the signals sent
 * to it, and exits as the command did (--fail-on-deny: non-zero when
 * anything was refused or flagged).
 */
#ifndef EF_NOTICES_H
#define EF_NOTICES_H

#include <stdbool.h>
#include <cjson/cJSON.h>

#define EXIT_DENIED 122 /* --fail-on-deny: the command succeeded, but the job had refusals */

struct sup_opts {
	bool quiet;	      /* no notices on stderr */
	bool fail_on_deny;    /* --fail-on-deny (the policy may say so too) */
	const char *notices;  /* JSON lines file, or NULL */
};

struct sup {
	int id_fd; /* the child's: where it writes the job id */
	int go_fd; /* the child's: where the parent says go ('g') or not */
};

/*
 * Fork. In the child: returns 0 with s filled. In the parent: never
 * returns; it exits with the command's status (or raises its signal).
 * -1 (and a message) if the fork could not be made.
 */
int sup_fork(const struct sup_opts *o, const char *cmd, struct sup *s);

/* In the child, fenced and just before exec: tell the parent the job (and
 * whether its policy fails on deny, as egressd's "run" reply said: the
 * parent must not lose that if its own watch fails), and wait for it to
 * watch. 0: go; -1: the parent refused (it said why). */
int sup_ready(struct sup *s, const char *job_id, bool fail_on_deny);

/* One notice as a line of words (no newline), for stderr; exposed for the
 * unit tests. The allow command is added to n as "allow_command" when one
 * applies. Returns a malloc'd string or NULL. */
char *sup_notice_text(cJSON *n);

#endif
