"""Probe detection: scripted agents that each explore the network one way
are flagged with the right reason, once per window, with an egress.probe
span (child of the job's span) naming the evidence and the action; the
policy's action really happens (freeze stops the job until thawed, kill ends
the whole job); a busy benign job is not flagged.

Every probe here is refused by the fence before a packet leaves (connect()
gets EPERM, unlisted names get NXDOMAIN from the job's proxy), so scanning
the world's addresses sends nothing anywhere.
"""
import json
import os
import secrets
import signal
import socket
import subprocess
import time

import world as W
from harness import test, pol, allowed, denied, check, eq, wait_until, probe_argv, PY, PROBE, EPERM
from harness_spans import expect
from test_dns import dns_config, sh

DNS = W.DNS_V4


def probe_spans(d, job, reason=None, n=1, timeout=10):
    where = {"egress.probe.reason": reason} if reason else None
    return d.wait_spans("egress.probe", job, n=n, timeout=timeout, where=where)


def probe_reasons(d, job):
    return sorted(s.get("egress.probe.reason") for s in d.find("egress.probe", job))


def check_probe_span(d, job, s, reason, action, count, threshold, window=60):
    expect(s, **{"egress.probe.reason": reason, "egress.probe.action": action,
                 "egress.flagged": True, "egress.job.id": job,
                 "egress.probe.count": count, "egress.probe.threshold": threshold,
                 "egress.probe.window_s": window})
    eq(s.status_code, 2, "egress.probe status (ERROR)")
    check(reason in s.status_message or "probe:" in s.status_message,
          "status message %r" % s.status_message)
    js = d.job_span(job, timeout=20)
    eq(s.parent_id, js.span_id, "egress.probe parent (the job's span)")
    eq(s.trace_id, js.trace_id, "egress.probe trace")
    return js


def targets(n, net="198.18.3.", port=80):
    return ["%s%d:%d" % (net, i, port) for i in range(1, n + 1)]


@test
def test_probe_dest_scan_alert(ctx):
    """Ten denied addresses: one dest_scan flag, action alert (the default),
    the job goes on and exits normally; nine do not flag."""
    d = ctx.daemon({"scan": pol(allow=["198.18.1.1:443"])})
    job = "scan-" + secrets.token_hex(3)
    r = d.probe("scan", "connect", "198.18.1.1:443", *targets(10), job_id=job)
    allowed(r.get("198.18.1.1:443"))
    for t in targets(10):
        denied(r.get(t))
    s = probe_spans(d, job, "dest_scan")[0]
    js = check_probe_span(d, job, s, "dest_scan", "alert", 10, 10)
    got = sorted(s.get("egress.probe.targets"))
    eq(got, sorted(t.split(":")[0] for t in targets(10)), "evidence targets")
    expect(js, **{"egress.flagged": True, "egress.probe.reason": "dest_scan",
                  "egress.probe.action": "alert", "egress.probe.flags": 1})
    eq(len(d.find("egress.probe", job)), 1, "egress.probe spans")
    check(isinstance(s.get("process.pid"), int), "the probe span names the process: %s" %
          s.describe())

    # nine: not flagged
    job9 = "scan9-" + secrets.token_hex(3)
    d.probe("scan", "connect", *targets(9, "198.18.3.", 81), job_id=job9)
    js9 = d.job_span(job9, timeout=20)
    expect(js9, **{"egress.flagged": False})
    eq(d.find("egress.probe", job9), [], "probe spans of a 9-address job")

    # egressctl audit --flagged: the probe span and the flagged job span
    a = d.ctl("audit", "--flagged", "--json", "--state-dir", d.state_dir)
    eq(a.returncode, 0, "audit --flagged exit: %s" % a.stderr)
    rows = [json.loads(x) for x in a.stdout.splitlines() if x.strip()]
    names = sorted((x.get("name"), x.get("attributes", x).get("egress.job.id", x.get("job")))
                   for x in rows)
    check(any(n == "egress.probe" for n, _ in names) and any(n == "egress.job" for n, _ in names),
          "audit --flagged rows: %s" % names)
    check(all(j == job for _, j in names if j), "audit --flagged lists only the flagged job: %s"
          % names)


