"""Policies changed while jobs run: egressctl policy apply/add/remove/diff,
live switch of running jobs, revocation of open connections, refused edits,
a switch under a connect storm, who may change policies and pick them, and
the egress.policy span of every change."""
import json
import os
import subprocess
import textwrap
import time

import world as W
from harness import test, pol, check, eq, wait_until, read_jsonl, probe_argv, norm_addr, EPERM, PY

A, A2, D = "198.18.1.1:443", "198.18.1.2:443", "198.18.2.1:443"
ECONNABORTED, ECONNRESET, EPIPE = 103, 104, 32
# the world's dnsmasq: never the host's resolv.conf
DNS = {"upstream": [W.DNS_V4], "timeout_ms": 1000, "attempts": 2}


def hold(ctx, d, policy, held=A, retry=(A2, D), seconds=60, pre=None):
    """A job keeping a connection to `held` open (echo every 100 ms) and
    retrying `retry`; pre: a shell command run first in the job. Returns
    (background, log path, stop file)."""
    log, stop = ctx.path("hold-%d.jsonl" % len(ctx.procs)), ctx.path("stop-%d" % len(ctx.procs))
    host, port = held.rsplit(":", 1)
    argv = probe_argv("hold", host, port, seconds, "--log", log, "--interval-ms", 100,
                      "--stop-file", stop)
    for r in retry:
        argv += ["--retry", r]
    if pre:
        argv = ["/bin/sh", "-c", pre + ' && exec "$@"', "sh"] + argv
    bg = d.spawn(policy, argv)

    def opened():
        recs = read_jsonl(log)
        if bg.proc.poll() is not None:
            raise AssertionError("hold job exited %s: %r" % (bg.proc.returncode, bg.output()))
        if recs and recs[0]["op"] == "hold-open":
            check(recs[0]["ok"], "the held connection did not open: %s" % recs[0])
        return any(r["op"] == "hold-ping" for r in recs)
    wait_until(opened, 15, what="the hold job's first round")
    return bg, log, stop


def finish(bg, stop):
    open(stop, "w").close()
    bg.wait(20)


def rounds_after(log, t, target=None, op="connect", n=3, timeout=10):
    """Wait for n records (connects to target, or pings) after time t."""
    def get():
        return [r for r in read_jsonl(log) if r["t"] > t and r["op"] == op
                and (target is None or r.get("target") == target + "/tcp")]
    wait_until(lambda: len(get()) >= n, timeout, what="%d %s records of %s" % (n, op, target))
    return get()


def policy_spans(d, name, n=1, **where):
    w = {"egress.policy.name": name}
    w.update({k.replace("_", "."): v for k, v in where.items()})
    return d.wait_spans("egress.policy", n=n, where=w)


def ctl_ok(d, *args):
    r = d.ctl(*args, timeout=60)
    check(r.returncode == 0, "`egressctl %s` exited %d: %s" % (
        " ".join(args), r.returncode, (r.stderr or r.stdout).strip()[-800:]))
    return r


def ctl_json(d, *args):
    return json.loads(ctl_ok(d, *(list(args) + ["--json"])).stdout)


