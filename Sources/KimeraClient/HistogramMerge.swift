import Histogram

/// Latency histograms of several servers added together: the figures one server that saw every request
/// would report. Percentiles are read from the summed buckets, never averaged.
public struct MergedLatency: Sendable {
    private var histogram: Histogram<UInt64>
    public private(set) var count = 0
    public private(set) var errors = 0
    private var sumMs = 0.0
    private var minMs = Double.infinity
    private var maxMs = 0.0

    /// An empty histogram with the bounds and precision a server declared.
    public init(like response: HistogramsResponse) {
        let digits = SignificantDigits(rawValue: Int8(clamping: response.significantDigits)) ?? .two
        histogram = Histogram<UInt64>(
            lowestDiscernibleValue: UInt64(clamping: max(1, response.lowestDiscernibleValue)),
            highestTrackableValue: UInt64(clamping: max(2, response.highestTrackableValue)),
            numberOfSignificantValueDigits: digits)
    }

    /// Adds one series: each bucket's value falls in the same bucket here, so the sum is exact.
    public mutating func add(_ series: SeriesHistogram) {
        for bucket in series.buckets where bucket.count == 2 {
            _ = histogram.record(UInt64(clamping: bucket[0]), count: UInt64(clamping: bucket[1]))
        }
        count += series.count
        errors += series.errors
        sumMs += series.sumMs
        if series.count > 0 {
            minMs = Swift.min(minMs, series.minMs)
            maxMs = Swift.max(maxMs, series.maxMs)
        }
    }

    /// Count, mean, extremes and percentiles, each percentile within the histogram's precision and clamped to
    /// the exact extremes (as the server computes its own).
    public var timing: TimingStats {
        guard count > 0 else { return .empty }
        func percentile(_ p: Double) -> Double {
            let value = Double(histogram.valueAtPercentile(p)) / 1000
            return Swift.min(Swift.max(value, minMs), maxMs)
        }
        return TimingStats(
            count: count, avgTimeMs: sumMs / Double(count), minTimeMs: minMs, maxTimeMs: maxMs,
            p50Ms: percentile(50), p90Ms: percentile(90), p95Ms: percentile(95), p99Ms: percentile(99),
            p999Ms: percentile(99.9))
    }
}

extension RequestStatistics {
    /// The statistics of a fleet: counters added, the 60 s error rate weighted by each instance's requests,
    /// and every endpoint's figures from the instances' merged histograms. `instances` pairs each
    /// instance's statistics with its histograms.
    public static func merged(_ instances: [(statistics: RequestStatistics, histograms: HistogramsResponse)])
        -> RequestStatistics
    {
        var endpoints: [String: (overall: MergedLatency, methods: [String: MergedLatency])] = [:]
        for (_, histograms) in instances {
            for series in histograms.series {
                var entry = endpoints[series.route] ?? (MergedLatency(like: histograms), [:])
                entry.overall.add(series)
                entry.methods[series.method, default: MergedLatency(like: histograms)].add(series)
                endpoints[series.route] = entry
            }
        }
        let statistics = instances.map(\.statistics)
        var figures: [String: EndpointStatistics] = [:]
        for (route, entry) in endpoints {
            let overall = entry.overall
            let timing = overall.timing
            let exemplars = EndpointExemplars.merged(
                statistics.compactMap { $0.endpoints[route]?.exemplars }, p99Ms: timing.p99Ms)
            figures[route] = EndpointStatistics(
                timing: timing, errors: overall.errors,
                errorRate: overall.count == 0 ? 0 : Double(overall.errors) / Double(overall.count),
                methods: entry.methods.mapValues(\.timing), exemplars: exemplars)
        }
        let perSecond = statistics.reduce(0) { $0 + $1.requestsPerSecond }
        let failing = statistics.reduce(0) { $0 + $1.requestsPerSecond * $1.errorRate }
        return RequestStatistics(
            totalRequests: statistics.reduce(0) { $0 + $1.totalRequests },
            activeRequests: statistics.reduce(0) { $0 + $1.activeRequests }, requestsPerSecond: perSecond,
            errorRate: perSecond > 0 ? failing / perSecond : 0,
            slowRequests: statistics.reduce(0) { $0 + $1.slowRequests },
            slowThresholdMs: statistics.map(\.slowThresholdMs).max() ?? 0,
            series: endpoints.count, seriesLimit: statistics.reduce(0) { $0 + $1.seriesLimit },
            endpoints: .init(figures))
    }
}

extension EndpointExemplars {
    /// The fleet's exemplars of an endpoint from its instances': the slowest max, and for the p99 the instance
    /// exemplar nearest at or above the fleet's p99 (else the slowest below it). Nil when no instance sent any
    /// (servers before exemplars).
    public static func merged(_ instances: [EndpointExemplars], p99Ms: Double) -> EndpointExemplars? {
        guard let max = instances.map(\.max).max(by: { $0.durationMs < $1.durationMs }) else { return nil }
        let candidates = instances.map(\.p99)
        let p99 =
            candidates.filter { $0.durationMs >= p99Ms }.min { $0.durationMs < $1.durationMs }
            ?? candidates.max { $0.durationMs < $1.durationMs } ?? max
        return EndpointExemplars(p99: p99, max: max)
    }
}
