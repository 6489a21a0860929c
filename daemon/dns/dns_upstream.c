// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The DNS proxy's forwarding (dns.c has the overview): a query the proxy
 * does not answer itself (dns_listen.c) goes to the policy's upstream (or
 * the config's, or resolv.conf's) over UDP with a random id per attempt; a
 * truncated answer is asked again over TCP; an attempt times out after
 * timeout_ms and the next server is tried. The answer's addresses are
 * learned (dns_learn.c) before it is released to the job.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "egressd.h"
#include "policies/policies.h"
#include "dnsmsg.h"
#include "dnsproxy.h"
#include "lib/util.h"

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
	ef_dns_defer_free(u, upsock_free);
}

static struct ef_dns_upsock *upsock_get(struct ef_daemon *d, const struct ef_upstream *srv,
					int *err)
{
	uint64_t now = ef_dns_mono_ns(), srtt = 0;
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
		    ef_dns_ep_add(d, u->fd, EPOLLIN, u)) {
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

/* ---- attempts: ids, servers, retries ---- */

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

void ef_dns_pending_end(struct ef_daemon *d, struct ef_dns_pending *p)
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
		ef_dns_conn_put(p->client.conn);
	ef_pol_put(d, p->pol); /* retired versions outlive this call (policies.c) */
	ef_dns_defer_free(p, pending_free);
}

const struct ef_upstream *ef_dns_servers(struct ef_daemon *d, const struct ef_pol_rec *pol,
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

/* Give up on this attempt: next server, or SERVFAIL when all are spent. */
void ef_dns_attempt_failed(struct ef_daemon *d, struct ef_dns_pending *p, const char *why)
{
	size_t n;

	ef_dns_servers(d, p->pol, &n);
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
		    ef_dns_send_attempt(d, p) == 0)
			return;
	}
	if (n && ++p->attempt < n * d->cfg.dns.attempts && ef_dns_send_attempt(d, p) == 0)
		return;
	ef_dns_reply_rcode(d, &p->client, &p->q, true, EF_DNS_RCODE_SERVFAIL);
	ef_dns_record(d, p, NULL, EF_DNS_RCODE_SERVFAIL, NULL, 0);
	ef_dns_pending_end(d, p);
}

/* Send over the server's pooled UDP socket, or open a TCP connection and
 * start connecting. */
int ef_dns_send_attempt(struct ef_daemon *d, struct ef_dns_pending *p)
{
	const struct ef_upstream *up;
	size_t n;
	int fd, ret;

	up = ef_dns_servers(d, p->pol, &n);
	if (!n)
		return -ENOENT;
	p->server = &up[p->attempt % n];
	snprintf(p->server_text, sizeof(p->server_text), "%s", p->server->text);
	ret = id_claim(d, p);
	if (ret)
		return ret;
	ef_dns_set_id(p->query, p->up_id);
	p->deadline_ns = ef_dns_mono_ns() + (uint64_t)d->cfg.dns.timeout_ms * 1000000ull;
	if (!p->tcp_up) {
		p->us = upsock_get(d, p->server, &ret);
		if (!p->us)
			return ret;
		if (send(p->us->fd, p->query, p->qlen, 0) < 0)
			return -errno;
		p->sent_ns = ef_dns_mono_ns();
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
	return ef_dns_ep_add(d, fd, EPOLLOUT, p);
}

/* ---- answers ---- */

/* An answer (the upstream's, or the job's cache's): learn, then release it
 * to the job. */
void ef_dns_release(struct ef_daemon *d, struct ef_dns_pending *p, uint8_t *msg, size_t len,
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
		ef_dns_reply_rcode(d, &p->client, &p->q, true, EF_DNS_RCODE_SERVFAIL);
		snprintf(p->error, sizeof(p->error), "learning addresses: %s", strerror(-ret));
		ef_dns_record(d, p, a, EF_DNS_RCODE_SERVFAIL, NULL, 0);
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
	/* kept only when asked under the policy version the job has now: the
	 * cache is emptied when that changes (ef_dns_relearn) */
	if (!p->cached && p->dj && p->pol == p->dj->job->pol)
		ef_dns_cache_put(d, p->dj, &p->q, p->server_text, msg, len, a);
	ef_dns_record(d, p, a, a->rcode, not_learned, n_not);
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
		if (ef_dns_send_attempt(d, p))
			ef_dns_attempt_failed(d, p, "TCP retry after truncation failed");
		return;
	}
	ef_dns_release(d, p, msg, len, a);
	ef_dns_pending_end(d, p);
}

