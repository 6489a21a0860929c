"""egressctl audit: the journal queried by job, denial, flag and age, as a
table or JSON Lines, with or without a running egressd; damaged journals.

What audit prints is checked span by span against the journal itself (read
here with harness_spans.py's own OTLP reader), in journal order."""
import calendar
import json
import os
import re
import secrets
import subprocess
import time

from harness import test, pol, allowed, denied, check, eq, SANITIZER_MARKS
from harness_spans import Span

POLICY = pol(allow=["198.18.1.1:443", "[2001:db8:1::1]:443"], deny=["198.18.2.0/24:*"])
COLUMNS = ["TIME", "JOB", "SPAN", "DECISION", "REASON", "DESTINATION", "PROCESS", "RULE"]
CODES = {0: "unset", 1: "ok", 2: "error"}
HOUR = 3600 * 10**9


# --------------------------------------------------------------------------
# running egressctl audit

def no_sanitizer_report(r, what):
    for m in SANITIZER_MARKS:
        check(m not in r.stderr, "%s: sanitizer report: %s" % (what, r.stderr[-1500:]))


def egressctl(ctx, a, d=None, rc=0):
    """`egressctl A...`: through daemon d's socket (in the fence ns) when
    given, else with a socket nobody serves. Asserts the exit status
    (rc=None: any) and that no sanitizer spoke. Shared with test_suggest."""
    if d is not None:
        r = d.ctl(*a, timeout=60)
    else:
        env = {k: v for k, v in os.environ.items() if not k.startswith("EGRESSCTL_")}
        argv = [os.path.join(ctx.build, "egressctl"), "--socket",
                os.path.join(ctx.tmp, "nobody.sock")] + list(a)
        r = subprocess.run(argv, capture_output=True, text=True, timeout=60, env=env,
                           stdin=subprocess.DEVNULL)
    what = "`egressctl %s`" % " ".join(a)
    no_sanitizer_report(r, what)
    if rc is not None:
        check(r.returncode == rc, "%s exited %d, want %d; stdout %r stderr %r" % (
            what, r.returncode, rc, r.stdout[-600:], r.stderr.strip()[-800:]))
    return r


def audit(ctx, *args, state_dir=None, d=None, rc=0):
    """`egressctl audit ARGS` (see egressctl())."""
    return egressctl(ctx, ["audit"] + (["--state-dir", state_dir] if state_dir else [])
                     + list(args), d=d, rc=rc)


def audit_json(ctx, *args, **kw):
    """--json output as a list of objects; stdout holds nothing else, and a
    clean run says nothing on stderr."""
    r = audit(ctx, *(list(args) + ["--json"]), **kw)
    check(r.stdout == "" or r.stdout.endswith("\n"), "--json output not newline-terminated")
    out = []
    for n, line in enumerate(r.stdout.splitlines(), 1):
        try:
            o = json.loads(line)
        except ValueError:
            raise AssertionError("--json line %d is not JSON: %r" % (n, line[:300]))
        check(isinstance(o, dict), "--json line %d is not an object: %r" % (n, line[:300]))
        out.append(o)
    return out, r


def table(r):
    """The table as (header cells, rows of cells), cut at the header's offsets."""
    lines = r.stdout.splitlines()
    check(lines, "table output is empty (not even a header): stderr %r" % r.stderr)
    head = lines[0]
    eq(head.split(), COLUMNS, "table header")
    starts = [head.index(c) for c in COLUMNS]
    rows = []
    for line in lines[1:]:
        cells = [line[starts[i]:starts[i + 1]].strip() for i in range(len(COLUMNS) - 1)]
        rows.append(cells + [line[starts[-1]:].strip()])
    return rows


