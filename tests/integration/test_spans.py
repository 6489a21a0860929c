"""The journal: every decision is one OTLP span with the contract's
attributes, parented to its job's span."""
import os
import re
import secrets
import time

from harness import test, pol, allowed, denied, check, eq, norm_addr
from harness_spans import expect, is_hex

POLICY = pol(allow=["198.18.1.1:443", "[2001:db8:1::1]:443", "198.18.1.5:9999/udp"],
             deny=["198.18.2.0/24:*"])
ATTRS = {"cicd.pipeline.name": "build-42", "team": "infra"}


def check_ids(s):
    check(is_hex(s.trace_id, 32), "%s traceId %r is not 32 hex digits" % (s.name, s.trace_id))
    check(is_hex(s.span_id, 16), "%s spanId %r is not 16 hex digits" % (s.name, s.span_id))
    check(isinstance(s.raw.get("startTimeUnixNano"), str),
          "%s startTimeUnixNano must be a string (OTLP/JSON): %r" % (
              s.name, s.raw.get("startTimeUnixNano")))
    check(0 < s.start <= s.end, "%s times: start %d end %d" % (s.name, s.start, s.end))
    now = time.time_ns()
    check(now - 600 * 10**9 < s.start < now + 5 * 10**9,
          "%s start %d is not near now (%d): clock conversion?" % (s.name, s.start, now))


def check_decision(s, probe_res, job, decision, reason, rule, transport, ntype, host, port):
    expect(s, decision=decision, reason=reason, **{
        "egress.job.id": job, "egress.policy.name": "sa", "egress.mode": "enforce",
        "network.transport": transport, "network.type": ntype,
        "network.peer.address": host, "network.peer.port": port,
        "server.port": port, "process.pid": probe_res["pid"],
        "process.parent_pid": probe_res["ppid"], "process.user.id": 0})
    if rule is None:
        check(not s.get("egress.rule"), "no rule matched, yet egress.rule = %r" % s.get("egress.rule"))
    else:
        expect(s, rule=rule)
    # no DNS name was involved: server.address is the address
    check(norm_addr(s.get("server.address")) == norm_addr(host),
          "server.address %r, want %r" % (s.get("server.address"), host))
    for k in ("network.peer.port", "server.port", "process.pid", "process.parent_pid",
              "process.user.id"):
        check(type(s.get(k)) is int, "%s must be an intValue, got %r" % (k, s.get(k)))
    exe = probe_res["exe"]
    names = {os.path.basename(exe), probe_res["comm"], "python3"}
    check(s.get("process.executable.name") in names, "process.executable.name %r, want one of %s" % (
        s.get("process.executable.name"), sorted(names)))
    path = s.get("process.executable.path") or ""
    check(path.startswith("/"), "process.executable.path %r is not absolute" % path)
    check(os.path.realpath(path) == os.path.realpath(exe),
          "process.executable.path %r is not the probe's interpreter %r" % (path, exe))
    if decision == "deny":
        eq(s.status_code, 2, "status code of a denial (ERROR)")
        check(s.status_message, "a denial's status has no message")
    else:
        check(s.status_code != 2, "an allowed decision has status ERROR: %s" % s.describe())
    check_ids(s)


@test
def test_decision_span_attributes(ctx):
    d = ctx.daemon({"sa": POLICY})
    job = "attrs-" + secrets.token_hex(3)
    r = d.probe("sa", "connect", "198.18.1.1:443", "198.18.2.1:443", "198.18.1.3:443",
                "[2001:db8:1::1]:443", "198.18.1.5:9999/udp", job_id=job, attrs=ATTRS)
    eq(r.job, job, "job id")
    allowed(r.get("198.18.1.1:443"))
    denied(r.get("198.18.2.1:443"))
    denied(r.get("198.18.1.3:443"))
    allowed(r.get("[2001:db8:1::1]:443"))
    allowed(r.get("198.18.1.5:9999/udp"))
    cases = [("198.18.1.1", 443, "tcp", "ipv4", "allow", "rule", "198.18.1.1:443"),
             ("198.18.2.1", 443, "tcp", "ipv4", "deny", "deny_rule", "198.18.2.0/24:*"),
             ("198.18.1.3", 443, "tcp", "ipv4", "deny", "no_rule", None),
             ("2001:db8:1::1", 443, "tcp", "ipv6", "allow", "rule", "[2001:db8:1::1]:443"),
             ("198.18.1.5", 9999, "udp", "ipv4", "allow", "rule", "198.18.1.5:9999/udp")]
    spans = []
    for host, port, tr, nt, dec, why, rule in cases:
        s = d.decision(job, host, port, tr)
        res = r.get("%s:%d/%s" % ("[%s]" % host if ":" in host else host, port, tr))
        check_decision(s, res, job, dec, why, rule, tr, nt, host, port)
        spans.append(s)
    js = d.job_span(job)
    check_ids(js)
    for s in spans:
        eq(s.trace_id, js.trace_id, "decision traceId vs its job's")
        eq(s.parent_id, js.span_id, "decision parentSpanId vs its job's spanId")
        check(js.start - 10**9 <= s.start <= js.end + 10**9,
              "decision at %d outside its job [%d, %d]" % (s.start, js.start, js.end))
    eq(len({s.span_id for s in spans + [js]}), len(spans) + 1, "distinct span ids")


