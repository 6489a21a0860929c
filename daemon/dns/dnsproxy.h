/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The DNS proxy's objects, shared by dns.c (a job's proxy, events, timeouts),
 * dns_listen.c (listeners, the job's connections, queries and replies),
 * dns_upstream.c (forwarding) and dns_learn.c (decisions, learned addresses,
 * spans). */
#ifndef EF_DNSPROXY_H
#define EF_DNSPROXY_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "egressd.h"
#include "dnsmsg.h"

struct ef_dns_job;
struct ef_learn_mirror;

struct ef_dns_net;
struct ef_dns_cache;

#define ANSWER_MAX 65535 /* longest answer (TCP) */
#define UDP_BATCH 64	 /* datagrams read per wakeup, for fairness */
#define CACHE_MSG_MAX 4096 /* longest answer kept in a job's cache (dns_cache.c) */

/* A proxy socket: UDP, or a TCP listener. First member: enum ef_ep_kind. */
struct ef_dns_sock {
	int kind;
	int fd;
	struct ef_dns_job *dj;
	bool v6;
	struct ef_dns_net *net; /* NULL: in egressd's network namespace */
};

/* The job's proxy sockets in another network namespace (dns_netns.c). */
#define EF_DNS_NETS_MAX 16
struct ef_dns_net {
	uint64_t cookie;  /* the namespace's; 0: a free slot */
	bool failed;	  /* could not be opened: the slot and ef_dns_nets entry
			   * go at failed_ns + EF_DNS_NET_RETRY_NS, then the job's
			   * next query there tries again */
	uint64_t failed_ns;
	struct ef_dns_sock udp4, tcp4, udp6, tcp6;
};

/* A job's TCP connection to its proxy. Referenced by its pending queries. */
struct ef_dns_conn {
	int kind;
	int fd; /* -1 once closed */
	struct ef_dns_job *dj;
	struct ef_dns_conn *next;
	int refs;
	uint64_t last_ns;
	uint8_t *rbuf; /* 2-byte length + query */
	size_t rlen, rexp;
	uint8_t *wbuf;
	size_t wlen, woff, wcap;
	struct ef_dns_who who; /* the process that connected (ef_dns_who_find) */
	bool has_who;
};

/* Refusals of one reason, folded into one span per window (dns_guard.c). */
struct ef_dns_fold {
	uint64_t count;	       /* since the last span */
	uint64_t first_real_ns; /* the first of them */
	uint64_t last_emit_ns;	/* CLOCK_MONOTONIC; 0: never */
	char name[EF_DNS_NAME_MAX]; /* the last one's question, "" if none */
	uint16_t qtype;
	bool has_type, tcp;
	int rcode; /* what it was answered, -1: nothing */
	char why[64];
};

struct ef_dns_job {
	struct ef_job_rec *job;
	double tokens;	    /* the query bucket (dns_guard.c) */
	uint64_t bucket_ns; /* CLOCK_MONOTONIC of its last refill; 0: full */
	struct ef_dns_fold fold[2]; /* dns_limit, dns_malformed */
	uint16_t port;
	bool v6;
	struct ef_dns_sock udp4, tcp4, udp6, tcp6;
	struct ef_dns_net nets[EF_DNS_NETS_MAX];
	bool nets_full_logged;
	struct ef_dns_conn *conns;
	int n_conns, n_pending;
	struct ef_learn_mirror *mirror; /* what this job's ef_learned entries hold */
	struct ef_dns_cache *cache;	/* its answers, by question (dns_cache.c) */
};

/* Where an answer goes: a UDP peer of a proxy socket, or a TCP connection. */
struct ef_dns_client {
	struct ef_dns_sock *sock;
	struct sockaddr_storage addr;
	socklen_t addr_len;
	struct ef_dns_conn *conn;
	struct ef_dns_who who; /* the process that asked; UDP (TCP: conn's) */
	bool has_who;
};

/* What the policy says of a name. */
struct ef_dns_decision {
	uint8_t verdict; /* enum ef_verdict */
	uint8_t reason;	 /* enum ef_reason */
	uint32_t rule_id;
	bool named;		/* some name rule covers it: ports holds its ranges */
	struct ef_ports ports;
};

/* A query forwarded upstream. First member: enum ef_ep_kind. */
struct ef_dns_pending {
	int kind;
	int fd; /* the current attempt's socket, -1 between attempts */
	struct ef_dns_pending *next, *prev;
	struct ef_dns_job *dj;	 /* NULL once the job is gone */
	struct ef_pol_rec *pol;
	struct ef_dns_client client;
	struct ef_dns_query q;
	struct ef_dns_decision dec;
	uint8_t *query; /* as the proxy rebuilt it (ef_dns_query_build); the id is
			 * replaced per attempt */
	size_t qlen;
	uint8_t sent_name[255]; /* the question's name as spelt upstream (0x20) */
	size_t sent_len;
	bool case_mismatch; /* an answer with the right id came spelt otherwise */
	bool case_lowered;  /* ...so the proxy asks again in lowercase */
	uint16_t up_id;
	bool id_claimed;
	struct ef_dns_upsock *us; /* UDP attempt: the pooled socket it went out on */
	size_t attempt;
	const struct ef_upstream *server;
	char server_text[64];
	bool tcp_up, tbuf_out, done;
	bool cached; /* answered from the job's cache (dns_cache.c), never sent */
	uint8_t *tbuf; /* TCP answer: 2-byte length + message */
	size_t tlen, texp;
	uint64_t deadline_ns; /* CLOCK_MONOTONIC */
	uint64_t sent_ns;     /* CLOCK_MONOTONIC, UDP attempt sent */
	uint64_t start_real_ns;
	char error[96];
	struct ef_dns_answer answer;
};

/* A pooled UDP socket to an upstream server (dns_upstream.c). */
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

/* dns.c */
uint64_t ef_dns_mono_ns(void);
/* obj is freed by fn(obj) in ef_dns_reap(), after the epoll batch */
void ef_dns_defer_free(void *obj, void (*fn)(void *));
int ef_dns_ep_add(struct ef_daemon *d, int fd, uint32_t events, void *tag);
void ef_dns_ep_mod(struct ef_daemon *d, int fd, uint32_t events, void *tag);
void ef_dns_close_fd(struct ef_daemon *d, int *fd);

/* dns_listen.c */
int ef_dns_listen_one(struct ef_daemon *d, struct ef_dns_sock *ls, struct ef_dns_job *dj,
		      bool v6, bool tcp, uint16_t port, uint16_t *got);
int ef_dns_listeners_open(struct ef_daemon *d, struct ef_dns_job *dj, uint16_t want);
void ef_dns_listeners_close(struct ef_daemon *d, struct ef_dns_job *dj);
void ef_dns_revive(struct ef_daemon *d, struct ef_dns_sock *ls);
void ef_dns_conn_put(struct ef_dns_conn *c);
void ef_dns_conn_close(struct ef_daemon *d, struct ef_dns_conn *c);
void ef_dns_conn_accept(struct ef_daemon *d, struct ef_dns_sock *ls);
void ef_dns_conn_io(struct ef_daemon *d, struct ef_dns_conn *c, uint32_t events);
void ef_dns_udp_io(struct ef_daemon *d, struct ef_dns_sock *ls);
void ef_dns_reply(struct ef_daemon *d, const struct ef_dns_client *cl, const uint8_t *msg,
		  size_t len);
/* an answer with no records; q may have no question (malformed query) */
void ef_dns_reply_rcode(struct ef_daemon *d, const struct ef_dns_client *cl,
			const struct ef_dns_query *q, bool has_question, int rcode);
/* the job's process that sent from this client port (proto
 * IPPROTO_UDP or IPPROTO_TCP), as the wire check noted it (ef_dns_peer) */
bool ef_dns_who_find(struct ef_daemon *d, const struct ef_dns_job *dj, uint8_t proto,
		     const struct sockaddr_storage *peer, struct ef_dns_who *out);

/* dns_upstream.c */
struct ef_dns_pending *ef_dns_pending_new(struct ef_daemon *d, struct ef_dns_job *dj,
					  const struct ef_dns_client *cl,
					  const struct ef_dns_query *q);
void ef_dns_pending_end(struct ef_daemon *d, struct ef_dns_pending *p);
int ef_dns_send_attempt(struct ef_daemon *d, struct ef_dns_pending *p);
void ef_dns_attempt_failed(struct ef_daemon *d, struct ef_dns_pending *p, const char *why);
void ef_dns_busy_poll(struct ef_daemon *d, struct ef_dns_pending *p);
/* where a query judged by pol goes: its dns.upstream, the config's, or
 * resolv.conf's (re-read when it changed, at most once a second) */
const struct ef_upstream *ef_dns_servers(struct ef_daemon *d, const struct ef_pol_rec *pol,
					 size_t *n);
void ef_dns_upsock_io(struct ef_daemon *d, struct ef_dns_upsock *u);
void ef_dns_upstream_tcp_io(struct ef_daemon *d, struct ef_dns_pending *p);
/* an answer to p (msg, parsed into a): learned, released to the job with its
 * id and RD bit, recorded; kept in the job's cache when it may be. p is not
 * ended here. */
void ef_dns_release(struct ef_daemon *d, struct ef_dns_pending *p, uint8_t *msg, size_t len,
		    const struct ef_dns_answer *a);

/* dns_cache.c */
/* keep the answer to q (as released to the job: its spelling) */
void ef_dns_cache_put(struct ef_daemon *d, struct ef_dns_job *dj, const struct ef_dns_query *q,
		      const char *server_text, const uint8_t *msg, size_t len,
		      const struct ef_dns_answer *a);
/* the kept answer to q, aged and in q's spelling, into out (its id and RD
 * bit are ef_dns_release()'s to set),
 * and what it gives into a (as ef_dns_answer_parse() found it, TTLs aged):
 * 0, or -ENOENT (none, or expired) */
int ef_dns_cache_get(struct ef_daemon *d, struct ef_dns_job *dj, const struct ef_dns_query *q,
		     uint8_t *out, size_t outlen, size_t *len, char server_text[64],
		     struct ef_dns_answer *a);
/* every job's cache emptied: the upstream of resolv.conf changed */
void ef_dns_cache_flush_all(struct ef_daemon *d);
/* every answer of the job's cache gone (policy change, job end) */
void ef_dns_cache_flush(struct ef_daemon *d, struct ef_dns_job *dj);

/* dns_netns.c */
void ef_dns_nets_close(struct ef_daemon *d, struct ef_dns_job *dj);
void ef_dns_net_failed(struct ef_daemon *d, struct ef_dns_net *n);
void ef_dns_nets_tick(struct ef_daemon *d, struct ef_dns_job *dj);

/* dns_guard.c */
bool ef_dns_admit(struct ef_dns_job *dj);
void ef_dns_refused(struct ef_daemon *d, struct ef_dns_job *dj, int reason,
		    const struct ef_dns_query *q, int rcode, bool tcp, const char *why);
void ef_dns_fold_tick(struct ef_daemon *d, struct ef_dns_job *dj, bool flush);

/* dns_learn.c */
void ef_dns_decide(const struct ef_pol_rec *pol, const char *name,
		   struct ef_dns_decision *dec);
int ef_dns_learn(struct ef_daemon *d, const struct ef_dns_pending *p,
		 const struct ef_dns_answer *a, char not_learned[][48], size_t *n_not);
void ef_dns_record(struct ef_daemon *d, const struct ef_dns_pending *p,
		   const struct ef_dns_answer *a, int rcode, char not_learned[][48], size_t n_not);
void ef_dns_sweep(struct ef_daemon *d, bool now);
void ef_dns_forget_job(struct ef_daemon *d, uint64_t cgroup_id);
void ef_dns_mirror_free(struct ef_learn_mirror *m);
void ef_dns_resolv_refresh(struct ef_daemon *d);

#endif /* EF_DNSPROXY_H */