@test(timeout=120)
def test_policy_add_opens_for_the_running_job(ctx):
    """A rule added while a job runs: its next connection is allowed; the
    held one is untouched; the change is an egress.policy span naming root."""
    d = ctx.daemon({"live": pol(allow=[A])}, config={"dns": DNS})
    bg, log, stop = hold(ctx, d, "live")
    t0 = time.time()
    for r in rounds_after(log, t0, A2):
        check(not r["ok"] and r["errno"] == EPERM, "before the add: A2 got %s" % r)
    rep = ctl_json(d, "policy", "add", "live", A2)
    eq(rep["jobs"], 1, "jobs switched")
    eq(rep["added"], ["allow " + A2], "reply: added")
    eq(rep["connections_closed"], 0, "connections closed by an add")
    t1 = time.time()
    for r in rounds_after(log, t1 + 0.05, A2):
        check(r["ok"] and r["echo"], "after the add: A2 got %s" % r)
    for r in rounds_after(log, t1, D):
        check(not r["ok"] and r["errno"] == EPERM, "after the add: D got %s" % r)
    for r in rounds_after(log, t0, op="hold-ping", n=10):
        check(r["ok"], "the held connection broke: %s" % r)
    with open(os.path.join(d.policy_dir, "live.json")) as f:
        doc = json.load(f)
    eq(doc["allow"], [A, A2], "the file after add")
    s = policy_spans(d, "live")[-1]
    eq(s.status_code, 1, "span status (ok)")
    eq(s.get("egress.policy.change"), "add", "egress.policy.change")
    eq(s.get("egress.policy.rules.added"), ["allow " + A2], "rules.added")
    eq(s.get("process.user.id"), 0, "who")
    eq(s.get("enduser.id"), "root", "enduser.id")
    eq(s.get("egress.policy.jobs"), 1, "egress.policy.jobs")
    eq(s.parent_id, "", "egress.policy is a root span")
    check(s.get("process.pid", 0) > 0, "process.pid on the span")
    # the job's own decisions name the new version's rule
    j = d.wait_spans("egress.connect", job=bg.job, where={"network.peer.address": "198.18.1.2",
                                                           "egress.decision": "allow"})
    eq(j[-1].get("egress.rule"), A2, "egress.rule of the allowed connect")
    finish(bg, stop)


@test(timeout=120)
def test_each_version_judges_from_its_first_connect(ctx):
    """Nothing the fence judged under one policy version carries over to the
    next: A2, refused many times, is allowed from the first connect after an
    add, refused again from the first after a remove, allowed after a re-add,
    each time under the running job."""
    d = ctx.daemon({"live": pol(allow=[A])}, config={"dns": DNS})
    bg, log, stop = hold(ctx, d, "live")
    for change, ok in (("add", True), ("remove", False), ("add", True)):
        t = time.time()
        before = rounds_after(log, t, A2, n=5)
        check(all(r["ok"] != ok for r in before), "before %s: A2 got %s" % (change, before))
        ctl_json(d, "policy", change, "live", A2)
        t = time.time()
        after = rounds_after(log, t + 0.05, A2, n=5)
        check(all(r["ok"] == ok and (ok or r["errno"] == EPERM) for r in after),
              "after %s: A2 got %s" % (change, after))
        for r in rounds_after(log, t, D, n=2):
            check(not r["ok"] and r["errno"] == EPERM, "after %s: D got %s" % (change, r))
    finish(bg, stop)


@test(timeout=120)
def test_policy_remove_tears_down_the_open_connection(ctx):
    """Removing the rule under an open connection: it is torn down (the job
    sees the reset), the next connect is denied, other connections stay."""
    d = ctx.daemon({"live": pol(allow=[A, A2])}, config={"dns": DNS})
    bg, log, stop = hold(ctx, d, "live", held=A, retry=(A, A2))
    bg2, log2, stop2 = hold(ctx, d, "live", held=A2, retry=(A2,))
    rep = ctl_json(d, "policy", "remove", "live", A)
    eq(rep["jobs"], 2, "jobs switched")
    eq(rep["removed"], ["allow " + A], "reply: removed")
    check(rep["connections_closed"] >= 1, "no connection closed: %s" % rep)
    t1 = time.time()
    pings = rounds_after(log, t1, op="hold-ping", n=2)
    check(not pings[0]["ok"] and pings[0]["errno"] in (ECONNABORTED, ECONNRESET, EPIPE),
          "the held connection to A after the remove: %s" % pings[0])
    for r in rounds_after(log, t1, A):
        check(not r["ok"] and r["errno"] == EPERM, "A after the remove: %s" % r)
    for r in rounds_after(log, t1, A2):
        check(r["ok"], "A2 after the remove: %s" % r)
    for r in rounds_after(log2, t1, op="hold-ping", n=5):
        check(r["ok"], "the other job's connection to A2 broke: %s" % r)
    s = policy_spans(d, "live")[-1]
    eq(s.get("egress.policy.rules.removed"), ["allow " + A], "rules.removed")
    check(s.get("egress.policy.connections_closed", 0) >= 1, "connections_closed on the span")
    finish(bg, stop)
    finish(bg2, stop2)


