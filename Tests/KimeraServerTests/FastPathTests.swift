import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import KimeraAPI
import KimeraModels
import KimeraTelemetry
import Testing

@testable import KimeraObservability
@testable import KimeraServer

struct ConnectFailure: Error, CustomStringConvertible {
    let port: Int
    var description: String { "cannot connect to localhost:\(port)" }
}

/// One HTTP/1.1 connection on loopback written and read byte for byte, to send pipelined requests and to
/// see exactly what the server wrote (header order included) and whether it closed the connection.
/// `@unchecked Sendable`: a test uses it from one task at a time, each read awaited before the next call.
final class RawConnection: @unchecked Sendable {
    struct Response {
        var status: Int
        /// In the order the server wrote them.
        var headers: [(name: String, value: String)]
        var body: [UInt8]

        func header(_ name: String) -> String? {
            headers.first { $0.name.lowercased() == name.lowercased() }?.value
        }
        var text: String { String(decoding: body, as: UTF8.self) }
    }

    private let socket: Int32
    private var buffer: [UInt8] = []
    private(set) var closedByServer = false

    /// Connects to `port` on 127.0.0.1, else on ::1 (the test server binds "localhost").
    init(port: Int) throws {
        if let socket = Self.connect(v4: true, port: port) ?? Self.connect(v4: false, port: port) {
            self.socket = socket
        } else {
            throw ConnectFailure(port: port)
        }
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(socket, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    private static func connect(v4: Bool, port: Int) -> Int32? {
        let socket = Glibc.socket(v4 ? AF_INET : AF_INET6, Int32(SOCK_STREAM.rawValue), 0)
        let result: Int32
        if v4 {
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            result = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    Glibc.connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
        } else {
            var address = sockaddr_in6()
            address.sin6_family = sa_family_t(AF_INET6)
            address.sin6_port = in_port_t(UInt16(port).bigEndian)
            address.sin6_addr = in6addr_loopback
            result = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    Glibc.connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in6>.size))
                }
            }
        }
        if result == 0 { return socket }
        close(socket)
        return nil
    }

    deinit { close(socket) }

    func send(_ text: String) {
        var bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let sent = bytes.withUnsafeMutableBytes {
                Glibc.send(socket, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL))
            }
            if sent <= 0 { return }
            offset += sent
        }
    }

    /// `send` on a thread of its own, for payloads the server may stop reading (a refused body): a send
    /// blocked on a full socket must not hold one of the few cooperative threads.
    func sendOffThePool(_ text: String) async {
        await Self.offThePool { self.send(text) }
    }

    /// Reads more bytes; false at the end of the stream (or the 10 s timeout).
    private func fill() -> Bool {
        var chunk = [UInt8](repeating: 0, count: 65536)
        let count = chunk.withUnsafeMutableBytes { recv(socket, $0.baseAddress, $0.count, 0) }
        if count <= 0 {
            closedByServer = count == 0
            return false
        }
        buffer.append(contentsOf: chunk[0..<count])
        return true
    }

    /// The next whole response, nil if the connection ended first. Waits on a thread of its own: a
    /// blocking read on one of the few cooperative threads could starve the server under test.
    func next() async -> Response? {
        await Self.offThePool { self.nextBlocking() }
    }

    /// Whether the server closes the connection (after what was read so far) within the timeout.
    func waitForClose() async -> Bool {
        await Self.offThePool {
            while self.fill() {}
            return self.closedByServer
        }
    }

    private static func offThePool<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            Thread { continuation.resume(returning: work()) }.start()
        }
    }

    /// The next whole response (a Content-Length body), nil if the connection ended first.
    private func nextBlocking() -> Response? {
        let separator: [UInt8] = [13, 10, 13, 10]
        while true {
            if let end = findSeparator(separator) {
                let headText = String(decoding: buffer[0..<end], as: UTF8.self)
                var lines = headText.components(separatedBy: "\r\n")
                let statusLine = lines.removeFirst().split(separator: " ")
                let headers = lines.map { line -> (String, String) in
                    let colon = line.firstIndex(of: ":")!
                    return (
                        String(line[..<colon]),
                        String(line[line.index(after: colon)...]).trimmingCharacters(in: .whitespaces)
                    )
                }
                let length =
                    Int(headers.first { $0.0.lowercased() == "content-length" }?.1 ?? "0") ?? 0
                while buffer.count < end + 4 + length { if !fill() { return nil } }
                let body = Array(buffer[(end + 4)..<(end + 4 + length)])
                buffer.removeFirst(end + 4 + length)
                return Response(status: Int(statusLine[1]) ?? 0, headers: headers, body: body)
            }
            if !fill() { return nil }
        }
    }

    private func findSeparator(_ separator: [UInt8]) -> Int? {
        guard buffer.count >= separator.count else { return nil }
        for index in 0...(buffer.count - separator.count) where buffer[index..<(index + 4)].elementsEqual(separator) {
            return index
        }
        return nil
    }
}

