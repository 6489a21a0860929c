"""Attacks on issue 20's additions (per-process trace context, the asking
process on egress.dns spans). Each test asserts the SAFE behaviour, so a
failing test is a finding that still stands."""
import json
import os
import secrets
import shutil
import tempfile
import time

from harness import test, pol, check, eq, PY

POLICY = pol(allow=["198.18.1.1:20000-20999"], deny=[])

# DNS query bytes for NAME, type A
QUERY = r'''
import os, socket, struct
def query(name):
    q = struct.pack(">HHHHHH", os.getpid() & 0xffff, 0x0100, 1, 0, 0, 0)
    for l in name.split("."):
        q += bytes([len(l)]) + l.encode()
    return q + b"\0" + struct.pack(">HH", 1, 1)
'''

# the victim: asks through the fence's redirect (nameserver:53), from a
# fixed local port, then closes its socket and exits
VICTIM = QUERY + r'''
import json, sys
name, port, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", port))
s.settimeout(3)
s.sendto(query(name), ("198.18.0.53", 53))
try:
    s.recv(4096)
except OSError:
    pass
s.close()
json.dump({"pid": os.getpid(), "uid": os.getuid()}, open(out, "w"))
# alive (its socket closed) until the attacker is done
import time
while not os.path.exists(out + ".done"):
    time.sleep(0.05)
'''

# the attacker: learns its job's proxy port from /proc/net/tcp (a redirected
# TCP connect shows its real peer there; getpeername is hidden), then sends
# its own query straight to the proxy from the port the victim used: no
# socket storage, so the wire check notes nothing and the proxy finds the
# victim's stale ef_dns_peer entry
ATTACKER = QUERY + r'''
import json, sys
name, port, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
t = socket.socket()
t.settimeout(3)
t.connect(("198.18.0.53", 53))
lport = t.getsockname()[1]
proxy = None
for line in open("/proc/net/tcp").read().splitlines()[1:]:
    f = line.split()
    la, ra = f[1], f[2]
    if int(la.split(":")[1], 16) == lport and ra.startswith("0100007F:"):
        proxy = int(ra.split(":")[1], 16)
t.close()
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", port))
s.settimeout(3)
s.sendto(query(name), ("127.0.0.1", proxy))
try:
    s.recv(4096)
except OSError:
    pass
json.dump({"pid": os.getpid(), "uid": os.getuid(), "proxy": proxy}, open(out, "w"))
'''


@test
def test_dns_span_cannot_frame_another_process(ctx):
    """A process of a job must not get its DNS query recorded as another
    process's (pid, uid, executable, trace context) by reusing the client
    port that process used (ef_dns_peer is keyed by (job, port, proto) and
    is never cleared)."""
    d = ctx.daemon({"tc": POLICY})
    # a directory the attacker (nobody) can use; removed at the end
    wd = tempfile.mkdtemp(prefix="ef-attack-")
    os.chmod(wd, 0o777)
    try:
        _frame(ctx, d, wd)
    finally:
        shutil.rmtree(wd, ignore_errors=True)


def _frame(ctx, d, wd):
    def path(n):
        return os.path.join(wd, n)
    for n, src in (("victim.py", VICTIM), ("attacker.py", ATTACKER)):
        with open(path(n), "w") as f:
            f.write(src)
        os.chmod(path(n), 0o644)
    vname = "victim-%s.test" % secrets.token_hex(3)
    aname = "evil-%s.test" % secrets.token_hex(3)
    port = 40000 + secrets.randbelow(2000)
    vt = "00-%s-%s-01" % (secrets.token_hex(16), secrets.token_hex(8))
    vout, aout = path("v.json"), path("a.json")
    # the victim as root with its own TRACEPARENT, the attacker as nobody
    script = ("TRACEPARENT=%s %s %s %s %d %s & while [ ! -s %s ]; do sleep 0.05; done; "
              "setpriv --reuid=65534 --regid=65534 --clear-groups %s %s %s %d %s; "
              "touch %s.done; wait" % (
                  vt, PY, path("victim.py"), vname, port, vout, vout,
                  PY, path("attacker.py"), aname, port, aout, vout))
    r = d.run("tc", ["/bin/sh", "-c", script], timeout=60)
    eq(r.rc, 0, "job exit (stderr %s)" % r.err[-400:])
    v, a = json.load(open(vout)), json.load(open(aout))
    check(a.get("proxy"), "the attacker did not find its proxy port")
    (vs,) = d.wait_spans("egress.dns", r.job, where={"dns.question.name": vname})
    eq(vs.get("process.pid"), v["pid"], "the victim's own query names it")
    (s,) = d.wait_spans("egress.dns", r.job, where={"dns.question.name": aname})
    ctx.note("attacker pid %d, victim pid %d; span for the attacker's query: process.pid=%r "
             "trace=%s parent=%s" % (a["pid"], v["pid"], s.get("process.pid"), s.trace_id,
                                     s.parent_id))
    vtrace = vt.split("-")[1]
    check(s.get("process.pid") != v["pid"] and s.trace_id != vtrace,
          "FRAMED: the attacker's query %s (pid %d uid %d) is recorded as the victim's: "
          "process.pid %r, process.user.id %r, trace %s (the victim's TRACEPARENT's: %s)"
          % (aname, a["pid"], a["uid"], s.get("process.pid"), s.get("process.user.id"),
             s.trace_id, s.trace_id == vtrace))


