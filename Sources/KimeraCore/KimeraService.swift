#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
import KimeraModels
import Synchronization

/// Limits and defaults of the Kimera core, in one place.
public struct KimeraCoreConfiguration: Sendable, Equatable {
    /// Largest `limit` of geoid and SCAR search, of vault contents, and largest `search_limit`; larger values
    /// are clamped to it (docs/API.md §1).
    public var maximumLimit: Int = 100
    /// Most pairs one detect request may ask about.
    public var maximumDetectPairs: Int = 1000
    /// Most geoids one batch create may hold.
    public var maximumBatch: Int = 1000
    /// Starting tension threshold; changeable later with `setTensionThreshold`.
    public var tensionThreshold: Double = TensionPolicy.defaultThreshold

    public init(maximumLimit: Int = 100, maximumDetectPairs: Int = 1000, tensionThreshold: Double = 0.4) {
        self.maximumLimit = maximumLimit
        self.maximumDetectPairs = maximumDetectPairs
        self.tensionThreshold = tensionThreshold
    }
}

/// What the `/kimera` routes call: geoids, search, contradiction detection and processing, SCARs, vaults,
/// stability, the cognitive cycle and embeddings (docs/API.md §5, docs/DOMAIN.md). Knows nothing of HTTP; throws
/// `DomainError` for what the caller got wrong (`notFound` → 404, the rest → 400) and passes on
/// `VaultError` for storage failures.
public final class KimeraService: Sendable {
    public let store: any VaultStore
    public let embedder: any Embedder
    public let configuration: KimeraCoreConfiguration
    /// Protects the tension policy, which runtime configuration may change while requests read it.
    private let policy: Mutex<TensionPolicy>
    private let clock: @Sendable () -> Date

    /// - Throws: `DomainError.invalidInput(field: "tension_threshold", …)` for a threshold outside [0, 1].
    public init(
        store: any VaultStore, embedder: any Embedder, configuration: KimeraCoreConfiguration = .init(),
        clock: @escaping @Sendable () -> Date = { Date() }
    ) throws(DomainError) {
        self.store = store
        self.embedder = embedder
        self.configuration = configuration
        self.policy = Mutex(try TensionPolicy(threshold: configuration.tensionThreshold))
        self.clock = clock
    }

    public var tensionThreshold: Double { policy.locked { $0.threshold } }

    /// - Throws: `DomainError.invalidInput(field: "tension_threshold", …)` outside [0, 1].
    public func setTensionThreshold(_ threshold: Double) throws(DomainError) {
        let newPolicy = try TensionPolicy(threshold: threshold)
        policy.locked { $0 = newPolicy }
    }

    // MARK: Geoids

    /// Embeds and stores a geoid drafted by `GeoidConstruction.draft`; returns after the commit.
    public func createGeoid(_ draft: GeoidDraft) async throws -> CreatedGeoid {
        var draft = draft
        draft.semanticState = SemanticEntropy.withBaseline(draft.semanticState)
        let entropy = SemanticEntropy.entropy(draft.semanticState)
        let geoid = Geoid(
            geoidID: KimeraID.make("geoid"), semanticState: draft.semanticState, symbolicState: draft.symbolicState,
            metadata: draft.metadata, embeddingVector: embedder.embed(draft.embeddedText))
        try await store.insertGeoid(
            StoredGeoid(
                geoid: geoid, embeddedText: draft.embeddedText, entropy: entropy,
                createdAt: clock().timeIntervalSince1970))
        return CreatedGeoid(geoid: geoid, entropy: entropy)
    }

    public func geoid(id: String) async throws -> Geoid {
        guard let geoid = try await store.geoid(id: id) else { throw DomainError.notFound(.geoid, id: id) }
        return geoid
    }

    public func deleteGeoid(id: String) async throws {
        guard try await store.deleteGeoid(id: id) else { throw DomainError.notFound(.geoid, id: id) }
    }

