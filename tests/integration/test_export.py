"""OTLP/HTTP export: every journal span reaches a receiver that decodes with
the official OpenTelemetry schema, in protobuf and JSON, and survives
backend outages, throttling, rejections and a SIGKILLed daemon."""
import gzip
import json
import os
import signal
import time

import otlp
from harness import test, pol, allowed, denied, check, eq, wait_until
from harness_spans import expect

POLICY = pol(allow=["198.18.1.1:443", "[2001:db8:1::1]:443"], deny=["198.18.2.0/24:*"])
FAST = {"OTEL_BSP_SCHEDULE_DELAY": "50"}


def exporting(r, **more):
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": r.base}
    env.update(FAST)
    env.update(more)
    return env


def config(**otlp_cfg):
    """A config whose retries are quick enough for a test."""
    c = {"retry_initial_ms": 200, "retry_max_ms": 1000, "schedule_delay_ms": 50}
    c.update(otlp_cfg)
    return {"otlp": c}


def job_spans(d, job, n_decisions):
    """The job's decision spans and its job span, from the journal."""
    js = d.job_span(job)
    dec = d.wait_spans(job=job, n=n_decisions + 1)
    return js, [s for s in dec if s.name != "egress.job"]


def same_span(got, want):
    """A decoded span equals the journal's: ids, name, kind, times, status,
    every attribute with its type."""
    for a in ("trace_id", "span_id", "parent_id", "name", "kind", "start", "end",
              "status_code", "status_message"):
        eq(getattr(got, a), getattr(want, a), "%s %s (received vs journal)" % (want.name, a))
    eq(got.attrs, want.attrs, "%s attributes (received vs journal)" % want.name)
    for k, v in want.attrs.items():
        eq(type(got.attrs[k]), type(v), "type of %s" % k)


def journal_ids(d):
    return {s.span_id for s in d.spans()}


@test
def test_export_protobuf_every_span(ctx):
    r = otlp.Receiver(ctx).start()
    env = exporting(r, OTEL_EXPORTER_OTLP_HEADERS="x-honeycomb-team=s3cr%3Dt, x-other = two",
                    OTEL_SERVICE_NAME="ci-fence",
                    OTEL_RESOURCE_ATTRIBUTES="deployment.environment=test,host.arch=amd64")
    d = ctx.daemon({"sa": POLICY}, env=env)
    job = ctx.job_id()
    res = d.probe("sa", "connect", "198.18.1.1:443", "198.18.2.1:443", "198.18.1.3:443",
                  "[2001:db8:1::1]:443", job_id=job, attrs={"gen_ai.agent.name": "claude"})
    allowed(res.get("198.18.1.1:443"))
    denied(res.get("198.18.2.1:443"))
    js, dec = job_spans(d, job, 4)
    want = [js] + dec
    got = {s.span_id: s for s in r.wait_spans([s.span_id for s in want])}
    for s in want:
        same_span(got[s.span_id], s)
    # structure: decisions are children of the job span, in its trace
    for s in dec:
        eq(got[s.span_id].trace_id, js.trace_id, "decision trace id")
        eq(got[s.span_id].parent_id, js.span_id, "decision parent")
    check(not got[js.span_id].parent_id, "the job span is a root without a traceparent")
    deny = [got[s.span_id] for s in dec if s.get("egress.decision") == "deny"]
    eq(len(deny), 2, "denied decisions received")
    for s in deny:
        eq(s.status_code, 2, "a denial's status (ERROR)")
        eq(s.get("gen_ai.agent.name"), "claude", "--attr copied to decisions")
    # resource and request details
    rs = got[js.span_id].resource
    eq(rs.get("service.name"), "ci-fence", "service.name from OTEL_SERVICE_NAME")
    eq(rs.get("deployment.environment"), "test", "OTEL_RESOURCE_ATTRIBUTES")
    eq(rs.get("host.arch"), "amd64", "OTEL_RESOURCE_ATTRIBUTES")
    check(rs.get("host.name") and rs.get("service.version"), "host.name, service.version: %s" % rs)
    reqs = [q for q in r.requests() if q["n_spans"]]
    for q in reqs:
        eq(q["path"], "/v1/traces", "path appended to OTEL_EXPORTER_OTLP_ENDPOINT")
        eq(q["content_type"], "application/x-protobuf", "default protocol")
        eq(q["encoding"], "", "no compression unless asked")
        eq(q["headers"].get("x-honeycomb-team"), "s3cr=t", "OTEL_EXPORTER_OTLP_HEADERS, %-decoded")
        eq(q["headers"].get("x-other"), "two", "OTEL_EXPORTER_OTLP_HEADERS, trimmed")
        check(q["headers"].get("user-agent", "").startswith("egress-fence/"), "User-Agent")
        check(q["error"] is None, "decode error: %s" % q["error"])
    st = d.status()["export"]
    check(st["enabled"] and st["exported_spans"] >= len(want), "status export: %s" % st)
    eq(st["rejected_spans"], 0, "rejected spans")


