"""A job hands the token to the user's session bus, which sends it to a denied host; the bus starts after the job did (the runtime directory was there, the socket was not: a cover of the socket alone would miss it). Its mount namespace covers the whole directory (cli/userns.c): nothing may arrive. Root jobs are not in that namespace (part 2)."""
from vlib import *  # noqa: F401,F403

POLICY = {"allow": [A4 + ":443"]}
AS = ("nobody",)
SINKS_OK = []
DENIED = [(D4, 443, "tcp")]
PATH = "/run/user/65534/bus"


def outside(token, st):
    host_service(st, PATH, D4, 443, user_dir="/run/user/65534", delay=1.0)
    return {"args": [PATH]}


def outside_cleanup(st):
    host_service_cleanup(st)


def job(token, args):
    host_service_ask(args[0], token, wait=2.0)


if __name__ == "__main__":
    main(globals())
