"""The wire check (cgroup_skb/egress) and the re-routing socket options
(cgroup/setsockopt): what leaves a job is what the fence judged.

Evidence is what reached the other side: the hosts' servers' log
(World.host_log) and a capture on the hosts' end of the veth (wirecap.py),
never the job's exit status. Vectors run as nobody (setpriv) and as root
where the result may differ.
"""
import json
import os
import signal
import subprocess
import time

import world as W
from harness import test, pol, check, eq, wait_until, kill_pid, PY
from harness_spans import expect

HERE = os.path.dirname(os.path.abspath(__file__))
VEC = os.path.join(HERE, "wire_vec.py")
CAP = os.path.join(HERE, "wirecap.py")
NOBODY = ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
USERS = ("nobody", "root")


def vec(d, policy, *args, user="nobody", timeout=60):
    """Run one wire_vec.py vector in a job; returns (Result, [json lines])."""
    argv = (NOBODY if user == "nobody" else []) + [PY, VEC] + [str(a) for a in args]
    r = d.run(policy, argv, timeout=timeout)
    lines = []
    for ln in r.out.splitlines():
        if ln.startswith("{"):
            lines.append(json.loads(ln))
    check(lines, "wire_vec.py %s printed nothing: %s" % (" ".join(map(str, args)), r.describe()))
    return r, lines


def unfenced(ctx, *args):
    r = ctx.world.in_fence([PY, VEC] + [str(a) for a in args])
    return [json.loads(ln) for ln in r.stdout.splitlines() if ln.startswith("{")]


class Capture:
    """wirecap.py on the hosts' end of the veth for the life of the block."""

    def __init__(self, ctx):
        self.ctx = ctx
        self.path = ctx.path("cap-%d.jsonl" % len(ctx.procs))

    def __enter__(self):
        w = self.ctx.world
        self.p = subprocess.Popen(w.hosts_argv([PY, CAP, w.veth_hosts, self.path]),
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  stdin=subprocess.DEVNULL)
        self.ctx.procs.append(self.p)
        W.ledger().add("pid", self.p.pid)
        line = self.p.stdout.readline()
        check(line.startswith(b"READY"), "wirecap.py did not start: %r %r" % (
            line, self.p.stderr.read(500) if self.p.poll() is not None else b""))
        return self

    def __exit__(self, *exc):
        time.sleep(0.3)  # frames in flight
        kill_pid(self.p.pid, signal.SIGTERM)
        try:
            self.p.wait(5)
        except subprocess.TimeoutExpired:
            kill_pid(self.p.pid)
        return False

    def packets(self, tag=None):
        try:
            with open(self.path) as f:
                got = [json.loads(ln) for ln in f if ln.endswith("\n")]
        except OSError:
            return []
        return [p for p in got if tag is None or tag in p.get("data", "")]


def host_saw(ctx, host, port, proto="tcp"):
    return ctx.reached(host, port, proto)


def packet_span(d, job, host, port, **where):
    w = {"network.peer.address": host, "network.peer.port": port}
    w.update(where)
    return d.wait_spans("egress.packet", job, where=w)[0]


def no_packet_spans(d, job):
    time.sleep(0.5)
    got = d.find("egress.packet", job)
    check(not got, "job %s: egress.packet spans for allowed traffic: %s" % (job, got))


def wire_drops(d):
    return d.status().get("wire_drops")


# -- socket options ------------------------------------------------------------

REROUTE_OPTS = {  # vector -> (level name, option name)
    "rthdr0": ("SOL_IPV6", "IPV6_RTHDR"),
    "rthdr2": ("SOL_IPV6", "IPV6_RTHDR"),
    "rthdr4": ("SOL_IPV6", "IPV6_RTHDR"),
    "2292rthdr": ("SOL_IPV6", "IPV6_2292RTHDR"),
    "2292pktoptions": ("SOL_IPV6", "IPV6_2292PKTOPTIONS"),
    "nexthop": ("SOL_IPV6", "IPV6_NEXTHOP"),
    "ipopt_lsrr": ("SOL_IP", "IP_OPTIONS"),
    "ipopt_ssrr": ("SOL_IP", "IP_OPTIONS"),
    "ipopt_lsrr6": ("SOL_IP", "IP_OPTIONS"),
    "ipopt_nop": ("SOL_IP", "IP_OPTIONS"),
}
ORDINARY_OPTS = ["rthdr_clear", "ipopt_clear", "reuseaddr", "v6only", "nodelay", "sndbuf",
                 "congestion_big"]
