"""Tamper resistance, egressd's answers: a stand-in egressd answers
`egressctl run` with a malformed guard, a malformed status ("protect", the
copy-on-write layer, the container runtimes' sockets) or capabilities of
its own choosing: egressctl exits 125 without running the command, and
keeps no capability the fence does not allow. The modes and helpers:
test_tamper.py."""
import json
import os

from harness import test, pol, check, eq
from test_tamper import ALLOW
from test_tamper_caps import CAP_NAMES, DEFAULT_CAPS, cap_bits


def stand_in_egressd(sock_path, status, extra):
    """A stand-in egressd at sock_path (root's, in a thread until the
    returned socket is closed): to "status" it answers `status`; to "run",
    ok with the caller's own cgroup, as egressd would, plus what extra()
    returns for that request; to anything else, unknown op. Several requests per connection, as egressd
    takes them (a root egressctl asks for the status first)."""
    import socket
    import struct
    import threading

    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(sock_path)
    srv.listen(4)

    def cgroup_of(c):
        pid = struct.unpack("3i", c.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))[0]
        return [x[3:] for x in open("/proc/%d/cgroup" % pid).read().splitlines()
                if x.startswith("0::")][0]

    def serve():
        while True:
            try:
                c, _ = srv.accept()
            except OSError:
                return
            with c:
                f = c.makefile("rwb")
                for line in f:
                    op = json.loads(line).get("op")
                    if op == "status":
                        reply = status
                    elif op != "run":
                        # egressctl run's parent asks to watch the job: an
                        # egressd before notices did not know the op
                        reply = {"ok": False, "error": "unknown op \"%s\"" % op}
                    else:
                        reply = {"ok": True, "job_id": "fake", "cgroup": cgroup_of(c),
                                 "traceparent": "00-%s-%s-01" % ("1" * 32, "2" * 16),
                                 "policy": "t", "mode": "enforce"}
                        reply.update(extra())
                    f.write((json.dumps(reply) + "\n").encode())
                    f.flush()
    threading.Thread(target=serve, daemon=True).start()
    return srv


@test(timeout=120)
def test_malformed_guard_in_reply_never_runs_the_command(ctx):
    """A stand-in egressd answers `run` as egressd would (ok, the caller's
    own cgroup) but with a broken "guard": egressctl must exit 125, say why,
    and never run the command."""
    import subprocess

    egressctl = os.path.join(ctx.build, "egressctl")
    sock_path = ctx.path("fake.sock")
    marker = ctx.path("ran")
    bad = [
        ({"pids": ["12"]}, "malformed guard"),
        ({"pids": [0]}, "malformed guard"),
        ({"pids": [-5]}, "malformed guard"),
        ({"pids": [1e12]}, "malformed guard"),
        ({"pids": list(range(100, 200))}, "malformed guard"),
        ({"pids": "1"}, "malformed guard"),
        ({"pids": [1], "job_cgroup": ctx.path("no-such-cgroup")}, "writable"),
    ]
    replies = []
    # nothing for a root egressctl's mount namespace to protect
    srv = stand_in_egressd(sock_path, {"ok": True, "protect": [], "host_writes": True,
                                       "runtime_sockets": []},
                           lambda: {"guard": replies.pop(0)})
    try:
        for guard, why in bad:
            replies.append(guard)
            p = subprocess.run([egressctl, "--socket", sock_path, "run", "--", "/usr/bin/touch",
                                marker], capture_output=True, text=True, timeout=30,
                               stdin=subprocess.DEVNULL)
            check(p.returncode == 125, "guard %s: egressctl exited %d (want 125): %s" % (
                guard, p.returncode, p.stderr))
            check(why in p.stderr and "not running /usr/bin/touch unfenced" in p.stderr,
                  "guard %s: the message does not say why (%r): %s" % (guard, why, p.stderr))
            check(not os.path.exists(marker), "guard %s: the command ran" % guard)
    finally:
        srv.close()


@test(timeout=120)
def test_tamper_capability_set_comes_from_the_reply_only(ctx):
    """egressctl keeps exactly the capabilities egressd's reply names, never
    one that reaches around the fence (even if the reply names it), and the
    default set when the reply names none or sends something else (a
    stand-in egressd answers; no policy file is read). The stand-in cannot
    fence, so egressctl's canary would refuse to run anything outside a
    fence: it runs inside a real root job whose policy grants every
    capability that may be granted (a nested run, as the stand-in says)."""

    egressctl = os.path.join(ctx.build, "egressctl")
    sock_path = ctx.path("fake.sock")
    default = sorted(DEFAULT_CAPS)
    never = {16, 17, 19, 22, 32, 33, 38, 39}
    grant = [n for b, n in enumerate(CAP_NAMES) if b not in never]
    d = ctx.daemon({"o": pol(allow=[ALLOW], capabilities=grant)})
    cases = [
        (None, default),
        ("NET_ADMIN", default),
        ([12, "x"], default),
        ([12, 1.5], default),
        ([12, 64], default),
        ([0, 12], [0, 12]),
        (list(range(41)), sorted(set(range(41)) - never)),
    ]
    replies = []

    def caps_field():
        caps = replies.pop(0)
        return {} if caps is None else {"capabilities": caps}
    # a nested run: egressctl makes no mount namespace
    srv = stand_in_egressd(sock_path, {"ok": True, "caller_job": "outer", "protect": [],
                                       "runtime_sockets": []},
                           caps_field)
    try:
        for caps, want in cases:
            replies.append(caps)
            r = d.run("o", ["/bin/sh", "-c", 'grep "^CapBnd" /proc/self/status; exec "$@"',
                            "sh", egressctl, "--socket", sock_path, "run", "--", "/bin/grep",
                            "^Cap", "/proc/self/status"], timeout=30)
            check(r.rc == 0, "reply capabilities %r: egressctl exited %d: %s" % (
                caps, r.rc, r.err[-600:]))
            lines = r.out.splitlines()
            own = int(lines[0].split(":\t", 1)[1], 16)  # the outer job's: no more
            want = [b for b in want if own >> b & 1]
            sets = {k: int(v, 16) for k, v in (x.split(":\t", 1) for x in lines[1:])}
            for k in ("CapBnd", "CapEff", "CapPrm"):
                eq(cap_bits(sets[k]), want, "%s with reply capabilities %r" % (k, caps))
            eq(sets["CapAmb"], 0, "CapAmb with reply capabilities %r" % (caps,))
    finally:
        srv.close()


