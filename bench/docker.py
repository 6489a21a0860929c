#!/usr/bin/env python3
"""A job's Docker endpoint (daemon/docker/docker.c), measured (make bench).

`docker run --rm IMAGE true` with Debian's docker CLI and dockerd
(tests/integration/dockerd.py: dockerd in the fence namespace, an image
imported offline): inside a fenced job whose policy has "docker" (through
the endpoint, the container in the job's cgroup) against the same outside
every job, straight to dockerd's socket. Each round times K runs of each,
in one shell each (the job's start is not in the figure), the two kinds
interleaved round by round; the figure is the median of the rounds'
medians, with the spread (min-max) of the rounds' medians, and fenced ÷
direct of those medians.

A third kind: a job that is a container fenced from inside (docs/ci.md):
`docker run --rm --read-only` with egressd's control socket and egressctl
bound in, running `egressctl run --policy c -- true`, straight to dockerd
(the container's start and the job's both in the figure).
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
  a=$(date +%%s%%N); %s run --rm %s || exit 1; b=$(date +%%s%%N)
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
        with open(tmp + "/policies/c.json", "w") as f:
            json.dump({"name": "c", "mode": "enforce", "allow": ["198.18.1.1:443"]}, f)
        with open(tmp + "/egressd.json", "w") as f:
            json.dump({"docker": {"socket": dk.sock}}, f)
        B.start_daemon(world, S.egressd, S.dirs + ["--config", tmp + "/egressd.json"], tmp,
                       procs)
        ctl = [S.egressctl, "--socket", tmp + "/run/control.sock"]
        env = dict(os.environ, PATH="/usr/sbin:/usr/bin:/sbin:/bin")

        inside = ("--read-only -v %s/run/control.sock:/run/egress-fence/control.sock:ro "
                  "-v %s:/bin/egressctl:ro -v /usr/lib:/lib:ro -v /usr/lib64:/lib64:ro %s "
                  "egressctl --socket /run/egress-fence/control.sock run --policy c -- true"
                  % (tmp, os.path.abspath(S.egressctl), DK.IMAGE))
        kinds = ("direct", "endpoint", "inside")

        def loop(kind):
            cli = DK.DOCKER if kind == "endpoint" else "%s -H unix://%s" % (DK.DOCKER, dk.sock)
            what = inside if kind == "inside" else DK.IMAGE + " true"
            argv = ["sh", "-c", LOOP % (args.k, cli, what)]
            if kind == "endpoint":
                argv = ctl + ["run", "--policy", "d", "--"] + argv
            r = subprocess.run(world.fence_argv(argv), capture_output=True, text=True,
                               env=env, timeout=600)
            if r.returncode:
                raise RuntimeError("docker run (%s): %s" % (kind, r.stderr[-800:]))
            return statistics.median(int(x) for x in r.stdout.split())

        for kind in kinds:  # warm: the image's layers, the endpoint's first connection
            loop(kind)
        med = {k: [] for k in kinds}
        for i in range(args.rounds):
            for kind in (kinds if i % 2 == 0 else kinds[::-1]):
                med[kind].append(loop(kind))
        d = statistics.median(med["direct"])
        print("docker run --rm %s true, %d rounds of %d, median of round medians "
              "(spread of round medians):" % (DK.IMAGE, args.rounds, args.k))
        for kind, label in (("direct", "direct to dockerd:       "),
                            ("endpoint", "through a job's endpoint:"),
                            ("inside", "fenced from inside:      ")):
            m = statistics.median(med[kind])
            print("  %s %7.1f ms (%.1f-%.1f)" % (label, m / 1000, min(med[kind]) / 1000,
                                                 max(med[kind]) / 1000))
        for kind in ("endpoint", "inside"):
            print("  %s / direct: %.3f; per-round ratios %s" % (
                kind, statistics.median(med[kind]) / d,
                " ".join("%.2f" % (a / b) for a, b in zip(med[kind], med["direct"]))))
    finally:
        if dk:
            dk.stop()
        B.teardown(procs, S.egressd, S.dirs, world, tmp)


if __name__ == "__main__":
    main()
