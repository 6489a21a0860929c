"""Default loopback setting: a relay outside the job on another loopback address (127.0.0.2, not 127.0.0.1), reached through an AF_INET6 socket as ::ffff:127.0.0.2."""
from vlib import *  # noqa: F401,F403
import loopback_relay_default as base

POLICY = {"allow": [A4 + ":443"]}
AS = ("nobody",)
SINKS_OK = []
DENIED = [(D4, 443, "tcp")]
base.LISTEN, base.PORT = "127.0.0.2", 7404
RECORD = [("egress.connect", {"egress.decision": "deny", "network.peer.port": 7404})]
outside = base.outside


def job(token, args):
    attempt("connect ::ffff:127.0.0.2:7404", tcp_send, "::ffff:127.0.0.2", 7404, token,
            socket.AF_INET6)


if __name__ == "__main__":
    main(globals())
