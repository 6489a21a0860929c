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
 * The same step gives the job a mount namespace where the host's services
 * that act for whoever asks are covered (hide_host_services() below).
 *
 * Root jobs are not put in a namespace: root in a child namespace is not
 * root on the host's files (part 2 of the hostile-job work covers them).
 */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bus_addr.h"
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
 * Services of the host that act for whoever connects: a resolver looks a
 * name up, a bus or a service manager starts a process, a terminal
 * multiplexer types a command into a shell. What they do happens outside
 * the fence, past the job's DNS proxy and hooks (no judgement, no tunnel
 * detector, no record). In the job's own mount namespace (a slave of the
 * host's: nothing made here goes back) their endpoints are covered:
 *
 * - sockets whose directory the job needs (systemd-resolved's sit next to
 *   the resolv.conf that /etc/resolv.conf names) by /dev/null, so
 *   connecting is refused and glibc falls back to resolv.conf, whose
 *   queries the fence takes to the proxy; so is the session bus named by
 *   DBUS_SESSION_BUS_ADDRESS (unix:path=);
 * - directories of sockets by an empty tmpfs, which also hides a socket
 *   made there after the job started: the D-Bus system bus (resolve1,
 *   systemd1, and whatever else is on it), the user's runtime directory
 *   (its session bus, its systemd --user manager, gpg-agent's dirmngr, which
 *   fetches keys from a server the job names), tmux's and screen's
 *   directories. The job gets a private, writable one of each it can use
 *   (its own XDG_RUNTIME_DIR, its own tmux server).
 *
 * The covers are locked to the namespace: the job, without capabilities in
 * it, cannot unmount them, nor can a namespace it makes. Not covered: a
 * directory that did not exist when the job started, an abstract unix
 * socket (per network namespace, which the job shares with the host), and
 * any other socket of a same-user process (docs/threat-model.md).
 */
static const char *const host_sockets[] = {
	"/run/systemd/resolve/io.systemd.Resolve",	   /* systemd-resolved, varlink */
	"/run/systemd/resolve/io.systemd.Resolve.Monitor",
	"/run/nscd/socket",				   /* nscd */
	"/var/run/nscd/socket",
};

/* "%u": the job's uid; "%s": its user name */
static const char *const host_dirs[] = {
	"/run/dbus",	 /* the system bus */
	"/var/run/dbus",
	"/run/user/%u",	 /* XDG_RUNTIME_DIR: session bus, systemd --user, gpg-agent */
	"/tmp/tmux-%u",	 /* tmux's server sockets */
	"/run/screen/S-%s", /* screen's */
	"/var/run/screen/S-%s",
};

static int cover_socket(const char *p, char *why, size_t len)
{
	struct stat st;
	int e;

	if (lstat(p, &st) != 0 || !S_ISSOCK(st.st_mode))
		return 0;
	if (mount("/dev/null", p, NULL, MS_BIND, NULL) == 0)
		return 0;
	e = errno;
	snprintf(why, len, "covering %s: %s", p, strerror(e));
	return -e;
}

static int cover_dir(const char *p, char *why, size_t len)
{
	struct stat st;
	int e;

	/* lstat: a directory, not a link the user made to one elsewhere */
	if (lstat(p, &st) != 0 || !S_ISDIR(st.st_mode))
		return 0;
	if (mount("tmpfs", p, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0700,size=10%") == 0)
		return 0;
	e = errno;
	snprintf(why, len, "covering %s: %s", p, strerror(e));
	return -e;
}

/* the session bus DBUS_SESSION_BUS_ADDRESS names, each unix:path= of it */
static int cover_session_bus(char *why, size_t len)
{
	const char *a = getenv("DBUS_SESSION_BUS_ADDRESS");
	char path[4096];

	while (a && ef_bus_next_path(&a, path, sizeof(path))) {
		int ret = cover_socket(path, why, len);

		if (ret)
			return ret;
	}
	return 0;
}

static int hide_host_services(char *why, size_t len)
{
	char p[512], name[256] = "";
	struct passwd pw, *got = NULL;
	char buf[4096];
	int ret, e;

	if (unshare(CLONE_NEWNS) != 0 || mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) != 0) {
		e = errno;
		snprintf(why, len, "a mount namespace for the job: %s", strerror(e));
		return -e;
	}
	for (size_t i = 0; i < sizeof(host_sockets) / sizeof(host_sockets[0]); i++) {
		ret = cover_socket(host_sockets[i], why, len);
		if (ret)
			return ret;
	}
	ret = cover_session_bus(why, len);
	if (ret)
		return ret;
	if (getpwuid_r(geteuid(), &pw, buf, sizeof(buf), &got) == 0 && got &&
	    strlen(pw.pw_name) < sizeof(name) && !strchr(pw.pw_name, '/'))
		snprintf(name, sizeof(name), "%s", pw.pw_name);
	for (size_t i = 0; i < sizeof(host_dirs) / sizeof(host_dirs[0]); i++) {
		const char *d = host_dirs[i], *f = strchr(d, '%');

		if (f && f[1] == 'u')
			snprintf(p, sizeof(p), "%.*s%u%s", (int)(f - d), d, (unsigned)geteuid(),
				 f + 2);
		else if (f && f[1] == 's' && name[0])
			snprintf(p, sizeof(p), "%.*s%s%s", (int)(f - d), d, name, f + 2);
		else if (f)
			continue;
		else
			snprintf(p, sizeof(p), "%s", d);
		ret = cover_dir(p, why, len);
		if (ret)
			return ret;
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
	ret = hide_host_services(why, len);
	if (ret)
		return ret;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
		ret = -errno;
		snprintf(why, len, "no_new_privs: %s", strerror(errno));
		return ret;
	}
	return 0;
}
