#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
import KimeraModels

/// `POST /kimera/statistics/analyze` (docs/API.md §5): descriptive statistics of a list of numbers, as the
/// Python original computed them with numpy — population standard deviation, skewness as the mean cubed
/// z-score, kurtosis as the mean fourth-power z-score minus 3, and a 10-bin histogram over [min, max].
public enum StatisticsAnalysis {
    /// Most values one request may send (the body limit bounds it too).
    public static let maximumValues = 100_000

    /// A 10-bin histogram: `counts[i]` values fall in `[bins[i], bins[i+1])` (the last bin is closed).
    public struct Histogram: Sendable, Equatable {
        public var counts: [Int]
        /// The 11 bin edges.
        public var bins: [Double]
    }

    /// Population statistics of the data (the document's `AnalyzeResponse`, built by the route); `histogram`,
    /// `skewness` and `kurtosis` only for `distribution`.
    public struct Summary: Sendable, Equatable {
        public var analysisType: AnalysisType
        public var mean: Double
        public var median: Double
        /// Population standard deviation.
        public var std: Double
        public var min: Double
        public var max: Double
        public var count: Int
        public var histogram: Histogram?
        /// Mean cubed z-score.
        public var skewness: Double?
        /// Mean fourth-power z-score − 3.
        public var kurtosis: Double?
    }

    /// `analysisType` stays text so that an unknown kind is a 400 naming it; nil is `basic`.
    /// - Throws: `DomainError.invalidInput` for empty data, non-finite values or an unknown type.
    public static func analyze(_ data: [Double], analysisType: String?) throws(DomainError) -> Summary {
        let typeName = analysisType ?? AnalysisType.basic.rawValue
        guard let type = AnalysisType(rawValue: typeName) else {
            throw .invalidInput(
                field: "analysis_type",
                problem: "'\(typeName)' is not an analysis; use one of \(AnalysisType.allowed.joined(separator: ", "))")
        }
        guard !data.isEmpty else { throw .invalidInput(field: "data", problem: "is empty; send at least one number") }
        guard data.count <= maximumValues else {
            throw .invalidInput(field: "data", problem: "has \(data.count) values; at most \(maximumValues)")
        }
        guard data.allSatisfy(\.isFinite) else {
            throw .invalidInput(field: "data", problem: "holds a value that is not a finite number")
        }
        // Computed on the values divided by the largest magnitude, then scaled back: sums of squares of
        // values near Double.greatestFiniteMagnitude would overflow otherwise. Skewness and kurtosis do
        // not depend on the scale.
        let scale = data.reduce(0) { Swift.max($0, abs($1)) }
        let unit = scale > 0 ? data.map { $0 / scale } : data
        let count = Double(data.count)
        let scaledMean = unit.reduce(0, +) / count
        let scaledVariance = unit.reduce(0) { $0 + ($1 - scaledMean) * ($1 - scaledMean) } / count
        let scaledStd = scaledVariance.squareRoot()
        let factor = scale > 0 ? scale : 1
        let sorted = data.sorted()
        let middle = sorted.count / 2
        let median =
            sorted.count % 2 == 1 ? sorted[middle] : sorted[middle - 1] / 2 + sorted[middle] / 2
        var response = Summary(
            analysisType: type, mean: scaledMean * factor, median: median, std: scaledStd * factor, min: sorted[0],
            max: sorted[sorted.count - 1], count: data.count)
        guard type == .distribution else { return response }
        // With no spread every z-score is 0 (numpy would give NaN, which JSON cannot carry).
        let z = scaledStd > 0 ? unit.map { ($0 - scaledMean) / scaledStd } : unit.map { _ in 0 }
        response.skewness = z.reduce(0) { $0 + $1 * $1 * $1 } / count
        response.kurtosis = scaledStd > 0 ? z.reduce(0) { $0 + $1 * $1 * $1 * $1 } / count - 3 : 0
        response.histogram = histogram(sorted.map { $0 / factor }, bins: 10, scale: factor)
        return response
    }

    /// numpy.histogram's rule: equal-width bins over [min, max], the last bin closed; a single value
    /// spreads the range to [v − 0.5, v + 0.5] (in the data's units).
    /// `sorted` is scaled into [-1, 1]; the edges are scaled back by `scale`.
    static func histogram(_ sorted: [Double], bins: Int, scale: Double) -> Histogram {
        let low = sorted[0]
        let high = sorted[sorted.count - 1]
        if low == high {
            // Spread by 0.5 in the data's own units (±0.5 after scaling would be ±|v|/2 and overflow near the
            // largest Double); the value falls in the middle bin, as in numpy.
            let value = low * scale
            let first = value - 0.5
            let width = (value + 0.5 - first) / Double(bins)
            var counts = [Int](repeating: 0, count: bins)
            counts[bins / 2] = sorted.count
            return Histogram(counts: counts, bins: (0...bins).map { first + Double($0) * width })
        }
        let width = (high - low) / Double(bins)
        let edges = (0...bins).map { (low + Double($0) * width) * scale }
        var counts = [Int](repeating: 0, count: bins)
        for value in sorted {
            let index = Swift.min(Int((value - low) / width), bins - 1)
            counts[Swift.max(0, index)] += 1
        }
        return Histogram(counts: counts, bins: edges)
    }
}

/// The kinds of `POST /kimera/statistics/analyze`.
public enum AnalysisType: String, Sendable, CaseIterable {
    case basic
    case distribution

    public static let allowed: [String] = allCases.map(\.rawValue)
}
