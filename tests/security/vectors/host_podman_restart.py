"""A job waits for the system Podman service to restart (its socket, /run/podman/podman.sock, deleted and made anew, which would take a cover on the socket itself away in every namespace), then hands it the token, which it sends to a denied host. The cover is on Podman's directory and stays: the attempt is recorded as tamper_runtime, and nothing may arrive."""
from vlib import *  # noqa: F401,F403

globals().update(host_service_vector("/run/podman/podman.sock", restart=1.0, wait=2.5,
                                     users=("nobody", "root")))
RECORD = [("egress.tamper", {"egress.reason": "tamper_runtime",
                             "egress.tamper.socket": "/run/podman/podman.sock"})]

if __name__ == "__main__":
    main(globals())
