"""Issue 20: each process's own trace context. A process of a job exec'd
with a TRACEPARENT other than the job's has its decisions (and its DNS
queries) recorded under that span, in that trace, with its TRACESTATE;
grandchildren inherit it; what a process does to its environment after exec
changes nothing; malformed values leave the job span the parent."""
import json
import os
import secrets
import time

from harness import test, pol, check, eq, PY, PROBE
import otlp

# every port of one test host: a connect that meets no listener is still
# allowed and recorded
POLICY = pol(allow=["198.18.1.1:20000-20999"], deny=[])

# the job's command: runs each child of the spec with its own environment,
# writes {tag: pid} to OUT. Children connect to 198.18.1.1:PORT.
DRIVER = r'''
import json, os, socket, subprocess, sys
PY, PROBE, SPEC, OUT = sys.argv[1:5]
spec = json.load(open(SPEC))
pids = {}
for c in spec:
    env = {k: v for k, v in os.environ.items() if k not in ("TRACEPARENT", "TRACESTATE")}
    env.update(c.get("env", {}))
    p = subprocess.Popen([PY, __file__.replace("driver.py", "child.py"), OUT + "." + c["tag"]]
                         + c["argv"], env=env)
    p.wait()
    pids[c["tag"]] = json.load(open(OUT + "." + c["tag"]))
json.dump(pids, open(OUT, "w"))
'''

# one child: MODE and its ports. Writes its pids (and its children's).
CHILD = r'''
import ctypes, json, os, socket, subprocess, sys
out, mode, args = sys.argv[1], sys.argv[2], sys.argv[3:]
PY = "/usr/bin/python3"

def connect(port):
    s = socket.socket()
    s.settimeout(3)
    try:
        s.connect(("198.18.1.1", int(port)))
    except OSError:
        pass
    s.close()

res = {"pid": os.getpid()}
if mode == "connect":
    connect(args[0])
elif mode == "tree":
    # itself, a fork without exec, and a grandchild (fork + exec)
    connect(args[0])
    pid = os.fork()
    if pid == 0:
        connect(args[1])
        os._exit(0)
    os.waitpid(pid, 0)
    res["fork"] = pid
    p = subprocess.Popen([PY, "-c", "import socket,sys,os\n"
                          "s=socket.socket();s.settimeout(3)\n"
                          "try: s.connect(('198.18.1.1', %d))\n"
                          "except OSError: pass\n"
                          "print(os.getpid())" % int(args[2])], stdout=subprocess.PIPE, text=True)
    res["exec"] = int(p.communicate()[0])
elif mode == "rewrite":
    # what an environ reader would see changes: the env block itself is
    # overwritten in place, and os.environ (putenv) too
    new = args[1].encode()
    libc = ctypes.CDLL(None)
    libc.getenv.restype = ctypes.c_void_p
    at = libc.getenv(b"TRACEPARENT")
    ctypes.memmove(at, new, len(new))
    os.environ["TRACEPARENT"] = args[1]
    with open("/proc/self/environ", "rb") as f:
        res["environ_shows_new"] = (b"TRACEPARENT=" + new) in f.read()
    connect(args[0])
elif mode == "refused":
    # a raw socket (egress.socket) and bpf() (egress.tamper), both refused
    try:
        socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP).close()
    except OSError as e:
        res["raw"] = e.errno
    libc = ctypes.CDLL(None, use_errno=True)
    res["bpf"] = libc.syscall(321, 0, None, 0)  # BPF_MAP_CREATE, no attr
elif mode == "dns":
    # a UDP and a TCP query through the probe, in this process's context
    for extra in ([], ["--tcp"]):
        r = subprocess.run([PY, args[0], "dns-query", args[1 + (1 if extra else 0)],
                            "--server", "198.18.0.53"] + extra, capture_output=True, text=True)
        res.setdefault("queries", []).append(json.loads(r.stdout.splitlines()[0]))
json.dump(res, open(out, "w"))
'''


def tp():
    t, s = secrets.token_hex(16), secrets.token_hex(8)
    return "00-%s-%s-01" % (t, s), t, s


def run_tree(ctx, d, spec, policy="tc"):
    drv = ctx.path("driver.py")
    with open(drv, "w") as f:
        f.write(DRIVER)
    with open(ctx.path("child.py"), "w") as f:
        f.write(CHILD)
    sp = ctx.path("spec.json")
    with open(sp, "w") as f:
        json.dump(spec, f)
    out = ctx.path("pids.json")
    r = d.run(policy, [PY, drv, PY, PROBE, sp, out], timeout=120)
    eq(r.rc, 0, "the driver's exit status (stderr %s)" % r.err[-400:])
    with open(out) as f:
        return r.job, json.load(f)


