"""The host's container runtimes out of a job's reach (daemon/docker/runtimes.c,
cli/userns.c): a job that connects to dockerd's, containerd's or Podman's
socket reaches egressd's cover instead, gets a Docker API error naming the
reason, and the attempt is an egress.tamper span. Judged by the stand-in
runtime's own log of connections, never by the job's word."""
import json
import os
import secrets
import socket
import subprocess
import threading
import time

from harness import test, pol, check, eq, PY

GROUP = 4242  # the stand-in's "docker" group
NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--groups=%d" % GROUP, "--"]

ASK = r"""
import json, socket, sys
out = {}
for path in sys.argv[1:]:
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(3)
    try:
        s.connect(path)
        s.sendall(b"GET /_ping HTTP/1.1\r\nHost: docker\r\n\r\n")
        data = b""
        while True:
            b = s.recv(4096)
            if not b:
                break
            data += b
        out[path] = data.decode(errors="replace")
    except OSError as e:
        out[path] = "error: %s" % e
    finally:
        s.close()
print(json.dumps(out), flush=True)
"""


class StandIn:
    """A runtime's socket that logs every connection (mode 0660, group
    GROUP: the docker group's kind of access)."""

    def __init__(self, path):
        self.path = path
        self.made = []
        d = os.path.dirname(path)
        while not os.path.isdir(d):
            self.made.append(d)
            d = os.path.dirname(d)
        for x in reversed(self.made):
            os.mkdir(x, 0o755)
        self.srv = socket.socket(socket.AF_UNIX)
        self.srv.bind(path)
        os.chown(path, 0, GROUP)
        os.chmod(path, 0o660)
        self.srv.listen(8)
        self.srv.settimeout(0.2)
        self.got = []
        self.stop = False
        self.t = threading.Thread(target=self.serve, daemon=True)
        self.t.start()

    def serve(self):
        while not self.stop:
            try:
                c, _ = self.srv.accept()
            except OSError:
                continue
            self.got.append(c.recv(4096))
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK")
            c.close()

    def close(self):
        self.stop = True
        self.t.join(2)
        self.srv.close()
        os.unlink(self.path)
        for x in self.made:
            os.rmdir(x)


def ask(ctx, d, prefix, job, paths, env=None):
    argv = prefix + d.run_argv("t", [PY, "-c", ASK] + paths, job)
    r = subprocess.run(ctx.world.fence_argv(argv), capture_output=True, text=True, timeout=60,
                       env=d._env(env), stdin=subprocess.DEVNULL)
    check(r.returncode == 0 and r.stdout.strip(), "the job failed (rc %d): %s" % (
        r.returncode, r.stderr[-800:]))
    return json.loads(r.stdout.strip().splitlines()[-1])


