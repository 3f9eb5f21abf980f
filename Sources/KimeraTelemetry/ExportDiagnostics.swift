import KimeraModels
import KimeraObservability
import Logging
import Synchronization

/// Counts what swift-otel's exporters report about themselves: exported, failed and dropped batches of
/// spans and log records. swift-otel 1.6 exposes no counters; its batch processors report each batch
/// on their diagnostic logger ("Exported batch." at debug, "Failed to export batch." and "… dropped …
/// because queue was full" at warning, with `batch_size` / `dropped_count` and `component` metadata).
/// This handler is that logger, so the counts are exact for the pinned version (tested end to end).
///
/// It never forwards the SDK's messages into Kimera's own log export, which would loop when the
/// collector is down; the last failure's text is kept for `/debug/info`. Errors from the HTTP client
/// name the endpoint, never the request headers, so `OTEL_EXPORTER_OTLP_HEADERS` values never appear.
public final class ExportDiagnostics: Sendable {
    struct State {
        var spans = TelemetryStatus.SignalExport()
        var logs = TelemetryStatus.SignalExport()
        var lastError: String?
    }

    /// Protects the counters and the last error.
    private let state = Mutex(State())

    public init() {}

    public var spans: TelemetryStatus.SignalExport { state.withLock { $0.spans } }
    public var logs: TelemetryStatus.SignalExport { state.withLock { $0.logs } }
    public var lastError: String? { state.withLock { $0.lastError } }

    /// A logger for `OTel.Configuration.diagnosticLogger`.
    public func logger() -> Logger {
        Logger(label: "kimera.telemetry.sdk") { [self] _ in DiagnosticsLogHandler(diagnostics: self) }
    }

    func record(message: String, metadata: Logger.Metadata, error: (any Error)?) {
        let component = metadata["component"].map { "\($0)" } ?? ""
        let isSpans = component.contains("Span")
        guard isSpans || component.contains("LogRecord") else { return }
        func count(_ key: String) -> UInt64 { metadata[key].flatMap { UInt64("\($0)") } ?? 0 }
        state.withLock { state in
            func update(_ change: (inout TelemetryStatus.SignalExport) -> Void) {
                if isSpans { change(&state.spans) } else { change(&state.logs) }
            }
            switch message {
            case "Exported batch.":
                update {
                    $0.exportedBatches += 1
                    $0.exportedItems += count("batch_size")
                }
            case "Failed to export batch.":
                update {
                    $0.failedBatches += 1
                    $0.failedItems += count("batch_size")
                }
                state.lastError = Redaction.message(error.map { "\($0)" } ?? message)
            case _ where message.contains("dropped"):
                update { $0.dropped += count("dropped_count") }
            default:
                break
            }
        }
    }
}

/// The diagnostic logger's handler. Its level stays at debug whatever `OTEL_LOG_LEVEL` asks, since the
/// counters need the per-batch messages; the level set is kept and reported, as swift-log asks.
struct DiagnosticsLogHandler: LogHandler {
    let diagnostics: ExportDiagnostics
    var metadata: Logger.Metadata = [:]
    private var requestedLevel: Logger.Level = .debug

    init(diagnostics: ExportDiagnostics) { self.diagnostics = diagnostics }

    var logLevel: Logger.Level {
        get { min(requestedLevel, .debug) }
        set { requestedLevel = newValue }
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var merged = metadata
        if let extra = event.metadata { merged.merge(extra) { $1 } }
        diagnostics.record(message: event.message.description, metadata: merged, error: event.error)
    }
}
