import Foundation
import GRDB
import KimeraModels
import Testing

@testable import KimeraCore
@testable import KimeraVaultSQLite

@Suite("SQLite vault")
struct SQLiteVaultStoreTests {
    static let embedder = FeatureHashingEmbedder(dimensions: 64)

    static func stored(_ id: String, _ text: String, at time: Double = 1_000) -> StoredGeoid {
        let state = GeoidConstruction.textSemanticState(text)
        return StoredGeoid(
            geoid: Geoid(
                geoidID: id, semanticState: state, symbolicState: ["echoform": .array([.string("x"), .number(1)])],
                metadata: ["source": .string("test")], embeddingVector: embedder.embed(text)),
            embeddedText: text, entropy: SemanticEntropy.entropy(state), createdAt: time)
    }

    static func draft(_ id: String, weight: Double = 1, delta: Double = 0.02, createdAt: Double = 1_000) -> ScarDraft {
        let text = "buffer contradiction between '\(id)' and 'other'"
        return ScarDraft(
            scarID: id, geoids: ["geoid_a", "geoid_b"], reason: "Buffered 'pairwise_composite' tension.",
            timestamp: "2024-01-01T00:00:00.000000Z", resolvedBy: "ContradictionEngine:Buffer", preEntropy: 1,
            postEntropy: 1 + delta, deltaEntropy: delta, clsAngle: 30, semanticPolarity: 0.1, mutationFrequency: 0.5,
            weight: weight, createdAt: createdAt, embeddedText: text, embedding: embedder.embed(text))
    }

