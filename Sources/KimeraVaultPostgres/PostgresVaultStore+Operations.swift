#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
import KimeraCore
import KimeraModels
import Logging
import PostgresNIO

/// The `VaultStore` operations in SQL. Each write is one transaction that also sends its `NOTIFY`; the
/// in-memory index changes only after the commit.
extension PostgresVaultStore {
    static let geoidColumns = "geoid_id, semantic_state, symbolic_state, metadata, embedding"
    static let scarColumns = """
        scar_id, geoid_a, geoid_b, reason, timestamp, resolved_by, pre_entropy, post_entropy, delta_entropy, \
        cls_angle, semantic_polarity, mutation_frequency, weight, vault_id
        """

    typealias GeoidRow = (String, String, String, String, ByteBuffer)
    typealias ScarRow = (
        String, String, String, String, String, String, Double, Double, Double, Double, Double, Double, Double, String
    )

    static func geoid(_ row: GeoidRow) throws -> Geoid {
        Geoid(
            geoidID: row.0, semanticState: try VaultRowCoding.decode([String: Double].self, row.1),
            symbolicState: try VaultRowCoding.decode([String: JSONValue].self, row.2),
            metadata: try VaultRowCoding.decode([String: JSONValue].self, row.3),
            embeddingVector: PostgresCoding.floats(row.4))
    }

    static func scar(_ row: ScarRow) throws -> Scar {
        guard let vault = VaultID(rawValue: row.13) else {
            throw VaultError(
                operation: "read SCAR \(row.0)", detail: "its vault_id \"\(row.13)\" is neither vault_a nor vault_b")
        }
        return Scar(
            ScarFigures(
                scarID: row.0, geoids: [row.1, row.2], reason: row.3, timestamp: row.4, resolvedBy: row.5,
                preEntropy: row.6, postEntropy: row.7, deltaEntropy: row.8, clsAngle: row.9, semanticPolarity: row.10,
                mutationFrequency: row.11, weight: row.12),
            vaultID: vault)
    }

    func geoidRows(_ query: PostgresQuery) async throws -> [Geoid] {
        var geoids: [Geoid] = []
        for try await row in try await client.query(query, logger: logger).decode(GeoidRow.self) {
            geoids.append(try Self.geoid(row))
        }
        return geoids
    }

    func scarRows(_ query: PostgresQuery) async throws -> [Scar] {
        var scars: [Scar] = []
        for try await row in try await client.query(query, logger: logger).decode(ScarRow.self) {
            scars.append(try Self.scar(row))
        }
        return scars
    }

    func single<T: PostgresDecodable & Sendable>(
        _ type: T.Type, _ query: PostgresQuery, on connection: PostgresConnection? = nil
    )
        async throws -> T?
    {
        let rows =
            if let connection { try await connection.query(query, logger: logger) } else {
                try await client.query(query, logger: logger)
            }
        var value: T?
        for try await decoded in rows.decode(T.self) where value == nil { value = decoded }
        return value
    }

    static func bind(_ value: String) -> PostgresBindings {
        var binds = PostgresBindings()
        binds.append(value)
        return binds
    }

    static func inOrder<T>(_ ids: [String], _ found: [T], id: (T) -> String) -> [T] {
        let byID = Dictionary(found.map { (id($0), $0) }, uniquingKeysWith: { first, _ in first })
        return ids.compactMap { byID[$0] }
    }

    // MARK: Geoids

    public func insertGeoid(_ stored: StoredGeoid) async throws {
        try await insertGeoids([stored])
    }

