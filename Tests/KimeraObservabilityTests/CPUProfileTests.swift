import Foundation
import Synchronization
import Testing

@testable import KimeraObservability

/// A spinning thread for the sampler to find: its loop is a function of its own that nothing inlines.
enum BusyWork {
    @inline(never)
    static func spinForProfile(until stop: borrowing Atomic<Bool>) -> Double {
        var total = 0.0
        while !stop.load(ordering: .relaxed) {
            for index in 0..<10_000 { total += Double(index).squareRoot() }
        }
        return total
    }
}

/// `go tool pprof` (Debian's golang-go), nil where it is not installed.
let goTool: String? = ["/usr/bin/go", "/usr/lib/go/bin/go", "/usr/local/go/bin/go"].first {
    FileManager.default.isExecutableFile(atPath: $0)
}

/// Runs a program to completion and returns its exit status and standard output.
func run(_ path: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = arguments
    var environment = ProcessInfo.processInfo.environment
    environment["HOME"] = environment["HOME"] ?? NSTemporaryDirectory()
    process.environment = environment
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}

@Suite("CPU profiles: pprof encoding and sampling", .serialized)
struct CPUProfileTests {
    static func frame(_ name: String, _ address: UInt) -> SymbolizedProfile.Frame {
        SymbolizedProfile.Frame(address: address, function: name, mapping: 0)
    }

    static let synthetic = SymbolizedProfile(
        stacks: [
            ([frame("Kimera.leafWork", 0x1010), frame("Kimera.caller", 0x1100), frame("main", 0x1200)], 30),
            ([frame("Kimera.otherLeaf", 0x1310), frame("Kimera.caller", 0x1101), frame("main", 0x1200)], 10),
            ([frame("main", 0x1201)], 2),
        ],
        mappings: [.init(start: 0x1000, end: 0x2000, fileOffset: 0, path: "/usr/bin/kimera")],
        periodNanos: 10_000_000, startNanos: 1_700_000_000_000_000_000, durationNanos: 3_000_000_000)

    @Test func gzippedProfileReadsBackWithItsCounts() throws {
        let bytes = try Self.synthetic.pprofGzipped()
        #expect(bytes.starts(with: [0x1F, 0x8B]))
        let summary = try PprofSummary(pprof: bytes)
        #expect(summary.totalSamples == 42)
        #expect(summary.periodNanos == 10_000_000)
        #expect(summary.durationNanos == 3_000_000_000)
        #expect(summary.entries.first == .init(function: "Kimera.leafWork", selfSamples: 30, cumulativeSamples: 30))
        #expect(summary.entries.contains(.init(function: "Kimera.caller", selfSamples: 0, cumulativeSamples: 40)))
        #expect(summary.entries.contains(.init(function: "main", selfSamples: 2, cumulativeSamples: 42)))
    }

    @Test func foldedStacksRunFromTheRootWithTheirCounts() {
        let lines = Self.synthetic.folded().split(separator: "\n")
        #expect(lines.first == "main;Kimera.caller;Kimera.leafWork 30")
        #expect(lines.contains("main;Kimera.caller;Kimera.otherLeaf 10"))
        #expect(lines.contains("main 2"))
    }

    @Test(.enabled(if: goTool != nil, "needs go tool pprof (golang-go)"))
    func goToolPprofOpensTheFile() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("kimera-\(UUID().uuidString).pb.gz")
        defer { try? FileManager.default.removeItem(at: file) }
        try Data(try Self.synthetic.pprofGzipped()).write(to: file)
        let result = try run(goTool!, ["tool", "pprof", "-top", file.path])
        #expect(result.status == 0, "\(result.output)")
        // `flat flat% sum% cum cum%`: 30 samples of 10 ms are 300ms, 71.43% of 420ms.
        let leaf = result.output.split(separator: "\n").first { $0.hasSuffix("Kimera.leafWork") }
        #expect(leaf?.contains("300ms") == true && leaf?.contains("71.43%") == true, "\(result.output)")
        #expect(result.output.contains("Type: cpu"), "\(result.output)")
    }

    @Test func samplingThisProcessFindsTheSpinningFunction() async throws {
        let stop = StopFlag()
        let thread = Thread { _ = BusyWork.spinForProfile(until: stop.flag) }
        thread.start()
        defer { stop.flag.store(true, ordering: .relaxed) }
        // Other suites run in this process meanwhile: the spinner's share varies, its presence does not.
        let sampled = try await CPUProfiler.record(for: .seconds(2), hz: 200)
        stop.flag.store(true, ordering: .relaxed)
        #expect(!CPUProfiler.isRunning)
        let profile = SymbolizedProfile(sampled)
        let spinning = profile.stacks.filter { $0.frames.contains { $0.function.contains("spinForProfile") } }
        let spinningSamples = spinning.map(\.count).reduce(0, +)
        #expect(spinningSamples >= 10, "\(spinningSamples) of \(sampled.sampleCount): \(profile.folded().prefix(2000))")
        // Frame pointers were followed past the leaf: the thread's entry is on the stack too.
        #expect(spinning.contains { $0.frames.count > 2 }, "\(profile.folded().prefix(2000))")
    }

    @Test func aSecondProfileWhileOneRunsIsRefused() async throws {
        let first = Task { try await CPUProfiler.record(for: .seconds(1), hz: 10) }
        try await Task.sleep(for: .milliseconds(200))
        await #expect(throws: CPUProfiler.Failure.busy) { try await CPUProfiler.record(for: .seconds(1), hz: 10) }
        _ = try await first.value
        #expect(!CPUProfiler.isRunning)
    }
}

/// The stop flag the spinning thread and the test share.
final class StopFlag: Sendable {
    let flag = Atomic<Bool>(false)
}
