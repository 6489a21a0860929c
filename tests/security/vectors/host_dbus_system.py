"""A job hands the token to the D-Bus system bus (org.freedesktop.resolve1.ResolveHostname, and whatever else is on the bus): the service acts outside the fence, which sends it to a denied host. Its mount namespace covers the endpoint (cli/userns.c; a root job's too, ef_root_isolate): nothing may arrive."""
from vlib import *  # noqa: F401,F403

globals().update(host_service_vector("/run/dbus/system_bus_socket", users=("nobody", "root")))

if __name__ == "__main__":
    main(globals())
