"""A root job's system directories are copy-on-write (cli/overlay.c,
daemon/overlay.c): what it writes to /etc, /usr, /var, /run, /root ...
never reaches the host, its workspace does, and the layer is gone when
the job ends. Judged on the host's files, never by the job's word."""
import json
import os
import shutil
import time

from run import test, pol, check, eq, wait_until, PY

ALLOW = "198.18.1.1:443"

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
                  env={"RUNNER_TEMP": rt}, cwd=ws, timeout=60)
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
        r = d.run("t", ["sh", "-c", "echo x > .%s" % tag], cwd="/root")
        check(r.rc == 0, "the job failed (rc %d): %s" % (r.rc, r.err[-800:]))
        check("/root (the working directory) is not written through" in r.err,
              "no warning for the working directory /root: %r" % r.err)
        check(not os.path.exists("/root/." + tag), "the job's file in /root reached the host")
        js = d.job_span(r.job)
        eq(js.get("egress.system_writes"), "private", "egress.system_writes")
        eq(js.get("egress.write_through") or [], [], "egress.write_through")
    finally:
        for p in (marker, "/root/." + tag):
            if os.path.exists(p):
                os.unlink(p)


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
