"""The job listens on a dual-stack [::] socket; a client on a denied IPv4 host connects over IPv4 (the accepted socket has a v4-mapped peer) and the job writes the token to it."""
from vlib import *  # noqa: F401,F403
import inbound_tcp4_denied_peer as base

POLICY = {"allow": [A4 + ":443"]}
AS = ("nobody",)
SINKS_OK = []
RECORD = [("egress.inbound", {"egress.decision": "deny"})]
base.PORT, base.PEER, base.LISTEN, base.TO = 7304, D4B, "::", FENCE_V4
job, hosts = base.job, base.hosts

if __name__ == "__main__":
    main(globals())
