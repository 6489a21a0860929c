"""A job hands the token to nscd's socket: a lookup through it leaves from nscd, outside the fence, which sends it to a denied host. Its mount namespace covers the endpoint (cli/userns.c): nothing may arrive. Root jobs are not in that namespace (part 2)."""
from vlib import *  # noqa: F401,F403

globals().update(host_service_vector("/run/nscd/socket"))

if __name__ == "__main__":
    main(globals())
