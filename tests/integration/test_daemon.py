"""The daemon's life: fail closed, restart and adoption, egressctl exit codes,
bad policies, bad control messages, two daemons side by side, --reset."""
import json
import os
import re
import signal
import socket
import subprocess
import time

from harness import (test, pol, allowed, denied, check, eq, wait_until, read_jsonl, probe_argv,
                     own_cgroup, stop_popen, EPERM, PY)
from harness_spans import expect
ALLOW, ALLOW2, DENY = "198.18.1.1:443", "198.18.1.2:443", "198.18.2.1:443"


def start_hold(ctx, d, policy, seconds=60, hold=ALLOW):
    """A job that keeps a connection to `hold` open and retries ALLOW2 and DENY
    every 200 ms, logging to a file. Returns (background, log, stop_file)."""
    log, stop = ctx.path("hold-%d.jsonl" % len(ctx.procs)), ctx.path("stop-%d" % len(ctx.procs))
    host, port = hold.rsplit(":", 1)
    bg = d.spawn(policy, probe_argv("hold", host, port, seconds, "--log", log,
                                    "--retry", ALLOW2, "--retry", DENY, "--interval-ms", 200,
                                    "--stop-file", stop))

    def first_round():
        recs = read_jsonl(log)
        if recs and recs[0]["op"] == "hold-open" and not recs[0]["ok"]:
            raise AssertionError("hold job %s could not open its connection: %s" % (
                bg.job, recs[0]))
        if bg.proc.poll() is not None:
            raise AssertionError("hold job %s: egressctl run exited %s: %r" % (
                bg.job, bg.proc.returncode, bg.output()[1][-500:]))
        return {r["target"] for r in recs if r["op"] == "connect"} >= {ALLOW2 + "/tcp",
                                                                     DENY + "/tcp"}
    wait_until(first_round, 15, what="the hold job's first round in " + log)
    return bg, log, stop


def check_hold_since(log, t, what, min_rounds=5, timeout=15):
    """After time t: every retry of ALLOW2 worked, every DENY got EPERM and the
    held connection kept echoing."""
    def enough():
        return len([r for r in read_jsonl(log) if r["t"] > t and r["op"] == "connect"
                    and r["target"] == DENY + "/tcp"]) >= min_rounds
    wait_until(enough, timeout, what="%d hold rounds %s" % (min_rounds, what))
    recs = [r for r in read_jsonl(log) if r["t"] > t]
    for r in recs:
        if r["op"] == "hold-ping":
            check(r["ok"], "%s: the held connection broke: %s" % (what, r))
        elif r["op"] == "connect" and r["target"] == DENY + "/tcp":
            check(not r["ok"] and r["errno"] == EPERM, "%s: denied destination got %s/%s" % (
                what, r["ok"], r["err"]))
        elif r["op"] == "connect":
            check(r["ok"] and r["echo"], "%s: allowed destination got %s/%s" % (
                what, r["ok"], r["err"]))
    return recs


def fail_closed(ctx, sig):
    d = ctx.daemon({"h": pol(allow=[ALLOW, ALLOW2])})
    bg, log, stop = start_hold(ctx, d, "h")
    check_hold_since(log, 0, "while the daemon runs", min_rounds=2)
    d.signal(sig)
    d.proc.wait(15)
    if sig == signal.SIGTERM:
        eq(d.proc.returncode, 0, "egressd exit status on SIGTERM")
    t_down = time.time()
    check(os.path.isdir(d.bpffs_dir) and os.listdir(d.bpffs_dir),
          "pins in %s are gone after the daemon stopped" % d.bpffs_dir)
    check_hold_since(log, t_down, "after the daemon died (%s)" % sig.name)
    # a new job while the daemon is down: refused, never run unfenced
    marker = ctx.path("ran-while-down")
    r = d.run("h", ["/bin/sh", "-c", "touch " + marker])
    eq(r.rc, 125, "egressctl run with the daemon down")
    check(not os.path.exists(marker), "the command ran although the daemon was down")
    open(stop, "w").close()
    bg.wait(20)


@test
def test_fail_closed_after_sigkill(ctx):
    fail_closed(ctx, signal.SIGKILL)


@test
def test_fail_closed_after_sigterm(ctx):
    fail_closed(ctx, signal.SIGTERM)


