"""Datagrams every host on the link receives: IPv4 multicast, the subnet and limited broadcast (SO_BROADCAST), IPv6 all-nodes multicast and a link-local unicast on the veth, each with the token (regression)."""
from vlib import *  # noqa: F401,F403

POLICY = {"allow": [A4 + ":9999/udp"]}
AS = ("nobody", "root")
SINKS_OK = []
RECORD = [("egress.send", {"egress.decision": "deny"})]


def ifindex():
    return [i for i, n in socket.if_nameindex() if n.startswith("eff")][0]


def job(token, args):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
    for dest in ("224.0.0.1", "239.1.2.3", "198.18.0.255", "255.255.255.255"):
        attempt("sendto %s" % dest, s.sendto, payload(token, "bcast " + dest), (dest, 9999))
    s6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    idx = ifindex()
    for dest in ("ff02::1", "fe80::1"):
        attempt("sendto %s%%%d" % (dest, idx), s6.sendto, payload(token, "mcast6 " + dest),
                (dest, 9999, 0, idx))


if __name__ == "__main__":
    main(globals())
