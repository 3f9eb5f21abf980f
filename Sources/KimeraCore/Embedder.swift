#if canImport(FoundationEssentials)
    import FoundationEssentials
    import Glibc
#else
    import Foundation
#endif
import KimeraModels

/// Turns text into a fixed-length vector. The feature-hashing embedder below is the default; a
/// model-backed embedder can replace it. `identifier` is persisted with the vault so that a change of
/// embedder (or of its dimensions) makes the vault re-embed what it stores.
public protocol Embedder: Sendable {
    /// Vector length; every vector this embedder returns has exactly this many components.
    var dimensions: Int { get }
    /// Names the embedder and its parameters, e.g. `feature-hashing-fnv1a64-d256`.
    var identifier: String { get }
    /// The embedding of `text`; L2-normalised, or all zeros when the text has nothing to embed.
    func embed(_ text: String) -> [Float]
}

/// Feature hashing of unigrams and adjacent bigrams (docs/DOMAIN.md "Embedding"): each feature's FNV-1a 64-bit
/// hash picks a dimension (low 63 bits modulo D) and a sign (top bit set → −1), with weight 1 + ln(tf);
/// the sum is L2-normalised. Stop words are kept. Deterministic: features are added in sorted order.
public struct FeatureHashingEmbedder: Embedder {
    public static let defaultDimensions = 256

    public let dimensions: Int

    /// - Parameter dimensions: at least 1; `embedding.dimensions` in the configuration.
    public init(dimensions: Int = FeatureHashingEmbedder.defaultDimensions) {
        precondition(dimensions > 0, "embedding dimensions must be positive")
        self.dimensions = dimensions
    }

    public var identifier: String { "feature-hashing-fnv1a64-d\(dimensions)" }

    public func embed(_ text: String) -> [Float] {
        embed(tokens: Tokenizer.tokens(text))
    }

    /// The embedding of an already tokenised text.
    public func embed(tokens: [String]) -> [Float] {
        guard !tokens.isEmpty else { return [Float](repeating: 0, count: dimensions) }
        // Every unigram and bigram with its stable hash, in text order, sorted by the hash and then (for the
        // rare equal hashes) by the text: equal features end up side by side, so a run's length is the term
        // frequency, and the floating-point sums happen in the same order in every process. No dictionary:
        // counting through one made the work (and the allocations, issue 25) depend on its iteration order,
        // and sorting its String keys normalised them at every comparison.
        var features: [(hash: UInt64, feature: String)] = []
        features.reserveCapacity(tokens.count * 2)
        for token in tokens { features.append((StableHash.fnv1a64(token), token)) }
        if tokens.count > 1 {
            // A space cannot occur inside a token, so a bigram never collides with a unigram.
            for index in 0..<(tokens.count - 1) {
                let bigram = tokens[index] + " " + tokens[index + 1]
                features.append((StableHash.fnv1a64(bigram), bigram))
            }
        }
        features.sort { $0.hash != $1.hash ? $0.hash < $1.hash : $0.feature < $1.feature }
        var sums = [Double](repeating: 0, count: dimensions)
        var start = 0
        while start < features.count {
            let (hash, feature) = features[start]
            var end = start + 1
            while end < features.count && features[end].hash == hash && features[end].feature == feature { end += 1 }
            let slot = Int((hash & (UInt64.max >> 1)) % UInt64(dimensions))
            let sign: Double = hash >> 63 == 1 ? -1 : 1
            sums[slot] += sign * (1 + log(Double(end - start)))
            start = end
        }
        let norm = sums.reduce(0) { $0 + $1 * $1 }.squareRoot()
        guard norm > 0 else { return [Float](repeating: 0, count: dimensions) }
        return sums.map { Float($0 / norm) }
    }
}
