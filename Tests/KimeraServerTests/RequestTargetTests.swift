import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import KimeraModels
import Testing

@testable import KimeraObservability
@testable import KimeraServer

/// A request target has many spellings; access control, the response cache and the fast path decide on
/// one reading of it (docs/API.md §1 "Request targets"), and malformed HTTP gets the JSON error body.
@Suite("Request targets and framing")
struct RequestTargetTests {
    static let token = "test-admin-token-0123456789"

    @Test("spellings of a path rewrite to one canonical form; the canonical form is left alone")
    func canonicalForms() {
        let cases: [(String, String?)] = [
            ("/debug/info", nil), ("/", nil), ("/health?x=1", nil), ("/?", nil),
            ("//debug/info", "/debug/info"), ("///debug//logs", "/debug/logs"), ("/debug/./info", "/debug/info"),
            ("/kimera/x/../geoids/search?query=a", "/kimera/geoids/search?query=a"), ("/debug/%69nfo", "/debug/info"),
            ("/debug/info/", "/debug/info"), ("/../../metrics", "/metrics"), ("/%2e%2E/metrics", "/metrics"),
            ("http://127.0.0.1:8001/metrics?a=1", "/metrics?a=1"), ("http://host", "/"), ("/health#top", "/health"),
            ("/a%2Fb", nil), ("*", nil), ("/?q=1#f", "/?q=1"), ("/?#", "/?"),
        ]
        for (target, expected) in cases {
            #expect(RequestTarget.canonical(target) == expected, "\(target)")
        }
    }

