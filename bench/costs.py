#!/usr/bin/python3
"""make bench / make bench-compare: what each hot path costs, in figures that
hold still on a shared machine.

One test world; for each --build (one, or two to compare) an egressd of its
own (own cgroup root, pins and state) and one long-lived fenced job running
`ef_bench script`, which times batches of calls on command, so that a round
measures the calls and not a job's start and end; a second `ef_bench script`
runs unfenced beside them for the wall-clock ratios. The policy has 100,000
CIDR and 100,000 exact random rules (a deep trie, a full hash), plus the
rules the scenarios hit:

  connect_exact    TCP connect() allowed by an exact rule (198.18.1.1:7000)
  connect_cidr     allowed by a CIDR rule (198.18.0.0/24:7000): hash miss, trie hit
  connect_learned  allowed by a name rule (wild.test:7000, learned through the
                   job's DNS proxy): hash and trie miss, learned-address hit
  connect_denied   refused, no rule (198.18.1.4:7000): hash and trie miss
  sendto_first     UDP sendto() on a fresh socket each: judged and recorded
  sendto_cached    UDP sendto()s on one socket to one destination: the verdict
                   kept in the socket's storage
  wire_fast        the packet-egress check (ef_wire) per packet of sendto_cached:
                   the packet goes where its socket's judged destination is
  wire_slow        the same through a DNAT rule of the fence namespace
                   (198.18.0.2:7002 -> 198.18.1.1:7000): each packet judged
                   against the policy on the wire
  dns              one A query at a time for ok.test through the job's DNS proxy:
                   after the first, answered from the job's cache (dns_cache.c)
  dns_new          the same, a new name each query (198-18-X-Y.race.test, which
                   dnsmasq synthesizes): each forwarded upstream and learned

Per round and scenario, in alternating order of builds: the kernel's own
run time per call of the scenario's BPF program (bpf_stats: run_time_ns /
run_cnt over the batch), egressd's CPU per decision (the sum of its threads'
run time, /proc/PID/task/*/schedstat, from the batch's start until its
records are consumed, over the decisions the kernel counted; per query for
dns and dns_new), and the batch's p50 wall time fenced / unfenced. Reported: the lower
quartile over rounds (steal time on these VMs inflates some rounds 2-3x; the
lower quartile is what the code costs), the median and the spread (min..max).
With two builds, the ratios second / first: of the lower quartiles, and the
median of the per-round ratios with their spread.
"""
import argparse
import json
import os
import random
import ipaddress
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
import world as W  # noqa: E402
import benchlib as B  # noqa: E402

PORT, NATTED = 7000, 7002
EXACT, CIDR_HOST, LEARNED, DENIED = "198.18.1.1", W.HOSTS_V4, "198.18.1.3", "198.18.1.4"
LEARNED_NAME, DNS_NAME = "wild.test", "ok.test"
DNS_TIMEOUT_MS = 1000

# name, ef_bench command (without N), program measured, counts as decisions
SCENARIOS = [
    ("connect_exact", ["connect", EXACT, PORT], "ef_connect4", True),
    ("connect_cidr", ["connect", CIDR_HOST, PORT], "ef_connect4", True),
    ("connect_learned", ["connect", LEARNED, PORT], "ef_connect4", True),
    ("connect_denied", ["connect-denied", DENIED, PORT], "ef_connect4", True),
    ("sendto_first", ["sendto-new", CIDR_HOST, PORT], "ef_sendmsg4", True),
    ("sendto_cached", ["sendto", CIDR_HOST, PORT], "ef_sendmsg4", False),
    ("wire_fast", ["sendto", CIDR_HOST, PORT], "ef_wire", False),
    ("wire_slow", ["sendto", CIDR_HOST, NATTED], "ef_wire", False),
    ("dns", ["dns", W.DNS_V4, 53], None, False),
    ("dns_new", ["dns", W.DNS_V4, 53], None, False),
]
# the name each DNS scenario asks ("%n": a new one each query, ef_bench.c)
DNS_ASK = {"dns": DNS_NAME, "dns_new": "%n." + W.RACE_DOMAIN}


