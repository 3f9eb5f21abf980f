import KimeraModels

/// A geoid as the vault stores it: the wire geoid plus what the vault needs to rank and re-embed it.
public struct StoredGeoid: Sendable, Equatable {
    public var geoid: Geoid
    /// The text `geoid.embeddingVector` embeds; kept so that a new embedder can re-embed the geoid.
    public var embeddedText: String
    /// Entropy of `geoid.semanticState`.
    public var entropy: Double
    /// Seconds since 1970.
    public var createdAt: Double

    public init(geoid: Geoid, embeddedText: String, entropy: Double, createdAt: Double) {
        self.geoid = geoid
        self.embeddedText = embeddedText
        self.entropy = entropy
        self.createdAt = createdAt
    }
}

/// What one processing run or cognitive cycle committed.
public struct RunCommit: Sendable, Equatable {
    /// The SCARs as stored, each in the vault it was placed in.
    public var scars: [Scar]
    /// The cycle counter after this run.
    public var cycleCount: Int

    public init(scars: [Scar], cycleCount: Int) {
        self.scars = scars
        self.cycleCount = cycleCount
    }
}

/// Where geoids and SCARs live. Every write returns only after its transaction has committed, and the
/// in-memory vectors searched by `nearestGeoids` / `nearestScars` always mirror the committed rows.
/// Implementations wrap storage failures in `VaultError`.
public protocol VaultStore: Sendable {
    /// The database behind the store, for `database.dialect`: `sqlite`, `postgresql`.
    var dialect: String { get }

    // MARK: Geoids

    func insertGeoid(_ geoid: StoredGeoid) async throws
    func geoid(id: String) async throws -> Geoid?
    /// The geoids that exist among `ids`, in the order asked.
    func geoids(ids: [String]) async throws -> [Geoid]
    /// Returns whether the geoid existed.
    func deleteGeoid(id: String) async throws -> Bool
    /// Newest first.
    func newestGeoids(limit: Int) async throws -> [Geoid]
    func geoidCount() async throws -> Int
    /// In-memory cosine ranking over every geoid's embedding.
    func nearestGeoids(to vector: [Float], limit: Int, excluding: Set<String>) -> [SimilarityHit]

    // MARK: SCARs and vaults

    func scar(id: String) async throws -> Scar?
    /// The SCARs that exist among `ids`, in the order asked.
    func scars(ids: [String]) async throws -> [Scar]
    /// In-memory cosine ranking over every SCAR's vector.
    func nearestScars(to vector: [Float], limit: Int) -> [SimilarityHit]
    func vaultTotals() async throws -> VaultTotals
    /// Newest first.
    func vaultContents(_ vault: VaultID, limit: Int) async throws -> [Scar]
    /// Moves SCARs from the heavier vault to the other in one transaction; returns how many moved.
    func rebalance(byWeight: Bool) async throws -> Int

    // MARK: Runs

    /// In one transaction: stores the new semantic states, places and stores the SCARs (each in the vault
    /// holding fewer at that moment, ties to vault_a), and increments the cycle counter.
    func commitRun(stateUpdates: [GeoidStateUpdate], scars: [ScarDraft]) async throws -> RunCommit
    /// The SCARs since `now` − 1 h, the newest SCAR deltas and the newest geoid embeddings.
    func stabilityInputs(now: Double) async throws -> StabilityInputs
    func cycleCount() async throws -> Int
    /// `ok`, or what the database found wrong.
    func integrityCheck() async throws -> String

    // MARK: Contradiction jobs

    // A job's state is a document the server writes (the JSON `GET /kimera/contradiction/jobs/{job_id}`
    // answers); the vault keeps it as text and never reads it.

    /// In one transaction: forgets the jobs that finished before `now` − `limits.retentionSeconds`, refuses
    /// when `owner` already runs `limits.runningLimit` jobs, makes room by forgetting the oldest finished jobs
    /// while `limits.capacity` are kept, and records `id` as running for `owner`, its state `running`.
    func startJob(id: String, owner: String, now: Double, limits: JobLimits, running: String) async throws
        -> JobAdmission
    /// Records the final state of a job (`completed` or `failed`), finished at `now`.
    func finishJob(id: String, state: String, now: Double) async throws
    /// The job's state; nil when unknown or finished before `finishedAfter`.
    func job(id: String, finishedAfter: Double) async throws -> String?
    /// Jobs kept (running and finished).
    func jobCount() async throws -> Int

    // MARK: Health

    /// Nil while the vault can serve; else why not, in a sentence (for `/ready`).
    var availabilityProblem: String? { get }

    // MARK: Lifecycle

    /// Releases the database at shutdown, once nothing uses the store any more.
    func close() async throws
}

extension VaultStore {
    /// Adapters with nothing to release need not implement `close`.
    public func close() async throws {}
}

/// The bounds of the contradiction job table, declared in one place.
public struct JobLimits: Sendable, Equatable {
    /// At most this many jobs are kept (running + finished); the oldest finished ones go first.
    public var capacity: Int
    /// At most this many run at once in one instance.
    public var runningLimit: Int
    /// How long a finished job stays readable.
    public var retentionSeconds: Double

    public init(capacity: Int = 1000, runningLimit: Int = 16, retentionSeconds: Double = 600) {
        self.capacity = capacity
        self.runningLimit = runningLimit
        self.retentionSeconds = retentionSeconds
    }
}

/// Whether `startJob` recorded the job.
public enum JobAdmission: Sendable, Equatable {
    case accepted
    /// The instance already runs `runningLimit` jobs.
    case tooManyRunning
    /// `capacity` jobs are kept and none of them has finished.
    case full
}

/// A storage failure, with the operation it interrupted.
public struct VaultError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What the vault was doing, e.g. "store a geoid".
    public var operation: String
    /// What the database said.
    public var detail: String

    public init(operation: String, detail: String) {
        self.operation = operation
        self.detail = detail
    }

    public var message: String { "The vault could not \(operation): \(detail)." }
    public var description: String { message }
}
