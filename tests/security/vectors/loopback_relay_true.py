"""With "loopback": true the job may use any local listener: the relay carries the token to the denied host by the policy's own choice, and each such connection must be recorded."""
from vlib import *  # noqa: F401,F403
import loopback_relay_default as base

POLICY = {"allow": [A4 + ":443"], "loopback": True}
AS = ("nobody",)
SINKS_OK = [D4]  # allowed by "loopback": true; what must hold is the record
base.LISTEN, base.PORT = "127.0.0.1", 7405
RECORD = [("*", {"egress.decision": "allow", "network.peer.port": 7405,
                              "network.peer.address": "127.0.0.1"})]
outside, job = base.outside, base.job

if __name__ == "__main__":
    main(globals())
