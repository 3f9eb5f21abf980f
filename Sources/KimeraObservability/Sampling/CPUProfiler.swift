import CKimeraProfiler
import Foundation

/// CPU profiles of the running process (`GET /debug/pprof/profile`): a SIGPROF handler in `CKimeraProfiler`
/// samples the stacks of the threads on the CPU while a profile runs; this drains, aggregates and symbolizes
/// them. One profile at a time, process-wide; nothing runs, is installed or is allocated when none does.
public enum CPUProfiler {
    /// The bounds `GET /debug/pprof/profile` accepts.
    public static let secondsRange = 1...300
    public static let hzRange = 1...1000
    /// How often the reader empties the ring while a profile runs.
    static let drainInterval = Duration.milliseconds(20)

    /// `GET /debug/pprof/allocs`: bytes allocated per sample on average, its bounds and default (Go's
    /// `MemProfileRate`).
    public static let rateRange = 1...(64 << 20)
    public static let defaultRate = 512 * 1024

    /// Why a profile could not be taken.
    public enum Failure: Error, Sendable, Equatable {
        /// Another profile (or a thread dump) runs now.
        case busy
        /// The allocator is not interposed (a sanitizer build owns malloc): no allocation samples.
        case unsupported
        /// The system refused the timer or the signal handler; the errno.
        case system(Int32)
    }

    /// Whether a profile (or a thread dump) runs now.
    public static var isRunning: Bool { kimera_profiler_running() != 0 }

    /// Samples for `duration` at `hz` and returns the aggregated stacks. Cancelling the task ends the
    /// profile early with what it has.
    public static func record(for duration: Duration, hz: Int) async throws(Failure) -> SampledProfile {
        var stacks: [[UInt]: Int] = [:]
        var labelled: [[UInt]: [Int32: Int]] = [:]
        let run = try await sample(for: duration, start: { kimera_profiler_start(Int32(hz)) }) { sample in
            let pcs = addresses(of: sample)
            stacks[pcs, default: 0] += 1
            if sample.label >= 0 { labelled[pcs, default: [:]][sample.label, default: 0] += 1 }
        }
        var profile = SampledProfile(
            stacks: stacks, hz: hz, start: run.started, duration: run.duration, dropped: Int(run.counts.dropped),
            truncated: Int(run.counts.truncated))
        for (pcs, labels) in labelled {
            for (label, count) in labels {
                profile.routes[pcs, default: [:]][ProfileLabels.name(label) ?? ProfileLabels.overflow, default: 0] += count
            }
        }
        return profile
    }

    /// Samples about one allocation per `rate` bytes allocated for `duration` (the interposed allocator
    /// records the allocating thread's stack; no timer, no signal) and returns the stacks with their
    /// allocations and bytes scaled to estimates of the whole, as Go's heap profile scales them.
    public static func recordAllocations(for duration: Duration, rate: Int) async throws(Failure) -> SampledProfile {
        var stacks: [[UInt]: Int] = [:]
        var weights: [[UInt]: SampledProfile.Weight] = [:]
        let run = try await sample(for: duration, start: { kimera_profiler_start_allocations(Int64(rate)) }) {
            sample in
            let pcs = addresses(of: sample)
            let size = Double(sample.value)
            // An allocation of `size` bytes is sampled with probability 1 - exp(-size/rate).
            let scale = 1 / (1 - exp(-size / Double(rate)))
            stacks[pcs, default: 0] += 1
            weights[pcs, default: SampledProfile.Weight()].objects += scale
            weights[pcs, default: SampledProfile.Weight()].bytes += size * scale
        }
        var profile = SampledProfile(
            stacks: stacks, hz: 1, start: run.started, duration: run.duration, dropped: Int(run.counts.dropped),
            truncated: Int(run.counts.truncated))
        profile.allocationRate = rate
        profile.weights = weights
        return profile
    }

