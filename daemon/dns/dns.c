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
 *      or resolv.conf's) over UDP, on a socket pooled per server whose source
 *      port keeps changing, with a random id per attempt; a truncated answer
 *      is asked again over TCP; an attempt times out after timeout_ms and
 *      the next server is tried;
 *   3. the A/AAAA addresses the answer gives for the name, through its CNAME
 *      chain, are written to ef_learned for this job (dns_learn.c) *before*
 *      the answer is released, so a connect made right after it finds them;
 *   4. the answer goes back with the job's id; one egress.dns span.
 *
 * Nothing here blocks: one epoll loop with the ring-buffer consumer.
 * Objects that epoll may still report in the current batch are freed only
 * by ef_dns_reap() after the batch.
 *
 * This file starts and stops a job's proxy and drives it (epoll events,
 * timeouts); the job's side (listeners, its TCP connections, its queries
 * judged and answered) is dns_listen.c, forwarding is dns_upstream.c.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "egressd.h"
#include "registry/registry.h"
#include "dns.h"
#include "dnsproxy.h"
#include "lib/util.h"
#include "fence.skel.h"

#define CONN_IDLE_NS (10ull * 1000000000ull)

uint64_t ef_dns_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* ---- objects freed after the epoll batch ---- */

static struct ef_dns_dead {
	struct ef_dns_dead *next;
	void *obj;
	void (*fn)(void *);
} *graveyard;

void ef_dns_defer_free(void *obj, void (*fn)(void *))
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

int ef_dns_ep_add(struct ef_daemon *d, int fd, uint32_t events, void *tag)
{
	struct epoll_event ev = { .events = events, .data.ptr = tag };

	return epoll_ctl(d->epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

void ef_dns_ep_mod(struct ef_daemon *d, int fd, uint32_t events, void *tag)
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

/* ---- a job's proxy: started, driven, stopped ---- */

int ef_dns_job_start(struct ef_daemon *d, struct ef_job_rec *j, uint16_t want_port)
{
	struct ef_dns_job *dj = calloc(1, sizeof(*dj));
	int ret;

	if (!dj)
		return -ENOMEM;
	dj->job = j;
	ret = ef_dns_listeners_open(d, dj, want_port);
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
			ef_dns_listeners_close(d, dj);
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

void ef_dns_io(struct ef_daemon *d, void *tag, uint32_t events)
{
	switch (*(const int *)tag) {
	case EF_EPK_DNS_UDP: {
		struct ef_dns_sock *ls = tag;

		if (ls->fd >= 0 && (events & (EPOLLERR | EPOLLHUP)))
			ef_dns_revive(d, ls);
		else if (ls->fd >= 0)
			ef_dns_udp_io(d, ls);
		break;
	}
	case EF_EPK_DNS_LISTEN: {
		struct ef_dns_sock *ls = tag;

		if (ls->fd >= 0 && (events & (EPOLLERR | EPOLLHUP)))
			ef_dns_revive(d, ls);
		else if (ls->fd >= 0)
			ef_dns_conn_accept(d, ls);
		break;
	}
	case EF_EPK_DNS_CONN: {
		struct ef_dns_conn *c = tag;

		if (c->fd >= 0)
			ef_dns_conn_io(d, c, events);
		break;
	}
	case EF_EPK_DNS_UP: {
		struct ef_dns_pending *p = tag;

		if (p->fd >= 0 && !p->done && p->tcp_up)
			ef_dns_upstream_tcp_io(d, p);
		break;
	}
	case EF_EPK_DNS_UPSOCK: {
		struct ef_dns_upsock *u = tag;

		if (u->fd >= 0)
			ef_dns_upsock_io(d, u);
		break;
	}
	default:
		log_err("epoll: unknown tag kind %d", *(const int *)tag);
	}
}

/* Timeouts of upstream attempts, idle TCP connections, learned-map sweep. */
void ef_dns_tick(struct ef_daemon *d)
{
	uint64_t now = ef_dns_mono_ns();

	for (struct ef_dns_pending *p = d->dns_pending, *next; p; p = next) {
		next = p->next;
		if (!p->done && (p->fd >= 0 || p->us) && now >= p->deadline_ns)
			ef_dns_attempt_failed(d, p, "timed out");
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
				ef_dns_conn_close(d, c);
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
			ef_dns_pending_end(d, p);
	}
	while (dj->conns)
		ef_dns_conn_close(d, dj->conns);
	ef_dns_listeners_close(d, dj);
	ef_dns_cache_flush(d, dj);
	j->dns = NULL;
	ef_dns_defer_free(dj, dj_free);
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
