"""A job hands the token to systemd-resolved's varlink socket (io.systemd.Resolve.ResolveHostname): the name is looked up by the service, outside the fence, past the job's DNS proxy, which sends it to a denied host. Its mount namespace covers the endpoint (cli/userns.c): nothing may arrive. Root jobs are not in that namespace (part 2)."""
from vlib import *  # noqa: F401,F403

globals().update(host_service_vector("/run/systemd/resolve/io.systemd.Resolve"))

if __name__ == "__main__":
    main(globals())
