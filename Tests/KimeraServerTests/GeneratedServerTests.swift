import Foundation
import Hummingbird
import HummingbirdTesting
import KimeraModels
import Testing

@testable import KimeraObservability
@testable import KimeraServer

/// The operations served through the generated `APIProtocol` (`KimeraAPIService`, `OpenAPITransport.swift`)
/// answer as Kimera always has: the router's one reading of a request, Kimera's errors.
@Suite("Generated server")
struct GeneratedServerTests {
    @Test("what the routes take from the document: the JSON bodies, and caching where bypass_cache is declared")
    func contractFacts() throws {
        let facts = ContractFacts.shared
        let cacheable = facts.operations.filter { $0.value.cacheable }.map(\.key).sorted()
        #expect(cacheable == ["GET /", "GET /kimera/geoids/search", "GET /kimera/geoids/{id}"])
        let bodies = facts.operations.filter { $0.value.hasJSONBody }.map(\.key).sorted()
        #expect(
            bodies == [
                "POST /kimera/contradiction/detect", "POST /kimera/contradiction/process/contradictions",
                "POST /kimera/contradiction/process/contradictions/sync", "POST /kimera/embed", "POST /kimera/geoids",
                "POST /kimera/geoids/batch", "POST /kimera/semantic_features", "POST /kimera/statistics/analyze",
            ])
        #expect(throws: ContractFacts.ContractError.self) { try facts.operation(.get, "/kimera/nowhere") }
    }

    @Test("the generated code is handed the router's query: each name once, its first value, encoded")
    func canonicalTarget() {
        let query = ParsedQuery("limit=2&query=a%20b+c&limit=abc&empty=&flag&x=%E2%82%AC%2F%26%3D")
        #expect(
            OpenAPIRequestParts.target(path: "/kimera/geoids/search", query: query)
                == "/kimera/geoids/search?limit=2&query=a%20b%2Bc&empty=&flag=&x=%E2%82%AC%2F%26%3D")
        #expect(OpenAPIRequestParts.target(path: "/debug/logs", query: ParsedQuery("")) == "/debug/logs")
        #expect(OpenAPIRequestParts.encoded("a-b_c.d~e") == "a-b_c.d~e")
    }

    @Test("a repeated parameter is read as its first value, as the cache and the trace read it")
    func repeatedParameterTakesTheFirst() async throws {
        let server = TestServer(withVault: true)
        try await server.test { client in
            try await client.execute(
                uri: "/kimera/geoids", method: .post, headers: [.contentType: "application/json"],
                body: ByteBuffer(string: #"{"content": "amber tide lantern"}"#)
            ) { #expect($0.status == .created, "\($0.text)") }
            try await client.execute(uri: "/kimera/geoids/search?query=amber&limit=1&limit=abc", method: .get) {
                #expect($0.status == .ok, "\($0.text)")
                #expect(($0.object["results"] as? [Any])?.count == 1)
            }
            try await client.execute(uri: "/kimera/geoids/search?limit=abc&query=amber&limit=1", method: .get) {
                #expect($0.status == .badRequest)
                #expect($0.object["parameter"] as? String == "limit")
                #expect(($0.object["message"] as? String)?.hasPrefix("limit=abc must be a positive integer") == true)
            }
            // A plus and percent-encoding reach the handler as the router decoded them.
            try await client.execute(uri: "/kimera/geoids/search?query=a%2Bb+c&limit=1", method: .get) {
                #expect($0.status == .ok)
                #expect($0.object["query"] as? String == ParsedQuery("query=a%2Bb+c").first("query"))
            }
        }
    }

    @Test("Kimera's checks of a body and its answers stay its own: 415, 400, JSON whatever Accept says")
    func bodyChecksAndAnswers() async throws {
        let server = TestServer(withVault: true)
        try await server.test { client in
            try await client.execute(
                uri: "/kimera/geoids", method: .post, headers: [.contentType: "text/plain"],
                body: ByteBuffer(string: #"{"content": "x"}"#)
            ) { response in
                #expect(response.status == .unsupportedMediaType)
                #expect(response.object["message"] as? String == "Send the body as application/json, not text/plain.")
            }
            try await client.execute(uri: "/kimera/embed", method: .post, headers: [.contentType: "application/json"]) {
                #expect($0.status == .badRequest)
                #expect($0.object["message"] as? String == "The request needs a JSON body.")
            }
            try await client.execute(
                uri: "/kimera/embed", method: .post, headers: [.contentType: "application/json"],
                body: ByteBuffer(string: #"{"text": 5}"#)
            ) {
                #expect($0.status == .badRequest)
                #expect($0.object["error"] as? String == "invalid_body")
                #expect(($0.object["message"] as? String)?.contains("text") == true, "\($0.text)")
            }
            try await client.execute(
                uri: "/kimera/geoids", method: .post,
                headers: [.contentType: "application/json; charset=utf-8", .accept: "text/html"],
                body: ByteBuffer(string: #"{"content": "charset and accept"}"#)
            ) { response in
                #expect(response.status == .created, "\(response.text)")
                #expect(response.headers[.contentType] == "application/json")
                #expect(response.headers[.contentLength] == String(response.body.readableBytes))
            }
        }
    }

    @Test("a path parameter reaches the operation as the router matched it")
    func pathParameterAsMatched() async throws {
        let server = TestServer(withVault: true)
        try await server.test { client in
            try await client.execute(uri: "/kimera/geoids/a%2Fb+c", method: .get) { response in
                #expect(response.status == .notFound)
                #expect((response.object["message"] as? String)?.hasPrefix("No geoid with id 'a%2Fb+c' exists") == true)
            }
            try await client.execute(uri: "/kimera/vault/vaults/vault_z", method: .get) { response in
                #expect(response.status == .notFound)
                #expect(response.object["message"] as? String == "No vault 'vault_z'; the vaults are 'vault_a' and 'vault_b'.")
            }
        }
    }

    @Test("without the Kimera core, its operations answer 503 and the debug API still works")
    func withoutTheCore() async throws {
        try await TestServer().test { client in
            try await client.execute(uri: "/kimera/status", method: .get) { response in
                #expect(response.status == .serviceUnavailable)
                #expect(response.object["message"] as? String == "This server runs without the Kimera core.")
            }
            try await client.execute(uri: "/debug/log-level", method: .get) { #expect($0.status == .ok) }
        }
    }
}
