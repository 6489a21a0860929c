#!/usr/bin/python3
"""make demo: a demo agent job, fenced with the built-in defaults.

Builds a small world with no route out (two network namespaces joined by a
veth pair: the fence's, and one of made-up hosts in 198.18.0.0/15 and
2001:db8::/32), starts an OTLP/HTTP receiver on the fence side's loopback
(tests/integration/otlp_receiver.py, port 4318) and egressd with its default
settings but private directories, exporting to that receiver. Runs
deploy/demo_agent.py under deploy/policies/demo-agent.json with `egressctl
run`: the agent traces itself (an invoke_agent span, an execute_tool span
per tool call, each tool call a process started with TRACEPARENT naming its
span) and sends its spans to the same receiver, which the policy lets it
reach. Then prints the job's trace as a waterfall: the job's span, the
agent's, its tool calls, and under each the fence's decisions. Leaves
nothing behind.

    demo.py [--build DIR] [--html FILE]   --html: also write egressctl report's
                                          HTML page of the job, nested (--spans)
"""
import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
import world as W  # noqa: E402

RECEIVER = os.path.join(ROOT, "tests", "integration", "otlp_receiver.py")
PROTO_PY = os.path.join(ROOT, "build", "otlp-proto", "py")
OTLP_PORT = 4318  # the fence ns is the demo's own: the standard port is free
WIDTH = 100
TOOLS = ("npm", "git", "curl", "bash")  # demo_agent.py's tools, run as copies of python


def wait_for(pred, timeout, step=0.1):
    deadline = time.time() + timeout
    while not pred() and time.time() < deadline:
        time.sleep(step)
    return pred()


def attrs_of(sp):
    return {x["key"]: W.otlp_value(x["value"]) for x in sp.get("attributes") or []}


def received(path):
    """the requests the receiver decoded and accepted"""
    out = []
    if not os.path.exists(path):
        return out
    with open(path) as f:
        for line in f:
            if line.endswith("\n"):
                r = json.loads(line)
                if r.get("request") and r["status"] // 100 == 2:
                    out.append(r["request"])
    return out


def spans_of(requests):
    return [sp for req in requests for rs in req.get("resourceSpans", [])
            for ss in rs.get("scopeSpans", []) for sp in ss.get("spans", [])]


# -- the waterfall -------------------------------------------------------------

def shown(v, none="-"):
    """a value as the table shows it: what a span lacks is `none`, never
    Python's None"""
    return none if v is None or v == "" else str(v)


def dest_of(sp, a):
    n = sp["name"]
    if n == "egress.dns":
        t = a.get("egress.dns.type")
        return shown(a.get("dns.question.name"), "?") + (" (%s)" % t if t else "")
    if n == "egress.probe":
        return ",".join(a.get("egress.probe.targets") or []) or shown(
            a.get("egress.probe.subject"), "")
    if n == "egress.tamper":
        return shown(a.get("egress.tamper.syscall") or a.get("egress.tamper.via"), "")
    if "network.peer.address" in a:
        host = shown(a.get("server.address") or a.get("network.peer.address"), "?")
        host = "[%s]" % host if ":" in host else host
        port, proto = a.get("network.peer.port"), a.get("network.transport")
        return "%s%s%s" % (host, "" if port is None else ":%s" % port,
                           "" if proto in ("tcp", None) else "/%s" % proto)
    if n == "egress.socket" and a.get("egress.reason") == "io_uring":
        return "io_uring"
    fam, typ = a.get("egress.socket.family"), a.get("egress.socket.type")
    return "socket(%s)" % ", ".join(shown(x, "?") for x in (fam, typ) if x is not None) \
        if fam is not None or typ is not None else "socket"


def process_text(a, kind):
    """name[pid] of the process a decision is about: the name the kernel's
    record gave (process.executable.name, its executable's or its comm), or
    the last part of the executable's path; "pid N" if the span has neither"""
    if "process.pid" not in a:
        return "(the DNS proxy)" if kind == "dns" else ""
    name = a.get("process.executable.name") or \
        os.path.basename(a.get("process.executable.path") or "") or a.get("process.command")
    pid = shown(a.get("process.pid"), "?")
    return "%s[%s]" % (name, pid) if name else "pid %s" % pid


def cut(s, n):
    s = str(s)
    return s if len(s) <= n else s[:max(n - 1, 0)] + "~"


HEAD = 11  # "  +12.345s "
DEST = 34


