"""Other socket families and inet protocols: AF_VSOCK, AF_XDP, UDP-Lite, SCTP, AF_RDS, AF_TIPC...; each one the kernel has must be refused at socket() (regression)."""
from vlib import *  # noqa: F401,F403

POLICY = {"allow": [A4 + ":9999/udp"]}
AS = ("nobody", "root")
DENIED = [(D4, 9999, "udp")]
RECORD = [("egress.socket", {"egress.decision": "deny"})]

TRIES = [("AF_VSOCK", 40, socket.SOCK_STREAM, 0), ("AF_XDP", 44, socket.SOCK_RAW, 0),
         ("AF_RDS", 21, socket.SOCK_SEQPACKET, 0), ("AF_TIPC", 30, socket.SOCK_RDM, 0),
         ("AF_SMC", 43, socket.SOCK_STREAM, 0), ("AF_ALG", 38, socket.SOCK_SEQPACKET, 0),
         ("AF_KEY", 15, socket.SOCK_RAW, 2), ("AF_CAN", 29, socket.SOCK_RAW, 1),
         ("UDPLITE", socket.AF_INET, socket.SOCK_DGRAM, 136),
         ("SCTP", socket.AF_INET, socket.SOCK_STREAM, 132),
         ("DCCP", socket.AF_INET, 6, 33)]


def try_one(name, fam, typ, proto, token):
    s = socket.socket(fam, typ, proto)
    if name == "UDPLITE":
        s.sendto(payload(token, "udplite"), (D4, 9999))
    return "created"


def job(token, args):
    for name, fam, typ, proto in TRIES:
        attempt("socket %s" % name, try_one, name, fam, typ, proto, token)


if __name__ == "__main__":
    main(globals())
