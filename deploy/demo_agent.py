#!/usr/bin/python3
"""The demo's "agent": does what a coding agent does, plus what it should not,
and traces itself as an instrumented agent does.

Its spans follow the OpenTelemetry GenAI semantic conventions: one
`invoke_agent demo-agent` span, the child of the TRACEPARENT it was started
with (`egressctl run` names the job's span there), and under it one
`execute_tool <tool>` span per tool call. Each tool call is a process of its
own, started with TRACEPARENT naming its execute_tool span: egressd makes
the decisions of a process children of the span its TRACEPARENT names, so
each tool's connections land under its call. The agent's own connections
(the model API, sending its spans) stay under the job's span.

The spans go to the OTLP/HTTP receiver of OTEL_EXPORTER_OTLP_TRACES_ENDPOINT,
else OTEL_EXPORTER_OTLP_ENDPOINT + /v1/traces (`make demo` starts one on
loopback and points egressd at it too), as OTLP/JSON. Standard library
only, as the fenced job may have nothing else.

    demo_agent.py              the agent
    demo_agent.py --tool KEY   one tool call's process (the agent runs it)
"""
import errno
import http.client
import json
import os
import socket
import subprocess
import sys
import time
import urllib.parse

AGENT = "demo-agent"


def attempt(what, fn):
    try:
        fn()
        print("    %-54s ok" % what, flush=True)
    except OSError as e:
        print("    %-54s %s" % (what, errno.errorcode.get(e.errno, e.errno)), flush=True)


def tcp(addr, port):
    def go():
        with socket.create_connection((addr, port), timeout=3):
            pass
    return go


def name(host, port):
    """getaddrinfo through the job's resolv.conf (taken to the fence's DNS
    proxy whatever it names), then connect to the first address"""
    def go():
        try:
            ai = socket.getaddrinfo(host, port, socket.AF_INET, socket.SOCK_STREAM)
        except socket.gaierror as e:
            raise OSError(errno.ENOENT, "%s: %s" % (host, e.strerror)) from None
        with socket.create_connection(ai[0][4], timeout=3):
            pass
    return go


def udp(addr, port):
    def go():
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.sendto(b"hello", (addr, port))
    return go


def sock(*args):
    def go():
        socket.socket(*args).close()
    return go


def leave_cgroup():
    """write its own pid into the cgroup2 root's cgroup.procs: out of the job"""
    cg = [l.split()[1] for l in open("/proc/self/mounts") if l.split()[2] == "cgroup2"][0]
    with open(os.path.join(cg, "cgroup.procs"), "w") as f:
        f.write(str(os.getpid()))


def bpf_syscall():
    """bpf(BPF_MAP_CREATE): the first step of rewriting the fence's maps"""
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    attr = ctypes.create_string_buffer(128)
    nr = 321 if os.uname().machine == "x86_64" else 280
    if libc.syscall(nr, 0, ctypes.addressof(attr), 128) < 0:
        raise OSError(ctypes.get_errno(), "bpf")


def npm_install():
    attempt("fetch a release  objects.githubusercontent.com:443",
            name("objects.githubusercontent.com", 443))


def git_push():
    attempt("push to the code host     198.18.1.2:443", tcp("198.18.1.2", 443))
    attempt("ssh to the code host      198.18.1.2:22 (deny rule)", tcp("198.18.1.2", 22))


def curl_paste():
    attempt("look up a paste site      paste.example.com (unlisted)",
            name("paste.example.com", 443))
    attempt("exfiltrate to a paste site 198.18.2.1:443", tcp("198.18.2.1", 443))
    if os.fork() == 0:  # a child inherits the tool call's TRACEPARENT
        attempt("child: IPv6 to an unlisted host [2001:db8:1::1]:443",
                tcp("2001:db8:1::1", 443))
        os._exit(0)
    os.wait()


def bash_recon():
    attempt("read cloud credentials    169.254.169.254:80", tcp("169.254.169.254", 80))
    attempt("UDP to an unlisted host   198.18.2.2:9999", udp("198.18.2.2", 9999))
    attempt("open a raw socket", sock(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP))
    attempt("open a packet socket", sock(17, socket.SOCK_RAW, 0))
    attempt("as root: leave the job's cgroup", leave_cgroup)
    attempt("as root: bpf() to detach the fence", bpf_syscall)


# key: (the tool's name, the executable it runs as, what it does)
TOOLS = {
    "npm": ("npm install", "npm", npm_install),
    "git": ("git push", "git", git_push),
    "curl": ("curl paste site", "curl", curl_paste),
    "bash": ("bash recon", "bash", bash_recon),
}


# -- tracing: W3C traceparent in, OTLP/JSON out --------------------------------

def hexid(n):
    return os.urandom(n).hex()


