/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Records that cross the kernel boundary: BPF map keys and values, the event
 * record of the ring buffer, verdict and reason codes, limits.
 *
 * Both the BPF programs (clang -target bpf) and user space (cc) compile this
 * file, so it includes nothing and uses only __u8..__u64. Callers must have
 * the __uN types (linux/types.h or vmlinux.h) in scope. Every struct has
 * explicit padding and a size assertion: a layout change is an ABI change of
 * the pinned maps, and egressd refuses to adopt pins of another layout.
 */
#ifndef EF_ABI_H
#define EF_ABI_H

/* Bumped whenever a pinned map's key or value layout changes. */
#define EF_ABI_VERSION 4

#define EF_MAX_RANGES 16	/* port ranges judged per destination entry */
#define EF_RULE_NONE 0xffffffffu
#define EF_COMM_LEN 16
#define EF_EXE_LEN 64

/* Address families as stored in keys (independent of AF_* so that IPv4
 * and IPv6 never share a prefix: [::]/0 does not cover IPv4). */
enum ef_family {
	EF_FAM_V4 = 4,
	EF_FAM_V6 = 6,
};

/* Protocol bits of a port range. */
enum ef_proto_bits {
	EF_PROTO_TCP = 1 << 0,
	EF_PROTO_UDP = 1 << 1,
	EF_PROTO_ANY = EF_PROTO_TCP | EF_PROTO_UDP,
};

enum ef_mode {
	EF_MODE_ENFORCE = 0,
	EF_MODE_AUDIT = 1,
};

/* Verdicts. Keep in sync with ef_verdict_name() in daemon/lib/names.c. */
enum ef_verdict {
	EF_V_DENY = 0,
	EF_V_ALLOW = 1,
	EF_V_WOULD_DENY = 2, /* audit mode: allowed, but enforce would deny */
};

