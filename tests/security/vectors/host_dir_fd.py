"""A job inherits a directory descriptor of the user's runtime directory, opened outside the fence, and reaches the session bus through it (/proc/self/fd/N/bus resolves in the host's mount tree, under the covers of the job's): egressctl run closes inherited directories (cli/inherit.c); nothing may arrive."""
from vlib import *  # noqa: F401,F403

globals().update(host_service_vector("/run/user/65534/bus", user_dir="/run/user/65534"))
_stand_in = outside  # noqa: F405


def outside(token, st):
    _stand_in(token, st)
    fd = os.open("/run/user/65534", os.O_RDONLY | os.O_DIRECTORY)
    return {"fds": [fd], "args": ["/proc/self/fd/%d/bus" % fd]}


if __name__ == "__main__":
    main(globals())
