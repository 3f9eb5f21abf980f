#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
import KimeraCore
import KimeraModels
import Logging
import PostgresNIO

/// The vault's tables in PostgreSQL and their versioned migrations. A released migration is never edited,
/// only followed by a new one. Migrating holds a session advisory lock, so that N instances starting at once
/// apply each migration exactly once (the others wait, then find it recorded).
enum PostgresSchema {
    /// `pg_advisory_lock` key of schema changes ("kimera" on a phone keypad).
    static let migrationLock: Int64 = 546_372
    /// `pg_advisory_xact_lock` key of the job table.
    static let jobLock: Int64 = 546_373

    struct Migration {
        var version: Int
        var name: String
        var statements: [String]
    }

    static let migrations: [Migration] = [
        Migration(
            version: 1, name: "geoids_scars_vault_state",
            statements: [
                """
                CREATE TABLE geoids (
                    seq BIGSERIAL PRIMARY KEY,
                    geoid_id TEXT NOT NULL UNIQUE,
                    semantic_state TEXT NOT NULL,
                    symbolic_state TEXT NOT NULL,
                    metadata TEXT NOT NULL,
                    embedded_text TEXT NOT NULL,
                    embedding BYTEA NOT NULL,
                    entropy DOUBLE PRECISION NOT NULL,
                    created_at DOUBLE PRECISION NOT NULL)
                """,
                """
                CREATE TABLE scars (
                    seq BIGSERIAL PRIMARY KEY,
                    scar_id TEXT NOT NULL UNIQUE,
                    geoid_a TEXT NOT NULL,
                    geoid_b TEXT NOT NULL,
                    reason TEXT NOT NULL,
                    timestamp TEXT NOT NULL,
                    resolved_by TEXT NOT NULL,
                    pre_entropy DOUBLE PRECISION NOT NULL,
                    post_entropy DOUBLE PRECISION NOT NULL,
                    delta_entropy DOUBLE PRECISION NOT NULL,
                    cls_angle DOUBLE PRECISION NOT NULL,
                    semantic_polarity DOUBLE PRECISION NOT NULL,
                    mutation_frequency DOUBLE PRECISION NOT NULL,
                    weight DOUBLE PRECISION NOT NULL,
                    vault_id TEXT NOT NULL CHECK (vault_id IN ('vault_a', 'vault_b')),
                    created_at DOUBLE PRECISION NOT NULL,
                    embedded_text TEXT NOT NULL,
                    embedding BYTEA NOT NULL)
                """,
                "CREATE INDEX scars_by_vault_seq ON scars (vault_id, seq)",
                "CREATE INDEX scars_by_vault_weight ON scars (vault_id, weight, seq)",
                "CREATE INDEX scars_by_created_at ON scars (created_at)",
                // The one row every SCAR placement, rebalance and cycle locks (FOR UPDATE).
                """
                CREATE TABLE vault_state (
                    id INTEGER PRIMARY KEY CHECK (id = 1),
                    cycle_count BIGINT NOT NULL,
                    embedder TEXT)
                """,
                "INSERT INTO vault_state (id, cycle_count) VALUES (1, 0)",
            ]),
        Migration(
            version: 2, name: "contradiction_jobs",
            statements: [
                """
                CREATE TABLE jobs (
                    job_id TEXT PRIMARY KEY,
                    owner TEXT NOT NULL,
                    state TEXT NOT NULL,
                    started_at DOUBLE PRECISION NOT NULL,
                    finished_at DOUBLE PRECISION)
                """,
                "CREATE INDEX jobs_by_finished_at ON jobs (finished_at)",
                "CREATE INDEX jobs_running_by_owner ON jobs (owner) WHERE finished_at IS NULL",
            ]),
    ]

