"""A job hands the token to a session bus named by DBUS_SESSION_BUS_ADDRESS (unix:path= outside the runtime directory), which sends it to a denied host. Its mount namespace covers the endpoint (cli/userns.c): nothing may arrive. Root jobs are not in that namespace (part 2)."""
from vlib import *  # noqa: F401,F403

POLICY = {"allow": [A4 + ":443"]}
AS = ("nobody",)
SINKS_OK = []
DENIED = [(D4, 443, "tcp")]
PATH = "/tmp/ef-sec-bus/bus"

ADDRESS = "unix:path=/tmp/ef-sec%2dbus/bus,guid=0123456789abcdef0123456789abcdef"


def outside(token, st):
    host_service(st, PATH, D4, 443, user_dir="/tmp/ef-sec-bus")
    return {"args": [PATH], "env": {"DBUS_SESSION_BUS_ADDRESS": ADDRESS}}


def outside_cleanup(st):
    host_service_cleanup(st)


def job(token, args):
    host_service_ask(args[0], token)


if __name__ == "__main__":
    main(globals())
