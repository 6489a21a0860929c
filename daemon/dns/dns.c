// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The per-job DNS proxy. The BPF programs take every port-53 query of a
 * fenced job to its proxy: UDP and TCP sockets on 127.0.0.1 and [::1], one
 * port per job, so the proxy knows which job asked without trusting
 * anything in the packet. For each query:
 *
 *   1. the name is judged by the job's policy (policy/names.c): no rule, or
 *      only deny rules -> in enforce mode an NXDOMAIN made here; the query
 *      never leaves the host (no tunnelling through the fence). In audit
 *      mode it is forwarded and recorded would_deny;
 *   2. otherwise it is forwarded to the policy's upstream (or the config's,
 *      or resolv.conf's) over UDP with a fresh socket and a random id per
 *      attempt; a truncated answer is asked again over TCP; an attempt
 *      times out after timeout_ms and the next server is tried;
 *   3. the A/AAAA addresses the answer gives for the name, through its CNAME
 *      chain, are written to ef_learned for this job (dns_learn.c) *before*
 *      the answer is released, so a connect made right after it finds them;
 *   4. the answer goes back with the job's id; one egress.dns span.
 *
 * Nothing here blocks: one epoll loop with the ring-buffer consumer.
 * Objects that epoll may still report in the current batch are freed only
 * by ef_dns_reap() after the batch.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "egressd.h"
#include "registry/registry.h"
#include "dns.h"
#include "policies/policies.h"
#include "dnsmsg.h"
#include "dnsproxy.h"
#include "lib/util.h"
#include "fence.skel.h"

#define QUERY_MAX 4096		/* longest query taken from a job */
#define ANSWER_MAX 65535	/* longest answer (TCP) */
#define MAX_PENDING_PER_JOB 256 /* queries of one job waiting upstream */
#define MAX_CONNS_PER_JOB 32	/* TCP connections of one job to its proxy */
#define CONN_IDLE_NS (10ull * 1000000000ull)
#define UDP_BATCH 64		/* datagrams read per wakeup, for fairness */

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/*
 * Random bytes for ids and 0x20 spellings, from getrandom() 4 KiB at a
 * time: a getrandom() call costs more (~1.4 us) than the rest of a query's
 * parsing and building, and a query needs 34 bytes.
 */
static void dns_random(void *buf, size_t len)
{
	static uint8_t pool[4096];
	static size_t left;
	uint8_t *out = buf;

	while (len) {
		size_t n;

		if (!left) {
			ef_random_bytes(pool, sizeof(pool));
			left = sizeof(pool);
		}
		n = len < left ? len : left;
		memcpy(out, pool + sizeof(pool) - left, n);
		/* each byte is handed out once */
		memset(pool + sizeof(pool) - left, 0, n);
		left -= n;
		out += n;
		len -= n;
	}
}

/* ---- objects freed after the epoll batch ---- */

static struct ef_dns_dead {
	struct ef_dns_dead *next;
	void *obj;
	void (*fn)(void *);
} *graveyard;

static void defer_free(void *obj, void (*fn)(void *))
{
	struct ef_dns_dead *g = malloc(sizeof(*g));

	if (!g) {
		/* leak rather than risk a use after free */
		log_err("dns: out of memory deferring a free");
		return;
	}
	g->obj = obj;
	g->fn = fn;
	g->next = graveyard;
	graveyard = g;
}

void ef_dns_reap(struct ef_daemon *d)
{
	while (graveyard) {
		struct ef_dns_dead *g = graveyard;

		graveyard = g->next;
		g->fn(g->obj);
		free(g);
	}
}