    /// Under the migration lock: applies the missing migrations, each in its own transaction, then re-embeds
    /// the vault when the embedder changed.
    static func prepare(_ connection: PostgresConnection, embedder: any Embedder, logger: Logger) async throws {
        try await connection.query("SELECT pg_advisory_lock(\(migrationLock))", logger: logger)
        do {
            try await connection.query(
                """
                CREATE TABLE IF NOT EXISTS kimera_schema_migrations (
                    version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())
                """, logger: logger)
            let applied = try await appliedVersions(connection, logger: logger)
            for migration in migrations where !applied.contains(migration.version) {
                try await connection.withTransaction(logger: logger) { connection in
                    for statement in migration.statements {
                        try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                    }
                    try await connection.query(
                        "INSERT INTO kimera_schema_migrations (version, name) VALUES (\(migration.version), \(migration.name))",
                        logger: logger)
                }
                logger.notice(
                    "vault schema migrated", metadata: ["version": "\(migration.version)", "name": "\(migration.name)"])
            }
            try await reembedIfNeeded(connection, embedder: embedder, logger: logger)
        } catch {
            _ = try? await connection.query("SELECT pg_advisory_unlock(\(migrationLock))", logger: logger)
            throw error
        }
        try await connection.query("SELECT pg_advisory_unlock(\(migrationLock))", logger: logger)
    }

    static func appliedVersions(_ connection: PostgresConnection, logger: Logger) async throws -> [Int] {
        var versions: [Int] = []
        let rows = try await connection.query(
            "SELECT version FROM kimera_schema_migrations ORDER BY version", logger: logger)
        for try await version in rows.decode(Int.self) { versions.append(version) }
        return versions
    }

    /// When the stored embedder identifier differs from `embedder`'s, re-embeds every geoid and SCAR from its
    /// stored text, in one transaction, so that all vectors come from one embedder.
    static func reembedIfNeeded(_ connection: PostgresConnection, embedder: any Embedder, logger: Logger) async throws {
        try await connection.withTransaction(logger: logger) { connection in
            var stored: String?
            for try await value in try await connection.query(
                "SELECT embedder FROM vault_state WHERE id = 1 FOR UPDATE", logger: logger
            ).decode(String?.self) {
                stored = value
            }
            guard stored != embedder.identifier else { return }
            if stored != nil {
                for table in ["geoids", "scars"] {
                    var seqs: [Int64] = []
                    var vectors: [ByteBuffer] = []
                    let rows = try await connection.query(
                        PostgresQuery(unsafeSQL: "SELECT seq, embedded_text FROM \(table)"), logger: logger)
                    for try await (seq, text) in rows.decode((Int64, String).self) {
                        seqs.append(seq)
                        vectors.append(PostgresCoding.buffer(embedder.embed(text)))
                    }
                    var binds = PostgresBindings()
                    binds.append(seqs)
                    binds.append(vectors)
                    try await connection.query(
                        PostgresQuery(
                            unsafeSQL: """
                                UPDATE \(table) AS t SET embedding = u.embedding
                                FROM UNNEST($1::bigint[], $2::bytea[]) AS u(seq, embedding) WHERE t.seq = u.seq
                                """, binds: binds), logger: logger)
                }
                logger.notice("vault re-embedded", metadata: ["embedder": "\(embedder.identifier)"])
            }
            try await connection.query(
                "UPDATE vault_state SET embedder = \(embedder.identifier) WHERE id = 1", logger: logger)
        }
    }
}

/// Column values as the PostgreSQL vault stores them (the same bytes as SQLite's: `VaultRowCoding`).
enum PostgresCoding {
    static func buffer(_ vector: [Float]) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.reserveCapacity(vector.count * MemoryLayout<Float>.size)
        vector.withUnsafeBytes { _ = buffer.writeBytes($0) }
        return buffer
    }

    static func floats(_ buffer: ByteBuffer) -> [Float] {
        buffer.withUnsafeReadableBytes { raw in
            let count = raw.count / MemoryLayout<Float>.size
            return (0..<count).map { raw.loadUnaligned(fromByteOffset: $0 * MemoryLayout<Float>.size, as: Float.self) }
        }
    }
}