MCAST_OPTS = {  # vector -> (level name, option name): joins and source filters
    "ip_add_membership": ("SOL_IP", "IP_ADD_MEMBERSHIP"),
    "ip_unblock_source": ("SOL_IP", "IP_UNBLOCK_SOURCE"),
    "ip_block_source": ("SOL_IP", "IP_BLOCK_SOURCE"),
    "ip_add_source_membership": ("SOL_IP", "IP_ADD_SOURCE_MEMBERSHIP"),
    "ip_msfilter": ("SOL_IP", "IP_MSFILTER"),
    "msfilter_big": ("SOL_IP", "IP_MSFILTER"),
    "mcast_join_group": ("SOL_IP", "MCAST_JOIN_GROUP"),
    "mcast_block_source": ("SOL_IP", "MCAST_BLOCK_SOURCE"),
    "mcast_unblock_source": ("SOL_IP", "MCAST_UNBLOCK_SOURCE"),
    "mcast_join_source_group": ("SOL_IP", "MCAST_JOIN_SOURCE_GROUP"),
    "mcast_msfilter": ("SOL_IP", "MCAST_MSFILTER"),
    "ipv6_add_membership": ("SOL_IPV6", "IPV6_ADD_MEMBERSHIP"),
    "ipv6_join_anycast": ("SOL_IPV6", "IPV6_JOIN_ANYCAST"),
    "mcast_join_group6": ("SOL_IPV6", "MCAST_JOIN_GROUP"),
    "mcast_block_source6": ("SOL_IPV6", "MCAST_BLOCK_SOURCE"),
    "mcast_unblock_source6": ("SOL_IPV6", "MCAST_UNBLOCK_SOURCE"),
    "mcast_join_source_group6": ("SOL_IPV6", "MCAST_JOIN_SOURCE_GROUP"),
    "mcast_msfilter6": ("SOL_IPV6", "MCAST_MSFILTER"),
}
MCAST_LEAVE_OPTS = ["ip_drop_membership", "mcast_leave_group", "ipv6_drop_membership"]


@test
def test_wire_sockopt_reroute_refused(ctx):
    d = ctx.daemon({"t": pol(allow=["198.18.1.1:443"])})
    for user in USERS:
        r, lines = vec(d, "t", "sockopt", *REROUTE_OPTS, user=user)
        for x in lines:
            eq((x["name"], x["ok"], x["errno"]), (x["name"], False, 1),
               "%s: setsockopt %s in a job" % (user, x["name"]))
        for name, (lvl, opt) in REROUTE_OPTS.items():
            got = d.wait_spans("egress.sockopt", r.job, where={"egress.sockopt.name": opt})
            s = got[0]
            expect(s, decision="deny", reason="reroute", **{"egress.sockopt.level": lvl})
            eq(s.status_code, 2, "status of an egress.sockopt denial")
        # identical refusals (same option, same process) fold into one span
        # with egress.count once their window closes: the counts add up
        wait_until(lambda: sum(s.get("egress.count", 1) for s in
                               d.find("egress.sockopt", r.job)) >= len(REROUTE_OPTS), 10,
                   what="every refusal accounted for")
        n = sum(s.get("egress.count", 1) for s in d.find("egress.sockopt", r.job))
        eq(n, len(REROUTE_OPTS), "%s: egress.sockopt refusals recorded" % user)
    # SRH by setsockopt works unfenced for anyone: the fence is what refuses it
    x = unfenced(ctx, "sockopt", "rthdr4")[0]
    check(x["ok"], "unfenced IPV6_RTHDR type 4 should work on this kernel: %s" % x)


