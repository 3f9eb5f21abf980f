import Foundation
import KimeraAPI
import KimeraModels
import Testing

/// The contract beyond the schema: the Python original's shapes, stable bytes, the cache key.
@Suite("Contract: original shapes, stable JSON, cache key", .serialized)
struct ContractTests {
    static func withServer(_ body: (String) async throws -> Void) async throws {
        let server = try await ServerProcess.start(dataDirectory: temporaryDirectory())
        do {
            try await body(server.baseURL)
        } catch {
            _ = await server.stop()
            throw error
        }
        _ = await server.stop()
    }

    static func create(_ base: String, _ content: String) async throws -> [String: Any] {
        let response = try await http(.POST, "\(base)/kimera/geoids", json: #"{"content": "\#(content)"}"#)
        #expect(response.status == 201, "\(response.text)")
        return response.object
    }

    @Test func originalShapesOfTheGeoidAndVaultRoutes() async throws {
        try await Self.withServer { base in
            // POST /kimera/geoids: the geoid's fields at the top level.
            let created = try await Self.create(base, "The cat sleeps on the warm mat")
            for key in ["geoid_id", "semantic_state", "symbolic_state", "embedding_vector", "metadata"] {
                #expect(created[key] != nil, "POST /kimera/geoids lacks \(key)")
            }
            // The original's shape alone: the geoid is not repeated under a "geoid" key (it was, before).
            #expect(created["geoid"] == nil)
            #expect(created["entropy"] is Double)

            let batch = try await http(
                .POST, "\(base)/kimera/geoids/batch",
                json: #"{"geoids": [{"content": "a dog runs", "metadata": {"n": 1}}, {"content": "the dog sleeps"}]}"#)
            #expect(batch.status == 201, "\(batch.text)")
            #expect(batch.object["created"] as? Int == 2)
            #expect((batch.object["geoids"] as? [[String: Any]])?.count == 2)
            let emptyBatch = try await http(.POST, "\(base)/kimera/geoids/batch", json: #"{"geoids": []}"#)
            #expect(emptyBatch.status == 400)
            #expect(emptyBatch.object["parameter"] as? String == "geoids")

            let geoidCount = try await http(.GET, "\(base)/kimera/vault/geoids/count")
            #expect(geoidCount.object["geoid_count"] as? Int == 3)
            #expect(try geoidCount.decode(GeoidCountResponse.self).count == 3)

            let dog = try await Self.create(base, "A dog runs through the cold wet field")
            let processed = try await http(
                .POST, "\(base)/kimera/contradiction/process/contradictions/sync",
                json: #"{"trigger_geoid_id": "\#(dog["geoid_id"] as! String)", "force_collapse": true}"#)
            #expect(processed.status == 200)
            let scars = try processed.decode(ProcessResult.self).scarsCreated
            #expect(scars > 0)

            let scarCount = try await http(.GET, "\(base)/kimera/vault/scars/count")
            #expect(scarCount.object["scar_count"] as? Int == scars)

            let status = try await http(.GET, base + documented("getVaultStatus"))
            #expect(status.object["initialized"] as? Bool == true)
            #expect(status.object["timestamp"] is String)
            let vaults = try #require(status.object["vaults"] as? [String: Any])
            for key in ["vault_a", "vault_b", "total_count", "total_weight", "balance_ratio"] {
                #expect(vaults[key] != nil, "vaults lacks \(key)")
            }
            #expect((vaults["vault_a"] as? [String: Any])?["count"] is Int)
            #expect((vaults["vault_b"] as? [String: Any])?["weight"] is Double)
            #expect(vaults["total_count"] as? Int == scars)
            let database = try #require(status.object["database"] as? [String: Any])
            #expect(database["status"] as? String == "ok")
            #expect(database["dialect"] as? String == "sqlite")
            #expect(database["message"] is String)

            let stats = try await http(.GET, "\(base)/kimera/vault/stats")
            #expect(stats.object["total_geoids"] as? Int == 4)
            #expect(stats.object["total_scars"] as? Int == scars)
            #expect(stats.object["vaults"] is [String: Any])

            let recent = try await http(.GET, "\(base)/kimera/vault/scars/recent")
            #expect(recent.object["count"] as? Int == min(5, scars))
            #expect((recent.object["recent_scars"] as? [[String: Any]])?.first?["scar_id"] is String)

            let search = try await http(.GET, "\(base)/kimera/scars/search?query=dog%20cat")
            for key in ["query", "results", "status", "count"] { #expect(search.object[key] != nil, "lacks \(key)") }
            #expect(search.object["status"] as? String == "success")
        }
    }

    @Test func originalShapesOfTheSystemRoutes() async throws {
        try await Self.withServer { base in
            let health = try await http(.GET, "\(base)/kimera/system/health")
            // As docs/API.md says: healthy, or degraded when a component fails (it said "ok" before).
            #expect(health.object["status"] as? String == "healthy")
            let detailed = try await http(.GET, "\(base)/kimera/system/health/detailed")
            #expect(detailed.object["overall_health"] as? String == "operational")
            let components = try #require(detailed.object["components"] as? [String: String])
            #expect(!components.isEmpty && components.values.allSatisfy { $0 == "ok" })
            let ping = try await http(.GET, "\(base)/kimera/system/ping")
            #expect(ping.object["status"] as? String == "ok")
            #expect(ping.object["message"] is String && ping.object["timestamp"] is String)
            let stability = try await http(.GET, "\(base)/kimera/system/stability")
            #expect(stability.object["stability_index"] is Double)
            #expect(["stable", "moderate", "unstable"].contains(stability.object["status"] as? String ?? ""))
            let status = try await http(.GET, "\(base)/kimera/status")
            #expect(status.object["status"] is String && status.object["timestamp"] is String)
            let parts = try #require(status.object["components"] as? [String: Bool])
            #expect(parts == ["vault_manager": true, "contradiction_engine": true, "embedding_model": true])
            let engine = try #require((status.object["engines"] as? [String: Any])?["contradiction"] as? [String: Any])
            #expect(engine["available"] as? Bool == true)
            #expect(engine["tension_threshold"] as? Double == 0.4)
        }
    }

    @Test func statisticsAnalyzeAsTheOriginalWithErrorsInsteadOfA500() async throws {
        try await Self.withServer { base in
            let basic = try await http(
                .POST, "\(base)/kimera/statistics/analyze", json: #"{"data": [2, 4, 4, 4, 5, 5, 7, 9]}"#)
            #expect(basic.status == 200, "\(basic.text)")
            let result = try basic.decode(AnalyzeResponse.self)
            #expect(result.analysisType == .basic)
            #expect(result.mean == 5 && result.median == 4.5 && result.std == 2)
            #expect(result.min == 2 && result.max == 9 && result.count == 8)
            #expect(basic.object["histogram"] == nil)

            let distribution = try await http(
                .POST, "\(base)/kimera/statistics/analyze",
                json: #"{"data": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], "analysis_type": "distribution"}"#)
            let spread = try distribution.decode(AnalyzeResponse.self)
            #expect(spread.histogram?.counts == Array(repeating: 1, count: 10))
            #expect(spread.histogram?.bins.count == 11)
            #expect(abs(spread.skewness ?? 1) < 1e-12)
            // Uniform 1…10: population kurtosis 1.7758…, minus 3.
            #expect(abs((spread.kurtosis ?? 0) - (-1.2242424242424244)) < 1e-9)

            let empty = try await http(.POST, "\(base)/kimera/statistics/analyze", json: #"{"data": []}"#)
            #expect(empty.status == 400)
            #expect(empty.object["parameter"] as? String == "data")
            let unknown = try await http(
                .POST, "\(base)/kimera/statistics/analyze", json: #"{"data": [1], "analysis_type": "fourier"}"#)
            #expect(unknown.status == 400)
            #expect(unknown.object["parameter"] as? String == "analysis_type")
            #expect((unknown.object["message"] as? String)?.contains("basic, distribution") == true)
        }
    }

    @Test func theSameRequestGivesTheSameBytes() async throws {
        try await Self.withServer { base in
            _ = try await Self.create(base, "stable bytes please")
            for path in ["/?bypass_cache=true", "/kimera/status", documented("getVaultStatus"), "/debug/log-level"] {
                let first = try await http(.GET, base + path)
                let second = try await http(.GET, base + path)
                func stripped(_ text: String) -> String {
                    text.replacingOccurrences(
                        of: #""(timestamp|uptime_s)":[^,}]+"#, with: "", options: .regularExpression)
                }
                #expect(stripped(first.text) == stripped(second.text), "\(path) changed between two reads")
            }
            let notFound = try await http(.GET, "\(base)/nowhere")
            let keys = try #require(String(data: notFound.body, encoding: .utf8))
            #expect(keys.range(of: #"^\{"error":.*"message":.*"request_id":"#, options: .regularExpression) != nil)
        }
    }

    @Test func cacheKeyIgnoresBypassFalseAndParameterOrder() async throws {
        try await Self.withServer { base in
            let first = try await http(.GET, "\(base)/")
            #expect(first.header("X-Cache") == "MISS")
            let again = try await http(.GET, "\(base)/?bypass_cache=false")
            #expect(again.header("X-Cache") == "HIT")
            _ = try await Self.create(base, "order of parameters")
            let search = try await http(.GET, "\(base)/kimera/geoids/search?query=order&limit=2")
            #expect(search.header("X-Cache") == "MISS")
            let swapped = try await http(.GET, "\(base)/kimera/geoids/search?limit=2&query=order")
            #expect(swapped.header("X-Cache") == "HIT")
        }
    }

    /// Prometheus' own linter accepts `/metrics`, and the buckets reach below 50 µs.
    @Test func promtoolAcceptsTheMetricsWithBucketsBelowFiftyMicroseconds() async throws {
        try await Self.withServer { base in
            for _ in 0..<20 { _ = try await http(.GET, "\(base)/health") }
            let metrics = try await http(.GET, "\(base)/metrics")
            #expect(metrics.status == 200)
            #expect(metrics.text.contains(#"le="1e-05""#) || metrics.text.contains(#"le="0.00001""#))
            let promtool = try await promtoolCheck(metrics.text)
            #expect(promtool.status == 0, "promtool: \(promtool.report)")
        }
    }

    /// `/debug/info` masks secret values only: a boolean whose name contains "token" is shown.
    @Test func onlySecretValuesAreMaskedInDebugInfo() async throws {
        let server = try await ServerProcess.start(
            environment: ["KIMERA_ADMIN_TOKEN": "s3cr3t-admin-token-value"], dataDirectory: temporaryDirectory())
        let info = try await http(.GET, "\(server.baseURL)/debug/info")
        _ = await server.stop()
        #expect(!info.text.contains("s3cr3t-admin-token-value"))
        let security = try #require((info.object["config"] as? [String: Any])?["security"] as? [String: Any])
        #expect(security["admin_token"] as? String == "***")
        for (key, value) in security where value is Bool || value is Int || value is Double {
            #expect(String(describing: value) != "***", "\(key) masked")
        }
        #expect(security.values.contains { $0 is Bool })
        // Values under ordinary names are shown as they are.
        let config = try #require(info.object["config"] as? [String: Any])
        #expect(config["host"] as? String == "127.0.0.1")
        #expect((config["sources"] as? [String: String])?["admin_token"] != nil)
    }
}
