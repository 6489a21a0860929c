"""A host nftables DNAT in the fence namespace (set up by the test as root, not by the job) rewrites an allowed IPv4 TCP destination to a denied one after connect() was judged."""
import subprocess

from vlib import *  # noqa: F401,F403

POLICY = {"allow": [A4B + ":443"]}
AS = ("nobody", "root")
FEATURES = ["nftables"]
SINKS_OK = []
DENIED = [(D4, 443, "tcp")]
RECORD = [("egress.packet", {"egress.decision": "deny", "network.peer.address": D4})]
FAMILY, TABLE = "ip", "efsec_dnat4"
RULE = "ip daddr %s tcp dport 443 dnat to %s" % (A4B, D4)


def setup(world):
    return nat_setup(world, FAMILY, TABLE, RULE)


def nat_setup(world, family, table, rule):
    script = ("add table %s %s\n"
              "add chain %s %s out { type nat hook output priority -100; }\n"
              "add rule %s %s out %s\n") % (family, table, family, table, family, table, rule)
    r = subprocess.run(world.fence_argv(["nft", "-f", "-"]), input=script.encode(),
                       capture_output=True, timeout=10)
    if r.returncode != 0:
        raise AssertionError("nft DNAT setup failed: %s" % r.stderr.decode().strip())

    def teardown():
        subprocess.run(world.fence_argv(["nft", "delete", "table", family, table]),
                       capture_output=True, timeout=10)
    return teardown


def job(token, args):
    attempt("connect %s:443 (rewritten to %s)" % (A4B, D4), tcp_send, A4B, 443, token)


if __name__ == "__main__":
    main(globals())