static int ep_add(struct ef_daemon *d, int fd, uint32_t events, void *tag)
{
	struct epoll_event ev = { .events = events, .data.ptr = tag };

	return epoll_ctl(d->epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

static void ep_mod(struct ef_daemon *d, int fd, uint32_t events, void *tag)
{
	struct epoll_event ev = { .events = events, .data.ptr = tag };

	epoll_ctl(d->epfd, EPOLL_CTL_MOD, fd, &ev);
}

void ef_dns_close_fd(struct ef_daemon *d, int *fd)
{
	if (*fd < 0)
		return;
	epoll_ctl(d->epfd, EPOLL_CTL_DEL, *fd, NULL);
	close(*fd);
	*fd = -1;
}

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
	ret = ep_add(d, fd, EPOLLIN, ls);
	if (ret) {
		close(fd);
		ls->fd = -1;
	}
	return ret;
}

static void listeners_close(struct ef_daemon *d, struct ef_dns_job *dj)
{
	ef_dns_nets_close(d, dj);
	ef_dns_close_fd(d, &dj->udp4.fd);
	ef_dns_close_fd(d, &dj->tcp4.fd);
	ef_dns_close_fd(d, &dj->udp6.fd);
	ef_dns_close_fd(d, &dj->tcp6.fd);
}

/* One port for all four sockets. IPv4 is required; [::1] is used when the
 * host has IPv6 on loopback (else IPv6 sockets are sent to ::ffff:127.0.0.1). */
static int listeners_open(struct ef_daemon *d, struct ef_dns_job *dj, uint16_t want)
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
		listeners_close(d, dj);
		if (ret != -EADDRINUSE)
			return ret;
	}
	return ret;
}

int ef_dns_job_start(struct ef_daemon *d, struct ef_job_rec *j, uint16_t want_port)
{
	struct ef_dns_job *dj = calloc(1, sizeof(*dj));
	int ret;

	if (!dj)
		return -ENOMEM;
	dj->job = j;
	ret = listeners_open(d, dj, want_port);
	if (ret) {
		log_err("job %s: DNS proxy sockets on loopback: %s", j->id, strerror(-ret));
		free(dj);
		return ret;
	}
	{
		__u16 port = dj->port;

		if (bpf_map_update_elem(bpf_map__fd(d->skel->maps.ef_dns_ports), &port,
					&j->cgroup_id, BPF_ANY)) {
			ret = -errno;
			log_err("job %s: registering its DNS proxy port: %s", j->id, strerror(-ret));
			listeners_close(d, dj);
			free(dj);
			return ret;
		}
	}
	j->dns = dj;
	log_debug("job %s: DNS proxy on port %u%s", j->id, dj->port, dj->v6 ? " (v4+v6)" : "");
	return 0;
}

void ef_dns_job_value(const struct ef_job_rec *j, struct ef_job *v)
{
	v->dns_port = j->dns ? j->dns->port : 0;
	v->dns_flags = j->dns && j->dns->v6 ? EF_JD_V6 : 0;
}

uint16_t ef_dns_job_port(const struct ef_job_rec *j)
{
	return j->dns ? j->dns->port : 0;
}

/* ---- TCP connections from jobs ---- */

static void conn_free(void *p)
{
	struct ef_dns_conn *c = p;

	free(c->rbuf);
	free(c->wbuf);
	free(c);
}

static void conn_put(struct ef_dns_conn *c)
{
	if (--c->refs == 0)
		defer_free(c, conn_free);
}

static void conn_close(struct ef_daemon *d, struct ef_dns_conn *c)
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
	conn_put(c);
}

static void conn_flush(struct ef_daemon *d, struct ef_dns_conn *c)
{
	while (c->woff < c->wlen) {
		ssize_t n = send(c->fd, c->wbuf + c->woff, c->wlen - c->woff, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EAGAIN) {
				ep_mod(d, c->fd, EPOLLIN | EPOLLOUT | EPOLLRDHUP, c);
				return;
			}
			conn_close(d, c);
			return;
		}
		c->woff += n;
	}
	c->woff = c->wlen = 0;
	ep_mod(d, c->fd, EPOLLIN | EPOLLRDHUP, c);
}