/* Why a decision was taken. Keep in sync with ef_reason_name(). */
enum ef_reason {
	EF_R_RULE = 0,	     /* an allow rule matched */
	EF_R_NO_RULE = 1,    /* no rule covers the destination */
	EF_R_DENY_RULE = 2,  /* a deny rule matched (deny wins over allow) */
	EF_R_METADATA = 3,   /* cloud metadata address not named by a rule */
	EF_R_RAW_SOCKET = 4, /* SOCK_RAW or AF_PACKET socket */
	EF_R_FAMILY = 5,     /* address family not allowed */
	EF_R_PROTOCOL = 6,   /* inet protocol other than TCP/UDP (ICMP, SCTP, MPTCP...) */
	EF_R_NO_JOB = 7,     /* socket of the fence used outside any live job */
	EF_R_LOOPBACK = 8,   /* loopback, fenced because the policy says loopback: false */
	EF_R_DNS_EXPIRED = 9, /* learned through DNS, but the record's TTL (+ grace) ran out */
	EF_R_DNS_UNLISTED = 10, /* DNS: no rule names the host name (egress.dns spans only) */
	EF_R_DNS_PROXY = 11,  /* another job's DNS proxy port on loopback */
	/* Tamper attempts (EF_K_TAMPER): a fenced job went for the fence itself. */
	EF_R_TAMPER_BPF = 12,	  /* bpf() */
	EF_R_TAMPER_CGROUP = 13,  /* writing the cgroup tree outside its own job cgroup */
	EF_R_TAMPER_SIGNAL = 14,  /* a signal to egressd (or to every process: kill -1) */
	EF_R_TAMPER_PTRACE = 15,  /* ptrace or process_vm_* on egressd */
	EF_R_TAMPER_PIN = 16,	  /* deleting, renaming or creating on a bpf filesystem */
	EF_R_TAMPER_MOUNT = 17,	  /* mount/umount/move_mount (the fence's mounts, or any
				   * without BPF LSM) */
	EF_R_TAMPER_NS = 18,	  /* setns() (without BPF LSM) */
	EF_R_TAMPER_KERNEL = 19,  /* writing kernel settings: /proc/sys, sysfs (without BPF LSM) */
	EF_R_TAMPER_CONTROL = 20, /* egressd's control socket: a nested run, a policy change,
				   * freeze/thaw/kill from inside a job */
	/* Issue 15: what leaves the job is what the fence judged. */
	EF_R_REROUTE = 21,	  /* a socket option that re-routes packets (IPv6 routing
				   * header, IPv4 source route, next hop) refused */
	EF_R_IO_URING = 22,	  /* io_uring_setup() refused (it could create sockets past
				   * the seccomp family filter) */
	EF_R_DNS_MALFORMED = 23,  /* DNS proxy: a query it cannot parse, or bytes that are not
				   * DNS at all, sent to port 53 */
	EF_R_DNS_LIMIT = 24,	  /* DNS proxy: over the job's limit of queries forwarded
				   * upstream; answered locally (REFUSED), not relayed */
	EF_R_MULTICAST = 25,	  /* a multicast group join or source filter (its reports
				   * leave from the kernel, past the wire check) */
	EF_R_CANARY = 26,	  /* the canary destination (EF_CANARY_ADDR4:EF_CANARY_PORT):
				   * refused to every job whatever its policy or mode */
	/* Issue 17: a root job against egressd's resources. */
	EF_R_TAMPER_RESOURCE = 27, /* egressd's niceness, scheduling, CPUs, I/O priority or
				    * resource limits (or those of every root process) */
	EF_R_TAMPER_CAP = 28,	  /* a capability check refused a job (EF_K_TAMPER, protocol
				   * EF_TAMPER_CAP, cookie: the CAP_* number): one of those
				   * that reach outside the job (EF_CAPS_RECORDED) */
	EF_R_TAMPER_DEVICE = 29,  /* opening a device the job may not (a block device, a
				   * console, input, raw USB: bpf/lib/device.bpf.h); protocol
				   * EF_TAMPER_DEVICE */
	/* Issue 18: containers. */
	EF_R_TAMPER_RUNTIME = 30, /* a connection to the host's container runtime socket
				   * (dockerd, containerd, Podman), which egressd's cover
				   * took (daemon/docker/runtimes.c); protocol EF_TAMPER_RUNTIME */
	EF_R_TAMPER_DOCKER = 31,  /* a request the job's Docker endpoint refused (an escape:
				   * privileged, host namespaces, a host path, another's
				   * container; daemon/docker/docker.c); protocol EF_TAMPER_DOCKER */
	EF_R_UDP_CORKED = 32,	  /* EF_K_SEND: a datagram call on a UDP socket holding a corked
				   * datagram (UDP_CORK, MSG_MORE) named an address the policy
				   * does not allow; the kernel ignored it and appended the data
				   * to the pending datagram, judged when it was corked
				   * (bpf/lib/cork.bpf.h) */
	EF_R__MAX,
};

/*
 * The canary. Just before it execs the command, egressctl run connect()s a
 * UDP socket made in the job to this destination; the connect programs
 * refuse it to every job, whatever the policy allows and in audit mode too
 * (EF_R_CANARY), and egressctl runs the command only if connect() failed
 * with EPERM: the proof that this process is fenced that neither a control
 * socket replaced by another listener nor an unfenced cgroup can give. A
 * UDP connect sends nothing; 192.0.2.1 is TEST-NET-1 (RFC 5737), port 9
 * discard. egressd takes the job's first canary record as part of its
 * start (egress.canary on the job span), never as a decision of the job.
 */
#define EF_CANARY_ADDR4 0xc0000201u /* 192.0.2.1, host order */
#define EF_CANARY_PORT 9

/* EF_K_TAMPER records of a capability check (capability/cap_capable) carry
 * this protocol; no syscall has that number. */
#define EF_TAMPER_CAP 0xfffd
/* ... and those of a device refused (cgroup/dev), this one; the cookie is
 * type << 40 | major << 20 | minor (BPF_DEVCG_DEV_*), port the access bits
 * (BPF_DEVCG_ACC_*). */
