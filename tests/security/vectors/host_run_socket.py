"""A root job connects to a service's socket under /run that acts for whoever connects as root (dockerd's /run/docker.sock starts a privileged container; containerd, podman and snapd alike), and it sends the token to a denied host. A root job's /run is copy-on-write (cli/overlay.c): the host's sockets there cannot be reached through it, and nothing may arrive."""
from vlib import *  # noqa: F401,F403

globals().update(host_service_vector("/run/efsec-docker.sock", users=("root",)))

if __name__ == "__main__":
    main(globals())
