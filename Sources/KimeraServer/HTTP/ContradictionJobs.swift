import Foundation
import Synchronization

/// Asynchronous contradiction processing: a bounded table of jobs, each readable until it expires.
public final class ContradictionJobs: Sendable {
    struct Job: Sendable {
        var state: JobStatusResponse
        var finishedAt: Date?
    }

    /// At most this many jobs are kept (running + finished); the oldest finished ones go first.
    public let capacity: Int
    /// At most this many run at once; more get a 503.
    public let runningLimit: Int
    /// How long a finished job stays readable.
    public let retention: Duration
    /// Protects the job table.
    private let jobs = Mutex<[String: Job]>([:])

    public init(capacity: Int = 1000, runningLimit: Int = 16, retention: Duration = .seconds(600)) {
        self.capacity = capacity
        self.runningLimit = runningLimit
        self.retention = retention
    }

    /// Starts a job; nil when too many are running.
    func start(
        _ request: ProcessRequest, service: KimeraService, profiler: Profiler,
        onFinish: @escaping @Sendable (Result<ProcessResult, any Error>) -> Void
    ) -> String? {
        let id = "job_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        let accepted = jobs.withLock { jobs -> Bool in
            prune(&jobs, now: Date())
            let running = jobs.values.filter { $0.finishedAt == nil }.count
            guard running < runningLimit else { return false }
            while jobs.count >= capacity,
                let oldest = jobs.filter({ $0.value.finishedAt != nil }).min(by: {
                    $0.value.finishedAt! < $1.value.finishedAt!
                })?.key
            {
                jobs[oldest] = nil
            }
            guard jobs.count < capacity else { return false }
            jobs[id] = Job(
                state: JobStatusResponse(jobID: id, status: "running", result: nil, error: nil), finishedAt: nil)
            return true
        }
        guard accepted else { return nil }
        let requestID = RequestScope.requestID
        Task {
            await RequestScope.$requestID.withValue(requestID) {
                do {
                    let result = try await profiler.profile("contradiction.process") {
                        try await service.processContradictions(request)
                    }
                    finish(id, JobStatusResponse(jobID: id, status: "completed", result: result, error: nil))
                    onFinish(.success(result))
                } catch {
                    let message = (error as? any APIErrorConvertible)?.apiError.message ?? "\(error)"
                    finish(id, JobStatusResponse(jobID: id, status: "failed", result: nil, error: message))
                    onFinish(.failure(error))
                }
            }
        }
        return id
    }

    func state(_ id: String) -> JobStatusResponse? {
        jobs.withLock { jobs in
            prune(&jobs, now: Date())
            return jobs[id]?.state
        }
    }

    var fill: BufferFill {
        jobs.withLock {
            BufferFill(used: $0.count, limit: capacity, bytes: $0.count * 2048, bytesLimit: capacity * 2048, dropped: 0)
        }
    }

    private func finish(_ id: String, _ state: JobStatusResponse) {
        jobs.withLock { jobs in
            jobs[id] = Job(state: state, finishedAt: Date())
        }
    }

    private func prune(_ jobs: inout [String: Job], now: Date) {
        let cutoff = now.addingTimeInterval(-retention.seconds)
        jobs = jobs.filter { $0.value.finishedAt.map { $0 > cutoff } ?? true }
    }
}
