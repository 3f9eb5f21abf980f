import Histogram
import KimeraAPI
import KimeraModels

extension LatencyRecorder {
    /// The histogram's bounds and precision, as `/debug/histograms` declares them.
    package static let significantDigits = 2
    package static let lowestDiscernibleValue: UInt64 = 1
    package static let highestTrackableValue: UInt64 = 3_600_000_000

    /// This series in the mergeable form of `GET /debug/histograms`: the non-empty buckets and the exact figures.
    package func exported(route: String, method: String) -> SeriesHistogram {
        var buckets: [[Int]] = []
        for bucket in histogram.recordedValues() where bucket.count > 0 {
            buckets.append([Int(clamping: bucket.value), Int(clamping: bucket.count)])
        }
        return SeriesHistogram(
            route: route, method: method, count: count, errors: errors, sumMs: Double(sumNanos) / 1e6,
            minMs: count == 0 ? 0 : Double(minNanos) / 1e6, maxMs: Double(maxNanos) / 1e6, buckets: buckets)
    }
}

extension RequestTracer {
    /// Every series' histogram, for `GET /debug/histograms`.
    package func histograms() -> HistogramsResponse {
        let series = recorders().map { $0.recorder.exported(route: $0.route, method: $0.method) }
            .sorted { ($0.route, $0.method) < ($1.route, $1.method) }
        return HistogramsResponse(
            unit: .us, significantDigits: LatencyRecorder.significantDigits,
            lowestDiscernibleValue: Int(LatencyRecorder.lowestDiscernibleValue),
            highestTrackableValue: Int(LatencyRecorder.highestTrackableValue), series: series)
    }
}
