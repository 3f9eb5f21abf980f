import HTTPTypes
import Histogram
import KimeraAPI
import KimeraModels
import Logging
import Synchronization

/// One finished request as the tracer keeps it: raw values, formatted only when read.
package struct CompactTrace: Sendable {
    package var requestID: String
    package var method: String
    package var path: String
    package var query: String?
    package var route: String
    package var status: Int
    package var durationNanos: Int64
    package var startedWallNanos: Int64
    package var bytesIn: Int
    package var bytesOut: Int
    package var cache: CacheOutcome?
    package var slow: Bool
    package var error: String?
    /// Sent with `X-Kimera-Debug: 1` and allowed: kept as an incident whatever its outcome.
    package var escalated = false
    /// Slow by `tracing.slow_adaptive`: the route's threshold it reached (nil for the fixed threshold).
    package var adaptiveThresholdNanos: Int64?
    /// The escalated request's `Server-Timing` value, kept with its incident.
    package var serverTiming: String?
    /// Only in the debug modes. Kept as the request had them (no copy: the storage is shared) and
    /// redacted when read, so the hot path never pays for redaction and no reader sees a secret.
    package var requestHeaders: HTTPFields?
    package var responseHeaders: HTTPFields?

    package init(
        requestID: String, method: String, path: String, query: String?, route: String, status: Int,
        durationNanos: Int64, startedWallNanos: Int64, bytesIn: Int, bytesOut: Int, cache: CacheOutcome?, slow: Bool,
        error: String?, requestHeaders: HTTPFields? = nil, responseHeaders: HTTPFields? = nil
    ) {
        self.requestID = requestID
        self.method = method
        self.path = path
        self.query = query
        self.route = route
        self.status = status
        self.durationNanos = durationNanos
        self.startedWallNanos = startedWallNanos
        self.bytesIn = bytesIn
        self.bytesOut = bytesOut
        self.cache = cache
        self.slow = slow
        self.error = error
        self.requestHeaders = requestHeaders
        self.responseHeaders = responseHeaders
    }

    package var bytes: Int {
        var total = 200 + path.utf8.count + route.utf8.count + (query?.utf8.count ?? 0) + requestID.utf8.count
        total += error?.utf8.count ?? 0
        for headers in [requestHeaders, responseHeaders] {
            for field in headers ?? [:] { total += field.name.rawName.utf8.count + field.value.utf8.count + 32 }
        }
        return total
    }

    package func trace(logCount: Int) -> Trace {
        Trace(
            requestID: requestID, method: method, path: path, route: route, query: query, status: status,
            durationMs: Double(durationNanos) / 1e6, startedAt: Timestamp.iso8601(nanos: startedWallNanos),
            bytesIn: bytesIn, bytesOut: bytesOut, cache: cache, slow: slow, error: error, logCount: logCount,
            requestHeaders: requestHeaders.map { .init(Redaction.headers($0)) },
            responseHeaders: responseHeaders.map { .init(Redaction.headers($0)) })
    }
}

/// Which traces a reader wants (`/debug/traces`).
public struct TraceFilter: Sendable {
    public var pathContains: String?
    public var method: String?
    public var status: Int?
    public var minDurationMs: Double?
    public var requestID: String?
    public var slowOnly = false

    public init() {}

    func matches(_ trace: CompactTrace) -> Bool {
        if let pathContains, !trace.path.contains(pathContains) { return false }
        if let method, trace.method != method { return false }
        if let status, trace.status != status { return false }
        if let minDurationMs, Double(trace.durationNanos) / 1e6 < minDurationMs { return false }
        if let requestID, trace.requestID != requestID { return false }
        if slowOnly && !trace.slow { return false }
        return true
    }
}

/// A ring of traces bounded by count and bytes.
struct TraceRing: Sendable {
    private var slots: [CompactTrace?]
    private var head = 0
    private(set) var count = 0
    private(set) var bytes = 0
    private(set) var dropped: UInt64 = 0
    let capacity: Int
    let byteLimit: Int

    init(capacity: Int, byteLimit: Int) {
        self.capacity = max(1, capacity)
        self.byteLimit = max(4096, byteLimit)
        slots = Array(repeating: nil, count: self.capacity)
    }

    mutating func append(_ trace: CompactTrace) {
        let size = trace.bytes
        while count > 0 && (count == capacity || bytes + size > byteLimit) {
            bytes -= slots[head]?.bytes ?? 0
            slots[head] = nil
            head = (head + 1) % capacity
            count -= 1
            dropped += 1
        }
        slots[(head + count) % capacity] = trace
        count += 1
        bytes += size
    }