/* Queue one length-prefixed message on a job's TCP connection. */
static void conn_send(struct ef_daemon *d, struct ef_dns_conn *c, const uint8_t *msg, size_t len)
{
	size_t need;

	if (c->fd < 0 || len > ANSWER_MAX)
		return;
	need = c->wlen + 2 + len;
	if (need > 4 * (ANSWER_MAX + 2)) { /* a job that does not read its answers */
		conn_close(d, c);
		return;
	}
	if (need > c->wcap) {
		uint8_t *nb = realloc(c->wbuf, need);

		if (!nb) {
			conn_close(d, c);
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

static void conn_accept(struct ef_daemon *d, struct ef_dns_sock *ls)
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
		c->last_ns = mono_ns();
		if (ep_add(d, fd, EPOLLIN | EPOLLRDHUP, c)) {
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
static void reply_error(struct ef_daemon *d, const struct ef_dns_client *cl,
			const struct ef_dns_query *q, bool has_question, int rcode)
{
	uint8_t buf[EF_DNS_NAME_MAX + 64];
	ssize_t n = ef_dns_reply_error(q, has_question, rcode, buf, sizeof(buf));

	if (n > 0)
		ef_dns_reply(d, cl, buf, n);
}

/* ---- queries from the job ---- */

/* ---- upstream UDP sockets ----
 *
 * One connected UDP socket per upstream server carries many queries,
 * answers matched by a random id unique among the queries in flight (and
 * the kernel drops datagrams from any other source). The socket is
 * replaced after POOL_USES queries or POOL_AGE_NS, so the source port keeps
 * changing (RFC 5452); a replaced socket closes when its last query ends.
 * A socket per query would cost five system calls more per query.
 */
#define POOL_USES 1000
#define POOL_AGE_NS (30ull * 1000000000ull)

struct ef_dns_upsock {
	int kind; /* EF_EPK_DNS_UPSOCK */
	int fd;
	struct ef_dns_upsock *next;
	struct sockaddr_storage sa;
	socklen_t len;
	uint32_t refs, uses;
	uint64_t born_ns;
	uint64_t srtt_ns; /* smoothed round trip of its answers, 0: none yet */
	bool retired;
};

static void upsock_free(void *p)
{
	free(p);
}

static void upsock_put(struct ef_daemon *d, struct ef_dns_upsock *u)
{
	if (--u->refs || !u->retired)
		return;
	for (struct ef_dns_upsock **pp = &d->dns_upsocks; *pp; pp = &(*pp)->next) {
		if (*pp == u) {
			*pp = u->next;
			break;
		}
	}
	ef_dns_close_fd(d, &u->fd);
	defer_free(u, upsock_free);
}

static struct ef_dns_upsock *upsock_get(struct ef_daemon *d, const struct ef_upstream *srv,
					int *err)
{
	uint64_t now = mono_ns(), srtt = 0;
	struct ef_dns_upsock *u;

	for (u = d->dns_upsocks; u; u = u->next) {
		if (u->retired || u->len != srv->len || memcmp(&u->sa, &srv->sa, srv->len))
			continue;
		if (u->uses < POOL_USES && now - u->born_ns < POOL_AGE_NS)
			break;
		srtt = u->srtt_ns;
		u->retired = true;
		if (!u->refs) {
			u->refs = 1;
			upsock_put(d, u);
		}
		u = NULL;
		break;
	}
	if (!u) {
		u = calloc(1, sizeof(*u));
		if (!u) {
			*err = -ENOMEM;
			return NULL;
		}
		u->kind = EF_EPK_DNS_UPSOCK;
		u->fd = socket(srv->sa.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (u->fd < 0 || connect(u->fd, (const struct sockaddr *)&srv->sa, srv->len) < 0 ||
		    ep_add(d, u->fd, EPOLLIN, u)) {
			*err = -errno;
			if (u->fd >= 0)
				close(u->fd);
			free(u);
			return NULL;
		}
		memcpy(&u->sa, &srv->sa, srv->len);
		u->len = srv->len;
		u->born_ns = now;
		u->srtt_ns = srtt;
		u->next = d->dns_upsocks;
		d->dns_upsocks = u;
	}
	u->refs++;
	u->uses++;
	return u;
}

/* A random id no query in flight uses. */
static int id_claim(struct ef_daemon *d, struct ef_dns_pending *p)
{
	if (!d->dns_by_id && !(d->dns_by_id = calloc(65536, sizeof(*d->dns_by_id))))
		return -ENOMEM;
	for (int i = 0; i < 64; i++) {
		uint16_t id;

		dns_random(&id, sizeof(id));
		if (!d->dns_by_id[id]) {
			d->dns_by_id[id] = p;
			p->up_id = id;
			p->id_claimed = true;
			return 0;
		}
	}
	return -EBUSY;
}

/* End the current attempt: release its socket and id. */
static void attempt_stop(struct ef_daemon *d, struct ef_dns_pending *p)
{
	ef_dns_close_fd(d, &p->fd);
	if (p->id_claimed) {
		d->dns_by_id[p->up_id] = NULL;
		p->id_claimed = false;
	}
	if (p->us) {
		upsock_put(d, p->us);
		p->us = NULL;
	}
}

static void pending_free(void *p)
{
	struct ef_dns_pending *q = p;

	free(q->query);
	free(q->tbuf);
	free(q);
}

static void pending_end(struct ef_daemon *d, struct ef_dns_pending *p)
{
	p->done = true;
	attempt_stop(d, p);
	if (p->prev)
		p->prev->next = p->next;
	else
		d->dns_pending = p->next;
	if (p->next)
		p->next->prev = p->prev;
	if (p->dj)
		p->dj->n_pending--;
	if (p->client.conn)
		conn_put(p->client.conn);
	ef_pol_put(d, p->pol); /* retired versions outlive this call (policies.c) */
	defer_free(p, pending_free);
}

static const struct ef_upstream *servers(struct ef_daemon *d, const struct ef_pol_rec *pol,
					 size_t *n)
{
	if (pol->n_up) {
		*n = pol->n_up;
		return pol->up;
	}
	if (d->cfg.dns.n_up) {
		*n = d->cfg.dns.n_up;
		return d->cfg.dns.up;
	}
	ef_dns_resolv_refresh(d);
	*n = d->n_resolv_up;
	return d->resolv_up;
}

static int send_attempt(struct ef_daemon *d, struct ef_dns_pending *p);

/* Give up on this attempt: next server, or SERVFAIL when all are spent. */
static void attempt_failed(struct ef_daemon *d, struct ef_dns_pending *p, const char *why)
{
	size_t n;

	servers(d, p->pol, &n);
	attempt_stop(d, p);
	p->tcp_up = false;
	p->tlen = p->texp = 0;
	snprintf(p->error, sizeof(p->error), "%s", why);
	if (p->case_mismatch && !p->case_lowered && n) {
		/*
		 * The attempt ended with only answers spelt otherwise: a spoofer,
		 * or an upstream that does not echo the case (or answers from a
		 * cache in an earlier spelling). The same server once more, in
		 * lowercase, so such an upstream costs a timeout, not every
		 * lookup; a spoofer gains nothing it could not by guessing ids.
		 */
		p->case_lowered = true;
		d->dns_case_fallback++;
		ef_dns_name_case(p->sent_name, p->sent_len, NULL, 0);
		if (ef_dns_query_build(&p->q, p->sent_name, p->sent_len, 0, p->query,
				       EF_DNS_NAME_MAX + 64) == (ssize_t)p->qlen &&
		    send_attempt(d, p) == 0)
			return;
	}
	if (n && ++p->attempt < n * d->cfg.dns.attempts && send_attempt(d, p) == 0)
		return;
	reply_error(d, &p->client, &p->q, true, EF_DNS_RCODE_SERVFAIL);
	ef_dns_record(d, p, NULL, EF_DNS_RCODE_SERVFAIL, NULL, 0);
	pending_end(d, p);
}

/* Send over the server's pooled UDP socket, or open a TCP connection and
 * start connecting. */
static int send_attempt(struct ef_daemon *d, struct ef_dns_pending *p)
{
	const struct ef_upstream *up;
	size_t n;
	int fd, ret;

	up = servers(d, p->pol, &n);
	if (!n)
		return -ENOENT;
	p->server = &up[p->attempt % n];
	snprintf(p->server_text, sizeof(p->server_text), "%s", p->server->text);
	ret = id_claim(d, p);
	if (ret)
		return ret;
	ef_dns_set_id(p->query, p->up_id);
	p->deadline_ns = mono_ns() + (uint64_t)d->cfg.dns.timeout_ms * 1000000ull;
	if (!p->tcp_up) {
		p->us = upsock_get(d, p->server, &ret);
		if (!p->us)
			return ret;
		if (send(p->us->fd, p->query, p->qlen, 0) < 0)
			return -errno;
		p->sent_ns = mono_ns();
		return 0;
	}
	fd = socket(p->server->sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (const struct sockaddr *)&p->server->sa, p->server->len) < 0 &&
	    errno != EINPROGRESS) {
		int ret = -errno;

		close(fd);
		return ret;
	}
	p->fd = fd;
	/* length prefix and query go out once connected */
	p->tbuf_out = true;
	return ep_add(d, fd, EPOLLOUT, p);
}

/* The upstream answered: learn, then release the answer to the job. */
static void answered(struct ef_daemon *d, struct ef_dns_pending *p, uint8_t *msg, size_t len,
		     const struct ef_dns_answer *a)
{
	char not_learned[EF_DNS_MAX_ADDRS][48];
	size_t n_not = 0;
	int ret;

	ret = ef_dns_learn(d, p, a, not_learned, &n_not);
	if (ret) {
		/* fail closed: an answer the fence could not learn would only
		 * produce denied connects */
		d->dns_learn_failed++;
		log_warn("job %s: learning the addresses of %s: %s", p->dj ? p->dj->job->id : "?",
			 p->q.name, strerror(-ret));
		reply_error(d, &p->client, &p->q, true, EF_DNS_RCODE_SERVFAIL);
		snprintf(p->error, sizeof(p->error), "learning addresses: %s", strerror(-ret));
		ef_dns_record(d, p, a, EF_DNS_RCODE_SERVFAIL, NULL, 0);
		pending_end(d, p);
		return;
	}
	ef_dns_set_id(msg, p->q.id);
	/* RD went up set whatever the job's said (dnsmsg.h): its own back */
	msg[2] = (uint8_t)((msg[2] & ~0x01) | (p->q.rd ? 0x01 : 0));
	if (!p->client.conn && len > p->q.udp_size) {
		/* too big for the job's UDP buffer: say so, it asks again over TCP */
		uint8_t tc[EF_DNS_NAME_MAX + 64];
		ssize_t n = ef_dns_reply_error(&p->q, true, EF_DNS_RCODE_NOERROR, tc, sizeof(tc));

		if (n > 0) {
			tc[2] |= 0x02; /* TC */
			ef_dns_reply(d, &p->client, tc, n);
		}
	} else {
		ef_dns_reply(d, &p->client, msg, len);
	}
	ef_dns_record(d, p, a, a->rcode, not_learned, n_not);
	pending_end(d, p);
}

static void on_answer(struct ef_daemon *d, struct ef_dns_pending *p, uint8_t *msg, size_t len)
{
	struct ef_dns_answer *a = &p->answer;
	int ret;

	ret = ef_dns_answer_parse(msg, len, &p->q, p->up_id, a);
	if (!ret) {
		ret = ef_dns_answer_spelling(msg, len, p->sent_name, p->sent_len, p->q.qwire);
		p->case_mismatch |= ret == -EPROTO;
	}
	if (ret) {
		/* not an answer to this query: ignore it (spoofing, or late); a
		 * question spelt otherwise than sent is a guess at the id */
		if (ret == -EPROTO && a->id == p->up_id)
			d->dns_spoofed++;
		log_debug("dns: ignoring a message from %s: %s", p->server_text, strerror(-ret));
		return;
	}
	if (a->tc && !p->tcp_up) {
		attempt_stop(d, p);
		p->tcp_up = true;
		if (send_attempt(d, p))
			attempt_failed(d, p, "TCP retry after truncation failed");
		return;
	}
	answered(d, p, msg, len, a);
}

/* Answers on a pooled socket, each to the query its id names. */
static void upsock_io(struct ef_daemon *d, struct ef_dns_upsock *u)
{
	uint8_t buf[ANSWER_MAX];

	u->refs++; /* attempts below may drop the last reference */
	for (int i = 0; i < UDP_BATCH && u->fd >= 0; i++) {
		ssize_t n = recv(u->fd, buf, sizeof(buf), 0);
		struct ef_dns_pending *p;

		if (n < 0) {
			if (errno == EAGAIN)
				break;
			/* ECONNREFUSED and the like: every attempt on it fails */
			for (p = d->dns_pending; p; p = p->next)
				if (p->us == u && !p->done)
					attempt_failed(d, p, strerror(errno));
			continue;
		}
		if (n < 12 || !d->dns_by_id)
			continue;
		p = d->dns_by_id[(buf[0] << 8) | buf[1]];
		if (p && p->us == u && !p->done) {
			uint64_t rtt = mono_ns() - p->sent_ns;

			u->srtt_ns = u->srtt_ns ? (7 * u->srtt_ns + rtt) / 8 : rtt;
			on_answer(d, p, buf, n);
		}
	}
	upsock_put(d, u);
}

static void upstream_tcp_io(struct ef_daemon *d, struct ef_dns_pending *p)
{
	if (p->tbuf_out) {
		uint8_t hdr[2] = { p->qlen >> 8, p->qlen & 0xff };
		struct iovec iov[2] = { { hdr, 2 }, { p->query, p->qlen } };
		struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 2 };
		int err = 0;
		socklen_t el = sizeof(err);

		getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &err, &el);
		if (err || sendmsg(p->fd, &mh, MSG_NOSIGNAL) != (ssize_t)(p->qlen + 2)) {
			attempt_failed(d, p, err ? strerror(err) : "TCP send failed");
			return;
		}
		p->tbuf_out = false;
		ep_mod(d, p->fd, EPOLLIN | EPOLLRDHUP, p);
		return;
	}
	if (!p->tbuf && !(p->tbuf = malloc(ANSWER_MAX + 2))) {
		attempt_failed(d, p, "out of memory");
		return;
	}
	for (;;) {
		size_t want = p->texp ? p->texp + 2 : 2;
		ssize_t n = recv(p->fd, p->tbuf + p->tlen, want - p->tlen, 0);

		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			attempt_failed(d, p, n == 0 ? "TCP connection closed early" : strerror(errno));
			return;
		}
		p->tlen += n;
		if (!p->texp && p->tlen == 2) {
			p->texp = (p->tbuf[0] << 8) | p->tbuf[1];
			if (!p->texp) {
				attempt_failed(d, p, "empty TCP answer");
				return;
			}
		} else if (p->texp && p->tlen == p->texp + 2) {
			on_answer(d, p, p->tbuf + 2, p->texp);
			if (!p->done)
				attempt_failed(d, p, "TCP answer does not answer the query");
			return;
		}
	}
}

/*
 * What goes upstream is the proxy's own query for the question (dnsmsg.h,
 * ef_dns_query_build): the job's bytes never leave the host. The name is
 * spelt in a case drawn at random per query, which the answer must echo.
 */
static struct ef_dns_pending *pending_new(struct ef_daemon *d, struct ef_dns_job *dj,
					  const struct ef_dns_client *cl,
					  const struct ef_dns_query *q)
{
	struct ef_dns_pending *p = calloc(1, sizeof(*p));
	size_t cap = EF_DNS_NAME_MAX + 64;
	uint8_t bits[32];
	ssize_t n;

	if (!p || !(p->query = malloc(cap))) {
		free(p);
		return NULL;
	}
	memcpy(p->sent_name, q->qwire, q->qwire_len);
	p->sent_len = q->qwire_len;
	if (d->cfg.dns.case_random) {
		dns_random(bits, sizeof(bits));
		ef_dns_name_case(p->sent_name, p->sent_len, bits, sizeof(bits));
	} else {
		ef_dns_name_case(p->sent_name, p->sent_len, NULL, 0);
	}
	n = ef_dns_query_build(q, p->sent_name, p->sent_len, 0, p->query, cap);
	if (n < 0) {
		free(p->query);
		free(p);
		return NULL;
	}
	p->qlen = (size_t)n;
	p->kind = EF_EPK_DNS_UP;
	p->fd = -1;
	p->dj = dj;
	p->pol = dj->job->pol;
	p->pol->refs++; /* the job may change policy while the query is out */
	p->client = *cl;
	if (cl->conn)
		cl->conn->refs++;
	p->start_real_ns = ef_now_realtime_ns();
	p->next = d->dns_pending;
	if (p->next)
		p->next->prev = p;
	d->dns_pending = p;
	dj->n_pending++;
	return p;
}

/*
 * With an upstream that answers within microseconds (a caching resolver on
 * the host), sleeping in epoll_wait between the query and its answer costs
 * more than the answer takes: two wakeups instead of none. So for a server
 * whose smoothed round trip is under busy_poll_us, egressd polls the socket
 * for up to twice that before going back to epoll. Bounded; 0 disables.
 */
static void busy_poll(struct ef_daemon *d, struct ef_dns_pending *p)
{
	struct ef_dns_upsock *u = p->us;
	uint64_t budget, start;

	if (!u || !d->cfg.dns.busy_poll_us || !u->srtt_ns ||
	    u->srtt_ns > (uint64_t)d->cfg.dns.busy_poll_us * 1000)
		return;
	budget = 2 * u->srtt_ns;
	start = p->sent_ns;
	u->refs++;
	while (!p->done && p->us == u && u->fd >= 0 && mono_ns() - start < budget)
		upsock_io(d, u);
	upsock_put(d, u);
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
		reply_error(d, cl, &q, false, EF_DNS_RCODE_FORMERR);
		ef_dns_refused(d, dj, EF_R_DNS_MALFORMED, NULL, EF_DNS_RCODE_FORMERR, tcp,
			       "longer than 4096 bytes");
		return;
	}
	ret = ef_dns_query_parse(msg, len, &q, &rcode);
	if (ret == -EPROTO) {
		reply_error(d, cl, &q, q.has_question, rcode);
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
		reply_error(d, cl, &q, true, EF_DNS_RCODE_NXDOMAIN);
		ef_dns_record(d, &tmp, NULL, EF_DNS_RCODE_NXDOMAIN, NULL, 0);
		return;
	}
	if (q.qclass != EF_DNS_CLASS_IN || !ef_dns_type_forwardable(q.qtype)) {
		/* 32 bits a query of the job's choosing, and nothing a resolver
		 * library asks: not forwarded, whatever the mode */
		reply_error(d, cl, &q, true, EF_DNS_RCODE_REFUSED);
		ef_dns_refused(d, dj, EF_R_DNS_MALFORMED, &q, EF_DNS_RCODE_REFUSED, tcp,
			       q.qclass != EF_DNS_CLASS_IN ? "a class other than IN"
							   : "a type the proxy does not forward");
		return;
	}
	if (!ef_dns_admit(dj)) {
		ef_dns_refused(d, dj, EF_R_DNS_LIMIT, &q, EF_DNS_RCODE_REFUSED, tcp,
			       "over the query rate");
		if (dj->job->pol->pol->mode != EF_MODE_AUDIT) {
			reply_error(d, cl, &q, true, EF_DNS_RCODE_REFUSED);
			return;
		}
	}
	if (dj->n_pending >= MAX_PENDING_PER_JOB) {
		d->dns_dropped++;
		reply_error(d, cl, &q, true, EF_DNS_RCODE_SERVFAIL);
		ef_dns_refused(d, dj, EF_R_DNS_LIMIT, &q, EF_DNS_RCODE_SERVFAIL, tcp,
			       "too many queries waiting upstream");
		return;
	}
	p = pending_new(d, dj, cl, &q);
	if (!p) {
		reply_error(d, cl, &q, true, EF_DNS_RCODE_SERVFAIL);
		return;
	}
	p->q = q;
	p->dec = dec;
	ret = send_attempt(d, p);
	if (ret)
		attempt_failed(d, p, ret == -ENOENT ? "no upstream DNS server configured"
						    : strerror(-ret));
	else
		busy_poll(d, p); /* p stays allocated until ef_dns_reap() */
}

