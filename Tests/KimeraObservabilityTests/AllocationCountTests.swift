import CKimeraAllocations
import Foundation
import KimeraCore
import KimeraModels
import Testing

@testable import KimeraObservability

/// Allocation counting per profiled operation (kimera_allocations.h; docs/OPERATIONS.md "Allocations per
/// operation"): exact, per task, across suspension points and hops to Dispatch.
@Suite("Allocation counting")
struct AllocationCountTests {
    /// Exactly `count` allocations of 32 bytes (malloc and free, nothing else).
    @inline(never)
    static func allocate(_ count: Int) -> Int {
        var total = 0
        for _ in 0..<count {
            let pointer = malloc(32)
            total &+= Int(bitPattern: pointer)
            free(pointer)
        }
        return total
    }

    static func profiler() -> (Profiler, RuntimeConfiguration) {
        let runtime = RuntimeConfiguration(debug: false, performance: true)
        _ = runtime.setProfiling(true)
        return (Profiler(runtime: runtime, capacity: 100, nameLimit: 10), runtime)
    }

    @Test("the allocator is interposed in this build, and nothing is counted while nothing is profiled")
    func interposed() {
        #expect(kimera_alloc_interposed() == 1)
        #expect(kimera_alloc_current_slot() == -1)
    }

    @Test("an operation's count is exact: N objects more is N allocations more, whatever runs beside it")
    func exactCounts() async throws {
        let (profiler, _) = Self.profiler()
        // Other tasks allocate all the while: none of theirs may be counted.
        let noise = Task.detached {
            var total = 0
            while !Task.isCancelled { total &+= Self.allocate(50); await Task.yield() }
            return total
        }
        var counts: [Int: [Int64]] = [:]
        for count in [100, 1000, 100, 1000, 100, 1000] {
            _ = profiler.profile("allocate") { Self.allocate(count) }
            let profile = try #require(profiler.profiles(limit: 1).first)
            counts[count, default: []].append(try #require(profile.allocations))
            #expect((profile.allocatedBytes ?? 0) >= Int64(count) * 32)
        }
        noise.cancel()
        _ = await noise.value
        // The same work counts the same; 900 objects more count 900 allocations more.
        #expect(Set(counts[100]!).count == 1, "\(counts)")
        #expect(Set(counts[1000]!).count == 1, "\(counts)")
        #expect(counts[1000]![0] - counts[100]![0] == 900, "\(counts)")
        #expect(counts[100]![0] == 100, "\(counts)")
        let stats = try #require(profiler.allocations()["allocate"])
        #expect(stats.calls == 6)
        #expect(stats.allocations == counts.values.joined().reduce(0, +))
    }

    @Test("across suspension points and a hop to Dispatch, the work counts for the operation that asked")
    func acrossHops() async throws {
        let (profiler, _) = Self.profiler()
        _ = try await profiler.profile("hops") {
            var total = Self.allocate(200)
            try await Task.sleep(for: .milliseconds(5))
            total += try await ComputeOffload.run { Self.allocate(300) }
            await Task.yield()
            return total + Self.allocate(100)
        }
        let counted = try #require(profiler.profiles(limit: 1).first?.allocations)
        #expect(counted >= 600 && counted < 700, "\(counted)")
        // A nested operation shares the task's slot: the outer one counts the inner one's too (and what
        // recording the inner profile allocated).
        _ = profiler.profile("outer") {
            Self.allocate(100) + profiler.profile("inner") { Self.allocate(250) }
        }
        let latest = profiler.profiles(limit: 2)
        let inner = try #require(latest.first { $0.name == "inner" }?.allocations)
        let outer = try #require(latest.first { $0.name == "outer" }?.allocations)
        #expect(inner == 250, "\(inner)")
        #expect(outer >= inner + 100 && outer < inner + 200, "\(outer) \(inner)")
        #expect(kimera_alloc_current_slot() == -1)
    }

    @Test("profiling off: timed calls are not counted and leave no slot behind")
    func offCountsNothing() {
        let (profiler, runtime) = Self.profiler()
        _ = runtime.setProfiling(false)
        _ = profiler.profile("quiet") { Self.allocate(100) }
        #expect(profiler.profiles(limit: 10).isEmpty)
        #expect(profiler.allocations().isEmpty)
        #expect(kimera_alloc_current_slot() == -1)
    }
}
