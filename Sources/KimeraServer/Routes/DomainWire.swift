import KimeraAPI
import KimeraCore
import KimeraModels

// The domain's records in the wire shapes openapi.json gives them, and the request bodies into the domain's
// inputs (routes translate HTTP ↔ Core). KimeraCore has records named like the schemas (Geoid, Scar,
// Tension, ProcessedTension, ProcessResult); here the schemas are spelled `Components.Schemas.…`.

/// A free-form JSON map as the document's types hold it (a JSON `null` is a present `null`).
private func wireMap(_ map: [String: JSONValue]) -> [String: JSONValue?] { map.mapValues { $0 } }

/// A free-form JSON map from a body: an explicit `null` stays `null`.
func domainMap(_ map: [String: JSONValue?]) -> [String: JSONValue] { map.mapValues { $0 ?? .null } }

extension Components.Schemas.Geoid {
    init(_ geoid: KimeraCore.Geoid) {
        self.init(
            geoidID: geoid.geoidID, semanticState: .init(geoid.semanticState),
            symbolicState: .init(wireMap(geoid.symbolicState)), metadata: .init(wireMap(geoid.metadata)),
            embeddingVector: geoid.embeddingVector)
    }
}

extension Components.Schemas.CreateGeoidResponse {
    /// The geoid's own fields at the top level, as the Python original answered, plus `entropy`.
    init(_ created: CreatedGeoid) {
        let geoid = created.geoid
        self.init(
            geoidID: geoid.geoidID, entropy: created.entropy, semanticState: .init(geoid.semanticState),
            symbolicState: .init(wireMap(geoid.symbolicState)), metadata: .init(wireMap(geoid.metadata)),
            embeddingVector: geoid.embeddingVector)
    }
}

extension Components.Schemas.BatchCreateResponse {
    init(_ created: [CreatedGeoid]) {
        self.init(created: created.count, geoids: created.map(Components.Schemas.CreateGeoidResponse.init))
    }
}

extension Components.Schemas.SearchResponse {
    /// Hits ranked by descending similarity; a hit carries the geoid's id, state and metadata.
    init(query: String, hits: [Ranked<KimeraCore.Geoid>]) {
        self.init(
            query: query,
            results: hits.map { hit in
                Components.Schemas.GeoidSearchResult(
                    geoidID: hit.record.geoidID, semanticState: .init(hit.record.semanticState),
                    metadata: .init(wireMap(hit.record.metadata)), similarityScore: hit.score)
            })
    }
}

extension Components.Schemas.Tension {
    init(_ tension: KimeraCore.Tension) {
        self.init(
            geoidsInvolved: tension.geoidsInvolved, score: tension.score, _type: .pairwiseComposite,
            embeddingMisalignment: tension.embeddingMisalignment, layerConflict: tension.layerConflict,
            symbolicOpposition: tension.symbolicOpposition)
    }
}

extension Components.Schemas.DetectResponse {
    /// One result per requested pair, in request order.
    init(_ outcomes: [PairOutcome]) {
        self.init(
            results: outcomes.map { outcome in
                switch outcome {
                case .scored(let pair, let isContradiction, let tension):
                    Components.Schemas.DetectResult(
                        pair: pair, isContradiction: isContradiction, tension: .init(tension))
                case .unscorable(let pair, let reason):
                    Components.Schemas.DetectResult(pair: pair, error: reason)
                }
            })
    }
}

extension Components.Schemas.ProcessResult {
    init(_ result: KimeraCore.ProcessResult) {
        self.init(
            triggerGeoidID: result.triggerGeoidID, contradictionsDetected: result.contradictionsDetected,
            scarsCreated: result.scarsCreated,
            results: result.results.map { processed in
                Components.Schemas.ProcessedTension(
                    tension: .init(processed.tension), pulseStrength: processed.pulseStrength,
                    decision: .init(processed.decision), scarID: processed.scarID)
            },
            processingTime: result.processingTime, geoidsAnalyzed: result.geoidsAnalyzed,
            cycleCount: result.cycleCount)
    }
}

extension Components.Schemas.ProcessedTension.DecisionPayload {
    init(_ decision: ContradictionDecision) {
        self =
            switch decision {
            case .collapse: .collapse
            case .surge: .surge
            case .buffer: .buffer
            }
    }
}

extension Components.Schemas.Scar {
    init(_ scar: KimeraCore.Scar) {
        self.init(
            scarID: scar.scarID, geoids: scar.geoids, reason: scar.reason, timestamp: scar.timestamp,
            resolvedBy: scar.resolvedBy, preEntropy: scar.preEntropy, postEntropy: scar.postEntropy,
            deltaEntropy: scar.deltaEntropy, clsAngle: scar.clsAngle, semanticPolarity: scar.semanticPolarity,
            mutationFrequency: scar.mutationFrequency, weight: scar.weight, vaultID: scar.vaultID)
    }
}

extension Components.Schemas.ScarSearchResponse {
    /// Hits ranked by descending similarity, each the SCAR's fields plus `similarity_score`, flat.
    init(query: String, hits: [Ranked<KimeraCore.Scar>]) {
        let results = hits.map { hit in
            let scar = hit.record
            return Components.Schemas.ScarSearchResult(
                scarID: scar.scarID, geoids: scar.geoids, reason: scar.reason, timestamp: scar.timestamp,
                resolvedBy: scar.resolvedBy, preEntropy: scar.preEntropy, postEntropy: scar.postEntropy,
                deltaEntropy: scar.deltaEntropy, clsAngle: scar.clsAngle, semanticPolarity: scar.semanticPolarity,
                mutationFrequency: scar.mutationFrequency, weight: scar.weight, vaultID: scar.vaultID,
                similarityScore: hit.score)
        }
        self.init(query: query, results: results, status: .success, count: results.count)
    }
}

extension Components.Schemas.RecentScars {
    init(_ scars: [KimeraCore.Scar]) {
        self.init(recentScars: scars.map(Components.Schemas.Scar.init), count: scars.count)
    }
}

extension Components.Schemas.VaultContents {
    init(vault: VaultID, scars: [KimeraCore.Scar]) {
        self.init(vaultID: vault, contents: scars.map(Components.Schemas.Scar.init))
    }
}

extension Components.Schemas.ProcessRequest {
    /// `search_limit`, or the document's default when absent.
    var searchLimitOrDefault: Int { searchLimit ?? KimeraService.defaultSearchLimit }
    /// `force_collapse`, false when absent.
    var forceCollapseOrDefault: Bool { forceCollapse ?? false }
}

extension GeoidConstruction {
    /// Validates a create body (either form) and drafts its geoid.
    static func draft(_ body: Components.Schemas.CreateGeoidRequest) throws(DomainError) -> GeoidDraft {
        try draft(
            content: body.content, echoformText: body.echoformText,
            semanticFeatures: body.semanticFeatures.map { domainMap($0.additionalProperties) },
            symbolicContent: body.symbolicContent.map { domainMap($0.additionalProperties) },
            metadata: body.metadata.map { domainMap($0.additionalProperties) })
    }
}