@test(timeout=120)
def test_policy_remove_name_forgets_learned_addresses(ctx):
    """A name rule removed: the connection opened through it is torn down,
    the addresses learned through it are forgotten (a new connect to the
    address is denied), the name no longer resolves."""
    d = ctx.daemon({"names": pol(allow=["ok.test:443", "a.wild.test:443"])},
                   config={"dns": DNS})
    pre = "%s %s resolve ok.test --family 4 >/dev/null && %s %s resolve a.wild.test --family 4 " \
          ">/dev/null" % (PY, W.PROBE, PY, W.PROBE)
    bg, log, stop = hold(ctx, d, "names", held="198.18.1.1:443",
                         retry=("198.18.1.1:443", "198.18.1.2:443"), pre=pre)
    t0 = time.time()
    for r in rounds_after(log, t0, "198.18.1.1:443"):
        check(r["ok"], "before: the learned address: %s" % r)
    rep = ctl_json(d, "policy", "remove", "names", "OK.test.:443/tcp")
    eq(rep["removed"], ["allow ok.test:443"], "removed (matched however spelled)")
    check(rep["addresses_forgotten"] >= 1, "addresses forgotten: %s" % rep)
    check(rep["connections_closed"] >= 1, "connections closed: %s" % rep)
    t1 = time.time()
    pings = rounds_after(log, t1, op="hold-ping", n=1)
    check(not pings[0]["ok"], "the connection through ok.test survived: %s" % pings[0])
    for r in rounds_after(log, t1, "198.18.1.1:443"):
        check(not r["ok"] and r["errno"] == EPERM, "ok.test's address after the remove: %s" % r)
    for r in rounds_after(log, t1, "198.18.1.2:443"):
        check(r["ok"], "a.wild.test's address (still allowed, learned before): %s" % r)
    r = d.probe("names", "resolve", "ok.test", "--family", "4")
    eq(r.lines[0]["rcode"], "NXDOMAIN", "ok.test after the remove")
    finish(bg, stop)


BROKEN = {
    "bad-json": ('{"name": "live", "allow": ["198.18.1.1:443",]}', ":1:"),
    "unknown-key": ('{"name": "live", "allow": [], "alow": []}', ":1:"),
    "bad-cidr": ('{"name": "live",\n "allow": ["198.18.1.0/33:443"]}', ":2:"),
    "bad-port": ('{"name": "live",\n "allow": ["198.18.1.1:70000"]}', ":2:"),
    "bad-name": ('{"name": "live",\n "allow": ["exa mple.com:443"]}', ":2:"),
    "no-port": ('{"name": "live",\n "allow": ["198.18.1.1"]}', ":2:"),
    "open-v4": ('{"name": "live",\n "allow": ["0.0.0.0/0:443"]}', ":2:"),
    "open-v6": ('{"name": "live",\n "allow": ["[::]/0:*"]}', ":2:"),
    "public-suffix": ('{"name": "live",\n "allow": ["*.com:443"]}', ":2:"),
    "contradiction": ('{"name": "live",\n "allow": ["198.18.1.9:443"],\n'
                      ' "deny": ["198.18.1.0/24:*"]}', ":2:"),
}


