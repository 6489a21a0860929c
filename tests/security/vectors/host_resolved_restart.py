"""A job waits for systemd-resolved to restart (its varlink socket deleted and made anew, which takes a mount on the socket itself away in every namespace), then hands it the token, which it sends to a denied host. The job's mount namespace covers the whole directory (cli/userns.c): nothing may arrive."""
from vlib import *  # noqa: F401,F403

POLICY = {"allow": [A4 + ":443"]}
AS = ("nobody",)
SINKS_OK = []
DENIED = [(D4, 443, "tcp")]
PATH = "/run/systemd/resolve/io.systemd.Resolve"


def outside(token, st):
    host_service(st, PATH, D4, 443, restart=1.0)
    return {"args": [PATH]}


def job(token, args):
    host_service_ask(args[0], token, wait=2.5)


def outside_cleanup(st):
    host_service_cleanup(st)


if __name__ == "__main__":
    main(globals())
