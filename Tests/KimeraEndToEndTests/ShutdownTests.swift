import Foundation
import Testing

/// Stopping `kimera serve` (docs/OPERATIONS.md "Rolling restarts"): the drain, the grace period, what is
/// closed at its end, and the second signal.
@Suite("kimera serve shutdown", .serialized)
struct ShutdownTests {
    /// The head of a POST whose body will stop after 5 of its 100 bytes.
    static let halfSentBody =
        "POST /kimera/geoids HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"con"

    /// The server's JSON-lines log file, read after it exited (so also after its sinks were flushed).
    static func logMessages(_ server: ServerProcess) -> [String] {
        let file = server.dataDirectory.appendingPathComponent("kimera.log")
        guard let text = try? String(contentsOf: file, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap { line in
            let object = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any]
            return object?["message"] as? String
        }
    }

    /// Starts a server that logs NOTICE and above (the shutdown phases) to `<data-dir>/kimera.log`.
    static func start(_ arguments: [String]) async throws -> ServerProcess {
        let directory = temporaryDirectory()
        let config = directory.appendingPathComponent("kimera.json")
        try #"{"logging": {"level": "NOTICE"}}"#.write(to: config, atomically: true, encoding: .utf8)
        return try await ServerProcess.start(
            arguments + ["--config", config.path, "--log-file", directory.appendingPathComponent("kimera.log").path],
            dataDirectory: directory)
    }

    /// Waits (at most `limit`) for the process to exit; returns the time it took and its status.
    static func waitForExit(_ server: ServerProcess, limit: Duration) async -> (elapsed: Duration, status: Int32?) {
        let start = ContinuousClock.now
        while server.process.isRunning && ContinuousClock.now - start < limit {
            try? await Task.sleep(for: .milliseconds(10))
        }
        let elapsed = ContinuousClock.now - start
        return (elapsed, server.process.isRunning ? nil : server.process.terminationStatus)
    }