def decision_text(sp, a, depth, max_depth):
    """DECISION KIND DESTINATION REASON PROCESS, the columns after the
    decision aligned whatever the depth"""
    if sp["name"] == "egress.probe":
        dec, why = "FLAGGED", a.get("egress.probe.reason")
    else:
        dec, why = a.get("egress.decision"), a.get("egress.reason")
    kind = sp["name"][len("egress."):]
    left = ("  " * depth + shown(dec)).ljust(2 * max_depth + 8)
    return "%s%-8s%s %-13s %s" % (left, kind, cut(dest_of(sp, a), DEST).ljust(DEST),
                                  cut(shown(why), 13), process_text(a, kind))


def span_text(sp, a):
    n = sp["name"]
    dur = (int(sp["endTimeUnixNano"]) - int(sp["startTimeUnixNano"])) / 1e9
    if n == "egress.job":
        return "%s %s  %.3fs  policy %s: %s decisions, %s denied" % (
            n, shown(a.get("egress.job.id"), "?"), dur, shown(a.get("egress.policy.name"), "?"),
            shown(a.get("egress.decisions"), "?"), shown(a.get("egress.denied"), "?"))
    extra = a.get("gen_ai.tool.call.id") or a.get("gen_ai.conversation.id") or ""
    return "%s  %.3fs  %s" % (n, dur, extra)


def is_decision(sp):
    return sp["name"].startswith("egress.") and sp["name"] != "egress.job"


def waterfall(spans, job):
    """The job's trace as lines: each span, then its children by start time
    (spans indented under their parent, decisions under the span their
    process's TRACEPARENT named), as a tracing UI's waterfall. Links are
    followed from the job down, each span once: a span off the job's tree
    is not shown (returned as lost), a cycle cannot loop."""
    t0 = int(job["startTimeUnixNano"])
    kids = {}
    for sp in spans:
        kids.setdefault(sp.get("parentSpanId") or "", []).append(sp)
    rows, seen = [], set()

    def walk(sp, depth):
        seen.add(sp["spanId"])
        rows.append((sp, depth))
        if is_decision(sp):
            return
        for c in sorted(kids.get(sp["spanId"], []), key=lambda s: int(s["startTimeUnixNano"])):
            if c["spanId"] not in seen:
                walk(c, depth + 1)

    walk(job, 0)
    deepest = max([d for sp, d in rows if is_decision(sp)] or [0])
    lines = []
    for sp, depth in rows:
        a = attrs_of(sp)
        head = ("  +%.3fs" % ((int(sp["startTimeUnixNano"]) - t0) / 1e9)).ljust(HEAD)
        body = decision_text(sp, a, depth, deepest) if is_decision(sp) else \
            "  " * depth + span_text(sp, a)
        lines.append(cut(head + body, WIDTH))
    lost = [sp for sp in spans if sp["spanId"] not in seen and is_decision(sp)]
    return lines, lost


def print_trace(spans, job):
    lines, lost = waterfall(spans, job)
    print("the job's trace %s: each span (duration, and its" % job["traceId"])
    print("call or conversation id), and under it the fence's decisions: a process's land under")
    print("the span its TRACEPARENT named (the agent's own under the job, a tool's under its call)")
    print("%-*s%s" % (HEAD, "  START", "SPAN | DECISION  KIND  DESTINATION  REASON  PROCESS"))
    for line in lines:
        print(line)
    for sp in lost:
        print("  (not under the job's span: %s %s, parent %s)" % (
            sp["name"], dest_of(sp, attrs_of(sp)), shown(sp.get("parentSpanId"), "none")))


# -- the run -------------------------------------------------------------------

