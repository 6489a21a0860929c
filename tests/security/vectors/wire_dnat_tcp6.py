"""A host nftables DNAT in the fence namespace rewrites an allowed IPv6 TCP destination to a denied one after connect() was judged."""
from vlib import *  # noqa: F401,F403
from wire_dnat_tcp4 import nat_setup

POLICY = {"allow": ["[%s]:443" % A6B]}
AS = ("nobody",)
FEATURES = ["nftables"]
SINKS_OK = []
DENIED = [(D6, 443, "tcp")]
RECORD = [("egress.packet", {"egress.decision": "deny", "network.peer.address": D6})]


def setup(world):
    return nat_setup(world, "ip6", "efsec_dnat6", "ip6 daddr %s tcp dport 443 dnat to %s" % (A6B, D6))


def job(token, args):
    attempt("connect [%s]:443 (rewritten to %s)" % (A6B, D6), tcp_send, A6B, 443, token)


if __name__ == "__main__":
    main(globals())
