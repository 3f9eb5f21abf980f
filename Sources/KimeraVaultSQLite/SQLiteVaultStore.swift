import Foundation
import GRDB
import KimeraCore
import KimeraModels
import Synchronization

/// The vault in an embedded SQLite database, `<dataDir>/kimera.sqlite`, through a GRDB `DatabasePool`
/// (WAL: readers never wait for the writer). Embeddings are also held in memory, in two `VectorIndex`es,
/// for ranking.
///
/// Writes run in GRDB's serialized writer access: the transaction commits, then — still inside that access —
/// the in-memory index is updated. So the index changes in commit order and never shows an uncommitted row.
public final class SQLiteVaultStore: VaultStore {
    public let dialect = "sqlite"
    public static let fileName = "kimera.sqlite"

    /// The database file.
    public let path: String
    let pool: DatabasePool
    let embedder: any Embedder
    /// Protects every geoid's embedding, mirrored from the `geoids` table; written only right after a commit.
    let geoidVectors: Mutex<VectorIndex>
    /// Protects every SCAR's vector, mirrored from the `scars` table; written only right after a commit.
    let scarVectors: Mutex<VectorIndex>
    /// This process's hold on the file.
    let lock: VaultFileLock
    /// The file as opened: a write is refused once the path names another file, or none.
    let identity: VaultFileIdentity

