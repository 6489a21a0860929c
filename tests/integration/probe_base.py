"""What every probe.py command builds on: its result line (base, set_err,
emit: one JSON line, see probe.py's docstring) and its targets
(parse_target, fmt_target: 198.18.1.1:443, [2001:db8:1::1]:443/udp)."""
import errno as E
import ipaddress
import json
import os
import socket
import time


def _read(path):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return ""


def own_cgroup():
    """This process's cgroup2 path ("0::" line of /proc/self/cgroup)."""
    for line in _read("/proc/self/cgroup").splitlines():
        if line.startswith("0::"):
            return line[3:]
    return ""


def cgroup2_mount():
    with open("/proc/self/mounts") as f:
        for line in f:
            fields = line.split()
            if len(fields) >= 3 and fields[2] == "cgroup2":
                return fields[1].replace("\\040", " ")
    return None


def base(op, **kw):
    d = {"op": op, "ok": False, "errno": 0, "err": "", "pid": os.getpid(), "ppid": os.getppid(),
         "exe": os.readlink("/proc/self/exe"), "comm": _read("/proc/self/comm"),
         "uid": os.getuid(), "cgroup": own_cgroup(), "t": time.time()}
    d.update(kw)
    return d


def set_err(d, exc):
    en = exc.errno
    if en is None:  # socket.timeout carries no errno
        en = E.ETIMEDOUT
    d["ok"] = False
    d["errno"] = en
    d["err"] = E.errorcode.get(en, str(en))
    return d


def emit(d, out=None):
    """One line, written with a single write(2) so forked processes sharing
    stdout never interleave or duplicate buffered output."""
    line = (json.dumps(d, sort_keys=True) + "\n").encode()
    if out is None:
        os.write(1, line)
    else:
        out.write(line)
        out.flush()


def parse_target(text, default_proto="tcp"):
    """'198.18.1.1:443/udp' or '[2001:db8::1]:443' -> (host, port, proto)."""
    proto = default_proto
    if "/" in text.rsplit("]", 1)[-1]:
        text, proto = text.rsplit("/", 1)
    if text.startswith("["):
        host, rest = text[1:].split("]", 1)
        port = rest.lstrip(":")
    else:
        host, port = text.rsplit(":", 1)
    if proto not in ("tcp", "udp"):
        raise SystemExit("probe: bad protocol in %r" % text)
    return host, int(port), proto


def fmt_target(host, port, proto):
    h = "[%s]" % host if ":" in host else host
    return "%s:%d/%s" % (h, port, proto)


def family_of(host):
    return socket.AF_INET6 if ipaddress.ip_address(host).version == 6 else socket.AF_INET


def targets_from(args, udp=False):
    """Either HOST PORT or a list of TARGETs."""
    proto = "udp" if udp else "tcp"
    if len(args) == 2 and args[1].isdigit():
        return [(args[0], int(args[1]), proto)]
    return [parse_target(a, proto) for a in args]
