import Foundation
import KimeraClient
import KimeraObservability
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

extension CLITests {
    /// Several servers from one command line: contexts, fan-out with partial failure, exact merging of
    /// histograms, merged log streams, changes applied to every instance, and `debug bundle`.
    @Suite
    struct CLIFleetTests {
        /// Starts `count` servers, runs `body`, and always stops them.
        static func withServers(
            _ count: Int, _ arguments: [String] = [], environment: [String: String] = [:],
            _ body: ([ServerProcess]) async throws -> Void
        ) async throws {
            var servers: [ServerProcess] = []
            do {
                for _ in 0..<count {
                    servers.append(try await ServerProcess.start(arguments, environment: environment))
                }
                try await body(servers)
            } catch {
                for server in servers { await Self.stop(server) }
                throw error
            }
            for server in servers { await Self.stop(server) }
        }

        static func stop(_ server: ServerProcess) async {
            await server.stop()
            try? FileManager.default.removeItem(at: server.dataDirectory)
        }

        static func name(_ server: ServerProcess) -> String { "127.0.0.1:\(server.port)" }

        static func urls(_ servers: [ServerProcess]) -> [String] { servers.flatMap { ["--url", $0.baseURL] } }

        /// A fresh `XDG_CONFIG_HOME`, removed afterwards.
        static func withConfigHome(_ body: (URL) async throws -> Void) async throws {
            let directory = temporaryDirectory("kimera-xdg")
            defer { try? FileManager.default.removeItem(at: directory) }
            try await body(directory)
        }

        struct ContextRow: Decodable {
            var name: String
            var current: Bool
            var urls: [String]
            var token_file: String?
        }

        struct HealthRow: Decodable {
            struct Report: Decodable { var ready: ReadyResponse? }
            var instance: String
            var result: Report?
            var error: String?
            var exit_code: Int32?
        }

        struct HealthFleet: Decodable {
            var instances: [HealthRow]
            var ready: Int
            var total: Int
        }

        @Test func contextsRoundTripAndACommandUsesTheCurrentContext() async throws {
            try await Self.withServers(2) { servers in
                try await Self.withConfigHome { home in
                    let environment = ["XDG_CONFIG_HOME": home.path]
                    let tokenFile = home.appendingPathComponent("fleet.token")
                    try Data("not-needed-on-loopback\n".utf8).write(to: tokenFile)

                    let add = try await runCLI(
                        ["context", "add", "pair"] + Self.urls(servers) + ["--token-file", tokenFile.path],
                        environment: environment)
                    #expect(add.status == 0, "\(add.stderr)")
                    let file = home.appendingPathComponent("kimera/contexts.json")
                    let attributes = try FileManager.default.attributesOfItem(atPath: file.path)
                    #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
                    #expect(!String(decoding: try Data(contentsOf: file), as: UTF8.self).contains("not-needed"))

                    let single = try await runCLI(
                        ["context", "add", "one", "--url", servers[0].baseURL], environment: environment)
                    #expect(single.status == 0, "\(single.stderr)")

                    let list = try await runCLI(["context", "list", "-o", "json"], environment: environment)
                    #expect(list.status == 0, "\(list.stderr)")
                    let rows = try list.decode([ContextRow].self)
                    #expect(rows.map(\.name) == ["one", "pair"])
                    #expect(rows.first { $0.name == "pair" }?.current == true)
                    #expect(rows.first { $0.name == "pair" }?.urls == servers.map(\.baseURL))
                    #expect(rows.first { $0.name == "pair" }?.token_file == tokenFile.path)

                    // The current context (pair) is used when nothing else names a server.
                    let health = try await runCLI(["health", "-o", "json"], environment: environment)
                    #expect(health.status == 0, "\(health.stderr)")
                    let fleet = try health.decode(HealthFleet.self)
                    #expect(fleet.total == 2 && fleet.ready == 2)
                    #expect(fleet.instances.map(\.instance) == servers.map(Self.name))

                    // --context and KIMERA_CONTEXT choose another; one server answers as it always has.
                    let one = try await runCLI(["health", "-o", "json", "--context", "one"], environment: environment)
                    #expect(one.status == 0, "\(one.stderr)")
                    #expect(one.stdout.contains("\"health\""))
                    let viaEnvironment = try await runCLI(
                        ["health", "-o", "json"], environment: environment.merging(["KIMERA_CONTEXT": "one"]) { $1 })
                    #expect(viaEnvironment.status == 0, "\(viaEnvironment.stderr)")
                    #expect(
                        viaEnvironment.stdout.contains("\"health\"") && !viaEnvironment.stdout.contains("instances"))

                    let use = try await runCLI(["context", "use", "one"], environment: environment)
                    #expect(use.status == 0)
                    let unknown = try await runCLI(["context", "use", "nope"], environment: environment)
                    #expect(unknown.status == 64)
                    #expect(unknown.stderr.contains("no context named nope"))

                    let remove = try await runCLI(["context", "remove", "pair"], environment: environment)
                    #expect(remove.status == 0, "\(remove.stderr)")
                    let after = try await runCLI(["context", "list", "-o", "json"], environment: environment)
                    #expect(try after.decode([ContextRow].self).map(\.name) == ["one"])
                }
            }
        }