    /// Opens (creating when needed) the vault `kimera.sqlite` in `directory`, creating the directory too.
    public convenience init(directory: String, embedder: any Embedder) throws {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw VaultError(operation: "create its directory \(directory)", detail: "\(error)")
        }
        try self.init(path: (directory as NSString).appendingPathComponent(Self.fileName), embedder: embedder)
    }

    /// Opens (creating when needed) the vault file at `path`, whose folder must exist; takes the file's
    /// lock (`VaultFileLock`: one process per vault), migrates it, re-embeds what it stores when the
    /// embedder changed since the last open, and loads the vectors into memory.
    public init(path: String, embedder: any Embedder) throws {
        self.embedder = embedder
        self.path = path
        let folder = (path as NSString).deletingLastPathComponent
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder.isEmpty ? "." : folder, isDirectory: &isDirectory),
            isDirectory.boolValue
        else {
            throw VaultError(
                operation: "open \(path)", detail: "its folder \(folder) does not exist; create it first")
        }
        lock = try VaultFileLock.acquire(databasePath: path)
        var configuration = Configuration()
        configuration.label = "kimera-vault"
        configuration.prepareDatabase { db in
            // FULL: a commit is on disk before a create returns, power loss included.
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
        do {
            pool = try DatabasePool(path: path, configuration: configuration)
            try Self.migrator.migrate(pool)
            try Self.reembedIfNeeded(pool, embedder: embedder)
            let dimensions = embedder.dimensions
            geoidVectors = Mutex(
                try pool.read { try Self.loadIndex($0, table: "geoids", id: "geoid_id", dimensions: dimensions) })
            scarVectors = Mutex(
                try pool.read { try Self.loadIndex($0, table: "scars", id: "scar_id", dimensions: dimensions) })
            guard let identity = VaultFileIdentity.of(path) else {
                throw VaultError(operation: "open \(path)", detail: "the file vanished while it was opened")
            }
            self.identity = identity
        } catch let error as VaultError {
            lock.release()
            throw error
        } catch {
            lock.release()
            throw VaultError(operation: "open \(path)", detail: "\(error)")
        }
    }

    // MARK: Schema

    /// Versioned migrations; a released migration is never edited, only followed by a new one.
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1_geoids_scars_meta") { db in
            try db.execute(
                sql: """
                    CREATE TABLE geoids (
                        seq INTEGER PRIMARY KEY AUTOINCREMENT,
                        geoid_id TEXT NOT NULL UNIQUE,
                        semantic_state TEXT NOT NULL,
                        symbolic_state TEXT NOT NULL,
                        metadata TEXT NOT NULL,
                        embedded_text TEXT NOT NULL,
                        embedding BLOB NOT NULL,
                        entropy REAL NOT NULL,
                        created_at REAL NOT NULL
                    );
                    CREATE TABLE scars (
                        seq INTEGER PRIMARY KEY AUTOINCREMENT,
                        scar_id TEXT NOT NULL UNIQUE,
                        geoid_a TEXT NOT NULL,
                        geoid_b TEXT NOT NULL,
                        reason TEXT NOT NULL,
                        timestamp TEXT NOT NULL,
                        resolved_by TEXT NOT NULL,
                        pre_entropy REAL NOT NULL,
                        post_entropy REAL NOT NULL,
                        delta_entropy REAL NOT NULL,
                        cls_angle REAL NOT NULL,
                        semantic_polarity REAL NOT NULL,
                        mutation_frequency REAL NOT NULL,
                        weight REAL NOT NULL,
                        vault_id TEXT NOT NULL CHECK (vault_id IN ('vault_a', 'vault_b')),
                        created_at REAL NOT NULL,
                        embedded_text TEXT NOT NULL,
                        embedding BLOB NOT NULL
                    );
                    CREATE TABLE meta (key TEXT PRIMARY KEY NOT NULL, value NOT NULL) WITHOUT ROWID;
                    INSERT INTO meta (key, value) VALUES ('cycle_count', 0);
                    """)
        }
        migrator.registerMigration("v2_scar_indexes") { db in
            try db.execute(
                sql: """
                    CREATE INDEX scars_by_vault_seq ON scars (vault_id, seq);
                    CREATE INDEX scars_by_vault_weight ON scars (vault_id, weight, seq);
                    CREATE INDEX scars_by_created_at ON scars (created_at);
                    """)
        }
        migrator.registerMigration("v3_contradiction_jobs") { db in
            try db.execute(
                sql: """
                    CREATE TABLE jobs (
                        job_id TEXT PRIMARY KEY NOT NULL,
                        owner TEXT NOT NULL,
                        state TEXT NOT NULL,
                        started_at REAL NOT NULL,
                        finished_at REAL
                    );
                    CREATE INDEX jobs_by_finished_at ON jobs (finished_at);
                    """)
        }
        return migrator
    }

    /// When the stored embedder identifier differs from `embedder`'s, re-embeds every geoid and SCAR from its
    /// stored text, in one transaction, so that all vectors come from one embedder.
    static func reembedIfNeeded(_ pool: DatabasePool, embedder: any Embedder) throws {
        try pool.write { db in
            let stored = try String.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'embedder'")
            guard stored != embedder.identifier else { return }
            if stored != nil {
                for table in ["geoids", "scars"] {
                    let rows = try Row.fetchAll(db, sql: "SELECT seq, embedded_text FROM \(table)")
                    let update = try db.cachedStatement(sql: "UPDATE \(table) SET embedding = ? WHERE seq = ?")
                    for row in rows {
                        let text: String = row["embedded_text"]
                        let seq: Int64 = row["seq"]
                        try update.execute(arguments: [blob(embedder.embed(text)), seq])
                    }
                }
            }
            try db.execute(
                sql: "INSERT OR REPLACE INTO meta (key, value) VALUES ('embedder', ?)",
                arguments: [embedder.identifier])
        }
    }

    static func loadIndex(_ db: Database, table: String, id: String, dimensions: Int) throws -> VectorIndex {
        var index = VectorIndex(dimensions: dimensions)
        let count = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM \(table)") ?? 0
        index.reserveCapacity(count)
        let rows = try Row.fetchCursor(db, sql: "SELECT \(id), embedding FROM \(table) ORDER BY seq")
        while let row = try rows.next() {
            let rowID: String = row[0]
            try row.withUnsafeData(atIndex: 1) { data in
                (data ?? Data()).withUnsafeBytes { index.upsert(id: rowID, bytes: $0) }
            }
        }
        return index
    }

    // MARK: Encoding

    static func blob(_ vector: [Float]) -> Data { VaultRowCoding.blob(vector) }
    static func vector(_ data: Data) -> [Float] { VaultRowCoding.vector(data) }
    static func json<T: Encodable>(_ value: T) throws -> String { try VaultRowCoding.json(value) }
    static func decode<T: Decodable>(_ type: T.Type, _ text: String) throws -> T {
        try VaultRowCoding.decode(type, text)
    }

    static let geoidColumns = "geoid_id, semantic_state, symbolic_state, metadata, embedding"

    static func geoid(_ row: Row) throws -> Geoid {
        Geoid(
            geoidID: row["geoid_id"],
            semanticState: try decode([String: Double].self, row["semantic_state"]),
            symbolicState: try decode([String: JSONValue].self, row["symbolic_state"]),
            metadata: try decode([String: JSONValue].self, row["metadata"]),
            embeddingVector: vector(row["embedding"]))
    }

    static let scarColumns = """
        scar_id, geoid_a, geoid_b, reason, timestamp, resolved_by, pre_entropy, post_entropy, delta_entropy, \
        cls_angle, semantic_polarity, mutation_frequency, weight, vault_id
        """

    static func scar(_ row: Row) -> Scar {
        Scar(
            ScarFigures(
                scarID: row["scar_id"], geoids: [row["geoid_a"], row["geoid_b"]], reason: row["reason"],
                timestamp: row["timestamp"], resolvedBy: row["resolved_by"], preEntropy: row["pre_entropy"],
                postEntropy: row["post_entropy"], deltaEntropy: row["delta_entropy"], clsAngle: row["cls_angle"],
                semanticPolarity: row["semantic_polarity"], mutationFrequency: row["mutation_frequency"],
                weight: row["weight"]),
            vaultID: row["vault_id"])
    }

    /// GRDB's read and write on its own queues, with the allocations there counted for the profiled
    /// operation that asked (`AllocationAttribution`).
    func read<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        let attribution = AllocationAttribution.current
        return try await pool.read { db in try attribution.adopt { try body(db) } }
    }

    func write<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        let attribution = AllocationAttribution.current
        return try await pool.write { db in try attribution.adopt { try body(db) } }
    }

    func writeWithoutTransaction<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        let attribution = AllocationAttribution.current
        return try await pool.writeWithoutTransaction { db in try attribution.adopt { try body(db) } }
    }

    /// Runs `body`, turning database failures into `VaultError`; cancellation and domain errors pass through.
    /// A write (`writing`) is refused before it starts, and not acknowledged after it committed, when the
    /// vault file was deleted or replaced: a write that the next start could not find is never a success.
    func run<T>(_ operation: String, writing: Bool = false, _ body: () async throws -> T) async throws -> T {
        do {
            if writing, let problem = identity.problem(at: path) {
                throw VaultError(operation: operation, detail: problem)
            }
            let result = try await body()
            if writing, let problem = identity.problem(at: path) {
                throw VaultError(operation: operation, detail: problem)
            }
            return result
        } catch let error as DatabaseError {
            throw VaultError(operation: operation, detail: error.message ?? "\(error)")
        } catch let error as DecodingError {
            throw VaultError(operation: operation, detail: "a stored row does not decode: \(error)")
        } catch let error as EncodingError {
            throw VaultError(operation: operation, detail: "a value does not encode: \(error)")
        }
    }

    static func placeholders(_ count: Int) -> String {
        Array(repeating: "?", count: count).joined(separator: ", ")
    }

    // MARK: Geoids

    public func insertGeoid(_ stored: StoredGeoid) async throws {
        try await insertGeoids([stored])
    }

    /// Stores many geoids in one transaction (seeding, imports, benchmarks); all or none.
    public func insertGeoids(_ batch: [StoredGeoid]) async throws {
        guard !batch.isEmpty else { return }
        let rows: [StatementArguments] = try batch.map { stored in
            let geoid = stored.geoid
            return [
                geoid.geoidID, try Self.json(geoid.semanticState), try Self.json(geoid.symbolicState),
                try Self.json(geoid.metadata), stored.embeddedText, Self.blob(geoid.embeddingVector),
                stored.entropy, stored.createdAt,
            ]
        }
        let operation = batch.count == 1 ? "store geoid \(batch[0].geoid.geoidID)" : "store \(batch.count) geoids"
        try await run(operation, writing: true) {
            try await writeWithoutTransaction { db in
                try db.inTransaction(.immediate) {
                    let insert = try db.cachedStatement(
                        sql: """
                            INSERT INTO geoids (geoid_id, semantic_state, symbolic_state, metadata, embedded_text, \
                            embedding, entropy, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                            """)
                    for arguments in rows { try insert.execute(arguments: arguments) }
                    return .commit
                }
                self.geoidVectors.locked { index in
                    for stored in batch { index.upsert(id: stored.geoid.geoidID, vector: stored.geoid.embeddingVector) }
                }
            }
        }
    }

    public func geoid(id: String) async throws -> Geoid? {
        try await run("read geoid \(id)") {
            try await read { db in
                try Row.fetchOne(db, sql: "SELECT \(Self.geoidColumns) FROM geoids WHERE geoid_id = ?", arguments: [id])
                    .map(Self.geoid)
            }
        }
    }

    public func geoids(ids: [String]) async throws -> [Geoid] {
        guard !ids.isEmpty else { return [] }
        let found = try await run("read \(ids.count) geoids") {
            try await read { db in
                try Row.fetchAll(
                    db,
                    sql: "SELECT \(Self.geoidColumns) FROM geoids WHERE geoid_id IN (\(Self.placeholders(ids.count)))",
                    arguments: StatementArguments(ids)
                ).map(Self.geoid)
            }
        }
        let byID = Dictionary(found.map { ($0.geoidID, $0) }, uniquingKeysWith: { first, _ in first })
        return ids.compactMap { byID[$0] }
    }

    public func deleteGeoid(id: String) async throws -> Bool {
        try await run("delete geoid \(id)", writing: true) {
            try await writeWithoutTransaction { db in
                var deleted = false
                try db.inTransaction(.immediate) {
                    try db.execute(sql: "DELETE FROM geoids WHERE geoid_id = ?", arguments: [id])
                    deleted = db.changesCount > 0
                    return .commit
                }
                if deleted { self.geoidVectors.locked { _ = $0.remove(id: id) } }
                return deleted
            }
        }
    }

    public func newestGeoids(limit: Int) async throws -> [Geoid] {
        try await run("read the newest geoids") {
            try await read { db in
                try Row.fetchAll(
                    db, sql: "SELECT \(Self.geoidColumns) FROM geoids ORDER BY seq DESC LIMIT ?", arguments: [limit]
                ).map(Self.geoid)
            }
        }
    }

    public func geoidCount() async throws -> Int {
        try await run("count geoids") {
            try await read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM geoids") ?? 0 }
        }
    }

    public func nearestGeoids(to vector: [Float], limit: Int, excluding: Set<String> = []) -> [SimilarityHit] {
        geoidVectors.locked { $0.snapshot }.nearest(to: vector, limit: limit, excluding: excluding)
    }

    // MARK: SCARs and vaults

    public func scar(id: String) async throws -> Scar? {
        try await run("read SCAR \(id)") {
            try await read { db in
                try Row.fetchOne(db, sql: "SELECT \(Self.scarColumns) FROM scars WHERE scar_id = ?", arguments: [id])
                    .map(Self.scar)
            }
        }
    }

    public func scars(ids: [String]) async throws -> [Scar] {
        guard !ids.isEmpty else { return [] }
        let found = try await run("read \(ids.count) SCARs") {
            try await read { db in
                try Row.fetchAll(
                    db, sql: "SELECT \(Self.scarColumns) FROM scars WHERE scar_id IN (\(Self.placeholders(ids.count)))",
                    arguments: StatementArguments(ids)
                ).map(Self.scar)
            }
        }
        let byID = Dictionary(found.map { ($0.scarID, $0) }, uniquingKeysWith: { first, _ in first })
        return ids.compactMap { byID[$0] }
    }

    public func nearestScars(to vector: [Float], limit: Int) -> [SimilarityHit] {
        scarVectors.locked { $0.snapshot }.nearest(to: vector, limit: limit)
    }

    static func totals(_ db: Database) throws -> VaultTotals {
        var totals = VaultTotals(countA: 0, countB: 0, weightA: 0, weightB: 0)
        let rows = try Row.fetchAll(db, sql: "SELECT vault_id, COUNT(*), TOTAL(weight) FROM scars GROUP BY vault_id")
        for row in rows {
            let vault: String = row[0]
            if vault == VaultID.vaultA.rawValue {
                totals.countA = row[1]
                totals.weightA = row[2]
            } else {
                totals.countB = row[1]
                totals.weightB = row[2]
            }
        }
        return totals
    }

    public func vaultTotals() async throws -> VaultTotals {
        try await run("count the vaults' SCARs") {
            try await read { db in try Self.totals(db) }
        }
    }

    public func vaultContents(_ vault: VaultID, limit: Int) async throws -> [Scar] {
        try await run("read \(vault.rawValue)") {
            try await read { db in
                try Row.fetchAll(
                    db, sql: "SELECT \(Self.scarColumns) FROM scars WHERE vault_id = ? ORDER BY seq DESC LIMIT ?",
                    arguments: [vault.rawValue, limit]
                ).map(Self.scar)
            }
        }
    }

    public func rebalance(byWeight: Bool) async throws -> Int {
        try await run("rebalance the vaults", writing: true) {
            try await write { db in
                let totals = try Self.totals(db)
                guard let (from, to) = VaultBalance.direction(totals, byWeight: byWeight) else { return 0 }
                let candidates = try Row.fetchAll(
                    db, sql: "SELECT scar_id, weight FROM scars WHERE vault_id = ? ORDER BY weight, seq",
                    arguments: [from.rawValue]
                ).map { RebalanceCandidate(scarID: $0[0], weight: $0[1]) }
                let moving = VaultBalance.scarsToMove(candidates, totals: totals, from: from, byWeight: byWeight)
                let update = try db.cachedStatement(sql: "UPDATE scars SET vault_id = ? WHERE scar_id = ?")
                for id in moving { try update.execute(arguments: [to.rawValue, id]) }
                return moving.count
            }
        }
    }

    // MARK: Runs

    public func commitRun(stateUpdates: [GeoidStateUpdate], scars drafts: [ScarDraft]) async throws -> RunCommit {
        let states = try stateUpdates.map {
            (id: $0.geoidID, json: try Self.json($0.semanticState), entropy: SemanticEntropy.entropy($0.semanticState))
        }
        return try await run("store \(drafts.count) SCARs", writing: true) {
            try await writeWithoutTransaction { db in
                var placed: [Scar] = []
                var cycleCount = 0
                try db.inTransaction(.immediate) {
                    placed = []
                    let updateState = try db.cachedStatement(
                        sql: "UPDATE geoids SET semantic_state = ?, entropy = ? WHERE geoid_id = ?")
                    for state in states { try updateState.execute(arguments: [state.json, state.entropy, state.id]) }

                    var totals = try Self.totals(db)
                    let insert = try db.cachedStatement(
                        sql: """
                            INSERT INTO scars (scar_id, geoid_a, geoid_b, reason, timestamp, resolved_by, pre_entropy, \
                            post_entropy, delta_entropy, cls_angle, semantic_polarity, mutation_frequency, weight, \
                            vault_id, created_at, embedded_text, embedding)
                            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                            """)
                    for draft in drafts {
                        let vault = VaultBalance.placement(countA: totals.countA, countB: totals.countB)
                        if vault == .vaultA { totals.countA += 1 } else { totals.countB += 1 }
                        try insert.execute(arguments: [
                            draft.scarID, draft.geoids[0], draft.geoids[1], draft.reason, draft.timestamp,
                            draft.resolvedBy, draft.preEntropy, draft.postEntropy, draft.deltaEntropy, draft.clsAngle,
                            draft.semanticPolarity, draft.mutationFrequency, draft.weight, vault.rawValue,
                            draft.createdAt, draft.embeddedText, Self.blob(draft.embedding),
                        ])
                        placed.append(draft.placed(in: vault))
                    }
                    try db.execute(sql: "UPDATE meta SET value = value + 1 WHERE key = 'cycle_count'")
                    cycleCount = try Int.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'cycle_count'") ?? 0
                    return .commit
                }
                if !drafts.isEmpty {
                    self.scarVectors.locked { index in
                        for draft in drafts { index.upsert(id: draft.scarID, vector: draft.embedding) }
                    }
                }
                return RunCommit(scars: placed, cycleCount: cycleCount)
            }
        }
    }

    public func stabilityInputs(now: Double) async throws -> StabilityInputs {
        try await run("read the stability inputs") {
            try await read { db in
                let recent =
                    try Int.fetchOne(
                        db, sql: "SELECT COUNT(*) FROM scars WHERE created_at >= ?",
                        arguments: [now - StabilityInputs.pressureSpan]) ?? 0
                let deltas = try Double.fetchAll(
                    db, sql: "SELECT delta_entropy FROM scars ORDER BY seq DESC LIMIT ?",
                    arguments: [StabilityInputs.window])
                let embeddings = try Data.fetchAll(
                    db, sql: "SELECT embedding FROM geoids ORDER BY seq DESC LIMIT ?",
                    arguments: [StabilityInputs.window]
                ).map(Self.vector)
                return StabilityInputs(
                    scarsInLastHour: recent, newestScarDeltas: deltas, newestGeoidEmbeddings: embeddings)
            }
        }
    }

    public func cycleCount() async throws -> Int {
        try await run("read the cycle counter") {
            try await read { db in
                try Int.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'cycle_count'") ?? 0
            }
        }
    }

    public func integrityCheck() async throws -> String {
        try await run("check its integrity") {
            try await read { db in
                try String.fetchAll(db, sql: "PRAGMA integrity_check").joined(separator: "; ")
            }
        }
    }

    /// Closes the pool (SQLite checkpoints the WAL into the database file); later calls fail.
    public func close() async throws {
        defer { lock.release() }
        try await run("close") { try pool.close() }
    }

    // MARK: Contradiction jobs

    public func startJob(
        id: String, owner: String, now: Double, limits: JobLimits, running: String
    ) async throws -> JobAdmission {
        try await run("start job \(id)", writing: true) {
            try await write { db in
                try db.execute(
                    sql: "DELETE FROM jobs WHERE finished_at < ?", arguments: [now - limits.retentionSeconds])
                let mine =
                    try Int.fetchOne(
                        db, sql: "SELECT COUNT(*) FROM jobs WHERE owner = ? AND finished_at IS NULL",
                        arguments: [owner]) ?? 0
                guard mine < limits.runningLimit else { return .tooManyRunning }
                let kept = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM jobs") ?? 0
                if kept >= limits.capacity {
                    try db.execute(
                        sql: """
                            DELETE FROM jobs WHERE job_id IN (SELECT job_id FROM jobs WHERE finished_at IS NOT NULL \
                            ORDER BY finished_at LIMIT ?)
                            """, arguments: [kept - limits.capacity + 1])
                    guard (try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM jobs") ?? 0) < limits.capacity else {
                        return .full
                    }
                }
                try db.execute(
                    sql: "INSERT INTO jobs (job_id, owner, state, started_at) VALUES (?, ?, ?, ?)",
                    arguments: [id, owner, running, now])
                return .accepted
            }
        }
    }

    public func finishJob(id: String, state: String, now: Double) async throws {
        try await run("record the end of job \(id)", writing: true) {
            try await write { db in
                try db.execute(
                    sql: "UPDATE jobs SET state = ?, finished_at = ? WHERE job_id = ?",
                    arguments: [state, now, id])
            }
        }
    }

    public func job(id: String, finishedAfter: Double) async throws -> String? {
        try await run("read job \(id)") {
            try await read { db in
                try String.fetchOne(
                    db, sql: "SELECT state FROM jobs WHERE job_id = ? AND (finished_at IS NULL OR finished_at >= ?)",
                    arguments: [id, finishedAfter])
            }
        }
    }

    public func jobCount() async throws -> Int {
        try await run("count jobs") {
            try await read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM jobs") ?? 0 }
        }
    }

    /// Set while the vault file is not the one opened (deleted or replaced): `/ready` answers 503 with it.
    public var availabilityProblem: String? { identity.problem(at: path) }

    /// Vectors held in memory, for observability: rows and bytes of each index.
    public var memoryFill: (geoids: Int, scars: Int, bytes: Int) {
        let geoids = geoidVectors.locked { ($0.count, $0.bytes) }
        let scars = scarVectors.locked { ($0.count, $0.bytes) }
        return (geoids.0, scars.0, geoids.1 + scars.1)
    }
}

/// Vault ids are stored as their wire strings (`vault_a`, `vault_b`), which the table's CHECK enforces.
extension VaultID: DatabaseValueConvertible {}
