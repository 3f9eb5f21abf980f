import Foundation
import Synchronization

/// Asynchronous contradiction processing. The job table lives in the vault, so that a job started through
/// one instance is readable through any other sharing the vault; each job runs in the instance that
/// accepted it.
public final class ContradictionJobs: Sendable {
    public let store: any VaultStore
    /// Which instance runs the jobs it starts (its running limit is per instance).
    public let owner: String
    public let limits: JobLimits
    /// The table's size as last seen by a start or a read, for `/debug/info` (which must not query).
    private let lastCount = Atomic<Int>(0)

    public init(store: any VaultStore, owner: String, limits: JobLimits = JobLimits()) {
        self.store = store
        self.owner = owner
        self.limits = limits
    }

    public var runningLimit: Int { limits.runningLimit }
    public var retention: Duration { .seconds(limits.retentionSeconds) }

    /// Starts a job; nil when too many are running here (or the table is full of running jobs).
    func start(
        _ request: ProcessRequest, service: KimeraService, profiler: Profiler,
        onFinish: @escaping @Sendable (Result<ProcessResult, any Error>) -> Void
    ) async throws -> String? {
        let id = "job_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        let admission = try await store.startJob(
            id: id, owner: owner, now: Date().timeIntervalSince1970, limits: limits)
        await refreshCount()
        guard admission == .accepted else { return nil }
        let requestID = RequestScope.requestID
        let store = self.store
        Task {
            await RequestScope.$requestID.withValue(requestID) {
                let state: JobStatusResponse
                let outcome: Result<ProcessResult, any Error>
                do {
                    let result = try await profiler.profile("contradiction.process") {
                        try await service.processContradictions(request)
                    }
                    state = JobStatusResponse(jobID: id, status: "completed", result: result, error: nil)
                    outcome = .success(result)
                } catch {
                    let message = (error as? any APIErrorConvertible)?.apiError.message ?? "\(error)"
                    state = JobStatusResponse(jobID: id, status: "failed", result: nil, error: message)
                    outcome = .failure(error)
                }
                do {
                    try await store.finishJob(state, now: Date().timeIntervalSince1970)
                } catch {
                    onFinish(.failure(error))
                    return
                }
                onFinish(outcome)
            }
        }
        return id
    }

    func state(_ id: String) async throws -> JobStatusResponse? {
        try await store.job(id: id, finishedAfter: Date().timeIntervalSince1970 - limits.retentionSeconds)
    }

    var fill: BufferFill {
        let used = lastCount.load(ordering: .relaxed)
        return BufferFill(
            used: used, limit: limits.capacity, bytes: used * 2048, bytesLimit: limits.capacity * 2048, dropped: 0)
    }

    private func refreshCount() async {
        if let count = try? await store.jobCount() { lastCount.store(count, ordering: .relaxed) }
    }
}
