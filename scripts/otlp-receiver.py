#!/usr/bin/env python3
"""A minimal OTLP/HTTP receiver for Kimera's tests.

Accepts POST /v1/traces and /v1/logs with application/x-protobuf bodies, decodes them with the
reference definitions (PyPI `opentelemetry-proto`, installed by scripts/setup into .venv-otlp/), and
appends one JSON line per span or log record to --out. Listens on 127.0.0.1 only; --port 0 picks a free
port, printed as `listening PORT` on stdout. Exits on SIGTERM/SIGINT.

Modes for the failure tests: --status answers every export with that status (nothing is recorded unless
it is 200), --fail-first N answers only the first N with it, --retry-after S adds `Retry-After: S`, and
--delay S waits S seconds before answering; --count-only decodes every body the same way but keeps only the
running totals, written to --out as {"spans": N, "logs": M, "requests": R} after each export (the benchmark's
receiver: it must not spend wrk's core on JSON). Every request is counted in FILE.requests (path, status,
Content-Encoding, time, the body's digest), and a gzip body (Content-Encoding: gzip) is decompressed before decoding.

Run as: .venv-otlp/bin/python scripts/otlp-receiver.py --port 0 --out FILE [--status 200] [--fail-first N]
        [--retry-after S] [--delay S] [--count-only]
"""
import argparse
import gzip
import hashlib
import json
import os
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

MAX_BODY = 16 * 1024 * 1024


