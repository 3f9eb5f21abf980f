#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
import KimeraAPI
import KimeraCore
import KimeraModels
import KimeraObservability
import ServiceLifecycle
import Synchronization

/// Asynchronous contradiction processing (docs/API.md §5). The job table lives in the vault, so that a job
/// started through one instance is readable through any other sharing the vault; each job runs in the
/// instance that accepted it, as a task this object keeps. As a service of the application it takes part in
/// shutdown: on a stop signal it accepts no new job and waits for the running ones; when that wait is
/// cancelled (grace period over, second signal) it cancels them.
public final class ContradictionJobs: Service, Sendable {
    struct Table: Sendable {
        /// The tasks of the running jobs, so shutdown can wait for them or cancel them.
        var tasks: [String: Task<Void, Never>] = [:]
        var accepting = true
    }

    public let store: any VaultStore
    /// Which instance runs the jobs it starts (its running limit is per instance).
    public let owner: String
    public let limits: JobLimits
    /// Protects the running tasks and whether new jobs are accepted.
    private let table = Mutex<Table>(Table())
    /// The table's size as last seen by a start, for `/debug/info` (which must not query the vault).
    private let lastCount = Atomic<Int>(0)

    public init(store: any VaultStore, owner: String, limits: JobLimits = JobLimits()) {
        self.store = store
        self.owner = owner
        self.limits = limits
    }

    /// At most this many jobs are kept (running + finished); the oldest finished ones go first.
    public var capacity: Int { limits.capacity }
    /// At most this many run at once in this instance; more get a 503.
    public var runningLimit: Int { limits.runningLimit }
    /// How long a finished job stays readable.
    public var retention: Duration { .seconds(limits.retentionSeconds) }

    /// Starts a job and returns its id. A refusal is a 503 that says which limit it met: this instance runs
    /// `runningLimit` jobs already, the table holds `capacity` jobs none of which has finished, or shutdown
    /// has begun (API.md §5).
    func start(
        trigger: String, searchLimit: Int, forceCollapse: Bool, service: KimeraService, profiler: Profiler,
        onFinish: @escaping @Sendable (Result<KimeraCore.ProcessResult, any Error>) -> Void
    ) async throws -> String {
        guard table.locked({ $0.accepting }) else {
            throw APIError.unavailable("The server is shutting down and starts no new jobs; send it to another instance.")
        }
        let id = "job_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        let admission = try await store.startJob(
            id: id, owner: owner, now: Date().timeIntervalSince1970, limits: limits,
            running: try Self.document(JobStatusResponse(jobID: id, status: .running)))
        if let count = try? await store.jobCount() { lastCount.store(count, ordering: .relaxed) }
        if let refusal = Self.refusal(admission, limits: limits) { throw refusal }
        let requestID = RequestScope.requestID
        let store = self.store
        table.locked { table in
            // Created under the lock: the task's own `finish` waits for it, so it is always registered
            // before it can unregister itself.
            table.tasks[id] = Task {
                await RequestScope.$requestID.withValue(requestID) {
                    let state: JobStatusResponse
                    let outcome: Result<KimeraCore.ProcessResult, any Error>
                    do {
                        let result = try await profiler.profile("contradiction.process") {
                            try await service.processContradictions(
                                trigger: trigger, searchLimit: searchLimit, forceCollapse: forceCollapse)
                        }
                        state = JobStatusResponse(jobID: id, status: .completed, result: .init(result))
                        outcome = .success(result)
                    } catch {
                        let message =
                            error is CancellationError
                            ? "The server shut down before the job finished; start it again."
                            : (error as? any APIErrorConvertible)?.apiError.message ?? "\(error)"
                        state = JobStatusResponse(jobID: id, status: .failed, error: message)
                        outcome = .failure(error)
                    }
                    do {
                        try await store.finishJob(
                            id: id, state: try Self.document(state), now: Date().timeIntervalSince1970)
                        onFinish(outcome)
                    } catch {
                        onFinish(.failure(error))
                    }
                    self.table.locked { _ = $0.tasks.removeValue(forKey: id) }
                }
            }
        }
        return id
    }

    /// The 503 for a job the store did not admit, naming the limit it met; nil when admitted.
    static func refusal(_ admission: JobAdmission, limits: JobLimits) -> APIError? {
        switch admission {
        case .accepted:
            return nil
        case .tooManyRunning:
            return .unavailable(
                "Too many contradiction jobs are running (\(limits.runningLimit)); retry when one finishes.")
        case .full:
            return .unavailable(
                "The job table is full: \(limits.capacity) jobs are kept and none has finished; retry when one finishes.")
        }
    }

    func state(_ id: String) async throws -> JobStatusResponse? {
        let document = try await store.job(
            id: id, finishedAfter: Date().timeIntervalSince1970 - limits.retentionSeconds)
        return try document.map { try VaultRowCoding.decode(JobStatusResponse.self, $0) }
    }

    /// A job's state as the vault keeps it: the JSON its `GET` answers.
    static func document(_ state: JobStatusResponse) throws -> String { try VaultRowCoding.json(state) }

    /// How many jobs are running now in this instance.
    public var running: Int { table.locked { $0.tasks.count } }

    var fill: BufferFill {
        let used = lastCount.load(ordering: .relaxed)
        return BufferFill(
            used: used, limit: limits.capacity, bytes: used * 2048, bytesLimit: limits.capacity * 2048, dropped: 0)
    }

    /// Waits for graceful shutdown, then drains.
    public func run() async throws {
        try? await gracefulShutdown()
        await drain()
    }

    /// Accepts no new job and waits until the running ones have finished; cancelling the caller cancels
    /// them (they end as `failed`).
    public func drain() async {
        let tasks = table.locked { table in
            table.accepting = false
            return Array(table.tasks.values)
        }
        await withTaskCancellationHandler {
            for task in tasks { await task.value }
        } onCancel: {
            for task in tasks { task.cancel() }
        }
    }
}
