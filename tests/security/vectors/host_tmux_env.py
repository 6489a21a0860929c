"""A job hands the token to the tmux server its $TMUX names (a socket outside /tmp/tmux-UID, as with TMUX_TMPDIR or tmux -S), which types it into a shell outside the fence that sends it to a denied host. The job's mount namespace covers that socket (cli/userns.c): nothing may arrive."""
from vlib import *  # noqa: F401,F403

globals().update(host_service_vector(
    "/tmp/ef-sec-tmux/main",
    user_dir="/tmp/ef-sec-tmux", env={"TMUX": "/tmp/ef-sec-tmux/main,4242,0"}))

if __name__ == "__main__":
    main(globals())
