"""A job hands the token to a tmux server of uid 65534 outside the fence (/tmp/tmux-65534/default; tmux send-keys types a command into a shell outside the fence), which sends it to a denied host. An unprivileged job of that user gets the endpoint covered in its mount namespace (cli/userns.c); a root job, which may connect to any user's socket, gets every user's tmux, X11, ssh-agent and session-bus directory in /tmp covered (cli/overlay.c): nothing may arrive."""
from vlib import *  # noqa: F401,F403

globals().update(host_service_vector("/tmp/tmux-65534/default", user_dir="/tmp/tmux-65534",
                                     users=("nobody", "root")))

if __name__ == "__main__":
    main(globals())