#define EF_TAMPER_DEVICE 0xfffc
/* ... and those of a connection to the cover of a container runtime's
 * socket (daemon/docker/runtimes.c), this one. */
#define EF_TAMPER_RUNTIME 0xfffb
/* ... and those of a request the job's Docker endpoint refused
 * (daemon/docker/docker.c), this one. */
#define EF_TAMPER_DOCKER 0xfffa
/* Capabilities whose refusal to a job is recorded (policy/caps.c's
 * EF_CAP_RECORDED, the same set: tests/unit checks): they reach outside the
 * job, and the kernel checks them only when asked to do what they allow:
 * CAP_NET_ADMIN 12, NET_RAW 13, SYS_MODULE 16, SYS_RAWIO 17, SYS_BOOT 22,
 * SYS_TIME 25, PERFMON 38, BPF 39. Not CAP_SYS_ADMIN (checked on every
 * mmap for overcommit), CAP_SYS_PTRACE (every read of another user's
 * /proc/<pid>/stat: ps), CAP_SYS_NICE or CAP_SYS_RESOURCE (checked on
 * ordinary scheduling and limits): a refusal of those is not recorded. */
#define EF_CAPS_RECORDED                                                              \
	((1ull << 12) | (1ull << 13) | (1ull << 16) | (1ull << 17) | (1ull << 22) |    \
	 (1ull << 25) | (1ull << 38) | (1ull << 39))

/* What was decided on. Keep in sync with the span names in daemon/. */
enum ef_kind {
	EF_K_CONNECT = 0, /* connect(): TCP, connected UDP */
	EF_K_SEND = 1,	  /* sendmsg() with an address: unconnected UDP */
	EF_K_SOCKET = 2,  /* socket() refused */
	EF_K_TAMPER = 3,  /* an attempt on the fence itself refused (reason EF_R_TAMPER_*);
			   * protocol: the syscall number (host ABI), EF_TAMPER_LSM |
			   * the BPF LSM hook (enum ef_lsm_hook), or 0xfffe for a
			   * control request; cookie: the target pid or bpf() command,
			   * port: the signal */
	EF_K_PACKET = 4,  /* wire check (cgroup_skb/egress): a packet whose on-wire
			   * destination (addr, port) is not the one judged for its
			   * socket (addr2, port2; family2 0 if none was) and that the
			   * policy does not allow either; dropped */
	EF_K_SOCKOPT = 5, /* setsockopt() refused (EF_R_REROUTE, EF_R_MULTICAST):
			   * protocol = level, port = optname */
	EF_K_INBOUND = 6, /* a connection to a job's listener (cgroup_skb/ingress,
			   * TCP SYN): addr/port = the peer, addr2/port2 = the local
			   * address and port it asked for */
	EF_K_NETNS = 7,	  /* not a decision: a job's first DNS query from a network
			   * namespace other than egressd's (a container's, unshare -n);
			   * cookie = its netns cookie, pid = the asker. egressd opens
			   * the job's proxy there (daemon/dns/dns_netns.c) */
	EF_K_PROC = 8,	  /* not a decision: a job's process exec'd (reason
			   * EF_PROC_EXEC: a struct ef_proc_rec) or forked from one
			   * with a trace context (EF_PROC_FORK: the event alone;
			   * pid/start_boot_ns the child, ppid/cookie the parent's
			   * tgid and start), or such a process exited (EF_PROC_EXIT:
			   * the event alone). lib/proc.bpf.h */
	EF_K__MAX,
};

/* The BPF LSM hook that refused a tamper attempt (EF_K_TAMPER records carry
 * EF_TAMPER_LSM | hook as their protocol). Keep in sync with daemon/tamper/tamper.c. */
