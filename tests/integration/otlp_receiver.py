#!/usr/bin/python3
"""An OTLP/HTTP trace receiver for the tests.

    otlp_receiver.py --proto-py DIR --out FILE --port-file FILE [--port N] [--ctl FILE]

Decodes every request with the official OpenTelemetry schema: DIR holds the
Python modules `protoc` generated from the opentelemetry-proto .proto files
(the Makefile builds them in build/otlp-proto/py). application/x-protobuf
bodies are parsed as ExportTraceServiceRequest; application/json bodies go
through protobuf's own JSON parser against the same message, after the one
rewrite the OTLP JSON mapping asks for (trace and span ids are hex there,
base64 in proto3 JSON). Unknown fields, wrong types or a bad enum fail the
request with 400, and the failure is recorded.

Each request becomes one JSON line in FILE: {"t", "path", "headers",
"content_type", "encoding", "bytes", "status" (what we answered), "error",
"n_spans", "request" (the decoded message as OTLP/JSON: hex ids, int64 as
strings, enums as integers)}.

What to answer is read from the --ctl file (JSON) before each request:
  {"script": [{"status": 503, "retry_after": "2"}, ...],   one per request, in order
   "status": 200, "delay": 0.0, "partial": {"rejected": 2, "message": "..."},
   "body": "..." (the response body as is, instead of an ExportTraceServiceResponse)}
The script's entries are used first; the rest of the keys hold afterwards.
A changed ctl file starts its script again.

With --count-only (the benchmark's receiver) a request is decoded the same
way but recorded as counts: "jobs" {egress.job.id: decisions of the new
spans (a folded span counts egress.count)}, "spans" {egress.job.id: new
spans}, "names" {span name: new spans}, "dups" (span ids seen before).
"""
import argparse
import base64
import gzip
import json
import os
import sys
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ID_KEYS = ("traceId", "spanId", "parentSpanId")


def load_schema(d):
    sys.path.insert(0, d)
    from google.protobuf import json_format  # noqa: E402
    import trace_service_pb2  # noqa: E402
    return trace_service_pb2, json_format


