// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Same-user isolation. An unprivileged job runs as the user that started
 * it, and so do processes outside the fence: the CI runner's shell that ran
 * `egressctl run`, its agent, a language server. Without Yama
 * (ptrace_scope >= 1) the job could ptrace one of them, write its memory
 * through /proc/PID/mem or process_vm_writev(), or take its sockets with
 * pidfd_getfd(), and make it send the data unfenced.
 *
 * So egressctl run puts an unprivileged job in a user namespace of its
 * own, its uid and gid mapped to themselves: file ownership, ids and
 * permissions stay what they were (a job cannot gain anything, the
 * mapping is the one any user may make), but every one of those calls
 * goes through the kernel's ptrace access check, and commoncap
 * (cap_ptrace_access_check) refuses a tracer in a child user namespace
 * that lacks CAP_SYS_PTRACE in the target's namespace: the job can trace
 * its own processes and no one else's. A capability the namespace gives
 * egressctl is gone at exec (the job's uid is not root in it), and
 * no_new_privs is set all the same, as the kernel would otherwise not
 * demand it for the seccomp filter.
 *
 * The same step gives the job a mount namespace where the host's resolver
 * sockets are covered (hide_resolvers() below).
 *
 * Root jobs are not put in a namespace: root in a child namespace is not
 * root on the host's files (part 2 of the hostile-job work covers them).
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "userns.h"

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), ret = 0;
	size_t n = strlen(text);

	if (fd < 0)
		return -errno;
	if (write(fd, text, n) != (ssize_t)n)
		ret = -errno;
	close(fd);
	return ret;
}

/*
 * Resolver services of the host answer over unix sockets: a job that asks
 * them has a name looked up from outside the fence, past the job's DNS
 * proxy (no judgement, no tunnel detector, no record). In the job's own
 * mount namespace (a slave of the host's: nothing made here goes back) each
 * such socket is covered by /dev/null, so connecting to it is refused and
 * glibc falls back to resolv.conf, whose queries the fence takes to the
 * proxy. The covers are locked to the namespace: the job, without
 * capabilities in it, cannot unmount them, nor can a namespace it makes.
 */
static const char *const resolver_sockets[] = {
	"/run/systemd/resolve/io.systemd.Resolve",	   /* systemd-resolved, varlink */
	"/run/systemd/resolve/io.systemd.Resolve.Monitor",
	"/run/nscd/socket",				   /* nscd */
	"/var/run/nscd/socket",
};

static int hide_resolvers(char *why, size_t len)
{
	struct stat st;

	int e;

	if (unshare(CLONE_NEWNS) != 0 || mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) != 0) {
		e = errno;
		snprintf(why, len, "a mount namespace for the job: %s", strerror(e));
		return -e;
	}
	for (size_t i = 0; i < sizeof(resolver_sockets) / sizeof(resolver_sockets[0]); i++) {
		const char *p = resolver_sockets[i];

		if (lstat(p, &st) != 0 || !S_ISSOCK(st.st_mode))
			continue;
		if (mount("/dev/null", p, NULL, MS_BIND, NULL) != 0) {
			e = errno;
			snprintf(why, len, "covering %s: %s", p, strerror(e));
			return -e;
		}
	}
	return 0;
}

int ef_userns_isolate(char *why, size_t len)
{
	uid_t uid = geteuid();
	gid_t gid = getegid();
	char map[64];
	int ret;

	/* a set-id caller keeps ids the one-line map cannot hold */
	if (uid != getuid() || gid != getgid()) {
		snprintf(why, len, "real and effective ids differ");
		return 1;
	}
	if (unshare(CLONE_NEWUSER) != 0) {
		snprintf(why, len, "this host refuses unprivileged user namespaces (%s)",
			 strerror(errno));
		return 1;
	}
	snprintf(map, sizeof(map), "%u %u 1\n", (unsigned)uid, (unsigned)uid);
	ret = write_file("/proc/self/setgroups", "deny");
	if (!ret)
		ret = write_file("/proc/self/uid_map", map);
	snprintf(map, sizeof(map), "%u %u 1\n", (unsigned)gid, (unsigned)gid);
	if (!ret)
		ret = write_file("/proc/self/gid_map", map);
	if (ret) {
		/* half made: the process is in a namespace where it is nobody */
		snprintf(why, len, "mapping the job's ids in its user namespace: %s",
			 strerror(-ret));
		return ret;
	}
	ret = hide_resolvers(why, len);
	if (ret)
		return ret;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
		ret = -errno;
		snprintf(why, len, "no_new_privs: %s", strerror(errno));
		return ret;
	}
	return 0;
}