    /// Stores many geoids in one transaction (seeding, imports, benchmarks); all or none.
    public func insertGeoids(_ batch: [StoredGeoid]) async throws {
        guard !batch.isEmpty else { return }
        var binds = PostgresBindings()
        try binds.append(batch.map(\.geoid.geoidID))
        try binds.append(batch.map { try VaultRowCoding.json($0.geoid.semanticState) })
        try binds.append(batch.map { try VaultRowCoding.json($0.geoid.symbolicState) })
        try binds.append(batch.map { try VaultRowCoding.json($0.geoid.metadata) })
        try binds.append(batch.map(\.embeddedText))
        try binds.append(batch.map { PostgresCoding.buffer($0.geoid.embeddingVector) })
        try binds.append(batch.map(\.entropy))
        try binds.append(batch.map(\.createdAt))
        let insert = PostgresQuery(
            unsafeSQL: """
                INSERT INTO geoids (geoid_id, semantic_state, symbolic_state, metadata, embedded_text, embedding, \
                entropy, created_at)
                SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bytea[], \
                $7::float8[], $8::float8[])
                """, binds: binds)
        let ids = batch.map(\.geoid.geoidID)
        let operation = batch.count == 1 ? "store geoid \(ids[0])" : "store \(batch.count) geoids"
        try await run(operation) { [self] in
            try await client.withTransaction(logger: logger) { connection in
                try await connection.query(insert, logger: logger)
                try await notify(connection, VaultChangeNotice(geoidsAdded: ids))
            }
        }
        indexes.locked { state in
            for stored in batch { state.apply(.geoid(stored.geoid.geoidID, stored.geoid.embeddingVector)) }
        }
    }

    public func geoid(id: String) async throws -> Geoid? {
        try await run("read geoid \(id)") { [self] in
            try await geoidRows(
                PostgresQuery(
                    unsafeSQL: "SELECT \(Self.geoidColumns) FROM geoids WHERE geoid_id = $1",
                    binds: Self.bind(id))
            ).first
        }
    }

    public func geoids(ids: [String]) async throws -> [Geoid] {
        guard !ids.isEmpty else { return [] }
        let found = try await run("read \(ids.count) geoids") { [self] in
            try await geoidRows(
                PostgresQuery(
                    unsafeSQL: "SELECT \(Self.geoidColumns) FROM geoids WHERE geoid_id = ANY($1)",
                    binds: try Self.binds(ids)))
        }
        return Self.inOrder(ids, found, id: \.geoidID)
    }

    public func deleteGeoid(id: String) async throws -> Bool {
        let deleted = try await run("delete geoid \(id)") { [self] in
            try await client.withTransaction(logger: logger) { connection in
                let gone = try await single(
                    String.self, "DELETE FROM geoids WHERE geoid_id = \(id) RETURNING geoid_id", on: connection)
                if gone != nil { try await notify(connection, VaultChangeNotice(geoidsRemoved: [id])) }
                return gone != nil
            }
        }
        if deleted { indexes.locked { $0.apply(.geoidRemoved(id)) } }
        return deleted
    }

    public func newestGeoids(limit: Int) async throws -> [Geoid] {
        try await run("read the newest geoids") { [self] in
            try await geoidRows(
                "SELECT geoid_id, semantic_state, symbolic_state, metadata, embedding FROM geoids ORDER BY seq DESC LIMIT \(limit)"
            )
        }
    }

    public func geoidCount() async throws -> Int {
        try await run("count geoids") { [self] in
            try await single(Int.self, "SELECT COUNT(*) FROM geoids") ?? 0
        }
    }

    public func nearestGeoids(to vector: [Float], limit: Int, excluding: Set<String> = []) -> [SimilarityHit] {
        indexes.locked { $0.geoids.nearest(to: vector, limit: limit, excluding: excluding) }
    }

    // MARK: SCARs and vaults

    public func scar(id: String) async throws -> Scar? {
        try await run("read SCAR \(id)") { [self] in
            try await scarRows(
                PostgresQuery(
                    unsafeSQL: "SELECT \(Self.scarColumns) FROM scars WHERE scar_id = $1",
                    binds: Self.bind(id))
            ).first
        }
    }

