"""A job waits for systemd-resolved to restart (its varlink socket deleted and made anew, which takes a mount on the socket itself away in every namespace), then hands it the token, which it sends to a denied host. The job's mount namespace covers the whole directory (cli/userns.c): nothing may arrive."""
from vlib import *  # noqa: F401,F403

globals().update(host_service_vector(
    "/run/systemd/resolve/io.systemd.Resolve",
    restart=1.0, wait=2.5))

if __name__ == "__main__":
    main(globals())
