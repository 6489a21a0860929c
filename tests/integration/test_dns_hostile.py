"""DNS interception against what a job or an upstream may try: what reaches
the upstream (a recording stand-in, dnsup.py) and answers spelt otherwise,
query floods and malformed queries refused and recorded, expired and NAT64
answers, the proxy's sockets destroyed, a job's process in a network
namespace of its own. The helpers and the world's records: test_dns.py.
"""
import ipaddress
import json
import os
import shlex
import signal
import time

import world as W
from harness import (test, pol, allowed, denied, check, eq, wait_until, read_jsonl, probe_argv,
                     norm_addr, EPERM)
from harness_spans import expect
from test_dns import UPSTREAM, ANY_V4, dns_daemon, sh, job, lines_of, one, answered, dns_spans


# -- what reaches the upstream: a recording stand-in (dnsup.py) ---------------
DNSUP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "dnsup.py")


def stand_in_upstream(ctx, mode, port=5399):
    """dnsup.py on 127.0.0.1:port in the fence ns; returns its log path."""
    import subprocess
    log = ctx.path("dnsup-%s.jsonl" % mode.replace(":", "_"))
    p = subprocess.Popen(ctx.world.fence_argv([W.PY, DNSUP, "127.0.0.1", str(port), log, mode]),
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    ctx.procs.append(p)
    W.ledger().add("pid", p.pid)
    check(p.stdout.readline().strip() == "ready", "dnsup.py did not start")
    return log


def hostile_query(qid, name):
    """RD, CD, AD and a Z bit; EDNS0 with DO, Z bits and three options
    (client subnet, a cookie, an unknown code carrying bytes)."""
    import struct
    opts = (struct.pack("!HHI", 8, 8, 0x00011800) + bytes([10, 11, 12, 0]) +
            struct.pack("!HH", 10, 8) + b"leaked!!" + struct.pack("!HH", 65001, 5) + b"tok3n")
    q = struct.pack("!HHHHHH", qid, 0x0170, 1, 0, 0, 1)
    for label in name.split("."):
        q += bytes([len(label)]) + label.encode()
    q += b"\x00" + struct.pack("!HH", 1, 1)
    q += b"\x00" + struct.pack("!HHIH", 41, 4096, 0x8000 | 0x1234, len(opts)) + opts
    return q


def wire_name(name):
    return b"".join(bytes([len(x)]) + x.encode() for x in name.split(".")) + b"\x00"


@test
def test_dns_upstream_gets_only_what_the_proxy_chose(ctx):
    """The job's query never leaves as it was sent: the upstream sees a
    query the proxy built (RD and CD, the question, an option-less OPT
    with DO), the name in a random case per query; the job gets its own
    spelling back, and the answer is learned."""
    log = stand_in_upstream(ctx, "echo")
    # every query is to go upstream: no cache (test_dns_cache_* covers it)
    d = dns_daemon(ctx, {"n": pol(allow=["*.ok.test:80"])}, upstream=["127.0.0.1:5399"],
                   cache_entries=0)
    name = "SeCrEt-DaTa.Ok.TeSt"
    qs = [hostile_query(0xbe00 + i, name).hex() for i in range(2)]
    import struct
    chaos = (struct.pack("!HHHHHH", 0x7777, 0x0100, 1, 0, 0, 0) + wire_name("x.ok.test") +
             struct.pack("!HH", 16, 3)).hex()  # TXT in class CH
    nord = (struct.pack("!HHHHHH", 0x7778, 0x0000, 1, 0, 0, 0) + wire_name("norec.ok.test") +
            struct.pack("!HH", 1, 1)).hex()  # RD clear
    r = job(d, "n", ("dns-raw", qs[0], "--server", ANY_V4),
            ("dns-raw", qs[1], "--server", ANY_V4, "--tcp"),
            ("dns-query", *(["abcdefghijklmnop.ok.test"] * 8), "--server", ANY_V4),
            ("dns-query", "x.ok.test", "--server", ANY_V4, "--type", "TYPE65280"),
            ("dns-raw", chaos, "--server", ANY_V4),
            ("dns-raw", nord, "--server", ANY_V4),
            ("connect", "198.18.1.1:80"))
    # 32 bits of the job's choosing a query, nothing a resolver asks: refused here
    eq(one(r, "dns-query", name="x.ok.test").get("rcode"), "REFUSED", "a private-use type")
    ch = [x for x in lines_of(r, "dns-raw") if x["sent"] == len(bytes.fromhex(chaos))][0]
    eq(bytes.fromhex(ch["reply_hex"])[3] & 15, 5, "rcode to a class CH query (REFUSED)")
    nr = [x for x in lines_of(r, "dns-raw") if x["sent"] == len(bytes.fromhex(nord))][0]
    eq(bytes.fromhex(nr["reply_hex"])[2] & 1, 0, "RD in the answer to a query without it")
    raws = lines_of(r, "dns-raw")[:2]
    for i, res in enumerate(raws):
        what = "the hostile query over %s" % res["transport"]
        check(res["answered"], what + ": no answer (%s)" % res.get("err"))
        rep = bytes.fromhex(res["reply_hex"])
        eq(rep[:2], bytes.fromhex(qs[i])[:2], what + ": id")
        wn = wire_name(name)
        eq(rep[12:12 + len(wn)], wn, what + ": the question as the job spelt it")
        check(bytes([198, 18, 1, 1]) in rep, what + ": the answer's address")
    allowed(r.get("198.18.1.1:80"))
    sent = [bytes.fromhex(x["hex"]) for x in read_jsonl(log)]
    eq(len(sent), 11, "queries the upstream got (not the type 65280 or class CH ones)")
    js = d.job_span(r.job, timeout=20)
    eq(js.get("egress.dns.malformed"), 2, "the two refused queries recorded")
    spellings = set()
    for q in sent:
        qn = q[12:q.index(b"\x00", 12) + 1]
        # header: RD and CD only; one question; no answer/authority; one OPT
        eq(q[2], 0x01, "flags byte 2 upstream (RD alone, also for a query without it)")
        check(q[3] in (0x00, 0x10), "flags byte 3 upstream: %#x (CD alone at most)" % q[3])
        eq(q[4:12].hex(), "0001000000000001" if len(q) > 12 + len(qn) + 4 else
           "0001000000000000", "counts upstream")
        rest = q[12 + len(qn) + 4:]
        if rest:
            # root, OPT, 1232, ext rcode 0, version 0, DO alone, no options
            eq(rest.hex(), "00002904d000008000" + "0000", "the OPT record upstream")
        check(qn.lower() in (wire_name(name.lower()), wire_name("abcdefghijklmnop.ok.test"),
                             wire_name("norec.ok.test")),
              "the name upstream: %r" % qn)
        if qn.lower() == wire_name("abcdefghijklmnop.ok.test"):
            spellings.add(qn)
    for bad in (b"leaked!!", b"tok3n", bytes([10, 11, 12])):
        check(not any(bad in q for q in sent), "%r reached the upstream" % bad)
    check(len(spellings) >= 6, "8 queries of one name went out in only %d spellings: %s" % (
        len(spellings), spellings))
    check(wire_name("abcdefghijklmnop.ok.test") not in spellings or len(spellings) > 1,
          "the name went out lowercase every time")


@test
def test_dns_answer_spelt_otherwise_is_dropped(ctx):
    """An answer whose question is not spelt as the proxy sent it (0x20) is
    not an answer: it is dropped and the attempt waits on (a spoofer's guess
    does not end it). An attempt that saw only such answers is asked once
    more in lowercase, so an upstream that does not keep the case costs a
    timeout, not every lookup. With case_randomization off the proxy asks
    in lowercase from the start."""
    log = stand_in_upstream(ctx, "lower")
    d = dns_daemon(ctx, {"n": pol(allow=["*.ok.test:80"])}, upstream=["127.0.0.1:5399"],
                   timeout_ms=500, attempts=1)
    name = "abcdefghijklmnopqrst.ok.test"
    r = job(d, "n", ("dns-query", name, "--server", ANY_V4, "--timeout", "4"),
            ("connect", "198.18.1.1:80"))
    res = one(r, "dns-query")
    answered(res, "NOERROR", ["198.18.1.1"], server=ANY_V4)
    check(res["rtt_ms"] >= 450, "answered in %.0f ms: the answer spelt otherwise was taken"
          % res["rtt_ms"])
    allowed(r.get("198.18.1.1:80"))
    sent = [bytes.fromhex(x["hex"]) for x in read_jsonl(log)]
    eq(len(sent), 2, "queries the upstream got (0x20, then lowercase)")
    check(sent[0][12:12 + len(wire_name(name))] != wire_name(name),
          "the first went out lowercase: %r" % sent[0])
    check(wire_name(name) in sent[1], "the second is not lowercase: %r" % sent[1])
    st = d.status().get("dns", {})
    check(st.get("spoofed", 0) >= 1 and st.get("case_fallback", 0) == 1,
          "status dns: spoofed %s, case_fallback %s" % (st.get("spoofed"),
                                                       st.get("case_fallback")))
    d2 = dns_daemon(ctx, {"n": pol(allow=["*.ok.test:80"])}, upstream=["127.0.0.1:5399"],
                    case_randomization=False)
    r = job(d2, "n", ("dns-query", "AbCdEfGhIjKlMnOpQrSt.ok.test", "--server", ANY_V4),
            ("connect", "198.18.1.1:80"))
    answered(one(r, "dns-query"), "NOERROR", ["198.18.1.1"], server=ANY_V4)
    allowed(r.get("198.18.1.1:80"))
    q = bytes.fromhex(read_jsonl(log)[-1]["hex"])
    check(wire_name("abcdefghijklmnopqrst.ok.test") in q, "not lowercase upstream: %r" % q)
    eq(len(read_jsonl(log)), 3, "one query upstream without case randomization")


def refusal_spans(d, job, reason):
    return d.find("egress.dns", job, where={"egress.reason": reason})


@test
def test_dns_query_limit(ctx):
    """dns.query_rate/query_burst: past the bucket a query is answered
    REFUSED here and never relayed; the refusals are folded into egress.dns
    spans (reason dns_limit, egress.count) whose counts add up, and the job
    span counts them. In audit mode they are relayed and recorded
    would_deny."""
    d = dns_daemon(ctx, {"lim": pol(allow=["ok.test:80"],
                                    dns={"query_rate": 2, "query_burst": 10}),
                         "aud": pol(allow=["ok.test:80"], mode="audit",
                                    dns={"query_rate": 2, "query_burst": 10})},
                   # the bucket is for queries that go upstream: one name
                   # asked 80 times is 80 only without the cache
                   cache_entries=0)
    mark = ctx.world.dns_mark()
    r = job(d, "lim", ("dns-query", *(["ok.test"] * 60), "--server", ANY_V4),
            ("dns-query", *(["ok.test"] * 20), "--server", ANY_V4, "--tcp"))
    got = lines_of(r, "dns-query")
    eq(len(got), 80, "answers")
    rc = [x.get("rcode") for x in got]
    ok, refused = rc.count("NOERROR"), rc.count("REFUSED")
    eq(ok + refused, 80, "every query answered NOERROR or REFUSED (%s)" % sorted(set(rc)))
    check(10 <= ok <= 10 + 2 * 10, "%d of 80 forwarded with a bucket of 10 + 2/s" % ok)
    check(all(x["source_ok"] for x in got), "REFUSED answers come from the address asked")
    time.sleep(1)
    up = ctx.world.dns_queries(since=mark).count("ok.test")
    eq(up, ok, "queries dnsmasq saw (the refused ones were never relayed)")
    js = d.job_span(r.job, timeout=20)
    eq(js.get("egress.dns.limited"), refused, "egress.dns.limited on the job span")
    spans = refusal_spans(d, r.job, "dns_limit")
    check(spans, "no dns_limit span")
    eq(sum(s.get("egress.count") for s in spans), refused, "egress.count over the dns_limit spans")
    check(len(spans) <= 4, "%d dns_limit spans for %d refusals (not folded)" % (len(spans),
                                                                              refused))
    for s in spans:
        expect(s, decision="deny", reason="dns_limit",
               **{"egress.dns.rcode": "REFUSED", "dns.question.name": "ok.test"})
        eq(s.status_code, 2, "dns_limit span status")
    # audit: relayed, recorded would_deny
    mark = ctx.world.dns_mark()
    r = job(d, "aud", ("dns-query", *(["ok.test"] * 30), "--server", ANY_V4))
    eq([x.get("rcode") for x in lines_of(r, "dns-query")], ["NOERROR"] * 30, "audit answers")
    time.sleep(1)
    eq(ctx.world.dns_queries(since=mark).count("ok.test"), 30, "audit: all relayed")
    js = d.job_span(r.job, timeout=20)
    spans = refusal_spans(d, r.job, "dns_limit")
    check(spans and all(s.get("egress.decision") == "would_deny" for s in spans),
          "audit dns_limit spans: %s" % spans)
    eq(sum(s.get("egress.count") for s in spans), js.get("egress.dns.limited"),
       "audit: egress.count against the job span")
    check(js.get("egress.dns.limited") >= 10, "audit: over-limit queries counted")


@test
def test_dns_malformed_recorded_folded(ctx):
    """Malformed queries and bytes that are not DNS at all, over UDP and TCP,
    are refused (never relayed) and recorded: egress.dns spans with reason
    dns_malformed whose egress.count adds up to every message, a handful of
    spans, not one per message."""
    d = dns_daemon(ctx, {"g": pol(allow=["ok.test:80"])})
    mark = ctx.world.dns_mark()
    t0 = time.time()
    r = job(d, "g", ("dns-garbage", "--server", UPSTREAM), timeout=180)
    took = time.time() - t0
    cases = lines_of(r, "dns-garbage")
    check(len(cases) >= 35, "dns-garbage ran %d cases" % len(cases))
    js = d.job_span(r.job, timeout=30)
    # every case once, and the four clients left stalled mid-message
    want = len(cases) + 4
    eq(js.get("egress.dns.malformed"), want, "egress.dns.malformed on the job span")
    spans = refusal_spans(d, r.job, "dns_malformed")
    eq(sum(s.get("egress.count") for s in spans), want, "egress.count over dns_malformed spans")
    check(1 <= len(spans) <= 2 + took / 10,
          "%d dns_malformed spans for %d messages" % (len(spans), want))
    for s in spans:
        expect(s, decision="deny", reason="dns_malformed")
        check(s.get("egress.dns.transport") in ("udp", "tcp"), "transport of %s" % s)
    time.sleep(1)
    check("garbage.test" not in ctx.world.dns_queries(since=mark), "garbage reached upstream")
    check(d.alive(), "egressd died")


@test
def test_dns_expired_recorded_as_such(ctx):
    """A connect after a learned answer ran out (TTL 2 s, floor and grace 0),
    even after the 10 s sweep, is recorded dns_expired naming the host, and
    is not counted as a scan of an unknown host. The same destination was
    allowed before, within the TTL: nothing of that outlives the answer."""
    d = dns_daemon(ctx, {"t": pol(allow=["ttl.test:80"], probe={"denied_dests": 2})},
                   ttl_floor_seconds=0, ttl_grace_seconds=0)
    r = job(d, "t", ("resolve", "ttl.test", "--family", "4"), ("connect", "198.18.2.3:80"),
            "sleep 13", ("connect", "198.18.2.3:80"), "sleep 1", ("connect", "198.18.2.3:80"),
            timeout=60)
    answered(one(r, "resolve", name="ttl.test"), "NOERROR", ["198.18.2.3"])
    tries = [x for x in r.lines if x.get("op") == "connect"]
    eq([x.get("errno") for x in tries], [0, EPERM, EPERM], "connects within and after the TTL")
    spans = d.wait_spans("egress.connect", r.job, n=3, where={"network.peer.address": "198.18.2.3"})
    expect(spans[0], decision="allow", **{"server.address": "ttl.test"})
    for s in spans[1:]:
        expect(s, decision="deny", reason="dns_expired", **{"server.address": "ttl.test"})
    d.job_span(r.job, timeout=20)
    eq(d.find("egress.probe", r.job), [], "probe spans for a stale DNS cache")


@test
def test_dns_nat64_answers_judged_as_ipv4(ctx):
    """A DNS64 answer embedding a private or metadata IPv4 address
    (64:ff9b::/96, 64:ff9b:1::/48) is rebinding like the IPv4 address:
    released, not learned. And 64:ff9b::a9fe:a9fe is the metadata address:
    a rule for all of 64:ff9b::/96 does not open it."""
    for addr, port in (("64:ff9b::a9fe:a9fe", 5391), ("64:ff9b::10.11.12.13", 5392),
                       ("64:ff9b:1::192.168.7.7", 5393)):
        log = stand_in_upstream(ctx, "aaaa=" + addr, port=port)
        d = dns_daemon(ctx, {"n": pol(allow=["nat.ok.test:80"])},
                       upstream=["127.0.0.1:%d" % port])
        r = job(d, "n", ("dns-query", "nat.ok.test", "--type", "AAAA", "--server", ANY_V4),
                ("connect", "[%s]:80" % addr))
        res = one(r, "dns-query")
        answered(res, "NOERROR", [str(ipaddress.ip_address(addr))], server=ANY_V4)
        s = dns_spans(d, r.job, "nat.ok.test", "AAAA")[0]
        eq([norm_addr(x) for x in s.get("egress.dns.not_learned") or []], [norm_addr(addr)],
           "%s: egress.dns.not_learned" % addr)
        denied(r.get("[%s]:80" % addr))
        check(read_jsonl(log), "the stand-in upstream was not asked")
    # a rule for the whole NAT64 prefix does not open the metadata address
    d = ctx.daemon({"wide": pol(allow=["[64:ff9b::]/96:*", "[64:ff9b:1::]/48:*"])})
    r = d.probe("wide", "connect", "[64:ff9b::a9fe:a9fe]:80", "[64:ff9b:1::a9fe:a9fe]:80",
                "[64:ff9b::a9fe:a9fd]:80")
    for a in ("64:ff9b::a9fe:a9fe", "64:ff9b:1::a9fe:a9fe"):
        denied(r.get("[%s]:80" % a))
        expect(d.decision(r.job, a, 80), decision="deny", reason="metadata")
    expect(d.decision(r.job, "64:ff9b::a9fe:a9fd", 80), decision="allow")


@test(timeout=120)
def test_dns_proxy_socket_destroyed_is_made_anew(ctx):
    """A job's DNS proxy sockets destroyed under egressd (SOCK_DESTROY, `ss
    -K`: root outside the fence, or a job whose policy grants CAP_NET_ADMIN):
    egressd makes them anew and says so, and the job's DNS keeps working
    over UDP and TCP; egressd does not spin on the dead socket."""
    import subprocess
    d = dns_daemon(ctx, {"n": pol(allow=["ok.test:80"])})
    flag = os.path.join(d.tmp, "go")
    jid = ctx.job_id()
    steps = sh(("resolve", "ok.test"),
               "while [ ! -e %s ]; do sleep 0.1; done" % shlex.quote(flag),
               ("resolve", "ok.test"), ("resolve", "ok.test", "--tcp"))
    p = subprocess.Popen(ctx.world.fence_argv(d.run_argv("n", steps, job_id=jid)),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: (d.job(jid) or {}).get("dns_port"), 20, what="the job's DNS port")
        port = d.job(jid)["dns_port"]
        time.sleep(0.5)
        k = subprocess.run(ctx.world.fence_argv(
            ["ss", "-K", "-n", "-a", "-t", "-u", "sport", "=", ":%d" % port]),
            capture_output=True, text=True, timeout=10)
        check(k.returncode == 0, "ss -K: %s" % k.stderr)
        ctx.note("destroyed: %s" % " ".join(k.stdout.split())[:300])
        wait_until(lambda: "made anew" in d.log_tail(200), 10,
                   what="egressd saying it made the proxy socket anew: %s" % d.log_tail(10))
        cpu0 = sum(int(x) for x in open("/proc/%d/stat" % d.pid).read().split()[13:15])
        time.sleep(1)
        cpu1 = sum(int(x) for x in open("/proc/%d/stat" % d.pid).read().split()[13:15])
        check(cpu1 - cpu0 < 50, "egressd spent %d ticks of the last second" % (cpu1 - cpu0))
        open(flag, "w").close()
        out, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    check(p.returncode == 0, "the job failed (rc %d): %s" % (p.returncode, err[-800:]))
    got = [x for x in W.parse_lines(out, None) if x.get("op") == "resolve"]
    eq(len(got), 3, "resolve lines: %s" % got)
    for res in got:
        answered(res, "NOERROR", ["198.18.1.1", "2001:db8:1::1"])
    check(d.alive(), "egressd died: %s" % d.log_tail())


NETNS_JOB = r'''
set -u
unshare -rn sh -c '
ip link set lo up || exit 90
# the first query from a new namespace may find no proxy yet: ask again,
# as resolvers do
for name in ok.test nope.test; do
  for i in 1 2 3 4 5; do
    out=$(%(probe)s resolve "$name" --family 4 --timeout 1) && echo "$out" &&
      echo "$out" | grep -q "\"ok\": true" && break
    sleep 0.2
  done
done
%(probe)s resolve ok.test --family 4 --tcp --timeout 2
cat /proc/self/ns/net >/dev/null; readlink /proc/self/ns/net >&2
'
'''


@test(timeout=120)
def test_dns_from_another_network_namespace(ctx):
    """A job's process in a network namespace of its own (a container's,
    `unshare -rn`) resolves through the job's proxy there, UDP and TCP: the
    allowed name is answered and recorded for the job, the denied one gets
    NXDOMAIN and never reaches the upstream server; egressd says it opened
    the proxy in that namespace; as root and as another uid."""
    d = dns_daemon(ctx, {"n": pol(allow=["ok.test:80"])})
    for p in (d.tmp, d.run_dir):
        os.chmod(p, 0o711)
    probe = " ".join(shlex.quote(a) for a in probe_argv())
    for who, prefix in (("root", []), ("nobody", ["setpriv", "--reuid=65534",
                                                  "--regid=65534", "--clear-groups", "--"])):
        mark = ctx.world.dns_mark()
        job_id = ctx.job_id()
        argv = prefix + d.run_argv("n", ["/bin/sh", "-c", NETNS_JOB % {"probe": probe}],
                                   job_id)
        import subprocess
        p = subprocess.run(ctx.world.fence_argv(argv), capture_output=True, text=True,
                           timeout=90, env=d._env(), stdin=subprocess.DEVNULL)
        lines = [json.loads(x) for x in p.stdout.splitlines() if x.startswith("{")]
        ok = [x for x in lines if x.get("name") == "ok.test" and x.get("ok")]
        check(ok, "%s job: ok.test was never answered in its own network namespace (rc %d): "
              "%s %s" % (who, p.returncode, p.stdout[-1500:], p.stderr[-800:]))
        answered(ok[0], "NOERROR", ["198.18.1.1"])
        tcp = [x for x in ok if any(q.get("transport") == "tcp" for q in x.get("queries", []))]
        check(tcp, "%s job: no answer over TCP in its namespace: %s" % (who, p.stdout[-1500:]))
        nope = [x for x in lines if x.get("name") == "nope.test" and x.get("ok")]
        check(nope and nope[0]["rcode"] == "NXDOMAIN", "%s job: nope.test: %s" % (
            who, [x for x in lines if x.get("name") == "nope.test"][-1:]))
        check("nope.test" not in ctx.world.dns_queries(since=mark),
              "%s job: the denied name reached the upstream server" % who)
        dns_spans(d, job_id, "ok.test", "A", n=2)
        check("DNS proxy opened in network namespace" in d.log_tail(200),
              "%s job: egressd does not say it opened the proxy in the namespace" % who)


GONE_JOB = r'''
set -u
unshare -rn sh -c '
ip link set lo up || exit 90
sleep 60 &
touch %(dir)s/ready
while [ ! -e %(dir)s/go ]; do sleep 0.05; done
%(probe)s resolve ok.test --family 4 --timeout 0.3
touch %(dir)s/asked
while [ ! -e %(dir)s/go2 ]; do sleep 0.05; done
sleep 0.3
%(probe)s resolve ok.test --family 4 --timeout 1
kill $!
'
'''


@test(timeout=120)
def test_dns_netns_opened_after_its_asker_is_gone(ctx):
    """The first query from a new network namespace tells egressd to open the
    proxy there through the asker's /proc entry; when the asker is gone
    before egressd reads the record (a resolver giving up at once), egressd
    goes through another process of the job in that namespace, and the
    next query, well within the 1 s retry, is answered."""
    d = dns_daemon(ctx, {"n": pol(allow=["ok.test:80"])})
    flags = ctx.path("gone")
    os.makedirs(flags)
    probe = " ".join(shlex.quote(a) for a in probe_argv())
    bg = d.spawn("n", ["/bin/sh", "-c", GONE_JOB % {"probe": probe, "dir": flags}])
    wait_until(lambda: os.path.exists(flags + "/ready"), 20, what="the job's namespace")
    d.signal(signal.SIGSTOP)  # egressd reads the first record only once the asker is gone
    try:
        open(flags + "/go", "w").close()
        wait_until(lambda: os.path.exists(flags + "/asked"), 20, what="the first query")
        time.sleep(0.3)
    finally:
        d.signal(signal.SIGCONT)
    open(flags + "/go2", "w").close()
    bg.wait(30)
    out, err = bg.output()
    got = [json.loads(x) for x in out.splitlines() if x.startswith("{")]
    eq(len(got), 2, "resolve results: %s %s" % (out[-800:], err[-800:]))
    check(got[1].get("ok"), "the query after the asker was gone: %s; egressd: %s" % (
        got[1], d.log_tail(10)))
    answered(got[1], "NOERROR", ["198.18.1.1"])
    check("DNS proxy opened in network namespace" in d.log_tail(100),
          "egressd does not say it opened the proxy in the namespace")
