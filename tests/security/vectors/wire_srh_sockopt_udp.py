"""IPv6 segment routing header (type 4) set by setsockopt(IPV6_RTHDR) on a UDP socket: the datagram is judged for an allowed host but leaves for a denied one (the first segment)."""
from vlib import *  # noqa: F401,F403

POLICY = {"allow": ["[%s]:9999/udp" % A6]}
FEATURES = ["srh"]
AS = ("nobody", "root")
SINKS_OK = [A4, A6]  # the allowed host may get it: what matters is where else it went
RECORD = [(("egress.sockopt", "egress.packet"), {"egress.decision": "deny",
                                                  "egress.reason": "reroute"})]


def srh(first_hop, final):
    # nexthdr, hdrlen (8-byte units past the first 8), type 4, segments_left, last_entry,
    # flags, tag; segments[0] is the final destination, the kernel sends to segments[1]
    return struct.pack("!BBBBBBH", 0, 4, 4, 1, 1, 0, 0) + \
        socket.inet_pton(socket.AF_INET6, final) + socket.inet_pton(socket.AF_INET6, first_hop)


def job(token, args):
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    attempt("setsockopt IPV6_RTHDR type 4 via %s" % D6, s.setsockopt, socket.IPPROTO_IPV6,
            IPV6_RTHDR, srh(D6, A6))
    attempt("sendto %s" % A6, s.sendto, payload(token, "srh"), (A6, 9999))
    c = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    attempt("setsockopt IPV6_RTHDR (connected)", c.setsockopt, socket.IPPROTO_IPV6, IPV6_RTHDR,
            srh(D6, A6))
    attempt("connect %s" % A6, c.connect, (A6, 9999))
    attempt("send", c.send, payload(token, "srh connected"))
    late = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    attempt("connect %s (then the header)" % A6, late.connect, (A6, 9999))
    attempt("setsockopt IPV6_RTHDR after connect", late.setsockopt, socket.IPPROTO_IPV6,
            IPV6_RTHDR, srh(D6, A6))
    attempt("send", late.send, payload(token, "srh after connect"))


if __name__ == "__main__":
    main(globals())
