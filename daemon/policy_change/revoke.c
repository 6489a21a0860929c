// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Revocation: when a policy changes under running jobs, their open
 * connections that the new version denies are torn down.
 *
 * The sockets are listed with sock_diag (NETLINK_SOCK_DIAG, libmnl): TCP and
 * UDP, IPv4 and IPv6, each with the id of the cgroup it was created in
 * (INET_DIAG_CGROUP_ID). Those created in a job's cgroup or below it are
 * judged, in user space, the way the BPF programs judge a connect: loopback
 * (the job's own listeners, seen in the same socket dump, are reached
 * freely unless "loopback" is false; "loopback": true lets any other local
 * listener through unless a deny rule names it; else rules decide), the
 * exact and CIDR entries of the compiled policy, then the addresses the
 * job learned through its DNS proxy for that version (their TTL is not
 * looked at: connections already open are never cut by expiry). A socket is
 * destroyed (SOCK_DESTROY: a TCP peer gets a RST, the job's calls fail with
 * ECONNABORTED) when the new version denies its peer and the old one did
 * not: what the old version already refused was let through by something
 * that is no longer there (an expired name), not by the rule that changed.
 *
 * Which sockets: connected ones (TCP in any state but LISTEN, TIME_WAIT and
 * CLOSE; UDP with a peer). A TCP connection accepted by a listener of the
 * jobs (an accepted socket is in its listener's cgroup, and has the
 * listener's local port) is judged as the inbound hook judges its SYN: a
 * loopback peer always passes, any other needs an "inbound" rule for the
 * local port. sock_diag lists the sockets of one network namespace: every
 * namespace a job's process is in is looked at, from inside it (setns).
 *
 * A connect that passed the old version's check a moment before the switch
 * may not be in the socket tables yet when the first pass lists them, so
 * egressd runs a second pass once the old version retires (policy_ops.c):
 * it judges by the new version alone the sockets the first pass did not see.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/inet_diag.h>
#include <linux/sock_diag.h>
#include <linux/tcp.h>
#include <libmnl/libmnl.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "egressd.h"
#include "lib/cgroup.h"
#include "dns/dns.h"
#include "revoke.h"
#include "lib/util.h"
#include "ef_verdict.h"
#include "fence.skel.h"

/* TCP states (include/net/tcp_states.h): not exported to user space. */
enum { ST_ESTABLISHED = 1, ST_TIME_WAIT = 6, ST_CLOSE = 7, ST_LISTEN = 10 };

struct cg_ent {
	uint64_t id;
	size_t job; /* index in the request */
};

struct sock_ent {
	uint8_t family, proto; /* AF_INET/AF_INET6, IPPROTO_TCP/UDP */
	uint8_t state;
	struct inet_diag_sockid id;
	uint64_t cgroup;
};

struct pass {
	struct ef_daemon *d;
	struct ef_revoke_job *jobs;
	size_t n_jobs;
	struct cg_ent *cg;
	size_t n_cg, cap_cg;
	struct sock_ent *socks;
	size_t n_socks, cap_socks;
	/* local ports with a listener (TCP) or a bound unconnected socket (UDP)
	 * of one of the jobs */
	struct listen_ent {
		uint16_t port;
		uint8_t proto;
		size_t job;
	} *listen;
	size_t n_listen, cap_listen;
	uint8_t cur_family, cur_proto;
};

static int grow(void **p, size_t *cap, size_t need, size_t size)
{
	size_t nc;
	void *np;

	if (need <= *cap)
		return 0;
	nc = *cap ? *cap * 2 : 64;
	while (nc < need)
		nc *= 2;
	np = realloc(*p, nc * size);
	if (!np)
		return -ENOMEM;
	*p = np;
	*cap = nc;
	return 0;
}

/* ---- which cgroups belong to which job ---- */

static struct pass *walk_pass;
static size_t walk_job;

static int walk_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	struct pass *ps = walk_pass;
	uint64_t id;

	(void)st;
	(void)ftw;
	if (flag != FTW_D || ef_cgroup_id(path, &id))
		return 0;
	if (grow((void **)&ps->cg, &ps->cap_cg, ps->n_cg + 1, sizeof(*ps->cg)))
		return -1;
	ps->cg[ps->n_cg].id = id;
	ps->cg[ps->n_cg].job = walk_job;
	ps->n_cg++;
	return 0;
}

