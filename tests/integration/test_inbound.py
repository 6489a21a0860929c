"""Inbound connections (issue 15, item 3): a job's listener refuses peers no
"inbound" rule allows, before any byte flows, and each attempt is recorded
(egress.inbound). Evidence on the far side: a client in the HOSTS namespace
(a real TCP stack, its own source addresses) gets no connection and no byte;
the job's server logs no accepted connection."""
import errno
import os
import subprocess
import time

import world as W
from harness import test, pol, check, eq, wait_until, read_jsonl
from harness_spans import expect

PEER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "peer.py")
PORT = 7100
SECRET = "hello-secret-from-job"
DENIED_V4, ALLOWED_V4 = "198.18.1.7", "198.18.1.8"
DENIED_V6, ALLOWED_V6 = "2001:db8:1::3", "2001:db8:1::4"


def start_server(ctx, d, policy, port=PORT, dual=False, nested=None):
    """A fenced job listening on 0.0.0.0:port and [::]:port (dual: one
    dual-stack [::] socket taking both)."""
    log = ctx.path("server-%d.jsonl" % port)
    hosts = ["--host", "::", "--dual"] if dual else ["--host", "0.0.0.0", "--host", "::"]
    if nested:
        hosts += ["--nested", nested]
    bg = d.spawn(policy, [W.PY, PEER, "serve"] + hosts + [
        "--port", str(port), "--log", log, "--greeting", SECRET + "\n", "--seconds", "40"])

    def ready():
        out, _ = bg.output()
        return out.startswith("READY")
    wait_until(ready, timeout=15, what="the fenced server to listen")
    return bg, log


def client(ctx, host, bind, port=PORT, timeout=3.0, send="from-peer"):
    """Connect from the hosts ns, from source address `bind`."""
    argv = ctx.world.hosts_argv([W.PY, PEER, "connect", host, str(port), "--bind", bind,
                                 "--timeout", str(timeout), "--send", send])
    p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout + 20)
    (r,) = W.parse_lines(p.stdout, p)
    return r


def no_connection(r, what):
    check(not r.get("connected"), "%s: the peer got a connection: %s" % (what, r))
    check(not r.get("data"), "%s: the peer received bytes: %r" % (what, r.get("data")))


def stop(bg):
    try:
        bg.proc.terminate()
    except OSError:
        pass
    bg.wait(20)


def accepted_peers(log):
    return [e["peer"].replace("::ffff:", "") for e in read_jsonl(log)]


@test(timeout=180)
def test_inbound_denied_by_default_v4_v6(ctx):
    d = ctx.daemon({"srv": pol(allow=[])})
    bg, log = start_server(ctx, d, "srv")
    r4 = client(ctx, W.FENCE_V4, DENIED_V4, timeout=2)
    r6 = client(ctx, W.FENCE_V6, DENIED_V6, timeout=2)
    no_connection(r4, "IPv4 peer, no inbound rule")
    no_connection(r6, "IPv6 peer, no inbound rule")
    s = d.wait_spans("egress.inbound", bg.job, where={"network.peer.address": DENIED_V4})
    expect(s[0], decision="deny", reason="no_rule", **{
        "server.port": PORT, "server.address": W.FENCE_V4, "network.transport": "tcp",
        "network.type": "ipv4"})
    eq(s[0].status_code, 2, "status code of an inbound denial")
    s = d.wait_spans("egress.inbound", bg.job, where={"network.peer.address": DENIED_V6})
    expect(s[0], decision="deny", reason="no_rule", **{
        "server.port": PORT, "server.address": W.FENCE_V6, "network.type": "ipv6"})
    stop(bg)
    eq(accepted_peers(log), [], "connections the fenced server accepted")