@test(timeout=180)
def test_policy_apply_refuses_bad_files(ctx):
    """Broken, unknown-key, out-of-range, open-everything and contradictory
    files are refused with FILE:LINE:COL; the file on disk and the policy in
    force stay as they were; each refusal is an error span."""
    d = ctx.daemon({"live": pol(allow=[A])}, config={"dns": DNS})
    path = os.path.join(d.policy_dir, "live.json")
    with open(path) as f:
        before = f.read()
    bg, log, stop = hold(ctx, d, "live")
    n_spans = 0
    for label, (text, where) in sorted(BROKEN.items()):
        f = ctx.path(label + ".json")
        with open(f, "w") as fh:
            fh.write(text)
        r = d.ctl("policy", "apply", f)
        eq(r.returncode, 1, "apply %s: exit status (stderr %r)" % (label, r.stderr))
        if where:
            check(f + where in r.stderr, "apply %s: want %s%s... in %r" % (label, f, where,
                                                                        r.stderr))
        with open(path) as fh:
            eq(fh.read(), before, "the installed file after apply %s" % label)
        if label in ("open-v4", "open-v6", "public-suffix", "contradiction"):
            check("--force" in r.stderr, "apply %s: the message says --force: %r" % (
                label, r.stderr))
            n_spans += 1  # refused by egressd (parsed fine on this side)
            v = d.ctl("policy", "validate", f)
            eq(v.returncode, 1, "validate %s" % label)
    t = time.time()
    for r in rounds_after(log, t, D):
        check(not r["ok"] and r["errno"] == EPERM, "D while refusals happen: %s" % r)
    for r in rounds_after(log, t, A2):
        check(not r["ok"] and r["errno"] == EPERM, "A2 (not in any applied file): %s" % r)
    spans = d.wait_spans("egress.policy", n=n_spans, where={"egress.policy.name": "live"})
    for s in spans:
        eq(s.status_code, 2, "refused change span status")
        eq(s.get("error.type"), "invalid_policy", "error.type")
    # --force lets an open-everything rule in (and says so on the span)
    f = ctx.path("open-v4.json")
    rep = ctl_json(d, "policy", "apply", "--force", f)
    eq(rep["added"], ["allow 0.0.0.0/0:443"], "forced apply: added")
    s = policy_spans(d, "live")[-1]
    eq(s.get("egress.policy.forced"), True, "forced on the span")
    for r in rounds_after(log, time.time(), D):
        check(r["ok"], "D under 0.0.0.0/0:443: %s" % r)
    finish(bg, stop)


STORM = textwrap.dedent("""
    import json, socket, sys, time
    allow, deny, stop = sys.argv[1], sys.argv[2], sys.argv[3]
    import os
    def one(t):
        h, p = t.rsplit(":", 1)
        s = socket.socket()
        s.settimeout(2)
        try:
            s.connect((h, int(p)))
            return 0
        except PermissionError:
            return 1
        except OSError as e:
            return 100 + e.errno
        finally:
            s.close()
    n = {"allow_ok": 0, "allow_refused": 0, "deny_ok": 0, "deny_refused": 0, "other": 0}
    while not os.path.exists(stop):
        r = one(allow)
        n["allow_ok" if r == 0 else "allow_refused" if r == 1 else "other"] += 1
        r = one(deny)
        n["deny_ok" if r == 0 else "deny_refused" if r == 1 else "other"] += 1
    print(json.dumps(n), flush=True)
""")


