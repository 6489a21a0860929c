"""A root job asks systemd, through its private socket (what `systemctl` and `systemd-run` use as root), to start a unit: a process outside every job's cgroup, which sends the token to a denied host. A root job's mount namespace covers the socket (cli/userns.c, ef_root_isolate): nothing may arrive."""
from vlib import *  # noqa: F401,F403

globals().update(host_service_vector("/run/systemd/private", users=("root",)))

if __name__ == "__main__":
    main(globals())
