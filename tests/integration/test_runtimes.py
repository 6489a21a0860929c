"""The host's container runtimes out of a job's reach (daemon/runtimes.c,
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

from run import test, pol, check, eq, PY

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
        c.sendall(b"GET /_ping HTTP/1.1\r\n\r\n")
        try:
            got = c.recv(100)
        except ConnectionResetError:
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
              ["/run/x%d.sock" % i for i in range(40)]):
        d = ctx.daemon(start=False)
        d.set_config({"runtime_sockets": v})
        try:
            d.start(timeout=10)
        except AssertionError as e:
            check("runtime_sockets" in str(e), "config %r: message %s does not name "
                  "runtime_sockets" % (v, e))
            continue
        raise AssertionError("egressd started with runtime_sockets %r" % (v,))
