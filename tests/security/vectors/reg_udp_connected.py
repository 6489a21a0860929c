"""Connected UDP to a denied host (connect then send), IPv4 and IPv6; and re-connect of an allowed socket (regression)."""
from vlib import *  # noqa: F401,F403

POLICY = {"allow": [A4 + ":9999/udp", "[%s]:9999/udp" % A6]}
AS = ("nobody",)
SINKS_OK = [A4, A6]  # a refused re-connect leaves the socket on the allowed host
DENIED = [(D4, 9999, "udp"), (D6, 9999, "udp")]
RECORD = [("egress.connect", {"egress.decision": "deny", "network.peer.address": D4,
                              "network.transport": "udp"}),
          ("egress.connect", {"egress.decision": "deny", "network.peer.address": D6,
                              "network.transport": "udp"})]


def job(token, args):
    for fam, a, d in ((socket.AF_INET, A4, D4), (socket.AF_INET6, A6, D6)):
        s = socket.socket(fam, socket.SOCK_DGRAM)
        attempt("connect allowed %s" % a, s.connect, (a, 9999))
        attempt("send allowed", s.send, b"hello")
        attempt("re-connect denied %s" % d, s.connect, (d, 9999))
        attempt("send after re-connect", s.send, payload(token, "udp"))
        s.close()
        s = socket.socket(fam, socket.SOCK_DGRAM)
        attempt("connect denied %s" % d, s.connect, (d, 9999))
        attempt("send", s.send, payload(token, "udp"))
        s.close()


if __name__ == "__main__":
    main(globals())
