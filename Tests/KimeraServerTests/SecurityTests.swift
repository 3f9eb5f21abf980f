import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import KimeraAPI
import KimeraCore
import KimeraModels
import Logging
import Testing

@testable import KimeraObservability
@testable import KimeraServer

@Suite("Security")
struct SecurityTests {
    static func guarded(trustLoopback: Bool = false, origins: [String] = []) -> SecuritySettings {
        var settings = SecuritySettings()
        settings.trustLoopback = trustLoopback
        settings.adminToken = "test-admin-token-0123456789"
        settings.allowedOrigins = origins
        return settings
    }

    @Test(
        "without trusting loopback: 401 without a token, 403 with a wrong one, 200 with the right one; /health stays open"
    )
    func tokenRules() async throws {
        let server = TestServer(security: Self.guarded())
        try await server.test { client in
            for path in ["/debug/info", "/debug/logs", "/performance/stats", "/metrics"] {
                try await client.execute(uri: path, method: .get) { response in
                    #expect(response.status == .unauthorized, "\(path)")
                    #expect(response.headers[.wwwAuthenticate] == "Bearer")
                    #expect((try? response.json(ErrorBody.self))?.error == "unauthorized")
                }
                try await client.execute(uri: path, method: .get, headers: [.authorization: "Bearer wrong-token"]) {
                    response in
                    #expect(response.status == .forbidden, "\(path)")
                    #expect((try? response.json(ErrorBody.self))?.error == "forbidden")
                }
                try await client.execute(
                    uri: path, method: .get, headers: [.authorization: "Bearer test-admin-token-0123456789"]
                ) { response in
                    #expect(response.status == .ok, "\(path)")
                }
            }
            try await client.execute(uri: "/debug/mode?enabled=true", method: .post) { response in
                #expect(response.status == .unauthorized)
            }
            #expect(!server.engine.runtime.debug)
            for path in ["/health", "/ready", "/"] {
                try await client.execute(uri: path, method: .get) { response in
                    #expect(response.status == .ok, "\(path)")
                }
            }
        }
    }

