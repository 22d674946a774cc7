#!/usr/bin/python3
# Test support: the legate.test.Echo service and client on Debian's python3-grpcio (gRPC C-core), the second
# implementation next to test/support/grpc-peers.ts (grpc-js). Same envelope, same metadata controls, same call
# specs and outcome shape; read that file's header for the protocol. Raw bytes only: no protoc.
#
#   grpc_peer.py server            prints {"event":"listening","port":N}, then one {"event":"call",...} per call
#                                  when it is over; reads "ack TOKEN" lines on stdin (x-wait-ack)
#   grpc_peer.py client TARGET     reads a JSON list of call specs on stdin, runs them in order on one channel,
#                                  prints one {"event":"outcome",...} line per spec
#
# Run it with /usr/bin/python3 (python3-grpcio), not a pyenv python.

import base64
import hashlib
import json
import os
import queue
import struct
import sys
import threading
import urllib.parse
import uuid
from concurrent import futures

import grpc

SERVICE = "legate.test.Echo"
PATHS = {m: "/%s/%s" % (SERVICE, m) for m in ("Unary", "ServerStream", "ClientStream", "Bidi")}
MAX_MESSAGE_BYTES = 64 * 1024 * 1024
CODES = {c.value[0]: c for c in grpc.StatusCode}
OPTIONS = [
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
    ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
    ("grpc.enable_http_proxy", 0),
    ("grpc.enable_retries", 0),
]

_out_lock = threading.Lock()


def emit(obj):
    line = json.dumps(obj, separators=(",", ":"))
    with _out_lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


# ---- the envelope ----

def sha256(p):
    return hashlib.sha256(p).hexdigest()


def encode(h, p):
    j = json.dumps(h, separators=(",", ":")).encode("utf-8")
    return struct.pack(">I", len(j)) + j + p


def decode(b):
    if len(b) < 4:
        raise ValueError("envelope too short (%d bytes)" % len(b))
    (n,) = struct.unpack(">I", b[:4])
    if 4 + n > len(b):
        raise ValueError("envelope header length %d exceeds message of %d bytes" % (n, len(b)))
    return json.loads(b[4:4 + n].decode("utf-8")), b[4 + n:]


def request_message(seq, size, extra=None):
    p = os.urandom(size)
    h = {"seq": seq, "len": size, "sha": sha256(p)}
    if extra:
        h.update(extra)
    return encode(h, p), {"len": size, "sha": h["sha"]}


def summarize(msg):
    try:
        h, p = decode(msg)
        s = sha256(p)
        return {"len": len(p), "sha": s, "intact": s == h.get("sha") and len(p) == h.get("len"), "h": h}
    except Exception as e:  # noqa: BLE001 - a broken message is a result, not a crash
        return {"len": len(msg), "sha": "", "intact": False, "h": {"error": str(e)}}


def md_to_map(md):
    out = {}
    for k, v in md or ():
        if isinstance(v, bytes):
            v = base64.b64encode(v).decode("ascii")
        out[k] = out[k] + "," + v if k in out else v
    return out


def map_to_md(m):
    return tuple((k, base64.b64decode(v) if k.endswith("-bin") else v) for k, v in (m or {}).items())


# ---- server ----

_acks = {}
_acks_lock = threading.Lock()


def ack_event(token):
    with _acks_lock:
        ev = _acks.get(token)
        if ev is None:
            ev = _acks[token] = threading.Event()
        return ev


def read_stdin():
    for line in sys.stdin:
        parts = line.split()
        if len(parts) == 2 and parts[0] == "ack":
            ack_event(parts[1]).set()
    # The test closed our stdin: it is gone, so are we.
    os._exit(0)


class Call:
    """One call: its behaviour (from metadata), what it received, how it ended. Emitted once, when the RPC is over."""

    def __init__(self, ctx, method):
        self.ctx = ctx
        md = md_to_map(ctx.invocation_metadata())
        self.id = md.get("x-call-id") or "anon-" + uuid.uuid4().hex
        self.delay_ms = float(md.get("x-delay-ms", 0))
        self.fail_code = int(md.get("x-fail-code", 0))
        self.fail_message = urllib.parse.unquote(md.get("x-fail-message", ""))
        self.fail_after = int(md.get("x-fail-after", 0))
        self.trailers = json.loads(md["x-trailers"]) if "x-trailers" in md else {}
        self.wait_ack = md.get("x-wait-ack")
        self.linger_ms = float(md.get("x-linger-ms", 0))
        remaining = ctx.time_remaining()  # None, or a huge number, without a deadline
        self.rec = {"id": self.id, "method": method, "metadata": md,
                    "deadlineMs": None if remaining is None or remaining > 1e9 else remaining * 1000.0, "received": [], "outcome": None}
        self.over = threading.Event()
        self.headers_sent = False
        self.lock = threading.Lock()
        if not ctx.add_callback(self._terminated):
            self._terminated()

    def _terminated(self):
        # Runs when the RPC is over. A handler that finished set the outcome first; otherwise it was cut short.
        with self.lock:
            if self.rec["outcome"] is None:
                self.rec["outcome"] = "cancelled"
            self.over.set()
            emit(dict(self.rec, event="call"))

    def got(self, msg):
        s = summarize(msg)
        self.rec["received"].append({"len": s["len"], "sha": s["sha"], "intact": s["intact"]})

    def alive(self):
        return not self.over.is_set() and self.ctx.is_active()

    def sleep(self, ms):
        """True after ms, False as soon as the call is over."""
        if ms > 0:
            self.over.wait(ms / 1000.0)
        return self.alive()

    def wait_for_ack(self):
        ev = ack_event(self.wait_ack)
        while not ev.wait(0.02):
            if not self.alive():
                return False
        return self.alive()

    def request_stream_ended(self):
        """True for a half-close, False for a reset. C-core ends the request iterator on a client's RST_STREAM too
        and marks the call cancelled a moment later, so with x-linger-ms the call gets that long to turn out reset."""
        if self.linger_ms > 0:
            self.over.wait(self.linger_ms / 1000.0)
        return self.alive()

    def send_headers(self):
        if not self.headers_sent:
            self.headers_sent = True
            self.ctx.send_initial_metadata((("x-server", "python"),))

    def finish(self, outcome):
        with self.lock:
            if self.rec["outcome"] is None:
                self.rec["outcome"] = outcome
        self.ctx.set_trailing_metadata(map_to_md(self.trailers))

    def fail(self):
        self.finish("error")
        self.ctx.abort(CODES[self.fail_code], self.fail_message)  # raises