    @Test(
        "a half-sent body does not hold shutdown past --shutdown-timeout: exit 0 within about 2 s, the log says what was cut off"
    )
    func halfSentBodyIsClosedAtTheTimeout() async throws {
        let server = try await Self.start(["--shutdown-timeout", "2s"])
        let socket = try LoopbackSocket(port: server.port)
        try socket.send(Self.halfSentBody)
        try await Task.sleep(for: .milliseconds(300))
        kill(server.process.processIdentifier, SIGTERM)
        let (elapsed, status) = await Self.waitForExit(server, limit: .seconds(8))
        #expect(status == 0)
        #expect(elapsed >= .milliseconds(1800), "closed before the grace period ended: \(elapsed)")
        #expect(elapsed < .seconds(3) + sanitizerSlack, "took \(elapsed)")
        let messages = Self.logMessages(server)
        #expect(
            messages.contains {
                $0.contains("grace period of 2s over") && $0.contains("POST /kimera/geoids")
                    && $0.contains("body 5 of 100 bytes")
            }, "\(messages)")
        #expect(messages.contains { $0.contains("shutdown complete") }, "\(messages)")
        await server.stop()
    }

    @Test("a second SIGTERM ends the drain and the grace period at once, exit 0")
    func secondSignalStopsAtOnce() async throws {
        let server = try await Self.start(["--drain", "5s", "--shutdown-timeout", "10s"])
        let socket = try LoopbackSocket(port: server.port)
        try socket.send(Self.halfSentBody)
        try await Task.sleep(for: .milliseconds(200))
        kill(server.process.processIdentifier, SIGTERM)
        try await Task.sleep(for: .milliseconds(500))
        #expect(server.process.isRunning, "it should still be draining")
        kill(server.process.processIdentifier, SIGTERM)
        let (elapsed, status) = await Self.waitForExit(server, limit: .seconds(8))
        #expect(status == 0)
        #expect(elapsed < .milliseconds(1000) + sanitizerSlack, "took \(elapsed) after the second signal")
        let messages = Self.logMessages(server)
        #expect(
            messages.contains { $0.contains("second SIGTERM") && $0.contains("POST /kimera/geoids") }, "\(messages)")
        await server.stop()
    }

    @Test(
        "after the drain the listener is closed, yet an in-flight request that completes within the grace period gets its 201"
    )
    func inFlightRequestFinishesInTheGracePeriod() async throws {
        let server = try await Self.start(["--drain", "500ms", "--shutdown-timeout", "5s"])
        let body = #"{"content": "a request that is still arriving when the server is told to stop"}"#
        let split = body.index(body.startIndex, offsetBy: 20)
        let socket = try LoopbackSocket(port: server.port)
        try socket.send(
            "POST /kimera/geoids HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n"
                + body[..<split])
        try await Task.sleep(for: .milliseconds(200))
        kill(server.process.processIdentifier, SIGTERM)
        try await Task.sleep(for: .milliseconds(1500))  // past the drain, inside the grace period
        #expect(server.process.isRunning)
        #expect(throws: (any Error).self) { try LoopbackSocket(port: server.port) }
        try socket.send(String(body[split...]))
        let response = try socket.receiveAll(timeout: .seconds(5))
        #expect(response.hasPrefix("HTTP/1.1 201"), "\(response)")
        #expect(response.contains("geoid_id"))
        #expect(response.lowercased().contains("connection: close"))
        let (elapsed, status) = await Self.waitForExit(server, limit: .seconds(5))
        #expect(status == 0)
        #expect(elapsed < .seconds(1) + sanitizerSlack, "exit took \(elapsed) after the last response")
        await server.stop()
    }

    @Test(
        "during the drain /ready is 503, other requests succeed with Connection: close, and keep-alive connections end after their response"
    )
    func drainKeepsServing() async throws {
        let server = try await Self.start(["--drain", "2s"])
        let keptAlive = try LoopbackSocket(port: server.port)
        try keptAlive.send("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        let before = try keptAlive.receiveResponse(timeout: .seconds(5))
        #expect(before.hasPrefix("HTTP/1.1 200"), "\(before)")
        #expect(!before.lowercased().contains("connection: close"))

        let signalled = ContinuousClock.now
        kill(server.process.processIdentifier, SIGTERM)
        try await Task.sleep(for: .milliseconds(200))
        let ready = try await http(.GET, "\(server.baseURL)/ready")
        #expect(ready.status == 503)
        let health = try await http(.GET, "\(server.baseURL)/health")
        #expect(health.status == 200)
        #expect(health.header("Connection")?.lowercased() == "close")
        let created = try await http(
            .POST, "\(server.baseURL)/kimera/geoids", json: #"{"content": "during the drain"}"#)
        #expect(created.status == 201)
        #expect(created.header("Connection")?.lowercased() == "close")

        // The pooled connection: its next response says close, then the server closes it.
        try keptAlive.send("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        let during = try keptAlive.receiveAll(timeout: .seconds(3))
        #expect(during.hasPrefix("HTTP/1.1 200"), "\(during)")
        #expect(during.lowercased().contains("connection: close"))
        #expect(ContinuousClock.now - signalled < .seconds(2), "the connection was not closed before the drain ended")

        let (_, status) = await Self.waitForExit(server, limit: .seconds(5))
        #expect(status == 0)
        let exited = ContinuousClock.now - signalled
        #expect(exited >= .milliseconds(1900) && exited < .seconds(3) + sanitizerSlack, "exited \(exited) after the signal")
        let messages = Self.logMessages(server)
        #expect(messages.contains { $0.contains("SIGTERM: draining for 2s") }, "\(messages)")
        #expect(messages.contains { $0.contains("no longer accepting connections") }, "\(messages)")
        await server.stop()
    }

    @Test(
        "shutdown settings: flag > KIMERA_DRAIN / KIMERA_SHUTDOWN_TIMEOUT > file, in /debug/info and the banner; a bad duration stops startup"
    )
    func shutdownSettings() async throws {
        let directory = temporaryDirectory()
        let config = directory.appendingPathComponent("kimera.json")
        try #"{"shutdown": {"drain": "3s", "timeout": "20s"}}"#.write(to: config, atomically: true, encoding: .utf8)
        let server = try await ServerProcess.start(
            ["--config", config.path, "--shutdown-timeout", "1500ms"], environment: ["KIMERA_DRAIN": "250ms"],
            dataDirectory: directory)
        let info = try await http(.GET, "\(server.baseURL)/debug/info").object
        let configuration = info["config"] as? [String: Any] ?? info["configuration"] as? [String: Any] ?? [:]
        let shutdown = configuration["shutdown"] as? [String: Any]
        #expect(shutdown?["drain_s"] as? Double == 0.25, "\(info)")
        #expect(shutdown?["timeout_s"] as? Double == 1.5)
        let sources = configuration["sources"] as? [String: String]
        #expect(sources?["shutdown.drain"] == "env KIMERA_DRAIN")
        #expect(sources?["shutdown.timeout"] == "flag")
        #expect(server.stderr.contents.contains("shutdown:  drain 250ms, then up to 1500ms for in-flight requests"))
        #expect(await server.stop() == 0)

        let bad = try await runKimera(
            ["serve", "--port", "0", "--data-dir", directory.path], environment: ["KIMERA_DRAIN": "soon"])
        #expect(bad.status == 64)
        #expect(bad.stderr.contains("KIMERA_DRAIN=soon is not a duration"), "\(bad.stderr)")
    }
}

extension LoopbackSocket {
    /// Reads one response whose length `Content-Length` gives, leaving the connection open.
    func receiveResponse(timeout: Duration) throws -> String {
        var seconds = timeval(tv_sec: Int(timeout.components.seconds), tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &seconds, socklen_t(MemoryLayout<timeval>.size))
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let text = String(decoding: received, as: UTF8.self)
            if let end = text.range(of: "\r\n\r\n") {
                let head = text[..<end.lowerBound].lowercased()
                let length =
                    head.split(separator: "\r\n").first { $0.hasPrefix("content-length:") }
                    .flatMap { Int($0.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) } ?? 0
                if text.utf8.count - text[..<end.upperBound].utf8.count >= length { return text }
            }
            let count = Glibc.recv(descriptor, &buffer, buffer.count, 0)
            if count <= 0 { return text }
            received += buffer[0..<count]
        }
    }
}