@test
def test_wire_sockopt_multicast_refused(ctx):
    """Joins and source filters: the kernel's membership reports leave from
    its own socket, past the wire check, with the job's group and source
    addresses. Refused and recorded unless "sockets": {"multicast": true};
    leaving is untouched."""
    d = ctx.daemon({"t": pol(allow=["198.18.1.1:443"]),
                    # a root job keeps CAP_NET_ADMIN (an anycast join needs it)
                    # only when granted: the fence is judged for one that has it
                    "m": pol(allow=["198.18.1.1:443"], sockets={"multicast": True},
                             capabilities=["NET_ADMIN"])})
    for user in USERS:
        r, lines = vec(d, "t", "sockopt", *MCAST_OPTS, user=user)
        eq(len(lines), len(MCAST_OPTS), "%s: one line per option" % user)
        for x in lines:
            eq((x["name"], x["ok"], x["errno"]), (x["name"], False, 1),
               "%s: setsockopt %s in a job" % (user, x["name"]))
        for name, (lvl, opt) in MCAST_OPTS.items():
            s = d.wait_spans("egress.sockopt", r.job, where={"egress.sockopt.name": opt,
                                                             "egress.sockopt.level": lvl})[0]
            expect(s, decision="deny", reason="multicast")
        wait_until(lambda: sum(s.get("egress.count", 1) for s in
                               d.find("egress.sockopt", r.job)) >= len(MCAST_OPTS), 10,
                   what="every refusal accounted for")
        n = sum(s.get("egress.count", 1) for s in d.find("egress.sockopt", r.job))
        eq(n, len(MCAST_OPTS), "%s: egress.sockopt refusals recorded" % user)
        # allowed by the policy: whatever the kernel says, never the fence's
        # EPERM (the kernel's own: an anycast join needs CAP_NET_ADMIN)
        r, lines = vec(d, "m", "sockopt", *MCAST_OPTS, user=user)
        eq(len(lines), len(MCAST_OPTS), "%s: one line per option" % user)
        for x in lines:
            check(x["errno"] != 1 or (user == "nobody" and x["name"] == "ipv6_join_anycast"),
                  "%s: \"multicast\": true, setsockopt %s: %s" % (user, x["name"], x))
        time.sleep(0.5)
        check(not d.find("egress.sockopt", r.job),
              "multicast allowed, yet recorded: %s" % d.find("egress.sockopt", r.job))
    # leaving: exactly as unfenced, unrecorded
    want = {x["name"]: (x["ok"], x["errno"]) for x in unfenced(ctx, "sockopt", *MCAST_LEAVE_OPTS)}
    for user in USERS:
        r, lines = vec(d, "t", "sockopt", *MCAST_LEAVE_OPTS, user=user)
        for x in lines:
            eq((x["ok"], x["errno"]), want[x["name"]],
               "%s: setsockopt %s fenced vs unfenced" % (user, x["name"]))
        time.sleep(0.5)
        check(not d.find("egress.sockopt", r.job),
              "leaving recorded: %s" % d.find("egress.sockopt", r.job))


@test
def test_wire_sockopt_ordinary_untouched(ctx):
    """Options that do not re-route behave exactly as unfenced, a buffer
    over a page and an empty IP_OPTIONS / IPV6_RTHDR (which clear) included."""
    d = ctx.daemon({"t": pol(allow=["198.18.1.1:443"])})
    want = {x["name"]: (x["ok"], x["errno"], x.get("result"))
            for x in unfenced(ctx, "sockopt", *ORDINARY_OPTS)
            + unfenced(ctx, "attach_filter", 4000)}
    check(len(want) == len(ORDINARY_OPTS) + 1, "unfenced run: %s" % want)
    for user in USERS:
        _, lines = vec(d, "t", "sockopt", *ORDINARY_OPTS, user=user)
        _, more = vec(d, "t", "attach_filter", 4000, user=user)
        for x in lines + more:
            if user == "nobody" and x["name"] == "sndbuf":
                continue  # capped by net.core.wmem_max, same as unfenced nobody
            eq((x["ok"], x["errno"], x.get("result")), want[x["name"]],
               "%s: setsockopt %s fenced vs unfenced" % (user, x["name"]))
    check(not d.find("egress.sockopt"), "ordinary options recorded: %s" % d.find("egress.sockopt"))


