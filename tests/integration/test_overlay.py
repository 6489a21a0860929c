"""A root job's system directories are copy-on-write (cli/overlay.c,
daemon/jobs/overlay.c): what it writes to /etc, /usr, /var, /run, /root ...
never reaches the host, its workspace does, and the layer is gone when
the job ends. Judged on the host's files, never by the job's word."""
import json
import os
import shutil
import subprocess
import time

from harness import test, pol, check, eq, wait_until, stop_popen, PY

ALLOW = "198.18.1.1:443"
# no CI runner, whatever runs this suite (an empty marker counts as unset)
NO_CI = {"GITHUB_ACTIONS": "", "GITLAB_CI": "", "BUILDKITE": "", "JENKINS_URL": ""}

JOB = r'''
set -u
tag=$1
echo job > /etc/$tag.conf && cat /etc/$tag.conf
echo '* * * * * root /bin/true' > /etc/cron.d/$tag
echo '#!/bin/sh' > /usr/local/bin/$tag && chmod +x /usr/local/bin/$tag
mkdir -p /var/lib/dpkg/$tag.d && echo pkg > /var/lib/dpkg/$tag.d/status
mkdir -p /run/modprobe.d && echo 'install dummy /bin/true' > /run/modprobe.d/$tag.conf
echo profile > /root/.$tag
rm -f /etc/$tag.gone
echo ws > ws-$tag
echo rt > "$RUNNER_TEMP/rt-$tag"
echo extra > "$2/extra-$tag"
ls -a /etc/$tag.gone 2>/dev/null || echo "gone=yes"
test -x /usr/local/bin/$tag && echo "own_program=yes"
'''


def layers(d):
    p = os.path.join(d.state_dir, "overlay")
    return sorted(os.listdir(p)) if os.path.isdir(p) else None


@test(timeout=120)
def test_root_job_system_writes_stay_in_the_job(ctx):
    """A root job installs, edits and deletes in the system directories as
    usual, and sees its own changes; afterwards the host's files are as
    they were, the working directory, RUNNER_TEMP and --write DIR got the
    job's files, the job span says so, and the layer is removed."""
    d = ctx.daemon({"t": pol(allow=[ALLOW])})
    check(os.geteuid() == 0, "the job must run as root for this test")
    tag = "ef-test-ov-%d" % os.getpid()
    ws, rt, extra = ["/var/tmp/%s-%s" % (tag, x) for x in ("ws", "rt", "extra")]
    made = [ws, rt, extra, "/etc/%s.conf" % tag, "/etc/%s.gone" % tag]
    try:
        for x in (ws, rt, extra):
            os.makedirs(x)
        with open("/etc/%s.conf" % tag, "w") as f:
            f.write("host\n")
        with open("/etc/%s.gone" % tag, "w") as f:
            f.write("host\n")
        r = d.run("t", ["sh", "-c", JOB, "sh", tag, extra], extra=["--write", extra],
                  env={"GITHUB_ACTIONS": "true", "GITHUB_WORKSPACE": ws, "RUNNER_TEMP": rt},
                  cwd=ws, timeout=60)
        check(r.rc == 0, "the job failed (rc %d): %s" % (r.rc, r.err[-1500:]))
        check("job" in r.out.split() and "gone=yes" in r.out and "own_program=yes" in r.out,
              "the job did not see its own changes: %r" % r.out)
        # the host's files are untouched
        eq(open("/etc/%s.conf" % tag).read(), "host\n", "the host's config file")
        check(os.path.exists("/etc/%s.gone" % tag), "the job's delete reached the host")
        for p in ("/etc/cron.d/" + tag, "/usr/local/bin/" + tag, "/var/lib/dpkg/%s.d" % tag,
                  "/run/modprobe.d/%s.conf" % tag, "/root/." + tag):
            check(not os.path.lexists(p), "%s reached the host" % p)
        # ... and the directories written through got the job's files
        for p, want in ((os.path.join(ws, "ws-" + tag), "ws\n"),
                        (os.path.join(rt, "rt-" + tag), "rt\n"),
                        (os.path.join(extra, "extra-" + tag), "extra\n")):
            check(os.path.exists(p), "%s was not written through" % p)
            eq(open(p).read(), want, p)
        js = d.job_span(r.job)
        eq(js.get("egress.system_writes"), "private", "egress.system_writes")
        eq(sorted(js.get("egress.write_through") or []), sorted([ws, rt, extra]),
           "egress.write_through")
        check(wait_until(lambda: layers(d) == [], 10),
              "the job's layer is still there: %s" % layers(d))
    finally:
        for p in made + ["/etc/cron.d/" + tag, "/usr/local/bin/" + tag, "/root/." + tag,
                         "/run/modprobe.d/%s.conf" % tag]:
            shutil.rmtree(p, ignore_errors=True) if os.path.isdir(p) else \
                (os.path.lexists(p) and os.unlink(p))
        shutil.rmtree("/var/lib/dpkg/%s.d" % tag, ignore_errors=True)


