import Foundation
import KimeraModels
import Testing

@testable import KimeraCore
@testable import KimeraVaultSQLite

@Suite("Kimera service over the SQLite vault")
struct KimeraServiceTests {
    static func withService(_ body: (KimeraService) async throws -> Void) async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try await body(try KimeraService.open(dataDirectory: directory.path))
    }

    @Test("create returns the stored geoid and its entropy; get returns the same; delete then 404")
    func createGetDelete() async throws {
        try await Self.withService { service in
            let created = try await service.createGeoid(
                try GeoidConstruction.draft(content: "the cat sat on the mat with the cat", metadata: ["k": .number(1)]))
            #expect(KimeraID.isWellFormed(created.geoidID, prefix: "geoid"))
            #expect(created.geoid.semanticState == ["cat": 0.5, "sat": 0.25, "mat": 0.25, "complexity": 0.35])
            #expect(created.entropy == SemanticEntropy.entropy(created.geoid.semanticState))
            #expect(try await service.geoid(id: created.geoidID) == created.geoid)
            try await service.deleteGeoid(id: created.geoidID)
            await #expect(throws: DomainError.notFound(.geoid, id: created.geoidID)) {
                try await service.geoid(id: created.geoidID)
            }
            await #expect(throws: DomainError.notFound(.geoid, id: created.geoidID)) {
                try await service.deleteGeoid(id: created.geoidID)
            }
        }
    }

    @Test("a one-feature geoid is stored with entropy_baseline and the entropy of what is stored")
    func baselineStored() async throws {
        try await Self.withService { service in
            let created = try await service.createGeoid(try GeoidConstruction.draft(semanticFeatures: ["only": .number(1)]))
            #expect(created.geoid.semanticState == ["only": 1, "entropy_baseline": 0.1])
            #expect(approximately(created.entropy, 0.439_496_986_921_513_4))
            #expect(try await service.geoid(id: created.geoidID).semanticState == created.geoid.semanticState)
        }
    }

    @Test("search ranks by real cosine and reports it; limit 0 and an empty query are refused")
    func search() async throws {
        try await Self.withService { service in
            let texts = ["red apples on apple trees", "database commits to disk", "green apples"]
            var ids: [String: String] = [:]
            for text in texts { ids[try await service.createGeoid(try GeoidConstruction.draft(content: text)).geoidID] = text }
            let hits = try await service.searchGeoids(query: "apple trees", limit: 5)
            #expect(hits.count == 3)
            #expect(ids[hits[0].record.geoidID] == "red apples on apple trees")
            let query = service.embedder.embed("apple trees")
            for hit in hits {
                let expected = VectorMath.cosine(query, service.embedder.embed(ids[hit.record.geoidID]!)) ?? 0
                #expect(approximately(hit.score, expected, tolerance: 1e-6))
            }
            await #expect(throws: DomainError.invalidInput(field: "limit", problem: "must be at least 1, got 0")) {
                try await service.searchGeoids(query: "x", limit: 0)
            }
            await #expect(throws: DomainError.self) { try await service.searchGeoids(query: "  ", limit: 1) }
            #expect(try await service.searchGeoids(query: "apple", limit: 1000).count == 3)
        }
    }

    static func reason(_ outcome: PairOutcome) -> String? {
        if case .unscorable(_, let reason) = outcome { return reason }
        return nil
    }

    @Test("detect scores pairs and reports a bad pair by itself")
    func detect() async throws {
        try await Self.withService { service in
            let a = try await service.createGeoid(
                try GeoidConstruction.draft(
                    semanticFeatures: ["x": .number(1), "y": .number(1)], symbolicContent: ["ok": .bool(true)]))
            let b = try await service.createGeoid(
                try GeoidConstruction.draft(
                    semanticFeatures: ["z": .number(1), "w": .number(1)], symbolicContent: ["ok": .bool(false)]))
            let outcomes = try await service.detect(
                pairs: [[a.geoidID, b.geoidID], [a.geoidID], [a.geoidID, "geoid_missing"]])
            #expect(outcomes.count == 3)
            // L = 1, S = 1 → score ≥ 0.6 whatever E is.
            guard case .scored(_, let isContradiction, let tension) = outcomes[0] else {
                Issue.record("the first pair was not scored: \(outcomes[0])")
                return
            }
            #expect(isContradiction)
            #expect(tension.score >= 0.6)
            #expect(Self.reason(outcomes[1])?.contains("exactly 2") == true)
            #expect(Self.reason(outcomes[2])?.contains("geoid_missing") == true)
        }
    }

    @Test("processing a trigger stores one SCAR per tension, counts the cycle, and 404s an unknown trigger")
    func processTrigger() async throws {
        try await Self.withService { service in
            let trigger = try await service.createGeoid(
                try GeoidConstruction.draft(
                    semanticFeatures: ["heat": .number(0.9), "light": .number(0.1)],
                    symbolicContent: ["hot": .bool(true)]))
            for index in 0..<4 {
                _ = try await service.createGeoid(
                    try GeoidConstruction.draft(
                        semanticFeatures: ["cold\(index)": .number(0.8), "dark": .number(0.2)],
                        symbolicContent: ["hot": .bool(false)]))
            }
            let result = try await service.processContradictions(
                trigger: trigger.geoidID, searchLimit: 3, forceCollapse: true)
            #expect(result.triggerGeoidID == trigger.geoidID)
            #expect(result.geoidsAnalyzed == 4)
            #expect(result.contradictionsDetected >= 3)
            #expect(result.scarsCreated == result.contradictionsDetected)
            #expect(result.results.allSatisfy { $0.decision == .collapse })
            #expect(result.cycleCount == 1)
            let scar = try await service.scar(id: result.results[0].scarID)
            #expect(scar.resolvedBy == "ContradictionEngine:Collapse")
            #expect(scar.geoids[0] == trigger.geoidID)
            let report = try await service.vaultReport()
            #expect(report.totals.scars == result.scarsCreated)
            #expect(abs(report.totals.countA - report.totals.countB) <= 1)
            #expect(report.totals.countA >= report.totals.countB)
            #expect(report.geoids == 5)
            #expect(report.dialect == "sqlite")
            let found = try await service.searchScars(query: "collapse contradiction between 'heat, light'", limit: 3)
            #expect(found.count == 3)
            #expect(found[0].score >= found[2].score)
            await #expect(throws: DomainError.notFound(.geoid, id: "geoid_nope")) {
                try await service.processContradictions(trigger: "geoid_nope")
            }
            await #expect(throws: DomainError.self) {
                try await service.processContradictions(trigger: trigger.geoidID, searchLimit: -1)
            }
        }
    }

    @Test("vaults: contents newest first, unknown vault is not found, rebalance of a balanced pair moves nothing")
    func vaults() async throws {
        try await Self.withService { service in
            let a = try await service.createGeoid(
                try GeoidConstruction.draft(semanticFeatures: ["p": .number(1)], symbolicContent: ["s": .number(1)]))
            _ = try await service.createGeoid(
                try GeoidConstruction.draft(semanticFeatures: ["q": .number(1)], symbolicContent: ["s": .number(-1)]))
            let result = try await service.processContradictions(trigger: a.geoidID, forceCollapse: true)
            #expect(result.scarsCreated == 1)
            let contents = try await service.vaultContents(vaultID: "vault_a")
            #expect(contents.scars.map(\.scarID) == [result.results[0].scarID])
            await #expect(throws: DomainError.notFound(.vault, id: "vault_z")) {
                try await service.vaultContents(vaultID: "vault_z")
            }
            // 1 vs 0 counts as unbalanced (1 > 1.5 × 0): one SCAR moves.
            #expect(try await service.rebalance(byWeight: false) == 1)
            #expect(try await service.vaultTotals().countA == 0)
            #expect(try await service.vaultTotals().countB == 1)
        }
    }

    @Test("a cognitive cycle diffuses stored states, resolves tensions, and advances the counter")
    func cycle() async throws {
        try await Self.withService { service in
            let created = try await service.createGeoid(
                try GeoidConstruction.draft(semanticFeatures: ["a": .number(0.25), "b": .number(0.5), "c": .number(0.25)]))
            _ = try await service.createGeoid(try GeoidConstruction.draft(semanticFeatures: ["x": .number(1), "y": .number(3)]))
            let result = try await service.runCycle()
            #expect(result.activeGeoids == 2)
            #expect(result.cycleCount == 1)
            #expect(result.contradictionsDetected == 1)
            #expect(result.scarsCreated == 1)
            #expect(approximately(result.entropyDelta, result.entropyAfterDiffusion - result.entropyBeforeDiffusion))
            let diffused = try await service.geoid(id: created.geoidID).semanticState
            #expect(approximately(diffused["b"]!, 0.425_989_547_000_367_8))
            #expect(try await service.status().cycleCount == 1)
        }
    }

    @Test("stability, status and health of a fresh vault")
    func system() async throws {
        try await Self.withService { service in
            #expect(try await service.stability().stability == 0.5)
            let status = try await service.status()
            #expect(status.embeddingModel == "feature-hashing-fnv1a64-d256")
            #expect(status.tensionThreshold == 0.4)
            let health = await service.health()
            #expect(health.isHealthy)
            #expect(health.components["vault"]?.isOK == true)
            #expect(try await service.integrityCheck() == "ok")
            try service.setTensionThreshold(0.7)
            #expect(service.tensionThreshold == 0.7)
            #expect(throws: DomainError.self) { try service.setTensionThreshold(2) }
        }
    }

    @Test("embed reports the vector and its statistics; semantic_features adds the text-form state")
    func embed() async throws {
        try await Self.withService { service in
            let response = service.embed(text: "a b")
            #expect(response.dimensions == 256)
            #expect(response.nonZero == 3)
            #expect(response.tokenCount == 2)
            #expect(approximately(response.norm, 1, tolerance: 1e-6))
            #expect(approximately(response.min, -1 / 3.0.squareRoot(), tolerance: 1e-6))
            let empty = service.embed(text: "")
            #expect(empty.norm == 0 && empty.nonZero == 0)
            let features = service.semanticFeatures(text: "the cat sat on the mat with the cat")
            #expect(features.semanticState == ["cat": 0.5, "sat": 0.25, "mat": 0.25, "complexity": 0.35])
            #expect(features.entropy == SemanticEntropy.entropy(features.semanticState))
            #expect(features.embedding == service.embed(text: "the cat sat on the mat with the cat"))
        }
    }
}