static int collect_cgroups(struct pass *ps, size_t job)
{
	walk_pass = ps;
	walk_job = job;
	/* the job cgroup and every cgroup the job made below it */
	if (nftw(ps->jobs[job].j->cgroup, walk_one, 16, FTW_PHYS) < 0)
		return errno == ENOENT ? 0 : -errno;
	return 0;
}

static const struct cg_ent *cg_find(const struct pass *ps, uint64_t id)
{
	for (size_t i = 0; i < ps->n_cg; i++)
		if (ps->cg[i].id == id)
			return &ps->cg[i];
	return NULL;
}

/* ---- listing sockets ---- */

static int on_sock(const struct nlmsghdr *nlh, void *data)
{
	struct pass *ps = data;
	const struct inet_diag_msg *m = mnl_nlmsg_get_payload(nlh);
	const struct cg_ent *cg;
	const struct nlattr *a;
	uint64_t cgroup = 0;
	bool have_cg = false;

	if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(*m)))
		return MNL_CB_ERROR;
	mnl_attr_for_each(a, nlh, sizeof(*m)) {
		if (mnl_attr_get_type(a) == INET_DIAG_CGROUP_ID &&
		    mnl_attr_get_payload_len(a) >= sizeof(uint64_t)) {
			memcpy(&cgroup, mnl_attr_get_payload(a), sizeof(cgroup));
			have_cg = true;
		}
	}
	if (!have_cg || !(cg = cg_find(ps, cgroup)))
		return MNL_CB_OK;
	/* a connection a job's listener accepted is in the listener's cgroup;
	 * an unconnected UDP socket is CLOSE, a listener of its own */
	if ((m->idiag_state == ST_LISTEN && ps->cur_proto == IPPROTO_TCP) ||
	    (m->idiag_state == ST_CLOSE && ps->cur_proto == IPPROTO_UDP)) {
		if (!grow((void **)&ps->listen, &ps->cap_listen, ps->n_listen + 1,
			  sizeof(*ps->listen)))
			ps->listen[ps->n_listen++] = (struct listen_ent){
				.port = ntohs(m->id.idiag_sport),
				.proto = ps->cur_proto,
				.job = cg->job,
			};
		return MNL_CB_OK;
	}
	if (m->idiag_state == ST_LISTEN)
		return MNL_CB_OK;
	if (m->idiag_state == ST_TIME_WAIT || m->idiag_state == ST_CLOSE)
		return MNL_CB_OK;
	if (grow((void **)&ps->socks, &ps->cap_socks, ps->n_socks + 1, sizeof(*ps->socks)))
		return MNL_CB_ERROR;
	ps->socks[ps->n_socks++] = (struct sock_ent){
		.family = m->idiag_family,
		.proto = ps->cur_proto,
		.state = m->idiag_state,
		.id = m->id,
		.cgroup = cgroup,
	};
	return MNL_CB_OK;
}

static int dump(struct mnl_socket *nl, struct pass *ps, uint8_t family, uint8_t proto)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct inet_diag_req_v2 *r;
	unsigned int seq = (unsigned int)ef_now_boot_ns(), portid = mnl_socket_get_portid(nl);
	int ret;

	nlh->nlmsg_type = SOCK_DIAG_BY_FAMILY;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = seq;
	r = mnl_nlmsg_put_extra_header(nlh, sizeof(*r));
	r->sdiag_family = family;
	r->sdiag_protocol = proto;
	r->idiag_states = ~0u;
	ps->cur_family = family;
	ps->cur_proto = proto;
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(nl, buf, sizeof(buf));

		if (n < 0)
			return -errno;
		ret = mnl_cb_run(buf, n, seq, portid, on_sock, ps);
		if (ret == MNL_CB_STOP)
			return 0;
		if (ret < 0)
			return errno ? -errno : -EIO;
	}
}

static int destroy(struct mnl_socket *nl, const struct sock_ent *s)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct inet_diag_req_v2 *r;
	unsigned int seq = (unsigned int)ef_now_boot_ns() ^ 0x5a5a, portid = mnl_socket_get_portid(nl);
	ssize_t n;

	nlh->nlmsg_type = SOCK_DESTROY;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = seq;
	r = mnl_nlmsg_put_extra_header(nlh, sizeof(*r));
	r->sdiag_family = s->family;
	r->sdiag_protocol = s->proto;
	r->idiag_states = ~0u;
	r->id = s->id;
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
	if (n < 0)
		return -errno;
	if (mnl_cb_run(buf, n, seq, portid, NULL, NULL) < 0)
		return errno == ENOENT ? 0 : -errno; /* closed meanwhile: done */
	return 0;
}

