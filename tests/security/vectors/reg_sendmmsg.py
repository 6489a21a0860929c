"""sendmmsg(): one call, three datagrams, the first to an allowed host and the others to denied hosts (regression)."""
import ctypes  # noqa: F401 (vlib's iovec, msghdr, mmsghdr)

from vlib import *  # noqa: F401,F403

POLICY = {"allow": [A4 + ":9999/udp"]}
AS = ("nobody",)
SINKS_OK = [A4]
DENIED = [(D4, 9999, "udp"), (D4B, 9999, "udp")]
RECORD = [("egress.send", {"egress.decision": "deny", "network.peer.address": D4})]


def smm(token):
    libc = ctypes.CDLL(None, use_errno=True)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    dests = [A4, D4, D4B]
    keep = []
    arr = (mmsghdr * 3)()
    for i, d in enumerate(dests):
        sa = ctypes.create_string_buffer(sockaddr_in(d, 9999))
        data = ctypes.create_string_buffer(payload(token, "sendmmsg %d" % i))
        iov = iovec(ctypes.cast(data, ctypes.c_void_p), len(data.raw) - 1)
        keep += [sa, data, iov]
        arr[i].hdr.name = ctypes.cast(sa, ctypes.c_void_p)
        arr[i].hdr.namelen = 16
        arr[i].hdr.iov = ctypes.pointer(iov)
        arr[i].hdr.iovlen = 1
    n = libc.sendmmsg(s.fileno(), arr, 3, 0)
    if n < 0:
        raise OSError(ctypes.get_errno(), "sendmmsg")
    return n


def job(token, args):
    attempt("sendmmsg allowed,denied,denied", smm, token)


if __name__ == "__main__":
    main(globals())
