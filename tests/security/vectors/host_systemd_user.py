"""A job hands the token to the user's systemd --user manager (/run/user/UID/systemd/private; systemd-run --user starts a process outside the job's cgroup), which sends it to a denied host. Its mount namespace covers the endpoint (cli/userns.c): nothing may arrive. Root jobs are not in that namespace (part 2)."""
from vlib import *  # noqa: F401,F403

globals().update(host_service_vector(
    "/run/user/65534/systemd/private",
    user_dir="/run/user/65534"))

if __name__ == "__main__":
    main(globals())