@test
def test_job_span(ctx):
    d = ctx.daemon({"sa": POLICY})
    job = "jobspan-" + secrets.token_hex(3)
    r = d.probe("sa", "connect", "198.18.1.1:443", job_id=job, attrs=ATTRS)
    allowed(r.lines[0])
    js = d.job_span(job)
    expect(js, **{"egress.job.id": job, "egress.policy.name": "sa", "egress.mode": "enforce"})
    for k, v in ATTRS.items():
        eq(js.get(k), v, "--attr %s on the job span" % k)
    check(not js.parent_id, "a job without --traceparent is a root span, parent %r" % js.parent_id)
    check_ids(js)
    eq(js.resource.get("service.name"), "egress-fence", "resource service.name")
    check(js.resource.get("host.name"), "resource host.name missing: %s" % js.resource)
    check(js.resource.get("service.version"), "resource service.version missing: %s" % js.resource)
    # a job that made no decision still has its job span
    r = d.run("sa", ["/bin/true"])
    eq(r.rc, 0, "exit status of /bin/true")
    d.job_span(r.job)


@test
def test_traceparent(ctx):
    d = ctx.daemon({"sa": POLICY})
    for how in ("flag", "env"):
        tid, sid = secrets.token_hex(16), secrets.token_hex(8)
        tp = "00-%s-%s-01" % (tid, sid)
        if how == "flag":
            r = d.probe("sa", "connect", "198.18.2.2:443", extra=["--traceparent", tp])
        else:
            r = d.probe("sa", "connect", "198.18.2.2:443", env={"TRACEPARENT": tp})
        denied(r.lines[0])
        js = d.job_span(r.job)
        eq(js.trace_id, tid, "job span traceId with traceparent (%s)" % how)
        eq(js.parent_id, sid, "job span parentSpanId with traceparent (%s)" % how)
        s = d.decision(r.job, "198.18.2.2", 443)
        eq(s.trace_id, tid, "decision traceId with traceparent (%s)" % how)
        eq(s.parent_id, js.span_id, "decision parent with traceparent (%s)" % how)


@test
def test_resource_attributes_from_env(ctx):
    d = ctx.daemon({"sa": POLICY}, env={"OTEL_SERVICE_NAME": "ef-it-svc",
                                        "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=ci,"
                                                                    "ef.test=yes"})
    r = d.probe("sa", "connect", "198.18.1.1:443")
    s = d.decision(r.job, "198.18.1.1", 443)
    eq(s.resource.get("service.name"), "ef-it-svc", "service.name from OTEL_SERVICE_NAME")
    eq(s.resource.get("deployment.environment"), "ci", "OTEL_RESOURCE_ATTRIBUTES")
    eq(s.resource.get("ef.test"), "yes", "OTEL_RESOURCE_ATTRIBUTES")


@test
def test_journal_is_otlp_json_lines(ctx):
    d = ctx.daemon({"sa": POLICY})
    r = d.probe("sa", "connect", "198.18.1.1:443", "198.18.1.2:443")
    d.job_span(r.job)
    files = d.journal_files()
    check(files, "no journal file under %s/journal" % d.state_dir)
    for path in files:
        check(re.search(r"\.jsonl", os.path.basename(path)), "journal file name %s" % path)
        with open(path) as f:
            text = f.read()
        check(text.endswith("\n"), "%s: last line not terminated" % path)
    spans = d.spans()  # parses every line: raises on a non-JSON one
    for s in spans:
        check(s.name and s.name.startswith("egress."), "span name %r" % s.name)
        check(isinstance(s.kind, int), "%s kind %r must be an int" % (s.name, s.kind))
        check(isinstance(s.scope, dict) and s.scope.get("name"), "%s scope %r lacks a name" % (
            s.name, s.scope))