        @Test func healthWithOneServerDownListsItAndExitsWithItsCode() async throws {
            try await Self.withServers(1) { servers in
                let down = "http://127.0.0.1:\(try unusedLoopbackPort())"
                let result = try await runCLI(["health", "-o", "json", "--url", servers[0].baseURL, "--url", down])
                #expect(result.status == 3, "\(result.stderr)")
                let fleet = try result.decode(HealthFleet.self)
                #expect(fleet.total == 2 && fleet.ready == 1)
                #expect(fleet.instances[0].result?.ready != nil)
                #expect(fleet.instances[1].error != nil && fleet.instances[1].exit_code == 3)
                #expect(result.stderr.contains(KimeraFleet.instanceName(down)))
                #expect(result.stderr.contains("1 of 2 instances did not answer"))

                let table = try await runCLI(
                    ["health", "-o", "table", "--url", servers[0].baseURL, "--url", down],
                    environment: ["KIMERA_URL": "ignored"])
                #expect(table.status == 3)
                #expect(table.stdout.contains("DOWN") && table.stdout.contains("ready"))

                // KIMERA_URL holds a comma-separated list.
                let listed = try await runCLI(
                    ["health", "-o", "json"], environment: ["KIMERA_URL": "\(servers[0].baseURL),\(down)"])
                #expect(listed.status == 3)
                #expect(try listed.decode(HealthFleet.self).total == 2)
            }
        }

        struct StatsRow: Decodable {
            var instance: String
            var result: RequestStatistics?
        }

        struct StatsFleet: Decodable {
            var merged: RequestStatistics
            var instances: [StatsRow]
        }

        /// Nearest-rank percentile of sorted values.
        static func percentile(_ sorted: [Double], _ p: Double) -> Double {
            let rank = max(1, Int((p / 100 * Double(sorted.count)).rounded(.up)))
            return sorted[min(rank, sorted.count) - 1]
        }