    /// Starts the sampler with `start`, drains its ring into `take` every `drainInterval` until `duration`
    /// has passed (or the task is cancelled), stops it and drains the rest.
    private static func sample(
        for duration: Duration, start: () -> Int32, _ take: (kimera_profiler_sample) -> Void
    ) async throws(Failure) -> (started: Date, duration: Duration, counts: kimera_profiler_counts) {
        let started = Date()
        let clock = ContinuousClock()
        let begin = clock.now
        let result = start()
        if result == EBUSY { throw .busy }
        if result == ENOTSUP { throw .unsupported }
        if result != 0 { throw .system(result) }
        let capacity = 512
        let buffer = UnsafeMutablePointer<kimera_profiler_sample>.allocate(capacity: capacity)
        defer { buffer.deallocate() }
        let deadline = begin.advanced(by: duration)
        while clock.now < deadline {
            do {
                try await Task.sleep(for: min(drainInterval, deadline - clock.now))
            } catch {
                break
            }
            drain(buffer, capacity: capacity, into: take)
        }
        var counts = kimera_profiler_counts()
        kimera_profiler_stop(&counts)
        drain(buffer, capacity: capacity, into: take)
        kimera_profiler_release()
        return (started, clock.now - begin, counts)
    }

    /// Every thread's current stack, with its name, by signalling each once.
    public static func threadStacks() throws(Failure) -> [ThreadStack] {
        let capacity = 4096
        let buffer = UnsafeMutablePointer<kimera_profiler_sample>.allocate(capacity: capacity)
        defer { buffer.deallocate() }
        let count = kimera_thread_stacks(buffer, Int32(capacity), 200)
        if count == -EBUSY { throw .busy }
        if count < 0 { throw .system(-count) }
        let symbolizer = Symbolizer()
        var threads: [ThreadStack] = []
        for index in 0..<Int(count) {
            let sample = buffer[index]
            let pcs = addresses(of: sample)
            let frames = pcs.enumerated().map { position, pc in
                let address = position == 0 ? pc : pc - 1
                return symbolizer.function(at: address)
                    ?? "0x\(String(address, radix: 16)) \(symbolizer.name(at: address))"
            }
            threads.append(
                ThreadStack(
                    id: Int(sample.thread_id), name: threadName(Int(sample.thread_id)), frames: frames,
                    addresses: pcs))
        }
        return threads.sorted { $0.id < $1.id }
    }

    private static func drain(
        _ buffer: UnsafeMutablePointer<kimera_profiler_sample>, capacity: Int,
        into take: (kimera_profiler_sample) -> Void
    ) {
        while true {
            let count = Int(kimera_profiler_drain(buffer, Int32(capacity)))
            for index in 0..<count { take(buffer[index]) }
            if count < capacity { return }
        }
    }

    private static func addresses(of sample: kimera_profiler_sample) -> [UInt] {
        let depth = max(0, min(Int(sample.depth), Int(KIMERA_PROFILER_MAX_DEPTH)))
        return withUnsafeBytes(of: sample.pcs) { bytes in
            Array(bytes.bindMemory(to: UInt.self).prefix(depth))
        }
    }

    private static func threadName(_ id: Int) -> String {
        guard let text = try? String(contentsOfFile: "/proc/self/task/\(id)/comm", encoding: .utf8) else { return "" }
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

/// One thread's stack at the moment it was signalled, innermost frame first.
public struct ThreadStack: Sendable {
    public var id: Int
    public var name: String
    public var frames: [String]
    /// The return addresses, innermost first, as sampled (what `SymbolizedProfile(threads:at:)` encodes).
    public var addresses: [UInt]
}

/// The stacks one CPU profile sampled, by address, innermost frame first, with how often each was seen.
public struct SampledProfile: Sendable {
    public var stacks: [[UInt]: Int]
    public var hz: Int
    public var start: Date
    public var duration: Duration
    /// Samples lost because the ring was full, and stacks cut at the depth bound.
    public var dropped: Int
    public var truncated: Int

    /// Of each stack's samples, those taken while a request's task ran, by its route (pprof label `route`).
    public var routes: [[UInt]: [String: Int]] = [:]
    /// An allocation profile's bytes per sample; nil for a CPU profile.
    public var allocationRate: Int?
    /// An allocation profile's estimated allocations and bytes per stack.
    public var weights: [[UInt]: Weight] = [:]

    public struct Weight: Sendable {
        public var objects: Double = 0
        public var bytes: Double = 0
    }

    public init(stacks: [[UInt]: Int], hz: Int, start: Date, duration: Duration, dropped: Int, truncated: Int) {
        self.stacks = stacks
        self.hz = hz
        self.start = start
        self.duration = duration
        self.dropped = dropped
        self.truncated = truncated
    }

    public var sampleCount: Int { stacks.values.reduce(0, +) }
    /// Nanoseconds of CPU one sample stands for.
    public var periodNanos: Int64 { 1_000_000_000 / Int64(max(1, hz)) }
}
