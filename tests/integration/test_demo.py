"""make demo (deploy/demo.py), end to end: the agent stand-in traces itself
(invoke_agent, an execute_tool per tool call, each tool a process started
with TRACEPARENT naming its call) and sends its spans to the demo's OTLP
receiver, where egressd exports the fence's; the waterfall the demo prints
must show each decision under the right span: the agent's own under the
job's span, each tool's under its call. The demo's HTML report (--html,
egressctl report --spans) nests alike. The demo builds its own world and
leaves nothing behind."""
import glob
import os
import re
import subprocess
import sys

import world as W
from harness import test, check, eq, REPO, SANITIZER_MARKS
from test_report import check_inert

DECISIONS = ("allow", "deny", "would_deny", "FLAGGED")
# a language's null, which no line of the demo's table may show
NULLS = re.compile(r"\bNone\b|\bnull\b|\(null\)|\bnil\b|\bundefined\b")


def leftovers():
    """what a demo could leave: its cgroups, pins and temp dirs, by name"""
    return set(glob.glob(os.path.join(W.cgroup2_mount(), "ef-demo-*"))
               + glob.glob("/sys/fs/bpf/ef-demo-*") + glob.glob("/tmp/ef-demo-*"))


def parse_waterfall(out):
    """[(depth, kind ('span' or 'decision'), text, parent span's text)] of the
    lines after the waterfall's header"""
    lines = out.split("\n  START", 1)[-1].splitlines()[1:]
    rows, spans = [], []  # spans: the open span at each depth
    for line in lines:
        if not line.startswith("  +"):
            break
        body = line[11:]
        depth = (len(body) - len(body.lstrip(" "))) // 2
        text = body.strip()
        kind = "decision" if text.split()[0] in DECISIONS else "span"
        del spans[depth:]
        parent = spans[-1] if spans else None
        if kind == "span":
            spans.append(text)
        rows.append((depth, kind, text, parent))
    return rows


@test(timeout=420)
def test_demo_waterfall_nests_decisions_under_tool_calls(ctx):
    before = leftovers()
    html = ctx.path("demo.html")
    p = subprocess.run([W.PY, os.path.join(REPO, "deploy", "demo.py"), "--build", ctx.build,
                        "--html", html], capture_output=True, text=True, timeout=360,
                       stdin=subprocess.DEVNULL)
    out = p.stdout
    eq(p.returncode, 0, "deploy/demo.py's exit status (stderr %s)" % p.stderr[-1500:])
    check(not any(m in p.stderr + out for m in SANITIZER_MARKS), "sanitizer: %s" % p.stderr)
    check(re.search(r"spans sent to http://127\.0\.0\.1:4318/v1/traces: HTTP 200", out),
          "the agent's export did not reach the receiver:\n%s" % out)
    rows = parse_waterfall(out)
    check(rows, "no waterfall in the demo's output:\n%s" % out)
    wide = [l for l in out.split("\n  START", 1)[-1].splitlines() if len(l) > 100]
    check(not wide, "waterfall lines over 100 columns: %r" % wide)
    check("not under the job's span" not in out, "decisions off the job's tree:\n%s" % out)
    table = out.split("\n  START", 1)[-1]
    check(not NULLS.search(table), "a null in the waterfall: %r" % NULLS.findall(table))

    spans = [(d, t.split("  ")[0]) for d, k, t, _ in rows if k == "span"]
    eq(spans, [(0, "egress.job demo"), (1, "invoke_agent demo-agent"),
               (2, "execute_tool npm install"), (2, "execute_tool git push"),
               (2, "execute_tool curl paste site"), (2, "execute_tool bash recon")],
       "the spans of the waterfall (depth, name)")

    def under(span):
        return [t for _d, k, t, par in rows if k == "decision" and par and
                par.startswith(span + "  ")]

    def has(span, *words):
        ds = under(span)
        check(any(all(w in t.split() for w in words) for t in ds),
              "no decision %r under %s; there: %r\n%s" % (words, span, ds, out))

    has("execute_tool npm install", "allow", "connect", "objects.githubusercontent.com:443")
    has("execute_tool npm install", "allow", "dns", "objects.githubusercontent.com")
    has("execute_tool git push", "allow", "connect", "198.18.1.2:443")
    has("execute_tool git push", "deny", "connect", "198.18.1.2:22", "deny_rule")
    has("execute_tool curl paste site", "deny", "dns", "paste.example.com")
    has("execute_tool curl paste site", "deny", "connect", "198.18.2.1:443", "no_rule")
    has("execute_tool curl paste site", "deny", "connect", "[2001:db8:1::1]:443")
    has("execute_tool bash recon", "deny", "connect", "169.254.169.254:80", "metadata")
    has("execute_tool bash recon", "deny", "send", "198.18.2.2:9999/udp")
    # the agent's own process: the model API and its export, under the job
    has("egress.job demo", "allow", "connect", "api.anthropic.com:443")
    has("egress.job demo", "allow", "connect", "127.0.0.1:4318")
    check(not under("invoke_agent demo-agent"), "decisions of the agent's process under "
          "invoke_agent (its TRACEPARENT names the job): %r" % under("invoke_agent demo-agent"))
    # each tool's decisions are its own process's (or its child's)
    for span, exe in (("execute_tool npm install", "npm["), ("execute_tool git push", "git["),
                      ("execute_tool curl paste site", "curl["),
                      ("execute_tool bash recon", "bash[")):
        procs = {t.split()[-1] for t in under(span)}
        check(procs and all(x.startswith(exe) for x in procs),
              "%s's decisions are not all by %s: %r" % (span, exe, procs))

    # the HTML report of the same job, nested with the agent's spans
    check(os.path.exists(html) and "(exit status 0)" in out.split("--format html", 1)[-1],
          "the demo's HTML report:\n%s" % out[-600:])
    with open(html) as f:
        page = f.read()
    check_inert(page, "the demo's report")
    rows = re.findall(r'<tr class="(\w+)"><td class="n">[^<]*</td><td (?:colspan="6" )?'
                      r'class="i(\d)"><code>([^<]*)', page)
    git = [i for i, r in enumerate(rows) if r[2] == "execute_tool git push"]
    check(git and rows[git[0]][1] == "2" and rows[git[0] + 1][1] == "3"
          and rows[git[0] + 1][2].startswith("git["),
          "the report's table does not nest git's decisions under its call: %r" % rows)
    check(leftovers() <= before, "the demo left %r" % sorted(leftovers() - before))