@test
def test_probe_port_sweep(ctx):
    """Twelve denied ports on one host: port_scan on that host, not dest_scan."""
    d = ctx.daemon({"ps": pol(allow=["198.18.1.2:443"])})
    job = "ports-" + secrets.token_hex(3)
    ports = ["198.18.1.2:%d" % p for p in range(1, 13)]
    r = d.probe("ps", "connect", "198.18.1.2:443", *ports, job_id=job)
    allowed(r.get("198.18.1.2:443"))
    s = probe_spans(d, job, "port_scan")[0]
    check_probe_span(d, job, s, "port_scan", "alert", 10, 10)
    expect(s, **{"egress.probe.subject": "198.18.1.2"})
    check(all(t.endswith("/tcp") for t in s.get("egress.probe.targets")),
          "port evidence %r" % s.get("egress.probe.targets"))
    eq(probe_reasons(d, job), ["port_scan"], "reasons (one host is no address scan)")


@test
def test_probe_dns_sweep(ctx):
    """Fifty random subdomains of an unlisted domain: NXDOMAIN from the job's
    proxy (never forwarded), flagged dns_sweep at 20 names; and, as they all
    sit under one domain, dns_fanout at 40."""
    d = ctx.daemon({"sw": pol(allow=["ok.test:443"])}, config=dns_config())
    job = "sweep-" + secrets.token_hex(3)
    names = ["%s.sweep.test" % secrets.token_hex(4) for _ in range(50)]
    mark = ctx.world.dns_mark()
    r = d.probe("sw", "dns-query", *names, "--server", DNS, job_id=job)
    eq(sorted({x.get("rcode") for x in r.lines}), ["NXDOMAIN"], "rcodes")
    eq([q for q in ctx.world.dns_queries(mark) if "sweep.test" in q], [],
       "sweep names that reached the upstream")
    s = probe_spans(d, job, "dns_sweep")[0]
    check_probe_span(d, job, s, "dns_sweep", "alert", 20, 20)
    check(set(s.get("egress.probe.targets")) <= set(names), "sweep evidence %r" %
          s.get("egress.probe.targets"))
    f = probe_spans(d, job, "dns_fanout")[0]
    check_probe_span(d, job, f, "dns_fanout", "alert", 40, 40)
    expect(f, **{"egress.probe.subject": "sweep.test"})
    eq(probe_reasons(d, job), ["dns_fanout", "dns_sweep"], "reasons")


@test
def test_probe_dns_tunnel(ctx):
    """Long high-entropy labels (base32 data, as DNS tunnels send) under one
    domain: dns_tunnel at 5 names, before any sweep threshold."""
    import base64
    d = ctx.daemon({"tn": pol(allow=["ok.test:443"],
                              probe={"denied_names": 100, "names_per_parent": 100})},
                   config=dns_config())
    job = "tunnel-" + secrets.token_hex(3)
    names = ["%s.%s.exfil.test" % (base64.b32encode(os.urandom(30)).decode().lower().rstrip("="),
                                   i) for i in range(8)]
    d.probe("tn", "dns-query", *names, "--server", DNS, job_id=job)
    s = probe_spans(d, job, "dns_tunnel")[0]
    check_probe_span(d, job, s, "dns_tunnel", "alert", 5, 5)
    eq(probe_reasons(d, job), ["dns_tunnel"], "reasons")
    eq(len(s.get("egress.probe.targets")), 5, "tunnel evidence")


def b32_labels(i):
    """Three 15-character base32 labels of data (47 bytes): no label is
    tunnel-shaped, only their amount is."""
    import base64
    t = base64.b32encode(os.urandom(30)).decode().lower()
    return "%s.%s.%s%02d" % (t[:15], t[15:30], t[30:43], i % 100)


