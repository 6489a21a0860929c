"""A job hands the token to a session bus in the runtime directory XDG_RUNTIME_DIR names, outside /run/user (a directory of the user's, mode 0700), which sends it to a denied host. The job's mount namespace covers that directory (cli/userns.c): nothing may arrive."""
from vlib import *  # noqa: F401,F403

globals().update(host_service_vector(
    "/tmp/ef-sec-xdg/bus",
    user_dir="/tmp/ef-sec-xdg", env={"XDG_RUNTIME_DIR": "/tmp/ef-sec-xdg"}))

if __name__ == "__main__":
    main(globals())