@test
def test_export_json_gzip(ctx):
    r = otlp.Receiver(ctx).start()
    path_ep = r.base + "/custom/traces"
    d = ctx.daemon({"sa": POLICY}, env={"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": path_ep,
                                        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1",
                                        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json",
                                        "OTEL_EXPORTER_OTLP_COMPRESSION": "gzip", **FAST})
    job = ctx.job_id()
    d.probe("sa", "connect", "198.18.1.1:443", "198.18.1.3:443", job_id=job)
    js, dec = job_spans(d, job, 2)
    got = {s.span_id: s for s in r.wait_spans([s.span_id for s in [js] + dec])}
    for s in [js] + dec:
        same_span(got[s.span_id], s)
    for q in [q for q in r.requests() if q["n_spans"]]:
        eq(q["path"], "/custom/traces", "a signal endpoint is used as is")
        eq(q["content_type"], "application/json", "http/json")
        eq(q["encoding"], "gzip", "OTEL_EXPORTER_OTLP_COMPRESSION")


@test
def test_export_config_file(ctx):
    """The same settings from egressd.json, the environment winning."""
    r = otlp.Receiver(ctx).start()
    d = ctx.daemon({"sa": POLICY}, config=config(
        endpoint=r.base, protocol="http/json", headers={"authorization": "Bearer t0k"},
        compression="gzip"), env={"OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"})
    job = ctx.job_id()
    d.probe("sa", "connect", "198.18.1.1:443", job_id=job)
    js, dec = job_spans(d, job, 1)
    r.wait_spans([js.span_id] + [s.span_id for s in dec])
    for q in [q for q in r.requests() if q["n_spans"]]:
        eq(q["content_type"], "application/x-protobuf", "the environment's protocol wins")
        eq(q["encoding"], "gzip", "compression from the config file")
        eq(q["headers"].get("authorization"), "Bearer t0k", "headers from the config file")


@test
def test_export_receiver_down_then_up(ctx):
    r = otlp.Receiver(ctx).start()
    r.stop()  # keep the port, refuse connections
    d = ctx.daemon({"sa": POLICY}, config=config(endpoint=r.base))
    jobs = [ctx.job_id() for _ in range(3)]
    for job in jobs:
        d.probe("sa", "connect", "198.18.1.1:443", "198.18.1.3:443", job_id=job)
    for job in jobs:
        d.job_span(job)
    wait_until(lambda: d.status()["export"]["retries"] >= 2, 15, what="export retries")
    st = d.status()["export"]
    eq(st["state"], "retrying", "export state while the receiver is down")
    check("127.0.0.1" in st.get("last_error", ""), "last_error names the endpoint: %s" % st)
    time.sleep(1)
    r.start()
    got = r.wait_spans(journal_ids(d), timeout=20)
    check(len(got) >= 9, "3 jobs x (2 decisions + job span) delivered, got %d" % len(got))
    wait_until(lambda: d.status()["export"]["state"] == "ok", 10, what="export state ok")