    /// Newest first.
    func newest(matching filter: TraceFilter, limit: Int) -> [CompactTrace] {
        var found: [CompactTrace] = []
        var offset = count - 1
        while offset >= 0 && found.count < limit {
            if let trace = slots[(head + offset) % capacity], filter.matches(trace) { found.append(trace) }
            offset -= 1
        }
        return found
    }

    var fill: BufferFill {
        BufferFill(used: count, limit: capacity, bytes: bytes, bytesLimit: byteLimit, dropped: Int(clamping: dropped))
    }
}

/// Request statistics and traces: per route template × method latency histograms, a 60 s window,
/// active requests, a trace ring and a separate small ring of slow requests that survives churn.
///
/// Series are keyed by the matched route template, never the raw path: unmatched requests share
/// `<unmatched>`, and past `seriesLimit` new templates share `<overflow>`, so no client can grow it.
public final class RequestTracer: Sendable {
    public static let unmatched = "<unmatched>"
    public static let overflow = "<overflow>"
    /// Methods beyond these share `OTHER`, so a series cannot grow by inventing methods.
    static func isKnownMethod(_ method: String) -> Bool {
        switch method {
        case "GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS": return true
        default: return false
        }
    }

    struct Series: Sendable {
        var methods: [String: LatencyRecorder] = [:]
    }

    /// One route's rolling window for adaptive slow detection (`SlowAdaptive`): the latencies of the
    /// current window, and the p99 of the previous one, which sets this window's threshold.
    struct AdaptiveWindow: Sendable {
        var histogram = Histogram<UInt32>(
            lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: .two)
        var startSecond: Int64
        var previousP99Micros: UInt64?

        init(startSecond: Int64) { self.startSecond = startSecond }

        /// Records one request; returns the p99 (µs) its threshold is made from, if one is known.
        mutating func record(micros: UInt64, second: Int64) -> UInt64? {
            if second - startSecond >= SlowAdaptive.windowSeconds {
                // A quiet window keeps the last p99 it could trust.
                if histogram.totalCount >= UInt64(SlowAdaptive.minimumSamples) {
                    previousP99Micros = histogram.valueAtPercentile(99)
                }
                histogram.reset()
                startSecond = second
            }
            _ = histogram.record(min(max(1, micros), 60_000_000))
            return previousP99Micros
        }
    }

    struct State: Sendable {
        var series: [String: Series] = [:]
        /// Per route, bounded by the series limit like `series`; empty while adaptive detection is off.
        var adaptive: [String: AdaptiveWindow] = [:]
        var window = SlidingWindow()
        var total = 0
        var slowCount = 0
        var traces: TraceRing
        var slow: TraceRing
    }

    public let seriesLimit: Int
    let runtime: RuntimeConfiguration
    let logger: Logger
    private let active = Atomic<Int>(0)
    /// Protects the series, the window, the counters and both trace rings.
    private let state: Mutex<State>

    public init(runtime: RuntimeConfiguration, limits: StoreLimits, logger: Logger) {
        self.runtime = runtime
        self.logger = logger
        seriesLimit = limits.series
        state = Mutex(
            State(
                traces: TraceRing(capacity: limits.traces, byteLimit: limits.traceBytes),
                slow: TraceRing(capacity: limits.slowTraces, byteLimit: max(4096, limits.traceBytes / 8))))
    }

    @inline(__always)
    package func begin() { active.add(1, ordering: .relaxed) }

    /// Records a finished request. The slow-request warning (naming the incident that keeps it) is logged
    /// outside the lock.
    package func finish(_ trace: CompactTrace, incidentID: String? = nil) {
        active.subtract(1, ordering: .relaxed)
        let isError = trace.status >= 500
        let second = trace.startedWallNanos / 1_000_000_000
        let method = Self.isKnownMethod(trace.method) ? trace.method : "OTHER"
        state.locked { state in
            state.total += 1
            state.window.record(atSecond: second, error: isError)
            var key = trace.route
            if state.series[key] == nil && state.series.count >= seriesLimit { key = Self.overflow }
            state.series[key, default: Series()].methods[method, default: LatencyRecorder()]
                .record(
                    nanos: trace.durationNanos, error: isError, requestID: trace.requestID,
                    wallNanos: trace.startedWallNanos)
            state.traces.append(trace)
            if trace.slow {
                state.slowCount += 1
                state.slow.append(trace)
            }
        }
        if trace.slow {
            var metadata: Logger.Metadata = [
                "request_id": .string(trace.requestID), "route": .string(trace.route),
                "method": .string(trace.method), "status": .stringConvertible(trace.status),
                "duration_ms": .stringConvertible(Double(trace.durationNanos) / 1e6),
            ]
            if let incidentID { metadata["incident_id"] = .string(incidentID) }
            logger.warning("slow request", metadata: metadata)
        }
    }