@test
def test_probe_dns_tunnel_bytes(ctx):
    """A low-and-slow tunnel through an allowed wildcard: short labels,
    fewer names than names_per_parent, none tunnel-shaped. The bytes of the
    distinct names sent upstream under exfil.test reach 1024 at the 22nd
    name: one dns_tunnel_bytes flag, before any other reason."""
    d = ctx.daemon({"tb": pol(allow=["*.exfil.test:443"], probe={"denied_names": 100})},
                   config=dns_config())
    job = "tbytes-" + secrets.token_hex(3)
    mark = ctx.world.dns_mark()
    names = ["%s.exfil.test" % b32_labels(i) for i in range(30)]
    d.probe("tb", "dns-query", *names, "--server", DNS, job_id=job)
    s = probe_spans(d, job, "dns_tunnel_bytes")[0]
    check_probe_span(d, job, s, "dns_tunnel_bytes", "alert", 22 * 47, 1024)
    eq(s.get("egress.probe.subject"), "exfil.test", "the registrable domain")
    eq(probe_reasons(d, job), ["dns_tunnel_bytes"], "reasons")
    check(names[21] in s.get("egress.probe.targets"), "the 22nd name in the evidence")
    # what made it fire did reach the upstream: that is what it measures
    seen = ctx.world.dns_queries(since=mark)
    check(all(n in seen for n in names[:22]), "the names never reached the upstream")


@test
def test_probe_dns_tunnel_bytes_custom_and_quiet(ctx):
    """probe.dns_label_bytes is the threshold; names repeated (a package
    manager resolving its registry for every download) count once, and
    denied names (answered by the proxy, never sent) not at all."""
    d = ctx.daemon({"q": pol(allow=["ok.test:443", "*.wild.test:443"]),
                    "low": pol(allow=["*.exfil.test:443"],
                               probe={"dns_label_bytes": 100, "denied_names": 100})},
                   config=dns_config())
    job = "quiet-" + secrets.token_hex(3)
    names = ["ok.test", "a.wild.test", "x.y.z.wild.test", "wild.test"] * 75
    d.probe("q", "dns-query", *names, "--server", DNS, job_id=job)
    d.probe("q", "dns-query", *["%s.denied.test" % b32_labels(i) for i in range(30)],
            "--server", DNS, job_id=job + "-denied")
    d.job_span(job, timeout=20)
    d.job_span(job + "-denied", timeout=20)
    eq(d.find("egress.probe", job), [], "probe spans of 300 lookups of 4 names")
    eq([s for s in d.find("egress.probe", job + "-denied")
        if s.get("egress.probe.reason") == "dns_tunnel_bytes"], [],
       "dns_tunnel_bytes of names never sent upstream")
    job = "low-" + secrets.token_hex(3)
    d.probe("low", "dns-query", *["%s.exfil.test" % b32_labels(i) for i in range(5)],
            "--server", DNS, job_id=job)
    s = probe_spans(d, job, "dns_tunnel_bytes")[0]
    check_probe_span(d, job, s, "dns_tunnel_bytes", "alert", 3 * 47, 100)


@test
def test_probe_sensitive_targets(ctx):
    """First touch of the metadata address, of the runner's own address,
    of a link-local and of a private address: each flags at once with its
    own reason; a second metadata touch in the window does not flag again."""
    d = ctx.daemon({"st": pol(allow=["198.18.1.1:443"])})
    job = "sens-" + secrets.token_hex(3)
    r = d.probe("st", "connect", "169.254.169.254:80", "[fd00:ec2::254]:80",
                W.FENCE_V4 + ":22", "169.254.7.7:80", W.REBIND_V4 + ":80", job_id=job)
    for t in ("169.254.169.254:80", W.FENCE_V4 + ":22", "169.254.7.7:80", W.REBIND_V4 + ":80"):
        denied(r.get(t))
    want = {"metadata": "169.254.169.254:80/tcp", "host_address": W.FENCE_V4 + ":22/tcp",
            "link_local": "169.254.7.7:80/tcp", "private_address": W.REBIND_V4 + ":80/tcp"}
    for reason, tgt in want.items():
        s = probe_spans(d, job, reason)[0]
        check_probe_span(d, job, s, reason, "alert", 1, 1)
        eq(s.get("egress.probe.targets"), [tgt], "%s evidence" % reason)
    eq(probe_reasons(d, job), sorted(want), "one flag per reason (fd00:ec2::254 came second)")

    # allowed private and metadata addresses are not probes
    d2 = ctx.daemon({"ok": pol(allow=[W.REBIND_V4 + ":80", "169.254.169.254:80"])}, label="d2")
    job2 = "sens-ok-" + secrets.token_hex(3)
    r2 = d2.probe("ok", "connect", W.REBIND_V4 + ":80", "169.254.169.254:80", job_id=job2)
    allowed(r2.get(W.REBIND_V4 + ":80"))
    expect(d2.job_span(job2, timeout=20), **{"egress.flagged": False})


