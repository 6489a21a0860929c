"""Loopback that leads out (issue 15, item 4). A relay listening on the
runner's loopback OUTSIDE the job (an open proxy, a published container
port: here an unfenced process in the fence ns forwarding to a test host)
must not carry a job's data out unrecorded:
  - "loopback": "own" (the default): refused, recorded (reason loopback);
    allowed, and recorded, with a rule naming its address and port;
  - "loopback": true: allowed, recorded (reason loopback);
  - "loopback": false: refused unless a rule names it;
  - the job's own listeners (same cgroup, or a cgroup nested in the job)
    are reached freely and unrecorded; another job's are not "own".
Evidence on the far side: the test host's own log (did the relay's
forwarded connection reach 198.18.1.1:80?) and the relay's log."""
import os
import subprocess
import time

import world as W
from harness import test, pol, check, eq, wait_until, read_jsonl, EPERM
from harness_spans import expect

PEER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "peer.py")
TARGET = ("198.18.1.1", 80)  # hostd echo: what the relay forwards to
SECRET = "token-ghp_0123456789"


class Relay:
    """An open relay on loopback, unfenced, in the fence ns."""

    def __init__(self, ctx, host, extra=()):
        tag = "%s-%d" % (host.replace(":", "_"), len(ctx.procs))
        self.log = ctx.path("relay-%s.jsonl" % tag)
        self.out = ctx.path("relay-%s.out" % tag)
        with open(self.out, "wb") as fo:
            self.proc = subprocess.Popen(ctx.world.fence_argv(
                [W.PY, PEER, "relay", "--listen", host, "--to", "%s:%d" % TARGET,
                 "--log", self.log, "--seconds", "100"] + list(extra)), stdout=fo,
                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        ctx.procs.append(self.proc)
        W.ledger().add("pid", self.proc.pid)

        def ready():
            with open(self.out) as f:
                return f.read().startswith("READY")
        wait_until(ready, timeout=10, what="the relay to listen")
        with open(self.out) as f:
            self.port = int(f.read().split()[1])
        self.host = host

    def used(self):
        return read_jsonl(self.log)


def job_connect(d, policy, host, port, job_id=None):
    r = d.run(policy, [W.PY, PEER, "connect", host, str(port), "--send", SECRET,
                       "--timeout", "3"], job_id=job_id)
    (res,) = W.parse_lines(r.out, r)
    return r.job, res


def reached_target(ctx):
    return ctx.reached(*TARGET)


def through(res, what):
    check(res["ok"] and SECRET in res.get("data", ""),
          "%s: expected the relay to carry the data (echoed back), got %s" % (what, res))


def refused(res, what):
    check(not res["ok"] and res["errno"] == EPERM, "%s: expected EPERM, got %s" % (what, res))


def loop_spans(d, job, host, port):
    return d.find("egress.connect", job, where={"network.peer.address": host,
                                                 "network.peer.port": port})


@test(timeout=180)
def test_loopback_relay_refused_by_default(ctx):
    r4, r6 = Relay(ctx, "127.0.0.1"), Relay(ctx, "::1")
    d = ctx.daemon({"t": pol(allow=["198.18.1.2:443"])})  # no "loopback": "own"
    job, res = job_connect(d, "t", "127.0.0.1", r4.port)
    refused(res, "relay on 127.0.0.1, default policy")
    expect(d.decision(job, "127.0.0.1", r4.port), decision="deny", reason="loopback")
    job6, res = job_connect(d, "t", "::1", r6.port)
    refused(res, "relay on [::1], default policy")
    expect(d.decision(job6, "::1", r6.port), decision="deny", reason="loopback")
    # the other loopback spellings of the same relay
    job_m, res = job_connect(d, "t", "::ffff:127.0.0.1", r4.port)
    refused(res, "relay through ::ffff:127.0.0.1")
    job_o, res = job_connect(d, "t", "127.0.0.2", r4.port)
    refused(res, "127.0.0.2 (the relay is not there, but no rule names it either)")
    time.sleep(0.5)
    eq(r4.used() + r6.used(), [], "connections the relays accepted")
    check(not reached_target(ctx), "the relay's target was reached")


@test(timeout=180)
def test_loopback_rule_names_the_listener(ctx):
    r4, r6 = Relay(ctx, "127.0.0.1"), Relay(ctx, "::1")
    rules = ["127.0.0.1:%d" % r4.port, "[::1]:%d" % r6.port]
    d = ctx.daemon({"t": pol(allow=rules)})
    job, res = job_connect(d, "t", "127.0.0.1", r4.port)
    through(res, "relay named by a rule")
    expect(d.decision(job, "127.0.0.1", r4.port), decision="allow", reason="rule",
           rule=rules[0])
    job6, res = job_connect(d, "t", "::1", r6.port)
    through(res, "IPv6 relay named by a rule")
    expect(d.decision(job6, "::1", r6.port), decision="allow", reason="rule", rule=rules[1])
    # the rule names one port: another outside listener stays shut
    other = Relay(ctx, "127.0.0.1")
    job2, res = job_connect(d, "t", "127.0.0.1", other.port)
    refused(res, "an outside listener on a port no rule names")
    expect(d.decision(job2, "127.0.0.1", other.port), decision="deny", reason="loopback")
    check(reached_target(ctx), "the allowed relay did not reach its target")


@test(timeout=180)
def test_loopback_true_allows_and_records(ctx):
    r4 = Relay(ctx, "127.0.0.1")
    d = ctx.daemon({"t": pol(allow=[], loopback=True),
                    "tdeny": pol(allow=[], deny=["127.0.0.1:%d" % r4.port], loopback=True)})
    job, res = job_connect(d, "t", "127.0.0.1", r4.port)
    through(res, "loopback: true")
    expect(d.decision(job, "127.0.0.1", r4.port), decision="allow", reason="loopback")
    # a deny rule still wins over "loopback": true
    job2, res = job_connect(d, "tdeny", "127.0.0.1", r4.port)
    refused(res, "loopback: true with a deny rule naming the listener")
    expect(d.decision(job2, "127.0.0.1", r4.port), decision="deny", reason="deny_rule")


@test(timeout=180)
def test_loopback_false_needs_a_rule(ctx):
    r4 = Relay(ctx, "127.0.0.1")
    d = ctx.daemon({"off": pol(allow=[], loopback=False),
                    "offr": pol(allow=["127.0.0.1:%d" % r4.port], loopback=False)})
    job, res = job_connect(d, "off", "127.0.0.1", r4.port)
    refused(res, "loopback: false")
    expect(d.decision(job, "127.0.0.1", r4.port), decision="deny", reason="loopback")
    job, res = job_connect(d, "offr", "127.0.0.1", r4.port)
    through(res, "loopback: false with a rule")
    # false means false: even the job's own listener needs a rule
    r = d.run("off", [W.PY, PEER, "own"])
    for x in W.parse_lines(r.out, r):
        refused(x, "own listener under loopback: false (%s)" % x.get("target"))


@test(timeout=180)
def test_loopback_own_listener_free_and_unrecorded(ctx):
    d = ctx.daemon({"t": pol(allow=[])})
    for args, what in ((["own", "--mapped"], "same cgroup"),
                       (["own", "--udp", "--mapped"], "same cgroup, UDP"),
                       (["own", "--nested", "deeper"], "a nested cgroup of the job")):
        r = d.run("t", [W.PY, PEER] + args)
        lines = W.parse_lines(r.out, r)
        eq(len(lines), 3 if "--mapped" in args else 2, "own-listener results (%s)" % what)
        for x in lines:
            check(x["ok"], "own listener, %s: %s should work: %s" % (what, x.get("target"), x))
        if "--nested" in args:
            check(all(x["cgroup"].endswith("/deeper") for x in lines),
                  "the client ran in the nested cgroup: %s" % lines)
        time.sleep(0.5)
        spans = [s for s in d.find(None, r.job) if s.name in ("egress.connect", "egress.send")]
        eq(spans, [], "decision spans for the job's own listeners (%s)" % what)


@test(timeout=180)
def test_loopback_other_jobs_listener_is_not_own(ctx):
    d = ctx.daemon({"t": pol(allow=[])})
    log = ctx.path("srv-a.jsonl")
    a = d.spawn("t", [W.PY, PEER, "serve", "--host", "127.0.0.1", "--port", "0", "--log", log,
                      "--seconds", "30"])

    def ready():
        return a.output()[0].startswith("READY")
    wait_until(ready, timeout=15, what="job A's listener")
    port = int(a.output()[0].split()[1])
    job_b, res = job_connect(d, "t", "127.0.0.1", port)
    refused(res, "job B to job A's listener")
    expect(d.decision(job_b, "127.0.0.1", port), decision="deny", reason="loopback")
    a.proc.terminate()
    a.wait(20)
    eq(read_jsonl(log), [], "connections job A's server accepted")


@test(timeout=180)
def test_loopback_policy_validate_and_lint(ctx):
    d = ctx.daemon({}, start=False)
    f = ctx.path("lo-true.json")
    with open(f, "w") as fh:
        fh.write('{"name": "x", "loopback": true}')
    r = d.ctl("policy", "validate", f, sock=False)
    check(r.returncode != 0 and '"loopback": true lets the job reach every local listener'
          in r.stderr and "--force" in r.stderr, "lint of loopback: true: %r" % r.stderr)
    r = d.ctl("policy", "validate", "--force", f, sock=False)
    check(r.returncode == 0, "validate --force of loopback: true: %r" % r.stderr)
    f2 = ctx.path("old.json")
    with open(f2, "w") as fh:
        fh.write('{"name": "x", "loopback": false, "allow": ["127.0.0.1:5432"]}')
    r = d.ctl("policy", "validate", f2, sock=False)
    check(r.returncode == 0, "an old file with loopback: false: %r" % r.stderr)


@test(timeout=180)
def test_loopback_reuseport_shared_with_relay_is_not_own(ctx):
    """A relay outside the job and the job's own listener share a port
    through SO_REUSEPORT (same user): the kernel may hand the job's
    connection to either, so a listener in a reuseport group is never
    "own"; the connect is judged by the rules (none: refused)."""
    relay = Relay(ctx, "127.0.0.1", extra=["--port", "0", "--reuseport"])
    d = ctx.daemon({"t": pol(allow=[])})
    r = d.run("t", [W.PY, PEER, "own", "--port", str(relay.port), "--reuseport"])
    lines = W.parse_lines(r.out, r)
    v4 = [x for x in lines if x.get("target", "").startswith("127.0.0.1:")]
    eq(len(v4), 1, "results for 127.0.0.1 (%s)" % lines)
    refused(v4[0], "own listener sharing its port with a relay")
    expect(d.decision(r.job, "127.0.0.1", relay.port), decision="deny", reason="loopback")
    time.sleep(0.5)
    eq(relay.used(), [], "connections the relay accepted")
    check(not reached_target(ctx), "the relay's target was reached")


@test(timeout=180)
def test_loopback_suggest_names_the_outside_listener(ctx):
    """An audit run that used a relay outside the job and a listener of its
    own: suggest names the relay by address and port, never "loopback":
    true, and the job's own listener not at all (it was never recorded);
    the suggested policy then lets the job through, nothing else."""
    from test_audit import egressctl
    import json
    r4 = Relay(ctx, "127.0.0.1")
    d = ctx.daemon({"au": pol(allow=[], mode="audit")})
    job, res = job_connect(d, "au", "127.0.0.1", r4.port)
    through(res, "audit mode")
    expect(d.decision(job, "127.0.0.1", r4.port), decision="would_deny", reason="loopback")
    r = d.run("au", [W.PY, PEER, "own"], job_id=None)
    check(all(x["ok"] for x in W.parse_lines(r.out, r)), "own listener in audit mode")
    time.sleep(0.5)
    s = egressctl(ctx, ["policy", "suggest", "--job", job, "--job", r.job], d=d)
    doc = json.loads(s.stdout)
    eq(doc["allow"], ["127.0.0.1:%d" % r4.port], "suggested rules")
    check("loopback" not in doc, "suggest wrote a loopback setting: %s" % doc)
    path = d.write_policy("enf", s.stdout.replace('"name": "au"', '"name": "enf"'))
    v = d.ctl("policy", "validate", path)
    check(v.returncode == 0, "validate the suggested policy: %s" % v.stderr)
    job2, res = job_connect(d, "enf", "127.0.0.1", r4.port)
    through(res, "the suggested policy")
    expect(d.decision(job2, "127.0.0.1", r4.port), decision="allow", reason="rule")
    other = Relay(ctx, "127.0.0.1")
    job3, res = job_connect(d, "enf", "127.0.0.1", other.port)
    refused(res, "another outside listener under the suggested policy")


@test(timeout=180)
def test_loopback_udp_outside_socket(ctx):
    """UDP too: a datagram to a socket outside the job on loopback (a
    forwarder, a metrics agent that relays) is refused and recorded unless
    a rule names it; IPv4 and IPv6."""
    socks = {}
    for host in ("127.0.0.1", "::1"):
        log = ctx.path("udp-%s.jsonl" % host.replace(":", "_"))
        out = ctx.path("udp-%s.out" % host.replace(":", "_"))
        with open(out, "wb") as fo:
            p = subprocess.Popen(ctx.world.fence_argv(
                [W.PY, PEER, "udp-sink", "--host", host, "--log", log, "--seconds", "60"]),
                stdout=fo, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        ctx.procs.append(p)
        W.ledger().add("pid", p.pid)
        wait_until(lambda: open(out).read().startswith("READY"), timeout=10,
                   what="the UDP socket outside the job")
        socks[host] = (int(open(out).read().split()[1]), log)
    p4, p6 = socks["127.0.0.1"][0], socks["::1"][0]
    d = ctx.daemon({"t": pol(allow=[]),
                    "r": pol(allow=["127.0.0.1:%d/udp" % p4, "[::1]:%d/udp" % p6])})
    for host, (port, log) in socks.items():
        r = d.run("t", [W.PY, PEER, "sendto", host, str(port), "--send", SECRET])
        (x,) = W.parse_lines(r.out, r)
        refused(x, "datagram to %s:%d outside the job" % (host, port))
        expect(d.decision(r.job, host, port, "udp", name="egress.send"), decision="deny",
               reason="loopback")
        time.sleep(0.3)
        eq(read_jsonl(log), [], "datagrams the socket outside the job got")
        r = d.run("r", [W.PY, PEER, "sendto", host, str(port), "--send", SECRET])
        (x,) = W.parse_lines(r.out, r)
        check(x["ok"], "datagram named by a rule: %s" % x)
        expect(d.decision(r.job, host, port, "udp", name="egress.send"), decision="allow",
               reason="rule")
        wait_until(lambda: read_jsonl(log), timeout=5, what="the allowed datagram")



@test(timeout=180)
def test_loopback_own_dns_proxy_port_elsewhere_is_not_own(ctx):
    """The job's own DNS proxy passes unrecorded only where it listens
    (127.0.0.1, ::1): a relay on 127.0.0.2 at the same port is judged like
    any other outside listener."""
    import shlex
    d = ctx.daemon({"t": pol(allow=[])})
    portfile, go = ctx.path("port"), ctx.path("go")
    script = ("i=0; while [ ! -e %s ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i+1)); done; "
              "exec %s %s connect 127.0.0.2 \"$(cat %s)\" --send %s --timeout 3" % (
                  shlex.quote(go), W.PY, PEER, shlex.quote(portfile), SECRET))
    bg = d.spawn("t", ["/bin/sh", "-c", script])
    wait_until(lambda: (d.job(bg.job) or {}).get("dns_port"), timeout=15,
               what="the job's DNS proxy port")
    port = d.job(bg.job)["dns_port"]
    relay = Relay(ctx, "127.0.0.2", extra=["--port", str(port)])
    with open(portfile, "w") as f:
        f.write(str(port))
    open(go, "w").close()
    eq(bg.wait(30), 0, "job exit status")
    (res,) = W.parse_lines(bg.output()[0])
    refused(res, "relay on 127.0.0.2 at the job's DNS proxy port")
    expect(d.decision(bg.job, "127.0.0.2", port), decision="deny", reason="loopback")
    eq(relay.used(), [], "connections the relay accepted")


@test(timeout=180)
def test_loopback_rule_removed_cuts_the_relay_connection(ctx):
    """Removing the rule that named an outside listener tears down the open
    connection to it (revocation judges loopback as the BPF side does);
    under "loopback": true the same connection stays."""
    from test_policy_live import hold, rounds_after, finish, ctl_json
    from test_policy_live import ECONNABORTED, ECONNRESET, EPIPE
    relay = Relay(ctx, "127.0.0.1")
    rule = "127.0.0.1:%d" % relay.port
    d = ctx.daemon({"own": pol(allow=[rule]), "any": pol(allow=[rule], loopback=True)})
    bg, log, stop = hold(ctx, d, "own", held=rule, retry=())
    bg2, log2, stop2 = hold(ctx, d, "any", held=rule, retry=())
    rep = ctl_json(d, "policy", "remove", "own", rule)
    check(rep["connections_closed"] >= 1, "no connection closed: %s" % rep)
    # "loopback": true is a lint finding: every change to such a policy needs --force
    rep2 = ctl_json(d, "policy", "remove", "--force", "any", rule)
    eq(rep2["connections_closed"], 0, "connections closed under loopback: true")
    t1 = time.time()
    pings = rounds_after(log, t1, op="hold-ping", n=2)
    check(not pings[0]["ok"] and pings[0]["errno"] in (ECONNABORTED, ECONNRESET, EPIPE),
          "the held relay connection after the remove: %s" % pings[0])
    for r in rounds_after(log2, t1, op="hold-ping", n=3):
        check(r["ok"], "the loopback: true job's relay connection broke: %s" % r)
    finish(bg, stop)
    finish(bg2, stop2)


@test(timeout=180)
def test_loopback_policy_change_keeps_own_connections(ctx):
    """A policy change under a job never cuts its connections to its own
    listeners (nor the accepted ends of them): revocation finds the
    listener in the same socket dump, as the BPF side finds it."""
    from test_policy_live import ctl_json
    d = ctx.daemon({"own": pol(allow=["198.18.1.1:443"])})
    bgs = [d.spawn("own", [W.PY, PEER, "own-hold", "--host", h, "--seconds", "6"])
           for h in ("127.0.0.1", "::1")]
    for bg in bgs:
        wait_until(lambda: bg.output()[0].startswith("READY"), timeout=15,
                   what="the job's own connection")
    rep = ctl_json(d, "policy", "remove", "own", "198.18.1.1:443")
    eq(rep["connections_closed"], 0, "connections closed by the change")
    for bg in bgs:
        eq(bg.wait(30), 0, "job exit status")
        lines = W.parse_lines(bg.output()[0].split("\n", 1)[1])
        check(lines and lines[-1]["ok"] and lines[-1]["pings"] >= 30,
              "the job's own connection after the change: %s" % lines)


@test(timeout=180)
def test_loopback_own_check_cost(ctx):
    """What the own-listener check (a socket lookup and a probe read of the
    listener's head) costs in ef_connect4, by the kernel's bpf_stats: 2000
    connects to the job's own listener against 2000 to an outside listener
    named by a rule (rule lookup, record). Figures printed."""
    from test_inbound import enable_bpf_stats, prog_stats
    import platform
    check(platform.machine() == "x86_64", "this test calls bpf(2) by its x86_64 number")
    relay = Relay(ctx, "127.0.0.1")
    d = ctx.daemon({"t": pol(allow=["127.0.0.1:%d" % relay.port])})
    code = ("import socket, sys\n"
            "own = socket.socket(); own.bind(('127.0.0.1', 0)); own.listen(4096)\n"
            "port = own.getsockname()[1] if sys.argv[1] == 'own' else int(sys.argv[1])\n"
            "for i in range(2000):\n"
            "    s = socket.socket(); s.setblocking(False)\n"
            "    try:\n"
            "        s.connect(('127.0.0.1', port))\n"
            "    except BlockingIOError:\n"
            "        pass\n"
            "    s.close()\n"
            "    if sys.argv[1] == 'own' and i % 64 == 63:\n"
            "        own.setblocking(False)\n"
            "        try:\n"
            "            while True: own.accept()[0].close()\n"
            "        except BlockingIOError:\n"
            "            pass\n")
    fd = enable_bpf_stats()
    try:
        figures = {}
        for what, arg in (("own", "own"), ("rule", str(relay.port))):
            c0, t0 = prog_stats(d, "ef_connect4")
            r = d.run("t", [W.PY, "-c", code, arg], timeout=120)
            c1, t1 = prog_stats(d, "ef_connect4")
            check(r.rc == 0, "%s connects: %s" % (what, r.err[-500:]))
            check(c1 - c0 >= 2000, "%s: ef_connect4 ran %d times" % (what, c1 - c0))
            figures[what] = (t1 - t0) / (c1 - c0)
    finally:
        os.close(fd)
    msg = "ef_connect4 on loopback: own listener %.0f ns, outside listener by rule %.0f ns" % (
        figures["own"], figures["rule"])
    ctx.note(msg)
    print("    " + msg, flush=True)
    check(figures["own"] < 5000, msg)


@test(timeout=180)
def test_loopback_wide_rules_and_unspecified_addresses(ctx):
    """A rule over the whole address space (0.0.0.0/0:P, [::]/0:P) does not
    name a relay on loopback, and 0.0.0.0 / :: (which the kernel takes to
    127.0.0.1 / ::1) are loopback too: refused by default, recorded as the
    address the connection would reach. Only a rule naming an address inside
    loopback opens it; a wide deny rule still applies there. The job's own
    listener through 0.0.0.0 still works."""
    r4, r6 = Relay(ctx, "127.0.0.1"), Relay(ctx, "::1")
    wide = ["0.0.0.0/0:%d" % r4.port, "[::]/0:%d" % r6.port]
    d = ctx.daemon({"t": pol(allow=wide),
                    "named": pol(allow=wide + ["127.0.0.0/8:%d" % r4.port]),
                    "tdeny": pol(allow=[], deny=["0.0.0.0/0:%d" % r4.port], loopback=True)})
    t_loop = time.time()  # an earlier test's relay may still be finishing
    for host, port in (("127.0.0.1", r4.port), ("0.0.0.0", r4.port), ("::", r6.port),
                       ("::1", r6.port), ("::ffff:0.0.0.0", r4.port)):
        job, res = job_connect(d, "t", host, port)
        refused(res, "relay through %s under a /0 rule" % host)
        want = "::1" if host in ("::", "::1") else "127.0.0.1"
        expect(d.decision(job, want, port), decision="deny", reason="loopback")
    time.sleep(0.5)
    eq(r4.used() + r6.used(), [], "connections the relays accepted")
    check(not [e for e in ctx.world.host_log() if e["t"] >= t_loop and e["proto"] == "tcp"
               and e["lport"] == TARGET[1] and e["local"] == TARGET[0]],
          "the relays' target was reached")
    job, res = job_connect(d, "named", "0.0.0.0", r4.port)
    through(res, "a rule naming 127.0.0.0/8, reached through 0.0.0.0")
    expect(d.decision(job, "127.0.0.1", r4.port), decision="allow", reason="rule")
    job, res = job_connect(d, "tdeny", "127.0.0.1", r4.port)
    refused(res, "loopback: true with a /0 deny rule")
    expect(d.decision(job, "127.0.0.1", r4.port), decision="deny", reason="deny_rule")
    r = d.run("t", [W.PY, "-c", (
        "import socket\n"
        "l = socket.socket(); l.bind(('127.0.0.1', 0)); l.listen(1)\n"
        "c = socket.create_connection(('0.0.0.0', l.getsockname()[1]), timeout=3)\n"
        "a, _ = l.accept(); c.sendall(b'own'); print(a.recv(10).decode())\n")])
    eq(r.out.strip(), "own", "the job's own listener through 0.0.0.0 (%s)" % r.err[-300:])
