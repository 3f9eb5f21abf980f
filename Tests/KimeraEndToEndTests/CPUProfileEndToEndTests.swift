import Foundation
import Synchronization
import Testing

/// `go tool pprof` (Debian's golang-go), nil where it is not installed.
let goTool: String? = ["/usr/bin/go", "/usr/lib/go/bin/go", "/usr/local/go/bin/go"].first {
    FileManager.default.isExecutableFile(atPath: $0)
}

/// Whether `perf` (Debian's linux-perf) is installed and may open perf events here (containers often forbid it).
private let perfWorks: Bool = {
    guard FileManager.default.isExecutableFile(atPath: "/usr/bin/perf") else { return false }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/perf")
    process.arguments = ["stat", "-e", "task-clock", "--", "true"]
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    guard (try? process.run()) != nil else { return false }
    process.waitUntilExit()
    return process.terminationStatus == 0
}()

/// `GET /debug/pprof/profile` and `/debug/pprof/threads` of a running server, read with the standard tools.
@Suite("CPU profiles of a running server (GET /debug/pprof/*)", .serialized)
struct CPUProfileEndToEndTests {
    static func withServer(_ body: (ServerProcess) async throws -> Void) async throws {
        let server = try await ServerProcess.start(dataDirectory: temporaryDirectory())
        do {
            try await body(server)
        } catch {
            _ = await server.stop()
            throw error
        }
        _ = await server.stop()
    }

    /// Creates `count` geoids in batches of 500.
    static func populate(_ base: String, count: Int) async throws {
        let words = ["river", "stone", "cloud", "market", "engine", "garden", "winter", "signal", "copper", "forest"]
        var created = 0
        while created < count {
            let size = min(500, count - created)
            let geoids = (0..<size).map { offset -> String in
                let n = created + offset
                let text = "\(words[n % 10]) \(words[(n / 10) % 10]) \(words[(n / 100) % 10]) item \(n)"
                return #"{"content": "\#(text)"}"#
            }
            let response = try await http(
                .POST, "\(base)/kimera/geoids/batch", json: #"{"geoids": [\#(geoids.joined(separator: ","))]}"#,
                timeout: .seconds(120))
            #expect(response.status == 201, "\(response.text.prefix(300))")
            created += size
        }
    }

    /// Searches with a new query each time (no cache hits) until `stop` is set or `limit` searches ran.
    static func searchLoop(_ base: String, stop: SearchStop, limit: Int = 100_000) async {
        var index = 0
        while !stop.flag.load(ordering: .relaxed) && index < limit {
            _ = try? await http(.GET, "\(base)/kimera/geoids/search?query=stone%20garden%20\(index)&limit=5")
            index += 1
        }
    }

    /// Profiles `seconds` of searches and returns the answer's body.
    static func profileSearches(_ base: String, query: String) async throws -> HTTPResult {
        let stop = SearchStop()
        let searchers = (0..<2).map { _ in Task { await searchLoop(base, stop: stop) } }
        try await Task.sleep(for: .milliseconds(300))
        let response = try await http(.GET, "\(base)/debug/pprof/profile?\(query)", timeout: .seconds(60))
        stop.flag.store(true, ordering: .relaxed)
        for searcher in searchers { await searcher.value }
        return response
    }

