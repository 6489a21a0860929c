"""The tests' side of otlp_receiver.py: start it in the fence namespace (where
egressd runs), script its answers, read what it decoded."""
import json
import os
import subprocess
import time

import world as W
from harness import REPO, check, kill_pid, read_jsonl
from harness_spans import otlp_attrs, Span

HERE = os.path.dirname(os.path.abspath(__file__))
SERVER = os.path.join(HERE, "otlp_receiver.py")
PROTO_PY = os.path.join(REPO, "build", "otlp-proto", "py")


class Receiver:
    def __init__(self, ctx, label="otlp"):
        self.ctx = ctx
        self.label = label
        self.out = ctx.path(label + "-requests.jsonl")
        self.ctl = ctx.path(label + "-ctl.json")
        self.port_file = ctx.path(label + ".port")
        self.port = 0
        self.proc = None
        self.answer()

    def start(self, timeout=10):
        check(os.path.exists(os.path.join(PROTO_PY, "trace_service_pb2.py")),
              "%s/trace_service_pb2.py is missing: run `make` (it compiles the official "
              "OTLP schema for the test receiver)" % PROTO_PY)
        if os.path.exists(self.port_file):
            os.unlink(self.port_file)
        argv = [W.PY, SERVER, "--proto-py", PROTO_PY, "--out", self.out, "--port-file",
                self.port_file, "--ctl", self.ctl, "--port", str(self.port)]
        err = open(self.ctx.path(self.label + ".err"), "ab")
        self.proc = subprocess.Popen(self.ctx.world.fence_argv(argv), stdin=subprocess.DEVNULL,
                                     stdout=err, stderr=err)
        err.close()
        self.ctx.procs.append(self.proc)
        W.ledger().add("pid", self.proc.pid)
        deadline = time.time() + timeout
        while not os.path.exists(self.port_file):
            if self.proc.poll() is not None or time.time() > deadline:
                with open(self.ctx.path(self.label + ".err"), errors="replace") as f:
                    tail = f.read()[-800:]
                raise AssertionError("the OTLP receiver did not start: %s" % tail)
            time.sleep(0.05)
        with open(self.port_file) as f:
            self.port = int(f.read())
        return self

    def stop(self):
        """Down hard (SIGKILL by pid): connections are refused until start()."""
        if self.proc and self.proc.poll() is None:
            kill_pid(self.proc.pid)
            self.proc.wait(5)
        if self.proc:
            W.ledger().drop("pid", self.proc.pid)
        self.proc = None

    @property
    def base(self):
        return "http://127.0.0.1:%d" % self.port

    @property
    def url(self):
        return self.base + "/v1/traces"

    def answer(self, status=200, script=(), delay=0, partial=None, body=None):
        """What to answer: `script` entries first (one per request), then status."""
        doc = {"status": status, "script": list(script), "delay": delay, "partial": partial,
               "body": body}
        tmp = self.ctl + ".tmp"
        with open(tmp, "w") as f:
            json.dump(doc, f)
        os.rename(tmp, self.ctl)
        # the receiver reloads on a new mtime; make sure the next one differs
        time.sleep(0.01)

    def requests(self):
        return read_jsonl(self.out) if os.path.exists(self.out) else []

    def spans(self, ok_only=True):
        """Decoded spans (harness_spans.Span) of requests answered 2xx (or all)."""
        out = []
        for i, r in enumerate(self.requests()):
            if ok_only and r["status"] // 100 != 2:
                continue
            for rs in (r.get("request") or {}).get("resourceSpans", []):
                res = otlp_attrs((rs.get("resource") or {}).get("attributes"))
                for ss in rs.get("scopeSpans", []):
                    for sp in ss.get("spans", []):
                        out.append(Span(sp, res, ss.get("scope") or {}, "request %d" % i))
        return out

    def errors(self):
        return [r["error"] for r in self.requests() if r.get("error")]

    def wait_spans(self, ids, timeout=20):
        """Wait until every span id in `ids` arrived in a 2xx request."""
        want = set(ids)
        deadline = time.time() + timeout
        while True:
            got = {s.span_id for s in self.spans()}
            if want <= got or time.time() > deadline:
                break
            time.sleep(0.1)
        missing = want - got
        check(not missing, "after %ss the receiver lacks %d of %d spans (requests: %s; "
              "decode errors: %s)" % (timeout, len(missing), len(want), [
                  (r["status"], r["n_spans"]) for r in self.requests()][-10:],
                  self.errors()[:3]))
        return [s for s in self.spans() if s.span_id in want]
