// The wire types of the Kimera SWM core endpoints under `/kimera` (docs/API.md §5, docs/DOMAIN.md).
// Foundation-free: shared by the server and the client. Wire names are spelled out in CodingKeys.

// MARK: - Geoids

/// A semantic object: its weighted features, symbolic structure, free-form metadata and embedding.
public struct Geoid: Codable, Sendable, Equatable {
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

    enum CodingKeys: String, CodingKey {
        case metadata
        case geoidID = "geoid_id"
        case semanticState = "semantic_state"
        case symbolicState = "symbolic_state"
        case embeddingVector = "embedding_vector"
    }
}

/// `POST /kimera/geoids`. Two forms: text (`content` and/or `echoform_text`) or features
/// (`semantic_features`, optionally `symbolic_content`). With `semantic_features` present the feature form
/// wins and `echoform_text`, when also given, is only parsed into `symbolic_state.echoform`.
public struct CreateGeoidRequest: Codable, Sendable, Equatable {
    /// Plain text; tokenised into `semantic_state`.
    public var content: String?
    /// An s-expression, parsed into `symbolic_state.echoform`; also the text when `content` is absent.
    public var echoformText: String?
    /// Feature name → number. Kept as JSON so a non-number is reported by name rather than as a decode error.
    public var semanticFeatures: [String: JSONValue]?
    /// Merged into `symbolic_state` in either form.
    public var symbolicContent: [String: JSONValue]?
    public var metadata: [String: JSONValue]?

    public init(
        content: String? = nil, echoformText: String? = nil, semanticFeatures: [String: JSONValue]? = nil,
        symbolicContent: [String: JSONValue]? = nil, metadata: [String: JSONValue]? = nil
    ) {
        self.content = content
        self.echoformText = echoformText
        self.semanticFeatures = semanticFeatures
        self.symbolicContent = symbolicContent
        self.metadata = metadata
    }

    enum CodingKeys: String, CodingKey {
        case content, metadata
        case echoformText = "echoform_text"
        case semanticFeatures = "semantic_features"
        case symbolicContent = "symbolic_content"
    }
}

/// `201` of `POST /kimera/geoids`.
public struct CreateGeoidResponse: Codable, Sendable, Equatable {
    public var geoidID: String { geoid.geoidID }
    public var geoid: Geoid
    /// Shannon entropy (bits) of the stored `semantic_state`, after any `entropy_baseline` was added.
    public var entropy: Double

    public init(geoid: Geoid, entropy: Double) {
        self.geoid = geoid
        self.entropy = entropy
    }

    enum CodingKeys: String, CodingKey {
        case entropy
    }

    /// On the wire: the geoid's own fields at the top level, as the Python original answered, plus
    /// `entropy` (docs/API.md §5). The geoid is not repeated under a key of its own.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(entropy, forKey: .entropy)
        try geoid.encode(to: encoder)
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        entropy = try container.decode(Double.self, forKey: .entropy)
        geoid = try Geoid(from: decoder)
    }
}

/// One hit of `GET /kimera/geoids/search`.
public struct GeoidSearchResult: Codable, Sendable, Equatable {
    public var geoidID: String
    public var semanticState: [String: Double]
    public var metadata: [String: JSONValue]
    /// Cosine similarity between the query's embedding and the geoid's, in [-1, 1].
    public var similarityScore: Double

    public init(
        geoidID: String, semanticState: [String: Double], metadata: [String: JSONValue], similarityScore: Double
    ) {
        self.geoidID = geoidID
        self.semanticState = semanticState
        self.metadata = metadata
        self.similarityScore = similarityScore
    }

    enum CodingKeys: String, CodingKey {
        case metadata
        case geoidID = "geoid_id"
        case semanticState = "semantic_state"
        case similarityScore = "similarity_score"
    }
}

/// `GET /kimera/geoids/search`: hits ranked by descending similarity.
public struct SearchResponse: Codable, Sendable, Equatable {
    public var query: String
    public var results: [GeoidSearchResult]

    public init(query: String, results: [GeoidSearchResult]) {
        self.query = query
        self.results = results
    }
}

// MARK: - Tension and contradictions

/// The tension between two geoids: its three components and the composite score (docs/DOMAIN.md).
public struct Tension: Codable, Sendable, Equatable {
    /// The two geoid ids, in the order they were compared.
    public var geoidsInvolved: [String]
    /// 0.4·E + 0.3·L + 0.3·S, in [0, 1].
    public var score: Double
    /// Always `pairwise_composite`.
    public var type: String
    /// E: 1 − cosine similarity of the embeddings, clamped to [0, 1].
    public var embeddingMisalignment: Double
    /// L: Jaccard distance of the semantic key sets.
    public var layerConflict: Double
    /// S: the share of common symbolic keys whose values oppose.
    public var symbolicOpposition: Double

