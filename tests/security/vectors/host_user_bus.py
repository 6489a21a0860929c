"""A job hands the token to the user's session bus in its runtime directory (/run/user/UID/bus): a service on it acts outside the fence, which sends it to a denied host. Its mount namespace covers the endpoint (cli/userns.c): nothing may arrive. Root jobs are not in that namespace (part 2)."""
from vlib import *  # noqa: F401,F403

globals().update(host_service_vector("/run/user/65534/bus", user_dir="/run/user/65534"))

if __name__ == "__main__":
    main(globals())
