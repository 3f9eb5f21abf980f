import Foundation
import KimeraModels
import NIOHTTP1
import Testing

/// The document is the contract, and drift is caught both ways: every JSON answer of a walk over the API fits
/// the closed schema the served `openapi.json` gives for its route and status, a field the server sends and
/// the document does not list fails, and so does a required field the server stops sending.
@Suite("Responses against the OpenAPI document", .serialized)
struct ResponseSchemaTests {
    /// One request of the walk: the route template names the document's operation.
    struct Step {
        var method: HTTPMethod
        var template: String
        var path: String
        var body: String? = nil
        var status: Int
    }

    static func walk(_ base: String, check: DocumentSchemaCheck) async throws -> [String] {
        var problems: [String] = []
        var checked = 0
        func run(_ step: Step) async throws -> HTTPResult {
            let response = try await http(step.method, base + step.path, json: step.body)
            let name = "\(step.method) \(step.path) → \(response.status)"
            #expect(response.status == step.status, "\(name): \(response.text)")
            if let schema = check.responseSchema(step.method.rawValue, step.template, status: response.status) {
                let value = try JSONDecoder().decode(JSONValue.self, from: response.body)
                problems += check.problems(value, schema).map { "\(name): \($0)" }
                checked += 1
            } else if response.header("Content-Type")?.hasPrefix("application/json") == true {
                problems.append("\(name): a JSON answer the document does not describe")
            }
            return response
        }

        let created = try await run(
            Step(method: .POST, template: "/kimera/geoids", path: "/kimera/geoids",
                 body: #"{"content": "The cat sleeps on the warm mat", "metadata": {"source": "walk"}}"#, status: 201))
        let cat = try #require(created.object["geoid_id"] as? String)
        _ = try await run(
            Step(method: .POST, template: "/kimera/geoids/batch", path: "/kimera/geoids/batch",
                 body: #"{"geoids": [{"content": "A dog runs through the cold wet field"}, {"echoform_text": "(river (flows fast))"}]}"#,
                 status: 201))
        let processed = try await run(
            Step(method: .POST, template: "/kimera/contradiction/process/contradictions/sync",
                 path: "/kimera/contradiction/process/contradictions/sync",
                 body: #"{"trigger_geoid_id": "\#(cat)", "force_collapse": true}"#, status: 200))
        let scar = try #require(
            ((processed.object["results"] as? [[String: Any]]) ?? []).compactMap { $0["scar_id"] as? String }.first)
        let job = try await run(
            Step(method: .POST, template: "/kimera/contradiction/process/contradictions",
                 path: "/kimera/contradiction/process/contradictions", body: #"{"trigger_geoid_id": "\#(cat)"}"#,
                 status: 202))
        let jobID = try #require(job.object["job_id"] as? String)

        var steps: [Step] = [
            Step(method: .GET, template: "/health", path: "/health", status: 200),
            Step(method: .GET, template: "/ready", path: "/ready", status: 200),
            Step(method: .GET, template: "/", path: "/", status: 200),
            Step(method: .GET, template: "/", path: "/?bypass_cache=maybe", status: 400),
            Step(method: .GET, template: "/debug/info", path: "/debug/info", status: 200),
            Step(method: .GET, template: "/debug/logs", path: "/debug/logs?limit=20", status: 200),
            Step(method: .GET, template: "/debug/logs", path: "/debug/logs?level=LOUD", status: 400),
            Step(method: .GET, template: "/debug/log-level", path: "/debug/log-level", status: 200),
            Step(method: .POST, template: "/debug/log-level", path: "/debug/log-level?module=kimera.core&level=DEBUG&ttl=1m",
                 status: 200),
            Step(method: .DELETE, template: "/debug/log-level", path: "/debug/log-level?module=kimera.core", status: 200),
            Step(method: .GET, template: "/debug/histograms", path: "/debug/histograms", status: 200),
            Step(method: .GET, template: "/debug/traces", path: "/debug/traces?limit=5", status: 200),
            Step(method: .GET, template: "/debug/profiles", path: "/debug/profiles", status: 200),
            Step(method: .POST, template: "/debug/profiling", path: "/debug/profiling?enabled=true&ttl=1m", status: 200),
            Step(method: .POST, template: "/debug/mode", path: "/debug/mode?enabled=true", status: 200),
            Step(method: .GET, template: "/performance/stats", path: "/performance/stats", status: 200),
            Step(method: .GET, template: "/kimera/geoids/search", path: "/kimera/geoids/search?query=cat&limit=3", status: 200),
            Step(method: .GET, template: "/kimera/geoids/{id}", path: "/kimera/geoids/\(cat)", status: 200),
            Step(method: .GET, template: "/kimera/geoids/{id}", path: "/kimera/geoids/no-such-geoid", status: 404),
            Step(method: .POST, template: "/kimera/contradiction/detect", path: "/kimera/contradiction/detect",
                 body: #"{"geoid_pairs": [["\#(cat)", "\#(cat)"]]}"#, status: 200),
            Step(method: .GET, template: "/kimera/contradiction/jobs/{job_id}", path: "/kimera/contradiction/jobs/\(jobID)",
                 status: 200),
            Step(method: .GET, template: "/kimera/scars/search", path: "/kimera/scars/search?query=cat", status: 200),
            Step(method: .GET, template: "/kimera/scars/{id}", path: "/kimera/scars/\(scar)", status: 200),
            Step(method: .GET, template: documented("getVaultStatus"), path: documented("getVaultStatus"), status: 200),
            Step(method: .GET, template: "/kimera/vault/geoids/count", path: "/kimera/vault/geoids/count", status: 200),
            Step(method: .GET, template: "/kimera/vault/scars/count", path: "/kimera/vault/scars/count", status: 200),
            Step(method: .GET, template: "/kimera/vault/vaults/{vault_id}", path: "/kimera/vault/vaults/vault_a", status: 200),
            Step(method: .GET, template: "/kimera/vault/vaults/{vault_id}", path: "/kimera/vault/vaults/vault_z", status: 404),
            Step(method: .POST, template: "/kimera/vault/vaults/rebalance", path: "/kimera/vault/vaults/rebalance", status: 200),
            Step(method: .GET, template: "/kimera/vault/stats", path: "/kimera/vault/stats", status: 200),
            Step(method: .GET, template: "/kimera/vault/scars/recent", path: "/kimera/vault/scars/recent", status: 200),
            Step(method: .GET, template: "/kimera/status", path: "/kimera/status", status: 200),
            Step(method: .GET, template: "/kimera/system/health", path: "/kimera/system/health", status: 200),
            Step(method: .GET, template: "/kimera/system/health/detailed", path: "/kimera/system/health/detailed", status: 200),
            Step(method: .GET, template: "/kimera/system/ping", path: "/kimera/system/ping", status: 200),
            Step(method: .GET, template: "/kimera/system/stability", path: "/kimera/system/stability", status: 200),
            Step(method: .POST, template: "/kimera/system/cycle", path: "/kimera/system/cycle", status: 200),
            Step(method: .POST, template: "/kimera/embed", path: "/kimera/embed", body: #"{"text": "warm mat"}"#, status: 200),
            Step(method: .POST, template: "/kimera/semantic_features", path: "/kimera/semantic_features",
                 body: #"{"text": "warm mat"}"#, status: 200),
            Step(method: .POST, template: "/kimera/statistics/analyze", path: "/kimera/statistics/analyze",
                 body: #"{"data": [1, 2, 3, 4.5]}"#, status: 200),
            Step(method: .POST, template: "/kimera/statistics/analyze", path: "/kimera/statistics/analyze",
                 body: #"{"data": []}"#, status: 400),
            Step(method: .GET, template: "/debug/incidents", path: "/debug/incidents", status: 200),
            Step(method: .GET, template: "/debug/incidents", path: "/debug/incidents?since=3d", status: 400),
            Step(method: .GET, template: "/debug/incidents/{id}", path: "/debug/incidents/no-such-incident", status: 404),
        ]
        for step in steps { _ = try await run(step) }

        // An incident (the threshold is 1 ms, so the processing above made some) and its own page.
        let incidents = try await http(.GET, base + "/debug/incidents")
        let incident = try #require(((incidents.object["incidents"] as? [[String: Any]]) ?? []).first?["id"] as? String)
        steps = [Step(method: .GET, template: "/debug/incidents/{id}", path: "/debug/incidents/\(incident)", status: 200)]
        steps.append(Step(method: .DELETE, template: "/kimera/geoids/{id}", path: "/kimera/geoids/\(cat)", status: 204))
        for step in steps { _ = try await run(step) }
        #expect(checked >= 45, "only \(checked) answers were checked against a schema")
        return problems
    }

    @Test("every JSON answer of a walk over the API fits its closed schema in the served document")
    func everyAnswerFitsTheDocument() async throws {
        let directory = temporaryDirectory()
        let config = directory.appendingPathComponent("config.json")
        try Data(#"{"tracing": {"slow_threshold_ms": 1}}"#.utf8).write(to: config)
        let server = try await ServerProcess.start(["--debug", "--config", config.path], dataDirectory: directory)
        let document = try await http(.GET, server.baseURL + "/openapi.json")
        let check = try DocumentSchemaCheck(documentData: document.body)
        let problems = try await Self.walk(server.baseURL, check: check)
        #expect(problems.isEmpty, "\(problems.count) answers differ from the document:\n\(problems.joined(separator: "\n"))")
        await server.stop()
    }

    @Test("drift both ways: an undocumented field and a missing documented one are each named")
    func driftIsCaughtBothWays() async throws {
        let check = try DocumentSchemaCheck(documentData: Data(contentsOf: packageRoot.appendingPathComponent("openapi.json")))
        let directory = temporaryDirectory()
        let server = try await ServerProcess.start(dataDirectory: directory)
        let answer = try await http(.GET, server.baseURL + documented("getVaultStatus"))
        await server.stop()
        let schema = try #require(check.responseSchema("GET", documented("getVaultStatus"), status: 200))
        guard case .object(var status) = try JSONDecoder().decode(JSONValue.self, from: answer.body) else {
            Issue.record("not an object: \(answer.text)")
            return
        }
        #expect(check.problems(.object(status), schema).isEmpty)

        // A field added in Swift and never documented, at the top and one level down.
        var added = status
        added["replication_lag_ms"] = .number(3)
        #expect(check.problems(.object(added), schema) == ["$.replication_lag_ms: sent, not in the document"])
        guard case .object(var database)? = status["database"] else {
            Issue.record("no database object: \(answer.text)")
            return
        }
        database["password"] = .string("hunter2")
        added = status
        added["database"] = .object(database)
        #expect(check.problems(.object(added), schema) == ["$.database.password: sent, not in the document"])

        // A documented field the server stops sending, and one sent with another type.
        status["initialized"] = nil
        #expect(check.problems(.object(status), schema) == ["$.initialized: documented as required, not sent"])
        status["initialized"] = .string("yes")
        #expect(check.problems(.object(status), schema) == ["$.initialized: a string where the document says \"boolean\""])
    }

    @Test("the document's error codes and version are the server's: ErrorCode, KimeraVersion")
    func errorCodesAndVersionAgree() throws {
        let data = try Data(contentsOf: packageRoot.appendingPathComponent("openapi.json"))
        let document = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let schemas = (document["components"] as? [String: Any])?["schemas"] as? [String: Any]
        let error = ((schemas?["ErrorBody"] as? [String: Any])?["properties"] as? [String: Any])?["error"] as? [String: Any]
        let documented = try #require(error?["enum"] as? [String])
        #expect(Set(documented) == Set(ErrorCode.allCases.map(\.rawValue)))
        #expect(documented.count == ErrorCode.allCases.count)
        #expect((document["info"] as? [String: Any])?["version"] as? String == KimeraVersion.current)
    }

    @Test("the document's DurationText and QueryBoolean are the server's grammars")
    func sharedGrammarsAgree() throws {
        let check = try DocumentSchemaCheck(documentData: Data(contentsOf: packageRoot.appendingPathComponent("openapi.json")))
        guard case .object(let root) = check.document, case .object(let components)? = root["components"],
            case .object(let schemas)? = components["schemas"]
        else {
            Issue.record("no components.schemas")
            return
        }
        let duration = try #require(schemas["DurationText"])
        guard case .object(let durationKeywords) = duration else { return }
        #expect(durationKeywords["pattern"] == .string(DurationText.pattern))
        let boolean = try #require(schemas["QueryBoolean"])
        for word in BooleanValue.allowed {
            for spelling in [word, word.uppercased(), word.prefix(1).uppercased() + word.dropFirst()] {
                #expect(check.problems(.string(spelling), boolean).isEmpty, "\(spelling) is refused by the document")
                #expect(BooleanValue.parse(spelling) != nil)
            }
        }
        for word in ["maybe", "", "2", "truee", " yes"] {
            #expect(!check.problems(.string(word), boolean).isEmpty, "\(word) is accepted by the document")
            #expect(BooleanValue.parse(word) == nil)
        }
    }
}
