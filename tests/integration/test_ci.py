"""CI context on a job's spans: `egressctl run` turns the runner's variables
(GitHub Actions, GitLab CI) into cicd.* / vcs.* / enduser.id attributes on the
job span and every decision span; --attr wins; W3C trace context from
TRACEPARENT or --traceparent parents the job, and the command inside sees
TRACEPARENT naming the job span. Also: the collector configs in
deploy/otelcol/ parse and name real components."""
import fnmatch
import os
import re
import secrets

from harness import test, pol, allowed, denied, check, eq, REPO
from harness_spans import is_hex

ALLOW, DENY = "198.18.1.1:443", "198.18.2.1:443"
POLICY = pol(allow=[ALLOW])

# Attribute namespaces the CI mapping may write; a job outside CI has none.
CI_PREFIXES = ("cicd.", "vcs.", "enduser.")

SHA = "9d59409acf479dfa0df1aa568182e43e43df8bbe"

GITHUB = {
    "GITHUB_ACTIONS": "true",
    "GITHUB_WORKFLOW": "Agent review",
    "GITHUB_RUN_ID": "9753949763",
    "GITHUB_RUN_ATTEMPT": "2",
    "GITHUB_JOB": "agent",
    "GITHUB_SERVER_URL": "https://github.example",
    "GITHUB_REPOSITORY": "acme/widgets",
    "GITHUB_REF": "refs/pull/42/merge",
    "GITHUB_REF_NAME": "42/merge",
    "GITHUB_REF_TYPE": "branch",
    "GITHUB_HEAD_REF": "feature/fence",
    "GITHUB_BASE_REF": "main",
    "GITHUB_SHA": SHA,
    "GITHUB_ACTOR": "octocat",
    "GITHUB_TRIGGERING_ACTOR": "hubot",
    "RUNNER_NAME": "runner 7",
}
GITHUB_WANT = {
    "cicd.pipeline.name": "Agent review",
    "cicd.pipeline.run.id": "9753949763",
    "cicd.pipeline.run.url.full":
        "https://github.example/acme/widgets/actions/runs/9753949763/attempts/2",
    "cicd.pipeline.task.name": "agent",
    "cicd.worker.name": "runner 7",
    "vcs.provider.name": "github",
    "vcs.repository.url.full": "https://github.example/acme/widgets",
    "vcs.ref.head.name": "feature/fence",
    "vcs.ref.head.type": "branch",
    "vcs.ref.head.revision": SHA,
    "vcs.ref.base.name": "main",
    "vcs.change.id": "42",
    "enduser.id": "hubot",
}

# A push to a tag: GitHub sets GITHUB_HEAD_REF and GITHUB_BASE_REF empty
# outside pull requests; a first attempt started by its own actor.
GITHUB_PUSH = dict(GITHUB, GITHUB_REF="refs/tags/v1.2.0", GITHUB_REF_NAME="v1.2.0",
                   GITHUB_REF_TYPE="tag", GITHUB_HEAD_REF="", GITHUB_BASE_REF="",
                   GITHUB_RUN_ATTEMPT="", GITHUB_TRIGGERING_ACTOR="", GITHUB_WORKFLOW="",
                   GITHUB_SERVER_URL="https://github.example/")
GITHUB_PUSH_WANT = {
    "cicd.pipeline.run.id": "9753949763",
    "cicd.pipeline.run.url.full": "https://github.example/acme/widgets/actions/runs/9753949763",
    "cicd.pipeline.task.name": "agent",
    "cicd.worker.name": "runner 7",
    "vcs.provider.name": "github",
    "vcs.repository.url.full": "https://github.example/acme/widgets",
    "vcs.ref.head.name": "v1.2.0",
    "vcs.ref.head.type": "tag",
    "vcs.ref.head.revision": SHA,
    "enduser.id": "octocat",
}

