/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The per-job DNS proxy: its settings, each job's proxy, the names
 * behind learned addresses, and the proxy in other network namespaces.
 */
#ifndef EF_DNS_DNS_H
#define EF_DNS_DNS_H

#include "egressd.h"

int ef_dns_netns_init(struct ef_daemon *d);
void ef_dns_netns_seen(struct ef_daemon *d, const struct ef_event *e);

/* the job's proxy opened in pid's network namespace now, not at its first
 * query (a container started through the job's Docker endpoint) */
void ef_dns_netns_open_pid(struct ef_daemon *d, struct ef_job_rec *j, pid_t pid);

/* dns.c: the per-job DNS proxy (ef_dns_config: dns_learn.c) */
int ef_dns_config(struct ef_daemon *d, const cJSON *section, const char *path);
int ef_dns_job_start(struct ef_daemon *d, struct ef_job_rec *j, uint16_t want_port);
void ef_dns_job_stop(struct ef_daemon *d, struct ef_job_rec *j);

/* The job's folded DNS refusals not yet written (before its job span). */
void ef_dns_job_flush(struct ef_daemon *d, struct ef_job_rec *j);
void ef_dns_job_value(const struct ef_job_rec *j, struct ef_job *v); /* dns_port, dns_flags */
/* the port the job's proxy listens on (loopback), 0: none */
uint16_t ef_dns_job_port(const struct ef_job_rec *j);
/* dns_learn.c: a job's learned addresses, when its policy version changes
 * from old to np: kept where np still allows them, forgotten where not */
int ef_dns_relearn(struct ef_daemon *d, struct ef_job_rec *j, const struct ef_pol_rec *old,
		   const struct ef_pol_rec *np, size_t *carried, size_t *forgotten);
void ef_dns_forget_version(struct ef_daemon *d, uint64_t cgroup_id, uint32_t policy_id);
void ef_dns_io(struct ef_daemon *d, void *tag, uint32_t events);
void ef_dns_tick(struct ef_daemon *d);
void ef_dns_close(struct ef_daemon *d);
void ef_dns_reap(struct ef_daemon *d); /* after each epoll batch */
size_t ef_dns_n_pending(struct ef_daemon *d);


/* Not a kind of the ABI: a DNS query of a job (egress.dns), put into a
 * record so that it folds like a decision (dns_learn.c's dns_fold): name_id the name's id, port the
 * query type, protocol the rcode, sock_type bit 0 over TCP, bit 1 answered from the
 * job's cache (dns_cache.c), addr[0..7] the
 * name's id again (a job fold's sample). */
#define EF_FOLD_K_DNS 0xf0
#endif /* EF_DNS_DNS_H */