@test
def test_wire_sockopt_audit_records_would_deny(ctx):
    # a source route needs CAP_NET_RAW, which a root job keeps only when granted
    d = ctx.daemon({"a": pol(allow=["198.18.1.1:443"], mode="audit", capabilities=["NET_RAW"])})
    r, lines = vec(d, "a", "sockopt", "ipopt_lsrr", user="root")  # nobody: the kernel says no
    check(lines[0]["ok"], "audit mode: setsockopt IP_OPTIONS should pass: %s" % lines)
    s = d.wait_spans("egress.sockopt", r.job)[0]
    expect(s, decision="would_deny", reason="reroute", **{"egress.sockopt.name": "IP_OPTIONS"})
    # a join: let through (the kernel's answer, never the fence's EPERM), recorded
    r, lines = vec(d, "a", "sockopt", "mcast_join_source_group6")
    check(lines[0]["errno"] != 1, "audit mode: MCAST_JOIN_SOURCE_GROUP refused: %s" % lines)
    s = d.wait_spans("egress.sockopt", r.job)[0]
    expect(s, decision="would_deny", reason="multicast",
           **{"egress.sockopt.name": "MCAST_JOIN_SOURCE_GROUP"})


# -- ancillary data: caught on the wire ------------------------------------------

@test
def test_wire_cmsg_source_route_dropped(ctx):
    """IP_RETOPTS with LSRR/SSRR in sendmsg: the kernel sends to the first
    hop. The first hop is allowed too here: the hops after it are not
    judged, so the packet is dropped all the same. nobody: the kernel itself
    refuses a source route without CAP_NET_RAW; nothing may cross either way."""
    hop = W.HOSTS_V4  # on the link: a strict route's first hop must be
    # root: granted CAP_NET_RAW (a root job lacks it by default, and the
    # kernel would refuse the source route itself, as for nobody)
    d = ctx.daemon({"t": pol(allow=["198.18.1.1:9999/udp", hop + ":9999/udp"],
                             capabilities=["NET_RAW"])})
    for user in USERS:
        for kind in ("lsrr", "ssrr"):
            tag = "srr-%s-%s-%d" % (user, kind, time.time_ns() % 10**9)
            before = wire_drops(d)
            with Capture(ctx) as cap:
                r, lines = vec(d, "t", "cmsg_srr", kind, hop, "198.18.1.1", 9999, tag,
                               user=user)
            check(not cap.packets(tag), "%s %s: the source-routed datagram crossed the veth: %s"
                  % (user, kind, cap.packets(tag)))
            check(not host_saw(ctx, hop, 9999, "udp"), "the first hop got it")
            if user == "nobody":
                eq(lines[0]["errno"], 1, "nobody: sendmsg with a source route (kernel: EPERM)")
                continue
            eq(lines[0]["errno"], 1, "root: sendmsg with a source route (the wire drop: EPERM)")
            s = packet_span(d, r.job, hop, 9999)
            expect(s, decision="deny", reason="reroute",
                   **{"egress.wire.judged.address": "198.18.1.1",
                      "egress.wire.judged.port": 9999, "network.transport": "udp"})
            eq(s.status_code, 2, "status of an egress.packet denial")
            check(wire_drops(d) > before, "wire_drops did not grow: %s" % wire_drops(d))
    # the first hop IS the judged destination: the packet's address and port
    # match what sendmsg judged, and it is dropped all the same (the route it
    # names is not judged)
    tag = "srr-self-%d" % (time.time_ns() % 10**9)
    with Capture(ctx) as cap:
        r, lines = vec(d, "t", "cmsg_srr", "lsrr", hop, hop, 9999, tag, user="root")
    check(not cap.packets(tag), "LSRR through the judged host itself crossed: %s" % (
        cap.packets(tag),))
    expect(packet_span(d, r.job, hop, 9999), decision="deny", reason="reroute",
           **{"egress.wire.judged.address": hop})
    # contrast: without the option the same datagram crosses
    tag = "srr-contrast-%d" % (time.time_ns() % 10**9)
    with Capture(ctx) as cap:
        vec(d, "t", "udp", "198.18.1.1", 9999, tag)
    check(cap.packets(tag), "an allowed datagram did not cross the veth (capture broken?)")


@test
def test_wire_cmsg_rthdr6(ctx):
    """IPV6_RTHDR in sendmsg: this kernel (no CONFIG_IPV6_MIP6) refuses every
    type there (EINVAL); whatever the kernel does, nothing may cross."""
    d = ctx.daemon({"t": pol(allow=["[2001:db8:1::1]:9999/udp", "[2001:db8:1::2]:9999/udp"])})
    for typ in (0, 2, 4):
        tag = "rh6-%d-%d" % (typ, time.time_ns() % 10**9)
        with Capture(ctx) as cap:
            r, lines = vec(d, "t", "cmsg_rthdr6", typ, "2001:db8:1::2", "2001:db8:1::1", 9999,
                           tag)
        got = [p for p in cap.packets(tag) if p.get("rh") or p["dst"] != "2001:db8:1::1"]
        check(not got, "type %d: a routing-header datagram crossed: %s" % (typ, got))
        if lines[0]["ok"]:  # a kernel that built it: the wire check must have caught it
            packet_span(d, r.job, "2001:db8:1::2", 9999)