@test(timeout=120)
def test_malformed_protect_in_status_never_runs_the_command(ctx):
    """A root egressctl run makes its mount namespace from egressd's status
    ("protect": the fence's files; "host_writes" and "overlay_dir": the
    copy-on-write layer; "runtime_sockets": the container runtimes'
    sockets to cover); a stand-in that sends it broken gets
    exit 125, a message saying so, and the command never runs."""
    import subprocess
    egressctl = os.path.join(ctx.build, "egressctl")
    marker = ctx.path("ran")
    for n, (status, why) in enumerate((
            ({"ok": True}, "did not say where its files are"),
            ({"ok": True, "protect": "/etc", "host_writes": True},
             "did not say where its files are"),
            ({"ok": True, "protect": [1], "host_writes": True}, "malformed \"protect\""),
            ({"ok": True, "protect": ["relative/path"], "host_writes": True},
             "malformed \"protect\""),
            ({"ok": True, "protect": ["/x"] * 17, "host_writes": True}, "malformed \"protect\""),
            # whether the system directories are private, and where the layer goes
            ({"ok": True, "protect": []}, "whether the job's system directories are private"),
            ({"ok": True, "protect": [], "host_writes": "no"}, "are private"),
            ({"ok": True, "protect": [], "host_writes": False}, "are private"),
            ({"ok": True, "protect": [], "host_writes": False, "overlay_dir": "rel"},
             "are private"),
            # a layer directory others could write (or plant in)
            ({"ok": True, "protect": [], "host_writes": False, "overlay_dir": "/tmp"},
             "is not root's alone"),
            ({"ok": True, "protect": [], "run_policy_error": "t.json: no such policy"},
             "no such policy"),
            # the container runtimes' sockets and egressd's covers for them
            ({"ok": True, "protect": [], "host_writes": True, "runtime_sockets": None},
             "which container runtime sockets to cover"),
            ({"ok": True, "protect": [], "host_writes": True, "runtime_sockets": "/run/x"},
             "which container runtime sockets to cover"),
            ({"ok": True, "protect": [], "host_writes": True,
              "runtime_sockets": [{"path": "/run/docker.sock"}]},
             "which container runtime sockets to cover"),
            ({"ok": True, "protect": [], "host_writes": True,
              "runtime_sockets": [{"path": "run/docker.sock", "cover": "/x.sock"}]},
             "which container runtime sockets to cover"),
            ({"ok": True, "protect": [], "host_writes": True,
              "runtime_sockets": [{"path": "/run/d%d.sock" % i, "cover": "/x.sock"}
                                  for i in range(33)]},
             "which container runtime sockets to cover"),
            ({"ok": True, "protect": [], "host_writes": True,
              "runtime_sockets": [{"path": "/run/docker.sock", "cover": "/nonexistent.sock"}]},
             "egressd's cover of /run/docker.sock"),
            ({"ok": True, "protect": [], "host_writes": True,
              "runtime_sockets": [{"path": "/run/docker.sock", "cover": "/etc/passwd"}]},
             "egressd's cover of /run/docker.sock"))):
        if "runtime_sockets" not in status:
            status = dict(status, runtime_sockets=[])
        elif status["runtime_sockets"] is None:
            status = {k: v for k, v in status.items() if k != "runtime_sockets"}
        srv = stand_in_egressd(ctx.path("fake%d.sock" % n), status, lambda: {})
        try:
            p = subprocess.run([egressctl, "--socket", ctx.path("fake%d.sock" % n), "run", "--",
                                "/usr/bin/touch", marker], capture_output=True, text=True,
                               timeout=30, stdin=subprocess.DEVNULL)
        finally:
            srv.close()
        check(p.returncode == 125, "status %s: egressctl exited %d (want 125): %s" % (
            status, p.returncode, p.stderr))
        check(why in p.stderr and "unfenced" in p.stderr,
              "status %s: the message does not say why (%r): %s" % (status, why, p.stderr))
        check(not os.path.exists(marker), "status %s: the command ran" % status)
