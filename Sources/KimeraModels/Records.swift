/// Where a log call was made.
public struct SourceLocation: Codable, Sendable, Equatable {
    public var file: String
    public var function: String
    public var line: UInt

    public init(file: String, function: String, line: UInt) {
        self.file = file
        self.function = function
        self.line = line
    }
}

/// One structured log record as the ring keeps it (docs/API.md §3 LogRecord).
public struct LogRecord: Codable, Sendable, Equatable {
    public var seq: UInt64
    /// ISO-8601 UTC with microseconds.
    public var timestamp: String
    public var level: LogLevel
    public var module: String
    public var message: String
    public var requestID: String?
    public var metadata: [String: String]
    public var source: SourceLocation

    public init(
        seq: UInt64, timestamp: String, level: LogLevel, module: String, message: String, requestID: String?,
        metadata: [String: String], source: SourceLocation
    ) {
        self.seq = seq
        self.timestamp = timestamp
        self.level = level
        self.module = module
        self.message = message
        self.requestID = requestID
        self.metadata = metadata
        self.source = source
    }

    enum CodingKeys: String, CodingKey {
        case seq, timestamp, level, module, message, metadata, source
        case requestID = "request_id"
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(seq, forKey: .seq)
        try container.encode(timestamp, forKey: .timestamp)
        try container.encode(level, forKey: .level)
        try container.encode(module, forKey: .module)
        try container.encode(message, forKey: .message)
        try container.encode(requestID, forKey: .requestID)  // null when the record has no request
        try container.encode(metadata, forKey: .metadata)
        try container.encode(source, forKey: .source)
    }
}

/// A line of `/debug/logs/stream` that says records were lost to this reader.
public struct StreamGap: Codable, Sendable, Equatable {
    public struct Range: Codable, Sendable, Equatable {
        public var fromSeq: UInt64
        public var toSeq: UInt64
        public init(fromSeq: UInt64, toSeq: UInt64) {
            self.fromSeq = fromSeq
            self.toSeq = toSeq
        }
        enum CodingKeys: String, CodingKey {
            case fromSeq = "from_seq"
            case toSeq = "to_seq"
        }
    }
    public var gap: Range
    public init(gap: Range) { self.gap = gap }
}

/// One request as the tracer recorded it (docs/API.md §3 Trace).
public struct Trace: Codable, Sendable, Equatable {
    public var requestID: String
    public var method: String
    public var path: String
    public var route: String
    public var query: String?
    public var status: Int
    public var durationMs: Double
    public var startedAt: String
    public var bytesIn: Int
    public var bytesOut: Int
    public var cache: CacheOutcome?
    public var slow: Bool
    public var error: String?
    public var logCount: Int
    public var requestHeaders: [String: String]?
    public var responseHeaders: [String: String]?

    public init(
        requestID: String, method: String, path: String, route: String, query: String?, status: Int,
        durationMs: Double, startedAt: String, bytesIn: Int, bytesOut: Int, cache: CacheOutcome?, slow: Bool,
        error: String?, logCount: Int, requestHeaders: [String: String]? = nil,
        responseHeaders: [String: String]? = nil
    ) {
        self.requestID = requestID
        self.method = method
        self.path = path
        self.route = route
        self.query = query
        self.status = status
        self.durationMs = durationMs
        self.startedAt = startedAt
        self.bytesIn = bytesIn
        self.bytesOut = bytesOut
        self.cache = cache
        self.slow = slow
        self.error = error
        self.logCount = logCount
        self.requestHeaders = requestHeaders
        self.responseHeaders = responseHeaders
    }

    enum CodingKeys: String, CodingKey {
        case method, path, route, query, status, cache, slow, error
        case requestID = "request_id"
        case durationMs = "duration_ms"
        case startedAt = "started_at"
        case bytesIn = "bytes_in"
        case bytesOut = "bytes_out"
        case logCount = "log_count"
        case requestHeaders = "request_headers"
        case responseHeaders = "response_headers"
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(requestID, forKey: .requestID)
        try container.encode(method, forKey: .method)
        try container.encode(path, forKey: .path)
        try container.encode(route, forKey: .route)
        // query, cache and error are null when absent (docs/API.md §3); headers only exist in debug modes.
        try container.encode(query, forKey: .query)
        try container.encode(status, forKey: .status)
        try container.encode(durationMs, forKey: .durationMs)
        try container.encode(startedAt, forKey: .startedAt)
        try container.encode(bytesIn, forKey: .bytesIn)
        try container.encode(bytesOut, forKey: .bytesOut)
        try container.encode(cache, forKey: .cache)
        try container.encode(slow, forKey: .slow)
        try container.encode(error, forKey: .error)
        try container.encode(logCount, forKey: .logCount)
        try container.encodeIfPresent(requestHeaders, forKey: .requestHeaders)
        try container.encodeIfPresent(responseHeaders, forKey: .responseHeaders)
    }
}

