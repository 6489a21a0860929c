"""A job hands the token to a session bus named by DBUS_SESSION_BUS_ADDRESS (unix:path= outside the runtime directory), which sends it to a denied host. Its mount namespace covers the endpoint (cli/userns.c): nothing may arrive. Root jobs are not in that namespace (part 2)."""
from vlib import *  # noqa: F401,F403

globals().update(host_service_vector(
    "/tmp/ef-sec-bus/bus", user_dir="/tmp/ef-sec-bus",
    env={"DBUS_SESSION_BUS_ADDRESS":
         "unix:path=/tmp/ef-sec%2dbus/bus,guid=0123456789abcdef0123456789abcdef"}))

if __name__ == "__main__":
    main(globals())
