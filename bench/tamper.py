#!/usr/bin/env python3
"""Tamper resistance, measured side by side in one run (make bench).

Where BPF LSM is unavailable (this project's CI kernel), fenced jobs run
under egressctl run's guard (seccomp filter, mount namespace, capabilities)
and sys_exit tracepoints record what it refused. Two costs:

1. A job's syscalls under the guard: `ef_bench syscalls` (getppid, open+close,
   kill(self, 0), fcntl, ioctl, posix_spawn+wait: medians) in a fenced job
   against the same outside any job, egressd running in both; interleaved
   rounds, medians of the medians.
2. Every process on the host while the recorders are attached: the same
   unfenced measurement with egressd's fence loaded against after
   `egressd --reset` (nothing attached), interleaved.
3. A build-like workload: this project's egressctl compiled from scratch
   (`make -j2 BUILD=<tmp> <tmp>/egressctl`: clang for the BPF objects,
   bpftool, gcc, ld) in a fenced root job against outside any job,
   interleaved; wall time and the CPU time of the build's processes,
   medians with their spread (min-max).
4. A root job's start with its copy-on-write system directories
   (cli/overlay.c) against a policy with "host_writes": true (none):
   `egressctl run -- true`, interleaved, median and spread.
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

KEYS = ("getppid_ns", "open_ns", "kill0_ns", "fcntl_ns", "ioctl_ns", "spawn_ns")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build/normal")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--n", type=int, default=200000)
    ap.add_argument("--build-rounds", type=int, default=3)
    ap.add_argument("--start-rounds", type=int, default=21)
    args = ap.parse_args()
    S = B.setup(args.build, "tamper")
    world, tmp = S.world, S.tmp
    ctl = [S.egressctl, "--socket", tmp + "/run/control.sock"]
    os.makedirs(tmp + "/policies", exist_ok=True)
    with open(tmp + "/policies/t.json", "w") as f:
        json.dump({"name": "t", "mode": "enforce", "allow": ["198.18.1.1:443"]}, f)
    with open(tmp + "/policies/h.json", "w") as f:
        json.dump({"name": "h", "mode": "enforce", "allow": ["198.18.1.1:443"],
                   "host_writes": True}, f)
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
        # a build: fenced (egressd running) against unfenced, interleaved
        B.start_daemon(world, S.egressd, S.dirs, tmp, procs)

        def build(fenced, i):
            out = "%s/build-%s-%d" % (tmp, "fenced" if fenced else "plain", i)
            argv = ["make", "-s", "-j2", "BUILD=" + out, out + "/egressctl"]
            if fenced:
                argv = ctl + ["run", "--policy", "t", "--"] + argv
            t0 = time.monotonic()
            p = subprocess.Popen(world.fence_argv(argv), cwd=ROOT, stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT, text=True)
            _pid, status, ru = os.wait4(p.pid, 0)
            wall = time.monotonic() - t0
            p.returncode = os.waitstatus_to_exitcode(status)
            log = p.stdout.read()
            if p.returncode:
                raise RuntimeError("the build (%s) failed: %s" % (
                    "fenced" if fenced else "unfenced", log[-800:]))
            return {"wall": wall, "cpu": ru.ru_utime + ru.ru_stime}
        bf, bp = [], []
        for i in range(args.build_rounds):
            for fenced in ((True, False) if i % 2 == 0 else (False, True)):
                (bf if fenced else bp).append(build(fenced, i))
        def start(policy):
            t0 = time.monotonic()
            r = subprocess.run(world.fence_argv(ctl + ["run", "--policy", policy, "--", "true"]),
                               capture_output=True, text=True)
            if r.returncode:
                raise RuntimeError("egressctl run (%s): %s" % (policy, r.stderr[-800:]))
            return time.monotonic() - t0
        so, sh = [], []
        for i in range(args.start_rounds):
            for pol in (("t", "h") if i % 2 == 0 else ("h", "t")):
                (so if pol == "t" else sh).append(start(pol))
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
        print("  a build of egressctl from scratch, fenced root job / outside any job "
              "(%d interleaved rounds):" % args.build_rounds)
        for k, unit in (("wall", "s wall"), ("cpu", "s CPU")):
            print("    %-10s %.3f   (%.1f [%.1f-%.1f] vs %.1f [%.1f-%.1f] %s)" % (
                k, med(bf, k) / med(bp, k), med(bf, k), min(x[k] for x in bf),
                max(x[k] for x in bf), med(bp, k), min(x[k] for x in bp),
                max(x[k] for x in bp), unit))
        print("  a root job's start (`egressctl run -- true`), copy-on-write system "
              "directories / none (\"host_writes\": true), %d interleaved rounds:"
              % args.start_rounds)
        print("    start      %+.1f ms   (%.1f [%.1f-%.1f] vs %.1f [%.1f-%.1f] ms)" % (
            (statistics.median(so) - statistics.median(sh)) * 1e3, statistics.median(so) * 1e3,
            min(so) * 1e3, max(so) * 1e3, statistics.median(sh) * 1e3, min(sh) * 1e3,
            max(sh) * 1e3))
    finally:
        B.teardown(procs, S.egressd, S.dirs, world, tmp)


if __name__ == "__main__":
    main()
