#!/usr/bin/python3
"""Start one vector's fenced job (run by tests/security/run.py in the fence
namespace, as root, outside any job).

    launch.py '{"vector": PATH, "token": T, "job": ID, "policy": P, "user": "nobody"|"root",
                "egressctl": PATH, "socket": PATH, "timeout": S}'

If the vector has an outside(token, st) function, it runs first, here,
unfenced: the accomplice of the attack (a relay on loopback, a socket or an
io_uring instance the job will inherit, a unix socket passing fds). It
returns {"fds": [...], "args": [...], "env": {...}}: the fds the job
inherits, extra arguments for the job, variables added to its environment; processes it forks go in st["pids"] and are killed
(by pid) when the job is over. Then
    [setpriv --reuid=65534 ...] egressctl run --policy P --job-id ID -- python3 VECTOR job T ARGS
with the job's stdout and stderr those of this process. Exits with
egressctl's status.
"""
import importlib.util
import json
import os
import signal
import subprocess
import sys

PY = "/usr/bin/python3"
NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"]


def load(path):
    sys.path.insert(0, os.path.dirname(path))
    spec = importlib.util.spec_from_file_location("vector", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def main():
    cfg = json.loads(sys.argv[1])
    mod = load(cfg["vector"])
    st = {"pids": [], "user": cfg["user"]}
    fds, args, env = [], [], None
    rc = 125
    try:
        if hasattr(mod, "outside"):
            try:
                got = mod.outside(cfg["token"], st) or {}
            except Exception as e:  # noqa: BLE001 - a missing kernel feature, a tool
                sys.stdout.write("CANNOT RUN: the accomplice outside the fence failed: %s: %s\n"
                                 % (type(e).__name__, e))
                sys.stdout.flush()
                return 126
            fds, args = list(got.get("fds", [])), [str(a) for a in got.get("args", [])]
            env = dict(os.environ, **got.get("env", {}))
        argv = ([] if cfg["user"] == "root" else NOBODY) + [
            cfg["egressctl"], "--socket", cfg["socket"], "run", "--policy", cfg["policy"],
            "--job-id", cfg["job"], "--", PY, cfg["vector"], "job", cfg["token"]] + args
        try:
            rc = subprocess.run(argv, pass_fds=fds, stdin=subprocess.DEVNULL, cwd="/", env=env,
                                timeout=cfg["timeout"]).returncode
        except subprocess.TimeoutExpired:
            sys.stderr.write("launch: job %s ran over %ss\n" % (cfg["job"], cfg["timeout"]))
            subprocess.run([cfg["egressctl"], "--socket", cfg["socket"], "kill", cfg["job"]],
                           capture_output=True, timeout=10)
            rc = 124
    finally:
        for pid in st["pids"]:
            try:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            except OSError:
                pass
        if hasattr(mod, "outside_cleanup"):
            mod.outside_cleanup(st)
    return rc


if __name__ == "__main__":
    sys.exit(main())
