#!/usr/bin/env python3
"""Live policy changes, measured side by side in one run (make bench).

1. Connect latency while egressd switches the job between two versions of
   its policy as fast as `egressctl policy apply` goes, against the same
   job's latency with no change going on: interleaved rounds, medians of
   p50 and p99; every connect must succeed (the destination is allowed by
   both versions).
2. What one apply costs: `egressctl policy apply` round trip with one job
   running under the policy (compile, load the new version, rewrite the
   job's learned addresses, switch, list the sockets, revoke) against the
   same apply with no job (validate, write the file), for a small policy
   and one of 10,000 rules; medians over interleaved trials.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import world as W  # noqa: E402
import benchlib as B  # noqa: E402

PORT = 7421


def policy(name, n_extra, variant):
    """Allows the bench server; n_extra exact addresses of 198.19.0.0/16 make
    it large; variant changes one rule so the two versions differ."""
    allow = ["%s:%d" % (W.HOSTS_V4, PORT), "198.18.1.%d:443" % (3 + variant)]
    allow += ["198.19.%d.%d:443" % (i // 250, 1 + i % 250) for i in range(n_extra)]
    return {"name": name, "mode": "enforce", "allow": allow}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build/normal")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--connects", type=int, default=3000)
    ap.add_argument("--trials", type=int, default=15)
    args = ap.parse_args()
    S = B.setup(args.build, "pol")
    world, tmp = S.world, S.tmp
    ctl = [S.egressctl, "--socket", tmp + "/run/control.sock"]
    files = {}
    for name, n in (("small", 8), ("large", 10000)):
        for v in (0, 1):
            f = "%s/%s-%d.json" % (tmp, name, v)
            with open(f, "w") as fh:
                json.dump(policy(name, n, v), fh)
            files[(name, v)] = f
        with open("%s/policies/%s.json" % (tmp, name), "w") as fh:
            json.dump(policy(name, n, 0), fh)
    procs = []

    def apply(f):
        t0 = time.perf_counter()
        r = subprocess.run(world.fence_argv(ctl + ["policy", "apply", "--json", f]),
                           capture_output=True, text=True)
        dt = time.perf_counter() - t0
        if r.returncode:
            raise RuntimeError("apply %s: %s" % (f, r.stderr))
        return dt, json.loads(r.stdout)

    try:
        B.start_server(world, S.bench, PORT, procs)
        B.start_daemon(world, S.egressd, S.dirs, tmp, procs)
        time.sleep(0.5)

        def connects():
            r = subprocess.run(world.fence_argv(ctl + ["run", "--policy", "small", "--",
                                                       S.bench, "connect", W.HOSTS_V4,
                                                       str(PORT), str(args.connects)]),
                               capture_output=True, text=True)
            if r.returncode:
                raise RuntimeError("connect job failed (%d): %s" % (r.returncode, r.stderr))
            return json.loads(r.stdout)

        def with_swaps():
            stop, n = threading.Event(), [0]

            def loop():
                v = 1
                while not stop.is_set():
                    apply(files[("small", v)])
                    v ^= 1
                    n[0] += 1
            t = threading.Thread(target=loop)
            t.start()
            try:
                time.sleep(0.2)
                res = connects()
            finally:
                stop.set()
                t.join()
            res["swaps"] = n[0]
            return res

        connects()  # warm
        steady, swapping = [], []
        for i in range(args.rounds):
            for kind in (["steady", "swap"] if i % 2 == 0 else ["swap", "steady"]):
                if kind == "steady":
                    steady.append(connects())
                else:
                    swapping.append(with_swaps())
        med = lambda xs, k: statistics.median(x[k] for x in xs)  # noqa: E731
        swaps = sum(x["swaps"] for x in swapping)
        print("connect latency while the job's policy is switched back and forth "
              "(%d interleaved rounds of %d connects, medians):" % (args.rounds, args.connects))
        print("  p50 swapping / steady  %.3f   (%.1f vs %.1f us)" % (
            med(swapping, "p50_ns") / med(steady, "p50_ns"), med(swapping, "p50_ns") / 1e3,
            med(steady, "p50_ns") / 1e3))
        print("  p99 swapping / steady  %.3f   (%.1f vs %.1f us)" % (
            med(swapping, "p99_ns") / med(steady, "p99_ns"), med(swapping, "p99_ns") / 1e3,
            med(steady, "p99_ns") / 1e3))
        print("  %d switches during %d connects, every connect allowed" % (
            swaps, len(swapping) * args.connects))

        # apply cost, with and without a job under the policy
        res, flip = {}, [0]
        for name in ("small", "large"):
            holder = None
            flip[0] = 0  # the installed file is version 0
            for trial in range(args.trials):
                for running in ((False, True) if trial % 2 == 0 else (True, False)):
                    if running and holder is None:
                        holder = subprocess.Popen(
                            world.fence_argv(ctl + ["run", "--policy", name, "--", "sleep",
                                                    "600"]),
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
                        procs.append(holder)
                        time.sleep(0.5)
                    if not running and holder is not None:
                        holder.terminate()
                        holder.wait(10)
                        holder = None
                        time.sleep(0.3)
                    flip[0] ^= 1  # every apply changes the policy
                    dt, rep = apply(files[(name, flip[0])])
                    if running and rep["jobs"] != 1:
                        raise RuntimeError("apply with a job switched %s jobs" % rep["jobs"])
                    res.setdefault((name, running), []).append(dt)
            if holder is not None:
                holder.terminate()
                holder.wait(10)
        print("egressctl policy apply round trip (%d interleaved trials, medians):" % args.trials)
        for name, n in (("small", 10), ("large", 10002)):
            a, b = statistics.median(res[(name, True)]), statistics.median(res[(name, False)])
            print("  %-5s (%5d rules)  one job switched %.2f ms, no job %.2f ms: ratio %.2f" % (
                name, n, a * 1e3, b * 1e3, a / b))
    finally:
        B.teardown(procs, S.egressd, S.dirs, world, tmp)


if __name__ == "__main__":
    main()
