import Foundation
import Testing

/// One-request escalation (`X-Kimera-Debug`) and log taps (docs/OPERATIONS.md "One-request escalation",
/// "Log taps"), end to end in performance mode, where the ring keeps INFO and above.
@Suite("Escalation and log taps", .serialized)
struct EscalationAndTapTests {
    @Test("X-Kimera-Debug from loopback: Server-Timing, an incident, the cache bypassed, nothing else changed")
    func loopbackEscalation() async throws {
        // A cache TTL long enough that the HIT below does not depend on how busy the machine is.
        let directory = temporaryDirectory()
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let config = directory.appendingPathComponent("config.json")
        try Data(#"{"cache": {"ttl_s": 300}}"#.utf8).write(to: config)
        let server = try await ServerProcess.start(["--config", config.path], dataDirectory: directory)
        defer { try? FileManager.default.removeItem(at: server.dataDirectory) }
        let base = server.baseURL
        let created = try await http(.POST, "\(base)/kimera/geoids", json: #"{"content": "amber tide lantern"}"#)
        #expect(created.status == 201, "\(created.text)")
        let search = "\(base)/kimera/geoids/search?query=amber&limit=2"
        // Cached first, so that an escalated request that used the cache would show it.
        _ = try await http(.GET, search)
        let hit = try await http(.GET, search)
        #expect(hit.header("X-Cache") == "HIT")

        let escalated = try await http(
            .GET, search, headers: [("X-Kimera-Debug", "1"), ("X-Request-ID", "escalated-search-1")])
        #expect(escalated.status == 200, "\(escalated.text)")
        #expect(escalated.header("X-Cache") == "BYPASSED")
        let timing = try #require(escalated.header("Server-Timing"), "\(escalated.headers)")
        #expect(timing.contains("vault;dur="), "\(timing)")
        #expect(timing.contains("serialization;dur="), "\(timing)")
        #expect(timing.contains("total;dur="), "\(timing)")
        let incidentID = try #require(escalated.header("X-Kimera-Incident"))

        let incident = try await http(.GET, "\(base)/debug/incidents/\(incidentID)")
        #expect(incident.status == 200, "\(incident.text)")
        let summary = incident.object["summary"] as? [String: Any] ?? incident.object
        #expect(summary["cause"] as? String == "escalated", "\(incident.text.prefix(1500))")
        #expect(summary["request_id"] as? String == "escalated-search-1")
        #expect((incident.object["reason"] as? String)?.contains("Server-Timing: vault;dur=") == true)
        // Its DEBUG records are kept although the ring keeps INFO and above.
        let logs = incident.object["logs"] as? [[String: Any]] ?? []
        #expect(logs.contains { $0["level"] as? String == "DEBUG" && $0["message"] as? String == "geoid search" })

        // /health, which the event-loop fast path answers, goes through the full path when escalated.
        let health = try await http(.GET, "\(base)/health", headers: [("X-Kimera-Debug", "true")])
        #expect(health.status == 200 && health.header("Server-Timing")?.hasPrefix("total;dur=") == true)
        // Each escalated request is an entry of its own; a plain request leaves nothing, and "0" is no ask.
        _ = try await http(.GET, "\(base)/health", headers: [("X-Kimera-Debug", "true")])
        let plain = try await http(.GET, search, headers: [("X-Kimera-Debug", "0")])
        #expect(plain.header("Server-Timing") == nil && plain.header("X-Cache") != "BYPASSED")
        let list = try await http(.GET, "\(base)/debug/incidents?cause=escalated")
        let entries = list.object["incidents"] as? [[String: Any]] ?? []
        #expect(entries.count == 3, "\(list.text.prefix(2000))")
        #expect(entries.filter { $0["route"] as? String == "/health" }.count == 2)

        // No level or mode changed.
        let levels = try await http(.GET, "\(base)/debug/log-level")
        #expect(levels.object["root"] as? String == "WARNING", "\(levels.text.prefix(300))")
        #expect(escalated.header("X-Debug-Mode") == "false" && escalated.header("X-Performance-Mode") == "true")

        // The CLI: the body on stdout, the breakdown and the incident on stderr; the shell's get alike.
        let cli = try await runCLI(["get", "/kimera/geoids/search?query=amber&limit=1", "--debug", "--url", base])
        #expect(cli.status == 0, "\(cli.stderr)")
        #expect(cli.stdout.contains(#""query" : "amber""#), "\(cli.stdout)")
        #expect(cli.stderr.contains("Server-Timing of request"), "\(cli.stderr)")
        #expect(cli.stderr.contains("kimera incidents show inc-"), "\(cli.stderr)")
        #expect(cli.stderr.contains("vault") && cli.stderr.contains("total"), "\(cli.stderr)")
        let shell = try await runFeeding(
            "get /health --debug\n", to: CLIBinary.path, ["shell", "--url", base], environment: cleanEnvironment())
        #expect(shell.stderr.contains("Server-Timing of request"), "\(shell.stdout)\n\(shell.stderr)")
        let listed = try await runCLI(["incidents", "--cause", "escalated", "-o", "json", "--url", base])
        #expect(listed.status == 0 && listed.stdout.contains(#""cause" : "escalated""#), "\(listed.stdout)")

        // `kimera incidents -f` prints an incident kept after it started, one NDJSON record a line.
        let follower = try CLIProcess(["incidents", "-f", "--cause", "escalated", "-o", "ndjson", "--url", base])
        defer { follower.signal(SIGKILL) }
        let listedFirst = await follower.waitUntil { follower.stdout.contents.contains("escalated-search-1") }
        #expect(listedFirst, "\(follower.stdout.contents)\(follower.stderr.contents)")
        _ = try await http(.GET, "\(base)/health", headers: [("X-Kimera-Debug", "1"), ("X-Request-ID", "followed-1")])
        let followed = await follower.waitUntil(timeout: .seconds(10)) {
            follower.stdout.contents.contains("followed-1")
        }
        #expect(followed, "\(follower.stdout.contents)\(follower.stderr.contents)")
        let line = follower.stdout.contents.split(separator: "\n").last { $0.contains("followed-1") } ?? ""
        #expect(line.contains(#""cause":"escalated""#) && line.contains(#""route":"/health""#), "\(line)")
        follower.signal(SIGINT)

        // Rate-limited: a burst of 10, then 5 a second, whatever the machine's speed.
        var granted = 0
        let started = ContinuousClock.now
        for _ in 0..<40 {
            let answer = try await http(.GET, "\(base)/health", headers: [("X-Kimera-Debug", "1")])
            if answer.header("Server-Timing") != nil { granted += 1 }
        }
        let elapsed = ContinuousClock.now - started
        let allowed = 10 + Int((Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18) * 5) + 1
        #expect(granted >= 1 && granted <= allowed && granted < 40, "granted \(granted) of 40 in \(elapsed)")
        #expect(await server.stop() == 0)
    }

    @Test("X-Kimera-Debug off loopback: ignored without the admin token, granted with it (network namespace)")
    func offLoopbackNeedsTheToken() async throws {
        let namespace = try await TestNamespace.create()
        defer { namespace.delete() }
        let token = "escalation-test-token-7f3c"
        let server = try await ServerProcess.start(
            ["--host", namespace.hostAddress], environment: ["KIMERA_ADMIN_TOKEN": token])
        defer { try? FileManager.default.removeItem(at: server.dataDirectory) }
        let url = "http://\(namespace.hostAddress):\(server.port)"

        let ignored = try await namespace.run([
            "/usr/bin/curl", "-s", "-D", "-", "-o", "/dev/null", "-H", "X-Kimera-Debug: 1", "\(url)/health",
        ])
        #expect(ignored.stdout.contains("200 OK"), "\(ignored.stdout)\(ignored.stderr)")
        #expect(!ignored.stdout.lowercased().contains("server-timing"), "\(ignored.stdout)")
        let granted = try await namespace.run([
            "/usr/bin/curl", "-s", "-D", "-", "-o", "/dev/null", "-H", "X-Kimera-Debug: 1", "-H",
            "Authorization: Bearer \(token)", "\(url)/health",
        ])
        #expect(granted.stdout.lowercased().contains("server-timing: total;dur="), "\(granted.stdout)")
        let wrong = try await namespace.run([
            "/usr/bin/curl", "-s", "-D", "-", "-o", "/dev/null", "-H", "X-Kimera-Debug: 1", "-H",
            "Authorization: Bearer not-the-token", "\(url)/health",
        ])
        #expect(!wrong.stdout.lowercased().contains("server-timing"), "\(wrong.stdout)")

        // The CLI says when the server ignored the ask, and still prints the body.
        let cli = try await namespace.run([CLIBinary.path, "get", "/health", "--debug", "--url", url])
        #expect(cli.status == 0, "\(cli.stderr)")
        #expect(cli.stderr.contains("escalation not granted"), "\(cli.stderr)")
        #expect(cli.stdout.contains(#""status" : "healthy""#), "\(cli.stdout)")

        // One incident: the granted request only.
        let list = try await namespace.run([
            "/usr/bin/curl", "-s", "-H", "Authorization: Bearer \(token)", "\(url)/debug/incidents?cause=escalated",
        ])
        #expect(list.stdout.contains(#""total":1"#), "\(list.stdout)")
        #expect(await server.stop() == 0)
    }

    @Test("a log tap delivers DEBUG records to its subscriber while the levels, the ring and others stay as they were")
    func logTapDeliversDebugToItsSubscriberOnly() async throws {
        let server = try await ServerProcess.start()
        defer { try? FileManager.default.removeItem(at: server.dataDirectory) }
        let base = server.baseURL
        let created = try await http(.POST, "\(base)/kimera/geoids", json: #"{"content": "quartz meadow echo"}"#)
        #expect(created.status == 201)

        let tapped = try CLIProcess([
            "logs", "-f", "--level", "DEBUG", "--module", "kimera.core", "--url", base, "-o", "ndjson",
        ])
        let plain = try CLIProcess(["logs", "-f", "--url", base, "-o", "ndjson"])
        defer {
            tapped.signal(SIGKILL)
            plain.signal(SIGKILL)
        }
        let opened = await eventually {
            let info = try? await http(.GET, "\(base)/debug/info")
            let taps = (info?.object["buffers"] as? [String: Any])?["log_taps"] as? [String: Any]
            return taps?["used"] as? Int == 1
        }
        #expect(opened)
        let search = try await http(
            .GET, "\(base)/kimera/geoids/search?query=quartz", headers: [("X-Request-ID", "tapped-search-1")])
        #expect(search.status == 200)
        let delivered = await tapped.waitUntil(timeout: .seconds(10)) {
            tapped.stdout.contents.contains(#""message":"geoid search""#)
        }
        #expect(delivered, "\(tapped.stdout.contents)\n\(tapped.stderr.contents)")
        #expect(tapped.stdout.contents.contains("tapped-search-1"))
        // Only kimera.core records: the tap's module.
        for line in tapped.stdout.contents.split(separator: "\n") where line.contains(#""module""#) {
            #expect(line.contains(#""module":"kimera.core"#), "\(line)")
        }

        // The level is what it was, the ring holds no DEBUG record, the other subscriber got none.
        let levels = try await http(.GET, "\(base)/debug/log-level")
        #expect(levels.object["root"] as? String == "WARNING")
        let modules = levels.object["modules"] as? [[String: Any]] ?? []
        #expect(!modules.contains { $0["configured"] as? String == "DEBUG" }, "\(levels.text)")
        let ring = try await http(.GET, "\(base)/debug/logs?level=DEBUG&exact=true&limit=1000")
        #expect((ring.object["logs"] as? [Any])?.isEmpty == true, "\(ring.text.prefix(1000))")
        try await Task.sleep(for: .milliseconds(300))
        #expect(!plain.stdout.contents.contains(#""level":"DEBUG""#), "\(plain.stdout.contents)")

        // Bounded: with every tap taken, one more stream below the ring's level is refused, naming the limit;
        // a stream at the ring's level needs no tap and is served.
        let info = try await http(.GET, "\(base)/debug/info")
        let limit = try #require(
            ((info.object["buffers"] as? [String: Any])?["log_taps"] as? [String: Any])?["limit"] as? Int)
        var more: [CLIProcess] = []
        defer { for process in more { process.signal(SIGKILL) } }
        for _ in 1..<limit { more.append(try CLIProcess(["logs", "-f", "--level", "DEBUG", "--url", base])) }
        let full = await eventually {
            let info = try? await http(.GET, "\(base)/debug/info")
            let taps = (info?.object["buffers"] as? [String: Any])?["log_taps"] as? [String: Any]
            return taps?["used"] as? Int == limit
        }
        #expect(full)
        let refused = try await StreamProbe.status(base + "/debug/logs/stream?level=DEBUG")
        #expect(refused == 503)
        let atRingLevel = try await StreamProbe.status(base + "/debug/logs/stream?level=WARNING")
        #expect(atRingLevel == 200)
        let refusedCLI = try await runCLI(["logs", "--level", "TRACE", "-f", "--url", base], timeout: .seconds(5))
        #expect(refusedCLI.stderr.contains("Too many log taps") || refusedCLI.timedOut, "\(refusedCLI.stderr)")
        #expect(await server.stop() == 0)
    }
}

/// A network namespace joined to this one by a veth pair (10.231.N.0/30), so that a client has an address
/// that is not loopback; deleted (with the pair) by `delete()`. Needs root, as CI runs.
struct TestNamespace {
    let name: String
    let hostAddress: String
    let clientAddress: String

    static func create() async throws -> TestNamespace {
        let id = Int(getpid()) % 200 + 20
        let name = "kimera-test-\(id)"
        let host = "kv\(id)h"
        let client = "kv\(id)c"
        let namespace = TestNamespace(name: name, hostAddress: "10.231.\(id).1", clientAddress: "10.231.\(id).2")
        namespace.delete()
        for arguments in [
            ["netns", "add", name],
            ["link", "add", host, "type", "veth", "peer", "name", client],
            ["link", "set", client, "netns", name],
            ["addr", "add", "\(namespace.hostAddress)/30", "dev", host],
            ["link", "set", host, "up"],
            ["netns", "exec", name, "/usr/sbin/ip", "addr", "add", "\(namespace.clientAddress)/30", "dev", client],
            ["netns", "exec", name, "/usr/sbin/ip", "link", "set", client, "up"],
            ["netns", "exec", name, "/usr/sbin/ip", "link", "set", "lo", "up"],
        ] {
            let result = try await CLIProcess(arguments, executable: "/usr/sbin/ip").finish(timeout: .seconds(10))
            guard result.status == 0 else {
                namespace.delete()
                throw ServerStartError(message: "ip \(arguments.joined(separator: " ")): \(result.stderr) (needs root)")
            }
        }
        return namespace
    }

    /// Runs a program inside the namespace.
    func run(_ arguments: [String]) async throws -> CLIResult {
        try await CLIProcess(["netns", "exec", name] + arguments, executable: "/usr/sbin/ip").finish(
            timeout: .seconds(30))
    }

    /// Deleting the namespace deletes the veth pair.
    func delete() {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
        process.arguments = ["netns", "del", name]
        process.standardError = FileHandle.nullDevice
        try? process.run()
        process.waitUntilExit()
    }
}
