"""egressctl policy suggest: a job run under an audit policy that allows
nothing, its journal turned into an enforce policy, and the same job run
again under that policy with nothing denied; --against an existing policy;
bad input (options, jobs without spans, damaged and old journals).

Names come from the world's dnsmasq (world.py): ok.test, alias.test (a
CNAME), and the synthesized D-D-D-D.race.test names (three of them make a
*.race.test wildcard)."""
import json
import os
import secrets
import time

from harness import test, pol, allowed, check, eq
from test_dns import dns_config, sh
from test_audit import egressctl, state

RACE = ["198-18-130-%d.race.test" % i for i in (7, 8, 9)]
DIRECT_V4, DIRECT_V6, DIRECT_UDP = "198.18.1.7:8080", "[2001:db8:1::3]:443", "198.18.1.8:9999/udp"
# what the job below does, as the suggestion must allow it
WANT = ["alias.test:443", "ok.test:443", "*.race.test:80", "198.18.1.7:8080",
        "198.18.1.8:9999/udp", "[2001:db8:1::3]:443"]


def agent_steps():
    """Resolve names through the fence and connect to their first address,
    and connect to addresses directly (TCP v4 and v6, connected UDP)."""
    steps = [("resolve-connect", "ok.test", "443", "--count", "1"),
             ("resolve-connect", "alias.test", "443", "--count", "1")]
    steps += [("resolve-connect", n, "80", "--count", "1") for n in RACE]
    steps.append(("connect", DIRECT_V4, DIRECT_V6, DIRECT_UDP))
    return steps


def check_agent(r, what):
    """Every connection of agent_steps() went through."""
    check(r.rc == 0, "%s: job %s exited %d: %s" % (what, r.job, r.rc, r.err.strip()[-800:]))
    rcs = [x for x in r.lines if x.get("op") == "resolve-connect"]
    eq(sorted(x["name"] for x in rcs), sorted(["ok.test", "alias.test"] + RACE),
       "%s: resolve-connect results" % what)
    for x in rcs:
        check(x["allowed"] == 1 and x["denied"] == 0,
              "%s: resolve and connect to %s: %s" % (what, x["name"], {
                  k: x.get(k) for k in ("allowed", "denied", "resolve_failed", "outcomes",
                                        "examples")}))
    for tgt in (DIRECT_V4, DIRECT_V6, DIRECT_UDP):
        allowed(r.get(tgt))


def suggest(ctx, *args, d=None, rc=0):
    """`egressctl policy suggest ARGS` (see test_audit.egressctl())."""
    return egressctl(ctx, ["policy", "suggest"] + list(args), d=d, rc=rc)


def policy_of(r, what):
    """The suggested policy on stdout: JSON, one rule a line."""
    try:
        doc = json.loads(r.stdout)
    except ValueError:
        raise AssertionError("%s: stdout is not JSON: %r" % (what, r.stdout[:800]))
    eq(sorted(doc), ["allow", "mode", "name"], "%s: keys of the policy" % what)
    eq(doc["mode"], "enforce", "%s: mode" % what)
    for rule in doc["allow"]:
        check('    "%s"' % rule in [x.rstrip(",") for x in r.stdout.splitlines()],
              "%s: rule %s is not on a line of its own:\n%s" % (what, rule, r.stdout))
    return doc


def header(r, what):
    """The 'read N decision spans ... of N jobs' line on stderr."""
    for line in r.stderr.splitlines():
        if line.startswith("read ") and " decision span" in line and " job" in line:
            return line
    raise AssertionError("%s: no 'read N decision spans ... of N jobs' line on stderr: %r" % (
        what, r.stderr[-800:]))


def validate(d, path):
    v = d.ctl("policy", "validate", path)
    check(v.returncode == 0, "`egressctl policy validate %s` exited %d: %s" % (
        path, v.returncode, (v.stderr or v.stdout).strip()[-600:]))
    return v


def denials(d, job):
    return [s for s in d.find(job=job)
            if s.get("egress.decision") in ("deny", "would_deny")]


# --------------------------------------------------------------------------

