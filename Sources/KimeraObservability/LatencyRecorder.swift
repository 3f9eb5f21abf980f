import Histogram
import KimeraAPI
import KimeraModels

/// The latency buckets of `/metrics` histograms and of their exemplars, in milliseconds: one definition
/// for the exposition and the recorder (docs/OPERATIONS.md "Metrics and exemplars").
package enum LatencyBuckets {
    /// Upper bounds in milliseconds; a last `+Inf` bucket follows them.
    /// From 10 µs: /health is served in tens of microseconds, so a sub-millisecond server needs buckets there.
    package static let boundsMs: [Double] = [
        0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000,
    ]
    /// The same bounds in nanoseconds, compared on the request path (no floating point there).
    static let boundsNanos: [Int64] = boundsMs.map { Int64(($0 * 1_000_000).rounded()) }
    /// The bounds and `+Inf`.
    package static var count: Int { boundsMs.count + 1 }

    /// The bucket a duration falls in: the first whose bound is at or above it, `boundsMs.count` for `+Inf`.
    /// Most requests are fast, so the scan from the smallest bound ends after a few comparisons.
    @inline(__always)
    package static func index(ofNanos nanos: Int64) -> Int {
        let bounds = boundsNanos
        var index = 0
        while index < bounds.count && nanos > bounds[index] { index += 1 }
        return index
    }
}

/// A request a latency figure can be followed to: its id, duration and start (wall clock). The id is the
/// request's own `String` (a retain, no copy), so keeping one costs the request path no allocation.
package struct LatencyExemplar: Sendable, Equatable {
    package var requestID: String
    package var nanos: Int64
    package var wallNanos: Int64

    package init(requestID: String, nanos: Int64, wallNanos: Int64) {
        self.requestID = requestID
        self.nanos = nanos
        self.wallNanos = wallNanos
    }
}

/// Latencies of one series: an HDR histogram in microseconds (2 significant digits: every percentile
/// within 1 %), plus the exact count, sum, min and max and, when recorded with a request id, exemplars: per
/// `LatencyBuckets` bucket the latest request that fell in it, and the slowest request (fixed size per series).
package struct LatencyRecorder: Sendable {
    package init() {}

    package private(set) var histogram = Histogram<UInt32>(
        lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: .two)
    package private(set) var count = 0
    package private(set) var sumNanos: Int64 = 0
    package private(set) var minNanos: Int64 = .max
    package private(set) var maxNanos: Int64 = 0
    package private(set) var errors = 0
    /// Per `LatencyBuckets` bucket, the latest request that fell in it; empty until the first request
    /// recorded with an id (then `LatencyBuckets.count` slots, allocated once per series).
    package private(set) var exemplars: [LatencyExemplar?] = []
    /// The slowest request recorded with an id (the latest of equals).
    package private(set) var maxExemplar: LatencyExemplar?

    /// Records a request and keeps it as its bucket's exemplar and, when it is the slowest, as the max's.
    package mutating func record(nanos: Int64, error: Bool, requestID: String, wallNanos: Int64) {
        if exemplars.isEmpty { exemplars = Array(repeating: nil, count: LatencyBuckets.count) }
        let exemplar = LatencyExemplar(requestID: requestID, nanos: nanos, wallNanos: wallNanos)
        exemplars[LatencyBuckets.index(ofNanos: nanos)] = exemplar
        if maxExemplar == nil || nanos >= maxNanos { maxExemplar = exemplar }
        record(nanos: nanos, error: error)
    }

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
        if exemplars.isEmpty {
            exemplars = other.exemplars
        } else if !other.exemplars.isEmpty {
            for (index, theirs) in other.exemplars.enumerated() {
                if let theirs, exemplars[index].map({ theirs.wallNanos > $0.wallNanos }) ?? true {
                    exemplars[index] = theirs
                }
            }
        }
        if let theirs = other.maxExemplar, maxExemplar.map({ theirs.nanos > $0.nanos }) ?? true {
            maxExemplar = theirs
        }
    }

    /// The exemplar of the bucket holding `valueMs` (a percentile) or, when that bucket kept none, of the
    /// nearest bucket above it that did, else the nearest below; nil when no request was recorded with an id.
    package func exemplar(atMs valueMs: Double) -> LatencyExemplar? {
        guard !exemplars.isEmpty else { return nil }
        let start = LatencyBuckets.index(ofNanos: Int64((valueMs * 1_000_000).rounded()))
        if let above = exemplars[start...].first(where: { $0 != nil }) { return above }
        return exemplars[..<start].last(where: { $0 != nil }) ?? nil
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
