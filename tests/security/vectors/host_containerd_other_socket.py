"""A job hands the token to another socket in containerd's directory than the API's (containerd's ttrpc socket, a shim's under /run/containerd/s/), which would act for it as root outside the fence. The cover is on the whole directory: nothing may arrive."""
from vlib import *  # noqa: F401,F403

globals().update(host_service_vector("/run/containerd/containerd.sock.ttrpc",
                                     users=("nobody", "root")))

if __name__ == "__main__":
    main(globals())
