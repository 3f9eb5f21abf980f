import Foundation
import KimeraCore
import KimeraModels
import KimeraObservability
import ServiceLifecycle
import Synchronization

/// Asynchronous contradiction processing (docs/API.md §5): a bounded table of jobs, each readable until it
/// expires, and the tasks that run them. As a service of the application it takes part in shutdown: on a
/// stop signal it accepts no new job and waits for the running ones; when that wait is cancelled (grace
/// period over, second signal) it cancels them.
public final class ContradictionJobs: Service, Sendable {
    struct Job: Sendable {
        var state: JobStatusResponse
        var finishedAt: Date?
    }

    struct Table: Sendable {
        var jobs: [String: Job] = [:]
        /// The tasks of the running jobs, so shutdown can wait for them or cancel them.
        var tasks: [String: Task<Void, Never>] = [:]
        var accepting = true
    }

    /// At most this many jobs are kept (running + finished); the oldest finished ones go first.
    public let capacity: Int
    /// At most this many run at once; more get a 503.
    public let runningLimit: Int
    /// How long a finished job stays readable.
    public let retention: Duration
    /// Protects the job table and the running tasks.
    private let table = Mutex<Table>(Table())

    public init(capacity: Int = 1000, runningLimit: Int = 16, retention: Duration = .seconds(600)) {
        self.capacity = capacity
        self.runningLimit = runningLimit
        self.retention = retention
    }

    /// Starts a job; nil when too many are running or shutdown has begun.
    func start(
        _ request: ProcessRequest, service: KimeraService, profiler: Profiler,
        onFinish: @escaping @Sendable (Result<ProcessResult, any Error>) -> Void
    ) -> String? {
        let id = "job_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        let requestID = RequestScope.requestID
        return table.withLock { table -> String? in
            guard table.accepting else { return nil }
            prune(&table.jobs, now: Date())
            guard table.tasks.count < runningLimit else { return nil }
            while table.jobs.count >= capacity,
                let oldest = table.jobs.filter({ $0.value.finishedAt != nil }).min(by: {
                    $0.value.finishedAt! < $1.value.finishedAt!
                })?.key
            {
                table.jobs[oldest] = nil
            }
            guard table.jobs.count < capacity else { return nil }
            table.jobs[id] = Job(state: JobStatusResponse(jobID: id, status: .running), finishedAt: nil)
            // Created under the lock: the task's own `finish` waits for it, so it is always registered
            // before it can unregister itself.
            table.tasks[id] = Task {
                await RequestScope.$requestID.withValue(requestID) {
                    do {
                        let result = try await profiler.profile("contradiction.process") {
                            try await service.processContradictions(request)
                        }
                        finish(id, JobStatusResponse(jobID: id, status: .completed, result: result))
                        onFinish(.success(result))
                    } catch {
                        let message =
                            error is CancellationError
                            ? "The server shut down before the job finished; start it again."
                            : (error as? any APIErrorConvertible)?.apiError.message ?? "\(error)"
                        finish(id, JobStatusResponse(jobID: id, status: .failed, error: message))
                        onFinish(.failure(error))
                    }
                }
            }
            return id
        }
    }

    func state(_ id: String) -> JobStatusResponse? {
        table.withLock { table in
            prune(&table.jobs, now: Date())
            return table.jobs[id]?.state
        }
    }

    /// How many jobs are running now.
    public var running: Int { table.withLock { $0.tasks.count } }

    var fill: BufferFill {
        table.withLock {
            BufferFill(
                used: $0.jobs.count, limit: capacity, bytes: $0.jobs.count * 2048, bytesLimit: capacity * 2048,
                dropped: 0)
        }
    }

    /// Waits for graceful shutdown, then drains.
    public func run() async throws {
        try? await gracefulShutdown()
        await drain()
    }

    /// Accepts no new job and waits until the running ones have finished; cancelling the caller cancels
    /// them (they end as `failed`).
    public func drain() async {
        let tasks = table.withLock { table in
            table.accepting = false
            return Array(table.tasks.values)
        }
        await withTaskCancellationHandler {
            for task in tasks { await task.value }
        } onCancel: {
            for task in tasks { task.cancel() }
        }
    }

    private func finish(_ id: String, _ state: JobStatusResponse) {
        table.withLock { table in
            table.jobs[id] = Job(state: state, finishedAt: Date())
            table.tasks[id] = nil
        }
    }

    private func prune(_ jobs: inout [String: Job], now: Date) {
        let cutoff = now.addingTimeInterval(-retention.seconds)
        jobs = jobs.filter { $0.value.finishedAt.map { $0 > cutoff } ?? true }
    }
}