@test(timeout=180)
def test_restart_adopts_jobs(ctx):
    d = ctx.daemon({"h": pol(allow=[ALLOW, ALLOW2])})
    bg, log, stop = start_hold(ctx, d, "h", seconds=90)
    job = bg.job
    hold_pid = read_jsonl(log)[0]["pid"]
    pre = d.wait_spans("egress.connect", job, where={"network.peer.address": "198.18.2.1"})
    trace = pre[0].trace_id
    d.kill9()
    time.sleep(1)
    d.start()
    t_up = time.time()
    j = wait_until(lambda: d.job(job), 10, what="`egressctl jobs` to list the adopted job")
    eq(j.get("policy"), "h", "policy of the adopted job")
    check(hold_pid in j.get("pids", []), "adopted job's pids %s lack %d" % (j.get("pids"), hold_pid))
    check_hold_since(log, t_up, "after the restart", min_rounds=3)
    since = int((t_up + 0.5) * 1e9)
    for host, dec in (("198.18.2.1", "deny"), ("198.18.1.2", "allow")):
        def fresh():
            return [s for s in d.find("egress.connect", job, network_peer_address=host)
                    if s.start > since]
        got = wait_until(fresh, 10, what="a %s decision on %s recorded after the restart" % (
            dec, host))
        expect(got[-1], decision=dec)
        eq(got[-1].trace_id, trace, "traceId of the adopted job's decisions")
        eq(got[-1].get("process.pid"), hold_pid, "process.pid after the restart")
    open(stop, "w").close()
    bg.wait(20)
    js = d.job_span(job)
    eq(js.trace_id, trace, "job span traceId after adoption")
    for s in d.find("egress.connect", job):
        if s.start > since:
            eq(s.parent_id, js.span_id, "parent of a decision after adoption")



@test
def test_job_kept_while_egressd_out_of_fds(ctx):
    """egressd out of file descriptors cannot read a job's cgroup.events: the
    job keeps its fence (allowed still allowed, denied still denied) and its
    record, and is asked again once egressd can read it."""
    import resource
    d = ctx.daemon({"h": pol(allow=[ALLOW, ALLOW2])})
    bg, log, stop = start_hold(ctx, d, "h", seconds=60)
    soft, hard = resource.prlimit(d.pid, resource.RLIMIT_NOFILE)
    t = time.time()
    resource.prlimit(d.pid, resource.RLIMIT_NOFILE, (len(os.listdir("/proc/%d/fd" % d.pid)), hard))
    try:
        wait_until(lambda: "until it can be read" in d.log_tail(60), 10,
                   what="egressd's warning that it cannot read the job's cgroup.events")
        check_hold_since(log, t, "while egressd was out of file descriptors", min_rounds=5)
    finally:
        resource.prlimit(d.pid, resource.RLIMIT_NOFILE, (soft, hard))
    check("job %s ended" % bg.job not in d.log_tail(200),
          "egressd ended a running job it could not read: %s" % d.log_tail(20))
    t = time.time()
    check_hold_since(log, t, "after egressd could open files again", min_rounds=3)
    eq((d.job(bg.job) or {}).get("state"), "running", "the job's state")
    open(stop, "w").close()
    bg.wait(20)
    wait_until(lambda: "job %s ended" % bg.job in d.log_tail(200), 10,
               what="the job's end, once egressd could read its cgroup again")


