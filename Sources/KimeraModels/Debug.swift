/// `GET /debug/logs`.
public struct LogsResponse: Codable, Sendable, Equatable {
    public var count: Int
    public var logs: [LogRecord]
    public var bufferCapacity: Int
    public var dropped: UInt64
    public var nextSeq: UInt64

    public init(count: Int, logs: [LogRecord], bufferCapacity: Int, dropped: UInt64, nextSeq: UInt64) {
        self.count = count
        self.logs = logs
        self.bufferCapacity = bufferCapacity
        self.dropped = dropped
        self.nextSeq = nextSeq
    }

    enum CodingKeys: String, CodingKey {
        case count, logs, dropped
        case bufferCapacity = "buffer_capacity"
        case nextSeq = "next_seq"
    }
}

/// `GET /debug/traces`.
public struct TracesResponse: Codable, Sendable, Equatable {
    public var count: Int
    public var traces: [Trace]
    public var statistics: RequestStatistics

    public init(count: Int, traces: [Trace], statistics: RequestStatistics) {
        self.count = count
        self.traces = traces
        self.statistics = statistics
    }
}

/// `GET /debug/profiles`.
public struct ProfilesResponse: Codable, Sendable, Equatable {
    public var count: Int
    public var profiles: [Profile]
    public var functions: [String: TimingStats]
    /// Per operation, what its counted calls allocated.
    public var allocations: [String: AllocationStats]
    public var enabled: Bool

    public init(
        count: Int, profiles: [Profile], functions: [String: TimingStats], allocations: [String: AllocationStats],
        enabled: Bool
    ) {
        self.count = count
        self.profiles = profiles
        self.functions = functions
        self.allocations = allocations
        self.enabled = enabled
    }
}

/// The fill of one bounded store.
public struct BufferFill: Codable, Sendable, Equatable {
    public var used: Int
    public var limit: Int
    public var bytes: Int
    public var bytesLimit: Int
    /// Entries dropped or evicted to stay within the bound.
    public var dropped: UInt64

    public init(used: Int, limit: Int, bytes: Int, bytesLimit: Int, dropped: UInt64) {
        self.used = used
        self.limit = limit
        self.bytes = bytes
        self.bytesLimit = bytesLimit
        self.dropped = dropped
    }

    enum CodingKeys: String, CodingKey {
        case used, limit, bytes, dropped
        case bytesLimit = "bytes_limit"
    }
}

/// Response cache statistics (docs/API.md §4).
public struct CacheStats: Codable, Sendable, Equatable {
    public var enabled: Bool
    public var hits: UInt64
    public var misses: UInt64
    public var hitRate: Double
    public var evictions: UInt64
    public var entries: Int
    public var bytes: Int
    public var maxEntries: Int
    public var maxBytes: Int
    public var defaultTTLSeconds: Double

    public init(
        enabled: Bool, hits: UInt64, misses: UInt64, hitRate: Double, evictions: UInt64, entries: Int, bytes: Int,
        maxEntries: Int, maxBytes: Int, defaultTTLSeconds: Double
    ) {
        self.enabled = enabled
        self.hits = hits
        self.misses = misses
        self.hitRate = hitRate
        self.evictions = evictions
        self.entries = entries
        self.bytes = bytes
        self.maxEntries = maxEntries
        self.maxBytes = maxBytes
        self.defaultTTLSeconds = defaultTTLSeconds
    }

    enum CodingKeys: String, CodingKey {
        case enabled, hits, misses, evictions, entries, bytes
        case hitRate = "hit_rate"
        case maxEntries = "max_entries"
        case maxBytes = "max_bytes"
        case defaultTTLSeconds = "default_ttl_s"
    }
}

/// One log sink's health.
public struct SinkStatus: Codable, Sendable, Equatable {
    public var name: String
    public var level: LogLevel
    public var asynchronous: Bool
    public var written: UInt64
    public var dropped: UInt64
    public var failures: UInt64
    public var lastError: String?
    public var path: String?

    public init(
        name: String, level: LogLevel, asynchronous: Bool, written: UInt64, dropped: UInt64, failures: UInt64,
        lastError: String?, path: String?
    ) {
        self.name = name
        self.level = level
        self.asynchronous = asynchronous
        self.written = written
        self.dropped = dropped
        self.failures = failures
        self.lastError = lastError
        self.path = path
    }

    enum CodingKeys: String, CodingKey {
        case name, level, asynchronous, written, dropped, failures, path
        case lastError = "last_error"
    }
}

/// The logging system's counters.
public struct LoggingMetrics: Codable, Sendable, Equatable {
    public var ringLevel: String
    public var rootLevel: String
    public var records: [String: UInt64]
    public var ringDropped: UInt64
    public var ringEntries: Int
    public var ringCapacity: Int
    public var sinks: [SinkStatus]