@test(timeout=180)
def test_inbound_rule_allows_named_peer_only(ctx):
    rules = ["%s:%d" % (ALLOWED_V4, PORT), "[%s]:%d" % (ALLOWED_V6, PORT)]
    d = ctx.daemon({"srv": pol(allow=[], inbound=rules)})
    bg, log = start_server(ctx, d, "srv")
    ok4 = client(ctx, W.FENCE_V4, ALLOWED_V4)
    ok6 = client(ctx, W.FENCE_V6, ALLOWED_V6)
    bad4 = client(ctx, W.FENCE_V4, DENIED_V4, timeout=2)
    bad6 = client(ctx, W.FENCE_V6, DENIED_V6, timeout=2)
    check(ok4["ok"] and SECRET in ok4.get("data", ""), "allowed IPv4 peer: %s" % ok4)
    check(ok6["ok"] and SECRET in ok6.get("data", ""), "allowed IPv6 peer: %s" % ok6)
    no_connection(bad4, "IPv4 peer with no rule")
    no_connection(bad6, "IPv6 peer with no rule")
    s = d.wait_spans("egress.inbound", bg.job, where={"network.peer.address": ALLOWED_V4})
    expect(s[0], decision="allow", reason="rule", rule=rules[0], **{"server.port": PORT})
    s = d.wait_spans("egress.inbound", bg.job, where={"network.peer.address": ALLOWED_V6})
    expect(s[0], decision="allow", reason="rule", rule=rules[1])
    expect(d.wait_spans("egress.inbound", bg.job,
                        where={"network.peer.address": DENIED_V4})[0], decision="deny")
    stop(bg)
    peers = accepted_peers(log)
    check(DENIED_V4 not in peers and DENIED_V6 not in peers,
          "the server accepted a denied peer: %s" % peers)
    check(ALLOWED_V4 in peers and ALLOWED_V6 in peers, "allowed peers not accepted: %s" % peers)


@test(timeout=180)
def test_inbound_rule_is_per_local_port(ctx):
    # a rule for another local port, or a CIDR around the peer on this one
    d = ctx.daemon({"srv": pol(allow=[], inbound=["%s:%d" % (ALLOWED_V4, PORT + 1),
                                                  "198.18.1.0/29:%d" % PORT])})
    bg, log = start_server(ctx, d, "srv")
    inside = client(ctx, W.FENCE_V4, "198.18.1.5")  # in the /29
    outside = client(ctx, W.FENCE_V4, ALLOWED_V4, timeout=2)  # .8: not in it
    check(inside["ok"] and SECRET in inside.get("data", ""), "peer in the /29: %s" % inside)
    no_connection(outside, "peer allowed on another local port only")
    expect(d.wait_spans("egress.inbound", bg.job,
                        where={"network.peer.address": "198.18.1.5"})[0],
           decision="allow", rule="198.18.1.0/29:%d" % PORT)
    stop(bg)


@test(timeout=180)
def test_inbound_dual_stack_listener(ctx):
    # an IPv4 peer reaching a dual-stack [::] listener is judged as IPv4
    d = ctx.daemon({"srv": pol(allow=[], inbound=["%s:%d" % (ALLOWED_V4, PORT)])})
    bg, log = start_server(ctx, d, "srv", dual=True)
    ok = client(ctx, W.FENCE_V4, ALLOWED_V4)
    bad = client(ctx, W.FENCE_V4, DENIED_V4, timeout=2)
    bad6 = client(ctx, W.FENCE_V6, DENIED_V6, timeout=2)
    check(ok["ok"] and SECRET in ok.get("data", ""), "allowed IPv4 peer, dual-stack: %s" % ok)
    no_connection(bad, "IPv4 peer with no rule, dual-stack listener")
    no_connection(bad6, "IPv6 peer with no rule, dual-stack listener")
    s = d.wait_spans("egress.inbound", bg.job, where={"network.peer.address": DENIED_V4})
    expect(s[0], decision="deny", reason="no_rule", **{"network.type": "ipv4",
                                                       "server.address": W.FENCE_V4})
    stop(bg)
    peers = accepted_peers(log)
    check(DENIED_V4 not in peers and DENIED_V6 not in peers, "accepted: %s" % peers)