@test(timeout=180)
def test_runtime_sockets_covered_with_docker_error_and_record(ctx):
    """A socket in a runtime's own directory under /run (the directory is
    covered) and one elsewhere (the socket is covered), named in the config
    file's "runtime_sockets": a job as root and one of another uid in the
    socket's group reach egressd's cover, get HTTP 403 with a Docker API
    error naming the socket, and leave a tamper_runtime span naming it; the
    stand-ins see no connection. Outside any job they answer as before."""
    tag = secrets.token_hex(3)
    in_run = "/run/ef-test-rt-%s/api.sock" % tag
    elsewhere = "/var/tmp/ef-test-rt-%s/api.sock" % tag
    d = ctx.daemon(start=False, policies={"t": pol(allow=["198.18.1.1:443"])})
    d.set_config({"runtime_sockets": [in_run, elsewhere]})
    d.start()
    for p in (d.tmp, d.run_dir):
        os.chmod(p, 0o711)
    st = d.status()
    paths = [x["path"] for x in st.get("runtime_sockets", [])]
    for p in ("/run/docker.sock", "/run/containerd/containerd.sock", "/run/podman/podman.sock",
              in_run, elsewhere):
        check(p in paths, "status runtime_sockets lacks %s: %r" % (p, paths))
    sins = [StandIn(in_run), StandIn(elsewhere)]
    try:
        r = subprocess.run(ctx.world.fence_argv(NOBODY + [PY, "-c", ASK, in_run, elsewhere]),
                           capture_output=True, text=True, timeout=30)
        base = json.loads(r.stdout.strip().splitlines()[-1])
        check(all(v.endswith("OK") for v in base.values()) and len(sins[0].got) == 1,
              "baseline: unfenced, the group's member could not reach the stand-ins (%r): the "
              "test cannot tell" % base)
        for s in sins:
            s.got.clear()
        for who, prefix in (("root", []), ("nobody", NOBODY)):
            job = ctx.job_id()
            out = ask(ctx, d, prefix, job, [in_run, elsewhere])
            for p in (in_run, elsewhere):
                v = out.get(p, "")
                check(v.startswith("HTTP/1.1 403 "), "%s job, %s: not the cover's 403: %r" % (
                    who, p, v[:300]))
                body = json.loads(v.split("\r\n\r\n", 1)[1])
                check("egress-fence" in body.get("message", "") and p in body["message"],
                      "%s job: the Docker API error does not name the fence and %s: %r" % (
                          who, p, body))
            eq([len(s.got) for s in sins], [0, 0], "connections the stand-ins saw from the "
               "%s job" % who)
            deadline = time.time() + 10
            while time.time() < deadline:
                recs = [s for s in d.spans() if s.name == "egress.tamper" and
                        s.get("egress.reason") == "tamper_runtime" and s.get("egress.job.id") == job]
                if len(set(s.get("egress.tamper.socket") for s in recs)) == 2:
                    break
                time.sleep(0.2)
            eq(sorted(set(s.get("egress.tamper.socket") for s in recs)), sorted([in_run, elsewhere]),
               "the %s job's tamper_runtime spans name the sockets" % who)
            for s in recs:
                eq(s.get("egress.tamper.via"), "runtime_socket_cover", "egress.tamper.via")
                eq(s.get("egress.decision"), "deny", "egress.decision")
        # outside every job: closed on, no record
        n = len([s for s in d.spans() if s.get("egress.reason") == "tamper_runtime"])
        cover = [x["cover"] for x in st["runtime_sockets"] if x["path"] == in_run][0]
        c = socket.socket(socket.AF_UNIX)
        c.settimeout(3)
        c.connect(cover)
        try:
            c.sendall(b"GET /_ping HTTP/1.1\r\n\r\n")
            got = c.recv(100)
        except (ConnectionResetError, BrokenPipeError):
            got = b""
        eq(got, b"", "what the cover answers a connection from outside every job")
        c.close()
        time.sleep(0.5)
        eq(len([s for s in d.spans() if s.get("egress.reason") == "tamper_runtime"]), n,
           "tamper_runtime spans after a connection from outside every job")
    finally:
        for s in sins:
            s.close()


@test
def test_runtime_sockets_config_errors(ctx):
    """A bad "runtime_sockets" stops egressd at start with a message naming it."""
    for v in ("/run/docker.sock", [1], ["relative.sock"], ["/run/x/../docker.sock"], ["/"],
              ["/run/x/."], ["/run//x.sock"], ['/run/x".sock'], ["/run/x\\.sock"],
              ["/run/" + "x" * 300], ["/run/systemd/x.sock"], ["/run/user/1000/docker.sock"],
              ["/run/lock/x.sock"], ["/run/x%d.sock" % i for i in range(40)]):
        d = ctx.daemon(start=False)
        d.set_config({"runtime_sockets": v})
        try:
            d.start(timeout=10)
        except AssertionError as e:
            check("runtime_sockets" in str(e), "config %r: message %s does not name "
                  "runtime_sockets" % (v, e))
            continue
        raise AssertionError("egressd started with runtime_sockets %r" % (v,))


SHIM = r"""
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

/* unshare(CLONE_NEWUSER) fails with $EF_TEST_UNSHARE_ERRNO; the rest is the kernel's */
int unshare(int flags)
{
	const char *e = getenv("EF_TEST_UNSHARE_ERRNO");

	if ((flags & CLONE_NEWUSER) && e) {
		errno = atoi(e);
		return -1;
	}
	return (int)syscall(SYS_unshare, flags);
}
"""


def unshare_shim(ctx):
    src, so = ctx.path("shim.c"), ctx.path("shim.so")
    with open(src, "w") as f:
        f.write(SHIM)
    r = subprocess.run(["cc", "-shared", "-fPIC", "-o", so, src], capture_output=True, text=True)
    check(r.returncode == 0, "building the unshare shim: %s" % r.stderr)
    os.chmod(so, 0o755)
    os.chmod(os.path.dirname(so), 0o755)
    return so