@test
def test_export_retry_after(ctx):
    """503 with Retry-After: the exporter waits that long, then sends again."""
    r = otlp.Receiver(ctx).start()
    r.answer(script=[{"status": 503, "retry_after": "3"}])
    d = ctx.daemon({"sa": POLICY}, config=config(endpoint=r.base))
    job = ctx.job_id()
    d.probe("sa", "connect", "198.18.1.1:443", job_id=job)
    d.job_span(job)
    r.wait_spans(journal_ids(d), timeout=20)
    reqs = r.requests()
    eq(reqs[0]["status"], 503, "first answer")
    gap = reqs[1]["t"] - reqs[0]["t"]
    check(2.8 <= gap <= 6, "retried %.2f s after a 503 with Retry-After: 3 (want ~3 s; the "
          "backoff alone is 0.2 s)" % gap)
    eq(reqs[1]["n_spans"], reqs[0]["n_spans"], "the same batch sent again")


@test
def test_export_throttled_and_gateway_errors_retried(ctx):
    r = otlp.Receiver(ctx).start()
    r.answer(script=[{"status": 429}, {"status": 502}, {"status": 504}])
    d = ctx.daemon({"sa": POLICY}, config=config(endpoint=r.base))
    job = ctx.job_id()
    d.probe("sa", "connect", "198.18.1.1:443", job_id=job)
    d.job_span(job)
    r.wait_spans(journal_ids(d), timeout=20)
    eq([q["status"] for q in r.requests()][:4], [429, 502, 504, 200], "answers in order")
    eq(d.status()["export"]["retries"], 3, "retries counted")


@test
def test_export_400_not_retried(ctx):
    r = otlp.Receiver(ctx).start()
    r.answer(status=400)
    d = ctx.daemon({"sa": POLICY}, config=config(endpoint=r.base))
    job = ctx.job_id()
    d.probe("sa", "connect", "198.18.1.1:443", job_id=job)
    d.job_span(job)
    n = len(journal_ids(d))
    wait_until(lambda: d.status()["export"]["rejected_spans"] >= n, 10, what="spans rejected")
    time.sleep(1.5)  # several backoff periods: nothing is sent again
    sent = sum(q["n_spans"] for q in r.requests())
    eq(sent, n, "spans sent once each (a 400 is never retried)")
    check("400" in open(d.log_path).read(), "the rejection is logged")
    # the exporter goes on with what comes next
    r.answer(status=200)
    job2 = ctx.job_id()
    d.probe("sa", "connect", "198.18.1.1:443", job_id=job2)
    js2 = d.job_span(job2)
    r.wait_spans([js2.span_id])


@test
def test_export_partial_success_not_retried(ctx):
    r = otlp.Receiver(ctx).start()
    r.answer(partial={"rejected": 1, "message": "attribute too long"})
    d = ctx.daemon({"sa": POLICY}, config=config(endpoint=r.base))
    job = ctx.job_id()
    d.probe("sa", "connect", "198.18.1.1:443", job_id=job)
    d.job_span(job)
    wait_until(lambda: d.status()["export"]["partially_rejected_spans"] >= 1, 10,
               what="partial success counted")
    time.sleep(1)
    eq(sum(q["n_spans"] for q in r.requests()), len(journal_ids(d)), "nothing sent twice")
    check("attribute too long" in open(d.log_path).read(), "the partial success is logged")