@test(timeout=180)
def test_inbound_listener_in_nested_cgroup(ctx):
    # the job is found from the socket's cgroup, however deep below the job
    d = ctx.daemon({"srv": pol(allow=[], inbound=["%s:%d" % (ALLOWED_V4, PORT)])})
    bg, log = start_server(ctx, d, "srv", nested="inner")
    bad = client(ctx, W.FENCE_V4, DENIED_V4, timeout=2)
    ok = client(ctx, W.FENCE_V4, ALLOWED_V4)
    no_connection(bad, "peer with no rule, listener in a nested cgroup")
    check(ok["ok"] and SECRET in ok.get("data", ""), "allowed peer, nested listener: %s" % ok)
    expect(d.wait_spans("egress.inbound", bg.job,
                        where={"network.peer.address": DENIED_V4})[0], decision="deny")
    expect(d.wait_spans("egress.inbound", bg.job,
                        where={"network.peer.address": ALLOWED_V4})[0], decision="allow")
    stop(bg)


@test(timeout=180)
def test_inbound_outbound_rules_do_not_open_inbound(ctx):
    # an outbound allow of the peer (and of everything) is not an inbound rule
    d = ctx.daemon({"srv": pol(allow=["0.0.0.0/0:*", "%s:*" % DENIED_V4])})
    bg, log = start_server(ctx, d, "srv")
    r = client(ctx, W.FENCE_V4, DENIED_V4, timeout=2)
    no_connection(r, "peer allowed outbound only")
    stop(bg)
    eq(accepted_peers(log), [], "connections the fenced server accepted")


@test(timeout=180)
def test_inbound_retransmitted_syn_recorded_once(ctx):
    d = ctx.daemon({"srv": pol(allow=[])})
    bg, log = start_server(ctx, d, "srv")
    # a 5 s connect: the peer's stack retransmits its SYN at 1 s and 3 s
    r = client(ctx, W.FENCE_V4, DENIED_V4, timeout=5)
    no_connection(r, "retransmitting peer")
    d.wait_spans("egress.inbound", bg.job, where={"network.peer.address": DENIED_V4})
    time.sleep(1.5)  # let later records drain
    got = d.find("egress.inbound", bg.job, where={"network.peer.address": DENIED_V4})
    eq(len(got), 1, "egress.inbound spans for one peer retrying one port")
    stop(bg)


@test(timeout=180)
def test_inbound_audit_mode_would_deny(ctx):
    d = ctx.daemon({"srv": pol(allow=[], mode="audit")})
    bg, log = start_server(ctx, d, "srv")
    r = client(ctx, W.FENCE_V4, DENIED_V4)
    check(r["ok"] and SECRET in r.get("data", ""), "audit mode lets the peer in: %s" % r)
    expect(d.wait_spans("egress.inbound", bg.job,
                        where={"network.peer.address": DENIED_V4})[0],
           decision="would_deny", reason="no_rule")
    stop(bg)


@test(timeout=180)
def test_inbound_policy_switch_cuts_accepted(ctx):
    # an accepted connection the new version no longer allows is torn down
    rule = "%s:%d" % (ALLOWED_V4, PORT)
    d = ctx.daemon({"srv": pol(allow=[], inbound=[rule])})
    bg, log = start_server(ctx, d, "srv")
    hold = subprocess.Popen(ctx.world.hosts_argv(
        [W.PY, PEER, "connect", W.FENCE_V4, str(PORT), "--bind", ALLOWED_V4, "--timeout", "20",
         "--send", "never-echoed"]), stdout=subprocess.PIPE, text=True)
    ctx.procs.append(hold)
    d.wait_spans("egress.inbound", bg.job, where={"network.peer.address": ALLOWED_V4})
    time.sleep(0.5)
    f = ctx.path("srv-v2.json")
    with open(f, "w") as fh:
        fh.write('{"name": "srv", "allow": []}\n')
    r = d.ctl("policy", "apply", f)
    check(r.returncode == 0, "policy apply: %s %s" % (r.stdout, r.stderr))
    out, _ = hold.communicate(timeout=30)
    (res,) = W.parse_lines(out, hold)
    check(res.get("connected"), "the held connection was made: %s" % res)
    # cut: a reset (or EOF) long before the client's own 20 s timeout
    check(res["elapsed"] < 15, "the held connection was not cut: %s" % res)
    check(not res["ok"] and res["errno"] in (errno.ECONNRESET, errno.ECONNABORTED, errno.EPIPE)
          or res["ok"] and res.get("data") == SECRET + "\n",
          "the held connection: %s" % res)
    stop(bg)


