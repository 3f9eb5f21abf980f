import Foundation
import KimeraClient
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The command line's plain-HTTP exchange (`PlainHTTP`, behind `KimeraClient.send`) against canned answers
/// on loopback (`StubHTTPServer`): the framings an HTTP/1.1 server may choose, and the failures a user sees
/// as exit codes.
@Suite("Plain HTTP exchanges of the command line")
struct PlainHTTPTests {
    static func client(_ port: Int, timeout: Duration = .seconds(5)) throws -> (KimeraClient, KimeraTransport) {
        let transport = KimeraTransport()
        return (
            try KimeraClient(url: "http://127.0.0.1:\(port)", token: "t0ken", timeout: timeout, transport: transport),
            transport
        )
    }

    @Test func aChunkedAnswerIsReadWholeAndTheRequestSaysWhatItShould() async throws {
        let received = Mutex("")
        let server = try StubHTTPServer { head in
            received.withLock { $0 = head }
            return "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Kimera-Request-Id: abc\r\n\r\n"
                + "6\r\nhello \r\n5;ext=1\r\nworld\r\n0\r\n\r\n"
        }
        defer { server.stop() }
        let (client, transport) = try Self.client(server.port)
        let answer = try await client.send("get", "/debug/x", query: [("a", "1 2")])
        await transport.shutdown()
        #expect(answer.status == 200)
        #expect(String(decoding: answer.body, as: UTF8.self) == "hello world")
        #expect(answer.headers.contains { $0.0 == "X-Kimera-Request-Id" && $0.1 == "abc" })
        let request = received.withLock { $0 }
        #expect(request.hasPrefix("GET /debug/x?a=1%202 HTTP/1.1\r\n"), "\(request)")
        #expect(request.contains("Host: 127.0.0.1:\(server.port)\r\n"))
        #expect(request.contains("Authorization: Bearer t0ken\r\n") && request.contains("Connection: close\r\n"))
    }

    @Test func anAnswerWithoutALengthEndsWhereTheServerCloses() async throws {
        let server = try StubHTTPServer(
            response: StubHTTPServer.json("503 Service Unavailable", #"{"error":"unavailable"}"#, length: false))
        defer { server.stop() }
        let (client, transport) = try Self.client(server.port)
        let answer = try await client.send("GET", "/ready")
        await transport.shutdown()
        #expect(answer.status == 503)
        #expect(String(decoding: answer.body, as: UTF8.self) == #"{"error":"unavailable"}"#)
    }

    @Test func aServerThatNeverAnswersIsATimeoutNotAHang() async throws {
        let server = try StubHTTPServer(response: nil)
        defer { server.stop() }
        let (client, transport) = try Self.client(server.port, timeout: .milliseconds(300))
        let started = ContinuousClock.now
        await #expect(throws: ClientError.timeout(url: "http://127.0.0.1:\(server.port)/health", seconds: 0.3)) {
            _ = try await client.send("GET", "/health")
        }
        // Not a hang: well under what a wait for an answer that never comes would take, with room for a
        // loaded test machine (a 300 ms timeout once took 2.07 s while the whole suite ran on 2 cores).
        #expect(ContinuousClock.now - started < .seconds(5))
        await transport.shutdown()
    }

    @Test func aClosedPortIsUnreachableAndACutAnswerIsATransportError() async throws {
        let port = try unusedLoopbackPort()
        let (client, transport) = try Self.client(port)
        await #expect(throws: ClientError.unreachable(url: "http://127.0.0.1:\(port)/health", reason: "connection refused")) {
            _ = try await client.send("GET", "/health")
        }
        await transport.shutdown()

        let server = try StubHTTPServer(response: "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this")
        defer { server.stop() }
        let (cut, cutTransport) = try Self.client(server.port)
        await #expect(
            throws: ClientError.transport(
                url: "http://127.0.0.1:\(server.port)/health", detail: "the server closed the connection mid-body")
        ) {
            _ = try await cut.send("GET", "/health")
        }
        await cutTransport.shutdown()
    }

    @Test func aChunkSizeNearIntMaxIsRefusedNotACrash() async throws {
        let server = try StubHTTPServer(
            response: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n7fffffffffffffff\r\nx")
        defer { server.stop() }
        let (client, transport) = try Self.client(server.port)
        await #expect(
            throws: ClientError.transport(
                url: "http://127.0.0.1:\(server.port)/health",
                detail: "the answer is larger than \(KimeraClient.maxBodyBytes) bytes")
        ) {
            _ = try await client.send("GET", "/health")
        }
        await transport.shutdown()
    }
}
