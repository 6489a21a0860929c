"""EDNS smuggling: queries for an allowed name whose OPT record carries the token in an unknown option (65001), in a COOKIE and in PADDING, over UDP and TCP; none may reach the upstream server."""
from vlib import *  # noqa: F401,F403

POLICY = {"allow": ["ok.test:443"]}
AS = ("nobody",)
SINKS_OK = []  # the token must not cross the veth at all: the proxy forwards what it understood


def opt(code, data):
    body = struct.pack("!HH", code, len(data)) + data
    return b"\0" + struct.pack("!HHIH", 41, 1232, 0, len(body)) + body


VARIANTS = (("unknown option 65001", 65001, b"U"), ("cookie", 10, b"C"), ("padding", 12, b"P"))


def judge(ev):
    """Which of the options got through (the generic LEAK line says that some did)."""
    leaked = []
    for what, _code, mark in VARIANTS:
        needle = mark + ev.token.encode()
        if any(needle in fr for _t, ff, _i, fr in ev.parsed() if ff):
            leaked.append(what)
    return ["LEAK: forwarded upstream with the token: %s" % ", ".join(leaked)] if leaked else []


def job(token, args):
    t = token.encode()
    for what, code, mark in VARIANTS:
        data = mark + t  # 26 bytes: a valid client + server cookie length too
        q = dns_query_bytes("ok.test", ar=opt(code, data), counts=(0, 0, 1))
        attempt("udp %s" % what, lambda: str(dns_addresses(dns_udp(DNS_V4, q))))
        attempt("tcp %s" % what, lambda: str(dns_addresses(dns_tcp(DNS_V4, q))))


if __name__ == "__main__":
    main(globals())