#define EF_TAMPER_LSM 0xff00
enum ef_lsm_hook {
	EF_HOOK_BPF = 1,
	EF_HOOK_TASK_KILL,
	EF_HOOK_PTRACE_ACCESS_CHECK,
	EF_HOOK_FILE_OPEN,
	EF_HOOK_INODE_MKDIR,
	EF_HOOK_INODE_RMDIR,
	EF_HOOK_INODE_UNLINK,
	EF_HOOK_INODE_RENAME,
	EF_HOOK_SB_UMOUNT,
	EF_HOOK_SB_MOUNT,
	EF_HOOK_MOVE_MOUNT,
	EF_HOOK_SB_PIVOTROOT,
	EF_HOOK_TASK_ALLOC,
	EF_HOOK_TASK_SETNICE,
	EF_HOOK_TASK_SETIOPRIO,
	EF_HOOK_TASK_SETSCHEDULER,
	EF_HOOK_TASK_PRLIMIT,
	EF_HOOK_TASK_MOVEMEMORY,
	EF_HOOK_FILE_SEND_SIGIOTASK,
	EF_HOOK_PTRACE_TRACEME,
	EF_HOOK_KEY_ALLOC,
	EF_HOOK__MAX,
};

/* Per-policy flags (struct ef_policy_val.flags). */
enum ef_policy_flags {
	EF_PF_LOOPBACK = 1 << 0,   /* "loopback": true: any local listener, each connection
				    * recorded */
	EF_PF_RAW = 1 << 1,	   /* SOCK_RAW in AF_INET/AF_INET6 allowed */
	EF_PF_PACKET = 1 << 2,	   /* AF_PACKET allowed */
	EF_PF_ICMP = 1 << 3,	   /* ICMP datagram ("ping") sockets allowed */
	EF_PF_OTHER_PROTO = 1 << 4, /* SCTP, MPTCP and other inet protocols allowed */
	EF_PF_LOOPBACK_OWN = 1 << 5, /* "loopback": "own" (the default): the job's own
				      * listeners freely; one outside the job only
				      * through a rule naming its address and port.
				      * Neither LOOPBACK bit ("loopback": false): rules
				      * only. */
	EF_PF_MULTICAST = 1 << 6,  /* multicast group joins and source filters allowed */
	EF_PF_NO_TRACE = 1 << 7,   /* "tracing": false: the job may trace nothing, not even
				    * its own processes (ptrace, process_vm_*) */
	EF_PF_HOST_WRITES = 1 << 8, /* "host_writes": true: a root job writes the host's
				     * system directories themselves, not a private
				     * copy-on-write layer (cli/overlay.c); no BPF
				     * program reads it */
	EF_PF_DOCKER = 1 << 9,	    /* "docker": the job gets its own Docker endpoint
				     * (daemon/docker/docker.c); no BPF program reads it */
};

/* Inbound rules ("inbound": [...] in a policy) live in ef_exact/ef_cidr
 * beside the outbound ones, under family | EF_FAM_INBOUND: PEER addresses,
 * with the job's LOCAL port ranges. Outbound lookups never see them. */
#define EF_FAM_INBOUND 0x100

/* Per-entry flags (struct ef_ports.flags). */
enum ef_entry_flags {
	EF_EF_METADATA = 1 << 0, /* a cloud metadata address: no rule -> EF_R_METADATA */
};

/* EF_K_PROC records: what happened to the process (ef_event.reason). */
enum ef_proc_what {
	EF_PROC_EXEC = 1,
	EF_PROC_FORK = 2,
	EF_PROC_EXIT = 3, /* the last thread of a process with a context exited */
};

/* ef_dns_whosk socket storage: the process that last sent a socket's DNS
 * traffic to its job's proxy (written where the destination is rewritten,
 * or judged to be the job's own proxy: lib/dns.bpf.h), and ef_dns_peer's
 * value: the wire check copies it there under the socket's local port as
 * each datagram or SYN leaves, so the proxy, which sees only that port, can
 * name the process on its egress.dns span; the proxy takes it out as it
 * reads it (a later socket on that port is never named by it). */
