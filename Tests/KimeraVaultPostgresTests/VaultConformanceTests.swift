import Foundation
import KimeraModels
import Testing

@testable import KimeraCore
@testable import KimeraVaultSQLite

/// The behaviour every `VaultStore` adapter owes the core, run against SQLite and PostgreSQL alike.
@Suite("Vault conformance (SQLite and PostgreSQL)")
struct VaultConformanceTests {
    typealias F = VaultFixtures

    @Test(
        "a stored geoid reads back identically; deleting it removes it from reads and search",
        arguments: VaultKind.allCases)
    func createGetDelete(kind: VaultKind) async throws {
        try await F.withVault(kind) { vault in
            let store = vault.store
            let geoid = F.stored("geoid_1", "semantic pressure diffuses across geoids")
            try await store.insertGeoid(geoid)
            #expect(try await store.geoid(id: "geoid_1") == geoid.geoid)
            #expect(try await store.geoidCount() == 1)
            #expect(
                store.nearestGeoids(to: geoid.geoid.embeddingVector, limit: 1, excluding: []).first?.id == "geoid_1")
            #expect(try await store.deleteGeoid(id: "geoid_1"))
            #expect(try await store.deleteGeoid(id: "geoid_1") == false)
            #expect(try await store.geoid(id: "geoid_1") == nil)
            #expect(store.nearestGeoids(to: geoid.geoid.embeddingVector, limit: 1, excluding: []).isEmpty)
            // A duplicate id fails as a vault error and leaves the index as it was.
            try await store.insertGeoid(geoid)
            await #expect(throws: VaultError.self) { try await store.insertGeoid(geoid) }
            #expect(try await store.geoidCount() == 1)
        }
    }

    @Test("search gives the same ranking and scores after reopening", arguments: VaultKind.allCases)
    func searchAfterReopen(kind: VaultKind) async throws {
        try await F.withVault(kind) { vault in
            let query = F.embedder.embed("vault balance")
            try await vault.insertGeoids([
                F.stored("geoid_1", "the vault keeps its balance"),
                F.stored("geoid_2", "entropy of a semantic state"),
                F.stored("geoid_3", "balance between two vaults"),
            ])
            try await vault.store.insertGeoid(F.stored("geoid_4", "vault"))
            _ = try await vault.store.deleteGeoid(id: "geoid_2")
            let before = vault.store.nearestGeoids(to: query, limit: 10, excluding: [])
            let reopened = try await vault.reopen(F.embedder)
            let after = reopened.nearestGeoids(to: query, limit: 10, excluding: [])
            #expect(after == before)
            #expect(after.count == 3)
            #expect(try await reopened.newestGeoids(limit: 2).map(\.geoidID) == ["geoid_4", "geoid_3"])
            #expect(
                try await reopened.geoids(ids: ["geoid_3", "missing", "geoid_1"]).map(\.geoidID) == [
                    "geoid_3", "geoid_1",
                ])
        }
    }

    @Test(
        "one run stores its SCARs in one transaction, alternating vaults from a tie, and counts the cycle",
        arguments: VaultKind.allCases)
    func scarTransaction(kind: VaultKind) async throws {
        try await F.withVault(kind) { vault in
            let store = vault.store
            try await store.insertGeoid(F.stored("geoid_a", "alpha"))
            let commit = try await store.commitRun(
                stateUpdates: [GeoidStateUpdate(geoidID: "geoid_a", semanticState: ["alpha": 0.5, "beta": 0.5])],
                scars: [F.draft("scar_1"), F.draft("scar_2"), F.draft("scar_3")])
            #expect(commit.scars.map(\.vaultID) == [.vaultA, .vaultB, .vaultA])
            #expect(commit.cycleCount == 1)
            #expect(try await store.cycleCount() == 1)
            #expect(try await store.scar(id: "scar_2") == commit.scars[1])
            #expect(try await store.scars(ids: ["scar_3", "nope", "scar_1"]).map(\.scarID) == ["scar_3", "scar_1"])
            #expect(try await store.vaultContents(.vaultA, limit: 10).map(\.scarID) == ["scar_3", "scar_1"])
            #expect(try await store.vaultContents(.vaultA, limit: 1).map(\.scarID) == ["scar_3"])
            #expect(try await store.vaultTotals() == VaultTotals(countA: 2, countB: 1, weightA: 2, weightB: 1))
            #expect(try await store.geoid(id: "geoid_a")?.semanticState == ["alpha": 0.5, "beta": 0.5])
            let query = F.embedder.embed("buffer contradiction between 'scar_2' and 'other'")
            #expect(store.nearestScars(to: query, limit: 1).first?.id == "scar_2")

            // A failing run leaves nothing behind: the duplicate id aborts the whole transaction.
            await #expect(throws: VaultError.self) {
                try await store.commitRun(stateUpdates: [], scars: [F.draft("scar_4"), F.draft("scar_1")])
            }
            #expect(try await store.scar(id: "scar_4") == nil)
            #expect(try await store.cycleCount() == 1)
            #expect(store.nearestScars(to: query, limit: 10).count == 3)
        }
    }

    @Test("a new SCAR goes to the vault holding fewer", arguments: VaultKind.allCases)
    func placementAgainstExisting(kind: VaultKind) async throws {
        try await F.withVault(kind) { vault in
            _ = try await vault.store.commitRun(stateUpdates: [], scars: [F.draft("scar_1")])
            let second = try await vault.store.commitRun(stateUpdates: [], scars: [F.draft("scar_2")])
            #expect(second.scars.map(\.vaultID) == [.vaultB])
            #expect(second.cycleCount == 2)
        }
    }

    @Test("integrity check says ok; the dialect names the database", arguments: VaultKind.allCases)
    func integrity(kind: VaultKind) async throws {
        try await F.withVault(kind) { vault in
            let integrity = try await vault.store.integrityCheck()
            #expect(integrity == "ok")
            #expect(vault.store.dialect == kind.rawValue)
            #expect(vault.store.availabilityProblem == nil)
        }
    }

    @Test(
        "rebalance by count moves the lightest SCARs, in one transaction, and it persists",
        arguments: VaultKind.allCases)
    func rebalanceByCountPersists(kind: VaultKind) async throws {
        try await F.withVault(kind) { vault in
            _ = try await vault.store.commitRun(
                stateUpdates: [], scars: (1...6).map { F.draft("scar_\($0)", weight: Double(7 - $0)) })
            // Pile everything into vault_a: 6 vs 0.
            try await vault.execute("UPDATE scars SET vault_id = 'vault_a'")
            #expect(try await vault.store.rebalance(byWeight: false) == 3)
            #expect(try await vault.store.rebalance(byWeight: false) == 0)
            let reopened = try await vault.reopen(F.embedder)
            #expect(try await reopened.vaultTotals() == VaultTotals(countA: 3, countB: 3, weightA: 15, weightB: 6))
            // Weights 6…1 for scar_1…6: the lightest three are scar_4, 5, 6.
            #expect(
                Set(try await reopened.vaultContents(.vaultB, limit: 10).map(\.scarID)) == [
                    "scar_4", "scar_5", "scar_6",
                ])
        }
    }

    @Test("rebalance by weight moves the lightest until half the difference", arguments: VaultKind.allCases)
    func rebalanceByWeight(kind: VaultKind) async throws {
        try await F.withVault(kind) { vault in
            _ = try await vault.store.commitRun(
                stateUpdates: [],
                scars: [0.5, 1, 2, 4, 1.5].enumerated().map { F.draft("scar_\($0.offset)", weight: $0.element) })
            try await vault.execute("UPDATE scars SET vault_id = 'vault_a'")
            try await vault.execute("UPDATE scars SET vault_id = 'vault_b' WHERE scar_id = 'scar_4'")
            // vault_a 7.5 (4 SCARs) vs vault_b 1.5 (1): by weight, target 3 → 0.5, 1, 2 move.
            #expect(try await vault.store.rebalance(byWeight: true) == 3)
            #expect(try await vault.store.vaultTotals() == VaultTotals(countA: 1, countB: 4, weightA: 4, weightB: 5))
        }
    }

    @Test("stability inputs: SCARs of the last hour, newest deltas, newest embeddings", arguments: VaultKind.allCases)
    func stabilityInputs(kind: VaultKind) async throws {
        try await F.withVault(kind) { vault in
            try await vault.insertGeoids((0..<25).map { F.stored("geoid_\($0)", "text \($0)") })
            _ = try await vault.store.commitRun(
                stateUpdates: [],
                scars: [
                    F.draft("scar_old", delta: -0.02, createdAt: 10_000 - 3_601),
                    F.draft("scar_new", delta: 0.05, createdAt: 10_000 - 60),
                ])
            let inputs = try await vault.store.stabilityInputs(now: 10_000)
            #expect(inputs.scarsInLastHour == 1)
            #expect(inputs.newestScarDeltas == [0.05, -0.02])
            #expect(inputs.newestGeoidEmbeddings.count == 20)
            #expect(inputs.newestGeoidEmbeddings.first == F.embedder.embed("text 24"))
        }
    }

    @Test("a change of embedder re-embeds every stored geoid and SCAR on open", arguments: VaultKind.allCases)
    func reembedOnEmbedderChange(kind: VaultKind) async throws {
        try await F.withVault(kind) { vault in
            try await vault.store.insertGeoid(F.stored("geoid_1", "re-embed me please"))
            _ = try await vault.store.commitRun(stateUpdates: [], scars: [F.draft("scar_1")])
            let wider = FeatureHashingEmbedder(dimensions: 128)
            let store = try await vault.reopen(wider)
            #expect(try await store.geoid(id: "geoid_1")?.embeddingVector == wider.embed("re-embed me please"))
            let hit = try #require(
                store.nearestGeoids(to: wider.embed("re-embed me please"), limit: 1, excluding: []).first)
            #expect(hit.id == "geoid_1" && approximately(hit.score, 1, tolerance: 1e-6))
            let scarHit = store.nearestScars(
                to: wider.embed("buffer contradiction between 'scar_1' and 'other'"), limit: 1
            ).first
            #expect(scarHit.map { approximately($0.score, 1, tolerance: 1e-6) } == true)
        }
    }

    @Test(
        "jobs: a running limit per owner, results readable until the retention ends, oldest finished evicted",
        arguments: VaultKind.allCases)
    func jobs(kind: VaultKind) async throws {
        try await F.withVault(kind) { vault in
            let store = vault.store
            let limits = JobLimits(capacity: 3, runningLimit: 1, retentionSeconds: 600)
            // The state is the server's document; the vault keeps it as text.
            func start(_ id: String, owner: String, now: Double) async throws -> JobAdmission {
                try await store.startJob(
                    id: id, owner: owner, now: now, limits: limits, running: #"{"job_id":"\#(id)","status":"running"}"#)
            }
            #expect(try await start("job_1", owner: "a", now: 100) == .accepted)
            #expect(try await start("job_2", owner: "a", now: 101) == .tooManyRunning)
            #expect(try await start("job_2", owner: "b", now: 101) == .accepted)
            #expect(try await store.job(id: "job_1", finishedAfter: 0) == #"{"job_id":"job_1","status":"running"}"#)
            let completed = #"{"job_id":"job_1","result":{"cycle_count":7},"status":"completed"}"#
            try await store.finishJob(id: "job_1", state: completed, now: 110)
            #expect(try await store.job(id: "job_1", finishedAfter: 0) == completed)
            // Past its retention a finished job is gone; a running one stays.
            #expect(try await store.job(id: "job_1", finishedAfter: 111) == nil)
            #expect(try await store.job(id: "job_2", finishedAfter: 111)?.contains(#""running""#) == true)
            #expect(try await store.job(id: "job_x", finishedAfter: 0) == nil)
            // Owner a may start again; at capacity the oldest finished (job_1) makes room.
            #expect(try await start("job_3", owner: "a", now: 120) == .accepted)
            #expect(try await store.jobCount() == 3)
            try await store.finishJob(id: "job_3", state: #"{"error":"boom","job_id":"job_3","status":"failed"}"#, now: 121)
            #expect(try await start("job_4", owner: "c", now: 122) == .accepted)
            #expect(try await store.job(id: "job_1", finishedAfter: 0) == nil)
            #expect(try await store.job(id: "job_3", finishedAfter: 0)?.contains(#""boom""#) == true)
            // Full of running jobs: refused.
            #expect(try await start("job_5", owner: "d", now: 123) == .accepted)
            #expect(try await start("job_6", owner: "e", now: 124) == .full)
        }
    }
}

func approximately(_ a: Double, _ b: Double, tolerance: Double = 1e-9) -> Bool {
    abs(a - b) <= tolerance
}
