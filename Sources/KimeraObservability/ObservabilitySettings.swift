import KimeraModels
import Logging

/// Settings that may change while the server runs (config file reload, debug API).
public struct LiveSettings: Sendable, Equatable {
    /// Root console level; nil means "as the mode says".
    public var rootLevel: Logger.Level?
    public var moduleLevels: [String: Logger.Level] = [:]
    public var cacheTTLSeconds: Double = 1
    /// Per route template TTLs, overriding `cacheTTLSeconds`.
    public var routeTTLSeconds: [String: Double] = [:]
    public var slowThresholdMs: Double = 100

    public init() {}
}

/// The bounds of every in-memory store, declared in one place.
public struct StoreLimits: Sendable, Equatable {
    public var logRecords = 5000
    public var logBytes = 8 * 1024 * 1024
    public var traces = 2000
    public var traceBytes = 4 * 1024 * 1024
    public var slowTraces = 200
    /// Incidents kept (`GET /debug/incidents`), and their bytes.
    public var incidents = 200
    public var incidentBytes = 8 * 1024 * 1024
    public var series = 1000
    public var profiles = 1000
    public var profileNames = 256
    public var cacheEntries = 1000
    public var cacheBytes = 16 * 1024 * 1024
    public var sinkQueue = 10_000
    public var streamSubscriberBuffer = 1000
    public var streamSubscribers = 64
    public var logFileBytes = 16 * 1024 * 1024
    public var logFileCount = 5
    public var maxBodyBytes = 1024 * 1024

    public init() {}
}
