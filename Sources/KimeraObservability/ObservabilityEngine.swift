#if canImport(FoundationEssentials)
    import FoundationEssentials
    import Glibc
#else
    import Foundation
#endif
import KimeraAPI
import KimeraModels
import Logging
import Synchronization

/// Everything the debug API reads and the middleware writes, built once per server.
public final class ObservabilityEngine: Sendable {
    public let runtime: RuntimeConfiguration
    public let ring: LogRing
    public let pipeline: LogPipeline
    let sinks: SinkSet
    public let tracer: RequestTracer
    public let profiler: Profiler
    public let cache: ResponseCache
    /// Requests that ended badly, with their logs (docs/OPERATIONS.md "Incidents").
    public let incidents: IncidentStore
    public let limits: StoreLimits
    public let startedAt = Date()
    let startedMonotonic = Timestamp.monotonicNanos()
    /// The audit trail of runtime changes (`kimera.audit`).
    public let audit: Logger
    /// Which replica this is, in `/health`, `/debug/info`, every log record's metadata and `/metrics` labels.
    public let instanceID: String?
    /// The OpenTelemetry export, when configured; nil costs nothing per request or record.
    public let telemetry: TelemetryHooks?

    /// - Parameters:
    ///   - consoleEnabled: write records to stderr (off in unit tests).
    ///   - logFile: a JSON-lines file sink, rotated by size.
    ///   - telemetry: the OpenTelemetry export (`KimeraTelemetry`), or nil when it is off.
    public convenience init(
        runtime: RuntimeConfiguration, limits: StoreLimits, consoleEnabled: Bool = true, logFile: String? = nil,
        instanceID: String? = nil, telemetry: TelemetryHooks? = nil
    ) {
        var sinkList: [any LogSink] = []
        if consoleEnabled { sinkList.append(ConsoleSink()) }
        if let logFile {
            sinkList.append(FileSink(path: logFile, maxBytes: limits.logFileBytes, keepFiles: limits.logFileCount))
        }
        self.init(runtime: runtime, limits: limits, sinks: sinkList, instanceID: instanceID, telemetry: telemetry)
    }

    init(
        runtime: RuntimeConfiguration, limits: StoreLimits, sinks sinkList: [any LogSink], instanceID: String? = nil,
        telemetry: TelemetryHooks? = nil
    ) {
        self.runtime = runtime
        self.instanceID = instanceID
        self.telemetry = telemetry
        self.limits = limits
        ring = LogRing(
            capacity: limits.logRecords, byteLimit: limits.logBytes, subscriberBuffer: limits.streamSubscriberBuffer,
            maxSubscribers: limits.streamSubscribers)
        sinks = SinkSet(
            sinks: sinkList, runtime: runtime, queueLimit: limits.sinkQueue, humanReadableConsole: isatty(2) == 1)
        pipeline = LogPipeline(
            runtime: runtime, ring: ring, sinks: sinks, processMetadata: instanceID.map { ["instance_id": $0] } ?? [:],
            telemetry: telemetry)
        tracer = RequestTracer(runtime: runtime, limits: limits, logger: pipeline.logger("kimera.http"))
        profiler = Profiler(
            runtime: runtime, capacity: limits.profiles, nameLimit: limits.profileNames,
            operations: telemetry?.operations)
        cache = ResponseCache(runtime: runtime, maxEntries: limits.cacheEntries, maxBytes: limits.cacheBytes)
        incidents = IncidentStore(capacity: limits.incidents, byteLimit: limits.incidentBytes)
        audit = pipeline.logger("kimera.audit")
    }

    public var uptimeSeconds: Double { Double(Timestamp.monotonicNanos() - startedMonotonic) / 1e9 }

    public func logger(_ label: String) -> Logger { pipeline.logger(label) }

    /// Reverts expired runtime changes and writes each reversion to the audit log.
    public func expireDue(now: Date = Date()) {
        for reversion in runtime.expireDue(now: now) {
            audit.notice(
                "ttl expired: \(reversion.setting) reverted to \(reversion.value)",
                metadata: ["setting": .string(reversion.setting), "value": .string(reversion.value), "cause": "ttl"])
        }
    }

