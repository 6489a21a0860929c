"""deploy/ci: the CI integration run for real. The shared step script
(egress-fence-step.sh), through the GitHub composite action's fence.sh with
a simulated GitHub Actions environment and directly with a simulated GitLab
CI one: the job's spans carry the cicd.*/vcs.* attributes, the step's exit
status is the command's, a denied connect is denied, and when the fence
cannot be set up the step fails with an error annotation and 125 and the
command never runs. The job-start check (GitHub's job-started hook, GitLab's
pre_build_script) passes with egressd up and stops the job when it is not.
Every YAML file under deploy/ci parses, the action has the structure GitHub
runs, and the shell scripts pass bash -n and shellcheck. The docs and
examples name the CI scripts and the action where `make install` puts them."""
import glob
import json
import os
import re
import shutil
import signal
import subprocess

from harness import test, pol, allowed, denied, check, eq, wait_until, REPO, PY, PROBE
from test_ci import (GITHUB, GITHUB_WANT, GITLAB, GITLAB_WANT, ci_env, check_ci, new_tp)

CI_DIR = os.path.join(REPO, "deploy", "ci")
STEP = os.path.join(CI_DIR, "egress-fence-step.sh")
CHECK = os.path.join(CI_DIR, "egress-fence-check.sh")
ACTION_DIR = os.path.join(CI_DIR, "github", "fence")
FENCE_SH = os.path.join(ACTION_DIR, "fence.sh")

ALLOW, DENY = "198.18.1.1:443", "198.18.2.1:443"
POLICY = pol(allow=[ALLOW])
AGENT = {"gen_ai.agent.name": "claude-code"}
ERROR_GH = "::error title=egress-fence::"
ERROR_GL = "ERROR: egress-fence:"
PROBE_CMD = '"%s" "%s" connect %s %s' % (PY, PROBE, ALLOW, DENY)


def load_yaml(path):
    try:
        import yaml
    except ImportError:
        raise AssertionError("python3 has no yaml module: install Debian's python3-yaml "
                             "(make deps) to check deploy/ci")
    with open(path) as f:
        try:
            return yaml.safe_load(f)
        except yaml.YAMLError as e:
            raise AssertionError("%s does not parse as YAML: %s" % (path, e))


# -- running the scripts in the fence's network namespace ---------------------

def step_env(ctx, d, ci, extra=None):
    """A CI job's environment: no CI variable but ci's, egressctl in PATH,
    the test daemon's socket, a RUNNER_TEMP of the test's own."""
    env = ci_env(ci)
    temp = ctx.path("runner-temp")
    os.makedirs(temp, exist_ok=True)
    env.update({"PATH": ctx.build + ":" + os.environ.get("PATH", "/usr/bin:/bin"),
                "EGRESSCTL_SOCKET": d.sock, "RUNNER_TEMP": temp})
    env.update(extra or {})
    return env


def run_script(ctx, d, argv, env, timeout=60, cwd=None):
    """bash SCRIPT ARGS in the fence's namespace; the job-start check as
    GitHub runs a hook, with bash -e."""
    ctx.log("step: " + " ".join(argv))
    bash = ["/bin/bash", "-e"] if argv[0] == CHECK else ["/bin/bash"]
    return subprocess.run(d.world.fence_argv(bash + argv), capture_output=True,
                          text=True, timeout=timeout, env=d._env(env), stdin=subprocess.DEVNULL,
                          cwd=cwd)


def github_step(ctx, d, run, policy="ci", attrs="", extra_env=None, **inputs):
    """fence.sh as the action's step runs it: inputs in FENCE_INPUT_*,
    GITHUB_OUTPUT a file. Returns (process, job id from GITHUB_OUTPUT)."""
    out = ctx.path("github-output-%d" % len(os.listdir(ctx.tmp)))
    open(out, "w").close()
    env = dict(GITHUB, GITHUB_OUTPUT=out, FENCE_INPUT_RUN=run, FENCE_INPUT_POLICY=policy,
               FENCE_INPUT_ATTRS=attrs)
    for k, v in inputs.items():
        env["FENCE_INPUT_" + k.upper()] = v
    p = run_script(ctx, d, [FENCE_SH], step_env(ctx, d, env, extra_env))
    with open(out) as f:
        ids = re.findall(r"^job-id=(.*)$", f.read(), re.M)
    return p, ids[-1] if ids else None


def describe(p):
    return "exit %d, stdout %r, stderr %r" % (p.returncode, p.stdout[-600:], p.stderr[-600:])


def step_job_id(p):
    m = re.search(r"fencing the step as job (\S+),", p.stderr)
    check(m, "the step script did not say its job id: " + describe(p))
    return m.group(1)


