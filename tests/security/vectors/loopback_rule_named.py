"""A rule names a loopback listener outside the job (127.0.0.1:7406, a service container the runner started): the job reaches it, and the connection is recorded; another local port (7407) stays closed."""
from vlib import *  # noqa: F401,F403

POLICY = {"allow": [A4 + ":443", "127.0.0.1:7406"]}
AS = ("nobody",)
SINKS_OK = [D4B]  # what the named service forwards to is its business
DENIED = [(D4, 443, "tcp")]
RECORD = [("*", {"egress.decision": "allow", "network.peer.port": 7406}),
          ("*", {"egress.decision": "deny", "network.peer.port": 7407})]


def outside(token, st):
    fork_relay(st, "127.0.0.1", 7406, D4B, 443)
    fork_relay(st, "127.0.0.1", 7407, D4, 443)
    return {}


def job(token, args):
    attempt("connect named 127.0.0.1:7406", tcp_send, "127.0.0.1", 7406, token)
    attempt("connect unnamed 127.0.0.1:7407", tcp_send, "127.0.0.1", 7407, token)


if __name__ == "__main__":
    main(globals())
