// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * egressctl run closes, before exec, what the command must not inherit.
 *
 * A socket keeps the cgroup it was created in: one made outside the job
 * and inherited is judged by nobody (a connected TCP socket needs no
 * connect() to send). So are, by the same token:
 *   - an io_uring instance: requests run in the kernel's io-wq workers
 *     with the creator's files and sockets;
 *   - a pidfd: pidfd_getfd() takes a copy of any descriptor of that
 *     process, its sockets included;
 *   - a namespace descriptor (net:[...], mnt:[...]...): setns() into the
 *     host's or another network namespace;
 *   - a BPF object (map, program, link): the fence's own maps, or a
 *     program to attach elsewhere;
 *   - a TUN/TAP, vhost-net, vhost-vsock or PPP device: writes become
 *     packets on an interface outside the job, never through a socket;
 *   - a directory: openat() from it resolves in the host's mount tree,
 *     not the job's, where the host's service sockets are covered.
 * Pipes, files, terminals, other devices and event descriptors stay; a
 * root job's regular files above 2 go too (their paths are copy-on-write
 * for it, the descriptors are not).
 *
 * Unix sockets are closed too (the peer outside the job may relay what it
 * is sent), except on descriptors 0, 1 and 2: there a unix socket is the
 * job's standard input or output, chosen by whoever started egressctl,
 * like a pipe (systemd connects a service's stdout to journald so). Any
 * other closed kind on 0..2 becomes /dev/null, so that the number is not
 * reused by the next open() of the command.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "inherit.h"

static bool ns_link(const char *l)
{
	const char *b = strchr(l, ':');
	size_t i;

	/* "<type>:[<inode>]" for nsfs files; paths start with '/' */
	if (!b || b == l || l[0] == '/' || b[1] != '[')
		return false;
	for (const char *p = l; p < b; p++)
		if (!((*p >= 'a' && *p <= 'z') || *p == '_'))
			return false;
	for (i = 2; b[i] >= '0' && b[i] <= '9'; i++)
		;
	return i > 2 && b[i] == ']' && b[i + 1] == '\0';
}

static const char *family_kind(int domain)
{
	switch (domain) {
	case AF_INET:
		return "inet";
	case AF_INET6:
		return "inet6";
	case AF_UNIX:
		return "unix";
	case AF_NETLINK:
		return "netlink";
	case AF_PACKET:
		return "packet";
	}
	return "socket";
}

const char *ef_fd_close_kind(const struct ef_fd_info *fi)
{
	const char *l = fi->link ? fi->link : "";

	if (S_ISSOCK(fi->mode) || !strncmp(l, "socket:[", 8)) {
		const char *k = family_kind(fi->domain);

		if (!strcmp(k, "unix") && fi->fd >= 0 && fi->fd <= 2)
			return NULL;
		return k;
	}
	if (S_ISCHR(fi->mode)) {
		unsigned ma = major(fi->rdev), mi = minor(fi->rdev);

		/* misc 200 /dev/net/tun, 238 vhost-net, 241 vhost-vsock; 108 ppp */
		if ((ma == 10 && (mi == 200 || mi == 238 || mi == 241)) || ma == 108)
			return "tun";
		return NULL;
	}
	/* openat(fd, "..") walks the host's mount tree, under the covers of the
	 * job's mount namespace (userns.c) */
	if (S_ISDIR(fi->mode))
		return "directory";
	if (!strcmp(l, "anon_inode:[io_uring]"))
		return "io_uring";
	if (!strncmp(l, "anon_inode:bpf", 14))
		return "bpf";
	if (!strcmp(l, "anon_inode:[pidfd]") || !strncmp(l, "pidfd:[", 7))
		return "pidfd";
	if (strncmp(l, "pipe:[", 6) && ns_link(l))
		return "namespace";
	/* a root job's copy-on-write layer (overlay.c) is over the paths: a
	 * file descriptor is the host's file itself, and /proc/self/fd/N
	 * opens it again for writing, however it was opened */
	if (fi->files && fi->fd > 2 && S_ISREG(fi->mode))
		return "file";
	return NULL;
}

static void note(struct ef_inherited *out, int fd, const char *kind)
{
	size_t l = strlen(out->fds);
	int k;

	out->closed++;
	for (k = 0; k < out->n_kinds && strcmp(out->kinds[k], kind); k++)
		;
	if (k == out->n_kinds && k < EF_INHERIT_KINDS) {
		out->kinds[k] = kind;
		out->count[k] = 0;
		out->n_kinds++;
	}
	if (k < EF_INHERIT_KINDS)
		out->count[k]++;
	if (l + 16 < sizeof(out->fds))
		snprintf(out->fds + l, sizeof(out->fds) - l, "%s%d", l ? ", " : "", fd);
	else
		out->truncated = true;
}

int ef_close_inherited(struct ef_inherited *out, int keep_fd, bool files)
{
	int fds[1024], n = 0, dfd, ret = 0;
	bool more = true;
	struct dirent *de;
	DIR *dir;

	memset(out, 0, sizeof(*out));
	/* in rounds: closing while reading the directory would skew it */
	while (more) {
		more = false;
		n = 0;
		dir = opendir("/proc/self/fd");
		if (!dir)
			return -errno;
		dfd = dirfd(dir);
		while ((de = readdir(dir))) {
			char path[64], link[256];
			struct ef_fd_info fi = { .domain = -1, .link = link, .files = files };
			socklen_t sl = sizeof(fi.domain);
			struct stat st;
			const char *kind;
			ssize_t r;
			char *end;
			long fd = strtol(de->d_name, &end, 10);

			if (*end || end == de->d_name || fd == dfd || fd == keep_fd)
				continue;
			if (fstat((int)fd, &st))
				continue;
			fi.fd = (int)fd;
			fi.mode = st.st_mode;
			fi.rdev = st.st_rdev;
			snprintf(path, sizeof(path), "/proc/self/fd/%ld", fd);
			r = readlink(path, link, sizeof(link) - 1);
			link[r > 0 ? r : 0] = '\0';
			if (S_ISSOCK(st.st_mode) &&
			    getsockopt((int)fd, SOL_SOCKET, SO_DOMAIN, &fi.domain, &sl))
				fi.domain = -1;
			kind = ef_fd_close_kind(&fi);
			if (!kind)
				continue;
			if (n == (int)(sizeof(fds) / sizeof(fds[0]))) {
				more = true;
				break;
			}
			note(out, (int)fd, kind);
			fds[n++] = (int)fd;
		}
		closedir(dir);
		for (int i = 0; i < n; i++) {
			if (fds[i] <= 2) {
				int nul = open("/dev/null", O_RDWR | O_CLOEXEC);

				if (nul < 0 || dup2(nul, fds[i]) < 0)
					ret = -errno;
				if (nul >= 0 && nul != fds[i])
					close(nul);
			} else if (close(fds[i]) && errno != EINTR) {
				ret = -errno;
			}
		}
		if (ret)
			return ret;
	}
	return 0;
}
