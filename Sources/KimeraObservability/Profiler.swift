import CKimeraAllocations
import KimeraAPI
import KimeraModels
import Synchronization

/// Runtime profiling of named operations (vault writes, searches, embeddings, contradiction processing).
/// Off by default; when off, `profile` costs one atomic load. When on, each call records its duration and
/// the allocations its task made (counted exactly by the interposed allocator, `kimera_allocations.h`, also
/// where the work hops to Dispatch or the database's queues), tagged with the request id, into a bounded
/// ring and per-name statistics (docs/OPERATIONS.md "Allocations per operation").
public final class Profiler: Sendable {
    struct State: Sendable {
        var ring: [Profile] = []
        var head = 0
        var dropped: UInt64 = 0
        var functions: [String: LatencyRecorder] = [:]
        var allocations: [String: AllocationTotals] = [:]
    }

    /// Per-name sums of the counted calls (a call outside any task is timed but not counted).
    struct AllocationTotals {
        var calls: Int64 = 0
        var allocations: Int64 = 0
        var bytes: Int64 = 0

        /// One more counted call (one dictionary access for the three sums).
        mutating func add(allocations: Int64, bytes: Int64) {
            calls += 1
            self.allocations += allocations
            self.bytes += bytes
        }
    }

    let runtime: RuntimeConfiguration
    public let capacity: Int
    public let nameLimit: Int
    /// Protects the ring of profiles and the per-name statistics.
    private let state = Mutex<State>(State())
    /// With OpenTelemetry export on, each profiled call is also a child span of the request's span,
    /// whether profiling is on or not. Nil when export is off.
    let operations: (any OperationTracing)?

    public init(
        runtime: RuntimeConfiguration, capacity: Int, nameLimit: Int, operations: (any OperationTracing)? = nil
    ) {
        self.runtime = runtime
        self.capacity = max(1, capacity)
        self.nameLimit = max(1, nameLimit)
        self.operations = operations
    }

    @discardableResult
    public func profile<T>(_ name: String, _ body: () throws -> T) rethrows -> T {
        if let operations { return try operations.span(name) { try measure(name, body) } }
        return try measure(name, body)
    }

    @discardableResult
    public func profile<T>(_ name: String, _ body: () async throws -> T) async rethrows -> T {
        if let operations { return try await operations.span(name) { try await measure(name, body) } }
        return try await measure(name, body)
    }

    /// An escalated request in scope (docs/OPERATIONS.md "One-request escalation") is timed whether or
    /// not profiling is on; with neither, this costs two relaxed loads.
    @inline(__always)
    private func measure<T>(_ name: String, _ body: () throws -> T) rethrows -> T {
        let escalation = RequestEscalation.anyActive ? RequestScope.escalation : nil
        guard runtime.profiling || escalation != nil else { return try body() }
        let start = Measurement.start(counting: runtime.profiling)
        defer { record(name, start, escalation: escalation) }
        return try body()
    }

    @inline(__always)
    private func measure<T>(_ name: String, _ body: () async throws -> T) async rethrows -> T {
        let escalation = RequestEscalation.anyActive ? RequestScope.escalation : nil
        guard runtime.profiling || escalation != nil else { return try await body() }
        let start = Measurement.start(counting: runtime.profiling)
        defer { record(name, start, escalation: escalation) }
        return try await body()
    }

    struct Measurement {
        var wall: Int64
        var monotonic: Int64
        /// Where the task's allocations stood; slot -1 when they are not counted (profiling off, no task).
        var allocations: kimera_alloc_mark
        static func start(counting: Bool) -> Measurement {
            Measurement(
                wall: Timestamp.wallNanos(), monotonic: Timestamp.monotonicNanos(),
                allocations: counting ? kimera_alloc_begin() : kimera_alloc_mark(slot: -1, owner: 0, allocations: 0, bytes: 0))
        }
    }

    private func record(_ name: String, _ start: Measurement, escalation: RequestEscalation?) {
        let duration = Timestamp.monotonicNanos() - start.monotonic
        var allocations: UInt64 = 0
        var bytes: UInt64 = 0
        kimera_alloc_end(start.allocations, &allocations, &bytes)
        escalation?.add(RequestEscalation.Category(operation: name), nanos: duration)
        guard runtime.profiling else { return }
        let counted = start.allocations.slot >= 0
        let profile = Profile(
            name: name, requestID: RequestScope.requestID, startedAt: Timestamp.iso8601(nanos: start.wall),
            durationMs: Double(duration) / 1e6, allocations: counted ? Int64(allocations) : nil,
            allocatedBytes: counted ? Int64(bytes) : nil, peakRSSBytes: ProcessMetrics.peakResidentBytes())
        state.locked { state in
            if state.ring.count < capacity {
                state.ring.append(profile)
            } else {
                state.ring[state.head] = profile
                state.head = (state.head + 1) % capacity
                state.dropped += 1
            }
            let key = state.functions[name] != nil || state.functions.count < nameLimit ? name : "<overflow>"
            state.functions[key, default: LatencyRecorder()].record(nanos: duration, error: false)
            if counted {
                state.allocations[key, default: AllocationTotals()].add(
                    allocations: Int64(allocations), bytes: Int64(bytes))
            }
        }
    }

    /// Newest first.
    public func profiles(named name: String? = nil, limit: Int) -> [Profile] {
        state.locked { state in
            let ordered = Array(state.ring[state.head...] + state.ring[..<state.head])
            return Array(ordered.reversed().filter { name == nil || $0.name == name }.prefix(limit))
        }
    }

    public func functions() -> [String: TimingStats] {
        state.locked { $0.functions.mapValues(\.timing) }
    }

    /// Per-name allocation figures of the counted calls.
    public func allocations() -> [String: AllocationStats] {
        state.locked { state in
            state.allocations.mapValues {
                AllocationStats(calls: $0.calls, allocations: $0.allocations, allocatedBytes: $0.bytes)
            }
        }
    }

    var fill: BufferFill {
        state.locked { state in
            BufferFill(
                used: state.ring.count, limit: capacity, bytes: state.ring.count * 160,
                bytesLimit: capacity * 160, dropped: Int(clamping: state.dropped))
        }
    }
}