    public func scars(ids: [String]) async throws -> [Scar] {
        guard !ids.isEmpty else { return [] }
        let found = try await run("read \(ids.count) SCARs") { [self] in
            try await scarRows(
                PostgresQuery(
                    unsafeSQL: "SELECT \(Self.scarColumns) FROM scars WHERE scar_id = ANY($1)",
                    binds: try Self.binds(ids)))
        }
        return Self.inOrder(ids, found, id: \.scarID)
    }

    public func nearestScars(to vector: [Float], limit: Int) -> [SimilarityHit] {
        indexes.locked { $0.scars.nearest(to: vector, limit: limit) }
    }

    func totals(_ connection: PostgresConnection?) async throws -> VaultTotals {
        var totals = VaultTotals(countA: 0, countB: 0, weightA: 0, weightB: 0)
        let query: PostgresQuery =
            "SELECT vault_id, COUNT(*)::int8, COALESCE(SUM(weight), 0)::float8 FROM scars GROUP BY vault_id"
        let rows =
            if let connection { try await connection.query(query, logger: logger) } else {
                try await client.query(query, logger: logger)
            }
        for try await (vault, count, weight) in rows.decode((String, Int, Double).self) {
            if vault == VaultID.vaultA.rawValue {
                totals.countA = count
                totals.weightA = weight
            } else {
                totals.countB = count
                totals.weightB = weight
            }
        }
        return totals
    }

    public func vaultTotals() async throws -> VaultTotals {
        try await run("count the vaults' SCARs") { [self] in try await totals(nil) }
    }

    public func vaultContents(_ vault: VaultID, limit: Int) async throws -> [Scar] {
        try await run("read \(vault.rawValue)") { [self] in
            var binds = PostgresBindings()
            binds.append(vault.rawValue)
            binds.append(limit)
            return try await scarRows(
                PostgresQuery(
                    unsafeSQL: "SELECT \(Self.scarColumns) FROM scars WHERE vault_id = $1 ORDER BY seq DESC LIMIT $2",
                    binds: binds))
        }
    }

    /// Locks the vault state row for the rest of the transaction: SCAR placement, rebalancing and the cycle
    /// counter of every instance take turns here.
    func lockVaultState(_ connection: PostgresConnection) async throws {
        try await connection.query("SELECT cycle_count FROM vault_state WHERE id = 1 FOR UPDATE", logger: logger)
    }

    public func rebalance(byWeight: Bool) async throws -> Int {
        try await run("rebalance the vaults") { [self] in
            try await client.withTransaction(logger: logger) { connection in
                try await lockVaultState(connection)
                let totals = try await totals(connection)
                guard let (from, to) = VaultBalance.direction(totals, byWeight: byWeight) else { return 0 }
                var candidates: [RebalanceCandidate] = []
                let rows = try await connection.query(
                    "SELECT scar_id, weight FROM scars WHERE vault_id = \(from.rawValue) ORDER BY weight, seq",
                    logger: logger)
                for try await (id, weight) in rows.decode((String, Double).self) {
                    candidates.append(RebalanceCandidate(scarID: id, weight: weight))
                }
                let moving = VaultBalance.scarsToMove(candidates, totals: totals, from: from, byWeight: byWeight)
                if !moving.isEmpty {
                    try await connection.query(
                        "UPDATE scars SET vault_id = \(to.rawValue) WHERE scar_id = ANY(\(moving))", logger: logger)
                    try await notify(connection, VaultChangeNotice(other: "rebalance"))
                }
                return moving.count
            }
        }
    }

    // MARK: Runs

