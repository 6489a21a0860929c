"""Only the job's own sockets, and records a job cannot erase (issue 15,
items 2 and 6): inherited descriptors closed and recorded; repeated
decisions folded into spans with a count; a flood flagged; the journal's
evictions counted and recorded; the seccomp fallback's refusals recorded."""
import json
import os
import secrets
import socket
import subprocess
import time

import world as W
from harness import test, pol, check, eq, wait_until, PY

ALLOW = ("198.18.1.1", 9000)   # TCP echo
DENY = ("198.18.2.1", 443)
UDP_HOST = ("198.18.1.1", 9999)  # UDP echo

# Runs in the fence ns as root, OUTSIDE any job: holds sockets (a TCP one
# connected to the echo host, UDP, unix), a pipe, a file, a pty, a pidfd, a
# netns fd and an io_uring instance, then runs `egressctl run -- CHILD`
# with all of them inherited and a TCP socket as its stdin.
PARENT = r"""
import ctypes, json, os, pty, socket, subprocess, sys, time
argv, child, tmp = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3]
tcp = socket.create_connection(("198.18.1.1", 9000), timeout=5)
tcp_in = socket.create_connection(("198.18.1.1", 9000), timeout=5)
udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
udp.bind(("0.0.0.0", 0))
u6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
u6.bind(("::", 0))
ua, ub = socket.socketpair()
r, w = os.pipe()
f = open(os.path.join(tmp, "file"), "w+")
master, slave = pty.openpty()
pidfd = os.pidfd_open(os.getpid())
nsfd = os.open("/proc/self/ns/net", os.O_RDONLY)
libc = ctypes.CDLL(None, use_errno=True)
params = ctypes.create_string_buffer(120)
uring = libc.syscall(425, 4, params)  # io_uring_setup
fds = {"tcp": tcp.fileno(), "udp": udp.fileno(), "udp6": u6.fileno(), "unix_a": ua.fileno(),
       "unix_b": ub.fileno(), "pipe_w": w, "file": f.fileno(), "tty": slave, "pidfd": pidfd,
       "netns": nsfd}
if uring >= 0:
    fds["io_uring"] = uring
for fd in fds.values():
    os.set_inheritable(fd, True)
p = subprocess.run(argv + [sys.executable, "-c", child, json.dumps(fds)], pass_fds=list(fds.values()),
                   stdin=tcp_in.fileno(), capture_output=True, text=True, timeout=60)
os.close(w)
piped = os.read(r, 4096).decode(errors="replace")
f.seek(0)
filed = f.read()
os.set_blocking(master, False)
try:
    ttyd = os.read(master, 4096).decode(errors="replace")
except OSError:
    ttyd = ""
tcp.settimeout(1.5)
try:
    before = tcp.recv(4096).decode(errors="replace")
except socket.timeout:
    before = ""
tcp.sendall(b"PING")
tcp.settimeout(5)
after = tcp.recv(4096).decode(errors="replace")
print(json.dumps({"rc": p.returncode, "out": p.stdout, "err": p.stderr, "piped": piped,
                  "filed": filed, "tty": ttyd, "echo_before": before, "echo_after": after,
                  "uring": uring, "uring_errno": ctypes.get_errno() if uring < 0 else 0,
                  "udp_port": udp.getsockname()[1], "udp6_port": u6.getsockname()[1]}))
"""

