"""The test world's self-test (`python3 world.py selftest`): build the world,
probe every server unfenced, query every DNS record, tear down, check that
nothing is left."""
import json
import os
import time

from world import (World, TCP_PORTS, UDP_PORTS, REBIND_V4, REBIND_V6, DNS_V4, DNS_V6, DNS_TTL,
                   DNS_ZONE, RACE_NET, PY, PROBE, tool, cgroup2_mount, pid_alive, parse_lines,
                   synth_name)


# -- self-test ---------------------------------------------------------------
def selftest():
    """Everything the world must offer before any fence is up."""
    fails = []

    def check(cond, what):
        print(("ok   " if cond else "FAIL ") + what)
        if not cond:
            fails.append(what)

    w = World(log=print)
    with w:
        tcp_hosts = ["198.18.1.1", "198.18.2.5", "169.254.169.254", "2001:db8:1::1",
                     "fd00:ec2::254", "198.18.0.2", "2001:db8::2", REBIND_V4, REBIND_V6,
                     "198.18.3.1", "198.18.3.60", "198.18.130.7", "198.18.255.254"]
        targets = ["%s:%d" % ("[%s]" % h if ":" in h else h, p) for h in tcp_hosts for p in TCP_PORTS]
        for r in w.probe_unfenced("connect", *targets):
            check(r["ok"] and r["echo"], "tcp %s %s" % (r["target"], r["err"]))
        udp_t = ["%s:%d/udp" % ("[%s]" % h if ":" in h else h, p)
                 for h in ("198.18.1.5", "2001:db8:1::5", "169.254.169.254") for p in UDP_PORTS]
        for r in w.probe_unfenced("connect", *udp_t):
            check(r["ok"] and r["echo"], "connected udp %s %s" % (r["target"], r["err"]))
        for h in ("198.18.1.5", "2001:db8:1::5"):
            (r,) = w.probe_unfenced("sendto", h, "9999", "--count", "50")
            check(r["ok"] and r["sent"] == 50 and r["replies"] > 40,
                  "sendto %s x50: sent %d replies %d" % (h, r["sent"], r["replies"]))
        (r,) = w.probe_unfenced("connect-mapped", "198.18.1.1", "443")
        check(r["ok"] and r["echo"] and r["family"] == "ipv6", "mapped tcp ::ffff:198.18.1.1")
        (r,) = w.probe_unfenced("connect-mapped", "198.18.1.5", "123", "--udp")
        check(r["ok"] and r["echo"], "mapped udp ::ffff:198.18.1.5:123")
        (r,) = w.probe_unfenced("connect", "198.18.1.1", "1")
        check(not r["ok"] and r["err"] == "ECONNREFUSED", "closed port refused: " + r["err"])
        # documentation addresses (TEST-NET-3, 3fff::/20): no route, nothing is sent
        (r,) = w.probe_unfenced("connect", "203.0.113.1", "443", "--timeout", "1")
        check(not r["ok"] and r["err"] == "ENETUNREACH", "no route outside the world: " + r["err"])
        (r,) = w.probe_unfenced("connect", "3fff::1", "443", "--timeout", "1")
        check(not r["ok"] and r["err"] == "ENETUNREACH", "no IPv6 route outside: " + r["err"])
        for r in w.probe_unfenced("socket", "raw", "raw6", "packet", "icmp", "icmp6", "vsock",
                                  "xdp", "unix", "netlink", "tcp", "udp"):
            check(r["ok"], "socket %s %s" % (r["kind"], r["err"]))
        for r in w.probe_unfenced("loopback"):
            check(r["ok"], "loopback %s %s" % (r.get("target"), r["err"]))
        seen = w.host_log()
        check(any(e["local"] == "198.18.1.1" and e["lport"] == 443 and e["proto"] == "tcp"
                  for e in seen), "hostd logged tcp 198.18.1.1:443")
        check(any(e["local"] == "2001:db8:1::5" and e["proto"] == "udp" for e in seen),
              "hostd logged udp to 2001:db8:1::5")
        r = w.in_fence([tool("ip"), "route", "show"])
        check("default" not in r.stdout, "no default route in the fence ns")
        r = w.in_fence(["/bin/sh", "-c", "grep -c cgroup2 /proc/self/mounts; grep -c ' bpf ' "
                        "/proc/self/mounts"])
        check(r.stdout.split() == ["1", "1"] or all(x != "0" for x in r.stdout.split()),
              "cgroup2 and bpffs visible inside the fence ns")
        # process-tree ops (fenced in real tests; here they must merely work)
        lines = w.probe_unfenced("spawn-tree", "198.18.1.1:443")
        roles = sorted(r.get("role", "") for r in lines if r["op"] == "connect")
        check(roles == ["child", "grandchild"] and all(r["ok"] for r in lines),
              "spawn-tree: %s" % roles)
        out = os.path.join(w.dir, "daemon.json")
        rel = os.path.join(w.dir, "release")
        t0 = time.time()
        lines = w.probe_unfenced("daemonize", "--out", out, "--release", rel,
                                 "198.18.1.1:443", timeout=10)
        check(time.time() - t0 < 5 and lines and lines[0]["ok"], "daemonize returns at once")
        for _ in range(100):
            if os.path.exists(out):
                break
            time.sleep(0.05)
        info = json.load(open(out)) if os.path.exists(out) else {}
        check(lines and info.get("sid") == lines[0].get("child") and info.get("ppid") != lines[0]["pid"]
              and info.get("results", [{}])[0].get("ok"), "daemon: own session, connected")
        open(rel, "w").close()
        time.sleep(0.5)
        check(info.get("pid") and not pid_alive(info["pid"]), "daemon exits on release")
        # nested cgroup: from inside a scratch cgroup of our own
        cg2 = cgroup2_mount()
        scratch = os.path.join(cg2, "ef-selftest-" + w.tag)
        os.mkdir(scratch)
        try:
            r = w.in_fence(["/bin/sh", "-c", 'echo $$ > "$0/cgroup.procs" && exec "$@"', scratch,
                            PY, PROBE, "nested-cgroup", "--name", "inner", "198.18.1.1:443"])
            lines = parse_lines(r.stdout, r)
            check(len(lines) == 2 and lines[0]["ok"] and
                  lines[0]["cgroup"] == "/ef-selftest-%s/inner" % w.tag and
                  lines[1]["ok"] and lines[1]["cgroup"] == lines[0]["cgroup"],
                  "nested-cgroup moved itself and connected: %s" % [x.get("cgroup") for x in lines])
        finally:
            for d in (os.path.join(scratch, "inner"), scratch):
                for _ in range(50):
                    try:
                        os.rmdir(d)
                        break
                    except FileNotFoundError:
                        break
                    except OSError:
                        time.sleep(0.1)
        check(not os.path.exists(scratch), "scratch cgroup removed")
        # hold
        log = os.path.join(w.dir, "hold.jsonl")
        w.probe_unfenced("hold", "198.18.1.1", "443", "1", "--log", log,
                         "--retry", "198.18.1.2:80", "--retry", "[2001:db8:1::2]:22",
                         "--interval-ms", "100")
        recs = [json.loads(x) for x in open(log)]
        pings = [x for x in recs if x["op"] == "hold-ping"]
        conns = [x for x in recs if x["op"] == "connect"]
        check(recs[0]["op"] == "hold-open" and recs[0]["ok"] and len(pings) >= 5 and
              all(p["ok"] for p in pings) and len(conns) >= 10 and all(c["ok"] for c in conns),
              "hold: %d pings, %d connects" % (len(pings), len(conns)))
        selftest_dns(w, check)
        dnsmasq_pid = w.dnsmasq.pid
    left = w.leftovers()
    check(not left, "nothing left after teardown: %s" % left)
    check(w.hostd is None, "hostd stopped")
    check(w.dnsmasq is None and not pid_alive(dnsmasq_pid), "dnsmasq stopped")
    print("%d failed" % len(fails))
    return 1 if fails else 0