def ids(obj, conv):
    """Apply conv to every trace/span id in an OTLP JSON tree, in place."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k in ID_KEYS and isinstance(v, str):
                obj[k] = conv(v)
            else:
                ids(v, conv)
    elif isinstance(obj, list):
        for v in obj:
            ids(v, conv)


def hex_to_b64(h):
    if h == "":
        return ""
    return base64.b64encode(bytes.fromhex(h)).decode()


def b64_to_hex(b):
    return base64.b64decode(b).hex()


class State:
    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        self.ctl_mtime = None
        self.ctl = {}
        self.step = 0
        self.out = open(args.out, "a", buffering=1)
        self.seen = set()

    def plan(self):
        """What to answer to the next request."""
        with self.lock:
            if self.args.ctl and os.path.exists(self.args.ctl):
                m = os.stat(self.args.ctl).st_mtime_ns
                if m != self.ctl_mtime:
                    try:
                        with open(self.args.ctl) as f:
                            self.ctl = json.load(f)
                        self.ctl_mtime = m
                        self.step = 0
                    except ValueError:
                        pass  # being written
            script = self.ctl.get("script") or []
            if self.step < len(script):
                p = dict(self.ctl)
                p.update(script[self.step])
                self.step += 1
                return p
            return dict(self.ctl)

    def record(self, rec):
        with self.lock:
            self.out.write(json.dumps(rec) + "\n")


def count(state, msg, rec):
    jobs, names, spans, dups = {}, {}, {}, 0
    with state.lock:
        for rs in msg.resource_spans:
            for ss in rs.scope_spans:
                for sp in ss.spans:
                    if sp.span_id in state.seen:
                        dups += 1
                        continue
                    state.seen.add(sp.span_id)
                    names[sp.name] = names.get(sp.name, 0) + 1
                    # a folded span stands for egress.count decisions
                    j, n = None, 1
                    for kv in sp.attributes:
                        if kv.key == "egress.job.id":
                            j = kv.value.string_value
                        elif kv.key == "egress.count":
                            n = kv.value.int_value
                    if j is not None:
                        jobs[j] = jobs.get(j, 0) + n
                        spans[j] = spans.get(j, 0) + 1
    rec.update(jobs=jobs, names=names, dups=dups, spans=spans)


def make_handler(state, pb, json_format):
    Req = pb.ExportTraceServiceRequest
    Resp = pb.ExportTraceServiceResponse

    class H(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def answer(self, status, body=b"", ctype="application/x-protobuf", extra=None):
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            for k, v in (extra or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self):
            t = time.time()
            n = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(n)
            ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip()
            enc = (self.headers.get("Content-Encoding") or "").strip()
            rec = {"t": t, "path": self.path, "content_type": ctype, "encoding": enc,
                   "bytes": len(raw), "error": None, "n_spans": 0, "request": None,
                   "headers": {k.lower(): v for k, v in self.headers.items()}}
            plan = state.plan()
            if plan.get("delay"):
                time.sleep(float(plan["delay"]))
            msg = Req()
            try:
                body = gzip.decompress(raw) if enc == "gzip" else raw
                if enc not in ("", "gzip", "identity"):
                    raise ValueError("unknown Content-Encoding %r" % enc)
                if ctype == "application/x-protobuf":
                    msg.ParseFromString(body)
                    # every byte must belong to a field the schema knows: a
                    # wrong field number would otherwise pass as "unknown"
                    msg.DiscardUnknownFields()
                    if msg.ByteSize() != len(body):
                        raise ValueError("%d of %d bytes are not fields of the schema" % (
                            len(body) - msg.ByteSize(), len(body)))
                elif ctype == "application/json":
                    doc = json.loads(body)
                    ids(doc, hex_to_b64)
                    json_format.ParseDict(doc, msg, ignore_unknown_fields=False)
                else:
                    raise ValueError("unsupported Content-Type %r" % ctype)
                rec["n_spans"] = sum(len(ss.spans) for rs in msg.resource_spans
                                     for ss in rs.scope_spans)
                if state.args.count_only:
                    count(state, msg, rec)
                else:
                    d = json_format.MessageToDict(msg, use_integers_for_enums=True)
                    ids(d, b64_to_hex)
                    rec["request"] = d
            except (ValueError, OSError, EOFError, zlib.error,
                    json_format.ParseError) as e:
                rec["error"] = "%s: %s" % (type(e).__name__, e)
            except Exception as e:  # protobuf's DecodeError and friends
                rec["error"] = "%s: %s" % (type(e).__name__, e)
            status = 400 if rec["error"] else int(plan.get("status", 200))
            rec["status"] = status
            state.record(rec)
            extra = {}
            if plan.get("retry_after") is not None and status != 200:
                extra["Retry-After"] = str(plan["retry_after"])
            json_req = ctype == "application/json"
            if status // 100 == 2 and plan.get("body") is not None:
                self.answer(status, plan["body"].encode(), ctype, extra)  # as told, garbage too
            elif status // 100 == 2:
                resp = Resp()
                part = plan.get("partial")
                if part:
                    resp.partial_success.rejected_spans = int(part.get("rejected", 0))
                    resp.partial_success.error_message = part.get("message", "")
                if json_req:
                    body = json_format.MessageToJson(resp).encode()
                    self.answer(status, body, "application/json", extra)
                else:
                    self.answer(status, resp.SerializeToString(), extra=extra)
            else:
                body = (rec["error"] or plan.get("body") or "refused by the test").encode()
                self.answer(status, body, "text/plain", extra)

    return H


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--proto-py", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--ctl")
    ap.add_argument("--count-only", action="store_true")
    args = ap.parse_args()
    pb, json_format = load_schema(args.proto_py)
    state = State(args)
    ThreadingHTTPServer.allow_reuse_address = True
    srv = ThreadingHTTPServer(("127.0.0.1", args.port), make_handler(state, pb, json_format))
    srv.daemon_threads = True
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(tmp, args.port_file)
    srv.serve_forever()


if __name__ == "__main__":
    main()