@test(timeout=180)
def test_export_sigkill_during_outage(ctx):
    """Receiver down, spans written, egressd SIGKILLed, restarted, receiver
    up: every span written before the kill arrives."""
    r = otlp.Receiver(ctx).start()
    d = ctx.daemon({"sa": POLICY}, config=config(endpoint=r.base))
    job = ctx.job_id()
    d.probe("sa", "connect", "198.18.1.1:443", job_id=job)
    d.job_span(job)
    r.wait_spans(journal_ids(d))  # some delivered before the outage
    before = len(r.requests())
    r.stop()
    jobs = [ctx.job_id() for _ in range(4)]
    for j in jobs:
        d.probe("sa", "connect", "198.18.1.1:443", "198.18.1.3:443", "198.18.2.1:443", job_id=j)
        d.job_span(j)
    ids = journal_ids(d)
    d.kill9()
    r.start()
    time.sleep(0.5)
    eq(len(r.requests()), before, "nothing could be delivered with egressd dead")
    d.start()
    got = r.wait_spans(ids, timeout=30)
    eq(len({s.span_id for s in got}), len(ids), "every span written before the kill")


@test(timeout=180)
def test_export_slow_receiver_does_not_slow_enforcement(ctx):
    """A receiver that takes 8 s per request: the exporter thread sits in it,
    while jobs connect as fast as before and decisions keep reaching the
    journal and the control socket keeps answering."""
    import statistics
    r = otlp.Receiver(ctx).start()
    d = ctx.daemon({"sa": POLICY}, config=config(endpoint=r.base, timeout_ms=20000))
    n = 300

    def p50():
        res = d.probe("sa", "connect-many", "198.18.1.1:443", "--count", n, job_id=ctx.job_id())
        return res.lines[-1]["p50_us"]

    fast = statistics.median(p50() for _ in range(3))
    r.answer(delay=8)
    wait_until(lambda: len(r.requests()) >= 1 or d.status()["export"]["requests"] > 0, 10,
               what="a request to the slow receiver")
    t0 = time.time()
    slow = statistics.median(p50() for _ in range(3))
    elapsed = time.time() - t0
    ratio = slow / max(fast, 1)
    ctx.note("connect p50 %.0f us fast receiver, %.0f us slow receiver (x%.2f; medians of 3)" % (
        fast, slow, ratio))
    # enforcement is in the kernel: only CPU noise can move this
    check(ratio < 2.0, "connect p50 x%.2f with a slow receiver (want < 2)" % ratio)
    check(elapsed < 8, "3 jobs took %.1f s: they waited for the exporter" % elapsed)
    # the consumer kept journaling meanwhile, and the control socket answers
    t = time.time()
    res = d.probe("sa", "connect", "198.18.1.3:443", job_id=ctx.job_id())
    d.decision(res.job, "198.18.1.3", 443, timeout=3)
    check(time.time() - t < 5, "a decision took %.1f s to reach the journal" % (time.time() - t))
    t = time.time()
    d.status()
    check(time.time() - t < 2, "egressctl status took %.1f s" % (time.time() - t))


@test(timeout=180)
def test_export_journal_bound_counts_what_it_drops(ctx):
    """A long outage with a small journal: the oldest undelivered files go,
    and every span is either delivered or counted as dropped."""
    r = otlp.Receiver(ctx).start()
    r.stop()
    cfg = config(endpoint=r.base)
    cfg["journal"] = {"max_file_bytes": 65536, "max_files": 3}
    d = ctx.daemon({"sa": POLICY}, config=cfg)
    jobs = [ctx.job_id() for _ in range(4)]
    # distinct destinations: identical decisions would fold into one span
    for j in jobs:
        d.probe("sa", "connect", *["198.18.2.1:%d" % (1000 + i) for i in range(150)], job_id=j,
                rc=None)
        d.job_span(j)
    st = d.status()
    written = st["journal"]["spans"]
    check(st["journal"]["dropped_files"] > 0, "the bound dropped no file: %s" % st["journal"])
    dropped = st["export"]["dropped_spans"]
    check(dropped > 0, "nothing counted as dropped: %s" % st["export"])
    r.start()
    wait_until(lambda: d.status()["export"]["exported_spans"] + dropped >= written, 30,
               what="export caught up")
    got = {s.span_id for s in r.spans()}
    eq(len(got) + dropped, written, "spans delivered + dropped vs written")
    out = d.ctl("status")
    check("dropped" in out.stdout, "`egressctl status` reports the drop: %s" % out.stdout)
    check("not yet exported" in open(d.log_path).read(), "the drop is logged")