struct ef_dns_who {
	__u64 start_boot_ns;
	__u64 job; /* the asking socket's job (cgroup id): noted only for that job's proxy */
	__u32 pid; /* tgid */
	__u32 tid;
	__u32 ppid;
	__u32 uid;
	char comm[EF_COMM_LEN];
	char exe[EF_EXE_LEN];
};

/* ef_dns_peer LRU key: a job's DNS client socket as its proxy sees it. */
struct ef_dns_peer_key {
	__u64 job;	/* cgroup id */
	__u16 port;	/* the client's local port, host order */
	__u8 proto;	/* IPPROTO_UDP / IPPROTO_TCP */
	__u8 pad[5];
};

/* ef_jobs hash: job cgroup id -> job. A process in a cgroup nested below a
 * job is judged by the job at job_level, found with
 * bpf_get_current_ancestor_cgroup_id(). */
struct ef_job {
	__u32 policy_id;
	__u16 dns_port;	 /* the job's DNS proxy on loopback, host order; 0: none yet */
	__u16 dns_flags; /* enum ef_job_dns_flags */
	__u64 serial;	 /* egressd's job serial, echoed in events */
};
_Static_assert(sizeof(struct ef_job) == 16, "ef_job layout");

enum ef_job_dns_flags {
	EF_JD_V6 = 1 << 0, /* the proxy listens on [::1] too (else IPv6 sockets get ::ffff:127.0.0.1) */
};

/* ef_dns_nets key: a job and a network namespace other than egressd's
 * where its proxy listens (or is being opened). */
struct ef_dns_net_key {
	__u64 job;   /* cgroup id */
	__u64 netns; /* netns cookie */
};

/* The DNS port every fenced job's queries are taken from, UDP and TCP. */
#define EF_DNS_PORT 53

/* ef_dns_sk socket storage: where a fenced socket's DNS traffic was headed
 * before it was taken to the job's proxy, so recvmsg/getpeername can give
 * the resolver library the address it asked. As the caller wrote it. */
struct ef_dns_orig {
	__u32 addr[4];	   /* user_ip6, or user_ip4 as ::ffff:a.b.c.d (network order) */
	__u16 port;	   /* network order */
	__u16 proxy_port;  /* network order: the proxy port the socket was sent to */
	__u32 pad;
};
_Static_assert(sizeof(struct ef_dns_orig) == 24, "ef_dns_orig layout");

/* ef_policies hash: policy id -> policy. A policy id names one compiled
 * version of a policy; jobs switch versions by changing ef_job.policy_id. */
struct ef_policy_val {
	__u32 mode;  /* enum ef_mode */
	__u32 flags; /* enum ef_policy_flags */
	__u64 families; /* bit n: address family n (< 64) may be created */
};
_Static_assert(sizeof(struct ef_policy_val) == 16, "ef_policy_val layout");

/* A port range with its protocols, from one rule. */
struct ef_port_range {
	__u32 rule_id; /* index of the rule in the policy, for the record */
	__u16 lo;      /* host byte order, inclusive */
	__u16 hi;
	__u8 protos;   /* enum ef_proto_bits */
	__u8 deny;     /* 1: from a deny rule */
	__u16 pad;
};
_Static_assert(sizeof(struct ef_port_range) == 12, "ef_port_range layout");

/* The value of both destination maps: every range that applies to the
 * destination, its own and those inherited from every shorter prefix that
 * covers it, so a single longest-prefix lookup decides. */
struct ef_ports {
	__u16 n;     /* ranges used */
	__u16 flags; /* enum ef_entry_flags */
	__u32 pad;
	struct ef_port_range r[EF_MAX_RANGES];
};
_Static_assert(sizeof(struct ef_ports) == 8 + 12 * EF_MAX_RANGES, "ef_ports layout");

/* ef_exact hash key: an exact address of a policy. IPv4 uses addr[0..3],
 * the rest is zero. */
