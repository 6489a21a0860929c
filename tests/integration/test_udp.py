"""UDP: unconnected sendto (egress.send, one span per socket and
destination) and connected UDP (egress.connect, transport udp)."""
import sys
import time

from harness import test, pol, allowed, denied, check, eq
from harness_spans import expect


@test
def test_udp_sendto_allow_deny(ctx):
    d = ctx.daemon({"u": pol(allow=["198.18.1.5:9999/udp", "[2001:db8:1::5]:123/udp",
                                    "198.18.1.5:443"])})
    cases = [("198.18.1.5", 9999, True), ("198.18.1.6", 9999, False),
             ("198.18.1.5", 123, False),  # port not allowed
             ("198.18.1.5", 443, False),  # the 443 rule is tcp only
             ("2001:db8:1::5", 123, True), ("2001:db8:1::5", 9999, False)]
    for host, port, ok in cases:
        r = d.probe("u", "sendto", host, port)
        (x,) = r.lines
        if ok:
            allowed(x)
        else:
            denied(x)
            eq(x["sent"], 0, "datagrams sent to denied %s:%d" % (host, port))
        s = d.decision(r.job, host, port, "udp", name="egress.send")
        expect(s, decision="allow" if ok else "deny",
               **{"network.transport": "udp", "network.peer.port": port})
        if ok:
            check(s.get("egress.reason") == "rule", "allowed send reason: %s" % s.describe())
        else:
            eq(s.status_code, 2, "status code of a denied send")
        eq(d.find("egress.connect", r.job), [], "egress.connect spans for unconnected UDP")
    check(not ctx.reached("198.18.1.6", 9999, "udp"), "a denied datagram reached 198.18.1.6")


@test
def test_udp_sendto_one_span_per_destination(ctx):
    d = ctx.daemon({"u": pol(allow=["198.18.1.5:9999/udp"])})
    r = d.probe("u", "sendto", "198.18.1.5", "9999", "--count", "50")
    (x,) = r.lines
    allowed(x)
    eq(x["sent"], 50, "datagrams sent")
    d.wait_spans("egress.send", r.job)
    time.sleep(2)  # late duplicates would show up by now
    got = d.find("egress.send", r.job)
    eq(len(got), 1, "egress.send spans for 50 datagrams to one destination (%s)" % got)
    expect(got[0], decision="allow", **{"network.peer.port": 9999})
    # denied: also one record for the socket, not 50
    r = d.probe("u", "sendto", "198.18.1.6", "9999", "--count", "50")
    (x,) = r.lines
    denied(x)
    d.wait_spans("egress.send", r.job)
    time.sleep(2)
    got = d.find("egress.send", r.job)
    eq(len(got), 1, "egress.send spans for 50 denied datagrams to one destination (%s)" % got)
    expect(got[0], decision="deny")
    st = d.status()
    eq(st.get("ringbuf_drops"), 0, "status ringbuf_drops")


@test
def test_udp_connected(ctx):
    d = ctx.daemon({"u": pol(allow=["198.18.1.5:9999/udp", "[2001:db8:1::5]:123/udp"])})
    r = d.probe("u", "connect", "198.18.1.5:9999/udp", "198.18.1.6:9999/udp",
                "[2001:db8:1::5]:123/udp", "[2001:db8:1::5]:9999/udp", "198.18.1.5:9999")
    allowed(r.get("198.18.1.5:9999/udp"))  # the echo came back through the connected socket
    denied(r.get("198.18.1.6:9999/udp"))
    allowed(r.get("[2001:db8:1::5]:123/udp"))
    denied(r.get("[2001:db8:1::5]:9999/udp"))
    denied(r.get("198.18.1.5:9999"))  # tcp 9999: the rule is udp only
    s = d.decision(r.job, "198.18.1.5", 9999, "udp")
    expect(s, decision="allow", reason="rule", rule="198.18.1.5:9999/udp",
           **{"network.transport": "udp", "network.type": "ipv4"})
    expect(d.decision(r.job, "198.18.1.6", 9999, "udp"), decision="deny", reason="no_rule")
    expect(d.decision(r.job, "2001:db8:1::5", 123, "udp"), decision="allow",
           **{"network.type": "ipv6"})
    expect(d.decision(r.job, "2001:db8:1::5", 9999, "udp"), decision="deny")
    expect(d.decision(r.job, "198.18.1.5", 9999, "tcp"), decision="deny")
    time.sleep(1)
    eq(d.find("egress.send", r.job), [], "egress.send spans for connected UDP sends")


SENDER = r"""
import json, socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
print("READY", flush=True)
for line in sys.stdin:
    host, port, data = line.split()
    try:
        s.sendto(data.encode(), (host, int(port)))
        print(json.dumps({"ok": True}), flush=True)
    except OSError as e:
        print(json.dumps({"ok": False, "errno": e.errno}), flush=True)
"""


