import Logging
import Tracing

/// A log record as the exporter encodes it.
package struct LogRecordData: Sendable {
    var timeNanos: UInt64
    var level: Logger.Level
    var body: String
    /// The record's metadata (request id included), already redacted by Kimera's log pipeline.
    var attributes: [(String, String)]
    var file: String
    var function: String
    var line: UInt
    /// The span current when the record was written, if any.
    var trace: SpanContext?

    /// OTLP `SeverityNumber`: TRACE 1, DEBUG 5, INFO 9, INFO2 10 (notice), WARN 13, ERROR 17, FATAL 21.
    var severityNumber: UInt64 {
        switch level {
        case .trace: 1
        case .debug: 5
        case .info: 9
        case .notice: 10
        case .warning: 13
        case .error: 17
        case .critical: 21
        }
    }

    var severityText: String {
        switch level {
        case .trace: "TRACE"
        case .debug: "DEBUG"
        case .info: "INFO"
        case .notice: "NOTICE"
        case .warning: "WARN"
        case .error: "ERROR"
        case .critical: "FATAL"
        }
    }
}

/// The exporting sink of Kimera's log pipeline: each record at or above its level (`OTEL_SWIFT_LOG_LEVEL`,
/// default info) goes into the bounded log queue with the current span's ids. Nothing is written or sent
/// on the caller's thread (docs/OPERATIONS.md "OpenTelemetry export").
package struct OTLPLogHandler: LogHandler {
    let queue: ExportQueue<LogRecordData>
    package var logLevel: Logger.Level
    package var metadata: Logger.Metadata = [:]

    package init(queue: ExportQueue<LogRecordData>, logLevel: Logger.Level) {
        self.queue = queue
        self.logLevel = logLevel
    }

    package subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    package func log(event: LogEvent) {
        var attributes: [(String, String)] = []
        let extra = event.metadata ?? [:]
        attributes.reserveCapacity(metadata.count + extra.count)
        for (key, value) in metadata where extra[key] == nil { attributes.append((key, "\(value)")) }
        for (key, value) in extra { attributes.append((key, "\(value)")) }
        queue.offer(
            LogRecordData(
                timeNanos: DefaultTracerClock.now.nanosecondsSinceEpoch, level: event.level,
                body: event.message.description, attributes: attributes, file: event.file, function: event.function,
                line: event.line, trace: InstrumentationContext.current?.spanContext))
    }
}
