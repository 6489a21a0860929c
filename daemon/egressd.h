/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * egressd's state, shared by its parts: settings, jobs, policy versions,
 * the daemon itself. Each part's interface is the header named after its
 * folder (dns/dns.h, jobs/jobs.h, ...; README "Layout").
 */
#ifndef EF_EGRESSD_H
#define EF_EGRESSD_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <linux/types.h>
#include <cjson/cJSON.h>

#include "ef_abi.h"
#include "policy.h"
#include "export/export.h"
#include "export/journal.h"
#include "lib/span.h"
#include "lib/kernel_features.h"
#include "lib/upstream.h"

#define EF_PATH_MAX 4096
#define EF_PATH_MAX_CFG 3072 /* longest configurable path */
#define EF_JOB_ID_MAX 64
#define EF_SPAN_BATCH 256

struct ef_daemon;
struct fence_bpf;
struct tamper_bpf;
struct ring_buffer;
struct ef_proc_cache;
struct ef_client;
struct ef_dns_job;
struct ef_name_cache;
struct ef_dns_pending;
struct ef_exporter;
struct ef_dns_upsock;
struct ef_hostaddrs;
struct ef_pdet;
struct ef_dns_answer;
struct ef_event;
struct ef_fold;

/* One compiled policy version loaded into the maps. */
struct ef_pol_rec {
	struct ef_pol_rec *next;
	uint32_t id;
	int refs; /* jobs judged by it */
	uint64_t hash;
	struct ef_policy *pol;
	struct ef_compiled *names; /* compiled name rules (address entries freed once loaded) */
	struct ef_upstream up[EF_DNS_MAX_UPSTREAMS]; /* its dns.upstream, if any */
	size_t n_up;
	char *origin; /* the NAME or FILE the job asked for */
	uint64_t retired_ns; /* boot clock: when its last user let go (pols_retired) */
};
/* How long a retired policy version stays in the maps (see policies.c). */
#define EF_POL_RETIRE_NS 2000000000ull

#define EF_FD_KINDS 16
#define EF_FD_KIND_LEN 16
struct ef_job_rec {
	struct ef_job_rec *next;
	char id[EF_JOB_ID_MAX + 1];
	uint64_t serial;
	uint64_t cgroup_id;
	char *cgroup;	 /* absolute path of the job cgroup */
	struct ef_pol_rec *pol;
	uint8_t trace_id[16], span_id[8], parent_id[8];
	bool has_parent;
	uint64_t start_ns; /* unix epoch */
	int wd;		   /* inotify watch on cgroup.events, -1 if none */
	uid_t uid;
	pid_t pid;	   /* the process that started the job */
	char *command;	   /* argv[0] */
	char *command_line; /* only kept when the config opts in */
	cJSON *attrs;	   /* string attributes: --attr, CI environment */
	char *overlay;	   /* a root job's copy-on-write layer (overlay.c); NULL: none */
	cJSON *write_through; /* ... and the directories it writes to the host through it */
	uint64_t n_decisions, n_denied;
	bool canary;	   /* egressctl's canary connect was refused (ef_abi.h): the job
			    * started fenced; part of its start, not a decision */
	struct ef_dns_job *dns; /* the job's DNS proxy */
	uint64_t n_dns_queries, n_dns_denied;
	uint64_t n_dns_limited, n_dns_malformed; /* answered here: over the rate, or not DNS */
	int fds_closed;	   /* inherited descriptors egressctl closed; -1: not reported */
	int n_fd_kinds;
	char fd_kinds[EF_FD_KINDS][EF_FD_KIND_LEN + 1];
	struct {
		struct ef_pdet *det;		   /* the detectors, made at the first refusal */
		const struct ef_pol_rec *det_pol;  /* the policy version their limits are from */
		uint32_t mask;			   /* 1 << enum ef_probe_reason: what fired */
		uint32_t fires;			   /* egress.probe spans written */
		int action;			   /* the strongest action taken; -1: none */
		uint32_t tamper_mask;		   /* 1 << (EF_R_TAMPER_* - EF_R_TAMPER_BPF) flagged */
		uint32_t tamper_count;		   /* tamper attempts recorded */
	} probe;
	bool killed;		 /* cgroup.kill written (probe.c): "ending" until it is empty */
	bool ctl_flood_recorded; /* its control connections over the cap (control.c) */
	char *workdir;	   /* egressctl run's working directory, resolved; NULL: unknown */
	struct ef_dk_job *docker; /* its containers (docker.c); NULL: none yet */
	char *trace_state; /* the job's TRACESTATE, validated; NULL: none */
	uint32_t n_pctx;   /* its processes with a trace context of their own (proc_ctx.c) */
	uint64_t n_elsewhere; /* its spans put in a process's trace other than the job's */
};

