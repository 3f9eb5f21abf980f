import Foundation
import KimeraModels

/// `POST /kimera/statistics/analyze` (docs/API.md §5): descriptive statistics of a list of numbers, as the
/// Python original computed them with numpy — population standard deviation, skewness as the mean cubed
/// z-score, kurtosis as the mean fourth-power z-score minus 3, and a 10-bin histogram over [min, max].
public enum StatisticsAnalysis {
    /// Most values one request may send (the body limit bounds it too).
    public static let maximumValues = 100_000

    /// - Throws: `DomainError.invalidInput` for empty data, non-finite values or an unknown type.
    public static func analyze(_ request: AnalyzeRequest) throws(DomainError) -> AnalyzeResponse {
        let typeName = request.analysisType ?? AnalysisType.basic.rawValue
        guard let type = AnalysisType(rawValue: typeName) else {
            throw .invalidInput(
                field: "analysis_type",
                problem: "'\(typeName)' is not an analysis; use one of \(AnalysisType.allowed.joined(separator: ", "))")
        }
        let data = request.data
        guard !data.isEmpty else { throw .invalidInput(field: "data", problem: "is empty; send at least one number") }
        guard data.count <= maximumValues else {
            throw .invalidInput(field: "data", problem: "has \(data.count) values; at most \(maximumValues)")
        }
        guard data.allSatisfy(\.isFinite) else {
            throw .invalidInput(field: "data", problem: "holds a value that is not a finite number")
        }
        let count = Double(data.count)
        let mean = data.reduce(0, +) / count
        let variance = data.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / count
        let std = variance.squareRoot()
        let sorted = data.sorted()
        let middle = sorted.count / 2
        let median = sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
        var response = AnalyzeResponse(
            analysisType: type, mean: mean, median: median, std: std, min: sorted[0], max: sorted[sorted.count - 1],
            count: data.count)
        guard type == .distribution else { return response }
        // With no spread every z-score is 0 (numpy would give NaN, which JSON cannot carry).
        let z = std > 0 ? data.map { ($0 - mean) / std } : data.map { _ in 0 }
        response.skewness = z.reduce(0) { $0 + $1 * $1 * $1 } / count
        response.kurtosis = std > 0 ? z.reduce(0) { $0 + $1 * $1 * $1 * $1 } / count - 3 : 0
        response.histogram = histogram(sorted, bins: 10)
        return response
    }

    /// numpy.histogram's rule: equal-width bins over [min, max], the last bin closed; a single value
    /// spreads the range to [v − 0.5, v + 0.5].
    static func histogram(_ sorted: [Double], bins: Int) -> DataHistogram {
        var low = sorted[0]
        var high = sorted[sorted.count - 1]
        if low == high {
            low -= 0.5
            high += 0.5
        }
        let width = (high - low) / Double(bins)
        let edges = (0...bins).map { low + Double($0) * width }
        var counts = [Int](repeating: 0, count: bins)
        for value in sorted {
            let index = Swift.min(Int((value - low) / width), bins - 1)
            counts[Swift.max(0, index)] += 1
        }
        return DataHistogram(counts: counts, bins: edges)
    }
}
