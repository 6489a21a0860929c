"""UDP GSO: UDP_SEGMENT set on the socket and by cmsg, one big sendto() split into segments to a denied host (regression)."""
from vlib import *  # noqa: F401,F403

POLICY = {"allow": [A4 + ":9999/udp"]}
FEATURES = ["udp_gso"]
AS = ("nobody",)
DENIED = [(D4, 9999, "udp")]
RECORD = [("egress.send", {"egress.decision": "deny", "network.peer.address": D4})]


def gso_opt(token):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_UDP, UDP_SEGMENT, 100)
    return s.sendto(payload(token, "gso") * 20, (D4, 9999))


def gso_cmsg(token):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    return s.sendmsg([payload(token, "gso-cmsg") * 20],
                     [(socket.IPPROTO_UDP, UDP_SEGMENT, struct.pack("=H", 100))], 0, (D4, 9999))


def job(token, args):
    attempt("UDP_SEGMENT sockopt", gso_opt, token)
    attempt("UDP_SEGMENT cmsg", gso_cmsg, token)


if __name__ == "__main__":
    main(globals())
