import Foundation
import KimeraAPI
import KimeraModels
import Testing

/// `kimera serve` as a user starts it: flags, environment, config file, signals, errors.
@Suite("kimera serve", .serialized)
struct ServeTests {
    struct ModeCase: Sendable, CustomStringConvertible {
        var arguments: [String]
        var environment: [String: String]
        var debug: Bool
        var performance: Bool
        var description: String { "\(arguments) \(environment)" }
    }

    static let modeCases: [ModeCase] = [
        ModeCase(arguments: [], environment: [:], debug: false, performance: true),
        ModeCase(arguments: ["--debug"], environment: [:], debug: true, performance: true),
        ModeCase(arguments: ["--debug", "--no-performance"], environment: [:], debug: true, performance: false),
        ModeCase(arguments: ["--no-performance"], environment: [:], debug: false, performance: false),
        ModeCase(arguments: [], environment: ["KIMERA_DEBUG": "true"], debug: true, performance: true),
        ModeCase(
            arguments: [], environment: ["KIMERA_DEBUG": "true", "KIMERA_PERFORMANCE": "false"], debug: true,
            performance: false),
        ModeCase(
            arguments: [], environment: ["KIMERA_DEBUG": "YES", "KIMERA_PERFORMANCE": "off"], debug: true,
            performance: false),
        // Flags beat the environment.
        ModeCase(
            arguments: ["--no-debug", "--performance"], environment: ["KIMERA_DEBUG": "1", "KIMERA_PERFORMANCE": "0"],
            debug: false, performance: true),
    ]

    @Test("each mode, chosen by flags or environment, shows in the headers and in GET /", arguments: modeCases)
    func modes(_ mode: ModeCase) async throws {
        let server = try await ServerProcess.start(mode.arguments, environment: mode.environment)
        let health = try await http(.GET, "\(server.baseURL)/health")
        #expect(health.header("X-Debug-Mode") == String(mode.debug))
        #expect(health.header("X-Performance-Mode") == String(mode.performance))
        let root = try await http(.GET, "\(server.baseURL)/").decode(RootResponse.self)
        #expect(root.mode.debug == mode.debug)
        #expect(root.mode.performance == mode.performance)
        #expect(root.features.cacheEnabled == mode.performance)
        let expectedName =
            mode.debug
            ? (mode.performance ? "performance+debug" : "full-debug") : (mode.performance ? "performance" : "basic")
        #expect(server.stderr.contents.contains("mode:      \(expectedName)"))
        #expect(await server.stop() == 0)
    }

    @Test("precedence: flag over environment over config file over default")
    func precedence() async throws {
        let directory = temporaryDirectory()
        let config = directory.appendingPathComponent("kimera.json")
        try #"{"debug": true, "performance": false}"#.write(to: config, atomically: true, encoding: .utf8)

        let fileOnly = try await ServerProcess.start(["--config", config.path])
        var root = try await http(.GET, "\(fileOnly.baseURL)/").decode(RootResponse.self)
        #expect(root.mode.debug && !root.mode.performance)
        #expect(fileOnly.stderr.contents.contains("config:    file \(config.path)"))
        await fileOnly.stop()

        let environmentOverFile = try await ServerProcess.start(
            ["--config", config.path], environment: ["KIMERA_DEBUG": "false"])
        root = try await http(.GET, "\(environmentOverFile.baseURL)/").decode(RootResponse.self)
        #expect(!root.mode.debug && !root.mode.performance)
        await environmentOverFile.stop()

        let flagOverAll = try await ServerProcess.start(
            ["--config", config.path, "--debug", "--performance"],
            environment: ["KIMERA_DEBUG": "false", "KIMERA_CONFIG": "/nonexistent.json"])
        root = try await http(.GET, "\(flagOverAll.baseURL)/").decode(RootResponse.self)
        #expect(root.mode.debug && root.mode.performance)
        await flagOverAll.stop()

        // KIMERA_CONFIG names the file when --config is absent.
        let viaEnvironment = try await ServerProcess.start([], environment: ["KIMERA_CONFIG": config.path])
        root = try await http(.GET, "\(viaEnvironment.baseURL)/").decode(RootResponse.self)
        #expect(root.mode.debug)
        await viaEnvironment.stop()
    }

    @Test("a boolean environment value outside the allowed words stops startup, naming the variable")
    func invalidEnvironment() async throws {
        for (name, value) in [("KIMERA_DEBUG", "maybe"), ("KIMERA_PERFORMANCE", "fast")] {
            let result = try await runKimera(
                ["serve", "--port", "0", "--data-dir", temporaryDirectory().path], environment: [name: value])
            #expect(result.status == 64)
            let lines = result.stderr.split(separator: "\n")
            #expect(lines.count == 1, "\(result.stderr)")
            #expect(result.stderr.contains("\(name)=\(value)"))
            #expect(result.stderr.contains("true, false, 1, 0, yes, no, on, off"))
        }
        let badPort = try await runKimera(
            ["serve", "--data-dir", temporaryDirectory().path], environment: ["KIMERA_PORT": "eighty"])
        #expect(badPort.status == 64)
        #expect(badPort.stderr.contains("KIMERA_PORT"))
    }