@test
def test_probe_window_once(ctx):
    """Each reason fires once per window: thirty addresses in one window
    flag once; with a 2 s window, ten, a pause, ten more flag twice."""
    d = ctx.daemon({"w60": pol(), "w2": pol(probe={"window_s": 2})})
    job = "once-" + secrets.token_hex(3)
    d.probe("w60", "connect", *targets(30), job_id=job)
    d.job_span(job, timeout=20)
    eq(len(d.find("egress.probe", job, where={"egress.probe.reason": "dest_scan"})), 1,
       "dest_scan flags for 30 addresses in one window")

    job2 = "twice-" + secrets.token_hex(3)
    argv = sh(("connect",) + tuple(targets(10, "198.18.3.", 90)), "sleep 2.5",
              ("connect",) + tuple(targets(10, "198.18.3.", 91)))
    r = d.run("w2", argv, job_id=job2)
    eq(r.rc, 0, "job exit: %s" % r.err[-300:])
    spans = probe_spans(d, job2, "dest_scan", n=2)
    eq(len(spans), 2, "dest_scan flags in two windows")
    for s in spans:
        expect(s, **{"egress.probe.window_s": 2, "egress.probe.count": 10})


@test
def test_probe_benign_busy_job(ctx):
    """A busy job that is not probing: many allowed connects, names resolved
    the way getaddrinfo does (a UDP connect() to each answer, which the
    policy refuses for UDP: not a probe), a couple of denials. Not flagged."""
    d = ctx.daemon({"busy": pol(allow=["ok.test:443", "198.18.1.1:*", "198.18.1.2:443"])},
                   config=dns_config())
    job = "busy-" + secrets.token_hex(3)
    steps = [("gai", "ok.test", "443", "--server", DNS) for _ in range(5)]
    steps += [("connect-many", "198.18.1.1:443", "--count", "200"),
              ("connect",) + tuple("198.18.1.1:%d" % p for p in (22, 80, 443, 8080, 9000)),
              ("connect", "198.18.1.2:443", "198.18.2.4:443", "198.18.1.3:22"),
              ("dns-query", "telemetry.vendor.test", "wpad", "--server", DNS)]
    r = d.run("busy", sh(*steps), job_id=job)
    eq(r.rc, 0, "job exit: %s" % r.err[-300:])
    gais = [x for x in r.lines if x.get("op") == "gai"]
    eq(len(gais), 5, "gai results")
    for g in gais:
        check(g["ok"], "getaddrinfo-style connect to ok.test: %s" % g)
        eq(sorted(g["sort_probes"].values()), ["EPERM", "EPERM"],
           "UDP sort probes (the policy allows ok.test over TCP only)")
    denied(r.get("198.18.2.4:443"))
    js = d.job_span(job, timeout=20)
    check(js.get("egress.denied") >= 12, "denials recorded: %s" % js.get("egress.denied"))
    udp = d.find("egress.connect", job, where={"network.transport": "udp",
                                               "egress.decision": "deny"})
    check(len(udp) >= 10, "the UDP sort probes were refused and recorded (%d)" % len(udp))
    expect(js, **{"egress.flagged": False})
    eq(d.find("egress.probe", job), [], "probe spans of a benign job")


def counter_job(ctx, d, policy, job, first_steps, later_steps):
    """A job that counts into a file in the background, runs first_steps,
    waits for a trigger file, then runs later_steps and waits."""
    f = ctx.path("count-%s" % job)
    trigger = ctx.path("trigger-%s" % job)
    loop = "(i=0; while true; do i=$((i+1)); echo $i > %s; sleep 0.05; done) & true" % f
    steps = [loop] + list(first_steps) + [
        "while [ ! -e %s ]; do sleep 0.05; done" % trigger] + list(later_steps) + ["wait"]
    bg = d.spawn(policy, sh(*steps), job_id=job)
    return bg, f, trigger


