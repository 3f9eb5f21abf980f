import Foundation
import GRDB
import KimeraModels
import Logging
import PostgresTestServer
import Synchronization
import Testing

@testable import KimeraCore
@testable import KimeraVaultPostgres
@testable import KimeraVaultSQLite

/// The vault adapters the conformance suite runs against.
enum VaultKind: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case sqlite
    case postgresql

    var testDescription: String { rawValue }
}

/// One vault under test, with what the conformance tests need beside the port: raw SQL (to set up states
/// the port cannot make) and reopening (to see what persisted).
struct VaultHarness: Sendable {
    let kind: VaultKind
    let store: any VaultStore
    let execute: @Sendable (String) async throws -> Void
    let reopen: @Sendable (any Embedder) async throws -> any VaultStore
    let insertGeoids: @Sendable ([StoredGeoid]) async throws -> Void
}

/// Keeps the pools of the PostgreSQL stores a test opened running, and stops them at the end.
final class RunningPools: Sendable {
    /// Protects the tasks running `PostgresClient.run()`.
    private let tasks = Mutex<[Task<Void, Never>]>([])

    func run(_ store: PostgresVaultStore, services: Bool = false) {
        let task: Task<Void, Never>
        if services {
            let all = store.services
            task = Task {
                await withTaskGroup(of: Void.self) { group in
                    for service in all { group.addTask { try? await service.run() } }
                }
            }
        } else {
            task = Task { await store.client.run() }
        }
        tasks.withLock { $0.append(task) }
    }

    func stop() async {
        let running = tasks.withLock { $0 }
        for task in running { task.cancel() }
        for task in running { await task.value }
    }
}

enum VaultFixtures {
    static let embedder = FeatureHashingEmbedder(dimensions: 64)
    static let logger: Logger = {
        var logger = Logger(label: "kimera.vault.test")
        logger.logLevel = .error
        return logger
    }()

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
        let figures = ScarFigures(
            scarID: id, geoids: ["geoid_a", "geoid_b"], reason: "Buffered 'pairwise_composite' tension.",
            timestamp: "2024-01-01T00:00:00.000000Z", resolvedBy: "ContradictionEngine:Buffer", preEntropy: 1,
            postEntropy: 1 + delta, deltaEntropy: delta, clsAngle: 30, semanticPolarity: 0.1, mutationFrequency: 0.5,
            weight: weight)
        return ScarDraft(figures, createdAt: createdAt, embeddedText: text, embedding: embedder.embed(text))
    }

    /// Opens a PostgreSQL store on `url` with its pool running in `pools`.
    static func openPostgres(
        _ url: String, embedder: any Embedder = embedder, instance: String = "test-a", pools: RunningPools,
        services: Bool = false, options: PostgresVaultOptions = .init()
    ) async throws -> PostgresVaultStore {
        let store = try await PostgresVaultStore.open(
            url: url, embedder: embedder, instanceID: instance, options: options, logger: logger)
        pools.run(store, services: services)
        return store
    }

    /// Runs `body` against a fresh, empty vault of `kind`.
    static func withVault(_ kind: VaultKind, _ body: (VaultHarness) async throws -> Void) async throws {
        switch kind {
        case .sqlite:
            let directory = NSTemporaryDirectory() + "kimera-conformance-\(UUID().uuidString)"
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let store = try SQLiteVaultStore(directory: directory, embedder: embedder)
            try await body(
                VaultHarness(
                    kind: kind, store: store,
                    execute: { sql in try await store.pool.write { try $0.execute(sql: sql) } },
                    reopen: { try SQLiteVaultStore(directory: directory, embedder: $0) },
                    insertGeoids: { try await store.insertGeoids($0) }))
        case .postgresql:
            let server = try PostgresTestServer.shared()
            let database = try server.createDatabase()
            let url = server.url(database: database)
            let pools = RunningPools()
            do {
                let store = try await openPostgres(url, pools: pools)
                try await body(
                    VaultHarness(
                        kind: kind, store: store,
                        execute: { sql in try server.psql(sql, database: database) },
                        reopen: { try await openPostgres(url, embedder: $0, pools: pools) },
                        insertGeoids: { try await store.insertGeoids($0) }))
            } catch {
                await pools.stop()
                throw error
            }
            await pools.stop()
        }
    }
}