    @Test(.enabled(if: goTool != nil, "needs go tool pprof (golang-go)"))
    func profileOfSearchesHasTheScoringCodeAtTheTop() async throws {
        try await Self.withServer { server in
            let base = server.baseURL
            try await Self.populate(base, count: 3000)

            let response = try await Self.profileSearches(base, query: "seconds=3&hz=200")
            #expect(response.status == 200, "\(response.text.prefix(500))")
            #expect(response.header("Content-Type") == "application/octet-stream")
            #expect(response.body.starts(with: [0x1F, 0x8B]))
            let file = server.dataDirectory.appendingPathComponent("cpu.pb.gz")
            try response.body.write(to: file)
            let top = try await runTool(goTool!, ["tool", "pprof", "-top", "-nodecount=25", file.path])
            #expect(top.status == 0, "\(top.output)")
            #expect(top.output.contains("Type: cpu"), "\(top.output)")
            // The entries after pprof's header lines: the scoring code (VectorMath.dot over the index's
            // rows, in VectorIndex's nearest) among the top ones by flat or cumulative samples.
            let entries = top.output.split(separator: "\n").drop { !$0.contains("flat%") }.dropFirst()
            let scoring = entries.prefix(25).filter { $0.contains("VectorMath") || $0.contains("VectorIndex") }
            #expect(!scoring.isEmpty, "\(top.output)")
            let cumulative = try await runTool(goTool!, ["tool", "pprof", "-top", "-cum", "-nodecount=40", file.path])
            #expect(cumulative.output.contains("VectorIndex.Snapshot.nearest"), "\(cumulative.output)")
            // Samples taken while a request's task ran carry its route as the pprof label `route`; the
            // search route holds most of the labelled ones, and focusing on it keeps the scoring code.
            let tags = try await runTool(goTool!, ["tool", "pprof", "-tags", file.path])
            #expect(tags.output.contains("route:") && tags.output.contains("/kimera/geoids/search"), "\(tags.output)")
            let focused = try await runTool(
                goTool!, ["tool", "pprof", "-top", "-cum", "-tagfocus=route=/kimera/geoids/search", "-nodecount=40", file.path])
            #expect(focused.output.contains("VectorIndex"), "\(focused.output)")

            // The folded stacks agree: the scoring code is on the stacks of a good share of the samples.
            let folded = try await Self.profileSearches(base, query: "seconds=2&hz=200&format=folded")
            #expect(folded.status == 200)
            #expect(folded.header("Content-Type")?.hasPrefix("text/plain") == true)
            let lines = foldedLines(folded.text)
            let total = lines.reduce(0) { $0 + $1.count }
            let scored = lines.filter { $0.stack.contains("VectorMath") || $0.stack.contains("VectorIndex") }
                .reduce(0) { $0 + $1.count }
            #expect(total > 20, "\(folded.text.prefix(2000))")
            #expect(Double(scored) > 0.1 * Double(total), "\(scored) of \(total): \(folded.text.prefix(3000))")
        }
    }

    @Test(.enabled(if: goTool != nil && perfWorks, "needs go tool pprof (golang-go) and a usable perf (linux-perf)"))
    func perfAgreesOnTheTopFunction() async throws {
        try await Self.withServer { server in
            let base = server.baseURL
            try await Self.populate(base, count: 3000)
            let stop = SearchStop()
            let searchers = (0..<2).map { _ in Task { await Self.searchLoop(base, stop: stop) } }
            try await Task.sleep(for: .milliseconds(300))
            let perfData = server.dataDirectory.appendingPathComponent("perf.data")
            // perf samples the server while `sleep 3` runs. The test runner's threads block signals and a
            // spawned child inherits that mask, which would leave perf deaf to its workload's SIGCHLD: python
            // clears the mask and becomes perf.
            let record = try await runTool(
                "/usr/bin/python3",
                [
                    "-c",
                    "import os, signal, sys; signal.pthread_sigmask(signal.SIG_SETMASK, []); os.execv(sys.argv[1], sys.argv[1:])",
                    "/usr/bin/perf", "record", "-g", "-F", "200", "-p", "\(server.process.processIdentifier)", "-o",
                    perfData.path, "--", "sleep", "3",
                ])
            let profile = try await http(.GET, "\(base)/debug/pprof/profile?seconds=3&hz=200", timeout: .seconds(60))
            stop.flag.store(true, ordering: .relaxed)
            for searcher in searchers { await searcher.value }
            #expect(record.status == 0, "\(record.output)")
            #expect(profile.status == 200)
            let file = server.dataDirectory.appendingPathComponent("cpu.pb.gz")
            try profile.body.write(to: file)

            let report = try await runTool(
                "/usr/bin/perf", ["report", "-i", perfData.path, "--no-children", "--sort", "symbol", "--stdio"])
            let perfTop = report.output.split(separator: "\n").first { $0.contains("%") && $0.contains("[.]") }
            let top = try await runTool(goTool!, ["tool", "pprof", "-top", "-nodecount=5", file.path])
            let pprofTop = top.output.split(separator: "\n").drop { !$0.contains("flat%") }.dropFirst().first
            // Both tops in the test's output, for the record (the issue's note shows them).
            print("perf top:  \(perfTop ?? "-")\npprof top: \(pprofTop ?? "-")")
            // perf names the symbol mangled ($s10KimeraCore10VectorMathO3dot…), pprof demangled.
            #expect(perfTop?.contains("VectorMath") == true, "perf: \(report.output.prefix(3000))")
            #expect(pprofTop?.contains("VectorMath") == true, "pprof: \(top.output)")
        }
    }

