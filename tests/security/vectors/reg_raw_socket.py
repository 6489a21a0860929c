"""Raw IPv4 and IPv6 sockets (SOCK_RAW, IPPROTO_UDP and IP_HDRINCL) hand-craft a UDP datagram with the token to a denied host (regression)."""
from vlib import *  # noqa: F401,F403

# CAP_NET_RAW granted: a root job lacks it by default (cli/guard.c), and the
# kernel would refuse the socket before the fence's own check, which this
# regression is about (test_tamper's capability test covers the default)
POLICY = {"allow": [A4 + ":9999/udp"], "capabilities": ["NET_RAW"]}
AS = ("nobody", "root")
DENIED = [(D4, 9999, "udp"), (D6, 9999, "udp")]
# uid 65534 has no CAP_NET_RAW: the kernel refuses before the fence sees it
RECORD_AS = ("root",)
RECORD = [("egress.socket", {"egress.decision": "deny", "egress.reason": "raw_socket"})]


def udp_hdr(token):
    data = payload(token, "raw")
    return struct.pack("!HHHH", 40000, 9999, 8 + len(data), 0) + data


def raw4(token):
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_UDP)
    return s.sendto(udp_hdr(token), (D4, 0))


def raw4_hdrincl(token):
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    body = udp_hdr(token)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(body), 1, 0, 64, 17, 0,
                     socket.inet_aton(FENCE_V4), socket.inet_aton(D4))
    return s.sendto(ip + body, (D4, 0))


def raw6(token):
    s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_UDP)
    return s.sendto(udp_hdr(token), (D6, 0))


def job(token, args):
    attempt("raw4 udp", raw4, token)
    attempt("raw4 hdrincl", raw4_hdrincl, token)
    attempt("raw6 udp", raw6, token)


if __name__ == "__main__":
    main(globals())
