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
import Synchronization

/// Timeouts and sizes of the PostgreSQL vault, in one place.
public struct PostgresVaultOptions: Sendable {
    /// Longest a vault operation may take before it fails as unavailable (a 503, not a hang).
    public var operationTimeout: Duration = .seconds(3)
    /// Longest a new connection may take.
    public var connectTimeout: Duration = .seconds(3)
    /// Pool size of one instance.
    public var maximumConnections = 8
    /// How often the health monitor asks PostgreSQL whether it is there.
    public var healthInterval: Duration = .milliseconds(500)

    public init() {}
}

/// The vault in a PostgreSQL database that several `kimera serve` instances share, through postgres-nio's
/// `PostgresClient` pool (a service of the application: `services`).
///
/// Every write is one transaction; SCAR placement, rebalancing and the cycle counter serialise on the
/// `vault_state` row (`SELECT … FOR UPDATE`), so two instances processing at once keep the vault invariants.
/// Each instance keeps its own in-memory vector indexes: its own writes update them after the commit, the
/// other instances' writes arrive as `NOTIFY` hints (`VaultChangeListener`), and after the listener
/// reconnects the indexes are rebuilt from the database.
public final class PostgresVaultStore: VaultStore {
    /// The `LISTEN/NOTIFY` channel of vault changes.
    public static let channel = "kimera_vault"

    public let settings: PostgresVaultSettings
    /// Who this instance is in notifications and in the job table.
    public let instanceID: String
    public let options: PostgresVaultOptions
    let client: PostgresClient
    let embedder: any Embedder
    let logger: Logger
    /// Protects both vector indexes and the journal of local changes made while they are rebuilt.
    let indexes: Mutex<SharedIndexes>
    /// Protects the health monitor's verdict: nil while PostgreSQL answers, else why not.
    let problem = Mutex<String?>(nil)
    /// Protects what is called after another instance's change has been applied here.
    let observers = Mutex<[@Sendable (VaultChangeNotice) -> Void]>([])

    init(
        settings: PostgresVaultSettings, instanceID: String, embedder: any Embedder, options: PostgresVaultOptions,
        logger: Logger, indexes: SharedIndexes
    ) {
        self.settings = settings
        self.instanceID = instanceID
        self.embedder = embedder
        self.options = options
        self.logger = logger
        self.indexes = Mutex(indexes)
        client = PostgresClient(
            configuration: settings.clientConfiguration(
                connectTimeout: options.connectTimeout, maximumConnections: options.maximumConnections),
            backgroundLogger: logger)
    }

    /// Connects once (a wrong password or an unreachable server fails here, with a `VaultError` that names
    /// it), migrates the schema under an advisory lock, re-embeds when the embedder changed, and loads the
    /// vectors. The returned store's `services` must run (the pool, the listener, the health monitor).
    public static func open(
        url: String, embedder: any Embedder, instanceID: String, options: PostgresVaultOptions = .init(),
        logger: Logger = Logger(label: "kimera.vault.postgres")
    ) async throws -> PostgresVaultStore {
        let settings = try PostgresVaultSettings(url: url)
        let connection = try await connect(settings, timeout: options.connectTimeout, logger: logger)
        do {
            try await PostgresSchema.prepare(connection, embedder: embedder, logger: logger)
            let loaded = try await SharedIndexes.load(connection, dimensions: embedder.dimensions, logger: logger)
            try? await connection.close()
            return PostgresVaultStore(
                settings: settings, instanceID: instanceID, embedder: embedder, options: options, logger: logger,
                indexes: loaded)
        } catch {
            try? await connection.close()
            if let error = error as? VaultError { throw error }
            throw VaultError(
                operation: "prepare the PostgreSQL vault \(settings.target)", detail: describe(error))
        }
    }

