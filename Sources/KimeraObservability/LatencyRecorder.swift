import Histogram
import KimeraModels

/// Latencies of one series: an HDR histogram in microseconds (2 significant digits: every percentile
/// within 1 %), plus the exact count, sum, min and max.
package struct LatencyRecorder: Sendable {
    package init() {}

    package private(set) var histogram = Histogram<UInt32>(
        lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: .two)
    package private(set) var count = 0
    package private(set) var sumNanos: Int64 = 0
    package private(set) var minNanos: Int64 = .max
    package private(set) var maxNanos: Int64 = 0
    package private(set) var errors = 0

    package mutating func record(nanos: Int64, error: Bool) {
        let micros = UInt64(Swift.max(1, (nanos + 500) / 1000))
        _ = histogram.record(Swift.min(micros, 3_600_000_000))
        count += 1
        sumNanos &+= nanos
        minNanos = Swift.min(minNanos, nanos)
        maxNanos = Swift.max(maxNanos, nanos)
        if error { errors += 1 }
    }

    package mutating func merge(_ other: LatencyRecorder) {
        histogram.add(other.histogram)
        count += other.count
        sumNanos &+= other.sumNanos
        minNanos = Swift.min(minNanos, other.minNanos)
        maxNanos = Swift.max(maxNanos, other.maxNanos)
        errors += other.errors
    }

    package var timing: TimingStats {
        guard count > 0 else { return .empty }
        func percentile(_ p: Double) -> Double {
            // Clamp to the exact extremes so a percentile never reads outside what was seen.
            let value = Double(histogram.valueAtPercentile(p)) / 1000
            return Swift.min(Swift.max(value, Double(minNanos) / 1e6), Double(maxNanos) / 1e6)
        }
        return TimingStats(
            count: count, avgTimeMs: Double(sumNanos) / Double(count) / 1e6, minTimeMs: Double(minNanos) / 1e6,
            maxTimeMs: Double(maxNanos) / 1e6, p50Ms: percentile(50), p90Ms: percentile(90),
            p95Ms: percentile(95), p99Ms: percentile(99), p999Ms: percentile(99.9))
    }

    /// Cumulative counts at the given upper bounds (ms), for Prometheus histograms.
    package func cumulativeCounts(boundsMs: [Double]) -> [Int] {
        guard count > 0 else { return boundsMs.map { _ in 0 } }
        var result: [Int] = []
        result.reserveCapacity(boundsMs.count)
        for bound in boundsMs {
            result.append(Int(histogram.count(within: 0...UInt64(bound * 1000))))
        }
        return result
    }
}

/// Requests and 5xx responses per second over the last 60 seconds.
struct SlidingWindow: Sendable {
    private var seconds = [Int64](repeating: -1, count: 60)
    private var requests = [Int](repeating: 0, count: 60)
    private var errors = [Int](repeating: 0, count: 60)

    package mutating func record(atSecond second: Int64, error: Bool) {
        let slot = Int(second % 60)
        if seconds[slot] != second {
            seconds[slot] = second
            requests[slot] = 0
            errors[slot] = 0
        }
        requests[slot] += 1
        if error { errors[slot] += 1 }
    }

    /// Requests per second and the 5xx share over the 60 seconds before `second`.
    package func rates(atSecond second: Int64) -> (perSecond: Double, errorRate: Double) {
        var total = 0
        var failed = 0
        for slot in 0..<60 where seconds[slot] > second - 60 && seconds[slot] <= second {
            total += requests[slot]
            failed += errors[slot]
        }
        return (Double(total) / 60, total == 0 ? 0 : Double(failed) / Double(total))
    }
}
