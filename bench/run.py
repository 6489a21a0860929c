#!/usr/bin/python3
"""make bench: what the fence costs, measured side by side in one run.

In the test world (tests/integration/world.py: two network namespaces, no
route out), egressd fences jobs under a policy of 100,000 CIDR rules and
100,000 exact addresses; every decision is recorded (ring buffer -> journal).
Each round runs the same measurement unfenced and fenced, in alternating
order; the figures are medians over rounds of the per-round ratios
fenced/unfenced, so slow drifts of a noisy machine cancel out.

  connect: TCP connect() to a host in the hosts namespace (p50, p99)
  sendto:  unconnected UDP sendto() to the same host (p50, mean)
  dns:     one A query at a time for ok.test, a name the world's dnsmasq
           answers from its own data, on a connected UDP socket: unfenced
           straight to dnsmasq (198.18.0.53); fenced the same packets are
           rewritten to egressd's DNS proxy, which checks the name against the
           policy (ok.test:80), forwards it to dnsmasq, learns the answer into
           the job's map and answers as 198.18.0.53 (p50 ratio, p99 added);
           after the first query the job's answer cache answers (TTL 300 s),
           still judged, learned and recorded: bench/costs.py's dns_new
           measures the forwarding path with a new name each query

The target is covered by a CIDR rule, not an exact one, so a fenced
decision takes the slow path: exact-hash miss, then the LPM trie.
"""
import argparse
import ipaddress
import json
import os
import random
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
import world as W  # noqa: E402
import benchlib as B  # noqa: E402

TARGET_V4 = W.HOSTS_V4  # 198.18.0.2, covered by 198.18.0.0/16
PORT = 7000
DNS_NAME = "ok.test"  # answered by the world's dnsmasq from its own data
DNS_TIMEOUT_MS = 1000


def cpu_seconds(pid):
    """User + system CPU time of a process (/proc/PID/stat)."""
    with open("/proc/%d/stat" % pid) as f:
        x = f.read().rsplit(")", 1)[1].split()
    return (int(x[11]) + int(x[12])) / os.sysconf("SC_CLK_TCK")


def gen_policy(path, n_cidr, n_exact, seed=7):
    rnd = random.Random(seed)
    rules = set()
    # CIDRs of many lengths in 10.0.0.0/8 and 2001:db8:f000::/36: a deep, dense trie
    while len(rules) < n_cidr:
        if rnd.random() < 0.8:
            plen = rnd.randint(12, 30)
            net = ipaddress.ip_network((rnd.getrandbits(24) | (10 << 24), plen), strict=False)
            rules.add("%s:%s" % (net, rnd.choice(["443", "80,443", "8000-8100", "*"])))
        else:
            plen = rnd.randint(40, 120)
            addr = (0x20010db8f << 92) | rnd.getrandbits(92)
            net = ipaddress.ip_network((addr, plen), strict=False)
            rules.add("[%s]/%d:443" % (net.network_address, plen))
    exact = set()
    while len(exact) < n_exact:
        exact.add("100.%d.%d.%d:443" % (rnd.randint(64, 127), rnd.randint(0, 255),
                                         rnd.randint(0, 255)))
    allow = sorted(rules) + sorted(exact) + ["198.18.0.0/16:%d" % PORT,
                                             "198.18.0.0/16:%d/udp" % PORT, DNS_NAME + ":80"]
    with open(path, "w") as f:
        # the DNS benchmark asks as fast as it can: not the per-job query limit's business
        json.dump({"name": "bench", "mode": "enforce", "allow": allow,
                   "dns": {"query_rate": 100000, "query_burst": 100000},
                   "deny": ["198.18.2.0/24:*"]}, f)
    return len(allow)


def prog_stats(bpffs):
    """run_cnt and run_time_ns of the fence's programs (kernel.bpf_stats_enabled)."""
    out = {}
    names = sorted(n[len("link_"):] for n in os.listdir(bpffs) if n.startswith("link_"))
    for name in names:
        r = subprocess.run(["bpftool", "--json", "link", "show", "pinned",
                            os.path.join(bpffs, "link_" + name)], capture_output=True, text=True)
        if r.returncode != 0:
            continue
        pid = json.loads(r.stdout)["prog_id"]
        r = subprocess.run(["bpftool", "--json", "prog", "show", "id", str(pid)],
                           capture_output=True, text=True)
        j = json.loads(r.stdout)
        out[name] = (j.get("run_cnt", 0), j.get("run_time_ns", 0))
    return out


