#!/usr/bin/python3
"""make bench, part 3: probe detection.

1. What detection costs. Interleaved rounds of two fenced jobs, each a
   connect storm of the same length: an allowed storm (one destination),
   and a scan (every connect to a new address of 198.18.128.0/17 on a
   port the policy refuses: every decision goes through the detectors,
   and every one adds a target). Per round: egressd's CPU per decision for
   each (utime + stime of the daemon over the job), and the time egressd
   spent in the detectors (its status: probe.examined, probe
   ns_per_examined). Medians over the rounds.

2. How fast a flag acts. Trials of a job (policy probe.action "freeze")
   that touches the metadata address and then spins: the time from the
   refused connect (its decision span) to the egress.probe span, and to
   the job's cgroup reporting "frozen 1" (polled from here).

Ratios and per-decision figures; this machine is noisy.
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

PORT = 7411
SCAN_BASE, SCAN_SPREAD = "198.18.128.1", 16384


def cpu_ticks(pid):
    with open("/proc/%d/stat" % pid) as f:
        parts = f.read().rsplit(")", 1)[1].split()
    return int(parts[11]) + int(parts[12])  # utime + stime


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build/normal")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--seconds", type=float, default=4)
    ap.add_argument("--trials", type=int, default=9)
    args = ap.parse_args()
    S = B.setup(args.build, "p")
    egressd, egressctl, bench, world = S.egressd, S.egressctl, S.bench, S.world
    tmp, cg, dirs = S.tmp, S.cg, S.dirs
    with open(tmp + "/policies/storm.json", "w") as f:
        json.dump({"name": "storm", "allow": ["198.18.0.0/16:%d" % PORT]}, f)
    with open(tmp + "/policies/frz.json", "w") as f:
        json.dump({"name": "frz", "allow": [], "probe": {"action": "freeze"}}, f)
    ctl = [egressctl, "--socket", tmp + "/run/control.sock"]
    procs = []
    try:
        B.start_server(world, bench, PORT, procs)
        daemon = B.start_daemon(world, egressd, dirs, tmp, procs)
        time.sleep(0.5)
        dpid = B.daemon_pid(daemon)
        hz = os.sysconf("SC_CLK_TCK")

        def status():
            return json.loads(subprocess.run(world.fence_argv(ctl + ["status", "--json"]),
                                             capture_output=True, text=True).stdout)

        def storm_job(job, kind):
            """kind: "allow" (one allowed destination), "deny" (one denied
            destination, over and over), "scan" (a new denied one each time)"""
            argv = [bench, "storm", SCAN_BASE if kind != "allow" else W.HOSTS_V4,
                    str(PORT + 1 if kind != "allow" else PORT), str(args.seconds)]
            if kind == "scan":
                argv.append(str(SCAN_SPREAD))
            s0, c0 = status(), cpu_ticks(dpid)
            p = subprocess.Popen(world.fence_argv(ctl + ["run", "--policy", "storm", "--job-id",
                                                         job, "--"] + argv),
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            time.sleep(args.seconds * 0.75)
            mid = status()
            out, err = p.communicate(timeout=args.seconds + 60)
            if p.returncode:
                raise RuntimeError("storm job failed: %s %s" % (out, err))
            # egressd has drained the job when its span is written
            for _ in range(200):
                s1 = status()
                if s1["records"] >= s1["decisions"] and s1["jobs"] == 0:
                    break
                time.sleep(0.05)
            c1 = cpu_ticks(dpid)
            n = s1["decisions"] - s0["decisions"]
            ex = s1["probe"]["examined"] - s0["probe"]["examined"]
            return {"decisions": n, "cpu_us": (c1 - c0) / hz * 1e6 / max(n, 1),
                    "examined": ex, "flags": s1["probe"]["flags"] - s0["probe"]["flags"],
                    "tracked_mid": mid["probe"]["tracked_targets"],
                    "ns_total": s1["probe"]["ns_per_examined"] * s1["probe"]["examined"]
                    - s0["probe"]["ns_per_examined"] * s0["probe"]["examined"],
                    "rate": json.loads(out)["connects"] / json.loads(out)["seconds"]}

        storm_job("warm", "allow")
        res = {"allow": [], "deny": [], "scan": []}
        for i in range(args.rounds):
            order = ["allow", "deny", "scan"]
            for kind in order[i % 3:] + order[:i % 3]:
                res[kind].append(storm_job("r%d-%s" % (i, kind), kind))
        allow, deny, scan = res["allow"], res["deny"], res["scan"]
        med = lambda xs, k: statistics.median(x[k] for x in xs)  # noqa: E731
        det_ns = statistics.median(x["ns_total"] / max(x["examined"], 1) for x in scan)
        share = statistics.median(x["ns_total"] / 1e3 / max(x["cpu_us"] * x["decisions"], 1)
                                  for x in scan)
        print("probe detection under a scan (%d interleaved rounds of %.0f s jobs, medians):" % (
            args.rounds, args.seconds))
        print("  egressd CPU per decision   allowed storm %.2f us; denied, one address %.2f us "
              "(ratio %.3f); scan, every decision a new denied address %.2f us (ratio %.3f)" % (
                  med(allow, "cpu_us"), med(deny, "cpu_us"),
                  med(deny, "cpu_us") / med(allow, "cpu_us"), med(scan, "cpu_us"),
                  med(scan, "cpu_us") / med(allow, "cpu_us")))
        print("  detectors per refusal, one denied address  %.0f ns" % statistics.median(
            x["ns_total"] / max(x["examined"], 1) for x in deny))
        print("  detectors per refusal, scan                %.0f ns (%.1f%% of egressd's CPU)" % (
            det_ns, share * 100))
        print("  connects per second        allowed %.0f, denied %.0f, scan %.0f; every refusal "
              "examined: %s" % (med(allow, "rate"), med(deny, "rate"), med(scan, "rate"),
                                all(x["examined"] == x["decisions"] for x in scan + deny)))
        print("  flags per scan job         %s (dest_scan once per 60 s window)" %
              sorted({x["flags"] for x in scan}))
        print("  targets tracked mid-scan   max %d (bounded by the window and 65536 per set)" %
              max(x["tracked_mid"] for x in scan))

        # 2. time to flag and to freeze
        to_flag, to_freeze = [], []
        for t in range(args.trials):
            job = "frz%d" % t
            p = subprocess.Popen(world.fence_argv(
                ctl + ["run", "--policy", "frz", "--job-id", job, "--", "/bin/sh", "-c",
                       "%s connect 169.254.169.254 80 1 >/dev/null; while :; do :; done" %
                       bench]), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            procs.append(p)
            events = os.path.join(cg, "job-" + job, "cgroup.events")
            frozen_at = None
            deadline = time.time() + 10
            while time.time() < deadline:
                try:
                    with open(events) as f:
                        if "frozen 1" in f.read():
                            frozen_at = time.time_ns()
                            break
                except OSError:
                    pass
            subprocess.run(world.fence_argv(ctl + ["kill", job]), capture_output=True)
            p.wait(20)
            if frozen_at is None:
                raise RuntimeError("job %s never froze" % job)
            time.sleep(0.3)
            sp = W.journal_spans(tmp + "/state")
            dec = [int(s["startTimeUnixNano"]) for s, a in sp if s["name"] == "egress.connect"
                   and a.get("egress.job.id") == job]
            prb = [int(s["startTimeUnixNano"]) for s, a in sp if s["name"] == "egress.probe"
                   and a.get("egress.job.id") == job]
            if not dec or not prb:
                raise RuntimeError("job %s: decision or probe span missing" % job)
            to_flag.append((prb[0] - dec[0]) / 1e6)
            to_freeze.append((frozen_at - dec[0]) / 1e6)
        print("time from a refused metadata connect (%d trials, median / max):" % args.trials)
        print("  to its egress.probe span   %.2f / %.2f ms" % (statistics.median(to_flag),
                                                            max(to_flag)))
        print("  to the job frozen          %.2f / %.2f ms (cgroup.events polled from outside)"
              % (statistics.median(to_freeze), max(to_freeze)))
    finally:
        B.teardown(procs, egressd, dirs, world, tmp)


if __name__ == "__main__":
    main()
