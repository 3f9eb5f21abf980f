import Foundation
import GRDB
import KimeraModels
import Testing

@testable import KimeraCore
@testable import KimeraVaultSQLite

/// What only the SQLite adapter has; the behaviour every adapter owes is in the vault conformance suite
/// (Tests/KimeraVaultPostgresTests/VaultConformanceTests.swift), which runs against SQLite and PostgreSQL.
@Suite("SQLite vault")
struct SQLiteVaultStoreTests {
    static let embedder = FeatureHashingEmbedder(dimensions: 64)

    @Test("the vault is one file in its directory, in WAL mode; migrations are recorded")
    func fileAndMigrations() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let store = try SQLiteVaultStore(directory: directory.path, embedder: Self.embedder)
        #expect(FileManager.default.fileExists(atPath: directory.path + "/kimera.sqlite"))
        #expect(try await store.integrityCheck() == "ok")
        let applied = try await store.pool.read { try SQLiteVaultStore.migrator.appliedIdentifiers($0) }
        #expect(applied == ["v1_geoids_scars_meta", "v2_scar_indexes", "v3_contradiction_jobs"])
        let journal = try await store.pool.read { try String.fetchOne($0, sql: "PRAGMA journal_mode") }
        #expect(journal == "wal")
    }
}