@test(timeout=120)
def test_inbound_bad_input_validate(ctx):
    d = ctx.daemon({}, start=False)
    cases = [
        ('{"name": "x", "inbound": ["ci.example.com:22"]}', "inbound peers are addresses"),
        ('{"name": "x", "inbound": ["10.0.0.1"]}', "missing port"),
        ('{"name": "x", "inbound": ["10.0.0.1:22/udp"]}', "inbound rules are for TCP"),
        ('{"name": "x", "inbound": [22]}', "a rule must be a string"),
        ('{"name": "x", "inbound": "10.0.0.1:22"}', "must be an array"),
        ('{"name": "x", "loopback": "yes"}', '"loopback" must be "own", true or false'),
        ('{"name": "x", "loopback": 1}', '"loopback" must be "own", true or false'),
    ]
    for i, (text, want) in enumerate(cases):
        path = ctx.path("bad-%d.json" % i)
        with open(path, "w") as f:
            f.write(text)
        r = d.ctl("policy", "validate", path, sock=False)
        check(r.returncode != 0, "validate accepted %s" % text)
        check(want in r.stderr and path + ":1:" in r.stderr,
              "validate %s: want %r with a position, got %r" % (text, want, r.stderr))
    good = ctx.path("good.json")
    with open(good, "w") as f:
        f.write('{"name": "x", "loopback": "own", "allow": ["127.0.0.1:5432"],'
                ' "inbound": ["198.18.1.8:7100", "[2001:db8:1::4]:7100"]}')
    r = d.ctl("policy", "validate", good, sock=False)
    check(r.returncode == 0, "validate refused a good policy: %s" % r.stderr)


BPF_ENABLE_STATS, BPF_STATS_RUN_TIME = 32, 0


def enable_bpf_stats():
    """BPF_ENABLE_STATS: run_time_ns/run_cnt are kept while the fd is open
    (no global sysctl left changed if the test dies)."""
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    attr = ctypes.create_string_buffer(128)  # union bpf_attr, enable_stats.type = 0
    fd = libc.syscall(321, BPF_ENABLE_STATS, attr, ctypes.c_uint(128))  # x86_64 bpf
    if fd < 0:
        raise AssertionError("BPF_ENABLE_STATS failed: errno %d" % ctypes.get_errno())
    return fd


def prog_stats(d, name):
    import json
    r = subprocess.run(["bpftool", "--json", "link", "show", "pinned",
                        os.path.join(d.bpffs_dir, "link_" + name)], capture_output=True,
                       text=True)
    check(r.returncode == 0, "bpftool link show %s: %s" % (name, r.stderr))
    pid = json.loads(r.stdout)["prog_id"]
    r = subprocess.run(["bpftool", "--json", "prog", "show", "id", str(pid)],
                       capture_output=True, text=True)
    j = json.loads(r.stdout)
    return j.get("run_cnt", 0), j.get("run_time_ns", 0)


