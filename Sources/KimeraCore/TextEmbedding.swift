/// The embedding of a text and its statistics (`POST /kimera/embed`, the document's `EmbedResponse`, built
/// by the route).
public struct TextEmbedding: Sendable, Equatable {
    public var vector: [Float]
    /// L2 norm: 1, or 0 for a text without tokens.
    public var norm: Double
    public var nonZero: Int
    public var min: Double
    public var max: Double
    public var mean: Double
    public var tokenCount: Int
    /// The embedder's identifier.
    public var model: String

    /// Embeds `text` with `embedder` and computes the vector's statistics.
    public init(text: String, embedder: any Embedder) {
        let vector = embedder.embed(text)
        let values = vector.map(Double.init)
        self.vector = vector
        norm = Double(VectorMath.norm(vector))
        nonZero = vector.reduce(0) { $0 + ($1 != 0 ? 1 : 0) }
        min = values.min() ?? 0
        max = values.max() ?? 0
        mean = values.isEmpty ? 0 : values.reduce(0, +) / Double(values.count)
        tokenCount = Tokenizer.tokens(text).count
        model = embedder.identifier
    }

    public var dimensions: Int { vector.count }
}

/// The embedding of a text plus the text-form semantic state a geoid of this text would get (baseline
/// included) and its entropy (`POST /kimera/semantic_features`).
public struct TextFeatures: Sendable, Equatable {
    public var embedding: TextEmbedding
    public var semanticState: [String: Double]
    /// Bits.
    public var entropy: Double

    public init(text: String, embedder: any Embedder) {
        embedding = TextEmbedding(text: text, embedder: embedder)
        semanticState = SemanticEntropy.withBaseline(GeoidConstruction.textSemanticState(text))
        entropy = SemanticEntropy.entropy(semanticState)
    }
}