    @Test("/debug/info config.sources names the layer of each setting; a bad flag value names the flag")
    func sourcesOfEachLayer() async throws {
        let directory = temporaryDirectory()
        let config = directory.appendingPathComponent("kimera.json")
        try #"{"debug": true, "performance": false, "instance_id": "from-file", "shutdown": {"drain": 2}}"#.write(
            to: config, atomically: true, encoding: .utf8)
        let server = try await ServerProcess.start(
            ["--config", config.path, "--shutdown-timeout", "3s"],
            environment: ["KIMERA_DEBUG": "false", "KIMERA_HOST": "127.0.0.1"], dataDirectory: directory)
        let info = try await http(.GET, "\(server.baseURL)/debug/info").object
        let configuration = try #require(info["config"] as? [String: Any])
        let sources = try #require(configuration["sources"] as? [String: String])
        let fromFile = "file \(config.path)"
        #expect(
            sources == [
                "debug": "env KIMERA_DEBUG", "performance": fromFile, "host": "env KIMERA_HOST", "port": "flag",
                "data_dir": "flag", "instance_id": fromFile, "shutdown.drain": fromFile, "shutdown.timeout": "flag",
            ], "\(sources)")
        #expect(configuration["mode"] as? String == "basic")
        #expect(configuration["instance_id"] as? String == "from-file")
        #expect(server.stderr.contents.contains("config:    file \(config.path); env KIMERA_DEBUG, env KIMERA_HOST"))
        #expect(await server.stop() == 0)

        let badFlag = try await runKimera(["serve", "--port", "0", "--data-dir", directory.path, "--drain", "soon"])
        #expect(badFlag.status == 64)
        #expect(badFlag.stderr.contains("--drain") && badFlag.stderr.contains("is not a duration"), "\(badFlag.stderr)")
    }

    @Test("/health, /ready and the headers on every response")
    func healthAndHeaders() async throws {
        let server = try await ServerProcess.start()
        let health = try await http(.GET, "\(server.baseURL)/health", headers: [("X-Request-ID", "my-request.1")])
        #expect(health.status == 200)
        let body = try health.decode(HealthResponse.self)
        #expect(body.status.rawValue == "healthy")
        #expect(body.service.rawValue == "kimera")
        #expect(!body.version.isEmpty)
        #expect(body.uptimeS >= 0)
        let nowMs = Int64(Date().timeIntervalSince1970 * 1000)
        #expect(abs(body.timestamp - nowMs) < 60_000)
        #expect(health.header("X-Request-ID") == "my-request.1")
        #expect(Int(health.header("X-Process-Time-Microseconds") ?? "") != nil)
        let ready = try await http(.GET, "\(server.baseURL)/ready")
        #expect(ready.status == 200)
        #expect(try ready.decode(ReadyResponse.self).status.rawValue == "ready")

        let missing = try await http(.GET, "\(server.baseURL)/no/such/thing")
        #expect(missing.status == 404)
        #expect(missing.header("Content-Type") == "application/json")
        #expect(try missing.decode(ErrorBody.self).error == "not_found")
        #expect(missing.header("X-Request-ID") != nil)
        let wrongMethod = try await http(.PUT, "\(server.baseURL)/health")
        #expect(wrongMethod.status == 405)
        #expect(try wrongMethod.decode(ErrorBody.self).error == "method_not_allowed")
        #expect(wrongMethod.header("Allow") == "GET")
        await server.stop()
    }

    @Test("SIGTERM lets an in-flight request complete, then exits 0")
    func gracefulShutdown() async throws {
        let server = try await ServerProcess.start()
        // Send the headers and half of a body, signal, then the rest: the request is in flight.
        let body = #"{"content": "a request that is still arriving when the server is told to stop"}"#
        let split = body.index(body.startIndex, offsetBy: 20)
        let socket = try LoopbackSocket(port: server.port)
        try socket.send(
            "POST /kimera/geoids HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n"
                + body[..<split])
        try await Task.sleep(for: .milliseconds(300))
        kill(server.process.processIdentifier, SIGTERM)
        try await Task.sleep(for: .milliseconds(300))
        #expect(server.process.isRunning)
        try socket.send(String(body[split...]))
        let response = try socket.receiveAll(timeout: .seconds(10))
        #expect(response.hasPrefix("HTTP/1.1 201"), "\(response)")
        #expect(response.contains("geoid_id"))
        #expect(await server.stop(signal: 0) == 0)
        // New connections are refused once it has stopped.
        #expect(throws: (any Error).self) { try LoopbackSocket(port: server.port) }
    }

    @Test("a busy port gives exit 1 and one clear line, no stack trace")
    func busyPort() async throws {
        let first = try await ServerProcess.start()
        let second = try await runKimera([
            "serve", "--port", String(first.port), "--data-dir", temporaryDirectory().path,
        ])
        #expect(second.status == 1)
        let lines = second.stderr.split(separator: "\n").filter { !$0.isEmpty }
        #expect(lines.count == 1, "\(second.stderr)")
        #expect(second.stderr.contains("address already in use"))
        #expect(second.stderr.contains("127.0.0.1:\(first.port)"))
        await first.stop()

        let badAddress = try await runKimera([
            "serve", "--host", "203.0.113.250", "--port", "0", "--data-dir", temporaryDirectory().path,
        ])
        #expect(badAddress.status == 1)
        #expect(badAddress.stderr.split(separator: "\n").count == 1, "\(badAddress.stderr)")
    }

    @Test("--reload applies a changed log level without a restart, also on SIGHUP, and warns about restart-only keys")
    func reload() async throws {
        let directory = temporaryDirectory()
        let config = directory.appendingPathComponent("kimera.json")
        try #"{"logging": {"level": "WARNING"}, "tracing": {"slow_threshold_ms": 100}}"#.write(
            to: config, atomically: true, encoding: .utf8)
        let server = try await ServerProcess.start(["--config", config.path, "--reload"])
        var levels = try await http(.GET, "\(server.baseURL)/debug/log-level").decode(LogLevelsResponse.self)
        #expect(levels.root == .warning)

        try await Task.sleep(for: .milliseconds(1100))  // a different modification time
        try
            #"{"logging": {"level": "DEBUG", "modules": ["kimera.core=ERROR"]}, "tracing": {"slow_threshold_ms": 250}, "host": "127.0.0.2"}"#
            .write(to: config, atomically: true, encoding: .utf8)
        let applied = try await eventually {
            try await http(.GET, "\(server.baseURL)/debug/log-level").decode(LogLevelsResponse.self).root == .debug
        }
        #expect(applied)
        levels = try await http(.GET, "\(server.baseURL)/debug/log-level").decode(LogLevelsResponse.self)
        #expect(levels.modules.first { $0.module == "kimera.core" }?.configured == .error)
        let stats = try await http(.GET, "\(server.baseURL)/performance/stats").decode(PerformanceStats.self)
        #expect(stats.requestStatistics.slowThresholdMs == 250)
        let logs = try await http(.GET, "\(server.baseURL)/debug/logs?module=kimera.config").decode(LogsResponse.self)
        #expect(logs.logs.contains { $0.message.contains("logging.level WARNING -> DEBUG") })
        #expect(
            logs.logs.contains {
                $0.level == .warning && $0.message.contains("host") && $0.message.contains("restart")
            })

        // SIGHUP makes it look at once.
        try await Task.sleep(for: .milliseconds(1100))
        try #"{"logging": {"level": "ERROR"}}"#.write(to: config, atomically: true, encoding: .utf8)
        kill(server.process.processIdentifier, SIGHUP)
        let reloadedOnSignal = try await eventually(timeout: .seconds(5)) {
            try await http(.GET, "\(server.baseURL)/debug/log-level").decode(LogLevelsResponse.self).root == .error
        }
        #expect(reloadedOnSignal)
        #expect(server.process.isRunning)
        #expect(await server.stop() == 0)
    }
}

/// A plain TCP client on 127.0.0.1, for requests that must be sent in pieces.
final class LoopbackSocket {
    let descriptor: Int32

    init(port: Int) throws {
        descriptor = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard result == 0 else {
            Glibc.close(descriptor)
            throw ServerStartError(message: "connect failed: errno \(errno)")
        }
    }

    func send(_ text: some StringProtocol) throws {
        let bytes = Array(text.utf8)
        guard Glibc.send(descriptor, bytes, bytes.count, Int32(MSG_NOSIGNAL)) == bytes.count else {
            throw ServerStartError(message: "send failed: errno \(errno)")
        }
    }

    func receiveAll(timeout: Duration) throws -> String {
        var seconds = timeval(tv_sec: Int(timeout.components.seconds), tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &seconds, socklen_t(MemoryLayout<timeval>.size))
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = Glibc.recv(descriptor, &buffer, buffer.count, 0)
            if count <= 0 { break }
            received += buffer[0..<count]
        }
        return String(decoding: received, as: UTF8.self)
    }

    deinit { Glibc.close(descriptor) }
}
