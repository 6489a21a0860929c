"""A host nftables DNAT in the fence namespace rewrites an allowed UDP destination (unconnected sendto and connected) to a denied one, port changed too."""
from vlib import *  # noqa: F401,F403
from wire_dnat_tcp4 import nat_setup

POLICY = {"allow": [A4B + ":123/udp"]}
AS = ("nobody", "root")
FEATURES = ["nftables"]
SINKS_OK = []
DENIED = [(D4, 9999, "udp")]
RECORD = [("egress.packet", {"egress.decision": "deny", "network.peer.address": D4})]


def setup(world):
    return nat_setup(world, "ip", "efsec_dnatu4",
                     "ip daddr %s udp dport 123 dnat to %s:9999" % (A4B, D4))


def job(token, args):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    attempt("sendto %s:123 (rewritten)" % A4B, s.sendto, payload(token, "dnat udp"), (A4B, 123))
    c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    attempt("connect %s:123" % A4B, c.connect, (A4B, 123))
    attempt("send (rewritten)", c.send, payload(token, "dnat udp connected"))


if __name__ == "__main__":
    main(globals())
