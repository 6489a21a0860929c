"""The job listens on TCP; a client on a denied host connects to it (from the hosts' side) and the job writes the token to that connection."""
import time

from vlib import *  # noqa: F401,F403

POLICY = {"allow": [A4 + ":443"]}
AS = ("nobody", "root")
SINKS_OK = []
PORT, PEER, LISTEN, TO = 7301, D4, "0.0.0.0", FENCE_V4
RECORD = [("egress.inbound", {"egress.decision": "deny"})]


def job(token, args):
    fam = socket.AF_INET6 if ":" in LISTEN else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if fam == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    attempt("listen %s:%d" % (LISTEN, PORT), s.bind, (LISTEN, PORT))
    s.listen(4)
    s.settimeout(6)
    ready()
    c = attempt("accept", lambda: s.accept()[0])
    if c is not None:
        attempt("send the token to the peer", c.sendall, payload(token, "inbound"))
        time.sleep(0.5)


def hosts(token, args):
    fam = socket.AF_INET6 if ":" in PEER else socket.AF_INET
    c = socket.socket(fam, socket.SOCK_STREAM)
    c.bind((PEER, 0))
    c.settimeout(3)
    attempt("connect %s:%d from %s" % (TO, PORT, PEER), c.connect, (TO, PORT))
    attempt("recv", lambda: c.recv(200).decode(errors="replace"))


if __name__ == "__main__":
    main(globals())
