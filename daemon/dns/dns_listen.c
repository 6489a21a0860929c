// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The job's side of the DNS proxy (dns.c has the overview): its listeners,
 * UDP and TCP sockets on 127.0.0.1 and [::1] on one port per job, so the
 * proxy knows which job asked without trusting anything in the packet, and
 * made anew when destroyed from outside; the job's TCP connections; queries
 * read from both, judged by the job's policy (refused, or answered NXDOMAIN
 * here, or forwarded: dns_upstream.c); and the replies sent back.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "egressd.h"
#include "dns.h"
#include "dnsmsg.h"
#include "dnsproxy.h"
#include "lib/util.h"
#include "fence.skel.h"

#define QUERY_MAX 4096		/* longest query taken from a job */
#define MAX_PENDING_PER_JOB 256 /* queries of one job waiting upstream */
#define MAX_CONNS_PER_JOB 32	/* TCP connections of one job to its proxy */

/* ---- listeners ---- */

int ef_dns_listen_one(struct ef_daemon *d, struct ef_dns_sock *ls, struct ef_dns_job *dj,
		      bool v6, bool tcp, uint16_t port, uint16_t *got)
{
	struct sockaddr_storage ss = { 0 };
	socklen_t len;
	int fd, one = 1, ret;

	fd = socket(v6 ? AF_INET6 : AF_INET,
		    (tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (v6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
		a->sin6_family = AF_INET6;
		a->sin6_addr = in6addr_loopback;
		a->sin6_port = htons(port);
		len = sizeof(*a);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;

		a->sin_family = AF_INET;
		a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		a->sin_port = htons(port);
		len = sizeof(*a);
	}
	if (tcp)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len) < 0 || (tcp && listen(fd, 64) < 0)) {
		ret = -errno;
		close(fd);
		return ret;
	}
	if (got) {
		len = sizeof(ss);
		getsockname(fd, (struct sockaddr *)&ss, &len);
		*got = ntohs(v6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
				: ((struct sockaddr_in *)&ss)->sin_port);
	}
	ls->kind = tcp ? EF_EPK_DNS_LISTEN : EF_EPK_DNS_UDP;
	ls->fd = fd;
	ls->dj = dj;
	ls->v6 = v6;
	ret = ef_dns_ep_add(d, fd, EPOLLIN, ls);
	if (ret) {
		close(fd);
		ls->fd = -1;
	}
	return ret;
}

void ef_dns_listeners_close(struct ef_daemon *d, struct ef_dns_job *dj)
{
	ef_dns_nets_close(d, dj);
	ef_dns_close_fd(d, &dj->udp4.fd);
	ef_dns_close_fd(d, &dj->tcp4.fd);
	ef_dns_close_fd(d, &dj->udp6.fd);
	ef_dns_close_fd(d, &dj->tcp6.fd);
}

/* One port for all four sockets. IPv4 is required; [::1] is used when the
 * host has IPv6 on loopback (else IPv6 sockets are sent to ::ffff:127.0.0.1). */
int ef_dns_listeners_open(struct ef_daemon *d, struct ef_dns_job *dj, uint16_t want)
{
	int ret = -EADDRINUSE;

	for (int attempt = 0; attempt < 16; attempt++) {
		uint16_t port = attempt == 0 ? want : 0, got = 0;

		dj->udp4.fd = dj->tcp4.fd = dj->udp6.fd = dj->tcp6.fd = -1;
		ret = ef_dns_listen_one(d, &dj->udp4, dj, false, false, port, &got);
		if (ret == -EADDRINUSE && port)
			continue;
		if (ret)
			return ret;
		ret = ef_dns_listen_one(d, &dj->tcp4, dj, false, true, got, NULL);
		if (!ret) {
			dj->v6 = true;
			ret = ef_dns_listen_one(d, &dj->udp6, dj, true, false, got, NULL);
			if (!ret)
				ret = ef_dns_listen_one(d, &dj->tcp6, dj, true, true, got, NULL);
			if (ret == -EADDRNOTAVAIL || ret == -EAFNOSUPPORT) {
				ef_dns_close_fd(d, &dj->udp6.fd);
				dj->v6 = false;
				ret = 0;
			}
		}
		if (!ret) {
			dj->port = got;
			return 0;
		}
		ef_dns_listeners_close(d, dj);
		if (ret != -EADDRINUSE)
			return ret;
	}
	return ret;
}