def read_count(path):
    try:
        with open(path) as fh:
            return int(fh.read().strip() or 0)
    except (OSError, ValueError):
        return 0


def job_entry(d, job):
    for j in d.ctl_json("jobs")["jobs"]:
        if j["id"] == job:
            return j
    return None


@test(timeout=180)
def test_probe_freeze_thaw_kill(ctx):
    """action freeze: the job stops where it is (no progress) until root
    thaws it; `egressctl jobs` shows it frozen and flagged; the job's owner
    may not thaw it; `egressctl kill` ends it, frozen or not."""
    d = ctx.daemon({"fz": pol(allow=["198.18.1.1:443"], probe={"action": "freeze"})})
    job = "freeze-" + secrets.token_hex(3)
    bg, f, trigger = counter_job(ctx, d, "fz", job, [("connect", "198.18.1.1:443")],
                                 [("connect", "169.254.169.254:80")])
    wait_until(lambda: read_count(f) > 5, timeout=15, what="the job counting")
    r = d.run("fz", ["/bin/true"])  # an unrelated job is not touched
    eq(r.rc, 0, "unrelated job")
    open(trigger, "w").close()
    s = probe_spans(d, job, "metadata")[0]
    expect(s, **{"egress.probe.action": "freeze"})
    check("frozen" in s.status_message, "status %r" % s.status_message)
    wait_until(lambda: job_entry(d, job)["state"] == "frozen", timeout=10, what="frozen state")
    j = job_entry(d, job)
    check(j["flagged"] and j["probe_reasons"] == ["metadata"] and j["probe_action"] == "freeze",
          "jobs entry: %s" % j)
    table = d.ctl("jobs")
    check("frozen" in table.stdout and "metadata" in table.stdout, "jobs table:\n%s" %
          table.stdout)
    c0 = read_count(f)
    time.sleep(1.5)
    eq(read_count(f), c0, "the frozen job's counter (no progress)")
    check(bg.proc.poll() is None, "egressctl run of a frozen job returned")

    out = d.ctl("thaw", job)
    eq(out.returncode, 0, "thaw: %s" % out.stderr)
    eq(out.stdout, "job %s: running\n" % job, "thaw output")
    wait_until(lambda: read_count(f) > c0 + 5, timeout=10, what="progress after thaw")
    eq(job_entry(d, job)["state"], "running", "state after thaw")

    # freeze by hand, then kill while frozen: each says the state it left
    out = d.ctl("freeze", job)
    eq(out.returncode, 0, "freeze: %s" % out.stderr)
    eq(out.stdout, "job %s: frozen\n" % job, "freeze output")
    eq(job_entry(d, job)["state"], "frozen", "state after freeze")
    out = d.ctl("kill", job)
    eq(out.returncode, 0, "kill: %s" % out.stderr)
    check(out.stdout in ("job %s: killed\n" % job, "job %s: ending\n" % job),
          "kill output %r (killed, or ending while processes remain)" % out.stdout)
    rc = bg.wait(timeout=20)
    eq(rc, -signal.SIGKILL, "egressctl run's status after kill")
    js = d.job_span(job, timeout=20)
    expect(js, **{"egress.flagged": True, "egress.probe.reason": "metadata",
                  "egress.probe.action": "freeze"})
    ops = [x.get("egress.control.op") for x in d.find("egress.job.control", job)]
    eq(sorted(ops), ["freeze", "kill", "thaw"], "operator actions recorded")
    for x in d.find("egress.job.control", job):
        expect(x, **{"egress.control.uid": 0})
        eq(x.parent_id, js.span_id, "egress.job.control parent")
    wait_until(lambda: job_entry(d, job) is None, timeout=10, what="the job gone")