def parent_context():
    """(trace id, parent span id) from TRACEPARENT, or a new trace"""
    tp = os.environ.get("TRACEPARENT", "").strip().lower().split("-")
    if (len(tp) == 4 and tp[0] == "00" and len(tp[1]) == 32 and len(tp[2]) == 16
            and all(c in "0123456789abcdef" for c in tp[1] + tp[2])
            and tp[1] != "0" * 32 and tp[2] != "0" * 16):
        return tp[1], tp[2]
    return hexid(16), None


def attr(k, v):
    if isinstance(v, int):
        return {"key": k, "value": {"intValue": str(v)}}
    return {"key": k, "value": {"stringValue": str(v)}}


class Span:
    def __init__(self, trace, parent, name, attrs):
        self.trace, self.parent, self.name, self.attrs = trace, parent, name, dict(attrs)
        self.id = hexid(8)
        self.start, self.end, self.error = time.time_ns(), None, None

    def traceparent(self):
        return "00-%s-%s-01" % (self.trace, self.id)

    def finish(self, error=None):
        self.end, self.error = time.time_ns(), error

    def otlp(self):
        sp = {"traceId": self.trace, "spanId": self.id, "name": self.name,
              "kind": 1,  # INTERNAL: the agent runs in this process, its tools are local
              "startTimeUnixNano": str(self.start), "endTimeUnixNano": str(self.end),
              "attributes": [attr(k, v) for k, v in self.attrs.items()]}
        if self.parent:
            sp["parentSpanId"] = self.parent
        if self.error:
            sp["attributes"].append(attr("error.type", self.error))
            sp["status"] = {"code": 2, "message": self.error}
        return sp


def endpoint():
    url = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    if not url:
        base = os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")
        url = base.rstrip("/") + "/v1/traces"
    return url


def export(spans):
    """One ExportTraceServiceRequest, OTLP/HTTP with JSON; returns what happened"""
    body = json.dumps({"resourceSpans": [{
        "resource": {"attributes": [attr("service.name", AGENT)]},
        "scopeSpans": [{"scope": {"name": AGENT, "version": "0.1.0"},
                        "spans": [s.otlp() for s in spans]}]}]}).encode()
    u = urllib.parse.urlsplit(endpoint())
    try:
        c = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=5)
        c.request("POST", u.path or "/v1/traces", body, {"Content-Type": "application/json"})
        r = c.getresponse()
        r.read()
        c.close()
        return "%s: HTTP %d" % (endpoint(), r.status)
    except OSError as e:
        return "%s: %s" % (endpoint(), errno.errorcode.get(e.errno, e))


def call_tool(trace, agent, key):
    """One tool call: its execute_tool span, and a process of its own whose
    TRACEPARENT names that span."""
    tool, exe, _ = TOOLS[key]
    sp = Span(trace, agent.id, "execute_tool " + tool, {
        "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": tool,
        "gen_ai.tool.type": "function", "gen_ai.tool.call.id": "call_" + hexid(6)})
    # run as an executable of the tool's name when the demo made one (a copy
    # of python), so that the fence's records name it
    tools = os.environ.get("EF_DEMO_TOOLS", "")
    path = os.path.join(tools, exe) if tools else ""
    argv = [path if path and os.access(path, os.X_OK) else sys.executable,
            os.path.abspath(__file__), "--tool", key]
    print("  tool call %s (span %s)" % (tool, sp.id), flush=True)
    r = subprocess.run(argv, env=dict(os.environ, TRACEPARENT=sp.traceparent()))
    sp.finish(None if r.returncode == 0 else "exit status %d" % r.returncode)
    return sp


def agent():
    trace, parent = parent_context()
    inv = Span(trace, parent, "invoke_agent " + AGENT, {
        "gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": AGENT,
        "gen_ai.agent.id": "agent_" + hexid(6), "gen_ai.conversation.id": "conv_" + hexid(8),
        "gen_ai.provider.name": "anthropic"})
    print("demo agent (pid %d) in job %s, trace %s:" % (
        os.getpid(), os.environ.get("EGRESS_FENCE_JOB_ID"), trace), flush=True)
    # the agent's own traffic: its process's TRACEPARENT names the job's span
    attempt("call the model API        api.anthropic.com:443", name("api.anthropic.com", 443))
    spans = [call_tool(trace, inv, k) for k in TOOLS]
    inv.finish()
    print("  spans sent to %s" % export([inv] + spans), flush=True)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--tool" and sys.argv[2] in TOOLS:
        TOOLS[sys.argv[2]][2]()
    elif len(sys.argv) == 1:
        agent()
    else:
        sys.exit("usage: demo_agent.py [--tool %s]" % "|".join(TOOLS))
