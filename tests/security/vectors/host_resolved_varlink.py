"""A job hands the token to systemd-resolved's varlink socket (io.systemd.Resolve.ResolveHostname): the name is looked up by the service, outside the fence, past the job's DNS proxy, which sends it to a denied host. Its mount namespace covers the endpoint (cli/userns.c): nothing may arrive. Root jobs are not in that namespace (part 2)."""
from vlib import *  # noqa: F401,F403

POLICY = {"allow": [A4 + ":443"]}
AS = ("nobody",)
SINKS_OK = []
DENIED = [(D4, 443, "tcp")]
PATH = "/run/systemd/resolve/io.systemd.Resolve"


def outside(token, st):
    host_service(st, PATH, D4, 443)
    return {"args": [PATH]}


def outside_cleanup(st):
    host_service_cleanup(st)


def job(token, args):
    host_service_ask(args[0], token)


if __name__ == "__main__":
    main(globals())