    /// Geoids ranked by cosine similarity with the query's embedding.
    public func searchGeoids(query: String, limit: Int = 5) async throws -> [Ranked<Geoid>] {
        let limit = try clampedLimit(limit, field: "limit")
        try requireText(query, field: "query")
        let hits = store.nearestGeoids(to: embedder.embed(query), limit: limit, excluding: [])
        let geoids = try await store.geoids(ids: hits.map(\.id))
        let byID = Dictionary(geoids.map { ($0.geoidID, $0) }, uniquingKeysWith: { first, _ in first })
        // A geoid deleted between ranking and loading is simply left out.
        return hits.compactMap { hit in byID[hit.id].map { Ranked($0, score: hit.score) } }
    }

    // MARK: Contradictions

    /// Scores each requested pair; a malformed pair or an unknown id gets a per-pair error, not a failure.
    public func detect(pairs: [[String]]) async throws -> [PairOutcome] {
        guard pairs.count <= configuration.maximumDetectPairs else {
            throw DomainError.invalidInput(
                field: "geoid_pairs",
                problem: "has \(pairs.count) pairs; send at most \(configuration.maximumDetectPairs)")
        }
        let wanted = Array(Set(pairs.filter { $0.count == 2 }.flatMap { $0 }))
        var interner = KeyInterner()
        var operands: [String: TensionOperand] = [:]
        for geoid in try await store.geoids(ids: wanted) {
            operands[geoid.geoidID] = TensionOperand(geoid, interner: &interner)
        }
        let policy = policy.locked { $0 }
        return pairs.map { pair -> PairOutcome in
            guard pair.count == 2 else {
                return .unscorable(
                    pair: pair, reason: "A pair must name exactly 2 geoids, this one names \(pair.count).")
            }
            guard let a = operands[pair[0]] else {
                return .unscorable(pair: pair, reason: DomainError.notFound(.geoid, id: pair[0]).message)
            }
            guard let b = operands[pair[1]] else {
                return .unscorable(pair: pair, reason: DomainError.notFound(.geoid, id: pair[1]).message)
            }
            let score = TensionScore.between(a, b)
            return .scored(
                pair: pair, isContradiction: policy.isTension(score), tension: score.tension(pair[0], pair[1]))
        }
    }

    /// How many neighbours of the trigger processing compares with it when the request does not say.
    public static let defaultSearchLimit = 5

    /// docs/DOMAIN.md "Processing a trigger": the trigger and its `searchLimit` most similar other geoids, every
    /// pair scored, each tension resolved into a SCAR, all SCARs and the cycle increment in one transaction.
    /// `forceCollapse` collapses every tension regardless of pulse and stability.
    public func processContradictions(
        trigger triggerID: String, searchLimit: Int = defaultSearchLimit, forceCollapse: Bool = false
    ) async throws -> ProcessResult {
        let started = ContinuousClock.now
        try checkSearchLimit(searchLimit)
        guard let trigger = try await store.geoid(id: triggerID) else {
            throw DomainError.notFound(.geoid, id: triggerID)
        }
        let hits = store.nearestGeoids(
            to: trigger.embeddingVector, limit: searchLimit, excluding: [trigger.geoidID])
        let neighbours = try await store.geoids(ids: hits.map(\.id))
        var interner = KeyInterner()
        let operands = ([trigger] + neighbours).map { TensionOperand($0, interner: &interner) }
        let currentPolicy = policy.locked { $0 }
        let findings = try await ComputeOffload.run {
            ContradictionProcessing.tensions(among: operands, policy: currentPolicy)
        }

        let now = clock()
        var stability = try await store.stabilityInputs(now: now.timeIntervalSince1970)
        let resolutions = ContradictionProcessing.resolve(
            findings, operands: operands, stability: &stability, forceCollapse: forceCollapse,
            provenance: .contradictionEngine, embedder: embedder, now: now)
        let commit = try await store.commitRun(stateUpdates: [], scars: resolutions.map(\.scar))
        return ProcessResult(
            triggerGeoidID: trigger.geoidID, contradictionsDetected: findings.count,
            scarsCreated: commit.scars.count, results: resolutions.map(\.processed),
            processingTime: seconds(since: started), geoidsAnalyzed: operands.count, cycleCount: commit.cycleCount)
    }

    // MARK: SCARs and vaults

    public func scar(id: String) async throws -> Scar {
        guard let scar = try await store.scar(id: id) else { throw DomainError.notFound(.scar, id: id) }
        return scar
    }