@test(timeout=120)
def test_job_control_reports_state_after(ctx):
    """`egressctl kill` of a running job reports killed (or ending while
    its processes are not all gone), never running; the --json reply and
    `egressctl jobs` name the same states; a killed job then ends."""
    d = ctx.daemon({"jc": pol(allow=["198.18.1.1:443"])})
    job = "ctl-" + secrets.token_hex(3)
    bg, f, _ = counter_job(ctx, d, "jc", job, [], [])
    wait_until(lambda: read_count(f) > 5, timeout=15, what="the job counting")
    eq(job_entry(d, job)["state"], "running", "jobs state of a running job")
    table = d.ctl("jobs")
    check(any(l.split()[:1] == [job] and "running" in l.split() for l in
              table.stdout.splitlines()), "jobs table:\n%s" % table.stdout)

    r = d.ctl_json("freeze", job)
    eq((r["ok"], r["job_id"], r["state"]), (True, job, "frozen"), "freeze --json reply")
    eq(job_entry(d, job)["state"], "frozen", "jobs state after freeze")
    r = d.ctl_json("thaw", job)
    eq(r["state"], "running", "thaw --json reply")

    out = d.ctl("kill", job)
    eq(out.returncode, 0, "kill: %s" % out.stderr)
    state = out.stdout.rsplit(": ", 1)[-1].strip()
    check(out.stdout.startswith("job %s: " % job) and state in ("killed", "ending"),
          "kill output %r (want killed, or ending while processes remain)" % out.stdout)
    e = job_entry(d, job)
    check(e is None or e["state"] in ("ending", "killed"), "jobs entry after kill: %s" % e)
    eq(bg.wait(timeout=20), -signal.SIGKILL, "egressctl run's status after kill")
    wait_until(lambda: job_entry(d, job) is None, timeout=10, what="the killed job gone")

    # requests sent together on one connection: a kill's reply, which may
    # wait for the job to be gone, comes before the next request's
    job2 = "ctl2-" + secrets.token_hex(3)
    bg2, f2, _ = counter_job(ctx, d, "jc", job2, [], [])
    wait_until(lambda: read_count(f2) > 5, timeout=15, what="the second job counting")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(10)
        s.connect(d.sock)
        s.sendall(b'{"op":"kill","job_id":"%s"}\n{"op":"ping"}\n' % job2.encode())
        buf = b""
        while buf.count(b"\n") < 2:
            chunk = s.recv(65536)
            check(chunk, "the daemon closed after %r" % buf)
            buf += chunk
    first, second = [json.loads(x) for x in buf.split(b"\n")[:2]]
    check(first.get("job_id") == job2 and first.get("state") in ("killed", "ending"),
          "the kill's reply first: %s" % first)
    eq(second, {"ok": True}, "then the ping's")
    eq(bg2.wait(timeout=20), -signal.SIGKILL, "the second job's egressctl run after kill")

    bad = d.ctl("kill", job)
    eq(bad.returncode, 1, "kill of a job that has ended")
    check("no running job" in bad.stderr, "kill of an ended job: %r" % bad.stderr)


@test(timeout=120)
def test_probe_kill_whole_job(ctx):
    """action kill: touching the metadata address ends the whole job,
    background children and nested cgroups included, at once."""
    d = ctx.daemon({"kl": pol(allow=["198.18.1.1:443"], probe={"action": "kill"})})
    job = "kill-" + secrets.token_hex(3)
    pidfile = ctx.path("bgpid-" + job)
    argv = sh("sleep 300 & echo $! > %s" % pidfile, ("connect", "198.18.1.1:443"),
              ("nested-cgroup", "--name", "inner", "169.254.169.254:80"), "sleep 300",
              "echo survived")
    t0 = time.time()
    r = d.run("kl", argv, job_id=job, timeout=60)
    took = time.time() - t0
    eq(r.rc, -signal.SIGKILL, "the job's status (killed): %s" % r.describe())
    check(took < 30, "killed after %.1fs" % took)
    check("survived" not in r.out, "the job went on after the kill")
    bgpid = int(open(pidfile).read())
    wait_until(lambda: not W.pid_alive(bgpid), timeout=10, what="background child killed")
    s = probe_spans(d, job, "metadata")[0]
    expect(s, **{"egress.probe.action": "kill"})
    js = d.job_span(job, timeout=20)
    expect(js, **{"egress.flagged": True, "egress.probe.action": "kill"})


