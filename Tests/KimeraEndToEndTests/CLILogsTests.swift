import Foundation
import KimeraClient
import Testing

#if canImport(Glibc)
    import Glibc
#endif

extension CLITests {
    /// `kimera logs`: filters as the server applies them, and `--follow` printing what is logged after it starts.
    @Suite
    struct CLILogsTests {
        /// A server whose config file can be made to fail on reload: each rejected version logs one ERROR
        /// record (`kimera.config`), and a tiny slow threshold makes every request log a WARNING.
        static func withNoisyServer(_ body: (CLIServer, URL) async throws -> Void) async throws {
            let config = FileManager.default.temporaryDirectory.appendingPathComponent(
                "kimera-cli-\(UUID().uuidString).json")
            try Data(#"{"tracing":{"slow_threshold_ms":0.001}}"#.utf8).write(to: config)
            defer { try? FileManager.default.removeItem(at: config) }
            try await withCLIServer(["--config", config.path, "--reload"]) { server in try await body(server, config) }
        }

        @Test func levelErrorWithLimitShowsExactlyTheErrorRecords() async throws {
            try await Self.withNoisyServer { server, config in
                for attempt in 1...3 {
                    let text = #"{"tracing":{"slow_threshold_ms":0.001},"logging":{"level":"BOGUS\#(attempt)"}}"#
                    try Data(text.utf8).write(to: config)
                    let reached = try await eventually {
                        try await server.client.logs(LogQuery(level: .error)).count >= attempt
                    }
                    #expect(reached, "the server did not reject config version \(attempt)")
                }
                for _ in 0..<5 { _ = try await server.client.health() }

                let everything = try await server.client.logs(LogQuery(limit: 5000))
                let expected = everything.logs.filter { [.error, .critical].contains($0.level) }
                #expect(expected.count == 3)
                #expect(everything.logs.contains { $0.level == .warning })

                let result = try await server.run(["logs", "--level", "ERROR", "--limit", "20", "-o", "json"])
                #expect(result.status == 0, "\(result.stderr)")
                let page = try result.decode(LogsResponse.self)
                #expect(page.logs == expected)

                let lines = try await server.run(["logs", "--level", "error", "--limit", "20", "-o", "ndjson"])
                #expect(try lines.decodeLines(LogRecord.self) == expected)

                let table = try await server.run(["logs", "--level", "ERROR", "--limit", "20", "-o", "table"])
                let rows = table.stdout.split(separator: "\n").dropFirst()
                #expect(rows.count == 3)
                #expect(rows.allSatisfy { $0.contains("ERROR") && $0.contains("kimera.config") })

                let exact = try await server.run(["logs", "--level", "WARNING", "--exact", "-o", "json"])
                #expect(try exact.decode(LogsResponse.self).logs.allSatisfy { $0.level == .warning })
            }
        }

        @Test func followPrintsARecordLoggedAfterItStartedAndExits130OnInterrupt() async throws {
            try await withCLIServer { server in
                let follow = try CLIProcess(["logs", "--follow", "--module", "kimera.core", "--url", server.url])
                // Connected once the server counts one stream subscriber.
                let subscribed = try await eventually {
                    try await server.client.debugInfo(includeLogs: false, includeTraces: false, includeProfiles: false)
                        .buffers["log_stream_subscribers"]?.used == 1
                }
                #expect(subscribed, "logs --follow did not connect: \(follow.stderr.contents)")

                let created = try await server.client.createGeoid(
                    CreateGeoidRequest(content: "a line logged while following"))
                let printed = await follow.waitUntil { follow.stdout.contents.contains(created.geoidID) }
                #expect(printed, "the new record was not printed: \(follow.stdout.contents) \(follow.stderr.contents)")

                follow.signal(SIGINT)
                let result = await follow.finish(timeout: .seconds(10))
                #expect(result.status == 130)
                let records = try result.decodeLines(LogRecord.self)
                #expect(
                    records.contains { $0.message == "geoid created" && $0.metadata["geoid_id"] == created.geoidID })
                #expect(records.allSatisfy { $0.module.hasPrefix("kimera.core") })
            }
        }

        @Test func followResumesAfterTheServerEndsTheStream() async throws {
            // The stream ends when the server drains; a new server on the same port must be picked up.
            let first = try await CLIServer.start()
            let port = URL(string: first.url)?.port ?? 0
            let follow = try CLIProcess(["logs", "-f", "-o", "ndjson", "--url", first.url])
            let subscribed = try await eventually {
                try await first.client.debugInfo().buffers["log_stream_subscribers"]?.used == 1
            }
            #expect(subscribed)
            await first.stop()

            let second = try await CLIServer.start(port: port)
            do {
                let reconnected = await follow.waitUntil { follow.stderr.contents.contains("reconnected") }
                #expect(reconnected, "\(follow.stderr.contents)")
                let created = try await second.client.createGeoid(CreateGeoidRequest(content: "after the restart"))
                let printed = await follow.waitUntil { follow.stdout.contents.contains(created.geoidID) }
                #expect(printed, "\(follow.stdout.contents) \(follow.stderr.contents)")
                #expect(follow.stderr.contents.contains("restarted"))
            } catch {
                Issue.record(error)
            }
            follow.signal(SIGINT)
            _ = await follow.finish(timeout: .seconds(10))
            await second.stop()
        }

        @Test func followReportsGapLinesAndSkipsHeartbeats() async throws {
            let record = { (seq: Int, message: String) in
                #"{"seq":\#(seq),"timestamp":"2026-01-01T00:00:0\#(seq).000000Z","level":"INFO","module":"kimera.test","message":"\#(message)","request_id":null,"metadata":{},"source":{"file":"f","function":"g","line":1}}"#
            }
            let stream =
                [
                    record(1, "first"), #"{"gap":{"from_seq":2,"to_seq":4}}"#, #"{"heartbeat":true}"#,
                    record(5, "after the gap"),
                ].joined(separator: "\n") + "\n"
            let stub = try StubHTTPServer { request in
                if request.hasPrefix("GET /health") {
                    return StubHTTPServer.json(
                        "200 OK",
                        #"{"status":"healthy","timestamp":1000,"service":"kimera","version":"0.1.0","uptime_s":1}"#)
                }
                if request.hasPrefix("GET /debug/logs/stream") {
                    return StubHTTPServer.json("200 OK", stream, length: false)
                }
                return StubHTTPServer.json(
                    "200 OK", #"{"count":0,"logs":[],"buffer_capacity":5000,"dropped":0,"next_seq":6}"#)
            }
            defer { stub.stop() }
            let follow = try CLIProcess([
                "logs", "-f", "--since-seq", "0", "-o", "ndjson", "--url", "http://127.0.0.1:\(stub.port)",
            ])
            let noticed = await follow.waitUntil { follow.stderr.contents.contains("3 records lost (seq 2–4)") }
            follow.signal(SIGINT)
            let result = await follow.finish(timeout: .seconds(10))
            #expect(noticed, "\(result.stderr)")
            let records = try result.decodeLines(LogRecord.self)
            #expect(Array(records.prefix(2).map(\.seq)) == [1, 5])
            #expect(result.status == 130)
        }
    }
}