# The job: tries to send a secret through every inherited socket number,
# writes to the pipe, the file and the tty, and says what each fd is now.
CHILD = r"""
import json, os, socket, sys
fds = json.loads(sys.argv[1])
res = {}
def link(fd):
    try:
        return os.readlink("/proc/self/fd/%d" % fd)
    except OSError:
        return None
for name, fd in fds.items():
    l = link(fd)
    r = {"link": l}
    if l is None:
        r["state"] = "closed"
    elif l.startswith("socket:"):
        try:
            s = socket.socket(fileno=os.dup(fd))
            if s.type == socket.SOCK_DGRAM and s.family == socket.AF_INET:
                s.sendto(b"SECRET-udp", ("198.18.1.1", 9999))
            elif s.type == socket.SOCK_DGRAM and s.family == socket.AF_INET6:
                s.sendto(b"SECRET-udp6", ("2001:db8:1::1", 9999))
            else:
                s.send(b"SECRET-" + name.encode())
            r["state"] = "SENT"
        except OSError as e:
            r["state"] = "error %d" % e.errno
    elif name in ("pipe_w", "file", "tty"):
        os.write(fd, b"hello-" + name.encode() + b"\n")
        r["state"] = "written"
    else:
        r["state"] = "open"
    res[name] = r
res["stdin"] = {"link": link(0), "read": os.read(0, 100).decode(errors="replace")}
print(json.dumps(res))
"""


def hand_down(ctx, argv, env=None):
    """PARENT with argv before the child; its result, and when it started."""
    t0 = time.time()
    p = subprocess.run(ctx.world.fence_argv([PY, "-c", PARENT, json.dumps(argv), CHILD, ctx.tmp]),
                       capture_output=True, text=True, timeout=90, env=env)
    check(p.returncode == 0, "the parent failed (%d): %s" % (p.returncode, p.stderr[-1500:]))
    res = json.loads(p.stdout.strip().splitlines()[-1])
    check(res["uring"] >= 0, "environment: io_uring_setup fails outside any job (errno %d): the "
          "test needs an io_uring instance to hand down" % res["uring_errno"])
    return res, t0


def udp_from(ctx, res, t0):
    return [e for e in ctx.world.host_log() if e["t"] >= t0 - 0.5 and e["proto"] == "udp"
            and e["pport"] in (res["udp_port"], res["udp6_port"])]


@test(timeout=120)
def test_inherited_fds_closed_and_recorded(ctx):
    d = ctx.daemon({"t": pol(allow=["%s:%d" % ALLOW])})
    # the attack works without the fence: the same child, run by env(1)
    res, t0 = hand_down(ctx, ["env", "--"], env=d._env())
    check("SECRET-tcp" in res["echo_before"],
          "baseline: the child's write through the inherited TCP socket did not come back from "
          "the echo host unfenced (%r): the test cannot tell" % res["echo_before"])
    wait_until(lambda: len(udp_from(ctx, res, t0)) == 2, 5,
               what="baseline: the hosts get both inherited UDP sockets' datagrams unfenced")
    job = ctx.job_id()
    res, t0 = hand_down(ctx, d.run_argv("t", [], job), env=d._env())
    eq(res["rc"], 0, "the job's exit status (stderr %r)" % res["err"][-600:])
    out = json.loads(res["out"].strip().splitlines()[-1])
    # evidence on the other side first: nothing the job sent got there
    check("SECRET" not in res["echo_before"],
          "the echo host got the job's write through the inherited TCP socket: %r" %
          res["echo_before"])
    eq(res["echo_after"], "PING", "the parent's own socket still works after the job")
    time.sleep(0.5)
    eq(udp_from(ctx, res, t0), [], "datagrams the hosts got from the inherited UDP sockets")
    for name in ("tcp", "udp", "udp6", "unix_a", "unix_b", "pidfd", "netns", "io_uring"):
        check(out[name]["state"] in ("closed", "open") and
              not (out[name]["link"] or "").startswith(("socket:", "anon_inode:[pidfd]",
                                                        "net:", "anon_inode:[io_uring]")),
              "inherited %s is still there in the job: %r" % (name, out[name]))
    for name in ("pipe_w", "tty"):
        eq(out[name]["state"], "written", "inherited %s in the job" % name)
    # a root job's regular files above 2 go too: its paths are copy-on-write
    # (cli/overlay.c), and /proc/self/fd/N would open the host's file again
    eq(out["file"]["state"], "closed", "inherited file in a root job")
    check("hello-pipe_w" in res["piped"], "the pipe carried the job's write: %r" % res["piped"])
    check("hello-file" not in res["filed"], "the file got the root job's write: %r" % res["filed"])
    check("hello-tty" in res["tty"], "the tty got the job's write: %r" % res["tty"])
    # an inet socket on stdin becomes /dev/null
    eq(out["stdin"]["link"], "/dev/null", "the job's stdin (a TCP socket in the parent)")
    eq(out["stdin"]["read"], "", "read from the job's stdin")
    # said once on stderr
    lines = [x for x in res["err"].splitlines() if "inherited descriptor" in x]
    eq(len(lines), 1, "stderr lines about inherited descriptors: %r" % res["err"])
    want_n = 10  # tcp, tcp on stdin, udp, udp6, 2 unix, pidfd, netns, io_uring, file
    check(lines[0].startswith("egressctl: closed %d inherited descriptors" % want_n),
          "stderr: %r" % lines[0])
    # recorded on the job span
    js = d.job_span(job)
    eq(js.get("egress.inherited_fds_closed"), want_n, "egress.inherited_fds_closed")
    eq(sorted(js.get("egress.inherited_fds_kinds") or []),
       sorted(["inet", "inet6", "unix", "pidfd", "namespace", "io_uring", "file"]),
       "egress.inherited_fds_kinds")


