"""A job hands the token to containerd's socket, /run/containerd/containerd.sock (ctr and nerdctl run containers through it, as root, outside the fence). The job's mount namespace covers containerd's whole directory with a tmpfs that holds only egressd's cover: the attempt is recorded as tamper_runtime, and nothing may arrive."""
from vlib import *  # noqa: F401,F403

globals().update(host_service_vector("/run/containerd/containerd.sock", users=("nobody", "root")))
RECORD = [("egress.tamper", {"egress.reason": "tamper_runtime",
                             "egress.tamper.socket": "/run/containerd/containerd.sock"})]

if __name__ == "__main__":
    main(globals())
