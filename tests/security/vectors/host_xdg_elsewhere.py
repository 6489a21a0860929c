"""A job hands the token to a session bus in the runtime directory XDG_RUNTIME_DIR names, outside /run/user (a directory of the user's, mode 0700), which sends it to a denied host. The job's mount namespace covers that directory (cli/userns.c): nothing may arrive."""
from vlib import *  # noqa: F401,F403

POLICY = {"allow": [A4 + ":443"]}
AS = ("nobody",)
SINKS_OK = []
DENIED = [(D4, 443, "tcp")]
PATH = "/tmp/ef-sec-xdg/bus"


def outside(token, st):
    host_service(st, PATH, D4, 443, user_dir="/tmp/ef-sec-xdg")
    return {"args": [PATH], "env": {"XDG_RUNTIME_DIR": "/tmp/ef-sec-xdg"}}


def job(token, args):
    host_service_ask(args[0], token)


def outside_cleanup(st):
    host_service_cleanup(st)


if __name__ == "__main__":
    main(globals())