/// Latency summary of a series of timed events (docs/API.md §3 TimingStats).
public struct TimingStats: Codable, Sendable, Equatable {
    public var count: Int
    public var avgTimeMs: Double
    public var minTimeMs: Double
    public var maxTimeMs: Double
    public var p50Ms: Double
    public var p90Ms: Double
    public var p95Ms: Double
    public var p99Ms: Double
    public var p999Ms: Double

    public init(
        count: Int, avgTimeMs: Double, minTimeMs: Double, maxTimeMs: Double, p50Ms: Double, p90Ms: Double,
        p95Ms: Double, p99Ms: Double, p999Ms: Double
    ) {
        self.count = count
        self.avgTimeMs = avgTimeMs
        self.minTimeMs = minTimeMs
        self.maxTimeMs = maxTimeMs
        self.p50Ms = p50Ms
        self.p90Ms = p90Ms
        self.p95Ms = p95Ms
        self.p99Ms = p99Ms
        self.p999Ms = p999Ms
    }

    public static let empty = TimingStats(
        count: 0, avgTimeMs: 0, minTimeMs: 0, maxTimeMs: 0, p50Ms: 0, p90Ms: 0, p95Ms: 0, p99Ms: 0, p999Ms: 0)

    enum CodingKeys: String, CodingKey {
        case count
        case avgTimeMs = "avg_time_ms"
        case minTimeMs = "min_time_ms"
        case maxTimeMs = "max_time_ms"
        case p50Ms = "p50_ms"
        case p90Ms = "p90_ms"
        case p95Ms = "p95_ms"
        case p99Ms = "p99_ms"
        case p999Ms = "p999_ms"
    }
}

/// A request a latency figure can be followed to (docs/API.md "Exemplars"): its id finds its trace
/// (`/debug/traces?request_id=`) and its log records (`kimera logs --request-id`).
public struct RequestExemplar: Codable, Sendable, Equatable {
    public var requestID: String
    public var durationMs: Double
    /// When the request started (ISO 8601, UTC), as its trace's `started_at`.
    public var startedAt: String

    public init(requestID: String, durationMs: Double, startedAt: String) {
        self.requestID = requestID
        self.durationMs = durationMs
        self.startedAt = startedAt
    }

    enum CodingKeys: String, CodingKey {
        case requestID = "request_id"
        case durationMs = "duration_ms"
        case startedAt = "started_at"
    }
}

/// The requests behind an endpoint's p99 and max: `p99` is the latest request of the latency bucket holding
/// the p99 (or of the nearest bucket above it that kept one), `max` the slowest request.
public struct EndpointExemplars: Codable, Sendable, Equatable {
    public var p99: RequestExemplar
    public var max: RequestExemplar

    public init(p99: RequestExemplar, max: RequestExemplar) {
        self.p99 = p99
        self.max = max
    }
}

/// Per route template: its timing plus errors, the per-method breakdown and the exemplars.
public struct EndpointStatistics: Codable, Sendable, Equatable {
    public var timing: TimingStats
    public var errors: Int
    public var errorRate: Double
    public var methods: [String: TimingStats]
    /// Absent from servers before exemplars, and from an endpoint without a request.
    public var exemplars: EndpointExemplars?

    public init(
        timing: TimingStats, errors: Int, errorRate: Double, methods: [String: TimingStats],
        exemplars: EndpointExemplars? = nil
    ) {
        self.timing = timing
        self.errors = errors
        self.errorRate = errorRate
        self.methods = methods
        self.exemplars = exemplars
    }

    // TimingStats' fields are flattened into the endpoint object, as the guide shows.
    enum CodingKeys: String, CodingKey {
        case errors, methods, exemplars
        case errorRate = "error_rate"
    }

    public init(from decoder: any Decoder) throws {
        timing = try TimingStats(from: decoder)
        let container = try decoder.container(keyedBy: CodingKeys.self)
        errors = try container.decode(Int.self, forKey: .errors)
        errorRate = try container.decode(Double.self, forKey: .errorRate)
        methods = try container.decode([String: TimingStats].self, forKey: .methods)
        exemplars = try container.decodeIfPresent(EndpointExemplars.self, forKey: .exemplars)
    }

    public func encode(to encoder: any Encoder) throws {
        try timing.encode(to: encoder)
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(errors, forKey: .errors)
        try container.encode(errorRate, forKey: .errorRate)
        try container.encode(methods, forKey: .methods)
        try container.encodeIfPresent(exemplars, forKey: .exemplars)
    }
}

/// The tracer's aggregate view (docs/API.md §3 RequestStatistics).
public struct RequestStatistics: Codable, Sendable, Equatable {
    public var totalRequests: Int
    public var activeRequests: Int
    public var requestsPerSecond: Double
    public var errorRate: Double
    public var slowRequests: Int
    public var slowThresholdMs: Double
    public var series: Int
    public var seriesLimit: Int
    public var endpoints: [String: EndpointStatistics]

