"""MPTCP (IPPROTO_MPTCP) socket connect() to a denied host, and to an allowed one (its subflows are TCP the fence never judged) (regression)."""
from vlib import *  # noqa: F401,F403

POLICY = {"allow": [A4 + ":443"]}
FEATURES = ["mptcp"]
AS = ("nobody", "root")
SINKS_OK = [A4]
DENIED = [(D4, 443, "tcp")]
RECORD = [("egress.socket", {"egress.decision": "deny"})]


def mp(host, token):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, IPPROTO_MPTCP)
    s.settimeout(2)
    s.connect((host, 443))
    return s.send(payload(token, "mptcp"))


def job(token, args):
    attempt("mptcp %s" % D4, mp, D4, token)
    attempt("mptcp %s" % A4, mp, A4, token)


if __name__ == "__main__":
    main(globals())