    public init(
        geoidsInvolved: [String], score: Double, type: String = "pairwise_composite",
        embeddingMisalignment: Double, layerConflict: Double, symbolicOpposition: Double
    ) {
        self.geoidsInvolved = geoidsInvolved
        self.score = score
        self.type = type
        self.embeddingMisalignment = embeddingMisalignment
        self.layerConflict = layerConflict
        self.symbolicOpposition = symbolicOpposition
    }

    enum CodingKeys: String, CodingKey {
        case score, type
        case geoidsInvolved = "geoids_involved"
        case embeddingMisalignment = "embedding_misalignment"
        case layerConflict = "layer_conflict"
        case symbolicOpposition = "symbolic_opposition"
    }
}

/// `POST /kimera/contradiction/detect`.
public struct DetectRequest: Codable, Sendable, Equatable {
    /// Each entry should hold exactly two geoid ids; other entries get a per-pair `error`.
    public var geoidPairs: [[String]]

    public init(geoidPairs: [[String]]) { self.geoidPairs = geoidPairs }

    enum CodingKeys: String, CodingKey {
        case geoidPairs = "geoid_pairs"
    }
}

/// One pair's outcome in `POST /kimera/contradiction/detect`: either a tension or an error.
public struct DetectResult: Codable, Sendable, Equatable {
    public var pair: [String]
    /// Whether the score reached the tension threshold; absent when `error` is set.
    public var isContradiction: Bool?
    public var tension: Tension?
    /// Why this pair could not be scored (unknown id, not a pair).
    public var error: String?

    public init(pair: [String], isContradiction: Bool? = nil, tension: Tension? = nil, error: String? = nil) {
        self.pair = pair
        self.isContradiction = isContradiction
        self.tension = tension
        self.error = error
    }

    enum CodingKeys: String, CodingKey {
        case pair, tension, error
        case isContradiction = "is_contradiction"
    }
}

/// `POST /kimera/contradiction/detect`, one result per requested pair in request order.
public struct DetectResponse: Codable, Sendable, Equatable {
    public var results: [DetectResult]

    public init(results: [DetectResult]) { self.results = results }
}

/// `POST /kimera/contradiction/process/contradictions[/sync]`.
public struct ProcessRequest: Codable, Sendable, Equatable {
    public var triggerGeoidID: String
    /// How many most-similar other geoids to compare with the trigger (default 5).
    public var searchLimit: Int
    /// Collapse every tension regardless of pulse and stability (default false).
    public var forceCollapse: Bool

    public init(triggerGeoidID: String, searchLimit: Int = 5, forceCollapse: Bool = false) {
        self.triggerGeoidID = triggerGeoidID
        self.searchLimit = searchLimit
        self.forceCollapse = forceCollapse
    }

    enum CodingKeys: String, CodingKey {
        case triggerGeoidID = "trigger_geoid_id"
        case searchLimit = "search_limit"
        case forceCollapse = "force_collapse"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        triggerGeoidID = try container.decode(String.self, forKey: .triggerGeoidID)
        searchLimit = try container.decodeIfPresent(Int.self, forKey: .searchLimit) ?? 5
        forceCollapse = try container.decodeIfPresent(Bool.self, forKey: .forceCollapse) ?? false
    }
}

/// What processing did with one tension.
public struct ProcessedTension: Codable, Sendable, Equatable {
    public var tension: Tension
    public var pulseStrength: Double
    /// `collapse`, `surge` or `buffer`.
    public var decision: String
    public var scarID: String

    public init(tension: Tension, pulseStrength: Double, decision: String, scarID: String) {
        self.tension = tension
        self.pulseStrength = pulseStrength
        self.decision = decision
        self.scarID = scarID
    }

    enum CodingKeys: String, CodingKey {
        case tension, decision
        case pulseStrength = "pulse_strength"
        case scarID = "scar_id"
    }
}

/// The result of processing one trigger (docs/DOMAIN.md "Processing a trigger").
public struct ProcessResult: Codable, Sendable, Equatable {
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

    public init(
        triggerGeoidID: String, contradictionsDetected: Int, scarsCreated: Int, results: [ProcessedTension],
        processingTime: Double, geoidsAnalyzed: Int, cycleCount: Int
    ) {
        self.triggerGeoidID = triggerGeoidID
        self.contradictionsDetected = contradictionsDetected
        self.scarsCreated = scarsCreated
        self.results = results
        self.processingTime = processingTime
        self.geoidsAnalyzed = geoidsAnalyzed
        self.cycleCount = cycleCount
    }

