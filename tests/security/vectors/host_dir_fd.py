"""A job inherits a directory descriptor of the user's runtime directory, opened outside the fence, and reaches the session bus through it (/proc/self/fd/N/bus resolves in the host's mount tree, under the covers of the job's): egressctl run closes inherited directories (cli/inherit.c); nothing may arrive."""
from vlib import *  # noqa: F401,F403

POLICY = {"allow": [A4 + ":443"]}
AS = ("nobody",)
SINKS_OK = []
DENIED = [(D4, 443, "tcp")]
PATH = "/run/user/65534/bus"


def outside(token, st):
    host_service(st, PATH, D4, 443, user_dir="/run/user/65534")
    fd = os.open("/run/user/65534", os.O_RDONLY | os.O_DIRECTORY)
    return {"fds": [fd], "args": ["/proc/self/fd/%d/bus" % fd]}


def job(token, args):
    host_service_ask(args[0], token)


def outside_cleanup(st):
    host_service_cleanup(st)


if __name__ == "__main__":
    main(globals())