/*
 * A proxy socket that failed under egressd: destroyed from outside
 * (SOCK_DESTROY, `ss -K`: a root process, or a job its policy granted
 * CAP_NET_ADMIN), which aborts a listener (the port is freed) and reports
 * ECONNABORTED on a UDP socket. The job's DNS must not stay broken, nor
 * egressd spin on the error: the socket is made anew on the same port,
 * else the four on a new one (the fence's maps follow), and it says so.
 */
void ef_dns_revive(struct ef_daemon *d, struct ef_dns_sock *ls)
{
	struct ef_dns_job *dj = ls->dj;
	bool tcp = ls->kind == EF_EPK_DNS_LISTEN, v6 = ls->v6;
	int err = 0, ret;
	socklen_t el = sizeof(err);
	__u16 old = dj->port, port;
	struct ef_job v;

	getsockopt(ls->fd, SOL_SOCKET, SO_ERROR, &err, &el);
	if (ls->net) {
		/* another namespace's: closed, opened again at its next query */
		log_warn("job %s: its DNS proxy's socket in network namespace %llu failed (%s)",
			 dj->job->id, (unsigned long long)ls->net->cookie,
			 err ? strerror(err) : "closed");
		ef_dns_net_failed(d, ls->net);
		return;
	}
	ef_dns_close_fd(d, &ls->fd);
	ret = ef_dns_listen_one(d, ls, dj, v6, tcp, old, NULL);
	if (!ret) {
		log_warn("job %s: its DNS proxy's %s%s socket failed (%s); made anew on port %u",
			 dj->job->id, tcp ? "TCP" : "UDP", v6 ? "6" : "4",
			 err ? strerror(err) : "closed", old);
		return;
	}
	/* the port was taken meanwhile: all four on a new one */
	ef_dns_listeners_close(d, dj);
	ret = ef_dns_listeners_open(d, dj, 0);
	port = dj->port;
	if (ret || bpf_map_lookup_elem(bpf_map__fd(d->skel->maps.ef_jobs), &dj->job->cgroup_id,
				       &v)) {
		log_err("job %s: its DNS proxy's sockets failed and cannot be made anew (%s): "
			"its DNS queries fail", dj->job->id, strerror(ret ? -ret : errno));
		return;
	}
	bpf_map_delete_elem(bpf_map__fd(d->skel->maps.ef_dns_ports), &old);
	bpf_map_update_elem(bpf_map__fd(d->skel->maps.ef_dns_ports), &port,
			    &dj->job->cgroup_id, BPF_ANY);
	ef_dns_job_value(dj->job, &v);
	if (bpf_map_update_elem(bpf_map__fd(d->skel->maps.ef_jobs), &dj->job->cgroup_id, &v,
				BPF_EXIST))
		log_err("job %s: moving its DNS proxy to port %u: %s", dj->job->id, port,
			strerror(errno));
	else
		log_warn("job %s: its DNS proxy's sockets failed (%s) and port %u was taken; "
			 "made anew on port %u", dj->job->id, err ? strerror(err) : "closed", old,
			 port);
}

/* ---- TCP connections from jobs ---- */

static void conn_free(void *p)
{
	struct ef_dns_conn *c = p;

	free(c->rbuf);
	free(c->wbuf);
	free(c);
}

void ef_dns_conn_put(struct ef_dns_conn *c)
{
	if (--c->refs == 0)
		ef_dns_defer_free(c, conn_free);
}

void ef_dns_conn_close(struct ef_daemon *d, struct ef_dns_conn *c)
{
	struct ef_dns_job *dj = c->dj;

	if (c->fd < 0)
		return;
	ef_dns_close_fd(d, &c->fd);
	for (struct ef_dns_conn **pp = &dj->conns; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	dj->n_conns--;
	c->dj = NULL;
	ef_dns_conn_put(c);
}

static void conn_flush(struct ef_daemon *d, struct ef_dns_conn *c)
{
	while (c->woff < c->wlen) {
		ssize_t n = send(c->fd, c->wbuf + c->woff, c->wlen - c->woff, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EAGAIN) {
				ef_dns_ep_mod(d, c->fd, EPOLLIN | EPOLLOUT | EPOLLRDHUP, c);
				return;
			}
			ef_dns_conn_close(d, c);
			return;
		}
		c->woff += n;
	}
	c->woff = c->wlen = 0;
	ef_dns_ep_mod(d, c->fd, EPOLLIN | EPOLLRDHUP, c);
}

