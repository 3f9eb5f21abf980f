import Foundation
import KimeraModels
import PostgresNIO
import PostgresTestServer
import Synchronization
import Testing

@testable import KimeraCore
@testable import KimeraVaultPostgres
@testable import KimeraVaultSQLite

/// What only the shared vault has: URLs, concurrent instances, notifications, outages.
@Suite("PostgreSQL vault")
struct PostgresVaultTests {
    typealias F = VaultFixtures

    @Test("URLs: TCP, Unix socket by query or percent-encoded host, defaults; the password never shown")
    func urls() throws {
        let tcp = try PostgresVaultSettings(url: "postgres://kim:s3cr%40t@db.local:6543/vault")
        #expect(tcp.endpoint == .tcp(host: "db.local", port: 6543))
        #expect(tcp.username == "kim" && tcp.password == "s3cr@t" && tcp.database == "vault")
        #expect(tcp.maskedURL == "postgres://kim:***@db.local:6543/vault")
        #expect(!tcp.description.contains("s3cr"))
        let query = try PostgresVaultSettings(url: "postgresql://kim:pw@/vault?host=/run/pg&port=5433")
        #expect(query.endpoint == .unixSocket(path: "/run/pg/.s.PGSQL.5433"))
        let encoded = try PostgresVaultSettings(url: "postgresql://kim@%2Frun%2Fpg/vault")
        #expect(encoded.endpoint == .unixSocket(path: "/run/pg/.s.PGSQL.5432"))
        #expect(encoded.password == nil)
        let defaults = try PostgresVaultSettings(url: "postgres://kim:pw@localhost")
        #expect(defaults.endpoint == .tcp(host: "localhost", port: 5432) && defaults.database == "kim")
        let noUser = #expect(throws: VaultError.self) { try PostgresVaultSettings(url: "postgres://db.local/vault") }
        #expect(noUser?.detail.contains("names no user") == true)
        let badPort = #expect(throws: VaultError.self) {
            try PostgresVaultSettings(url: "postgres://k:hunter2@h:99999/d")
        }
        #expect(badPort.map { !$0.message.contains("hunter2") && $0.message.contains("***") } == true)
        #expect(VaultLocation.mask("postgres://u:p%40ss@h/d?password=x&a=1") == "postgres://u:***@h/d?password=***&a=1")
        let location = try VaultLocation.parse("postgresql://u:topsecret@h/d", dataDirectory: "/tmp")
        #expect(location.masked == "postgresql://u:***@h/d" && location.password == "topsecret")
        #expect(throws: VaultError.self) { try VaultLocation.parse("mysql://u:pw@h/d", dataDirectory: "/tmp") }
        #expect(
            try VaultLocation.parse("sqlite:/var/k/kimera.sqlite", dataDirectory: "/x")
                == .sqlite(path: "/var/k/kimera.sqlite"))
        #expect(try VaultLocation.parse("sqlite:", dataDirectory: "/x") == .sqlite(path: "/x/kimera.sqlite"))
        #expect(try VaultLocation.parse("sqlite:v/a.sqlite", dataDirectory: "/x") == .sqlite(path: "v/a.sqlite"))
    }

    @Test("a wrong password or no server fails at open with a message that names it and hides the password")
    func openFailures() async throws {
        let server = try PostgresTestServer.shared()
        let wrong = await #expect(throws: VaultError.self) {
            _ = try await PostgresVaultStore.open(
                url: server.url(database: "postgres", password: "not-the-password"), embedder: F.embedder,
                instanceID: "x")
        }
        #expect(wrong?.message.contains("password authentication failed") == true)
        #expect(wrong?.message.contains("not-the-password") == false)
        let port = try PostgresTestServer.freePort()
        let refused = await #expect(throws: VaultError.self) {
            _ = try await PostgresVaultStore.open(
                url: "postgres://postgres:pw@127.0.0.1:\(port)/x", embedder: F.embedder, instanceID: "x")
        }
        #expect(refused?.message.contains("127.0.0.1:\(port)/x") == true)
        #expect(refused?.message.contains("refused") == true)
    }

    @Test("through the Unix socket, the vault works as through TCP")
    func unixSocket() async throws {
        let server = try PostgresTestServer.shared()
        let database = try server.createDatabase()
        let pools = RunningPools()
        defer { Task { await pools.stop() } }
        let store = try await F.openPostgres(server.socketURL(database: database), pools: pools)
        try await store.insertGeoid(F.stored("geoid_socket", "over a unix socket"))
        #expect(try await store.geoid(id: "geoid_socket")?.geoidID == "geoid_socket")
        await pools.stop()
    }

    @Test("six instances starting at once on an empty database migrate it exactly once")
    func concurrentMigrations() async throws {
        let server = try PostgresTestServer.shared()
        let database = try server.createDatabase()
        let url = server.url(database: database)
        let pools = RunningPools()
        let stores = try await withThrowingTaskGroup(of: PostgresVaultStore.self) { group in
            for index in 0..<6 {
                group.addTask { try await F.openPostgres(url, instance: "start-\(index)", pools: pools) }
            }
            var stores: [PostgresVaultStore] = []
            for try await store in group { stores.append(store) }
            return stores
        }
        #expect(stores.count == 6)
        var versions: [Int] = []
        for try await version in try await stores[0].client.query(
            "SELECT version FROM kimera_schema_migrations ORDER BY version"
        ).decode(Int.self) {
            versions.append(version)
        }
        #expect(versions == PostgresSchema.migrations.map(\.version))
        #expect(try await stores[3].cycleCount() == 0)
        await pools.stop()
    }

    @Test("two instances committing runs at once keep placement balanced and count every cycle")
    func racingInstancesKeepInvariants() async throws {
        let server = try PostgresTestServer.shared()
        let database = try server.createDatabase()
        let url = server.url(database: database)
        let pools = RunningPools()
        // Eight writers serialise on the vault_state row: under a loaded CI machine one commit can wait
        // behind the other seven for longer than the default 3 s. This test is about the invariants, not
        // the timeout (the outage tests are), so its operations get 20 s.
        var options = PostgresVaultOptions()
        options.operationTimeout = .seconds(20)
        let a = try await F.openPostgres(url, instance: "race-a", pools: pools, options: options)
        let b = try await F.openPostgres(url, instance: "race-b", pools: pools, options: options)
        let runs = 40
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (name, store) in [("a", a), ("b", b)] {
                // Four concurrent writers per instance, each a run of one SCAR.
                for writer in 0..<4 {
                    group.addTask {
                        for run in 0..<(runs / 4) {
                            _ = try await store.commitRun(
                                stateUpdates: [], scars: [F.draft("scar_\(name)_\(writer)_\(run)")])
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        let totals = try await a.vaultTotals()
        // Each SCAR went to the vault holding fewer at its commit: 80 SCARs end 40/40.
        #expect(totals.countA == runs && totals.countB == runs)
        #expect(try await b.cycleCount() == 2 * runs)
        // Rebalances racing with runs leave the vaults within one of each other.
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { for _ in 0..<5 { _ = try await a.rebalance(byWeight: false) } }
            group.addTask {
                for run in 0..<5 { _ = try await b.commitRun(stateUpdates: [], scars: [F.draft("scar_late_\(run)")]) }
            }
            try await group.waitForAll()
        }
        let after = try await b.vaultTotals()
        #expect(after.countA + after.countB == 2 * runs + 5)
        #expect(abs(after.countA - after.countB) <= 1)
        await pools.stop()
    }

    @Test("a write on one instance reaches the other's search within 1 s; a delete leaves it too")
    func notificationsKeepIndexesInStep() async throws {
        let server = try PostgresTestServer.shared()
        let database = try server.createDatabase()
        let url = server.url(database: database)
        let pools = RunningPools()
        let a = try await F.openPostgres(url, instance: "notify-a", pools: pools, services: true)
        let b = try await F.openPostgres(url, instance: "notify-b", pools: pools, services: true)
        let heard = Heard()
        b.onRemoteChange { notice in heard.notices.withLock { $0.append(notice) } }
        // Wait for b's listener to be connected (it reports its first rebuild as a reload).
        #expect(await eventually(.seconds(5)) { heard.notices.withLock { $0.contains { $0.reload == true } } })

        let geoid = F.stored("geoid_shared", "a thought shared between instances")
        let started = ContinuousClock.now
        try await a.insertGeoid(geoid)
        #expect(
            await eventually(.seconds(1)) {
                b.nearestGeoids(to: geoid.geoid.embeddingVector, limit: 1).first?.id == "geoid_shared"
            })
        let latency = ContinuousClock.now - started
        #expect(latency < .seconds(1))
        #expect(heard.notices.withLock { $0.contains { $0.from == "notify-a" && $0.geoidsAdded == ["geoid_shared"] } })

        _ = try await b.commitRun(stateUpdates: [], scars: [F.draft("scar_shared")])
        let scarQuery = F.embedder.embed("buffer contradiction between 'scar_shared' and 'other'")
        #expect(await eventually(.seconds(1)) { a.nearestScars(to: scarQuery, limit: 1).first?.id == "scar_shared" })

        #expect(try await b.deleteGeoid(id: "geoid_shared"))
        #expect(await eventually(.seconds(1)) { a.nearestGeoids(to: geoid.geoid.embeddingVector, limit: 1).isEmpty })
        // Its own notifications are not applied twice: b heard nothing from itself.
        #expect(heard.notices.withLock { $0.allSatisfy { $0.from != "notify-b" } })
        await pools.stop()
    }

    @Test("PostgreSQL stopped: operations fail fast as unavailable, the reason is reported; back: it recovers")
    func outageAndRecovery() async throws {
        let server = try PostgresTestServer(fast: true)
        defer { server.destroy() }
        try server.psql("CREATE DATABASE outage")
        let pools = RunningPools()
        var options = PostgresVaultOptions()
        options.operationTimeout = .seconds(2)
        options.healthInterval = .milliseconds(200)
        let store = try await F.openPostgres(
            server.url(database: "outage"), instance: "outage", pools: pools, services: true, options: options)
        try await store.insertGeoid(F.stored("geoid_before", "written before the outage"))

        server.stop()
        let started = ContinuousClock.now
        let failure = await #expect(throws: VaultError.self) {
            try await store.insertGeoid(F.stored("geoid_during", "written during the outage"))
        }
        #expect(ContinuousClock.now - started < .seconds(3))
        #expect(failure?.message.contains("PostgreSQL") == true)
        #expect(await eventually(.seconds(3)) { store.availabilityProblem != nil })
        #expect(store.availabilityProblem?.contains("127.0.0.1:\(server.port)/outage") == true)
        let readStarted = ContinuousClock.now
        await #expect(throws: VaultError.self) { _ = try await store.geoid(id: "geoid_before") }
        #expect(ContinuousClock.now - readStarted < .seconds(3))

        try server.start()
        #expect(await eventually(.seconds(20)) { store.availabilityProblem == nil })
        try await store.insertGeoid(F.stored("geoid_after", "written after the outage"))
        #expect(try await store.geoidCount() == 2)
        await pools.stop()
    }
}

/// Polls `condition` every 20 ms until it holds or `timeout` passes.
func eventually(_ timeout: Duration, _ condition: () async throws -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if (try? await condition()) == true { return true }
        try? await Task.sleep(for: .milliseconds(20))
    }
    return (try? await condition()) == true
}

/// What an observer was told.
final class Heard: Sendable {
    /// Protects the notices, appended to by the listener.
    let notices = Mutex<[VaultChangeNotice]>([])
}