@test
def test_wire_raw6_routing_header_root(ctx):
    """Root with raw sockets allowed builds its own IPv6 header with a routing
    header (type 0 and SRH): the wire check drops it and names the first hop."""
    d = ctx.daemon({"t": pol(allow=["[2001:db8:1::1]:9999/udp", "[2001:db8:1::2]:*"],
                             sockets={"raw": True})})
    for typ in (0, 4):
        tag = "raw6-%d-%d" % (typ, time.time_ns() % 10**9)
        with Capture(ctx) as cap:
            r, lines = vec(d, "t", "raw6_rthdr", typ, "2001:db8:1::2", "2001:db8:1::1", 9999,
                           tag, user="root")
        # the drop itself: sendto gets EPERM from the cgroup egress program
        eq(lines[0]["errno"], 1, "raw IPv6 send with a routing header in the job")
        check(not cap.packets(tag), "type %d: the routing-header packet crossed: %s" % (
            typ, cap.packets(tag)))
        expect(packet_span(d, r.job, "2001:db8:1::2", 9999), decision="deny", reason="reroute")


# -- netfilter after the hook ------------------------------------------------------

def nft(ctx, script):
    if not os.path.exists("/usr/sbin/nft"):
        raise AssertionError("nft is missing: apt-get install nftables (make deps)")
    r = ctx.world.in_fence(["/usr/sbin/nft", "-f", "-"], input=script)
    check(r.returncode == 0, "nft failed (%s): %s" % (r.returncode, r.stderr.strip()))


NFT_TABLE = "ef_wire_test"


def dnat(ctx, fam, rules):
    nft(ctx, "table %s %s {\n chain out {\n  type nat hook output priority -100;\n%s }\n}\n"
        % (fam, NFT_TABLE, "".join("  %s\n" % r for r in rules)))


def undnat(ctx, fam):
    ctx.world.in_fence(["/usr/sbin/nft", "delete", "table", fam, NFT_TABLE])


@test
def test_wire_dnat_after_the_hook(ctx):
    d = ctx.daemon({"t": pol(allow=["198.18.1.1:443", "198.18.1.2:443", "198.18.1.1:9999/udp",
                                    "[2001:db8:1::1]:443"])})
    try:
        dnat(ctx, "ip", ["ip daddr 198.18.1.1 tcp dport 443 dnat to 198.18.2.1:443",
                         "ip daddr 198.18.1.1 udp dport 9999 dnat to 198.18.2.2:9999"])
        dnat(ctx, "ip6", ["ip6 daddr 2001:db8:1::1 tcp dport 443 dnat to [2001:db8:1::3]:443"])
        for user in USERS:
            tag = "dnat-%s-%d" % (user, time.time_ns() % 10**9)
            with Capture(ctx) as cap:
                r, lines = vec(d, "t", "tcp", "198.18.1.1", 443, tag, user=user)
                ru, _ = vec(d, "t", "udpc", "198.18.1.1", 9999, tag, user=user)
                rs, _ = vec(d, "t", "udp", "198.18.1.1", 9999, tag, user=user)  # unconnected
                r6, _ = vec(d, "t", "tcp", "2001:db8:1::1", 443, tag, user=user)
            check(not lines[0]["ok"], "%s: connect through a DNAT to a denied host: %s" % (
                user, lines))
            for host, port in (("198.18.2.1", 443), ("2001:db8:1::3", 443)):
                check(not host_saw(ctx, host, port), "%s: %s:%d reached through the DNAT" % (
                    user, host, port))
            check(not host_saw(ctx, "198.18.2.2", 9999, "udp"), "UDP reached through the DNAT")
            # to the targets' service ports: a reset the fence namespace sends to
            # an earlier test's client at one of those addresses is not the job's
            crossed = [p for p in cap.packets() if p["dst"] in ("198.18.2.1", "198.18.2.2",
                                                                "2001:db8:1::3")
                       and p["dport"] in (443, 9999)]
            check(not crossed, "%s: packets to the DNAT target crossed the veth: %s" % (
                user, json.dumps(crossed)[:1500]))
            s = packet_span(d, r.job, "198.18.2.1", 443)
            expect(s, decision="deny", reason="no_rule",
                   **{"egress.wire.judged.address": "198.18.1.1", "egress.wire.judged.port": 443})
            for j in (ru.job, rs.job):  # connected and unconnected UDP
                packet_span(d, j, "198.18.2.2", 9999,
                            **{"egress.wire.judged.address": "198.18.1.1"})
            s6 = packet_span(d, r6.job, "2001:db8:1::3", 443)
            expect(s6, **{"egress.wire.judged.address": "2001:db8:1::1", "network.type": "ipv6"})
            # one record per (socket, destination): SYN retransmits are not recorded again
            eq(len(d.find("egress.packet", r.job, where={"network.peer.port": 443})), 1,
               "egress.packet spans for one TCP socket retransmitting its SYN")
        # an allowed destination after the rewrite passes
        undnat(ctx, "ip")
        dnat(ctx, "ip", ["ip daddr 198.18.1.1 tcp dport 443 dnat to 198.18.1.2:443"])
        tag = "dnat-ok-%d" % (time.time_ns() % 10**9)
        r, lines = vec(d, "t", "tcp", "198.18.1.1", 443, tag)
        eq(lines[0].get("result"), tag, "echo through a DNAT to an allowed host")
        check(host_saw(ctx, "198.18.1.2", 443), "198.18.1.2:443 not reached")
        no_packet_spans(d, r.job)
    finally:
        undnat(ctx, "ip")
        undnat(ctx, "ip6")