@test(timeout=120)
def test_write_through_never_takes_a_system_or_home_directory(ctx):
    """--write of /etc, a home directory or one holding one is an error and
    the command never runs; a working directory that is a home directory
    is not written through (a warning), and the job's file there stays in
    the job."""
    d = ctx.daemon({"t": pol(allow=[ALLOW])})
    tag = "ef-test-ov-%d" % os.getpid()
    marker = "/tmp/%s-ran" % tag
    try:
        for bad in ("/etc", "/etc/cron.d", "/root", "/home", "/var/lib", "/usr/local"):
            r = d.run("t", ["touch", marker], extra=["--write", bad])
            eq(r.rc, 125, "run --write %s: exit status (stderr %r)" % (bad, r.err[-300:]))
            check("never written through" in r.err, "no reason for --write %s: %r" % (bad, r.err))
            check(not os.path.exists(marker), "the command ran with --write %s" % bad)
        r = d.run("t", ["sh", "-c", "echo x > .%s" % tag], cwd="/root", env=NO_CI)
        check(r.rc == 0, "the job failed (rc %d): %s" % (r.rc, r.err[-800:]))
        check("/root (the working directory) is not written through" in r.err,
              "no warning for the working directory /root: %r" % r.err)
        check(not os.path.exists("/root/." + tag), "the job's file in /root reached the host")
        js = d.job_span(r.job)
        eq(js.get("egress.system_writes"), "private", "egress.system_writes")
        eq(js.get("egress.write_through") or [], [], "egress.write_through")
        # --write of a symbolic link, or of a dot-directory of a home
        os.symlink("/var/tmp", marker + "-link")
        for bad, want in ((marker + "-link", "names a symbolic link"),
                          ("/root/.cache", "dot-directory of a home directory")):
            os.makedirs(bad, exist_ok=True)
            r = d.run("t", ["touch", marker], extra=["--write", bad])
            eq(r.rc, 125, "run --write %s: exit status (stderr %r)" % (bad, r.err[-300:]))
            check(want in r.err, "no reason for --write %s: %r" % (bad, r.err))
            check(not os.path.exists(marker), "the command ran with --write %s" % bad)
    finally:
        for p in (marker, "/root/." + tag, marker + "-link"):
            if os.path.lexists(p):
                os.unlink(p)


