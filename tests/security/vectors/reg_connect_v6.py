"""IPv6 TCP connect() to a denied host, then send the token (regression)."""
from vlib import *  # noqa: F401,F403

POLICY = {"allow": ["[%s]:443" % A6]}
AS = ("nobody", "root")
DENIED = [(D6, 443, "tcp")]
RECORD = [("egress.connect", {"egress.decision": "deny", "network.peer.address": D6})]


def job(token, args):
    attempt("connect [%s]:443" % D6, tcp_send, D6, 443, token)


if __name__ == "__main__":
    main(globals())