@test(timeout=120)
def test_restart_removes_leftover_job_cgroups(ctx):
    """Job cgroups no saved job owns (their removal failed when the job ended)
    are removed at start when empty, nested ones first; one with processes
    stays where it is, logged; an adopted job's and anything not named like a
    job's cgroup are left alone."""
    d = ctx.daemon({"h": pol(allow=[ALLOW, ALLOW2])})
    bg, log, stop = start_hold(ctx, d, "h", seconds=60)
    hold_pid = read_jsonl(log)[0]["pid"]
    adopted = d.job(bg.job)["cgroup"]
    eq(d.stop(), 0, "egressd exit status on SIGTERM")
    empty = os.path.join(d.cgroup_root, "job-leftover-empty")
    nested = os.path.join(empty, "docker", "inner")  # what a job may make inside
    busy = os.path.join(d.cgroup_root, "job-leftover-busy")
    other = os.path.join(d.cgroup_root, "not-a-job")
    for p in (nested, busy, other):
        os.makedirs(p)
    sleeper = subprocess.Popen(["sleep", "120"], stdin=subprocess.DEVNULL)
    try:
        with open(os.path.join(busy, "cgroup.procs"), "w") as f:
            f.write("%d\n" % sleeper.pid)
        with open(d.log_path) as f:
            before = len(f.read())
        d.start()
        with open(d.log_path) as f:
            text = f.read()[before:]
        check(not os.path.exists(empty), "the empty leftover %s is still there" % empty)
        check("removed leftover job cgroup %s" % empty in text,
              "no log line for the removal of %s: %r" % (empty, text[-2000:]))
        check("leftover job cgroups: 1 removed, 1 left in place" in text,
              "no count of leftover job cgroups in the log: %r" % text[-2000:])
        check(os.path.isdir(busy), "the leftover with a process %s was removed" % busy)
        check(re.search(r"leftover job cgroup %s: processes still inside.*left in place"
                        % re.escape(busy), text),
              "no warning for the leftover with a process %s: %r" % (busy, text[-2000:]))
        with open(os.path.join(busy, "cgroup.procs")) as f:
            eq([int(x) for x in f.read().split()], [sleeper.pid], "pids of %s" % busy)
        check(os.path.isdir(other), "%s (not a job's name) was removed" % other)
        check(os.path.isdir(adopted), "the adopted job's cgroup %s is gone" % adopted)
        j = wait_until(lambda: d.job(bg.job), 10, what="`egressctl jobs` to list the adopted job")
        check(hold_pid in j.get("pids", []), "adopted job's pids %s lack %d" % (
            j.get("pids"), hold_pid))
        check_hold_since(log, time.time(), "after the restart", min_rounds=2)
    finally:
        stop_popen(sleeper)
    open(stop, "w").close()
    bg.wait(20)

@test
def test_exit_codes(ctx):
    d = ctx.daemon({"t": pol(allow=[ALLOW])})
    r = d.run("t", [PY, "-c", "import sys; sys.exit(3)"])
    eq(r.rc, 3, "exit status of a command that exits 3")
    r = d.run("t", [PY, "-c", "import sys; sys.exit(0)"])
    eq(r.rc, 0, "exit status of a command that exits 0")
    r = d.run("t", ["/bin/echo", "hello-from-job"])
    eq(r.rc, 0, "/bin/echo status")
    check("hello-from-job" in r.out, "the command's stdout does not come through: %r" % r.out)
    r = d.run("t", ["ef-no-such-command-xyz"])
    eq(r.rc, 127, "command not found (PATH lookup)")
    r = d.run("t", ["/nonexistent/ef-cmd"])
    eq(r.rc, 127, "command not found (path)")
    noexec = ctx.path("not-executable.sh")
    with open(noexec, "w") as f:
        f.write("#!/bin/sh\nexit 0\n")
    os.chmod(noexec, 0o644)
    r = d.run("t", [noexec])
    eq(r.rc, 126, "command not executable")
    r = d.run("t", [ctx.tmp])
    eq(r.rc, 126, "a directory as the command")
    # EGRESSCTL_SOCKET instead of --socket
    marker = ctx.path("ran-env")
    r = d.run("t", ["/bin/sh", "-c", "touch " + marker], sock=False,
              env={"EGRESSCTL_SOCKET": d.sock})
    eq(r.rc, 0, "run with EGRESSCTL_SOCKET (stderr %r)" % r.err[-300:])
    check(os.path.exists(marker), "the command did not run with EGRESSCTL_SOCKET")