@test(timeout=180)
def test_suggest_from_audit_then_enforce(ctx):
    d = ctx.daemon({"agent": pol(mode="audit")}, config=dns_config())
    r = d.run("agent", sh(*agent_steps()))
    check_agent(r, "under the audit policy")
    js = d.job_span(r.job, timeout=20)
    check(js.get("egress.denied", 0) >= 8, "the audit job's would_deny decisions: %s" %
          js.get("egress.denied"))
    # the connections to learned addresses carry the names they were learned from
    for name in ["ok.test", "alias.test"] + RACE:
        check(d.find("egress.connect", r.job, where={"server.address": name}),
              "no egress.connect span of the audit job names %s: %s" % (
                  name, [repr(s) for s in d.find("egress.connect", r.job)]))

    # the daemon says where the journal is; the policy is named after the jobs'
    s = suggest(ctx, "--job", r.job, d=d)
    doc = policy_of(s, "suggest --job")
    eq(doc["name"], "agent", "the suggested policy's default name")
    eq(doc["allow"], WANT, "the suggested rules, in order")
    h = header(s, "suggest --job")
    check(" of 1 job " in h, "header: %r" % h)
    check("resolved but never connected" not in s.stderr and "left out" not in s.stderr,
          "nothing to report, got: %r" % s.stderr)
    # --policy picks the same job (the only one under it); --since and
    # --state-dir spelled out give the same
    s2 = suggest(ctx, "--policy", "agent", "--since", "1h", "--state-dir", d.state_dir,
                 "--name", "agent-enforce", d=d)
    doc2 = policy_of(s2, "suggest --policy")
    eq(doc2["allow"], WANT, "rules of suggest --policy agent")
    eq(doc2["name"], "agent-enforce", "--name")
    # the same, twice: byte for byte
    eq(suggest(ctx, "--job", r.job, d=d).stdout, s.stdout, "a second run's output")

    path = d.write_policy("agent-enforce", s2.stdout)
    v = validate(d, path)
    check("enforce" in v.stdout and "%d rules" % len(WANT) in v.stdout,
          "validate: %r" % v.stdout)

    # the same job in enforce mode: every connection allowed, nothing denied
    r2 = d.run("agent-enforce", sh(*agent_steps()))
    check_agent(r2, "under the suggested enforce policy")
    js2 = d.job_span(r2.job, timeout=20)
    eq(js2.get("egress.mode"), "enforce", "mode of the enforce job")
    eq(js2.get("egress.denied"), 0, "denials of the job under the suggested policy")
    eq(denials(d, r2.job), [], "denied spans of the job under the suggested policy")
    conns = d.find("egress.connect", r2.job)
    check(len(conns) >= 8, "connect spans under the suggested policy: %s" % conns)
    for sp in conns:
        check(sp.get("egress.rule") in WANT, "allowed by %r, not one of the suggested rules: %s"
              % (sp.get("egress.rule"), sp.describe()))
    dns = d.find("egress.dns", r2.job)
    check(dns and all(sp.get("egress.decision") == "allow" for sp in dns),
          "DNS under the suggested policy: %s" % [repr(sp) for sp in dns])

    # an enforce-mode job is left aside unless named, then used with a warning
    s3 = suggest(ctx, "--policy", "agent-enforce", d=d, rc=1)
    check("name them with --job" in s3.stderr and r2.job in s3.stderr,
          "enforce jobs left aside: %r" % s3.stderr)
    s4 = suggest(ctx, "--job", r2.job, d=d)
    eq(policy_of(s4, "suggest --job ENFORCE-JOB")["allow"], WANT, "rules of the enforce job")
    check("warning: job %s ran in enforce mode" % r2.job in s4.stderr,
          "no enforce-mode warning: %r" % s4.stderr)