struct ef_exact_key {
	__u32 policy_id;
	__u32 family; /* enum ef_family */
	__u8 addr[16];
};
_Static_assert(sizeof(struct ef_exact_key) == 24, "ef_exact_key layout");

/* ef_cidr LPM trie key. prefixlen counts policy_id and family too:
 * prefixlen = 64 + CIDR length. */
struct ef_lpm_key {
	__u32 prefixlen;
	__u32 policy_id;
	__u32 family;
	__u8 addr[16];
};
_Static_assert(sizeof(struct ef_lpm_key) == 28, "ef_lpm_key layout");
#define EF_LPM_FIXED_BITS 64

/* ef_sent LRU: verdicts of unconnected UDP already decided and recorded.
 * A socket that sends many datagrams to one destination is judged through
 * the policy maps and recorded once; later datagrams take the cached
 * verdict. The key holds the policy version, so a job switched to another
 * version never sees a verdict of the old one. */
struct ef_sent_key {
	__u64 cookie; /* socket cookie */
	__u64 job;    /* the job asking (cgroup id): a socket passed to another job of the
		       * same policy version is judged anew (learned names are per job) */
	__u32 policy_id;
	__u32 family;
	__u16 port;
	__u16 pad;
	__u8 addr[16];
	__u32 pad2;
};
_Static_assert(sizeof(struct ef_sent_key) == 48, "ef_sent_key layout");

struct ef_sent_val {
	__u8 verdict;
	__u8 pad[3];
};
_Static_assert(sizeof(struct ef_sent_val) == 4, "ef_sent_val layout");

/* ef_learned hash: addresses a job learned through its DNS proxy. The key
 * holds the job's cgroup id: one job's lookups never open anything for
 * another; and the policy version they were judged by, so that when a
 * policy changes egressd writes the job's entries for the new version
 * before switching the job to it (ABI 3). */
struct ef_learn_key {
	__u64 cgroup_id;
	__u32 family; /* enum ef_family */
	__u8 addr[16];
	__u32 policy_id;
};
_Static_assert(sizeof(struct ef_learn_key) == 32, "ef_learn_key layout");

/* The ports are the merged ranges of the name rules that allowed the name
 * (n == 0 in audit mode for an unlisted name: the entry only names it). */
struct ef_learn_val {
	__u64 expires_boot_ns; /* bpf_ktime_get_boot_ns() deadline: TTL + grace */
	__u64 name_id;	       /* key of ef_names: the name it was learned from */
	struct ef_ports ports;
};
_Static_assert(sizeof(struct ef_learn_val) == 16 + sizeof(struct ef_ports), "ef_learn_val layout");

/* ef_names LRU: name id -> the DNS name, for server.address on records. */
#define EF_DNS_NAME_LEN 256
struct ef_name_val {
	char name[EF_DNS_NAME_LEN];
};

/* The ring-buffer record: one per decision. */
struct ef_event {
	__u64 ts_boot_ns; /* bpf_ktime_get_boot_ns() */
	__u64 cgroup_id;  /* job cgroup id (0 if none) */
	__u64 job_serial;
	__u64 cookie;	  /* socket cookie (0 for EF_K_SOCKET) */
	__u64 start_boot_ns; /* process start (boot clock), to tell reused pids apart */
	__u32 pid;	  /* tgid */
	__u32 tid;
	__u32 ppid;
	__u32 uid;
	__u32 policy_id;
	__u32 rule_id;	  /* EF_RULE_NONE if no rule */
	__u8 kind;	  /* enum ef_kind */
	__u8 verdict;	  /* enum ef_verdict */
	__u8 reason;	  /* enum ef_reason */
	__u8 family;	  /* enum ef_family; for EF_K_SOCKET the AF_* asked for */
	__u8 sock_type;	  /* SOCK_* */
	__u8 pad0;
	__u16 protocol;	  /* IPPROTO_* (for EF_K_SOCKET as asked for) */
	__u16 port;	  /* host byte order */
	__u16 pad1;
	__u8 addr[16];
	char comm[EF_COMM_LEN];
	char exe[EF_EXE_LEN]; /* basename of the executable */
	__u32 pad2;
	__u64 name_id;	  /* ef_names key if the address was learned through DNS, else 0 */
	/* A second endpoint, by kind: EF_K_PACKET the destination judged for the
	 * socket, EF_K_INBOUND the local address asked for. family2 0: none. */
	__u8 addr2[16];
	__u16 port2;	  /* host byte order */
	__u8 family2;	  /* enum ef_family, 0 if none */
	__u8 pad3;
	__u32 pad4;
};
_Static_assert(sizeof(struct ef_event) == 208, "ef_event layout");