    /// SCARs ranked by cosine similarity between the query's embedding and each SCAR's vector.
    public func searchScars(query: String, limit: Int = 3) async throws -> [Ranked<Scar>] {
        let limit = try clampedLimit(limit, field: "limit")
        try requireText(query, field: "query")
        let hits = store.nearestScars(to: embedder.embed(query), limit: limit)
        let scars = try await store.scars(ids: hits.map(\.id))
        let byID = Dictionary(scars.map { ($0.scarID, $0) }, uniquingKeysWith: { first, _ in first })
        return hits.compactMap { hit in byID[hit.id].map { Ranked($0, score: hit.score) } }
    }

    /// The vaults' totals, the geoid count and the store, read now (the vault status and stats).
    public func vaultReport() async throws -> VaultReport {
        let totals = try await store.vaultTotals()
        let geoids = try await store.geoidCount()
        return VaultReport(
            totals: totals, geoids: geoids, dialect: store.dialect, timestamp: KimeraTimestamp.iso8601(clock()))
    }

    /// The newest SCARs of both vaults, newest first.
    public func recentScars(limit: Int = 5) async throws -> [Scar] {
        let limit = try clampedLimit(limit, field: "limit")
        let both = try await store.vaultContents(.vaultA, limit: limit) + store.vaultContents(.vaultB, limit: limit)
        let newest = both.sorted { ($0.timestamp, $0.scarID) > ($1.timestamp, $1.scarID) }.prefix(limit)
        return Array(newest)
    }

    /// Drafts and creates each entry in turn; stops at the first that fails, naming its index.
    public func createGeoids<Entry>(
        _ entries: [Entry], draft: (Entry) throws(DomainError) -> GeoidDraft
    ) async throws -> [CreatedGeoid] {
        guard !entries.isEmpty else {
            throw DomainError.invalidInput(field: "geoids", problem: "is empty; send at least one geoid")
        }
        guard entries.count <= configuration.maximumBatch else {
            throw DomainError.invalidInput(
                field: "geoids", problem: "has \(entries.count) entries; at most \(configuration.maximumBatch)")
        }
        var created: [CreatedGeoid] = []
        for (index, entry) in entries.enumerated() {
            do {
                created.append(try await createGeoid(try draft(entry)))
            } catch DomainError.invalidInput(let field, let problem) {
                throw DomainError.invalidInput(field: "geoids[\(index)].\(field)", problem: problem)
            }
        }
        return created
    }

    public func geoidCount() async throws -> Int {
        try await store.geoidCount()
    }

    /// SCAR count and weight sum per vault.
    public func vaultTotals() async throws -> VaultTotals {
        try await store.vaultTotals()
    }

    /// The newest SCARs of `vault_a` or `vault_b`; any other id is `notFound(.vault)`.
    public func vaultContents(vaultID: String, limit: Int = 10) async throws -> (vault: VaultID, scars: [Scar]) {
        let vault = try VaultID(wire: vaultID)
        let limit = try clampedLimit(limit, field: "limit")
        return (vault, try await store.vaultContents(vault, limit: limit))
    }

    /// Moves SCARs from the heavier vault to the other (by count, or by weight); returns how many moved.
    public func rebalance(byWeight: Bool = false) async throws -> Int {
        try await store.rebalance(byWeight: byWeight)
    }

    // MARK: System

    /// The stability metrics of the vault as it is now (docs/DOMAIN.md "Stability").
    public func stability() async throws -> StabilityReport {
        StabilityReport(try await store.stabilityInputs(now: clock().timeIntervalSince1970))
    }

    /// The counts, the cycle counter, the threshold and the embedder (`GET /kimera/status`).
    public func status() async throws -> ServiceStatus {
        let totals = try await store.vaultTotals()
        return ServiceStatus(
            totals: totals, activeGeoids: try await store.geoidCount(), cycleCount: try await store.cycleCount(),
            tensionThreshold: tensionThreshold, embeddingModel: embedder.identifier,
            embeddingDimensions: embedder.dimensions, timestamp: timestamp())
    }