    public init(
        totalRequests: Int, activeRequests: Int, requestsPerSecond: Double, errorRate: Double, slowRequests: Int,
        slowThresholdMs: Double, series: Int, seriesLimit: Int, endpoints: [String: EndpointStatistics]
    ) {
        self.totalRequests = totalRequests
        self.activeRequests = activeRequests
        self.requestsPerSecond = requestsPerSecond
        self.errorRate = errorRate
        self.slowRequests = slowRequests
        self.slowThresholdMs = slowThresholdMs
        self.series = series
        self.seriesLimit = seriesLimit
        self.endpoints = endpoints
    }

    enum CodingKeys: String, CodingKey {
        case series, endpoints
        case totalRequests = "total_requests"
        case activeRequests = "active_requests"
        case requestsPerSecond = "requests_per_second"
        case errorRate = "error_rate"
        case slowRequests = "slow_requests"
        case slowThresholdMs = "slow_threshold_ms"
        case seriesLimit = "series_limit"
    }
}

/// One profiled call (docs/API.md §3 Profile). `allocations` and `allocated_bytes` count what the call's task
/// allocated, exactly (null when the call ran outside any task); `memory_delta_bytes`, the name the spec's
/// Profile has, says the same as `allocated_bytes` (0 when not counted). `peak_rss_bytes` is the process's.
public struct Profile: Codable, Sendable, Equatable {
    public var name: String
    public var requestID: String?
    public var startedAt: String
    public var durationMs: Double
    public var allocations: Int64?
    public var allocatedBytes: Int64?
    public var peakRSSBytes: Int64

    public init(
        name: String, requestID: String?, startedAt: String, durationMs: Double, allocations: Int64?,
        allocatedBytes: Int64?, peakRSSBytes: Int64
    ) {
        self.name = name
        self.requestID = requestID
        self.startedAt = startedAt
        self.durationMs = durationMs
        self.allocations = allocations
        self.allocatedBytes = allocatedBytes
        self.peakRSSBytes = peakRSSBytes
    }

    enum CodingKeys: String, CodingKey {
        case name, allocations
        case requestID = "request_id"
        case startedAt = "started_at"
        case durationMs = "duration_ms"
        case allocatedBytes = "allocated_bytes"
        case memoryDeltaBytes = "memory_delta_bytes"
        case peakRSSBytes = "peak_rss_bytes"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        name = try container.decode(String.self, forKey: .name)
        requestID = try container.decodeIfPresent(String.self, forKey: .requestID)
        startedAt = try container.decode(String.self, forKey: .startedAt)
        durationMs = try container.decode(Double.self, forKey: .durationMs)
        allocations = try container.decodeIfPresent(Int64.self, forKey: .allocations)
        allocatedBytes = try container.decodeIfPresent(Int64.self, forKey: .allocatedBytes)
        peakRSSBytes = try container.decode(Int64.self, forKey: .peakRSSBytes)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(name, forKey: .name)
        try container.encode(requestID, forKey: .requestID)  // null outside a request
        try container.encode(startedAt, forKey: .startedAt)
        try container.encode(durationMs, forKey: .durationMs)
        try container.encode(allocations, forKey: .allocations)  // null when not counted
        try container.encode(allocatedBytes, forKey: .allocatedBytes)
        try container.encode(allocatedBytes ?? 0, forKey: .memoryDeltaBytes)
        try container.encode(peakRSSBytes, forKey: .peakRSSBytes)
    }
}

/// The allocations of one profiled operation's counted calls (`GET /debug/profiles` `allocations`,
/// `GET /performance/stats` `operation_allocations`): totals and means per call.
public struct AllocationStats: Codable, Sendable, Equatable {
    public var calls: Int64
    public var allocations: Int64
    public var allocatedBytes: Int64

    public init(calls: Int64, allocations: Int64, allocatedBytes: Int64) {
        self.calls = calls
        self.allocations = allocations
        self.allocatedBytes = allocatedBytes
    }

    public var allocationsPerCall: Double { calls > 0 ? Double(allocations) / Double(calls) : 0 }
    public var bytesPerCall: Double { calls > 0 ? Double(allocatedBytes) / Double(calls) : 0 }

    enum CodingKeys: String, CodingKey {
        case calls, allocations
        case allocatedBytes = "allocated_bytes"
        case allocationsPerCall = "allocations_per_call"
        case bytesPerCall = "allocated_bytes_per_call"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        calls = try container.decode(Int64.self, forKey: .calls)
        allocations = try container.decode(Int64.self, forKey: .allocations)
        allocatedBytes = try container.decode(Int64.self, forKey: .allocatedBytes)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(calls, forKey: .calls)
        try container.encode(allocations, forKey: .allocations)
        try container.encode(allocatedBytes, forKey: .allocatedBytes)
        try container.encode((allocationsPerCall * 10).rounded() / 10, forKey: .allocationsPerCall)
        try container.encode(bytesPerCall.rounded(), forKey: .bytesPerCall)
    }
}
