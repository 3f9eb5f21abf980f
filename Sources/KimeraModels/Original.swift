/// Responses the Python original had and its scripts read (docs/API.md §5): kept in its shapes.

/// `components` of `GET /kimera/status`: whether each part is up.
public struct StatusComponents: Codable, Sendable, Equatable {
    public var vaultManager: Bool
    public var contradictionEngine: Bool
    public var embeddingModel: Bool

    public init(vaultManager: Bool, contradictionEngine: Bool, embeddingModel: Bool) {
        self.vaultManager = vaultManager
        self.contradictionEngine = contradictionEngine
        self.embeddingModel = embeddingModel
    }

    enum CodingKeys: String, CodingKey {
        case vaultManager = "vault_manager"
        case contradictionEngine = "contradiction_engine"
        case embeddingModel = "embedding_model"
    }
}

public struct ContradictionEngineStatus: Codable, Sendable, Equatable {
    public var available: Bool
    public var tensionThreshold: Double

    public init(available: Bool, tensionThreshold: Double) {
        self.available = available
        self.tensionThreshold = tensionThreshold
    }

    enum CodingKeys: String, CodingKey {
        case available
        case tensionThreshold = "tension_threshold"
    }
}

/// `engines` of `GET /kimera/status`.
public struct StatusEngines: Codable, Sendable, Equatable {
    public var contradiction: ContradictionEngineStatus

    public init(contradiction: ContradictionEngineStatus) { self.contradiction = contradiction }
}

/// `GET /kimera/system/health/detailed`.
public struct DetailedHealth: Codable, Sendable, Equatable {
    /// `operational` when every component is `ok`, else `degraded`.
    public var overallHealth: String
    /// Component → `ok` or `failed`.
    public var components: [String: String]
    public var timestamp: String

    public init(overallHealth: String, components: [String: String], timestamp: String) {
        self.overallHealth = overallHealth
        self.components = components
        self.timestamp = timestamp
    }

    enum CodingKeys: String, CodingKey {
        case components, timestamp
        case overallHealth = "overall_health"
    }
}

/// `GET /kimera/system/ping`.
public struct PingResponse: Codable, Sendable, Equatable {
    public var status: String
    public var message: String
    public var timestamp: String

    public init(status: String = "ok", message: String, timestamp: String) {
        self.status = status
        self.message = message
        self.timestamp = timestamp
    }
}

/// `POST /kimera/geoids/batch`.
public struct BatchCreateRequest: Codable, Sendable, Equatable {
    public var geoids: [CreateGeoidRequest]

    public init(geoids: [CreateGeoidRequest]) { self.geoids = geoids }
}

/// `201` of `POST /kimera/geoids/batch`: how many were created and each as `POST /kimera/geoids` answers.
public struct BatchCreateResponse: Codable, Sendable, Equatable {
    public var created: Int
    public var geoids: [CreateGeoidResponse]

    public init(geoids: [CreateGeoidResponse]) {
        self.created = geoids.count
        self.geoids = geoids
    }
}

/// `GET /kimera/vault/scars/recent`: the newest SCARs of both vaults, newest first.
public struct RecentScars: Codable, Sendable, Equatable {
    public var recentScars: [Scar]
    public var count: Int

    public init(recentScars: [Scar]) {
        self.recentScars = recentScars
        self.count = recentScars.count
    }

    enum CodingKeys: String, CodingKey {
        case count
        case recentScars = "recent_scars"
    }
}

/// The kinds of `POST /kimera/statistics/analyze`.
public enum AnalysisType: String, Codable, Sendable, CaseIterable {
    case basic
    case distribution

    public static let allowed: [String] = allCases.map(\.rawValue)
}

/// `POST /kimera/statistics/analyze`. `analysis_type` stays text so that an unknown kind is a 400 naming it.
public struct AnalyzeRequest: Codable, Sendable, Equatable {
    public var data: [Double]
    public var analysisType: String?

    public init(data: [Double], analysisType: String? = nil) {
        self.data = data
        self.analysisType = analysisType
    }

    enum CodingKeys: String, CodingKey {
        case data
        case analysisType = "analysis_type"
    }
}

/// A 10-bin histogram: `counts[i]` values fall in `[bins[i], bins[i+1])` (the last bin is closed).
public struct DataHistogram: Codable, Sendable, Equatable {
    public var counts: [Int]
    /// The 11 bin edges.
    public var bins: [Double]

    public init(counts: [Int], bins: [Double]) {
        self.counts = counts
        self.bins = bins
    }
}

/// The result of `POST /kimera/statistics/analyze`; `histogram`, `skewness`, `kurtosis` only for
/// `distribution`.
public struct AnalyzeResponse: Codable, Sendable, Equatable {
    public var analysisType: AnalysisType
    public var mean: Double
    public var median: Double
    /// Population standard deviation.
    public var std: Double
    public var min: Double
    public var max: Double
    public var count: Int
    public var histogram: DataHistogram?
    /// Mean cubed z-score.
    public var skewness: Double?
    /// Mean fourth-power z-score − 3.
    public var kurtosis: Double?

    public init(
        analysisType: AnalysisType, mean: Double, median: Double, std: Double, min: Double, max: Double, count: Int,
        histogram: DataHistogram? = nil, skewness: Double? = nil, kurtosis: Double? = nil
    ) {
        self.analysisType = analysisType
        self.mean = mean
        self.median = median
        self.std = std
        self.min = min
        self.max = max
        self.count = count
        self.histogram = histogram
        self.skewness = skewness
        self.kurtosis = kurtosis
    }

    enum CodingKeys: String, CodingKey {
        case mean, median, std, min, max, count, histogram, skewness, kurtosis
        case analysisType = "analysis_type"
    }

    /// The distribution-only fields are left out of a basic analysis rather than sent as null.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(analysisType, forKey: .analysisType)
        try container.encode(mean, forKey: .mean)
        try container.encode(median, forKey: .median)
        try container.encode(std, forKey: .std)
        try container.encode(min, forKey: .min)
        try container.encode(max, forKey: .max)
        try container.encode(count, forKey: .count)
        try container.encodeIfPresent(histogram, forKey: .histogram)
        try container.encodeIfPresent(skewness, forKey: .skewness)
        try container.encodeIfPresent(kurtosis, forKey: .kurtosis)
    }
}