def tool_copies(d):
    """copies of python named as the tools, so that the fence's records
    (process.executable.name) say which tool decided"""
    os.makedirs(d)
    for t in TOOLS:
        shutil.copy(os.path.realpath(W.PY), os.path.join(d, t))
    return d


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build/normal")
    ap.add_argument("--html", metavar="FILE", help="write egressctl report's HTML page here")
    args = ap.parse_args()
    build = os.path.abspath(args.build)
    if os.geteuid() != 0:
        sys.exit("make demo: run as root (BPF programs, cgroups and network namespaces)")
    if not os.path.exists(os.path.join(PROTO_PY, "trace_service_pb2.py")):
        sys.exit("make demo: %s is missing: run `make` (it compiles the OTLP schema the "
                 "demo's receiver decodes with)" % PROTO_PY)
    W.ensure_bpffs()
    world = W.World().up()
    tmp = tempfile.mkdtemp(prefix="ef-demo-")
    pol = os.path.join(tmp, "policies")
    os.makedirs(pol)
    shutil.copy(os.path.join(HERE, "policies", "demo-agent.json"), pol)
    cfg = os.path.join(tmp, "egressd.json")
    endpoint = "http://127.0.0.1:%d" % OTLP_PORT
    with open(cfg, "w") as f:  # the world's resolver; the host's is never used
        json.dump({"dns": {"upstream": [W.DNS_V4]},
                   "otlp": {"endpoint": endpoint, "protocol": "http/json",
                            "schedule_delay_ms": 100}}, f)
    dirs = ["--policy-dir", pol, "--state-dir", tmp + "/state", "--run-dir", tmp + "/run",
            "--cgroup-root", os.path.join(W.cgroup2_mount(), "ef-demo-" + world.tag),
            "--bpffs-dir", "/sys/fs/bpf/ef-demo-" + world.tag, "--config", cfg]
    sock = tmp + "/run/control.sock"
    out = tmp + "/otlp-requests.jsonl"
    daemon = receiver = None
    try:
        log = open(tmp + "/egressd.log", "w")
        receiver = subprocess.Popen(world.fence_argv(
            [W.PY, RECEIVER, "--proto-py", PROTO_PY, "--out", out, "--port-file",
             tmp + "/otlp.port", "--port", str(OTLP_PORT)]), stdout=log, stderr=log,
            stdin=subprocess.DEVNULL)
        if not wait_for(lambda: os.path.exists(tmp + "/otlp.port"), 10):
            sys.exit("make demo: the OTLP receiver did not start (%s)" % (tmp + "/egressd.log"))
        daemon = subprocess.Popen(world.fence_argv([build + "/egressd"] + dirs), stdout=log,
                                  stderr=log, stdin=subprocess.DEVNULL)
        wait_for(lambda: os.path.exists(sock), 10)
        print("OTLP/HTTP receiver on %s (egressd exports there; so does the agent)" % endpoint)
        print("$ egressctl run --policy demo-agent --job-id demo -- deploy/demo_agent.py")
        env = dict(os.environ, OTEL_EXPORTER_OTLP_ENDPOINT=endpoint,
                   EF_DEMO_TOOLS=tool_copies(os.path.join(tmp, "tools")))
        env.pop("TRACEPARENT", None)  # the job starts a trace of its own
        r = subprocess.run(world.fence_argv([build + "/egressctl", "--socket", sock, "run",
                                             "--policy", "demo-agent", "--job-id", "demo",
                                             "--attr", "gen_ai.agent.name=demo-agent", "--",
                                             W.PY, os.path.join(HERE, "demo_agent.py")]),
                           env=env)
        print("(exit status %d)\n" % r.returncode)

        def job_span(spans):
            return next((sp for sp in spans if sp["name"] == "egress.job"), None)

        wait_for(lambda: job_span(sp for sp, _ in W.journal_spans(tmp + "/state")), 10, 0.2)
        journal = [sp for sp, _ in W.journal_spans(tmp + "/state")]
        job = job_span(journal)
        if not job:
            sys.exit("make demo: no egress.job span in the journal (%s)" % tmp)
        # egressd's export and the agent's, at the receiver; the journal
        # fills in what egressd has not sent yet
        wait_for(lambda: job["spanId"] in {s["spanId"] for s in spans_of(received(out))}, 10)
        reqs = received(out)
        merged = {}
        for sp in spans_of(reqs) + journal:
            if sp["traceId"] == job["traceId"]:
                merged.setdefault(sp["spanId"], sp)
        agent = [sp for sp in merged.values() if not sp["name"].startswith("egress.")]
        print("at the receiver: %d requests, %d spans of the job's trace (%d of the agent's)\n"
              % (len(reqs), sum(1 for sp in spans_of(reqs) if sp["traceId"] == job["traceId"]),
                 len(agent)))
        print_trace(list(merged.values()), job)
        if args.html:
            spans = tmp + "/spans.jsonl"
            with open(spans, "w") as f:
                for req in reqs:
                    f.write(json.dumps(req) + "\n")
            with open(args.html, "w") as f:
                p = subprocess.run([build + "/egressctl", "report", "demo", "--format", "html",
                                    "--spans", spans, "--state-dir", tmp + "/state"], stdout=f)
            print("\negressctl report demo --format html --spans ...: %s (exit status %d)" % (
                args.html, p.returncode))
    finally:
        for p in (daemon, receiver):
            if p and p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait(5)
        subprocess.run([build + "/egressd", "--reset", "--force"] + dirs, capture_output=True)
        world.down()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