GL_PROJECT = "https://gitlab.example/acme/infra/widgets"
GITLAB = {
    "GITLAB_CI": "true",
    "CI_PROJECT_PATH": "acme/infra/widgets",
    "CI_PROJECT_URL": GL_PROJECT,
    "CI_PIPELINE_ID": "1234567",
    "CI_PIPELINE_URL": GL_PROJECT + "/-/pipelines/1234567",
    "CI_JOB_NAME": "agent: review",
    "CI_JOB_ID": "7654321",
    "CI_JOB_URL": GL_PROJECT + "/-/jobs/7654321",
    "CI_RUNNER_ID": "31",
    "CI_RUNNER_DESCRIPTION": "shared runner 3",
    "CI_COMMIT_REF_NAME": "feature/fence",
    "CI_COMMIT_BRANCH": "",
    "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME": "feature/fence",
    "CI_MERGE_REQUEST_TARGET_BRANCH_NAME": "main",
    "CI_MERGE_REQUEST_IID": "17",
    "CI_COMMIT_SHA": SHA,
    "GITLAB_USER_LOGIN": "alice",
}
GITLAB_WANT = {
    "cicd.pipeline.name": "acme/infra/widgets",
    "cicd.pipeline.run.id": "1234567",
    "cicd.pipeline.run.url.full": GL_PROJECT + "/-/pipelines/1234567",
    "cicd.pipeline.task.name": "agent: review",
    "cicd.pipeline.task.run.id": "7654321",
    "cicd.pipeline.task.run.url.full": GL_PROJECT + "/-/jobs/7654321",
    "cicd.worker.id": "31",
    "cicd.worker.name": "shared runner 3",
    "vcs.provider.name": "gitlab",
    "vcs.repository.url.full": GL_PROJECT,
    "vcs.ref.head.name": "feature/fence",
    "vcs.ref.head.type": "branch",
    "vcs.ref.head.revision": SHA,
    "vcs.ref.base.name": "main",
    "vcs.change.id": "17",
    "enduser.id": "alice",
}
# A tag pipeline with a pipeline name: CI_PIPELINE_NAME wins over the path.
GITLAB_TAG = dict(GITLAB, CI_PIPELINE_NAME="Nightly agent", CI_COMMIT_TAG="v1.2.0",
                  CI_COMMIT_REF_NAME="v1.2.0", CI_MERGE_REQUEST_SOURCE_BRANCH_NAME="",
                  CI_MERGE_REQUEST_TARGET_BRANCH_NAME="", CI_MERGE_REQUEST_IID="")
GITLAB_TAG_WANT = dict({k: v for k, v in GITLAB_WANT.items()
                        if k not in ("vcs.ref.base.name", "vcs.change.id")},
                       **{"cicd.pipeline.name": "Nightly agent", "vcs.ref.head.name": "v1.2.0",
                          "vcs.ref.head.type": "tag"})


def ci_env(extra=None):
    """The job's environment with no CI variable but those in extra: every
    CI-looking variable of this runner (the suite may itself run in CI) is
    emptied, which egressctl treats as unset."""
    env = {k: "" for k in os.environ
           if k.startswith(("GITHUB_", "GITLAB_", "CI_", "RUNNER_"))}
    env.update(extra or {})
    return env


def ci_attrs(span):
    return {k: v for k, v in span.attrs.items() if k.startswith(CI_PREFIXES)}


def run_probe(d, env, attrs=None, extra=()):
    """A job that makes one allowed and one denied connect; returns the
    result, its job span and its two decision spans."""
    r = d.probe("ci", "connect", ALLOW, DENY, env=ci_env(env), attrs=attrs, extra=extra)
    allowed(r.get(ALLOW))
    denied(r.get(DENY))
    js = d.job_span(r.job)
    return r, js, [d.decision(r.job, "198.18.1.1", 443), d.decision(r.job, "198.18.2.1", 443)]


def check_ci(span, want, what):
    got = ci_attrs(span)
    for k, v in sorted(want.items()):
        eq(got.get(k), v, "%s: %s on %s" % (what, k, span.name))
    extra = sorted(set(got) - set(want))
    check(not extra, "%s: %s carries CI attributes nobody set: %s" % (
        what, span.name, {k: got[k] for k in extra}))


@test
def test_ci_github_actions_attributes(ctx):
    d = ctx.daemon({"ci": POLICY})
    for env, want, what in ((GITHUB, GITHUB_WANT, "GitHub pull request"),
                            (GITHUB_PUSH, GITHUB_PUSH_WANT, "GitHub tag push")):
        _r, js, decisions = run_probe(d, env)
        for s in [js] + decisions:
            check_ci(s, want, what)
            check("gen_ai.agent.name" not in s.attrs,
                  "gen_ai.agent.name derived from the environment: %r" % s.get("gen_ai.agent.name"))