def at(d, job, port):
    return d.decision(job, "198.18.1.1", port)


def under(s, trace, parent, what):
    eq(s.trace_id, trace, "%s: trace id" % what)
    eq(s.parent_id, parent, "%s: parent span id" % what)


@test
def test_process_traceparent(ctx):
    d = ctx.daemon({"tc": POLICY})
    a, ta, sa = tp()
    b, tb, sb = tp()
    c, tc, sc = tp()
    x, _, _ = tp()
    spec = [
        {"tag": "none", "argv": ["connect", "20001"]},
        {"tag": "a", "argv": ["connect", "20002"],
         "env": {"TRACEPARENT": a, "TRACESTATE": "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"}},
        {"tag": "b", "argv": ["tree", "20003", "20004", "20005"], "env": {"TRACEPARENT": b}},
        {"tag": "c", "argv": ["rewrite", "20006", x], "env": {"TRACEPARENT": c}},
    ]
    job, pids = run_tree(ctx, d, spec)
    js = d.job_span(job)
    # without one of its own: under the job span, as before
    s = at(d, job, 20001)
    under(s, js.trace_id, js.span_id, "a process without TRACEPARENT")
    eq(s.get("process.pid"), pids["none"]["pid"], "its pid")
    # its own: its span, its trace, its tracestate; the job's id and attributes kept
    s = at(d, job, 20002)
    under(s, ta, sa, "a process exec'd with its own TRACEPARENT")
    eq(s.raw.get("traceState"), "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE", "its TRACESTATE")
    eq(s.get("egress.job.id"), job, "egress.job.id kept")
    eq(s.get("egress.policy.name"), "tc", "the job's policy kept")
    # the job's own TRACEPARENT (egressctl run's) leaves the job span the parent
    check(not js.raw.get("traceState"), "the job span has no tracestate: %s" % js.raw)
    # a fork without exec, and a grandchild through exec, inherit
    for port, who in ((20003, "pid"), (20004, "fork"), (20005, "exec")):
        s = at(d, job, port)
        under(s, tb, sb, "process b's %s" % who)
        eq(s.get("process.pid"), pids["b"][who], "b's %s pid" % who)
    # an environment rewritten after exec changes nothing
    check(pids["c"]["environ_shows_new"], "the rewrite did not reach /proc/self/environ: "
          "the test proves nothing")
    under(at(d, job, 20006), tc, sc, "a process that rewrote its environment after exec")


BAD = [
    ("upper", lambda t, s: "00-%s-%s-01" % (t.upper(), s)),
    ("short", lambda t, s: "00-%s-%s-01" % (t[:-1], s)),
    ("long00", lambda t, s: "00-%s-%s-01-x" % (t, s)),
    ("zero-trace", lambda t, s: "00-%s-%s-01" % ("0" * 32, s)),
    ("zero-span", lambda t, s: "00-%s-%s-01" % (t, "0" * 16)),
    ("version-ff", lambda t, s: "ff-%s-%s-01" % (t, s)),
    ("not-hex", lambda t, s: "00-%s-%s-0g" % (t, s)),
    ("64k", lambda t, s: "00-%s-%s-01" % (t, s) + "a" * 65536),
    ("empty", lambda t, s: ""),
    ("no-dashes", lambda t, s: "00_%s_%s_01" % (t, s)),
]


@test
def test_malformed_traceparent_ignored(ctx):
    d = ctx.daemon({"tc": POLICY})
    spec = []
    for i, (tag, make) in enumerate(BAD):
        spec.append({"tag": tag, "argv": ["connect", str(20100 + i)],
                     "env": {"TRACEPARENT": make(secrets.token_hex(16), secrets.token_hex(8))}})
    # a valid TRACEPARENT with a malformed TRACESTATE: the parent holds, the
    # state is dropped
    good, tg, sg = tp()
    bad_states = ["Upper=1", "a=" + "b" * 600, "k=v,=x", "k=v\x01", ",".join(
        "k%d=v" % i for i in range(33))]
    for i, ts in enumerate(bad_states):
        spec.append({"tag": "ts%d" % i, "argv": ["connect", str(20200 + i)],
                     "env": {"TRACEPARENT": good, "TRACESTATE": ts}})
    job, pids = run_tree(ctx, d, spec)
    js = d.job_span(job)
    for i, (tag, _) in enumerate(BAD):
        under(at(d, job, 20100 + i), js.trace_id, js.span_id, "TRACEPARENT %s" % tag)
    for i, ts in enumerate(bad_states):
        s = at(d, job, 20200 + i)
        under(s, tg, sg, "valid TRACEPARENT with TRACESTATE %r" % ts[:20])
        check(not s.raw.get("traceState"), "malformed TRACESTATE %r carried: %r" % (
            ts[:20], s.raw.get("traceState")))
    st = d.status()
    check(d.alive(), "egressd died")
    eq(st.get("trace_context", {}).get("malformed"), len(BAD) - 1,
       "malformed TRACEPARENTs counted (status trace_context.malformed; the empty one "
       "is none): %s" % st.get("trace_context"))