/* DNS proxy settings: config file "dns" section. */
struct ef_dns_cfg {
	struct ef_upstream up[EF_DNS_MAX_UPSTREAMS]; /* "upstream": default for every policy */
	size_t n_up;
	char resolv_conf[256]; /* else the nameservers of this file (re-read when it changes) */
	uint32_t ttl_floor_s;  /* a learned address lives at least this long... */
	uint32_t ttl_grace_s;  /* ...plus this, after the record's TTL */
	uint32_t timeout_ms;   /* per attempt */
	uint32_t attempts;     /* per upstream server */
	uint32_t busy_poll_us; /* poll, not sleep, for upstreams faster than this; 0: never */
	bool case_random;      /* DNS 0x20 on the question sent upstream (else lowercase) */
	uint32_t cache_entries;	  /* answers kept per job (dns_cache.c); 0: no cache */
	uint32_t cache_max_ttl_s; /* longest an answer is kept, whatever its TTL */
};

/* Who is calling, from SO_PEERCRED and SO_PEERGROUPS. */
#define EF_PEER_MAX_GROUPS 256
struct ef_peer {
	pid_t pid;	/* verified by control.c: alive, outside every job, for a request
			 * that changes something */
	int pidfd;	/* of that process; -1 if none */
	uid_t uid;
	gid_t gid;
	int n_groups;
	gid_t groups[EF_PEER_MAX_GROUPS];
};

/* Users and groups named in the config file's "access" section. */
struct ef_principals {
	unsigned *uids, *gids;
	size_t n_uids, n_gids;
	bool any; /* "*" */
};

struct ef_run_grant {
	struct ef_principals who;
	char policy[EF_NAME_MAX + 1]; /* assigned: the default, and the weakest allowed */
	char **policies;	      /* may also be chosen by name */
	size_t n_policies;
};

struct ef_access {
	bool configured; /* the section is there */
	int socket_mode;
	bool has_socket_gid;
	gid_t socket_gid;
	struct ef_principals admins; /* may change policies and act on any job */
	struct ef_run_grant *run;
	size_t n_run;
};

struct ef_config_file {
	struct ef_dns_cfg dns;
	struct ef_export_cfg otlp;
	uint64_t journal_max_file_bytes;
	unsigned journal_max_files;
	gid_t journal_gid; /* "journal": {"group"}: may read the journal; -1: root only */
	bool record_command_line;
	char service_name[128];
	struct ef_access access;
};

/* A container runtime's socket and egressd's listener that covers it in
 * jobs' mount namespaces (runtimes.c). */
#define EF_RUNTIMES_MAX 24
struct ef_runtime {
	int kind; /* EF_EPK_RUNTIME: first, the epoll tag's kind */
	int fd;
	bool paused; /* no descriptor to accept with: until the next tick */
	char path[EF_PATH_MAX];
	char sock[EF_PATH_MAX + 32];
};

/*
 * Calls from a part to one above it in README "Layout"'s order, which a part
 * may not include: main.c points them at the parts that answer them before
 * anything runs. Every other call goes down.
 */
struct ef_upcalls {
	/* decisions/: read the ring buffer now; all of it (drain) */
	void (*events_consume)(struct ef_daemon *d);
	void (*events_drain)(struct ef_daemon *d);
	/* decisions/: a record egressd writes itself, through the consumer's path */
	void (*event_record)(struct ef_daemon *d, const struct ef_event *e, const char *detail);
	/* decisions/: a DNS query's record (EF_FOLD_K_DNS) folded with the job's
	 * repeats; true: folded */
	bool (*events_dns_fold)(struct ef_daemon *d, const struct ef_event *e, const char *name);
	/* jobs/: the job's state written to <state-dir>/jobs/<id>.json */
	int (*job_save)(struct ef_daemon *d, const struct ef_job_rec *j);
	/* control/: a line queued on a client's connection; false: dropped */
	bool (*control_push)(struct ef_daemon *d, struct ef_client *c, const char *line);
};

struct ef_daemon {
	/* paths (DESIGN.md "Runtime paths") */
	char config_path[EF_PATH_MAX];
	char policy_dir[EF_PATH_MAX];
	char state_dir[EF_PATH_MAX];
	char overlay_dir[EF_PATH_MAX + 16]; /* <state_dir>/overlay (overlay.c) */
	char run_dir[EF_PATH_MAX];
	char cgroup_root[EF_PATH_MAX];
	char bpffs_dir[EF_PATH_MAX];
	char cgroup_mount[EF_PATH_MAX];
	char socket_path[EF_PATH_MAX + 16];
	struct ef_config_file cfg;

	int job_level;
	uint64_t root_cgroup_id;