    @Test("the canonical form is a fixed point, and the one-scan check agrees with the rewrite (10,000 targets)")
    func canonicalIsAFixedPoint() {
        var random = HostileInputTests.SplitMix64(state: 20_261_204)
        let pieces = [
            "/", "/", "//", ".", "..", "./", "../", "%2e", "%2E", "%2F", "%41", "%7e", "%zz", "%", "a", "debug",
            "info", "?", "&", "=", "#", "~", "http://h", "x:",
        ]
        for _ in 0..<10_000 {
            let count = Int(random.next() % 8) + 1
            var target = random.next() % 4 == 0 ? "" : "/"
            for _ in 0..<count { target += pieces[Int(random.next() % UInt64(pieces.count))] }
            let canonical = RequestTarget.canonical(target)
            #expect(RequestTarget.canonical(canonical ?? target) == nil, "\(target) -> \(canonical ?? "same")")
            if RequestTarget.isCanonicalOriginForm(target) { #expect(canonical == nil, "\(target)") }
            if let canonical, canonical.hasPrefix("/") {
                #expect(RequestTarget.isCanonicalOriginForm(canonical), "\(target) -> \(canonical)")
            }
        }
    }

    /// Every spelling of a GET route of the route table, made in several ways at once.
    static func spellings(of path: String) -> [String] {
        let segments = path.split(separator: "/").map(String.init)
        guard let last = segments.last, let first = last.first else { return ["/" + path, path + "/"] }
        let encodedLast = String(format: "%%%02X", first.asciiValue ?? 0x61) + String(last.dropFirst())
        let prefix = segments.dropLast().map { "/" + $0 }.joined()
        return [
            "/" + path, path + "/", prefix + "//" + last, prefix + "/./" + last, prefix + "/zz/../" + last,
            prefix + "/" + encodedLast, "http://127.0.0.1" + path, "//" + path.dropFirst() + "?x=1",
        ]
    }

    @Test(
        "token required: every spelling of every GET route gets the access decision of the route itself (fast path on)"
    )
    func everySpellingOfARouteGetsItsAccessDecision() async throws {
        var security = SecuritySettings()
        security.trustLoopback = false
        security.adminToken = Self.token
        let server = TestServer(withVault: true, security: security)
        var routes: [String] = []
        for route in server.app.makeRouter().routes where route.methods.contains("GET") {
            let segments: [String] = route.path.split(separator: "/").map { $0.hasPrefix("{") ? "p1" : String($0) }
            routes.append("/" + segments.joined(separator: "/"))
        }
        let getRoutes = routes
        #expect(getRoutes.contains("/debug/info") && getRoutes.contains("/metrics"))
        try await server.application().test(.live) { client in
            for route in getRoutes {
                let protected = AccessControlMiddleware.isProtected(route: route)
                for spelling in Self.spellings(of: route) {
                    let connection = try RawConnection(port: client.port!)
                    connection.send(get(spelling))
                    let response = try #require(await connection.next(), "\(spelling)")
                    if protected {
                        #expect(response.status == 401, "\(spelling) of \(route): \(response.status)")
                    } else {
                        #expect(response.status != 401 && response.status != 403, "\(spelling) of \(route)")
                    }
                }
            }
            // And with the token, the spellings of a protected route are served.
            for spelling in Self.spellings(of: "/debug/info") {
                let connection = try RawConnection(port: client.port!)
                connection.send(get(spelling, "Authorization: Bearer \(Self.token)\r\n"))
                #expect(await connection.next()?.status == 200, "\(spelling)")
            }
        }
    }

    @Test("repeated parameters: the cache key and the handler read the same query; spelling alone shares an entry")
    func repeatedParametersDoNotShareACacheEntry() async throws {
        // A TTL no loaded machine outlasts between two requests.
        var live = LiveSettings()
        live.cacheTTLSeconds = 60
        let server = TestServer(live: live, withVault: true)
        try await server.test { client in
            try await client.execute(uri: "/kimera/geoids/search?query=dogs&query=cats", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.xCache] == "MISS")
                #expect(response.object["query"] as? String == "dogs")
            }
            try await client.execute(uri: "/kimera/geoids/search?query=cats&query=dogs", method: .get) { response in
                #expect(response.headers[.xCache] == "MISS")
                #expect(response.object["query"] as? String == "cats")
            }
            // The same reading spelled otherwise (an escaped letter, another order between names) is a hit.
            try await client.execute(uri: "/kimera/geoids/search?limit=5&query=d%6Fgs&query=cats", method: .get) {
                response in
                #expect(response.object["query"] as? String == "dogs")
            }
            try await client.execute(uri: "/kimera/geoids/search?query=d%6Fgs&query=cats&limit=5", method: .get) {
                response in
                #expect(response.headers[.xCache] == "HIT")
                #expect(response.object["query"] as? String == "dogs")
            }
            try await client.execute(uri: "//kimera/geoids/./search?query=cats&query=dogs", method: .get) { response in
                #expect(response.headers[.xCache] == "HIT")
                #expect(response.object["query"] as? String == "cats")
            }
        }
    }

    /// Sends `request` on a new connection and returns the response and whether the server closed after it.
    static func exchange(_ port: Int, _ request: String) async throws -> (RawConnection.Response, closed: Bool) {
        let connection = try RawConnection(port: port)
        await connection.sendOffThePool(request)
        let response = try #require(await connection.next())
        return (response, await connection.waitForClose())
    }

    static func errorBody(_ response: RawConnection.Response) -> ErrorBody? {
        try? JSONDecoder().decode(ErrorBody.self, from: Data(response.body))
    }

    @Test("malformed HTTP gets the JSON error body: 414, 431 (bytes and field count), 400, CONNECT 405; then close")
    func malformedRequestsGetJSON() async throws {
        let server = TestServer()
        try await server.application().test(.live) { client in
            let port = client.port!
            let longURI = try await Self.exchange(port, get("/health?" + String(repeating: "a", count: 90_000)))
            #expect(longURI.0.status == 414 && Self.errorBody(longURI.0)?.error == "uri_too_long")
            #expect(longURI.closed)
            let bigHeader = try await Self.exchange(
                port, get("/health", "X-Big: " + String(repeating: "h", count: 90_000) + "\r\n"))
            #expect(bigHeader.0.status == 431 && Self.errorBody(bigHeader.0)?.error == "headers_too_large")
            let manyHeaders = try await Self.exchange(
                port, get("/health", (0..<1001).map { "X-H\($0): 1\r\n" }.joined()))
            #expect(manyHeaders.0.status == 431 && Self.errorBody(manyHeaders.0)?.error == "headers_too_large")
            let garbage = try await Self.exchange(port, "GARBAGE\r\n\r\n")
            #expect(garbage.0.status == 400 && Self.errorBody(garbage.0)?.error == "bad_request")
            #expect(garbage.0.header("content-type")?.hasPrefix("application/json") == true)
            #expect(garbage.closed)
            let connect = try await Self.exchange(port, "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com\r\n\r\n")
            #expect(connect.0.status == 405 && Self.errorBody(connect.0)?.error == "method_not_allowed")
            // The server is still well.
            let connection = try RawConnection(port: port)
            connection.send(get("/health"))
            #expect(await connection.next()?.status == 200)
        }
    }

    @Test("Transfer-Encoding other than chunked is a 501 naming it, never a 500; the connection closes")
    func unknownTransferEncoding() async throws {
        let server = TestServer()
        try await server.application().test(.live) { client in
            for coding in ["gzip", "identity", "deflate", "x-custom", "gzip, chunked"] {
                let (response, closed) = try await Self.exchange(
                    client.port!,
                    "POST /debug/mode?enabled=false HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: \(coding)\r\n\r\n0\r\n\r\n"
                )
                #expect(response.status == 501, "\(coding)")
                #expect(Self.errorBody(response)?.message.contains(coding.split(separator: ",")[0]) == true, "\(coding)")
                #expect(closed, "\(coding)")
            }
            #expect(!server.console.all.contains { $0.contains("ERROR") })
        }
    }

    @Test("a chunked body past the limit is a 413 with the JSON body, not a 500")
    func chunkedBodyOverTheLimit() async throws {
        signal(SIGPIPE, SIG_IGN)
        let server = TestServer(withVault: true)
        try await server.application().test(.live) { client in
            let connection = try RawConnection(port: client.port!)
            var request = "POST /kimera/geoids HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
            request += "Transfer-Encoding: chunked\r\n\r\n"
            connection.send(request)
            let chunk = String(repeating: "a", count: 65_536)
            for _ in 0..<20 { await connection.sendOffThePool(String(65_536, radix: 16) + "\r\n" + chunk + "\r\n") }
            await connection.sendOffThePool("0\r\n\r\n")
            let response = try #require(await connection.next())
            #expect(response.status == 413)
            #expect(Self.errorBody(response)?.error == "payload_too_large")
        }
    }

    @Test("Expect: 100-continue gets its 100 at once, then the body is read; none for a body over the limit")
    func expectContinue() async throws {
        let server = TestServer(withVault: true)
        try await server.application().test(.live) { client in
            let connection = try RawConnection(port: client.port!)
            let body = #"{"content": "sent after the go-ahead"}"#
            connection.send(
                "POST /kimera/geoids HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                    + "Content-Length: \(body.utf8.count)\r\nExpect: 100-continue\r\n\r\n")
            // Before the body is sent: without the go-ahead nothing would come back here.
            let go = try #require(await connection.next())
            #expect(go.status == 100)
            connection.send(body)
            #expect(await connection.next()?.status == 201)
            // Over the limit: the 413 comes instead of a go-ahead.
            let large = try RawConnection(port: client.port!)
            large.send(
                "POST /kimera/geoids HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                    + "Content-Length: 5000000\r\nExpect: 100-continue\r\n\r\n")
            #expect(await large.next()?.status == 413)
        }
    }

    @Test("HTTP/1.0 without keep-alive: the connection closes after the response, on both paths")
    func http10Closes() async throws {
        for fastPath in [true, false] {
            let server = TestServer(fastPath: fastPath)
            try await server.application().test(.live) { client in
                let (response, closed) = try await Self.exchange(client.port!, "GET /health HTTP/1.0\r\n\r\n")
                #expect(response.status == 200)
                #expect(closed, "fast path \(fastPath)")
                // With keep-alive asked for, the connection stays for the next request.
                let connection = try RawConnection(port: client.port!)
                connection.send("GET /health HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
                #expect(await connection.next()?.status == 200)
                connection.send("GET /health HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
                #expect(await connection.next()?.status == 200)
            }
        }
    }
}
