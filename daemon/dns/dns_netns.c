// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The DNS proxy in other network namespaces. A job's queries are taken to
 * loopback and its proxy's port (bpf/lib/dns.bpf.h) in whatever network
 * namespace they are sent from: egressd's, or a container's, a rootless
 * Podman's, one of `unshare -n`. In another one nothing listened there, so
 * a container in a job had no DNS. Now the first query from such a
 * namespace tells egressd (EF_K_NETNS: the job, the namespace's cookie, the
 * asker's pid), and egressd opens the job's proxy sockets there, on the
 * same port: it enters the namespace (setns, this thread only), binds, and
 * comes back. The sockets keep their namespace, and the proxy serves them
 * like the others (the same job, policy, records).
 *
 * The asker's /proc/PID/ns/net is only taken if it is the namespace the
 * record names (its cookie read again inside): a pid reused, or a process
 * that moved on, opens nothing. An asker gone before egressd read its
 * record leaves the job's other processes to look through for one in that
 * namespace. A namespace where the sockets cannot be
 * made (loopback down, the port taken there) is tried again after
 * EF_DNS_NET_RETRY_NS, at the job's next query. A job has at most
 * EF_DNS_NETS_MAX namespaces with a proxy; the sockets hold their
 * namespace until the job ends.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "egressd.h"
#include "registry/registry.h"
#include "dns.h"
#include "dnsproxy.h"
#include "lib/cgroup.h"
#include "lib/util.h"
#include "fence.skel.h"

#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71 /* Linux 5.14 */
#endif

#define EF_DNS_NET_RETRY_NS (1000ull * 1000000ull)

/* the cookie of the network namespace this thread is in; 0 if unknown */
static uint64_t netns_cookie(void)
{
	uint64_t c = 0;
	socklen_t l = sizeof(c);
	int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (s < 0)
		return 0;
	if (getsockopt(s, SOL_SOCKET, SO_NETNS_COOKIE, &c, &l))
		c = 0;
	close(s);
	return c;
}

int ef_dns_netns_init(struct ef_daemon *d)
{
	struct ef_dns_net_key k;
	int fd = bpf_map__fd(d->skel->maps.ef_dns_nets);
	__u32 zero = 0;

	d->netns_fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	d->netns_cookie = netns_cookie();
	if (d->netns_fd < 0 || !d->netns_cookie) {
		log_err("egressd's own network namespace (/proc/self/ns/net, SO_NETNS_COOKIE: "
			"Linux 5.14): %s", strerror(errno));
		return -1;
	}
	/* namespaces told to an egressd before this one have no proxy now:
	 * their jobs' next queries tell again */
	/* bounded: jobs may be adding entries meanwhile */
	for (int i = 0; i < 4 * 4096 + 64 && !bpf_map_get_next_key(fd, NULL, &k); i++)
		if (bpf_map_delete_elem(fd, &k))
			break;
	if (bpf_map_update_elem(bpf_map__fd(d->skel->maps.ef_host_netns), &zero,
				&d->netns_cookie, BPF_ANY)) {
		log_err("writing egressd's network namespace to ef_host_netns: %s",
			strerror(errno));
		return -1;
	}
	return 0;
}

static void forget(struct ef_daemon *d, uint64_t job, uint64_t cookie)
{
	struct ef_dns_net_key k = { .job = job, .netns = cookie };

	bpf_map_delete_elem(bpf_map__fd(d->skel->maps.ef_dns_nets), &k);
}

static void net_close(struct ef_daemon *d, struct ef_dns_net *n)
{
	ef_dns_close_fd(d, &n->udp4.fd);
	ef_dns_close_fd(d, &n->tcp4.fd);
	ef_dns_close_fd(d, &n->udp6.fd);
	ef_dns_close_fd(d, &n->tcp6.fd);
}

void ef_dns_net_failed(struct ef_daemon *d, struct ef_dns_net *n)
{
	net_close(d, n);
	n->failed = true;
	n->failed_ns = ef_now_boot_ns();
}

void ef_dns_nets_close(struct ef_daemon *d, struct ef_dns_job *dj)
{
	for (int i = 0; i < EF_DNS_NETS_MAX; i++) {
		struct ef_dns_net *n = &dj->nets[i];

		if (!n->cookie)
			continue;
		net_close(d, n);
		forget(d, dj->job->cgroup_id, n->cookie);
		n->cookie = 0;
		n->failed = false;
	}
}

void ef_dns_nets_tick(struct ef_daemon *d, struct ef_dns_job *dj)
{
	uint64_t now = ef_now_boot_ns();

	for (int i = 0; i < EF_DNS_NETS_MAX; i++) {
		struct ef_dns_net *n = &dj->nets[i];

		if (n->cookie && n->failed && now - n->failed_ns > EF_DNS_NET_RETRY_NS) {
			forget(d, dj->job->cgroup_id, n->cookie);
			n->cookie = 0;
			n->failed = false;
		}
	}
}

/* In the namespace now: the sockets on the job's port. */
static int open_here(struct ef_daemon *d, struct ef_dns_job *dj, struct ef_dns_net *n)
{
	struct ef_dns_sock *s[4] = { &n->udp4, &n->tcp4, &n->udp6, &n->tcp6 };
	int ret;

	for (int i = 0; i < 4; i++) {
		s[i]->fd = -1;
		s[i]->net = n;
	}
	ret = ef_dns_listen_one(d, &n->udp4, dj, false, false, dj->port, NULL);
	if (!ret)
		ret = ef_dns_listen_one(d, &n->tcp4, dj, false, true, dj->port, NULL);
	if (!ret && dj->v6) {
		/* no ::1 there (IPv6 off in a container): IPv4 only, as at home */
		if (!ef_dns_listen_one(d, &n->udp6, dj, true, false, dj->port, NULL))
			ef_dns_listen_one(d, &n->tcp6, dj, true, true, dj->port, NULL);
	}
	return ret;
}

/* Opens the job's proxy sockets in n's namespace through the one thread
 * tid of pid is in: -ENOENT if it is gone, -ESRCH if it is in another
 * namespace now (or a pid reused), else what open_here says. */
static int open_via(struct ef_daemon *d, struct ef_dns_job *dj, struct ef_dns_net *n, pid_t pid,
		    pid_t tid)
{
	char p[64];
	int fd, ret;

	snprintf(p, sizeof(p), "/proc/%d/task/%d/ns/net", pid, tid);
	fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ESRCH ? -ENOENT : -errno;
	if (setns(fd, CLONE_NEWNET)) {
		ret = -errno;
		close(fd);
		return ret;
	}
	close(fd);
	/* that namespace now, or a pid reused: only the named one */
	ret = netns_cookie() == n->cookie ? open_here(d, dj, n) : -ESRCH;
	if (setns(d->netns_fd, CLONE_NEWNET)) {
		/* every socket made from here on would be in the job's namespace */
		log_err("returning to egressd's network namespace: %s; stopping",
			strerror(errno));
		abort();
	}
	return ret;
}

/* The asker was gone before egressd got to its record (a resolver that
 * gives up at the first refused query, a short-lived process): through any
 * other process of the job in that namespace, at most 256 looked at. */
static int open_via_job(struct ef_daemon *d, struct ef_job_rec *j, struct ef_dns_job *dj,
			struct ef_dns_net *n)
{
	pid_t *pids = NULL;
	size_t np = 0;
	int ret = -ESRCH;

	if (ef_cgroup_pids(j->cgroup, &pids, &np))
		np = 0;
	for (size_t i = 0; i < np && i < 256; i++) {
		ret = open_via(d, dj, n, pids[i], pids[i]);
		if (ret != -ENOENT && ret != -ESRCH)
			break;
	}
	free(pids);
	return ret == -ENOENT ? -ESRCH : ret;
}

void ef_dns_netns_seen(struct ef_daemon *d, const struct ef_event *e)
{
	struct ef_job_rec *j = ef_job_by_cgroup(d, e->cgroup_id);
	struct ef_dns_job *dj = j ? j->dns : NULL;
	struct ef_dns_net *n = NULL;
	int ret;

	if (!dj) {
		forget(d, e->cgroup_id, e->cookie);
		return;
	}
	for (int i = 0; i < EF_DNS_NETS_MAX; i++) {
		if (dj->nets[i].cookie == e->cookie)
			return; /* told twice (a restart of ours in between) */
		if (!dj->nets[i].cookie && !n)
			n = &dj->nets[i];
	}
	if (!n) {
		/* the map entry stays: not told again for this namespace (until
		 * the LRU map evicts it) */
		if (!dj->nets_full_logged)
			log_warn("job %s: DNS queries from more than %d network namespaces; "
				 "no proxy in the next ones (their queries fail)", j->id,
				 EF_DNS_NETS_MAX);
		dj->nets_full_logged = true;
		return;
	}
	n->cookie = e->cookie;
	n->failed = false;
	n->udp4.fd = n->tcp4.fd = n->udp6.fd = n->tcp6.fd = -1;
	/* the asking thread's: a thread may be in a namespace of its own */
	ret = open_via(d, dj, n, e->pid, e->tid);
	if (ret == -ENOENT || ret == -ESRCH)
		ret = open_via_job(d, j, dj, n);
	if (ret)
		goto failed;
	log_info("job %s: DNS proxy opened in network namespace %llu (first asked by pid %u)",
		 j->id, (unsigned long long)e->cookie, e->pid);
	return;
failed:
	log_warn("job %s: no DNS proxy in network namespace %llu (asked by pid %u): %s; "
		 "tried again at a query after %llu ms", j->id, (unsigned long long)e->cookie,
		 e->pid, ret == -ESRCH ? "the process is no longer in it" : strerror(-ret),
		 EF_DNS_NET_RETRY_NS / 1000000ull);
	ef_dns_net_failed(d, n);
}

void ef_dns_netns_open_pid(struct ef_daemon *d, struct ef_job_rec *j, pid_t pid)
{
	struct ef_event e = { .kind = EF_K_NETNS, .pid = (uint32_t)pid, .tid = (uint32_t)pid };
	struct ef_dns_net_key k = { .job = j->cgroup_id };
	uint64_t host = netns_cookie();
	struct stat st, own;
	__u8 one = 1;
	char p[64];
	int fd;

	if (!j->dns)
		return;
	snprintf(p, sizeof(p), "/proc/%d/ns/net", pid);
	fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	/* egressd's own (every job started from the host): no setns */
	if (!fstat(fd, &st) && !fstat(d->netns_fd, &own) && st.st_ino == own.st_ino &&
	    st.st_dev == own.st_dev) {
		close(fd);
		return;
	}
	if (setns(fd, CLONE_NEWNET)) {
		close(fd);
		return;
	}
	close(fd);
	k.netns = netns_cookie();
	if (setns(d->netns_fd, CLONE_NEWNET)) {
		log_err("returning to egressd's network namespace: %s; stopping", strerror(errno));
		abort();
	}
	/* known already (its first query came first), or egressd's own */
	if (!k.netns || k.netns == host || bpf_map_update_elem(bpf_map__fd(d->skel->maps.ef_dns_nets), &k, &one,
					    BPF_NOEXIST))
		return;
	e.cgroup_id = j->cgroup_id;
	e.cookie = k.netns;
	ef_dns_netns_seen(d, &e);
}