    enum CodingKeys: String, CodingKey {
        case results
        case triggerGeoidID = "trigger_geoid_id"
        case contradictionsDetected = "contradictions_detected"
        case scarsCreated = "scars_created"
        case processingTime = "processing_time"
        case geoidsAnalyzed = "geoids_analyzed"
        case cycleCount = "cycle_count"
    }
}

/// `202` of `POST /kimera/contradiction/process/contradictions`.
public struct JobResponse: Codable, Sendable, Equatable {
    public var jobID: String
    /// Where to poll: `/kimera/contradiction/jobs/{job_id}`.
    public var statusURL: String

    public init(jobID: String, statusURL: String) {
        self.jobID = jobID
        self.statusURL = statusURL
    }

    enum CodingKeys: String, CodingKey {
        case jobID = "job_id"
        case statusURL = "status_url"
    }
}

/// `GET /kimera/contradiction/jobs/{job_id}`.
public struct JobStatusResponse: Codable, Sendable, Equatable {
    public var jobID: String
    public var status: JobState
    /// The sync result, once `completed`.
    public var result: ProcessResult?
    /// The failure, once `failed`.
    public var error: String?

    public init(jobID: String, status: JobState, result: ProcessResult? = nil, error: String? = nil) {
        self.jobID = jobID
        self.status = status
        self.result = result
        self.error = error
    }

    enum CodingKeys: String, CodingKey {
        case status, result, error
        case jobID = "job_id"
    }
}

// MARK: - SCARs

/// A resolved contradiction between two geoids, kept in one of the two vaults.
public struct Scar: Codable, Sendable, Equatable {
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
    public var vaultID: VaultID

    public init(
        scarID: String, geoids: [String], reason: String, timestamp: String, resolvedBy: String,
        preEntropy: Double, postEntropy: Double, deltaEntropy: Double, clsAngle: Double, semanticPolarity: Double,
        mutationFrequency: Double, weight: Double, vaultID: VaultID
    ) {
        self.scarID = scarID
        self.geoids = geoids
        self.reason = reason
        self.timestamp = timestamp
        self.resolvedBy = resolvedBy
        self.preEntropy = preEntropy
        self.postEntropy = postEntropy
        self.deltaEntropy = deltaEntropy
        self.clsAngle = clsAngle
        self.semanticPolarity = semanticPolarity
        self.mutationFrequency = mutationFrequency
        self.weight = weight
        self.vaultID = vaultID
    }

    enum CodingKeys: String, CodingKey {
        case geoids, reason, timestamp, weight
        case scarID = "scar_id"
        case resolvedBy = "resolved_by"
        case preEntropy = "pre_entropy"
        case postEntropy = "post_entropy"
        case deltaEntropy = "delta_entropy"
        case clsAngle = "cls_angle"
        case semanticPolarity = "semantic_polarity"
        case mutationFrequency = "mutation_frequency"
        case vaultID = "vault_id"
    }
}

/// One hit of `GET /kimera/scars/search`: the SCAR's fields plus `similarity_score`, flat in one object.
public struct ScarSearchResult: Codable, Sendable, Equatable {
    public var scar: Scar
    public var similarityScore: Double

    public init(scar: Scar, similarityScore: Double) {
        self.scar = scar
        self.similarityScore = similarityScore
    }

    enum CodingKeys: String, CodingKey {
        case similarityScore = "similarity_score"
    }

    public init(from decoder: any Decoder) throws {
        scar = try Scar(from: decoder)
        let container = try decoder.container(keyedBy: CodingKeys.self)
        similarityScore = try container.decode(Double.self, forKey: .similarityScore)
    }

    public func encode(to encoder: any Encoder) throws {
        try scar.encode(to: encoder)
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(similarityScore, forKey: .similarityScore)
    }
}

/// `GET /kimera/scars/search`: hits ranked by descending similarity.
public struct ScarSearchResponse: Codable, Sendable, Equatable {
    public var query: String
    public var results: [ScarSearchResult]
    /// `success`, as the original said.
    public var status: String
    public var count: Int

    public init(query: String, results: [ScarSearchResult]) {
        self.query = query
        self.results = results
        self.status = "success"
        self.count = results.count
    }
}

// MARK: - Vaults

/// `GET /kimera/vault/vaults/{vault_id}`: the newest SCARs first.
public struct VaultContents: Codable, Sendable, Equatable {
    public var vaultID: VaultID
    public var contents: [Scar]

    public init(vaultID: VaultID, contents: [Scar]) {
        self.vaultID = vaultID
        self.contents = contents
    }

    enum CodingKeys: String, CodingKey {
        case contents
        case vaultID = "vault_id"
    }
}

// MARK: - Embedding

/// `POST /kimera/embed` and `POST /kimera/semantic_features`.
public struct EmbedRequest: Codable, Sendable, Equatable {
    public var text: String

    public init(text: String) { self.text = text }
}
