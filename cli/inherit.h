/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Inherited descriptors egressctl run does not hand the command (inherit.c):
 * sockets and anything else that reaches the network, or another process's
 * sockets, by a path the job's cgroup programs never see.
 */
#ifndef EF_INHERIT_H
#define EF_INHERIT_H

#include <stdbool.h>
#include <sys/types.h>

/* What one descriptor is, as far as the decision needs (fstat, the
 * /proc/self/fd link text, SO_DOMAIN for a socket). */
struct ef_fd_info {
	int fd;
	mode_t mode;	   /* st_mode */
	dev_t rdev;	   /* st_rdev, for character devices */
	const char *link;  /* readlink of /proc/self/fd/N, "" if unknown */
	int domain;	   /* SO_DOMAIN of a socket, -1 if unknown */
	bool files;	   /* a root job's: regular files above 2 go too */
};

/* The kind to close it as ("inet", "inet6", "unix", "netlink", "packet",
 * "socket", "io_uring", "bpf", "pidfd", "namespace", "tun", "directory",
 * and with fi->files "file"), or NULL: it
 * stays (pipes, files, terminals, other devices, event fds...). */
const char *ef_fd_close_kind(const struct ef_fd_info *fi);

#define EF_INHERIT_KINDS 16
struct ef_inherited {
	int closed;			   /* descriptors closed */
	int n_kinds;
	const char *kinds[EF_INHERIT_KINDS]; /* distinct kinds, first seen first */
	int count[EF_INHERIT_KINDS];
	bool truncated;			   /* more fds than the message names */
	char fds[256];			   /* "3, 7, 9" */
};

/* Close (0..2: replace with /dev/null) every inherited descriptor whose
 * kind is not NULL, but keep_fd. 0, or -errno when the descriptors cannot
 * be listed (the caller must not run the command then). */
int ef_close_inherited(struct ef_inherited *out, int keep_fd, bool files);

#endif /* EF_INHERIT_H */