# -- datagrams ----------------------------------------------------------------------

@test
def test_wire_corked_udp(ctx):
    """A corked datagram goes to the cork's FIRST address, whatever the later
    sendto calls name: a denied second address gets nothing, and an allowed
    first address still gets its datagram."""
    d = ctx.daemon({"t": pol(allow=["198.18.1.1:9999/udp", "198.18.1.2:9999/udp",
                                    "[2001:db8:1::1]:9999/udp", "[2001:db8:1::2]:9999/udp"])})
    for how in ("cork", "more"):
        for a, b, bad in (("198.18.1.1", "198.18.2.1", True), ("198.18.1.1", "198.18.1.2", False),
                          ("2001:db8:1::1", "2001:db8:1::4", True),
                          ("2001:db8:1::1", "2001:db8:1::2", False)):
            tag = "%s-%d" % (how, time.time_ns() % 10**9)
            with Capture(ctx) as cap:
                r, lines = vec(d, "t", how, a, b, 9999, tag)
            got = cap.packets(tag)
            check(got, "%s %s then %s: nothing crossed (want the datagram to %s): %s" % (
                how, a, b, a, lines))
            dsts = {p["dst"] for p in got}
            check(dsts == {a}, "%s %s then %s: datagrams went to %s" % (how, a, b, dsts))
            if bad:
                check(not host_saw(ctx, b, 9999, "udp"), "%s: %s reached" % (how, b))
            check(not d.find("egress.packet", r.job), "%s: egress.packet spans: %s" % (
                how, d.find("egress.packet", r.job)))


