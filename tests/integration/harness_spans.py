"""Spans of egressd's OTLP/JSON journal as the tests read them (Span), and
assertions on their attributes (expect)."""
import json
import re

from harness import check, norm_addr

# --------------------------------------------------------------------------
# spans (OTLP/JSON journal)

def otlp_value(v):
    if not isinstance(v, dict):
        return v
    if "stringValue" in v:
        return v["stringValue"]
    if "intValue" in v:
        return int(v["intValue"])
    if "boolValue" in v:
        return bool(v["boolValue"])
    if "doubleValue" in v:
        return float(v["doubleValue"])
    if "arrayValue" in v:
        return [otlp_value(x) for x in v["arrayValue"].get("values", [])]
    if "kvlistValue" in v:
        return {kv["key"]: otlp_value(kv.get("value")) for kv in v["kvlistValue"].get("values", [])}
    if "bytesValue" in v:
        return v["bytesValue"]
    return None


def otlp_attrs(lst):
    return {kv["key"]: otlp_value(kv.get("value", {})) for kv in (lst or [])}


class Span:
    def __init__(self, raw, resource, scope, origin):
        self.raw = raw
        self.resource = resource
        self.scope = scope
        self.origin = origin
        self.name = raw.get("name")
        self.trace_id = raw.get("traceId", "")
        self.span_id = raw.get("spanId", "")
        self.parent_id = raw.get("parentSpanId", "") or ""
        self.kind = raw.get("kind")
        self.start = int(raw.get("startTimeUnixNano", 0) or 0)
        self.end = int(raw.get("endTimeUnixNano", 0) or 0)
        st = raw.get("status") or {}
        self.status_code = st.get("code", 0)
        self.status_message = st.get("message", "")
        self.attrs = otlp_attrs(raw.get("attributes"))

    def get(self, k, default=None):
        return self.attrs.get(k, default)

    def __getitem__(self, k):
        return self.attrs[k]

    def __repr__(self):
        keys = ("egress.job.id", "egress.decision", "egress.reason", "network.transport",
                "network.peer.address", "network.peer.port", "process.pid")
        return "<%s %s>" % (self.name, " ".join("%s=%r" % (k, self.attrs[k])
                                                 for k in keys if k in self.attrs))

    def describe(self):
        return "%s status=%s/%r trace=%s span=%s parent=%s attrs=%s" % (
            self.name, self.status_code, self.status_message, self.trace_id, self.span_id,
            self.parent_id, json.dumps(self.attrs, sort_keys=True))


def matches(span, name=None, where=None):
    if name is not None and span.name != name:
        return False
    for k, v in (where or {}).items():
        got = span.attrs.get(k)
        if k.endswith(".address") and got is not None:
            if norm_addr(got) != norm_addr(v):
                return False
        elif got != v:
            return False
    return True


def expect(span, **want):
    """expect(span, decision="deny", reason="no_rule") or with full keys via
    expect(span, **{"egress.rule": "..."}): short names get the egress. prefix."""
    for k, v in want.items():
        key = k if "." in k else "egress." + k
        got = span.attrs.get(key)
        if key.endswith(".address") and got is not None:
            ok = norm_addr(got) == norm_addr(v)
        else:
            ok = got == v
        check(ok, "%s: %s = %r, want %r\n  span: %s" % (span.name, key, got, v, span.describe()))


def is_hex(s, n):
    return isinstance(s, str) and len(s) == n and re.fullmatch("[0-9a-f]+", s) and s != "0" * n