def any_value(value):
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [any_value(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: any_value(kv.value) for kv in value.kvlist_value.values}
    if kind == "bytes_value":
        return value.bytes_value.hex()
    return getattr(value, kind)


def attributes(pairs):
    return {kv.key: any_value(kv.value) for kv in pairs}


class Receiver(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # quiet: the test reads the JSON lines
        pass

    def count(self, body):
        spans = logs = 0
        if self.path == "/v1/traces":
            request = ExportTraceServiceRequest.FromString(body)
            spans = sum(len(s.spans) for r in request.resource_spans for s in r.scope_spans)
            payload = ExportTraceServiceResponse().SerializeToString()
        elif self.path == "/v1/logs":
            request = ExportLogsServiceRequest.FromString(body)
            logs = sum(len(s.log_records) for r in request.resource_logs for s in r.scope_logs)
            payload = ExportLogsServiceResponse().SerializeToString()
        else:
            self.send_error(404)
            return
        with self.server.lock:
            totals = self.server.totals
            totals["spans"] += spans
            totals["logs"] += logs
            totals["requests"] += 1
            with open(self.server.out + ".tmp", "w", encoding="utf-8") as out:
                json.dump(totals, out)
            os.replace(self.server.out + ".tmp", self.server.out)
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self.send_error(413)
            return
        body = self.rfile.read(length)
        encoding = self.headers.get("Content-Encoding") or ""
        if encoding == "gzip":
            body = gzip.decompress(body)
        if self.server.count_only:
            self.count(body)
            return
        with self.server.lock:
            self.server.requests += 1
            status = self.server.reply_status
            if self.server.fail_first and self.server.requests > self.server.fail_first:
                status = 200
            with open(self.server.out + ".requests", "a", encoding="utf-8") as out:
                # The digest tells a retry (the same body again) from the next batch.
                out.write(json.dumps({"path": self.path, "status": status, "encoding": encoding,
                                      "time": time.time(), "digest": hashlib.sha1(body).hexdigest()}) + "\n")
        if self.server.delay:
            time.sleep(self.server.delay)
        lines = []
        if self.path == "/v1/traces":
            request = ExportTraceServiceRequest.FromString(body)
            response = ExportTraceServiceResponse()
            for resource_spans in request.resource_spans:
                resource = attributes(resource_spans.resource.attributes)
                for scope_spans in resource_spans.scope_spans:
                    for span in scope_spans.spans:
                        lines.append({
                            "signal": "span",
                            "resource": resource,
                            "trace_id": span.trace_id.hex(),
                            "span_id": span.span_id.hex(),
                            "parent_span_id": span.parent_span_id.hex(),
                            "name": span.name,
                            "kind": span.kind,
                            "status_code": span.status.code,
                            "status_message": span.status.message,
                            "attributes": attributes(span.attributes),
                            "trace_state": span.trace_state,
                            "flags": span.flags,
                            "start_time_unix_nano": span.start_time_unix_nano,
                            "end_time_unix_nano": span.end_time_unix_nano,
                            "events": [
                                {"name": e.name, "time_unix_nano": e.time_unix_nano,
                                 "attributes": attributes(e.attributes)} for e in span.events
                            ],
                            "links": [
                                {"trace_id": l.trace_id.hex(), "span_id": l.span_id.hex(),
                                 "trace_state": l.trace_state, "flags": l.flags,
                                 "attributes": attributes(l.attributes)} for l in span.links
                            ],
                            "scope": {"name": scope_spans.scope.name, "version": scope_spans.scope.version},
                        })
        elif self.path == "/v1/logs":
            request = ExportLogsServiceRequest.FromString(body)
            response = ExportLogsServiceResponse()
            for resource_logs in request.resource_logs:
                resource = attributes(resource_logs.resource.attributes)
                for scope_logs in resource_logs.scope_logs:
                    for record in scope_logs.log_records:
                        lines.append({
                            "signal": "log",
                            "resource": resource,
                            "trace_id": record.trace_id.hex(),
                            "span_id": record.span_id.hex(),
                            "severity": record.severity_text,
                            "severity_number": record.severity_number,
                            "body": any_value(record.body),
                            "attributes": attributes(record.attributes),
                            "flags": record.flags,
                            "time_unix_nano": record.time_unix_nano,
                            "observed_time_unix_nano": record.observed_time_unix_nano,
                            "scope": {"name": scope_logs.scope.name, "version": scope_logs.scope.version},
                        })
        else:
            self.send_error(404)
            return
        if status == 200:
            with self.server.lock, open(self.server.out, "a", encoding="utf-8") as out:
                for line in lines:
                    out.write(json.dumps(line, sort_keys=True) + "\n")
            # The headers the exporter sent, names only: a test checks OTEL_EXPORTER_OTLP_HEADERS arrived.
            with self.server.lock, open(self.server.out + ".headers", "a", encoding="utf-8") as out:
                out.write(json.dumps({k.lower(): v for k, v in self.headers.items()}, sort_keys=True) + "\n")
        payload = response.SerializeToString() if status == 200 else b""
        self.send_response(status)
        if status != 200 and self.server.retry_after is not None:
            self.send_header("Retry-After", str(self.server.retry_after))
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--out", required=True)
    parser.add_argument("--status", type=int, default=200, help="answer every export with this status")
    parser.add_argument("--fail-first", type=int, default=0, help="answer only the first N exports with --status")
    parser.add_argument("--retry-after", type=int, default=None, help="Retry-After seconds on a failure status")
    parser.add_argument("--delay", type=float, default=0, help="seconds to wait before answering")
    parser.add_argument("--count-only", action="store_true", help="decode, count, and keep only the totals")
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Receiver)
    server.daemon_threads = True
    # An exporter keeps its connection open between exports: do not wait for it at exit.
    server.block_on_close = False
    server.out = args.out
    server.reply_status = args.status
    server.fail_first = args.fail_first
    server.retry_after = args.retry_after
    server.delay = args.delay
    server.requests = 0
    server.count_only = args.count_only
    server.totals = {"spans": 0, "logs": 0, "requests": 0}
    server.lock = threading.Lock()
    def stop(*_):
        # At once, between two writes (they hold the lock): a handler thread waiting on an exporter's
        # kept-alive connection would otherwise hold the exit.
        server.lock.acquire()
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    # A parent may start us with SIGTERM blocked (Foundation's Process does): unblock it.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
    print(f"listening {server.server_address[1]}", flush=True)
    try:
        server.serve_forever(poll_interval=0.1)
    except KeyboardInterrupt:
        pass
    server.server_close()
    sys.exit(0)


if __name__ == "__main__":
    main()