        @Test func tracesStatsMergesCountsAndTakesP99FromTheMergedHistograms() async throws {
            try await Self.withServers(2) { servers in
                let transport = KimeraTransport()
                defer { Task { await transport.shutdown() } }
                let clients = try servers.map {
                    try KimeraClient(url: $0.baseURL, timeout: .seconds(10), transport: transport)
                }
                for (client, count) in zip(clients, [150, 90]) {
                    for _ in 0..<count { _ = try await client.health() }
                    // A few slower requests on one side, so the tail is not one server's alone.
                    if count == 90 { for _ in 0..<10 { _ = try await client.searchGeoids(query: "a b c", limit: 5) } }
                }
                let result = try await runCLI(["traces", "--stats", "-o", "json"] + Self.urls(servers))
                #expect(result.status == 0, "\(result.stderr)")
                let fleet = try result.decode(StatsFleet.self)
                #expect(fleet.instances.map(\.instance) == servers.map(Self.name))

                var durations: [Double] = []
                var expectedCount = 0
                for (index, client) in clients.enumerated() {
                    let own = try await client.traces(TraceQuery(limit: 5000, pathFilter: "/health"))
                    let health = own.traces.filter { $0.route == "/health" }
                    let counted = own.statistics.endpoints["/health"]?.timing.count ?? -1
                    // The CLI's instance row is what the server itself counts.
                    #expect(fleet.instances[index].result?.endpoints["/health"]?.timing.count == counted)
                    expectedCount += counted
                    durations += health.map(\.durationMs)
                }
                let merged = try #require(fleet.merged.endpoints["/health"])
                #expect(merged.timing.count == expectedCount)
                #expect(merged.timing.count >= 240)
                #expect(
                    fleet.merged.totalRequests
                        == fleet.instances.compactMap(\.result?.totalRequests).reduce(0, +))

                // Every /health request of both servers is still in their trace rings: the exact p99.
                #expect(durations.count == expectedCount)
                let sorted = durations.sorted()
                let exact = Self.percentile(sorted, 99)
                let tolerance = exact * 0.01 + 0.002
                #expect(
                    abs(merged.timing.p99Ms - exact) <= tolerance,
                    "merged p99 \(merged.timing.p99Ms) ms vs exact \(exact) ms over \(sorted.count) requests")
                #expect(abs(merged.timing.maxTimeMs - sorted.last!) <= 0.002)