@test(timeout=120)
def test_working_directory_through_a_link_out_of_the_workspace_stays_private(ctx):
    """Under a CI runner the working directory is written through only
    where it lies in the workspace: a step whose working directory is a
    symbolic link in the repository (ws/app -> a directory elsewhere)
    gets a warning, and its writes there stay in the job; the workspace
    itself is written through, and a CI variable naming a symbolic link
    is not."""
    d = ctx.daemon({"t": pol(allow=[ALLOW])})
    tag = "ef-test-ov-%d" % os.getpid()
    ws, victim, alias = ["/var/tmp/%s-%s" % (tag, x) for x in ("ws", "victim", "alias")]
    try:
        os.makedirs(ws)
        os.makedirs(victim)
        os.symlink(victim, os.path.join(ws, "app"))
        os.symlink(ws, alias)
        r = d.run("t", ["sh", "-c", "echo x > f-%s; echo y > %s/g-%s" % (tag, ws, tag)],
                  env={"GITHUB_ACTIONS": "true", "GITHUB_WORKSPACE": ws},
                  cwd=os.path.join(ws, "app"))
        check(r.rc == 0, "the job failed (rc %d): %s" % (r.rc, r.err[-800:]))
        check("%s (the working directory) is not written through" % victim in r.err,
              "no warning for the working directory: %r" % r.err)
        check(not os.path.exists(os.path.join(victim, "f-" + tag)),
              "the write through the link reached the host")
        check(os.path.exists(os.path.join(ws, "g-" + tag)), "the workspace was not written through")
        # GITHUB_WORKSPACE itself through a link: not written through, said so
        r = d.run("t", ["sh", "-c", "echo z > %s/h-%s" % (alias, tag)],
                  env={"GITHUB_ACTIONS": "true", "GITHUB_WORKSPACE": alias}, cwd="/")
        check(r.rc == 0, "the job failed (rc %d): %s" % (r.rc, r.err[-800:]))
        check("names a symbolic link" in r.err, "no warning for the linked workspace: %r" % r.err)
        check(not os.path.exists(os.path.join(ws, "h-" + tag)),
              "the write through a linked GITHUB_WORKSPACE reached the host")
    finally:
        for p in (ws, victim):
            shutil.rmtree(p, ignore_errors=True)
        if os.path.lexists(alias):
            os.unlink(alias)


@test(timeout=120)
def test_policy_host_writes_true_writes_the_host(ctx):
    """"host_writes": true runs a root job without the layer: its writes
    reach the host, and the job span says "host"."""
    d = ctx.daemon({"h": pol(allow=[ALLOW], host_writes=True)})
    p = "/opt/ef-test-ov-%d" % os.getpid()
    try:
        r = d.run("h", ["sh", "-c", "echo job > " + p])
        check(r.rc == 0, "the job failed (rc %d): %s" % (r.rc, r.err[-800:]))
        check(os.path.exists(p), "the write did not reach the host")
        js = d.job_span(r.job)
        eq(js.get("egress.system_writes"), "host", "egress.system_writes")
        eq(layers(d), [], "layers made")
    finally:
        if os.path.exists(p):
            os.unlink(p)


