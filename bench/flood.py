#!/usr/bin/python3
"""make bench, part 3: a flood of denied connects (issue 15, item 6).

A fenced job connects as fast as one thread can for --seconds (10 by
default) to destinations its policy denies: the same one over and over
(--spread 1), or a new address each time (--spread N, cycling over N
addresses). egressd runs with the default journal. Reports what the flood
costs egressd and the journal:

  egressd CPU per decision   user+system time of egressd from the flood's
                             start until its records are in, over the
                             kernel's decision count
  spans per decision         journal spans written over decisions (1.0
                             without folding)
  journal bytes              written by the flood, and files evicted
  ring-buffer drops          records lost before egressd read them
"""
import argparse
import glob
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
import world as W  # noqa: E402
import benchlib as B  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")
DENIED = "198.18.2.1"


def cpu_s(pid):
    with open("/proc/%d/stat" % pid) as f:
        v = f.read().rsplit(")", 1)[1].split()
    return (int(v[11]) + int(v[12])) / TICK


def journal_bytes(tmp):
    return sum(os.path.getsize(p) for p in glob.glob(tmp + "/state/journal/*.jsonl"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build/normal")
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--spread", type=int, default=1)
    args = ap.parse_args()
    S = B.setup(args.build, "f")
    egressd, egressctl, bench, world, tmp = S.egressd, S.egressctl, S.bench, S.world, S.tmp
    with open(tmp + "/policies/flood.json", "w") as f:
        json.dump({"name": "flood", "mode": "enforce", "allow": ["198.18.1.1:443"]}, f)
    ctl = [egressctl, "--socket", tmp + "/run/control.sock"]
    procs = []

    def status():
        return json.loads(subprocess.run(world.fence_argv(ctl + ["status", "--json"]),
                                         capture_output=True, text=True).stdout)
    try:
        daemon = B.start_daemon(world, egressd, S.dirs, tmp, procs)
        time.sleep(0.5)
        dpid = B.daemon_pid(daemon)
        st0, b0, c0 = status(), journal_bytes(tmp), cpu_s(dpid)
        r = subprocess.run(world.fence_argv(ctl + ["run", "--policy", "flood", "--job-id",
                                                   "flood", "--", bench, "storm", DENIED, "443",
                                                   str(args.seconds), str(args.spread)]),
                           capture_output=True, text=True, timeout=args.seconds + 120)
        if r.returncode != 0:
            raise RuntimeError("flood job failed: %s %s" % (r.stdout, r.stderr))
        res = json.loads(r.stdout.strip().splitlines()[-1])
        # the job span comes after every record of the job
        deadline = time.time() + 120
        while time.time() < deadline:
            if not status()["jobs"]:
                break
            time.sleep(0.2)
        time.sleep(1.5)
        st1, b1, c1 = status(), journal_bytes(tmp), cpu_s(dpid)
        dec = st1["decisions"] - st0["decisions"]
        spans = st1["journal"]["spans"] - st0["journal"]["spans"]
        print()
        print("a flood of denied connects: %.0f s, %d destination(s), %s" % (
            args.seconds, args.spread, args.build))
        print("  decisions                  %d (%d denied connects by the job)" % (
            dec, res["errors"]))
        print("  egressd CPU per decision   %.2f us  [%.2f s CPU]" % (
            (c1 - c0) / max(dec, 1) * 1e6, c1 - c0))
        print("  spans per decision         %.5f  [%d spans]" % (spans / max(dec, 1), spans))
        print("  journal bytes              %d; files evicted %d" % (
            b1 - b0 if not st1["journal"]["dropped_files"] else -1,
            st1["journal"]["dropped_files"]))
        print("  ring-buffer drops          %d" % (st1["ringbuf_drops"] - st0["ringbuf_drops"]))
    finally:
        B.teardown(procs, egressd, S.dirs, world, tmp)


if __name__ == "__main__":
    main()
