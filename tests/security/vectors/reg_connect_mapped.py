"""An AF_INET6 socket connect()s to ::ffff:<denied IPv4>, TCP and connected UDP (regression)."""
from vlib import *  # noqa: F401,F403

POLICY = {"allow": [A4 + ":443"]}
AS = ("nobody",)
DENIED = [(D4, 443, "tcp"), (D4, 9999, "udp")]
RECORD = [("egress.connect", {"egress.decision": "deny", "network.peer.address": D4,
                              "network.transport": "tcp"}),
          ("egress.connect", {"egress.decision": "deny", "network.peer.address": D4,
                              "network.transport": "udp"})]


def udp(token):
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.connect(("::ffff:" + D4, 9999))
    return s.send(payload(token, "mapped udp"))


def job(token, args):
    attempt("tcp ::ffff:%s" % D4, tcp_send, "::ffff:" + D4, 443, token, socket.AF_INET6)
    attempt("udp ::ffff:%s" % D4, udp, token)


if __name__ == "__main__":
    main(globals())
