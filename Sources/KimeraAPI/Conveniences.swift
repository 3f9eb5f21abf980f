// Small conveniences over the generated types, for the code that builds and reads them. Nothing here states
// a field of the document: each builds on the generated memberwise initialisers and properties.

/// A free-form map of the document (`additionalProperties`), which the generator wraps in a struct of its
/// own: read and written like the dictionary it holds (`statistics.endpoints["/health"]`, `for (route,
/// endpoint) in statistics.endpoints`).
public protocol StringKeyedMap: Sequence, ExpressibleByDictionaryLiteral
where Element == (key: String, value: Value), Iterator == [String: Value].Iterator, Key == String {
    associatedtype Value
    var additionalProperties: [String: Value] { get set }
    init(additionalProperties: [String: Value])
}

extension StringKeyedMap {
    public init(_ dictionary: [String: Value]) { self.init(additionalProperties: dictionary) }

    public init(dictionaryLiteral elements: (String, Value)...) {
        self.init(additionalProperties: Dictionary(elements, uniquingKeysWith: { _, last in last }))
    }

    public subscript(key: String) -> Value? {
        get { additionalProperties[key] }
        set { additionalProperties[key] = newValue }
    }

    public var keys: [String: Value].Keys { additionalProperties.keys }
    public var values: [String: Value].Values { additionalProperties.values }
    public var count: Int { additionalProperties.count }
    public var isEmpty: Bool { additionalProperties.isEmpty }
    public func makeIterator() -> [String: Value].Iterator { additionalProperties.makeIterator() }
}

extension Components.Schemas.RequestStatistics.EndpointsPayload: StringKeyedMap {}
extension Components.Schemas.EndpointStatistics.MethodsPayload: StringKeyedMap {}
extension Components.Schemas.ProfilesResponse.FunctionsPayload: StringKeyedMap {}
extension Components.Schemas.ProfilesResponse.AllocationsPayload: StringKeyedMap {}
extension Components.Schemas.LoggingMetrics.RecordsPayload: StringKeyedMap {}
extension Components.Schemas.PerformanceStats.OperationAllocationsPayload: StringKeyedMap {}
extension Components.Schemas.DebugInfo.ConfigPayload: StringKeyedMap {}
extension Components.Schemas.DebugInfo.BuffersPayload: StringKeyedMap {}
extension Components.Schemas.LogRecord.MetadataPayload: StringKeyedMap {}
extension Components.Schemas.Trace.RequestHeadersPayload: StringKeyedMap {}
extension Components.Schemas.Trace.ResponseHeadersPayload: StringKeyedMap {}
extension Components.Schemas.Geoid.SemanticStatePayload: StringKeyedMap {}
extension Components.Schemas.Geoid.SymbolicStatePayload: StringKeyedMap {}
extension Components.Schemas.Geoid.MetadataPayload: StringKeyedMap {}
extension Components.Schemas.CreateGeoidRequest.SemanticFeaturesPayload: StringKeyedMap {}
extension Components.Schemas.CreateGeoidRequest.SymbolicContentPayload: StringKeyedMap {}
extension Components.Schemas.CreateGeoidRequest.MetadataPayload: StringKeyedMap {}
extension Components.Schemas.CreateGeoidResponse.SemanticStatePayload: StringKeyedMap {}
extension Components.Schemas.CreateGeoidResponse.SymbolicStatePayload: StringKeyedMap {}
extension Components.Schemas.CreateGeoidResponse.MetadataPayload: StringKeyedMap {}
extension Components.Schemas.GeoidSearchResult.SemanticStatePayload: StringKeyedMap {}
extension Components.Schemas.GeoidSearchResult.MetadataPayload: StringKeyedMap {}

extension TimingStats {
    /// No event yet: every figure 0.
    public static let empty = TimingStats(
        count: 0, avgTimeMs: 0, minTimeMs: 0, maxTimeMs: 0, p50Ms: 0, p90Ms: 0, p95Ms: 0, p99Ms: 0, p999Ms: 0)
}

extension EndpointStatistics {
    /// An endpoint's figures: its timing (flattened into the object, as the guide shows), errors, the
    /// per-method timings and the exemplars.
    public init(
        timing: TimingStats, errors: Int, errorRate: Double, methods: [String: TimingStats],
        exemplars: EndpointExemplars? = nil
    ) {
        self.init(
            count: timing.count, avgTimeMs: timing.avgTimeMs, minTimeMs: timing.minTimeMs,
            maxTimeMs: timing.maxTimeMs, p50Ms: timing.p50Ms, p90Ms: timing.p90Ms, p95Ms: timing.p95Ms,
            p99Ms: timing.p99Ms, p999Ms: timing.p999Ms, errors: errors, errorRate: errorRate,
            methods: MethodsPayload(methods), exemplars: exemplars)
    }

    /// The endpoint's timing, all methods together.
    public var timing: TimingStats {
        TimingStats(
            count: count, avgTimeMs: avgTimeMs, minTimeMs: minTimeMs, maxTimeMs: maxTimeMs, p50Ms: p50Ms,
            p90Ms: p90Ms, p95Ms: p95Ms, p99Ms: p99Ms, p999Ms: p999Ms)
    }
}

extension AllocationStats {
    /// The counts, and the per-call figures the document gives rounded (allocations to 0.1, bytes to 1).
    public init(calls: Int64, allocations: Int64, allocatedBytes: Int64) {
        let perCall = calls > 0 ? Double(allocations) / Double(calls) : 0
        let bytesPerCall = calls > 0 ? Double(allocatedBytes) / Double(calls) : 0
        self.init(
            calls: calls, allocations: allocations, allocatedBytes: allocatedBytes,
            allocationsPerCall: (perCall * 10).rounded() / 10, allocatedBytesPerCall: bytesPerCall.rounded())
    }
}

extension Profile {
    /// A profiled operation; `memory_delta_bytes` repeats the allocated bytes (0 when not counted), as the
    /// Python original's field.
    public init(
        name: String, requestID: String?, startedAt: String, durationMs: Double, allocations: Int64?,
        allocatedBytes: Int64?, peakRSSBytes: Int64
    ) {
        self.init(
            name: name, requestID: requestID, startedAt: startedAt, durationMs: durationMs, allocations: allocations,
            allocatedBytes: allocatedBytes, memoryDeltaBytes: allocatedBytes ?? 0, peakRSSBytes: peakRSSBytes)
    }
}

extension TelemetryStatus {
    /// One signal's counters.
    public typealias SignalExport = Components.Schemas.TelemetrySignalExport

    /// The export is off: nothing configured, every counter 0.
    public static let disabled = TelemetryStatus(enabled: false, spans: .zero, logs: .zero)
}

extension TelemetrySignalExport {
    /// Every counter 0.
    public static let zero = TelemetrySignalExport(
        offered: 0, exportedBatches: 0, exportedItems: 0, failedBatches: 0, failedItems: 0, dropped: 0, queued: 0,
        capacity: 0, retries: 0)
}

extension CreateGeoidResponse {
    /// The created geoid as `GET /kimera/geoids/{id}` answers it (the create answer is its fields plus
    /// `entropy`, flat).
    public var geoid: Geoid {
        Geoid(
            geoidID: geoidID, semanticState: .init(semanticState.additionalProperties),
            symbolicState: .init(symbolicState.additionalProperties), metadata: .init(metadata.additionalProperties),
            embeddingVector: embeddingVector)
    }
}