    /// Records `trace` in its route's adaptive window and returns the threshold it reached, if it is slow by
    /// `adaptive` (docs/OPERATIONS.md "Incidents"): over `factor` × the route's p99 of the previous window
    /// and over the floor. Called only while adaptive detection is on.
    package func adaptiveThreshold(_ trace: CompactTrace, _ adaptive: SlowAdaptive) -> Int64? {
        let second = trace.startedWallNanos / 1_000_000_000
        let micros = UInt64(max(1, trace.durationNanos / 1000))
        let p99 = state.locked { state -> UInt64? in
            var key = trace.route
            if state.adaptive[key] == nil && state.adaptive.count >= seriesLimit { key = Self.overflow }
            return state.adaptive[key, default: AdaptiveWindow(startSecond: second)].record(
                micros: micros, second: second)
        }
        guard let p99 else { return nil }
        let threshold = max(Int64(adaptive.floorMs * 1e6), Int64(Double(p99) * 1000 * adaptive.factor))
        return trace.durationNanos >= threshold ? threshold : nil
    }

    /// A route's latency over every method, or nil when none of its requests has finished.
    package func routeTiming(_ route: String) -> TimingStats? {
        state.locked { state in
            guard let series = state.series[route] else { return nil }
            var overall = LatencyRecorder()
            for recorder in series.methods.values { overall.merge(recorder) }
            return overall.count == 0 ? nil : overall.timing
        }
    }

    public var activeRequests: Int { active.load(ordering: .relaxed) }

    public func statistics() -> RequestStatistics { statistics(now: Timestamp.wallNanos()) }

    func statistics(now: Int64) -> RequestStatistics {
        let slowThresholdMs = runtime.slowThresholdMs
        let activeRequests = activeRequests
        return state.locked { state in
            let rates = state.window.rates(atSecond: now / 1_000_000_000)
            var endpoints: [String: EndpointStatistics] = [:]
            for (route, series) in state.series {
                var overall = LatencyRecorder()
                var methods: [String: TimingStats] = [:]
                for (method, recorder) in series.methods {
                    overall.merge(recorder)
                    methods[method] = recorder.timing
                }
                let timing = overall.timing
                endpoints[route] = EndpointStatistics(
                    timing: timing, errors: overall.errors,
                    errorRate: overall.count == 0 ? 0 : Double(overall.errors) / Double(overall.count),
                    methods: methods, exemplars: Self.exemplars(overall, p99Ms: timing.p99Ms))
            }
            return RequestStatistics(
                totalRequests: state.total, activeRequests: activeRequests, requestsPerSecond: rates.perSecond,
                errorRate: rates.errorRate, slowRequests: state.slowCount, slowThresholdMs: slowThresholdMs,
                series: state.series.count, seriesLimit: seriesLimit, endpoints: .init(endpoints))
        }
    }

    /// The requests behind a route's p99 and max (docs/API.md "Exemplars"), formatted here, at read time.
    static func exemplars(_ recorder: LatencyRecorder, p99Ms: Double) -> EndpointExemplars? {
        guard let p99 = recorder.exemplar(atMs: p99Ms), let max = recorder.maxExemplar else { return nil }
        func shown(_ exemplar: LatencyExemplar) -> RequestExemplar {
            RequestExemplar(
                requestID: exemplar.requestID, durationMs: Double(exemplar.nanos) / 1e6,
                startedAt: Timestamp.iso8601(nanos: exemplar.wallNanos))
        }
        return EndpointExemplars(p99: shown(p99), max: shown(max))
    }

    /// Per series and method, the recorders themselves (for `/metrics` histograms).
    package func recorders() -> [(route: String, method: String, recorder: LatencyRecorder)] {
        state.locked { state in
            state.series.flatMap { route, series in
                series.methods.map { (route, $0.key, $0.value) }
            }
        }
    }

    /// Newest first; slow-only queries read the slow ring, which keeps older slow requests.
    package func traces(matching filter: TraceFilter, limit: Int) -> [CompactTrace] {
        state.locked { state in
            filter.slowOnly
                ? state.slow.newest(matching: filter, limit: limit)
                : state.traces.newest(matching: filter, limit: limit)
        }
    }

    var fills: (traces: BufferFill, slow: BufferFill, series: BufferFill) {
        state.locked { state in
            (
                state.traces.fill, state.slow.fill,
                BufferFill(used: state.series.count, limit: seriesLimit, bytes: 0, bytesLimit: 0, dropped: 0)
            )
        }
    }
}
