"""The job listens on TCP over IPv6; a client on a denied IPv6 host connects and the job writes the token to it."""
from vlib import *  # noqa: F401,F403
import inbound_tcp4_denied_peer as base

POLICY = {"allow": ["[%s]:443" % A6]}
AS = ("nobody",)
SINKS_OK = []
RECORD = [("egress.inbound", {"egress.decision": "deny"})]
base.PORT, base.PEER, base.LISTEN, base.TO = 7302, D6, "::", FENCE_V6
job, hosts = base.job, base.hosts

if __name__ == "__main__":
    main(globals())
