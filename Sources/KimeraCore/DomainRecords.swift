import KimeraModels

// The domain's own records (docs/DOMAIN.md): what the service computes and the VaultStore port keeps. They
// carry no wire names and no encoding: the routes build the document's types from them
// (KimeraServer/Routes/DomainWire.swift, docs/ARCHITECTURE.md "The contract"). Those only the service makes
// have no public initialiser.

/// A semantic object: its weighted features, symbolic structure, free-form metadata and embedding.
public struct Geoid: Sendable, Equatable {
    /// `geoid_<32 hex>`.
    public var geoidID: String
    /// Feature name → weight. Text-form geoids carry token shares plus `complexity`.
    public var semanticState: [String: Double]
    /// Free-form structure; a parsed `echoform_text` is under `echoform`.
    public var symbolicState: [String: JSONValue]
    public var metadata: [String: JSONValue]
    /// L2-normalised (or all-zero) embedding of the geoid's text.
    public var embeddingVector: [Float]

    public init(
        geoidID: String, semanticState: [String: Double], symbolicState: [String: JSONValue],
        metadata: [String: JSONValue], embeddingVector: [Float]
    ) {
        self.geoidID = geoidID
        self.semanticState = semanticState
        self.symbolicState = symbolicState
        self.metadata = metadata
        self.embeddingVector = embeddingVector
    }
}

/// A geoid just stored, with the entropy of its stored semantic state.
public struct CreatedGeoid: Sendable, Equatable {
    public var geoid: Geoid
    public var geoidID: String { geoid.geoidID }
    /// Shannon entropy (bits) of the stored `semanticState`, after any `entropy_baseline` was added.
    public var entropy: Double
}

/// A record found by similarity, and how similar it is to the query.
public struct Ranked<Record: Sendable & Equatable>: Sendable, Equatable {
    public var record: Record
    /// Cosine similarity between the query's embedding and the record's, in [-1, 1].
    public var score: Double

    public init(_ record: Record, score: Double) {
        self.record = record
        self.score = score
    }
}

/// The tension between two geoids: its three components and the composite score (docs/DOMAIN.md "Tension").
public struct Tension: Sendable, Equatable {
    /// The two geoid ids, in the order they were compared.
    public var geoidsInvolved: [String]
    /// 0.4·E + 0.3·L + 0.3·S, in [0, 1].
    public var score: Double
    /// E: 1 − cosine similarity of the embeddings, clamped to [0, 1].
    public var embeddingMisalignment: Double
    /// L: Jaccard distance of the semantic key sets.
    public var layerConflict: Double
    /// S: the share of common symbolic keys whose values oppose.
    public var symbolicOpposition: Double
}

/// One requested pair of a detection: scored, or why it could not be.
public enum PairOutcome: Sendable, Equatable {
    /// Whether the score reached the tension threshold, and the tension.
    case scored(pair: [String], isContradiction: Bool, tension: Tension)
    /// An unknown id, or an entry that is not a pair.
    case unscorable(pair: [String], reason: String)
}

/// What processing did with one tension.
public struct ProcessedTension: Sendable, Equatable {
    public var tension: Tension
    public var pulseStrength: Double
    public var decision: ContradictionDecision
    public var scarID: String
}

/// The result of processing one trigger (docs/DOMAIN.md "Processing a trigger").
public struct ProcessResult: Sendable, Equatable {
    public var triggerGeoidID: String
    public var contradictionsDetected: Int
    public var scarsCreated: Int
    public var results: [ProcessedTension]
    /// Seconds, as the original API reported it.
    public var processingTime: Double
    /// The trigger plus the neighbours compared with it.
    public var geoidsAnalyzed: Int
    /// The persisted cycle counter after this run.
    public var cycleCount: Int
}

/// What a SCAR records about the contradiction it resolved: the part a draft and a stored SCAR share.
public struct ScarFigures: Sendable, Equatable {
    /// `scar_<32 hex>`.
    public var scarID: String
    /// The two geoid ids `[a, b]`.
    public var geoids: [String]
    public var reason: String
    /// ISO-8601 UTC with microseconds.
    public var timestamp: String
    public var resolvedBy: String
    public var preEntropy: Double
    public var postEntropy: Double
    public var deltaEntropy: Double
    public var clsAngle: Double
    public var semanticPolarity: Double
    public var mutationFrequency: Double
    public var weight: Double

    public init(
        scarID: String, geoids: [String], reason: String, timestamp: String, resolvedBy: String,
        preEntropy: Double, postEntropy: Double, deltaEntropy: Double, clsAngle: Double, semanticPolarity: Double,
        mutationFrequency: Double, weight: Double
    ) {
        (self.scarID, self.geoids, self.reason, self.timestamp, self.resolvedBy) =
            (scarID, geoids, reason, timestamp, resolvedBy)
        (self.preEntropy, self.postEntropy, self.deltaEntropy) = (preEntropy, postEntropy, deltaEntropy)
        (self.clsAngle, self.semanticPolarity, self.mutationFrequency, self.weight) =
            (clsAngle, semanticPolarity, mutationFrequency, weight)
    }
}

/// A resolved contradiction between two geoids, kept in one of the two vaults. Its figures read as its own
/// properties (`scar.scarID`).
@dynamicMemberLookup
public struct Scar: Sendable, Equatable {
    public var figures: ScarFigures
    public var vaultID: VaultID

    public init(_ figures: ScarFigures, vaultID: VaultID) {
        self.figures = figures
        self.vaultID = vaultID
    }

    public subscript<Value>(dynamicMember figure: KeyPath<ScarFigures, Value>) -> Value { figures[keyPath: figure] }
}