/* Queue one length-prefixed message on a job's TCP connection. */
static void conn_send(struct ef_daemon *d, struct ef_dns_conn *c, const uint8_t *msg, size_t len)
{
	size_t need;

	if (c->fd < 0 || len > ANSWER_MAX)
		return;
	need = c->wlen + 2 + len;
	if (need > 4 * (ANSWER_MAX + 2)) { /* a job that does not read its answers */
		ef_dns_conn_close(d, c);
		return;
	}
	if (need > c->wcap) {
		uint8_t *nb = realloc(c->wbuf, need);

		if (!nb) {
			ef_dns_conn_close(d, c);
			return;
		}
		c->wbuf = nb;
		c->wcap = need;
	}
	c->wbuf[c->wlen] = len >> 8;
	c->wbuf[c->wlen + 1] = len & 0xff;
	memcpy(c->wbuf + c->wlen + 2, msg, len);
	c->wlen += 2 + len;
	conn_flush(d, c);
}

/*
 * Who sent from this port: the wire check copied the process its socket's
 * DNS traffic came from (bpf/lib/dns.bpf.h) under (job, port, protocol)
 * as the datagram (or the SYN) left, before it reached the proxy. Names the process on the query's
 * egress.dns span; false if unknown (an egressd that came up after the
 * query left, an entry the LRU map evicted).
 */
bool ef_dns_who_find(struct ef_daemon *d, const struct ef_dns_job *dj, uint8_t proto,
		     const struct sockaddr_storage *peer, struct ef_dns_who *out)
{
	struct ef_dns_peer_key k = { .job = dj->job->cgroup_id, .proto = proto };

	if (peer->ss_family == AF_INET)
		k.port = ntohs(((const struct sockaddr_in *)peer)->sin_port);
	else if (peer->ss_family == AF_INET6)
		k.port = ntohs(((const struct sockaddr_in6 *)peer)->sin6_port);
	else
		return false;
	/* taken out as read: a later socket on the port is not named by it */
	return bpf_map_lookup_and_delete_elem(bpf_map__fd(d->skel->maps.ef_dns_peer), &k, out) ==
		       0 &&
	       out->pid;
}

