#if canImport(FoundationEssentials)
    import FoundationEssentials
    import Glibc
#else
    import Foundation
#endif
import KimeraModels

/// Shannon entropy of a semantic state (docs/DOMAIN.md "Geoid"), and the baseline rule applied before storing.
public enum SemanticEntropy {
    /// Added as `entropy_baseline` to a state whose entropy is below `baselineThreshold`.
    public static let baselineFeature = "entropy_baseline"
    public static let baselineValue = 0.1
    public static let baselineThreshold = 0.1

    /// H = −Σ p·log₂ p with p = value ÷ Σ values, over p > 0. 0 for an empty state or a non-positive sum.
    /// Values are visited in key order, so the result is bit-identical in every process.
    public static func entropy(_ state: [String: Double]) -> Double {
        let values = state.keys.sorted().map { state[$0]! }
        return entropy(values: values)
    }

    /// The same over plain values, in the order given.
    public static func entropy(values: [Double]) -> Double {
        let total = values.reduce(0, +)
        guard total > 0 else { return 0 }
        var entropy = 0.0
        for value in values {
            let p = value / total
            if p > 0 { entropy -= p * log2(p) }
        }
        return entropy
    }

    /// The state as it is stored: with `entropy_baseline: 0.1` added when its entropy is below 0.1.
    public static func withBaseline(_ state: [String: Double]) -> [String: Double] {
        guard entropy(state) < baselineThreshold else { return state }
        var state = state
        state[baselineFeature] = baselineValue
        return state
    }
}