def check_probe(d, p, job, want_ci, what):
    """The step's probe: ALLOW reached, DENY denied; the job span and both
    decision spans carry the CI attributes and gen_ai.agent.name."""
    lines = [json.loads(x) for x in p.stdout.splitlines() if x.startswith("{")]
    by = {x.get("target"): x for x in lines}
    check(ALLOW + "/tcp" in by and DENY + "/tcp" in by, "%s: probe results missing: %s" % (
        what, describe(p)))
    allowed(by[ALLOW + "/tcp"])
    denied(by[DENY + "/tcp"])
    js = d.job_span(job)
    decisions = [d.decision(job, "198.18.1.1", 443), d.decision(job, "198.18.2.1", 443)]
    eq(decisions[1].get("egress.decision"), "deny", "%s: decision for %s" % (what, DENY))
    for s in [js] + decisions:
        check_ci(s, want_ci, what)
        eq(s.get("gen_ai.agent.name"), "claude-code", "%s: gen_ai.agent.name on %s" % (
            what, s.name))
    return js


def bad_policy(ctx):
    path = ctx.path("bad-policy.json")
    with open(path, "w") as f:
        f.write('{"name": "bad", "mode": "enforce", "allow": ["198.18.1.1"]}\n')
    return path


# -- GitHub Actions -----------------------------------------------------------

@test
def test_deploy_ci_github_step_attributes_and_exit_status(ctx):
    d = ctx.daemon({"ci": POLICY})
    tp, tid, sid = new_tp()
    run = PROBE_CMD + "\nexit 7\n"
    p, job = github_step(ctx, d, run, attrs=" gen_ai.agent.name = claude-code \n\n# a comment\n",
                         extra_env={"TRACEPARENT": tp})
    eq(p.returncode, 7, "the step's exit status is the script's (%s)" % describe(p))
    check(ERROR_GH not in p.stdout, "an error annotation for the script's own status: " +
          describe(p))
    check(job and job.startswith("gh-9753949763-2-agent-"), "job id in GITHUB_OUTPUT: %r" % job)
    eq(step_job_id(p), job, "job id said on stderr vs GITHUB_OUTPUT")
    js = check_probe(d, p, job, GITHUB_WANT, "GitHub step")
    eq(js.trace_id, tid, "TRACEPARENT passed through: the job span's trace")
    eq(js.parent_id, sid, "TRACEPARENT passed through: the job span's parent")
    eq(js.get("egress.policy.name"), "ci", "the policy input")


@test
def test_deploy_ci_github_step_inputs(ctx):
    d = ctx.daemon({"ci": POLICY})
    wd = ctx.path("work dir")
    os.mkdir(wd)
    # working-directory, job-id, and what the script's environment holds
    p, job = github_step(ctx, d, 'pwd; echo "job=$EGRESS_FENCE_JOB_ID"; env | grep "^FENCE_INPUT_" '
                         '|| echo "no inputs"; grep "^SigIgn" /proc/self/status',
                         working_directory=wd, job_id="my-step.1")
    eq(p.returncode, 0, "the step's exit status: " + describe(p))
    lines = p.stdout.splitlines()
    eq(lines[0], wd, "working-directory")
    eq(lines[1], "job=my-step.1", "the job-id input")
    eq(job, "my-step.1", "job id in GITHUB_OUTPUT")
    eq(lines[2], "no inputs", "FENCE_INPUT_* variables in the fenced command's environment")
    ign = int(lines[3].split()[1], 16)
    # a shell cannot reset what was ignored when it started (bash: "signals
    # ignored upon entry cannot be trapped or reset"): when the suite itself
    # runs with them ignored (started in the background), so does the command
    mask = (1 << (signal.SIGINT - 1)) | (1 << (signal.SIGQUIT - 1))
    mine = [x for x in open("/proc/self/status") if x.startswith("SigIgn:")][0]
    eq(ign & mask, int(mine.split()[1], 16) & mask,
       "SIGINT/SIGQUIT ignored in the fenced command (%s) but not in the test (%s)" % (
           lines[3], mine.strip()))
    # shells: bash runs with -e and pipefail, sh with -e, a {0} template
    p, _ = github_step(ctx, d, "false | true\necho not reached\n")
    eq(p.returncode, 1, "bash -o pipefail: a failing pipeline fails the step (%s)" % describe(p))
    check("not reached" not in p.stdout, "bash -e: the script went on: " + describe(p))
    p, _ = github_step(ctx, d, "false\necho not reached\n", shell="sh")
    eq((p.returncode, p.stdout), (1, ""), "shell sh (sh -e): " + describe(p))
    p, _ = github_step(ctx, d, "import sys; print('py'); sys.exit(4)", shell=PY + " {0}")
    eq((p.returncode, p.stdout.strip()), (4, "py"), "shell '%s {0}': %s" % (PY, describe(p)))
    # refused inputs: the script never runs
    marker = ctx.path("ran")
    for what, kw in (("an unsupported shell", dict(shell="fish")),
                     ("an attrs line without =", dict(attrs="gen_ai.agent.name")),
                     ("a missing working-directory", dict(working_directory=ctx.path("no"))),
                     ("an empty run input", dict(run=" \n"))):
        args = dict(run="touch '%s'" % marker)
        args.update(kw)
        p, _ = github_step(ctx, d, **args)
        eq(p.returncode, 125, "%s: exit status (%s)" % (what, describe(p)))
        check(ERROR_GH in p.stdout, "%s: no ::error annotation: %s" % (what, describe(p)))
        check(not os.path.exists(marker), "%s: the script ran" % what)