@test(timeout=150)
def test_daemon_unreachable_125(ctx):
    d = ctx.daemon({"t": pol(allow=[ALLOW])})
    cmd = lambda m: ["/bin/sh", "-c", "touch " + m]  # noqa: E731
    ok_marker = ctx.path("ran-ok")
    eq(d.run("t", cmd(ok_marker)).rc, 0, "control run")
    check(os.path.exists(ok_marker), "control command did not run")
    # a socket path nobody listens on
    m1 = ctx.path("ran-nosock")
    r = d.run(None, cmd(m1), sock=False,
              extra=[], env={"EGRESSCTL_SOCKET": ctx.path("nope.sock")})
    eq(r.rc, 125, "run with no daemon at EGRESSCTL_SOCKET")
    check(not os.path.exists(m1), "the command ran without a daemon")
    check(r.err.strip(), "egressctl said nothing about why it refused")
    # --socket to a path nobody listens on
    m2 = ctx.path("ran-nosock2")
    a = [d.egressctl, "--socket", ctx.path("nope2.sock"), "run", "--policy", "t", "--"] + cmd(m2)
    p = ctx.world.in_fence(a)
    eq(p.returncode, 125, "run --socket to nothing")
    check(not os.path.exists(m2), "the command ran without a daemon (--socket)")
    # the daemon stopped: stale or removed socket file
    d.stop()
    m3 = ctx.path("ran-stopped")
    r = d.run("t", cmd(m3))
    eq(r.rc, 125, "run after the daemon stopped")
    check(not os.path.exists(m3), "the command ran after the daemon stopped")
    # a socket that accepts but never answers
    mute = ctx.path("mute.sock")
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(mute)
    srv.listen(8)
    try:
        m4 = ctx.path("ran-mute")
        try:
            r = d.run("t", cmd(m4), sock=False, env={"EGRESSCTL_SOCKET": mute}, timeout=45)
        except AssertionError:
            raise AssertionError("egressctl run hangs (>45s) on a control socket that accepts "
                                 "but never answers; it should time out and exit 125")
        eq(r.rc, 125, "run against a daemon that never answers")
        check(not os.path.exists(m4), "the command ran though the daemon never answered")
    finally:
        srv.close()


BAD_RULE = """{
  "name": "bad",
  "mode": "enforce",
  "allow": ["198.18.1.1:443", "198.18.1.2"]
}
"""
BAD_JSON = """{
  "name": "badjson",
  "allow": [
    "198.18.1.1:443",,
  ]
}
"""
BAD_NAME = """{"name": "Bad Name!", "mode": "enforce", "allow": ["198.18.1.1:443"]}
"""


def validate_error(d, path, want_line):
    r = d.ctl("policy", "validate", path)
    eq(r.returncode, 1, "`policy validate` exit status for %s" % os.path.basename(path))
    m = re.search(r"^%s:(\d+):(\d+): (.+)$" % re.escape(path), r.stderr, re.M)
    check(m, "`policy validate` stderr lacks %s:LINE:COL: message: %r" % (path, r.stderr))
    if want_line is not None:
        eq(int(m.group(1)), want_line, "error line for %s" % os.path.basename(path))
    check(int(m.group(2)) >= 1, "error column %s" % m.group(2))
    return m.group(3)


@test
def test_invalid_policy(ctx):
    d = ctx.daemon({"t": pol(allow=[ALLOW])})
    good = d.write_policy("t", json.dumps({"name": "t", "mode": "enforce", "allow": [ALLOW]}))
    bad = d.write_policy("bad", BAD_RULE)
    badjson = d.write_policy("badjson", BAD_JSON)
    badname = d.write_policy("badname", BAD_NAME)
    r = d.ctl("policy", "validate", good)
    eq(r.returncode, 0, "`policy validate` on a good policy (stderr %r)" % r.stderr)
    msg = validate_error(d, bad, 4)
    check(":443" in msg or ":*" in msg, "a rule without a port: the message should suggest "
          "':443' or ':*': %r" % msg)
    validate_error(d, badjson, 4)
    validate_error(d, badname, 1)
    r = d.ctl("policy", "validate", good, bad)
    eq(r.returncode, 1, "`policy validate good bad`")
    check(bad in r.stderr and good + ":" not in r.stderr, "validate of two files: %r" % r.stderr)
    for policy in (bad, "bad", badjson, "badname", "no-such-policy", ctx.path("missing.json")):
        marker = ctx.path("ran-%d" % abs(hash(policy)))
        r = d.run(policy, ["/bin/sh", "-c", "touch " + marker])
        eq(r.rc, 125, "egressctl run --policy %s" % policy)
        check(not os.path.exists(marker), "the command ran with invalid policy %s" % policy)
        check(r.err.strip(), "no reason printed for refusing policy %s" % policy)
    check(d.alive(), "egressd died after invalid policies")
    st = d.status()
    eq(st.get("pid"), d.pid, "status pid")
    r = d.probe("t", "connect", ALLOW, DENY)
    allowed(r.get(ALLOW))
    denied(r.get(DENY))


# (no "run" op here: a well-formed run request puts the sender in a job)
GARBAGE = [b"\x00\xffnot json\n", b'{"op":"nope"}\n', b"{}\n", b"[1,2,3]\n", b"null\n",
           b'"just a string"\n', b'{"op": 42}\n', b'{"op": null}\n', b'{"op":\n',
           b'{"op": "status"' + b' ' * 100 + b'\x00}\n']


