"""TCP Fast Open: sendto(MSG_FASTOPEN) puts the token in the SYN to a denied host (regression)."""
from vlib import *  # noqa: F401,F403

POLICY = {"allow": [A4 + ":443"]}
FEATURES = ["tcp_fastopen"]
AS = ("nobody", "root")
DENIED = [(D4, 443, "tcp"), (D6, 443, "tcp")]
RECORD = [("egress.connect", {"egress.decision": "deny", "network.peer.address": D4}),
          ("egress.connect", {"egress.decision": "deny", "network.peer.address": D6})]


def tfo(host, token):
    s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(2)
    n = s.sendto(payload(token, "tfo"), socket.MSG_FASTOPEN, (host, 443))
    try:
        s.recv(100)
    except OSError:
        pass
    return n


def job(token, args):
    attempt("sendto MSG_FASTOPEN %s" % D4, tfo, D4, token)
    attempt("sendto MSG_FASTOPEN %s" % D6, tfo, D6, token)


if __name__ == "__main__":
    main(globals())