def otlp_span(name, span_id, parent, start, **attrs):
    """a span as the receiver and the journal hold it (OTLP/JSON)"""
    def value(v):
        return {"intValue": str(v)} if isinstance(v, int) else {"stringValue": v}
    return {"name": name, "traceId": "ab" * 16, "spanId": span_id, "parentSpanId": parent,
            "startTimeUnixNano": str(start), "endTimeUnixNano": str(start + 1000),
            "attributes": [{"key": k, "value": value(v)} for k, v in attrs.items()]}


@test(timeout=60)
def test_demo_waterfall_shows_what_a_span_has(ctx):
    """deploy/demo.py's table (waterfall) from spans that lack attributes:
    a process whose executable path egressd could not read (it exited
    first) is shown by the name the kernel's record gave, one with neither
    by its pid, and what a span lacks is "-" or left out, never Python's
    None (issue 23: "pid 4025 None")."""
    sys.path.insert(0, os.path.join(REPO, "deploy"))
    try:
        import demo
    finally:
        sys.path.pop(0)
    t0 = 1_700_000_000_000_000_000
    job = otlp_span("egress.job", "j" * 16, "", t0, **{"egress.job.id": "demo"})
    spans = [job,
             # the child's IPv6 connection: the name, no path
             otlp_span("egress.connect", "a" * 16, job["spanId"], t0 + 1, **{
                 "egress.decision": "deny", "egress.reason": "no_rule",
                 "network.peer.address": "2001:db8:1::1", "network.peer.port": 443,
                 "network.transport": "tcp", "process.pid": 4025,
                 "process.executable.name": "curl"}),
             # neither name nor path; no port, no transport
             otlp_span("egress.connect", "b" * 16, job["spanId"], t0 + 2, **{
                 "egress.decision": "deny", "network.peer.address": "198.18.2.1",
                 "process.pid": 4026}),
             # a path only
             otlp_span("egress.send", "c" * 16, job["spanId"], t0 + 3, **{
                 "egress.decision": "deny", "egress.reason": "no_rule",
                 "network.peer.address": "198.18.2.2", "network.peer.port": 9999,
                 "network.transport": "udp", "process.pid": 4027,
                 "process.executable.path": "/usr/bin/nc.openbsd"}),
             # a query without its type; an io_uring refusal (no family, no type)
             otlp_span("egress.dns", "d" * 16, job["spanId"], t0 + 4, **{
                 "egress.decision": "deny", "dns.question.name": "paste.example.com"}),
             otlp_span("egress.socket", "e" * 16, job["spanId"], t0 + 5, **{
                 "egress.decision": "deny", "egress.reason": "io_uring",
                 "process.pid": 4028, "process.executable.name": "bash"}),
             otlp_span("egress.socket", "f" * 16, job["spanId"], t0 + 6, **{
                 "egress.decision": "deny", "egress.reason": "family",
                 "egress.socket.family": "kcm", "process.pid": 4028,
                 "process.executable.name": "bash"})]
    lines, lost = demo.waterfall(spans, job)
    text = "\n".join(lines)
    eq(lost, [], "decisions off the job's tree")
    check(not NULLS.search(text), "a null in the table: %r\n%s" % (NULLS.findall(text), text))
    procs = ["curl[4025]", "pid 4026", "nc.openbsd[4027]", "(the DNS proxy)", "bash[4028]",
             "bash[4028]"]
    for line, proc in zip(lines[1:], procs):
        check(line.rstrip().endswith(" " + proc), "not by %s: %r\n%s" % (proc, line, text))
    eq(len(lines), 1 + len(procs), "lines of the table\n%s" % text)
    check("[2001:db8:1::1]:443 " in lines[1], "the child's IPv6 connection: %r" % lines[1])
    check(" 198.18.2.1 " in lines[2] and " - " in lines[2],
          "no port, no reason: %r" % lines[2])
    check("198.18.2.2:9999/udp" in lines[3], "a datagram: %r" % lines[3])
    check("paste.example.com " in lines[4] and "(" not in lines[4].split("paste")[1][:3],
          "a query without its type: %r" % lines[4])
    check(" io_uring " in lines[5], "an io_uring refusal: %r" % lines[5])
    check("socket(kcm) " in lines[6], "a socket with a family only: %r" % lines[6])