def echo_of(seq, got, payload):
    gh, gp = decode(got)
    return encode({"seq": seq, "len": len(payload), "sha": sha256(payload), "gotLen": len(gp), "gotSha": sha256(gp),
                   "server": "python"}, payload)


def unary(req, ctx):
    c = Call(ctx, "Unary")
    c.got(req)
    if not c.sleep(c.delay_ms):
        return b""
    if c.fail_code != 0:
        c.fail()  # no initial metadata first: trailers-only
    h, p = decode(req)
    payload = os.urandom(h["respSize"]) if isinstance(h.get("respSize"), int) else p
    c.send_headers()
    c.finish("ok")
    return echo_of(0, req, payload)


def server_stream(req, ctx):
    c = Call(ctx, "ServerStream")
    c.got(req)
    h, _ = decode(req)
    sizes = h.get("sizes") or []
    if not c.sleep(c.delay_ms):
        return
    for i, n in enumerate(sizes):
        if c.fail_code != 0 and i == c.fail_after:
            break
        c.send_headers()
        p = os.urandom(n)
        yield encode({"seq": i, "len": n, "sha": sha256(p), "server": "python"}, p)
        if not c.alive():
            return
        if i == 0 and c.wait_ack is not None and not c.wait_for_ack():
            return
    if c.fail_code != 0:
        c.fail()
    c.finish("ok")


def client_stream(req_iter, ctx):
    c = Call(ctx, "ClientStream")
    try:
        for m in req_iter:
            c.got(m)
    except grpc.RpcError:
        return b""
    if not c.request_stream_ended() or not c.sleep(c.delay_ms):
        return b""
    if c.fail_code != 0:
        c.fail()
    r = c.rec["received"]
    body = encode({"seq": 0, "len": 0, "sha": sha256(b""), "count": len(r), "total": sum(m["len"] for m in r),
                   "sizes": [m["len"] for m in r], "shas": [m["sha"] for m in r], "server": "python"}, b"")
    c.send_headers()
    c.finish("ok")
    return body


def bidi(req_iter, ctx):
    c = Call(ctx, "Bidi")
    seq = 0
    try:
        for m in req_iter:
            c.got(m)
            if seq == 0 and not c.sleep(c.delay_ms):
                return
            if c.fail_code != 0 and seq == c.fail_after:
                c.fail()
            c.send_headers()
            h, p = decode(m)
            yield echo_of(seq, m, p)
            seq += 1
    except grpc.RpcError:
        return
    if not c.request_stream_ended():
        return
    if c.fail_code != 0:
        c.fail()
    c.finish("ok")


def serve():
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=64), options=OPTIONS)
    handlers = {
        "Unary": grpc.unary_unary_rpc_method_handler(unary),
        "ServerStream": grpc.unary_stream_rpc_method_handler(server_stream),
        "ClientStream": grpc.stream_unary_rpc_method_handler(client_stream),
        "Bidi": grpc.stream_stream_rpc_method_handler(bidi),
    }
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, handlers),))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    emit({"event": "listening", "port": port})
    read_stdin()


# ---- client ----

def outcome(kind):
    return {"event": "outcome", "kind": kind, "code": -1, "details": "", "headers": {}, "trailers": {}, "sent": [],
            "received": []}


def fill_status(out, call):
    out["code"] = call.code().value[0]
    out["details"] = call.details() or ""
    out["headers"] = md_to_map(call.initial_metadata())
    out["trailers"] = md_to_map(call.trailing_metadata())


def timeout_of(spec):
    d = spec.get("deadlineMs")
    return None if d is None else d / 1000.0


def metadata_of(spec):
    return map_to_md(spec.get("metadata"))