@test(timeout=120)
def test_no_user_namespace_is_no_reason_to_run_without_covers(ctx):
    """Where the job gets no user namespace, it gets no covers either. Made
    to fail here (a shim in front of unshare()): refused for a limit (a job
    that used up its uid's user.max_user_namespaces leaves the next job
    ENOSPC), egressctl run refuses to run the job; refused by the host's
    policy (EPERM), it refuses where a runtime's socket is one the user may
    connect to, and otherwise runs the job with a warning. The command
    never runs where refused."""
    tag = secrets.token_hex(3)
    sock = "/run/ef-test-rt-%s.sock" % tag
    d = ctx.daemon(start=False, policies={"t": pol(allow=["198.18.1.1:443"])})
    d.set_config({"runtime_sockets": [sock]})
    d.start()
    for p in (d.tmp, d.run_dir):
        os.chmod(p, 0o711)
    so = unshare_shim(ctx)
    # a sanitizer build's runtime must come first in the list
    ldd = subprocess.run(["ldd", d.egressctl], capture_output=True, text=True).stdout
    runtimes = [ln.split("=>")[1].split()[0] for ln in ldd.splitlines()
                if "=>" in ln and ("libasan" in ln or "libubsan" in ln)]
    preload = ":".join(runtimes + [so])
    marker = ctx.path("ran")
    os.chmod(os.path.dirname(marker), 0o777)

    def run(errno_, job):
        if os.path.exists(marker):
            os.unlink(marker)
        argv = NOBODY + ["env", "LD_PRELOAD=" + preload, "EF_TEST_UNSHARE_ERRNO=%d" % errno_] + \
            d.run_argv("t", ["/usr/bin/touch", marker], job)
        return subprocess.run(ctx.world.fence_argv(argv), capture_output=True, text=True,
                              timeout=60, env=d._env(), stdin=subprocess.DEVNULL)

    import errno as E
    r = run(E.ENOSPC, ctx.job_id())
    check(r.returncode == 125 and "a user namespace for the job" in r.stderr and
          "unfenced" in r.stderr, "ENOSPC: egressctl exited %d: %s" % (r.returncode, r.stderr))
    check(not os.path.exists(marker), "ENOSPC: the command ran")
    st = StandIn(sock)
    try:
        os.chmod(sock, 0o666)
        r = run(E.EPERM, ctx.job_id())
        check(r.returncode == 125 and "cannot have the container runtime's socket %s" % sock
              in r.stderr, "EPERM with a runtime the user may reach: egressctl exited %d: %s"
              % (r.returncode, r.stderr))
        check(not os.path.exists(marker), "EPERM, runtime reachable: the command ran")
        eq(len(st.got), 0, "connections the stand-in saw")
    finally:
        st.close()
    job = ctx.job_id()
    r = run(E.EPERM, job)
    check(r.returncode == 0 and "refuses unprivileged user namespaces" in r.stderr,
          "EPERM, no runtime: egressctl exited %d: %s" % (r.returncode, r.stderr))
    check(os.path.exists(marker), "EPERM, no runtime: the command did not run")
    eq(d.job_span(job).get("egress.same_user_isolation"), "none", "egress.same_user_isolation")


GARBAGE = r"""
import os, socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(5)
s.connect(sys.argv[1])
try:
    s.sendall(os.urandom(256 * 1024))          # no HTTP at all
    s.sendall(b"GET /" + b"A" * 70000 + b" HTTP/1.1\r\nHost: x\r\n")  # huge, unfinished
    s.shutdown(socket.SHUT_WR)
    print(s.recv(4096).decode(errors="replace")[:200])
except OSError as e:
    print("error: %s" % e)
"""


@test(timeout=120)
def test_runtime_cover_garbage(ctx):
    """Bytes that are not HTTP, and an unfinished request 70 KB long, sent
    to a runtime's cover from a job: the cover parses nothing, the attempt is
    recorded, the stand-in sees nothing, and egressd goes on answering."""
    tag = secrets.token_hex(3)
    sock = "/run/ef-test-rt-%s.sock" % tag
    d = ctx.daemon(start=False, policies={"t": pol(allow=["198.18.1.1:443"])})
    d.set_config({"runtime_sockets": [sock]})
    d.start()
    st = StandIn(sock)
    try:
        job = ctx.job_id()
        r = d.run("t", [PY, "-c", GARBAGE, sock], job_id=job, timeout=60)
        check(r.rc == 0, "the job failed (rc %d): %s" % (r.rc, r.err[-500:]))
        eq(len(st.got), 0, "connections the stand-in saw")
    finally:
        st.close()
    deadline = time.time() + 10
    while time.time() < deadline and not [
            s for s in d.spans() if s.get("egress.reason") == "tamper_runtime" and
            s.get("egress.job.id") == job]:
        time.sleep(0.2)
    check([s for s in d.spans() if s.get("egress.reason") == "tamper_runtime" and
           s.get("egress.job.id") == job], "no tamper_runtime span for the job")
    check(d.status().get("runtime_sockets"), "egressd does not answer its status afterwards")