@test
def test_dns_spans_name_the_process(ctx):
    d = ctx.daemon({"tc": POLICY})
    a, ta, sa = tp()
    n1, n2 = "who-%s.test" % secrets.token_hex(3), "who-%s.test" % secrets.token_hex(3)
    spec = [{"tag": "dns", "argv": ["dns", PROBE, n1, n2], "env": {"TRACEPARENT": a}}]
    job, pids = run_tree(ctx, d, spec)
    queries = pids["dns"]["queries"]
    for name, transport, q in ((n1, "udp", queries[0]), (n2, "tcp", queries[1])):
        (s,) = d.wait_spans("egress.dns", job, where={"dns.question.name": name})
        eq(s.get("egress.dns.transport"), transport, "transport of %s" % name)
        eq(s.get("process.pid"), q["pid"], "egress.dns (%s) process.pid: the probe's" % transport)
        check((s.get("process.executable.name") or "").startswith("python"),
              "process.executable.name %r" % s.get("process.executable.name"))
        check((s.get("process.executable.path") or "").startswith("/usr/bin/python"),
              "process.executable.path %r" % s.get("process.executable.path"))
        # the probe inherited the child's TRACEPARENT through exec
        under(s, ta, sa, "egress.dns (%s) of a process with its own TRACEPARENT" % transport)


@test
def test_receiver_gets_the_same_parentage(ctx):
    r = otlp.Receiver(ctx).start()
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": r.base, "OTEL_TRACES_EXPORTER": "otlp"}
    d = ctx.daemon({"tc": POLICY}, env=env)
    a, ta, sa = tp()
    spec = [{"tag": "a", "argv": ["connect", "20301"],
             "env": {"TRACEPARENT": a, "TRACESTATE": "vendor=v1"}},
            {"tag": "none", "argv": ["connect", "20302"]}]
    job, _ = run_tree(ctx, d, spec)
    js = d.job_span(job)
    mine, plain = at(d, job, 20301), at(d, job, 20302)
    got = {s.span_id: s for s in r.wait_spans([mine.span_id, plain.span_id, js.span_id])}
    under(got[mine.span_id], ta, sa, "received decision of a process with its own TRACEPARENT")
    eq(got[mine.span_id].raw.get("traceState"), "vendor=v1", "received traceState")
    under(got[plain.span_id], js.trace_id, js.span_id, "received decision without one")


@test
def test_jobs_own_traceparent_costs_no_record(ctx):
    """Every process of a job inherits the job's TRACEPARENT from egressctl
    run: those execs write no record (the kernel side knows the job's own,
    ef_job_tp); one with its own writes two, its exec and its exit."""
    d = ctx.daemon({"tc": POLICY})
    before = d.status()["trace_context"]["records"]
    r = d.run("tc", ["/bin/sh", "-c", "for i in 1 2 3 4 5 6 7 8 9 10; do /bin/true; done"])
    eq(r.rc, 0, "the job's exit status")
    d.job_span(r.job)
    eq(d.status()["trace_context"]["records"], before,
       "records for 11 execs that inherited the job's TRACEPARENT")
    own, _, _ = tp()
    r = d.run("tc", ["/usr/bin/env", "TRACEPARENT=" + own, "/bin/true"])
    d.job_span(r.job)
    eq(d.status()["trace_context"]["records"], before + 2,
       "records for one exec with its own: its exec and its exit")