@test
def test_ci_gitlab_attributes(ctx):
    d = ctx.daemon({"ci": POLICY})
    for env, want, what in ((GITLAB, GITLAB_WANT, "GitLab merge request"),
                            (GITLAB_TAG, GITLAB_TAG_WANT, "GitLab tag pipeline")):
        _r, js, decisions = run_probe(d, env)
        for s in [js] + decisions:
            check_ci(s, want, what)


@test
def test_ci_attr_overrides_environment(ctx):
    d = ctx.daemon({"ci": POLICY})
    mine = {"enduser.id": "explicit-user", "cicd.pipeline.name": "set by --attr",
            "gen_ai.agent.name": "claude-code"}
    _r, js, decisions = run_probe(d, GITHUB, attrs=mine)
    want = dict(GITHUB_WANT, **{k: v for k, v in mine.items() if k.startswith(CI_PREFIXES)})
    for s in [js] + decisions:
        check_ci(s, want, "--attr over GitHub variables")
        eq(s.get("gen_ai.agent.name"), "claude-code", "gen_ai.agent.name from --attr on " + s.name)
    # an --attr given after a variable of the same key, and twice: the last one wins
    _r, js, _dec = run_probe(d, GITLAB, extra=["--attr", "vcs.change.id=1", "--attr",
                                               "vcs.change.id=2"])
    eq(js.get("vcs.change.id"), "2", "the last --attr vcs.change.id")
    eq(js.get("enduser.id"), "alice", "GitLab enduser.id beside an --attr of another key")


@test
def test_ci_no_ci_environment_no_ci_attributes(ctx):
    d = ctx.daemon({"ci": POLICY})
    # CI=true alone (any CI, this suite's included) names no system; "false" is not "true"
    for env in ({}, {"CI": "true"}, {"GITHUB_ACTIONS": "false", "GITLAB_CI": "false",
                                     "GITHUB_RUN_ID": "1", "CI_PIPELINE_ID": "2"}):
        _r, js, decisions = run_probe(d, env)
        for s in [js] + decisions:
            eq(ci_attrs(s), {}, "CI attributes on %s with environment %s" % (s.name, env))


@test
def test_ci_long_values_truncated_not_refused(ctx):
    """A value over egressd's 1024-byte limit is cut by egressctl, at a
    character boundary, instead of the job failing with 125."""
    d = ctx.daemon({"ci": POLICY})
    name = "\u20ac" * 1000          # 3 bytes each: 1024 is not a boundary
    repo = "acme/" + "r" * 3000
    r = d.run("ci", ["/bin/true"], env=ci_env(dict(GITHUB, GITHUB_WORKFLOW=name,
                                                      GITHUB_REPOSITORY=repo)))
    eq(r.rc, 0, "exit status of a job with 3000-byte CI variables (stderr %r)" % r.err[-300:])
    js = d.job_span(r.job)
    eq(js.get("cicd.pipeline.name"), "\u20ac" * 341, "cicd.pipeline.name cut to 1023 bytes")
    url = "https://github.example/" + repo
    eq(js.get("vcs.repository.url.full"), url[:1024], "vcs.repository.url.full cut to 1024")
    eq(js.get("cicd.pipeline.run.url.full"), url[:1024], "cicd.pipeline.run.url.full cut")
    eq(js.get("vcs.ref.head.revision"), SHA, "a short attribute beside long ones")


def parse_tp(tp, what):
    m = re.fullmatch(r"00-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}", tp or "")
    check(m, "%s: %r is not a W3C traceparent" % (what, tp))
    return m.group(1), m.group(2)


def new_tp():
    tid, sid = secrets.token_hex(16), secrets.token_hex(8)
    return "00-%s-%s-01" % (tid, sid), tid, sid


def check_trace(js, decisions, tid, parent, what):
    eq(js.trace_id, tid, "%s: egress.job traceId" % what)
    eq(js.parent_id, parent, "%s: egress.job parentSpanId" % what)
    for s in decisions:
        eq(s.trace_id, js.trace_id, "%s: %s traceId vs the job span's" % (what, s.name))
        eq(s.parent_id, js.span_id, "%s: %s parentSpanId vs the job span's id" % (what, s.name))