@test
def test_export_traceparent_parentage(ctx):
    """A job started with a traceparent is a child of the caller's span at
    the backend, and its decisions are in the caller's trace."""
    r = otlp.Receiver(ctx).start()
    d = ctx.daemon({"sa": POLICY}, config=config(endpoint=r.base))
    trace, parent = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    job = ctx.job_id()
    d.probe("sa", "connect", "198.18.1.1:443", "198.18.1.3:443", job_id=job,
            env={"TRACEPARENT": "00-%s-%s-01" % (trace, parent)})
    js, dec = job_spans(d, job, 2)
    got = {s.span_id: s for s in r.wait_spans([js.span_id] + [s.span_id for s in dec])}
    eq(got[js.span_id].trace_id, trace, "job span trace id (TRACEPARENT)")
    eq(got[js.span_id].parent_id, parent, "job span parent (TRACEPARENT)")
    for s in dec:
        eq(got[s.span_id].trace_id, trace, "decision trace id")
        eq(got[s.span_id].parent_id, js.span_id, "decision parent")


@test
def test_export_disabled(ctx):
    """OTEL_SDK_DISABLED=true and OTEL_TRACES_EXPORTER=none: the journal
    only, said so in status."""
    r = otlp.Receiver(ctx).start()
    for env in ({"OTEL_SDK_DISABLED": "true"}, {"OTEL_TRACES_EXPORTER": "none"}):
        d = ctx.daemon({"sa": POLICY}, env=dict(exporting(r), **env))
        job = ctx.job_id()
        d.probe("sa", "connect", "198.18.1.1:443", job_id=job)
        d.job_span(job)
        time.sleep(0.5)
        eq(d.status()["export"]["enabled"], False, "export with %s" % env)
        check("off" in d.ctl("status").stdout, "`egressctl status` says export is off")
        d.stop()
    eq(r.requests(), [], "requests with export disabled")


