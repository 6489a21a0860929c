"""A job hands the token to the user's session bus, which sends it to a denied host; the bus starts after the job did (the runtime directory was there, the socket was not: a cover of the socket alone would miss it). Its mount namespace covers the whole directory (cli/userns.c): nothing may arrive. Root jobs are not in that namespace (part 2)."""
from vlib import *  # noqa: F401,F403

globals().update(host_service_vector(
    "/run/user/65534/bus",
    user_dir="/run/user/65534", delay=1.0, wait=2.0))

if __name__ == "__main__":
    main(globals())