@test
def test_no_inherited_fds_recorded_as_zero(ctx):
    d = ctx.daemon({"t": pol(allow=["%s:%d" % ALLOW])})
    r = d.run("t", ["true"])
    eq(r.rc, 0, "the job")
    check("inherited descriptor" not in r.err, "nothing closed, nothing said: %r" % r.err)
    js = d.job_span(r.job)
    eq(js.get("egress.inherited_fds_closed"), 0, "egress.inherited_fds_closed")
    check(js.get("egress.inherited_fds_kinds") is None, "no kinds")


# a run request with a broken "inherited_fds": refused, the sender stays
# where it is (sent from a child so that a wrong "ok" moves only that child)
RAW = r"""
import json, os, socket, sys
sock, req = sys.argv[1], json.loads(sys.argv[2])
before = open("/proc/self/cgroup").read()
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(10)
s.connect(sock)
s.sendall((json.dumps(req) + "\n").encode())
buf = b""
while not buf.endswith(b"\n"):
    c = s.recv(65536)
    if not c:
        break
    buf += c
print(json.dumps({"reply": json.loads(buf), "moved": open("/proc/self/cgroup").read() != before}))
"""

BAD_FDS = [5, "x", [], None, {}, {"closed": -1}, {"closed": 1.5}, {"closed": "1"},
           {"closed": 2e9}, {"closed": 1, "kinds": {"inet": 2}},
           {"closed": 2, "kinds": {"inet": 1}}, {"closed": 1, "kinds": {"INET": 1}},
           {"closed": 1, "kinds": {"in et": 1}}, {"closed": 1, "kinds": {"": 1}},
           {"closed": 1, "kinds": {"x" * 17: 1}}, {"closed": 1, "kinds": {"inet": 0, "x": 1}},
           {"closed": 1, "kinds": {"inet": True}}, {"closed": 1, "kinds": ["inet"]},
           {"closed": 17, "kinds": {"k%d" % i: 1 for i in range(17)}},
           {"closed": 1, "kinds": {"inet": 1.5}}, {"kinds": {"inet": 1}}]


@test
def test_inherited_fds_bad_input(ctx):
    d = ctx.daemon({"t": pol(allow=["%s:%d" % ALLOW])})
    for bad in BAD_FDS:
        req = {"op": "run", "policy": "t", "argv": ["true"], "inherited_fds": bad}
        r = ctx.world.in_fence([PY, "-c", RAW, d.sock, json.dumps(req)], timeout=30)
        check(r.returncode == 0, "raw request: %s" % r.stderr[-500:])
        x = json.loads(r.stdout)
        check(x["reply"].get("ok") is False and "inherited_fds" in x["reply"].get("error", ""),
              "inherited_fds=%r: want a refusal naming inherited_fds, got %r" % (bad, x["reply"]))
        check(not x["moved"], "inherited_fds=%r: the sender was moved into a job" % (bad,))
    eq(d.jobs(), [], "jobs after the bad requests")
    check(d.alive(), "egressd died")
    # the good shape still works
    req = {"op": "run", "policy": "t", "argv": ["true"],
           "inherited_fds": {"closed": 3, "kinds": {"inet": 2, "pidfd": 1}}}
    r = ctx.world.in_fence([PY, "-c", RAW, d.sock, json.dumps(req)], timeout=30)
    x = json.loads(r.stdout)
    check(x["reply"].get("ok") is True and x["moved"], "a good inherited_fds: %r" % x)