@test(timeout=120)
def test_unclaimed_layers_are_removed_without_following_links(ctx):
    """A layer no job claims (left by a crash) is removed at egressd's
    start, however deep, and a symlink in it to a host file removes the
    link, never the file."""
    d = ctx.daemon({"t": pol(allow=[ALLOW])})
    d.stop()
    tag = "ef-test-ov-%d" % os.getpid()
    target = "/tmp/%s-target" % tag
    with open(target, "w") as f:
        f.write("keep\n")
    try:
        top = os.path.join(d.state_dir, "overlay", "1-00000000deadbeef")
        os.makedirs(os.path.join(top, "0", "u", "etc"))
        os.symlink(target, os.path.join(top, "0", "u", "etc", "link"))
        os.symlink("/tmp", os.path.join(top, "0", "u", "dirlink"))
        # deeper than PATH_MAX: a walk by path names would fail
        fd = os.open(top, os.O_RDONLY | os.O_DIRECTORY)
        for _ in range(3000):
            os.mkdir("deep-directory-name", dir_fd=fd)
            nfd = os.open("deep-directory-name", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = nfd
        with open(os.open("f", os.O_CREAT | os.O_WRONLY, 0o600, dir_fd=fd), "w") as f:
            f.write("x")
        os.close(fd)
        d.start()
        check(wait_until(lambda: layers(d) == [], 20), "the layer is still there: %s" % layers(d))
        eq(open(target).read(), "keep\n", "the symlink's target")
        check(os.path.isdir("/tmp"), "/tmp is gone")
        check(d.alive(), "egressd died: %s" % d.log_tail())
    finally:
        os.unlink(target)


@test(timeout=120)
def test_malformed_overlay_in_run_request_is_refused(ctx):
    """The run request's "overlay": a bad name, one that is not there, or
    one another job holds is refused with a clear error, and no job
    starts."""
    d = ctx.daemon({"t": pol(allow=[ALLOW])})
    import socket as S
    for ov, want in (({"name": "../../etc"}, "invalid copy-on-write layer name"),
                     ({"name": "1-abc"}, "no copy-on-write layer"),
                     ("x", "\"overlay\" must be"),
                     ({"name": "1-abc", "write_through": ["rel"]}, "absolute UTF-8 paths")):
        s = S.socket(S.AF_UNIX)
        s.connect(d.sock)
        s.sendall(json.dumps({"op": "run", "policy": "t", "argv": ["true"],
                              "overlay": ov}).encode() + b"\n")
        s.settimeout(5)
        rep = json.loads(s.makefile().readline())
        s.close()
        check(rep.get("ok") is False and want in rep.get("error", ""),
              "overlay %r: reply %r" % (ov, rep))
    eq(d.jobs(), [], "jobs after refused requests")


@test(timeout=150)
def test_egressd_starts_no_thread_once_jobs_run(ctx):
    """A root job's guard refuses signals and resource limits aimed at
    egressd's threads by their ids, taken when the job starts: a thread
    egressd started later would be one the job could limit (a limit set
    through any thread's id is the whole process's). Layers are removed by
    one worker started with egressd, and the exporter looks the endpoint's
    name up itself (libcurl's resolver would start a thread per lookup):
    while root jobs end and spans are exported to an endpoint named by
    host name, egressd's threads stay the ones it had."""
    import signal
    import subprocess
    import otlp

    r = otlp.Receiver(ctx).start()
    # a name only egressd's own /etc/hosts knows (libcurl answers
    # "localhost" itself, without a lookup): egressd runs in a mount
    # namespace of its own with that file bound over /etc/hosts
    hosts = ctx.path("hosts")
    with open(hosts, "w") as f:
        f.write("127.0.0.1 localhost\n127.0.0.1 ef-otlp-receiver.test\n")
    wrap = ctx.path("egressd-hosts.sh")
    with open(wrap, "w") as f:
        f.write("#!/bin/sh\nexec unshare -m --propagation private sh -c "
                "'mount --bind %s /etc/hosts && exec \"$0\" \"$@\"' %s \"$@\"\n"
                % (hosts, os.path.join(ctx.build, "egressd")))
    os.chmod(wrap, 0o755)
    d = ctx.daemon({"t": pol(allow=[ALLOW])}, start=False)
    d.egressd = wrap
    d.start(env={"OTEL_EXPORTER_OTLP_ENDPOINT": "http://ef-otlp-receiver.test:%d" % r.port,
                 "OTEL_BSP_SCHEDULE_DELAY": "50"})
    # every thread egressd starts, caught where it is made (a resolver
    # thread lives for microseconds: /proc/PID/task would miss it)
    trace = ctx.path("clone.trace")
    st = subprocess.Popen(["strace", "-f", "-qq", "-e", "trace=clone,clone3", "-e",
                           "signal=none", "-o", trace, "-p", str(d.pid)],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1)
    try:
        jobs = []
        for i in range(4):
            res = d.run("t", ["sh", "-c", "echo x > /etc/ef-test-thread-%d" % i])
            check(res.rc == 0, "job %d failed: %s" % (i, res.err[-500:]))
            jobs.append(res.job)
        ids = [d.job_span(j).span_id for j in jobs]
        r.wait_spans(ids)
        check(wait_until(lambda: layers(d) == [], 10), "layers left: %s" % layers(d))
    finally:
        st.send_signal(signal.SIGINT)
        st.wait(10)
    made = [x for x in open(trace).read().splitlines() if "clone" in x]
    eq(made, [], "threads or processes egressd started while root jobs ran and spans were "
       "exported")


@test(timeout=120)
def test_ci_variables_count_only_under_their_runner(ctx):
    """A step can set variables for the next steps (GitHub's $GITHUB_ENV
    takes any name but GITHUB_* and RUNNER_*): Jenkins' WORKSPACE set under
    GitHub Actions steers nothing; under Jenkins (JENKINS_URL) it is the
    workspace and written through."""
    d = ctx.daemon({"t": pol(allow=[ALLOW])})
    tag = "ef-test-ov-%d" % os.getpid()
    w = "/var/tmp/%s-w" % tag
    try:
        os.makedirs(w)
        r = d.run("t", ["sh", "-c", "echo x > %s/a" % w],
                  env={"GITHUB_ACTIONS": "true", "WORKSPACE": w}, cwd="/")
        check(r.rc == 0, "the job failed (rc %d): %s" % (r.rc, r.err[-800:]))
        check(not os.path.exists(w + "/a"), "WORKSPACE steered a GitHub job's write-through")
        eq(d.job_span(r.job).get("egress.write_through") or [], [], "egress.write_through")
        r = d.run("t", ["sh", "-c", "echo x > %s/b" % w],
                  env={"JENKINS_URL": "http://jenkins.test/", "WORKSPACE": w}, cwd="/")
        check(r.rc == 0, "the job failed (rc %d): %s" % (r.rc, r.err[-800:]))
        check(os.path.exists(w + "/b"), "Jenkins' WORKSPACE was not written through")
        eq(d.job_span(r.job).get("egress.write_through"), [w], "egress.write_through")
    finally:
        shutil.rmtree(w, ignore_errors=True)


# Round N slots DIR/m<i>: a tmpfs mounted on an empty one; a mounted one
# unmounted (lazily, as docker and `ip netns del` do) and its directory
# removed; until SIGTERM, then none is left. The host's mounts coming and
# going, about half of them there at any time, while a root job's layer is
# being made.
CHURN = r'''
import ctypes, os, signal, sys, time
libc = ctypes.CDLL(None, use_errno=True)
base, n = sys.argv[1], int(sys.argv[2])
slots = [os.path.join(base, "m%d" % k).encode() for k in range(n)]
up = [False] * n
stop = []
signal.signal(signal.SIGTERM, lambda *a: stop.append(1))
i = 0
while not stop:
    k = i % n if i < n else (i * 7919) % n
    i += 1
    if up[k]:
        libc.umount2(slots[k], 2)  # MNT_DETACH
        os.rmdir(slots[k])
        up[k] = False
    else:
        os.mkdir(slots[k])
        up[k] = libc.mount(b"tmpfs", slots[k], b"tmpfs", 0, b"size=64k") == 0
        if not up[k]:
            os.rmdir(slots[k])
    time.sleep(0.0002)
for k in range(n):
    if up[k]:
        libc.umount2(slots[k], 2)
        os.rmdir(slots[k])
'''


@test(timeout=90)
def test_host_mounts_vanishing_during_setup_do_not_fail_the_job(ctx):
    """A host mount unmounted and its directory removed while egressctl run
    makes a root job's layer (a container ending, `ip netns del`) needs no
    layer: the job runs (never 125), its layer is still made over the rest."""
    d = ctx.daemon({"t": pol(allow=[ALLOW])})
    check(os.geteuid() == 0, "the job must run as root for this test")
    base = ctx.path("churn")
    os.mkdir(base)
    churn = subprocess.Popen([PY, "-c", CHURN, base, "31"], stdin=subprocess.DEVNULL)
    fails, runs, t0 = [], 0, time.time()
    try:
        while runs < 60 and time.time() - t0 < 25:
            r = d.run("t", ["sh", "-c", "echo job > /etc/ef-test-ov-churn-%d" % os.getpid()],
                      env=NO_CI, timeout=30)
            runs += 1
            if r.rc != 0:
                fails.append("rc %d: %s" % (r.rc, r.err.strip()[-300:]))
    finally:
        stop_popen(churn)
    ctx.log("%d root jobs while mounts came and went" % runs)
    check(churn.returncode == 0, "the mount churn exited %s" % churn.returncode)
    check(not os.listdir(base), "mounts left in %s: %s" % (base, os.listdir(base)))
    check(runs >= 10, "only %d root jobs in 25 s" % runs)
    check(not fails, "%d of %d root jobs failed: %s" % (len(fails), runs, fails[:3]))
    check(not os.path.exists("/etc/ef-test-ov-churn-%d" % os.getpid()),
          "a job's write to /etc reached the host")