def gen_policy(path, n, seed=7):
    rnd = random.Random(seed)
    rules = set()
    while len(rules) < n:  # CIDRs of many lengths in 10/8 and 2001:db8:f000::/36
        if rnd.random() < 0.8:
            net = ipaddress.ip_network((rnd.getrandbits(24) | (10 << 24), rnd.randint(12, 30)),
                                       strict=False)
            rules.add("%s:%s" % (net, rnd.choice(["443", "80,443", "8000-8100", "*"])))
        else:
            plen = rnd.randint(40, 120)
            net = ipaddress.ip_network(((0x20010db8f << 92) | rnd.getrandbits(92), plen),
                                       strict=False)
            rules.add("[%s]/%d:443" % (net.network_address, plen))
    exact = set()
    while len(exact) < n:
        exact.add("100.%d.%d.%d:443" % (rnd.randint(64, 127), rnd.randint(0, 255),
                                         rnd.randint(0, 255)))
    allow = sorted(rules) + sorted(exact) + [
        "%s:%d" % (EXACT, PORT), "%s:%d/udp" % (EXACT, PORT),
        "198.18.0.0/24:%d" % PORT, "198.18.0.0/24:%d/udp" % PORT,
        "198.18.0.0/24:%d/udp" % NATTED, "%s:%d" % (LEARNED_NAME, PORT), DNS_NAME + ":80",
        "*.%s:80" % W.RACE_DOMAIN]
    with open(path, "w") as f:
        json.dump({"name": "costs", "mode": "enforce", "allow": allow,
                   "dns": {"query_rate": 100000, "query_burst": 100000}}, f)


def quartile(v, q):
    v = sorted(v)
    return v[min(len(v) - 1, int(q * (len(v) - 1) + 0.5))]


def all_prog_stats():
    """prog id -> (run_cnt, run_time_ns), every program of the host, one call."""
    r = subprocess.run(["bpftool", "--json", "prog", "show"], capture_output=True, text=True)
    return {p["id"]: (p.get("run_cnt", 0), p.get("run_time_ns", 0))
            for p in json.loads(r.stdout or "[]")}


def prog_ids(bpffs):
    """program name -> id, from the links egressd pinned."""
    ids = {}
    for n in os.listdir(bpffs):
        if n.startswith("link_"):
            r = subprocess.run(["bpftool", "--json", "link", "show", "pinned",
                                os.path.join(bpffs, n)], capture_output=True, text=True)
            if r.returncode == 0:
                ids[n[len("link_"):]] = json.loads(r.stdout)["prog_id"]
    return ids


def threads_ns(pid):
    """CPU time of all of a process's threads, ns (schedstat: run time)."""
    tot = 0
    for t in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/schedstat" % (pid, t)) as f:
                tot += int(f.read().split()[0])
        except OSError:
            pass
    return tot


class Script:
    """An `ef_bench script` process: one command a line, one JSON line back."""

    def __init__(self, argv, what):
        self.what = what
        self.p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  text=True, bufsize=1)
        line = self.p.stdout.readline().strip()
        if line != "READY":
            raise RuntimeError("%s: ef_bench script did not start (%r)" % (what, line))

    def run(self, cmd):
        self.p.stdin.write(" ".join(str(c) for c in cmd) + "\n")
        self.p.stdin.flush()
        line = self.p.stdout.readline()
        if not line:
            raise RuntimeError("%s: ef_bench ended at %s" % (self.what, cmd))
        r = json.loads(line)
        if "error" in r:
            raise RuntimeError("%s: %s failed" % (self.what, " ".join(map(str, cmd))))
        return r

    def close(self):
        try:
            self.p.stdin.close()
            self.p.wait(10)
        except (OSError, subprocess.TimeoutExpired):
            self.p.kill()


class Fence:
    """egressd of one build, and its long-lived job."""

    def __init__(self, world, build, label, tmp, procs):
        self.build = os.path.abspath(build)
        self.label = label
        self.tmp = tmp
        cg = os.path.join(W.cgroup2_mount(), "ef-bench-%s-%s" % (label, world.tag))
        self.bpffs = "/sys/fs/bpf/ef-bench-%s-%s" % (label, world.tag)
        self.dirs = B.fence_dirs(tmp, cg, self.bpffs)
        self.egressd = os.path.join(self.build, "egressd")
        # the measuring end is this tree's (a base build's may lack `script`)
        self.bench = os.path.join(os.path.abspath(ARGS.build[-1] if ARGS.build else
                                                  "build/normal"), "bench", "ef_bench")
        gen_policy(tmp + "/policies/costs.json", ARGS.rules)
        with open(tmp + "/egressd.json", "w") as f:
            json.dump({"dns": {"upstream": [W.DNS_V4], "timeout_ms": DNS_TIMEOUT_MS}}, f)
        self.dirs += ["--config", tmp + "/egressd.json"]
        self.daemon = B.start_daemon(world, self.egressd, self.dirs, tmp, procs)
        self.pid = B.daemon_pid(self.daemon)
        ctl = [os.path.join(self.build, "egressctl"), "--socket", tmp + "/run/control.sock"]
        self.ctl = ctl
        t0 = time.time()
        self.job = Script(world.fence_argv(ctl + ["run", "--quiet", "--policy", "costs",
                                                  "--job-id", "costs-" + label, "--", self.bench,
                                                  "script"]), label)
        print("%s: egressd %s, 200,000-rule policy loaded and the job started in %.1fs" % (
            label, self.build, time.time() - t0))
        self.ids = prog_ids(self.bpffs)

    def status(self):
        r = subprocess.run(self.ctl + ["status", "--json"], capture_output=True, text=True)
        return json.loads(r.stdout)

    def settle(self, decisions0):
        """Wait until egressd consumed every record of the batch (at most 5 s)."""
        for i in range(50):
            st = self.status()
            if st.get("records", 0) - self.rec0 >= st.get("decisions", 0) - decisions0:
                st["late"] = i > 0
                return st
            time.sleep(0.1)
        st["late"] = True
        return st


