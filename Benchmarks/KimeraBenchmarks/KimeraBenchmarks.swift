import Benchmark
import CKimeraAllocations
import KimeraObservability
import KimeraServer
import KimeraTelemetry
import Logging
import Tracing

/// The per-call costs the hybrid server's promise rests on: a filtered-out log call, a log record
/// into the ring, a latency record, and the tracer's work for one request.
let benchmarks: @Sendable () -> Void = {
    // 1000 calls per sample; the figures are per call. The harness itself allocates a little per
    // sample: "empty loop" shows that floor, so a benchmark at the same count adds no allocation.
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .mallocCountTotal], scalingFactor: .kilo, maxDuration: .seconds(3),
        maxIterations: 100_000)

    let runtime = RuntimeConfiguration(debug: false, performance: true)
    let engine = ObservabilityEngine(runtime: runtime, limits: StoreLimits(), consoleEnabled: false)
    let logger = engine.logger("kimera.bench")

    Benchmark("empty loop (harness floor)") { benchmark in
        for index in benchmark.scaledIterations {
            blackHole(index)
        }
    }

    // The allocator interposer (issue 25; docs/OPERATIONS.md "Allocations per operation"): glibc's malloc
    // called directly, the same allocation through Kimera's interposed malloc while nothing counts (the one
    // relaxed load every allocation of the server pays), and while this task's allocations are counted. In
    // this binary the harness's own interposer owns the name `malloc` (to count mallocs), so both are called
    // by their own names and its malloc count stays at the harness floor.
    Benchmark("malloc+free 64 B: glibc (__libc_malloc)") { benchmark in
        for _ in benchmark.scaledIterations {
            let pointer = kimera_alloc_libc_malloc(64)
            blackHole(pointer)
            kimera_alloc_libc_free(pointer)
        }
    }

    Benchmark("malloc+free 64 B: Kimera's interposed malloc, counting off") { benchmark in
        for _ in benchmark.scaledIterations {
            let pointer = kimera_alloc_interposed_malloc(64)
            blackHole(pointer)
            kimera_alloc_libc_free(pointer)
        }
    }

    Benchmark("malloc+free 64 B: Kimera's interposed malloc, counting this task") { benchmark async in
        let mark = kimera_alloc_begin()
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            let pointer = kimera_alloc_interposed_malloc(64)
            blackHole(pointer)
            kimera_alloc_libc_free(pointer)
        }
        benchmark.stopMeasurement()
        var allocations: UInt64 = 0
        var bytes: UInt64 = 0
        kimera_alloc_end(mark, &allocations, &bytes)
        blackHole(allocations)
    }

    Benchmark("filtered-out log call (DEBUG in performance mode)") { benchmark in
        for index in benchmark.scaledIterations {
            logger.debug("value \(index)")
        }
    }

    Benchmark("log record into the ring (INFO)") { benchmark in
        for _ in benchmark.scaledIterations {
            logger.info("request handled")
        }
    }

    Benchmark("latency histogram record") { benchmark in
        var recorder = LatencyRecorder()
        benchmark.startMeasurement()
        for index in benchmark.scaledIterations {
            recorder.record(nanos: Int64(1000 + index % 5000), error: false)
        }
        benchmark.stopMeasurement()
        blackHole(recorder.timing)
    }

    Benchmark("tracer per request (id, stats, trace ring)") { benchmark in
        let tracer = engine.tracer
        for index in benchmark.scaledIterations {
            let id = RequestIdentity.generate()
            tracer.begin()
            tracer.finish(
                CompactTrace(
                    requestID: id, method: "GET", path: "/health", query: nil, route: "/health", status: 200,
                    durationNanos: Int64(20_000 + index % 1000), startedWallNanos: Timestamp.wallNanos(), bytesIn: 0,
                    bytesOut: 106, cache: nil, slow: false, error: nil))
        }
    }

    // OpenTelemetry export (docs/OPERATIONS.md "OpenTelemetry export"): what a request pays for its span
    // and its log record. The queue is emptied every 512 items, as the exporter does, so that every offer
    // appends (a full queue would only count a drop); that emptying is measured too.
    let spanQueue = ExportQueue<ExportedSpan>(capacity: 2048, batchSize: 512)
    let tracer = KimeraTracer(sampler: .alwaysOn, queue: spanQueue)
    @inline(__always) func drain<Item>(_ queue: ExportQueue<Item>, at index: Int) {
        guard index & 511 == 511 else { return }
        let batch = queue.takeBatch()
        queue.complete(batch.count, exported: true, retries: 0)
    }

    Benchmark("OTLP span start→end (sampled, into the export queue)") { benchmark in
        for index in benchmark.scaledIterations {
            let span = tracer.startSpan("GET /health", context: .topLevel, ofKind: .server)
            span.end()
            drain(spanQueue, at: index)
        }
    }

    Benchmark("OTLP request span of the full path (span object, HTTP fields, traceparent, trace id)") {
        benchmark in
        for index in benchmark.scaledIterations {
            let span = tracer.startServerSpan(
                "GET", remote: nil,
                http: HTTPServerFields(
                    method: "GET", path: "/health", query: nil, authority: "127.0.0.1:8001",
                    serverAddress: "127.0.0.1", serverPort: 8001, userAgent: "wrk", requestBodySize: nil))
            let identity = span.spanContext
            blackHole(identity.traceparent)
            blackHole(identity.traceIDHex)
            span.finishHTTPServer(route: "/health", status: 200, responseBodySize: 138, end: true)
            drain(spanQueue, at: index)
        }
    }

    // What `ServerSpans.startAnswered` and `finish` do for a request the fast path answers: no span
    // object, one record into the queue.
    Benchmark("OTLP request span of the fast path (ids, HTTP fields, traceparent, trace id, one record)") {
        benchmark in
        for index in benchmark.scaledIterations {
            let identity = tracer.serverSpanIdentity(remote: nil)
            let start = DefaultTracerClock.now.nanosecondsSinceEpoch
            blackHole(identity.traceparent)
            blackHole(identity.traceIDHex)
            var http = HTTPServerFields(
                method: "GET", path: "/health", query: nil, authority: "127.0.0.1:8001", serverAddress: "127.0.0.1",
                serverPort: 8001, userAgent: "wrk", requestBodySize: nil)
            http.route = "/health"
            http.status = 200
            http.responseBodySize = 138
            tracer.exportServerSpan(
                identity, parentSpanID: 0, startNanos: start, endNanos: DefaultTracerClock.now.nanosecondsSinceEpoch,
                http: http)
            drain(spanQueue, at: index)
        }
    }

    let logQueue = ExportQueue<LogRecordData>(capacity: 2048, batchSize: 512)
    let exportLogger = Logger(label: "kimera.bench.otlp") { _ in OTLPLogHandler(queue: logQueue, logLevel: .info) }
    Benchmark("OTLP log record into the export queue (INFO, one metadata value)") { benchmark in
        for index in benchmark.scaledIterations {
            exportLogger.info("request handled", metadata: ["request_id": "4bf92f3577b34da6a3ce929d0e0e4736"])
            drain(logQueue, at: index)
        }
    }

    // The exporter's side: encoding a batch of 512 request spans (per span: divide by 512).
    let batchQueue = ExportQueue<ExportedSpan>(capacity: 512, batchSize: 512)
    let batchTracer = KimeraTracer(sampler: .alwaysOn, queue: batchQueue)
    for _ in 0..<512 {
        let span = batchTracer.startServerSpan(
            "GET", remote: nil,
            http: HTTPServerFields(
                method: "GET", path: "/kimera/geoids/g-1234", query: nil, authority: "127.0.0.1:8001",
                serverAddress: "127.0.0.1", serverPort: 8001, userAgent: "kimera-cli", requestBodySize: nil))
        span.finishHTTPServer(route: "/kimera/geoids/{id}", status: 200, responseBodySize: 412, end: true)
    }
    let batch = batchQueue.takeBatch()
    let preamble = OTLPEncoding.Preamble(
        resourceAttributes: [("service.name", "kimera"), ("service.instance.id", "127.0.0.1:8001")],
        scopeName: "kimera", scopeVersion: "0.1.0")
    /// One batch's `ExportTraceServiceRequest`, written again and again into one writer, as the exporter does.
    func encoding(_ name: String, _ batch: [ExportedSpan]) {
        Benchmark(name, configuration: .init(metrics: [.wallClock, .mallocCountTotal], scalingFactor: .one)) {
            benchmark in
            var writer = ProtobufWriter(capacity: 256 * 1024)
            for _ in benchmark.scaledIterations {
                writer.reset()
                OTLPEncoding.traces(batch, preamble: preamble, into: &writer)
                blackHole(writer.bytes.count)
            }
        }
    }
    encoding("OTLP protobuf encoding of 512 request spans (exporter side)", batch)

    // The same for the records of 512 requests the fast path answered (what `/health` under load sends).
    let recordQueue = ExportQueue<ExportedSpan>(capacity: 512, batchSize: 512)
    let recordTracer = KimeraTracer(sampler: .alwaysOn, queue: recordQueue)
    var recordHTTP = HTTPServerFields(
        method: "GET", path: "/health", query: nil, authority: "127.0.0.1:8001", serverAddress: "127.0.0.1",
        serverPort: 8001, userAgent: nil, requestBodySize: nil)
    recordHTTP.route = "/health"
    recordHTTP.status = 200
    recordHTTP.responseBodySize = 138
    for index in 0..<512 {
        let identity = recordTracer.serverSpanIdentity(remote: nil)
        recordTracer.exportServerSpan(
            identity, parentSpanID: 0, startNanos: UInt64(index), endNanos: UInt64(index) + 40_000, http: recordHTTP)
    }
    encoding("OTLP protobuf encoding of 512 fast-path request records (exporter side)", recordQueue.takeBatch())
}
