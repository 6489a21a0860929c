"""A UDP socket connected to an allowed host sends with an explicit address, sendto(denied), IPv4 and IPv6: the explicit address wins in Linux, so it must be judged (regression)."""
from vlib import *  # noqa: F401,F403

POLICY = {"allow": [A4 + ":9999/udp", "[%s]:9999/udp" % A6]}
AS = ("nobody",)
SINKS_OK = [A4, A6]
DENIED = [(D4, 9999, "udp"), (D6, 9999, "udp")]
RECORD = [("egress.send", {"egress.decision": "deny", "network.peer.address": D4}),
          ("egress.send", {"egress.decision": "deny", "network.peer.address": D6})]


def job(token, args):
    for fam, a, d in ((socket.AF_INET, A4, D4), (socket.AF_INET6, A6, D6)):
        s = socket.socket(fam, socket.SOCK_DGRAM)
        attempt("connect %s" % a, s.connect, (a, 9999))
        attempt("sendto %s on the connected socket" % d, s.sendto, payload(token, "sendto"),
                (d, 9999))
        attempt("sendmsg %s on the connected socket" % d, s.sendmsg, [payload(token, "sendmsg")],
                [], 0, (d, 9999))


if __name__ == "__main__":
    main(globals())
