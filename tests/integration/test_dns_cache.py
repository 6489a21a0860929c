"""The DNS proxy's per-job answer cache (daemon/dns/dns_cache.c): a repeat
question is answered by the proxy, judged and learned as before and recorded
as an egress.dns span with egress.dns.cached; nothing goes upstream for it.
It lives for the answer's TTL, belongs to one job, and is emptied when the
job's policy changes. Judged by what the world's dnsmasq logged."""
import json
import os
import shlex

import world as W
from harness import test, pol, allowed, denied, check, eq, wait_until
from test_dns import dns_daemon, job, sh, lines_of, answered, ANY_V4


def upstream_count(ctx, mark, name, qtype="A"):
    return sum(1 for e in ctx.world.dns_log(mark) if e["name"] == name and e["type"] == qtype)


def cached_spans(d, jobid, name, n, qtype="A"):
    return d.wait_spans("egress.dns", jobid, n=n, timeout=10,
                        where={"dns.question.name": name, "egress.dns.type": qtype})


@test(timeout=120)
def test_dns_cache_answers_a_repeat_query_here(ctx):
    """ok.test asked 4 times over UDP and TCP and in another spelling: one
    query upstream; each answer has the job's id and spelling and a TTL no
    longer than the first's; each is an egress.dns span, three marked
    cached; the address is learned (connect allowed). AAAA is a question of
    its own. A name with a 2 s TTL is asked again once that has passed."""
    d = dns_daemon(ctx, {"c": pol(allow=["ok.test:80", "ttl.test:80"])})
    mark = ctx.world.dns_mark()
    # one process each: repeats of one process fold into one span
    r = job(d, "c", ("dns-query", "ok.test", "--server", ANY_V4),
            ("dns-query", "ok.test", "--server", ANY_V4),
            ("dns-query", "ok.test", "--server", ANY_V4, "--tcp"),
            ("dns-query", "OK.Test", "--server", ANY_V4),
            ("dns-query", "ok.test", "--server", ANY_V4, "--type", "AAAA"),
            ("connect", "198.18.1.1:80"),
            ("dns-query", "ttl.test", "--server", ANY_V4),
            "sleep 2.5",
            ("dns-query", "ttl.test", "--server", ANY_V4))
    got = lines_of(r, "dns-query")
    eq(len(got), 7, "answers")
    for x in got[:3] + got[3:4]:
        answered(x, "NOERROR", ["198.18.1.1"], server=ANY_V4)
    answered(got[4], "NOERROR", ["2001:db8:1::1"], server=ANY_V4)
    # the job's spelling back (probe.py checks id and question: question_ok)
    check(got[3].get("question_ok"), "the question in the job's spelling: %r" % got[3])
    ttls = [x["ttls"][0] for x in got[:4]]
    check(ttls[0] <= W.DNS_TTL and all(t <= ttls[0] for t in ttls[1:]),
          "TTLs of the cached answers (not above the first's %d): %s" % (ttls[0], ttls))
    allowed(r.get("198.18.1.1:80"))
    wait_until(lambda: upstream_count(ctx, mark, "ttl.test") >= 2, 5,
               what="dnsmasq to log ttl.test twice")
    eq(upstream_count(ctx, mark, "ok.test"), 1, "A queries for ok.test upstream")
    eq(upstream_count(ctx, mark, "ok.test", "AAAA"), 1, "AAAA queries for ok.test upstream")
    eq(upstream_count(ctx, mark, "ttl.test"), 2, "ttl.test (TTL 2 s) asked again after 2.5 s")
    # a repeat folds with its like (fold.h): the second cached UDP answer
    # into a span of its own at the job's end, marked cached as well
    spans = cached_spans(d, r.job, "ok.test", 4)
    eq(len(spans), 4, "egress.dns spans of the A queries")
    kept = [s for s in spans if s.get("egress.dns.cached")]
    eq(len(kept), 3, "spans marked egress.dns.cached")
    for s in spans:
        eq(s.get("egress.decision"), "allow", "decision")
        if s.get("egress.count") is None:
            eq(sorted(s.get("dns.answers") or []), ["198.18.1.1"], "dns.answers")
    (first,) = [s for s in spans if not s.get("egress.dns.cached")]
    check(first.get("egress.dns.upstream"), "the upstream of the first answer")
    eq(sorted(s.get("egress.dns.transport") for s in kept), ["tcp", "udp", "udp"],
       "transports of the cached answers")
    st = d.status()
    check(st["dns"]["cache_hits"] >= 3, "dns.cache_hits in status: %r" % st["dns"])


