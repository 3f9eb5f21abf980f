/// `GET /health`.
public struct HealthResponse: Codable, Sendable {
    public var status: String
    /// Epoch milliseconds.
    public var timestamp: Int64
    public var service: String
    public var version: String
    public var uptimeS: Double
    /// Which replica answered (`--instance-id`, default host:port).
    public var instanceID: String?

    public init(
        status: String, timestamp: Int64, service: String, version: String, uptimeS: Double,
        instanceID: String? = nil
    ) {
        self.status = status
        self.timestamp = timestamp
        self.service = service
        self.version = version
        self.uptimeS = uptimeS
        self.instanceID = instanceID
    }

    enum CodingKeys: String, CodingKey {
        case status, timestamp, service, version
        case uptimeS = "uptime_s"
        case instanceID = "instance_id"
    }
}

/// `GET /ready`.
public struct ReadyResponse: Codable, Sendable {
    public var status: String
    public init(status: String) { self.status = status }
}

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
