"""Default loopback setting: a relay outside the job on [::1] forwards the job's token to a denied host."""
from vlib import *  # noqa: F401,F403
import loopback_relay_default as base

POLICY = {"allow": [A4 + ":443"]}
AS = ("nobody",)
SINKS_OK = []
DENIED = [(D4, 443, "tcp")]
base.LISTEN, base.PORT = "::1", 7402
RECORD = [("egress.connect", {"egress.decision": "deny", "network.peer.port": 7402,
                              "egress.reason": ("loopback", "no_rule")})]
outside, job = base.outside, base.job

if __name__ == "__main__":
    main(globals())
