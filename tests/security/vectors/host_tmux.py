"""A job hands the token to the user's tmux server (/tmp/tmux-UID/default; tmux send-keys types a command into a shell outside the fence), which sends it to a denied host. Its mount namespace covers the endpoint (cli/userns.c): nothing may arrive. Root jobs are not in that namespace (part 2)."""
from vlib import *  # noqa: F401,F403

globals().update(host_service_vector("/tmp/tmux-65534/default", user_dir="/tmp/tmux-65534"))

if __name__ == "__main__":
    main(globals())
