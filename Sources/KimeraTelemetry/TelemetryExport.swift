import KimeraModels
import KimeraObservability
import Logging
import OTel
import ServiceLifecycle
import Tracing

/// Kimera's OpenTelemetry export: spans and log records over OTLP/HTTP protobuf (swift-otel), composed
/// with Kimera's own observability rather than replacing it. Nothing is bootstrapped process-wide: the
/// tracer is handed to the request-span middleware and the profiler, the log handler to Kimera's log
/// pipeline, and the exporters run as ServiceLifecycle services beside the HTTP server.
///
/// Export is batched and bounded by swift-otel's batch processors (queue 2048, batches of 512 by
/// default, `OTEL_BSP_*` / `OTEL_BLRP_*`): a request only appends to a queue, a full queue drops and
/// counts, and a slow or absent collector delays nothing but the exporter task.
public final class TelemetryExport: Sendable {
    public let settings: TelemetrySettings
    /// The request and operation spans come from here; `any Tracer` keeps swift-otel's type out of
    /// the middleware.
    public let tracer: any Tracer
    public let diagnostics: ExportDiagnostics
    /// The exporters and processors; run them with the server, shut down after it.
    public let services: [any Service]
    private let logFactory: (@Sendable (String) -> any LogHandler)?

    public init(settings: TelemetrySettings) throws {
        self.settings = settings
        let diagnostics = ExportDiagnostics()
        self.diagnostics = diagnostics

        var configuration = OTel.Configuration.default
        if !settings.serviceNameFromEnvironment { configuration.serviceName = settings.serviceName }
        // OTEL_RESOURCE_ATTRIBUTES is merged over these by swift-otel.
        configuration.resourceAttributes["service.instance.id"] = settings.instanceID
        configuration.resourceAttributes["service.version"] = KimeraVersion.current
        configuration.diagnosticLogger = .custom(diagnostics.logger())
        configuration.diagnosticLogLevel = .debug
        configuration.metrics.enabled = false
        configuration.traces.enabled = settings.tracesEnabled
        configuration.logs.enabled = settings.logsEnabled
        if let endpoint = settings.configuredEndpoint {
            // Explicit per-signal URLs; the OTEL_EXPORTER_OTLP_* variables still override them.
            configuration.traces.otlpExporter.endpoint = Self.signalURL(endpoint, "v1/traces")
            configuration.logs.otlpExporter.endpoint = Self.signalURL(endpoint, "v1/logs")
        }

        var services: [any Service] = []
        if settings.tracesEnabled {
            let backend = try OTel.makeTracingBackend(configuration: configuration)
            tracer = backend.factory
            services.append(backend.service)
        } else {
            tracer = NoOpTracer()
        }
        if settings.logsEnabled {
            let backend = try OTel.makeLoggingBackend(configuration: configuration)
            logFactory = backend.factory
            services.append(backend.service)
        } else {
            logFactory = nil
        }
        self.services = services.map { BoundedShutdown($0, limit: Self.shutdownLimit) }
    }

    /// How long the exporters may take to flush once the server stops: a collector that is down or slow
    /// must not hold the shutdown for the export timeout (10 s by default) and its retries.
    public static let shutdownLimit = Duration.seconds(2)

    static func signalURL(_ base: String, _ path: String) -> String {
        base.hasSuffix("/") ? base + path : base + "/" + path
    }

    /// What the observability engine needs: child spans, the exporting log handler, trace ids for the
    /// ring's records, and the counters.
    public var hooks: TelemetryHooks {
        let logFactory = self.logFactory
        let context = OTel.makeLoggingMetadataProvider()
        return TelemetryHooks(
            operations: OperationSpans(tracer: tracer),
            exportHandler: { label in logFactory?(label) ?? SwiftLogNoOpLogHandler() },
            // `trace_id` and `span_id` only: the flags say nothing a reader of the ring needs.
            contextMetadata: Logger.MetadataProvider {
                var metadata = context.get()
                metadata["trace_flags"] = nil
                return metadata
            },
            status: { [self] in status })
    }

    public var status: TelemetryStatus {
        TelemetryStatus(
            enabled: true, serviceName: settings.serviceName, instanceID: settings.instanceID,
            tracesEndpoint: settings.tracesEnabled ? TelemetrySettings.displayed(settings.tracesEndpoint) : nil,
            logsEndpoint: settings.logsEnabled ? TelemetrySettings.displayed(settings.logsEndpoint) : nil,
            spans: diagnostics.spans, logs: diagnostics.logs, lastError: diagnostics.lastError)
    }
}

/// A child span (kind internal) of the current span around each profiled operation; a thrown error
/// marks it failed.
struct OperationSpans: OperationTracing {
    let tracer: any Tracer

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
