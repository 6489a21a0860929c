"""Unconnected UDP sendto() to denied hosts, IPv4 and IPv6, after one to an allowed host (regression)."""
from vlib import *  # noqa: F401,F403

POLICY = {"allow": [A4 + ":9999/udp", "[%s]:9999/udp" % A6]}
AS = ("nobody", "root")
SINKS_OK = []
DENIED = [(D4, 9999, "udp"), (D6, 9999, "udp")]
RECORD = [("egress.send", {"egress.decision": "deny", "network.peer.address": D4}),
          ("egress.send", {"egress.decision": "deny", "network.peer.address": D6})]


def job(token, args):
    for fam, a, d in ((socket.AF_INET, A4, D4), (socket.AF_INET6, A6, D6)):
        s = socket.socket(fam, socket.SOCK_DGRAM)
        attempt("sendto allowed %s" % a, s.sendto, b"hello", (a, 9999))
        attempt("sendto denied %s" % d, s.sendto, payload(token, "udp"), (d, 9999))
        s.close()
    m = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    attempt("sendto mapped ::ffff:%s" % D4, m.sendto, payload(token, "udp mapped"),
            ("::ffff:" + D4, 9999))


if __name__ == "__main__":
    main(globals())
