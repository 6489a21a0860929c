"""IPv6 routing headers type 0, 2 and 4 as ancillary data (IPV6_RTHDR cmsg) of one sendmsg() to an allowed host: no datagram may leave for the denied hop."""
from vlib import *  # noqa: F401,F403

POLICY = {"allow": ["[%s]:9999/udp" % A6]}
AS = ("nobody", "root")
SINKS_OK = [A4, A6]  # the allowed host may get it: what matters is where else it went


def hdr(typ):
    if typ == 4:
        return struct.pack("!BBBBBBH", 0, 4, 4, 1, 1, 0, 0) + \
            socket.inet_pton(socket.AF_INET6, A6) + socket.inet_pton(socket.AF_INET6, D6)
    return struct.pack("!BBBBI", 0, 2, typ, 1, 0) + socket.inet_pton(socket.AF_INET6, D6)


def job(token, args):
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    for typ in (0, 2, 4):
        attempt("sendmsg IPV6_RTHDR cmsg type %d" % typ, s.sendmsg,
                [payload(token, "rthdr cmsg %d" % typ)],
                [(socket.IPPROTO_IPV6, IPV6_RTHDR, hdr(typ))], 0, (A6, 9999))


if __name__ == "__main__":
    main(globals())
