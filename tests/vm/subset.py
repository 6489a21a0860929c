"""What `make vmtest` runs on the second kernel (tests/vm/suite.py): exact test
names of tests/integration and runs (NAME[USER]) of tests/security, grouped.

The subset is what depends on the kernel: the hooks and helpers the BPF
programs use, the verifier that loads them, the LSM that enforces tamper
resistance, socket families and options, cgroup behaviour. Policy parsing,
the CLI, export and the journal's format are the same on every kernel and
stay on the host. Under qemu's TCG an integration test costs 14 to 65 s
(each starts its own egressd, which takes 10 s or more to load its
programs), a security run 2 to 16 s (one shared egressd), so the subset is
chosen to fit the time budget of tests/vm/README.md ("Timings").

Left out on purpose:
  - dns_connect_right_after_resolve: 190 s under TCG (7 s on a host), the
    price of seven other tests; the DNS group keeps five;
  - seccomp_refusals_recorded: it tests the seccomp fallback of a kernel
    without BPF LSM and fails by design where BPF LSM is on; the security
    run records_io_uring_refused checks the same refusal on 6.1.

A name here that the suites do not have FAILS the run (suite.py checks
every name before it boots; the runners' --name does too), so a rename
cannot silently shrink the subset: rename it here as well.
"""

# tests/integration, by group (run.py --name runs them in the suite's own order)
INTEGRATION = [
    # core enforcement: the cgroup connect hooks, IPv4, IPv6 and v4-mapped, the
    # metadata address
    ("connect", [
        "tcp_ipv4_allow_deny",
        "tcp_ipv6_allow_deny",
        "ipv4_mapped_judged_as_ipv4",
        "metadata_denied_unless_named",
    ]),
    # core enforcement: UDP (sendmsg hooks), connected and not
    ("udp", [
        "udp_sendto_allow_deny",
        "udp_connected",
        "udp_corked_send_recorded",
    ]),
    # core enforcement: the wire check (cgroup_skb egress, the sockopt and cmsg hooks),
    # the part that needed 6.1-specific fixes (d9cf468)
    ("wire", [
        "wire_sockopt_reroute_refused",
        "wire_cmsg_source_route_dropped",
        "wire_cmsg_rthdr6",
        "wire_dnat_after_the_hook",
        "wire_accepted_socket",
        "wire_ping_sockets",
    ]),
    # core enforcement: socket families (sock_create, or lsm_cgroup socket_create where
    # the kernel has it: 6.1 does)
    ("sockets", [
        "raw_and_packet_refused",
        "raw_and_packet_allowed_by_policy",
        "icmp_datagram_refused",
        "other_families_refused",
    ]),
    # core enforcement: loopback, the job's own listener against one outside the job
    # (socket cookies, the sk lookup helpers)
    ("loopback", [
        "loopback_relay_refused_by_default",
        "loopback_own_listener_free_and_unrecorded",
        "loopback_udp_outside_socket",
    ]),
    # core enforcement: inbound (cgroup_skb ingress, accepted sockets)
    ("inbound", [
        "inbound_denied_by_default_v4_v6",
        "inbound_listener_in_nested_cgroup",
    ]),
    # core enforcement: what the kernel holds: descendants and nested cgroups stay
    # fenced, the pinned programs keep enforcing with egressd gone and are adopted again
    ("cgroups", [
        "children_and_grandchildren_fenced",
        "nested_cgroup_fenced",
        "fail_closed_after_sigkill",
        "restart_adopts_jobs",
    ]),
    # DNS: the proxy the hooks redirect port 53 to, and the addresses it puts in the
    # maps before the answer reaches the job
    ("dns", [
        "dns_allowed_name_a_and_aaaa",
        "dns_unlisted_nxdomain_never_upstream",
        "dns_any_resolver_address_answered_as_itself",
        "dns_over_tcp",
        "dns_mapped_v6_socket_source",
        "dns_proxy_socket_destroyed_is_made_anew",
        # the proxy in a job's own network namespace (netns cookies, setns)
        "dns_from_another_network_namespace",
    ]),
    # tamper: all of tests/integration/test_tamper*.py (BPF LSM is active on 6.1:
    # egressd's tamper mode is "bpf_lsm" there, "guard" on a host that refuses it)
    ("tamper", [
        "root_job_cannot_take_the_fence_down",
        "job_cannot_use_the_control_socket_against_the_fence",
        "tamper_attempt_kills_job_when_policy_says_kill",
        "unprivileged_job_gets_no_new_privs_and_is_recorded",
        "root_job_keeps_no_capability_that_reaches_around_the_fence",
        "tamper_protection_mode_is_reported",
        "malformed_guard_in_reply_never_runs_the_command",
        "root_job_cannot_change_the_fence_files",
        "job_debugs_its_own_processes",
        "policy_turns_tracing_off",
        "canary_part_of_the_job_start",
        # the control socket without SO_PEERPIDFD (6.1): pidfd_open at accept
        "control_exited_connector_is_refused_and_recorded",
        "control_reused_connector_pid_is_refused",
        "tamper_capability_root_job_cannot_change_the_network",
        # a root job's copy-on-write system directories (overlayfs on 6.1)
        "root_job_system_writes_stay_in_the_job",
        "working_directory_through_a_link_out_of_the_workspace_stays_private",
        "root_job_cannot_make_egressd_the_oom_killers_choice",
        # egressctl run's parent, which judges the job (--fail-on-deny): the
        # BPF LSM hooks guard it on 6.1 (no Landlock signal scope there)
        "parent_out_of_the_jobs_reach",
    ]),
    # each process's own trace context (bpf/lib/proc.bpf.h): the exec, fork and exit
    # tracepoints, bpf_loop over the new image's environment, and the wire check
    # naming the process that sent a DNS query
    ("trace context", [
        "process_traceparent",
        "contexts_of_exited_processes_go",
        "dns_spans_name_the_process",
    ]),
    # records and spans: what the kernel side fills in (task fields, the ring buffer,
    # seccomp refusals, inherited sockets) reaching the journal
    ("records", [
        "decision_span_attributes",
        "inherited_fds_closed_and_recorded",
        "ringbuf_full_is_counted_and_reported",
    ]),
]