	struct fence_bpf *skel;
	bool lsm; /* socket_create judged through BPF LSM (every family) */
	/* tamper resistance (lsm/tamper.bpf.c): BPF LSM hooks refuse, or, where
	 * the kernel will not run them, egressctl run's guard refuses and
	 * tracepoints record; tamper_why says why BPF LSM is not in use */
	struct tamper_bpf *tskel;
	bool tamper_lsm;
	bool tamper_recorded; /* the fallback's recorders are attached */
	int landlock_abi;     /* the kernel's Landlock ABI, 0: none (ef_landlock_scope()) */
	char tamper_why[200];
	uint64_t tamper_refused; /* egress.tamper spans written */
	bool adopted; /* programs and maps were already pinned at start */
	/* processes guarded as egressd's threads are (egressctl run's parents,
	 * watching their jobs), with how many watches each (loader.c) */
	struct ef_guarded {
		pid_t pid;
		unsigned refs;
	} *guarded;
	size_t n_guarded;
	struct ef_features features; /* the kernel's, probed at start (kernel_probes.c) */
	struct ring_buffer *rb;

	int epfd, sigfd, timerfd, inofd, listenfd;
	int netns_fd;		/* egressd's network namespace (dns_netns.c) */
	uint64_t netns_cookie;
	struct ef_client *clients;
	struct ef_watch *watches; /* control connections watching a job (notices/notices.c) */
	struct ef_runtime runtimes[EF_RUNTIMES_MAX];
	int n_runtimes;

	struct ef_journal journal;
	struct ef_exporter *exporter; /* NULL when export is off */
	struct ef_resource res;
	struct ef_proc_cache *procs;
	struct ef_pctxs *pctx; /* processes' own trace contexts (proc_ctx.c) */
	uint64_t pctx_records, pctx_dropped, pctx_malformed;
	struct ef_hostaddrs *host; /* the runner's own addresses (probe.c) */
	uint64_t probe_examined, probe_ns, probe_flags; /* refusals and queries judged, time, flags */

	struct ef_job_rec *jobs;
	struct ef_pol_rec *pols;
	struct ef_pol_rec *pols_retired; /* no user left; unloaded by ef_pols_tick() */
	uint64_t next_serial;
	uint32_t next_policy_id;
	int64_t boot_to_real_ns; /* add to boot-clock ns to get unix epoch ns */

	struct ef_fold *fold; /* repeated decisions folded into one span (fold.c) */
	struct ef_span *span_pool; /* EF_SPAN_BATCH spans waiting for the journal */
	size_t n_spans;
	struct ef_buf out;
	struct ef_buf pb_out; /* the same spans in protobuf, for the exporter */

	/* DNS proxy (dns/; queries upstream: dns_upstream.c) */
	struct ef_dns_pending *dns_pending; /* every query waiting for an upstream */
	struct ef_dns_pending **dns_by_id;  /* [65536]: UDP attempts in flight by id */
	struct ef_dns_upsock *dns_upsocks;  /* pooled UDP sockets to upstream servers */
	struct ef_upstream resolv_up[EF_DNS_MAX_UPSTREAMS]; /* from resolv_conf */
	size_t n_resolv_up;
	int64_t resolv_mtime_ns;
	uint64_t resolv_checked_ns;
	struct ef_name_cache *names;
	uint64_t dns_sweep_ns;
	uint64_t dns_queries, dns_malformed, dns_dropped, dns_learn_failed;
	uint64_t dns_limited, dns_spoofed; /* over the job's rate; answers spelt otherwise */
	uint64_t dns_case_fallback;	   /* queries asked again in lowercase after that */
	uint64_t dns_cache_hits, dns_cache_n; /* queries answered from a job's cache; answers kept */

	const struct ef_upcalls *up; /* main.c's, read-only */

	uint64_t events, rb_drops_reported;
	uint64_t started_ns;
	bool stop;
};

/* epoll tags: small constants, or a pointer to an object whose first member
 * is an int saying what it is (enum ef_ep_kind) */
enum ef_ep_kind {
	EF_EPK_CLIENT = 0x4c43,	   /* struct ef_client */
	EF_EPK_RUNTIME = 0x5254,   /* struct ef_runtime: a cover of a container runtime's socket */
	EF_EPK_RUNTIME_CONN,	   /* a job's connection to one (runtimes.c) */
	EF_EPK_DNS_UDP = 0x4e44,   /* a proxy's UDP socket */
	EF_EPK_DNS_LISTEN,	   /* a proxy's TCP listener */
	EF_EPK_DNS_CONN,	   /* a job's TCP connection to its proxy */
	EF_EPK_DNS_UP,		   /* a query's TCP connection to an upstream server */
	EF_EPK_DNS_UPSOCK,	   /* a pooled UDP socket to an upstream server */
	EF_EPK_DOCKER = 0x444b,	   /* the Docker endpoint's threads' reports (docker.c) */
};
#define EF_EP_RING ((void *)1)
#define EF_EP_SIG ((void *)2)
#define EF_EP_TIMER ((void *)3)
#define EF_EP_INOTIFY ((void *)4)
#define EF_EP_LISTEN ((void *)5)
#define EF_EP_NETLINK ((void *)6)

#endif /* EF_EGRESSD_H */
