import AsyncHTTPClient
import Foundation
import Hummingbird
import HummingbirdTesting
import KimeraAPI
import KimeraCore
import KimeraModels
import Logging
import NIOCore
import Testing

@testable import KimeraObservability
@testable import KimeraServer

@Suite("Log stream")
struct LogStreamTests {
    /// Splits a byte stream into lines.
    struct LineReader {
        var iterator: HTTPClientResponse.Body.AsyncIterator
        var pending = ""

        mutating func next() async throws -> String? {
            while true {
                if let newline = pending.firstIndex(of: "\n") {
                    let line = String(pending[..<newline])
                    pending = String(pending[pending.index(after: newline)...])
                    return line
                }
                guard let buffer = try await iterator.next() else { return nil }
                pending += String(buffer: buffer)
            }
        }
    }

    @Test("records arrive in order after since_seq; a stalled reader gets a gap line; others are unaffected")
    func streamOrderGapAndIsolation() async throws {
        var limits = StoreLimits()
        limits.streamSubscriberBuffer = 100
        let server = TestServer(debug: true, limits: limits)
        let logger = server.engine.logger("kimera.stream.test")
        logger.info("before the stream")
        let startSeq = server.engine.ring.fill.nextSeq - 1
        try await server.test(.live) { client in
            let port = try #require(client.port)
            let base = "http://127.0.0.1:\(port)"

            // 1. A reader that keeps up sees records in order, starting after since_seq.
            var request = HTTPClientRequest(
                url: "\(base)/debug/logs/stream?module=kimera.stream.test&since_seq=\(startSeq)")
            request.method = .GET
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
            #expect(response.status == .ok)
            #expect(response.headers.first(name: "content-type") == "application/x-ndjson")
            var reader = LineReader(iterator: response.body.makeAsyncIterator())
            for index in 1...5 { logger.info("live \(index)") }
            var messages: [String] = []
            var seqs: [UInt64] = []
            while messages.count < 5, let line = try await reader.next() {
                let record = try JSONDecoder().decode(LogRecord.self, from: Data(line.utf8))
                messages.append(record.message)
                seqs.append(UInt64(record.seq))
            }
            #expect(messages == ["live 1", "live 2", "live 3", "live 4", "live 5"])
            #expect(seqs == seqs.sorted())
            #expect(seqs.first! > startSeq)

            // 2. A reader that stops reading: its buffer fills and the loss becomes one gap line.
            var stalledRequest = HTTPClientRequest(url: "\(base)/debug/logs/stream?module=kimera.stream.flood")
            stalledRequest.method = .GET
            let stalled = try await HTTPClient.shared.execute(stalledRequest, timeout: .seconds(60))
            let flood = server.engine.logger("kimera.stream.flood")
            let payload = String(repeating: "p", count: 2000)
            for index in 0..<20_000 { flood.info("flood \(index) \(payload)") }

            // Meanwhile the server answers everyone else quickly.
            var slowest = 0
            for _ in 0..<200 {
                try await client.execute(uri: "/health", method: .get) { response in
                    #expect(response.status == .ok)
                    slowest = max(slowest, Int(response.headers[.processTime] ?? "0") ?? 0)
                }
            }
            #expect(slowest < 50_000, "slowest /health took \(slowest) µs")

            var stalledReader = LineReader(iterator: stalled.body.makeAsyncIterator())
            var sawGap = false
            var floodRecords = 0
            var lastSeq: UInt64 = 0
            while let line = try await stalledReader.next() {
                if line.hasPrefix("{\"gap\"") {
                    let gap = try JSONDecoder().decode(StreamGap.self, from: Data(line.utf8))
                    #expect(gap.gap.fromSeq > lastSeq)
                    #expect(gap.gap.toSeq >= gap.gap.fromSeq)
                    sawGap = true
                    break
                }
                lastSeq = UInt64(try JSONDecoder().decode(LogRecord.self, from: Data(line.utf8)).seq)
                floodRecords += 1
            }
            #expect(sawGap)
            #expect(floodRecords < 20_000)
            #expect(server.engine.ring.subscriptions.count == 2)
        }
        // Disconnects free everything.
        let freed = await eventually { server.engine.ring.subscriptions.count == 0 }
        #expect(freed)
    }
}
