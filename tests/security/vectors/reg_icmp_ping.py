"""ICMP datagram ("ping") sockets, IPv4 and IPv6, echo requests carrying the token to a denied host (regression)."""
from vlib import *  # noqa: F401,F403

POLICY = {"allow": [A4 + ":9999/udp"]}
AS = ("nobody", "root")
RECORD = [("egress.socket", {"egress.decision": "deny", "egress.reason": ("protocol", "raw_socket")})]


def ping(fam, proto, typ, host, token):
    s = socket.socket(fam, socket.SOCK_DGRAM, proto)
    return s.sendto(struct.pack("!BBHHH", typ, 0, 0, 0, 1) + payload(token, "ping"), (host, 0))


def job(token, args):
    attempt("ping4 %s" % D4, ping, socket.AF_INET, socket.IPPROTO_ICMP, 8, D4, token)
    attempt("ping6 %s" % D6, ping, socket.AF_INET6, socket.IPPROTO_ICMPV6, 128, D6, token)


if __name__ == "__main__":
    main(globals())