@test(timeout=120)
def test_dns_cache_is_per_job_and_policy_version(ctx):
    """A second job's question goes upstream although the first job has the
    answer; a policy change empties the job's cache (the next question goes
    upstream), and a name the new policy no longer allows is NXDOMAIN, never
    the kept answer."""
    d = dns_daemon(ctx, {"p": pol(allow=["ok.test:80", "job1.test:80"])})
    ready, go = ctx.path("cache-ready"), ctx.path("cache-go")
    wait = ("i=0; while [ ! -e %s ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i+1)); done"
            % shlex.quote(go))
    mark = ctx.world.dns_mark()
    bg = d.spawn("p", sh(("dns-query", "ok.test", "job1.test", "--server", ANY_V4),
                         "touch %s" % shlex.quote(ready), wait,
                         ("dns-query", "ok.test", "job1.test", "--server", ANY_V4),
                         ("connect", "198.18.2.1:80")))
    wait_until(lambda: os.path.exists(ready) or bg.proc.poll() is not None, 30,
               what="the job's first questions")
    check(bg.proc.poll() is None, "the job ended early: %r" % (bg.output(),))
    # another job, same policy: its own cache, so upstream again
    r2 = job(d, "p", ("dns-query", "ok.test", "--server", ANY_V4))
    answered(one_line(r2), "NOERROR", ["198.18.1.1"], server=ANY_V4)
    eq(upstream_count(ctx, mark, "ok.test"), 2, "ok.test upstream after two jobs asked once each")
    # the policy changes under the first job: job1.test no longer allowed
    rep = d.ctl("policy", "remove", "p", "job1.test:80", "--json", timeout=60)
    check(rep.returncode == 0, "policy remove: %s" % rep.stderr)
    eq(json.loads(rep.stdout)["jobs"], 1, "jobs switched (the first job)")
    open(go, "w").close()
    eq(bg.wait(30), 0, "the first job's exit status")
    out, _err = bg.output()
    lines = W.parse_lines(out)
    qs = [x for x in lines if x.get("op") == "dns-query"]
    eq([(x["name"], x["rcode"]) for x in qs],
       [("ok.test", "NOERROR"), ("job1.test", "NOERROR"),
        ("ok.test", "NOERROR"), ("job1.test", "NXDOMAIN")], "the first job's answers")
    denied([x for x in lines if x.get("target") == "198.18.2.1:80/tcp"][0])
    # judged on the far side: no connection reached job1.test's host
    check(not ctx.reached("198.18.2.1", 80), "a connection reached 198.18.2.1:80 after the "
          "policy change removed job1.test")
    eq(upstream_count(ctx, mark, "ok.test"), 3,
       "ok.test upstream (asked again after the policy change)")
    eq(upstream_count(ctx, mark, "job1.test"), 1, "job1.test upstream (never after the change)")


def one_line(r):
    (x,) = lines_of(r, "dns-query")
    return x


@test(timeout=120)
def test_dns_cache_emptied_when_resolv_conf_names_another_server(ctx):
    """Servers from resolv.conf: an edit naming another server empties the
    caches, so the job's next question is that server's to answer, not the
    old server's kept answer."""
    from test_dns_hostile import stand_in_upstream
    resolv = ctx.path("resolv.conf")
    with open(resolv, "w") as f:
        f.write("nameserver %s\n" % W.DNS_V4)
    d = ctx.daemon({"r": pol(allow=["job1.test:80"])},
                   config={"dns": {"resolv_conf": resolv, "timeout_ms": 1000, "attempts": 2}})
    log = stand_in_upstream(ctx, "echo", port=53)  # 127.0.0.1:53: A 198.18.1.1 to all
    ready, go = ctx.path("resolv-ready"), ctx.path("resolv-go")
    bg = d.spawn("r", sh(("dns-query", "job1.test", "--server", ANY_V4),
                         ("dns-query", "job1.test", "--server", ANY_V4),
                         "touch %s" % shlex.quote(ready),
                         "i=0; while [ ! -e %s ] && [ $i -lt 600 ]; do sleep 0.05; "
                         "i=$((i+1)); done" % shlex.quote(go),
                         ("dns-query", "job1.test", "--server", ANY_V4)))
    wait_until(lambda: os.path.exists(ready) or bg.proc.poll() is not None, 30,
               what="the job's first questions")
    with open(resolv + ".new", "w") as f:
        f.write("nameserver 127.0.0.1\n")
    os.rename(resolv + ".new", resolv)
    import time
    time.sleep(1.2)  # egressd looks at resolv.conf at most once a second
    open(go, "w").close()
    eq(bg.wait(30), 0, "the job's exit status")
    out, _err = bg.output()
    qs = [x for x in W.parse_lines(out) if x.get("op") == "dns-query"]
    eq([x.get("addresses") for x in qs], [["198.18.2.1"], ["198.18.2.1"], ["198.18.1.1"]],
       "answers: dnsmasq's, the cache's, then the new server's")
    with open(log) as f:
        eq(len(f.read().splitlines()), 1, "queries the new server got")