@test
def test_export_bad_settings(ctx):
    """A setting egressd cannot honour stops it at start, naming the setting."""
    cases = [
        ({"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, None, "OTEL_EXPORTER_OTLP_PROTOCOL"),
        ({"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/xml"}, None,
         "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"),
        ({"OTEL_EXPORTER_OTLP_COMPRESSION": "zstd"}, None, "OTEL_EXPORTER_OTLP_COMPRESSION"),
        ({"OTEL_EXPORTER_OTLP_TIMEOUT": "10s"}, None, "OTEL_EXPORTER_OTLP_TIMEOUT"),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "localhost:4318"}, None, "OTEL_EXPORTER_OTLP_ENDPOINT"),
        ({"OTEL_EXPORTER_OTLP_HEADERS": "novalue"}, None, "OTEL_EXPORTER_OTLP_HEADERS"),
        ({"OTEL_EXPORTER_OTLP_HEADERS": "x-a=b%0d%0aInjected: 1"}, None,
         "OTEL_EXPORTER_OTLP_HEADERS"),
        ({"OTEL_EXPORTER_OTLP_HEADERS": "bad name=1"}, None, "OTEL_EXPORTER_OTLP_HEADERS"),
        ({"OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "0"}, None, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE"),
        ({}, {"otlp": {"endpoint": 4318}}, "otlp.endpoint"),
        ({}, {"otlp": {"endpoint": "ftp://x"}}, "otlp.endpoint"),
        ({}, {"otlp": {"protocol": "grpc", "endpoint": "http://127.0.0.1:1"}}, "grpc"),
        ({}, {"otlp": {"timeout_ms": -1}}, "otlp.timeout_ms"),
        ({}, {"otlp": {"headers": ["a"]}}, "otlp.headers"),
        ({}, {"otlp": {"headers": {"a": 1}}}, "otlp.headers.a"),
        ({}, {"otlp": {"enabled": "yes"}}, "otlp.enabled"),
        ({}, {"otlp": {"endpont": "http://127.0.0.1:1"}}, "endpont"),
        ({}, {"otlp": []}, "otlp"),
    ]
    for env, cfg, want in cases:
        d = ctx.daemon({}, start=False, config=cfg)
        try:
            d.start(env=env, timeout=10)
        except AssertionError as e:
            check(want in str(e), "egressd with %s %s: the error does not name %r: %s" % (
                env, cfg, want, e))
        else:
            raise AssertionError("egressd started with %s %s" % (env, cfg))


@test
def test_export_example_config(ctx):
    """deploy/egressd.json is a config egressd takes; with its otlp section
    turned on it exports."""
    import harness
    with open(os.path.join(harness.REPO, "deploy", "egressd.json")) as f:
        cfg = json.load(f)
    r = otlp.Receiver(ctx).start()
    d = ctx.daemon({"sa": POLICY}, config=cfg)
    eq(d.status()["export"]["enabled"], False, "export in the example config (off)")
    d.stop()
    cfg["otlp"].update(enabled=True, endpoint=r.base, schedule_delay_ms=50)
    d = ctx.daemon({"sa": POLICY}, config=cfg)
    job = ctx.job_id()
    d.probe("sa", "connect", "198.18.1.1:443", job_id=job)
    r.wait_spans([d.job_span(job).span_id])


@test
def test_export_garbage_responses(ctx):
    """A Retry-After that is not a number or a date falls back to the backoff;
    a 2xx whose body is not an ExportTraceServiceResponse still delivers (the
    status decides), once; egressd keeps going."""
    r = otlp.Receiver(ctx).start()
    r.answer(script=[{"status": 503, "retry_after": "whenever"},
                     {"status": 200, "body": "\x00\xffnot protobuf"}])
    d = ctx.daemon({"sa": POLICY}, config=config(endpoint=r.base))
    job = ctx.job_id()
    d.probe("sa", "connect", "198.18.1.1:443", job_id=job)
    d.job_span(job)
    n = len(journal_ids(d))
    wait_until(lambda: d.status()["export"]["exported_spans"] >= n, 15, what="spans exported")
    reqs = r.requests()
    gap = reqs[1]["t"] - reqs[0]["t"]
    check(gap < 2.5, "a bad Retry-After was waited on for %.1f s (the backoff is 0.1-1 s)" % gap)
    time.sleep(1)
    eq(reqs[1]["n_spans"], reqs[0]["n_spans"], "the 503'd batch sent again")
    ok = [sp.span_id for sp in r.spans()]
    eq(len(ok), len(set(ok)), "spans delivered more than once after a garbage 2xx body")
    check(d.alive(), "egressd died")


@test
def test_export_hostile_journal_lines(ctx):
    """Lines in the journal that are not ExportTraceServiceRequests (someone
    wrote to the state dir) are skipped and counted; the spans around them
    are delivered; a torn last line is cut when egressd starts."""
    r = otlp.Receiver(ctx).start()
    d = ctx.daemon({"sa": POLICY})
    job = ctx.job_id()
    d.probe("sa", "connect", "198.18.1.1:443", "198.18.1.3:443", job_id=job)
    d.job_span(job)
    ids = journal_ids(d)
    d.stop()
    path = d.journal_files()[-1]
    with open(path, "a") as f:
        f.write("not json at all\n")
        f.write('{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"zz","spanId":"00"}]}]}]}\n')
        f.write('{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"00112233445566778899aab')
    d.start(env=exporting(r))
    got = r.wait_spans(ids)
    eq(len(got), len(ids), "spans delivered around the bad lines")
    wait_until(lambda: d.status()["export"]["malformed_lines"] == 2, 10,
               what="2 malformed lines counted")
    with open(path, "rb") as f:
        check(f.read().endswith(b"\n"), "the torn last line is still there")
    log = open(d.log_path).read()
    check("torn last line" in log and "line skipped" in log, "the repairs are logged")
    eq(r.errors(), [], "decode errors at the receiver")
