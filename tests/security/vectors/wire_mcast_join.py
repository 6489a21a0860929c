"""Source-specific multicast joins (MCAST_JOIN_SOURCE_GROUP, and a join with an MCAST_MSFILTER source list) whose source addresses spell the token: the kernel would send MLDv2 reports carrying them from its own socket, past the wire check; the joins must be refused and recorded."""
import time

from vlib import *  # noqa: F401,F403

POLICY = {"allow": ["[%s]:9999/udp" % A6]}
AS = ("nobody", "root")
SINKS_OK = []
RECORD = [("egress.sockopt", {"egress.decision": "deny", "egress.reason": "multicast",
                              "egress.sockopt.name": "MCAST_JOIN_SOURCE_GROUP"})]
MCAST_JOIN_GROUP, MCAST_JOIN_SOURCE_GROUP, MCAST_MSFILTER = 42, 46, 48
GROUP = "ff3e::4242"


def ifindex():
    return [i for i, n in socket.if_nameindex() if n.startswith("eff")][0]


def ss(raw16):
    """struct sockaddr_in6 in a sockaddr_storage (128 bytes)."""
    sa = struct.pack("=HHI16sI", socket.AF_INET6, 0, 0, raw16, 0)
    return sa + b"\0" * (128 - len(sa))


def sources(token):
    b = token.encode()
    b += b"\0" * (-len(b) % 16)
    return [b[i:i + 16] for i in range(0, len(b), 16)]


def job(token, args):
    idx, grp = ifindex(), socket.inet_pton(socket.AF_INET6, GROUP)
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    for src in sources(token):
        attempt("MCAST_JOIN_SOURCE_GROUP", s.setsockopt, socket.IPPROTO_IPV6,
                MCAST_JOIN_SOURCE_GROUP, struct.pack("=I4x", idx) + ss(grp) + ss(src))
    f = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    attempt("MCAST_JOIN_GROUP", f.setsockopt, socket.IPPROTO_IPV6, MCAST_JOIN_GROUP,
            struct.pack("=I4x", idx) + ss(grp))
    srcs = sources(token)
    attempt("MCAST_MSFILTER", f.setsockopt, socket.IPPROTO_IPV6, MCAST_MSFILTER,
            struct.pack("=I4x", idx) + ss(grp) + struct.pack("=II", 1, len(srcs))
            + b"".join(ss(x) for x in srcs))
    time.sleep(1)  # reports in flight


if __name__ == "__main__":
    main(globals())