@test(timeout=120)
def test_udp_one_socket_across_destinations_and_versions(ctx):
    """One unconnected socket alternating between an allowed and a denied
    destination, across a policy change: each datagram gets the verdict of
    the policy version in force (the socket's remembered destination
    shortcut, and the verdict cache, never carry an allow past a remove),
    judged by what the hosts received."""
    import json
    import secrets
    import subprocess
    from harness import PY
    from test_policy_live import ctl_json
    A, B, rule = "198.18.1.5", "198.18.1.6", "198.18.1.5:9999/udp"
    d = ctx.daemon({"u": pol(allow=[rule])})
    job = ctx.job_id()
    p = subprocess.Popen(ctx.world.fence_argv(d.run_argv("u", [], job) + [PY, "-c", SENDER]),
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=d._env())
    tag = secrets.token_hex(4)
    try:
        check(p.stdout.readline().strip() == "READY", "the sender did not start")

        def send(host, n):
            p.stdin.write("%s 9999 m%d-%s\n" % (host, n, tag))
            p.stdin.flush()
            return json.loads(p.stdout.readline())

        want = {}
        for n, host, ok in ((1, A, True), (2, B, False), (3, A, True), (4, B, False),
                            (5, A, True)):
            r = send(host, n)
            eq(r["ok"], ok, "datagram %d to %s: %s" % (n, host, r))
            want[n] = ok
        ctl_json(d, "policy", "remove", "u", rule)
        for n in (6, 7):
            r = send(A, n)
            check(not r["ok"], "datagram %d to %s after the remove: %s" % (n, A, r))
            want[n] = False
        ctl_json(d, "policy", "add", "u", rule)
        r = send(A, 8)
        check(r["ok"], "datagram 8 after the rule came back: %s" % r)
        want[8] = True
        time.sleep(1)
        got = " ".join(x.get("data") or "" for x in ctx.world.host_log())
        for n, ok in sorted(want.items()):
            eq(("m%d-%s" % (n, tag)) in got, ok, "the hosts received datagram %d" % n)
        spans = d.wait_spans("egress.send", job, where={"network.peer.address": A,
                                                        "egress.decision": "deny"})
        eq(len(spans), 1, "deny records of A after the remove (one per version)")
    finally:
        p.stdin.close()
        p.wait(timeout=10)



CORKED = r"""
import ctypes, os, socket, struct, sys, tempfile
MSG_MORE = 0x8000
mode = sys.argv[1]
libc = ctypes.CDLL(None, use_errno=True)
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int,
                      ctypes.c_long]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.sendto(b"begin ", MSG_MORE, ("198.18.1.5", 9999))
# an allowed address other than the datagram's: ignored all the same, not recorded
s.sendto(b"allowed ", MSG_MORE, ("198.18.1.7", 9999))
if mode == "unreadable":
    # a denied address in a page no page table maps yet: the fence cannot read it there
    fd, path = tempfile.mkstemp()
    sa = struct.pack("=HH4s8x", socket.AF_INET, socket.htons(9999), socket.inet_aton("198.18.1.6"))
    os.write(fd, sa.ljust(4096, b"\0"))
    os.unlink(path)
    base = libc.mmap(None, 4096, 1, 2, fd, 0)  # PROT_READ, MAP_PRIVATE
    data = b"unreadable "
    n = libc.sendto(s.fileno(), data, len(data), MSG_MORE, ctypes.c_void_p(base), 16)
    print("sent", n, "errno", ctypes.get_errno() if n < 0 else 0, flush=True)
elif mode == "unspec":
    # AF_UNSPEC: udp_sendmsg takes it for AF_INET
    sa = struct.pack("=HH4s8x", 0, socket.htons(9999), socket.inet_aton("198.18.1.6"))
    data = b"unspec "
    n = libc.sendto(s.fileno(), data, len(data), MSG_MORE, sa, len(sa))
    print("sent", n, "errno", ctypes.get_errno() if n < 0 else 0, flush=True)
else:
    try:
        print("sent", s.sendto(b"denied ", MSG_MORE, ("198.18.1.6", 9999)), "errno 0", flush=True)
    except OSError as e:
        print("sent -1 errno", e.errno, flush=True)
s.sendto(b"end", ("198.18.1.5", 9999))
"""


@test
def test_udp_corked_send_recorded(ctx):
    """A sendto() on a UDP socket holding a corked datagram: the kernel ignores
    the address and appends the data to the datagram for the host it began
    with; a denied address is recorded as asked (reason udp_corked), also as
    AF_UNSPEC (taken for AF_INET), and in audit mode (would_deny); an allowed
    one is not recorded. Where BPF LSM
    runs the call is refused (EPERM) in enforce mode; elsewhere it goes on
    (a tracepoint records it), and an address in memory the tracepoint
    cannot read is recorded with none."""
    d = ctx.daemon({"u": pol(allow=["198.18.1.5:9999/udp", "198.18.1.7:9999/udp"]),
                    "a": pol(allow=["198.18.1.5:9999/udp", "198.18.1.7:9999/udp"],
                             mode="audit")})
    lsm = d.status()["bpf_lsm"]
    for policy, mode, decision in (("u", "denied", "deny"), ("u", "unreadable", "deny"),
                                   ("u", "unspec", "deny"), ("a", "denied", "would_deny")):
        r = d.run(policy, [sys.executable, "-c", CORKED, mode])
        eq(r.rc, 0, "corked job (%s, %s): %s" % (policy, mode, r.err.strip()[-400:]))
        refused = lsm and decision == "deny"
        check(("sent -1 errno 1" in r.out) if refused else ("errno 0" in r.out),
              "the corked sendto (%s, BPF LSM %s): %r" % (mode, lsm, r.out))
        got = d.wait_spans("egress.send", r.job, where={"egress.reason": "udp_corked"})
        eq(len(got), 1, "udp_corked records (%s, %s): %s" % (policy, mode, got))
        expect(got[0], decision=decision, **{"network.transport": "udp"})
        if mode == "unreadable" and not lsm:
            eq(got[0].get("network.peer.address"), None, "the unread address")
        else:
            expect(got[0], **{"network.peer.address": "198.18.1.6", "network.peer.port": 9999})
        allowed_sends = [x for x in d.find("egress.send", r.job)
                         if x.get("network.peer.address") == "198.18.1.7"]
        eq(allowed_sends, [], "a record of the allowed address the kernel ignored")
    check(not ctx.reached("198.18.1.6", 9999, "udp"), "a corked datagram reached 198.18.1.6")
