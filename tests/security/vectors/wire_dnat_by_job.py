"""A root job installs its own nftables DNAT in the fence namespace (netlink; the guard leaves CAP_NET_ADMIN) rewriting an allowed destination to a denied one, then connects to the allowed one."""
import subprocess

from vlib import *  # noqa: F401,F403

POLICY = {"allow": [A4B + ":8080"]}
AS = ("root",)
FEATURES = ["nftables"]
SINKS_OK = []
DENIED = [(D4, 8080, "tcp")]
TABLE = "efsec_jobdnat"
RECORD = [("egress.packet", {"egress.decision": "deny", "network.peer.address": D4})]


def setup(world):
    def teardown():  # whatever the job left
        subprocess.run(world.fence_argv(["nft", "delete", "table", "ip", TABLE]),
                       capture_output=True, timeout=10)
    return teardown


def job(token, args):
    script = ("add table ip %s\n"
              "add chain ip %s out { type nat hook output priority -100; }\n"
              "add rule ip %s out ip daddr %s tcp dport 8080 dnat to %s\n") % (
                  TABLE, TABLE, TABLE, A4B, D4)
    r = subprocess.run(["nft", "-f", "-"], input=script.encode(), capture_output=True)
    out(step="nft by the job", rc=r.returncode, err=r.stderr.decode()[-200:])
    attempt("connect %s:8080 (rewritten to %s)" % (A4B, D4), tcp_send, A4B, 8080, token)


if __name__ == "__main__":
    main(globals())
