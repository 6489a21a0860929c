"""DNS interception: every fenced job's port-53 traffic, to any address, goes
to egressd's per-job DNS proxy, which answers as if it were the resolver the
job asked. Allowed names are forwarded upstream (the world's dnsmasq) and
their answers learned into the job's map with the rule's ports; unlisted
names get NXDOMAIN and never reach upstream (enforce) or are forwarded and
recorded would_deny (audit).

The world's DNS records are listed in world.py's docstring. Learned
addresses belong to one job: resolving and connecting must happen in the
same job, so most tests run several probe.py steps in one `egressctl run`
(sh(...) below).
"""
import ipaddress
import json
import os
import shlex
import time

import world as W
from harness import (test, pol, allowed, denied, check, eq, wait_until, read_jsonl, probe_argv,
                     norm_addr, EPERM)
from harness_spans import expect

UPSTREAM = W.DNS_V4
ANY_V4, ANY_V6 = "198.18.1.9", "2001:db8:1::9"  # no DNS server there (world selftest)
BIG = ["198.18.3.%d" % i for i in range(1, 61)]


def dns_config(**dns):
    """egressd.json with the DNS proxy forwarding to the world's dnsmasq."""
    c = {"upstream": [UPSTREAM], "timeout_ms": 1000, "attempts": 2}
    c.update(dns)
    return {"dns": c}


def dns_daemon(ctx, policies, **dns):
    return ctx.daemon(policies, config=dns_config(**dns))


def sh(*steps):
    """argv of one job running steps in order: a tuple is probe.py's
    arguments, a str is shell as is."""
    parts = []
    for st in steps:
        parts.append(st if isinstance(st, str) else
                     " ".join(shlex.quote(a) for a in probe_argv(*st)))
    return ["/bin/sh", "-c", "; ".join(parts)]


def job(d, policy, *steps, timeout=60):
    """Run the steps as one job; returns the Result (rc checked)."""
    r = d.run(policy, sh(*steps), timeout=timeout)
    check(r.rc == 0, "job %s (%s) exited %d: %s" % (r.job, policy, r.rc, r.err.strip()[-800:]))
    return r


def lines_of(r, op, **where):
    return [x for x in r.lines if x.get("op") == op and
            all(x.get(k) == v for k, v in where.items())]


def one(r, op, **where):
    got = lines_of(r, op, **where)
    check(len(got) == 1, "want one %s line with %s, got %d: %s" % (
        op, where, len(got), [{k: x.get(k) for k in ("op", "name", "type", "server",
                                                    "transport")} for x in r.lines]))
    return got[0]


def answered(res, rcode, addresses=None, server=UPSTREAM, what=None):
    """A probe resolve/dns-query line: answered with rcode, from the address
    asked (port 53), with exactly these addresses (any order) if given."""
    what = what or "%s %s %s @%s" % (res["op"], res.get("name"), res.get("type", ""), server)
    check(res["ok"], "%s: no well-formed answer: err=%s %s" % (
        what, res.get("err"), res.get("parse_error", "")))
    eq(res["rcode"], rcode, what + ": rcode")
    check(res["source_ok"], "%s: the answer came from %s port %s, want %s port 53" % (
        what, res.get("source"), res.get("source_port"), server))
    if addresses is not None:
        eq(sorted(res["addresses"], key=norm_addr), sorted(addresses, key=norm_addr),
           what + ": addresses")


def dns_spans(d, jobid, name, qtype="A", n=1, timeout=10):
    return d.wait_spans("egress.dns", jobid, n=n, timeout=timeout,
                        where={"dns.question.name": name, "egress.dns.type": qtype})


def span_answers(s):
    return sorted((norm_addr(a) for a in (s.get("dns.answers") or [])), key=str)


def upstream_saw(ctx, mark, name, timeout=5):
    """Wait until dnsmasq logged a query for name after mark."""
    wait_until(lambda: name in ctx.world.dns_queries(since=mark), timeout,
               what="dnsmasq to log a query for %s (it logged %s)" % (
                   name, ctx.world.dns_queries(since=mark)[-10:]))


# ---------------------------------------------------------------------------

