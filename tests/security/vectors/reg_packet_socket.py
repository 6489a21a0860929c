"""AF_PACKET sockets (SOCK_RAW and SOCK_DGRAM) write a whole Ethernet frame with the token, addressed to a denied host, on the veth (regression)."""
from vlib import *  # noqa: F401,F403

POLICY = {"allow": [A4 + ":9999/udp"]}
FEATURES = ["packet"]
AS = ("nobody", "root")
DENIED = [(D4, 9999, "udp")]
RECORD = [("egress.socket", {"egress.decision": "deny", "egress.reason": "raw_socket"})]


def ip_udp(token):
    data = payload(token, "packet")
    body = struct.pack("!HHHH", 40000, 9999, 8 + len(data), 0) + data
    return struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(body), 1, 0, 64, 17, 0,
                       socket.inet_aton(FENCE_V4), socket.inet_aton(D4)) + body


def ifname():
    return [n for _i, n in socket.if_nameindex() if n.startswith("eff")][0]


def packet_raw(token):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800))
    s.bind((ifname(), 0))
    frame = b"\xff" * 6 + b"\x02\x00\x00\x00\x00\x01" + b"\x08\x00" + ip_udp(token)
    return s.send(frame)


def packet_dgram(token):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(0x0800))
    return s.sendto(ip_udp(token), (ifname(), 0x0800, 0, 0, b"\xff" * 6))


def job(token, args):
    attempt("AF_PACKET SOCK_RAW", packet_raw, token)
    attempt("AF_PACKET SOCK_DGRAM", packet_dgram, token)


if __name__ == "__main__":
    main(globals())
