"""A job's own Docker endpoint (daemon/docker.c, docker_check.c): a job
whose policy says "docker" runs containers through the host's dockerd, and
they live in the job's cgroup, judged by its policy, recorded in its spans;
every request that would let a container out is refused with a Docker API
error and an egress.tamper span. Real parts: Debian's dockerd in the fence
namespace (dockerd.py), its docker CLI inside the job, an image imported
offline. Judged by the test hosts' own logs and by what dockerd holds."""
import json
import os
import socket
import subprocess
import time

import dockerd as DK
import world as W
from run import test, pol, check, eq, PY

# a container's IPv6 address is tentative for a moment after its start
WAIT_DAD = ("for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15; do ip -6 addr | grep -q tentative "
            "|| break; sleep 0.2; done; ")
ALLOW = ["198.18.1.1:443", "ok.test:80", "[2001:db8:1::1]:443"]


def docker_daemon(ctx, allow=ALLOW, docker=True, **extra):
    dk = DK.get(ctx.world)
    d = ctx.daemon(start=False, policies={"t": pol(allow=allow, docker=docker, **extra),
                                          "nod": pol(allow=allow)})
    d.set_config({"docker": {"socket": dk.sock}, "dns": {"upstream": [W.DNS_V4]}})
    d.start()
    return d, dk


def job_run(ctx, d, argv, policy="t", timeout=120, job=None, cwd=None, stdin=None):
    job = job or ctx.job_id()
    a = d.run_argv(policy, argv, job)
    env = d._env({"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"})
    p = subprocess.run(ctx.world.fence_argv(a), capture_output=True, text=True,
                       timeout=timeout, env=env, input=stdin,
                       stdin=None if stdin is not None else subprocess.DEVNULL, cwd=cwd)
    return p, job


@test(timeout=300)
def test_docker_container_fenced_by_the_job_policy(ctx):
    """`docker run` inside a job with "docker": the container's processes are
    in the job's cgroup (dockerd's own record of its cgroup parent, and
    /proc/self/cgroup inside it), reach the allowed address and name (DNS
    through the job's proxy) and not an unlisted one (the test hosts' logs),
    and the decision spans name the container; the job span lists it."""
    d, dk = docker_daemon(ctx)
    script = (WAIT_DAD + "cat /proc/self/cgroup; "
              "echo x | nc -w 3 198.18.1.1 443 >/dev/null && echo OK443; "
              "echo x | nc -w 3 198.18.2.4 80 >/dev/null && echo LEAK80; "
              "ip -6 addr >&2; echo x | nc -w 3 ok.test 80 >/dev/null; echo byname=$?; "
              "nslookup secret.test >/dev/null 2>&1; echo ns=$?")
    p, job = job_run(ctx, d, [DK.DOCKER, "run", "--rm", "--name", "c-" + ctx.job_id()[-8:],
                              DK.IMAGE, "sh", "-c", script])
    check(p.returncode == 0, "docker run in the job failed (%d): %s %s" % (
        p.returncode, p.stdout[-800:], p.stderr[-1500:]))
    check("OK443" in p.stdout, "the allowed address was not reached: %r" % p.stdout)
    check(ctx.reached("198.18.1.1", 443), "the test host did not see the allowed connection")
    check(not ctx.reached("198.18.2.4", 80), "the unlisted host saw a connection: LEAK")
    check("LEAK80" not in p.stdout, "the container says it reached 198.18.2.4:80")
    check(ctx.reached("198.18.1.1", 80) or ctx.reached("2001:db8:1::1", 80), "ok.test:80 (by name, DNS through the proxy) was "
          "not reached: %r %r; spans %r" % (p.stdout[-300:], p.stderr[-700:], [s.describe()[:400] for s in d.spans()
                                                         if s.get("egress.job.id") == job and s.name != "egress.packet"]))
    cg = [l for l in p.stdout.splitlines() if l.startswith("0::")]
    check(cg and cg[0].startswith("0::/") and "job-" + job in cg[0],
          "the container's cgroup is not under the job's: %r" % cg)
    dec = d.wait_spans("egress.connect", job, where={"network.peer.address": "198.18.2.4"},
                       timeout=10)[0]
    eq(dec.get("egress.decision"), "deny", "decision of the unlisted connection")
    check(len(dec.get("container.id", "")) == 64 and dec.get("container.image.name") == DK.IMAGE
          and dec.get("container.name"), "the decision span does not name the container: %r"
          % dec.describe())
    js = d.job_span(job, timeout=20)
    check(DK.IMAGE in (js.get("egress.job.containers") or ""),
          "the job span does not list the container: %r" % js.describe())
    dns = [s for s in d.spans() if s.name == "egress.dns" and s.get("egress.job.id") == job]
    check(any(s.get("dns.question.name") in ("ok.test", "ok.test.") for s in dns),
          "no egress.dns span of ok.test from the container: %r" % [s.describe() for s in dns][:4])