@test
def test_security_rule_attributes(ctx):
    """Decision spans carry OpenTelemetry's security_rule.* beside egress.*:
    the rule's text, the policy, and its version (the hash of its text: the
    same for the same text, another after an edit)."""
    d = ctx.daemon({"tc": POLICY})
    r = d.run("tc", [PY, PROBE, "connect", "198.18.1.1:20401", "198.18.2.9:443"])
    s = at(d, r.job, 20401)
    eq(s.get("security_rule.name"), "198.18.1.1:20000-20999", "security_rule.name")
    eq(s.get("security_rule.name"), s.get("egress.rule"), "security_rule.name is egress.rule")
    eq(s.get("security_rule.ruleset.name"), "tc", "security_rule.ruleset.name")
    v1 = s.get("security_rule.version")
    check(v1 and len(v1) == 16 and int(v1, 16) >= 0, "security_rule.version %r" % v1)
    # a refusal no rule made: the policy, no rule
    s = d.decision(r.job, "198.18.2.9", 443)
    eq(s.get("security_rule.ruleset.name"), "tc", "ruleset of a refusal")
    eq(s.get("security_rule.version"), v1, "version of the same policy")
    check(s.get("security_rule.name") is None, "no rule matched, yet security_rule.name %r" %
          s.get("security_rule.name"))
    # DNS spans too
    name = "rule-%s.test" % secrets.token_hex(3)
    r2 = d.run("tc", [PY, PROBE, "dns-query", name, "--server", "198.18.0.53"])
    (s,) = d.wait_spans("egress.dns", r2.job, where={"dns.question.name": name})
    eq(s.get("security_rule.ruleset.name"), "tc", "ruleset on egress.dns")
    eq(s.get("security_rule.version"), v1, "version on egress.dns")
    # another text, another version
    d.policy("tc", allow=["198.18.1.1:20000-20998"])
    r3 = d.run("tc", [PY, PROBE, "connect", "198.18.1.1:20402"])
    s = at(d, r3.job, 20402)
    check(s.get("security_rule.version") not in (None, v1),
          "an edited policy keeps version %r" % v1)


@test
def test_gen_ai_attributes_from_env(ctx):
    d = ctx.daemon({"tc": POLICY})
    # the explicit variables
    r = d.run("tc", ["/bin/true"], env={"GEN_AI_AGENT_NAME": "claude-code",
                                        "GEN_AI_AGENT_ID": "agent-7",
                                        "GEN_AI_CONVERSATION_ID": "conv-42"})
    js = d.job_span(r.job)
    eq(js.get("gen_ai.agent.name"), "claude-code", "GEN_AI_AGENT_NAME")
    eq(js.get("gen_ai.agent.id"), "agent-7", "GEN_AI_AGENT_ID")
    eq(js.get("gen_ai.conversation.id"), "conv-42", "GEN_AI_CONVERSATION_ID")
    # the SDK's variable, %-decoded and trimmed; the explicit one wins; --attr wins over all
    r = d.run("tc", ["/bin/true"], attrs={"gen_ai.agent.id": "from-attr"},
              env={"OTEL_RESOURCE_ATTRIBUTES":
                   "service.name=x, gen_ai.agent.name = codex%2Cv2 ,gen_ai.agent.id=res-id,"
                   "gen_ai.conversation.id=c%3D1",
                   "GEN_AI_CONVERSATION_ID": "explicit"})
    js = d.job_span(r.job)
    eq(js.get("gen_ai.agent.name"), "codex,v2", "gen_ai.agent.name from OTEL_RESOURCE_ATTRIBUTES")
    eq(js.get("gen_ai.agent.id"), "from-attr", "--attr wins")
    eq(js.get("gen_ai.conversation.id"), "explicit", "GEN_AI_CONVERSATION_ID wins")
    # decisions carry them as they carry the job's other attributes
    r = d.run("tc", [PY, PROBE, "connect", "198.18.1.1:20501"],
              env={"GEN_AI_AGENT_NAME": "claude-code"})
    eq(at(d, r.job, 20501).get("gen_ai.agent.name"), "claude-code", "on a decision")
    # bad values: a broken %-escape, an encoded NUL, empty: nothing; long: cut
    r = d.run("tc", ["/bin/true"], env={
        "OTEL_RESOURCE_ATTRIBUTES": "gen_ai.agent.name=bad%zz,gen_ai.agent.id=nul%00x,"
                                    "gen_ai.conversation.id=",
        "GEN_AI_AGENT_NAME": ""})
    js = d.job_span(r.job)
    for k in ("gen_ai.agent.name", "gen_ai.agent.id", "gen_ai.conversation.id"):
        check(js.get(k) is None, "%s from a malformed value: %r" % (k, js.get(k)))
    r = d.run("tc", ["/bin/true"], env={"GEN_AI_AGENT_NAME": "é" * 2000})
    eq(r.rc, 0, "a long GEN_AI_AGENT_NAME does not fail the job: %s" % r.err[-300:])
    v = d.job_span(r.job).get("gen_ai.agent.name")
    check(v and len(v.encode()) <= 1024 and v == "é" * len(v), "cut on a character: %r" %
          (v or "")[:20])