    public init(
        ringLevel: String, rootLevel: String, records: [String: UInt64], ringDropped: UInt64, ringEntries: Int,
        ringCapacity: Int, sinks: [SinkStatus]
    ) {
        self.ringLevel = ringLevel
        self.rootLevel = rootLevel
        self.records = records
        self.ringDropped = ringDropped
        self.ringEntries = ringEntries
        self.ringCapacity = ringCapacity
        self.sinks = sinks
    }

    enum CodingKeys: String, CodingKey {
        case records, sinks
        case ringLevel = "ring_level"
        case rootLevel = "root_level"
        case ringDropped = "ring_dropped"
        case ringEntries = "ring_entries"
        case ringCapacity = "ring_capacity"
    }
}

/// The process as the OS sees it.
public struct ProcessStats: Codable, Sendable, Equatable {
    public var rssBytes: Int64
    public var cpuSeconds: Double
    public var threads: Int
    public var uptimeS: Double

    public init(rssBytes: Int64, cpuSeconds: Double, threads: Int, uptimeS: Double) {
        self.rssBytes = rssBytes
        self.cpuSeconds = cpuSeconds
        self.threads = threads
        self.uptimeS = uptimeS
    }

    enum CodingKeys: String, CodingKey {
        case threads
        case rssBytes = "rss_bytes"
        case cpuSeconds = "cpu_seconds"
        case uptimeS = "uptime_s"
    }
}

/// `GET /performance/stats`.
public struct PerformanceStats: Codable, Sendable, Equatable {
    public var requestStatistics: RequestStatistics
    public var responseCacheSize: Int
    public var cacheStats: CacheStats
    public var loggingMetrics: LoggingMetrics
    public var kimeraStatus: String
    public var process: ProcessStats
    /// Per profiled operation, what its counted calls allocated (empty until profiling has counted one).
    public var operationAllocations: [String: AllocationStats]

    public init(
        requestStatistics: RequestStatistics, responseCacheSize: Int, cacheStats: CacheStats,
        loggingMetrics: LoggingMetrics, kimeraStatus: String, process: ProcessStats,
        operationAllocations: [String: AllocationStats]
    ) {
        self.operationAllocations = operationAllocations
        self.requestStatistics = requestStatistics
        self.responseCacheSize = responseCacheSize
        self.cacheStats = cacheStats
        self.loggingMetrics = loggingMetrics
        self.kimeraStatus = kimeraStatus
        self.process = process
    }

    enum CodingKeys: String, CodingKey {
        case process
        case requestStatistics = "request_statistics"
        case responseCacheSize = "response_cache_size"
        case cacheStats = "cache_stats"
        case loggingMetrics = "logging_metrics"
        case kimeraStatus = "kimera_status"
        case operationAllocations = "operation_allocations"
    }
}

/// `GET /debug/info`. Each `include_*=false` leaves its key out.
public struct DebugInfo: Codable, Sendable, Equatable {
    public var mode: ModeFlags
    public var config: [String: JSONValue]
    public var recentLogs: [LogRecord]?
    public var requestTraces: [Trace]?
    public var requestStatistics: RequestStatistics
    public var performanceProfiles: [Profile]?
    public var logging: LoggingMetrics
    public var cache: CacheStats
    public var buffers: [String: BufferFill]
    public var version: String
    public var uptimeS: Double
    /// The OpenTelemetry export and its counters; absent from servers that predate it.
    public var telemetry: TelemetryStatus?

    public init(
        mode: ModeFlags, config: [String: JSONValue], recentLogs: [LogRecord]?, requestTraces: [Trace]?,
        requestStatistics: RequestStatistics, performanceProfiles: [Profile]?, logging: LoggingMetrics,
        cache: CacheStats, buffers: [String: BufferFill], version: String, uptimeS: Double,
        telemetry: TelemetryStatus? = nil
    ) {
        self.mode = mode
        self.config = config
        self.recentLogs = recentLogs
        self.requestTraces = requestTraces
        self.requestStatistics = requestStatistics
        self.performanceProfiles = performanceProfiles
        self.logging = logging
        self.cache = cache
        self.buffers = buffers
        self.version = version
        self.uptimeS = uptimeS
        self.telemetry = telemetry
    }

    enum CodingKeys: String, CodingKey {
        case mode, config, logging, cache, buffers, version, telemetry
        case recentLogs = "recent_logs"
        case requestTraces = "request_traces"
        case requestStatistics = "request_statistics"
        case performanceProfiles = "performance_profiles"
        case uptimeS = "uptime_s"
    }
}
