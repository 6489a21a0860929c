"""socket() creation: raw, packet, ICMP datagram and other families."""
from errno import EACCES, EPERM

from harness import test, pol, refused, check, eq
from harness_spans import expect

REASONS = {"raw": "raw_socket", "raw6": "raw_socket", "packet": "raw_socket",
           "icmp": "protocol", "icmp6": "protocol", "vsock": "family", "xdp": "family",
           "kcm": "family", "rds": "family", "appletalk": "family"}


def baseline(ctx, kinds):
    """Outside any job, in the fence ns, these sockets can be created: so a
    refusal inside a job is the fence's doing."""
    for x in ctx.world.probe_unfenced("socket", *kinds):
        check(x["ok"], "environment: socket %s fails even unfenced (%s): the test cannot tell "
              "the fence's refusal from the kernel's" % (x["kind"], x["err"]))


def refused_with(ctx, d, policy, kind):
    r = d.probe(policy, "socket", kind)
    (x,) = r.lines
    refused(x)
    s = d.wait_spans("egress.socket", r.job)
    eq(len(s), 1, "egress.socket spans for one refused %s socket" % kind)
    expect(s[0], decision="deny", reason=REASONS[kind])
    eq(s[0].status_code, 2, "status code of a refused socket")
    eq(s[0].get("process.pid"), x["pid"], "process.pid of the refused %s socket" % kind)
    return r, s[0]


@test
def test_raw_and_packet_refused(ctx):
    kinds = ["raw", "raw6", "packet"]
    baseline(ctx, kinds)
    # CAP_NET_RAW granted: a root job lacks it by default and the kernel would
    # refuse these sockets ahead of the fence (test_tamper's capability tests)
    d = ctx.daemon({"t": pol(allow=["198.18.1.1:443"], capabilities=["NET_RAW"])})
    for k in kinds:
        refused_with(ctx, d, "t", k)


@test
def test_raw_and_packet_allowed_by_policy(ctx):
    kinds = ["raw", "raw6", "packet"]
    baseline(ctx, kinds)
    d = ctx.daemon({"t": pol(allow=["198.18.1.1:443"], sockets={"raw": True, "packet": True})})
    r = d.probe("t", "socket", *kinds)
    for x in r.lines:
        check(x["ok"], "sockets.raw/packet true: %s should be created, got %s" % (x["kind"], x))
    check(not d.find("egress.socket", r.job, where={"egress.decision": "deny"}),
          "deny spans for allowed raw sockets: %s" % d.find("egress.socket", r.job))


@test
def test_icmp_datagram_refused(ctx):
    baseline(ctx, ["icmp", "icmp6"])
    d = ctx.daemon({"t": pol(allow=["198.18.1.1:443"])})
    refused_with(ctx, d, "t", "icmp")
    refused_with(ctx, d, "t", "icmp6")


@test
def test_other_families_refused(ctx):
    """Where BPF LSM runs, the lsm_cgroup/socket_create hook refuses every
    family by itself: the job has no seccomp filter. Elsewhere the
    cgroup/sock_create hook sees inet only and egressctl run's seccomp
    filter refuses the other families."""
    baseline(ctx, ["vsock", "xdp"])
    d = ctx.daemon({"t": pol(allow=["198.18.1.1:443"])})
    hook = d.status()["socket_hook"]
    ctx.note("socket hook: %s" % hook)
    r = d.run("t", ["/bin/sh", "-c", "grep '^Seccomp:' /proc/self/status"], timeout=60)
    filtered = "Seccomp:\t2" in r.out
    if hook.startswith("lsm_cgroup/"):
        check(not filtered, "with the lsm_cgroup hook the job still has a seccomp filter: %s"
              % r.out)
    else:
        eq(hook, "cgroup/sock_create (inet only)", "status socket_hook")
        check(filtered, "without the lsm_cgroup hook the job has no seccomp filter: %s" % r.out)
    refused_with(ctx, d, "t", "vsock")
    refused_with(ctx, d, "t", "xdp")
    # AF_UNIX, AF_NETLINK and plain TCP/UDP sockets stay available
    r = d.probe("t", "socket", "unix", "netlink", "tcp", "udp")
    for x in r.lines:
        check(x["ok"], "socket %s must be allowed in a job: %s" % (x["kind"], x))
    eq(d.find("egress.socket", r.job), [], "egress.socket spans for allowed families")


@test
def test_other_families_named(ctx):
    """A refused socket of a family egressd once showed as a number (AF_KCM
    41, AF_RDS 21, AF_APPLETALK 5) is named in its span and in egressctl
    run's notice, as Linux names it (policy/families.c). The fence refuses
    them before the kernel looks the family up (the lsm_cgroup hook, or
    the seccomp filter without it), so this holds whether or not this
    kernel has them; a policy allows them by these names."""
    d = ctx.daemon({"t": pol(allow=["198.18.1.1:443"]),
                    "k": pol(allow=["198.18.1.1:443"], sockets={"families": ["kcm"]})})
    for kind, typ in (("kcm", "seqpacket"), ("rds", "seqpacket"), ("appletalk", "dgram")):
        r, s = refused_with(ctx, d, "t", kind)
        eq(s.get("egress.socket.family"), kind, "egress.socket.family of a refused %s socket"
           % kind)
        check("a socket (%s %s)" % (kind, typ) in r.err,
              "egressctl run's notice does not name %s: %r" % (kind, r.err[-600:]))
    # allowed by name: no refusal of the fence's (the kernel may lack the family)
    r = d.probe("k", "socket", "kcm")
    (x,) = r.lines
    check(x["ok"] or x["errno"] not in (EPERM, EACCES), "kcm allowed by name, still refused: %s"
          % x)
    eq(d.find("egress.socket", r.job), [], "egress.socket spans for an allowed kcm socket")