/* ---- judging ---- */

static void peer_of(const struct sock_ent *s, uint8_t *family, uint8_t addr[16], uint16_t *port)
{
	memset(addr, 0, 16);
	*port = ntohs(s->id.idiag_dport);
	if (s->family == AF_INET) {
		*family = EF_FAM_V4;
		memcpy(addr, &s->id.idiag_dst[0], 4);
		return;
	}
	if (!s->id.idiag_dst[0] && !s->id.idiag_dst[1] && s->id.idiag_dst[2] == htonl(0xffff)) {
		*family = EF_FAM_V4;
		memcpy(addr, &s->id.idiag_dst[3], 4);
		return;
	}
	*family = EF_FAM_V6;
	memcpy(addr, s->id.idiag_dst, 16);
}

static bool is_loopback(uint8_t family, const uint8_t addr[16])
{
	static const uint8_t one[16] = { [15] = 1 };

	return family == EF_FAM_V4 ? addr[0] == 127 : !memcmp(addr, one, 16);
}

static bool is_unset(uint8_t family, const uint8_t addr[16])
{
	static const uint8_t zero[16];

	return !memcmp(addr, zero, family == EF_FAM_V4 ? 4 : 16);
}

int ef_revoke_verdict(struct ef_daemon *d, const struct ef_job_rec *j, const struct ef_pol_rec *pr,
		      const struct ef_compiled *c, uint8_t family, const uint8_t addr[16],
		      uint16_t port, uint8_t proto_bit, bool own)
{
	struct ef_learn_key k = { 0 };
	struct ef_learn_val v;
	bool loopback = is_loopback(family, addr);
	__u8 reason;
	__u32 rule;

	if (loopback) {
		static const uint8_t lo4[16] = { 127, 0, 0, 1 }, lo6[16] = { [15] = 1 };

		/* the job's own DNS proxy, where it listens (as the BPF side) */
		if (ef_dns_job_port(j) && port == ef_dns_job_port(j) &&
		    !memcmp(addr, family == EF_FAM_V4 ? lo4 : lo6, 16))
			return EF_V_ALLOW;
		if (own && (pr->pol->flags & (EF_PF_LOOPBACK | EF_PF_LOOPBACK_OWN)))
			return EF_V_ALLOW;
	}
	if (ef_compiled_match(c, family, addr, port, proto_bit, &reason, &rule))
		return EF_V_ALLOW;
	/* "loopback": true: any local listener no deny rule names */
	if (loopback && reason != EF_R_DENY_RULE && (pr->pol->flags & EF_PF_LOOPBACK))
		return EF_V_ALLOW;
	if (reason == EF_R_NO_RULE) {
		k.cgroup_id = j->cgroup_id;
		k.policy_id = pr->id;
		k.family = family;
		memcpy(k.addr, addr, 16);
		if (!bpf_map_lookup_elem(bpf_map__fd(d->skel->maps.ef_learned), &k, &v) &&
		    v.ports.n && ef_judge_ports(&v.ports, port, proto_bit, &reason, &rule))
			return EF_V_ALLOW;
	}
	return pr->pol->mode == EF_MODE_AUDIT ? EF_V_WOULD_DENY : EF_V_DENY;
}

/* An accepted connection's peer, as the inbound hook judges its SYN. */
static int inbound_verdict(const struct ef_pol_rec *pr, const struct ef_compiled *c,
			   uint8_t family, const uint8_t addr[16], uint16_t local_port)
{
	__u8 reason;
	__u32 rule;

	if (is_loopback(family, addr) ||
	    ef_compiled_match_inbound(c, family, addr, local_port, EF_PROTO_TCP, &reason, &rule))
		return EF_V_ALLOW;
	return pr->pol->mode == EF_MODE_AUDIT ? EF_V_WOULD_DENY : EF_V_DENY;
}

/* The destination is a listener (TCP) or bound socket (UDP) of job `job`. */
static bool own_listener(const struct pass *ps, size_t job, uint8_t proto, uint16_t port)
{
	for (size_t k = 0; k < ps->n_listen; k++)
		if (ps->listen[k].job == job && ps->listen[k].proto == proto &&
		    ps->listen[k].port == port)
			return true;
	return false;
}

static bool cookie_seen(const struct ef_revoke_seen *seen, uint64_t cookie)
{
	for (size_t i = 0; seen && i < seen->n; i++)
		if (seen->cookie[i] == cookie)
			return true;
	return false;
}

