"""A job's whole process tree stays fenced: children, grandchildren, daemons,
nested cgroups; the job's cgroup goes away when the job ends."""
import json
import os
import time

from harness import test, pol, allowed, denied, check, eq, wait_until
from harness_spans import expect
from world import pid_alive

ALLOW, DENY = "198.18.1.1:443", "198.18.2.1:443"


def job_cgroup_path(d, rel):
    """cgroup v2 relative path -> absolute dir; asserts it is under the root."""
    root_rel = "/" + os.path.relpath(d.cgroup_root, d.ctx.cgroup2)
    check(rel.startswith(root_rel + "/"),
          "the job runs in cgroup %r, not under the daemon's cgroup root %r" % (rel, root_rel))
    return d.ctx.cgroup2 + rel


@test
def test_children_and_grandchildren_fenced(ctx):
    d = ctx.daemon({"t": pol(allow=[ALLOW])})
    r = d.probe("t", "spawn-tree", ALLOW, DENY)
    for role in ("child", "grandchild"):
        allowed(r.get(ALLOW, role))
        denied(r.get(DENY, role))
    child, grand = r.get(DENY, "child"), r.get(DENY, "grandchild")
    eq(grand["ppid"], child["pid"], "grandchild's parent")
    for x in (child, grand):
        s = d.wait_spans("egress.connect", r.job, where={"process.pid": x["pid"],
                                                         "network.peer.port": 443,
                                                         "network.peer.address": "198.18.2.1"})
        expect(s[0], decision="deny", reason="no_rule")
        eq(s[0].get("process.parent_pid"), x["ppid"], "process.parent_pid of %s" % x["role"])


@test(timeout=150)
def test_daemonized_process_fenced_and_keeps_job(ctx):
    d = ctx.daemon({"t": pol(allow=[ALLOW])})
    out, rel = ctx.path("daemon.json"), ctx.path("release")
    t0 = time.time()
    r = d.probe("t", "daemonize", "--out", out, "--release", rel, "--max-wait", "60",
                "--after", DENY, "--after", ALLOW, ALLOW, DENY, timeout=30)
    check(time.time() - t0 < 20, "egressctl run waited for the daemonized process")
    wait_until(lambda: os.path.exists(out), 10, what="the daemon's results in " + out)
    info = json.load(open(out))
    res = {x["target"]: x for x in info["results"]}
    allowed(res[ALLOW + "/tcp"])
    denied(res[DENY + "/tcp"])
    check(info["sid"] != r.lines[0]["pid"] and info["ppid"] != r.lines[0]["pid"],
          "the probe did not daemonize: %s" % info)
    s = d.wait_spans("egress.connect", r.job, where={"process.pid": info["pid"],
                                                     "network.peer.address": "198.18.2.1"})
    expect(s[0], decision="deny")
    # the daemon keeps the job alive
    time.sleep(2)
    eq(d.find("egress.job", r.job), [], "egress.job span while the daemonized process lives")
    j = d.job(r.job)
    check(j is not None, "`egressctl jobs` does not list job %s while its daemon lives: %s" % (
        r.job, d.jobs()))
    check(info["pid"] in j.get("pids", []), "job pids %s lack the daemon %d" % (
        j.get("pids"), info["pid"]))
    open(rel, "w").close()
    wait_until(lambda: os.path.exists(out + ".late"), 10, what="late results")
    late = {x["target"]: x for x in json.load(open(out + ".late"))}
    denied(late[DENY + "/tcp"])
    allowed(late[ALLOW + "/tcp"])
    wait_until(lambda: not pid_alive(info["pid"]), 10, what="the daemon to exit")
    js = d.job_span(r.job)
    late_ns = int(max(x["t"] for x in late.values()) * 1e9)
    check(js.end >= late_ns - int(1e9), "job span ends (%d) before the daemon's last connect "
          "(%d)" % (js.end, late_ns))


@test
def test_nested_cgroup_fenced(ctx):
    d = ctx.daemon({"t": pol(allow=[ALLOW])})
    r = d.probe("t", "nested-cgroup", "--name", "inner", ALLOW, DENY)
    nest = r.lines[0]
    check(nest["op"] == "nested-cgroup" and nest["ok"],
          "could not create and enter a nested cgroup: %s" % nest)
    check(nest["cgroup"] == nest["before"] + "/inner", "moved to %r, want %r" % (
        nest["cgroup"], nest["before"] + "/inner"))
    job_dir = job_cgroup_path(d, nest["before"])
    allowed(r.get(ALLOW, "nested"))
    denied(r.get(DENY, "nested"))
    eq(r.get(DENY, "nested")["cgroup"], nest["cgroup"], "cgroup of the nested connect")
    expect(d.decision(r.job, "198.18.2.1", 443), decision="deny", reason="no_rule")
    expect(d.decision(r.job, "198.18.1.1", 443), decision="allow")
    d.job_span(r.job)  # the job ends although a nested cgroup is left behind
    wait_until(lambda: not os.path.exists(job_dir), 10,
               what="the job cgroup %s (with a nested child) to be removed" % job_dir)


@test
def test_job_cgroup_removed_after_job(ctx):
    d = ctx.daemon({"t": pol(allow=[ALLOW])})
    r = d.probe("t", "info")
    job_dir = job_cgroup_path(d, r.lines[0]["cgroup"])
    d.job_span(r.job)
    wait_until(lambda: not os.path.exists(job_dir), 10,
               what="job cgroup %s to be removed" % job_dir)
    check(os.path.isdir(d.cgroup_root), "the cgroup root %s went away with the job" %
          d.cgroup_root)
    eq([j for j in d.jobs() if str(j.get("id")) == r.job], [], "finished job still listed")