@test(timeout=180)
def test_suggest_against_and_left_out(ctx):
    d = ctx.daemon({"au": pol(mode="audit")}, config=dns_config())
    steps = [("gai", "ok.test", "443"),
             ("resolve-connect", "alias.test", "80", "--count", "1"),
             ("resolve", "job2.test", "--family", "4"),
             ("connect", "198.18.1.7:8080", "169.254.169.254:80", "[fd00:ec2::254]:80")]
    r = d.run("au", sh(*steps))
    check(r.rc == 0, "audit job exited %d: %s" % (r.rc, r.err[-600:]))
    gai = [x for x in r.lines if x.get("op") == "gai"]
    check(len(gai) == 1 and gai[0]["ok"] and len(gai[0]["sort_probes"]) == 2,
          "getaddrinfo-style lookup of ok.test: %s" % gai)
    d.job_span(r.job, timeout=20)
    udp = d.find("egress.connect", r.job, where={"network.transport": "udp",
                                                "server.address": "ok.test"})
    eq(len(udp), 2, "UDP sorting connects to ok.test:443 in the journal")

    s = suggest(ctx, "--job", r.job, "--name", "au-enforce", d=d)
    doc = policy_of(s, "suggest")
    eq(doc["allow"], ["alias.test:80", "ok.test:443", "198.18.1.7:8080"], "suggested rules")
    err = s.stderr.splitlines()
    for want in ("left out: 169.254.169.254:80 (cloud metadata address) (add by hand if the "
                 "job needs it)",
                 "left out: [fd00:ec2::254]:80 (cloud metadata address) (add by hand if the "
                 "job needs it)",
                 "resolved but never connected: job2.test"):
        check(want in err, "stderr lacks %r: %r" % (want, s.stderr))
    check(any("UDP connects to 1 name:port pair" in x for x in err),
          "the dropped sorting connects are not reported: %r" % s.stderr)
    # metadata touched in audit mode flags the job: said, not hidden
    check(any("warning: job %s was flagged" % r.job in x for x in err),
          "no flagged warning: %r" % s.stderr)
    path = d.write_policy("au-enforce", s.stdout)
    validate(d, path)

    # getaddrinfo under it: the TCP connect is allowed (its sorting UDP
    # connects are refused, which it does not mind)
    r2 = d.run(path, sh(("gai", "ok.test", "443")))
    g = [x for x in r2.lines if x.get("op") == "gai"]
    check(r2.rc == 0 and len(g) == 1 and g[0]["ok"], "gai under the suggestion: %s %s" % (
        g, r2.err[-400:]))
    eq(sorted(g[0]["sort_probes"].values()), ["EPERM", "EPERM"], "the sorting UDP connects")

    # --against: only what the file lacks, and its rules nothing used
    old = d.write_policy("old", {
        "name": "old", "mode": "enforce",
        "allow": ["ok.test:443", "198.18.1.0/24:8080", "stale.test:443", "198.18.9.9:22"],
        "deny": ["198.18.2.0/24:*"]})
    a = suggest(ctx, "--job", r.job, "--against", old, d=d)
    eq(a.stdout.splitlines(), ["+ alias.test:80", "- stale.test:443 (unused)",
                               "- 198.18.9.9:22 (unused)"], "--against output")
    header(a, "--against")
    # a file that allows it all and uses every rule: nothing on stdout
    full = d.write_policy("full", {"name": "full", "allow": [
        "ok.test:443", "alias.test:80", "198.18.1.7:8080"]})
    a2 = suggest(ctx, "--job", r.job, "--against", full, d=d)
    eq(a2.stdout, "", "--against a file that has it all")
    check("allows everything the jobs did" in a2.stderr, "--against full: %r" % a2.stderr)
    # a broken file: its error, exit 1
    bad = d.write_policy("bad", '{"name": "bad", "allow": ["ok.test"]}\n')
    b = suggest(ctx, "--job", r.job, "--against", bad, d=d, rc=1)
    check(bad in b.stderr and ":443" in b.stderr, "--against a broken file: %r" % b.stderr)
    eq(b.stdout, "", "stdout with a broken --against file")


# --------------------------------------------------------------------------
# hand-made journals

def anyvalue(v):
    if isinstance(v, bool):
        return {"boolValue": v}
    if isinstance(v, int):
        return {"intValue": str(v)}
    if isinstance(v, list):
        return {"arrayValue": {"values": [anyvalue(x) for x in v]}}
    return {"stringValue": v}


def mkspan(name, attrs, end=None):
    end = end if end is not None else time.time_ns()
    return {"traceId": secrets.token_hex(16), "spanId": secrets.token_hex(8),
            "parentSpanId": secrets.token_hex(8), "name": name, "kind": 3,
            "startTimeUnixNano": str(end), "endTimeUnixNano": str(end),
            "attributes": [{"key": k, "value": anyvalue(v)} for k, v in attrs.items()]}


def line(*spans):
    return json.dumps({"resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name",
                                     "value": {"stringValue": "egress-fence"}}]},
        "scopeSpans": [{"scope": {"name": "egress-fence"}, "spans": list(spans)}]}]},
        separators=(",", ":")) + "\n"


def conn(job, server, port, peer=None, transport="tcp", mode="audit", policy="au", end=None):
    return mkspan("egress.connect", {
        "egress.job.id": job, "egress.decision": "would_deny" if mode == "audit" else "deny",
        "egress.reason": "no_rule", "egress.policy.name": policy, "egress.mode": mode,
        "network.transport": transport, "network.peer.address": peer or server,
        "network.peer.port": port, "server.address": server, "server.port": port}, end=end)


