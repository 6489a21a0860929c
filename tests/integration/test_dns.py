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
import os
import shlex

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
                      ({"cache_entries": 5000}, "dns.cache_entries"),
                      ({"cache_entries": True}, "dns.cache_entries"),
                      ({"cache_max_ttl_seconds": 0}, "dns.cache_max_ttl_seconds"),
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
