import Foundation
import Hummingbird
import HummingbirdTesting
import KimeraCore
import KimeraModels
import Testing

@testable import KimeraObservability
@testable import KimeraServer

/// Thousands of malformed requests, generated for every operation of the OpenAPI document: wrong
/// types, huge values, invalid UTF-8, deep JSON nesting, broken headers. Only documented 4xx codes
/// (or a success) may come back — never a 500, a hang or a crash — and the server stays healthy.
@Suite("Hostile input")
struct HostileInputTests {
    /// A small deterministic generator, so a failure can be replayed.
    struct SplitMix64: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    struct Operation {
        var method: HTTPRequest.Method
        var path: String
        var parameters: [String]
        var documented: Set<Int>
    }

    static func operations() throws -> [Operation] {
        let document = try JSONSerialization.jsonObject(with: Data(OpenAPIDocument.json.utf8)) as! [String: Any]
        var result: [Operation] = []
        for (path, item) in document["paths"] as! [String: [String: Any]] {
            for (method, value) in item {
                guard let operation = value as? [String: Any], let httpMethod = HTTPRequest.Method(method.uppercased())
                else { continue }
                let parameters = (operation["parameters"] as? [[String: Any]] ?? []).compactMap {
                    $0["name"] as? String
                }
                let documented = Set((operation["responses"] as? [String: Any] ?? [:]).keys.compactMap { Int($0) })
                result.append(Operation(method: httpMethod, path: path, parameters: parameters, documented: documented))
            }
        }
        return result.sorted { ($0.path, $0.method.rawValue) < ($1.path, $1.method.rawValue) }
    }

    static let hostileValues: [String] = [
        "", "0", "-1", "-999999999999999999999", "1e400", "NaN", "abc", "true", "null", "%00", "%FF%FE", "%C0%AF",
        "%E2%80%AE", "..%2F..%2Fetc%2Fpasswd", String(repeating: "9", count: 400), String(repeating: "x", count: 3000),
        "%27%20OR%201%3D1--", "%3Cscript%3E", "15m%00", "DEBUG%0ACRITICAL",
        "geoid_" + String(repeating: "f", count: 32),
    ]

    static func hostileBodies(_ random: inout SplitMix64) -> [[UInt8]] {
        var bodies: [[UInt8]] = [
            [], Array("{".utf8), Array("[]".utf8), Array("null".utf8), Array("42".utf8), Array("\"text\"".utf8),
            [0xFF, 0xFE, 0xFD], Array("{\"content\": \"".utf8) + [0xC3, 0x28] + Array("\"}".utf8),
            Array(String(repeating: "[", count: 100_000).utf8),
            Array((String(repeating: "{\"a\":", count: 5000) + "1" + String(repeating: "}", count: 5000)).utf8),
            Array("{\"content\": 1e999}".utf8), Array("{\"semantic_features\": {\"a\": 1e308, \"b\": -1e308}}".utf8),
            Array("{\"semantic_features\": [1,2,3]}".utf8),
            Array("{\"geoid_pairs\": [[\"a\", \"b\", \"c\"], 7, null]}".utf8),
            Array("{\"geoid_pairs\": \"nope\"}".utf8), Array("{\"trigger_geoid_id\": 5, \"search_limit\": \"x\"}".utf8),
            Array("{\"trigger_geoid_id\": \"x\", \"search_limit\": 9223372036854775807}".utf8),
            Array("{\"text\": \(String(repeating: "1", count: 5000))}".utf8),
            Array("{\"echoform_text\": \"\(String(repeating: "(", count: 50_000))\"}".utf8),
            Array("{\"content\": \"\(String(repeating: "word ", count: 150_000))\"}".utf8),
        ]
        for _ in 0..<6 {
            bodies.append(
                (0..<Int.random(in: 1...512, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) })
        }
        return bodies
    }

    @Test("generated malformed requests to every documented operation get only documented 4xx codes")
    func malformedRequests() async throws {
        var random = SplitMix64(state: 20261126)
        let operations = try Self.operations()
        #expect(operations.count > 30)
        let server = TestServer(withVault: true)
        let bodies = Self.hostileBodies(&random)
        let randomValues = (0..<30).map { _ in
            String(
                (0..<Int.random(in: 1...40, using: &random)).map { _ in
                    Character(UnicodeScalar(UInt8.random(in: 33...126, using: &random)))
                }
            ).addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "x"
        }
        try await server.test { client in
            var sent = 0
            var problems: [String] = []
            for operation in operations where operation.path != "/debug/logs/stream" {
                var requests: [(String, HTTPFields, ByteBuffer?)] = []
                for value in Self.hostileValues + randomValues {
                    let path = operation.path.replacingOccurrences(
                        of: "\\{[a-z_]+\\}", with: value.isEmpty ? "x" : value, options: .regularExpression)
                    let query = operation.parameters.map { "\($0)=\(value)" }.joined(separator: "&")
                    requests.append((path + (query.isEmpty ? "" : "?" + query), [:], nil))
                }
                var basePath = operation.path.replacingOccurrences(
                    of: "\\{[a-z_]+\\}", with: "geoid_00", options: .regularExpression)
                // A CPU profile answers after `seconds` (30 by default): the shortest one is as hostile.
                if operation.path == "/debug/pprof/profile" { basePath += "?seconds=1" }
                if operation.method == .post {
                    for body in bodies {
                        requests.append((basePath, [.contentType: "application/json"], ByteBuffer(bytes: body)))
                    }
                    requests.append((basePath, [.contentType: "text/plain"], ByteBuffer(string: "{\"text\": \"x\"}")))
                }
                let headerCases: [HTTPFields] = [
                    [.requestID: String(repeating: "r", count: 500)], [.requestID: "bad id \u{7}"],
                    [.traceparent: "00-zzzz-yyyy-01"],
                    [
                        .traceparent: "ff-" + String(repeating: "0", count: 32) + "-"
                            + String(repeating: "0", count: 16) + "-00"
                    ],
                    [.contentLength: "-5"], [.contentLength: "abc"],
                    [.authorization: "Bearer " + String(repeating: "t", count: 4000)],
                    [.cookie: String(repeating: "c=1; ", count: 500)], [.accept: "\u{00FF}\u{00FE}"],
                ]
                for headers in headerCases { requests.append((basePath, headers, nil)) }
                for (uri, headers, body) in requests {
                    sent += 1
                    let (status, text, isErrorBody) = try await client.execute(
                        uri: uri, method: operation.method, headers: headers, body: body
                    ) { response in
                        (Int(response.status.code), response.text, (try? response.json(ErrorBody.self)) != nil)
                    }
                    let allowedAnywhere: Set<Int> = [400, 404, 405, 413, 414, 415, 431]
                    if status >= 500
                        || (status >= 400 && !operation.documented.contains(status)
                            && !allowedAnywhere.contains(status))
                    {
                        problems.append("\(operation.method) \(uri.prefix(120)) → \(status) \(text.prefix(200))")
                    }
                    if status >= 400 && !isErrorBody {
                        problems.append("\(operation.method) \(uri.prefix(120)) → \(status) without a JSON error body")
                    }
                }
            }
            try await client.execute(uri: "/health", method: .get) { response in #expect(response.status == .ok) }
            #expect(sent > 2000)
            #expect(problems.isEmpty, "\(problems.prefix(20).joined(separator: "\n"))")
        }
        let stats = server.engine.tracer.statistics()
        #expect(stats.series <= stats.seriesLimit)
        #expect(stats.errorRate == 0)
    }
}
