"""An accomplice outside the fence passes an unconnected UDP socket over a unix socket (SCM_RIGHTS); the job sendto()s the token to a denied host: the sendmsg hook that runs is the socket's cgroup's, outside the job. Expected: what docs/threat-model.md says remains."""
from vlib import *  # noqa: F401,F403
import inherit_unix_passed as base

POLICY = {"allow": [A4 + ":443"]}
AS = ("nobody",)
SINKS_OK = []
DENIED = [(D4, 9999, "udp")]


def make_socket():
    return socket.socket(socket.AF_INET, socket.SOCK_DGRAM)


def use(s, token):
    attempt("sendto %s on the passed socket" % D4, s.sendto, payload(token, "scm_rights udp"),
            (D4, 9999))


base.make_socket, base.use = make_socket, use
judge, outside, outside_cleanup, job = base.judge, base.outside, base.outside_cleanup, base.job

if __name__ == "__main__":
    main(globals())