@test
def test_deploy_ci_github_step_fence_unavailable(ctx):
    d = ctx.daemon({"ci": POLICY})
    marker = ctx.path("ran")
    run = "touch '%s'" % marker
    cases = [("an invalid policy file", dict(policy=bad_policy(ctx))),
             ("an unknown policy name", dict(policy="no-such-policy")),
             ("egressd unreachable", dict(extra_env={"EGRESSCTL_SOCKET": ctx.path("no.sock")})),
             ("egressctl not installed", dict(extra_env={"PATH": "/usr/bin:/bin"}))]
    for what, kw in cases:
        p, _job = github_step(ctx, d, run, **kw)
        eq(p.returncode, 125, "%s: the step's exit status (%s)" % (what, describe(p)))
        ann = [x for x in p.stdout.splitlines() if x.startswith(ERROR_GH)]
        check(len(ann) == 1, "%s: want one ::error line on stdout: %s" % (what, describe(p)))
        check("did not run" in ann[0], "%s: the annotation does not say the command did not "
                                       "run: %r" % (what, ann[0]))
        check(not os.path.exists(marker), "%s: the script ran" % what)
    # the policy file's error is egressctl's, with its position, right above
    p, _ = github_step(ctx, d, run, policy=bad_policy(ctx))
    check(re.search(r"bad-policy\.json:\d+:\d+: ", p.stderr), "egressctl's FILE:LINE:COL "
          "message for the invalid policy: " + describe(p))
    # the script's own 125 is passed through, without a fence annotation
    p, _ = github_step(ctx, d, "exit 125")
    eq(p.returncode, 125, "the script's own exit 125")
    check(ERROR_GH not in p.stdout, "a fence annotation for the script's own 125: " + describe(p))