# ---- folding ----------------------------------------------------------------

REPEAT = r"""
import json, socket, sys
host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
ok = denied = 0
for _ in range(n):
    s = socket.socket()
    s.settimeout(5)
    try:
        s.connect((host, port))
        ok += 1
    except PermissionError:
        denied += 1
    finally:
        s.close()
print(json.dumps({"ok": ok, "denied": denied}))
"""


def counts(spans):
    return sum(int(s.get("egress.count", 1)) for s in spans)


@test
def test_repeats_fold_into_one_span(ctx):
    d = ctx.daemon({"t": pol(allow=["%s:%d" % ALLOW])})
    r = d.run("t", [PY, "-c", REPEAT, DENY[0], str(DENY[1]), "50"])
    eq(r.rc, 0, "the job: %s" % r.err)
    eq(json.loads(r.out)["denied"], 50, "denied connects")
    d.job_span(r.job)  # written after the job's folds
    sp = d.find("egress.connect", r.job)
    eq(counts(sp), 50, "decisions the spans account for (%r)" % sp)
    check(len(sp) <= 3, "50 identical refusals in well under a second: %d spans" % len(sp))
    folded = [s for s in sp if s.get("egress.count")]
    check(folded and all(s.get("egress.fold") == "repeat" for s in folded), "fold spans %r" % sp)
    first = [s for s in sp if not s.get("egress.count")]
    eq(len(first), 1, "the first refusal, written at once")
    check(all(s.start <= s.end and s.start >= first[0].start for s in folded),
          "fold spans run from their first to their last decision")
    for s in sp:
        eq(s.get("network.peer.address"), DENY[0], "address")
        eq(s.get("egress.decision"), "deny", "decision")
        eq(s.status_code, 2, "status")
    # egressctl audit says how many a folded span stands for
    a = d.ctl("audit", "--job", r.job, "--state-dir", d.state_dir)
    check(a.returncode == 0 and "deny x49" in a.stdout, "audit: %r %r" % (a.stdout, a.stderr))
    # allowed repeats fold too
    r = d.run("t", [PY, "-c", REPEAT, ALLOW[0], str(ALLOW[1]), "20"])
    eq(json.loads(r.out)["ok"], 20, "allowed connects")
    d.job_span(r.job)
    eq(counts(d.find("egress.connect", r.job)), 20, "allowed decisions accounted for")
    st = d.status()
    check(st["fold"]["folded"] >= 49 + 19, "status fold.folded: %r" % st["fold"])


# ---- the flood: 10 s of denied connects by an unprivileged job --------------

FLOOD = r"""
import json, socket, sys, time
end = time.monotonic() + float(sys.argv[1])
limit = int(sys.argv[2])
n = other = i = 0
while time.monotonic() < end and n + other < limit:
    # half the same two destinations over and over, half a new port each time
    if i % 2 == 0:
        dst = ("198.18.2.1", 443) if i % 4 == 0 else ("198.18.2.2", 80)
    else:
        dst = ("198.18.2.1", 1024 + (i // 2) % 60000)
    s = socket.socket()
    try:
        s.connect(dst)
        other += 1
    except PermissionError:
        n += 1
    except OSError:
        other += 1
    finally:
        s.close()
    i += 1
print(json.dumps({"denied": n, "other": other}))
"""


def cpu_ticks(pid):
    with open("/proc/%d/stat" % pid) as f:
        v = f.read().rsplit(")", 1)[1].split()
    return int(v[11]) + int(v[12])