@test
def test_contexts_of_exited_processes_go(ctx):
    """egressd holds the contexts of live processes only: a process's exit
    lets it go (its last thread's), long before its job ends."""
    d = ctx.daemon({"tc": POLICY})
    own, _, _ = tp()
    ready, release = ctx.path("ready"), ctx.path("release")
    # the waiter forks nothing (a shell loop's sleeps would be contexts too)
    script = ("env TRACEPARENT=%s %s -c 'import os, time\nwhile not os.path.exists(\"%s\"): "
              "time.sleep(0.1)' & for i in 1 2 3 4 5; do env TRACEPARENT=%s /bin/true; done; "
              "touch %s; wait; sleep 60" % (own, PY, release, own, ready))
    bg = d.spawn("tc", ["/bin/sh", "-c", script])
    for _ in range(100):
        if os.path.exists(ready):
            break
        time.sleep(0.1)
    check(os.path.exists(ready), "the job never got ready: %r" % (bg.output(),))
    time.sleep(0.5)
    eq(d.status()["trace_context"]["processes"], 1,
       "contexts held while one of six processes with its own lives")
    open(release, "w").close()
    deadline = time.time() + 10
    while d.status()["trace_context"]["processes"] and time.time() < deadline:
        time.sleep(0.1)
    eq(d.status()["trace_context"]["processes"], 0, "contexts held after all six exited")
    check(d.job(bg.job), "the job is still running")
    d.ctl("kill", bg.job)
    bg.wait()


@test
def test_refusals_under_the_process_span(ctx):
    """Socket and tamper spans of a process with its own TRACEPARENT are its
    span's children too."""
    d = ctx.daemon({"tc": pol(allow=["198.18.1.1:20000-20999"], deny=[],
                              capabilities=["NET_RAW"])})
    a, ta, sa = tp()
    job, pids = run_tree(ctx, d, [{"tag": "r", "argv": ["refused"], "env": {"TRACEPARENT": a}}])
    eq(pids["r"].get("raw"), 1, "the raw socket refused with EPERM: %s" % pids["r"])
    (s,) = d.wait_spans("egress.socket", job)
    under(s, ta, sa, "egress.socket of a process with its own TRACEPARENT")
    eq(s.get("process.pid"), pids["r"]["pid"], "egress.socket process.pid")
    t = d.wait_spans("egress.tamper", job, where={"egress.reason": "tamper_bpf"})
    for s in t:
        under(s, ta, sa, "egress.tamper of a process with its own TRACEPARENT")
        eq(s.get("egress.job.id"), job, "egress.tamper keeps the job id")


@test
def test_repeats_of_a_process_with_its_own_context_fold(ctx):
    """Repeats fold whatever records came before them: an exec record is of
    another size than a decision's, so once the ring has wrapped, decisions
    after it land on other records' old bytes; the fold's key must not read
    past the executable's name (it did: a connect storm of one process took
    the job's whole budget of spans instead of a few)."""
    d = ctx.daemon({"tc": POLICY})
    own, _, _ = tp()
    bench = os.path.join(ctx.build, "bench", "ef_bench")
    check(os.access(bench, os.X_OK), "%s is missing (make builds it)" % bench)
    # the ring full of one storm's records (8 MiB), then another storm after
    # an exec record: its decisions land on the first one's bytes, shifted
    r = d.run("tc", [bench, "storm", "198.18.1.1", "20800", "3"], timeout=120)
    eq(r.rc, 0, "the first storm's exit status (stderr %s)" % r.err[-300:])
    r = d.run("tc", ["/usr/bin/env", "TRACEPARENT=" + own, bench, "storm", "198.18.1.1",
                     "20801", "3"], timeout=120)
    eq(r.rc, 0, "the storm's exit status (stderr %s)" % r.err[-300:])
    n = json.loads(r.out.strip().splitlines()[-1])["connects"]
    check(n > 40000, "the storm made %d connects: too few to wrap the ring" % n)
    d.job_span(r.job)
    spans = d.find("egress.connect", r.job, where={"network.peer.port": 20801})
    eq(sum(s.get("egress.count") or 1 for s in spans), n, "decisions the spans stand for")
    check(len(spans) <= 20, "%d repeats of one process took %d spans" % (n, len(spans)))