@test
def test_dns_allowed_name_a_and_aaaa(ctx):
    d = dns_daemon(ctx, {"n": pol(allow=["ok.test:80", "v6only.test:80"])})
    mark = ctx.world.dns_mark()
    r = job(d, "n", ("resolve", "ok.test"),
            ("resolve", "v6only.test", "--server", W.DNS_V6),
            ("dns-query", "ok.test", "--type", "TXT"),
            ("connect", "198.18.1.1:80", "[2001:db8:1::1]:80", "[2001:db8:1::2]:80",
             "198.18.1.1:443", "198.18.1.2:80"))
    answered(one(r, "resolve", name="ok.test"), "NOERROR", ["198.18.1.1", "2001:db8:1::1"])
    answered(one(r, "resolve", name="v6only.test"), "NOERROR", ["2001:db8:1::2"],
             server=W.DNS_V6)
    txt = one(r, "dns-query", name="ok.test")
    answered(txt, "NOERROR", [])  # an allowed name's other types are forwarded as well
    # the answers were learned with the rule's port, nothing else
    allowed(r.get("198.18.1.1:80"))
    allowed(r.get("[2001:db8:1::1]:80"))
    allowed(r.get("[2001:db8:1::2]:80"))
    denied(r.get("198.18.1.1:443"))  # the rule says port 80
    denied(r.get("198.18.1.2:80"))  # never in an answer
    upstream_saw(ctx, mark, "v6only.test")
    check("ok.test" in ctx.world.dns_queries(since=mark), "dnsmasq never saw ok.test")
    # spans: one egress.dns per query, the connects name the DNS name
    s = dns_spans(d, r.job, "ok.test", "A")[0]
    expect(s, decision="allow", reason="rule", rule="ok.test:80",
           **{"egress.dns.rcode": "NOERROR", "egress.dns.transport": "udp"})
    eq(span_answers(s), ["198.18.1.1"], "dns.answers of ok.test A")
    check(s.status_code != 2, "an allowed query has status ERROR: %s" % s.describe())
    s = dns_spans(d, r.job, "ok.test", "AAAA")[0]
    eq(span_answers(s), ["2001:db8:1::1"], "dns.answers of ok.test AAAA")
    s = dns_spans(d, r.job, "v6only.test", "AAAA")[0]
    expect(s, decision="allow", rule="v6only.test:80")
    for host, name in (("198.18.1.1", "ok.test"), ("2001:db8:1::1", "ok.test"),
                       ("2001:db8:1::2", "v6only.test")):
        expect(d.decision(r.job, host, 80), decision="allow", reason="rule",
               rule=name + ":80", **{"server.address": name})
    expect(d.decision(r.job, "198.18.1.1", 443), decision="deny")
    expect(d.decision(r.job, "198.18.1.2", 80), decision="deny", reason="no_rule")


@test
def test_dns_wildcard_any_depth_not_apex(ctx):
    d = dns_daemon(ctx, {"w": pol(allow=["*.wild.test:80"])})
    mark = ctx.world.dns_mark()
    r = job(d, "w", ("resolve", "a.wild.test", "--family", "4"),
            ("resolve", "x.y.z.wild.test", "--family", "4"),
            ("resolve", "wild.test", "--family", "4"),
            ("resolve", "WILD.test.", "--family", "4"),
            ("connect", "198.18.1.2:80", "198.18.1.3:80"))
    answered(one(r, "resolve", name="a.wild.test"), "NOERROR", ["198.18.1.2"])
    answered(one(r, "resolve", name="x.y.z.wild.test"), "NOERROR", ["198.18.1.2"])
    apex = lines_of(r, "resolve", name="wild.test")  # also asked as WILD.test.
    eq(len(apex), 2, "resolve lines for wild.test")
    for res in apex:
        answered(res, "NXDOMAIN", [])
    allowed(r.get("198.18.1.2:80"))
    denied(r.get("198.18.1.3:80"))  # the apex's address was never learned
    upstream_saw(ctx, mark, "x.y.z.wild.test")
    q = ctx.world.dns_queries(since=mark)
    check("a.wild.test" in q, "dnsmasq never saw a.wild.test: %s" % q)
    check("wild.test" not in q, "the apex wild.test reached upstream: %s" % q)
    for name in ("a.wild.test", "x.y.z.wild.test"):
        expect(dns_spans(d, r.job, name)[0], decision="allow", reason="rule",
               rule="*.wild.test:80")
    s = dns_spans(d, r.job, "wild.test", n=2)[0]  # question names are lowercase, no dot
    expect(s, decision="deny", reason="dns_unlisted", **{"egress.dns.rcode": "NXDOMAIN"})
    eq(s.status_code, 2, "status code of a refused query (ERROR)")
    c = d.decision(r.job, "198.18.1.2", 80)
    expect(c, decision="allow", rule="*.wild.test:80")
    check(c.get("server.address") in ("a.wild.test", "x.y.z.wild.test"),
          "server.address of a connect to a learned address: %r" % c.get("server.address"))


@test
def test_dns_cname_to_unlisted_name(ctx):
    d = dns_daemon(ctx, {"c": pol(allow=["alias.test:80"])})
    r = job(d, "c", ("resolve", "alias.test", "--family", "4"),
            ("dns-query", "target.other.test"),
            ("connect", "198.18.1.4:80"))
    res = one(r, "resolve", name="alias.test")
    answered(res, "NOERROR", ["198.18.1.4"])
    eq(res["cnames"], ["target.other.test"], "the CNAME in the answer")
    # the chain's target is reachable through alias.test; asked for by itself it is unlisted
    answered(one(r, "dns-query", name="target.other.test"), "NXDOMAIN", [])
    allowed(r.get("198.18.1.4:80"))
    s = dns_spans(d, r.job, "alias.test")[0]
    expect(s, decision="allow", rule="alias.test:80")
    check("198.18.1.4" in span_answers(s), "dns.answers of alias.test: %s" % span_answers(s))
    expect(dns_spans(d, r.job, "target.other.test")[0], decision="deny", reason="dns_unlisted")
    expect(d.decision(r.job, "198.18.1.4", 80), decision="allow", rule="alias.test:80",
           **{"server.address": "alias.test"})


