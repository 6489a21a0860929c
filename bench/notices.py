#!/usr/bin/python3
"""make bench, part 6: what live notices cost (issue 19).

egressctl run stays the command's parent and watches its job on egressd's
control socket; egressd looks at refusals only, and only for a watched job.
So allowed traffic should cost the same watched or not. Measured in
interleaved rounds of two fenced jobs running the same TCP connect loop to
an allowed host: the default (watched, notices on) and --exec (no parent,
no watcher). Per round the ratio watched/--exec of connect p50 and p99, and
egressd's CPU per decision of each job. Then the same for a loop of refused
connects (one destination), where the watcher does work: its dedup of each
refusal, and one notice line in all. Medians of the per-round ratios, with
their spread (min..max): this machine is noisy.
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

PORT = 7431
DENIED = "198.18.2.9"


def cpu_ns(pid):
    """CPU time of every thread of pid, in ns (schedstat: clock ticks are
    too coarse for a few thousand decisions)."""
    total = 0
    for t in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/schedstat" % (pid, t)) as f:
                total += int(f.read().split()[0])
        except OSError:
            pass  # a thread that ended
    return total


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build/normal")
    ap.add_argument("--rounds", type=int, default=int(os.environ.get("BENCH_ROUNDS", 11)))
    ap.add_argument("--connects", type=int, default=3000)
    args = ap.parse_args()
    S = B.setup(args.build, "n")
    egressd, egressctl, bench, world, tmp, dirs = (S.egressd, S.egressctl, S.bench, S.world,
                                                   S.tmp, S.dirs)
    with open(tmp + "/policies/nb.json", "w") as f:
        json.dump({"name": "nb", "allow": ["198.18.0.0/24:%d" % PORT]}, f)
    ctl = [egressctl, "--socket", tmp + "/run/control.sock"]
    procs = []
    try:
        B.start_server(world, bench, PORT, procs)
        daemon = B.start_daemon(world, egressd, dirs, tmp, procs)
        dpid = B.daemon_pid(daemon)

        def status():
            return json.loads(subprocess.run(world.fence_argv(ctl + ["status", "--json"]),
                                             capture_output=True, text=True).stdout)

        def job(kind, watched):
            host = W.HOSTS_V4 if kind == "allow" else DENIED
            loop = ([bench, "connect", host, str(PORT), str(args.connects)] if kind == "allow"
                    else [bench, "storm", host, str(PORT), "1"])
            argv = ctl + ["run", "--policy", "nb"] + ([] if watched else ["--exec"]) + [
                "--"] + loop
            s0, c0 = status(), cpu_ns(dpid)
            p = subprocess.run(world.fence_argv(argv), capture_output=True, text=True,
                               timeout=300)
            for _ in range(200):  # drained: the job's span is written
                s1 = status()
                if s1["records"] >= s1["decisions"] and s1["jobs"] == 0:
                    break
            c1 = cpu_ns(dpid)
            n = max(s1["decisions"] - s0["decisions"], 1)
            out = json.loads(p.stdout.strip().splitlines()[-1]) if kind == "allow" else {}
            return {"p50": out.get("p50_ns", 0), "p99": out.get("p99_ns", 0),
                    "cpu_us": (c1 - c0) / 1e3 / n, "decisions": n,
                    "notices": sum(1 for l in p.stderr.splitlines()
                                   if l.startswith("egress-fence: refused"))}

        job("allow", True)
        job("allow", False)
        res = {(k, w): [] for k in ("allow", "deny") for w in (True, False)}
        for i in range(args.rounds):
            for kind in ("allow", "deny"):
                for w in ((True, False) if i % 2 == 0 else (False, True)):
                    res[(kind, w)].append(job(kind, w))

        def ratios(kind, key):
            xs = [a[key] / b[key] for a, b in zip(res[(kind, True)], res[(kind, False)])
                  if b[key]]
            return statistics.median(xs), min(xs), max(xs)

        def med(kind, w, key):
            return statistics.median(x[key] for x in res[(kind, w)])

        print("live notices: watched (default) vs --exec (no watcher), %d interleaved rounds "
              "of %d connects; median ratio [min..max]" % (args.rounds, args.connects))
        for key, label in (("p50", "allowed connect p50"), ("p99", "allowed connect p99")):
            m, lo, hi = ratios("allow", key)
            print("  %-24s %.3f [%.3f..%.3f]  (%.1f vs %.1f us)" % (
                label, m, lo, hi, med("allow", True, key) / 1e3, med("allow", False, key) / 1e3))
        for kind, label in (("allow", "egressd CPU, allowed"), ("deny", "egressd CPU, refused")):
            m, lo, hi = ratios(kind, "cpu_us")
            print("  %-24s %.3f [%.3f..%.3f]  (%.2f vs %.2f us per decision)" % (
                label, m, lo, hi, med(kind, True, "cpu_us"), med(kind, False, "cpu_us")))
        print("  notice lines per refused job: watched %s, --exec %s (of %d refusals)" % (
            sorted({x["notices"] for x in res[("deny", True)]}),
            sorted({x["notices"] for x in res[("deny", False)]}),
            med("deny", True, "decisions")))
    finally:
        B.teardown(procs, egressd, dirs, world, tmp)


if __name__ == "__main__":
    main()