@test(timeout=240)
def test_inbound_established_packets_stay_cheap(ctx):
    """The ingress hook on packets of an accepted connection (the fast
    path: one socket-state read) costs little per packet by the kernel's
    own bpf_stats; the figure is printed. 256 MiB from an allowed peer in
    the hosts ns to a fenced sink."""
    import platform
    check(platform.machine() == "x86_64", "this test calls bpf(2) by its x86_64 number")
    d = ctx.daemon({"srv": pol(allow=[], inbound=["%s:%d" % (ALLOWED_V4, PORT)])})
    log = ctx.path("sink.jsonl")
    bg = d.spawn("srv", [W.PY, PEER, "serve", "--host", "0.0.0.0", "--port", str(PORT),
                         "--log", log, "--discard", "--seconds", "60"])
    wait_until(lambda: bg.output()[0].startswith("READY"), timeout=15,
               what="the fenced sink to listen")
    fd = enable_bpf_stats()
    try:
        c0, t0 = prog_stats(d, "ef_ingress")
        p = subprocess.run(ctx.world.hosts_argv(
            [W.PY, PEER, "bulk", W.FENCE_V4, str(PORT), "--mb", "256", "--no-echo",
             "--bind", ALLOWED_V4]),
            capture_output=True, text=True, timeout=120)
        (res,) = W.parse_lines(p.stdout, p)
        c1, t1 = prog_stats(d, "ef_ingress")
    finally:
        os.close(fd)
    stop(bg)
    check(res["ok"], "bulk transfer through the fence: %s" % res)
    n, ns = c1 - c0, t1 - t0
    check(n > 1000, "the ingress program ran %d times for 256 MiB received" % n)
    per = ns / n
    ctx.note("ef_ingress on established packets: %d runs, %.1f ns per packet (bpf_stats)"
             % (n, per))
    print("    ef_ingress: %d runs, %.1f ns/packet, 256 MiB received in %.2f s" % (
        n, per, res["elapsed"]), flush=True)
    # veth GRO hands TCP ~64 KB at a time: a run is a large skb, and what
    # matters is the share of the transfer's time spent in the program
    share = ns / (res["elapsed"] * 1e9)
    ctx.note("ef_ingress: %.3f%% of the transfer's wall time" % (100 * share))
    check(per < 1000, "ef_ingress costs %.1f ns per established packet (want < 1000)" % per)
    check(share < 0.01, "ef_ingress took %.2f%% of the transfer's time (want < 1%%)" % (
        100 * share))


@test(timeout=180)
def test_inbound_policy_add_remove_live(ctx):
    """egressctl policy add --inbound opens a peer for a running job's
    listener at once; remove --inbound closes it again (and the connection
    it had is torn down)."""
    from test_policy_live import ctl_json
    d = ctx.daemon({"srv": pol(allow=[])})
    bg, log = start_server(ctx, d, "srv")
    no_connection(client(ctx, W.FENCE_V4, ALLOWED_V4, timeout=2), "before the add")
    rule = "%s:%d" % (ALLOWED_V4, PORT)
    rep = ctl_json(d, "policy", "add", "--inbound", "srv", rule)
    eq(rep["added"], ["inbound " + rule], "reply: added")
    ok = client(ctx, W.FENCE_V4, ALLOWED_V4)
    check(ok["ok"] and SECRET in ok.get("data", ""), "after the add: %s" % ok)
    expect(d.wait_spans("egress.inbound", bg.job, where={"network.peer.address": ALLOWED_V4,
                                                          "egress.decision": "allow"})[0],
           rule=rule)
    with open(os.path.join(d.policy_dir, "srv.json")) as f:
        doc = f.read()
    check('"inbound": [\n    "%s"\n  ]' % rule in doc, "the installed file: %s" % doc)
    r = d.ctl("policy", "add", "--inbound", "srv", "ci.example.com:22")
    check(r.returncode != 0 and "inbound peers are addresses" in r.stderr,
          "a name as an inbound peer: %r" % r.stderr)
    r = d.ctl("policy", "add", "--inbound", "--deny", "srv", "10.0.0.1:22")
    check(r.returncode == 2 and "inbound rules are allow rules" in r.stderr,
          "--deny --inbound: %r" % r.stderr)
    rep = ctl_json(d, "policy", "remove", "--inbound", "srv", rule)
    eq(rep["removed"], ["inbound " + rule], "reply: removed")
    no_connection(client(ctx, W.FENCE_V4, ALLOWED_V4, timeout=2), "after the remove")
    stop(bg)
