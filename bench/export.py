#!/usr/bin/python3
"""make bench, part 2: export under a connect storm.

A fenced job connects as fast as one thread can for --seconds (60 by
default) to a host in the test world, every connect a recorded decision,
while egressd exports every span over OTLP/HTTP (protobuf, the default) to
a local receiver that decodes each request with the official schema
(tests/integration/otlp_receiver.py --count-only). Then the same storm
unfenced, for the rate ratio. Reports:

  spans received / decisions   the decisions the storm job's distinct spans
                               at the receiver stand for (a folded span
                               counts egress.count) over the kernel's
                               decision count (target 1.000: nothing lost),
                               and how many spans that took
  decisions per second         sustained over the storm, and the fenced rate
                               over the unfenced one
  egressd CPU per decision     user+system time of egressd (all threads: the
                               ring-buffer consumer and the exporter) from the
                               storm's start until the receiver has everything,
                               over the decisions (target <= 10 us), and the
                               exporter thread's share
  drain                        how long after the storm the last span arrived
"""
import argparse
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

PORT = 7000
TICK = os.sysconf("SC_CLK_TCK")


def cpu_s(pid, tid=None):
    path = "/proc/%d/task/%d/stat" % (pid, tid) if tid else "/proc/%d/stat" % pid
    with open(path) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime


def thread_named(pid, name):
    for tid in os.listdir("/proc/%d/task" % pid):
        with open("/proc/%d/task/%s/comm" % (pid, tid)) as f:
            if f.read().strip() == name:
                return int(tid)
    return None


