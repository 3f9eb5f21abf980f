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

    /// Why a profile could not be taken.
    public enum Failure: Error, Sendable, Equatable {
        /// Another profile (or a thread dump) runs now.
        case busy
        /// The system refused the timer or the signal handler; the errno.
        case system(Int32)
    }

    /// Whether a profile (or a thread dump) runs now.
    public static var isRunning: Bool { kimera_profiler_running() != 0 }

    /// Samples for `duration` at `hz` and returns the aggregated stacks. Cancelling the task ends the
    /// profile early with what it has.
    public static func record(for duration: Duration, hz: Int) async throws(Failure) -> SampledProfile {
        let started = Date()
        let clock = ContinuousClock()
        let start = clock.now
        let result = kimera_profiler_start(Int32(hz))
        if result == EBUSY { throw .busy }
        if result != 0 { throw .system(result) }
        let capacity = 512
        let buffer = UnsafeMutablePointer<kimera_profiler_sample>.allocate(capacity: capacity)
        defer { buffer.deallocate() }
        var stacks: [[UInt]: Int] = [:]
        let deadline = start.advanced(by: duration)
        while clock.now < deadline {
            do {
                try await Task.sleep(for: min(drainInterval, deadline - clock.now))
            } catch {
                break
            }
            drain(buffer, capacity: capacity, into: &stacks)
        }
        var counts = kimera_profiler_counts()
        kimera_profiler_stop(&counts)
        drain(buffer, capacity: capacity, into: &stacks)
        kimera_profiler_release()
        return SampledProfile(
            stacks: stacks, hz: hz, start: started, duration: clock.now - start, dropped: Int(counts.dropped),
            truncated: Int(counts.truncated))
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
        _ buffer: UnsafeMutablePointer<kimera_profiler_sample>, capacity: Int, into stacks: inout [[UInt]: Int]
    ) {
        while true {
            let count = Int(kimera_profiler_drain(buffer, Int32(capacity)))
            for index in 0..<count { stacks[addresses(of: buffer[index]), default: 0] += 1 }
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

    public var sampleCount: Int { stacks.values.reduce(0, +) }
    /// Nanoseconds of CPU one sample stands for.
    public var periodNanos: Int64 { 1_000_000_000 / Int64(max(1, hz)) }
}