# tests/security runs, NAME[USER], by group; both users where the suite runs both and
# the kernel's answer may differ (uid 65534 is refused some sockets before any hook)
SECURITY = [
    # socket creation: families and types a job must not get
    ("socket creation", [
        "reg_raw_socket[nobody]", "reg_raw_socket[root]",
        "reg_packet_socket[nobody]", "reg_packet_socket[root]",
        "reg_other_families[nobody]", "reg_other_families[root]",
        "reg_icmp_ping[nobody]", "reg_icmp_ping[root]",
        "reg_mptcp[root]",
    ]),
    # connect and datagram hooks: regressions that reach the far side if a hook misses
    ("connect and datagrams", [
        "reg_connect_v4[root]",
        "reg_connect_v6[nobody]",
        "reg_connect_mapped[nobody]",
        "reg_udp_unconnected[root]",
        "reg_udp_connected_sendto[nobody]",
        "reg_sendmmsg[nobody]",
        "reg_tfo_msg_fastopen[root]",
    ]),
    # the wire: source routes, routing headers, DNAT after the hook (by the host and by
    # a root job)
    ("wire", [
        "wire_lsrr_sockopt[root]",
        "wire_rthdr_cmsg[nobody]",
        "wire_srh_sockopt_udp[root]",
        "wire_nexthop6[root]",
        "wire_cork_udp[nobody]",
        "records_udp_corked[nobody]",
        "wire_dnat_tcp4[root]",
        "wire_dnat_by_job[root]",
    ]),
    # escape from the fence: sockets from outside (inheritance, pidfd_getfd, SCM_RIGHTS),
    # io_uring (its own socket path, SQPOLL's kernel thread outside the job's cgroup)
    ("escape", [
        "inherit_tcp_socket[root]",
        "inherit_pidfd_getfd[nobody]", "inherit_pidfd_getfd[root]",
        "inherit_unix_passed_udp[nobody]",
        "inherit_io_uring_sqpoll[root]",
        "records_io_uring_refused[nobody]", "records_io_uring_refused[root]",
    ]),
    # taking the fence down from outside the hooks' view: core_pattern makes the
    # kernel run a program outside every cgroup (refused by file_open on BPF LSM)
    ("tamper", [
        "tamper_core_pattern[root]",
        "tamper_clone_into_cgroup[root]",
        "tamper_ptrace_outsider[root]",
        "host_systemd_private[root]",
        "host_dbus_system[root]",
        # files that run later outside the job; host sockets under /run; the
        # disk under the filesystem (cgroup/dev without the 6.4 helpers)
        "host_files_run_later[root]",
        "host_run_socket[root]",
        "tamper_block_device[root]",
        "host_mounts_put_back[root]",
        # the host's container runtimes, covered (a /run of the job's own)
        "host_docker_socket[nobody]",
        "host_docker_restart[root]",
    ]),
    # inbound, a loopback relay, DNS to any address
    ("inbound, loopback, dns", [
        "inbound_tcp4_denied_peer[root]",
        "inbound_udp_reply[nobody]",
        "loopback_relay_default[root]",
        "dns_any_addr_udp[root]",
    ]),
]


def names(groups):
    return [n for _g, ns in groups for n in ns]


def duplicates():
    """Names listed twice, in either list."""
    seen, dup = set(), []
    for n in names(INTEGRATION) + ["security:" + n for n in names(SECURITY)]:
        if n in seen:
            dup.append(n)
        seen.add(n)
    return dup
