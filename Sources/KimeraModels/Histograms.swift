/// `GET /debug/histograms`: every series' latency histogram in a form another process can merge exactly.
///
/// Percentiles of several servers cannot be averaged; their histograms can be added. Each series carries
/// the non-empty buckets of its HDR histogram (values in `unit`, recorded with `significantDigits`
/// precision between `lowestDiscernibleValue` and `highestTrackableValue`) and the exact count, sum,
/// minimum and maximum, so a merge gives the same figures one server seeing every request would give.
public struct HistogramsResponse: Codable, Sendable, Equatable {
    /// The unit of bucket values: `us` (microseconds).
    public var unit: String
    public var significantDigits: Int
    public var lowestDiscernibleValue: UInt64
    public var highestTrackableValue: UInt64
    public var series: [SeriesHistogram]

    public init(
        unit: String, significantDigits: Int, lowestDiscernibleValue: UInt64, highestTrackableValue: UInt64,
        series: [SeriesHistogram]
    ) {
        self.unit = unit
        self.significantDigits = significantDigits
        self.lowestDiscernibleValue = lowestDiscernibleValue
        self.highestTrackableValue = highestTrackableValue
        self.series = series
    }

    enum CodingKeys: String, CodingKey {
        case unit, series
        case significantDigits = "significant_digits"
        case lowestDiscernibleValue = "lowest_discernible_value"
        case highestTrackableValue = "highest_trackable_value"
    }
}

/// One route template × method: its histogram's non-empty buckets and its exact figures.
public struct SeriesHistogram: Codable, Sendable, Equatable {
    public var route: String
    public var method: String
    public var count: Int
    public var errors: Int
    public var sumMs: Double
    public var minMs: Double
    public var maxMs: Double
    /// `[value, count]` pairs, ascending: `count` values recorded in the bucket that holds `value`.
    public var buckets: [[UInt64]]

    public init(
        route: String, method: String, count: Int, errors: Int, sumMs: Double, minMs: Double, maxMs: Double,
        buckets: [[UInt64]]
    ) {
        self.route = route
        self.method = method
        self.count = count
        self.errors = errors
        self.sumMs = sumMs
        self.minMs = minMs
        self.maxMs = maxMs
        self.buckets = buckets
    }

    enum CodingKeys: String, CodingKey {
        case route, method, count, errors, buckets
        case sumMs = "sum_ms"
        case minMs = "min_ms"
        case maxMs = "max_ms"
    }
}