static uint64_t sock_cookie(const struct sock_ent *s)
{
	return (uint64_t)s->id.idiag_cookie[0] | (uint64_t)s->id.idiag_cookie[1] << 32;
}

static void judge_all(struct pass *ps, struct mnl_socket *nl, struct ef_revoke_seen *seen,
		      bool second, struct ef_revoke_res *res)
{
	for (size_t i = 0; i < ps->n_socks; i++) {
		const struct sock_ent *s = &ps->socks[i];
		const struct cg_ent *cg = cg_find(ps, s->cgroup);
		struct ef_revoke_job *rj;
		uint8_t family, addr[16], bit;
		uint16_t port;
		bool inbound, own;
		char a[INET6_ADDRSTRLEN];
		int vnew, vold, ret;

		if (!cg)
			continue;
		rj = &ps->jobs[cg->job];
		peer_of(s, &family, addr, &port);
		if (is_unset(family, addr) || !port)
			continue; /* unconnected UDP: each datagram is judged */
		inbound = s->proto == IPPROTO_TCP &&
			  own_listener(ps, cg->job, IPPROTO_TCP, ntohs(s->id.idiag_sport));
		own = !inbound && own_listener(ps, cg->job, s->proto, port);
		if (second && cookie_seen(seen, sock_cookie(s)))
			continue;
		if (!second && seen &&
		    !grow((void **)&seen->cookie, &seen->cap, seen->n + 1, sizeof(*seen->cookie)))
			seen->cookie[seen->n++] = sock_cookie(s);
		res->examined++;
		bit = s->proto == IPPROTO_TCP ? EF_PROTO_TCP : EF_PROTO_UDP;
		if (inbound)
			vnew = inbound_verdict(rj->new_pol, rj->new_c, family, addr,
					       ntohs(s->id.idiag_sport));
		else
			vnew = ef_revoke_verdict(ps->d, rj->j, rj->new_pol, rj->new_c, family,
						 addr, port, bit, own);
		if (vnew != EF_V_DENY)
			continue;
		if (!second && rj->old_c) {
			if (inbound)
				vold = inbound_verdict(rj->old_pol, rj->old_c, family, addr,
						       ntohs(s->id.idiag_sport));
			else
				vold = ef_revoke_verdict(ps->d, rj->j, rj->old_pol, rj->old_c,
							 family, addr, port, bit, own);
			if (vold == EF_V_DENY)
				continue;
		}
		ef_addr_str(family, addr, a, sizeof(a));
		ret = destroy(nl, s);
		if (ret) {
			res->failed++;
			log_warn("job %s: cannot close its %s connection to %s port %u: %s",
				 rj->j->id, s->proto == IPPROTO_TCP ? "tcp" : "udp", a, port,
				 strerror(-ret));
			continue;
		}
		res->closed++;
		rj->closed++;
		log_info("job %s: closed its %s connection to %s port %u (policy %s changed)",
			 rj->j->id, s->proto == IPPROTO_TCP ? "tcp" : "udp", a, port,
			 rj->new_pol->pol->name);
	}
}

/* The network namespaces the jobs' processes are in: each one's inode, an
 * fd to enter it (-1 for egressd's own), and which jobs have a process
 * there (member[ns * n_jobs + job]). Every process is looked at, not only
 * the first: a job's processes may be spread over namespaces (a container,
 * unshare -n), and one parked elsewhere must not keep the others' sockets
 * from being judged. */
#define REVOKE_MAX_NS 64

struct netns_set {
	size_t n;
	ino_t ino[REVOKE_MAX_NS];
	int fd[REVOKE_MAX_NS];
	bool *member;
};

static int netns_collect(const struct ef_revoke_job *jobs, size_t n_jobs, ino_t self,
			 struct netns_set *ns)
{
	int ret = 0;