                let search = try #require(fleet.merged.endpoints["/kimera/geoids/search"])
                #expect(search.timing.count == 10)
            }
        }

        @Test func followShowsLinesFromEachInstanceWithItsPrefixAndDebugModeReachesAll() async throws {
            try await Self.withServers(2) { servers in
                let follow = try CLIProcess(
                    ["logs", "-f", "--module", "kimera.audit", "--since-seq", "0", "-o", "table", "--color", "never"]
                        + Self.urls(servers))
                defer { follow.signal(SIGKILL) }
                try await Task.sleep(for: .milliseconds(800))

                let mode = try await runCLI(["debug", "mode", "on", "--ttl", "5m", "-o", "json"] + Self.urls(servers))
                #expect(mode.status == 0, "\(mode.stderr)")
                struct Row: Decodable {
                    var instance: String
                    var result: ModeChangeResponse?
                }
                struct Rows: Decodable { var instances: [Row] }
                let rows = try mode.decode(Rows.self).instances
                #expect(rows.map(\.instance) == servers.map(Self.name))
                #expect(rows.allSatisfy { $0.result?.debug == true })

                let transport = KimeraTransport()
                for server in servers {
                    let client = try KimeraClient(url: server.baseURL, transport: transport)
                    #expect(try await client.debugInfo(includeLogs: false).mode.debug)
                }
                await transport.shutdown()

                let prefixes = servers.map { "[\(Self.name($0))]" }
                let shown = await follow.waitUntil(timeout: .seconds(15)) {
                    let lines = follow.stdout.contents.split(separator: "\n")
                    return prefixes.allSatisfy { prefix in
                        lines.contains { $0.hasPrefix(prefix) && $0.contains("debug mode enabled") }
                    }
                }
                #expect(shown, "stdout: \(follow.stdout.contents)\nstderr: \(follow.stderr.contents)")
                follow.signal(SIGINT)
                let result = await follow.finish(timeout: .seconds(10))
                #expect(result.status == 130)
                #expect(!result.stdout.containsEscapeCodes)
            }
        }

        @Test func monitorOnceShowsARowPerInstanceAndTheOneThatIsDown() async throws {
            try await Self.withServers(2) { servers in
                let down = "http://127.0.0.1:\(try unusedLoopbackPort())"
                let result = try await runCLI(
                    ["monitor", "--once", "--color", "never"] + Self.urls(servers) + ["--url", down],
                    environment: ["COLUMNS": "160"])
                #expect(result.status == 3, "\(result.stderr)")
                let lines = result.stdout.split(separator: "\n")
                #expect(lines.contains { $0.hasPrefix("Instances") })
                for server in servers {
                    #expect(
                        lines.contains { $0.hasPrefix(Self.name(server)) && $0.contains("req/s") }, "\(result.stdout)")
                }
                #expect(lines.contains { $0.hasPrefix(KimeraFleet.instanceName(down)) && $0.contains("DOWN") })
            }
        }

        @Test func profileRunReachesEveryInstanceAndRestoresIt() async throws {
            struct Section: Decodable {
                struct Answer: Decodable {
                    struct Entry: Decodable { var name: String }
                    var enabled: Bool
                    var profiles: [Entry]
                }
                var instance: String
                var result: Answer?
            }
            struct Sections: Decodable { var instances: [Section] }
            try await Self.withServers(2) { servers in
                async let run = runCLI(
                    ["profile", "run", "--seconds", "3", "-o", "json"] + Self.urls(servers), timeout: .seconds(30))
                // Inside the window, a profiled operation on each instance.
                try await Task.sleep(for: .seconds(1))
                for server in servers {
                    let created = try await http(
                        .POST, server.baseURL + "/kimera/geoids", json: #"{"content": "profiled on each instance"}"#)
                    #expect(created.status == 201)
                }
                let result = try await run
                #expect(result.status == 0, "\(result.stderr)")
                let sections = try result.decode(Sections.self)
                #expect(sections.instances.map(\.instance) == servers.map(Self.name))
                for section in sections.instances {
                    #expect(section.result?.enabled == false)
                    #expect(section.result?.profiles.contains { $0.name == "vault.create_geoid" } == true, "\(section)")
                }
                // Profiling is off again on both.
                for server in servers {
                    let profiles = try await http(.GET, server.baseURL + "/debug/profiles")
                    #expect(profiles.object["enabled"] as? Bool == false, "\(profiles.text.prefix(200))")
                }
            }
        }

        struct PprofFleet: Decodable {
            struct Row: Decodable {
                var function: String
                var self_samples: Int?
                var cumulative_samples: Int?
                var self_bytes: Int?
            }
            struct Instance: Decodable {
                var instance: String
                var samples: Int?
                var allocated_bytes: Int?
                var file: String?
                var error: String?
                var exit_code: Int32?
            }
            var samples: Int?
            var allocated_bytes: Int?
            var top: [Row]
            var instances: [Instance]
        }

        /// Creates geoids on every server until `stop` is set (at most 2000 requests): CPU to sample.
        static func keepBusy(_ servers: [ServerProcess], until stop: SearchStop) async {
            for index in 0..<2000 where !stop.flag.load(ordering: .relaxed) {
                for server in servers {
                    _ = try? await http(
                        .POST, server.baseURL + "/kimera/geoids",
                        json: #"{"content": "busy geoid \#(index) with a few words to embed and compare"}"#)
                }
            }
        }

        @Test func profileCPUAgainstAFleetWritesAFileEachAndMergesTheTopTable() async throws {
            try await Self.withServers(2) { servers in
                let directory = temporaryDirectory("kimera-fleet-pprof")
                defer { try? FileManager.default.removeItem(at: directory) }
                let down = "http://127.0.0.1:\(try unusedLoopbackPort())"
                let stop = SearchStop()
                async let busy: Void = Self.keepBusy(servers, until: stop)
                let result = try await runCLI(
                    ["profile", "cpu", "--seconds", "2", "--hz", "200", "--file", directory.path + "/cpu.pb.gz",
                     "--top", "500", "-o", "json"] + Self.urls(servers) + ["--url", down], timeout: .seconds(40))
                stop.flag.store(true, ordering: .relaxed)
                await busy
                // One server did not answer: named on stderr, its exit code (3, unreachable) is the command's.
                #expect(result.status == 3, "\(result.stderr)")
                #expect(result.stderr.contains("1 of 3 instances did not answer"), "\(result.stderr)")
                let fleet = try result.decode(PprofFleet.self)
                #expect(fleet.instances.map(\.instance) == servers.map(Self.name) + [KimeraFleet.instanceName(down)])
                #expect(fleet.instances[2].exit_code == 3 && fleet.instances[2].error != nil)
                // Each server's profile is a file of its own, named after it.
                var summaries: [PprofSummary] = []
                for (server, instance) in zip(servers, fleet.instances) {
                    let path = directory.path + "/cpu-127.0.0.1-\(server.port).pb.gz"
                    #expect(instance.file == path)
                    let summary = try PprofSummary(pprof: Array(try Data(contentsOf: URL(fileURLWithPath: path))))
                    #expect(summary.totalSamples > 0 && instance.samples == summary.totalSamples)
                    summaries.append(summary)
                }
                // The top table adds the servers' samples up, function by function.
                #expect(fleet.samples == summaries.map(\.totalSamples).reduce(0, +))
                #expect(!fleet.top.isEmpty)
                for row in fleet.top.prefix(20) {
                    let expected = summaries.map { summary in
                        summary.entries.first { $0.function == row.function }?.cumulativeSamples ?? 0
                    }
                    #expect(row.cumulative_samples == expected.reduce(0, +), "\(row.function): \(expected)")
                }

                // Allocations likewise, in bytes; both servers answer, so the exit code is 0. A sanitized
                // server (scripts/test --sanitize) cannot count allocations and answers 501: exit 5.
                let allocs = try await runCLI(
                    ["profile", "allocs", "--seconds", "1", "--rate", "4096", "-o", "json"] + Self.urls(servers),
                    timeout: .seconds(30))
                let probe = try await http(.GET, servers[0].baseURL + "/debug/pprof/allocs?seconds=1")
                if probe.status == 501 {
                    #expect(allocs.status == 5 && allocs.stderr.contains("2 of 2 instances"), "\(allocs.stderr)")
                    return
                }
                #expect(allocs.status == 0, "\(allocs.stderr)")
                let merged = try allocs.decode(PprofFleet.self)
                #expect(merged.instances.count == 2 && merged.instances.allSatisfy { $0.error == nil })
                #expect(merged.allocated_bytes == merged.instances.compactMap(\.allocated_bytes).reduce(0, +))
            }
        }

        @Test func debugSummaryHasASectionPerInstance() async throws {
            struct Section: Decodable {
                struct Info: Decodable { var version: String }
                var instance: String
                var result: Info?
            }
            struct Sections: Decodable { var instances: [Section] }
            try await Self.withServers(2) { servers in
                let json = try await runCLI(["debug", "--no-logs", "-o", "json"] + Self.urls(servers))
                #expect(json.status == 0, "\(json.stderr)")
                let sections = try json.decode(Sections.self)
                #expect(sections.instances.map(\.instance) == servers.map(Self.name))
                #expect(sections.instances.allSatisfy { $0.result?.version.isEmpty == false })
                let text = try await runCLI(["debug", "-o", "table", "--color", "never"] + Self.urls(servers))
                #expect(text.status == 0)
                for server in servers { #expect(text.stdout.contains("== \(Self.name(server))\n"), "\(text.stdout)") }
                // Each section is a whole summary: its own mode line.
                #expect(text.stdout.components(separatedBy: "(debug off, performance on").count - 1 == 2, "\(text.stdout)")
            }
        }

        @Test func shellConnectTakesSeveralURLsAndCommandsFanOut() async throws {
            try await Self.withServers(2) { servers in
                let script = "connect \(servers[0].baseURL) \(servers[1].baseURL)\nhealth -o json\n"
                let shell = try await runShell(script, url: "http://127.0.0.1:\(try unusedLoopbackPort())")
                #expect(shell.status == 0, "\(shell.stderr)")
                let fleet = try shell.decode(HealthFleet.self)
                #expect(fleet.total == 2 && fleet.ready == 2)
                #expect(fleet.instances.map(\.instance) == servers.map(Self.name))
            }
        }

        @Test func aBundleFromTwoInstancesHoldsTheExpectedFilesAndNoSecret() async throws {
            let secret = "s3cr3t-\(UUID().uuidString)"
            try await Self.withServers(2, ["--debug"], environment: ["KIMERA_ADMIN_TOKEN": secret]) { servers in
                let directory = temporaryDirectory("kimera-bundle")
                defer { try? FileManager.default.removeItem(at: directory) }
                let archive = directory.appendingPathComponent("fleet.tar.gz")
                let result = try await runCLI(
                    [
                        "debug", "bundle", "--duration", "2s", "--interval", "1s", "--output", archive.path, "--token",
                        secret,
                    ]
                        + Self.urls(servers), timeout: .seconds(60))
                #expect(result.status == 0, "\(result.stderr)")
                #expect(FileManager.default.fileExists(atPath: archive.path))

                let listing = try await runProcess("/usr/bin/env", ["tar", "-tzf", archive.path])
                let files = Set(listing.split(separator: "\n").map(String.init))
                #expect(files.contains("fleet/manifest.json"), "\(files.sorted())")
                for server in servers {
                    let folder = "fleet/" + Self.name(server).replacingOccurrences(of: ":", with: "_") + "/"
                    for name in [
                        "info.json", "logs.ndjson", "traces.json", "histograms.json", "stats.json", "profiles.json",
                        "incidents.json", "cpu.pb.gz",
                    ] {
                        #expect(files.contains(folder + name), "missing \(folder + name) in \(files.sorted())")
                    }
                    #expect(files.contains { $0.hasPrefix(folder + "metrics/") && $0.hasSuffix(".prom") })
                }
                let unpacked = directory.appendingPathComponent("unpacked")
                try FileManager.default.createDirectory(at: unpacked, withIntermediateDirectories: true)
                _ = try await runProcess("/usr/bin/env", ["tar", "-xzf", archive.path, "-C", unpacked.path])
                let everything = try await runProcess("/usr/bin/env", ["grep", "-r", "-c", secret, unpacked.path])
                let counts = everything.split(separator: "\n")
                #expect(!counts.isEmpty && counts.allSatisfy { $0.hasSuffix(":0") }, "the secret is in: \(counts)")
                let manifest = try Data(contentsOf: unpacked.appendingPathComponent("fleet/manifest.json"))
                let object = try JSONSerialization.jsonObject(with: manifest) as? [String: Any]
                #expect((object?["instances"] as? [Any])?.count == 2)
                #expect((object?["redacted"] as? [Any])?.isEmpty == false)
                // Each instance's CPU profile covers the window and is a gzipped pprof profile.
                for server in servers {
                    let folder = Self.name(server).replacingOccurrences(of: ":", with: "_")
                    let profile = try Data(contentsOf: unpacked.appendingPathComponent("fleet/\(folder)/cpu.pb.gz"))
                    let summary = try PprofSummary(pprof: Array(profile))
                    #expect(summary.durationNanos >= 1_900_000_000, "\(summary.durationNanos)")
                    #expect(summary.periodNanos == 10_000_000)
                }

                // Profiling was off before and is off again.
                let transport = KimeraTransport()
                for server in servers {
                    let client = try KimeraClient(url: server.baseURL, token: secret, transport: transport)
                    #expect(try await client.debugInfo(includeLogs: false).mode.profiling == false)
                }
                await transport.shutdown()
            }
        }
    }
}

/// Runs a program to completion and returns its stdout.
func runProcess(_ executable: String, _ arguments: [String]) async throws -> String {
    let process = try CLIProcess(arguments, executable: executable)
    return await process.finish(timeout: .seconds(30)).stdout
}
