"""Default loopback setting: a UDP relay outside the job on 127.0.0.1 forwards the job's datagram with the token to a denied host."""
from vlib import *  # noqa: F401,F403
import loopback_relay_default as base

POLICY = {"allow": [A4 + ":443"]}
AS = ("nobody",)
SINKS_OK = []
DENIED = [(D4, 9999, "udp")]
base.LISTEN, base.PORT, base.PROTO = "127.0.0.1", 7403, "udp"
RECORD = [(("egress.send", "egress.connect"), {"egress.decision": "deny",
                                              "network.peer.port": 7403})]
outside, job = base.outside, base.job

if __name__ == "__main__":
    main(globals())
