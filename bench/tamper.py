#!/usr/bin/env python3
"""Tamper resistance, measured side by side in one run (make bench).

Where BPF LSM is unavailable (this project's CI kernel), fenced jobs run
under egressctl run's guard (seccomp filter, mount namespace, capabilities)
and sys_exit tracepoints record what it refused. Two costs:

1. A job's syscalls under the guard: `ef_bench syscalls` (getppid, open+close,
   kill(self, 0): medians) in a fenced job against the same outside any job,
   egressd running in both; interleaved rounds, medians of the medians.
2. Every process on the host while the recorders are attached: the same
   unfenced measurement with egressd's fence loaded against after
   `egressd --reset` (nothing attached), interleaved.
With BPF LSM the guard is not used and (1) is about the hooks instead.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import world as W  # noqa: E402
import benchlib as B  # noqa: E402

KEYS = ("getppid_ns", "open_ns", "kill0_ns")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build/normal")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--n", type=int, default=200000)
    args = ap.parse_args()
    S = B.setup(args.build, "tamper")
    world, tmp = S.world, S.tmp
    ctl = [S.egressctl, "--socket", tmp + "/run/control.sock"]
    os.makedirs(tmp + "/policies", exist_ok=True)
    with open(tmp + "/policies/t.json", "w") as f:
        json.dump({"name": "t", "mode": "enforce", "allow": ["198.18.1.1:443"]}, f)
    procs = []

    def measure(fenced):
        argv = [S.bench, "syscalls", str(args.n)]
        if fenced:
            argv = ctl + ["run", "--policy", "t", "--"] + argv
        r = subprocess.run(world.fence_argv(argv), capture_output=True, text=True)
        if r.returncode:
            raise RuntimeError("ef_bench syscalls (%s): %s" % (
                "fenced" if fenced else "unfenced", r.stderr[-800:]))
        return json.loads(r.stdout)

    def reset():
        for p in procs:
            if p.poll() is None:
                p.terminate()
                p.wait(10)
        procs.clear()
        subprocess.run(world.fence_argv([S.egressd] + S.dirs + ["--reset"]),
                       capture_output=True, check=True)

    try:
        B.start_daemon(world, S.egressd, S.dirs, tmp, procs)
        st = json.loads(subprocess.run(world.fence_argv(ctl + ["status", "--json"]),
                                       capture_output=True, text=True).stdout)
        mode = st.get("tamper_protection", {}).get("mode", "?")
        measure(True)  # warm
        guard, plain = [], []
        for i in range(args.rounds):
            for fenced in ((True, False) if i % 2 == 0 else (False, True)):
                (guard if fenced else plain).append(measure(fenced))
        # host-wide: attached vs nothing attached
        attached, bare = [], []
        for i in range(args.rounds):
            for on in ((True, False) if i % 2 == 0 else (False, True)):
                if on:
                    B.start_daemon(world, S.egressd, S.dirs, tmp, procs)
                    attached.append(measure(False))
                else:
                    reset()
                    bare.append(measure(False))
        med = lambda xs, k: statistics.median(x[k] for x in xs)  # noqa: E731
        print("tamper protection: %s (%d interleaved rounds of %d calls each, medians)" % (
            mode, args.rounds, args.n))
        print("  a fenced job's syscalls under the guard / outside any job (egressd running):")
        for k in KEYS:
            print("    %-10s %.3f   (%.0f vs %.0f ns)" % (
                k[:-3], med(guard, k) / med(plain, k), med(guard, k), med(plain, k)))
        print("  any process, recorders attached / nothing attached (egressd --reset):")
        for k in KEYS:
            print("    %-10s %.3f   (%.0f vs %.0f ns)" % (
                k[:-3], med(attached, k) / med(bare, k), med(attached, k), med(bare, k)))
    finally:
        B.teardown(procs, S.egressd, S.dirs, world, tmp)


if __name__ == "__main__":
    main()
