/// The mode flags in force, as `GET /` and `/debug/info` report them.
public struct ModeFlags: Codable, Sendable, Equatable {
    public var debug: Bool
    public var performance: Bool
    public var profiling: Bool
    /// One of `performance`, `performance+debug`, `full-debug`, `basic`.
    public var name: String?

    public init(debug: Bool, performance: Bool, profiling: Bool, name: String? = nil) {
        self.debug = debug
        self.performance = performance
        self.profiling = profiling
        self.name = name
    }
}

/// The features block of `GET /`.
public struct FeatureFlags: Codable, Sendable, Equatable {
    public var cacheEnabled: Bool
    public var compressionEnabled: Bool
    public var asyncEnabled: Bool
    public var debugAPI: Bool
    public var requestTracing: Bool

    public init(
        cacheEnabled: Bool, compressionEnabled: Bool, asyncEnabled: Bool, debugAPI: Bool,
        requestTracing: Bool
    ) {
        self.cacheEnabled = cacheEnabled
        self.compressionEnabled = compressionEnabled
        self.asyncEnabled = asyncEnabled
        self.debugAPI = debugAPI
        self.requestTracing = requestTracing
    }

    enum CodingKeys: String, CodingKey {
        case cacheEnabled = "cache_enabled"
        case compressionEnabled = "compression_enabled"
        case asyncEnabled = "async_enabled"
        case debugAPI = "debug_api"
        case requestTracing = "request_tracing"
    }
}

/// `GET /`.
public struct RootResponse: Codable, Sendable {
    public var message: String
    public var kimeraStatus: String
    /// Epoch seconds.
    public var timestamp: Double
    public var mode: ModeFlags
    public var features: FeatureFlags

    public init(message: String, kimeraStatus: String, timestamp: Double, mode: ModeFlags, features: FeatureFlags) {
        self.message = message
        self.kimeraStatus = kimeraStatus
        self.timestamp = timestamp
        self.mode = mode
        self.features = features
    }

    enum CodingKeys: String, CodingKey {
        case message, timestamp, mode, features
        case kimeraStatus = "kimera_status"
    }
}
