"""What the benchmarks share: the fence's directories in a scratch dir, the
bench server in the hosts namespace, egressd in the fence namespace, and
leaving nothing behind (processes by pid, --reset, the world, the dir)."""
import os
import shutil
import signal
import subprocess
import time


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
