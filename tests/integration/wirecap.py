#!/usr/bin/python3
"""A packet capture on one interface, for the wire tests: what crossed.

    wirecap.py IFACE OUT.jsonl

Run in the hosts namespace on the hosts' end of the veth. Prints "READY"
once the AF_PACKET socket is bound, then appends one JSON line per IPv4 or
IPv6 frame that arrived: {"v", "src", "dst", "proto", "dport", "srr", "rh",
"data"}; srr: an IPv4 LSRR/SSRR option, rh: an IPv6 routing header, data:
the payload bytes as latin-1 (a test finds its tag there). Stops on SIGTERM.
Python 3 stdlib only.
"""
import json
import signal
import socket
import struct
import sys

ETH_P_ALL = 0x0003


def parse(frame):
    if len(frame) < 14:
        return None
    et = struct.unpack("!H", frame[12:14])[0]
    p = frame[14:]
    r = {"srr": False, "rh": False}
    if et == 0x0800 and len(p) >= 20:
        ihl = (p[0] & 15) * 4
        r.update(v=4, src=socket.inet_ntoa(p[12:16]), dst=socket.inet_ntoa(p[16:20]),
                 proto=p[9])
        i = 20
        while i < ihl and i < len(p):
            t = p[i]
            if t == 0:
                break
            if t == 1:
                i += 1
                continue
            if t in (0x83, 0x89):
                r["srr"] = True
            if i + 1 >= len(p) or p[i + 1] < 2:
                break
            i += p[i + 1]
        l4 = p[ihl:]
    elif et == 0x86DD and len(p) >= 40:
        r.update(v=6, src=socket.inet_ntop(socket.AF_INET6, p[8:24]),
                 dst=socket.inet_ntop(socket.AF_INET6, p[24:40]))
        nh, off = p[6], 40
        for _ in range(8):
            if nh in (0, 43, 60) and off + 2 <= len(p):
                if nh == 43:
                    r["rh"] = True
                nh, off = p[off], off + (p[off + 1] + 1) * 8
            else:
                break
        r["proto"] = nh
        l4 = p[off:]
    else:
        return None
    r["dport"] = struct.unpack("!H", l4[2:4])[0] if r["proto"] in (6, 17) and len(l4) >= 4 \
        else 0
    hl = 8 if r["proto"] == 17 else ((l4[12] >> 4) * 4 if r["proto"] == 6 and len(l4) > 12
                                     else 8)
    r["data"] = l4[hl:hl + 96].decode("latin-1")
    return r


def main(iface, out):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.bind((iface, 0))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print("READY", flush=True)
    with open(out, "a") as f:
        while True:
            frame, addr = s.recvfrom(65535)
            if addr[2] == socket.PACKET_OUTGOING:
                continue
            r = parse(frame)
            if r:
                f.write(json.dumps(r) + "\n")
                f.flush()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
