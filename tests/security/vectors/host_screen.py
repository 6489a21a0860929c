"""A job hands the token to the user's screen sessions (/run/screen/S-USER; screen -X stuff types a command into a shell outside the fence), which sends it to a denied host. Its mount namespace covers the endpoint (cli/userns.c): nothing may arrive. Root jobs are not in that namespace (part 2)."""
from vlib import *  # noqa: F401,F403

globals().update(host_service_vector(
    "/run/screen/S-nobody/4242.pts-0.runner",
    user_dir="/run/screen/S-nobody"))

if __name__ == "__main__":
    main(globals())
