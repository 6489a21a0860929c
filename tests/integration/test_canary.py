"""egressctl run proves the fence before it runs anything (issue 17 item 7):
it talks only to a root listener on a root-owned socket in root-owned
directories, and execs the command only after the fence refused the canary
connect (192.0.2.1:9, include/ef_abi.h). The canary is part of the job's
start (egress.canary on its span), never one of its decisions, never a
probe, never a denial audit lists; no policy, however open, allows it.

The attack: a listener put where egressctl looks for egressd, answering
"ok" with the cgroup egressctl is already in. Judged by what happened
outside: the marker file the command would have made."""
import json
import os
import subprocess

from harness import test, pol, check, eq, PY

CANARY = ("192.0.2.1", 9)

# A fake egressd: binds PATH, optionally becomes uid 65534 before listen()
# (SO_PEERCRED is the listener's credentials at listen time), and answers
# every request "ok" with the caller's own cgroup, as the attack does.
FAKE = r"""
import json, os, socket, struct, sys
path, as_nobody = sys.argv[1], sys.argv[2] == "1"
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(path)
os.chmod(path, 0o666)
if as_nobody:
    os.setgroups([])
    os.setgid(65534)
    os.setuid(65534)
srv.listen(8)
print("READY", flush=True)
while True:
    c, _ = srv.accept()
    f = c.makefile("rwb")
    pid = struct.unpack("3i", c.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))[0]
    cg = [l[3:] for l in open("/proc/%d/cgroup" % pid).read().splitlines()
          if l.startswith("0::")][0]
    # egressctl asks for the status first (where egressd's files are, the
    # runtimes to cover), on the same connection: nothing, says the fake
    if json.loads(f.readline() or b"{}").get("op") == "status":
        f.write(b'{"ok": true, "protect": [], "host_writes": true, "runtime_sockets": []}\n')
        f.flush()
        f.readline()
    f.write(json.dumps({"ok": True, "cgroup": cg, "job_id": "fake",
                        "traceparent": "00-" + "1" * 32 + "-" + "2" * 16 + "-01"}).encode()
            + b"\n")
    f.flush()
    f.close()
    c.close()
"""

# the job's own connects to the canary: IPv4 and IPv4-mapped IPv6, UDP and TCP
SELF_CANARY = r"""
import json, socket
out = {}
for name, fam, typ, addr in (("udp4", socket.AF_INET, socket.SOCK_DGRAM, ("192.0.2.1", 9)),
                             ("tcp4", socket.AF_INET, socket.SOCK_STREAM, ("192.0.2.1", 9)),
                             ("udp6", socket.AF_INET6, socket.SOCK_DGRAM, ("::ffff:192.0.2.1", 9))):
    s = socket.socket(fam, typ)
    s.settimeout(2)
    try:
        s.connect(addr)
        out[name] = 0
    except OSError as e:
        out[name] = e.errno
    s.close()
print(json.dumps(out), flush=True)
"""