    /// One connection outside the pool (startup, the listener), within `timeout`.
    static func connect(_ settings: PostgresVaultSettings, timeout: Duration, logger: Logger) async throws
        -> PostgresConnection
    {
        let attempt = Task {
            try await PostgresConnection.connect(
                configuration: settings.connectionConfiguration(connectTimeout: timeout), id: 0, logger: logger)
        }
        do {
            return try await withDeadline(timeout) { try await attempt.value }
        } catch {
            // The deadline won: a connection that still opens afterwards is closed, never just dropped
            // (postgres-nio requires every connection to be closed before it goes away).
            attempt.cancel()
            Task {
                if let late = try? await attempt.value { try? await late.close() }
            }
            throw VaultError(operation: "connect to PostgreSQL at \(settings.target)", detail: describe(error))
        }
    }

    /// The pool, the change listener and the health monitor: run them as services of the application.
    public var services: [any Service] {
        [client, VaultChangeListener(store: self), VaultHealthMonitor(store: self)]
    }

    /// Calls `observer` after another instance's change has been applied to this instance's indexes (and
    /// after a rebuild, with `reload`): the place to drop cached responses.
    public func onRemoteChange(_ observer: @escaping @Sendable (VaultChangeNotice) -> Void) {
        observers.locked { $0.append(observer) }
    }

    func tellObservers(_ notice: VaultChangeNotice) {
        for observer in observers.locked({ $0 }) { observer(notice) }
    }

    public var dialect: String { "postgresql" }

    public var availabilityProblem: String? {
        problem.locked { $0 }.map { "The vault is unavailable: \($0)." }
    }

    // MARK: Running operations

    /// Runs `body` within the operation timeout, turning every failure into a `VaultError` (a 503). While the
    /// health monitor knows PostgreSQL is away, fails at once.
    func run<T: Sendable>(_ operation: String, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        if let problem = problem.locked({ $0 }) { throw VaultError(operation: operation, detail: problem) }
        do {
            return try await Self.withDeadline(options.operationTimeout, body)
        } catch let error as VaultError {
            throw error
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            throw VaultError(operation: operation, detail: Self.describe(error, target: settings.target))
        }
    }

    /// What went wrong, in words, without the password (postgres-nio never puts it in its errors).
    static func describe(_ error: any Error, target: String? = nil) -> String {
        let prefix = target.map { "PostgreSQL at \($0) " } ?? ""
        switch error {
        case is DeadlineExceeded:
            return "\(prefix)did not answer in time"
        case let error as PSQLError:
            if let message = error.serverInfo?[.message] {
                // The server's own words, after whose they are: a stop while connected arrives as
                // "terminating connection due to administrator command (SQLSTATE 57P01)".
                let state = error.serverInfo?[.sqlState].map { " (SQLSTATE \($0))" } ?? ""
                let said = message + state
                return target.map { "PostgreSQL at \($0) said: \(said)" } ?? said
            }
            let underlying = error.underlying.map { "\($0)" } ?? ""
            if underlying.contains("refused") { return "\(prefix)refused the connection" }
            if underlying.contains("No such file") { return "\(prefix)has no socket there" }
            switch error.code {
            case .serverClosedConnection, .uncleanShutdown: return "\(prefix)closed the connection"
            case .connectionError: return "\(prefix)cannot be reached" + (underlying.isEmpty ? "" : ": \(underlying)")
            case .poolClosed: return "the connection pool is closed"
            default: return "\(prefix)failed: \(error.code)" + (underlying.isEmpty ? "" : ": \(underlying)")
            }
        case let error as DecodingError:
            return "a stored row does not decode: \(error)"
        default:
            let text = "\(error)"
            if text.contains("refused") { return "\(prefix)refused the connection" }
            return target.map { "PostgreSQL at \($0): \(text)" } ?? text
        }
    }