    @Test func idleProfileHasAlmostNoSamplesAndRefusalsAreNamed() async throws {
        try await Self.withServer { server in
            let base = server.baseURL
            // A second profile while one runs: 409, a JSON error.
            let first = Task { try await http(.GET, "\(base)/debug/pprof/profile?seconds=2&format=folded") }
            try await Task.sleep(for: .milliseconds(500))
            let second = try await http(.GET, "\(base)/debug/pprof/profile?seconds=1")
            #expect(second.status == 409, "\(second.text)")
            #expect(second.object["error"] as? String == "conflict")
            let idle = try await first.value
            #expect(idle.status == 200)
            // Two idle seconds at 100 Hz: a handful of samples at most (the server's own reader).
            let samples = idle.text.split(separator: "\n").compactMap {
                $0.split(separator: " ").last.flatMap { Int($0) }
            }
            #expect(samples.reduce(0, +) <= 10, "\(idle.text)")

            for (query, parameter) in [
                ("seconds=0", "seconds"), ("seconds=301", "seconds"), ("seconds=abc", "seconds"), ("hz=0", "hz"),
                ("hz=1001", "hz"), ("format=svg", "format"),
            ] {
                let refused = try await http(.GET, "\(base)/debug/pprof/profile?\(query)")
                #expect(refused.status == 400, "\(query): \(refused.text)")
                #expect(refused.object["parameter"] as? String == parameter, "\(query): \(refused.text)")
            }
            let range = try await http(.GET, "\(base)/debug/pprof/profile?hz=5000")
            #expect((range.object["message"] as? String)?.contains("from 1 to 1000") == true, "\(range.text)")

            // After all that, another profile may run.
            let again = try await http(.GET, "\(base)/debug/pprof/profile?seconds=1")
            #expect(again.status == 200)
        }
    }

    @Test func threadDumpListsEveryThread() async throws {
        try await Self.withServer { server in
            let dump = try await http(.GET, "\(server.baseURL)/debug/pprof/threads")
            #expect(dump.status == 200, "\(dump.text)")
            let tasks = try FileManager.default.contentsOfDirectory(
                atPath: "/proc/\(server.process.processIdentifier)/task")
            let listed = dump.text.split(separator: "\n").filter { $0.hasPrefix("thread ") }
            // Threads may come and go between the dump and the listing; nearly all must be there.
            #expect(listed.count >= tasks.count - 2 && listed.count > 2, "\(tasks.count) tasks: \(dump.text)")
            #expect(dump.text.contains("#1 "), "\(dump.text)")
            let cli = try await runKimera(["debug", "stacks", "--url", server.baseURL])
            #expect(cli.status == 0 && cli.stdout.contains(" threads\n\nthread "), "\(cli.stderr)\(cli.stdout)")

            // As pprof: one sample per thread, labelled with its id and name, read by go tool pprof.
            let pprof = try await http(.GET, "\(server.baseURL)/debug/pprof/threads?format=pprof")
            #expect(pprof.status == 200)
            #expect(pprof.header("Content-Type") == "application/octet-stream")
            #expect(pprof.body.starts(with: [0x1F, 0x8B]))
            let file = server.dataDirectory.appendingPathComponent("threads.pb.gz")
            try pprof.body.write(to: file)
            if let goTool {
                let traces = try await runTool(goTool, ["tool", "pprof", "-traces", file.path])
                #expect(traces.status == 0, "\(traces.output)")
                #expect(traces.output.contains("Type: threads"), "\(traces.output.prefix(1000))")
                #expect(traces.output.contains("thread_name:"), "\(traces.output.prefix(2000))")
                let samples = traces.output.components(separatedBy: "-----------+-------------------------------------------------------").count - 2
                #expect(samples >= tasks.count - 2 && samples > 2, "\(samples) samples, \(tasks.count) tasks")
            } else {
                Issue.record("go tool pprof (golang-go) is needed: scripts/setup installs it")
            }
            let refused = try await http(.GET, "\(server.baseURL)/debug/pprof/threads?format=svg")
            #expect(refused.status == 400 && refused.object["parameter"] as? String == "format", "\(refused.text)")
        }
    }

