import KimeraAPI
import KimeraModels
import KimeraObservability
import Logging
import ServiceLifecycle
import Tracing

/// Kimera's OpenTelemetry export: spans and log records over OTLP/HTTP protobuf, composed with Kimera's own
/// observability rather than replacing it (docs/OPERATIONS.md "OpenTelemetry export"). Nothing is
/// bootstrapped process-wide: the tracer is handed to the request-span middleware, the fast path and the
/// profiler, the log handler to Kimera's log pipeline, and the two exporters run as ServiceLifecycle
/// services beside the HTTP server.
///
/// The pipeline is Kimera's own: ending a span or writing a record appends it to a bounded queue under one
/// short lock (`ExportQueue`); one exporter per signal drains its queue in batches (`OTLPExporter`). A full
/// queue drops the newest item and counts it; a slow or absent collector delays nothing but the exporter.
public final class TelemetryExport: Sendable {
    public let settings: TelemetrySettings
    /// The request and operation spans come from here.
    public let tracer: KimeraTracer
    /// The exporters; run them with the server, shut down after it.
    public let services: [any Service]
    let spanQueue: ExportQueue<ExportedSpan>?
    let logQueue: ExportQueue<LogRecordData>?
    let failures = ExportFailures()

    public init(settings: TelemetrySettings) throws {
        self.settings = settings
        let preamble = OTLPEncoding.Preamble(
            resourceAttributes: settings.resourceAttributes, scopeName: "kimera", scopeVersion: KimeraVersion.current)
        let failures = self.failures
        var services: [any Service] = []
        /// The queue and exporter of one signal, or nil when its exporter is `none`.
        func pipeline<Item: Sendable>(
            _ name: String, _ enabled: Bool, _ signal: SignalExportSettings,
            encode: @escaping @Sendable ([Item], OTLPEncoding.Preamble, inout ProtobufWriter) -> Void
        ) -> ExportQueue<Item>? {
            guard enabled else { return nil }
            let queue = ExportQueue<Item>(capacity: signal.maxQueueSize, batchSize: signal.maxBatchSize)
            services.append(
                OTLPExporter(name: name, settings: signal, queue: queue, failures: failures) {
                    encode($0, preamble, &$1)
                })
            return queue
        }
        spanQueue = pipeline("spans", settings.tracesEnabled, settings.traces, encode: OTLPEncoding.traces)
        logQueue = pipeline("logs", settings.logsEnabled, settings.logs, encode: OTLPEncoding.logs)
        // Spans are made (and propagated) even when only logs are exported: records then carry trace ids.
        tracer = KimeraTracer(sampler: settings.sampler, queue: spanQueue)
        self.services = services.map { BoundedShutdown($0, limit: Self.shutdownLimit) }
    }

    /// How long the exporters may take to flush once the server stops: a collector that is down or slow
    /// must not hold the shutdown for the export timeout (10 s by default) and its retries.
    public static let shutdownLimit = Duration.seconds(2)

    /// What the observability engine needs: child spans, the exporting log handler, trace ids for the
    /// ring's records, and the counters.
    public var hooks: TelemetryHooks {
        let logQueue = self.logQueue
        let level = settings.logLevel
        return TelemetryHooks(
            operations: OperationSpans(tracer: tracer),
            exportHandler: { _ in
                guard let logQueue else { return SwiftLogNoOpLogHandler() }
                return OTLPLogHandler(queue: logQueue, logLevel: level)
            },
            // `trace_id` and `span_id` only: the flags say nothing a reader of the ring needs.
            contextMetadata: Logger.MetadataProvider {
                guard let span = InstrumentationContext.current?.spanContext else { return [:] }
                return ["trace_id": .string(span.traceIDHex), "span_id": .string(span.spanIDHex)]
            },
            status: { [self] in status })
    }

    public var status: TelemetryStatus {
        TelemetryStatus(
            enabled: true, serviceName: settings.serviceName, instanceID: settings.instanceID,
            tracesEndpoint: settings.tracesEnabled ? TelemetrySettings.displayed(settings.tracesEndpoint) : nil,
            logsEndpoint: settings.logsEnabled ? TelemetrySettings.displayed(settings.logsEndpoint) : nil,
            spans: spanQueue?.counts ?? .zero,
            logs: logQueue?.counts ?? .zero, lastError: failures.lastError)
    }
}

/// A child span (kind internal) of the current span around each profiled operation; a thrown error
/// marks it failed.
struct OperationSpans: OperationTracing {
    let tracer: KimeraTracer

    func span<T>(_ name: String, _ body: () throws -> T) rethrows -> T {
        let span = tracer.startSpan(name, context: InstrumentationContext.current ?? .topLevel, ofKind: .internal)
        defer { span.end() }
        do {
            return try InstrumentationContext.$current.withValue(span.context) { try body() }
        } catch {
            span.recordError(error)
            span.setStatus(SpanStatus(code: .error))
            throw error
        }
    }

    func span<T>(_ name: String, _ body: () async throws -> T) async rethrows -> T {
        let span = tracer.startSpan(name, context: InstrumentationContext.current ?? .topLevel, ofKind: .internal)
        defer { span.end() }
        do {
            return try await InstrumentationContext.$current.withValue(span.context) { try await body() }
        } catch {
            span.recordError(error)
            span.setStatus(SpanStatus(code: .error))
            throw error
        }
    }
}

/// Runs a service; once graceful shutdown is triggered it gets `limit` to finish, then it is cancelled.
struct BoundedShutdown: Service {
    let inner: any Service
    let limit: Duration

    init(_ inner: any Service, limit: Duration) {
        self.inner = inner
        self.limit = limit
    }

    func run() async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await inner.run() }
            group.addTask {
                // Returns when graceful shutdown begins; throws when cancelled (the inner service ended).
                try await gracefulShutdown()
                try await Task.sleep(for: limit)
            }
            // Whichever ends first: the service (done), or the limit after shutdown began (cancel the
            // service). The other task's result, an error of cancellation included, is not awaited.
            _ = try await group.next()
            group.cancelAll()
        }
    }
}
