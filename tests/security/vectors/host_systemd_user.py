"""A job hands the token to the user's systemd --user manager (/run/user/UID/systemd/private; systemd-run --user starts a process outside the job's cgroup), which sends it to a denied host. Its mount namespace covers the endpoint (cli/userns.c): nothing may arrive. Root jobs are not in that namespace (part 2)."""
from vlib import *  # noqa: F401,F403

POLICY = {"allow": [A4 + ":443"]}
AS = ("nobody",)
SINKS_OK = []
DENIED = [(D4, 443, "tcp")]
PATH = "/run/user/65534/systemd/private"


def outside(token, st):
    host_service(st, PATH, D4, 443, user_dir="/run/user/65534")
    return {"args": [PATH]}


def outside_cleanup(st):
    host_service_cleanup(st)


def job(token, args):
    host_service_ask(args[0], token)


if __name__ == "__main__":
    main(globals())