    public func commitRun(stateUpdates: [GeoidStateUpdate], scars drafts: [ScarDraft]) async throws -> RunCommit {
        var stateBinds = PostgresBindings()
        try stateBinds.append(stateUpdates.map(\.geoidID))
        try stateBinds.append(stateUpdates.map { try VaultRowCoding.json($0.semanticState) })
        try stateBinds.append(stateUpdates.map { SemanticEntropy.entropy($0.semanticState) })
        let updateStates = PostgresQuery(
            unsafeSQL: """
                UPDATE geoids AS g SET semantic_state = u.state, entropy = u.entropy
                FROM UNNEST($1::text[], $2::text[], $3::float8[]) AS u(id, state, entropy) WHERE g.geoid_id = u.id
                """, binds: stateBinds)
        let commit = try await run("store \(drafts.count) SCARs") { [self] in
            try await client.withTransaction(logger: logger) { connection in
                try await lockVaultState(connection)
                if !stateUpdates.isEmpty { try await connection.query(updateStates, logger: logger) }
                var totals = try await totals(connection)
                var placed: [Scar] = []
                for draft in drafts {
                    let vault = VaultBalance.placement(countA: totals.countA, countB: totals.countB)
                    if vault == .vaultA { totals.countA += 1 } else { totals.countB += 1 }
                    placed.append(draft.placed(in: vault))
                }
                if !drafts.isEmpty { try await connection.query(try Self.insertScars(drafts, placed), logger: logger) }
                let cycle =
                    try await single(
                        Int.self,
                        "UPDATE vault_state SET cycle_count = cycle_count + 1 WHERE id = 1 RETURNING cycle_count",
                        on: connection) ?? 0
                try await notify(
                    connection,
                    VaultChangeNotice(
                        scarsAdded: drafts.isEmpty ? nil : drafts.map(\.scarID),
                        other: stateUpdates.isEmpty ? nil : "states"))
                return RunCommit(scars: placed, cycleCount: cycle)
            }
        }
        if !drafts.isEmpty {
            indexes.locked { state in
                for draft in drafts { state.apply(.scar(draft.scarID, draft.embedding)) }
            }
        }
        return commit
    }

    static func insertScars(_ drafts: [ScarDraft], _ placed: [Scar]) throws -> PostgresQuery {
        var binds = PostgresBindings()
        try binds.append(drafts.map(\.scarID))
        try binds.append(drafts.map { $0.geoids[0] })
        try binds.append(drafts.map { $0.geoids[1] })
        try binds.append(drafts.map(\.reason))
        try binds.append(drafts.map(\.timestamp))
        try binds.append(drafts.map(\.resolvedBy))
        try binds.append(drafts.map(\.preEntropy))
        try binds.append(drafts.map(\.postEntropy))
        try binds.append(drafts.map(\.deltaEntropy))
        try binds.append(drafts.map(\.clsAngle))
        try binds.append(drafts.map(\.semanticPolarity))
        try binds.append(drafts.map(\.mutationFrequency))
        try binds.append(drafts.map(\.weight))
        try binds.append(placed.map(\.vaultID.rawValue))
        try binds.append(drafts.map(\.createdAt))
        try binds.append(drafts.map(\.embeddedText))
        try binds.append(drafts.map { PostgresCoding.buffer($0.embedding) })
        return PostgresQuery(
            unsafeSQL: """
                INSERT INTO scars (scar_id, geoid_a, geoid_b, reason, timestamp, resolved_by, pre_entropy, \
                post_entropy, delta_entropy, cls_angle, semantic_polarity, mutation_frequency, weight, vault_id, \
                created_at, embedded_text, embedding)
                SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], \
                $7::float8[], $8::float8[], $9::float8[], $10::float8[], $11::float8[], $12::float8[], $13::float8[], \
                $14::text[], $15::float8[], $16::text[], $17::bytea[])
                """, binds: binds)
    }