@test
def test_ci_traceparent_parents_job_and_decisions(ctx):
    d = ctx.daemon({"ci": POLICY})
    tp, tid, sid = new_tp()
    _r, js, dec = run_probe(d, {"TRACEPARENT": tp})
    check_trace(js, dec, tid, sid, "TRACEPARENT")
    tp, tid, sid = new_tp()
    _r, js, dec = run_probe(d, {}, extra=["--traceparent", tp])
    check_trace(js, dec, tid, sid, "--traceparent")
    # both: the option wins
    tp_env, _t, _s = new_tp()
    tp, tid, sid = new_tp()
    _r, js, dec = run_probe(d, {"TRACEPARENT": tp_env}, extra=["--traceparent", tp])
    check_trace(js, dec, tid, sid, "--traceparent over TRACEPARENT")
    # a later version may append fields; its ids are still taken
    _tp, tid, sid = new_tp()
    _r, js, dec = run_probe(d, {"TRACEPARENT": "01-%s-%s-01-future" % (tid, sid)})
    check_trace(js, dec, tid, sid, "TRACEPARENT of version 01 with an extra field")
    # in CI, with the CI attributes too
    tp, tid, sid = new_tp()
    _r, js, dec = run_probe(d, dict(GITHUB, TRACEPARENT=tp))
    check_trace(js, dec, tid, sid, "TRACEPARENT in GitHub Actions")
    eq(js.get("cicd.pipeline.run.id"), "9753949763", "CI attributes beside TRACEPARENT")


@test
def test_ci_malformed_traceparent_starts_new_trace(ctx):
    d = ctx.daemon({"ci": POLICY})
    tid, sid = secrets.token_hex(16), secrets.token_hex(8)
    bad = [("env", "not-a-traceparent"), ("flag", "00-xyz"),
           ("env", "00-%s-%s-01" % ("0" * 32, sid)),            # all-zero trace id
           ("flag", "00-%s-%s-01" % (tid, "0" * 16)),           # all-zero parent id
           ("env", "ff-%s-%s-01" % (tid, sid)),                 # version ff is invalid
           ("flag", "00-%s-%s-01" % (tid.upper(), sid)),        # hex is lowercase
           ("env", "00-%s-%s-01-extra" % (tid, sid))]           # version 00 has 4 fields
    for how, tp in bad:
        env, extra = ({"TRACEPARENT": tp}, ()) if how == "env" else ({}, ["--traceparent", tp])
        r, js, dec = run_probe(d, env, extra=extra)  # the job ran: allowed + denied seen
        what = "malformed traceparent %r (%s)" % (tp, how)
        check("malformed traceparent" in r.err, "%s: egressctl did not say it ignored it; "
                                                "stderr %r" % (what, r.err[-300:]))
        check(is_hex(js.trace_id, 32), "%s: job traceId %r" % (what, js.trace_id))
        check(js.trace_id not in tp.lower(), "%s: job span took its trace id" % what)
        check_trace(js, dec, js.trace_id, "", what)


SHOW_ENV = 'printf "%s\\n%s\\n" "$TRACEPARENT" "$EGRESS_FENCE_JOB_ID"'


@test
def test_ci_command_sees_traceparent_of_job_span(ctx):
    d = ctx.daemon({"ci": POLICY})
    tp, tid, _sid = new_tp()
    for what, env, extra in (("TRACEPARENT given", {"TRACEPARENT": tp}, ()),
                             ("--traceparent given", {}, ["--traceparent", tp]),
                             ("no trace context", {}, ())):
        r = d.run("ci", ["/bin/sh", "-c", SHOW_ENV], env=ci_env(env), extra=extra)
        eq(r.rc, 0, "%s: exit status of sh (stderr %r)" % (what, r.err[-300:]))
        lines = r.out.splitlines()
        check(len(lines) == 2, "%s: want 2 lines from sh, got %r" % (what, r.out))
        got_tid, got_parent = parse_tp(lines[0], "%s: TRACEPARENT inside the job" % what)
        eq(lines[1], r.job, "%s: EGRESS_FENCE_JOB_ID inside the job" % what)
        js = d.job_span(r.job)
        eq(got_tid, js.trace_id, "%s: trace id of the command's TRACEPARENT" % what)
        eq(got_parent, js.span_id, "%s: parent id of the command's TRACEPARENT" % what)
        if env or extra:
            eq(got_tid, tid, "%s: the command's trace is the caller's" % what)