def received(path):
    jobs, names, dups, reqs, bad = {}, {}, 0, 0, 0
    received.spans = {}
    if not os.path.exists(path):
        return jobs, names, dups, reqs, bad
    with open(path) as f:
        for line in f:
            if not line.endswith("\n"):
                break
            r = json.loads(line)
            reqs += 1
            if r.get("error") or r["status"] // 100 != 2:
                bad += 1
                continue
            for k, v in (r.get("jobs") or {}).items():
                jobs[k] = jobs.get(k, 0) + v
            for k, v in (r.get("names") or {}).items():
                names[k] = names.get(k, 0) + v
            for k, v in (r.get("spans") or {}).items():
                received.spans[k] = received.spans.get(k, 0) + v
            dups += r.get("dups", 0)
    return jobs, names, dups, reqs, bad


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build/normal")
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--unfenced-seconds", type=float, default=15)
    ap.add_argument("--protocol", default="http/protobuf")
    ap.add_argument("--denied", action="store_true",
                    help="a storm of refused connects (no rule names 10.99.0.1)")
    ap.add_argument("--spread", type=int, default=1,
                    help="destinations the storm walks (ef_bench storm SPREAD)")
    args = ap.parse_args()
    proto_py = os.path.join(ROOT, "build", "otlp-proto", "py")
    S = B.setup(args.build, "x")
    egressd, egressctl, bench, world, tmp = S.egressd, S.egressctl, S.bench, S.world, S.tmp
    dirs = S.dirs + ["--config", tmp + "/egressd.json"]
    with open(tmp + "/policies/storm.json", "w") as f:
        json.dump({"name": "storm", "mode": "enforce", "allow": ["198.18.0.0/16:%d" % PORT]}, f)
    sock = tmp + "/run/control.sock"
    ctl = [egressctl, "--socket", sock]
    procs = []
    try:
        B.start_server(world, bench, PORT, procs)
        out = tmp + "/received.jsonl"
        port_file = tmp + "/otlp.port"
        rcv = subprocess.Popen(world.fence_argv([
            W.PY, os.path.join(ROOT, "tests", "integration", "otlp_receiver.py"),
            "--proto-py", proto_py, "--out", out, "--port-file", port_file, "--count-only"]),
            stdin=subprocess.DEVNULL, stderr=open(tmp + "/receiver.err", "w"))
        procs.append(rcv)
        for _ in range(100):
            if os.path.exists(port_file) or rcv.poll() is not None:
                break
            time.sleep(0.1)
        if not os.path.exists(port_file):
            raise RuntimeError("receiver did not start: " + open(tmp + "/receiver.err").read())
        port = int(open(port_file).read())
        with open(tmp + "/egressd.json", "w") as f:
            json.dump({"otlp": {"endpoint": "http://127.0.0.1:%d" % port,
                                "protocol": args.protocol}}, f)
        daemon = B.start_daemon(world, egressd, dirs, tmp, procs)
        time.sleep(0.5)
        # egressd runs under nsenter: find the daemon itself
        dpid = B.daemon_pid(daemon)
        exp_tid = thread_named(dpid, "ef-export")

        def status():
            return json.loads(subprocess.run(world.fence_argv(ctl + ["status", "--json"]),
                                             capture_output=True, text=True).stdout)

        storm = [bench, "storm", "10.99.0.1" if args.denied else W.HOSTS_V4, str(PORT)]
        spread = [str(args.spread)] if args.spread > 1 else []
        # warm-up: a short fenced storm, then let export settle
        subprocess.run(world.fence_argv(ctl + ["run", "--policy", "storm", "--job-id", "warm",
                                               "--"] + storm + ["2"] + spread),
                       capture_output=True)
        time.sleep(2)
        st0 = status()
        cpu0, exp0, t0 = cpu_s(dpid), cpu_s(dpid, exp_tid) if exp_tid else 0, time.time()
        r = subprocess.run(world.fence_argv(ctl + ["run", "--policy", "storm", "--job-id",
                                                   "storm", "--"] + storm +
                                            [str(args.seconds)] + spread),
                           capture_output=True, text=True, timeout=args.seconds + 120)
        t_storm = time.time()
        if r.returncode != 0:
            raise RuntimeError("storm job failed: %s %s" % (r.stdout, r.stderr))
        fenced = json.loads(r.stdout.strip().splitlines()[-1])
        # wait for the last span (the job span comes after every decision)
        deadline = time.time() + 300
        while time.time() < deadline:
            jobs, names, dups, reqs, bad = received(out)
            st = status()
            if (st["export"]["exported_spans"] + st["export"]["rejected_spans"]
                    >= st["journal"]["spans"]) and jobs.get("storm", 0) > 0:
                break
            time.sleep(0.2)
        t_done = time.time()
        cpu1, exp1 = cpu_s(dpid), cpu_s(dpid, exp_tid) if exp_tid else 0
        st1 = status()
        jobs, names, dups, reqs, bad = received(out)
        decisions = st1["decisions"] - st0["decisions"]
        got = jobs.get("storm", 0) - 1  # minus its egress.job span
        # unfenced, same storm, for the rate ratio
        u = json.loads(subprocess.run(world.fence_argv(storm + [str(args.unfenced_seconds)] +
                                                       spread),
                                      capture_output=True, text=True).stdout.strip()
                       .splitlines()[-1])
        rate_f = fenced["connects"] / fenced["seconds"]
        rate_u = u["connects"] / u["seconds"]
        print()
        print("export under a %s storm: %.0f s fenced job, OTLP %s to a local receiver "
              "decoding with the official schema" % ("denied" if args.denied else "connect", args.seconds, args.protocol))
        print("  spans received / decisions   %.4f   (target 1.000)  [%d of %d, in %d spans; "
              "%d dups, %d failed requests of %d]" % (
                  got / max(decisions, 1), got, decisions,
                  received.spans.get("storm", got + 1) - 1, dups, bad, reqs))
        print("  decisions per second         %.0f fenced and exported; %.0f unfenced "
              "connects/s (ratio %.3f)" % (rate_f, rate_u, rate_f / rate_u))
        cpu = cpu1 - cpu0
        print("  egressd CPU per decision     %.2f us   (target <= 4 us)  [%.2f s CPU over "
              "%.1f s; exporter thread %.2f us]" % (cpu / max(decisions, 1) * 1e6, cpu,
                                                    t_done - t0,
                                                    (exp1 - exp0) / max(decisions, 1) * 1e6))
        print("  drain after the storm        %.1f s; ring-buffer drops %d; journal dropped %d; "
              "export retries %d, rejected %d" % (
                  t_done - t_storm, st1["ringbuf_drops"] - st0["ringbuf_drops"],
                  st1["export"]["dropped_spans"], st1["export"]["retries"],
                  st1["export"]["rejected_spans"]))
    finally:
        B.teardown(procs, egressd, dirs, world, tmp)

if __name__ == "__main__":
    main()