def main():
    global ARGS
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", action="append", help="a build directory (twice: compare)")
    ap.add_argument("--label", action="append", help="a name for each --build")
    ap.add_argument("--rounds", type=int, default=int(os.environ.get("BENCH_ROUNDS", 15)))
    ap.add_argument("--rules", type=int, default=100000)
    ap.add_argument("--connects", type=int, default=1000)
    ap.add_argument("--sends", type=int, default=5000)
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--only", help="comma-separated scenario names")
    ARGS = args = ap.parse_args()
    builds = args.build or ["build/normal"]
    if len(builds) > 2:
        sys.exit("costs.py: one --build, or two to compare")
    labels = args.label or (["base", "this"] if len(builds) == 2 else ["this"])
    scen = [s for s in SCENARIOS if not args.only or s[0] in args.only.split(",")]
    S = B.setup(builds[0], "costs")
    world, procs, fences, scripts = S.world, [], [], []
    try:
        nft = ("table ip ef_bench_costs {\n chain out {\n  type nat hook output priority -100;\n"
               "  ip daddr %s udp dport %d dnat to %s:%d\n }\n}\n" % (CIDR_HOST, NATTED, EXACT,
                                                                   PORT))
        r = world.in_fence(["nft", "-f", "-"], input=nft)
        if r.returncode != 0:
            raise RuntimeError("nft (apt-get install nftables): " + r.stderr.strip())
        B.start_server(world, os.path.join(os.path.abspath(builds[-1]), "bench", "ef_bench"),
                       PORT, procs)
        for i, b in enumerate(builds):
            tmp = S.tmp + "/" + labels[i]
            os.makedirs(tmp + "/policies")
            fences.append(Fence(world, b, labels[i], tmp, procs))
            scripts.append(fences[-1].job)
        plain = Script(world.fence_argv([fences[0].bench, "script"]), "unfenced")
        scripts.append(plain)
        with open("/proc/sys/kernel/bpf_stats_enabled") as f:
            stats_was = f.read().strip()
        with open("/proc/sys/kernel/bpf_stats_enabled", "w") as f:
            f.write("1")
        n_of = {"connect": args.connects, "connect-denied": args.connects,
                "sendto": args.sends, "sendto-new": args.connects, "dns": args.queries}
        # per (scenario, label): lists over rounds
        prog, cpu, ratio, walls = {}, {}, {}, {}
        try:
            for fc in fences:  # warm-up, and the learned name
                fc.job.run(["dns", W.DNS_V4, 53, 3, LEARNED_NAME, DNS_TIMEOUT_MS])
                for name, cmd, _, _ in scen:
                    if name == "connect_learned":
                        fc.job.run(["dns", W.DNS_V4, 53, 1, LEARNED_NAME, DNS_TIMEOUT_MS])
                    fc.job.run(cmd + [100] + ([DNS_ASK[name], DNS_TIMEOUT_MS]
                                              if name in DNS_ASK else []))
            for rnd in range(args.rounds):
                order = list(range(len(fences)))
                if rnd % 2:
                    order.reverse()
                for name, cmd, pname, decides in scen:
                    n = n_of[cmd[0]]
                    full = cmd + [n] + ([DNS_ASK[name], DNS_TIMEOUT_MS] if name in DNS_ASK
                                        else [])
                    if name == "connect_learned":  # keep the name learned
                        for fc in fences:
                            fc.job.run(["dns", W.DNS_V4, 53, 1, LEARNED_NAME, DNS_TIMEOUT_MS])
                    # unfenced, a denied connect is a connect like any other
                    ufull = (["connect"] + full[1:]) if cmd[0] == "connect-denied" else full
                    u = plain.run(ufull) if rnd % 2 == 0 else None
                    for k in order:
                        fc = fences[k]
                        st0 = fc.status()
                        fc.rec0 = st0.get("records", 0)
                        ps0 = all_prog_stats()
                        c0 = threads_ns(fc.pid)
                        got = fc.job.run(full)
                        ps1 = all_prog_stats()
                        time.sleep(0.3)  # egressd drains on its timer: its records are in
                        c1 = threads_ns(fc.pid)
                        st1 = fc.settle(st0.get("decisions", 0))
                        if st1.get("late"):
                            c1 = threads_ns(fc.pid)  # a slow round: the status asks count
                        key = (name, fc.label)
                        if pname and pname in fc.ids:
                            pid = fc.ids[pname]
                            dc = ps1[pid][0] - ps0[pid][0]
                            if dc:
                                prog.setdefault(key, []).append((ps1[pid][1] - ps0[pid][1]) / dc)
                        dec = st1.get("decisions", 0) - st0.get("decisions", 0)
                        if name in DNS_ASK:
                            cpu.setdefault(key, []).append((c1 - c0) / n)
                        elif decides and dec:
                            cpu.setdefault(key, []).append((c1 - c0) / dec)
                        fc.last = got
                    if u is None:
                        u = plain.run(ufull)
                    for fc in fences:
                        ratio.setdefault((name, fc.label), []).append(
                            fc.last["p50_ns"] / max(1, u["p50_ns"]))
                        walls.setdefault((name, fc.label), []).append(
                            (fc.last["p50_ns"], u["p50_ns"], fc.last["p99_ns"], u["p99_ns"]))
                print("round %d/%d done" % (rnd + 1, args.rounds), flush=True)
        finally:
            with open("/proc/sys/kernel/bpf_stats_enabled", "w") as f:
                f.write(stats_was)
        report(scen, labels, prog, cpu, ratio, args)
        print()
        print("Wall clock, median over rounds: p50 fenced vs unfenced; p99 added")
        for name, cmd, pname, decides in scen:
            for lb in labels:
                w = walls.get((name, lb), [])
                if w:
                    print("  %-16s %-8s p50 %.1f vs %.1f us; p99 added %.3f ms [%.3f..%.3f]" % (
                        name, lb, statistics.median(x[0] for x in w) / 1e3,
                        statistics.median(x[1] for x in w) / 1e3,
                        statistics.median((x[2] - x[3]) for x in w) / 1e6,
                        min((x[2] - x[3]) for x in w) / 1e6, max((x[2] - x[3]) for x in w) / 1e6))
        for fc in fences:
            st = fc.status()
            print("%s: decisions %d, records consumed %d (%.4f), lost in the ring %d" % (
                fc.label, st.get("decisions", 0), st.get("records", 0),
                st.get("records", 0) / max(1, st.get("decisions", 0)),
                st.get("ringbuf_drops", 0)))
    finally:
        for s in scripts:
            s.close()
        world.in_fence(["nft", "delete", "table", "ip", "ef_bench_costs"])
        for fc in fences:
            procs.append(fc.job.p)
        for p in reversed(procs):
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
        for fc in fences:
            subprocess.run([fc.egressd, "--reset", "--force"] + fc.dirs, capture_output=True)
        B.teardown([], S.egressd, S.dirs, world, S.tmp)