    /// Every bounded store and its fill.
    public var buffers: [String: BufferFill] {
        let ringFill = ring.fill
        let traceFills = tracer.fills
        return [
            "log_ring": BufferFill(
                used: ringFill.count, limit: ring.capacity, bytes: ringFill.bytes, bytesLimit: ring.byteLimit,
                dropped: Int(clamping: ringFill.dropped)),
            "traces": traceFills.traces,
            "slow_traces": traceFills.slow,
            "series": traceFills.series,
            "profiles": profiler.fill,
            "response_cache": cache.fill,
            "incidents": incidents.fill,
            "log_stream_subscribers": BufferFill(
                used: ring.subscriptions.count, limit: ring.subscriptions.limit, bytes: 0, bytesLimit: 0, dropped: 0),
            "log_taps": BufferFill(
                used: runtime.openTaps, limit: RuntimeConfiguration.tapLimit, bytes: 0, bytesLimit: 0, dropped: 0),
            "log_module_labels": BufferFill(
                used: pipeline.knownModules.count, limit: LogPipeline.labelLimit, bytes: 0, bytesLimit: 0, dropped: 0),
        ]
    }

    /// Keeps a request that ended badly as an incident (or counts it on the entry of its route and cause
    /// of the last minute) and returns the incident's id.
    package func keepIncident(_ trace: CompactTrace, cause: IncidentCause, tail: RequestLogTail?) -> String {
        incidents.record(trace, cause: cause, now: Timestamp.wallNanos()) {
            let (records, bytes, dropped) = tail?.taken ?? ([], 0, 0)
            let seen = Timestamp.iso8601(nanos: trace.startedWallNanos + trace.durationNanos)
            let durationMs = Double(trace.durationNanos) / 1e6
            let summary = IncidentSummary(
                id: "inc-" + Self.incidentNumber(), cause: cause, route: trace.route, method: trace.method,
                status: trace.status, durationMs: durationMs, requestID: trace.requestID,
                lastRequestID: trace.requestID, firstSeen: seen, lastSeen: seen, count: 1)
            let reason: String
            switch cause {
            case .error: reason = "answered \(trace.status)"
            case .slow:
                reason =
                    "took \(Self.milliseconds(durationMs)) ms, over "
                    + (trace.adaptiveThresholdNanos.map {
                        "\(runtime.slowAdaptive?.text ?? "the adaptive threshold") of its route (\(Self.milliseconds(Double($0) / 1e6)) ms)"
                    } ?? "the slow threshold of \(Self.milliseconds(runtime.slowThresholdMs)) ms")
            case .escalated:
                reason =
                    "escalated with X-Kimera-Debug: answered \(trace.status) in \(Self.milliseconds(durationMs)) ms"
                    + (trace.serverTiming.map { "; Server-Timing: \($0)" } ?? "")
            }
            let incident = Incident(
                summary: summary, trace: trace.trace(logCount: records.count), logs: records.map(\.record),
                logsDropped: dropped, routeLatency: tracer.routeTiming(trace.route),
                process: IncidentProcess(
                    rssBytes: Int(clamping: ProcessMetrics.residentBytes()), cpuSeconds: ProcessMetrics.cpuSeconds(),
                    threads: ProcessMetrics.threadCount(), activeRequests: tracer.activeRequests),
                mode: runtime.mode, reason: reason)
            return (incident, 1024 + trace.bytes + bytes)
        }
    }

    /// 16 hex digits, random: an incident id says nothing about the request.
    static func incidentNumber() -> String {
        let hex = String(UInt64.random(in: 1...UInt64.max), radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }

    static func milliseconds(_ value: Double) -> String {
        let rounded = (value * 10).rounded() / 10
        return rounded == rounded.rounded() ? String(Int(rounded)) : String(rounded)
    }

    public var loggingMetrics: LoggingMetrics {
        let fill = ring.fill
        return LoggingMetrics(
            ringLevel: LogLevelName.name(min(runtime.rootLevel, runtime.mode.ringLevel)),
            rootLevel: LogLevelName.name(runtime.rootLevel), records: .init(fill.perLevel.mapValues { Int(clamping: $0) }),
            ringDropped: Int(clamping: fill.dropped),
            ringEntries: fill.count, ringCapacity: ring.capacity, sinks: sinks.statuses)
    }

    /// The OpenTelemetry export and its counters (`enabled: false` when off).
    public var telemetryStatus: TelemetryStatus { telemetry?.status() ?? .disabled }

    /// Waits (suspending, at most 2 s) until queued records are written.
    public func flushSinks() async { await sinks.flush() }

    /// Writes what is queued and stops the sink writer thread (shutdown); later records go inline.
    public func closeSinks() async { await sinks.close() }
}
