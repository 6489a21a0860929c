"""UDP_CORK and MSG_MORE: a datagram begun towards an allowed host, then sendto() a denied host with the token while corked, and a fresh datagram to the denied host after the cork."""
from vlib import *  # noqa: F401,F403

POLICY = {"allow": [A4 + ":9999/udp"]}
AS = ("nobody",)
SINKS_OK = [A4]  # appended data goes to the destination the corked datagram began with
DENIED = [(D4, 9999, "udp")]
RECORD = [("egress.send", {"egress.decision": "deny", "network.peer.address": D4,
                           "egress.reason": "no_rule"}),
          # the corked calls: the kernel ignored the address, the record keeps it
          ("egress.send", {"egress.decision": "deny", "network.peer.address": D4,
                           "egress.reason": "udp_corked"}),
          ("egress.send", {"egress.decision": "deny", "network.peer.address": D6,
                           "egress.reason": "udp_corked"})]


def job(token, args):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    attempt("UDP_CORK on", s.setsockopt, socket.IPPROTO_UDP, UDP_CORK, 1)
    attempt("sendto allowed (corked)", s.sendto, b"part1 ", (A4, 9999))
    attempt("sendto denied (corked)", s.sendto, payload(token, "cork"), (D4, 9999))
    attempt("UDP_CORK off", s.setsockopt, socket.IPPROTO_UDP, UDP_CORK, 0)
    attempt("sendto denied (uncorked)", s.sendto, payload(token, "after cork"), (D4, 9999))
    m = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    attempt("MSG_MORE allowed", m.sendto, b"part1 ", socket.MSG_MORE, (A4, 9999))
    attempt("MSG_MORE denied", m.sendto, payload(token, "msg_more"), socket.MSG_MORE, (D4, 9999))
    attempt("final denied", m.sendto, b"end", (D4, 9999))
    m6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    attempt("MSG_MORE v6 mapped allowed", m6.sendto, b"p1 ", socket.MSG_MORE,
            ("::ffff:" + A4, 9999))
    attempt("MSG_MORE v6 denied", m6.sendto, payload(token, "v6 more"), (D6, 9999))


if __name__ == "__main__":
    main(globals())