/* The W3C Trace Context variables a process was exec'd with, as found in
 * its environment, raw (egressd validates them; daemon/spans/proc_ctx.c). A
 * TRACESTATE longer than 512 is invalid (W3C), and seen as such: its first
 * 519 bytes are kept. Both empty: the exec had neither. */
#define EF_TRACEPARENT_LEN 64
#define EF_TRACESTATE_LEN 520
struct ef_proc_rec {
	struct ef_event e; /* kind EF_K_PROC */
	char traceparent[EF_TRACEPARENT_LEN];
	char tracestate[EF_TRACESTATE_LEN];
};
_Static_assert(sizeof(struct ef_proc_rec) == 208 + 64 + 520, "ef_proc_rec layout");
_Static_assert(sizeof(struct ef_dns_who) == 112, "ef_dns_who layout");
_Static_assert(sizeof(struct ef_dns_peer_key) == 16, "ef_dns_peer_key layout");

/* ef_sk socket storage (BPF_F_CLONE: an accepted socket inherits its
 * listener's): the job a socket belongs to, and the one destination the
 * fence judged and allowed for it, which the wire check (cgroup_skb/egress)
 * compares each packet with. Written by the connect/sendmsg programs after
 * an allow (after the DNS rewrite: the proxy's address), and by the wire
 * check when its slow path allows a packet's own destination. */
struct ef_sk {
	__u64 job_cgroup;  /* job cgroup id the socket was created in; 0: unknown */
	__u32 policy_id;   /* the version the destination was judged by */
	__u8 family;	   /* enum ef_family of the judged destination; 0: none yet */
	__u8 flags;	   /* enum ef_sk_flags */
	__u16 port;	   /* judged destination port, host order */
	__u8 addr[16];	   /* judged destination (IPv4 in addr[0..3]) */
	__u8 wire_addr[16]; /* the last on-wire destination denied and recorded, so a
			     * retransmitting socket is recorded once, not per packet */
	__u16 wire_port;
	__u8 wire_family;
	__u8 pad[5];
};
_Static_assert(sizeof(struct ef_sk) == 56, "ef_sk layout");

enum ef_sk_flags {
	EF_SKF_LISTENER = 1 << 0, /* listen()ed or accepted: inbound rules apply to its peer */
	EF_SKF_INBOUND_OK = 1 << 1, /* an accepted connection whose peer an inbound rule
				     * (or loopback) allowed */
	EF_SKF_SENT_OK = 1 << 2,    /* addr/port/policy_id: a destination a sendmsg judged
				     * by the policy and let through (and recorded): later
				     * sendmsgs there are let through at once (lib/dest.bpf.h) */
};

/* ef_guard_pids hash: thread id -> 1 for every thread of egressd. Jobs
 * may not signal or trace these. */
#define EF_MAX_GUARD_PIDS 256

/* ef_stats per-CPU array indices. */
enum ef_stat {
	EF_S_RB_DROPS = 0, /* records lost because the ring buffer was full */
	EF_S_DECISIONS = 1,
	EF_S_DENIED = 2,
	EF_S_WIRE_DROPS = 3, /* packets the wire check dropped */
	EF_S__MAX,
};

#endif /* EF_ABI_H */