@test
def test_dns_unlisted_nxdomain_never_upstream(ctx):
    d = dns_daemon(ctx, {"u": pol(allow=["ok.test:80"])})
    mark = ctx.world.dns_mark()
    r = job(d, "u", ("resolve", "secret.test"),
            ("dns-query", "secret.test", "--type", "TXT"),
            ("dns-query", "secret.test", "--tcp"),
            ("resolve", "ok.test", "--family", "4"),  # the control: this one goes upstream
            ("connect", "198.18.2.4:80"))
    answered(one(r, "resolve", name="secret.test"), "NXDOMAIN", [])
    queries = lines_of(r, "dns-query", name="secret.test")
    eq(len(queries), 2, "dns-query lines for secret.test")
    for res in queries:
        answered(res, "NXDOMAIN", [])
    answered(one(r, "resolve", name="ok.test"), "NOERROR", ["198.18.1.1"])
    denied(r.get("198.18.2.4:80"))
    upstream_saw(ctx, mark, "ok.test")
    q = ctx.world.dns_queries(since=mark)
    check("secret.test" not in q, "an unlisted name reached upstream: dnsmasq logged %s" % q)
    for qtype in ("A", "AAAA", "TXT"):
        s = dns_spans(d, r.job, "secret.test", qtype)[0]
        expect(s, decision="deny", reason="dns_unlisted",
               **{"egress.dns.rcode": "NXDOMAIN", "egress.policy.name": "u"})
        eq(s.status_code, 2, "status code of an unlisted query (ERROR)")
        eq(s.get("dns.answers") or [], [], "dns.answers of an unlisted name")
    check(any(s.get("egress.dns.transport") == "tcp"
              for s in dns_spans(d, r.job, "secret.test", "A", n=2)),
          "no egress.dns span says transport tcp for the TCP query")
    expect(d.decision(r.job, "198.18.2.4", 80), decision="deny", reason="no_rule")


@test
def test_dns_any_resolver_address_answered_as_itself(ctx):
    # unfenced, nothing answers DNS on these addresses
    for server in (ANY_V4, ANY_V6):
        (u,) = ctx.world.probe_unfenced("dns-query", "ok.test", "--server", server,
                                        "--timeout", "0.5")
        check(not u["answered"], "something answers DNS on %s unfenced: %s" % (server, u))
    d = dns_daemon(ctx, {"n": pol(allow=["ok.test:80"])})
    mark = ctx.world.dns_mark()
    r = job(d, "n", ("dns-query", "ok.test", "--server", ANY_V4),
            ("dns-query", "ok.test", "--server", ANY_V4, "--connected"),
            ("dns-query", "ok.test", "--server", ANY_V4, "--tcp"),
            ("dns-query", "ok.test", "--server", ANY_V6, "--type", "AAAA"),
            ("dns-query", "ok.test", "--server", ANY_V6, "--type", "AAAA", "--connected"),
            ("dns-query", "ok.test", "--server", ANY_V6, "--type", "AAAA", "--tcp"),
            ("connect", "198.18.1.1:80", "[2001:db8:1::1]:80"))
    for res in lines_of(r, "dns-query"):
        server = res["server"]
        what = "query to %s (%s%s)" % (server, res["transport"],
                                       ", connected" if res.get("connected") else "")
        answered(res, "NOERROR", ["198.18.1.1"] if res["type"] == "A" else ["2001:db8:1::1"],
                 server=server, what=what)
        if res["transport"] == "tcp" or res.get("connected"):
            eq(norm_addr(res["peer"]), norm_addr(server), what + ": getpeername")
            eq(res.get("peer_port"), 53, what + ": getpeername port")
        if res.get("connected") and res["transport"] == "udp":
            eq(norm_addr(res.get("peer_after")), norm_addr(server),
               what + ": getpeername after the answer")
    eq(len(lines_of(r, "dns-query")), 6, "dns-query results")
    allowed(r.get("198.18.1.1:80"))
    allowed(r.get("[2001:db8:1::1]:80"))
    # the proxy asked the configured upstream, whatever address the job asked
    upstream_saw(ctx, mark, "ok.test")
    spans = dns_spans(d, r.job, "ok.test", "A", n=3) + dns_spans(d, r.job, "ok.test", "AAAA", n=3)
    eq(sorted(s.get("egress.dns.transport") for s in spans),
       ["tcp", "tcp", "udp", "udp", "udp", "udp"], "egress.dns.transport of the six queries")


