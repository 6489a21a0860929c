"""A root job tries to install its own nftables DNAT in the fence namespace (the runner's network: netlink, CAP_NET_ADMIN) rewriting an allowed destination to a denied one, then connects to the allowed one. The job lacks CAP_NET_ADMIN (cli/guard.c keeps the container runtimes' default set): the rules never go in, and the refusal is recorded (tamper_capability, CAP_NET_ADMIN). Were they in, the wire check would drop the rewritten packets (egress.packet deny)."""
import os
import subprocess

from vlib import *  # noqa: F401,F403

POLICY = {"allow": [A4B + ":8080"]}
AS = ("root",)
FEATURES = ["nftables"]
SINKS_OK = [A4B]  # the allowed destination: the token may go there
DENIED = [(D4, 8080, "tcp")]
TABLE = "efsec_jobdnat"
# recorded where the kernel has the capability/cap_capable tracepoint (6.13+)
RECORD = [("egress.tamper", {"egress.decision": "deny", "egress.reason": "tamper_capability",
                             "egress.tamper.capability": "CAP_NET_ADMIN"})] if os.path.exists(
    "/sys/kernel/tracing/events/capability/cap_capable") else []


def setup(world):
    def teardown():  # whatever the job left
        subprocess.run(world.fence_argv(["nft", "delete", "table", "ip", TABLE]),
                       capture_output=True, timeout=10)
    return teardown


def judge(ev):
    """The job's table must not be in the fence namespace (the runner's)."""
    r = subprocess.run(ev.world.fence_argv(["nft", "list", "table", "ip", TABLE]),
                       capture_output=True, timeout=10)
    if r.returncode == 0:
        return ["REACHED: the job's nft table %s is in the runner's namespace: %s" % (
            TABLE, r.stdout.decode(errors="replace")[:300])]
    return []


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
