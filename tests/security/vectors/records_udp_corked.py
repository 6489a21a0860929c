"""A corked UDP datagram begun towards an allowed host, then sendmsg() and sendmmsg() naming denied hosts with the token: the kernel ignores those addresses and appends the token to the allowed host's datagram, and each call is recorded with the address it named (reason udp_corked)."""
import ctypes  # noqa: F401 (vlib's iovec, msghdr, mmsghdr)

from vlib import *  # noqa: F401,F403

POLICY = {"allow": [A4 + ":9999/udp"]}
AS = ("nobody",)
SINKS_OK = [A4]  # appended data goes to the destination the corked datagram began with
DENIED = [(D4, 9999, "udp"), (D4B, 9999, "udp")]
RECORD = [("egress.send", {"egress.decision": "deny", "network.peer.address": D4B,
                           "egress.reason": "udp_corked"}),
          ("egress.send", {"egress.decision": "deny", "network.peer.address": D4,
                           "egress.reason": "udp_corked"})]
MSG_MORE = 0x8000


def smm(token, flags):
    """sendmmsg(): the first message opens a datagram to A4 that MSG_MORE holds
    open; the second names D4 and joins it."""
    libc = ctypes.CDLL(None, use_errno=True)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    keep = []
    arr = (mmsghdr * 2)()
    for i, d in enumerate([A4, D4]):
        sa = ctypes.create_string_buffer(sockaddr_in(d, 9999))
        data = ctypes.create_string_buffer(payload(token, "sendmmsg %d" % i))
        iov = iovec(ctypes.cast(data, ctypes.c_void_p), len(data.raw) - 1)
        keep += [sa, data, iov]
        arr[i].hdr.name = ctypes.cast(sa, ctypes.c_void_p)
        arr[i].hdr.namelen = 16
        arr[i].hdr.iov = ctypes.pointer(iov)
        arr[i].hdr.iovlen = 1
    n = libc.sendmmsg(s.fileno(), arr, 2, flags)
    if n < 0:
        raise OSError(ctypes.get_errno(), "sendmmsg")
    s.sendto(b" end", (A4, 9999))  # the datagram leaves, to A4
    return n


def job(token, args):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    attempt("MSG_MORE allowed", s.sendto, b"part1 ", MSG_MORE, (A4, 9999))
    attempt("sendmsg denied (corked)", s.sendmsg, [payload(token, "sendmsg")], [], 0,
            (D4B, 9999))
    attempt("sendmmsg allowed, denied (MSG_MORE)", smm, token, MSG_MORE)


if __name__ == "__main__":
    main(globals())
