import Foundation
import KimeraAPI
import KimeraModels
import Testing

/// What an attacker or a careless operator tried in the first hour (issue 23), against the real binary:
/// each test failed before the fix it names.
@Suite("Hostile first hour")
struct HostileOperatorTests {
    // MARK: Data

    @Test("the data folder deleted under a running server: writes are refused with 503, /ready says why")
    func deletedDataFolder() async throws {
        let server = try await ServerProcess.start()
        defer { try? FileManager.default.removeItem(at: server.dataDirectory) }
        let before = try await http(.POST, server.baseURL + "/kimera/geoids", json: #"{"content": "kept"}"#)
        #expect(before.status == 201)
        try FileManager.default.removeItem(at: server.dataDirectory)
        for index in 0..<3 {
            let create = try await http(
                .POST, server.baseURL + "/kimera/geoids", json: #"{"content": "lost \#(index)"}"#)
            #expect(create.status == 503, "create \(index): \(create.status)")
            #expect(create.text.contains("deleted"))
        }
        let ready = try await http(.GET, server.baseURL + "/ready")
        #expect(ready.status == 503)
        #expect(ready.text.contains("deleted"))
        #expect(await server.stop() == 0)
    }

    @Test("--vault sqlite:PATH names the file; a missing folder is a startup error")
    func vaultPathNamesTheFile() async throws {
        let folder = temporaryDirectory("kimera-vault-path")
        defer { try? FileManager.default.removeItem(at: folder) }
        let first = try await ServerProcess.start(["--vault", "sqlite:\(folder.path)/a.sqlite"])
        let second = try await ServerProcess.start(["--vault", "sqlite:\(folder.path)/b.sqlite"])
        #expect(FileManager.default.fileExists(atPath: folder.path + "/a.sqlite"))
        #expect(FileManager.default.fileExists(atPath: folder.path + "/b.sqlite"))
        #expect(!FileManager.default.fileExists(atPath: folder.path + "/kimera.sqlite"))
        let created = try await http(.POST, first.baseURL + "/kimera/geoids", json: #"{"content": "only in a"}"#)
        #expect(created.status == 201)
        let id = try #require(created.object["geoid_id"] as? String)
        #expect(try await http(.GET, first.baseURL + "/kimera/geoids/\(id)").status == 200)
        #expect(try await http(.GET, second.baseURL + "/kimera/geoids/\(id)").status == 404)
        #expect(await first.stop() == 0)
        #expect(await second.stop() == 0)

        let missing = try await runKimera([
            "serve", "--port", "0", "--data-dir", folder.path, "--vault", "sqlite:/nonexistent/dir/x.sqlite",
        ])
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("/nonexistent/dir") && missing.stderr.contains("does not exist"))
        #expect(!FileManager.default.fileExists(atPath: "/nonexistent/dir"))
    }

    @Test("a second server on the same data folder refuses to start and names the first one's pid")
    func oneServerPerVault() async throws {
        let first = try await ServerProcess.start()
        defer { try? FileManager.default.removeItem(at: first.dataDirectory) }
        let second = try await runKimera(["serve", "--port", "0", "--data-dir", first.dataDirectory.path])
        #expect(second.status == 1)
        #expect(second.stderr.contains("pid \(first.process.processIdentifier)"), "\(second.stderr)")
        #expect(await first.stop() == 0)
        // Once the first is gone, the folder is free again.
        let third = try await ServerProcess.start(dataDirectory: first.dataDirectory)
        #expect(await third.stop() == 0)
    }

    // MARK: Security

    @Test("a user name and password in --url are refused (exit 64) and never repeated")
    func credentialsInTheURL() async throws {
        for arguments in [
            ["health", "--url", "http://admin:hunter2-pw@127.0.0.1:9"],
            ["health", "-o", "json", "--url", "http://admin:hunter2-pw@127.0.0.1:9"],
            ["context", "add", "prod", "--url", "http://admin:hunter2-pw@127.0.0.1:9"],
        ] {
            let result = try await runCLI(arguments, environment: ["XDG_CONFIG_HOME": temporaryDirectory().path])
            #expect(result.status == 64, "\(arguments)")
            #expect(!(result.stdout + result.stderr).contains("hunter2"), "\(arguments)")
            #expect(result.stderr.contains("--token"), "\(arguments)")
        }
    }

    @Test("a corrupt contexts file with a current context is an error naming it (exit 64), not 127.0.0.1")
    func corruptContextsFile() async throws {
        let home = temporaryDirectory("kimera-xdg")
        defer { try? FileManager.default.removeItem(at: home) }
        let file = home.appendingPathComponent("kimera/contexts.json")
        try FileManager.default.createDirectory(
            at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        try #"{"current": "prod", "contexts": {"prod": "#.write(to: file, atomically: true, encoding: .utf8)
        let result = try await runCLI(["health"], environment: ["XDG_CONFIG_HOME": home.path])
        #expect(result.status == 64)
        #expect(result.stderr.contains(file.path))
    }

    @Test("the audit trail cannot be silenced by the change it records")
    func auditCannotBeSilenced() async throws {
        let server = try await ServerProcess.start()
        defer { try? FileManager.default.removeItem(at: server.dataDirectory) }
        for module in ["kimera.audit", "kimera"] {
            let silence = try await http(
                .POST, server.baseURL + "/debug/log-level?level=CRITICAL&module=\(module)")
            #expect(silence.status == 200)
        }
        let change = try await http(.POST, server.baseURL + "/debug/mode?enabled=true")
        #expect(change.status == 200)
        let logs = try await http(.GET, server.baseURL + "/debug/logs?module=kimera.audit&limit=100")
        let records = try logs.decode(LogsResponse.self).logs
        #expect(records.contains { $0.message.contains("module=kimera") || $0.message.contains("kimera.audit") })
        #expect(records.contains { $0.message.lowercased().contains("debug") && $0.module == "kimera.audit" })
        #expect(await server.stop() == 0)
    }

    @Test("secret names beyond the usual and the admin token in a path or query are masked in every sink")
    func widerRedaction() async throws {
        let token = "operator-admin-token-7f3a9c"
        let logFile = temporaryDirectory("kimera-redaction").appendingPathComponent("kimera.log")
        let server = try await ServerProcess.start(
            ["--debug", "--no-performance", "--log-file", logFile.path], environment: ["KIMERA_ADMIN_TOKEN": token])
        defer { try? FileManager.default.removeItem(at: server.dataDirectory) }
        let secrets = ["pw-111", "au-222", "se-333", "sg-444", "pp-555", "xs-666", "xg-777"]
        let request = try await http(
            .GET, server.baseURL + "/health?pwd=pw-111&auth=au-222&session=se-333&sig=sg-444&note=\(token)",
            headers: [("X-Passphrase", "pp-555"), ("X-Session", "xs-666"), ("X-Signature", "xg-777")])
        #expect(request.status == 200)
        _ = try await http(.GET, server.baseURL + "/kimera/geoids/\(token)")
        let traces = try await http(.GET, server.baseURL + "/debug/traces?limit=10")
        let logs = try await http(.GET, server.baseURL + "/debug/logs?limit=200")
        _ = await server.stop()
        let file = (try? String(contentsOf: logFile, encoding: .utf8)) ?? ""
        #expect(!file.isEmpty)
        for (sink, text) in [("traces", traces.text), ("ring", logs.text), ("file", file), ("console", server.stderr.contents)] {
            for secret in secrets + [token] {
                #expect(!text.contains(secret), "\(sink) shows \(secret)")
            }
        }
        #expect(traces.text.contains("pwd=***"))
    }

    // MARK: Robustness

    @Test("full debug with a console pipe nobody reads: /health and /ready keep answering, lines are dropped and counted")
    func blockedConsole() async throws {
        // The server's stderr is a pipe this test never reads.
        let directory = temporaryDirectory("kimera-blocked-console")
        defer { try? FileManager.default.removeItem(at: directory) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: kimeraBinary)
        let port = try unusedLoopbackPort()
        process.arguments = [
            "serve", "--debug", "--no-performance", "--port", String(port), "--data-dir", directory.path,
        ]
        process.environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("KIMERA_") }
        let unread = Pipe()
        process.standardError = unread
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        defer {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        let base = "http://127.0.0.1:\(port)"
        #expect(await eventually(timeout: .seconds(20)) { (try? await http(.GET, base + "/health"))?.status == 200 })
        // Before, the 65th request or so hung for good; each now answers within the client's 5 s timeout.
        for index in 0..<300 {
            let health = try await http(.GET, base + (index % 2 == 0 ? "/health" : "/ready"), timeout: .seconds(5))
            #expect(health.status == 200)
        }
        let info = try await http(.GET, base + "/debug/info")
        let sinks = (info.object["logging"] as? [String: Any])?["sinks"] as? [[String: Any]] ?? []
        let console = sinks.first { $0["name"] as? String == "console" }
        #expect(((console?["dropped"] as? Int) ?? 0) > 0, "\(sinks)")
    }

    @Test("a killed log-stream subscriber frees its slot at once")
    func killedStreamFreesItsSlot() async throws {
        let server = try await ServerProcess.start()
        defer { try? FileManager.default.removeItem(at: server.dataDirectory) }
        let info = try await http(.GET, server.baseURL + "/debug/info")
        let fill = (info.object["buffers"] as? [String: Any])?["log_stream_subscribers"] as? [String: Any]
        let streams = try #require(fill?["limit"] as? Int)
        for _ in 0..<2 {
            var followers: [CLIProcess] = []
            for _ in 0..<streams {
                followers.append(try CLIProcess(["logs", "-f", "--url", server.baseURL]))
            }
            // Every slot taken: one more stream is refused.
            let full = await eventually(timeout: .seconds(10)) {
                (try? await StreamProbe.status(server.baseURL + "/debug/logs/stream")) == 503
            }
            #expect(full)
            for follower in followers { follower.signal(SIGKILL) }
            for follower in followers { _ = await follower.finish(timeout: .seconds(5)) }
            // At once (well before the 15 s heartbeat) a new stream is served, not refused.
            let started = ContinuousClock.now
            let served = await eventually(timeout: .seconds(5)) {
                (try? await StreamProbe.status(server.baseURL + "/debug/logs/stream")) == 200
            }
            #expect(served)
            #expect(ContinuousClock.now - started < .seconds(5))
        }
        #expect(await server.stop() == 0)
    }

    @Test("--reload: a config file that turns invalid, empty, of the wrong type or deleted is an ERROR naming it")
    func reloadReportsABrokenFile() async throws {
        let directory = temporaryDirectory("kimera-reload")
        defer { try? FileManager.default.removeItem(at: directory) }
        let config = directory.appendingPathComponent("kimera.json")
        try #"{"tracing": {"slow_threshold_ms": 100}}"#.write(to: config, atomically: true, encoding: .utf8)
        let server = try await ServerProcess.start(["--config", config.path, "--reload"])
        defer { try? FileManager.default.removeItem(at: server.dataDirectory) }
        for (content, problem) in [
            ("{not json", "is not valid JSON"), ("", "is empty"), ("[1, 2]", "is not a JSON object"), (nil, "was deleted"),
        ] {
            if let content {
                try content.write(to: config, atomically: true, encoding: .utf8)
            } else {
                try FileManager.default.removeItem(at: config)
            }
            let reported = await eventually(timeout: .seconds(6)) {
                server.stderr.contents.split(separator: "\n").contains {
                    $0.contains("ERROR") && $0.contains(config.path) && $0.contains(problem)
                }
            }
            #expect(reported, "\(problem): \(server.stderr.contents)")
        }
        // The last good configuration is still in force.
        let info = try await http(.GET, server.baseURL + "/debug/info")
        #expect(info.text.contains("\"slow_threshold_ms\":100"))
        #expect(await server.stop() == 0)
    }

    @Test("durations out of range are refused with the range named: ttl, --drain")
    func durationsOutOfRange() async throws {
        let server = try await ServerProcess.start()
        defer { try? FileManager.default.removeItem(at: server.dataDirectory) }
        for ttl in ["25h", "2d", "0.4ms"] {
            let response = try await http(.POST, server.baseURL + "/debug/mode?enabled=true&ttl=\(ttl)")
            #expect(response.status == 400, "ttl=\(ttl)")
            #expect(response.text.contains("1ms to 24h"), "ttl=\(ttl)")
        }
        #expect(await server.stop() == 0)
        let drain = try await runKimera(["serve", "--port", "0", "--drain", "2d"])
        #expect(drain.status == 64)
        #expect(drain.stderr.contains("1d"))
    }
}

/// The status of a streaming GET, read from its head alone (the body never ends). The blocking socket
/// calls run on a thread of their own: a blocked cooperative thread would starve every other test in the
/// process (two cores, two cooperative threads).
enum StreamProbe {
    static func status(_ url: String) async throws -> Int {
        let parts = url.replacingOccurrences(of: "http://", with: "").split(separator: "/", maxSplits: 1)
        guard let port = parts[0].split(separator: ":").last.flatMap({ Int($0) }) else { return 0 }
        let path = "/" + (parts.count > 1 ? String(parts[1]) : "")
        return await withCheckedContinuation { continuation in
            Thread { continuation.resume(returning: blockingStatus(port: port, path: path)) }.start()
        }
    }

    private static func blockingStatus(port: Int, path: String) -> Int {
        guard let socket = try? LoopbackSocket(port: port),
            (try? socket.send("GET \(path) HTTP/1.1\r\nHost: localhost\r\n\r\n")) != nil
        else { return 0 }
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(socket.descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var buffer = [UInt8](repeating: 0, count: 256)
        let count = recv(socket.descriptor, &buffer, buffer.count, 0)
        guard count > 12 else { return 0 }
        return Int(String(decoding: buffer[9..<12], as: UTF8.self)) ?? 0
    }
}
