"""dockerd starts after the job did (its socket, /run/docker.sock, did not exist when the job's namespace was made), and the job hands it the token. The job's /run has egressd's cover at that path whether or not the runtime ran then: the attempt is recorded as tamper_runtime, and nothing may arrive."""
from vlib import *  # noqa: F401,F403

globals().update(host_service_vector("/run/docker.sock", delay=1.0, wait=2.0,
                                     users=("nobody", "root")))
RECORD = [("egress.tamper", {"egress.reason": "tamper_runtime",
                             "egress.tamper.socket": "/run/docker.sock"})]

if __name__ == "__main__":
    main(globals())
