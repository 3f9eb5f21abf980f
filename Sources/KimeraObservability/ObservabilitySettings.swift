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
    /// Adaptive slow detection per route; nil is off (the default).
    public var slowAdaptive: SlowAdaptive?

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

/// Adaptive slow detection (`tracing.slow_adaptive`, docs/OPERATIONS.md "Incidents"): a request is also
/// slow when it takes longer than `factor` times its route's p99 over the previous window, and at least
/// `floorMs`. Written `3x-p99`; `off` disables it.
public struct SlowAdaptive: Sendable, Equatable {
    public var factor: Double
    public var floorMs: Double

    public static let defaultFloorMs = 10.0
    /// The rolling window whose p99 sets the next window's threshold.
    public static let windowSeconds: Int64 = 30
    /// A route needs this many requests in a window before its p99 is trusted.
    public static let minimumSamples = 50
    public static let grammar = "<factor>x-p99 with factor from 1 to 100 (e.g. 3x-p99), or off"

    public init(factor: Double, floorMs: Double = SlowAdaptive.defaultFloorMs) {
        self.factor = factor
        self.floorMs = floorMs
    }

    /// `3x-p99`, `1.5x-p99` (the factor in 1...100); nil for anything else (`off` is the caller's).
    public static func parse(_ text: String, floorMs: Double = SlowAdaptive.defaultFloorMs) -> SlowAdaptive? {
        let lowered = text.lowercased()
        guard lowered.hasSuffix("x-p99"), let factor = Double(lowered.dropLast(5)), factor >= 1, factor <= 100
        else { return nil }
        return SlowAdaptive(factor: factor, floorMs: floorMs)
    }

    public var text: String {
        let rounded = factor.rounded()
        return (rounded == factor ? String(Int(rounded)) : String(factor)) + "x-p99"
    }
}