def run_json(argv, timeout=120):
    r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        raise RuntimeError("%s failed (%d): %s %s" % (" ".join(argv), r.returncode, r.stderr,
                                                     r.stdout[-300:]))
    return json.loads(r.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build/normal")
    ap.add_argument("--rounds", type=int, default=int(os.environ.get("BENCH_ROUNDS", 15)))
    ap.add_argument("--connects", type=int, default=2000)
    ap.add_argument("--sends", type=int, default=20000)
    ap.add_argument("--rules", type=int, default=100000)
    ap.add_argument("--queries", type=int, default=2000, help="DNS queries per run")
    ap.add_argument("--busy-poll-us", type=int, default=None,
                    help="egressd's dns.busy_poll_us (default: egressd's own)")
    ap.add_argument("--no-dns", action="store_true",
                    help="skip the DNS section (an egressd without the DNS proxy)")
    args = ap.parse_args()
    S = B.setup(args.build, "")
    egressd, egressctl, bench = S.egressd, S.egressctl, S.bench
    world, tmp, bpffs, dirs = S.world, S.tmp, S.bpffs, S.dirs
    if not args.no_dns:
        # the fence's DNS proxy forwards to the world's dnsmasq
        with open(tmp + "/egressd.json", "w") as f:
            dns = {"upstream": [W.DNS_V4], "timeout_ms": DNS_TIMEOUT_MS}
            if args.busy_poll_us is not None:
                dns["busy_poll_us"] = args.busy_poll_us
            json.dump({"dns": dns}, f)
        dirs += ["--config", tmp + "/egressd.json"]
    sock = tmp + "/run/control.sock"
    procs = []
    try:
        t0 = time.time()
        n_rules = gen_policy(tmp + "/policies/bench.json", args.rules, args.rules)
        print("policy: %d rules (%d CIDR, %d exact) written in %.1fs" %
              (n_rules, args.rules, args.rules, time.time() - t0))
        B.start_server(world, bench, PORT, procs)
        daemon = B.start_daemon(world, egressd, dirs, tmp, procs, "" if args.no_dns else
                                " (it needs the DNS proxy: --no-dns runs without it)")
        dns_cpu = [0.0, 0]  # egressd's CPU seconds over fenced DNS runs, queries
        ctl = [egressctl, "--socket", sock]
        # a holder job keeps the 200k-entry policy loaded between measured jobs
        t0 = time.time()
        holder = subprocess.Popen(world.fence_argv(ctl + ["run", "--policy", "bench", "--job-id",
                                                          "holder", "--", "sleep", "3600"]))
        procs.append(holder)
        for _ in range(600):
            r = subprocess.run(ctl + ["jobs", "--json"], capture_output=True, text=True)
            if '"holder"' in r.stdout:
                break
            time.sleep(0.1)
        else:
            raise RuntimeError("holder job did not start: see " + tmp + "/egressd.log")
        print("policy compiled and loaded into the maps in %.1fs" % (time.time() - t0))

        def measure(mode, n, fenced):
            if mode == "dns":
                argv = [bench, "dns", W.DNS_V4, "53", str(n), DNS_NAME, str(DNS_TIMEOUT_MS)]
            else:
                argv = [bench, mode, TARGET_V4, str(PORT), str(n)]
            if fenced:
                argv = ctl + ["run", "--policy", "bench", "--"] + argv
            if mode == "dns" and fenced:
                c0 = cpu_seconds(daemon.pid)
                r = run_json(world.fence_argv(argv))
                dns_cpu[0] += cpu_seconds(daemon.pid) - c0
                dns_cpu[1] += n
                return r
            return run_json(world.fence_argv(argv))

        # warm-up: first runs pay for page faults and cold caches
        modes = ["connect", "sendto"] + ([] if args.no_dns else ["dns"])
        for fenced in (False, True):
            measure("connect", 200, fenced)
            measure("sendto", 2000, fenced)
            if not args.no_dns:
                measure("dns", 200, fenced)
        before = json.loads(subprocess.run(ctl + ["status", "--json"], capture_output=True,
                                           text=True).stdout)
        dns_cpu[:] = [0.0, 0]
        with open("/proc/sys/kernel/bpf_stats_enabled") as f:
            stats_was = f.read().strip()
        with open("/proc/sys/kernel/bpf_stats_enabled", "w") as f:
            f.write("1")
        pstats0 = prog_stats(bpffs)
        res = {k: [] for k in ("c50", "c99", "s50", "smean", "d50", "d99add")}
        raw = {m: {True: [], False: []} for m in modes}
        for i in range(args.rounds):
            order = (False, True) if i % 2 == 0 else (True, False)
            got = {}
            for fenced in order:
                got[("connect", fenced)] = measure("connect", args.connects, fenced)
            for fenced in order:
                got[("sendto", fenced)] = measure("sendto", args.sends, fenced)
            if not args.no_dns:
                for fenced in order:
                    got[("dns", fenced)] = measure("dns", args.queries, fenced)
            for m in modes:
                for fenced in (True, False):
                    raw[m][fenced].append(got[(m, fenced)])
            c_f, c_u = got[("connect", True)], got[("connect", False)]
            s_f, s_u = got[("sendto", True)], got[("sendto", False)]
            res["c50"].append(c_f["p50_ns"] / c_u["p50_ns"])
            res["c99"].append(c_f["p99_ns"] / c_u["p99_ns"])
            res["s50"].append(s_f["p50_ns"] / s_u["p50_ns"])
            res["smean"].append(s_f["mean_ns"] / s_u["mean_ns"])
            line = "round %2d: connect p50 %.3f p99 %.3f | sendto p50 %.3f mean %.3f" % (
                i + 1, res["c50"][-1], res["c99"][-1], res["s50"][-1], res["smean"][-1])
            if not args.no_dns:
                d_f, d_u = got[("dns", True)], got[("dns", False)]
                res["d50"].append(d_f["p50_ns"] / d_u["p50_ns"])
                res["d99add"].append((d_f["p99_ns"] - d_u["p99_ns"]) / 1e6)
                line += " | dns p50 %.3f p99 %+.3f ms" % (res["d50"][-1], res["d99add"][-1])
            print(line)
        pstats1 = prog_stats(bpffs)
        with open("/proc/sys/kernel/bpf_stats_enabled", "w") as f:
            f.write(stats_was)
        time.sleep(1.5)
        after = json.loads(subprocess.run(ctl + ["status", "--json"], capture_output=True,
                                          text=True).stdout)
        med = {k: statistics.median(v) for k, v in res.items() if v}

        def abs_med(m, fenced, key):
            return statistics.median(x[key] for x in raw[m][fenced]) / 1000.0

        decisions = after["decisions"] - before["decisions"]
        print()
        print("fenced/unfenced, median of %d interleaved rounds (%d connects, %d sendto each);"
              % (args.rounds, args.connects, args.sends))
        print("policy of %d CIDR + %d exact rules, every decision recorded" %
              (args.rules, args.rules))
        print("  connect p50 ratio  %.3f   (target <= 1.03)   [%.1f vs %.1f us]" %
              (med["c50"], abs_med("connect", True, "p50_ns"), abs_med("connect", False, "p50_ns")))
        print("  connect p99 ratio  %.3f   (target <= 1.10)   [%.1f vs %.1f us]" %
              (med["c99"], abs_med("connect", True, "p99_ns"), abs_med("connect", False, "p99_ns")))
        print("  sendto  p50 ratio  %.3f   (target <= 1.15)   [%.2f vs %.2f us]" %
              (med["s50"], abs_med("sendto", True, "p50_ns"), abs_med("sendto", False, "p50_ns")))
        print("  sendto mean ratio  %.3f" % med["smean"])
        if not args.no_dns:
            lost = {f: sum(x["timeouts"] for x in raw["dns"][f]) for f in (True, False)}
            bad = {f: sum(x["bad"] for x in raw["dns"][f]) for f in (True, False)}
            print("  dns     p50 ratio  %.3f   (target <= 1.5)    [%.1f vs %.1f us]" %
                  (med["d50"], abs_med("dns", True, "p50_ns"), abs_med("dns", False, "p50_ns")))
            print("  dns     p99 added  %.3f ms (target <= 1 ms)  [%.1f vs %.1f us]" %
                  (med["d99add"], abs_med("dns", True, "p99_ns"), abs_med("dns", False, "p99_ns")))
            print("  dns: %d queries per run for %s; timeouts (%d ms) fenced %d, unfenced %d; "
                  "failed answers fenced %d, unfenced %d" % (
                      args.queries, DNS_NAME, DNS_TIMEOUT_MS, lost[True], lost[False],
                      bad[True], bad[False]))
            if dns_cpu[1]:
                print("  dns: egressd CPU %.1f us per query (user + system, busy polling "
                      "included, over %d queries)" % (dns_cpu[0] / dns_cpu[1] * 1e6, dns_cpu[1]))
        for name, label, m, key in (("ef_connect4", "connect", "connect", "p50_ns"),
                                    ("ef_sendmsg4", "sendto", "sendto", "p50_ns")):
            if name in pstats0 and name in pstats1:
                cnt = pstats1[name][0] - pstats0[name][0]
                ns = pstats1[name][1] - pstats0[name][1]
                if cnt:
                    unf = abs_med(m, False, key) * 1000.0
                    print("  %-8s program: %.0f ns per call over %d calls = %.3f of the "
                          "unfenced p50 (%.0f ns)" % (label, ns / cnt, cnt, ns / cnt / unf, unf))
        others = []
        for name in sorted(pstats1):
            if name in ("ef_connect4", "ef_sendmsg4") or name not in pstats0:
                continue
            cnt = pstats1[name][0] - pstats0[name][0]
            ns = pstats1[name][1] - pstats0[name][1]
            if cnt:
                others.append("%s %.0f ns x %d" % (name, ns / cnt, cnt))
        if others:
            print("  other programs during the rounds (connects and sendtos together; the "
                  "packet programs run per packet): " + "; ".join(others))
        print("  decisions in the kernel during the rounds: %d; records lost (ring full): %d; "
              "records consumed by egressd: %d" % (decisions, after["ringbuf_drops"] -
                                                  before["ringbuf_drops"],
                                                  after["records"] - before["records"]))
    finally:
        B.teardown(procs, egressd, dirs, world, tmp)

if __name__ == "__main__":
    main()
