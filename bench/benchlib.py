"""What the benchmarks share: the fence's directories in a scratch dir, the
bench server in the hosts namespace, egressd in the fence namespace, and
leaving nothing behind (processes by pid, --reset, the world, the dir)."""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from types import SimpleNamespace


def setup(build, label):
    """Root checked, the binaries of BUILD, the test world up, a scratch dir
    and the fence's directories named after LABEL ("ef-bench-LABEL-TAG").
    Returns a namespace: build, egressd, egressctl, bench, world, tmp, cg,
    bpffs, dirs."""
    import world as W  # tests/integration, on the caller's path
    if os.geteuid() != 0:
        sys.exit("bench: must run as root (BPF, cgroups, network namespaces)")
    build = os.path.abspath(build)
    W.ensure_bpffs()
    world = W.World(log=lambda m: print("world:", m, file=sys.stderr)).up()
    name = "ef-bench-%s-%s" % (label, world.tag) if label else "ef-bench-" + world.tag
    tmp = tempfile.mkdtemp(prefix=name + "-")
    cg = os.path.join(W.cgroup2_mount(), name)
    bpffs = "/sys/fs/bpf/" + name
    return SimpleNamespace(build=build, egressd=os.path.join(build, "egressd"),
                           egressctl=os.path.join(build, "egressctl"),
                           bench=os.path.join(build, "bench", "ef_bench"), world=world,
                           tmp=tmp, cg=cg, bpffs=bpffs, dirs=fence_dirs(tmp, cg, bpffs))


def daemon_pid(daemon):
    """egressd's own pid: start_daemon runs it under nsenter, which may or
    may not exec it."""
    if os.path.basename(os.readlink("/proc/%d/exe" % daemon.pid)) == "egressd":
        return daemon.pid
    return int(subprocess.run(["pgrep", "-P", str(daemon.pid)], capture_output=True,
                              text=True).stdout.split()[0])


def fence_dirs(tmp, cgroup_root, bpffs):
    os.makedirs(tmp + "/policies", exist_ok=True)
    return ["--policy-dir", tmp + "/policies", "--state-dir", tmp + "/state",
            "--run-dir", tmp + "/run", "--cgroup-root", cgroup_root, "--bpffs-dir", bpffs]


def start_server(world, bench, port, procs):
    """ef_bench serve PORT in the hosts namespace."""
    server = subprocess.Popen(world.hosts_argv([bench, "serve", str(port)]),
                              stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
    procs.append(server)
    if server.stdout.readline().strip() != b"READY":
        raise RuntimeError("bench server did not start")
    return server


def start_daemon(world, egressd, dirs, tmp, procs, hint=""):
    """egressd in the fence namespace, logging to TMP/egressd.log; returns
    once its control socket is there, raises with the log if it exits."""
    sock = tmp + "/run/control.sock"
    log = open(tmp + "/egressd.log", "w")
    daemon = subprocess.Popen(world.fence_argv([egressd] + dirs), stdout=log, stderr=log,
                              stdin=subprocess.DEVNULL)
    log.close()
    procs.append(daemon)
    for _ in range(100):
        if os.path.exists(sock) or daemon.poll() is not None:
            break
        time.sleep(0.1)
    if daemon.poll() is not None:
        with open(tmp + "/egressd.log") as f:
            raise RuntimeError("egressd exited with status %s%s: %s" % (
                daemon.returncode, hint, f.read()[-1500:]))
    return daemon


def teardown(procs, egressd, dirs, world, tmp):
    for p in reversed(procs):
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
    subprocess.run([egressd, "--reset", "--force"] + dirs, capture_output=True)
    world.down()
    shutil.rmtree(tmp, ignore_errors=True)