@test
def test_suggest_bad_input(ctx):
    # usage errors: exit 2, saying what was wrong
    for args, msg in ((["--bogus"], "unknown option --bogus"),
                      (["stray"], "unexpected argument \"stray\""),
                      (["--job"], "--job needs a job id"),
                      (["--since", "7"], "bad --since \"7\""),
                      (["--wildcard-min", "1"], "--wildcard-min needs a number"),
                      (["--wildcard-min", "x"], "--wildcard-min needs a number"),
                      (["--name", "Bad Name"], "--name needs a policy name")):
        r = suggest(ctx, *args, rc=2)
        check(msg in r.stderr, "%s: want %r in stderr, got %r" % (args, msg, r.stderr))
        eq(r.stdout, "", "stdout of a usage error (%s)" % args)

    old = time.time_ns() - 10 * 86400 * 10**9  # before the default --since 7d
    good = line(conn("job-a", "ok.test", 443, peer="198.18.1.1"),
                conn("job-a", "198.18.1.7", 8080))
    sd = state(ctx, {
        "journal-0000000001.jsonl": (line(conn("job-a", "ok.test", 80, peer="198.18.1.1",
                                                 end=old))
                                     # damaged lines that name the job (lines
                                     # without it are not even parsed)
                                     + "garbage about job-a, not JSON\n" + good
                                     + line(conn("job-a", "198.18.1.66", 1))[:-40] + "\n"
                                     + line(conn("job-e", "198.18.1.9", 22, mode="enforce"))
                                     # being written: no newline yet
                                     + line(conn("job-a", "198.18.1.66", 1)).rstrip("\n"))})

    # a damaged line is reported once and skipped; the rest is used
    r = suggest(ctx, "--job", "job-a", "--state-dir", sd)
    doc = policy_of(r, "damaged journal")
    eq(doc["allow"], ["ok.test:443", "198.18.1.7:8080"], "rules from the damaged journal")
    eq(doc["name"], "au", "name from the spans' policy")
    path = os.path.join(sd, "journal", "journal-0000000001.jsonl")
    check("%s:2: not JSON; skipped 2 malformed lines in this file" % path in r.stderr,
          "the malformed lines are not reported once: %r" % r.stderr)
    check(" of 1 job " in header(r, "damaged journal"), "header: %r" % r.stderr)
    # --since: the ten-day-old span (port 80) comes back with a longer window
    r = suggest(ctx, "--job", "job-a", "--state-dir", sd, "--since", "2w")
    eq(policy_of(r, "--since 2w")["allow"], ["ok.test:80,443", "198.18.1.7:8080"],
       "rules with --since 2w")

    # no spans for the job: exit 1, naming it
    r = suggest(ctx, "--job", "no-such-job", "--state-dir", sd, rc=1)
    check("no egress.connect, egress.send or egress.dns spans of job no-such-job" in r.stderr,
          "no spans: %r" % r.stderr)
    eq(r.stdout, "", "stdout when no span matched")
    r = suggest(ctx, "--policy", "nothing-here", "--state-dir", sd, rc=1)
    check("under policy nothing-here" in r.stderr, "no spans under a policy: %r" % r.stderr)
    # only old spans: --since leaves none
    sd2 = state(ctx, {"journal-0000000001.jsonl": line(conn("job-o", "ok.test", 443,
                                                            end=old))}, name="old")
    r = suggest(ctx, "--job", "job-o", "--state-dir", sd2, rc=1)
    check("in the last 7d" in r.stderr, "old spans only: %r" % r.stderr)
    # enforce-mode spans are used only when the job is named
    sd3 = state(ctx, {"journal-0000000001.jsonl": line(conn("job-e", "198.18.1.9", 22,
                                                            mode="enforce"))}, name="enf")
    r = suggest(ctx, "--state-dir", sd3, rc=1)
    check("job-e" in r.stderr and "--job" in r.stderr, "enforce job left aside: %r" % r.stderr)
    r = suggest(ctx, "--job", "job-e", "--state-dir", sd3)
    eq(policy_of(r, "named enforce job")["allow"], ["198.18.1.9:22"], "enforce job's rules")
    check("warning: job job-e ran in enforce mode" in r.stderr, "warning: %r" % r.stderr)
    # nothing readable, or no journal at all: exit 1
    sd4 = state(ctx, {"journal-0000000001.jsonl": "garbage\n"}, name="unreadable")
    r = suggest(ctx, "--state-dir", sd4, rc=1)
    check("could be read" in r.stderr, "unreadable journal: %r" % r.stderr)
    missing = ctx.path("nowhere")
    r = suggest(ctx, "--state-dir", missing, rc=1)
    check("no journal at %s" % os.path.join(missing, "journal") in r.stderr,
          "missing journal: %r" % r.stderr)