@test
def test_probe_audit_mode_takes_no_action(ctx):
    """In audit mode nothing is refused, and probe detection only alerts:
    the span says what the policy would have done."""
    d = ctx.daemon({"au": pol(mode="audit", probe={"action": "kill"})})
    job = "audit-" + secrets.token_hex(3)
    r = d.probe("au", "connect", *targets(10, "198.18.3.", 22), job_id=job)
    eq(r.rc, 0, "audit-mode job exit")
    s = probe_spans(d, job, "dest_scan")[0]
    expect(s, **{"egress.probe.action": "alert", "egress.probe.policy_action": "kill",
                 "egress.mode": "audit"})
    check("audit mode" in s.status_message, "status %r" % s.status_message)
    expect(d.job_span(job, timeout=20), **{"egress.flagged": True,
                                           "egress.probe.action": "alert"})


@test
def test_probe_custom_thresholds(ctx):
    """Thresholds come from the policy's probe section."""
    d = ctx.daemon({"ct": pol(probe={"denied_dests": 3, "ports_per_host": 2, "window_s": 30})})
    job = "custom-" + secrets.token_hex(3)
    d.probe("ct", "connect", "198.18.3.1:80", "198.18.3.2:80", "198.18.3.3:80", job_id=job)
    s = probe_spans(d, job, "dest_scan")[0]
    expect(s, **{"egress.probe.count": 3, "egress.probe.threshold": 3,
                 "egress.probe.window_s": 30})
    job2 = "custom2-" + secrets.token_hex(3)
    d.probe("ct", "connect", "198.18.3.9:80", "198.18.3.9:81", job_id=job2)
    expect(probe_spans(d, job2, "port_scan")[0], **{"egress.probe.count": 2})


@test
def test_probe_flags_survive_restart(ctx):
    """A flagged job keeps its flags across a SIGKILL of egressd: `jobs`
    still shows them, and the job's span carries them when it ends."""
    d = ctx.daemon({"rs": pol(allow=["198.18.1.1:443"])})
    job = "restart-" + secrets.token_hex(3)
    release = ctx.path("release-" + job)
    argv = sh(("connect", "169.254.169.254:80"),
              "while [ ! -e %s ]; do sleep 0.1; done" % release)
    bg = d.spawn("rs", argv, job_id=job)
    probe_spans(d, job, "metadata", timeout=20)
    d.kill9()
    d.start()
    j = job_entry(d, job)
    check(j and j["flagged"] and j["probe_reasons"] == ["metadata"], "after restart: %s" % j)
    open(release, "w").close()
    eq(bg.wait(timeout=20), 0, "job exit")
    expect(d.job_span(job, timeout=20), **{"egress.flagged": True,
                                           "egress.probe.reason": "metadata"})


@test
def test_probe_bad_thresholds_rejected(ctx):
    """Invalid probe sections are rejected at validation with FILE:LINE:COL,
    and a job asking for such a policy does not run (exit 125)."""
    d = ctx.daemon({})
    cases = [({"window_s": 0}, "\"probe.window_s\" must be an integer from 1 to 86400"),
             ({"window_s": 90000}, "from 1 to 86400"),
             ({"denied_dests": -1}, "\"probe.denied_dests\" must be an integer from 1 to 10000"),
             ({"ports_per_host": 2.5}, "\"probe.ports_per_host\" must be an integer"),
             ({"names_per_parent": 10001}, "from 1 to 10000"),
             ({"tunnel_names": "5"}, "\"probe.tunnel_names\" must be an integer"),
             ({"action": "ban"}, "\"probe.action\" must be \"alert\", \"freeze\" or \"kill\""),
             ({"denied_names": 5, "window": 10}, "unknown key"),
             ("not an object", "probe")]
    for i, (probe, want) in enumerate(cases):
        name = "bad%d" % i
        path = d.write_policy(name, {"name": name, "allow": [], "probe": probe})
        v = d.ctl("policy", "validate", path)
        check(v.returncode != 0 and want in v.stderr + v.stdout,
              "validate %s: rc %d, %r (want %r)" % (probe, v.returncode, v.stderr + v.stdout, want))
        check(("%s:" % path) in v.stderr + v.stdout, "FILE:LINE:COL in %r" % v.stderr)
        r = d.run(name, ["/bin/true"])
        eq(r.rc, 125, "run with an invalid probe section")
        check(want in r.err, "run's message %r (want %r)" % (r.err, want))


