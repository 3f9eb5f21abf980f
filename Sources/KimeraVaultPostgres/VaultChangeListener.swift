#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
import KimeraCore
import KimeraModels
import Logging
import PostgresNIO
import ServiceLifecycle

/// Keeps this instance's indexes in step with the other instances: holds one dedicated connection that
/// `LISTEN`s on `PostgresVaultStore.channel` and applies each notification's hint. Notifications are not
/// replayed after a reconnect, so each (re)connection first rebuilds the indexes from the database and tells
/// the observers to drop what they cached. A heartbeat query notices a silently dead connection.
struct VaultChangeListener: Service {
    let store: PostgresVaultStore
    /// Between a failed connection and the next try: doubling from the first to the last.
    static let retryDelays: [Duration] = [.milliseconds(200), .milliseconds(400), .milliseconds(800), .seconds(1)]
    static let heartbeat: Duration = .seconds(2)

    func run() async throws {
        let logger = store.logger
        await cancelWhenGracefulShutdown {
            var failures = 0
            while !Task.isCancelled {
                do {
                    let connection = try await PostgresVaultStore.connect(
                        store.settings, timeout: store.options.connectTimeout, logger: logger)
                    do {
                        try await listen(on: connection)
                    } catch {
                        try? await connection.close()
                        throw error
                    }
                    try? await connection.close()
                } catch is CancellationError {
                    return
                } catch {
                    if Task.isCancelled { return }
                    if failures == 0 {
                        logger.warning(
                            "vault change listener lost its connection; retrying",
                            metadata: ["error": "\(PostgresVaultStore.describe(error, target: store.settings.target))"])
                    }
                    failures += 1
                }
                try? await Task.sleep(for: Self.retryDelays[min(failures, Self.retryDelays.count - 1)])
            }
        }
    }

    /// Listens until the connection fails: rebuilds first (what was missed while not listening), then
    /// applies notifications in the order PostgreSQL delivers them (commit order).
    private func listen(on connection: PostgresConnection) async throws {
        let logger = store.logger
        try await connection.listen(on: PostgresVaultStore.channel) { notifications in
            try await store.rebuildIndexes()
            store.tellObservers(VaultChangeNotice(from: "", reload: true))
            logger.info("vault change listener connected", metadata: ["target": "\(store.settings.target)"])
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    for try await notification in notifications { await store.receive(notification.payload) }
                    throw ListenerStreamEnded()
                }
                group.addTask {
                    while true {
                        try await Task.sleep(for: Self.heartbeat)
                        try await PostgresVaultStore.withDeadline(store.options.operationTimeout) {
                            try await connection.query("SELECT 1", logger: logger)
                            return ()
                        }
                    }
                }
                defer { group.cancelAll() }
                try await group.next()
            }
        }
    }
}

/// Asks PostgreSQL through the pool every `healthInterval` whether it answers, and records the verdict that
/// `/ready` reports and that makes vault operations fail fast while it is away.
struct VaultHealthMonitor: Service {
    let store: PostgresVaultStore

    func run() async throws {
        let logger = store.logger
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                let verdict = await probe()
                let previous = store.problem.locked { problem in
                    defer { problem = verdict }
                    return problem
                }
                if let verdict, previous == nil {
                    logger.error("vault unavailable: \(verdict)")
                } else if verdict == nil, let previous {
                    logger.notice("vault available again", metadata: ["was": "\(previous)"])
                }
                try? await Task.sleep(for: store.options.healthInterval)
            }
        }
    }

    private func probe() async -> String? {
        do {
            try await PostgresVaultStore.withDeadline(store.options.operationTimeout) { [store] in
                try await store.client.query("SELECT 1", logger: store.logger)
                return ()
            }
            return nil
        } catch {
            return PostgresVaultStore.describe(error, target: store.settings.target)
        }
    }
}

/// The notification stream ended: the connection is gone.
struct ListenerStreamEnded: Error, CustomStringConvertible {
    var description: String { "the notification stream ended" }
}