def fig(v, unit):
    if not v:
        return "-"
    fmt = "%.0f" if unit == "ns" else "%.2f"
    return (fmt + " [" + fmt + " " + fmt + ".." + fmt + "]") % (
        quartile(v, 0.25), statistics.median(v), min(v), max(v))


def report(scen, labels, prog, cpu, ratio, args):
    print()
    print("Per call, over %d interleaved rounds: lower quartile [median min..max]" % args.rounds)
    print("  BPF program run time by bpf_stats (ns per call); egressd CPU (us per decision,"
          " per query for dns); wall p50 fenced/unfenced")
    for name, cmd, pname, decides in scen:
        for lb in labels:
            key = (name, lb)
            c = [x / 1000 for x in cpu.get(key, [])]
            print("  %-16s %-8s %-11s %-26s cpu %-26s wall %s" % (
                name, lb, pname or "-", fig(prog.get(key, []), "ns"), fig(c, "us"),
                fig(ratio.get(key, []), "x")))
    if len(labels) == 2:
        a, b = labels
        print()
        print("%s / %s: ratio of lower quartiles; median of per-round ratios [min..max]" % (b, a))
        for name, cmd, pname, decides in scen:
            parts = []
            for what, d in (("bpf", prog), ("cpu", cpu), ("wall", ratio)):
                va, vb = d.get((name, a), []), d.get((name, b), [])
                if va and vb:
                    per = [y / x for x, y in zip(va, vb) if x]
                    parts.append("%s %.3f (%.3f [%.3f..%.3f])" % (
                        what, quartile(vb, 0.25) / quartile(va, 0.25), statistics.median(per),
                        min(per), max(per)))
            print("  %-16s %s" % (name, "   ".join(parts)))


if __name__ == "__main__":
    main()