def selftest_dns(w, check):
    """dnsmasq answers every record of DNS_ZONE as documented, from the
    address asked, over UDP and TCP, and logs the queries."""
    mark = w.dns_mark()
    names = sorted(DNS_ZONE)
    expect_names = []
    for server in (DNS_V4, DNS_V6):
        for qtype in ("A", "AAAA"):
            extra = ["--tcp"] if server == DNS_V6 and qtype == "A" else []
            lines = w.probe_unfenced("dns-query", "--server", server, "--type", qtype,
                                     *(extra + names))
            expect_names += names
            for name, r in zip(names, lines):
                rr = DNS_ZONE[name]
                want = DNS_ZONE.get(rr.get("CNAME"), rr).get(qtype, [])
                what = "dns %s %s @%s/%s" % (qtype, name, server, r.get("transport"))
                if name == "big.test" and qtype == "A" and not extra:  # UDP, no EDNS: truncated
                    check(r["ok"] and r["tc"] and 0 < len(r["addresses"]) < 60 and
                          set(r["addresses"]) <= set(want),
                          "%s: TC and part of the answer (tc %s, %d addresses)" % (
                              what, r["tc"], len(r["addresses"])))
                    continue
                check(r["ok"] and r["source_ok"] and r["rcode"] == "NOERROR" and
                      sorted(r["addresses"]) == sorted(want) and not r["tc"] and
                      r["cnames"] == ([rr["CNAME"]] if "CNAME" in rr else []) and
                      all(t == rr.get("ttl", DNS_TTL) for t in r["ttls"]),
                      "%s: %s %s %s ttls %s source %s %s" % (
                          what, r["rcode"], r["addresses"][:4], r["cnames"], r["ttls"][:4],
                          r["source"], r["err"]))
    # the big answer: whole over TCP and with EDNS, TC over UDP
    (r,) = w.probe_unfenced("dns-query", "big.test", "--server", DNS_V4, "--tcp")
    check(r["ok"] and len(set(r["addresses"])) == 60 and not r["tc"],
          "big.test over TCP: %d addresses" % len(r["addresses"]))
    (r,) = w.probe_unfenced("dns-query", "big.test", "--server", DNS_V4, "--edns", "4096")
    check(r["ok"] and len(set(r["addresses"])) == 60 and not r["tc"],
          "big.test over UDP with EDNS 4096: %d addresses" % len(r["addresses"]))
    (r,) = w.probe_unfenced("resolve", "big.test", "--family", "4")
    check(r["ok"] and r["udp_tc"] and r["fallback"] and len(set(r["addresses"])) == 60,
          "resolve big.test: TC, then TCP: %d addresses" % len(r["addresses"]))
    expect_names += ["big.test"] * 4
    # synthesized names
    ips = ["198.18.128.1", "198.18.130.7", "198.18.255.254"]
    lines = w.probe_unfenced("dns-query", "--server", DNS_V4, *[synth_name(i) for i in ips])
    for ip, r in zip(ips, lines):
        check(r["ok"] and r["addresses"] == [ip], "synth %s -> %s" % (synth_name(ip),
                                                                     r["addresses"]))
    # no records: NXDOMAIN under .test, REFUSED (nothing forwarded) elsewhere
    lines = w.probe_unfenced("dns-query", "--server", DNS_V4, "nope.test", "198-18-127-1.race.test",
                             "outside.invalid")
    check([r["rcode"] for r in lines] == ["NXDOMAIN", "NXDOMAIN", "REFUSED"],
          "unknown names: %s" % [r["rcode"] for r in lines])
    expect_names += [synth_name(i) for i in ips] + ["nope.test", "198-18-127-1.race.test",
                                                    "outside.invalid"]
    # connected UDP, and resolve (A + AAAA) over IPv6
    (r,) = w.probe_unfenced("dns-query", "ok.test", "--server", DNS_V6, "--connected")
    check(r["ok"] and r["source_ok"] and r["peer"] == DNS_V6 and r["peer_after"] == DNS_V6,
          "connected UDP query: source %s peer %s" % (r["source"], r["peer"]))
    (r,) = w.probe_unfenced("resolve", "ok.test", "--server", DNS_V6)
    check(r["ok"] and r["source_ok"] and sorted(r["addresses"]) == ["198.18.1.1", "2001:db8:1::1"],
          "resolve ok.test @%s: %s" % (DNS_V6, r["addresses"]))
    expect_names += ["ok.test"] * 3
    # nothing but dnsmasq answers port 53, and only on its own addresses
    (r,) = w.probe_unfenced("dns-query", "ok.test", "--server", "198.18.1.9", "--timeout", "0.5")
    check(not r["answered"], "no DNS server on 198.18.1.9: %s" % r["err"])
    # every query above reached dnsmasq's log, in order
    got = []
    for _ in range(50):
        got = w.dns_queries(since=mark)
        if len(got) >= len(expect_names):
            break
        time.sleep(0.1)
    check(got == expect_names, "dnsmasq logged the %d queries (%d logged%s)" % (
        len(expect_names), len(got), "" if got == expect_names else
        ", first difference at %d" % next((i for i, (a, b) in enumerate(zip(got, expect_names))
                                            if a != b), min(len(got), len(expect_names)))))
    check(w.dns_queries(since=time.time() + 5) == [], "dns_queries(since=<future>) is empty")
    # resolve-then-connect over synthesized names (AnyIP hosts: connected or refused)
    (r,) = w.probe_unfenced("resolve-connect", "-", "81", "--count", "300",
                            "--names-from-synth", RACE_NET)
    check(r["ok"] and r["allowed"] == 300 and r["wrong_answer"] == 0,
          "resolve-connect x300: %s in %ss" % (r["outcomes"], r.get("elapsed_s")))
    # hostile input: dnsmasq still answers afterwards
    lines = w.probe_unfenced("dns-garbage", "--server", DNS_V4, timeout=120)
    final = [r for r in lines if r["op"] == "dns-garbage-final"]
    check(len(lines) > 20 and all(r["ok"] for r in lines) and len(final) == 2,
          "dns-garbage ran %d cases: %s" % (len(lines), [r.get("case") for r in lines
                                                           if not r["ok"]]))
    check(not any(r.get("case") == "qr-set" and r["transport"] == "udp" and r["answered"]
                  for r in lines), "dnsmasq does not answer a response (QR set) over UDP")
    check(all(r["ok"] and r["stalled_clients"] == 4 for r in final),
          "dnsmasq answers ok.test after the garbage, with 4 stalled TCP clients: %s" % [
              (r["transport"], r["rcode"], r["err"]) for r in final])
