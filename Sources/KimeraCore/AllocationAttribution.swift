import CKimeraAllocations

/// The allocation count of a profiled operation (docs/OPERATIONS.md "Allocations per operation") carried
/// across a hop to a thread outside Swift concurrency. The allocator counts per Swift task; work a task hands
/// to Dispatch (`ComputeOffload`) or to a database queue runs on threads with no current task, so the side
/// that hands the work over takes `current` and the thread that runs it `adopt`s it. While nothing is
/// profiled, `current` is one relaxed load and `adopt` runs the body as it is.
public struct AllocationAttribution: Sendable {
    let slot: Int32

    /// Where allocations on this thread are counted now.
    public static var current: AllocationAttribution { AllocationAttribution(slot: kimera_alloc_current_slot()) }

    init(slot: Int32) { self.slot = slot }

    /// Runs `body` with this thread's allocations counted where `self` counts them.
    public func adopt<T, Failure: Error>(_ body: () throws(Failure) -> T) throws(Failure) -> T {
        guard slot >= 0 else { return try body() }
        let previous = kimera_alloc_adopt(slot)
        defer { kimera_alloc_adopt(previous) }
        return try body()
    }
}