@test
def test_probe_control_bad_requests(ctx):
    """freeze/thaw/kill: unknown jobs, missing or malformed job ids, usage
    errors; each a clear error, the daemon unharmed."""
    d = ctx.daemon({})
    for op in ("freeze", "thaw", "kill"):
        r = d.ctl(op, "no-such-job")
        check(r.returncode == 1 and "no running job" in r.stderr, "%s unknown: %r" % (op, r.stderr))
        r = d.ctl(op)
        check(r.returncode == 2 and "which job" in r.stderr, "%s without a job: %r" % (op, r.stderr))
        r = d.ctl(op, "a", "b")
        eq(r.returncode, 2, "%s with two jobs" % op)
        r = d.ctl(op, "--help")
        check(r.returncode == 0 and op in r.stdout, "%s --help" % op)
    import socket
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    # the control socket is in the fence ns's filesystem view: same path
    s.connect(d.sock)
    for req in ({"op": "freeze"}, {"op": "thaw", "job_id": 7}, {"op": "kill", "job_id": None}):
        s.sendall((json.dumps(req) + "\n").encode())
        buf = b""
        while not buf.endswith(b"\n"):
            buf += s.recv(4096)
        rep = json.loads(buf)
        check(rep["ok"] is False and "job_id" in rep["error"], "%s -> %s" % (req, rep))
    s.close()
    check(d.alive(), "egressd died")
    eq(d.status()["ok"], True, "status after bad requests")


def as_nobody(d, *args, timeout=20):
    """egressctl as uid/gid 65534 (the daemon's dirs opened for it)."""
    for p in (d.tmp, d.run_dir):
        os.chmod(p, 0o711)
    argv = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--",
            d.egressctl, "--socket", d.sock] + list(args)
    return subprocess.run(ctx_fence(d, argv), capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


def ctx_fence(d, argv):
    return d.world.fence_argv(argv)


@test(timeout=120)
def test_probe_job_control_authz(ctx):
    """Who may act on a job: root anything; the job's owner may freeze and
    kill it but not thaw it (a flagged job was frozen for a person to look
    at); anyone else nothing."""
    d = ctx.daemon({})
    rootjob = "rootjob-" + secrets.token_hex(3)
    bg_root = d.spawn(None, ["sleep", "300"], job_id=rootjob)
    wait_until(lambda: job_entry(d, rootjob) is not None, timeout=10, what="root's job")
    for op in ("freeze", "thaw", "kill"):
        r = as_nobody(d, op, rootjob)
        check(r.returncode == 1 and "permission denied" in r.stderr,
              "%s of root's job as nobody: rc %d %r" % (op, r.returncode, r.stderr))
    eq(job_entry(d, rootjob)["state"], "running", "root's job after refused requests")

    # nobody's own job
    job = "nobodyjob-" + secrets.token_hex(3)
    p = subprocess.Popen(ctx_fence(d, ["setpriv", "--reuid=65534", "--regid=65534",
                                       "--clear-groups", "--", d.egressctl, "--socket", d.sock,
                                       "run", "--job-id", job, "--", "sleep", "300"]),
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    ctx.procs.append(p)
    W.ledger().add("pid", p.pid)
    wait_until(lambda: job_entry(d, job) is not None, timeout=10, what="nobody's job")
    eq(job_entry(d, job)["uid"], 65534, "the job's owner")
    r = as_nobody(d, "freeze", job)
    eq(r.returncode, 0, "owner freezes: %s" % r.stderr)
    wait_until(lambda: job_entry(d, job)["state"] == "frozen", timeout=10, what="frozen")
    r = as_nobody(d, "thaw", job)
    check(r.returncode == 1 and "may thaw" in r.stderr, "owner thaws: %r" % r.stderr)
    eq(job_entry(d, job)["state"], "frozen", "still frozen")
    r = as_nobody(d, "kill", job)
    eq(r.returncode, 0, "owner kills: %s" % r.stderr)
    p.wait(timeout=20)
    eq(p.returncode, -signal.SIGKILL, "nobody's egressctl run after kill")
    wait_until(lambda: job_entry(d, job) is None, timeout=10, what="nobody's job gone")

    eq(d.ctl("kill", rootjob).returncode, 0, "root kills its job")
    eq(bg_root.wait(timeout=20), -signal.SIGKILL, "root's job after kill")
