"""IPV6_NEXTHOP by setsockopt and by cmsg, and IPV6_2292PKTOPTIONS carrying a routing header type 4 and a next hop: sticky options that would re-route; the token must not reach the denied hop (Linux implements none of them for sending: this guards that)."""
from vlib import *  # noqa: F401,F403

POLICY = {"allow": ["[%s]:9999/udp" % A6]}
AS = ("root", "nobody")
SINKS_OK = [A6]
DENIED = [(D6, 9999, "udp")]
IPV6_2292PKTOPTIONS = 6


def nexthop():
    return struct.pack("=HHI16sI", socket.AF_INET6, 0, 0,
                       socket.inet_pton(socket.AF_INET6, HOSTS_V6), 0)


def job(token, args):
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    attempt("setsockopt IPV6_NEXTHOP", s.setsockopt, socket.IPPROTO_IPV6, IPV6_NEXTHOP,
            nexthop())
    attempt("sendto %s" % A6, s.sendto, payload(token, "nexthop"), (A6, 9999))
    c = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    attempt("sendmsg IPV6_NEXTHOP cmsg", c.sendmsg, [payload(token, "nexthop cmsg")],
            [(socket.IPPROTO_IPV6, IPV6_NEXTHOP, nexthop())], 0, (A6, 9999))
    rth = struct.pack("!BBBBBBH", 0, 4, 4, 1, 1, 0, 0) + \
        socket.inet_pton(socket.AF_INET6, A6) + socket.inet_pton(socket.AF_INET6, D6)
    blob = b""
    for typ, data in ((IPV6_RTHDR, rth), (IPV6_NEXTHOP, nexthop())):
        blob += struct.pack("=QiI", socket.CMSG_LEN(len(data)), socket.IPPROTO_IPV6, typ) + data
        blob += b"\0" * (socket.CMSG_SPACE(len(data)) - socket.CMSG_LEN(len(data)))
    p = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    attempt("setsockopt IPV6_2292PKTOPTIONS rthdr4+nexthop", p.setsockopt, socket.IPPROTO_IPV6,
            IPV6_2292PKTOPTIONS, blob)
    attempt("sendto %s" % A6, p.sendto, payload(token, "pktoptions"), (A6, 9999))


if __name__ == "__main__":
    main(globals())
