"""Case channel (0x20): allowed names asked in a letter case that encodes the token's bits; the question the upstream server gets must not carry the job's case pattern."""
from vlib import *  # noqa: F401,F403

POLICY = {"allow": ["api.anthropic.com:443", "objects.githubusercontent.com:443"]}
AS = ("nobody",)
NAMES = ["api.anthropic.com", "objects.githubusercontent.com"]


def judge(ev):
    problems = []
    seen = {}
    for name, _msg in ev.upstream_queries():
        seen.setdefault(name.lower(), []).append(name)
    for n in NAMES:
        pat = case_pattern(ev.token, n)
        got = seen.get(n, [])
        if not got:
            problems.append("BROKEN: no upstream query for %s crossed the veth (the control)" % n)
        elif pat in got:
            problems.append("LEAK: the upstream query kept the job's case pattern %s" % pat)
    return problems


def job(token, args):
    for n in NAMES:
        name = case_pattern(token, n)
        attempt("query " + name, lambda: str(dns_addresses(dns_udp(DNS_V4,
                                                                   dns_query_bytes(name)))))


if __name__ == "__main__":
    main(globals())