# a TRACESTATE at the W3C maximum: 32 members, 512 characters
def _big_tracestate():
    ts = ",".join("k%02d=%s" % (i, "v" * 11) for i in range(32))
    assert len(ts) == 511
    return ts


@test
def test_tracestate_cannot_push_job_attributes_off(ctx):
    """A process's own TRACESTATE (job-chosen, up to 512 bytes) must not
    push the job's attributes (cicd.*, vcs.*, gen_ai.*) off its decision
    spans: the span's arena is 4096 bytes (daemon/lib/span.h), and the job's
    attributes go on last."""
    d = ctx.daemon({"tc": POLICY})
    attrs = {"cicd.pipeline.name": "p" * 1000, "vcs.repository.url.full": "u" * 1000,
             "cicd.pipeline.run.url.full": "r" * 1000, "cicd.worker.name": "w" * 400,
             "gen_ai.agent.name": "agent-x"}
    ts = _big_tracestate()
    own = "00-%s-%s-01" % (secrets.token_hex(16), secrets.token_hex(8))
    script = ("%s -c 'import socket;s=socket.socket();s.settimeout(2)\ntry: "
              "s.connect((\"198.18.1.1\", %%d))\nexcept OSError: pass'" % PY)
    r = d.run("tc", ["/bin/sh", "-c", (script % 20601) + "; env TRACEPARENT=%s TRACESTATE=%s "
                     % (own, ts) + (script % 20602)], attrs=attrs, timeout=60)
    eq(r.rc, 0, "job exit (stderr %s)" % r.err[-300:])
    plain = d.decision(r.job, "198.18.1.1", 20601)
    mine = d.decision(r.job, "198.18.1.1", 20602)
    eq(mine.raw.get("traceState"), ts, "the process's TRACESTATE carried")
    lost = [k for k in attrs if plain.get(k) is not None and mine.get(k) is None]
    ctx.note("tracestate %d bytes; attrs on the plain span: %s; lost with TRACESTATE: %s"
             % (len(ts), [k for k in attrs if plain.get(k) is not None], lost))
    check(not lost, "job attributes dropped from the span of a process with a %d-byte "
          "TRACESTATE: %s" % (len(ts), lost))


# the hostile job: asks egressd for every job ("jobs" is a read-only op a
# fenced job may make), then connects with TRACEPARENT naming the victim
# job's trace if it learned it, else a trace id it was given (one it could
# have read anywhere: a log, a CI page)
CROSS = r'''
import json, os, secrets, socket, subprocess, sys
ctl, sock, victim, port, fallback, out = sys.argv[1:7]
doc = json.loads(subprocess.run([ctl, "--socket", sock, "jobs", "--json"],
                                capture_output=True, text=True).stdout)
seen = [j["id"] for j in doc["jobs"]]
learned = [j["trace_id"] for j in doc["jobs"] if j["id"] == victim]
trace = learned[0] if learned else fallback
tp = "00-%s-%s-01" % (trace, secrets.token_hex(8))
code = ("import socket\ns=socket.socket();s.settimeout(2)\n"
        "try: s.connect(('198.18.1.1', %d))\nexcept OSError: pass" % int(port))
subprocess.run([sys.executable, "-c", code], env=dict(os.environ, TRACEPARENT=tp))
json.dump({"seen": seen, "learned": bool(learned), "trace": trace}, open(out, "w"))
'''


@test
def test_job_cannot_put_decisions_into_another_jobs_trace(ctx):
    """Another job's trace id is not the job's to learn (`egressctl jobs` from
    inside a job shows that job alone); one it claims anyway (read elsewhere)
    is no silent gap: the span links back to its own job span, and the job
    span counts the spans put elsewhere (egress.trace.elsewhere)."""
    d = ctx.daemon({"tc": POLICY})
    victim = d.spawn("tc", ["/bin/sleep", "60"])
    vtrace = None
    for _ in range(50):
        vtrace = ([j.get("trace_id") for j in d.jobs() if j.get("id") == victim.job] or
                  [None])[0]
        if vtrace:
            break
        time.sleep(0.1)
    check(vtrace, "the victim job never showed in `egressctl jobs`")
    with open(ctx.path("cross.py"), "w") as f:
        f.write(CROSS)
    out = ctx.path("cross.json")
    r = d.run("tc", [PY, ctx.path("cross.py"), d.egressctl, d.sock, victim.job, "20701",
                     vtrace, out])
    eq(r.rc, 0, "job exit (stderr %s)" % r.err[-400:])
    with open(out) as f:
        got = json.load(f)
    d.ctl("kill", victim.job)
    victim.wait()
    eq(got["seen"], [r.job], "jobs a job sees with `egressctl jobs`")
    check(not got["learned"], "the hostile job learned the victim's trace id")
    s = d.decision(r.job, "198.18.1.1", 20701)
    js = d.job_span(r.job)
    eq(s.trace_id, vtrace, "the claimed trace (a process may name any)")
    eq(s.get("egress.job.id"), r.job, "egress.job.id is the hostile job's")
    links = s.raw.get("links") or []
    eq([(l.get("traceId"), l.get("spanId")) for l in links], [(js.trace_id, js.span_id)],
       "the span's link back to its own job span")
    eq(js.get("egress.trace.elsewhere"), 1, "the job span's count of spans put elsewhere")