    /// Runs `body`, failing with `DeadlineExceeded` after `timeout` without waiting for `body` to notice
    /// (a query on a silent server may not); `body` is cancelled then.
    static func withDeadline<T: Sendable>(_ timeout: Duration, _ body: @escaping @Sendable () async throws -> T)
        async throws -> T
    {
        let work = Task { try await body() }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
                let once = ResumeOnce(continuation)
                let timer = Task {
                    try? await Task.sleep(for: timeout)
                    if Task.isCancelled { return }
                    if once.resume(.failure(DeadlineExceeded())) { work.cancel() }
                }
                Task {
                    let result = await work.result
                    timer.cancel()
                    once.resume(result)
                }
            }
        } onCancel: {
            work.cancel()
        }
    }

    // MARK: Notifications

    /// In the current transaction: tells the other instances what changed (delivered at commit).
    func notify(_ connection: PostgresConnection, _ notice: VaultChangeNotice) async throws {
        var notice = notice
        notice.from = instanceID
        var payload = (try? VaultRowCoding.json(notice)) ?? ""
        // NOTIFY payloads must stay under 8000 bytes: a big change becomes "reload everything".
        if payload.utf8.count > 7900 || payload.isEmpty {
            payload = (try? VaultRowCoding.json(VaultChangeNotice(from: instanceID, reload: true))) ?? ""
        }
        try await connection.query("SELECT pg_notify(\(Self.channel), \(payload))", logger: logger)
    }

    /// Applies another instance's change: fetches the new vectors, drops the removed ones, then tells the
    /// observers. Own notifications are ignored (the index already has them).
    func receive(_ payload: String) async {
        guard let notice = try? VaultRowCoding.decode(VaultChangeNotice.self, payload) else {
            logger.warning("ignored a vault notification that does not decode", metadata: ["payload": "\(payload)"])
            return
        }
        guard notice.from != instanceID else { return }
        do {
            if notice.reload == true {
                try await rebuildIndexes()
            } else {
                let geoids = try await vectors(table: .geoids, ids: notice.geoidsAdded ?? [])
                let scars = try await vectors(table: .scars, ids: notice.scarsAdded ?? [])
                indexes.locked { state in
                    for (id, vector) in geoids { state.apply(.geoid(id, vector)) }
                    for id in notice.geoidsRemoved ?? [] { state.apply(.geoidRemoved(id)) }
                    for (id, vector) in scars { state.apply(.scar(id, vector)) }
                }
            }
        } catch {
            logger.warning(
                "could not apply a change from instance \(notice.from); rebuilding the index",
                metadata: ["error": "\(Self.describe(error))"])
            try? await rebuildIndexes()
        }
        tellObservers(notice)
    }

    enum VectorTable: String {
        case geoids, scars
        var idColumn: String { self == .geoids ? "geoid_id" : "scar_id" }
    }

    func vectors(table: VectorTable, ids: [String]) async throws -> [(String, [Float])] {
        guard !ids.isEmpty else { return [] }
        let query = PostgresQuery(
            unsafeSQL: "SELECT \(table.idColumn), embedding FROM \(table.rawValue) WHERE \(table.idColumn) = ANY($1)",
            binds: try Self.binds(ids))
        return try await Self.withDeadline(options.operationTimeout) { [client, logger] in
            var found: [(String, [Float])] = []
            for try await (id, bytes) in try await client.query(query, logger: logger).decode((String, ByteBuffer).self)
            {
                found.append((id, PostgresCoding.floats(bytes)))
            }
            return found
        }
    }

    static func binds(_ values: [String]) throws -> PostgresBindings {
        var binds = PostgresBindings()
        try binds.append(values)
        return binds
    }

    /// Reloads both indexes from the database; local writes committed meanwhile are replayed onto them.
    public func rebuildIndexes() async throws {
        indexes.locked { $0.journal = [] }
        do {
            let dimensions = embedder.dimensions
            let fresh = try await Self.withDeadline(.seconds(60)) { [client, logger] in
                try await client.withConnection { connection in
                    try await SharedIndexes.load(connection, dimensions: dimensions, logger: logger)
                }
            }
            indexes.locked { state in
                var rebuilt = fresh
                for change in state.journal ?? [] { rebuilt.apply(change) }
                state = rebuilt
            }
        } catch {
            indexes.locked { $0.journal = nil }
            throw error
        }
    }

    /// Vectors held in memory, for observability: rows and bytes of each index.
    public var memoryFill: (geoids: Int, scars: Int, bytes: Int) {
        indexes.locked { ($0.geoids.count, $0.scars.count, $0.geoids.bytes + $0.scars.bytes) }
    }
}