@test
def test_dns_over_tcp(ctx):
    d = dns_daemon(ctx, {"n": pol(allow=["ok.test:80"])})
    r = job(d, "n", ("dns-query", "ok.test", "--tcp"),
            ("dns-query", "ok.test", "--tcp", "--type", "AAAA", "--server", W.DNS_V6),
            ("resolve", "ok.test", "--tcp", "--server", W.DNS_V6),
            ("connect", "198.18.1.1:80", "[2001:db8:1::1]:80"))
    a, aaaa = lines_of(r, "dns-query")
    answered(a, "NOERROR", ["198.18.1.1"])
    eq(norm_addr(a["peer"]), UPSTREAM, "getpeername of the TCP query")
    answered(aaaa, "NOERROR", ["2001:db8:1::1"], server=W.DNS_V6)
    eq(norm_addr(aaaa["peer"]), W.DNS_V6, "getpeername of the TCP query over IPv6")
    res = one(r, "resolve")
    answered(res, "NOERROR", ["198.18.1.1", "2001:db8:1::1"], server=W.DNS_V6)
    check(all(q["transport"] == "tcp" for q in res["queries"]), "resolve --tcp used UDP")
    allowed(r.get("198.18.1.1:80"))
    allowed(r.get("[2001:db8:1::1]:80"))
    s = dns_spans(d, r.job, "ok.test", "A")[0]
    expect(s, decision="allow", rule="ok.test:80", **{"egress.dns.transport": "tcp"})
    eq(span_answers(s), ["198.18.1.1"], "dns.answers over TCP")


@test(timeout=120)
def test_dns_ttl_expiry_keeps_open_connections(ctx):
    d = dns_daemon(ctx, {"t": pol(allow=["ttl.test:80"])}, ttl_floor_seconds=0,
                   ttl_grace_seconds=0)
    log = ctx.path("ttl-hold.jsonl")
    # resolve (TTL 2 s), at once open a connection and keep it; retry new
    # connects to the same address every 200 ms for 8 s
    r = job(d, "t", ("resolve", "ttl.test", "--family", "4"),
            ("hold", "198.18.2.3", "80", "8", "--log", log, "--retry", "198.18.2.3:80",
             "--interval-ms", "200"))
    res = one(r, "resolve", name="ttl.test")
    answered(res, "NOERROR", ["198.18.2.3"])
    eq(res["ttls"], [2], "TTL of ttl.test")
    t0 = res["t"]  # just before the query was sent
    recs = read_jsonl(log)
    check(recs and recs[0]["op"] == "hold-open" and recs[0]["ok"],
          "the connection right after the answer was refused: %s" % (recs[:1],))
    tries = [x for x in recs if x["op"] == "connect"]
    early = [x for x in tries if x["t"] < t0 + 1.0]
    late = [x for x in tries if x["t"] > t0 + 2 + 2.0]  # TTL + 2 s of slack for the expiry
    check(early and all(x["ok"] for x in early),
          "new connects within the TTL: %s" % [(round(x["t"] - t0, 2), x["err"]) for x in early])
    check(len(late) >= 5, "only %d connects after the TTL" % len(late))
    bad = [(round(x["t"] - t0, 2), x["err"]) for x in late if x["ok"] or x["errno"] != EPERM]
    check(not bad, "new connects after the TTL (2 s, floor 0, grace 0) were not refused "
          "(seconds after the query, error): %s" % bad)
    pings = [x for x in recs if x["op"] == "hold-ping"]
    check(pings and all(p["ok"] for p in pings) and pings[-1]["t"] > t0 + 4,
          "the connection opened within the TTL broke when the TTL ran out: %s" % [
              (round(p["t"] - t0, 2), p["ok"], p["err"]) for p in pings if not p["ok"]][:5])
    expect(dns_spans(d, r.job, "ttl.test")[0], decision="allow", rule="ttl.test:80")
    d.wait_spans("egress.connect", r.job, where={"network.peer.address": "198.18.2.3",
                                                 "network.peer.port": 80,
                                                 "egress.decision": "deny"})


