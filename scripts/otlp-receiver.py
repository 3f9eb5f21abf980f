#!/usr/bin/env python3
"""A minimal OTLP/HTTP receiver for Kimera's tests.

Accepts POST /v1/traces and /v1/logs with application/x-protobuf bodies, decodes them with the
reference definitions (PyPI `opentelemetry-proto`, installed by scripts/setup into .venv-otlp/), and
appends one JSON line per span or log record to --out. Listens on 127.0.0.1 only; --port 0 picks a free
port, printed as `listening PORT` on stdout. Exits on SIGTERM/SIGINT.

Run as: .venv-otlp/bin/python scripts/otlp-receiver.py --port 0 --out FILE [--status 200]
"""
import argparse
import json
import signal
import sys
import threading
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

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self.send_error(413)
            return
        body = self.rfile.read(length)
        status = self.server.reply_status
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
                            "attributes": attributes(span.attributes),
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
                            "body": any_value(record.body),
                            "attributes": attributes(record.attributes),
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
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--out", required=True)
    parser.add_argument("--status", type=int, default=200, help="answer every export with this status")
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Receiver)
    server.daemon_threads = True
    server.out = args.out
    server.reply_status = args.status
    server.lock = threading.Lock()
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    print(f"listening {server.server_address[1]}", flush=True)
    try:
        server.serve_forever(poll_interval=0.1)
    except KeyboardInterrupt:
        pass
    server.server_close()
    sys.exit(0)


if __name__ == "__main__":
    main()
