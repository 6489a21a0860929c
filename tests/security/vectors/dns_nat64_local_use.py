"""NAT64 rebinding through the local-use prefix 64:ff9b:1::/48 (RFC 8215; RFC 6052 layout for a /48): an allowed name answers 169.254.169.254 embedded there; the job connects with the token. A public embedded answer is the control."""
from vlib import *  # noqa: F401,F403

# PUB: public in every RFC 6052 layout a /48 prefix allows (a fence may read them all)
META, PUB = "64:ff9b:1:a9fe:a9:fe00::", "64:ff9b:1:c612:1:701:c612:107"
POLICY = {"allow": ["nat64meta48.test:80", "nat64ok48.test:80"], "dns": {"upstream": [SECDNS]}}
AS = ("nobody",)
SINKS_OK = [PUB]
DENIED = [(META, 80, "tcp")]
RECORD = [("egress.connect", {"egress.decision": "deny", "network.peer.address": META})]


def judge(ev):
    if not any(ff and i["dst"] == PUB for _t, ff, i, _f in ev.parsed()):
        return ["BROKEN: the control (nat64ok48.test, %s) was never reached" % PUB]
    return []


def job(token, args):
    for name in ("nat64meta48.test", "nat64ok48.test"):
        addrs = attempt("AAAA " + name, lambda: dns_addresses(dns_udp(DNS_V4,
                                                                      dns_query_bytes(name, 28))))
        out(step="answer", name=name, addresses=addrs)
        for a in addrs or []:
            attempt("connect [%s]:80" % a, tcp_send, a, 80, token)


if __name__ == "__main__":
    main(globals())