@test
def test_dns_jobs_learn_separately(ctx):
    d = dns_daemon(ctx, {"job1": pol(allow=["job1.test:80"]),
                         "job2": pol(allow=["job2.test:80"])})
    ready, go = ctx.path("ready1"), ctx.path("go1")
    # job 1 resolves both names, then waits (its learned entries stay live)
    bg = d.spawn("job1", sh(("resolve", "job1.test", "--family", "4"),
                            ("resolve", "job2.test", "--family", "4"),
                            "touch %s" % shlex.quote(ready),
                            "i=0; while [ ! -e %s ] && [ $i -lt 600 ]; do sleep 0.05; "
                            "i=$((i+1)); done" % shlex.quote(go),
                            ("connect", "198.18.2.1:80", "198.18.2.2:80")))
    wait_until(lambda: os.path.exists(ready) or bg.proc.poll() is not None, 30,
               what="job 1 to resolve")
    check(bg.proc.poll() is None, "job 1 ended early: %r" % (bg.output(),))
    # job 1's proxy, on loopback, is not job 2's to use (its policy is job 1's)
    j1 = d.job(bg.job) or {}
    check(isinstance(j1.get("dns_port"), int), "dns_port of job 1 in `jobs --json`: %r" % j1)
    # meanwhile job 2, other policy, resolves both as well
    r2 = job(d, "job2", ("resolve", "job1.test", "--family", "4"),
             ("resolve", "job2.test", "--family", "4"),
             ("connect", "198.18.2.1:80", "198.18.2.2:80"),
             ("dns-query", "job1.test", "--server", "127.0.0.1", "--port", str(j1["dns_port"]),
              "--timeout", "0.5"))
    # and job 3 has job 1's policy but asked nothing: learning is per job
    r3 = d.probe("job1", "connect", "198.18.2.1:80")
    open(go, "w").close()
    eq(bg.wait(30), 0, "job 1 exit status")
    out, _err = bg.output()
    r1 = W.parse_lines(out)

    def get(lines, tgt):
        (x,) = [x for x in lines if x.get("target") == tgt + "/tcp"]
        return x

    answered([x for x in r1 if x.get("name") == "job1.test"][0], "NOERROR", ["198.18.2.1"])
    answered([x for x in r1 if x.get("name") == "job2.test"][0], "NXDOMAIN", [])
    allowed(get(r1, "198.18.2.1:80"))
    denied(get(r1, "198.18.2.2:80"))
    answered(one(r2, "resolve", name="job1.test"), "NXDOMAIN", [])
    answered(one(r2, "resolve", name="job2.test"), "NOERROR", ["198.18.2.2"])
    denied(r2.get("198.18.2.1:80"))  # learned by job 1 only
    allowed(r2.get("198.18.2.2:80"))
    denied(r3.get("198.18.2.1:80"))  # same policy as job 1, but this job never asked
    x = one(r2, "dns-query", name="job1.test")
    check(not x.get("ok") and x.get("err") in ("EPERM", "EACCES"),
          "job 2 querying job 1's proxy directly: %r" % x)
    s = d.wait_spans("egress.send", r2.job, where={"network.peer.port": j1["dns_port"]})[0]
    expect(s, decision="deny", reason="dns_proxy")
    expect(dns_spans(d, r2.job, "job1.test")[0], decision="deny", reason="dns_unlisted")
    expect(d.decision(r2.job, "198.18.2.1", 80), decision="deny", reason="no_rule")
    expect(d.decision(r3.job, "198.18.2.1", 80), decision="deny", reason="no_rule")
    expect(d.decision(bg.job, "198.18.2.1", 80), decision="allow", rule="job1.test:80",
           **{"server.address": "job1.test"})


@test
def test_dns_rebinding_answers_not_learned(ctx):
    d = dns_daemon(ctx, {"r": pol(allow=["rebind.test:80", "rebind-ok.test:80"]),
                         "r10": pol(allow=["rebind.test:80", "10.0.0.0/8:443"])})
    r = job(d, "r", ("resolve", "rebind.test"), ("resolve", "rebind-ok.test", "--family", "4"),
            ("connect", "10.11.12.13:80", "[fd00::1234]:80", "198.18.2.5:80"))
    check(one(r, "resolve", name="rebind.test")["ok"], "rebind.test got no answer")
    denied(r.get("10.11.12.13:80"))
    denied(r.get("[fd00::1234]:80"))
    allowed(r.get("198.18.2.5:80"))
    s = dns_spans(d, r.job, "rebind.test", "A")[0]
    check("10.11.12.13" in [norm_addr(a) for a in s.get("egress.dns.not_learned") or []],
          "egress.dns.not_learned of rebind.test A: %r\n  %s" % (
              s.get("egress.dns.not_learned"), s.describe()))
    s = dns_spans(d, r.job, "rebind.test", "AAAA")[0]
    check("fd00::1234" in [norm_addr(a) for a in s.get("egress.dns.not_learned") or []],
          "egress.dns.not_learned of rebind.test AAAA: %r" % s.get("egress.dns.not_learned"))
    s = dns_spans(d, r.job, "rebind-ok.test")[0]
    check(not s.get("egress.dns.not_learned"), "a public answer was refused: %s" % s.describe())
    expect(d.decision(r.job, "10.11.12.13", 80), decision="deny")
    # an IP rule that covers 10.0.0.0/8 (another port) makes the private answer
    # legitimate: learned with rebind.test's port; fd00::1234 is still refused
    r = job(d, "r10", ("resolve", "rebind.test"),
            ("connect", "10.11.12.13:80", "[fd00::1234]:80"))
    allowed(r.get("10.11.12.13:80"))
    denied(r.get("[fd00::1234]:80"))
    s = dns_spans(d, r.job, "rebind.test", "A")[0]
    check("10.11.12.13" not in [norm_addr(a) for a in s.get("egress.dns.not_learned") or []],
          "10.11.12.13 refused although 10.0.0.0/8 is in an IP rule: %s" % s.describe())
    expect(d.decision(r.job, "10.11.12.13", 80), decision="allow", rule="rebind.test:80",
           **{"server.address": "rebind.test"})