def reply(sock_path, payload, timeout=5):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(sock_path)
        s.sendall(payload)
        buf = b""
        while not buf.endswith(b"\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
        return buf
    finally:
        s.close()


@test
def test_control_socket_garbage(ctx):
    d = ctx.daemon({"t": pol(allow=[ALLOW])})
    cg = own_cgroup()
    for payload in GARBAGE:
        try:
            line = reply(d.sock, payload)
        except socket.timeout:
            raise AssertionError("no reply line within 5s to %r" % payload)
        check(line.endswith(b"\n"), "reply to %r is not a full line: %r" % (payload, line))
        if b"\x00" in payload:
            check(not line.startswith(b'{"ok":true') and b'"ok": true' not in line,
                  "a line with a NUL byte was accepted as JSON (cJSON skips bytes <= 0x20 as "
                  "whitespace; NUL is not JSON): %r -> %r" % (payload, line[:120]))
        try:
            doc = json.loads(line)
        except ValueError:
            raise AssertionError("reply to %r is not JSON: %r" % (payload, line))
        check(isinstance(doc, dict) and doc.get("ok") is False and
              isinstance(doc.get("error"), str) and doc["error"],
              "reply to %r: want {\"ok\": false, \"error\": \"...\"}, got %r" % (payload, doc))
        check(d.alive(), "egressd died after %r" % payload)
        check(own_cgroup() == cg, "the client moved from cgroup %s to %s after %r" % (
            cg, own_cgroup(), payload))
    # no newline, a huge line, an abrupt close: the daemon must shrug them off
    for payload in (b'{"op": "sta', b"x" * (4 << 20), b""):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(5)
        s.connect(d.sock)
        try:
            s.sendall(payload)
        except OSError:
            pass  # the daemon may cut an oversized line off
        s.close()
    # many idle connections at once
    idle = []
    for _ in range(64):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(d.sock)
        idle.append(s)
    r = d.ctl("status", "--json", timeout=10)
    for s in idle:
        s.close()
    eq(r.returncode, 0, "status while 64 idle clients are connected (stderr %r)" % r.stderr)
    check(d.alive(), "egressd died")
    eq(d.status().get("pid"), d.pid, "status pid")
    r = d.probe("t", "connect", ALLOW, DENY)
    allowed(r.get(ALLOW))
    denied(r.get(DENY))


@test
def test_two_daemons_side_by_side(ctx):
    d1 = ctx.daemon({"p": pol(allow=[ALLOW])}, label="one")
    d2 = ctx.daemon({"p": pol(allow=[ALLOW2])}, label="two")
    # both jobs alive at once
    b1, log1, stop1 = start_hold(ctx, d1, "p")
    b2, log2, stop2 = start_hold(ctx, d2, "p", hold=ALLOW2)
    r1 = d1.probe("p", "connect", ALLOW, ALLOW2)
    r2 = d2.probe("p", "connect", ALLOW, ALLOW2)
    allowed(r1.get(ALLOW))
    denied(r1.get(ALLOW2))
    denied(r2.get(ALLOW))
    allowed(r2.get(ALLOW2))
    # the hold jobs: one's ALLOW2 retries are denied, the other's allowed
    recs1 = [r for r in read_jsonl(log1) if r["op"] == "connect" and r["target"] == ALLOW2 + "/tcp"]
    recs2 = [r for r in read_jsonl(log2) if r["op"] == "connect" and r["target"] == ALLOW2 + "/tcp"]
    check(recs1 and all(r["errno"] == EPERM for r in recs1), "daemon one's hold job reached %s" % ALLOW2)
    check(recs2 and all(r["ok"] for r in recs2), "daemon two's hold job could not reach %s" % ALLOW2)
    expect(d1.decision(r1.job, "198.18.1.2", 443), decision="deny")
    expect(d2.decision(r2.job, "198.18.1.2", 443), decision="allow")
    for a, b in ((d1, d2), (d2, d1)):
        mine = {s.get("egress.job.id") for s in a.spans()}
        theirs = {s.get("egress.job.id") for s in b.spans()}
        check(not (mine & theirs), "the journals share jobs: %s" % (mine & theirs))
        ids = {str(j.get("id")) for j in a.jobs()}
        other = b2.job if a is d1 else b1.job
        check(other not in ids, "daemon %s lists the other daemon's job %s" % (a.label, other))
    for stop, bg in ((stop1, b1), (stop2, b2)):
        open(stop, "w").close()
        bg.wait(20)
    # stopping one leaves the other enforcing
    d1.stop()
    r2 = d2.probe("p", "connect", ALLOW, ALLOW2)
    denied(r2.get(ALLOW))
    allowed(r2.get(ALLOW2))


@test
def test_reset_leaves_nothing(ctx):
    d = ctx.daemon({"h": pol(allow=[ALLOW, ALLOW2])})
    r = d.probe("h", "info")
    d.job_span(r.job)
    check(os.path.isdir(d.bpffs_dir) and os.listdir(d.bpffs_dir), "no pins in %s" % d.bpffs_dir)
    check(os.path.isdir(d.cgroup_root), "no cgroup root %s" % d.cgroup_root)
    bg, log, stop = start_hold(ctx, d, "h")
    eq(d.stop(), 0, "egressd exit status on SIGTERM")
    # a live job: --reset without --force refuses and the job stays fenced
    rr = d.reset(force=False)
    check(rr.returncode != 0, "--reset with a live job and no --force succeeded")
    check(os.path.isdir(d.bpffs_dir) and os.listdir(d.bpffs_dir),
          "--reset refused, yet the pins are gone")
    check_hold_since(log, time.time(), "after a refused --reset", min_rounds=2)
    open(stop, "w").close()
    bg.wait(20)
    wait_until(lambda: not d.cgroup_procs(), 10, what="the job's processes to exit")
    rr = d.reset(force=False)
    eq(rr.returncode, 0, "--reset with no live job (stderr %r)" % rr.stderr[-300:])
    check(not os.path.exists(d.bpffs_dir), "--reset left %s: %s" % (
        d.bpffs_dir, os.listdir(d.bpffs_dir) if os.path.isdir(d.bpffs_dir) else ""))
    check(not os.path.exists(d.cgroup_root), "--reset left the cgroup root %s" % d.cgroup_root)
    # after --reset a job can no longer be fenced by the old pins: nothing is attached
    rr = d.reset(force=False)
    eq(rr.returncode, 0, "a second --reset (nothing to do) exit status")
    # and a daemon can start afresh on the same dirs
    d.start()
    r = d.probe("h", "connect", ALLOW, DENY)
    allowed(r.get(ALLOW))
    denied(r.get(DENY))


@test
def test_status_and_jobs(ctx):
    d = ctx.daemon({"h": pol(allow=[ALLOW, ALLOW2])})
    st = d.status()
    for k in ("pid", "jobs", "ringbuf_drops"):
        check(type(st.get(k)) is int, "status --json: %s should be an int: %r" % (k, st))
    eq(st["pid"], d.pid, "status pid")
    eq(st["jobs"], 0, "status jobs with no job")
    r = d.ctl("status")
    check(r.returncode == 0 and r.stdout.strip(), "`egressctl status` (text): rc %d %r" % (
        r.returncode, r.stdout))
    bg, log, stop = start_hold(ctx, d, "h")
    hold_pid = read_jsonl(log)[0]["pid"]
    eq(d.status()["jobs"], 1, "status jobs with one job")
    j = d.job(bg.job)
    check(j is not None, "`egressctl jobs --json` lacks job %s: %s" % (bg.job, d.jobs()))
    eq(j.get("policy"), "h", "jobs: policy")
    check(isinstance(j.get("cgroup"), str) and j["cgroup"], "jobs: cgroup %r" % j.get("cgroup"))
    check(hold_pid in j.get("pids", []), "jobs: pids %r lack %d" % (j.get("pids"), hold_pid))
    r = d.ctl("jobs")
    check(r.returncode == 0 and bg.job in r.stdout, "`egressctl jobs` (text) lacks %s: %r" % (
        bg.job, r.stdout))
    open(stop, "w").close()
    bg.wait(20)
    wait_until(lambda: d.job(bg.job) is None, 10, what="the ended job to leave `jobs`")
    eq(d.status()["jobs"], 0, "status jobs after the job ended")


@test
def test_status_counts_policy_versions(ctx):
    """`egressctl status` counts the policy versions loaded in the kernel
    maps and the jobs using them (and the policy files in the policy dir),
    each labelled; "policies" keeps its meaning (versions in use by jobs).
    Two jobs of one policy share one version; when they have ended it is
    retired, then unloaded."""
    d = ctx.daemon({"h": pol(allow=[ALLOW, ALLOW2]), "other": pol(allow=[ALLOW])})
    st = d.status()
    eq(st["policy_versions"], {"loaded": 0, "in_use": 0, "retiring": 0, "jobs": 0},
       "status policy_versions with no job")
    eq(st["policies"], 0, "status policies with no job")
    eq(st["policy_files"], 2, "status policy_files (h.json, other.json)")
    bg, log, stop = start_hold(ctx, d, "h")
    bg2, log2, stop2 = start_hold(ctx, d, "h")
    st = d.status()
    eq(st["policy_versions"], {"loaded": 1, "in_use": 1, "retiring": 0, "jobs": 2},
       "status policy_versions with two jobs of one policy")
    eq(st["policies"], 1, "status policies (versions in use) with two jobs")
    r = d.ctl("status")
    eq(r.returncode, 0, "`egressctl status`: %s" % r.stderr)
    lines = r.stdout.splitlines()
    want = "policy versions 1 loaded in the kernel maps (in use by 2 jobs; 0 retiring)"
    check(any(" ".join(l.split()) == want for l in lines), "want %r in:\n%s" % (want, r.stdout))
    check(any(" ".join(l.split()) == "policy files 2 in " + st["policy_dir"] for l in lines),
          "policy files line in:\n%s" % r.stdout)
    check(not any(l.split()[:1] == ["policies"] for l in lines),
          "an unlabelled `policies N` line in:\n%s" % r.stdout)
    for f in (stop, stop2):
        open(f, "w").close()
    bg.wait(20)
    bg2.wait(20)
    wait_until(lambda: d.status()["jobs"] == 0, 10, what="the jobs to end")
    st = d.status()["policy_versions"]
    check(st["in_use"] == 0 and st["jobs"] == 0 and st["loaded"] == st["retiring"] <= 1,
          "policy_versions right after the jobs ended: %s" % st)
    # a retired version stays in the maps 2 s for the records still in flight
    wait_until(lambda: d.status()["policy_versions"]["loaded"] == 0, 10,
               what="the retired version unloaded")
    eq(d.status()["policy_versions"], {"loaded": 0, "in_use": 0, "retiring": 0, "jobs": 0},
       "status policy_versions after the jobs ended")


@test
def test_help(ctx):
    d = ctx.daemon(start=False)
    for args in ([], ["run"], ["status"], ["jobs"], ["policy"], ["audit"]):
        r = d.ctl(*(args + ["--help"]), sock=False)
        check(r.returncode == 0 and (r.stdout + r.stderr).strip(),
              "`egressctl %s --help` exited %d: %r" % (" ".join(args), r.returncode,
                                                        (r.stderr or r.stdout)[-300:]))
    r = ctx.world.in_fence([d.egressd, "--help"])
    check(r.returncode == 0 and (r.stdout + r.stderr).strip(),
          "`egressd --help` exited %d" % r.returncode)
    r = d.ctl("no-such-subcommand", sock=False)
    check(r.returncode != 0, "`egressctl no-such-subcommand` exited 0")
    # --help starts nothing
    check(not os.path.exists(d.bpffs_dir) and not os.path.exists(d.cgroup_root),
          "--help created pins or cgroups")


@test(timeout=60)
def run_request_with_hostile_policy_name(ctx):
    """A "run" whose policy name tries to leave the policy dir is refused by
    name, before any job exists; the sender stays where it was."""
    d = ctx.daemon({"t": pol(allow=[ALLOW])})
    before = own_cgroup()
    for name in ("../../etc/passwd", "/etc/passwd", "Upper", "a" * 65, ""):
        r = json.loads(reply(d.sock, json.dumps({"op": "run", "policy": name}).encode() + b"\n"))
        check(r.get("ok") is False and "invalid policy name" in r.get("error", ""),
              "run with policy %r: want an 'invalid policy name' refusal, got %r" % (name, r))
    eq(own_cgroup(), before, "the sender's cgroup")
    eq(d.ctl_json("jobs")["jobs"], [], "jobs after refused runs")
    eq(d.ctl_json("status")["pid"], d.proc.pid, "egressd still serving")
