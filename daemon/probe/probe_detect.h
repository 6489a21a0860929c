/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Probe detection: per-job detectors over the job's decisions (connects,
 * datagrams, DNS queries) that flag a job exploring the network.
 *
 * The detectors (probe_detect.c) are pure: they take decisions and a clock
 * and say which reasons fired, with the evidence. probe.c runs them in
 * egressd, writes the egress.probe spans and takes the policy's action.
 */
#ifndef EF_PROBE_DETECT_H
#define EF_PROBE_DETECT_H

#include <stdbool.h>
#include <stdint.h>

#include "policy.h"

enum ef_probe_reason {
	EF_PR_DEST_SCAN = 0, /* distinct denied hosts >= denied_dests */
	EF_PR_PORT_SCAN,     /* distinct denied ports on one host >= ports_per_host */
	EF_PR_DNS_SWEEP,     /* distinct denied or NXDOMAIN names >= denied_names */
	EF_PR_DNS_TUNNEL,    /* distinct names with tunnel-shaped labels >= tunnel_names */
	EF_PR_DNS_FANOUT,    /* distinct names under one registrable domain >= names_per_parent */
	EF_PR_METADATA,	     /* first touch of a cloud metadata address (denied) */
	EF_PR_HOST_ADDRESS,  /* ... of one of the runner's own addresses */
	EF_PR_LINK_LOCAL,    /* ... of a link-local address */
	EF_PR_PRIVATE,	     /* ... of a private address (RFC 1918, CGNAT, ULA) */
	EF_PR_TAMPER,	     /* an attempt on the fence itself (each kind flags once) */
	EF_PR_DNS_LABEL_BYTES, /* bytes of distinct forwarded names below one registrable
				* domain >= dns_label_bytes ("dns_tunnel_bytes") */
	EF_PR_FLOOD,	     /* refusals, repeats counted, >= flood */
	EF_PR__MAX,
};
const char *ef_probe_reason_name(int r);
const char *ef_probe_action_name(int a);

/* The thresholds in force: the policy's, defaults filled in. */
struct ef_probe_limits {
	uint32_t window_s;
	uint32_t denied_dests, denied_names, ports_per_host, names_per_parent, tunnel_names;
	uint32_t dns_label_bytes;
	uint32_t flood;
};
void ef_probe_limits_of(const struct ef_probe_cfg *c, struct ef_probe_limits *l);

#define EF_PROBE_SAMPLES 10   /* targets named as evidence */
#define EF_PROBE_TARGET_LEN 272 /* a DNS name, or "[v6]:port/proto" */

/* A reason that fired, with its evidence. */
struct ef_probe_fire {
	int reason;		/* enum ef_probe_reason */
	uint32_t count;		/* distinct targets seen in the window */
	uint32_t threshold;
	uint32_t window_s;	/* the window it was counted in */
	char subject[EF_PROBE_TARGET_LEN]; /* the host of a port scan, the domain of a
					    * fan-out; else "" */
	int n_targets;
	char targets[EF_PROBE_SAMPLES][EF_PROBE_TARGET_LEN]; /* the most recent first */
};

/* One connect or datagram decision of the job. */
struct ef_probe_conn {
	uint64_t now_ns;	 /* any monotonic clock, the same for every call */
	uint8_t family;		 /* EF_FAM_V4 / EF_FAM_V6 */
	const uint8_t *addr;	 /* 16 bytes, IPv4 in [0..3] */
	uint16_t port;
	uint8_t ipproto;	 /* IPPROTO_TCP / IPPROTO_UDP */
	bool connect;		 /* connect() (else an unconnected datagram) */
	int verdict, reason;	 /* EF_V_*, EF_R_* */
	bool learned;		 /* the address was learned through the job's DNS proxy */
	bool host_address;	 /* the address is one of the runner's own */
	const char *server;	 /* the DNS name it was learned from, or NULL */
};

/* One DNS query of the job, once decided (and answered, when forwarded). */
struct ef_probe_dns {
	uint64_t now_ns;
	const char *name;	 /* lowercase, no trailing dot */
	int verdict;		 /* EF_V_* */
	int rcode;		 /* what the job got */
	const struct ef_compiled *names; /* the policy's name rules, for search-list expansions */
	size_t n_addrs;		 /* the answer's addresses */
	const uint8_t (*addrs)[16];
	const uint8_t *families; /* EF_FAM_V4 / EF_FAM_V6 per address */
};

struct ef_pdet;
struct ef_pdet *ef_pdet_new(const struct ef_probe_limits *l);
void ef_pdet_free(struct ef_pdet *p);
/* New limits (the job switched policy versions); counts are kept. */
void ef_pdet_set_limits(struct ef_pdet *p, const struct ef_probe_limits *l);
/* Feed one decision; the reasons that fired are written to out[] (room for
 * EF_PR__MAX) and their number returned. */
int ef_pdet_conn(struct ef_pdet *p, const struct ef_probe_conn *c, struct ef_probe_fire *out);
int ef_pdet_dns(struct ef_pdet *p, const struct ef_probe_dns *q, struct ef_probe_fire *out);
/* One refusal of any kind (connect, datagram, socket, tamper...), repeats
 * counted: the flood detector, a count over a sliding window (two fixed
 * halves, the older weighted by how much of it is still in the window).
 * Returns 1 with out filled when it fires (at most once per window). */
int ef_pdet_flood(struct ef_pdet *p, uint64_t now_ns, struct ef_probe_fire *out);
/* Drop what fell out of the window (memory only: counts are exact anyway). */
void ef_pdet_expire(struct ef_pdet *p, uint64_t now_ns);
/* Memory held, for the tests. */
size_t ef_pdet_entries(const struct ef_pdet *p);

/*
 * The label shape of DNS tunnels: a label of 40 or more characters, or of
 * 24 or more without a '-' whose character entropy is 3.8 bits or more
 * (base32 and base64 data; host names with words, dashes and serial
 * numbers stay below), or more than 100 characters of labels below the
 * registrable domain. Exposed for the tests.
 */
bool ef_probe_tunnel_shaped(const char *name, const char *registrable);

/*
 * What a name can carry to the upstream past its registrable domain: the
 * bytes of its labels below it, dots between them included
 * ("a.b.example.com" under "example.com": 3). 0 for the domain itself, or
 * when registrable is NULL or not a suffix of name at a label boundary.
 * The dns_tunnel_bytes detector sums this over the distinct names a job had
 * forwarded under one registrable domain in the window: repeating a name
 * tells the upstream nothing new, and counting whole names (not distinct
 * labels) leaves no room for data in new combinations of labels already
 * counted. It is an upper bound on the data, whatever the encoding.
 */
size_t ef_probe_label_bytes(const char *name, const char *registrable);
double ef_probe_entropy(const char *s, size_t n);

#endif /* EF_PROBE_DETECT_H */