@test
def test_dns_audit_forwards_unlisted(ctx):
    d = dns_daemon(ctx, {"a": pol(allow=["ok.test:80"], mode="audit")})
    mark = ctx.world.dns_mark()
    r = job(d, "a", ("resolve", "secret.test", "--family", "4"), ("connect", "198.18.2.4:80"))
    answered(one(r, "resolve", name="secret.test"), "NOERROR", ["198.18.2.4"])
    allowed(r.get("198.18.2.4:80"))
    upstream_saw(ctx, mark, "secret.test")
    s = dns_spans(d, r.job, "secret.test")[0]
    expect(s, decision="would_deny", reason="dns_unlisted", mode="audit")
    check(s.status_code != 2, "would_deny is not an error: %s" % s.describe())
    eq(span_answers(s), ["198.18.2.4"], "dns.answers of a would_deny query")
    expect(d.decision(r.job, "198.18.2.4", 80), decision="would_deny")


@test(timeout=900)
def test_dns_connect_right_after_resolve(ctx):
    """The proxy learns the answer before the job sees it: a connect issued
    the moment the answer arrives is never refused (10,000 distinct names)."""
    # as fast as the proxy answers: far past the default per-job query limit
    d = dns_daemon(ctx, {"race": pol(allow=["*.race.test:81", "ok.test:81"],
                                     dns={"query_rate": 100000, "query_burst": 100000},
                                     probe={"dns_label_bytes": 1000000})})
    # port 81: nothing listens, the host answers RST (ECONNREFUSED: not fenced)
    mark = ctx.world.dns_mark()
    r = d.probe("race", "resolve-connect", "ok.test", 81, "--count", 200, timeout=300)
    (x,) = r.lines
    check(x["ok"] and x["allowed"] == 200,
          "ok.test x200: %s, examples %s" % (x["outcomes"], x["examples"]))
    n = 10000
    r = d.probe("race", "resolve-connect", "-", 81, "--count", n, "--names-from-synth",
                W.RACE_NET, timeout=800)
    (x,) = r.lines
    check(x["resolve_failed"] == 0 and x["wrong_answer"] == 0,
          "resolving %d synthesized names: %s, examples %s" % (n, x["outcomes"], x["examples"]))
    check(x["ok"] and x["allowed"] == n and x["denied"] == 0,
          "%d of %d connects right after the answer were allowed (%d refused by the fence): "
          "%s, examples %s" % (x["allowed"], n, x["denied"], x["outcomes"], x["examples"]))
    ctx.note("%d resolve+connect trials in %.1fs" % (n, x["elapsed_s"]))
    got = [q for q in ctx.world.dns_queries(since=mark) if q.endswith("." + W.RACE_DOMAIN)]
    check(len(set(got)) == n, "dnsmasq saw %d distinct race names, want %d" % (len(set(got)), n))


@test
def test_dns_truncated_answer_tcp_fallback(ctx):
    d = dns_daemon(ctx, {"b": pol(allow=["big.test:80"])})
    targets = ["%s:80" % a for a in BIG]
    # 1: the client asks over UDP only, without EDNS (60 A records do not fit
    # in 512 bytes): it gets TC (with part of the answer or none), or the full
    # answer.
    # The proxy retried upstream over TCP, so it learned all 60.
    r = job(d, "b", ("dns-query", "big.test"), ("connect",) + tuple(targets))
    q = one(r, "dns-query")
    answered(q, "NOERROR")
    check((q["tc"] and len(q["addresses"]) < 60) or (not q["tc"] and len(q["addresses"]) == 60),
          "UDP answer for big.test: tc=%s with %d addresses" % (q["tc"], len(q["addresses"])))
    check(set(q["addresses"]) <= set(BIG), "foreign addresses: %s" % q["addresses"])
    refused = [t for t in targets if not r.get(t)["ok"]]
    check(not refused, "%d of big.test's 60 addresses were not learned from a UDP query "
          "(truncated upstream answers must be retried over TCP): %s" % (len(refused), refused[:8]))
    s = dns_spans(d, r.job, "big.test")[0]
    eq(len(set(span_answers(s))), 60, "dns.answers of big.test (the proxy's full answer)")
    # 2: over TCP, and 3: the usual UDP-then-TCP-on-TC of a resolver
    r = job(d, "b", ("dns-query", "big.test", "--tcp"), ("resolve", "big.test", "--family", "4"),
            ("connect",) + tuple(targets))
    q = one(r, "dns-query")
    answered(q, "NOERROR", BIG)
    check(not q["tc"], "TC over TCP")
    res = one(r, "resolve")
    answered(res, "NOERROR", BIG)
    for t in targets:
        allowed(r.get(t))
    check(any(s.get("egress.dns.transport") == "tcp"
              for s in dns_spans(d, r.job, "big.test", n=2)), "no egress.dns span over tcp")


