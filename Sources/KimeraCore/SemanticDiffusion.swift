#if canImport(FoundationEssentials)
    import FoundationEssentials
    import Glibc
#else
    import Foundation
#endif
import KimeraModels

/// Semantic pressure diffusion of the cognitive cycle (docs/DOMAIN.md "Cognitive cycle"): a state's values, in
/// sorted-key order, are blurred with a Gaussian (σ = 1, 7 taps, reflect padding) and mixed half-and-half
/// with the originals.
public enum SemanticDiffusion {
    public static let sigma = 1.0
    public static let kernelSize = 7
    /// new = (1 − mix)·old + mix·blurred.
    public static let mix = 0.5

    /// exp(−k² ÷ 2σ²) for k = −3…3, normalised to sum 1.
    public static let kernel: [Double] = {
        let radius = kernelSize / 2
        let raw = (-radius...radius).map { exp(-Double($0 * $0) / (2 * sigma * sigma)) }
        let total = raw.reduce(0, +)
        return raw.map { $0 / total }
    }()

    /// Reflect padding that repeats the edge value (`d c b a | a b c d | d c b a`, SciPy's "reflect"), with
    /// period 2n, so it is defined even when the kernel is wider than the values.
    static func reflect(_ index: Int, count: Int) -> Int {
        let period = 2 * count
        var wrapped = index % period
        if wrapped < 0 { wrapped += period }
        return wrapped < count ? wrapped : period - 1 - wrapped
    }

    /// The Gaussian blur of `values`.
    public static func blur(_ values: [Double]) -> [Double] {
        guard !values.isEmpty else { return [] }
        let radius = kernelSize / 2
        return values.indices.map { index in
            var sum = 0.0
            for tap in 0..<kernelSize {
                sum += kernel[tap] * values[reflect(index + tap - radius, count: values.count)]
            }
            return sum
        }
    }

    /// The state after one diffusion step.
    public static func diffuse(_ state: [String: Double]) -> [String: Double] {
        let keys = state.keys.sorted()
        let old = keys.map { state[$0]! }
        let blurred = blur(old)
        var result: [String: Double] = [:]
        for (index, key) in keys.enumerated() {
            result[key] = (1 - mix) * old[index] + mix * blurred[index]
        }
        return result
    }
}
