// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Who is calling: the process behind a connection to one of egressd's
 * sockets (the control socket, the covers of container runtimes' sockets),
 * held by a pidfd, and the job it is in now.
 */
#include <errno.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "egressd.h"
#include "access.h"
#include "registry/registry.h"
#include "lib/cgroup.h"
#include "lib/procinfo.h"
#include "lib/util.h"

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77 /* Linux 6.5 */
#endif
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

/* The connector's pidfd: SO_PEERPIDFD, or (before Linux 6.5) pidfd_open of
 * the SO_PEERCRED pid, which is the connector only if it has not exited and
 * its pid been taken since the connect: a process started after the accept
 * is refused at least. -1 if none. */
int ef_peer_pidfd(struct ef_daemon *d, int fd, pid_t pid, uint64_t accepted_ns)
{
	socklen_t sl = sizeof(int);
	uint64_t start;
	int pidfd = -1;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERPIDFD, &pidfd, &sl) == 0 && pidfd >= 0)
		return pidfd;
	if (pid <= 0)
		return -1;
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0)
		return -1;
	/* the start time read must be of the process the pidfd holds */
	if (ef_proc_start_ns(d->procs, pid, &start) || start > accepted_ns ||
	    ef_pidfd_exited(pidfd)) {
		close(pidfd);
		return -1;
	}
	return pidfd;
}

/* The job the process a pidfd holds is in now: 0 with *job (NULL: none)
 * and *pid; -ESRCH if it has exited, -EIO if that cannot be told. The pid
 * is the process's while the pidfd says it has not exited, so its cgroup
 * is read between two looks at the pidfd. */
int ef_pidfd_job(struct ef_daemon *d, int pidfd, struct ef_job_rec **job, pid_t *pid)
{
	char cg[EF_PATH_MAX];
	pid_t p;

	*job = NULL;
	*pid = 0;
	if (pidfd < 0)
		return -EIO;
	p = ef_pidfd_pid(pidfd);
	if (p == -1 || p == 0 || ef_pidfd_exited(pidfd))
		return p == 0 ? -EIO : -ESRCH;
	if (p < 0)
		return -EIO;
	if (ef_cgroup_of_pid(p, cg, sizeof(cg)))
		return ef_pidfd_exited(pidfd) ? -ESRCH : -EIO;
	if (ef_pidfd_exited(pidfd) || ef_pidfd_pid(pidfd) != p)
		return -ESRCH;
	*job = ef_job_of_cgroup(d, cg);
	*pid = p;
	return 0;
}