@test(timeout=240)
def test_dns_garbage_proxy_keeps_serving(ctx):
    d = dns_daemon(ctx, {"g": pol(allow=["ok.test:80"])})
    mark = ctx.world.dns_mark()
    r = job(d, "g", ("dns-garbage", "--server", UPSTREAM),
            ("dns-garbage", "--server", ANY_V6),
            ("resolve", "ok.test", "--family", "4"), ("connect", "198.18.1.1:80"), timeout=180)
    cases = lines_of(r, "dns-garbage")
    check(len(cases) >= 50, "dns-garbage ran %d cases" % len(cases))
    for c in cases:
        what = "%s over %s to %s" % (c["case"], c["transport"], c.get("source") or "the proxy")
        check(c["ok"], "%s: could not even send it: %s (%s)" % (what, c["err"], c.get("stage")))
        if c["case"] == "qr-set" and c["transport"] == "udp":
            check(not c["answered"], "%s: a response was answered (loops)" % what)
        if c["answered"]:
            eq(c.get("qr"), 1, what + ": QR of the reply")
            check(c["rcode"] != "NOERROR", "%s: answered NOERROR to garbage" % what)
    finals = lines_of(r, "dns-garbage-final")
    eq(len(finals), 4, "normal queries after the garbage")
    for f in finals:
        check(f["ok"] and f["source_ok"] and f["addresses"] == ["198.18.1.1"],
              "ok.test over %s after the garbage (with %d stalled TCP clients): %s %s %s" % (
                  f["transport"], f.get("stalled_clients", 0), f["rcode"], f["addresses"],
                  f["err"]))
    answered(one(r, "resolve", name="ok.test"), "NOERROR", ["198.18.1.1"])
    allowed(r.get("198.18.1.1:80"))
    check(d.alive(), "egressd died: %s" % d.log_tail(10))
    d.status()
    upstream_saw(ctx, mark, "ok.test")
    q = ctx.world.dns_queries(since=mark)
    check("garbage.test" not in q, "garbage reached upstream: dnsmasq logged %s" % sorted(set(q)))
    # a new job after all that
    r = job(d, "g", ("resolve", "ok.test"), ("connect", "[2001:db8:1::1]:80"))
    answered(one(r, "resolve"), "NOERROR", ["198.18.1.1", "2001:db8:1::1"])
    allowed(r.get("[2001:db8:1::1]:80"))


@test
def test_dns_upstream_failures(ctx):
    """A dead upstream (no server: refused) and a silent one (packets
    dropped: timeout) are skipped for the next server; with none left the
    job gets SERVFAIL, and the proxy keeps serving."""
    silent = "198.18.7.7"  # routed to the hosts ns, which has no such host
    d = dns_daemon(ctx, {"two": pol(allow=["ok.test:80"], dns={"upstream": [silent, UPSTREAM]}),
                         "dead": pol(allow=["ok.test:80"], dns={"upstream": [ANY_V4]}),
                         "ok": pol(allow=["ok.test:80"])},
                   timeout_ms=300, attempts=1)
    r = job(d, "two", ("resolve", "ok.test", "--family", "4", "--timeout", "3"),
            ("connect", "198.18.1.1:80"))
    answered(one(r, "resolve", name="ok.test"), "NOERROR", ["198.18.1.1"])
    allowed(r.get("198.18.1.1:80"))
    s = d.wait_spans("egress.dns", r.job, where={"dns.question.name": "ok.test"})[0]
    eq(s.get("egress.dns.upstream"), UPSTREAM + ":53", "upstream that answered")
    r = job(d, "dead", ("resolve", "ok.test", "--family", "4", "--timeout", "3"),
            ("connect", "198.18.1.1:80"))
    eq(one(r, "resolve", name="ok.test").get("rcode"), "SERVFAIL", "rcode with no live upstream")
    denied(r.get("198.18.1.1:80"))
    s = d.wait_spans("egress.dns", r.job, where={"dns.question.name": "ok.test"})[0]
    eq(s.get("egress.dns.rcode"), "SERVFAIL", "rcode in the span")
    eq(s.status_code, 2, "status of a failed lookup")
    r = job(d, "ok", ("resolve", "ok.test", "--family", "4"))
    answered(one(r, "resolve", name="ok.test"), "NOERROR", ["198.18.1.1"])


@test
def test_dns_config_errors(ctx):
    """A bad dns section stops egressd at start with a message naming it."""
    for dns, want in (({"upstream": ["not-an-address"]}, "dns.upstream"),
                      ({"upstream": "1.1.1.1"}, "dns.upstream"),
                      ({"ttl_floor_seconds": -1}, "dns.ttl_floor_seconds"),
                      ({"timeout_ms": "fast"}, "dns.timeout_ms"),
                      ({"busy_poll_us": 5000}, "dns.busy_poll_us"),
                      ({"bogus": 1}, "dns.bogus")):
        d = ctx.daemon(start=False)
        d.set_config({"dns": dns})
        try:
            d.start(timeout=10)
        except AssertionError as e:
            check(want in str(e), "config %r: message %s does not name %s" % (dns, e, want))
            continue
        raise AssertionError("egressd started with dns config %r" % (dns,))