/* Answers on a pooled socket, each to the query its id names. */
void ef_dns_upsock_io(struct ef_daemon *d, struct ef_dns_upsock *u)
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
					ef_dns_attempt_failed(d, p, strerror(errno));
			continue;
		}
		if (n < 12 || !d->dns_by_id)
			continue;
		p = d->dns_by_id[(buf[0] << 8) | buf[1]];
		if (p && p->us == u && !p->done) {
			uint64_t rtt = ef_dns_mono_ns() - p->sent_ns;

			u->srtt_ns = u->srtt_ns ? (7 * u->srtt_ns + rtt) / 8 : rtt;
			on_answer(d, p, buf, n);
		}
	}
	upsock_put(d, u);
}

/* ---- TCP to upstream (after a truncated answer) ---- */

void ef_dns_upstream_tcp_io(struct ef_daemon *d, struct ef_dns_pending *p)
{
	if (p->tbuf_out) {
		uint8_t hdr[2] = { p->qlen >> 8, p->qlen & 0xff };
		struct iovec iov[2] = { { hdr, 2 }, { p->query, p->qlen } };
		struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 2 };
		int err = 0;
		socklen_t el = sizeof(err);

		getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &err, &el);
		if (err || sendmsg(p->fd, &mh, MSG_NOSIGNAL) != (ssize_t)(p->qlen + 2)) {
			ef_dns_attempt_failed(d, p, err ? strerror(err) : "TCP send failed");
			return;
		}
		p->tbuf_out = false;
		ef_dns_ep_mod(d, p->fd, EPOLLIN | EPOLLRDHUP, p);
		return;
	}
	if (!p->tbuf && !(p->tbuf = malloc(ANSWER_MAX + 2))) {
		ef_dns_attempt_failed(d, p, "out of memory");
		return;
	}
	for (;;) {
		size_t want = p->texp ? p->texp + 2 : 2;
		ssize_t n = recv(p->fd, p->tbuf + p->tlen, want - p->tlen, 0);

		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			ef_dns_attempt_failed(d, p, n == 0 ? "TCP connection closed early"
							   : strerror(errno));
			return;
		}
		p->tlen += n;
		if (!p->texp && p->tlen == 2) {
			p->texp = (p->tbuf[0] << 8) | p->tbuf[1];
			if (!p->texp) {
				ef_dns_attempt_failed(d, p, "empty TCP answer");
				return;
			}
		} else if (p->texp && p->tlen == p->texp + 2) {
			on_answer(d, p, p->tbuf + 2, p->texp);
			if (!p->done)
				ef_dns_attempt_failed(d, p, "TCP answer does not answer the query");
			return;
		}
	}
}

/* ---- a query forwarded ---- */

/*
 * What goes upstream is the proxy's own query for the question (dnsmsg.h,
 * ef_dns_query_build): the job's bytes never leave the host. The name is
 * spelt in a case drawn at random per query, which the answer must echo.
 */
struct ef_dns_pending *ef_dns_pending_new(struct ef_daemon *d, struct ef_dns_job *dj,
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
void ef_dns_busy_poll(struct ef_daemon *d, struct ef_dns_pending *p)
{
	struct ef_dns_upsock *u = p->us;
	uint64_t budget, start;

	if (!u || !d->cfg.dns.busy_poll_us || !u->srtt_ns ||
	    u->srtt_ns > (uint64_t)d->cfg.dns.busy_poll_us * 1000)
		return;
	budget = 2 * u->srtt_ns;
	start = p->sent_ns;
	u->refs++;
	while (!p->done && p->us == u && u->fd >= 0 && ef_dns_mono_ns() - start < budget)
		ef_dns_upsock_io(d, u);
	upsock_put(d, u);
}
