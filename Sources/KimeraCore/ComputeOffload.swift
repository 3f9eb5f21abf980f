import Dispatch

/// Runs CPU-bound domain work (pairwise tension, the cognitive cycle) on a Dispatch thread instead of the
/// Swift concurrency pool. That pool has one thread per core: a processing run over 100 geoids with
/// thousands of features each, on two cores, would otherwise hold every thread and stall all other
/// requests (seen with schemathesis: a `GET` of a job waiting a minute). Dispatch threads are scheduled by
/// the kernel beside the pool's, so requests keep being served while the work runs. The work's allocations
/// count for the operation that offloaded it (`AllocationAttribution`).
public enum ComputeOffload {
    public static func run<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        let attribution = AllocationAttribution.current
        return try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global(qos: .userInitiated).async {
                continuation.resume(with: Result { try attribution.adopt(work) })
            }
        }
    }
}