@test
def test_dns_restart_keeps_proxy_and_learned(ctx):
    """egressd killed and restarted: the adopted job's proxy comes back on
    the same port, what it learned still opens its connects, and it resolves
    again through the new egressd."""
    d = dns_daemon(ctx, {"k": pol(allow=["ok.test:80", "job1.test:80"])})
    ready, go = ctx.path("ready"), ctx.path("go")
    bg = d.spawn("k", sh(("resolve", "ok.test", "--family", "4"),
                         "touch %s" % shlex.quote(ready),
                         "i=0; while [ ! -e %s ] && [ $i -lt 600 ]; do sleep 0.05; "
                         "i=$((i+1)); done" % shlex.quote(go),
                         ("connect", "198.18.1.1:80"),
                         ("resolve", "job1.test", "--family", "4"),
                         ("connect", "198.18.2.1:80")))
    wait_until(lambda: os.path.exists(ready) or bg.proc.poll() is not None, 30,
               what="the job to resolve")
    port = (d.job(bg.job) or {}).get("dns_port")
    check(isinstance(port, int), "dns_port before the restart: %r" % port)
    d.kill9()
    d.start()
    j = wait_until(lambda: d.job(bg.job), 10, what="the adopted job")
    eq(j.get("dns_port"), port, "DNS proxy port of the adopted job")
    open(go, "w").close()
    eq(bg.wait(30), 0, "job exit status")
    out, _err = bg.output()
    lines = W.parse_lines(out)
    answered([x for x in lines if x.get("name") == "job1.test"][0], "NOERROR", ["198.18.2.1"])
    for tgt in ("198.18.1.1:80/tcp", "198.18.2.1:80/tcp"):
        (x,) = [x for x in lines if x.get("target") == tgt]
        allowed(x)
    expect(d.decision(bg.job, "198.18.1.1", 80), decision="allow",
           **{"server.address": "ok.test"})


@test
def test_dns_mapped_v6_socket_source(ctx):
    """An AF_INET6 socket asking [::ffff:a.b.c.d]:53 (what a dual-stack
    resolver library does with an IPv4 nameserver) gets its answer from that
    very address and port, as recvfrom and getpeername show it, over UDP
    (connected or not) and TCP."""
    d = dns_daemon(ctx, {"n": pol(allow=["ok.test:80"])})
    mapped = "::ffff:" + ANY_V4
    r = job(d, "n", ("dns-query", "ok.test", "--server", mapped),
            ("dns-query", "ok.test", "--server", mapped, "--connected"),
            ("dns-query", "ok.test", "--server", mapped, "--tcp"),
            ("dns-query", "ok.test", "--server", "::ffff:" + W.DNS_V4))
    got = lines_of(r, "dns-query")
    eq(len(got), 4, "dns-query results")
    for res in got:
        what = "query to [%s]:53 (%s%s)" % (res["server"], res["transport"],
                                           ", connected" if res.get("connected") else "")
        check(res.get("answered"), what + ": no answer: %s" % res.get("err"))
        # the exact sockaddr the job saw: the mapped address itself, port 53
        eq(res.get("source_raw"), res["server"], what + ": recvfrom source address")
        eq(res.get("source_port"), 53, what + ": recvfrom source port")
        answered(res, "NOERROR", ["198.18.1.1"], server=res["server"], what=what)
        if res["transport"] == "tcp" or res.get("connected"):
            eq(res.get("peer_raw"), res["server"], what + ": getpeername")
            eq(res.get("peer_port"), 53, what + ": getpeername port")


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
    d = dns_daemon(ctx, {"n": pol(allow=["*.ok.test:80"])}, upstream=["127.0.0.1:5399"])
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
                                    dns={"query_rate": 2, "query_burst": 10})})
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
    is not counted as a scan of an unknown host."""
    d = dns_daemon(ctx, {"t": pol(allow=["ttl.test:80"], probe={"denied_dests": 2})},
                   ttl_floor_seconds=0, ttl_grace_seconds=0)
    r = job(d, "t", ("resolve", "ttl.test", "--family", "4"), "sleep 13",
            ("connect", "198.18.2.3:80"), "sleep 1", ("connect", "198.18.2.3:80"),
            timeout=60)
    answered(one(r, "resolve", name="ttl.test"), "NOERROR", ["198.18.2.3"])
    tries = [x for x in r.lines if x.get("op") == "connect"]
    eq([x.get("errno") for x in tries], [EPERM, EPERM], "connects after the TTL")
    spans = d.wait_spans("egress.connect", r.job, n=2, where={"network.peer.address": "198.18.2.3"})
    for s in spans:
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
