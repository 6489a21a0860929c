"""The job binds a UDP port; a denied host sends it a datagram; the job answers with the token by sendto(peer) and by connect(peer)+send (regression: replies are judged as sends)."""
import time

from vlib import *  # noqa: F401,F403

POLICY = {"allow": [A4 + ":9999/udp"]}
AS = ("nobody",)
SINKS_OK = []
PORT = 7303
RECORD = [(("egress.send", "egress.connect", "egress.inbound"), {"egress.decision": "deny"})]


def job(token, args):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", PORT))
    s.settimeout(6)
    ready()
    got = attempt("recvfrom", s.recvfrom, 100)
    if got:
        peer = got[1]
        attempt("sendto peer %s" % (peer,), s.sendto, payload(token, "udp reply"), peer)
        attempt("connect peer", s.connect, peer)
        attempt("send", s.send, payload(token, "udp connected reply"))
    time.sleep(0.3)


def hosts(token, args):
    c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    c.bind((D4, 0))
    c.settimeout(2)
    attempt("sendto %s:%d" % (FENCE_V4, PORT), c.sendto, b"hello", (FENCE_V4, PORT))
    attempt("recv", lambda: c.recv(200).decode(errors="replace"))


if __name__ == "__main__":
    main(globals())
