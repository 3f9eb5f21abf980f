/// Bodies the Python original had and its scripts read (docs/API.md §5): kept in its shapes.

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