    public func stabilityInputs(now: Double) async throws -> StabilityInputs {
        try await run("read the stability inputs") { [self] in
            let since = now - StabilityInputs.pressureSpan
            let window = StabilityInputs.window
            let recent = try await single(Int.self, "SELECT COUNT(*) FROM scars WHERE created_at >= \(since)") ?? 0
            var deltas: [Double] = []
            for try await delta in try await client.query(
                "SELECT delta_entropy FROM scars ORDER BY seq DESC LIMIT \(window)", logger: logger
            ).decode(Double.self) {
                deltas.append(delta)
            }
            var embeddings: [[Float]] = []
            for try await bytes in try await client.query(
                "SELECT embedding FROM geoids ORDER BY seq DESC LIMIT \(window)", logger: logger
            ).decode(ByteBuffer.self) {
                embeddings.append(PostgresCoding.floats(bytes))
            }
            return StabilityInputs(scarsInLastHour: recent, newestScarDeltas: deltas, newestGeoidEmbeddings: embeddings)
        }
    }

    public func cycleCount() async throws -> Int {
        try await run("read the cycle counter") { [self] in
            try await single(Int.self, "SELECT cycle_count FROM vault_state WHERE id = 1") ?? 0
        }
    }

    /// `ok` when the schema is fully migrated and the vault state row exists; PostgreSQL checks its own pages.
    public func integrityCheck() async throws -> String {
        try await run("check its integrity") { [self] in
            let rows = try await single(Int.self, "SELECT COUNT(*) FROM vault_state") ?? 0
            let version = try await single(Int.self, "SELECT MAX(version) FROM kimera_schema_migrations") ?? 0
            var problems: [String] = []
            if rows != 1 { problems.append("vault_state has \(rows) rows, expected 1") }
            if version != PostgresSchema.migrations.last?.version {
                problems.append("schema version \(version), expected \(PostgresSchema.migrations.last?.version ?? 0)")
            }
            return problems.isEmpty ? "ok" : problems.joined(separator: "; ")
        }
    }

    // MARK: Contradiction jobs

    public func startJob(
        id: String, owner: String, now: Double, limits: JobLimits, running: String
    ) async throws -> JobAdmission {
        try await run("start job \(id)") { [self] in
            try await client.withTransaction(logger: logger) { connection in
                try await connection.query("SELECT pg_advisory_xact_lock(\(PostgresSchema.jobLock))", logger: logger)
                try await connection.query(
                    "DELETE FROM jobs WHERE finished_at < \(now - limits.retentionSeconds)", logger: logger)
                let mine =
                    try await single(
                        Int.self, "SELECT COUNT(*) FROM jobs WHERE owner = \(owner) AND finished_at IS NULL",
                        on: connection) ?? 0
                guard mine < limits.runningLimit else { return JobAdmission.tooManyRunning }
                var kept = try await single(Int.self, "SELECT COUNT(*) FROM jobs", on: connection) ?? 0
                if kept >= limits.capacity {
                    let excess = kept - limits.capacity + 1
                    try await connection.query(
                        """
                        DELETE FROM jobs WHERE job_id IN (SELECT job_id FROM jobs WHERE finished_at IS NOT NULL \
                        ORDER BY finished_at LIMIT \(excess))
                        """, logger: logger)
                    kept = try await single(Int.self, "SELECT COUNT(*) FROM jobs", on: connection) ?? 0
                    guard kept < limits.capacity else { return .full }
                }
                try await connection.query(
                    "INSERT INTO jobs (job_id, owner, state, started_at) VALUES (\(id), \(owner), \(running), \(now))",
                    logger: logger)
                return .accepted
            }
        }
    }

    public func finishJob(id: String, state: String, now: Double) async throws {
        try await run("record the end of job \(id)") { [self] in
            try await client.query(
                "UPDATE jobs SET state = \(state), finished_at = \(now) WHERE job_id = \(id)", logger: logger)
            return ()
        }
    }

    public func job(id: String, finishedAfter: Double) async throws -> String? {
        try await run("read job \(id)") { [self] in
            try await single(
                String.self,
                "SELECT state FROM jobs WHERE job_id = \(id) AND (finished_at IS NULL OR finished_at >= \(finishedAfter))"
            )
        }
    }

    public func jobCount() async throws -> Int {
        try await run("count jobs") { [self] in try await single(Int.self, "SELECT COUNT(*) FROM jobs") ?? 0 }
    }
}