	for (size_t i = 0; i < n_jobs; i++) {
		pid_t *pids = NULL;
		size_t n = 0;

		if (ef_cgroup_pids(jobs[i].j->cgroup, &pids, &n))
			n = 0; /* gone: nothing open */
		for (size_t p = 0; p < n; p++) {
			char path[64];
			struct stat st;
			size_t k;

			snprintf(path, sizeof(path), "/proc/%d/ns/net", pids[p]);
			if (stat(path, &st) < 0)
				continue; /* exited meanwhile */
			for (k = 0; k < ns->n && ns->ino[k] != st.st_ino; k++)
				;
			if (k == ns->n) {
				if (ns->n == REVOKE_MAX_NS) {
					ret = -E2BIG;
					continue;
				}
				ns->ino[k] = st.st_ino;
				ns->fd[k] = st.st_ino == self ? -1 : open(path, O_RDONLY | O_CLOEXEC);
				if (st.st_ino != self && ns->fd[k] < 0)
					continue;
				ns->n++;
			}
			ns->member[k * n_jobs + i] = true;
		}
		free(pids);
	}
	return ret;
}

static int revoke_in_ns(struct ef_daemon *d, struct ef_revoke_job *jobs, size_t n_jobs,
			const bool *in_ns, struct ef_revoke_seen *seen, bool second,
			struct ef_revoke_res *res)
{
	static const uint8_t fams[] = { AF_INET, AF_INET6 }, protos[] = { IPPROTO_TCP, IPPROTO_UDP };
	struct pass ps = { .d = d, .jobs = jobs, .n_jobs = n_jobs };
	struct mnl_socket *nl;
	int ret = 0;

	for (size_t i = 0; i < n_jobs && !ret; i++)
		if (in_ns[i])
			ret = collect_cgroups(&ps, i);
	if (ret || !ps.n_cg)
		goto out;
	nl = mnl_socket_open(NETLINK_SOCK_DIAG);
	if (!nl || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		ret = -errno;
		if (nl)
			mnl_socket_close(nl);
		goto out;
	}
	for (size_t f = 0; f < 2 && !ret; f++)
		for (size_t p = 0; p < 2 && !ret; p++)
			ret = dump(nl, &ps, fams[f], protos[p]);
	if (!ret)
		judge_all(&ps, nl, seen, second, res);
	mnl_socket_close(nl);
out:
	free(ps.cg);
	free(ps.socks);
	free(ps.listen);
	return ret;
}

int ef_revoke(struct ef_daemon *d, struct ef_revoke_job *jobs, size_t n_jobs,
	      struct ef_revoke_seen *seen, bool second, struct ef_revoke_res *res)
{
	struct netns_set ns = { .n = 0 };
	struct stat self_st;
	bool *in_ns = calloc(n_jobs ? n_jobs : 1, sizeof(*in_ns));
	int self_fd = -1, ret = 0;

	memset(res, 0, sizeof(*res));
	ns.member = calloc(REVOKE_MAX_NS * (n_jobs ? n_jobs : 1), sizeof(*ns.member));
	if (!in_ns || !ns.member) {
		ret = -ENOMEM;
		goto out;
	}
	if (stat("/proc/self/ns/net", &self_st) < 0) {
		ret = -errno;
		goto out;
	}
	ret = netns_collect(jobs, n_jobs, self_st.st_ino, &ns);
	if (ret)
		log_warn("revoking connections: the jobs' processes are in more than %d network "
			 "namespaces; the others are not looked at", REVOKE_MAX_NS);
	for (size_t i = 0; i < ns.n; i++) {
		int r;

		for (size_t k = 0; k < n_jobs; k++)
			in_ns[k] = ns.member[i * n_jobs + k];
		if (ns.fd[i] >= 0) {
			if (self_fd < 0)
				self_fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
			if (self_fd < 0 || setns(ns.fd[i], CLONE_NEWNET) < 0) {
				r = -errno;
				log_warn("revoking in network namespace %lu: %s", (unsigned long)ns.ino[i],
					 strerror(-r));
				ret = ret ? ret : r;
				continue;
			}
		}
		r = revoke_in_ns(d, jobs, n_jobs, in_ns, seen, second, res);
		if (ns.fd[i] >= 0 && setns(self_fd, CLONE_NEWNET) < 0) {
			/* every socket made from here on would be in the job's namespace */
			log_err("cannot return to egressd's network namespace: %s; stopping",
				strerror(errno));
			abort();
		}
		if (r) {
			log_warn("revoking connections: %s", strerror(-r));
			ret = ret ? ret : r;
		}
	}
out:
	for (size_t i = 0; i < ns.n; i++)
		if (ns.fd[i] >= 0)
			close(ns.fd[i]);
	if (self_fd >= 0)
		close(self_fd);
	free(ns.member);
	free(in_ns);
	return ret;
}

void ef_revoke_seen_free(struct ef_revoke_seen *s)
{
	free(s->cookie);
	memset(s, 0, sizeof(*s));
}
