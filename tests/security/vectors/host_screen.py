"""A job hands the token to the user's screen sessions (/run/screen/S-USER; screen -X stuff types a command into a shell outside the fence), which sends it to a denied host. Its mount namespace covers the endpoint (cli/userns.c): nothing may arrive. Root jobs are not in that namespace (part 2)."""
from vlib import *  # noqa: F401,F403

POLICY = {"allow": [A4 + ":443"]}
AS = ("nobody",)
SINKS_OK = []
DENIED = [(D4, 443, "tcp")]
PATH = "/run/screen/S-nobody/4242.pts-0.runner"


def outside(token, st):
    host_service(st, PATH, D4, 443, user_dir="/run/screen/S-nobody")
    return {"args": [PATH]}


def outside_cleanup(st):
    host_service_cleanup(st)


def job(token, args):
    host_service_ask(args[0], token)


if __name__ == "__main__":
    main(globals())