def py_unary(ch, spec):
    out = outcome("unary")
    extra = {"respSize": spec["respSize"]} if "respSize" in spec else None
    req, sent = request_message(0, spec["size"], extra)
    out["sent"].append(sent)
    mc = ch.unary_unary(spec.get("path") or PATHS["Unary"])
    try:
        resp, call = mc.with_call(req, metadata=metadata_of(spec), timeout=timeout_of(spec))
        out["received"].append(summarize(resp))
        fill_status(out, call)
    except grpc.RpcError as e:
        fill_status(out, e)
    return out


def py_server_stream(ch, spec):
    out = outcome("server_stream")
    req, sent = request_message(0, 0, {"sizes": spec["sizes"]})
    out["sent"].append(sent)
    call = ch.unary_stream(spec.get("path") or PATHS["ServerStream"])(req, metadata=metadata_of(spec),
                                                                      timeout=timeout_of(spec))
    try:
        for m in call:
            out["received"].append(summarize(m))
            if spec.get("cancelAfter") == len(out["received"]):
                call.cancel()
                break
    except grpc.RpcError:
        pass
    fill_status(out, call)
    return out


def py_client_stream(ch, spec):
    out = outcome("client_stream")
    msgs = []
    for i, n in enumerate(spec["sizes"]):
        b, sent = request_message(i, n)
        msgs.append(b)
        out["sent"].append(sent)
    mc = ch.stream_unary(spec.get("path") or PATHS["ClientStream"])
    try:
        resp, call = mc.with_call(iter(msgs), metadata=metadata_of(spec), timeout=timeout_of(spec))
        out["received"].append(summarize(resp))
        fill_status(out, call)
    except grpc.RpcError as e:
        fill_status(out, e)
    return out


def py_bidi(ch, spec):
    out = outcome("bidi")
    sizes = spec["sizes"]
    turn = queue.Queue()

    def requests():
        # Ping-pong: each message goes once the echo of the one before arrived; half-close after the last echo.
        for i, n in enumerate(sizes):
            if i > 0 and not turn.get():
                return
            b, sent = request_message(i, n)
            out["sent"].append(sent)
            yield b
        if sizes:
            turn.get()

    call = ch.stream_stream(spec.get("path") or PATHS["Bidi"])(requests(), metadata=metadata_of(spec),
                                                               timeout=timeout_of(spec))
    try:
        for m in call:
            out["received"].append(summarize(m))
            if spec.get("cancelAfter") == len(out["received"]):
                call.cancel()
                turn.put(False)
                break
            turn.put(True)
    except grpc.RpcError:
        pass
    turn.put(False)
    fill_status(out, call)
    return out


def echoes_match(o):
    if len(o["received"]) != len(o["sent"]):
        return False
    return all(r["intact"] and r["h"].get("seq") == i and r["h"].get("gotLen") == o["sent"][i]["len"]
               and r["h"].get("gotSha") == o["sent"][i]["sha"] for i, r in enumerate(o["received"]))


def py_concurrent(ch, spec):
    failures = []
    lock = threading.Lock()
    mc = ch.unary_unary(PATHS["Unary"])
    pending = []
    for i in range(spec["unary"]):
        req, sent = request_message(0, spec["size"])
        pending.append((i, sent, mc.future(req, metadata=(("x-call-id", "conc-u-%d" % i),))))

    def stream(i):
        o = py_bidi(ch, {"sizes": spec["streamSizes"], "metadata": {"x-call-id": "conc-s-%d" % i}})
        if o["code"] != 0 or not echoes_match(o):
            with lock:
                failures.append("stream %d: code %d %s got %d/%d" % (i, o["code"], o["details"], len(o["received"]),
                                                                     len(o["sent"])))

    threads = [threading.Thread(target=stream, args=(i,)) for i in range(spec["streams"])]
    for t in threads:
        t.start()
    for i, sent, fut in pending:
        try:
            resp = fut.result()
            o = {"sent": [sent], "received": [summarize(resp)]}
            if not echoes_match(o):
                failures.append("unary %d: echo does not match" % i)
        except grpc.RpcError as e:
            failures.append("unary %d: code %d %s" % (i, e.code().value[0], e.details()))
    for t in threads:
        t.join()
    total = spec["unary"] + spec["streams"]
    out = outcome("concurrent")
    out.update(code=0 if not failures else 2, details=failures[0] if failures else "", okCount=total - len(failures),
               total=total, failures=failures)
    return out


RUNNERS = {"unary": py_unary, "server_stream": py_server_stream, "client_stream": py_client_stream, "bidi": py_bidi,
           "concurrent": py_concurrent}


def client(target):
    specs = json.load(sys.stdin)
    with grpc.insecure_channel(target, options=OPTIONS) as ch:
        for spec in specs:
            emit(RUNNERS[spec["kind"]](ch, spec))


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "server":
        serve()
    elif len(sys.argv) >= 3 and sys.argv[1] == "client":
        client(sys.argv[2])
    else:
        sys.stderr.write("usage: grpc_peer.py server | grpc_peer.py client HOST:PORT < specs.json\n")
        sys.exit(2)
