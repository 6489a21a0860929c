"""Under the default loopback setting, the job sends the token to a relay outside the job on 127.0.0.1 that forwards to a denied host (a proxy, a cache, a container's published port)."""
from vlib import *  # noqa: F401,F403

POLICY = {"allow": [A4 + ":443"]}  # no "loopback" key: the default
AS = ("nobody", "root")
SINKS_OK = []
DENIED = [(D4, 443, "tcp")]
LISTEN, PORT, PROTO = "127.0.0.1", 7401, "tcp"
RECORD = [("egress.connect", {"egress.decision": "deny", "network.peer.port": PORT,
                              "egress.reason": ("loopback", "no_rule")})]


def outside(token, st):
    fork_relay(st, LISTEN, PORT, D4, 443 if PROTO == "tcp" else 9999, udp=PROTO == "udp")
    return {}


def job(token, args):
    if PROTO == "udp":
        attempt("sendto relay", udp_sendto, LISTEN, PORT, token)
    else:
        attempt("connect relay %s:%d" % (LISTEN, PORT), tcp_send, LISTEN, PORT, token)


if __name__ == "__main__":
    main(globals())