    @Test(.enabled(if: goTool != nil, "needs go tool pprof (golang-go)"))
    func cliWritesTheFileAndPrintsTheTopTable() async throws {
        try await Self.withServer { server in
            let base = server.baseURL
            try await Self.populate(base, count: 500)
            let stop = SearchStop()
            let searcher = Task { await Self.searchLoop(base, stop: stop) }
            let file = server.dataDirectory.appendingPathComponent("cli.pb.gz")
            let result = try await runKimera(
                [
                    "profile", "cpu", "--url", base, "--seconds", "2", "--hz", "200", "--file", file.path, "--top", "5",
                    "-o", "table",
                ])
            stop.flag.store(true, ordering: .relaxed)
            await searcher.value
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stdout.contains("samples in 2."), "\(result.stdout)")
            #expect(result.stdout.contains("SELF") && result.stdout.contains("FUNCTION"), "\(result.stdout)")
            let rows = result.stdout.split(separator: "\n").drop { !$0.contains("FUNCTION") }.dropFirst()
            #expect(rows.count == 5, "\(result.stdout)")
            #expect(result.stderr.contains("go tool pprof -top"), "\(result.stderr)")
            let top = try await runTool(goTool!, ["tool", "pprof", "-top", file.path])
            #expect(top.status == 0 && top.output.contains("Type: cpu"), "\(top.output)")
            let refused = try await runKimera(["profile", "cpu", "--url", server.baseURL, "--seconds", "0"])
            #expect(refused.status != 0 && refused.stderr.contains("--seconds"), "\(refused.stderr)")
        }
    }
}

extension CPUProfileEndToEndTests {
    /// `kimera profile cpu --flame FILE.svg`: a well-formed SVG (xmllint) whose frames are the profile's,
    /// with the top function of the same run among them, and the zoom script.
    @Test func cliDrawsAWellFormedFlameGraphOfTheSameProfile() async throws {
        try await Self.withServer { server in
            let base = server.baseURL
            try await Self.populate(base, count: 1000)
            let stop = SearchStop()
            let searcher = Task { await Self.searchLoop(base, stop: stop) }
            let svg = server.dataDirectory.appendingPathComponent("cpu flame.svg")
            let result = try await runKimera(
                ["profile", "cpu", "--url", base, "--seconds", "2", "--hz", "200", "--flame", svg.path, "--top", "3",
                 "-o", "json"])
            stop.flag.store(true, ordering: .relaxed)
            await searcher.value
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stderr.contains("wrote \(svg.path)"), "\(result.stderr)")
            let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
            let top = (object?["top"] as? [[String: Any]])?.first?["function"] as? String
            let samples = object?["samples"] as? Int ?? 0
            #expect(samples > 20, "\(result.stdout)")

            let lint = try await runTool("/usr/bin/xmllint", ["--noout", svg.path])
            #expect(lint.status == 0, "\(lint.output)")
            let text = try String(contentsOf: svg, encoding: .utf8)
            #expect(text.hasPrefix("<?xml") && text.contains("<svg") && text.hasSuffix("</svg>\n"))
            // The root frame holds every sample; the top function is a frame; the search code is drawn.
            #expect(text.contains("<title>all (\(samples) samples, 100.0%)</title>"), "\(text.prefix(2000))")
            if let top {
                let escaped = top.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
                    .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
                    .replacingOccurrences(of: "'", with: "&apos;")
                #expect(text.contains("<title>\(escaped) ("), "top \(top) not drawn")
            } else {
                Issue.record("no top function: \(result.stdout)")
            }
            #expect(text.contains("VectorIndex") || text.contains("VectorMath"), "\(text.prefix(3000))")
            #expect(text.contains("<script type=\"text/ecmascript\"><![CDATA[") && text.contains("function zoom("))

            let empty = try await runKimera(["profile", "cpu", "--url", base, "--seconds", "1", "--flame", ""])
            #expect(empty.status != 0 && empty.stderr.contains("--flame"), "\(empty.stderr)")
        }
    }
}

/// The lines of folded stacks (`a;b;c COUNT`), each as its stack and count; a line of another form is
/// recorded as an issue.
func foldedLines(_ text: String) -> [(stack: Substring, count: Int)] {
    text.split(separator: "\n").compactMap { line in
        guard let space = line.lastIndex(of: " "), let count = Int(line[line.index(after: space)...]) else {
            Issue.record("not a folded line: \(line)")
            return nil
        }
        return (line[..<space], count)
    }
}

/// The flag that ends a load loop (searches, creates).
final class SearchStop: Sendable {
    let flag = Atomic<Bool>(false)
}

/// Runs a program to completion (at most 60 s) and returns its exit status and merged output.
func runTool(_ path: String, _ arguments: [String]) async throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = arguments
    let output = PipeCollector()
    process.standardOutput = output.pipe
    process.standardError = output.pipe
    try process.run()
    let deadline = ContinuousClock.now + .seconds(60)
    while process.isRunning && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
    if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    process.waitUntilExit()
    try await Task.sleep(for: .milliseconds(50))
    return (process.terminationStatus, output.contents)
}