    @Test("listening beyond loopback: a loopback client needs no token, unless loopback is not trusted")
    func loopbackClientsAreTrusted() async throws {
        for trust in [true, false] {
            let server = TestServer(security: Self.guarded(trustLoopback: trust), host: "0.0.0.0")
            try await server.test(.live) { client in
                try await client.execute(uri: "/debug/info", method: .get) { response in
                    #expect(response.status == (trust ? .ok : .unauthorized))
                }
            }
        }
        // Bound to loopback, every client is local: no token at all.
        let local = TestServer(security: SecuritySettings())
        try await local.test { client in
            try await client.execute(uri: "/debug/info", method: .get) { response in #expect(response.status == .ok) }
        }
    }

    @Test("the token comparison is constant-time: every byte is looked at, lengths included")
    func constantTime() {
        let token = Array("abcdef".utf8)
        #expect(AccessControlMiddleware.constantTimeEquals(token, token))
        #expect(!AccessControlMiddleware.constantTimeEquals(Array("abcdeF".utf8), token))
        #expect(!AccessControlMiddleware.constantTimeEquals(Array("Abcdef".utf8), token))
        #expect(!AccessControlMiddleware.constantTimeEquals(Array("abc".utf8), token))
        #expect(!AccessControlMiddleware.constantTimeEquals(Array("abcdef\0".utf8), token))
        #expect(!AccessControlMiddleware.constantTimeEquals([], token))
    }

    @Test("a cross-origin POST is refused; an allowed origin and no origin pass")
    func crossOrigin() async throws {
        let server = TestServer(
            security: {
                var s = SecuritySettings(); s.allowedOrigins = ["https://ops.example"]; return s
            }())
        try await server.test { client in
            try await client.execute(
                uri: "/debug/mode?enabled=true", method: .post, headers: [.origin: "https://evil.example"]
            ) { response in
                #expect(response.status == .forbidden)
                #expect((try? response.json(ErrorBody.self))?.message.contains("https://evil.example") == true)
                #expect(response.headers[.accessControlAllowOrigin] == nil)
            }
            #expect(!server.engine.runtime.debug)
            try await client.execute(
                uri: "/debug/mode?enabled=true", method: .post, headers: [.origin: "https://ops.example"]
            ) { response in
                #expect(response.status == .ok)
            }
            try await client.execute(uri: "/debug/mode?enabled=false", method: .post) { response in
                #expect(response.status == .ok)
            }
            // Reads from a page are not mutations.
            try await client.execute(uri: "/health", method: .get, headers: [.origin: "https://evil.example"]) {
                response in
                #expect(response.status == .ok)
            }
        }
    }

    @Test("Authorization and Cookie sent in debug mode are masked in traces, the stream and the log file")
    func redactionEverywhere() async throws {
        let logFile = FileManager.default.temporaryDirectory.appendingPathComponent(
            "kimera-redaction-\(UUID().uuidString).log")
        let runtime = RuntimeConfiguration(debug: true, performance: false)
        let engine = ObservabilityEngine(
            runtime: runtime, limits: StoreLimits(), consoleEnabled: false, logFile: logFile.path)
        var configuration = ServerConfiguration()
        configuration.debug = true
        configuration.performance = false
        let app = KimeraApplication(configuration: configuration, engine: engine)
        let subscription = try #require(engine.ring.subscribe(filter: LogFilter(module: "kimera.http.access")))
        let (router, _) = app.makeRouter()
        try await Application(router: router).test(.router) { client in
            try await client.execute(
                uri: "/health?api_key=k123&x=1", method: .get,
                headers: [.authorization: "Bearer abc", .cookie: "s=1", .requestID: "redact-me"]
            ) { response in #expect(response.status == .ok) }
            try await client.execute(uri: "/debug/traces?request_id=redact-me", method: .get) { response in
                let trace = try #require((try? response.json(TracesResponse.self))?.traces.first)
                #expect(trace.requestHeaders?["authorization"] == "Bearer ***")
                #expect(trace.requestHeaders?["cookie"] == "s=***")
                #expect(trace.query == "api_key=***&x=1")
                #expect(!response.text.contains("abc"))
                #expect(!response.text.contains("k123"))
            }
        }
        let streamed = await subscription.next() ?? []
        subscription.close()
        var streamedText = ""
        for item in streamed {
            if case .record(let log) = item { streamedText += LogLine.json(log) }
        }
        #expect(streamedText.contains("Bearer ***"))
        #expect(streamedText.contains("s=***"))
        #expect(!streamedText.contains("Bearer abc"))
        #expect(!streamedText.contains("s=1"))
        let file = try String(contentsOf: logFile, encoding: .utf8)
        #expect(file.contains("Bearer ***"))
        #expect(file.contains("api_key=***"))
        #expect(!file.contains("Bearer abc"))
        #expect(!file.contains("s=1;") && !file.contains("s=1\""))
        #expect(!file.contains("k123"))
    }

    @Test("a registered secret (the admin token) is masked in any text")
    func registeredSecret() {
        Redaction.register(secret: "super-secret-admin-token")
        #expect(Redaction.message("token is super-secret-admin-token!") == "token is ***!")
        #expect(Redaction.header(name: "x-note", value: "super-secret-admin-token") == "***")
    }

    @Test("limits answer with JSON: 413 for a declared large body, 414 for a long URI, 431 for huge headers")
    func limits() async throws {
        let server = TestServer()
        try await server.test { client in
            try await client.execute(
                uri: "/debug/mode?enabled=true", method: .post, body: ByteBuffer(repeating: 0x41, count: 1_100_000)
            ) { response in
                #expect(response.status == .contentTooLarge)
                #expect((try? response.json(ErrorBody.self))?.error == "payload_too_large")
            }
            try await client.execute(uri: "/health?" + String(repeating: "a", count: 9000), method: .get) { response in
                #expect(response.status == .uriTooLong)
                #expect((try? response.json(ErrorBody.self))?.error == "uri_too_long")
            }
            var headers: HTTPFields = [:]
            for index in 0..<40 { headers[HTTPField.Name("x-filler-\(index)")!] = String(repeating: "h", count: 1000) }
            try await client.execute(uri: "/health", method: .get, headers: headers) { response in
                #expect(response.status == .requestHeaderFieldsTooLarge)
                #expect((try? response.json(ErrorBody.self))?.error == "headers_too_large")
            }
        }
    }
}