def summary(r):
    last = r.stderr.strip().splitlines()[-1] if r.stderr.strip() else ""
    m = re.fullmatch(r"(\d+) spans? \((\d+) denied\) in (\d+) journal files? under (.+)", last)
    check(m, "no summary line at the end of stderr: %r" % r.stderr[-500:])
    return int(m.group(1)), int(m.group(2)), int(m.group(3)), m.group(4)


# --------------------------------------------------------------------------
# comparing with the journal

def ns_of(t):
    m = re.fullmatch(r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)\.(\d{9})Z", t or "")
    check(m, "time %r is not RFC 3339 UTC with nanoseconds" % t)
    return calendar.timegm(tuple(int(x) for x in m.groups()[:6])) * 10**9 + int(m.group(7))


def local_time(ns):
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ns // 10**9)) + \
        ".%03d" % (ns % 10**9 // 10**6)


def same(o, s):
    what = "audit --json of %s %s" % (s.name, s.span_id)
    eq(o.get("span_id"), s.span_id, what + ": span_id")
    eq(o.get("trace_id"), s.trace_id or None, what + ": trace_id")
    eq(o.get("parent_span_id"), s.parent_id or None, what + ": parent_span_id")
    eq(o.get("name"), s.name, what + ": name")
    eq(ns_of(o.get("time")), s.end, what + ": time (end)")
    eq(ns_of(o.get("start_time")), s.start, what + ": start_time")
    eq(o.get("status", {}).get("code"), CODES[s.status_code], what + ": status code")
    eq(o["status"].get("message", ""), s.status_message, what + ": status message")
    eq(o.get("attributes"), s.attrs, what + ": attributes")
    eq(o.get("resource"), s.resource, what + ": resource")


def expect_spans(got, want, what):
    eq([o.get("span_id") for o in got], [s.span_id for s in want],
       "%s: span ids, in journal order" % what)
    for o, s in zip(got, want):
        same(o, s)


def is_denied(s):
    return s.get("egress.decision") in ("deny", "would_deny")


# --------------------------------------------------------------------------
# hand-made journals

def anyvalue(v):
    if isinstance(v, bool):
        return {"boolValue": v}
    if isinstance(v, int):
        return {"intValue": str(v)}
    if isinstance(v, float):
        return {"doubleValue": v}
    if isinstance(v, list):
        return {"arrayValue": {"values": [anyvalue(x) for x in v]}}
    if isinstance(v, dict):
        return {"kvlistValue": {"values": [{"key": k, "value": anyvalue(x)}
                                           for k, x in v.items()]}}
    return {"stringValue": v}


RESOURCE = {"service.name": "egress-fence", "host.name": "audit-test"}


def mkspan(name, attrs, end=None, status=None, parent=True, start=None):
    end = end if end is not None else time.time_ns()
    sp = {"traceId": secrets.token_hex(16), "spanId": secrets.token_hex(8), "name": name,
          "kind": 1, "startTimeUnixNano": str(start if start is not None else end),
          "endTimeUnixNano": str(end),
          "attributes": [{"key": k, "value": anyvalue(v)} for k, v in attrs.items()],
          "status": status or {}}
    if parent:
        sp["parentSpanId"] = secrets.token_hex(8)
    return sp


def line(*spans):
    return json.dumps({"resourceSpans": [{
        "resource": {"attributes": [{"key": k, "value": anyvalue(v)} for k, v in RESOURCE.items()]},
        "scopeSpans": [{"scope": {"name": "egress-fence", "version": "0.1.0"},
                        "spans": list(spans)}]}]}, separators=(",", ":")) + "\n"


def as_span(sp):
    return Span(sp, dict(RESOURCE), {}, "hand-made")


def state(ctx, files, name="state"):
    """A state dir whose journal/ holds files {file name: text}."""
    sd = ctx.path(name)
    os.makedirs(os.path.join(sd, "journal"))
    for fname, text in files.items():
        with open(os.path.join(sd, "journal", fname), "w") as f:
            f.write(text)
    return sd


def connect(job, decision, host="198.18.1.2", port=443, **more):
    a = {"egress.job.id": job, "egress.decision": decision,
         "egress.reason": "rule" if decision == "allow" else "no_rule",
         "network.transport": "tcp", "network.peer.address": host, "network.peer.port": port,
         "server.address": host, "server.port": port, "process.pid": 4242,
         "process.executable.name": "curl"}
    a.update(more)
    st = {"code": 2, "message": "no rule allows %s port %d/tcp" % (host, port)} \
        if decision == "deny" else {}
    return mkspan("egress.connect", a, status=st)


# --------------------------------------------------------------------------
# with a real egressd and real fenced jobs

def two_jobs(ctx, d):
    """Job A: 2 allowed, 3 denied connects; job B: 1 allowed, 1 denied.
    Returns (A, B, probe results of A) once both job spans are in the journal."""
    ja, jb = ctx.job_id(), ctx.job_id()
    r = d.probe("au", "connect", "198.18.1.1:443", "198.18.1.2:443", "198.18.2.1:443",
                "[2001:db8:1::1]:443", "[2001:db8:1::2]:443", job_id=ja)
    allowed(r.get("198.18.1.1:443"))
    denied(r.get("198.18.1.2:443"))
    denied(r.get("198.18.2.1:443"))
    allowed(r.get("[2001:db8:1::1]:443"))
    denied(r.get("[2001:db8:1::2]:443"))
    d.job_span(ja)
    r2 = d.probe("au", "connect", "198.18.1.1:443", "198.18.1.3:80", job_id=jb)
    allowed(r2.get("198.18.1.1:443"))
    denied(r2.get("198.18.1.3:80"))
    d.job_span(jb)
    return ja, jb, r


@test
def test_audit_filters_match_journal(ctx):
    # small journal files: the jobs' spans spread over several, read in order
    d = ctx.daemon({"au": POLICY}, config={"journal": {"max_file_bytes": 4096, "max_files": 64}})
    ja, jb, res = two_jobs(ctx, d)
    spans = d.spans()
    files = d.journal_files()
    check(len(files) >= 2, "want the spans spread over several journal files, got %s" % files)

    # no --state-dir: egressd says where its journal is
    got, r = audit_json(ctx, d=d)
    eq(r.stderr, "", "stderr of a clean --json run")
    expect_spans(got, spans, "audit --json")
    ofa = [s for s in spans if s.get("egress.job.id") == ja]
    eq(len([s for s in ofa if s.name == "egress.connect"]), 5, "connect spans of job A")
    expect_spans(audit_json(ctx, "--job", ja, d=d)[0], ofa, "--job A")
    expect_spans(audit_json(ctx, "--job=" + jb, d=d)[0],
                 [s for s in spans if s.get("egress.job.id") == jb], "--job=B")
    den = [s for s in spans if is_denied(s)]
    eq(len(den), 4, "denied spans in the journal")
    expect_spans(audit_json(ctx, "--denied", d=d)[0], den, "--denied")
    expect_spans(audit_json(ctx, "--denied", "--job", ja, d=d)[0],
                 [s for s in den if s.get("egress.job.id") == ja], "--denied --job A")
    expect_spans(audit_json(ctx, "--job", "no-such-job", d=d)[0], [], "--job of no job")
    expect_spans(audit_json(ctx, "--state-dir", d.state_dir, "--since", "1h", d=d)[0], spans,
                 "--state-dir --since 1h")

    # the table: one row per span, the summary on stderr
    r = audit(ctx, "--job", ja, d=d)
    rows = table(r)
    eq(len(rows), len(ofa), "table rows for job A")
    eq(summary(r), (len(ofa), 3, len(files), os.path.join(d.state_dir, "journal")),
       "summary (spans, denied, files, dir)")
    for row, s in zip(rows, ofa):
        eq(row[0], local_time(s.end), "TIME of %r" % s)
        eq(row[1], ja, "JOB of %r" % s)
        eq(row[2], s.name[len("egress."):], "SPAN of %r" % s)
    by_dest = {row[5]: row for row in rows}
    pid = res.get("198.18.1.2:443")["pid"]
    for dest, dec, why, rule in (("198.18.1.1:443/tcp", "allow", "rule", "198.18.1.1:443"),
                                 ("198.18.1.2:443/tcp", "deny", "no_rule", "-"),
                                 ("198.18.2.1:443/tcp", "deny", "deny_rule", "198.18.2.0/24:*"),
                                 ("[2001:db8:1::1]:443/tcp", "allow", "rule",
                                  "[2001:db8:1::1]:443"),
                                 ("[2001:db8:1::2]:443/tcp", "deny", "no_rule", "-")):
        check(dest in by_dest, "no row with DESTINATION %s in:\n%s" % (dest, r.stdout))
        eq(by_dest[dest][3:5] + by_dest[dest][7:], [dec, why, rule], "row of " + dest)
        check(by_dest[dest][6].endswith("[%d]" % pid),
              "PROCESS of %s: %r, want the probe's pid %d" % (dest, by_dest[dest][6], pid))
    job_rows = [row for row in rows if row[2] == "job"]
    eq(len(job_rows), 1, "job rows")
    eq(job_rows[0][3], "3/5 denied", "the job row's decision counts")
    eq(job_rows[0][7], "policy au", "the job row's policy")


@test
def test_audit_since(ctx):
    d = ctx.daemon({"au": POLICY})
    r1 = d.probe("au", "connect", "198.18.1.2:443", "198.18.1.1:443")
    d.job_span(r1.job)
    time.sleep(3)
    r2 = d.probe("au", "connect", "198.18.1.2:443")
    d.job_span(r2.job)
    t0 = time.time_ns()
    got, _ = audit_json(ctx, "--since", "2s", d=d)
    t1 = time.time_ns()
    spans = d.spans()
    # the cutoff is "now - 2s" at some instant between t0 and t1
    want = [s for s in spans if s.end >= t1 - 2 * 10**9]
    maybe = {s.span_id for s in spans if t0 - 2 * 10**9 <= s.end < t1 - 2 * 10**9}
    got_ids = [o["span_id"] for o in got if o["span_id"] not in maybe]
    eq(got_ids, [s.span_id for s in want], "--since 2s: spans that ended in the last 2s")
    old = {s.span_id for s in spans if s.get("egress.job.id") == r1.job}
    check(old and not old & {o["span_id"] for o in got},
          "--since 2s shows spans of the job that ended 3s ago")
    check(any(o["name"] == "egress.job" and o["attributes"].get("egress.job.id") == r2.job
              for o in got), "--since 2s lost the job span that just ended")
    for o in got:
        check(ns_of(o["time"]) >= t0 - 2 * 10**9, "--since 2s showed %s at %s" % (
            o["name"], o["time"]))
    # longer windows take everything, in every unit spelling
    for since in ("1h", "90m", "1h30m", "1d", "5400s", "1w"):
        expect_spans(audit_json(ctx, "--since", since, d=d)[0], spans, "--since " + since)
    # filters AND together
    expect_spans(audit_json(ctx, "--since", "1h", "--denied", "--job", r1.job, d=d)[0],
                 [s for s in spans if is_denied(s) and s.get("egress.job.id") == r1.job],
                 "--since 1h --denied --job")


@test
def test_audit_since_skips_old_files(ctx):
    # both spans "ended now", but the first file was last written two days
    # ago: --since must not even read it
    now = time.time_ns()
    a, b = connect("job-a", "deny"), connect("job-a", "allow")
    sd = state(ctx, {"journal-0000000001.jsonl": line(a), "journal-0000000002.jsonl": line(b)})
    old = time.time() - 2 * 86400
    os.utime(os.path.join(sd, "journal", "journal-0000000001.jsonl"), (old, old))
    expect_spans(audit_json(ctx, state_dir=sd)[0], [as_span(a), as_span(b)], "no --since")
    expect_spans(audit_json(ctx, "--since", "1h", state_dir=sd)[0], [as_span(b)], "--since 1h")
    r = audit(ctx, "--since", "1h", state_dir=sd)
    eq(summary(r)[:3], (1, 0, 1), "--since 1h summary (spans, denied, files read)")
    # and a span older than the cutoff in a fresh file is left out
    c = mkspan("egress.connect", {"egress.job.id": "job-a", "egress.decision": "deny"},
               end=now - 2 * HOUR)
    with open(os.path.join(sd, "journal", "journal-0000000002.jsonl"), "a") as f:
        f.write(line(c))
    expect_spans(audit_json(ctx, "--since", "1h", state_dir=sd)[0], [as_span(b)],
                 "--since 1h with a 2h old span")
    expect_spans(audit_json(ctx, "--since", "3h", state_dir=sd)[0], [as_span(b), as_span(c)],
                 "--since 3h")


@test
def test_audit_daemon_stopped(ctx):
    d = ctx.daemon({"au": POLICY})
    ja, jb, _ = two_jobs(ctx, d)
    spans = d.spans()
    d.stop()
    # the journal alone: --state-dir, the socket silent
    got, _ = audit_json(ctx, state_dir=d.state_dir)
    expect_spans(got, spans, "--state-dir with egressd stopped")
    expect_spans(audit_json(ctx, "--job", jb, "--denied", state_dir=d.state_dir)[0],
                 [s for s in spans if s.get("egress.job.id") == jb and is_denied(s)],
                 "--job B --denied with egressd stopped")
    r = audit(ctx, state_dir=d.state_dir, d=d)  # through the dead socket
    eq(len(table(r)), len(spans), "table rows with egressd stopped")
    eq(summary(r)[:2], (len(spans), 4), "summary with egressd stopped")
    # no --state-dir and nobody answering: the default state dir
    default = "/var/lib/egress-fence/journal"
    if os.path.isdir(default):
        ctx.note("%s exists on this machine: the missing-default case was not checked" % default)
    else:
        r = audit(ctx, rc=1)
        check(default in r.stderr and "--state-dir" in r.stderr,
              "a missing default journal: want its path and a hint, got %r" % r.stderr)
        eq(r.stdout, "", "stdout when there is no journal")


@test
def test_audit_malformed_lines(ctx):
    a, b, c = connect("j", "deny"), connect("j", "allow"), connect("k", "deny")
    being_written = connect("k", "deny")
    f1 = (line(a) + "garbage\n" + '{"resourceSpans":5}\n' + "[1,2]\n"
          + '{"resourceSpans":[{"scopeSpans":[{"spans":[{"name":"egress.connect"}]}]}]}\n'
          + line(b) + "\n   \n" + '{"resourceSpans":[{"scopeSp')
    # a complete request, but its newline is not written yet
    f2 = line(c) + line(being_written).rstrip("\n")
    sd = state(ctx, {"journal-0000000001.jsonl": f1, "journal-0000000002.jsonl": f2,
                     # not journal files: never read
                     "journal-0000000003.jsonl.tmp": "garbage\n", "notes.txt": "garbage\n"})
    got, r = audit_json(ctx, state_dir=sd)
    expect_spans(got, [as_span(a), as_span(b), as_span(c)], "journal with malformed lines")
    path1 = os.path.join(sd, "journal", "journal-0000000001.jsonl")
    msgs = r.stderr.strip().splitlines()
    eq(len(msgs), 1, "stderr lines (one report per damaged file): %r" % r.stderr)
    check(msgs[0].startswith("egressctl audit: %s:2: " % path1) and "4 malformed lines" in msgs[0],
          "report: want FILE:2 (the first bad line) and the count, got %r" % msgs[0])
    r = audit(ctx, state_dir=sd)
    eq(len(table(r)), 3, "table rows")
    eq(summary(r)[:3], (3, 2, 2), "summary (spans, denied, files)")

    # nothing readable at all: exit 1
    sd2 = state(ctx, {"journal-0000000001.jsonl": "not json\n{}\n"}, name="bad")
    r = audit(ctx, "--json", state_dir=sd2, rc=1)
    eq(r.stdout, "", "stdout of an unreadable journal")
    check("journal-0000000001.jsonl:1: " in r.stderr and "could be read" in r.stderr,
          "unreadable journal: %r" % r.stderr)
    # an empty journal is not an error; a missing one is, naming the path
    sd3 = state(ctx, {}, name="empty")
    r = audit(ctx, state_dir=sd3)
    eq(table(r), [], "rows of an empty journal")
    eq(summary(r)[:3], (0, 0, 0), "summary of an empty journal")
    eq(audit_json(ctx, state_dir=sd3)[0], [], "--json of an empty journal")
    missing = ctx.path("nowhere")
    r = audit(ctx, state_dir=missing, rc=1)
    check(os.path.join(missing, "journal") in r.stderr, "missing journal: %r" % r.stderr)


@test
def test_audit_file_order(ctx):
    # by sequence number, not by name: journal-9 is older than journal-10
    spans = [connect("j", "deny", port=p) for p in (1, 2, 3, 4)]
    sd = state(ctx, {"journal-10.jsonl": line(spans[2]) + line(spans[3]),
                     "journal-9.jsonl": line(spans[0], spans[1])})
    expect_spans(audit_json(ctx, state_dir=sd)[0], [as_span(s) for s in spans], "file order")


@test
def test_audit_flagged(ctx):
    probe = mkspan("egress.probe", {"egress.job.id": "agent-1", "egress.probe.reason": "port_scan",
                                    "egress.probe.action": "alert", "egress.flagged": True})
    flagged_job = mkspan("egress.job", {"egress.job.id": "agent-1", "egress.flagged": True,
                                        "egress.probe.reason": "port_scan",
                                        "egress.decisions": 40, "egress.denied": 38,
                                        "egress.policy.name": "claude-code"}, parent=False)
    clean_job = mkspan("egress.job", {"egress.job.id": "agent-2", "egress.flagged": False,
                                      "egress.decisions": 1, "egress.denied": 0}, parent=False)
    flagged_deny = connect("agent-1", "deny", **{"egress.flagged": True})
    plain_deny = connect("agent-1", "deny")
    # a probe span without egress.flagged is still a flag
    bare_probe = mkspan("egress.probe", {"egress.job.id": "agent-3",
                                         "egress.probe.reason": "many_denials"})
    sd = state(ctx, {"journal-0000000001.jsonl": line(plain_deny, flagged_deny, probe) +
                     line(flagged_job, clean_job, bare_probe)})
    S = as_span
    expect_spans(audit_json(ctx, "--flagged", state_dir=sd)[0],
                 [S(flagged_deny), S(probe), S(flagged_job), S(bare_probe)], "--flagged")
    expect_spans(audit_json(ctx, "--flagged", "--denied", state_dir=sd)[0], [S(flagged_deny)],
                 "--flagged --denied")
    expect_spans(audit_json(ctx, "--flagged", "--job", "agent-2", state_dir=sd)[0], [],
                 "--flagged --job agent-2")
    expect_spans(audit_json(ctx, "--flagged", "--job", "agent-3", state_dir=sd)[0],
                 [S(bare_probe)], "--flagged --job agent-3")
    r = audit(ctx, "--flagged", "--job", "agent-1", state_dir=sd)
    rows = table(r)
    eq([row[2] for row in rows], ["connect", "probe", "job"], "SPAN column")
    eq(rows[1][3:5], ["alert", "port_scan"], "probe row: action and reason")
    eq(rows[2][3:5], ["38/40 denied", "port_scan"], "flagged job row: counts and reason")
    eq(rows[2][7], "policy claude-code", "job row: policy")


@test
def test_audit_json_types_and_hostile_values(ctx):
    big = 2**53 + 1  # a double cannot hold it
    dns = mkspan("egress.dns", {"egress.job.id": "t", "egress.decision": "allow",
                                "egress.reason": "rule", "dns.question.name": "ok.test",
                                "dns.answers": ["198.18.1.1", "2001:db8:1::1"],
                                "egress.dns.type": "A"})
    odd = mkspan("egress.connect", {
        "egress.job.id": "t", "egress.decision": "deny", "big": big, "neg": -7, "ratio": 0.25,
        "yes": True, "nested": {"a": 1, "b": ["x"]}, "empty.list": [],
        "server.address": "2001:db8:1::2", "server.port": 443, "network.transport": "tcp",
        # what a hostile job could name its process: a terminal escape and a C1 CSI
        "process.executable.name": "evil\x1b]0;pwned\x07\u009b31m", "process.pid": 99},
        status={"code": 2, "message": "denied"}, parent=False)
    sock = mkspan("egress.socket", {"egress.job.id": "t", "egress.decision": "deny",
                                    "egress.reason": "raw_socket", "egress.socket.family": "inet",
                                    "egress.socket.type": "raw"})
    sd = state(ctx, {"journal-0000000001.jsonl": line(dns, odd, sock)})
    got, _ = audit_json(ctx, state_dir=sd)
    expect_spans(got, [as_span(dns), as_span(odd), as_span(sock)], "typed attributes")
    raw = audit(ctx, "--json", state_dir=sd).stdout.splitlines()[1]
    check('"big":%d' % big in raw, "2^53+1 not written exactly: %s" % raw[:600])
    eq(got[1]["attributes"]["big"], big, "int above 2^53")
    eq(got[1]["parent_span_id"], None, "parent_span_id of a root span")
    eq(got[1]["kind"], "internal", "kind")
    eq(got[0]["attributes"]["dns.answers"], ["198.18.1.1", "2001:db8:1::1"], "array attribute")
    eq(got[0]["status"], {"code": "unset"}, "status of an undecided span")
    r = audit(ctx, state_dir=sd)
    check("\x1b" not in r.stdout and "\x07" not in r.stdout and "\u009b" not in r.stdout,
          "control characters from the journal reached the terminal: %r" % r.stdout)
    rows = table(r)
    eq([row[5] for row in rows], ["ok.test", "[2001:db8:1::2]:443/tcp", "inet/raw"],
       "DESTINATION of dns, IPv6 connect, socket")
    check(rows[1][6].startswith("evil?") and rows[1][6].endswith("[99]"),
          "hostile PROCESS cell %r" % rows[1][6])


@test
def test_audit_names_families_and_nameless_processes(ctx):
    """A socket family a journal holds as a number (an older egressd named
    fewer) is named if Linux names it, else "family N"; a process with a
    pid and no name is "pid N", never a null or "?[N]" (issue 23)."""
    def sock(fam, typ, **more):
        a = {"egress.job.id": "t", "egress.decision": "deny", "egress.reason": "family",
             "egress.socket.family": fam, "egress.socket.type": typ}
        a.update(more)
        return mkspan("egress.socket", a)
    spans = [sock(41, "seqpacket", **{"process.pid": 4025, "process.executable.name": "py"}),
             sock(21, "seqpacket", **{"process.pid": 4025}), sock("kcm", "dgram"),
             sock(50, "dgram"), connect("t", "deny", **{"process.executable.name": ""})]
    sd = state(ctx, {"journal-0000000001.jsonl": line(*spans)})
    r = audit(ctx, state_dir=sd)
    rows = table(r)
    eq([row[5] for row in rows], ["kcm/seqpacket", "rds/seqpacket", "kcm/dgram",
                                  "family 50/dgram", "198.18.1.2:443/tcp"], "DESTINATION")
    eq([row[6] for row in rows], ["py[4025]", "pid 4025", "-", "-", "pid 4242"], "PROCESS")
    for bad in ("None", "null", "(null)", "?["):
        check(bad not in r.stdout, "%r in audit's table:\n%s" % (bad, r.stdout))


@test
def test_audit_long_values_and_big_journal(ctx):
    # 20000 lines; --job picks one job among many whose ids contain its id
    long_name = "a-very-long-host-name-that-goes-on." * 3 + "example.com"
    want = []
    with open(ctx.path("j.jsonl"), "w") as f:
        for i in range(20000):
            job = "job-%d" % (i % 50)  # job-1 is a prefix of job-10..job-19
            sp = connect(job, "deny" if i % 3 else "allow", host="198.18.1.%d" % (i % 9 + 1),
                         **({"server.address": long_name} if i == 7 else {}))
            if job == "job-1":
                want.append(sp)
            f.write(line(sp))
    sd = ctx.path("big")
    os.makedirs(os.path.join(sd, "journal"))
    os.rename(ctx.path("j.jsonl"), os.path.join(sd, "journal", "journal-0000000001.jsonl"))
    expect_spans(audit_json(ctx, "--job", "job-1", state_dir=sd)[0], [as_span(s) for s in want],
                 "--job job-1 among job-1x")
    r = audit(ctx, "--job", "job-7", state_dir=sd)
    rows = table(r)
    eq(len(rows), 400, "rows of job-7")
    dest = rows[0][5]
    check(dest.startswith("..") and dest.endswith("example.com:443/tcp") and len(dest) <= 44,
          "a long destination keeps its end: %r" % dest)
    width = {len(x) for x in r.stdout.splitlines()[1:]}
    check(len(width) <= 2, "rows are not aligned: line lengths %s" % sorted(width))
    # a job id too long for its column keeps both ends
    long_job = "ci-" + "x" * 50 + "-run-77"
    with open(os.path.join(sd, "journal", "journal-0000000002.jsonl"), "w") as f:
        f.write(line(connect(long_job, "deny")))
    rows = table(audit(ctx, "--job", long_job, state_dir=sd))
    eq(len(rows), 1, "rows of the long job id")
    check(len(rows[0][1]) == 40 and rows[0][1].startswith("ci-xxx") and
          rows[0][1].endswith("..xxx-run-77"[-10:]) and ".." in rows[0][1],
          "a long job id is cut in the middle: %r" % rows[0][1])


@test
def test_audit_usage(ctx):
    sd = state(ctx, {})
    r = audit(ctx, "--help")
    check(r.stdout.startswith("usage: egressctl audit") and "--since DURATION" in r.stdout,
          "--help: %r" % r.stdout)
    for args in (["--bogus"], ["extra"], ["--job"], ["--job="], ["--since"], ["--state-dir"],
                 ["-j", "x"]):
        r = audit(ctx, *args, state_dir=sd, rc=2)
        check("usage: egressctl audit" in r.stderr, "%s: no usage on stderr: %r" % (
            args, r.stderr))
    for bad in ("", "5", "5x", "-1s", "1.5h", "h", "1h-", "1 h", "1H", "30s ",
                "99999999999999999999s", "400000w"):
        r = audit(ctx, "--since", bad, state_dir=sd, rc=2)
        check("--since" in r.stderr, "bad --since %r: %r" % (bad, r.stderr))
    for good in ("0s", "30s", "15m", "2h", "1d", "1w", "1h30m", "500ms", "1d2h3m4s5ms"):
        audit(ctx, "--since", good, state_dir=sd)
        audit(ctx, "--since=" + good, "--json", state_dir=sd)
