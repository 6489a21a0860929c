"""A job (any uid: root, or one the socket's mode lets in, as the docker group or an administrator's chmod 666 would) hands the token to dockerd's socket, /run/docker.sock, where dockerd would run a container for it outside the fence (host network, the host's / mounted). The job's mount namespace has egressd's cover on the socket (cli/userns.c, daemon/docker/runtimes.c): the job gets a Docker API error, the attempt is recorded as tamper_runtime, and nothing may arrive."""
from vlib import *  # noqa: F401,F403

globals().update(host_service_vector("/run/docker.sock", users=("nobody", "root")))
RECORD = [("egress.tamper", {"egress.reason": "tamper_runtime",
                             "egress.tamper.socket": "/run/docker.sock"})]

if __name__ == "__main__":
    main(globals())