    /// Each component probed once: the vault with a cheap read, the embedder with a known text.
    /// Never throws; a failing component makes the whole degraded.
    public func health() async -> HealthReport {
        var components: [String: ComponentProbe] = [:]
        let vaultStart = ContinuousClock.now
        do {
            let count = try await store.geoidCount()
            components["vault"] = ComponentProbe(
                isOK: true, detail: "\(count) geoids", latencyMs: seconds(since: vaultStart) * 1000)
        } catch {
            components["vault"] = ComponentProbe(
                isOK: false, detail: "\(error)", latencyMs: seconds(since: vaultStart) * 1000)
        }
        let embedderStart = ContinuousClock.now
        let norm = VectorMath.norm(embedder.embed("kimera health probe"))
        let embedderOK = abs(norm - 1) < 1e-3
        components["embedder"] = ComponentProbe(
            isOK: embedderOK,
            detail: embedderOK ? embedder.identifier : "probe embedding has norm \(norm), expected 1",
            latencyMs: seconds(since: embedderStart) * 1000)
        return HealthReport(components: components, timestamp: timestamp())
    }

    /// The service clock's time, ISO-8601 UTC (`GET /kimera/system/ping` answers with it).
    public func timestamp() -> String {
        KimeraTimestamp.iso8601(clock())
    }

    /// `ok`, or what the database's integrity check found; reads the whole database.
    public func integrityCheck() async throws -> String {
        try await store.integrityCheck()
    }

    /// One cognitive cycle (docs/DOMAIN.md): diffusion over the 500 newest geoids, stored; their tensions, the
    /// strongest 20 turned into SCARs; all in one transaction with the cycle increment.
    public func runCycle() async throws -> CycleReport {
        let started = ContinuousClock.now
        let geoids = try await store.newestGeoids(limit: CognitiveCyclePlan.geoidLimit)
        let now = clock()
        let stability = try await store.stabilityInputs(now: now.timeIntervalSince1970)
        let currentPolicy = policy.locked { $0 }
        let embedder = self.embedder
        let plan = try await ComputeOffload.run {
            CognitiveCyclePlan(
                geoids: geoids, policy: currentPolicy, stability: stability, embedder: embedder, now: now)
        }
        let commit = try await store.commitRun(stateUpdates: plan.updates, scars: plan.resolutions.map(\.scar))
        return CycleReport(
            cycleCount: commit.cycleCount, contradictionsDetected: plan.tensionsDetected,
            scarsCreated: commit.scars.count, entropyBeforeDiffusion: plan.entropyBefore,
            entropyAfterDiffusion: plan.entropyAfter, processingTime: seconds(since: started),
            activeGeoids: geoids.count)
    }

    // MARK: Embedding

    /// `POST /kimera/embed`: the embedding of `text` and its statistics.
    public func embed(text: String) -> TextEmbedding {
        TextEmbedding(text: text, embedder: embedder)
    }

    /// `POST /kimera/semantic_features`: the embedding plus the text-form semantic state a geoid of this text
    /// would get (baseline included) and its entropy.
    public func semanticFeatures(text: String) -> TextFeatures {
        TextFeatures(text: text, embedder: embedder)
    }

    // MARK: Helpers

    /// A limit must be at least 1; above `maximumLimit` it is clamped.
    /// A processing request's `search_limit`: a body field has no clamp, the document says 1 to 100, so
    /// anything else is a 400 naming the range (a query `limit` is clamped instead, as docs/API.md §1 says).
    public func checkSearchLimit(_ searchLimit: Int) throws(DomainError) {
        guard searchLimit >= 1 else {
            throw .invalidInput(field: "search_limit", problem: "must be at least 1, got \(searchLimit)")
        }
        guard searchLimit <= configuration.maximumLimit else {
            throw .invalidInput(
                field: "search_limit", problem: "must be from 1 to \(configuration.maximumLimit), got \(searchLimit)")
        }
    }

    func clampedLimit(_ limit: Int, field: String) throws(DomainError) -> Int {
        guard limit >= 1 else {
            throw .invalidInput(field: field, problem: "must be at least 1, got \(limit)")
        }
        return min(limit, configuration.maximumLimit)
    }

    func requireText(_ text: String, field: String) throws(DomainError) {
        if TextRules.isBlank(text) {
            throw .invalidInput(field: field, problem: "is empty: give the text to search for")
        }
    }

    func seconds(since start: ContinuousClock.Instant) -> Double {
        (ContinuousClock.now - start).seconds
    }
}