void ef_dns_conn_accept(struct ef_daemon *d, struct ef_dns_sock *ls)
{
	struct ef_dns_job *dj = ls->dj;

	for (;;) {
		struct sockaddr_storage peer;
		socklen_t plen = sizeof(peer);
		int fd = accept4(ls->fd, (struct sockaddr *)&peer, &plen,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct ef_dns_conn *c;

		if (fd < 0)
			return;
		if (dj->n_conns >= MAX_CONNS_PER_JOB) {
			d->dns_dropped++;
			close(fd);
			ef_dns_refused(d, dj, EF_R_DNS_LIMIT, NULL, -1, true,
				       "more than 32 TCP connections to the proxy");
			continue;
		}
		c = calloc(1, sizeof(*c));
		if (!c) {
			close(fd);
			continue;
		}
		c->kind = EF_EPK_DNS_CONN;
		c->fd = fd;
		c->dj = dj;
		c->has_who = ef_dns_who_find(d, dj, IPPROTO_TCP, &peer, &c->who);
		c->refs = 1;
		c->last_ns = ef_dns_mono_ns();
		if (ef_dns_ep_add(d, fd, EPOLLIN | EPOLLRDHUP, c)) {
			close(fd);
			free(c);
			continue;
		}
		c->next = dj->conns;
		dj->conns = c;
		dj->n_conns++;
	}
}

/* ---- replies to the job ---- */

void ef_dns_reply(struct ef_daemon *d, const struct ef_dns_client *cl, const uint8_t *msg,
		  size_t len)
{
	if (cl->conn) {
		conn_send(d, cl->conn, msg, len);
		return;
	}
	if (cl->sock->fd >= 0 &&
	    sendto(cl->sock->fd, msg, len, MSG_DONTWAIT, (const struct sockaddr *)&cl->addr,
		   cl->addr_len) < 0)
		log_debug("dns: answer to a job lost: %s", strerror(errno));
}

/* An answer with no records; q may have no question (malformed query). */
void ef_dns_reply_rcode(struct ef_daemon *d, const struct ef_dns_client *cl,
			const struct ef_dns_query *q, bool has_question, int rcode)
{
	uint8_t buf[EF_DNS_NAME_MAX + 64];
	ssize_t n = ef_dns_reply_error(q, has_question, rcode, buf, sizeof(buf));

	if (n > 0)
		ef_dns_reply(d, cl, buf, n);
}

/* ---- queries from the job ---- */

/* The job's cache holds the answer to q: released as the upstream's was
 * (learned under the job's policy now, recorded), nothing sent upstream. */
static bool cache_answer(struct ef_daemon *d, struct ef_dns_job *dj,
			 const struct ef_dns_client *cl, const struct ef_dns_query *q,
			 const struct ef_dns_decision *dec)
{
	uint8_t buf[CACHE_MSG_MAX];
	struct ef_dns_pending p;
	size_t len, n;

	memset(&p, 0, offsetof(struct ef_dns_pending, answer));
	/* as when forwarding: an edit of resolv.conf naming other servers
	 * empties the caches first */
	ef_dns_servers(d, dj->job->pol, &n);
	if (ef_dns_cache_get(d, dj, q, buf, sizeof(buf), &len, p.server_text, &p.answer))
		return false;
	p.kind = EF_EPK_DNS_UP;
	p.fd = -1;
	p.dj = dj;
	p.pol = dj->job->pol;
	p.client = *cl;
	p.q = *q;
	p.dec = *dec;
	p.cached = true;
	p.start_real_ns = ef_now_realtime_ns();
	d->dns_cache_hits++;
	ef_dns_release(d, &p, buf, len, &p.answer);
	return true;
}

/* One query from a job, over UDP (conn NULL) or TCP. */
static void on_query(struct ef_daemon *d, struct ef_dns_job *dj, const struct ef_dns_client *cl,
		     const uint8_t *msg, size_t len)
{
	struct ef_dns_decision dec;
	struct ef_dns_query q;
	struct ef_dns_pending *p;
	bool tcp = cl->conn != NULL;
	int rcode = 0, ret;

	d->dns_queries++;
	dj->job->n_dns_queries++;
	memset(&q, 0, sizeof(q));
	if (len > QUERY_MAX) {
		if (msg[2] & 0x80) {
			ef_dns_refused(d, dj, EF_R_DNS_MALFORMED, NULL, -1, tcp,
				       "a response, not a query");
			return;
		}
		q.id = (msg[0] << 8) | msg[1];
		q.rd = msg[2] & 0x01;
		ef_dns_reply_rcode(d, cl, &q, false, EF_DNS_RCODE_FORMERR);
		ef_dns_refused(d, dj, EF_R_DNS_MALFORMED, NULL, EF_DNS_RCODE_FORMERR, tcp,
			       "longer than 4096 bytes");
		return;
	}
	ret = ef_dns_query_parse(msg, len, &q, &rcode);
	if (ret == -EPROTO) {
		ef_dns_reply_rcode(d, cl, &q, q.has_question, rcode);
		ef_dns_refused(d, dj, EF_R_DNS_MALFORMED, &q, rcode, tcp,
			       rcode == EF_DNS_RCODE_NOTIMP ? "not a standard query (opcode)"
							    : "not a well-formed standard query");
		return;
	}
	if (ret) {
		ef_dns_refused(d, dj, EF_R_DNS_MALFORMED, NULL, -1, tcp,
			       len < 12 ? "shorter than a DNS header" : "a response, not a query");
		return;
	}
	ef_dns_decide(dj->job->pol, q.name, &dec);
	if (dec.verdict == EF_V_DENY) {
		struct ef_dns_pending tmp = { .dj = dj, .pol = dj->job->pol, .q = q, .dec = dec,
					      .client = *cl };

		dj->job->n_dns_denied++;
		tmp.start_real_ns = ef_now_realtime_ns();
		ef_dns_reply_rcode(d, cl, &q, true, EF_DNS_RCODE_NXDOMAIN);
		ef_dns_record(d, &tmp, NULL, EF_DNS_RCODE_NXDOMAIN, NULL, 0);
		return;
	}
	if (q.qclass != EF_DNS_CLASS_IN || !ef_dns_type_forwardable(q.qtype)) {
		/* 32 bits a query of the job's choosing, and nothing a resolver
		 * library asks: not forwarded, whatever the mode */
		ef_dns_reply_rcode(d, cl, &q, true, EF_DNS_RCODE_REFUSED);
		ef_dns_refused(d, dj, EF_R_DNS_MALFORMED, &q, EF_DNS_RCODE_REFUSED, tcp,
			       q.qclass != EF_DNS_CLASS_IN ? "a class other than IN"
							   : "a type the proxy does not forward");
		return;
	}
	/* a cached answer leaves nothing to limit: nothing goes upstream */
	if (dj->cache && cache_answer(d, dj, cl, &q, &dec))
		return;
	if (!ef_dns_admit(dj)) {
		ef_dns_refused(d, dj, EF_R_DNS_LIMIT, &q, EF_DNS_RCODE_REFUSED, tcp,
			       "over the query rate");
		if (dj->job->pol->pol->mode != EF_MODE_AUDIT) {
			ef_dns_reply_rcode(d, cl, &q, true, EF_DNS_RCODE_REFUSED);
			return;
		}
	}
	if (dj->n_pending >= MAX_PENDING_PER_JOB) {
		d->dns_dropped++;
		ef_dns_reply_rcode(d, cl, &q, true, EF_DNS_RCODE_SERVFAIL);
		ef_dns_refused(d, dj, EF_R_DNS_LIMIT, &q, EF_DNS_RCODE_SERVFAIL, tcp,
			       "too many queries waiting upstream");
		return;
	}
	p = ef_dns_pending_new(d, dj, cl, &q);
	if (!p) {
		ef_dns_reply_rcode(d, cl, &q, true, EF_DNS_RCODE_SERVFAIL);
		return;
	}
	p->q = q;
	p->dec = dec;
	ret = ef_dns_send_attempt(d, p);
	if (ret)
		ef_dns_attempt_failed(d, p, ret == -ENOENT ? "no upstream DNS server configured"
							   : strerror(-ret));
	else
		ef_dns_busy_poll(d, p); /* p stays allocated until ef_dns_reap() */
}

void ef_dns_udp_io(struct ef_daemon *d, struct ef_dns_sock *ls)
{
	uint8_t buf[QUERY_MAX + 1];

	/* the askers' exec records (their trace context) are in the ring
	 * ahead of their queries: read them first */
	d->up->events_consume(d);
	for (int i = 0; i < UDP_BATCH && ls->fd >= 0; i++) {
		struct ef_dns_client cl = { .sock = ls };
		ssize_t n;

		cl.addr_len = sizeof(cl.addr);
		n = recvfrom(ls->fd, buf, sizeof(buf), MSG_TRUNC, (struct sockaddr *)&cl.addr,
			     &cl.addr_len);
		if (n < 0)
			return;
		cl.has_who = ef_dns_who_find(d, ls->dj, IPPROTO_UDP, &cl.addr, &cl.who);
		/* MSG_TRUNC: n is the real length; only QUERY_MAX + 1 bytes are in buf */
		on_query(d, ls->dj, &cl, buf, (size_t)n > sizeof(buf) ? sizeof(buf) : (size_t)n);
	}
}

void ef_dns_conn_io(struct ef_daemon *d, struct ef_dns_conn *c, uint32_t events)
{
	d->up->events_consume(d); /* as ef_dns_udp_io */
	if (events & EPOLLOUT)
		conn_flush(d, c);
	if (c->fd < 0)
		return;
	c->last_ns = ef_dns_mono_ns();
	for (;;) {
		size_t want;
		ssize_t n;

		if (!c->rbuf && !(c->rbuf = malloc(QUERY_MAX + 2))) {
			ef_dns_conn_close(d, c);
			return;
		}
		want = c->rexp ? c->rexp + 2 : 2;
		n = recv(c->fd, c->rbuf + c->rlen, want - c->rlen, 0);
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			/* a frame cut short by the job never reached anyone; recorded */
			if (c->rlen)
				ef_dns_refused(d, c->dj, EF_R_DNS_MALFORMED, NULL, -1, true,
					       "TCP connection closed inside a message");
			ef_dns_conn_close(d, c);
			return;
		}
		c->rlen += n;
		if (!c->rexp && c->rlen == 2) {
			c->rexp = (c->rbuf[0] << 8) | c->rbuf[1];
			if (c->rexp < 12 || c->rexp > QUERY_MAX) {
				/* no query is that short or that long (or not DNS at
				 * all: "GE" of "GET" reads as 18245): drop the peer */
				ef_dns_refused(d, c->dj, EF_R_DNS_MALFORMED, NULL, -1, true,
					       c->rexp < 12 ? "TCP frame shorter than a DNS header"
							    : "TCP frame longer than 4096 bytes");
				ef_dns_conn_close(d, c);
				return;
			}
		} else if (c->rexp && c->rlen == c->rexp + 2) {
			struct ef_dns_client cl = { .conn = c };

			on_query(d, c->dj, &cl, c->rbuf + 2, c->rexp);
			c->rlen = c->rexp = 0;
			if (c->fd < 0)
				return;
		}
	}
}