    @Test("a stored geoid reads back identically; deleting it removes it from reads and search")
    func createGetDelete() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let store = try SQLiteVaultStore(directory: directory.path, embedder: Self.embedder)
        let geoid = Self.stored("geoid_1", "semantic pressure diffuses across geoids")
        try await store.insertGeoid(geoid)
        #expect(try await store.geoid(id: "geoid_1") == geoid.geoid)
        #expect(try await store.geoidCount() == 1)
        #expect(store.nearestGeoids(to: geoid.geoid.embeddingVector, limit: 1, excluding: []).first?.id == "geoid_1")
        #expect(try await store.deleteGeoid(id: "geoid_1"))
        #expect(try await store.deleteGeoid(id: "geoid_1") == false)
        #expect(try await store.geoid(id: "geoid_1") == nil)
        #expect(store.nearestGeoids(to: geoid.geoid.embeddingVector, limit: 1, excluding: []).isEmpty)
        #expect(FileManager.default.fileExists(atPath: directory.path + "/kimera.sqlite"))
    }

    @Test("search gives the same ranking and scores after reopening")
    func searchAfterReopen() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let query = Self.embedder.embed("vault balance")
        let before: [SimilarityHit]
        do {
            let store = try SQLiteVaultStore(directory: directory.path, embedder: Self.embedder)
            try await store.insertGeoids([
                Self.stored("geoid_1", "the vault keeps its balance"),
                Self.stored("geoid_2", "entropy of a semantic state"),
                Self.stored("geoid_3", "balance between two vaults"),
            ])
            try await store.insertGeoid(Self.stored("geoid_4", "vault"))
            _ = try await store.deleteGeoid(id: "geoid_2")
            before = store.nearestGeoids(to: query, limit: 10, excluding: [])
        }
        let reopened = try SQLiteVaultStore(directory: directory.path, embedder: Self.embedder)
        let after = reopened.nearestGeoids(to: query, limit: 10, excluding: [])
        #expect(after == before)
        #expect(after.count == 3)
        #expect(try await reopened.newestGeoids(limit: 2).map(\.geoidID) == ["geoid_4", "geoid_3"])
        #expect(
            try await reopened.geoids(ids: ["geoid_3", "missing", "geoid_1"]).map(\.geoidID) == ["geoid_3", "geoid_1"])
    }

    @Test("one run stores its SCARs in one transaction, alternating vaults from a tie, and counts the cycle")
    func scarTransaction() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let store = try SQLiteVaultStore(directory: directory.path, embedder: Self.embedder)
        try await store.insertGeoid(Self.stored("geoid_a", "alpha"))
        let commit = try await store.commitRun(
            stateUpdates: [GeoidStateUpdate(geoidID: "geoid_a", semanticState: ["alpha": 0.5, "beta": 0.5])],
            scars: [Self.draft("scar_1"), Self.draft("scar_2"), Self.draft("scar_3")])
        #expect(commit.scars.map(\.vaultID) == [.vaultA, .vaultB, .vaultA])
        #expect(commit.cycleCount == 1)
        #expect(try await store.cycleCount() == 1)
        #expect(try await store.scar(id: "scar_2") == commit.scars[1])
        #expect(try await store.vaultContents(.vaultA, limit: 10).map(\.scarID) == ["scar_3", "scar_1"])
        #expect(try await store.vaultContents(.vaultA, limit: 1).map(\.scarID) == ["scar_3"])
        #expect(try await store.vaultTotals() == VaultTotals(countA: 2, countB: 1, weightA: 2, weightB: 1))
        #expect(try await store.geoid(id: "geoid_a")?.semanticState == ["alpha": 0.5, "beta": 0.5])
        let query = Self.embedder.embed("buffer contradiction between 'scar_2' and 'other'")
        #expect(store.nearestScars(to: query, limit: 1).first?.id == "scar_2")

        // A failing run leaves nothing behind: the duplicate id aborts the whole transaction.
        await #expect(throws: VaultError.self) {
            try await store.commitRun(stateUpdates: [], scars: [Self.draft("scar_4"), Self.draft("scar_1")])
        }
        #expect(try await store.scar(id: "scar_4") == nil)
        #expect(try await store.cycleCount() == 1)
        #expect(store.nearestScars(to: query, limit: 10).count == 3)
    }

    @Test("a new SCAR goes to the vault holding fewer")
    func placementAgainstExisting() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let store = try SQLiteVaultStore(directory: directory.path, embedder: Self.embedder)
        _ = try await store.commitRun(stateUpdates: [], scars: [Self.draft("scar_1")])
        let second = try await store.commitRun(stateUpdates: [], scars: [Self.draft("scar_2")])
        #expect(second.scars.map(\.vaultID) == [.vaultB])
        #expect(second.cycleCount == 2)
    }

    @Test("integrity check says ok; migrations are recorded")
    func integrity() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let store = try SQLiteVaultStore(directory: directory.path, embedder: Self.embedder)
        #expect(try await store.integrityCheck() == "ok")
        let applied = try await store.pool.read { try SQLiteVaultStore.migrator.appliedIdentifiers($0) }
        #expect(applied == ["v1_geoids_scars_meta", "v2_scar_indexes"])
        let journal = try await store.pool.read { try String.fetchOne($0, sql: "PRAGMA journal_mode") }
        #expect(journal == "wal")
    }

    @Test("rebalance by count moves the lightest SCARs, in one transaction, and it persists")
    func rebalanceByCountPersists() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        do {
            let store = try SQLiteVaultStore(directory: directory.path, embedder: Self.embedder)
            _ = try await store.commitRun(
                stateUpdates: [], scars: (1...6).map { Self.draft("scar_\($0)", weight: Double(7 - $0)) })
            // Pile everything into vault_a: 6 vs 0.
            try await store.pool.write { try $0.execute(sql: "UPDATE scars SET vault_id = 'vault_a'") }
            #expect(try await store.rebalance(byWeight: false) == 3)
            #expect(try await store.rebalance(byWeight: false) == 0)
        }
        let reopened = try SQLiteVaultStore(directory: directory.path, embedder: Self.embedder)
        #expect(try await reopened.vaultTotals() == VaultTotals(countA: 3, countB: 3, weightA: 15, weightB: 6))
        // Weights 6…1 for scar_1…6: the lightest three are scar_4, 5, 6.
        #expect(
            Set(try await reopened.vaultContents(.vaultB, limit: 10).map(\.scarID)) == ["scar_4", "scar_5", "scar_6"])
    }

    @Test("rebalance by weight moves the lightest until half the difference")
    func rebalanceByWeight() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let store = try SQLiteVaultStore(directory: directory.path, embedder: Self.embedder)
        _ = try await store.commitRun(
            stateUpdates: [],
            scars: [0.5, 1, 2, 4, 1.5].enumerated().map { Self.draft("scar_\($0.offset)", weight: $0.element) })
        try await store.pool.write {
            try $0.execute(sql: "UPDATE scars SET vault_id = 'vault_a'")
            try $0.execute(sql: "UPDATE scars SET vault_id = 'vault_b' WHERE scar_id = 'scar_4'")
        }
        // vault_a 7.5 (4 SCARs) vs vault_b 1.5 (1): by count 4 > 1.5 too, but by weight: target 3 → 0.5, 1, 2.
        #expect(try await store.rebalance(byWeight: true) == 3)
        #expect(try await store.vaultTotals() == VaultTotals(countA: 1, countB: 4, weightA: 4, weightB: 5))
    }

    @Test("stability inputs: SCARs of the last hour, newest deltas, newest embeddings")
    func stabilityInputs() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let store = try SQLiteVaultStore(directory: directory.path, embedder: Self.embedder)
        try await store.insertGeoids((0..<25).map { Self.stored("geoid_\($0)", "text \($0)") })
        _ = try await store.commitRun(
            stateUpdates: [],
            scars: [
                Self.draft("scar_old", delta: -0.02, createdAt: 10_000 - 3_601),
                Self.draft("scar_new", delta: 0.05, createdAt: 10_000 - 60),
            ])
        let inputs = try await store.stabilityInputs(now: 10_000)
        #expect(inputs.scarsInLastHour == 1)
        #expect(inputs.newestScarDeltas == [0.05, -0.02])
        #expect(inputs.newestGeoidEmbeddings.count == 20)
        #expect(inputs.newestGeoidEmbeddings.first == Self.embedder.embed("text 24"))
    }

    @Test("a change of embedder re-embeds every stored geoid and SCAR on open")
    func reembedOnEmbedderChange() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        do {
            let store = try SQLiteVaultStore(directory: directory.path, embedder: Self.embedder)
            try await store.insertGeoid(Self.stored("geoid_1", "re-embed me please"))
            _ = try await store.commitRun(stateUpdates: [], scars: [Self.draft("scar_1")])
        }
        let wider = FeatureHashingEmbedder(dimensions: 128)
        let store = try SQLiteVaultStore(directory: directory.path, embedder: wider)
        #expect(try await store.geoid(id: "geoid_1")?.embeddingVector == wider.embed("re-embed me please"))
        let hit = try #require(
            store.nearestGeoids(to: wider.embed("re-embed me please"), limit: 1, excluding: []).first)
        #expect(hit.id == "geoid_1" && approximately(hit.score, 1, tolerance: 1e-6))
        let scarHit = store.nearestScars(to: wider.embed("buffer contradiction between 'scar_1' and 'other'"), limit: 1)
            .first
        #expect(scarHit.map { approximately($0.score, 1, tolerance: 1e-6) } == true)
    }
}
