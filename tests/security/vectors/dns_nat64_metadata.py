"""NAT64 rebinding: allowed names whose AAAA answers are 64:ff9b::169.254.169.254 (metadata) and 64:ff9b::10.11.12.13 (private); the job connects to them with the token. A public NAT64 answer is the control."""
from vlib import *  # noqa: F401,F403

META, PRIV, PUB = "64:ff9b::a9fe:a9fe", "64:ff9b::a0b:c0d", "64:ff9b::c612:107"
POLICY = {"allow": ["nat64meta.test:80", "nat64priv.test:80", "nat64ok.test:80"],
          "dns": {"upstream": [SECDNS]}}
AS = ("nobody",)
SINKS_OK = [PUB]
DENIED = [(META, 80, "tcp"), (PRIV, 80, "tcp")]
RECORD = [("egress.connect", {"egress.decision": "deny", "network.peer.address": META}),
          ("egress.connect", {"egress.decision": "deny", "network.peer.address": PRIV})]


def judge(ev):
    if not any(ff and i["dst"] == PUB for _t, ff, i, _f in ev.parsed()):
        return ["BROKEN: the control (nat64ok.test, %s) was never reached" % PUB]
    return []


def job(token, args):
    for name in ("nat64meta.test", "nat64priv.test", "nat64ok.test"):
        addrs = attempt("AAAA " + name, lambda: dns_addresses(dns_udp(DNS_V4,
                                                                      dns_query_bytes(name, 28))))
        out(step="answer", name=name, addresses=addrs)
        for a in addrs or []:
            attempt("connect [%s]:80" % a, tcp_send, a, 80, token)


if __name__ == "__main__":
    main(globals())