def as_nobody_run(d, job, argv, timeout=60):
    for p in (d.tmp, d.run_dir):
        os.chmod(p, 0o711)
    a = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"] + \
        d.run_argv("f", argv, job)
    return subprocess.run(d.world.fence_argv(a), capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL, env=d._env())


@test(timeout=240)
def test_flood_keeps_earlier_spans(ctx):
    d = ctx.daemon({"f": pol(allow=["%s:%d" % ALLOW])})
    # a record made before the flood: an allowed and a denied connect, and a job span
    r = d.run("f", [PY, "-c", REPEAT, ALLOW[0], str(ALLOW[1]), "1"])
    eq(r.rc, 0, "before: %s" % r.err)
    r = d.run("f", [PY, "-c", REPEAT, DENY[0], str(DENY[1]), "1"])
    d.job_span(r.job)
    before = {s.span_id: s for s in d.spans()}
    check(len(before) >= 3, "spans before the flood: %d" % len(before))
    st0 = d.status()
    cpu0 = cpu_ticks(d.pid)
    job = ctx.job_id()
    p = as_nobody_run(d, job, [PY, "-c", FLOOD, "10", "400000"], timeout=120)
    cpu1 = cpu_ticks(d.pid)
    eq(p.returncode, 0, "the flood job: %s" % p.stderr[-600:])
    res = json.loads(p.stdout.strip().splitlines()[-1])
    n = res["denied"]
    check(n > 1000 and res["other"] == 0, "the flood: %r" % res)
    js = d.job_span(job, timeout=30)
    eq(js.get("process.user.id"), 65534, "the flood job's user")
    st = d.status()
    drops = st["ringbuf_drops"] - st0["ringbuf_drops"]
    eq(drops, 0, "records lost to a full ring buffer during the flood (the sum below cannot "
       "hold then)")
    # every span of before is still in the journal, unchanged
    after = {s.span_id: s for s in d.spans()}
    gone = [repr(s) for k, s in before.items() if k not in after]
    eq(gone, [], "spans recorded before the flood that are gone after it")
    eq(st["journal"]["evicted_spans"], 0, "spans evicted by the journal bound")
    eq(d.find("egress.journal"), [], "egress.journal spans")
    # the flood, folded: counts add up to the attempts the job counted
    sp = d.find("egress.connect", job)
    eq(counts(sp), n, "decisions the flood's spans account for")
    by_job = [s for s in sp if s.get("egress.fold") == "job"]
    check(by_job, "no job fold: the flood varied the port %d times" % (n // 2))
    check(all(s.get("egress.fold.destinations") >= 1 and s.get("egress.fold.sample")
              for s in by_job), "job folds name their destinations: %r" % by_job[:2])
    # the bucket (1000, 20 a second), each span at most once more for its
    # repeats, and a job fold per reason per second
    check(len(sp) <= 2 * (1000 + 20 * 12) + 2 * 12, "%d spans for %d refusals: not bounded" % (
        len(sp), n))
    # flagged as a flood
    check("flood" in (js.get("egress.probe.reason") or "").split(","),
          "the job span's probe reasons: %r" % js.get("egress.probe.reason"))
    fl = d.find("egress.probe", job, where={"egress.probe.reason": "flood"})
    eq(len(fl), 1, "egress.probe spans for the flood (once per window)")
    ticks = os.sysconf("SC_CLK_TCK")
    size = sum(len(json.dumps(s.raw)) for s in sp)
    ctx.note("flood: %d refusals in 10 s, %d spans (%d job folds, ~%d KiB of journal), egressd "
             "CPU %.2f s = %.0f ns per decision" % (n, len(sp), len(by_job), size // 1024,
                                                    (cpu1 - cpu0) / ticks,
                                                    (cpu1 - cpu0) / ticks * 1e9 / max(n, 1)))


@test(timeout=120)
def test_journal_eviction_counted_and_recorded(ctx):
    d = ctx.daemon({"f": pol(allow=["%s:%d" % ALLOW])},
                   config={"journal": {"max_file_bytes": 65536, "max_files": 2}})
    first = ctx.job_id()
    r = d.run("f", [PY, "-c", REPEAT, DENY[0], str(DENY[1]), "1"], job_id=first)
    d.job_span(first)
    t0 = time.time_ns()
    # ~400 spans of distinct destinations, under the fold budget (80 a second)
    prog = ("import socket, time\n"
            "for i in range(400):\n"
            "    s = socket.socket()\n"
            "    try: s.connect(('198.18.2.1', 2000 + i))\n"
            "    except PermissionError: pass\n"
            "    s.close(); time.sleep(1 / 80)\n")
    r = d.run("f", [PY, "-c", prog], timeout=60)
    eq(r.rc, 0, "the job: %s" % r.err)
    d.job_span(r.job)
    st = {}

    def evicted():
        st.update(d.status()["journal"])
        return st["evicted_spans"] > 0
    wait_until(evicted, 10, what="journal.evicted_spans in egressctl status")
    check(st["dropped_files"] >= 1, "status journal: %r" % st)
    check(d.find("egress.job", first) == [], "the first job's span is gone (evicted)")
    ev = d.wait_spans("egress.journal")
    last = ev[-1]
    eq(last.get("egress.journal.evicted.total"), st["evicted_spans"],
       "evicted.total of the last egress.journal span vs status")
    eq(last.status_code, 2, "status of egress.journal")
    for s in ev:
        check(s.get("egress.journal.evicted.spans") > 0 and s.get("egress.journal.evicted.files") >= 1,
              "egress.journal %r" % s)
        check(0 < s.get("egress.journal.evicted.first_ns") <= s.get("egress.journal.evicted.last_ns"),
              "egress.journal time range %r" % s)
    # (the earliest egress.journal spans went the same way: the bound keeps 2 files)
    check(sum(s.get("egress.journal.evicted.spans") for s in ev) <= st["evicted_spans"],
          "egress.journal spans account for more than status says")
    check(all(s.get("egress.journal.evicted.last_ns") < time.time_ns() for s in ev) and
          last.get("egress.journal.evicted.first_ns") > t0 - 60 * 10**9, "time ranges %r" % ev)


# ---- refusals of the seccomp fallback, recorded -------------------------------

URING = r"""
import ctypes, json, os, socket
libc = ctypes.CDLL(None, use_errno=True)
params = ctypes.create_string_buffer(120)
r = libc.syscall(425, 4, params)
e = ctypes.get_errno()
try:
    socket.socketpair(5, socket.SOCK_DGRAM)  # AF_APPLETALK
    sp = "ok"
except OSError as x:
    sp = x.errno
print(json.dumps({"uring": r, "errno": e, "socketpair": sp, "pid": os.getpid()}))
"""


@test
def test_seccomp_refusals_recorded(ctx):
    d = ctx.daemon({"t": pol(allow=["%s:%d" % ALLOW])})
    st = d.status()
    check(not st["bpf_lsm"], "this test is for the seccomp fallback (BPF LSM is on here)")
    r = d.run("t", [PY, "-c", URING])
    x = json.loads(r.out)
    eq((x["uring"], x["errno"]), (-1, 1), "io_uring_setup in a job (EPERM)")
    eq(x["socketpair"], 1, "socketpair(AF_APPLETALK) in a job (EPERM)")
    s = d.wait_spans("egress.socket", r.job, where={"egress.reason": "io_uring"})
    eq(len(s), 1, "egress.socket spans for one refused io_uring_setup")
    eq(s[0].get("egress.decision"), "deny", "decision")
    eq(s[0].get("process.pid"), x["pid"], "process.pid")
    eq(s[0].status_code, 2, "status")
    s = d.wait_spans("egress.socket", r.job, where={"egress.reason": "family"})
    eq(len(s), 1, "egress.socket spans for one refused socketpair")


# ---- a socket taken from a process outside the job -----------------------------

# Parent outside the job (run as the user by setpriv: an exec, so it stays
# dumpable, as a runner's shell is): holds a TCP socket to the echo host and
# runs `egressctl run -- STEAL`. The job takes the socket with
# pidfd_getfd() from its parent and writes a secret into it.
STEAL_PARENT = r"""
import json, os, socket, subprocess, sys
argv, child = json.loads(sys.argv[1]), sys.argv[2]
tcp = socket.create_connection(("198.18.1.1", 9000), timeout=5)
p = subprocess.run(argv + [sys.executable, "-c", child, str(os.getpid()), str(tcp.fileno())],
                   capture_output=True, text=True, timeout=60)
tcp.settimeout(1.5)
try:
    got = tcp.recv(4096).decode(errors="replace")
except socket.timeout:
    got = ""
print(json.dumps({"rc": p.returncode, "out": p.stdout, "err": p.stderr, "echo": got}))
"""

STEAL = r"""
import ctypes, json, os, socket, sys
ppid, fd = int(sys.argv[1]), int(sys.argv[2])
libc = ctypes.CDLL(None, use_errno=True)
res = {}
pidfd = libc.syscall(434, ppid, 0)  # pidfd_open
res["pidfd_open"] = pidfd if pidfd >= 0 else -ctypes.get_errno()
if pidfd >= 0:
    nfd = libc.syscall(438, pidfd, fd, 0)  # pidfd_getfd
    res["pidfd_getfd"] = nfd if nfd >= 0 else -ctypes.get_errno()
    if nfd >= 0:
        try:
            os.write(nfd, b"SECRET-stolen")
            res["write"] = "ok"
        except OSError as e:
            res["write"] = -e.errno
print(json.dumps(res))
"""


def steal(ctx, d, policy, uid, argv=None):
    if uid:
        for p in (d.tmp, d.run_dir):
            os.chmod(p, 0o711)
    argv = argv or d.run_argv(policy, [], ctx.job_id())
    who = ["setpriv", "--reuid=%d" % uid, "--regid=%d" % uid, "--clear-groups", "--"] if uid \
        else []
    p = subprocess.run(ctx.world.fence_argv(who + [PY, "-c", STEAL_PARENT, json.dumps(argv),
                                                   STEAL]),
                       capture_output=True, text=True, timeout=90, env=d._env())
    check(p.returncode == 0, "the parent failed: %s" % p.stderr[-800:])
    return json.loads(p.stdout.strip().splitlines()[-1])


@test(timeout=120)
def test_socket_of_parent_not_taken(ctx):
    """pidfd_getfd() on the job's parent (outside the job, same user) would
    hand the job a socket nobody judges: refused, and recorded."""
    d = ctx.daemon({"t": pol(allow=["%s:%d" % ALLOW])})
    check(not d.status()["tamper_protection"]["bpf_lsm"],
          "this test is for the guard (BPF LSM is on here: pidfd_getfd is not refused then)")
    for uid in (0, 65534):
        res = steal(ctx, d, "t", uid, argv=["env", "--"])
        check("SECRET-stolen" in res["echo"], "baseline: unfenced, uid %d could not write "
              "through its parent's socket (%r): the test cannot tell" % (uid, res))
        job = ctx.job_id()
        res = steal(ctx, d, "t", uid, argv=d.run_argv("t", [], job))
        check("SECRET" not in res["echo"], "uid %d: the job wrote through its parent's socket "
              "(%r)" % (uid, res))
        child = json.loads(res["out"].strip().splitlines()[-1])
        eq(child.get("pidfd_getfd"), -1, "uid %d: pidfd_getfd in the job (-EPERM): %r" % (
            uid, child))
        s = d.wait_spans("egress.tamper", job, where={"egress.reason": "tamper_ptrace"})
        eq(s[0].get("egress.tamper.syscall"), "pidfd_getfd", "the tamper span's syscall")
        eq(s[0].get("process.user.id"), uid, "the tamper span's user")


# The job's budget is a bucket of 1000 spans refilled at 20 a second
# (daemon/decisions/fold.h): on a slow runner 1100 decoys may take long enough to be
# all within it, so the job goes on until it has surely gone past it.
DECOYS = r"""
import json, math, socket, sys, time
burst, rate = int(sys.argv[1]), int(sys.argv[2])
ok = 0
t0 = time.monotonic()
while ok < burst + rate * math.ceil(time.monotonic() - t0 + 1) + 50:
    i = ok
    s = socket.socket()
    s.settimeout(5)
    try:
        s.connect(("198.18.%d.%d" % (130 + i // 250, 1 + i % 250), 80))
        ok += 1
    finally:
        s.close()
s = socket.create_connection(("198.18.1.1", 9000), timeout=5)
s.sendall(b"SECRET")
s.recv(100)
s.close()
print(json.dumps({"decoys": ok}))
"""


@test(timeout=120)
def test_decoys_cannot_hide_the_rule_used(ctx):
    """A job spends its span budget on allowed decoys (past 1000 + 20 a
    second), then connects to the one destination that matters: its span (a
    job fold by then) still names that destination's rule, and counts add
    up."""
    d = ctx.daemon({"t": pol(allow=["198.18.128.0/17:80", "198.18.1.1:9000"])})
    r = d.run("t", [PY, "-c", DECOYS, "1000", "20"], timeout=90)
    eq(r.rc, 0, "the job: %s" % r.err)
    n = json.loads(r.out)["decoys"]
    check(1100 <= n < 250 * 120, "decoy connects: %d" % n)
    d.job_span(r.job)
    sp = d.find("egress.connect", r.job)
    eq(counts(sp), n + 1, "decisions accounted for")
    check(any(s.get("egress.fold") == "job" for s in sp), "the decoys went over the budget")
    hit = [s for s in sp if s.get("egress.rule") == "198.18.1.1:9000"]
    eq(len(hit), 1, "spans naming the rule of the connect that mattered: %r" % sp[-3:])
    eq(hit[0].get("egress.decision"), "allow", "its decision")
    check(hit[0].get("egress.fold") != "job" or "198.18.1.1:9000/tcp" in
          (hit[0].get("egress.fold.sample") or []), "its destination: %r" % hit[0])


DNS_FLOOD = r"""
import json, socket, struct, sys
def q(i, name):
    qn = b"".join(bytes([len(l)]) + l.encode() for l in name.split(".")) + b"\0"
    return struct.pack(">HHHHHH", i & 0xffff, 0x0100, 1, 0, 0, 0) + qn + b"\0\1\0\1"
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2)
n = 0
names = ["secret.test"] * 50 + ["x%d.secret.test" % i for i in range(int(sys.argv[1]))]
for i, name in enumerate(names):
    s.sendto(q(i, name), ("198.18.0.53", 53))
    s.recv(512)
    n += 1
print(json.dumps({"sent": n}))
"""


@test(timeout=120)
def test_dns_queries_fold(ctx):
    """A job floods its DNS proxy: repeats fold, distinct names past the
    budget fold by job with a sample of names, and the counts add up."""
    d = ctx.daemon({"t": pol(allow=["ok.test:443"])})
    r = d.run("t", [PY, "-c", DNS_FLOOD, "1200"], timeout=90)
    eq(r.rc, 0, "the job: %s" % r.err)
    sent = json.loads(r.out)["sent"]
    eq(sent, 1250, "queries answered")
    d.job_span(r.job)
    sp = d.find("egress.dns", r.job)
    eq(counts(sp), sent, "queries the egress.dns spans account for")
    rep = [s for s in sp if s.get("egress.fold") == "repeat"]
    check(any(s.get("dns.question.name") == "secret.test" and s.get("egress.count") == 49
              for s in rep), "the 49 repeats of secret.test, folded: %r" % rep[:3])
    job = [s for s in sp if s.get("egress.fold") == "job"]
    check(job and all(s.get("egress.fold.sample") for s in job), "job folds: %r" % job[:2])
    check(any(n.endswith(".secret.test") for s in job for n in s.get("egress.fold.sample")),
          "job folds name their queries: %r" % job[:2])
    check(len(sp) <= 2 * (1000 + 20 * 10) + 20, "%d egress.dns spans for %d queries" % (
        len(sp), sent))
    for s in sp:
        eq(s.get("egress.decision"), "deny", "decision of %r" % s)
