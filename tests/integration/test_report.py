"""egressctl report JOB (cli/report.c): one real job's journal as text,
markdown and JSON. The job connects to an allowed address and to unlisted
ones (TCP twice, UDP), and asks for an unlisted name; its CI attribute holds
markup. Judged against the journal's own spans: the trace id, the denials
grouped with their counts and processes, the rules that would allow them,
and the markup escaped. Bad invocations: a usage error or a clear "not in
the journal"."""
import json
import os
import subprocess

from run import test, pol, check, eq

HOSTILE = "<script>alert(1)</script>|`x`*y*[z](http://a)\x1b[31m\x9b2J"


def report(d, *args):
    return subprocess.run([d.egressctl, "report"] + list(args) + ["--state-dir", d.state_dir],
                          capture_output=True, text=True, timeout=60)


@test(timeout=120)
def test_report_of_a_real_job(ctx):
    d = ctx.daemon(policies={"rp": pol(allow=["198.18.1.1:443"])})
    job = ctx.job_id()
    r = d.probe("rp", "connect", "198.18.1.1:443", "198.18.2.4:80", "198.18.2.4:80",
                "198.18.1.5:9999/udp", job_id=job, attrs={"gen_ai.agent.name": HOSTILE},
                rc=None)
    d.probe("rp", "resolve", "secret.test", job_id=job + "-dns", rc=None)
    js = d.job_span(job, timeout=20)

    p = report(d, job, "--format", "json")
    eq(p.returncode, 0, "egressctl report --format json: %s" % p.stderr)
    m = json.loads(p.stdout)
    eq(m["job"]["id"], job, "the job's id")
    eq(m["job"]["trace_id"], js.trace_id, "the trace id, as the egress.job span has it")
    eq(m["job"]["state"], "ended", "the job's state")
    eq(m["job"]["attributes"]["egress.policy.name"], "rp", "the policy")
    eq(m["job"]["attributes"]["gen_ai.agent.name"], HOSTILE, "the attribute, as it was")
    check(m["job"]["duration_s"] > 0, "no duration: %r" % m["job"])
    den = {g["destination"]: g for g in m["denied"]}
    g = den.get("198.18.2.4:80/tcp")
    check(g and g["count"] == 2 and g["kind"] == "connect" and g["reason"] == "no_rule",
          "the two denied TCP connects, grouped: %r" % m["denied"])
    check(any(x.startswith("python3") for x in g["processes"]),
          "the process that tried is not named: %r" % g)
    check("198.18.1.5:9999/udp" in den, "the denied UDP destination: %r" % m["denied"])
    check(not any(k.startswith("198.18.1.1:443") for k in den),
          "an allowed destination in the denials: %r" % m["denied"])
    add = m["allow"]["add"]
    check("198.18.2.4:80" in add and "198.18.1.5:9999/udp" in add,
          "the rules that would allow what was denied: %r" % add)
    eq(m["allow"]["policy"], "rp", "the policy the rules are for")

    p = report(d, job)
    eq(p.returncode, 0, "egressctl report (text): %s" % p.stderr)
    for word in ("egress-fence job " + job, "policy     rp (enforce)", js.trace_id,
                 "198.18.2.4:80/tcp  connect  no_rule  x2", "+ \"198.18.2.4:80\""):
        check(word in p.stdout, "%r missing from the text report:\n%s" % (word, p.stdout))
    check("\x1b" not in p.stdout and "\x9b" not in p.stdout,
          "a control character (C0 or C1) reached the text report")

    p = report(d, job, "--format", "markdown")
    eq(p.returncode, 0, "egressctl report --format markdown: %s" % p.stderr)
    out = p.stdout
    # every value a code span: no markup, link or HTML of the job's is
    # rendered; its '|' escaped, so that it makes no cell of its own
    check("``<script>alert(1)</script>\\|`x`*y*[z](http://a) [31m 2J``" in out
          and "\x1b" not in out and "\x9b" not in out, "the job's attribute is not one code span:\n%s" % out)
    row = [l for l in out.splitlines() if l.startswith("| `gen_ai.agent.name`")]
    check(row and row[0].count("|") - row[0].count("\\|") == 3,
          "the attribute's row has cells of its own making: %r" % row)
    check("| `198.18.2.4:80/tcp` | `connect` | `no_rule` | 2 |" in out,
          "the denied destination's row:\n%s" % out)
    diff = out.split("```diff\n", 1)[-1].split("```", 1)[0]
    check("+  \"198.18.2.4:80\",\n" in diff and "+  \"198.18.1.5:9999/udp\",\n" in diff,
          "the rules to add:\n%s" % out)

    # the name asked for and refused, in a job of its own
    p = report(d, job + "-dns", "--format", "json")
    eq(p.returncode, 0, "report of the DNS job: %s" % p.stderr)
    check(any(g["destination"].startswith("secret.test") and g["kind"] == "dns"
              for g in json.loads(p.stdout)["denied"]),
          "the refused name is not among the denials: %s" % p.stdout)


@test(timeout=60)
def test_report_bad_invocations(ctx):
    d = ctx.daemon(policies={"rp": pol(allow=["198.18.1.1:443"])})
    d.probe("rp", "connect", "198.18.1.1:443", rc=None)
    for args, rc, word in (([], 2, "which job"),
                           (["j1", "--format", "xml"], 2, "--format"),
                           (["j1", "--since", "forever"], 2, "--since"),
                           (["j1", "j2"], 2, "unknown argument"),
                           (["j1", "--bogus"], 2, "unknown argument"),
                           (["no-such-job"], 1, "no spans of job no-such-job")):
        p = report(d, *args)
        eq(p.returncode, rc, "egressctl report %s: exit status (%s)" % (args, p.stderr))
        check(word in p.stderr and not p.stdout, "egressctl report %s said %r %r" % (
            args, p.stdout, p.stderr))
    p = subprocess.run([d.egressctl, "report", "j1", "--state-dir", ctx.path("nothing")],
                       capture_output=True, text=True, timeout=30)
    check(p.returncode == 1 and "no journal at" in p.stderr, "a missing journal: %r" % (
        p.stderr,))
