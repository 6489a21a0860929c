#!/usr/bin/env python3
"""A job's Docker endpoint (daemon/docker.c), measured (make bench).

`docker run --rm IMAGE true` with Debian's docker CLI and dockerd
(tests/integration/dockerd.py: dockerd in the fence namespace, an image
imported offline): inside a fenced job whose policy has "docker" (through
the endpoint, the container in the job's cgroup) against the same outside
every job, straight to dockerd's socket. Each round times K runs of each,
in one shell each (the job's start is not in the figure), the two kinds
interleaved round by round; the figure is the median of the rounds'
medians, with the spread (min-max) of the rounds' medians, and fenced ÷
direct of those medians.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import world as W  # noqa: E402
import benchlib as B  # noqa: E402
import dockerd as DK  # noqa: E402

LOOP = r"""
for i in $(seq %d); do
  a=$(date +%%s%%N); %s run --rm %s true || exit 1; b=$(date +%%s%%N)
  echo $(( (b - a) / 1000 ))
done
"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build/normal")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--k", type=int, default=5)
    args = ap.parse_args()
    S = B.setup(args.build, "docker")
    world, tmp = S.world, S.tmp
    procs = []
    dk = None
    try:
        dk = DK.Dockerd(world).start()
        with open(tmp + "/policies/d.json", "w") as f:
            json.dump({"name": "d", "mode": "enforce", "allow": ["198.18.1.1:443"],
                       "docker": True}, f)
        with open(tmp + "/egressd.json", "w") as f:
            json.dump({"docker": {"socket": dk.sock}}, f)
        B.start_daemon(world, S.egressd, S.dirs + ["--config", tmp + "/egressd.json"], tmp,
                       procs)
        ctl = [S.egressctl, "--socket", tmp + "/run/control.sock"]
        env = dict(os.environ, PATH="/usr/sbin:/usr/bin:/sbin:/bin")

        def loop(fenced):
            cli = DK.DOCKER if fenced else "%s -H unix://%s" % (DK.DOCKER, dk.sock)
            argv = ["sh", "-c", LOOP % (args.k, cli, DK.IMAGE)]
            if fenced:
                argv = ctl + ["run", "--policy", "d", "--"] + argv
            r = subprocess.run(world.fence_argv(argv), capture_output=True, text=True,
                               env=env, timeout=600)
            if r.returncode:
                raise RuntimeError("docker run (%s): %s" % ("fenced" if fenced else "direct",
                                                           r.stderr[-800:]))
            return statistics.median(int(x) for x in r.stdout.split())

        loop(False)
        loop(True)  # warm: the image's layers, the endpoint's first connection
        med = {False: [], True: []}
        for i in range(args.rounds):
            for fenced in ((False, True) if i % 2 == 0 else (True, False)):
                med[fenced].append(loop(fenced))
        d, f = statistics.median(med[False]), statistics.median(med[True])
        print("docker run --rm %s true, %d rounds of %d, median of round medians "
              "(spread of round medians):" % (DK.IMAGE, args.rounds, args.k))
        print("  direct to dockerd:        %7.1f ms (%.1f-%.1f)" % (
            d / 1000, min(med[False]) / 1000, max(med[False]) / 1000))
        print("  through a job's endpoint: %7.1f ms (%.1f-%.1f)" % (
            f / 1000, min(med[True]) / 1000, max(med[True]) / 1000))
        print("  fenced / direct: %.3f; per-round ratios %s" % (
            f / d, " ".join("%.2f" % (a / b) for a, b in zip(med[True], med[False]))))
    finally:
        if dk:
            dk.stop()
        B.teardown(procs, S.egressd, S.dirs, world, tmp)


if __name__ == "__main__":
    main()
