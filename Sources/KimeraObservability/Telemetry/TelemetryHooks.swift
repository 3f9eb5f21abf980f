import KimeraAPI
import KimeraModels
import Logging

/// Child spans for named operations: the profiler wraps each profiled call in one when telemetry is on.
/// Implemented over swift-distributed-tracing by `KimeraTelemetry`; this target stays free of it.
public protocol OperationTracing: Sendable {
    func span<T>(_ name: String, _ body: () throws -> T) rethrows -> T
    func span<T>(_ name: String, _ body: () async throws -> T) async rethrows -> T
}

/// What an OpenTelemetry export adds to the observability engine. Nil on the engine means export is
/// off, and then nothing here is consulted: no span, no extra handler, no extra metadata per record.
public struct TelemetryHooks: Sendable {
    /// Child spans of the request span around profiled work.
    public var operations: any OperationTracing
    /// The exporting log handler for a label; records reach it besides the ring and the sinks.
    public var exportHandler: @Sendable (String) -> any LogHandler
    /// The current trace context as record metadata (`trace_id`, `span_id`) for the ring and sinks.
    public var contextMetadata: Logger.MetadataProvider
    /// The export counters, for `/debug/info` and `/metrics`.
    public var status: @Sendable () -> TelemetryStatus

    public init(
        operations: any OperationTracing, exportHandler: @escaping @Sendable (String) -> any LogHandler,
        contextMetadata: Logger.MetadataProvider, status: @escaping @Sendable () -> TelemetryStatus
    ) {
        self.operations = operations
        self.exportHandler = exportHandler
        self.contextMetadata = contextMetadata
        self.status = status
    }
}
