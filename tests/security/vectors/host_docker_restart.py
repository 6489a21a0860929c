"""A job waits for dockerd to restart (its socket, /run/docker.sock, deleted and made anew: the kernel then takes a mount on the old socket away in every namespace), then hands the token to the new socket. An unprivileged job's /run is a tmpfs of its namespace's own with the host's entries bound back and egressd's cover where the socket was (cli/userns.c rebuild_run()); a root job's is an overlay with the cover on top: the attempt is recorded as tamper_runtime, and nothing may arrive."""
from vlib import *  # noqa: F401,F403

globals().update(host_service_vector("/run/docker.sock", restart=1.0, wait=2.5,
                                     users=("nobody", "root")))
RECORD = [("egress.tamper", {"egress.reason": "tamper_runtime",
                             "egress.tamper.socket": "/run/docker.sock"})]

if __name__ == "__main__":
    main(globals())