@test
def test_ci_run_help_mentions_ci_variables(ctx):
    d = ctx.daemon(start=False)
    r = d.ctl("run", "--help", sock=False)
    eq(r.returncode, 0, "`egressctl run --help` exit status")
    for s in ("GITHUB_ACTIONS", "GITLAB_CI", "gen_ai.agent.name", "TRACEPARENT", "--attr"):
        check(s in r.stdout, "`egressctl run --help` does not mention %s:\n%s" % (s, r.stdout))


# -- deploy/otelcol ---------------------------------------------------------

OTELCOL = os.path.join(REPO, "deploy", "otelcol")
# Component types the Collector (core + contrib) knows, by their current names
# and the deprecated aliases it still accepts.
KNOWN = {
    "receivers": {"otlp", "otlp_json_file", "otlpjsonfile"},
    "processors": {"batch"},
    "exporters": {"debug", "otlp_http", "otlphttp", "otlp_grpc", "otlp"},
    "extensions": {"file_storage"},
}


def load_yaml(name):
    try:
        import yaml
    except ImportError:
        raise AssertionError("python3 has no yaml module: install Debian's python3-yaml "
                             "(make deps) to check deploy/otelcol")
    path = os.path.join(OTELCOL, name)
    with open(path) as f:
        doc = yaml.safe_load(f)
    check(isinstance(doc, dict), "%s: not a YAML mapping" % path)
    return doc


def check_collector_config(doc, name):
    """Every component has a known type and every pipeline names only
    components the config defines."""
    for kind, known in KNOWN.items():
        for cid in doc.get(kind) or {}:
            check(cid.split("/", 1)[0] in known, "%s: unknown %s type in %r" % (name, kind, cid))
    svc = doc.get("service") or {}
    for ext in svc.get("extensions") or []:
        check(ext in (doc.get("extensions") or {}), "%s: service extension %r undefined" % (
            name, ext))
    pipes = svc.get("pipelines") or {}
    check("traces" in pipes, "%s: no traces pipeline" % name)
    for pname, p in pipes.items():
        for kind in ("receivers", "processors", "exporters"):
            for cid in p.get(kind) or []:
                check(cid in (doc.get(kind) or {}), "%s: pipeline %s uses undefined %s %r" % (
                    name, pname, kind[:-1], cid))
        check(p.get("receivers") and p.get("exporters"), "%s: pipeline %s needs receivers and "
                                                         "exporters" % (name, pname))
    return pipes["traces"]


@test
def test_ci_otelcol_configs(ctx):
    live = load_yaml("collector-from-egressd.yaml")
    tr = check_collector_config(live, "collector-from-egressd.yaml")
    protos = live["receivers"]["otlp"]["protocols"]
    eq(protos["http"]["endpoint"], "127.0.0.1:4318", "OTLP/HTTP receiver endpoint")
    eq(protos["grpc"]["endpoint"], "127.0.0.1:4317", "OTLP/gRPC receiver endpoint")
    eq(tr["receivers"], ["otlp"], "live pipeline receivers")
    check("batch" in tr["processors"], "live pipeline has no batch processor")
    types = {e.split("/", 1)[0] for e in tr["exporters"]}
    check({"debug", "otlp_http"} <= types, "live pipeline exporters %r" % tr["exporters"])

    replay = load_yaml("collector-replay-journal.yaml")
    tr = check_collector_config(replay, "collector-replay-journal.yaml")
    rcv = replay["receivers"]["otlp_json_file"]
    eq(rcv["include"], ["/var/lib/egress-fence/journal/*.jsonl"], "replay include")
    eq(rcv["start_at"], "beginning", "replay start_at")
    eq(tr["receivers"], ["otlp_json_file"], "replay pipeline receivers")
    check(any(e.split("/", 1)[0] == "otlp_http" for e in tr["exporters"]),
          "replay pipeline exporters %r" % tr["exporters"])

    # the include pattern matches the journal files egressd really writes
    d = ctx.daemon({"ci": POLICY})
    r = d.run("ci", ["/bin/true"])
    d.job_span(r.job)
    files = d.journal_files()
    check(files, "no journal file after a job")
    pattern = os.path.basename(rcv["include"][0])
    for f in files:
        check(fnmatch.fnmatch(os.path.basename(f), pattern),
              "journal file %s is not matched by the replay include %r" % (f, pattern))