static void udp_io(struct ef_daemon *d, struct ef_dns_sock *ls)
{
	uint8_t buf[QUERY_MAX + 1];

	/* the askers' exec records (their trace context) are in the ring
	 * ahead of their queries: read them first */
	d->up.events_consume(d);
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

static void conn_io(struct ef_daemon *d, struct ef_dns_conn *c, uint32_t events)
{
	d->up.events_consume(d); /* as udp_io */
	if (events & EPOLLOUT)
		conn_flush(d, c);
	if (c->fd < 0)
		return;
	c->last_ns = mono_ns();
	for (;;) {
		size_t want;
		ssize_t n;

		if (!c->rbuf && !(c->rbuf = malloc(QUERY_MAX + 2))) {
			conn_close(d, c);
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
			conn_close(d, c);
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
				conn_close(d, c);
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

/*
 * A proxy socket that failed under egressd: destroyed from outside
 * (SOCK_DESTROY, `ss -K`: a root process, or a job its policy granted
 * CAP_NET_ADMIN), which aborts a listener (the port is freed) and reports
 * ECONNABORTED on a UDP socket. The job's DNS must not stay broken, nor
 * egressd spin on the error: the socket is made anew on the same port,
 * else the four on a new one (the fence's maps follow), and it says so.
 */
static void revive(struct ef_daemon *d, struct ef_dns_sock *ls)
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
	listeners_close(d, dj);
	ret = listeners_open(d, dj, 0);
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

void ef_dns_io(struct ef_daemon *d, void *tag, uint32_t events)
{
	switch (*(const int *)tag) {
	case EF_EPK_DNS_UDP: {
		struct ef_dns_sock *ls = tag;

		if (ls->fd >= 0 && (events & (EPOLLERR | EPOLLHUP)))
			revive(d, ls);
		else if (ls->fd >= 0)
			udp_io(d, ls);
		break;
	}
	case EF_EPK_DNS_LISTEN: {
		struct ef_dns_sock *ls = tag;

		if (ls->fd >= 0 && (events & (EPOLLERR | EPOLLHUP)))
			revive(d, ls);
		else if (ls->fd >= 0)
			conn_accept(d, ls);
		break;
	}
	case EF_EPK_DNS_CONN: {
		struct ef_dns_conn *c = tag;

		if (c->fd >= 0)
			conn_io(d, c, events);
		break;
	}
	case EF_EPK_DNS_UP: {
		struct ef_dns_pending *p = tag;

		if (p->fd >= 0 && !p->done && p->tcp_up)
			upstream_tcp_io(d, p);
		break;
	}
	case EF_EPK_DNS_UPSOCK: {
		struct ef_dns_upsock *u = tag;

		if (u->fd >= 0)
			upsock_io(d, u);
		break;
	}
	default:
		log_err("epoll: unknown tag kind %d", *(const int *)tag);
	}
}

/* Timeouts of upstream attempts, idle TCP connections, learned-map sweep. */
void ef_dns_tick(struct ef_daemon *d)
{
	uint64_t now = mono_ns();

	for (struct ef_dns_pending *p = d->dns_pending, *next; p; p = next) {
		next = p->next;
		if (!p->done && (p->fd >= 0 || p->us) && now >= p->deadline_ns)
			attempt_failed(d, p, "timed out");
	}
	for (struct ef_job_rec *j = d->jobs; j; j = j->next) {
		if (!j->dns)
			continue;
		for (struct ef_dns_conn *c = j->dns->conns, *next; c; c = next) {
			next = c->next;
			if (now - c->last_ns > CONN_IDLE_NS && c->woff == c->wlen) {
				if (c->rlen)
					ef_dns_refused(d, j->dns, EF_R_DNS_MALFORMED, NULL, -1, true,
						       "TCP message left unfinished");
				conn_close(d, c);
			}
		}
		ef_dns_fold_tick(d, j->dns, false);
		ef_dns_nets_tick(d, j->dns);
	}
	ef_dns_sweep(d, false);
}

size_t ef_dns_n_pending(struct ef_daemon *d)
{
	size_t n = 0;

	for (struct ef_dns_pending *p = d->dns_pending; p; p = p->next)
		n++;
	return n;
}

static void dj_free(void *p)
{
	struct ef_dns_job *dj = p;

	ef_dns_mirror_free(dj->mirror);
	free(dj);
}

/* The job's proxy sockets and queries; what it put in the maps stays. */
static void proxy_close(struct ef_daemon *d, struct ef_job_rec *j)
{
	struct ef_dns_job *dj = j->dns;

	for (struct ef_dns_pending *p = d->dns_pending, *next; p; p = next) {
		next = p->next;
		if (p->dj == dj)
			pending_end(d, p);
	}
	while (dj->conns)
		conn_close(d, dj->conns);
	listeners_close(d, dj);
	j->dns = NULL;
	defer_free(dj, dj_free);
}

void ef_dns_job_flush(struct ef_daemon *d, struct ef_job_rec *j)
{
	if (j->dns)
		ef_dns_fold_tick(d, j->dns, true);
}

void ef_dns_job_stop(struct ef_daemon *d, struct ef_job_rec *j)
{
	int fd_ports = bpf_map__fd(d->skel->maps.ef_dns_ports);
	__u16 port;
	__u64 owner;

	if (!j->dns)
		return;
	ef_dns_fold_tick(d, j->dns, true);
	port = j->dns->port;
	proxy_close(d, j);
	if (!bpf_map_lookup_elem(fd_ports, &port, &owner) && owner == j->cgroup_id)
		bpf_map_delete_elem(fd_ports, &port);
	ef_dns_forget_job(d, j->cgroup_id);
}

void ef_dns_close(struct ef_daemon *d)
{
	/* ports and learned addresses stay in the maps: the jobs outlive egressd */
	for (struct ef_job_rec *j = d->jobs; j; j = j->next)
		if (j->dns)
			proxy_close(d, j);
	while (d->dns_upsocks) {
		struct ef_dns_upsock *u = d->dns_upsocks;

		d->dns_upsocks = u->next;
		ef_dns_close_fd(d, &u->fd);
		free(u);
	}
	free(d->dns_by_id);
	d->dns_by_id = NULL;
	ef_dns_reap(d);
	ef_name_cache_free(d);
}