func get(_ path: String, _ extra: String = "") -> String {
    "GET \(path) HTTP/1.1\r\nHost: localhost\r\n\(extra)\r\n"
}

@Suite("Event-loop fast path")
struct FastPathTests {
    /// Header values that differ from one response to the next whichever path answers.
    /// (`Content-Length` too: `/health`'s uptime and timestamp change their digit count.) A client-chosen
    /// request id is compared separately.
    static let varying: Set<String> = [
        "x-process-time-microseconds", "date", "x-cache-age", "x-request-id", "content-length", "traceparent",
    ]

    /// The response of each server, fast path on and off, to the same request sequence on one connection.
    static func responses(
        debug: Bool, performance: Bool, requests: [String], security: SecuritySettings = SecuritySettings(),
        telemetry: Bool = false
    ) async throws -> (fast: [RawConnection.Response], full: [RawConnection.Response], answered: Int) {
        var results: [[RawConnection.Response]] = []
        var answered = 0
        for fastPath in [true, false] {
            // Export to a port nothing listens on: the exporters are not run here, only the spans are made.
            let export = try telemetry
                ? TelemetrySettings.resolve(
                    environment: [:], endpoint: "http://127.0.0.1:9", defaultInstanceID: "test").map {
                        try TelemetryExport(settings: $0)
                    } : nil
            // A TTL no loaded machine outlasts between two requests of a sequence.
            var live = LiveSettings()
            live.cacheTTLSeconds = 60
            let server = TestServer(
                debug: debug, performance: performance, live: live, security: security, fastPath: fastPath,
                telemetry: export)
            let collected = try await server.application().test(.live) { client in
                let connection = try RawConnection(port: client.port!)
                var collected: [RawConnection.Response] = []
                for request in requests {
                    connection.send(request)
                    collected.append(try #require(await connection.next()))
                }
                return collected
            }
            if fastPath { answered = server.app.fastPathAnswers.count }
            #expect(fastPath || server.app.fastPathAnswers.count == 0)
            results.append(collected)
        }
        return (results[0], results[1], answered)
    }

    /// Status, every header in order with its value (except the varying ones), and the body; `/health`
    /// and `/` bodies compared by field, without the fields that change with time.
    static func expectSame(_ fast: RawConnection.Response, _ full: RawConnection.Response, _ label: String) {
        #expect(fast.status == full.status, "\(label)")
        #expect(fast.headers.map { $0.name.lowercased() } == full.headers.map { $0.name.lowercased() }, "\(label)")
        for (a, b) in zip(fast.headers, full.headers) where !varying.contains(a.name.lowercased()) {
            #expect(a.value == b.value, "\(label): \(a.name)")
        }
        for name in varying {
            #expect((fast.header(name) != nil) == (full.header(name) != nil), "\(label): \(name)")
        }
        func fields(_ body: [UInt8]) -> [String: String] {
            let object = (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] ?? [:]
            var fields: [String: String] = [:]
            for (key, value) in object where key != "timestamp" && key != "uptime_s" {
                let data = try? JSONSerialization.data(
                    withJSONObject: value, options: [.sortedKeys, .fragmentsAllowed])
                fields[key] = data.map { String(decoding: $0, as: UTF8.self) } ?? "\(value)"
            }
            return fields
        }
        #expect(!fields(fast.body).isEmpty, "\(label)")
        #expect(fields(fast.body) == fields(full.body), "\(label)")
    }

    @Test("/health answered by the fast path matches the full path field by field in every mode")
    func healthMatchesInEveryMode() async throws {
        for (debug, performance) in [(false, true), (true, true), (true, false), (false, false)] {
            let label = "debug \(debug) performance \(performance)"
            let (fast, full, answered) = try await Self.responses(
                debug: debug, performance: performance,
                requests: [
                    get("/health"), get("/health", "X-Request-ID: client-chosen-7\r\n"),
                    get("/health?probe=1", "Connection: keep-alive\r\n"),
                ])
            #expect(answered == 3, "\(label)")
            for (a, b) in zip(fast, full) { Self.expectSame(a, b, label) }
            #expect(fast[0].status == 200)
            #expect(fast[0].header("X-Debug-Mode") == (debug ? "true" : "false"))
            #expect(fast[0].header("X-Performance-Mode") == (performance ? "true" : "false"))
            #expect(fast[1].header("X-Request-ID") == "client-chosen-7")
            #expect(full[1].header("X-Request-ID") == "client-chosen-7")
            #expect(fast[0].header("X-Request-ID") != fast[2].header("X-Request-ID"))
            let health = try JSONDecoder().decode(HealthResponse.self, from: Data(fast[0].body))
            #expect(health.status.rawValue == "healthy")
        }
    }

    @Test("with OpenTelemetry export on, the fast path answers with the span's traceparent, as the full path does")
    func exportOnKeepsTheFastPath() async throws {
        let traceID = String(repeating: "ab", count: 16)
        let (fast, full, answered) = try await Self.responses(
            debug: false, performance: true,
            requests: [get("/health"), get("/health", "traceparent: 00-\(traceID)-00f067aa0ba902b7-01\r\n"), get("/"), get("/")],
            telemetry: true)
        #expect(answered == 3)
        for (index, (a, b)) in zip(fast, full).enumerated() { Self.expectSame(a, b, "request \(index)") }
        for response in fast + full {
            // A new trace (or the caller's) named by the request id, a span of its own in the response.
            let traceparent = try #require(response.header("traceparent"))
            let parts = traceparent.split(separator: "-").map(String.init)
            #expect(parts.count == 4 && parts[0] == "00" && parts[2].count == 16)
            #expect(response.header("X-Request-ID") == parts[1])
        }
        #expect(fast[1].header("X-Request-ID") == traceID)
        #expect(full[1].header("X-Request-ID") == traceID)
        #expect(fast[1].header("traceparent")?.contains("00f067aa0ba902b7") == false)
        #expect(fast[3].header("X-Cache") == "HIT")
    }

    @Test("a cached GET / hit from the fast path carries the full path's headers and the stored bytes")
    func cacheHitMatches() async throws {
        let (fast, full, answered) = try await Self.responses(
            debug: false, performance: true, requests: [get("/"), get("/"), get("/?bypass_cache=true"), get("/")])
        // The miss and the bypass go to the full path; both hits come from the fast path.
        #expect(answered == 2)
        for (index, (a, b)) in zip(fast, full).enumerated() { Self.expectSame(a, b, "request \(index)") }
        #expect(fast.map { $0.header("X-Cache") } == ["MISS", "HIT", "BYPASSED", "HIT"])
        #expect(fast[1].body == fast[0].body)
        #expect(fast[1].header("Cache-Control") == "public, max-age=60")
        // Seconds since it was stored, with a fraction; under the 60 s TTL (a loaded machine can take over a
        // second between the two requests, so no tighter bound).
        let age = fast[1].header("X-Cache-Age")
        #expect(age?.contains(".") == true && (age.flatMap(Double.init) ?? 60) < 60, "\(age ?? "none")")
    }

    @Test("with performance off there is no cache: GET / goes to the handler every time")
    func noCacheWithoutPerformance() async throws {
        let (fast, full, answered) = try await Self.responses(
            debug: true, performance: false, requests: [get("/"), get("/")])
        #expect(answered == 0)
        for (a, b) in zip(fast, full) { Self.expectSame(a, b, "no cache") }
        #expect(fast.allSatisfy { $0.header("X-Cache") == nil })
    }

    @Test("fast-path requests count in statistics, traces and /metrics like full-path ones")
    func recordedLikeTheFullPath() async throws {
        var live = LiveSettings()
        live.cacheTTLSeconds = 60
        let server = TestServer(live: live)
        try await server.application().test(.live) { client in
            let connection = try RawConnection(port: client.port!)
            for _ in 0..<5 {
                connection.send(get("/health", "X-Request-ID: counted-one\r\n"))
                _ = try #require(await connection.next())
            }
            connection.send(get("/"))
            _ = try #require(await connection.next())
            connection.send(get("/"))
            #expect(try #require(await connection.next()).header("X-Cache") == "HIT")
            #expect(server.app.fastPathAnswers.count == 6)

            let stats = try await client.execute(uri: "/performance/stats", method: .get) { $0 }
            let statistics = try stats.json(PerformanceStats.self).requestStatistics
            #expect(statistics.endpoints["/health"]?.timing.count == 5)
            #expect(statistics.endpoints["/"]?.timing.count == 2)
            let traces = try await client.execute(uri: "/debug/traces?request_id=counted-one", method: .get) { $0 }
            let list = try traces.json(TracesResponse.self)
            #expect(list.traces.count == 5)
            #expect(list.traces.allSatisfy { $0.route == "/health" && $0.status == 200 })
            let hits = try await client.execute(uri: "/debug/traces?path_filter=/&limit=100", method: .get) { $0 }
            #expect(try hits.json(TracesResponse.self).traces.contains { $0.path == "/" && $0.cache == .hit })
            let metrics = try await client.execute(uri: "/metrics", method: .get) { $0 }
            #expect(metrics.text.contains("route=\"/health\""))
            #expect(server.engine.cache.stats.hits == 1)
        }
    }

    @Test("limits still apply: oversized headers, URI and declared body are refused as on the full path")
    func limitsStillApply() async throws {
        var security = SecuritySettings()
        security.maxHeaderBytes = 512
        security.maxURIBytes = 256
        let server = TestServer(
            limits: {
                var l = StoreLimits(); l.maxBodyBytes = 100; return l
            }(), security: security)
        try await server.application().test(.live) { client in
            let connection = try RawConnection(port: client.port!)
            connection.send(get("/health", "X-Filler: \(String(repeating: "a", count: 600))\r\n"))
            #expect(try #require(await connection.next()).status == 431)
            connection.send(get("/health?x=\(String(repeating: "b", count: 300))"))
            #expect(try #require(await connection.next()).status == 414)
            connection.send("GET /health HTTP/1.1\r\nHost: localhost\r\nContent-Length: 200\r\n\r\n")
            let tooLarge = try #require(await connection.next())
            #expect(tooLarge.status == 413)
            #expect(tooLarge.header("X-Request-ID") != nil)
            #expect(server.app.fastPathAnswers.count == 0)
        }
    }

    @Test("access control: with a token required off loopback /health stays open, protected paths still ask")
    func accessControlStillApplies() async throws {
        let (fast, full, answered) = try await Self.responses(
            debug: false, performance: true, requests: [get("/health"), get("/metrics"), get("/debug/info")],
            security: SecurityTests.guarded())
        #expect(answered == 1)
        #expect(fast.map(\.status) == [200, 401, 401])
        for (a, b) in zip(fast, full) { #expect(a.status == b.status) }
        Self.expectSame(fast[0], full[0], "/health behind a token")
    }

    @Test("a debug mode switch shows on the next fast-path response")
    func modeSwitch() async throws {
        let server = TestServer()
        try await server.application().test(.live) { client in
            let connection = try RawConnection(port: client.port!)
            connection.send(get("/health"))
            #expect(try #require(await connection.next()).header("X-Debug-Mode") == "false")
            try await client.execute(uri: "/debug/mode?enabled=true", method: .post) { #expect($0.status == .ok) }
            connection.send(get("/health", "Authorization: Bearer s3cr3t-value\r\n"))
            let response = try #require(await connection.next())
            #expect(response.header("X-Debug-Mode") == "true")
            let id = try #require(response.header("X-Request-ID"))
            let traces = try await client.execute(uri: "/debug/traces?request_id=\(id)", method: .get) { $0 }
            let trace = try #require(try traces.json(TracesResponse.self).traces.first)
            // Debug mode records the (redacted) headers, on the fast path as on the full path.
            #expect(trace.requestHeaders?["authorization"] != nil)
            #expect(trace.requestHeaders?["authorization"]?.contains("s3cr3t") == false)
            #expect(server.app.fastPathAnswers.count == 2)
        }
    }

    @Test("pipelined requests are answered in order, even behind a slow full-path request")
    func pipeliningKeepsOrder() async throws {
        let server = TestServer()
        let app = server.application { router in
            router.get("/test/slow") { _, _ in
                try await Task.sleep(for: .milliseconds(300))
                return "slow"
            }
        }
        try await app.test(.live) { client in
            let connection = try RawConnection(port: client.port!)
            connection.send(get("/test/slow") + get("/health") + get("/health", "X-Request-ID: third\r\n"))
            let first = try #require(await connection.next())
            let second = try #require(await connection.next())
            let third = try #require(await connection.next())
            #expect(first.text == "slow")
            #expect(second.header("Content-Type") == "application/json")
            #expect(third.header("X-Request-ID") == "third")
            // Then, nothing left in the responder: the same connection is answered on the fast path.
            let before = server.app.fastPathAnswers.count
            connection.send(get("/health") + get("/health"))
            #expect(try #require(await connection.next()).status == 200)
            #expect(try #require(await connection.next()).status == 200)
            #expect(server.app.fastPathAnswers.count == before + 2)
        }
    }

    @Test("while draining, a fast-path response says Connection: close and the connection closes after it")
    func drainClosesConnections() async throws {
        let server = TestServer()
        try await server.application().test(.live) { client in
            let connection = try RawConnection(port: client.port!)
            connection.send(get("/health"))
            #expect(try #require(await connection.next()).header("Connection") == nil)
            server.app.connections.closingAfterResponse.store(true, ordering: .relaxed)
            connection.send(get("/health"))
            let response = try #require(await connection.next())
            #expect(response.status == 200)
            #expect(response.header("Connection") == "close")
            #expect(await connection.waitForClose())
            #expect(server.app.fastPathAnswers.count == 2)
            server.app.connections.closingAfterResponse.store(false, ordering: .relaxed)
        }
    }

    @Test("Connection: close on the request is left to the full path, which closes after answering")
    func connectionCloseRequest() async throws {
        let server = TestServer()
        try await server.application().test(.live) { client in
            let connection = try RawConnection(port: client.port!)
            connection.send(get("/health", "Connection: close\r\n"))
            #expect(try #require(await connection.next()).status == 200)
            #expect(await connection.waitForClose())
            #expect(server.app.fastPathAnswers.count == 0)
        }
    }

    @Test("the Date header is RFC 9110's IMF-fixdate")
    func dateFormat() {
        #expect(HTTPDate.format(epochSeconds: 784_111_777) == "Sun, 06 Nov 1994 08:49:37 GMT")
        #expect(HTTPDate.format(epochSeconds: 0) == "Thu, 01 Jan 1970 00:00:00 GMT")
    }
}