@test
def test_deploy_ci_github_step_cancel_reaches_command(ctx):
    """The runner cancels a step by signalling the step's process: the
    fenced command gets the signal, and the step ends with its status."""
    d = ctx.daemon({"ci": POLICY})
    got = ctx.path("got-term")
    run = ("trap 'echo TERM > \"%s\"; kill $!; exit 9' TERM\nsleep 60 &\nwait\n" % got)
    out = ctx.path("github-output-cancel")
    open(out, "w").close()
    env = step_env(ctx, d, dict(GITHUB, GITHUB_OUTPUT=out, FENCE_INPUT_RUN=run,
                                FENCE_INPUT_POLICY="ci"))
    proc = subprocess.Popen(d.world.fence_argv(["/bin/bash", FENCE_SH]), env=d._env(env),
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    ctx.procs.append(proc)
    job = wait_until(lambda: (open(out).read().partition("job-id=")[2].strip() or None), 10,
                     what="the step's job id in GITHUB_OUTPUT")
    # the script's trap is set once its sleep runs
    wait_until(lambda: len((d.job(job) or {}).get("pids") or []) >= 2, 10,
               what="job %s running the script and its sleep" % job)
    proc.send_signal(signal.SIGTERM)
    try:
        _o, err = proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        raise AssertionError("the step did not end 20 s after SIGTERM")
    eq(proc.returncode, 9, "the step's status after SIGTERM (stderr %r)" % err[-300:])
    check(os.path.exists(got), "the fenced script never got SIGTERM")
    d.job_span(job)


# -- GitLab CI ------------------------------------------------------------------

@test
def test_deploy_ci_gitlab_step(ctx):
    d = ctx.daemon({"ci": POLICY})
    env = step_env(ctx, d, GITLAB)
    p = run_script(ctx, d, [STEP, "--policy", "ci", "--attr", "gen_ai.agent.name=claude-code",
                            "--", "/bin/sh", "-c", PROBE_CMD + "; exit 3"], env)
    eq(p.returncode, 3, "the step's exit status is the command's (%s)" % describe(p))
    job = step_job_id(p)
    check(job.startswith("gl-7654321-"), "default job id from CI_JOB_ID: %r" % job)
    check_probe(d, p, job, GITLAB_WANT, "GitLab step")
    # --run, as a multi-line job script does it
    p = run_script(ctx, d, [STEP, "--policy", "ci", "--run", "echo one\nfalse\necho two"], env)
    eq((p.returncode, p.stdout), (1, "one\n"), "--run under bash -e: " + describe(p))
    # a relative --script is the caller's, --working-directory the command's
    wd = ctx.path("wd")
    os.mkdir(wd)
    with open(ctx.path("rel.sh"), "w") as f:
        f.write('echo "$PWD"\n')
    p = run_script(ctx, d, [STEP, "--policy", "ci", "--working-directory", wd, "--script",
                            "rel.sh"], env, cwd=ctx.tmp)
    eq((p.returncode, p.stdout), (0, wd + "\n"), "--script with --working-directory: " +
       describe(p))
    # exec failures, as egressctl's: 127 not found, 126 not executable
    p = run_script(ctx, d, [STEP, "--policy", "ci", "--", ctx.path("nope")], env)
    eq(p.returncode, 127, "a command not found: " + describe(p))
    p = run_script(ctx, d, [STEP, "--policy", "ci", "--", ctx.tmp], env)
    eq(p.returncode, 126, "a command not executable: " + describe(p))
    # the fence cannot be set up: 125, a red ERROR line, nothing run
    marker = ctx.path("ran")
    for what, args, extra in (
            ("an invalid policy file", ["--policy", bad_policy(ctx)], {}),
            ("egressd unreachable", ["--policy", "ci"], {"EGRESSCTL_SOCKET": ctx.path("no.sock")})):
        p = run_script(ctx, d, [STEP] + args + ["--", "touch", marker], dict(env, **extra))
        eq(p.returncode, 125, "%s: exit status (%s)" % (what, describe(p)))
        check(ERROR_GL in p.stderr and "did not run" in p.stderr,
              "%s: no ERROR line saying the command did not run: %s" % (what, describe(p)))
        check(ERROR_GH not in p.stdout, "%s: a GitHub annotation in GitLab" % what)
        check(not os.path.exists(marker), "%s: the command ran" % what)


# -- reports where the CI shows them, notices, fail on deny --------------------

@test(timeout=180)
def test_deploy_ci_github_step_summary_and_fail_on_deny(ctx):
    d = ctx.daemon({"ci": POLICY})
    summary = ctx.path("step-summary.md")
    with open(summary, "w") as f:
        f.write("# an earlier step's summary\n")
    p, job = github_step(ctx, d, PROBE_CMD, extra_env={"GITHUB_STEP_SUMMARY": summary})
    eq(p.returncode, 0, "the step's status: " + describe(p))
    text = open(summary).read()
    check(text.startswith("# an earlier step's summary\n"), "the summary was not appended to")
    check("## egress-fence: job `%s`" % job in text, "no report of the job: %r" % text)
    check("| `198.18.2.1:443/tcp` | `connect` | `no_rule` | 1 |" in text,
          "the denied destination is not in the summary: %r" % text)
    check("egress-fence: refused TCP connection to 198.18.2.1 port 443" in p.stderr,
          "no live notice in the step's log: " + describe(p))
    # the input fails the step for the denial; the report is written anyway
    p, job = github_step(ctx, d, PROBE_CMD, extra_env={"GITHUB_STEP_SUMMARY": summary},
                         fail_on_deny="true", quiet="true")
    eq(p.returncode, 122, "fail-on-deny with a denial: " + describe(p))
    check("egress-fence: refused" not in p.stderr, "quiet: a notice: " + describe(p))
    check("## egress-fence: job `%s`" % job in open(summary).read(), "no report on failure")
    p, job = github_step(ctx, d, '"%s" "%s" connect %s' % (PY, PROBE, ALLOW),
                         fail_on_deny="true")
    eq(p.returncode, 0, "fail-on-deny with nothing denied: " + describe(p))
    p, job = github_step(ctx, d, "touch %s" % ctx.path("ran"), fail_on_deny="yes")
    eq(p.returncode, 125, "a bad fail-on-deny value: " + describe(p))
    check(ERROR_GH in p.stdout and not os.path.exists(ctx.path("ran")),
          "a bad input: no annotation, or the command ran: " + describe(p))
    # no GITHUB_STEP_SUMMARY: nothing written anywhere, no complaint
    before = set(os.listdir(ctx.tmp))
    p, job = github_step(ctx, d, PROBE_CMD)
    eq(p.returncode, 0, "without GITHUB_STEP_SUMMARY: " + describe(p))
    check("no report" not in p.stderr, "a complaint without the variable: " + describe(p))
    new = [x for x in set(os.listdir(ctx.tmp)) - before if not x.startswith("github-output")]
    eq(new, [], "files written without GITHUB_STEP_SUMMARY")


@test(timeout=180)
def test_deploy_ci_gitlab_report_section_and_artifact(ctx):
    d = ctx.daemon({"ci": POLICY})
    proj = ctx.path("project")
    os.mkdir(proj)
    env = step_env(ctx, d, dict(GITLAB, CI_PROJECT_DIR=proj))
    p = run_script(ctx, d, [STEP, "--policy", "ci", "--", "/bin/sh", "-c", PROBE_CMD], env)
    eq(p.returncode, 0, "the step: " + describe(p))
    job = step_job_id(p)
    # (text mode reads GitLab's \r as a line end)
    m = re.search(r"\x1b\[0Ksection_start:\d+:egress_fence_report\[collapsed=true\]\n\x1b\[0K"
                  r"egress-fence: report of job (\S+)\n(.*?)\x1b\[0Ksection_end:\d+:"
                  r"egress_fence_report\n\x1b\[0K\n", p.stderr, re.S)
    with open(ctx.path("gitlab-step.out"), "w") as f:
        f.write(p.stderr)
    check(m, "no collapsed report section in the job log (%s): %s" % (
        ctx.path("gitlab-step.out"), describe(p)))
    eq(m.group(1), job, "the section's job")
    check("egress-fence job " + job in m.group(2) and "198.18.2.1:443/tcp" in m.group(2),
          "the section's report: %r" % m.group(2))
    path = os.path.join(proj, "egress-fence-reports", job + ".json")
    check(os.path.exists(path), "no JSON report at the artifact path %s" % path)
    with open(path) as f:
        rep = json.load(f)
    eq(rep["job"]["id"], job, "the JSON report's job")
    check(any(g["destination"] == "198.18.2.1:443/tcp" for g in rep["denied"]),
          "the JSON report's denials: %r" % rep["denied"])
    page = open(os.path.join(proj, "egress-fence-reports", job + ".html")).read()
    check(page.startswith("<!DOCTYPE html>") and "<svg" in page and "198.18.2.1:443/tcp" in page,
          "the HTML report beside it: %r" % page[:200])
    # the example declares that path as an artifact
    doc = load_yaml(os.path.join(CI_DIR, "gitlab", "gitlab-ci.yml"))
    for name in ("agent-review", "agent-fix"):
        check("egress-fence-reports/" in doc[name]["artifacts"]["paths"] and
              doc[name]["artifacts"].get("when") == "always",
              "gitlab-ci.yml's %s does not keep egress-fence-reports/ always" % name)
    check("section_start" not in p.stdout, "the report on the step's stdout")
    # no CI_PROJECT_DIR: the section, but no file
    env = step_env(ctx, d, GITLAB)
    p = run_script(ctx, d, [STEP, "--policy", "ci", "--", "/bin/sh", "-c", PROBE_CMD], env,
                   cwd=ctx.tmp)
    eq(p.returncode, 0, "the step: " + describe(p))
    check(not os.path.exists(os.path.join(ctx.tmp, "egress-fence-reports")),
          "a report directory without CI_PROJECT_DIR")


# -- the job-start check (GitHub job-started hook, GitLab pre_build_script) -------

def expected_tamper(status):
    """What the check prints for the status's tamper_protection: an object
    with bpf_lsm (and mode), or a boolean; else unknown."""
    v = status.get("tamper_protection")
    mode = None
    if isinstance(v, dict):
        v, mode = v.get("bpf_lsm"), v.get("mode")
    if v is True:
        return "BPF LSM active"
    if v is False:
        return "BPF LSM inactive" + (" (mode %s)" % mode if isinstance(mode, str) else "")
    return "unknown"


def check_line(out, label):
    m = re.search(r"^  %s +(.*)$" % re.escape(label), out, re.M)
    check(m, "the check printed no %r line:\n%s" % (label, out))
    return m.group(1)


@test
def test_deploy_ci_job_started_hook(ctx):
    d = ctx.daemon({"ci": POLICY})
    st = d.status()
    env = step_env(ctx, d, GITHUB)
    p = run_script(ctx, d, [CHECK], env)
    eq(p.returncode, 0, "the check with egressd up: " + describe(p))
    check("the fence is up on runner runner 7" in p.stdout, "no 'fence is up': " + describe(p))
    check(check_line(p.stdout, "egressd").startswith("%s, pid %d," % (st["version"], st["pid"])),
          "egressd line: " + p.stdout)
    eq(check_line(p.stdout, "tamper protection"), expected_tamper(st),
       "tamper protection, from status %r" % st.get("tamper_protection"))
    eq(check_line(p.stdout, "span export"), "off (journal only)", "export line")
    check(("BPF LSM (every" if st["bpf_lsm"] else "BPF LSM off") in
          check_line(p.stdout, "socket checks"), "socket checks line: " + p.stdout)
    p = run_script(ctx, d, [CHECK], dict(env, EGRESS_FENCE_REQUIRE_BPF_LSM="true"))
    eq(p.returncode == 0, expected_tamper(st) == "BPF LSM active",
       "EGRESS_FENCE_REQUIRE_BPF_LSM=true passes iff BPF LSM is active: " + describe(p))

    # egressd down: the job stops, saying so, in each CI's form
    for ci, where, mark in ((GITHUB, "stdout", ERROR_GH), (GITLAB, "stderr", ERROR_GL)):
        p = run_script(ctx, d, [CHECK], step_env(ctx, d, ci, {
            "EGRESSCTL_SOCKET": ctx.path("no.sock")}))
        check(p.returncode != 0, "the check passed with no control socket: " + describe(p))
        text = getattr(p, where)
        check(mark in text and "egressd is not reachable" in text and "no.sock" in text,
              "no clear message on %s: %s" % (where, describe(p)))
    p = run_script(ctx, d, [CHECK], step_env(ctx, d, GITHUB, {"PATH": "/usr/bin:/bin"}))
    check(p.returncode != 0 and "not installed" in p.stdout, "egressctl missing: " + describe(p))


@test
def test_deploy_ci_hook_reads_tamper_key_defensively(ctx):
    """The status key for tamper protection, as a boolean or an object, or
    absent: a stand-in egressctl prints the real status with it added."""
    d = ctx.daemon({"ci": POLICY})
    real = d.ctl("status", "--json")
    eq(real.returncode, 0, "egressctl status --json")
    text = real.stdout
    check(text.startswith("{\n\t\"ok\":\ttrue,"), "status --json layout changed: %r" % text[:40])
    obj = "\t\"tamper_protection\":\t{\n%s\n\t},\n"
    cases = ((obj % "\t\t\"bpf_lsm\":\ttrue,\n\t\t\"mode\":\t\"bpf_lsm\",\n\t\t\"refused\":\t0",
              "BPF LSM active"),
             (obj % "\t\t\"bpf_lsm\":\tfalse,\n\t\t\"mode\":\t\"guard\",\n\t\t\"why\":\t\"x\"",
              "BPF LSM inactive (mode guard)"),
             (obj % "\t\t\"bpf_lsm\":\tfalse", "BPF LSM inactive"),
             (obj % "\t\t\"mode\":\t\"guard\"", "unknown"),
             ("\t\"tamper_protection\":\ttrue,\n", "BPF LSM active"),
             ("\t\"tamper_protection\":\tfalse,\n", "BPF LSM inactive"),
             ("\t\"tamper_protection\":\t\"maybe\",\n", "unknown"),
             ("\t\"probe_x\":\t{\n\t\t\"bpf_lsm\":\ttrue\n\t},\n", "unknown"))
    # the real status without the key (older egressd), and with it
    real_st = json.loads(text)
    real_st.pop("tamper_protection", None)
    text = json.dumps(real_st, indent="\t", separators=(",", ":\t"))
    fake = ctx.path("egressctl-fake")
    for ins, want in cases:
        with open(ctx.path("status.json"), "w") as f:
            f.write(text.replace("{\n", "{\n" + ins, 1))
        with open(fake, "w") as f:
            f.write("#!/bin/sh\ncat '%s'\n" % ctx.path("status.json"))
        os.chmod(fake, 0o755)
        p = run_script(ctx, d, [CHECK], step_env(ctx, d, GITLAB, {"EGRESSCTL": fake}))
        eq(p.returncode, 0, "check with %r: %s" % (ins, describe(p)))
        eq(check_line(p.stdout, "tamper protection"), want, "tamper protection for %r" % ins)
        eq(check_line(p.stdout, "running jobs"), "0", "a top-level key after %r" % ins)


# -- the files themselves -----------------------------------------------------------

def ci_files(*exts):
    out = []
    for ext in exts:
        out += glob.glob(os.path.join(CI_DIR, "**", "*." + ext), recursive=True)
    return sorted(out)


@test
def test_deploy_ci_files(ctx):
    yamls = ci_files("yml", "yaml")
    check(len(yamls) >= 3, "YAML files under deploy/ci: %s" % yamls)
    docs = {os.path.relpath(p, CI_DIR): load_yaml(p) for p in yamls}
    for rel, doc in docs.items():
        check(isinstance(doc, dict), "deploy/ci/%s: not a YAML mapping" % rel)

    # the composite action
    act = docs["github/fence/action.yml"]
    inputs = act.get("inputs") or {}
    eq(sorted(inputs), sorted(["run", "policy", "shell", "job-id", "attrs", "working-directory",
                               "fail-on-deny", "quiet"]),
       "action inputs")
    eq(inputs["shell"].get("default"), "bash", "the shell input's default")
    runs = act.get("runs") or {}
    eq(runs.get("using"), "composite", "runs.using")
    steps = runs.get("steps") or []
    eq(len(steps), 1, "the action's steps")
    st = steps[0]
    eq(st.get("shell"), "bash", "the step's shell")
    eq(st.get("id"), "fence", "the step's id")
    eq(st.get("run", "").strip(), 'bash "${{ github.action_path }}/fence.sh"', "the step's run")
    env = st.get("env") or {}
    for name in inputs:
        var = "FENCE_INPUT_" + name.upper().replace("-", "_")
        eq(env.get(var), "${{ inputs.%s }}" % name, "env %s" % var)
    eq(act["outputs"]["job-id"]["value"], "${{ steps.fence.outputs.job-id }}", "output job-id")
    # no input pasted into a script's text, and fence.sh reads every variable
    check("inputs." not in st["run"], "an input expression in the step's run")
    with open(FENCE_SH) as f:
        body = f.read()
    for var in env:
        check(var in body, "fence.sh does not read %s" % var)

    # the example workflow uses the action with inputs it has
    wf = docs["github/example-workflow.yml"]
    uses = [s for job in wf["jobs"].values() for s in job["steps"]
            if str(s.get("uses", "")).split("@")[0].endswith("deploy/ci/github/fence")]
    check(uses, "the example workflow does not use deploy/ci/github/fence")
    for s in uses:
        check(set(s.get("with") or {}) <= set(inputs), "inputs the action lacks: %s" % (
            set(s["with"]) - set(inputs)))
        check(s["with"].get("run") and s["with"].get("policy"), "example step without run/policy")

    # GitLab: the jobs run the step script the snippet names, and it exists
    gl = docs["gitlab/gitlab-ci.yml"]
    step = gl["variables"]["FENCE_STEP"]
    eq(os.path.basename(step), "egress-fence-step.sh", "FENCE_STEP")
    jobs = {k: v for k, v in gl.items() if isinstance(v, dict) and "script" in v}
    check(jobs, "no job in the GitLab snippet")
    for name, job in jobs.items():
        check(any("$FENCE_STEP" in line for line in job["script"]), "job %s does not run "
              "$FENCE_STEP" % name)
        check(job.get("extends") == ".egress-fenced", "job %s is not on the fenced runners" % name)

    # hook and pre_build_script name the check script
    with open(os.path.join(CI_DIR, "github", "runner.env")) as f:
        hooks = re.findall(r"^ACTIONS_RUNNER_HOOK_JOB_STARTED=(\S+)$", f.read(), re.M)
    eq([os.path.basename(h) for h in hooks], ["egress-fence-check.sh"], "runner.env hook")
    with open(os.path.join(CI_DIR, "gitlab", "config.toml"), "rb") as f:
        raw = f.read()
    try:
        import tomllib
        conf = tomllib.loads(raw.decode())
        pre = conf["runners"][0]["pre_build_script"]
        eq(conf["runners"][0]["executor"], "shell", "config.toml executor")
    except ImportError:  # Python < 3.11
        pre = re.search(rb'pre_build_script = "([^"]+)"', raw).group(1).decode()
    eq(os.path.basename(pre), "egress-fence-check.sh", "config.toml pre_build_script")

    # shell scripts: executable, bash -n, shellcheck
    scripts = ci_files("sh")
    check(len(scripts) >= 3, "shell scripts under deploy/ci: %s" % scripts)
    for sh in scripts:
        check(os.access(sh, os.X_OK), "%s is not executable" % sh)
        r = subprocess.run(["bash", "-n", sh], capture_output=True, text=True)
        eq(r.returncode, 0, "bash -n %s: %s" % (sh, r.stderr.strip()))
    shellcheck = shutil.which("shellcheck")
    check(shellcheck, "shellcheck is not installed: run `make deps` (it is in the Makefile's "
          "DEB_PKGS) to lint deploy/ci/**.sh")
    r = subprocess.run([shellcheck] + scripts, capture_output=True, text=True)
    eq(r.returncode, 0, "shellcheck:\n" + r.stdout[-2000:])


DOCS = [os.path.join(REPO, "docs", n) for n in ("ci.md", "export.md")]
# where the project's own variables, commands and options are defined
SOURCES = (glob.glob(os.path.join(REPO, "daemon", "**", "*.c"), recursive=True) +
           glob.glob(os.path.join(REPO, "cli", "*.c"))
           + ci_files("sh", "env", "toml", "yml"))


@test
def test_deploy_ci_docs_name_what_exists(ctx):
    """docs/ci.md and docs/export.md name only variables, egressctl
    commands, step-script options and files that exist."""
    text = {}
    for path in SOURCES:
        with open(path, errors="replace") as f:
            text[path] = f.read()
    src = "\n".join(text.values())
    with open(os.path.join(REPO, "cli", "egressctl.c")) as f:
        commands = set(re.findall(r'^\t\{ "([a-z]+)", cmd_', f.read(), re.M))
    with open(STEP) as f:
        options = set(re.findall(r"^\t(--[a-z-]+)\)", f.read(), re.M))
    for doc in DOCS:
        check(os.path.exists(doc), "%s is missing" % doc)
        with open(doc) as f:
            body = f.read()
        name = os.path.basename(doc)
        ours = r"\b(?:OTEL|EGRESS|EGRESSCTL|FENCE_INPUT|ACTIONS_RUNNER_HOOK)_[A-Z_]*[A-Z]\b"
        for var in sorted(set(re.findall(ours, body))):
            check(re.search(r"\b%s\b" % var, src), "%s names %s, which no source defines" % (
                name, var))
        for cmd in sorted(set(re.findall(r"`egressctl ([a-z]+)", body))):
            check(cmd in commands, "%s names `egressctl %s`, not a command (%s)" % (
                name, cmd, sorted(commands)))
        if name == "ci.md":
            for opt in sorted(set(re.findall(r"`(--[a-z-]+)", body))):
                check(opt in options, "ci.md names step option %s; the "
                      "script has %s" % (opt, sorted(options)))
        for link in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", body):
            check(os.path.exists(os.path.join(os.path.dirname(doc), link)),
                  "%s links to %s, which does not exist" % (name, link))
        for rel in re.findall(r"`(deploy/[^`\s]+)`", body):
            check(os.path.exists(os.path.join(REPO, rel)), "%s names %s, which does not "
                                                           "exist" % (name, rel))


# where `make install` puts deploy/ci's files with the default PREFIX (the
# tree itself is checked by test_install.py): directory -> (its source in
# the repository, the files installed there)
INSTALLED_CI = {
    "/usr/local/libexec/egress-fence/": (
        "deploy/ci/", ("egress-fence-step.sh", "egress-fence-check.sh")),
    "/usr/local/share/egress-fence/github/fence/": (
        "deploy/ci/github/fence/", ("action.yml", "fence.sh")),
}


@test
def test_deploy_ci_docs_name_installed_paths(ctx):
    """The README, docs/ci.md and the files under deploy/ci name the CI
    scripts and the action where `make install` puts them (default PREFIX),
    files that make install installs; no longer /opt/egress-fence."""
    paths = DOCS + [os.path.join(REPO, "README.md")] + ci_files("sh", "env", "toml", "yml")
    named = 0
    for path in paths:
        with open(path, errors="replace") as f:
            body = f.read()
        rel = os.path.relpath(path, REPO)
        check("/opt/egress-fence" not in body, "%s still names /opt/egress-fence" % rel)
        for p in re.findall(r"/usr/local/(?:libexec|share)/egress-fence[\w./-]*", body):
            p = p.rstrip(".")
            d = p if p.endswith("/") else p + "/"
            where = [k for k in INSTALLED_CI if d.startswith(k) or p.startswith(k)]
            check(where, "%s names %s, not where make install puts deploy/ci's files (%s)" % (
                rel, p, sorted(INSTALLED_CI)))
            src, files = INSTALLED_CI[where[0]]
            name = p[len(where[0]):] if p.startswith(where[0]) else ""
            check(name in ("",) + files, "%s names %s: make install puts no %s there (%s)" % (
                rel, p, name, files))
            if name:
                check(os.path.exists(os.path.join(REPO, src, name)), "%s names %s, whose "
                      "source %s%s does not exist" % (rel, p, src, name))
            named += 1
    check(named >= 6, "the docs and examples name the installed CI files %d times" % named)
