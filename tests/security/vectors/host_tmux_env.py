"""A job hands the token to the tmux server its $TMUX names (a socket outside /tmp/tmux-UID, as with TMUX_TMPDIR or tmux -S), which types it into a shell outside the fence that sends it to a denied host. The job's mount namespace covers that socket (cli/userns.c): nothing may arrive."""
from vlib import *  # noqa: F401,F403

POLICY = {"allow": [A4 + ":443"]}
AS = ("nobody",)
SINKS_OK = []
DENIED = [(D4, 443, "tcp")]
PATH = "/tmp/ef-sec-tmux/main"


def outside(token, st):
    host_service(st, PATH, D4, 443, user_dir="/tmp/ef-sec-tmux")
    return {"args": [PATH], "env": {"TMUX": PATH + ",4242,0"}}


def job(token, args):
    host_service_ask(args[0], token)


def outside_cleanup(st):
    host_service_cleanup(st)


if __name__ == "__main__":
    main(globals())