def start_fake(ctx, path, as_nobody=False):
    p = subprocess.Popen(ctx.world.fence_argv([PY, "-c", FAKE, path, "1" if as_nobody else "0"]),
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    ctx.procs.append(p)
    line = p.stdout.readline()
    check("READY" in line, "the fake control socket did not start: %r %r" % (
        line, p.stderr.read() if p.poll() is not None else ""))
    return p


def run_fake(ctx, d, sock, tag):
    """`egressctl --socket SOCK run -- touch MARKER`: must exit 125 and not
    run the command. Returns stderr."""
    marker = ctx.path("ran-" + tag)
    a = [d.egressctl, "--socket", sock, "run", "--job-id", ctx.job_id(), "--",
         "/bin/sh", "-c", "touch " + marker]
    p = ctx.world.in_fence(a, timeout=30, env=d._env())
    eq(p.returncode, 125, "%s: egressctl run exit status (stderr %r)" % (tag, p.stderr[-400:]))
    check(not os.path.exists(marker), "%s: the command ran unfenced" % tag)
    check("not running" in p.stderr, "%s: egressctl did not say why: %r" % (tag, p.stderr))
    return p.stderr


@test(timeout=120)
def test_canary_fake_control_socket_refused(ctx):
    d = ctx.daemon({"t": pol(allow=["198.18.1.1:443"])})
    # the real daemon, for contrast: the command runs
    ok = ctx.path("ran-real")
    eq(d.run("t", ["/bin/sh", "-c", "touch " + ok]).rc, 0, "a run through egressd")
    check(os.path.exists(ok), "the command did not run through egressd")

    # 1. a directory owned by another user
    nob = ctx.path("nobody-dir")
    os.mkdir(nob, 0o755)
    os.chown(nob, 65534, 65534)
    start_fake(ctx, os.path.join(nob, "control.sock"))
    err = run_fake(ctx, d, os.path.join(nob, "control.sock"), "nobody-dir")
    check("owned by uid 65534, not root" in err, "nobody-dir: wrong reason: %r" % err)

    # 2. a root directory others may write (not sticky)
    gw = ctx.path("group-writable")
    os.mkdir(gw)
    os.chmod(gw, 0o775)
    start_fake(ctx, os.path.join(gw, "control.sock"))
    err = run_fake(ctx, d, os.path.join(gw, "control.sock"), "group-writable")
    check("writable by its group" in err, "group-writable: wrong reason: %r" % err)

    # 3. root's socket file in root's directory, served by uid 65534
    rd = ctx.path("root-dir-nobody-listener")
    os.mkdir(rd, 0o755)
    start_fake(ctx, os.path.join(rd, "control.sock"), as_nobody=True)
    check(os.stat(os.path.join(rd, "control.sock")).st_uid == 0, "the socket file is not root's")
    err = run_fake(ctx, d, os.path.join(rd, "control.sock"), "nobody-listener")
    check("runs as uid 65534, not root" in err, "nobody-listener: wrong reason: %r" % err)

    # 4. a symbolic link where the socket should be (to egressd's own socket)
    ln = ctx.path("root-dir-link")
    os.mkdir(ln, 0o755)
    os.symlink(d.sock, os.path.join(ln, "control.sock"))
    err = run_fake(ctx, d, os.path.join(ln, "control.sock"), "symlink")
    check("is not a socket" in err, "symlink: wrong reason: %r" % err)

    # 5. root's listener, root's socket, root's directories: every ownership
    # check passes, and the canary catches it
    rr = ctx.path("root-fake")
    os.mkdir(rr, 0o755)
    start_fake(ctx, os.path.join(rr, "control.sock"))
    err = run_fake(ctx, d, os.path.join(rr, "control.sock"), "root-fake")
    check("the fence did not refuse the canary connect" in err and "not fenced" in err,
          "root-fake: wrong reason: %r" % err)
    # and so does the real daemon's own socket, if a root job put a fake there
    os.rename(d.sock, d.sock + ".real")
    try:
        start_fake(ctx, d.sock)
        err = run_fake(ctx, d, d.sock, "replaced-socket")
        check("canary" in err, "replaced-socket: wrong reason: %r" % err)
    finally:
        os.unlink(d.sock)
        os.rename(d.sock + ".real", d.sock)


@test(timeout=120)
def test_canary_part_of_the_job_start(ctx):
    d = ctx.daemon({
        "open": pol(allow=["0.0.0.0/0:*", "[::]/0:*"]),
        "openaudit": pol(allow=["0.0.0.0/0:*", "[::]/0:*"], mode="audit"),
        "closed": pol(mode="audit"),
    })
    jobs = {}
    for policy in ("open", "openaudit", "closed"):
        marker = ctx.path("ran-" + policy)
        r = d.run(policy, ["/bin/sh", "-c", "touch " + marker])
        eq(r.rc, 0, "run under policy %s (stderr %r)" % (policy, r.err[-400:]))
        check(os.path.exists(marker), "the command did not run under policy %s" % policy)
        jobs[policy] = r.job
    for policy, job in jobs.items():
        s = d.job_span(job)
        eq(s.get("egress.canary"), "refused", "%s: egress.canary on the job span" % policy)
        eq(s.get("egress.decisions"), 0, "%s: the canary counted as a decision" % policy)
        eq(s.get("egress.denied"), 0, "%s: the canary counted as a denial" % policy)
        check(not s.get("egress.flagged") and not s.get("egress.probe.reason"),
              "%s: the job is flagged: %r" % (policy, s))
        others = [x for x in d.find(job=job) if x.name != "egress.job"]
        eq(others, [], "%s: spans of the job other than its egress.job" % policy)

    # the job itself going for the canary, under a policy allowing everything:
    # refused (EPERM), recorded as its own decision (reason canary), no probe
    r = d.run("open", [PY, "-c", SELF_CANARY])
    eq(r.rc, 0, "self-canary job (stderr %r)" % r.err[-400:])
    got = json.loads(r.out.strip().splitlines()[-1])
    eq(got, {"udp4": 1, "tcp4": 1, "udp6": 1}, "errno of the job's own canary connects")
    s = d.job_span(r.job)
    eq(s.get("egress.canary"), "refused", "self-canary: egress.canary on the job span")
    eq(s.get("egress.denied"), 3, "self-canary: the job's own canary connects")
    check(not s.get("egress.flagged"), "self-canary: the job is flagged: %r" % s)
    got = d.find("egress.connect", r.job)
    eq(sorted(x.get("egress.reason") for x in got), ["canary"] * 3,
       "self-canary: reasons of the job's connect spans")
    check(not d.find("egress.probe", r.job), "self-canary: an egress.probe span")

    # audit lists no denial for the jobs that did not go for it themselves
    for policy, job in jobs.items():
        a = d.ctl("audit", "--job", job, "--denied", "--json", timeout=60)
        eq(a.returncode, 0, "audit --job %s --denied (stderr %r)" % (job, a.stderr[-300:]))
        rows = [json.loads(x) for x in a.stdout.splitlines() if x.strip()]
        check(not [x for x in rows if "192.0.2.1" in json.dumps(x)],
              "%s: audit lists the canary: %r" % (policy, rows))
        check(not [x for x in rows if x.get("name") != "egress.job"],
              "%s: audit lists denials: %r" % (policy, rows))
        a = d.ctl("audit", "--job", job, "--json", timeout=60)
        rows = [json.loads(x) for x in a.stdout.splitlines() if x.strip()]
        check([x for x in rows if x.get("name") == "egress.job" and
               (x.get("attributes") or {}).get("egress.canary") == "refused"],
              "%s: audit --json does not show the canary on the job: %r" % (policy, rows))
    # suggest proposes no rule for the canary
    sg = d.ctl("policy", "suggest", "--job", r.job, timeout=60)
    check("192.0.2.1" not in sg.stdout, "policy suggest proposes the canary: %r" % sg.stdout)