@test(timeout=300)
def test_policy_swap_under_connect_storm(ctx):
    """Two versions applied in turn 40 times or more while a job connects as fast as
    it can to a destination both allow and one both deny: the denied one
    never gets through, the allowed one is never refused."""
    v = [pol(allow=[A, "198.18.1.3:443"]), pol(allow=[A, "198.18.1.4:443"])]
    d = ctx.daemon({"storm": v[0]}, config={"dns": DNS})
    files = []
    for i, p in enumerate(v):
        f = ctx.path("storm-%d.json" % i)
        with open(f, "w") as fh:
            json.dump(dict(p, name="storm"), fh)
        files.append(f)
    script, stop = ctx.path("storm.py"), ctx.path("storm.stop")
    with open(script, "w") as f:
        f.write(STORM)
    t_start = time.time()
    bg = d.spawn("storm", [PY, script, A, D, stop])
    wait_until(lambda: d.find("egress.connect", job=bg.job), 10, what="the storm's first connect")
    swaps, t_swaps = 0, time.time()
    # 40 swaps at least, and for 4 s at least: a loaded machine connects slowly
    while swaps < 40 or time.time() - t_swaps < 4:
        rep = ctl_json(d, "policy", "apply", files[(swaps + 1) % 2])
        eq(rep["jobs"], 1, "swap %d: jobs switched" % swaps)
        swaps += 1
    time.sleep(0.5)
    open(stop, "w").close()
    bg.wait(30)
    out, err = bg.output()
    n = json.loads(out.strip().splitlines()[-1])
    ctx.note("storm: %d swaps, %s" % (swaps, n))
    check(n["allow_ok"] + n["deny_refused"] > 400, "too few connects to say anything: %s" % n)
    eq(n["deny_ok"], 0, "connects to the denied destination that got through")
    eq(n["allow_refused"], 0, "connects to the allowed destination that were refused")
    eq(n["other"], 0, "connects that failed otherwise")
    # (not ctx.reached(): the test before may have reached D just before this one began)
    seen = [e for e in ctx.world.host_log() if e["t"] >= t_start and e["proto"] == "tcp"
            and e["lport"] == 443 and norm_addr(e["local"]) == "198.18.2.1"]
    eq(len(seen), 0, "connections the hosts saw to the denied destination")
    spans = d.wait_spans("egress.policy", n=40, where={"egress.policy.name": "storm"})
    check(len(spans) >= 40, "40 egress.policy spans")