/// What one instance changed, as its `NOTIFY` payload says it; a hint, never the data itself.
public struct VaultChangeNotice: Codable, Sendable, Equatable {
    /// The instance id of the writer.
    public var from: String
    public var geoidsAdded: [String]?
    public var geoidsRemoved: [String]?
    public var scarsAdded: [String]?
    /// Anything else changed (states, placement) — nothing to do for the index, but cached reads are stale.
    public var other: String?
    /// Too much changed to list: rebuild the indexes.
    public var reload: Bool?

    public init(
        from: String = "", geoidsAdded: [String]? = nil, geoidsRemoved: [String]? = nil, scarsAdded: [String]? = nil,
        other: String? = nil, reload: Bool? = nil
    ) {
        self.from = from
        self.geoidsAdded = geoidsAdded
        self.geoidsRemoved = geoidsRemoved
        self.scarsAdded = scarsAdded
        self.other = other
        self.reload = reload
    }

    enum CodingKeys: String, CodingKey {
        case from, other, reload
        case geoidsAdded = "geoids_added"
        case geoidsRemoved = "geoids_removed"
        case scarsAdded = "scars_added"
    }
}

/// The in-memory vectors of one instance.
struct SharedIndexes: Sendable {
    var geoids: VectorIndex
    var scars: VectorIndex
    /// While a rebuild reads the database: the local changes made meanwhile, replayed onto its result.
    var journal: [IndexChange]?

    enum IndexChange: Sendable {
        case geoid(String, [Float])
        case geoidRemoved(String)
        case scar(String, [Float])
    }

    mutating func apply(_ change: IndexChange) {
        switch change {
        case .geoid(let id, let vector): geoids.upsert(id: id, vector: vector)
        case .geoidRemoved(let id): _ = geoids.remove(id: id)
        case .scar(let id, let vector): scars.upsert(id: id, vector: vector)
        }
        journal?.append(change)
    }

    static func load(_ connection: PostgresConnection, dimensions: Int, logger: Logger) async throws -> SharedIndexes {
        SharedIndexes(
            geoids: try await loadIndex(
                connection, "SELECT geoid_id, embedding FROM geoids ORDER BY seq", dimensions, logger),
            scars: try await loadIndex(
                connection, "SELECT scar_id, embedding FROM scars ORDER BY seq", dimensions, logger),
            journal: nil)
    }

    static func loadIndex(_ connection: PostgresConnection, _ sql: String, _ dimensions: Int, _ logger: Logger)
        async throws -> VectorIndex
    {
        var index = VectorIndex(dimensions: dimensions)
        let rows = try await connection.query(PostgresQuery(unsafeSQL: sql), logger: logger)
        for try await (id, bytes) in rows.decode((String, ByteBuffer).self) {
            bytes.withUnsafeReadableBytes { index.upsert(id: id, bytes: $0) }
        }
        return index
    }
}

/// Thrown by `withDeadline` when the time is up.
struct DeadlineExceeded: Error {}

/// Resumes a continuation exactly once, whoever comes first.
final class ResumeOnce<T: Sendable>: Sendable {
    /// Protects the continuation until its one resumption.
    private let continuation: Mutex<CheckedContinuation<T, any Error>?>

    init(_ continuation: CheckedContinuation<T, any Error>) {
        self.continuation = Mutex(continuation)
    }

    /// Returns whether this call resumed it.
    @discardableResult
    func resume(_ result: Result<T, any Error>) -> Bool {
        guard
            let continuation = continuation.locked({ value -> CheckedContinuation<T, any Error>? in
                defer { value = nil }
                return value
            })
        else { return false }
        continuation.resume(with: result)
        return true
    }
}