@test
def test_wire_fast_path_unchanged(ctx):
    """Allowed traffic of every kind passes, untouched and unrecorded by the
    wire check: TCP and UDP, IPv4, IPv6, IPv4-mapped, TCP Fast Open, UDP GSO,
    DNS through the proxy."""
    d = ctx.daemon({"t": pol(allow=["198.18.1.1:443", "198.18.1.1:9999/udp",
                                    "[2001:db8:1::1]:443", "[2001:db8:1::1]:9999/udp",
                                    "ok.test:443"])},
                   config={"dns": {"upstream": [W.DNS_V4], "timeout_ms": 1000, "attempts": 2}})
    before = wire_drops(d)
    for user in USERS:
        tag = "fast-%s" % user
        jobs = []
        for v, h, p in (("tcp", "198.18.1.1", 443), ("tcp", "2001:db8:1::1", 443),
                        ("tcp", "::ffff:198.18.1.1", 443), ("udpc", "198.18.1.1", 9999),
                        ("udpc", "2001:db8:1::1", 9999), ("udpc", "::ffff:198.18.1.1", 9999)):
            r, lines = vec(d, "t", v, h, p, tag, user=user)
            eq(lines[0].get("result"), tag, "%s %s %s:%d echo" % (user, v, h, p))
            jobs.append(r.job)
        for h in ("198.18.1.1", "2001:db8:1::1"):
            r, lines = vec(d, "t", "tfo", h, 443, tag, user=user)
            eq(lines[0].get("result"), tag, "%s TFO %s echo (%s)" % (user, h, lines))
            jobs.append(r.job)
            gtag = "gso-%s-%d" % (user, time.time_ns() % 10**9)
            t0 = time.time()
            with Capture(ctx) as cap:
                r, lines = vec(d, "t", "gso", h, 9999, gtag, user=user)
            check(lines[0]["ok"], "%s GSO send to %s: %s" % (user, h, lines))
            check(cap.packets(gtag), "%s GSO send to %s: nothing on the wire" % (user, h))
            # veth may carry it as one GSO frame: count what the server received
            wait_until(lambda: len([e for e in ctx.world.host_log() if e["t"] >= t0
                                    and e["proto"] == "udp" and e["lport"] == 9999
                                    and e["local"] == h]) >= 3,
                       5, what="three GSO datagrams received at %s:9999" % h)
            jobs.append(r.job)
        r = d.probe("t", "resolve-connect", "ok.test", "443")
        jobs.append(r.job)
        check(any(x.get("ok") for x in r.lines), "resolve + connect through the proxy: %s" %
              r.lines)
        for j in jobs:
            no_packet_spans(d, j)
    eq(wire_drops(d), before, "wire_drops after allowed traffic only")


@test
def test_wire_accepted_socket(ctx):
    """A job's listener: the connection is accepted, and the job writes to the
    peer, only if an inbound rule allows that peer. An outbound rule naming
    the peer on every port opens nothing inbound: the SYN is dropped at the
    ingress hook (egress.inbound) and, were it not, the SYN-ACK would be at
    the wire check (the accepted socket has nothing judged)."""
    d = ctx.daemon({"open": pol(allow=["198.18.1.1:443"], inbound=["198.18.0.2:7101"]),
                    "closed": pol(allow=["198.18.0.2:*"])})
    for name, ok in (("open", True), ("closed", False)):
        port = 7100 + (1 if ok else 2)
        bg = d.spawn(name, [PY, VEC, "listen", str(port), "4"])
        wait_until(lambda: "listening" in bg.output()[0], 10, what="job listening")
        cl = ctx.world.hosts_argv([PY, "-c", (
            "import socket,sys\n"
            "s=socket.socket(); s.settimeout(2)\n"
            "try:\n"
            "  s.connect(('198.18.0.1', %d)); print(s.recv(100).decode()); s.send(b'peer')\n"
            "except OSError as e: print('ERR', e)\n") % port])
        got = subprocess.run(cl, capture_output=True, text=True, timeout=20).stdout
        bg.wait(20)
        if ok:
            check("job-says-hello" in got, "open: the peer did not get the job's data: %r" % got)
            no_packet_spans(d, bg.job)
        else:
            check("job-says-hello" not in got, "closed: the job wrote to a peer no inbound "
                  "rule allows")
            s = d.wait_spans("egress.inbound", bg.job)[0]
            expect(s, decision="deny", **{"network.peer.address": "198.18.0.2"})


@test
def test_wire_ping_sockets(ctx):
    """ICMP datagram sockets have no sendmsg hook: the wire check judges
    them. A rule naming every port of the host (host:*) allows it."""
    d = ctx.daemon({"t": pol(allow=["198.18.1.1:*", "[2001:db8:1::1]:*", "198.18.1.2:443"],
                             sockets={"icmp": True})})
    for user in USERS:
        for host, ok in (("198.18.1.1", True), ("2001:db8:1::1", True), ("198.18.1.2", False),
                         ("198.18.2.1", False)):
            r, lines = vec(d, "t", "ping", host, user=user)
            eq(lines[0]["ok"], ok, "%s: ping %s answered" % (user, host))
            if not ok:
                expect(packet_span(d, r.job, host, 0), decision="deny")