def as_user(d, uid, *args, groups=None, timeout=30):
    """egressctl as uid (gid = uid) with supplementary groups."""
    for p in (d.tmp, d.run_dir):
        os.chmod(p, 0o711)
    os.chmod(d.policy_dir, 0o755)
    g = ["--groups=" + ",".join(map(str, groups))] if groups else ["--clear-groups"]
    argv = ["setpriv", "--reuid=%d" % uid, "--regid=%d" % uid] + g + [
        "--", d.egressctl, "--socket", d.sock] + list(args)
    return subprocess.run(d.world.fence_argv(argv), capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


@test(timeout=180)
def test_policy_access_control(ctx):
    """Without an access section only root changes policies. With one: a
    policy admin may; a user named by access.run gets the assigned policy,
    may pick a stricter one, not a weaker one or an allow-all file; a user
    no entry names may not start jobs. Refusals are spans too."""
    d = ctx.daemon({"base": pol(allow=[A, A2]), "strict": pol(allow=[A]),
                    "wide": pol(allow=[A, A2, D]), "audit": pol(allow=[A], mode="audit")},
                   config={"dns": DNS})
    r = as_user(d, 65534, "policy", "add", "base", D)
    check(r.returncode == 1 and "permission denied" in r.stderr, "nobody adds: %r" % r.stderr)
    s = d.wait_spans("egress.policy", where={"egress.policy.name": "base",
                                             "process.user.id": 65534})[-1]
    eq(s.status_code, 2, "refused span status")
    eq(s.get("error.type"), "permission_denied", "error.type")
    with open(os.path.join(d.policy_dir, "base.json")) as f:
        check("198.18.2.1" not in f.read(), "the file changed after a refused add")

    d.stop()
    d.set_config({"dns": DNS, "access": {"policy_admins": {"users": [65533]},
                             "run": [{"users": [65534], "policy": "base"}]}})
    d.start()
    r = as_user(d, 65533, "policy", "add", "base", "198.18.1.3:443")
    eq(r.returncode, 0, "a policy admin adds: %s" % r.stderr)
    s = d.wait_spans("egress.policy", where={"egress.policy.name": "base",
                                             "process.user.id": 65533})[-1]
    eq(s.status_code, 1, "the admin's change")
    r = as_user(d, 65534, "policy", "remove", "base", A)
    check(r.returncode == 1 and "permission denied" in r.stderr, "nobody removes: %r" % r.stderr)

    def run_as(uid, *pol_args):
        return as_user(d, uid, "run", *pol_args, "--", PY, W.PROBE, "connect", A2, A)
    r = run_as(65534)
    eq(r.returncode, 0, "nobody runs with the assigned policy: %s" % r.stderr)
    res = [json.loads(x) for x in r.stdout.splitlines() if x.startswith("{")]
    check(res and all(x["ok"] for x in res), "under base A2 and A are allowed: %s" % res)
    r = run_as(65534, "--policy", "strict")
    eq(r.returncode, 0, "nobody picks a stricter policy: %s" % r.stderr)
    res = [json.loads(x) for x in r.stdout.splitlines() if x.startswith("{")]
    check([x["ok"] for x in res] == [False, True], "under strict only A: %s" % res)
    for name, why in (("wide", "198.18.2.1:443"), ("audit", "audit")):
        r = run_as(65534, "--policy", name)
        check(r.returncode == 125 and "weaker" in r.stderr and why in r.stderr,
              "nobody picks %s: rc %d %r" % (name, r.returncode, r.stderr))
    f = ctx.path("mine.json")
    with open(f, "w") as fh:
        json.dump({"name": "mine", "allow": ["198.18.0.0/15:*"]}, fh)
    os.chmod(ctx.tmp, 0o755)
    r = run_as(65534, "--policy", f)
    check(r.returncode == 125 and "weaker" in r.stderr, "nobody's own wide file: %r" % r.stderr)
    r = run_as(65532)
    check(r.returncode == 125 and "may not start jobs" in r.stderr,
          "a user no entry names: rc %d %r" % (r.returncode, r.stderr))
    eq(d.ctl("run", "--policy", "wide", "--", "true").returncode, 0, "root picks any policy")


@test(timeout=120)
def test_policy_cli_edits_and_diff(ctx):
    """add/remove/diff/validate from the command line: bad rules, missing
    policies and rules, duplicates, the canonical file, diff's exit codes."""
    d = ctx.daemon({"p": pol(allow=[A])}, config={"dns": DNS})
    for args, want in ((("add", "p", "198.18.1.1"), "port"),
                       (("add", "p", "198.18.1.2:99999"), "99999"),
                       (("add", "p", A), "already"),
                       (("remove", "p", A2), "not"),
                       (("add", "nosuch", A2), "no such policy"),
                       (("add", "p"), "RULE"),
                       (("add", "BAD/NAME", A2), "name")):
        r = d.ctl("policy", *args)
        check(r.returncode != 0 and want in r.stderr, "policy %s: rc %d %r (want %r)" % (
            " ".join(args), r.returncode, r.stderr, want))
    ctl_ok(d, "policy", "add", "--deny", "p", "198.18.1.0/24:22")
    ctl_ok(d, "policy", "add", "p", "[2001:db8:1::1]:443", "ok.test:80,443")
    with open(os.path.join(d.policy_dir, "p.json")) as f:
        text = f.read()
    doc = json.loads(text)
    eq(doc["allow"], [A, "[2001:db8:1::1]:443", "ok.test:80,443"], "allow after adds")
    eq(doc["deny"], ["198.18.1.0/24:22"], "deny after add --deny")
    check(text.endswith("\n") and '\n    "' in text, "canonical layout: %r" % text[:200])
    r = d.ctl("policy", "validate", os.path.join(d.policy_dir, "p.json"))
    eq(r.returncode, 0, "validate the edited file: %s" % r.stderr)
    f = ctx.path("p2.json")
    with open(f, "w") as fh:
        json.dump({"name": "p", "mode": "audit", "allow": [A, "198.18.1.5:443"],
                   "deny": ["198.18.1.0/24:22"]}, fh)
    r = d.ctl("policy", "diff", f)
    eq(r.returncode, 1, "diff with changes: %s" % r.stderr)
    for line in ("~ mode: enforce -> audit", "+ allow 198.18.1.5:443",
                 "- allow ok.test:80,443", "- allow [2001:db8:1::1]:443"):
        check(line in r.stdout, "diff output lacks %r:\n%s" % (line, r.stdout))
    ctl_ok(d, "policy", "apply", f)
    r = d.ctl("policy", "diff", f)
    eq(r.returncode, 0, "diff after apply: %s" % r.stdout)
    ctl_ok(d, "policy", "remove", "p", "198.18.1.5:443")
    ctl_ok(d, "policy", "remove", "--deny", "p", "198.18.1.0/24:22")
    spans = d.wait_spans("egress.policy", n=5, where={"egress.policy.name": "p",
                                                      "egress.policy.forced": False})
    ok = [s for s in spans if s.status_code == 1]
    eq(len(ok), 5, "successful changes recorded (add --deny, add, apply, remove, remove)")
    eq([s.get("egress.policy.change") for s in ok], ["add", "add", "apply", "remove", "remove"],
       "changes in order")


@test(timeout=60)
def test_policy_bad_control_messages(ctx):
    """Raw policy requests with missing or mistyped fields get a clear error;
    nothing is written and egressd stays up."""
    import socket
    d = ctx.daemon({"p": pol(allow=[A])}, config={"dns": DNS})
    path = os.path.join(d.policy_dir, "p.json")
    with open(path) as f:
        before = f.read()
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(d.sock)
    cases = [({"op": "policy_add"}, "name"),
             ({"op": "policy_add", "name": 7, "rules": [A2]}, "name"),
             ({"op": "policy_add", "name": "../p", "rules": [A2]}, "name"),
             ({"op": "policy_add", "name": "p"}, "rules"),
             ({"op": "policy_add", "name": "p", "rules": A2}, "rules"),
             ({"op": "policy_add", "name": "p", "rules": [1]}, "rules"),
             ({"op": "policy_add", "name": "p", "rules": []}, "rules"),
             ({"op": "policy_remove", "name": "p", "rules": [None]}, "rules"),
             ({"op": "policy_apply"}, "text"),
             ({"op": "policy_apply", "text": 5}, "text"),
             ({"op": "policy_apply", "text": "{\"name\": \"p\", \"allow\": [\"x\"]}"}, "port"),
             ({"op": "policy_bogus", "name": "p"}, "unknown op")]
    for req, want in cases:
        s.sendall((json.dumps(req) + "\n").encode())
        buf = b""
        while not buf.endswith(b"\n"):
            chunk = s.recv(4096)
            check(chunk, "egressd closed the connection after %s" % req)
            buf += chunk
        rep = json.loads(buf)
        check(rep["ok"] is False and want in rep["error"], "%s -> %s" % (req, rep))
    s.close()
    check(d.alive(), "egressd died")
    with open(path) as f:
        eq(f.read(), before, "the policy file after bad requests")
    eq(d.status()["ok"], True, "status after bad requests")
    eq(d.status()["policy_changes"]["applied"], 0, "changes applied")


@test(timeout=60)
def test_policy_span_lists_many_rules(ctx):
    """A change of 40 rules: the reply lists all 40, the span the first 32 in
    order and the exact count."""
    d = ctx.daemon({"many": pol(allow=[A])}, config={"dns": DNS})
    rules = ["198.18.1.%d:%d" % (1 + i % 9, 1000 + i) for i in range(40)]
    rep = ctl_json(d, "policy", "add", "many", *rules)
    eq(rep["added"], ["allow " + r for r in rules], "reply: every rule added")
    s = policy_spans(d, "many")[-1]
    eq(s.get("egress.policy.rules.added"), ["allow " + r for r in rules[:32]],
       "span: the first 32 rules, in order")
    eq(s.get("egress.policy.rules.added_count"), 40, "span: the count")


@test(timeout=180)
def test_policy_access_bad_config(ctx):
    """An access section egressd cannot honour stops it at start, naming the
    setting; nothing is left half set up."""
    cases = [
        ({"access": []}, "\"access\" must be an object"),
        ({"access": {"admins": {}}}, "admins"),
        ({"access": {"socket_mode": 660}}, "access.socket_mode"),
        ({"access": {"socket_mode": "0066"}}, "access.socket_mode"),
        ({"access": {"socket_mode": "rw"}}, "access.socket_mode"),
        ({"access": {"socket_group": "no-such-group-ef"}}, "access.socket_group"),
        ({"access": {"policy_admins": ["root"]}}, "access.policy_admins"),
        ({"access": {"policy_admins": {"users": "root"}}}, "access.policy_admins.users"),
        ({"access": {"policy_admins": {"users": ["no-such-user-ef"]}}}, "no such user"),
        ({"access": {"policy_admins": {"groups": [-1]}}}, "access.policy_admins.groups"),
        ({"access": {"policy_admins": {"user": []}}}, "user"),
        ({"access": {"run": {}}}, "access.run"),
        ({"access": {"run": [5]}}, "access.run[0]"),
        ({"access": {"run": [{"policy": "base"}]}}, "names no user or group"),
        ({"access": {"run": [{"users": ["*"]}]}}, "access.run[0].policy"),
        ({"access": {"run": [{"users": ["*"], "policy": "../etc"}]}}, "access.run[0].policy"),
        ({"access": {"run": [{"users": ["*"], "policy": "a", "policies": "b"}]}},
         "access.run[0].policies"),
        ({"access": {"run": [{"users": ["*"], "policy": "a", "policies": ["B/"]}]}},
         "access.run[0].policies"),
        ({"access": {"run": [{"users": ["*"], "policy": "a", "extra": 1}]}}, "extra"),
    ]
    for cfg, want in cases:
        d = ctx.daemon({}, start=False, config=dict(cfg, dns=DNS))
        try:
            d.start(timeout=10)
        except AssertionError as e:
            check(want in str(e), "egressd with %s: the error does not name %r: %s" % (
                cfg, want, e))
        else:
            raise AssertionError("egressd started with %s" % cfg)
        check(not os.path.exists(d.sock), "control socket left by a refused start (%s)" % cfg)


@test(timeout=120)
def test_policy_remove_tears_down_connections_in_every_namespace_of_the_job(ctx):
    """A job whose first process went to a network namespace of its own
    (`exec unshare -rn`) while another of its processes holds a connection
    in the host's: removing the rule still tears that connection down
    (every process's namespace is looked at, not the first's only)."""
    import shlex
    d = ctx.daemon({"live": pol(allow=[A, A2])}, config={"dns": DNS})
    log, stop = ctx.path("hold-ns.jsonl"), ctx.path("stop-ns")
    host, port = A.rsplit(":", 1)
    holder = " ".join(shlex.quote(str(a)) for a in probe_argv(
        "hold", host, port, 60, "--log", log, "--interval-ms", 100, "--stop-file", stop))
    bg = d.spawn("live", ["/bin/sh", "-c", "%s & exec unshare -rn sleep 60" % holder])

    def opened():
        recs = read_jsonl(log)
        return any(r["op"] == "hold-ping" and r["ok"] for r in recs)
    wait_until(opened, 15, what="the held connection's first ping")
    rep = ctl_json(d, "policy", "remove", "live", A)
    check(rep["connections_closed"] >= 1, "no connection closed: %s" % rep)
    t1 = time.time()
    pings = rounds_after(log, t1, op="hold-ping", n=1)
    check(not pings[0]["ok"] and pings[0]["errno"] in (ECONNABORTED, ECONNRESET, EPIPE),
          "the held connection to A after the remove: %s" % pings[0])
    open(stop, "w").close()
    bg.proc.kill()
    bg.wait(20)
